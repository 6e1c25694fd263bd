//! The run pipeline: play a scenario, check its expectations, summarise it,
//! and say what every message carried. `gcif-sim run`, the integration tests
//! and the benchmark all go through [`play`]; [`Run::write`] leaves the run
//! directory that `report` and `compare` read.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::events::{Event, EventBody};
use crate::model::{Envelope, MessageId, Ministry};
use crate::plan::Planned;
use crate::report::rundir::{self, Message, RunDirError};
use crate::report::{Summary, Verdict, check_expectations};
use crate::scenario::Scenario;
use crate::sim::{self, Progress, SimError};

/// A played run: its log, its verdicts and its summary.
#[derive(Debug, Clone)]
pub struct Run {
    pub seed: u64,
    /// Every message handed to a node, in submission order.
    pub plan: Vec<Planned>,
    /// What each node of the run received, as it received it.
    pub received: Vec<rundir::Receipt>,
    /// The event log, the `expectation` events of the verdicts last.
    pub events: Vec<Event>,
    /// One per `expect:` entry, in the scenario's order.
    pub verdicts: Vec<Verdict>,
    pub summary: Summary,
    /// When the run stopped (at least the scenario's duration).
    pub end: Duration,
}

/// Plays `scenario` with `seed`, then checks and summarises it.
pub fn play(scenario: &Scenario, seed: u64, progress: Option<Progress>) -> Result<Run, SimError> {
    Ok(finish(scenario, sim::run(scenario, seed, progress)?))
}

/// Checks the expectations of a played run and summarises it.
pub fn finish(scenario: &Scenario, output: sim::RunOutput) -> Run {
    let seed = output.seed;
    let sent: Vec<&crate::model::Envelope> = output.plan.iter().map(|p| &p.envelope).collect();
    let leaks = crate::report::leaks::check(
        &scenario.policy,
        &scenario.amendments,
        &sent,
        &output.events,
        &output.received,
    );
    let verdicts = check_expectations(scenario, &output.plan, &output.events, &leaks);
    let end_t = output.end.as_millis() as u64;
    let mut events = output.events;
    events.extend(verdicts.iter().map(|v| Event {
        t: end_t,
        body: EventBody::Expectation {
            name: v.name.clone(),
            ok: v.ok,
            detail: v.detail.clone(),
        },
    }));
    let mut summary = Summary::new(
        scenario,
        seed,
        &output.plan,
        &events,
        output.end,
        verdicts.clone(),
    );
    summary.leak_check = Some(leaks.headline());
    summary.passed &= leaks.is_clean();
    Run {
        seed,
        plan: output.plan,
        received: output.received,
        events,
        verdicts,
        summary,
        end: output.end,
    }
}

impl Run {
    /// What every message of the run carried: its content as submitted and,
    /// for each recipient that received a copy differing from it (redacted),
    /// that copy.
    pub fn messages(&self, scenario: &Scenario) -> Vec<Message> {
        let mut copies: BTreeMap<&MessageId, BTreeMap<Ministry, Envelope>> = BTreeMap::new();
        let sent: BTreeMap<&MessageId, &Envelope> = self
            .plan
            .iter()
            .map(|p| (&p.envelope.id, &p.envelope))
            .collect();
        for r in &self.received {
            if sent.get(&r.envelope.id).is_some_and(|e| **e != r.envelope) {
                copies
                    .entry(&r.envelope.id)
                    .or_default()
                    .insert(r.to, r.envelope.clone());
            }
        }
        self.plan
            .iter()
            .map(|p| {
                let copies = copies.remove(&p.envelope.id).unwrap_or_default();
                Message {
                    msg: p.envelope.id.clone(),
                    at_t: p.at.as_millis() as u64,
                    inject: p.inject,
                    label: p.inject.and_then(|i| scenario.injects[i].label.clone()),
                    envelope: p.envelope.clone(),
                    copies,
                }
            })
            .collect()
    }

    /// Writes the run directory `dir`: the event log, the messages, the
    /// summary and a copy of `scenario_file`, the scenario as played.
    pub fn write(
        &self,
        dir: &Path,
        scenario: &Scenario,
        scenario_file: &Path,
    ) -> Result<(), RunDirError> {
        let messages = self.messages(scenario);
        rundir::write(dir, scenario_file, &self.events, &messages, &self.summary)?;
        rundir::write_received(dir, &self.received, &messages, scenario.policy.agreement())
    }
}
