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
/// doubling to 10 s, or as long as a busy hub's retry hint says) until it
/// answers or `give_up` has passed; `retrying` is told of each failed
/// attempt, with how long it waits before the next.
pub async fn send(
    hub: &Peer,
    envelope: &Envelope,
    give_up: Option<Duration>,
    retrying: impl Fn(u32, &str, Duration),
) -> Sent {
    let answer = until_answered(give_up, retrying, |attempt| {
        transport::publish_once(hub, envelope, attempt)
    })
    .await;
    match answer {
        Ok(Ok(receipt)) => Sent::Accepted(receipt),
        Ok(Err(reason)) => Sent::Refused(reason),
        Err(error) => Sent::GaveUp(error),
    }
}

/// Makes the call `once(attempt)` until the peer answers or refuses
/// (`Ok`), retrying on every other outcome after a pause (250 ms doubling
/// to 10 s, or the peer's retry hint), or until `give_up` has passed
/// (`Err`, the last error).
async fn until_answered<T, F>(
    give_up: Option<Duration>,
    retrying: impl Fn(u32, &str, Duration),
    mut once: impl FnMut(u32) -> F,
) -> Result<Result<T, String>, String>
where
    F: std::future::Future<Output = Transmission<T>>,
{
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(250);
    let mut attempt = 1;
    loop {
        let (error, wait) = match once(attempt).await {
            Transmission::Answered(answer) => return Ok(Ok(answer)),
            Transmission::Refused(reason) => return Ok(Err(reason)),
            Transmission::Failed(error) | Transmission::Erred(error) => {
                let wait = pause;
                pause = (pause * 2).min(Duration::from_secs(10));
                (error, wait)
            }
            Transmission::Busy { error, retry_after } => (error, retry_after),
        };
        if give_up.is_some_and(|g| started.elapsed() + wait > g) {
            return Err(error);
        }
        retrying(attempt, &error, wait);
        tokio::time::sleep(wait).await;
        attempt += 1;
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
    retrying: impl Fn(u32, &str, Duration),
) -> Passed {
    let answer = until_answered(give_up, retrying, |_| {
        transport::reshare_once(hub, id, by, to)
    })
    .await;
    match answer {
        Ok(Ok((duplicate, redacted))) => Passed::Accepted {
            duplicate,
            redacted,
        },
        Ok(Err(reason)) => Passed::Refused(reason),
        Err(error) => Passed::GaveUp(error),
    }
}
