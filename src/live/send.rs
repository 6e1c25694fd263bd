//! `gcif-sim send`: publish one message to a live hub from the command line,
//! retried (as the `.proto`'s status table says) until the hub answers.

use std::time::Duration;

use crate::host::Transmission;
use crate::model::Envelope;
use crate::transport::{self, Peer, Receipt};

/// How a send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The hub accepted the message (or had already: `duplicate`).
    Accepted(Receipt),
    /// The hub refused it for good: `CODE: reason`.
    Refused(String),
    /// The hub did not answer before `--give-up`: the last error.
    GaveUp(String),
}

/// Publishes `envelope` to `hub`, retrying with backoff (250 ms
/// doubling to 10 s) until it answers or `give_up` has passed; `retrying` is
/// told of each failed attempt.
pub async fn send(
    hub: &Peer,
    envelope: &Envelope,
    give_up: Option<Duration>,
    retrying: impl Fn(u32, &str),
) -> Sent {
    let peer = hub;
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(250);
    let mut attempt = 1;
    loop {
        match transport::publish_once(peer, envelope, attempt).await {
            Transmission::Answered(receipt) => return Sent::Accepted(receipt),
            Transmission::Refused(reason) => return Sent::Refused(reason),
            Transmission::Failed(error) | Transmission::Erred(error) => {
                if give_up.is_some_and(|g| started.elapsed() + pause > g) {
                    return Sent::GaveUp(error);
                }
                retrying(attempt, &error);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
                attempt += 1;
            }
        }
    }
}

/// How a reshare ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Passed {
    /// The hub passed it on (or had before: `duplicate`); the fields changed
    /// in the new recipient's copy, as `field (how): reason`.
    Accepted {
        duplicate: bool,
        redacted: Vec<String>,
    },
    /// The hub refused: `CODE: reason`.
    Refused(String),
    /// The hub did not answer before `give_up`: the last error.
    GaveUp(String),
}

/// Asks `hub` to pass message `id` on from `by` to `to`,
/// retrying as [`send`] does.
pub async fn reshare(
    hub: &Peer,
    id: &str,
    by: crate::model::Ministry,
    to: crate::model::Ministry,
    give_up: Option<Duration>,
    retrying: impl Fn(u32, &str),
) -> Passed {
    let peer = hub;
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(250);
    let mut attempt = 1;
    loop {
        match transport::reshare_once(peer, id, by, to).await {
            Transmission::Answered((duplicate, redacted)) => {
                return Passed::Accepted {
                    duplicate,
                    redacted,
                };
            }
            Transmission::Refused(reason) => return Passed::Refused(reason),
            Transmission::Failed(error) | Transmission::Erred(error) => {
                if give_up.is_some_and(|g| started.elapsed() + pause > g) {
                    return Passed::GaveUp(error);
                }
                retrying(attempt, &error);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
                attempt += 1;
            }
        }
    }
}
