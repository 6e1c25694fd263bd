//! A retry queue: the at-least-once machinery shared by the hub (one queue per
//! recipient) and the nodes (their outbox).
//!
//! Items wait in arrival order; up to `window` are in flight at once. A failed
//! attempt (the peer unreachable, or no answer in time) puts its item back in
//! its place and pauses the whole queue with exponential backoff, because such
//! a failure says the *peer* is down, not that one item is bad: retrying each
//! queued item separately would storm a peer that is down. An attempt the peer
//! answered with a retryable error ([`RetryQueue::erred`]) backs off that item
//! alone, so one bad item never holds up the others. A success resets the
//! backoff.
//!
//! **Causal order:** an item that must follow others ([`Causal::after`]: an
//! UPDATE or CANCEL and the messages it refers to) is held while any of them
//! is still in the queue, so it never starts before they are handed over.
//! Pure: time comes in as an argument.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::model::{Envelope, MessageId, Timestamp};

/// Exponential backoff between attempts on an unreachable peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Pause after the first failure.
    pub initial: Duration,
    /// The longest pause.
    pub max: Duration,
}

impl Backoff {
    /// The pause after `failures` consecutive failed rounds (`failures >= 1`).
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failures.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
        }
    }
}

/// Identifies one queued item for the caller to report the attempt's result.
pub type Seq = u64;

/// An item that may have to wait for others: it names itself and the items
/// it must follow (an UPDATE or CANCEL follows the messages it refers to).
pub trait Causal {
    type Key: Ord + Clone;
    /// This item's key.
    fn key(&self) -> Self::Key;
    /// Keys of items that, while they are still in this queue, must be
    /// handed over before this one starts.
    fn after(&self) -> Vec<Self::Key>;
}

/// A node's outbox: a message follows those it updates or cancels.
impl Causal for std::sync::Arc<Envelope> {
    type Key = MessageId;

    fn key(&self) -> MessageId {
        self.id.clone()
    }

    fn after(&self) -> Vec<MessageId> {
        self.references.clone()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting in the ready index.
    Ready,
    /// Backing off on its own until this instant (the peer answered, with an
    /// error for this item only).
    Delayed(Timestamp),
    /// In flight.
    InFlight,
    /// Waiting for this many earlier items it must follow.
    Held(usize),
}

#[derive(Debug, Clone)]
struct Slot<T> {
    item: T,
    /// Attempts started so far.
    attempts: u32,
    /// When it was queued.
    pushed: Timestamp,
    state: State,
}

/// An attempt the caller must now make.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt<T> {
    pub seq: Seq,
    pub item: T,
    /// 1 for the first attempt.
    pub attempt: u32,
}

/// Items waiting to be handed to one peer, with their retry state.
#[derive(Debug, Clone)]
pub struct RetryQueue<T: Causal> {
    slots: BTreeMap<Seq, Slot<T>>,
    /// Ready items, in arrival order: a retried item keeps its place.
    ready: BTreeSet<Seq>,
    /// Items backing off on their own, by when they are ready again.
    delayed: BTreeSet<(Timestamp, Seq)>,
    /// The items present, by key, for causal holds.
    keys: BTreeMap<T::Key, Seq>,
    /// Held items waiting for the item of each key.
    waiters: BTreeMap<T::Key, Vec<Seq>>,
    in_flight: usize,
    /// Consecutive failed rounds since the last success.
    failures: u32,
    /// No attempt starts before this instant.
    paused_until: Timestamp,
    next_seq: Seq,
}

impl<T: Causal> Default for RetryQueue<T> {
    fn default() -> Self {
        RetryQueue {
            slots: BTreeMap::new(),
            ready: BTreeSet::new(),
            delayed: BTreeSet::new(),
            keys: BTreeMap::new(),
            waiters: BTreeMap::new(),
            in_flight: 0,
            failures: 0,
            paused_until: Timestamp(i64::MIN),
            next_seq: 0,
        }
    }
}

impl<T: Causal + Clone> RetryQueue<T> {
    /// Queues `item`. It is ready at once, unless an item it must follow is
    /// still in the queue: then it is held until that one has left.
    pub fn push(&mut self, now: Timestamp, item: T) -> Seq {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut blockers = item.after();
        blockers.sort();
        blockers.dedup();
        blockers.retain(|k| self.keys.contains_key(k));
        for k in &blockers {
            self.waiters.entry(k.clone()).or_default().push(seq);
        }
        let state = if blockers.is_empty() {
            self.ready.insert(seq);
            State::Ready
        } else {
            State::Held(blockers.len())
        };
        self.keys.insert(item.key(), seq);
        self.slots.insert(
            seq,
            Slot {
                item,
                attempts: 0,
                pushed: now,
                state,
            },
        );
        seq
    }

    /// Starts as many ready attempts as the window allows, oldest first.
    pub fn take_ready(&mut self, now: Timestamp, window: usize) -> Vec<Attempt<T>> {
        while let Some(&(at, seq)) = self.delayed.first() {
            if at > now {
                break;
            }
            self.delayed.pop_first();
            self.make_ready(seq);
        }
        let mut out = Vec::new();
        if now < self.paused_until {
            return out;
        }
        while self.in_flight < window {
            let Some(seq) = self.ready.pop_first() else {
                break;
            };
            let slot = self
                .slots
                .get_mut(&seq)
                .expect("ready index names a live slot");
            slot.state = State::InFlight;
            slot.attempts += 1;
            self.in_flight += 1;
            out.push(Attempt {
                seq,
                item: slot.item.clone(),
                attempt: slot.attempts,
            });
        }
        out
    }

    fn make_ready(&mut self, seq: Seq) {
        if let Some(slot) = self.slots.get_mut(&seq) {
            slot.state = State::Ready;
            self.ready.insert(seq);
        }
    }

    /// The attempt `seq` succeeded: the item leaves the queue and backoff resets.
    /// Returns the item and how many attempts it took, or `None` if it had
    /// already left.
    pub fn succeeded(&mut self, now: Timestamp, seq: Seq) -> Option<(T, u32)> {
        let slot = self.remove(seq)?;
        self.failures = 0;
        self.paused_until = self.paused_until.min(now);
        Some(slot)
    }

    /// The attempt `seq` got a final answer that is not success: the item leaves
    /// the queue without touching the backoff.
    pub fn abandon(&mut self, seq: Seq) -> Option<(T, u32)> {
        self.remove(seq)
    }

    fn remove(&mut self, seq: Seq) -> Option<(T, u32)> {
        let slot = self.slots.remove(&seq)?;
        match slot.state {
            State::Ready => {
                self.ready.remove(&seq);
            }
            State::Delayed(at) => {
                self.delayed.remove(&(at, seq));
            }
            State::InFlight => self.in_flight -= 1,
            State::Held(_) => {}
        }
        let key = slot.item.key();
        if self.keys.get(&key) == Some(&seq) {
            self.keys.remove(&key);
            for waiter in self.waiters.remove(&key).unwrap_or_default() {
                self.release(waiter);
            }
        }
        Some((slot.item, slot.attempts))
    }

    /// One item `waiter` was waiting for has left.
    fn release(&mut self, waiter: Seq) {
        let Some(slot) = self.slots.get_mut(&waiter) else {
            return;
        };
        if let State::Held(n) = slot.state {
            if n > 1 {
                slot.state = State::Held(n - 1);
            } else {
                self.make_ready(waiter);
            }
        }
    }

    /// The attempt `seq` failed in transport: the item is ready again (first in
    /// line, as it was) and the queue pauses. Failures that arrive while
    /// already paused (the rest of the window failing for the same reason) do
    /// not lengthen the pause.
    pub fn failed(&mut self, now: Timestamp, seq: Seq, backoff: &Backoff) {
        if !self.back_from_flight(seq) {
            return;
        }
        self.ready.insert(seq);
        if let Some(slot) = self.slots.get_mut(&seq) {
            slot.state = State::Ready;
        }
        if now >= self.paused_until {
            self.failures = self.failures.saturating_add(1);
            self.paused_until = now.after(backoff.delay(self.failures));
        }
    }

    /// The peer was reached and answered attempt `seq` with an error worth
    /// retrying: this item alone backs off (by its own attempt count), and the
    /// rest of the queue carries on.
    pub fn erred(&mut self, now: Timestamp, seq: Seq, backoff: &Backoff) {
        if !self.back_from_flight(seq) {
            return;
        }
        if let Some(slot) = self.slots.get_mut(&seq) {
            let at = now.after(backoff.delay(slot.attempts.max(1)));
            slot.state = State::Delayed(at);
            self.delayed.insert((at, seq));
        }
    }

    /// The peer was reached but had no room for `seq`: that item alone waits
    /// `retry_after` (the peer's hint), then is tried again. Its own backoff
    /// does not grow: the hint says when.
    pub fn busy(&mut self, now: Timestamp, seq: Seq, retry_after: Duration) {
        if !self.back_from_flight(seq) {
            return;
        }
        if let Some(slot) = self.slots.get_mut(&seq) {
            let at = now.after(retry_after.max(Duration::from_millis(1)));
            slot.state = State::Delayed(at);
            self.delayed.insert((at, seq));
        }
    }

    /// Takes `seq` out of flight; false if it was not in flight (a stale result).
    fn back_from_flight(&mut self, seq: Seq) -> bool {
        match self.slots.get(&seq) {
            Some(slot) if slot.state == State::InFlight => {
                self.in_flight -= 1;
                true
            }
            _ => false,
        }
    }

    /// The peer is known to be back (it said so): the pause ends now.
    pub fn resume(&mut self, now: Timestamp) {
        self.failures = 0;
        self.paused_until = self.paused_until.min(now);
    }

    /// Until when the whole queue is paused (in the past when it is not).
    pub fn paused_until(&self) -> Timestamp {
        self.paused_until
    }

    /// When `take_ready` will next have something to start, if ever.
    pub fn next_wakeup(&self, window: usize) -> Option<Timestamp> {
        if self.in_flight >= window {
            return None;
        }
        let ready = self
            .ready
            .first()
            .map(|seq| self.slots[seq].pushed.max(self.paused_until));
        let delayed = self
            .delayed
            .first()
            .map(|&(at, _)| at.max(self.paused_until));
        match (ready, delayed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// After a crash of the queue's owner: whatever was in flight or backing
    /// off is ready again, in arrival order, and the backoff is forgotten.
    pub fn restart(&mut self, _now: Timestamp) {
        for (seq, slot) in &mut self.slots {
            if matches!(slot.state, State::InFlight | State::Delayed(_)) {
                slot.state = State::Ready;
                self.ready.insert(*seq);
            }
        }
        self.delayed.clear();
        self.in_flight = 0;
        self.failures = 0;
        self.paused_until = Timestamp(i64::MIN);
    }

    /// Items queued, held or in flight.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether nothing is queued or in flight.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Queued and in-flight items, in arrival order.
    pub fn items(&self) -> impl Iterator<Item = &T> {
        self.slots.values().map(|s| &s.item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Causal for i32 {
        type Key = i32;
        fn key(&self) -> i32 {
            *self
        }
        fn after(&self) -> Vec<i32> {
            Vec::new()
        }
    }

    impl Causal for u8 {
        type Key = u8;
        fn key(&self) -> u8 {
            *self
        }
        fn after(&self) -> Vec<u8> {
            Vec::new()
        }
    }

    impl Causal for &'static str {
        type Key = &'static str;
        fn key(&self) -> &'static str {
            self
        }
        fn after(&self) -> Vec<&'static str> {
            Vec::new()
        }
    }

    /// An item that names what it must follow.
    #[derive(Debug, Clone, PartialEq)]
    struct Msg(&'static str, &'static [&'static str]);

    impl Causal for Msg {
        type Key = &'static str;
        fn key(&self) -> &'static str {
            self.0
        }
        fn after(&self) -> Vec<&'static str> {
            self.1.to_vec()
        }
    }

    const B: Backoff = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(8),
    };

    fn t(ms: i64) -> Timestamp {
        Timestamp(ms)
    }

    fn seqs<T>(a: &[Attempt<T>]) -> Vec<Seq> {
        a.iter().map(|a| a.seq).collect()
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let d: Vec<u64> = (1..=6).map(|f| B.delay(f).as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 8, 8, 8]);
        assert_eq!(B.delay(200), Duration::from_secs(8));
    }

    #[test]
    fn window_limits_attempts_in_flight() {
        let mut q = RetryQueue::default();
        for i in 0..5 {
            q.push(t(0), i);
        }
        assert_eq!(seqs(&q.take_ready(t(0), 2)), [0, 1]);
        assert!(q.take_ready(t(0), 2).is_empty());
        assert_eq!(q.next_wakeup(2), None);
        assert_eq!(q.succeeded(t(5), 0), Some((0, 1)));
        assert_eq!(seqs(&q.take_ready(t(5), 2)), [2]);
        assert_eq!(q.len(), 4);
    }

    #[test]
    fn a_failure_pauses_the_queue_and_the_item_is_retried_first() {
        let mut q = RetryQueue::default();
        q.push(t(0), "a");
        q.push(t(0), "b");
        let first = q.take_ready(t(0), 2);
        q.failed(t(100), first[0].seq, &B);
        q.failed(t(100), first[1].seq, &B);
        assert!(q.take_ready(t(500), 2).is_empty(), "paused for 1s");
        assert_eq!(q.next_wakeup(2), Some(t(1_100)));
        let again = q.take_ready(t(1_100), 2);
        assert_eq!(seqs(&again), [0, 1]);
        assert_eq!(again[0].attempt, 2);
        q.failed(t(1_200), 0, &B);
        assert_eq!(q.next_wakeup(2), Some(t(3_200)), "second round doubles");
        q.succeeded(t(1_300), 1);
        assert_eq!(q.next_wakeup(2), Some(t(1_300)), "success resets");
    }

    #[test]
    fn restart_makes_in_flight_items_ready() {
        let mut q = RetryQueue::default();
        q.push(t(0), 7);
        assert_eq!(q.take_ready(t(0), 4).len(), 1);
        assert_eq!(q.next_wakeup(4), None);
        q.restart(t(50));
        assert!(
            q.next_wakeup(4).is_some_and(|w| w <= t(50)),
            "ready at once"
        );
        let a = q.take_ready(t(50), 4);
        assert_eq!((a[0].item, a[0].attempt), (7, 2));
    }

    #[test]
    fn stale_results_are_ignored() {
        let mut q: RetryQueue<u8> = RetryQueue::default();
        let s = q.push(t(0), 1);
        q.failed(t(0), s, &B);
        assert_eq!(q.next_wakeup(1), Some(t(0)), "never started: no pause");
        assert_eq!(q.succeeded(t(0), 99), None);
        assert_eq!(q.abandon(s), Some((1, 0)));
        assert!(q.is_empty());
    }

    #[test]
    fn an_update_waits_for_the_message_it_follows() {
        let mut q = RetryQueue::default();
        let alert = q.push(t(0), Msg("a", &[]));
        q.push(t(0), Msg("u", &["a", "gone"]));
        q.push(t(0), Msg("b", &[]));
        let first = q.take_ready(t(0), 4);
        let names: Vec<_> = first.iter().map(|a| a.item.0).collect();
        assert_eq!(names, ["a", "b"], "u is held while a is queued");
        q.failed(t(10), alert, &B);
        assert!(q.take_ready(t(2_000), 4).iter().all(|a| a.item.0 == "a"));
        q.succeeded(t(2_100), alert);
        let then: Vec<_> = q
            .take_ready(t(2_100), 4)
            .into_iter()
            .map(|a| a.item.0)
            .collect();
        assert_eq!(then, ["u"]);
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn an_item_the_peer_erred_on_backs_off_alone() {
        let mut q = RetryQueue::default();
        q.push(t(0), 1);
        q.push(t(0), 2);
        let first = q.take_ready(t(0), 1);
        q.erred(t(10), first[0].seq, &B);
        let next = q.take_ready(t(10), 1);
        assert_eq!(next[0].item, 2, "the queue is not paused");
        q.succeeded(t(20), next[0].seq);
        assert_eq!(q.next_wakeup(1), Some(t(1_010)));
        assert!(q.take_ready(t(500), 1).is_empty());
        let again = q.take_ready(t(1_010), 1);
        assert_eq!((again[0].item, again[0].attempt), (1, 2));
    }

    #[test]
    fn retries_and_restarts_keep_arrival_order() {
        let mut q = RetryQueue::default();
        for i in 0..6 {
            q.push(t(0), i);
        }
        let first = q.take_ready(t(0), 3);
        q.restart(t(100));
        let order: Vec<i32> = q
            .take_ready(t(100), 6)
            .into_iter()
            .map(|a| a.item)
            .collect();
        assert_eq!(order, [0, 1, 2, 3, 4, 5]);
        assert_eq!(first.len(), 3);
    }
}
