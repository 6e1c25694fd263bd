//! Scenario files: YAML in, a validated [`Scenario`] out, or one
//! `file:line:col: what is wrong` error.
//!
//! Parsing (`raw`) catches syntax, unknown keys and wrong types; this module
//! then checks what serde cannot: ministry names, references between injects,
//! times that must fit inside the run. Limits on message *content* (a risk
//! score above 1, more minors than people) are deliberately left to the hub, so
//! a scenario can exercise its refusals.

pub mod duration;
mod expectations;
mod injects;
mod message;
mod network;
pub mod raw;
mod sharing;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde_saphyr::Spanned;

use crate::config::RpcConfig;
use crate::hub::DeliveryConfig;
use crate::model::{
    self, Handling, Host, Kind, MessageType, Ministry, Payload, Status, Timestamp, is_country_code,
};
use crate::node::PublishConfig;
use crate::policy::Policy;
use crate::retry::Backoff;
use crate::simnet::{LinkConfig, Topology, pair};
pub use duration::{Dur, format_duration, parse_duration};
pub use message::{RawMessage, message};
use raw::*;
pub use sharing::Scheduled;

/// The most generated messages a scenario may ask for (about 1 GiB of run state).
pub const MAX_GENERATED: u64 = 2_000_000;

/// A scenario that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ScenarioError {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Where it was read from, as given.
    pub file: String,
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    /// The simulated clock at t=0.
    pub start: DateTime<FixedOffset>,
    pub duration: Duration,
    pub drain: Duration,
    pub seed: Option<u64>,
    pub status: Status,
    /// Every participant that runs a node, in the scenario's order
    /// (including those that join only later, by amendment).
    pub participants: Vec<Ministry>,
    /// The agreement in force at t=0 among the participants of t=0.
    pub policy: Policy,
    /// Changes to the agreement during the run, in time order.
    pub amendments: Vec<Scheduled>,
    /// Recipients passing messages on, in file order.
    pub reshares: Vec<Reshare>,
    pub topology: Topology,
    /// The network model that carries the run's calls (`network.model`).
    pub net: NetModel,
    pub rpc: RpcConfig,
    pub delivery: DeliveryConfig,
    pub publish: PublishConfig,
    pub injects: Vec<Inject>,
    pub faults: Vec<Fault>,
    pub traffic: Vec<Traffic>,
    pub expect: Vec<Expectation>,
}

crate::vocabulary! {
    /// Which network model carries a simulated run's calls; see
    /// ARCHITECTURE.md, "Two network models", for each rule of each.
    #[derive(Default)]
    pub enum NetModel ("network model") {
        /// The real gRPC stack (tonic, hyper, h2) over simulated byte
        /// streams: the protocol as deployed, at its cost.
        #[default]
        Grpc = "grpc",
        /// Calls handed between the same hosts by a discrete-event queue,
        /// with the same links, faults, deadlines and resets as rules.
        Message = "message",
    }
}

impl Scenario {
    /// The scenario's t=0 as a [`Timestamp`].
    pub fn epoch(&self) -> Timestamp {
        Timestamp(self.start.timestamp_millis())
    }

    /// The status `m` takes part in: its own, or the scenario's.
    pub fn status_of(&self, m: Ministry) -> Status {
        self.policy.member(m).map_or(self.status, |x| x.status)
    }
}

/// One scripted message.
#[derive(Debug, Clone)]
pub struct Inject {
    pub label: Option<String>,
    pub at: Duration,
    pub from: Ministry,
    pub handling: Handling,
    /// The recipients the sender names (empty: as the agreement decides).
    pub to: Vec<Ministry>,
    pub grading: Option<model::Grading>,
    /// The message's own status, when it differs from its sender's.
    pub status: Option<Status>,
    /// Originator-controlled: passed on only to `consent`.
    pub controlled: bool,
    pub consent: Vec<Ministry>,
    pub message_type: MessageType,
    /// Indices into [`Scenario::injects`] of the messages this one updates or cancels.
    pub references: Vec<usize>,
    pub kind: Kind,
    /// Absent only on a CANCEL.
    pub payload: Option<Payload>,
    pub expires: Option<Duration>,
    /// The inject as a controller would read it out (MSEL "message"); free text.
    pub message: Option<String>,
    /// The exercise objective this inject tests; free text.
    pub objective: Option<String>,
    /// What the receiving players are expected to do; free text.
    pub expected_action: Option<String>,
}

impl Inject {
    /// The message this inject sends: id `id`, created at `epoch` + `at`,
    /// referencing `references` (the ids of the injects it updates or
    /// cancels), in `status` unless the inject gives its own.
    pub fn envelope(
        &self,
        id: model::MessageId,
        epoch: Timestamp,
        status: Status,
        references: Vec<model::MessageId>,
    ) -> model::Envelope {
        let created = epoch.after(self.at);
        model::Envelope {
            id,
            originator: self.from,
            created,
            status: self.status.unwrap_or(status),
            message_type: self.message_type,
            references,
            handling: self.handling,
            expires: self.expires.map(|e| created.after(e)),
            kind: self.kind,
            payload: self.payload.clone(),
            to: self.to.clone(),
            grading: self.grading,
            controlled: self.controlled,
            consent: self.consent.clone(),
        }
    }
}

/// A scripted reshare: at `at`, `by` asks the hub to pass the message of
/// inject `inject` on to each of `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reshare {
    pub label: Option<String>,
    pub at: Duration,
    pub by: Ministry,
    /// Index into [`Scenario::injects`].
    pub inject: usize,
    pub to: Vec<Ministry>,
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    Partition(Host, Host),
    Crash(Host),
    Degrade(Host, Host, Duration),
}

/// A scheduled fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub at: Duration,
    pub lasts: Duration,
    pub action: FaultAction,
}

/// A stream of generated messages.
#[derive(Debug, Clone)]
pub struct Traffic {
    pub kind: Kind,
    pub from: Vec<Ministry>,
    pub every: Duration,
    pub start: Duration,
    pub until: Duration,
    pub handling: Handling,
}

/// One `expect:` entry. Every condition present must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub name: String,
    /// Index into [`Scenario::injects`].
    pub inject: Option<usize>,
    pub delivered_to: Vec<Ministry>,
    pub within: Option<Duration>,
    pub not_delivered_to: Vec<Ministry>,
    pub rejected: Option<bool>,
    pub no_loss: bool,
    pub no_duplicates: bool,
    pub no_leak: bool,
}

/// Reads and validates the scenario at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    load_with(path, &LoadOptions::default())
}

/// How a scenario is read, besides its text.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The agreement to play under instead of the one `policy:` names (a
    /// run directory's copy).
    pub agreement: Option<std::sync::Arc<crate::policy::Agreement>>,
    /// Pseudonymisation secrets given at run time (`--key NAME=SECRET`);
    /// otherwise each key's environment variable, then its `value:`.
    pub keys: BTreeMap<String, String>,
    /// Leave a key without a secret unresolved instead of refusing the
    /// scenario (reading back a finished run, which pseudonymises nothing).
    pub lenient_keys: bool,
}

/// Reads and validates the scenario at `path` as `opts` say.
pub fn load_with(path: &Path, opts: &LoadOptions) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.clone(),
        line: 1,
        column: 1,
        message: format!("cannot read the file: {e}"),
    })?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    parse_with(&file, &stem, &text, opts)
}

/// Parses and validates scenario `text`; `file` names it in errors and `stem`
/// is the default name.
pub fn parse(file: &str, stem: &str, text: &str) -> Result<Scenario, ScenarioError> {
    parse_with(file, stem, text, &LoadOptions::default())
}

fn parse_with(
    file: &str,
    stem: &str,
    text: &str,
    opts: &LoadOptions,
) -> Result<Scenario, ScenarioError> {
    if text.trim().is_empty() {
        return Err(ScenarioError {
            file: file.into(),
            line: 1,
            column: 1,
            message: "the file is empty: a scenario needs at least `start` and `duration`".into(),
        });
    }
    let raw: RawScenario = serde_saphyr::from_str(text).map_err(|e| yaml_error(file, &e))?;
    Validator {
        file,
        agreement: opts.agreement.clone(),
        keys: Some(opts),
    }
    .scenario(raw, stem)
}

/// A YAML parse error of `file`, located.
fn yaml_error(file: &str, e: &serde_saphyr::Error) -> ScenarioError {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((1, 1));
    ScenarioError {
        file: file.into(),
        line: line.max(1),
        column: column.max(1),
        message: crate::format::yaml_message(&e.to_string()),
    }
}

struct Validator<'a> {
    file: &'a str,
    /// The agreement to use instead of what `policy:` names (a run
    /// directory's copy).
    agreement: Option<std::sync::Arc<crate::policy::Agreement>>,
    /// How to resolve the agreement's keys (`None`: a single message, no keys).
    keys: Option<&'a LoadOptions>,
}

type Result<T, E = ScenarioError> = std::result::Result<T, E>;

impl Validator<'_> {
    fn err<T, S>(&self, at: &Spanned<S>, message: impl Into<String>) -> Result<T> {
        Err(ScenarioError {
            file: self.file.into(),
            line: at.referenced.line().max(1),
            column: at.referenced.column().max(1),
            message: message.into(),
        })
    }

    fn ministry(&self, s: &Spanned<String>) -> Result<Ministry> {
        s.value.parse().or_else(|e: model::UnknownMinistry| {
            if s.value == Host::HUB_NAME {
                self.err(
                    s,
                    "GCIF is the hub, not a ministry: expected a ministry here",
                )
            } else {
                self.err(s, e.to_string())
            }
        })
    }

    fn host(&self, s: &Spanned<String>) -> Result<Host> {
        s.value
            .parse()
            .or_else(|e: model::UnknownHost| self.err(s, e.to_string()))
    }

    fn country(&self, s: &Spanned<String>) -> Result<String> {
        if is_country_code(&s.value) {
            Ok(s.value.clone())
        } else {
            self.err(
                s,
                format!(
                    "`{}` is not an ISO 3166-1 alpha-2 country code (e.g. HN, GT, SV, MX, US)",
                    s.value
                ),
            )
        }
    }

    fn host_pair(&self, list: &Spanned<Vec<Spanned<String>>>, what: &str) -> Result<(Host, Host)> {
        let [a, b] = list.value.as_slice() else {
            return self.err(
                list,
                format!("{what} takes exactly two hosts, e.g. [GT-MINGOB, GCIF]"),
            );
        };
        let (a, b) = (self.host(a)?, self.host(b)?);
        if a == b {
            return self.err(list, format!("{what} needs two different hosts"));
        }
        Ok((a, b))
    }

    fn within_run(&self, at: &Spanned<Dur>, duration: Duration, what: &str) -> Result<()> {
        if at.value.0 > duration {
            return self.err(
                at,
                format!(
                    "{what} at {} is after the end of the run (duration {})",
                    at.value,
                    format_duration(duration)
                ),
            );
        }
        Ok(())
    }
}

/// The scenario format as JSON Schema, for editor completion.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(RawScenario);
    serde_json::to_string_pretty(&schema).expect("a schema serializes")
}
