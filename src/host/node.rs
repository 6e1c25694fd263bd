//! A ministry node's host: [`Node`] with its clock and log.

use std::collections::BTreeMap;

use tokio::sync::Notify;
use tokio::sync::futures::Notified;

use super::{Transmission, lock};
use crate::events::{EventBody, Log};
use crate::model::{Envelope, Host, MessageId, Ministry, Timestamp};
use crate::node::{Node, Outcome, Publish, Receipt};

/// The node's answer to a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    /// The node had the message already and discarded this copy.
    pub duplicate: bool,
    /// With a journal, the tap is told of a new message only once it is on
    /// disk ([`NodeHost::settle`]), so a crash never shows it twice.
    held: Option<(std::sync::Arc<Envelope>, u32)>,
}

struct State {
    node: Node,
    /// Scenario inject labels of submitted messages, for `published` events.
    labels: BTreeMap<MessageId, String>,
}

/// Told of each message a node receives for the first time, with the
/// delivery attempt that brought it.
pub type Tap = std::sync::Arc<dyn Fn(&Envelope, u32) + Send + Sync>;

/// A node, its clock and its log; see the [module contract](super).
pub struct NodeHost {
    me: Ministry,
    tap: Option<Tap>,
    /// The hub writes its events elsewhere (another process): this node
    /// records the hub's answers to its publishes as `accepted` / `rejected`,
    /// naming only the recipients among these participants (the run's).
    remote_hub: Option<Vec<Ministry>>,
    state: std::sync::Mutex<State>,
    log: Log,
    /// Fires when a message was submitted or a publish ended.
    wake: Notify,
    /// The durable journal (`node --data`), if any.
    journal: Option<std::sync::Arc<crate::store::NodeJournal>>,
}

impl NodeHost {
    /// A host around `node`, writing to `log`.
    pub fn new(node: Node, log: Log) -> NodeHost {
        NodeHost {
            me: node.ministry(),
            tap: None,
            remote_hub: None,
            state: std::sync::Mutex::new(State {
                node,
                labels: BTreeMap::new(),
            }),
            log,
            wake: Notify::new(),
            journal: None,
        }
    }

    /// The same host, keeping what it processes and what it has yet to
    /// publish in `journal`.
    pub fn with_journal(mut self, journal: std::sync::Arc<crate::store::NodeJournal>) -> NodeHost {
        self.journal = Some(journal);
        self
    }

    /// Finishes a delivery once what it changed is on disk (at once without
    /// a journal): only then may it be acknowledged, and only then is the
    /// tap told of a new message.
    pub async fn settle(&self, d: Delivered) -> Result<(), String> {
        if let Some(j) = &self.journal {
            j.synced().await?;
        }
        self.tell_tap(d);
        Ok(())
    }

    /// [`NodeHost::settle`] for a driver without a journal, which has nothing
    /// to wait for (the message-level model): tells the tap, if any.
    pub fn settle_now(&self, d: Delivered) {
        debug_assert!(self.journal.is_none(), "a journal must be waited for");
        self.tell_tap(d);
    }

    fn tell_tap(&self, d: Delivered) {
        if let (Some(tap), Some((envelope, attempt))) = (&self.tap, d.held) {
            tap(&envelope, attempt);
        }
    }

    /// The same host, telling `tap` of each message it receives for the
    /// first time (`gcif-sim node` prints them).
    pub fn with_tap(mut self, tap: Tap) -> NodeHost {
        self.tap = Some(tap);
        self
    }

    /// The same host, recording the hub's answers to its publishes as
    /// `accepted` and `rejected` events, because the hub (another process)
    /// writes its own log elsewhere. Recipients outside `participants` (the
    /// hub may serve more ministries than the run) are left out of them.
    pub fn with_remote_hub(mut self, participants: impl IntoIterator<Item = Ministry>) -> NodeHost {
        self.remote_hub = Some(participants.into_iter().collect());
        self
    }

    fn now(&self) -> Timestamp {
        self.log.clock().now()
    }

    /// Which ministry this node serves.
    pub fn ministry(&self) -> Ministry {
        self.me
    }

    /// An operator hands the node `envelope` to publish; `label` is the
    /// scenario inject's `id`, carried into the `published` event.
    pub fn submit(&self, envelope: std::sync::Arc<Envelope>, label: Option<String>) {
        let now = self.now();
        let mut s = lock(&self.state);
        if let Some(label) = label {
            s.labels.insert(envelope.id.clone(), label);
        }
        if let Some(j) = &self.journal {
            j.queued(&envelope);
        }
        s.node.submit(now, envelope);
        drop(s);
        self.wake.notify_one();
    }

    /// The publishes to start now (each recorded as `sent`, and the first
    /// attempt of a message as `published`), and when to poll again.
    pub fn poll(&self) -> (Vec<Publish>, Option<Timestamp>) {
        let now = self.now();
        let (due, next, labels) = {
            let mut s = lock(&self.state);
            let due = s.node.poll(now);
            let labels: Vec<Option<String>> = due
                .iter()
                .map(|p| s.labels.get(&p.envelope.id).cloned())
                .collect();
            (due, s.node.next_wakeup(), labels)
        };
        for (p, inject) in due.iter().zip(labels) {
            if p.attempt == 1 {
                self.log.record(EventBody::Published {
                    msg: p.envelope.id.clone(),
                    kind: p.envelope.kind,
                    from: self.me,
                    inject,
                });
            }
            self.log.record(EventBody::Sent {
                msg: p.envelope.id.clone(),
                from: Host::Node(self.me),
                to: Host::Hub,
                attempt: p.attempt,
            });
        }
        (due, next)
    }

    /// Publish `p` ended with `result`: the recipients the hub named, a
    /// refusal, or a failure to get through.
    pub fn on_publish(&self, p: &Publish, result: Transmission<Vec<Ministry>>) {
        let now = self.now();
        let erred = matches!(result, Transmission::Erred(_));
        let busy = match &result {
            Transmission::Busy { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        let mut s = lock(&self.state);
        match result {
            Transmission::Answered(recipients) => {
                if let Some(ours) = &self.remote_hub
                    && s.node.outcome(&p.envelope.id).is_none()
                {
                    self.log.record(EventBody::Accepted {
                        msg: p.envelope.id.clone(),
                        kind: p.envelope.kind,
                        from: self.me,
                        recipients: recipients
                            .iter()
                            .filter(|r| ours.contains(r))
                            .copied()
                            .collect(),
                        withheld: Vec::new(),
                        note: None,
                        redacted: Vec::new(),
                    });
                }
                if let Some(j) = &self.journal {
                    j.answered(&p.envelope.id);
                }
                s.node
                    .on_outcome(now, p.seq, Outcome::Accepted { recipients });
            }
            Transmission::Refused(reason) => {
                tracing::info!(msg = %p.envelope.id, reason, "publish refused");
                if self.remote_hub.is_some() && s.node.outcome(&p.envelope.id).is_none() {
                    self.log.record(EventBody::Rejected {
                        msg: p.envelope.id.clone(),
                        from: self.me,
                        reason: reason.clone(),
                    });
                }
                if let Some(j) = &self.journal {
                    j.answered(&p.envelope.id);
                }
                s.node.on_outcome(now, p.seq, Outcome::Refused { reason });
            }
            Transmission::Failed(error)
            | Transmission::Erred(error)
            | Transmission::Busy { error, .. } => {
                tracing::debug!(msg = %p.envelope.id, attempt = p.attempt, error, "publish failed");
                self.log.record(EventBody::Failed {
                    msg: p.envelope.id.clone(),
                    from: Host::Node(self.me),
                    to: Host::Hub,
                    attempt: p.attempt,
                    error,
                });
                if let Some(retry_after) = busy {
                    s.node.on_publish_busy(now, p.seq, retry_after);
                } else if erred {
                    s.node.on_publish_erred(now, p.seq);
                } else {
                    s.node.on_publish_failed(now, p.seq);
                }
            }
        }
        drop(s);
        self.wake.notify_one();
    }

    /// Whether `caller` may deliver to this node: only the hub, or anyone
    /// when nothing authenticates connections.
    pub fn authorise_delivery(&self, caller: &crate::model::Caller) -> Result<(), String> {
        match caller {
            crate::model::Caller::Unverified | crate::model::Caller::Hub => Ok(()),
            other => {
                tracing::warn!(%other, to = %self.me, "delivery refused: not the hub");
                Err(format!(
                    "only the hub delivers to {}; the connection is authenticated as {other}",
                    self.me
                ))
            }
        }
    }

    /// The hub delivers `envelope` (its `attempt`-th try), addressed to
    /// `recipient`. A delivery addressed to another ministry is refused with
    /// the reason, as malformed.
    pub fn on_deliver(
        &self,
        recipient: &str,
        envelope: std::sync::Arc<Envelope>,
        attempt: u32,
    ) -> Result<Delivered, String> {
        let now = self.now();
        let me = self.me;
        let mut s = lock(&self.state);
        if recipient != me.code() {
            return Err(format!("delivery addressed to {recipient:?} reached {me}"));
        }
        let (id, kind, created) = (envelope.id.clone(), envelope.kind, envelope.created);
        self.log.record(EventBody::Received {
            msg: id.clone(),
            from: Host::Hub,
            to: Host::Node(me),
            attempt,
        });
        let copy = (self.tap.is_some() || self.journal.is_some()).then(|| envelope.clone());
        let receipt = s.node.on_deliver(now, envelope);
        let duplicate = receipt == Receipt::Duplicate;
        let mut held = None;
        if let (Some(j), Some(copy), false) = (&self.journal, &copy, duplicate) {
            j.processed(&crate::node::Received {
                at: now,
                envelope: copy.clone(),
            });
        }
        drop(s);
        if let (Some(_), Some(copy), false) = (&self.tap, copy, duplicate) {
            held = Some((copy, attempt));
        }
        if duplicate {
            tracing::debug!(msg = %id, to = %me, attempt, "duplicate discarded");
            self.log.record(EventBody::Duplicate { msg: id, to: me });
        } else {
            tracing::debug!(msg = %id, to = %me, "delivered");
            self.log.record(EventBody::Delivered {
                msg: id,
                kind,
                to: me,
                latency_ms: now.since(created),
            });
        }
        if self.journal.is_none()
            && let (Some(tap), Some((copy, attempt))) = (&self.tap, held.take())
        {
            tap(&copy, attempt);
        }
        Ok(Delivered { duplicate, held })
    }

    /// Wakes the driver to poll again (the clock was steered).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves when there may be new work for [`NodeHost::poll`].
    pub fn notified(&self) -> Notified<'_> {
        self.wake.notified()
    }

    /// The host restarted after a crash: nothing is in flight any more.
    pub fn on_restart(&self) {
        lock(&self.state).node.on_restart(self.now());
    }

    /// Asks the hub, until it answers, to pass message `id` on to `to`.
    pub fn pass_on(&self, id: crate::model::MessageId, to: Ministry) {
        let now = self.now();
        lock(&self.state).node.pass_on(now, id, to);
        self.wake.notify_one();
    }

    /// The reshares to ask for now.
    pub fn poll_reshares(&self) -> Vec<crate::node::Reshare> {
        let now = self.now();
        lock(&self.state).node.poll_reshares(now)
    }

    /// Reshare `r` ended with `result` (the hub's refusals are in its log).
    pub fn on_reshare(&self, r: &crate::node::Reshare, result: Transmission<()>) {
        let now = self.now();
        let mut s = lock(&self.state);
        match result {
            Transmission::Answered(()) => s.node.on_reshare_outcome(now, r.seq, Ok(())),
            Transmission::Refused(reason) => {
                tracing::info!(msg = %r.pass_on.id, to = %r.pass_on.to, reason, "reshare refused");
                s.node.on_reshare_outcome(now, r.seq, Err(reason));
            }
            Transmission::Failed(e) => {
                tracing::debug!(msg = %r.pass_on.id, error = e, "reshare failed");
                s.node.on_reshare_failed(now, r.seq, false);
            }
            Transmission::Erred(e) => {
                tracing::debug!(msg = %r.pass_on.id, error = e, "reshare erred");
                s.node.on_reshare_failed(now, r.seq, true);
            }
            Transmission::Busy { error, retry_after } => {
                tracing::debug!(msg = %r.pass_on.id, error, "reshare deferred: the hub is busy");
                s.node.on_reshare_busy(now, r.seq, retry_after);
            }
        }
        drop(s);
        self.wake.notify_one();
    }

    /// Messages submitted but not yet answered by the hub.
    pub fn pending(&self) -> usize {
        lock(&self.state).node.pending()
    }

    /// Hands over the node's inbox (see [`Node::take_inbox`]).
    pub fn take_inbox(&self) -> Vec<crate::node::Received> {
        lock(&self.state).node.take_inbox()
    }

    /// Reads the state machine (for checks and inspection).
    pub fn inspect<R>(&self, f: impl FnOnce(&Node) -> R) -> R {
        f(&lock(&self.state).node)
    }
}
