//! Scenario files: YAML in, a validated [`Scenario`] out, or one
//! `file:line:col: what is wrong` error.
//!
//! Parsing (`raw`) catches syntax, unknown keys and wrong types; this module
//! then checks what serde cannot: ministry names, references between injects,
//! times that must fit inside the run. Limits on message *content* (a risk
//! score above 1, more minors than people) are deliberately left to the hub, so
//! a scenario can exercise its refusals.

pub mod duration;
pub mod raw;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde_saphyr::Spanned;

use crate::hub::DeliveryConfig;
use crate::model::{
    self, Conveyance, DocumentKind, Handling, Host, Kind, MessageType, Ministry, Payload,
    RecommendedAction, Status, Timestamp, is_country_code,
};
use crate::node::PublishConfig;
use crate::policy::PolicyName;
use crate::retry::Backoff;
use crate::simnet::{LinkConfig, Topology, pair};
use crate::transport::RpcConfig;
pub use duration::{Dur, format_duration, parse_duration};
use raw::*;

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
    pub participants: Vec<Ministry>,
    pub policy: PolicyName,
    pub topology: Topology,
    pub rpc: RpcConfig,
    pub delivery: DeliveryConfig,
    pub publish: PublishConfig,
    pub injects: Vec<Inject>,
    pub faults: Vec<Fault>,
    pub traffic: Vec<Traffic>,
    pub expect: Vec<Expectation>,
}

impl Scenario {
    /// The scenario's t=0 as a [`Timestamp`].
    pub fn epoch(&self) -> Timestamp {
        Timestamp(self.start.timestamp_millis())
    }
}

/// One scripted message.
#[derive(Debug, Clone)]
pub struct Inject {
    pub label: Option<String>,
    pub at: Duration,
    pub from: Ministry,
    pub handling: Handling,
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
}

/// Reads and validates the scenario at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
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
    parse(&file, &stem, &text)
}

/// Parses and validates scenario `text`; `file` names it in errors and `stem`
/// is the default name.
pub fn parse(file: &str, stem: &str, text: &str) -> Result<Scenario, ScenarioError> {
    if text.trim().is_empty() {
        return Err(ScenarioError {
            file: file.into(),
            line: 1,
            column: 1,
            message: "the file is empty: a scenario needs at least `start` and `duration`".into(),
        });
    }
    let raw: RawScenario = serde_saphyr::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        ScenarioError {
            file: file.into(),
            line: line.max(1),
            column: column.max(1),
            message: yaml_message(&e.to_string()),
        }
    })?;
    Validator { file }.scenario(raw, stem)
}

/// The first line of serde-saphyr's rendered error, without its own
/// "error: line L column C:" prefix (we print the location our way).
fn yaml_message(rendered: &str) -> String {
    let first = rendered.lines().next().unwrap_or(rendered).trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    if let Some(rest) = first.strip_prefix("line ")
        && let Some((_, msg)) = rest.split_once(": ")
    {
        return msg.to_string();
    }
    first.to_string()
}

struct Validator<'a> {
    file: &'a str,
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

    fn scenario(&self, raw: RawScenario, stem: &str) -> Result<Scenario> {
        let start = DateTime::parse_from_rfc3339(raw.start.value.trim()).or_else(|e| {
            self.err(
                &raw.start,
                format!(
                    "`{}` is not an RFC 3339 date-time ({e}); e.g. 2019-01-15T05:00:00-06:00",
                    raw.start.value
                ),
            )
        })?;
        let duration = raw.duration.value.0;
        if duration.is_zero() {
            return self.err(&raw.duration, "duration must be longer than zero");
        }
        let participants = match &raw.participants {
            None => Ministry::ALL.to_vec(),
            Some(list) => {
                let mut out = Vec::new();
                for m in &list.value {
                    let m = self.ministry(m)?;
                    if out.contains(&m) {
                        return self.err(list, format!("{m} is listed twice"));
                    }
                    out.push(m);
                }
                if out.is_empty() {
                    return self.err(list, "participants is empty");
                }
                out
            }
        };
        let participant = |s: &Spanned<String>| -> Result<Ministry> {
            let m = self.ministry(s)?;
            if participants.contains(&m) {
                Ok(m)
            } else {
                self.err(s, format!("{m} is not among this scenario's participants"))
            }
        };
        let policy = match &raw.policy {
            None => PolicyName::default(),
            Some(p) => p.value.parse().or_else(|e: String| self.err(p, e))?,
        };

        let topology = self.topology(&raw.network, &participants)?;
        let protocol = &raw.protocol;
        let backoff = Backoff {
            initial: protocol
                .retry_initial
                .map_or(Backoff::default().initial, |d| d.0),
            max: protocol.retry_max.map_or(Backoff::default().max, |d| d.0),
        };
        let rpc = RpcConfig {
            timeout: protocol
                .rpc_timeout
                .map_or(RpcConfig::default().timeout, |d| d.0),
        };
        if rpc.timeout.is_zero() || backoff.initial.is_zero() || backoff.max < backoff.initial {
            return Err(ScenarioError {
                file: self.file.into(),
                line: 1,
                column: 1,
                message: "protocol: rpc_timeout and retry_initial must be above zero, and \
                          retry_max at least retry_initial"
                    .into(),
            });
        }
        let delivery = DeliveryConfig {
            backoff,
            window: protocol
                .hub_window
                .map_or(DeliveryConfig::default().window, |w| w.max(1) as usize),
        };
        let publish = PublishConfig {
            backoff,
            window: protocol
                .node_window
                .map_or(PublishConfig::default().window, |w| w.max(1) as usize),
        };

        let epoch = Timestamp(start.timestamp_millis());
        let mut labels: BTreeMap<String, usize> = BTreeMap::new();
        let mut injects = Vec::new();
        for (i, inject) in raw.injects.iter().enumerate() {
            let inject_v = self.inject(inject, &labels, &injects, duration, epoch, &participant)?;
            if let Some(id) = &inject.value.id {
                labels.insert(id.value.clone(), i);
            }
            injects.push(inject_v);
        }

        let mut faults = Vec::new();
        for f in &raw.faults {
            faults.push(self.fault(f, duration, &participants)?);
        }

        let mut traffic = Vec::new();
        let mut expected_messages = 0.0;
        for t in &raw.traffic {
            let v = &t.value;
            let mut from = Vec::new();
            for m in &v.from.value {
                from.push(participant(m)?);
            }
            if from.is_empty() {
                return self.err(&v.from, "traffic needs at least one sender in `from`");
            }
            if v.every.value.0 < Duration::from_millis(1) {
                return self.err(&v.every, "`every` must be at least 1ms");
            }
            let start_t = v.start.as_ref().map_or(Duration::ZERO, |s| s.value.0);
            if let Some(s) = &v.start {
                self.within_run(s, duration, "traffic start")?;
            }
            let until = match &v.until {
                Some(u) => {
                    self.within_run(u, duration, "traffic until")?;
                    if u.value.0 < start_t {
                        return self.err(u, "traffic `until` is before its `start`");
                    }
                    u.value.0
                }
                None => duration,
            };
            expected_messages += (until - start_t).as_secs_f64() / v.every.value.0.as_secs_f64();
            if expected_messages > MAX_GENERATED as f64 {
                return self.err(
                    &v.every,
                    format!(
                        "the traffic would generate about {} messages in all; at most \
                         {MAX_GENERATED} are supported: raise `every` or shorten the window",
                        expected_messages as u64
                    ),
                );
            }
            traffic.push(Traffic {
                kind: match v.kind {
                    RawKind::CaravanAlert => Kind::CaravanAlert,
                    RawKind::DocumentFlag => Kind::DocumentFlag,
                    RawKind::CargoNotice => Kind::CargoNotice,
                },
                from,
                every: v.every.value.0,
                start: start_t,
                until,
                handling: v.handling.map_or(Handling::Green, handling),
            });
        }

        let mut expect = Vec::new();
        for e in &raw.expect {
            expect.push(self.expectation(e, &labels, &injects, &participants)?);
        }

        Ok(Scenario {
            file: self.file.into(),
            name: raw.name.clone().unwrap_or_else(|| stem.to_string()),
            title: raw
                .title
                .clone()
                .or_else(|| raw.name.clone())
                .unwrap_or_else(|| stem.to_string()),
            description: raw.description.clone(),
            start,
            duration,
            drain: raw.drain.map_or(Duration::from_secs(3600), |d| d.0),
            seed: raw.seed,
            status: match raw.status {
                Some(RawStatus::Actual) => Status::Actual,
                Some(RawStatus::Test) => Status::Test,
                Some(RawStatus::Exercise) | None => Status::Exercise,
            },
            participants,
            policy,
            topology,
            rpc,
            delivery,
            publish,
            injects,
            faults,
            traffic,
            expect,
        })
    }

    fn topology(&self, net: &RawNetwork, participants: &[Ministry]) -> Result<Topology> {
        let default = LinkConfig {
            latency: net.latency.map_or(LinkConfig::default().latency, |d| d.0),
            jitter: net.jitter.map_or(Duration::ZERO, |d| d.0),
        };
        let mut links = BTreeMap::new();
        for link in &net.links {
            let (a, b) = self.host_pair(&link.between, "a link")?;
            for h in [a, b] {
                if let Host::Node(m) = h
                    && !participants.contains(&m)
                {
                    return self.err(&link.between, format!("{m} is not a participant"));
                }
            }
            if links.contains_key(&pair(a, b)) {
                return self.err(&link.between, format!("the link {a}–{b} is listed twice"));
            }
            links.insert(
                pair(a, b),
                LinkConfig {
                    latency: link.latency.map_or(default.latency, |d| d.0),
                    jitter: link.jitter.map_or(default.jitter, |d| d.0),
                },
            );
        }
        Ok(Topology { default, links })
    }

    #[allow(clippy::too_many_arguments)]
    fn inject(
        &self,
        spanned: &Spanned<RawInject>,
        labels: &BTreeMap<String, usize>,
        earlier: &[Inject],
        duration: Duration,
        epoch: Timestamp,
        participant: &dyn Fn(&Spanned<String>) -> Result<Ministry>,
    ) -> Result<Inject> {
        let raw = &spanned.value;
        if let Some(id) = &raw.id {
            if id.value.trim().is_empty() {
                return self.err(id, "an inject id cannot be empty");
            }
            if labels.contains_key(&id.value) {
                return self.err(id, format!("inject id `{}` is used twice", id.value));
            }
        }
        self.within_run(&raw.at, duration, "inject")?;
        let at = raw.at.value.0;
        let from = participant(&raw.from)?;

        let payloads = [
            raw.caravan_alert.is_some(),
            raw.document_flag.is_some(),
            raw.cargo_notice.is_some(),
        ];
        let n_payloads = payloads.iter().filter(|p| **p).count();
        if n_payloads > 1 {
            return self.err(
                spanned,
                "an inject carries one payload: caravan_alert, document_flag or cargo_notice",
            );
        }
        let (message_type, reference) = match (&raw.updates, &raw.cancels) {
            (Some(_), Some(c)) => {
                return self.err(c, "an inject either updates or cancels, not both");
            }
            (Some(u), None) => (MessageType::Update, Some(u)),
            (None, Some(c)) => (MessageType::Cancel, Some(c)),
            (None, None) => (MessageType::Alert, None),
        };
        let mut references = Vec::new();
        let mut referenced_kind = None;
        if let Some(r) = reference {
            let Some(&j) = labels.get(&r.value) else {
                let hint = if labels.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (earlier inject ids: {})",
                        labels.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                };
                return self.err(
                    r,
                    format!("`{}` is not the id of an earlier inject{hint}", r.value),
                );
            };
            if earlier[j].at > at {
                return self.err(
                    &raw.at,
                    format!(
                        "this inject at {} refers to `{}`, which comes later (at {})",
                        raw.at.value,
                        r.value,
                        format_duration(earlier[j].at)
                    ),
                );
            }
            references.push(j);
            referenced_kind = Some(earlier[j].kind);
        }
        let observed_default = epoch.after(at);
        let payload = if let Some(c) = &raw.caravan_alert {
            Some(Payload::CaravanAlert(model::CaravanAlert {
                caravan_id: c.caravan_id.clone(),
                location: self.place(&c.location)?,
                estimated_size: c.estimated_size,
                minors: c.minors,
                heading_to: c.heading_to.clone(),
                observed: Some(match &c.observed_at {
                    Some(o) => {
                        self.within_run(o, duration, "observed_at")?;
                        epoch.after(o.value.0)
                    }
                    None => observed_default,
                }),
            }))
        } else if let Some(d) = &raw.document_flag {
            let birth_date = match &d.holder.birth_date {
                Some(b) => {
                    if chrono::NaiveDate::parse_from_str(&b.value, "%Y-%m-%d").is_err() {
                        return self.err(b, format!("`{}` is not a YYYY-MM-DD date", b.value));
                    }
                    b.value.clone()
                }
                None => String::new(),
            };
            Some(Payload::DocumentFlag(model::DocumentFlag {
                document_kind: match d.document.kind {
                    RawDocumentKind::Passport => DocumentKind::Passport,
                    RawDocumentKind::NationalId => DocumentKind::NationalId,
                    RawDocumentKind::Visa => DocumentKind::Visa,
                    RawDocumentKind::ResidencePermit => DocumentKind::ResidencePermit,
                    RawDocumentKind::TravelDocument => DocumentKind::TravelDocument,
                    RawDocumentKind::Other => DocumentKind::Other,
                },
                issuing_country: self.country(&d.document.issuer)?,
                document_number: d.document.number.clone(),
                holder: model::Holder {
                    name: d.holder.name.clone(),
                    birth_date,
                    nationality: match &d.holder.nationality {
                        Some(n) => self.country(n)?,
                        None => String::new(),
                    },
                },
                fraud_indicators: d.indicators.clone(),
                detected_at: self.place(&d.detected_at)?,
            }))
        } else if let Some(c) = &raw.cargo_notice {
            let mut transit = Vec::new();
            for t in &c.transit {
                transit.push(self.country(t)?);
            }
            Some(Payload::CargoNotice(model::CargoNotice {
                container_id: c.container.clone(),
                bill_of_lading: c.bill_of_lading.clone(),
                conveyance: match c.conveyance {
                    Some(RawConveyance::Truck) | None => Conveyance::Truck,
                    Some(RawConveyance::Vessel) => Conveyance::Vessel,
                    Some(RawConveyance::Rail) => Conveyance::Rail,
                    Some(RawConveyance::Air) => Conveyance::Air,
                },
                origin: self.place(&c.origin)?,
                destination: self.place(&c.destination)?,
                transit_countries: transit,
                risk_score: c.risk_score,
                indicators: c.indicators.clone(),
                recommended_action: match c.recommended_action {
                    Some(RawAction::Monitor) | None => RecommendedAction::Monitor,
                    Some(RawAction::Inspect) => RecommendedAction::Inspect,
                    Some(RawAction::Hold) => RecommendedAction::Hold,
                },
            }))
        } else {
            None
        };
        let kind = match (&payload, referenced_kind) {
            (Some(p), Some(k)) if p.kind() != k => {
                return self.err(
                    spanned,
                    format!(
                        "this {} {} a {k}: an update or cancel must be of the same kind",
                        p.kind(),
                        if message_type == MessageType::Update {
                            "updates"
                        } else {
                            "cancels"
                        }
                    ),
                );
            }
            (Some(p), _) => p.kind(),
            (None, Some(k)) if message_type == MessageType::Cancel => k,
            (None, _) => {
                return self.err(
                    spanned,
                    match message_type {
                        MessageType::Update => {
                            "an update needs its new content: caravan_alert, document_flag or \
                             cargo_notice"
                        }
                        _ => {
                            "an inject needs one of caravan_alert, document_flag, cargo_notice \
                             (or `cancels:`)"
                        }
                    },
                );
            }
        };
        Ok(Inject {
            label: raw.id.as_ref().map(|s| s.value.clone()),
            at,
            from,
            handling: raw.handling.map_or(Handling::Green, handling),
            message_type,
            references,
            kind,
            payload,
            expires: raw.expires.map(|d| d.0),
            message: raw.message.clone(),
            objective: raw.objective.clone(),
            expected_action: raw.expected_action.clone(),
        })
    }

    fn place(&self, p: &RawPlace) -> Result<model::Place> {
        Ok(model::Place {
            name: p.name.clone(),
            country: self.country(&p.country)?,
            lat: p.lat,
            lon: p.lon,
        })
    }

    fn fault(
        &self,
        spanned: &Spanned<RawFault>,
        duration: Duration,
        participants: &[Ministry],
    ) -> Result<Fault> {
        let raw = &spanned.value;
        self.within_run(&raw.at, duration, "fault")?;
        let lasts = raw.for_.value.0;
        if lasts.is_zero() {
            return self.err(&raw.for_, "a fault must last longer than zero");
        }
        let ends = raw.at.value.0 + lasts;
        if ends > duration {
            return self.err(
                &raw.for_,
                format!(
                    "this fault ends at {}, after the end of the run (duration {})",
                    format_duration(ends),
                    format_duration(duration)
                ),
            );
        }
        let check_participant = |h: Host, at: &Spanned<Vec<Spanned<String>>>| -> Result<()> {
            match h {
                Host::Node(m) if !participants.contains(&m) => {
                    self.err(at, format!("{m} is not a participant"))
                }
                _ => Ok(()),
            }
        };
        let action = match (&raw.partition, &raw.crash, &raw.degrade) {
            (Some(p), None, None) => {
                let (a, b) = self.host_pair(p, "partition")?;
                check_participant(a, p)?;
                check_participant(b, p)?;
                if raw.latency.is_some() {
                    return self.err(spanned, "`latency` goes with `degrade`, not `partition`");
                }
                FaultAction::Partition(a, b)
            }
            (None, Some(c), None) => {
                let h = self.host(c)?;
                if let Host::Node(m) = h
                    && !participants.contains(&m)
                {
                    return self.err(c, format!("{m} is not a participant"));
                }
                FaultAction::Crash(h)
            }
            (None, None, Some(d)) => {
                let (a, b) = self.host_pair(d, "degrade")?;
                check_participant(a, d)?;
                check_participant(b, d)?;
                let Some(latency) = raw.latency else {
                    return self.err(d, "degrade needs `latency:` (the degraded one-way latency)");
                };
                FaultAction::Degrade(a, b, latency.0)
            }
            _ => {
                return self.err(
                    spanned,
                    "a fault needs exactly one of `partition: [A, B]`, `crash: HOST`, \
                     `degrade: [A, B]`",
                );
            }
        };
        Ok(Fault {
            at: raw.at.value.0,
            lasts,
            action,
        })
    }

    fn expectation(
        &self,
        spanned: &Spanned<RawExpect>,
        labels: &BTreeMap<String, usize>,
        injects: &[Inject],
        participants: &[Ministry],
    ) -> Result<Expectation> {
        let raw = &spanned.value;
        let inject = match &raw.inject {
            Some(i) => match labels.get(&i.value) {
                Some(&j) => Some(j),
                None => return self.err(i, format!("no inject has id `{}`", i.value)),
            },
            None => None,
        };
        let list = |l: &Option<Vec<Spanned<String>>>| -> Result<Vec<Ministry>> {
            let mut out = Vec::new();
            for s in l.iter().flatten() {
                let m = self.ministry(s)?;
                if !participants.contains(&m) {
                    return self.err(s, format!("{m} is not a participant"));
                }
                out.push(m);
            }
            Ok(out)
        };
        let delivered_to = list(&raw.delivered_to)?;
        let not_delivered_to = list(&raw.not_delivered_to)?;
        let per_inject = raw.delivered_to.is_some()
            || raw.not_delivered_to.is_some()
            || raw.rejected.is_some()
            || raw.within.is_some();
        if per_inject && inject.is_none() {
            return self.err(
                spanned,
                "delivered_to, not_delivered_to, within and rejected need `inject:` (an inject id)",
            );
        }
        if let Some(w) = &raw.within
            && raw.delivered_to.is_none()
        {
            return self.err(w, "`within` goes with `delivered_to`");
        }
        let no_loss = raw.no_loss.unwrap_or(false);
        let no_duplicates = raw.no_duplicates.unwrap_or(false);
        if !per_inject && raw.no_loss.is_none() && raw.no_duplicates.is_none() {
            return self.err(
                spanned,
                "an expectation needs a condition: delivered_to, not_delivered_to, rejected, \
                 no_loss or no_duplicates",
            );
        }
        if let (Some(j), Some(from)) = (inject, inject.map(|j| injects[j].from))
            && let Some(m) = delivered_to.iter().find(|m| **m == from)
        {
            return self.err(
                spanned,
                format!(
                    "{m} originates inject `{}` and never receives its own message",
                    injects[j].label.as_deref().unwrap_or("?")
                ),
            );
        }
        let within = raw.within.as_ref().map(|w| w.value.0);
        let name = raw.name.clone().unwrap_or_else(|| {
            let mut parts = Vec::new();
            let label = inject
                .and_then(|j| injects[j].label.clone())
                .unwrap_or_default();
            if !delivered_to.is_empty() || raw.delivered_to.is_some() {
                let to: Vec<&str> = delivered_to.iter().map(|m| m.code()).collect();
                parts.push(match within {
                    Some(w) => format!(
                        "{label} delivered to {} within {}",
                        to.join(", "),
                        format_duration(w)
                    ),
                    None => format!("{label} delivered to {}", to.join(", ")),
                });
            }
            if !not_delivered_to.is_empty() {
                let to: Vec<&str> = not_delivered_to.iter().map(|m| m.code()).collect();
                parts.push(format!("{label} not delivered to {}", to.join(", ")));
            }
            match raw.rejected {
                Some(true) => parts.push(format!("{label} rejected")),
                Some(false) => parts.push(format!("{label} accepted")),
                None => {}
            }
            if no_loss {
                parts.push("no loss".into());
            }
            if no_duplicates {
                parts.push("no duplicates".into());
            }
            if parts.is_empty() {
                "(no condition)".into()
            } else {
                parts.join("; ")
            }
        });
        Ok(Expectation {
            name,
            inject,
            delivered_to,
            within,
            not_delivered_to,
            rejected: raw.rejected,
            no_loss,
            no_duplicates,
        })
    }
}

fn handling(h: RawHandling) -> Handling {
    match h {
        RawHandling::Clear => Handling::Clear,
        RawHandling::Green => Handling::Green,
        RawHandling::Amber => Handling::Amber,
        RawHandling::AmberStrict => Handling::AmberStrict,
        RawHandling::Red => Handling::Red,
    }
}

/// The scenario format as JSON Schema, for editor completion.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(RawScenario);
    serde_json::to_string_pretty(&schema).expect("a schema serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "start: 2019-01-15T05:00:00-06:00\nduration: 1h\n";

    fn check(text: &str) -> Result<Scenario> {
        parse("t.yaml", "t", text)
    }

    fn err_at(text: &str) -> (u64, u64, String) {
        let e = check(text).unwrap_err();
        (e.line, e.column, e.message)
    }

    #[test]
    fn a_minimal_scenario_takes_the_defaults() {
        let s = check(MINIMAL).unwrap();
        assert_eq!(s.name, "t");
        assert_eq!(s.participants, Ministry::ALL);
        assert_eq!(s.policy, PolicyName::Compact2019);
        assert_eq!(s.topology.default.latency, Duration::from_millis(50));
        assert_eq!(s.status, Status::Exercise);
        assert_eq!(s.epoch(), Timestamp(1_547_550_000_000));
    }

    #[test]
    fn unknown_ministry_is_located() {
        let text = format!("{MINIMAL}injects:\n  - at: 0s\n    from: CR-MSP\n    cancels: x\n");
        let (line, col, msg) = err_at(&text);
        assert_eq!((line, col), (5, 11));
        assert!(msg.contains("unknown ministry `CR-MSP`"), "{msg}");
    }

    #[test]
    fn syntax_errors_are_located() {
        let (line, col, msg) = err_at("start: [\nduration: 1h\n");
        assert!(line >= 1 && col >= 1, "{line}:{col}");
        assert!(!msg.contains('\n'));
        let (line, _, msg) = err_at(&format!("{MINIMAL}bogus: 1\n"));
        assert_eq!(line, 3);
        assert!(msg.contains("unknown field `bogus`"), "{msg}");
    }

    #[test]
    fn bad_durations_and_times_are_located() {
        let (line, col, msg) = err_at("start: 2019-01-15T05:00:00Z\nduration: 5 hours\n");
        assert_eq!((line, col), (2, 11));
        assert!(msg.contains("unit"), "{msg}");
        let (line, _, msg) = err_at(&format!(
            "{MINIMAL}faults:\n  - at: 50m\n    for: 20m\n    crash: GCIF\n"
        ));
        assert_eq!(line, 5);
        assert!(msg.contains("after the end of the run"), "{msg}");
        let (line, col, _) = err_at("start: yesterday\nduration: 1h\n");
        assert_eq!((line, col), (1, 8));
    }

    #[test]
    fn references_must_name_earlier_injects() {
        let text = format!(
            "{MINIMAL}injects:\n  - id: a\n    at: 10m\n    from: HN-SEDS\n    caravan_alert: {{ caravan_id: C, location: {{ name: SPS, country: HN }} }}\n  - at: 5m\n    from: HN-SEDS\n    cancels: a\n"
        );
        let (line, _, msg) = err_at(&text);
        assert_eq!(line, 8);
        assert!(msg.contains("comes later"), "{msg}");
        let text = format!("{MINIMAL}injects:\n  - at: 5m\n    from: HN-SEDS\n    cancels: zzz\n");
        assert!(err_at(&text).2.contains("not the id of an earlier inject"));
    }

    #[test]
    fn a_cancel_takes_the_kind_of_what_it_cancels() {
        let text = format!(
            "{MINIMAL}injects:\n  - id: a\n    at: 0s\n    from: HN-SEDS\n    cargo_notice: {{ container: MSCU1234566, origin: {{ name: Puerto Cortés, country: HN }}, destination: {{ name: Tapachula, country: MX }}, risk_score: 0.9 }}\n  - at: 5m\n    from: HN-SEDS\n    cancels: a\n"
        );
        let s = check(&text).unwrap();
        assert_eq!(s.injects[1].kind, Kind::CargoNotice);
        assert_eq!(s.injects[1].message_type, MessageType::Cancel);
        assert_eq!(s.injects[1].references, [0]);
    }

    #[test]
    fn expectations_need_an_inject_for_per_message_conditions() {
        let text = format!("{MINIMAL}expect:\n  - delivered_to: [US-DHS]\n");
        assert!(err_at(&text).2.contains("need `inject:`"));
        let text = format!("{MINIMAL}expect:\n  - no_loss: true\n  - no_duplicates: true\n");
        let s = check(&text).unwrap();
        assert_eq!(s.expect[0].name, "no loss");
    }

    #[test]
    fn runaway_traffic_is_refused() {
        let text = format!(
            "{MINIMAL}traffic:\n  - {{ kind: cargo_notice, from: [HN-SEDS], every: 1ms }}\n"
        );
        let (line, col, msg) = err_at(&text);
        assert_eq!((line, col), (4, 51));
        assert!(msg.contains("at most"), "{msg}");
    }

    #[test]
    fn the_schema_names_the_top_level_keys() {
        let schema = json_schema();
        for key in [
            "injects", "faults", "traffic", "expect", "network", "duration",
        ] {
            assert!(schema.contains(&format!("\"{key}\"")), "{key} missing");
        }
    }
}
