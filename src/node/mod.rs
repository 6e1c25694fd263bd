//! A ministry's node as a plain state machine: an outbox that publishes until
//! the hub confirms, and an inbox that discards redeliveries.
//!
//! **Invariant:** no I/O, no clock, no randomness; `now` comes in as an
//! argument. Outbox and inbox are the node's durable state: they outlive a
//! crash of its host, and [`Node::on_restart`] forgets only what was in flight.

use std::collections::BTreeMap;

use crate::model::{Envelope, Kind, MessageId, Ministry, Timestamp};
use crate::retry::{Attempt, Backoff, Causal, RetryQueue, Seq};

/// Tuning of the node's publish loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishConfig {
    /// Backoff while the hub is unreachable.
    pub backoff: Backoff,
    /// Publishes in flight at once.
    pub window: usize,
}

impl Default for PublishConfig {
    fn default() -> Self {
        PublishConfig {
            backoff: Backoff::default(),
            window: 8,
        }
    }
}

/// One publish the transport must now attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    pub seq: Seq,
    pub envelope: std::sync::Arc<Envelope>,
    /// 1 for the first attempt.
    pub attempt: u32,
}

/// A message this node asks the hub to pass on to another participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassOn {
    pub id: MessageId,
    pub to: Ministry,
}

impl Causal for PassOn {
    type Key = (MessageId, Ministry);

    fn key(&self) -> (MessageId, Ministry) {
        (self.id.clone(), self.to)
    }

    fn after(&self) -> Vec<(MessageId, Ministry)> {
        Vec::new()
    }
}

/// One reshare the transport must now attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Reshare {
    pub seq: Seq,
    pub pass_on: PassOn,
    pub attempt: u32,
}

/// What became of a message this node originated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted { recipients: Vec<Ministry> },
    Refused { reason: String },
}

/// What the node did with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// First receipt: processed.
    New,
    /// Seen before: discarded.
    Duplicate,
}

/// A message this node received, as it keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Received {
    pub at: Timestamp,
    /// Shared with the hub's own record when the copy is the message as
    /// sent (the message-level model hands it over without a copy).
    pub envelope: std::sync::Arc<Envelope>,
}

/// A ministry node's state.
#[derive(Debug, Clone)]
pub struct Node {
    me: Ministry,
    config: PublishConfig,
    outbox: RetryQueue<std::sync::Arc<Envelope>>,
    /// Reshares asked for, until the hub answers.
    passing: RetryQueue<PassOn>,
    /// Final answers from the hub, by message id.
    outcomes: BTreeMap<MessageId, Outcome>,
    /// The hub's answers to reshares: `None` accepted, else the refusal.
    passed: BTreeMap<(MessageId, Ministry), Option<String>>,
    /// Everything received, by message id: the de-duplication set.
    inbox: BTreeMap<MessageId, Received>,
}

impl Node {
    /// A node with empty outbox and inbox.
    pub fn new(me: Ministry, config: PublishConfig) -> Node {
        Node {
            me,
            config,
            outbox: RetryQueue::default(),
            passing: RetryQueue::default(),
            outcomes: BTreeMap::new(),
            passed: BTreeMap::new(),
            inbox: BTreeMap::new(),
        }
    }

    /// Which ministry this node serves.
    pub fn ministry(&self) -> Ministry {
        self.me
    }

    /// An operator hands the node a message to publish.
    pub fn submit(&mut self, now: Timestamp, envelope: impl Into<std::sync::Arc<Envelope>>) -> Seq {
        self.outbox.push(now, envelope.into())
    }

    /// Starts every publish that is due, up to the window.
    pub fn poll(&mut self, now: Timestamp) -> Vec<Publish> {
        self.outbox
            .take_ready(now, self.config.window)
            .into_iter()
            .map(|Attempt { seq, item, attempt }| Publish {
                seq,
                envelope: item,
                attempt,
            })
            .collect()
    }

    /// When [`Node::poll`] or [`Node::poll_reshares`] will next have work, if ever.
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        let a = self.outbox.next_wakeup(self.config.window);
        let b = self.passing.next_wakeup(self.config.window);
        a.into_iter().chain(b).min()
    }

    /// An operator asks the node to pass message `id` (received) on to `to`.
    pub fn pass_on(&mut self, now: Timestamp, id: MessageId, to: Ministry) -> Seq {
        self.passing.push(now, PassOn { id, to })
    }

    /// Starts every reshare that is due, up to the window.
    pub fn poll_reshares(&mut self, now: Timestamp) -> Vec<Reshare> {
        self.passing
            .take_ready(now, self.config.window)
            .into_iter()
            .map(|Attempt { seq, item, attempt }| Reshare {
                seq,
                pass_on: item,
                attempt,
            })
            .collect()
    }

    /// The hub answered reshare `seq`: done (`Ok`) or refused for good.
    pub fn on_reshare_outcome(&mut self, now: Timestamp, seq: Seq, outcome: Result<(), String>) {
        let left = match &outcome {
            Ok(()) => self.passing.succeeded(now, seq),
            Err(_) => self.passing.abandon(seq),
        };
        if let Some((p, _)) = left {
            self.passed.insert((p.id, p.to), outcome.err());
        }
    }

    /// Reshare `seq` did not get through (`erred`: the hub answered with an
    /// error worth retrying): retry later.
    /// The hub had no room for reshare `seq` now: ask again after `retry_after`.
    pub fn on_reshare_busy(&mut self, now: Timestamp, seq: Seq, retry_after: std::time::Duration) {
        self.passing.busy(now, seq, retry_after);
    }

    pub fn on_reshare_failed(&mut self, now: Timestamp, seq: Seq, erred: bool) {
        if erred {
            self.passing.erred(now, seq, &self.config.backoff);
        } else {
            self.passing.failed(now, seq, &self.config.backoff);
        }
    }

    /// The hub's answer to passing `id` on to `to`, once it gave one:
    /// `Some(None)` accepted, `Some(Some(reason))` refused.
    pub fn reshare_outcome(&self, id: &MessageId, to: Ministry) -> Option<Option<&str>> {
        self.passed.get(&(id.clone(), to)).map(|r| r.as_deref())
    }

    /// The hub answered publish `seq` with a final outcome.
    pub fn on_outcome(&mut self, now: Timestamp, seq: Seq, outcome: Outcome) {
        let left = match outcome {
            Outcome::Accepted { .. } => self.outbox.succeeded(now, seq),
            Outcome::Refused { .. } => self.outbox.abandon(seq),
        };
        if let Some((envelope, _)) = left {
            self.outcomes.insert(envelope.id.clone(), outcome);
        }
    }

    /// Publish `seq` failed in transport: retry later.
    pub fn on_publish_failed(&mut self, now: Timestamp, seq: Seq) {
        self.outbox.failed(now, seq, &self.config.backoff);
    }

    /// The hub answered publish `seq` with an error worth retrying: retry
    /// that message alone after backoff; the rest of the outbox carries on.
    pub fn on_publish_erred(&mut self, now: Timestamp, seq: Seq) {
        self.outbox.erred(now, seq, &self.config.backoff);
    }

    /// The hub had no room for publish `seq` now (a recipient has too many
    /// messages waiting): that message alone is published again after
    /// `retry_after`, the hub's hint; the others carry on.
    pub fn on_publish_busy(&mut self, now: Timestamp, seq: Seq, retry_after: std::time::Duration) {
        self.outbox.busy(now, seq, retry_after);
    }

    /// The hub delivers `envelope`.
    pub fn on_deliver(
        &mut self,
        now: Timestamp,
        envelope: impl Into<std::sync::Arc<Envelope>>,
    ) -> Receipt {
        let envelope = envelope.into();
        if self.inbox.contains_key(&envelope.id) {
            return Receipt::Duplicate;
        }
        self.inbox
            .insert(envelope.id.clone(), Received { at: now, envelope });
        Receipt::New
    }

    /// Takes back a message its journal says it processed: a redelivery of
    /// it is a duplicate.
    pub fn restore_received(&mut self, r: Received) {
        self.inbox.insert(r.envelope.id.clone(), r);
    }

    /// The node's host restarted after a crash.
    pub fn on_restart(&mut self, now: Timestamp) {
        self.outbox.restart(now);
        self.passing.restart(now);
    }

    /// Messages submitted, and reshares asked for, not yet answered by the hub.
    pub fn pending(&self) -> usize {
        self.outbox.len() + self.passing.len()
    }

    /// The hub's final answer for a message this node originated.
    pub fn outcome(&self, id: &MessageId) -> Option<&Outcome> {
        self.outcomes.get(id)
    }

    /// Hands over everything received, leaving the inbox empty (at the end
    /// of a run, to record it without a copy).
    pub fn take_inbox(&mut self) -> Vec<Received> {
        std::mem::take(&mut self.inbox).into_values().collect()
    }

    /// Messages received, in id order.
    pub fn inbox(&self) -> impl Iterator<Item = &Received> {
        self.inbox.values()
    }

    /// How many messages of `kind` this node has received.
    pub fn received_of(&self, kind: Kind) -> usize {
        self.inbox
            .values()
            .filter(|r| r.envelope.kind == kind)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn notice(id: &str) -> Envelope {
        Envelope {
            status: Status::Test,
            ..Envelope::alert(
                id,
                Ministry::HN_SEDS,
                Timestamp(0),
                Payload::CargoNotice(CargoNotice::default()),
            )
        }
    }

    /// Submits `ids` at t=0 and returns the node and the publishes then due.
    fn check(ids: &[&str]) -> (Node, Vec<Publish>) {
        let mut node = Node::new(Ministry::HN_SEDS, PublishConfig::default());
        for id in ids {
            node.submit(Timestamp(0), notice(id));
        }
        let due = node.poll(Timestamp(0));
        (node, due)
    }

    #[test]
    fn publishes_until_the_hub_answers() {
        let (mut node, due) = check(&["a"]);
        assert_eq!(due.len(), 1);
        node.on_publish_failed(Timestamp(10), due[0].seq);
        assert_eq!(node.pending(), 1);
        assert!(node.poll(Timestamp(500)).is_empty());
        let again = node.poll(Timestamp(1_010));
        assert_eq!(again[0].attempt, 2);
        let accepted = Outcome::Accepted {
            recipients: vec![Ministry::US_DHS],
        };
        node.on_outcome(Timestamp(1_100), again[0].seq, accepted.clone());
        assert_eq!(node.pending(), 0);
        assert_eq!(node.outcome(&"a".into()), Some(&accepted));
    }

    #[test]
    fn a_refusal_is_final() {
        let (mut node, due) = check(&["a"]);
        let refused = Outcome::Refused {
            reason: "no".into(),
        };
        node.on_outcome(Timestamp(10), due[0].seq, refused.clone());
        assert_eq!(node.pending(), 0);
        assert_eq!(node.next_wakeup(), None);
        assert_eq!(node.outcome(&"a".into()), Some(&refused));
    }

    #[test]
    fn redeliveries_are_discarded() {
        let mut node = Node::new(Ministry::GT_MINGOB, PublishConfig::default());
        assert_eq!(node.on_deliver(Timestamp(5), notice("x")), Receipt::New);
        assert_eq!(
            node.on_deliver(Timestamp(9), notice("x")),
            Receipt::Duplicate
        );
        node.on_restart(Timestamp(20));
        assert_eq!(
            node.on_deliver(Timestamp(30), notice("x")),
            Receipt::Duplicate
        );
        assert_eq!(node.received_of(Kind::CargoNotice), 1);
        assert_eq!(node.inbox().next().unwrap().at, Timestamp(5));
    }

    #[test]
    fn a_crash_resends_what_was_in_flight() {
        let (mut node, due) = check(&["a", "b"]);
        assert_eq!(due.len(), 2);
        node.on_restart(Timestamp(100));
        let again = node.poll(Timestamp(100));
        assert_eq!(again.len(), 2);
        assert!(again.iter().all(|p| p.attempt == 2));
    }
}
