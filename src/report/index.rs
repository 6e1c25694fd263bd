//! What the event log says, kept as the run goes: the per-message facts
//! the expectation checks ask about, the counts and latencies of the
//! summary, and what the leak checker needs of the log. Built one event at
//! a time ([`Index::push`]), so a run can stream its log to disk and keep
//! only this; [`IndexSink`] builds it while the run writes its events.
//! Nothing here is iterated in hash order: the maps are B-trees.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use crate::events::{Event, EventBody, EventSink};
use crate::model::{Kind, MessageId, Ministry};

/// What the event log has said so far.
#[derive(Debug, Default, Clone)]
pub struct Index {
    /// First publish of each message: when, by whom, of which kind.
    pub published: BTreeMap<MessageId, (u64, Ministry, Kind)>,
    /// Each message the hub accepted: when, and its recipients.
    pub accepted: BTreeMap<MessageId, (u64, Vec<Ministry>)>,
    /// Each message the hub refused: when, and why.
    pub rejected: BTreeMap<MessageId, (u64, String)>,
    /// Per (message, recipient): its first receipt, and how many times the
    /// recipient processed it (above 1 is a duplicate processed).
    pub delivered: BTreeMap<(MessageId, Ministry), (u64, u32)>,
    /// Redeliveries each recipient discarded.
    pub duplicates: BTreeMap<Ministry, u32>,
    /// Messages first published, per sender.
    pub sent: BTreeMap<Ministry, u32>,
    /// `delivered` events, per recipient.
    pub received: BTreeMap<Ministry, u32>,
    /// Delivery latencies (ms) per kind, in log order.
    pub latencies: BTreeMap<Kind, Vec<u64>>,
    /// Faults begun.
    pub faults: usize,
    /// Amendments so far.
    amended: usize,
    /// Each accepted message in the order the hub accepted them, with how
    /// many amendments came before (the agreement it was routed by).
    pub acceptances: Vec<(MessageId, usize)>,
    /// Each reshare the hub accepted: message, by, to, and how many
    /// amendments came before.
    pub reshares: Vec<(MessageId, Ministry, Ministry, usize)>,
}

impl Index {
    /// Indexes `events`.
    pub fn new<'a>(events: impl IntoIterator<Item = &'a Event>) -> Index {
        let mut ix = Index::default();
        for e in events {
            ix.push(e);
        }
        ix
    }

    /// Takes one more event into account.
    pub fn push(&mut self, e: &Event) {
        match &e.body {
            EventBody::Published {
                msg, kind, from, ..
            } => {
                if !self.published.contains_key(msg) {
                    self.published.insert(msg.clone(), (e.t, *from, *kind));
                }
                *self.sent.entry(*from).or_insert(0) += 1;
            }
            EventBody::Accepted {
                msg, recipients, ..
            } if !self.accepted.contains_key(msg) => {
                self.accepted.insert(msg.clone(), (e.t, recipients.clone()));
                self.acceptances.push((msg.clone(), self.amended));
            }
            EventBody::Rejected { msg, reason, .. } if !self.rejected.contains_key(msg) => {
                self.rejected.insert(msg.clone(), (e.t, reason.clone()));
            }
            EventBody::Delivered {
                msg,
                kind,
                to,
                latency_ms,
            } => {
                self.delivered
                    .entry((msg.clone(), *to))
                    .or_insert((e.t, 0))
                    .1 += 1;
                *self.received.entry(*to).or_insert(0) += 1;
                self.latencies.entry(*kind).or_default().push(*latency_ms);
            }
            EventBody::Duplicate { to, .. } => *self.duplicates.entry(*to).or_insert(0) += 1,
            EventBody::Fault { .. } => self.faults += 1,
            EventBody::Amended { .. } => self.amended += 1,
            EventBody::Reshared { msg, by, to, .. } => {
                self.reshares.push((msg.clone(), *by, *to, self.amended));
            }
            _ => {}
        }
    }

    /// When `msg` first reached `to`, if it did.
    pub fn first_delivery(&self, msg: &MessageId, to: Ministry) -> Option<u64> {
        self.delivered.get(&(msg.clone(), to)).map(|d| d.0)
    }

    /// Every delivery latency (ms), all kinds together, sorted.
    pub fn all_latencies(&self) -> Vec<u64> {
        let mut all: Vec<u64> = self.latencies.values().flatten().copied().collect();
        all.sort_unstable();
        all
    }
}

/// An [`EventSink`] that builds an [`Index`] of what it is given.
#[derive(Debug, Default)]
pub struct IndexSink(Mutex<Index>);

impl IndexSink {
    /// The index so far.
    pub fn index(&self) -> MutexGuard<'_, Index> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the index, leaving an empty one.
    pub fn take(&self) -> Index {
        std::mem::take(&mut *self.index())
    }
}

impl EventSink for IndexSink {
    fn write(&self, event: Event) {
        self.index().push(&event);
    }
}
