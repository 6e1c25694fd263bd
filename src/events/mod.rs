//! The event log: what happened, in run-time order. Written as
//! `events.jsonl`, one JSON object per line; its shape is a documented
//! contract (see README.md), read by reports, tests and outside tools.
//!
//! This is the lowest layer above the model: hosts write events, every driver
//! (simulated or live) hands the hosts a [`Log`], and reports read the events
//! back. Events are stamped by one [`Clock`], the driver's, so every event of
//! a run shares one time base.
//!
//! - [`clock`]: the [`Clock`] trait and the tokio-driven clock of the
//!   simulation and of live runs.
//! - [`sink`]: where events go: [`Recorder`] (in memory), [`JsonLines`]
//!   (streamed to a file), [`FanOut`] (several at once).

pub mod clock;
pub mod sink;

use std::io::{self, Write};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{Host, Kind, MessageId, Ministry};
use crate::policy::{Redaction, Withheld};

/// One line of `events.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Simulated milliseconds since the start of the run.
    pub t: u64,
    #[serde(flatten)]
    pub body: EventBody,
}

/// The kinds of fault a scenario can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Partition,
    Crash,
    Degrade,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventBody {
    /// A node first hands a message to the hub (its first publish attempt).
    Published {
        msg: MessageId,
        kind: Kind,
        from: Ministry,
        /// The scenario inject's `id`, when the message came from a labelled inject.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inject: Option<String>,
    },
    /// The hub accepted a message (once per message id).
    Accepted {
        msg: MessageId,
        kind: Kind,
        from: Ministry,
        recipients: Vec<Ministry>,
        /// Participants the policy kept the message from, with the reason.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        withheld: Vec<Withheld>,
        /// Fields the policy changed in some recipients' copies, with the reason.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        redacted: Vec<Redaction>,
        /// Said of an UPDATE to another participant's message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A recipient (`by`) passed a message on to `to`, and the hub accepted:
    /// `to`'s copy is redacted as `by`'s was, and as the agreement says for `to`.
    Reshared {
        msg: MessageId,
        by: Ministry,
        to: Ministry,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        redacted: Vec<Redaction>,
    },
    /// The hub refused to pass a message on, with the reason.
    ReshareRefused {
        msg: MessageId,
        by: Ministry,
        to: Ministry,
        reason: String,
    },
    /// The sharing agreement changed (a scenario's `amendments:`): from now
    /// on messages are routed by the amended agreement; those already
    /// accepted keep their decision.
    Amended { change: String },
    /// The hub refused a message (once per message id).
    Rejected {
        msg: MessageId,
        from: Ministry,
        reason: String,
    },
    /// The hub had no room for a message now: `full` (its recipients, or the
    /// one it was to be passed on to) already have as many messages waiting
    /// as the hub keeps for one recipient. Refused with RESOURCE_EXHAUSTED
    /// and a retry hint (`retry_ms`); nothing is recorded, and the sender's
    /// retry is decided afresh. Logged at each refusal.
    Deferred {
        msg: MessageId,
        from: Ministry,
        full: Vec<Ministry>,
        retry_ms: u64,
    },
    /// The hub refused a request it could not attribute to a participant's
    /// message (malformed envelope, unknown originator, over the size
    /// limit): `msg` and `from` are as the request gave them.
    RefusedRequest {
        msg: String,
        from: String,
        reason: String,
    },
    /// The hub refused a call because the connection's authenticated
    /// identity (`caller`) may not speak for the ministry the call names
    /// (`claimed`): a publish as another originator, a registration or a
    /// reshare as another ministry. `call` is the RPC, `msg` the message id
    /// it named (empty if none). The hub's records are left untouched.
    IdentityRefused {
        call: String,
        caller: String,
        claimed: String,
        msg: String,
        reason: String,
    },
    /// A recipient refused a delivery for good (it answered with a final
    /// error status): the hub will not retry it.
    Undeliverable {
        msg: MessageId,
        to: Ministry,
        reason: String,
    },
    /// A live process began (or resumed) writing this log. `wall` is the
    /// wall-clock time of this event (RFC 3339), which anchors `t` to the
    /// calendar: a process continuing a log keeps its t=0.
    Started { process: String, wall: String },
    /// A fault the run could not carry out (on a node it does not run, say):
    /// logged, never silently skipped.
    FaultNotCarriedOut {
        fault: FaultKind,
        targets: Vec<Host>,
        reason: String,
    },
    /// A node told the hub where it serves deliveries (it joined, or
    /// re-registered after a restart of either side).
    Registered { ministry: Ministry, address: String },
    /// A recipient received a message for the first time.
    Delivered {
        msg: MessageId,
        kind: Kind,
        to: Ministry,
        /// From the message's creation to this receipt.
        latency_ms: u64,
    },
    /// A recipient discarded a redelivery of a message it already had.
    Duplicate { msg: MessageId, to: Ministry },
    /// A transmission began: one RPC carrying `msg` from `from` to `to`
    /// (a publish to the hub, or a delivery to a ministry). `attempt` is 1 for
    /// the first, higher for a retry or redelivery.
    Sent {
        msg: MessageId,
        from: Host,
        to: Host,
        attempt: u32,
    },
    /// A transmission arrived and was handled by `to` (whatever it answered).
    Received {
        msg: MessageId,
        from: Host,
        to: Host,
        attempt: u32,
    },
    /// A transmission failed at the sender (no answer in time, connection
    /// refused or reset); the sender will try again.
    Failed {
        msg: MessageId,
        from: Host,
        to: Host,
        attempt: u32,
        error: String,
    },
    /// A fault began; it lasts until `until_t`.
    Fault {
        fault: FaultKind,
        targets: Vec<Host>,
        until_t: u64,
    },
    /// A fault ended.
    Healed {
        fault: FaultKind,
        targets: Vec<Host>,
    },
    /// A trainer steered a live run from the console: `by` who (the
    /// console's client address), `action` what (`pause`, `resume`, `step`,
    /// `speed`, `inject`, `cut`, `heal`), `detail` the particulars.
    Control {
        by: String,
        action: String,
        detail: String,
    },
    /// An `expect:` entry, checked at the end of the run.
    Expectation {
        name: String,
        ok: bool,
        detail: String,
    },
}

pub use clock::{Clock, Timer, TokioClock};
pub use sink::{EventSink, FanOut, JsonLines, Recorder};

/// What hosts write events through: the driver's clock, which stamps each
/// event, and the sink that keeps it.
#[derive(Clone)]
pub struct Log {
    clock: Arc<dyn Clock>,
    sink: Arc<dyn EventSink>,
}

impl Log {
    /// A log stamping events with `clock` and handing them to `sink`.
    pub fn new(clock: Arc<dyn Clock>, sink: Arc<dyn EventSink>) -> Log {
        Log { clock, sink }
    }

    /// The clock events are stamped with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Records `body` as happening now.
    pub fn record(&self, body: EventBody) {
        let event = Event {
            t: self.clock.t(),
            body,
        };
        tracing::debug!(target: "gcif_sim::events", t = event.t, body = ?event.body);
        self.sink.write(event);
    }

    /// Records `body` as having happened at run time `t` (something learnt
    /// after the fact, such as a remote hub's delivery receipt). The log is
    /// then out of order until its reader sorts it by `t`.
    pub fn record_at(&self, t: u64, body: EventBody) {
        self.sink.write(Event { t, body });
    }
}

/// Writes `events` as JSON lines.
pub fn write_jsonl(events: &[Event], mut out: impl Write) -> io::Result<()> {
    for e in events {
        sink::write_line(&mut out, e)?;
    }
    out.flush()
}

/// Reads JSON lines back; the error names the line.
pub fn read_jsonl(text: &str) -> Result<Vec<Event>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_as_the_documented_contract() {
        let e = Event {
            t: 1500,
            body: EventBody::Delivered {
                msg: "HN-SEDS-000001".into(),
                kind: Kind::CaravanAlert,
                to: Ministry::MX_SEGOB,
                latency_ms: 120,
            },
        };
        let line = serde_json::to_string(&e).unwrap();
        assert_eq!(
            line,
            r#"{"t":1500,"event":"delivered","msg":"HN-SEDS-000001","kind":"caravan_alert","to":"MX-SEGOB","latency_ms":120}"#
        );
        assert_eq!(read_jsonl(&line).unwrap(), vec![e]);
        let f = Event {
            t: 0,
            body: EventBody::Fault {
                fault: FaultKind::Partition,
                targets: vec![Host::Node(Ministry::GT_MINGOB), Host::Hub],
                until_t: 10,
            },
        };
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"t":0,"event":"fault","fault":"partition","targets":["GT-MINGOB","GCIF"],"until_t":10}"#
        );
    }

    #[test]
    fn published_without_inject_omits_the_field() {
        let e = Event {
            t: 0,
            body: EventBody::Published {
                msg: "X".into(),
                kind: Kind::CargoNotice,
                from: Ministry::HN_SEDS,
                inject: None,
            },
        };
        assert!(!serde_json::to_string(&e).unwrap().contains("inject"));
    }
}
