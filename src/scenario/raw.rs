//! The scenario file as written: serde structs that mirror the YAML, with
//! source locations kept where later checks need to point at a value.
//! `gcif-sim schema` prints these as JSON Schema.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::duration::Dur;
use crate::model::{Conveyance, DocumentKind, Handling, Kind, RecommendedAction, Status};

/// A scenario file. See README.md, "Scenario format".
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "gcif-sim scenario")]
pub struct RawScenario {
    /// Identifier; defaults to the file stem.
    #[serde(default)]
    pub name: Option<String>,
    /// One-line title for summaries and reports.
    #[serde(default)]
    pub title: Option<String>,
    /// Free text: the story behind the scenario.
    #[serde(default)]
    pub description: Option<String>,
    /// Simulated clock at t=0, RFC 3339 (e.g. 2019-01-15T05:00:00-06:00).
    #[schemars(with = "String")]
    pub start: Spanned<String>,
    /// Run length. Injects and faults must fall within it.
    #[schemars(with = "Dur")]
    pub duration: Spanned<Dur>,
    /// After `duration`, how long the run may go on (with no new injects) while
    /// accepted messages are still on their way. Default 1h.
    #[serde(default)]
    pub drain: Option<Dur>,
    /// Seed of the run's random number generator; `--seed` overrides. Default 1.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Stamped on every message. Default `exercise`.
    #[serde(default)]
    pub status: Option<Status>,
    /// Participants connected to the hub: codes, or `{code, name, role,
    /// status}` for one the agreement does not list (or to change its role
    /// or status). Default: every participant of the agreement.
    #[serde(default)]
    #[schemars(with = "Option<Vec<RawParticipant>>")]
    pub participants: Option<Spanned<Vec<Spanned<RawParticipant>>>>,
    /// Sharing agreement: `compact-2019` (the default, built in) or the path
    /// of an agreement file, relative to this scenario.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub policy: Option<Spanned<String>>,
    /// Changes to the agreement during the run.
    #[serde(default)]
    #[schemars(with = "Vec<RawAmendment>")]
    pub amendments: Vec<Spanned<RawAmendment>>,
    #[serde(default)]
    pub network: RawNetwork,
    #[serde(default)]
    pub protocol: RawProtocol,
    /// Scripted messages.
    #[serde(default)]
    #[schemars(with = "Vec<RawInject>")]
    pub injects: Vec<Spanned<RawInject>>,
    /// Scheduled faults.
    #[serde(default)]
    #[schemars(with = "Vec<RawFault>")]
    pub faults: Vec<Spanned<RawFault>>,
    /// Seeded background load.
    #[serde(default)]
    #[schemars(with = "Vec<RawTraffic>")]
    pub traffic: Vec<Spanned<RawTraffic>>,
    /// What must hold at the end of the run.
    #[serde(default)]
    #[schemars(with = "Vec<RawExpect>")]
    pub expect: Vec<Spanned<RawExpect>>,
}

/// A participant of the scenario: its code, or the code with details.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawParticipant {
    Code(String),
    Full(RawParticipantDetails),
}

/// A participant the agreement does not list, or one whose role or status
/// differs in this scenario.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawParticipantDetails {
    /// `CC-NAME`: its country's ISO code, `-`, a short name (e.g. CR-MSP).
    pub code: String,
    /// Its name in full, for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// One of the agreement's roles; required when the agreement does not list it.
    #[serde(default)]
    pub role: Option<String>,
    /// Default: the scenario's `status`.
    #[serde(default)]
    pub status: Option<Status>,
}

/// One change to the agreement: at `at`, exactly one of `join`, `leave`,
/// `role`, `add_rule`, `lift_rule`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAmendment {
    #[schemars(with = "Dur")]
    pub at: Spanned<Dur>,
    /// A participant joins: `{code, name, role}`.
    #[serde(default)]
    #[schemars(with = "Option<RawParticipantDetails>")]
    pub join: Option<Spanned<RawParticipantDetails>>,
    /// A participant leaves (its code).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub leave: Option<Spanned<String>>,
    /// A participant changes role: `{code, role}`.
    #[serde(default)]
    #[schemars(with = "Option<RawParticipantDetails>")]
    pub role: Option<Spanned<RawParticipantDetails>>,
    /// A share rule, written as in an agreement's `share:`, that takes
    /// precedence over the rules in force.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub add_rule: Option<Spanned<crate::policy::agreement::RawRule>>,
    /// The name of a share rule to lift.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub lift_rule: Option<Spanned<String>>,
}

/// Links between hosts.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    /// Which network model carries the calls: `grpc` (the real protocol
    /// stack over simulated byte streams) or `message` (calls handed
    /// between hosts by a discrete-event queue). Default `grpc`; `run
    /// --net` overrides it.
    #[serde(default)]
    pub model: Option<super::NetModel>,
    /// One-way latency of every link not listed. Default 50ms.
    #[serde(default)]
    pub latency: Option<Dur>,
    /// Uniform ± jitter on every transmission. Default 0.
    #[serde(default)]
    pub jitter: Option<Dur>,
    #[serde(default)]
    pub links: Vec<RawLink>,
}

/// One link that differs from the default.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLink {
    /// Two hosts: GCIF or ministry codes.
    #[schemars(with = "Vec<String>")]
    pub between: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub latency: Option<Dur>,
    #[serde(default)]
    pub jitter: Option<Dur>,
}

/// Protocol tuning, for protocol developers. Every field is optional.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProtocol {
    /// Deadline of one RPC; a stalled connection is noticed after this. Default 10s.
    #[serde(default)]
    pub rpc_timeout: Option<Dur>,
    /// Pause after the first failed attempt on a peer. Default 1s.
    #[serde(default)]
    pub retry_initial: Option<Dur>,
    /// Longest pause between attempts. Default 30s.
    #[serde(default)]
    pub retry_max: Option<Dur>,
    /// Deliveries in flight per recipient at the hub. Default 16.
    #[serde(default)]
    pub hub_window: Option<u32>,
    /// Publishes in flight per node. Default 8.
    #[serde(default)]
    pub node_window: Option<u32>,
    /// Most messages waiting at the hub for one recipient; a publish that
    /// would go beyond is refused with RESOURCE_EXHAUSTED and retried.
    /// Default 1000000.
    #[serde(default)]
    pub max_pending: Option<u32>,
}

/// A place.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPlace {
    pub name: String,
    /// ISO 3166-1 alpha-2 code.
    #[schemars(with = "String")]
    pub country: Spanned<String>,
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub lon: Option<f64>,
}

/// A caravan alert's content.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCaravan {
    pub caravan_id: String,
    pub location: RawPlace,
    #[serde(default)]
    pub estimated_size: Option<u32>,
    #[serde(default)]
    pub minors: Option<u32>,
    #[serde(default)]
    pub heading_to: Vec<String>,
    /// When the caravan was seen there (offset from start). Default: the inject's `at`.
    #[serde(default)]
    #[schemars(with = "Option<Dur>")]
    pub observed_at: Option<Spanned<Dur>>,
}

/// The flagged document.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDocument {
    pub kind: DocumentKind,
    /// Issuing state, ISO 3166-1 alpha-2.
    #[schemars(with = "String")]
    pub issuer: Spanned<String>,
    pub number: String,
}

/// The document's holder.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHolder {
    pub name: String,
    /// YYYY-MM-DD.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub birth_date: Option<Spanned<String>>,
    /// ISO 3166-1 alpha-2.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub nationality: Option<Spanned<String>>,
}

/// A fraudulent-document flag's content.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDocumentFlag {
    pub document: RawDocument,
    pub holder: RawHolder,
    /// What gave it away, e.g. photo_substitution.
    #[serde(default)]
    pub indicators: Vec<String>,
    pub detected_at: RawPlace,
}

/// A cargo-risk notice's content.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCargo {
    /// ISO 6346 container number.
    pub container: String,
    #[serde(default)]
    pub bill_of_lading: String,
    #[serde(default)]
    pub conveyance: Option<Conveyance>,
    pub origin: RawPlace,
    pub destination: RawPlace,
    /// Countries crossed, ISO 3166-1 alpha-2, in order.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub transit: Vec<Spanned<String>>,
    /// 0..1. Outside that range the hub rejects the message.
    pub risk_score: f64,
    #[serde(default)]
    pub indicators: Vec<String>,
    #[serde(default)]
    pub recommended_action: Option<RecommendedAction>,
}

/// One scripted message.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInject {
    /// Label that expectations and later injects refer to.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub id: Option<Spanned<String>>,
    /// When, as an offset from `start`.
    #[schemars(with = "Dur")]
    pub at: Spanned<Dur>,
    /// The originating ministry.
    #[schemars(with = "String")]
    pub from: Spanned<String>,
    /// Default green.
    #[serde(default)]
    pub handling: Option<Handling>,
    /// The recipients the sender names (TLP:RED needs them). Default: whoever
    /// the agreement lets receive it.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub to: Option<Spanned<Vec<Spanned<String>>>>,
    /// Admiralty grading, e.g. `B2`: source A, B, C or X; information 1 to 4.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub grading: Option<Spanned<String>>,
    /// The message's status. Default: its sender's (the hub refuses another).
    #[serde(default)]
    pub status: Option<Status>,
    /// Originator-controlled (like Europol's H2): recipients may not pass it
    /// on without the originator's consent.
    #[serde(default)]
    pub controlled: Option<bool>,
    /// The participants the originator consents to its being passed on to.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub consent: Option<Vec<Spanned<String>>>,
    /// Makes this inject a reshare: its sender (`from`), a recipient of the
    /// earlier inject with this id, asks the hub to pass that message on to
    /// the participants in `to`. A reshare carries no payload.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub reshares: Option<Spanned<String>>,
    /// Makes this an UPDATE of the earlier inject with this id.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub updates: Option<Spanned<String>>,
    /// Makes this a CANCEL of the earlier inject with this id.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub cancels: Option<Spanned<String>>,
    /// The content goes stale this long after `at`.
    #[serde(default)]
    pub expires: Option<Dur>,
    /// Free text: the inject as a controller would read it out (the MSEL
    /// "message" column). Not sent; for the exercise's documents.
    #[serde(default)]
    pub message: Option<String>,
    /// Free text: the exercise objective this inject tests (HSEEP MSEL), e.g.
    /// "Information sharing: partners receive the caravan alert within 5 minutes".
    #[serde(default)]
    pub objective: Option<String>,
    /// Free text: what the receiving players are expected to do (HSEEP MSEL).
    #[serde(default)]
    pub expected_action: Option<String>,
    #[serde(default)]
    pub caravan_alert: Option<RawCaravan>,
    #[serde(default)]
    pub document_flag: Option<RawDocumentFlag>,
    #[serde(default)]
    pub cargo_notice: Option<RawCargo>,
}

/// One scheduled fault: exactly one of `partition`, `crash`, `degrade`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    #[schemars(with = "Dur")]
    pub at: Spanned<Dur>,
    #[serde(rename = "for")]
    #[schemars(with = "Dur")]
    pub for_: Spanned<Dur>,
    /// Two hosts that cannot reach each other.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub partition: Option<Spanned<Vec<Spanned<String>>>>,
    /// A host (GCIF or a ministry) that stops and restarts.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub crash: Option<Spanned<String>>,
    /// Two hosts whose link gets `latency`.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub degrade: Option<Spanned<Vec<Spanned<String>>>>,
    /// The degraded link's one-way latency.
    #[serde(default)]
    pub latency: Option<Dur>,
}

/// A stream of generated messages.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTraffic {
    pub kind: Kind,
    /// Senders; each message's sender is drawn uniformly from these.
    #[schemars(with = "Vec<String>")]
    pub from: Spanned<Vec<Spanned<String>>>,
    /// Mean interval between messages, all senders together (exponential).
    #[schemars(with = "Dur")]
    pub every: Spanned<Dur>,
    /// First possible message time. Default 0s.
    #[serde(default)]
    #[schemars(with = "Option<Dur>")]
    pub start: Option<Spanned<Dur>>,
    /// No message at or after this time. Default: the run's duration.
    #[serde(default)]
    #[schemars(with = "Option<Dur>")]
    pub until: Option<Spanned<Dur>>,
    /// Default green.
    #[serde(default)]
    pub handling: Option<Handling>,
}

/// One expectation: about one inject (`inject` plus `delivered_to`,
/// `not_delivered_to`, `rejected`), or about the whole run (`no_loss`,
/// `no_duplicates`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// Label in the summary; generated when absent.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub inject: Option<Spanned<String>>,
    /// Each of these received the inject's message...
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub delivered_to: Option<Vec<Spanned<String>>>,
    /// ...within this long of the inject's `at` (default: by the end of the run).
    #[serde(default)]
    #[schemars(with = "Option<Dur>")]
    pub within: Option<Spanned<Dur>>,
    /// None of these received it.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub not_delivered_to: Option<Vec<Spanned<String>>>,
    /// The hub rejected it (true) or accepted it (false).
    #[serde(default)]
    pub rejected: Option<bool>,
    /// Every accepted message reached every recipient by the end.
    #[serde(default)]
    pub no_loss: Option<bool>,
    /// No recipient processed a message twice.
    #[serde(default)]
    pub no_duplicates: Option<bool>,
    /// No recipient received a message or a field value the agreement
    /// forbids it (the leak checker, run at the end of every run, found nothing).
    #[serde(default)]
    pub no_leak: Option<bool>,
}
