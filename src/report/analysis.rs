//! What a run's event log says, worked out for people: every transmission
//! with its send and arrival times, every message with its fate, latency
//! distributions, transmissions per inject, time spent pending during faults,
//! and what the policy kept back. Computed from the event log (plus the
//! scenario for labels and content), so it is the same for any run directory.

use std::collections::BTreeMap;

use super::rundir::RunDir;
use crate::events::{Event, EventBody, FaultKind};
use crate::format::percentile;
use crate::model::{Host, Kind, MessageId, Ministry};
use crate::policy::{Redaction, Withheld};

/// One transmission: an RPC carrying a message from one host to another.
#[derive(Debug, Clone)]
pub struct Tx {
    /// Index into [`Analysis::msgs`].
    pub msg: usize,
    pub from: Host,
    pub to: Host,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub sent: u64,
    /// When the receiver handled it, if it got there.
    pub received: Option<u64>,
    /// When the sender gave up on this attempt, and why.
    pub failed: Option<(u64, String)>,
    /// The receiver already had the message and discarded this copy.
    pub duplicate: bool,
}

/// One message and what became of it.
#[derive(Debug, Clone)]
pub struct Msg {
    pub id: MessageId,
    pub kind: Kind,
    pub from: Ministry,
    /// The scenario inject it came from, by index; `None` for generated traffic.
    pub inject: Option<usize>,
    /// The inject's `id`, if it has one.
    pub label: Option<String>,
    /// When it was handed to its node (simulated ms), if known.
    pub at: Option<u64>,
    pub published: Option<u64>,
    pub accepted: Option<u64>,
    pub rejected: Option<(u64, String)>,
    pub recipients: Vec<Ministry>,
    pub withheld: Vec<Withheld>,
    pub redacted: Vec<Redaction>,
    /// First receipt per recipient: (time, latency from creation).
    pub delivered: BTreeMap<Ministry, (u64, u64)>,
    /// The content in one line, when the scenario is available.
    pub content: Option<String>,
    pub n_tx: u32,
    /// Transmissions after the first attempt (retried publishes and redeliveries).
    pub n_retries: u32,
    pub n_failed: u32,
    pub n_duplicates: u32,
}

impl Msg {
    /// A message known only by its id, kind and sender; the rest is filled
    /// in from the plan and the event log.
    fn new(id: MessageId, kind: Kind, from: Ministry) -> Msg {
        Msg {
            id,
            kind,
            from,
            inject: None,
            label: None,
            at: None,
            published: None,
            accepted: None,
            rejected: None,
            recipients: Vec::new(),
            withheld: Vec::new(),
            redacted: Vec::new(),
            delivered: BTreeMap::new(),
            content: None,
            n_tx: 0,
            n_retries: 0,
            n_failed: 0,
            n_duplicates: 0,
        }
    }
}

/// A fault as it happened.
#[derive(Debug, Clone)]
pub struct FaultSpan {
    pub kind: FaultKind,
    pub targets: Vec<Host>,
    pub from: u64,
    pub until: u64,
}

impl FaultSpan {
    /// `partition GT-MINGOB–GCIF`.
    pub fn describe(&self) -> String {
        let targets: Vec<&str> = self.targets.iter().map(|h| h.name()).collect();
        let kind = match self.kind {
            FaultKind::Partition => "partition",
            FaultKind::Crash => "crash",
            FaultKind::Degrade => "degraded link",
        };
        format!("{kind} {}", targets.join("–"))
    }
}

/// The upper edges of the latency histogram's buckets, in ms (the last is open).
pub const BUCKETS: [u64; 13] = [
    100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000,
    10_800_000,
];

/// A latency distribution.
#[derive(Debug, Clone, Default)]
pub struct Dist {
    pub n: usize,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
    /// Counts per bucket of [`BUCKETS`], plus one for everything above.
    pub hist: Vec<u32>,
}

impl Dist {
    /// The distribution of `v` (any order).
    pub fn new(mut v: Vec<u64>) -> Dist {
        v.sort_unstable();
        let mut hist = vec![0u32; BUCKETS.len() + 1];
        for &x in &v {
            let i = BUCKETS.iter().position(|&b| x < b).unwrap_or(BUCKETS.len());
            hist[i] += 1;
        }
        Dist {
            n: v.len(),
            p50: percentile(&v, 50.0),
            p90: percentile(&v, 90.0),
            p99: percentile(&v, 99.0),
            max: v.last().copied().unwrap_or(0),
            hist,
        }
    }
}

/// How the deliveries pending during one fault fared.
#[derive(Debug, Clone)]
pub struct FaultPending {
    /// Index into [`Analysis::faults`].
    pub fault: usize,
    /// Deliveries (message × recipient) still pending at some point during the fault.
    pub n_pending: usize,
    /// Their time pending inside the fault window, added up.
    pub pending_ms: u64,
    /// The longest whole wait (publication to receipt) among them.
    pub longest_wait_ms: u64,
    /// Transmissions that failed during the fault.
    pub n_failed: usize,
}

/// Everything the report shows about one run.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub msgs: Vec<Msg>,
    pub tx: Vec<Tx>,
    pub faults: Vec<FaultSpan>,
    /// The hosts in diagram order: ministries around the hub.
    pub lanes: Vec<Host>,
    /// The last event's time.
    pub end: u64,
    pub by_kind: Vec<(Kind, Dist)>,
    pub by_recipient: Vec<(Ministry, Dist)>,
    pub by_kind_recipient: Vec<(Kind, Ministry, Dist)>,
    pub fault_pending: Vec<FaultPending>,
}

/// The analysis under construction: messages in plan order, then as the
/// log names them, and transmissions matched by message, hops and attempt.
#[derive(Default)]
struct Builder {
    msgs: Vec<Msg>,
    index: BTreeMap<MessageId, usize>,
    tx: Vec<Tx>,
    /// Each transmission by (message, from, to, attempt), for its outcome.
    open: BTreeMap<(usize, Host, Host, u32), usize>,
    faults: Vec<FaultSpan>,
    /// The last event's time.
    end: u64,
}

impl Builder {
    /// Starts from the run's messages, so they keep their planned order and
    /// content.
    fn new(run: &RunDir) -> Builder {
        let mut b = Builder::default();
        let (msgs, index) = (&mut b.msgs, &mut b.index);
        let labels: BTreeMap<usize, Option<String>> = run
            .scenario
            .iter()
            .flat_map(|s| {
                s.injects
                    .iter()
                    .enumerate()
                    .map(|(i, j)| (i, j.label.clone()))
            })
            .collect();
        // The plan first, so messages keep their planned order and content.
        for p in &run.plan {
            index.insert(p.envelope.id.clone(), msgs.len());
            msgs.push(Msg {
                inject: p.inject,
                label: p.inject.and_then(|i| labels.get(&i).cloned().flatten()),
                at: Some(p.at.as_millis() as u64),
                content: Some({
                    let what = match (&p.envelope.payload, p.envelope.references.first()) {
                        (Some(payload), _) => payload.describe(),
                        (None, Some(r)) => format!("CANCEL of {r}"),
                        (None, None) => "no content".to_string(),
                    };
                    match p.envelope.grading {
                        Some(g) => format!("{what} [graded {g}]"),
                        None => what,
                    }
                }),
                ..Msg::new(
                    p.envelope.id.clone(),
                    p.envelope.kind,
                    p.envelope.originator,
                )
            });
        }
        b
    }

    /// The index of message `id`; one the plan does not know (no scenario,
    /// or a live run) is learnt from the log.
    fn msg_of(&mut self, id: &MessageId, kind: Option<Kind>, from: Option<Ministry>) -> usize {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        self.index.insert(id.clone(), self.msgs.len());
        self.msgs.push(Msg::new(
            id.clone(),
            kind.unwrap_or(Kind::CaravanAlert),
            from.unwrap_or(Ministry::US_DHS),
        ));
        self.msgs.len() - 1
    }

    /// Takes one event of the log into account.
    fn on_event(&mut self, e: &Event) {
        self.end = self.end.max(e.t);
        match &e.body {
            EventBody::Published {
                msg,
                kind,
                from,
                inject,
            } => {
                let i = self.msg_of(msg, Some(*kind), Some(*from));
                let m = &mut self.msgs[i];
                m.published.get_or_insert(e.t);
                if m.label.is_none() {
                    m.label = inject.clone();
                }
            }
            EventBody::Accepted {
                msg,
                kind,
                from,
                recipients,
                withheld,
                redacted,
                ..
            } => {
                let i = self.msg_of(msg, Some(*kind), Some(*from));
                let m = &mut self.msgs[i];
                m.accepted.get_or_insert(e.t);
                m.recipients = recipients.clone();
                m.withheld = withheld.clone();
                m.redacted = redacted.clone();
            }
            EventBody::Rejected { msg, from, reason } => {
                let i = self.msg_of(msg, None, Some(*from));
                self.msgs[i].rejected.get_or_insert((e.t, reason.clone()));
            }
            EventBody::Delivered {
                msg,
                kind,
                to,
                latency_ms,
            } => {
                let i = self.msg_of(msg, Some(*kind), None);
                self.msgs[i]
                    .delivered
                    .entry(*to)
                    .or_insert((e.t, *latency_ms));
            }
            EventBody::Duplicate { .. }
            | EventBody::RefusedRequest { .. }
            | EventBody::Deferred { .. }
            | EventBody::IdentityRefused { .. }
            | EventBody::Undeliverable { .. }
            | EventBody::Registered { .. }
            | EventBody::Started { .. }
            | EventBody::Amended { .. }
            | EventBody::Reshared { .. }
            | EventBody::ReshareRefused { .. }
            | EventBody::Control { .. }
            | EventBody::FaultNotCarriedOut { .. } => {}
            EventBody::Sent {
                msg,
                from,
                to,
                attempt,
            } => {
                let i = self.msg_of(msg, None, None);
                let m = &mut self.msgs[i];
                m.n_tx += 1;
                if *attempt > 1 {
                    m.n_retries += 1;
                }
                self.open.insert((i, *from, *to, *attempt), self.tx.len());
                self.tx.push(Tx {
                    msg: i,
                    from: *from,
                    to: *to,
                    attempt: *attempt,
                    sent: e.t,
                    received: None,
                    failed: None,
                    duplicate: false,
                });
            }
            EventBody::Received {
                msg,
                from,
                to,
                attempt,
            } => {
                let i = self.msg_of(msg, None, None);
                // A receiver that already handled this message discards
                // the copy: at a ministry once delivered, at the hub once
                // answered.
                let m = &self.msgs[i];
                let duplicate = match to {
                    Host::Node(n) => m.delivered.contains_key(n),
                    Host::Hub => m.accepted.is_some() || m.rejected.is_some(),
                };
                if duplicate {
                    self.msgs[i].n_duplicates += 1;
                }
                if let Some(&k) = self.open.get(&(i, *from, *to, *attempt)) {
                    self.tx[k].received.get_or_insert(e.t);
                    self.tx[k].duplicate = duplicate;
                }
            }
            EventBody::Failed {
                msg,
                from,
                to,
                attempt,
                error,
            } => {
                let i = self.msg_of(msg, None, None);
                self.msgs[i].n_failed += 1;
                if let Some(&k) = self.open.get(&(i, *from, *to, *attempt)) {
                    self.tx[k].failed.get_or_insert((e.t, error.clone()));
                }
            }
            EventBody::Fault {
                fault,
                targets,
                until_t,
            } => self.faults.push(FaultSpan {
                kind: *fault,
                targets: targets.clone(),
                from: e.t,
                until: *until_t,
            }),
            EventBody::Healed { .. } | EventBody::Expectation { .. } => {}
        }
    }
}

impl Analysis {
    /// Works out `run`.
    pub fn new(run: &RunDir) -> Analysis {
        let mut b = Builder::new(run);
        for e in &run.events {
            b.on_event(e);
        }
        let Builder {
            msgs,
            tx,
            faults,
            end,
            ..
        } = b;
        let participants: Vec<Ministry> = if run.summary.participants.is_empty() {
            let mut seen: Vec<Ministry> = msgs
                .iter()
                .flat_map(|m| std::iter::once(m.from).chain(m.recipients.iter().copied()))
                .collect();
            seen.sort();
            seen.dedup();
            seen
        } else {
            run.summary.participants.clone()
        };
        let mut lanes: Vec<Host> = participants.iter().map(|&m| Host::Node(m)).collect();
        lanes.insert(lanes.len().div_ceil(2), Host::Hub);

        let mut by_kind: BTreeMap<Kind, Vec<u64>> = BTreeMap::new();
        let mut by_recipient: BTreeMap<Ministry, Vec<u64>> = BTreeMap::new();
        let mut by_pair: BTreeMap<(Kind, Ministry), Vec<u64>> = BTreeMap::new();
        for m in &msgs {
            for (&to, &(_, latency)) in &m.delivered {
                by_kind.entry(m.kind).or_default().push(latency);
                by_recipient.entry(to).or_default().push(latency);
                by_pair.entry((m.kind, to)).or_default().push(latency);
            }
        }
        // The run lasts its `duration` (plus any drain), even when the log
        // falls quiet earlier.
        let end = end.max(run.summary.end_ms);
        let fault_pending = faults
            .iter()
            .enumerate()
            .map(|(f, span)| pending_during(f, span, &msgs, &tx, end))
            .collect();
        Analysis {
            by_kind: by_kind
                .into_iter()
                .map(|(k, v)| (k, Dist::new(v)))
                .collect(),
            by_recipient: by_recipient
                .into_iter()
                .map(|(m, v)| (m, Dist::new(v)))
                .collect(),
            by_kind_recipient: by_pair
                .into_iter()
                .map(|((k, m), v)| (k, m, Dist::new(v)))
                .collect(),
            fault_pending,
            msgs,
            tx,
            faults,
            lanes,
            end,
        }
    }

    /// The messages of scenario inject `i`.
    pub fn of_inject(&self, i: usize) -> Option<&Msg> {
        self.msgs.iter().find(|m| m.inject == Some(i))
    }
}

/// The deliveries pending during fault `f`: from the message's publication
/// (or creation) to its receipt, or to the end of the run if it never came.
fn pending_during(f: usize, span: &FaultSpan, msgs: &[Msg], tx: &[Tx], end: u64) -> FaultPending {
    let mut out = FaultPending {
        fault: f,
        n_pending: 0,
        pending_ms: 0,
        longest_wait_ms: 0,
        n_failed: tx
            .iter()
            .filter(|t| {
                t.failed
                    .as_ref()
                    .is_some_and(|(ft, _)| *ft >= span.from && *ft <= span.until)
            })
            .count(),
    };
    for m in msgs {
        let Some(start) = m.published.or(m.at) else {
            continue;
        };
        for to in &m.recipients {
            let done = m.delivered.get(to).map(|d| d.0).unwrap_or(end);
            let overlap = done.min(span.until).saturating_sub(start.max(span.from));
            if overlap > 0 {
                out.n_pending += 1;
                out.pending_ms += overlap;
                out.longest_wait_ms = out.longest_wait_ms.max(done - start);
            }
        }
    }
    out
}
