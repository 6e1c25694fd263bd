//! Expectation checks and the run summary, both computed from the event log
//! alone (plus the scenario for names and times), so outside tools reading
//! `events.jsonl` can reproduce them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::format::{human, percentile, shell_word};
use crate::model::{Kind, MessageId, Ministry};
use crate::plan::Planned;
use crate::scenario::{NetModel, Scenario, format_duration};

pub use super::index::Index;

/// The verdict on one `expect:` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub name: String,
    pub ok: bool,
    /// One line: the problems if it failed, else what was seen.
    pub detail: String,
    /// The inject the entry is about, by its `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inject: Option<String>,
    /// Each condition of the entry, checked on its own (for the after-action review).
    #[serde(default)]
    pub checks: Vec<Check>,
}

/// How one condition of an expectation turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// As expected.
    Met,
    /// Delivered, but after the `within` limit.
    Late,
    /// Never delivered (or never answered by the hub).
    Missing,
    /// Delivered to a ministry that should not have had it.
    Leaked,
    /// Any other unmet condition (accepted when a refusal was expected, a duplicate…).
    Failed,
}

impl Outcome {
    /// Whether the condition held.
    pub fn ok(self) -> bool {
        self == Outcome::Met
    }

    /// A word for tables.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Met => "met",
            Outcome::Late => "late",
            Outcome::Missing => "missing",
            Outcome::Leaked => "leaked",
            Outcome::Failed => "failed",
        }
    }
}

/// One condition of an `expect:` entry and what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// The condition, e.g. `GT-MINGOB receives it within 5m`.
    pub expected: String,
    /// What happened, e.g. `received after 6m10s`.
    pub actual: String,
    pub outcome: Outcome,
    /// When what happened happened (simulated ms since start), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<u64>,
    /// How far past the limit, for a late delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_by_ms: Option<u64>,
}

impl Check {
    fn new(expected: String, actual: String, outcome: Outcome, t: Option<u64>) -> Check {
        Check {
            expected,
            actual,
            outcome,
            t,
            late_by_ms: None,
        }
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// What checking one expectation found: its checks, and the facts (when all
/// held) or problems (otherwise) its verdict's detail lists.
#[derive(Default)]
struct Tally {
    problems: Vec<String>,
    facts: Vec<String>,
    checks: Vec<Check>,
}

/// The inject an expectation is about, as the checks need it.
struct About<'a> {
    msg: &'a MessageId,
    label: &'a str,
    /// When it was injected (ms since start).
    at: u64,
}

/// Checks every expectation of `scenario` against the run.
pub fn check_expectations(
    scenario: &Scenario,
    plan: &[Planned],
    ix: &Index,
    leaks: &super::leaks::LeakReport,
) -> Vec<Verdict> {
    let msg_of: BTreeMap<usize, &MessageId> = plan
        .iter()
        .filter_map(|p| Some((p.inject?, &p.envelope.id)))
        .collect();
    scenario
        .expect
        .iter()
        .map(|x| {
            let mut tally = Tally::default();
            if let Some(i) = x.inject {
                let about = About {
                    msg: msg_of[&i],
                    label: scenario.injects[i].label.as_deref().unwrap_or("?"),
                    at: ms(scenario.injects[i].at),
                };
                if let Some(r) = x.rejected {
                    check_rejected(&mut tally, ix, &about, r);
                }
                for &m in &x.delivered_to {
                    check_delivered(&mut tally, ix, &about, m, x.within);
                }
                for &m in &x.not_delivered_to {
                    check_not_delivered(&mut tally, ix, &about, m);
                }
            }
            if x.no_loss {
                check_no_loss(&mut tally, ix, plan);
            }
            if x.no_duplicates {
                check_no_duplicates(&mut tally, ix);
            }
            if x.no_leak {
                check_no_leak(&mut tally, leaks);
            }
            let Tally {
                problems,
                facts,
                checks,
            } = tally;
            Verdict {
                name: x.name.clone(),
                ok: problems.is_empty(),
                detail: if problems.is_empty() {
                    facts.join("; ")
                } else {
                    problems.join("; ")
                },
                inject: x.inject.and_then(|i| scenario.injects[i].label.clone()),
                checks,
            }
        })
        .collect()
}

/// `no_leak`: the leak checker found nothing any recipient should not have had.
fn check_no_leak(tally: &mut Tally, leaks: &super::leaks::LeakReport) {
    let expected =
        "no recipient receives a message or a field the agreement forbids it".to_string();
    if leaks.is_clean() {
        tally.facts.push(leaks.headline());
        tally
            .checks
            .push(Check::new(expected, leaks.headline(), Outcome::Met, None));
    } else {
        for l in leaks.leaks.iter().take(5) {
            tally.problems.push(format!("leak: {l}"));
        }
        if leaks.leaks.len() > 5 {
            tally
                .problems
                .push(format!("and {} more leaks", leaks.leaks.len() - 5));
        }
        tally.checks.push(Check::new(
            expected,
            leaks.headline(),
            Outcome::Failed,
            None,
        ));
    }
}

/// `rejected: r`: the hub refused (true) or accepted (false) the inject.
fn check_rejected(tally: &mut Tally, ix: &Index, about: &About, r: bool) {
    let (msg, label) = (about.msg, about.label);
    let expected = if r {
        "the hub refuses it"
    } else {
        "the hub accepts it"
    }
    .to_string();
    let accepted_t = ix.accepted.get(msg).map(|a| a.0);
    let (outcome, actual, t) = match (r, ix.rejected.get(msg), accepted_t) {
        (true, Some((t, reason)), _) => {
            tally.facts.push(format!("rejected: {reason}"));
            (Outcome::Met, format!("refused: {reason}"), Some(*t))
        }
        (true, None, Some(t)) => {
            tally.problems.push(format!("{label} was accepted"));
            (Outcome::Failed, "accepted".to_string(), Some(t))
        }
        (false, Some((t, reason)), _) => {
            tally
                .problems
                .push(format!("{label} was rejected: {reason}"));
            (Outcome::Failed, format!("refused: {reason}"), Some(*t))
        }
        (false, None, Some(t)) => {
            tally.facts.push("accepted".into());
            (Outcome::Met, "accepted".to_string(), Some(t))
        }
        (_, None, None) => {
            tally
                .problems
                .push(format!("{label} never reached the hub"));
            (Outcome::Missing, "never reached the hub".to_string(), None)
        }
    };
    tally.checks.push(Check::new(expected, actual, outcome, t));
}

/// `delivered_to`: `m` received the inject, within `within` if given.
fn check_delivered(
    tally: &mut Tally,
    ix: &Index,
    about: &About,
    m: Ministry,
    within: Option<Duration>,
) {
    let (msg, inject_at) = (about.msg, about.at);
    let expected = match within {
        Some(w) => format!("{m} receives it within {}", format_duration(w)),
        None => format!("{m} receives it by the end"),
    };
    match ix.first_delivery(msg, m) {
        Some(t) => {
            let took = t.saturating_sub(inject_at);
            match within {
                Some(w) if took > ms(w) => {
                    tally.problems.push(format!(
                        "{m} late by {}: after {} (limit {})",
                        human(took - ms(w)),
                        human(took),
                        format_duration(w)
                    ));
                    tally.checks.push(Check {
                        late_by_ms: Some(took - ms(w)),
                        ..Check::new(
                            expected,
                            format!(
                                "received after {}, late by {}",
                                human(took),
                                human(took - ms(w))
                            ),
                            Outcome::Late,
                            Some(t),
                        )
                    });
                }
                _ => {
                    tally.facts.push(format!("{m} after {}", human(took)));
                    tally.checks.push(Check::new(
                        expected,
                        format!("received after {}", human(took)),
                        Outcome::Met,
                        Some(t),
                    ));
                }
            }
        }
        None => {
            let why = match ix.rejected.get(msg) {
                Some((_, reason)) => format!(" (rejected: {reason})"),
                None => match ix.accepted.get(msg) {
                    Some((_, r)) if !r.contains(&m) => {
                        " (not a recipient under the policy)".to_string()
                    }
                    _ => String::new(),
                },
            };
            tally.problems.push(format!("{m} never received it{why}"));
            tally.checks.push(Check::new(
                expected,
                format!("never received it{why}"),
                Outcome::Missing,
                None,
            ));
        }
    }
}

/// `not_delivered_to`: `m` never received the inject.
fn check_not_delivered(tally: &mut Tally, ix: &Index, about: &About, m: Ministry) {
    let (msg, inject_at) = (about.msg, about.at);
    let expected = format!("{m} does not receive it");
    if let Some(t) = ix.first_delivery(msg, m) {
        let after = human(t.saturating_sub(inject_at));
        tally
            .problems
            .push(format!("{m} received it (leaked) after {after}"));
        tally.checks.push(Check::new(
            expected,
            format!("received it after {after} (leaked)"),
            Outcome::Leaked,
            Some(t),
        ));
    } else {
        tally.facts.push(format!("{m} did not receive it"));
        tally.checks.push(Check::new(
            expected,
            "did not receive it".to_string(),
            Outcome::Met,
            None,
        ));
    }
}

/// `no_loss`: every accepted message reached every recipient, and every
/// planned message was published and answered.
fn check_no_loss(tally: &mut Tally, ix: &Index, plan: &[Planned]) {
    let mut missing = Vec::new();
    let mut total = 0usize;
    for (msg, (_, recipients)) in &ix.accepted {
        for &m in recipients {
            total += 1;
            if !ix.delivered.contains_key(&(msg.clone(), m)) {
                missing.push(format!("{msg} → {m}"));
            }
        }
    }
    let stuck: Vec<&MessageId> = ix
        .published
        .keys()
        .filter(|m| !ix.accepted.contains_key(*m) && !ix.rejected.contains_key(*m))
        .collect();
    let never_published = plan.len().saturating_sub(ix.published.len());
    let expected = "every accepted message reaches every recipient".to_string();
    if missing.is_empty() && stuck.is_empty() && never_published == 0 {
        tally.facts.push(format!("all {total} deliveries made"));
        tally.checks.push(Check::new(
            expected,
            format!("all {total} deliveries made"),
            Outcome::Met,
            None,
        ));
    } else {
        tally.checks.push(Check::new(
            expected,
            format!(
                "{} of {total} deliveries missing, {} publish(es) unanswered, {} never published",
                missing.len(),
                stuck.len(),
                never_published
            ),
            Outcome::Missing,
            None,
        ));
        if !missing.is_empty() {
            tally.problems.push(format!(
                "{} of {total} deliveries missing, e.g. {}",
                missing.len(),
                missing
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !stuck.is_empty() {
            tally.problems.push(format!(
                "{} published message(s) never answered by the hub, e.g. {}",
                stuck.len(),
                stuck[0]
            ));
        }
        if never_published > 0 {
            tally
                .problems
                .push(format!("{never_published} message(s) never published"));
        }
    }
}

/// `no_duplicates`: no recipient processed a message twice.
fn check_no_duplicates(tally: &mut Tally, ix: &Index) {
    let twice: Vec<String> = ix
        .delivered
        .iter()
        .filter(|(_, (_, n))| *n > 1)
        .map(|((msg, m), (_, n))| format!("{msg} processed {n}× by {m}"))
        .collect();
    let expected = "no recipient processes a message twice".to_string();
    if twice.is_empty() {
        let discarded: u32 = ix.duplicates.values().sum();
        tally.facts.push(format!(
            "no message processed twice ({discarded} redeliveries discarded)"
        ));
        tally.checks.push(Check::new(
            expected,
            format!("none ({discarded} redeliveries discarded)"),
            Outcome::Met,
            None,
        ));
    } else {
        tally.checks.push(Check::new(
            expected,
            format!("{} processed twice, e.g. {}", twice.len(), twice[0]),
            Outcome::Failed,
            None,
        ));
        tally.problems.push(format!(
            "{} duplicate(s) processed, e.g. {}",
            twice.len(),
            twice[0]
        ));
    }
}

/// Sent, received and discarded counts of one ministry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MinistryRow {
    pub ministry: Ministry,
    pub sent: u32,
    pub received: u32,
    pub duplicates_discarded: u32,
}

/// Delivery latency of one kind, in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatencyRow {
    pub kind: Kind,
    pub deliveries: usize,
    pub p50_ms: u64,
    #[serde(default)]
    pub p90_ms: u64,
    pub p99_ms: u64,
    pub max_ms: u64,
}

/// What `run` prints (as a table, or as JSON with `--json`), and writes as
/// `summary.json`; `report` and `compare` read it back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub scenario: String,
    pub title: String,
    pub file: String,
    pub seed: u64,
    pub start: String,
    /// `actual`, `exercise` or `test`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub policy: String,
    #[serde(default)]
    pub participants: Vec<Ministry>,
    /// The gcif-sim version that made the run.
    #[serde(default)]
    pub version: String,
    /// The command that reproduces the run (for a live run: that played it).
    #[serde(default)]
    pub command: String,
    /// How a live run was played (e.g. `run --live --speed 60`, `gcif-sim
    /// hub`); absent for a simulated run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<String>,
    /// The network model of a simulated run, when not the default (`grpc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_model: Option<String>,
    pub duration_ms: u64,
    pub end_ms: u64,
    pub planned: usize,
    pub published: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub deliveries: usize,
    pub faults: usize,
    pub ministries: Vec<MinistryRow>,
    pub latency: Vec<LatencyRow>,
    pub expectations: Vec<Verdict>,
    /// The leak checker's verdict on what the recipients received, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leak_check: Option<String>,
    pub passed: bool,
}

impl Summary {
    /// The scenario's title, or its name when it has none.
    pub fn display_title(&self) -> &str {
        if self.title.is_empty() {
            &self.scenario
        } else {
            &self.title
        }
    }
}

impl Summary {
    /// Summarises a run.
    pub fn new(
        scenario: &Scenario,
        seed: u64,
        plan: &[Planned],
        ix: &Index,
        end: Duration,
        expectations: Vec<Verdict>,
    ) -> Summary {
        let mut rows: BTreeMap<Ministry, MinistryRow> = scenario
            .participants
            .iter()
            .map(|&m| {
                (
                    m,
                    MinistryRow {
                        ministry: m,
                        sent: 0,
                        received: 0,
                        duplicates_discarded: *ix.duplicates.get(&m).unwrap_or(&0),
                    },
                )
            })
            .collect();
        for (m, r) in &mut rows {
            r.sent = ix.sent.get(m).copied().unwrap_or(0);
            r.received = ix.received.get(m).copied().unwrap_or(0);
        }
        let latency = Kind::ALL
            .iter()
            .filter_map(|k| {
                let mut v = ix.latencies.get(k)?.clone();
                v.sort_unstable();
                Some(LatencyRow {
                    kind: *k,
                    deliveries: v.len(),
                    p50_ms: percentile(&v, 50.0),
                    p90_ms: percentile(&v, 90.0),
                    p99_ms: percentile(&v, 99.0),
                    max_ms: *v.last().unwrap_or(&0),
                })
            })
            .collect();
        let passed = expectations.iter().all(|v| v.ok);
        Summary {
            scenario: scenario.name.clone(),
            title: scenario.title.clone(),
            file: scenario.file.clone(),
            seed,
            start: scenario.start.to_rfc3339(),
            status: scenario.status.name().to_string(),
            policy: scenario.policy.name().to_string(),
            participants: scenario.participants.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            command: format!(
                "gcif-sim run {} --seed {seed}{}",
                shell_word(&scenario.file),
                net_flag(scenario.net)
            ),
            live: None,
            network_model: (scenario.net != NetModel::default())
                .then(|| scenario.net.name().to_string()),
            duration_ms: ms(scenario.duration),
            end_ms: ms(end),
            planned: plan.len(),
            published: ix.published.len(),
            accepted: ix.accepted.len(),
            rejected: ix.rejected.len(),
            deliveries: ix.delivered.len(),
            faults: ix.faults,
            ministries: rows.into_values().collect(),
            latency,
            expectations,
            leak_check: None,
            passed,
        }
    }

    /// The summary as a plain-text table.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{} — {}", self.scenario, self.title);
        let _ = writeln!(
            out,
            "seed {}  start {}  simulated {}{}",
            self.seed,
            self.start,
            human(self.duration_ms),
            if self.end_ms > self.duration_ms {
                format!(" (+{} drain)", human(self.end_ms - self.duration_ms))
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            out,
            "messages: {} planned, {} published, {} accepted, {} rejected; {} deliveries; {} faults",
            self.planned,
            self.published,
            self.accepted,
            self.rejected,
            self.deliveries,
            self.faults
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<10} {:>8} {:>9} {:>11}",
            "ministry", "sent", "received", "duplicates"
        );
        for r in &self.ministries {
            let _ = writeln!(
                out,
                "{:<10} {:>8} {:>9} {:>11}",
                r.ministry.code(),
                r.sent,
                r.received,
                r.duplicates_discarded
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<14} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "latency", "deliveries", "p50", "p90", "p99", "max"
        );
        for l in &self.latency {
            let _ = writeln!(
                out,
                "{:<14} {:>10} {:>10} {:>10} {:>10} {:>10}",
                l.kind.name(),
                l.deliveries,
                human(l.p50_ms),
                human(l.p90_ms),
                human(l.p99_ms),
                human(l.max_ms)
            );
        }
        if self.latency.is_empty() {
            let _ = writeln!(out, "(no deliveries)");
        }
        let _ = writeln!(out);
        if self.expectations.is_empty() {
            let _ = writeln!(out, "expectations: none");
        } else {
            let n_ok = self.expectations.iter().filter(|v| v.ok).count();
            let _ = writeln!(
                out,
                "expectations: {n_ok} of {} met",
                self.expectations.len()
            );
            for v in &self.expectations {
                let _ = writeln!(
                    out,
                    "  {} {} — {}",
                    if v.ok { "PASS" } else { "FAIL" },
                    v.name,
                    v.detail
                );
            }
        }
        if let Some(leaks) = &self.leak_check {
            let _ = writeln!(out, "leak check: {leaks}");
        }
        out
    }
}

/// The `--net` a reproduce command needs: none for the default model.
pub fn net_flag(net: NetModel) -> String {
    if net == NetModel::default() {
        String::new()
    } else {
        format!(" --net {net}")
    }
}
