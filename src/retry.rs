//! A retry queue: the at-least-once machinery shared by the hub (one queue per
//! recipient) and the nodes (their outbox).
//!
//! Items wait in arrival order; up to `window` are in flight at once. A failed
//! attempt puts its item back and pauses the whole queue with exponential
//! backoff, because a failure says the *peer* is unreachable, not that one item
//! is bad: retrying each queued item separately would storm a peer that is down.
//! A success resets the backoff. Pure: time comes in as an argument.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::model::Timestamp;

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

#[derive(Debug, Clone)]
struct Slot<T> {
    item: T,
    /// Attempts started so far.
    attempts: u32,
    /// When the item became ready (for the ready index); `None` while in flight.
    ready_at: Option<Timestamp>,
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
pub struct RetryQueue<T> {
    slots: BTreeMap<Seq, Slot<T>>,
    /// Ready items by (ready time, arrival order).
    ready: BTreeSet<(Timestamp, Seq)>,
    in_flight: usize,
    /// Consecutive failed rounds since the last success.
    failures: u32,
    /// No attempt starts before this instant.
    paused_until: Timestamp,
    next_seq: Seq,
}

impl<T> Default for RetryQueue<T> {
    fn default() -> Self {
        RetryQueue {
            slots: BTreeMap::new(),
            ready: BTreeSet::new(),
            in_flight: 0,
            failures: 0,
            paused_until: Timestamp(i64::MIN),
            next_seq: 0,
        }
    }
}

impl<T: Clone> RetryQueue<T> {
    /// Queues `item`, ready at `now`.
    pub fn push(&mut self, now: Timestamp, item: T) -> Seq {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.slots.insert(
            seq,
            Slot {
                item,
                attempts: 0,
                ready_at: Some(now),
            },
        );
        self.ready.insert((now, seq));
        seq
    }

    /// Starts as many ready attempts as the window allows.
    pub fn take_ready(&mut self, now: Timestamp, window: usize) -> Vec<Attempt<T>> {
        let mut out = Vec::new();
        if now < self.paused_until {
            return out;
        }
        while self.in_flight < window {
            let Some(&(at, seq)) = self.ready.first() else {
                break;
            };
            if at > now {
                break;
            }
            self.ready.pop_first();
            let slot = self
                .slots
                .get_mut(&seq)
                .expect("ready index names a live slot");
            slot.ready_at = None;
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
        match slot.ready_at {
            Some(at) => {
                self.ready.remove(&(at, seq));
            }
            None => self.in_flight -= 1,
        }
        Some((slot.item, slot.attempts))
    }

    /// The attempt `seq` failed in transport: the item is ready again and the
    /// queue pauses. Failures that arrive while already paused (the rest of the
    /// window failing for the same reason) do not lengthen the pause.
    pub fn failed(&mut self, now: Timestamp, seq: Seq, backoff: &Backoff) {
        let Some(slot) = self.slots.get_mut(&seq) else {
            return;
        };
        if slot.ready_at.is_some() {
            return;
        }
        slot.ready_at = Some(now);
        self.ready.insert((now, seq));
        self.in_flight -= 1;
        if now >= self.paused_until {
            self.failures = self.failures.saturating_add(1);
            self.paused_until = now.after(backoff.delay(self.failures));
        }
    }

    /// When `take_ready` will next have something to start, if ever.
    pub fn next_wakeup(&self, window: usize) -> Option<Timestamp> {
        if self.in_flight >= window {
            return None;
        }
        let &(at, _) = self.ready.first()?;
        Some(at.max(self.paused_until))
    }

    /// After a crash of the queue's owner: whatever was in flight is ready again
    /// and the backoff is forgotten.
    pub fn restart(&mut self, now: Timestamp) {
        for (seq, slot) in &mut self.slots {
            if slot.ready_at.is_none() {
                slot.ready_at = Some(now);
                self.ready.insert((now, *seq));
            }
        }
        self.in_flight = 0;
        self.failures = 0;
        self.paused_until = Timestamp(i64::MIN);
    }

    /// Items queued or in flight.
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
        assert_eq!(q.next_wakeup(4), Some(t(50)));
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
}
