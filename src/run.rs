//! The run pipeline: play a scenario, check its expectations, summarise it,
//! and say what every message carried. `gcif-sim run`, the integration tests
//! and the benchmark all go through [`play`]; [`Run::write`] leaves the run
//! directory that `report` and `compare` read.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use std::sync::Arc;

use crate::events::{Event, EventBody, EventSink, FanOut, JsonLines, Recorder};
use crate::model::{Envelope, MessageId, Ministry};
use crate::plan::Planned;
use crate::report::rundir::{self, Message, RunDirError};
use crate::report::{Index, IndexSink, Summary, Verdict, check_expectations};
use crate::scenario::Scenario;
use crate::sim::{self, Progress, SimError};

/// A played run: its verdicts and its summary, and its log when it was
/// kept in memory.
#[derive(Debug, Clone)]
pub struct Run {
    pub seed: u64,
    /// Every message handed to a node, in submission order.
    pub plan: Vec<Planned>,
    /// What each node of the run received, as it received it.
    pub received: Vec<rundir::Receipt>,
    /// The event log, the `expectation` events of the verdicts last, when
    /// it was kept ([`play`], [`finish`]); empty when it was streamed
    /// ([`play_into`]): then [`Run::index`] is what is known of it.
    pub events: Vec<Event>,
    /// What the event log said, as the checks and the summary read it.
    pub index: Index,
    /// One per `expect:` entry, in the scenario's order.
    pub verdicts: Vec<Verdict>,
    pub summary: Summary,
    /// When the run stopped (at least the scenario's duration).
    pub end: Duration,
}

/// Plays `scenario` with `seed`, then checks and summarises it, keeping
/// the event log in memory.
pub fn play(scenario: &Scenario, seed: u64, progress: Option<Progress>) -> Result<Run, SimError> {
    let recorder = Arc::new(Recorder::new());
    let mut run = play_into(scenario, seed, recorder.clone(), progress)?;
    run.events = recorder.take();
    Ok(run)
}

/// Plays `scenario` with `seed`, writing its event log to `sink` as it
/// happens (the verdicts' `expectation` events last) and keeping only the
/// [`Index`] of it, then checks and summarises it.
pub fn play_into(
    scenario: &Scenario,
    seed: u64,
    sink: Arc<dyn EventSink>,
    progress: Option<Progress>,
) -> Result<Run, SimError> {
    let index = Arc::new(IndexSink::default());
    let both = Arc::new(FanOut::new(vec![index.clone(), sink.clone()]));
    let played = sim::run_into(scenario, seed, both, progress)?;
    let (run, expectations) = conclude(
        scenario,
        seed,
        played.plan,
        played.received,
        played.end,
        index.take(),
    );
    for e in expectations {
        sink.write(e);
    }
    Ok(run)
}

/// Checks the expectations of a run played with its log in memory, and
/// summarises it.
pub fn finish(scenario: &Scenario, output: sim::RunOutput) -> Run {
    let index = Index::new(&output.events);
    let (mut run, expectations) = conclude(
        scenario,
        output.seed,
        output.plan,
        output.received,
        output.end,
        index,
    );
    run.events = output.events;
    run.events.extend(expectations);
    run
}

/// The verdicts and summary of a played run from what its log said, and
/// the `expectation` events to end its log with.
fn conclude(
    scenario: &Scenario,
    seed: u64,
    plan: Vec<Planned>,
    received: Vec<rundir::Receipt>,
    end: Duration,
    index: Index,
) -> (Run, Vec<Event>) {
    let sent: Vec<&crate::model::Envelope> = plan.iter().map(|p| &*p.envelope).collect();
    let leaks = crate::report::leaks::check(
        &scenario.policy,
        &scenario.amendments,
        &sent,
        &index,
        &received,
    );
    let verdicts = check_expectations(scenario, &plan, &index, &leaks);
    let end_t = end.as_millis() as u64;
    let expectations: Vec<Event> = verdicts
        .iter()
        .map(|v| Event {
            t: end_t,
            body: EventBody::Expectation {
                name: v.name.clone(),
                ok: v.ok,
                detail: v.detail.clone(),
            },
        })
        .collect();
    let mut summary = Summary::new(scenario, seed, &plan, &index, end, verdicts.clone());
    summary.leak_check = Some(leaks.headline());
    summary.passed &= leaks.is_clean();
    let run = Run {
        seed,
        plan,
        received,
        events: Vec::new(),
        index,
        verdicts,
        summary,
        end,
    };
    (run, expectations)
}

impl Run {
    /// What every message of the run carried: its content as submitted and,
    /// for each recipient that received a copy differing from it (redacted),
    /// that copy.
    pub fn messages(&self, scenario: &Scenario) -> Vec<Message> {
        let mut copies: BTreeMap<&MessageId, BTreeMap<Ministry, Arc<Envelope>>> = BTreeMap::new();
        let sent: BTreeMap<&MessageId, &Envelope> = self
            .plan
            .iter()
            .map(|p| (&p.envelope.id, &*p.envelope))
            .collect();
        for r in &self.received {
            if sent
                .get(&r.envelope.id)
                .is_some_and(|e| !std::ptr::eq(*e, &*r.envelope) && **e != *r.envelope)
            {
                copies
                    .entry(&r.envelope.id)
                    .or_default()
                    .insert(r.to, Arc::clone(&r.envelope));
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
                    envelope: Arc::clone(&p.envelope),
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
        self.write_dir(dir, scenario, scenario_file, Some(&self.events))
    }

    /// Writes the rest of the run directory `dir` of a run that streamed its
    /// event log there ([`record`]).
    pub fn write_rest(
        &self,
        dir: &Path,
        scenario: &Scenario,
        scenario_file: &Path,
    ) -> Result<(), RunDirError> {
        self.write_dir(dir, scenario, scenario_file, None)
    }

    fn write_dir(
        &self,
        dir: &Path,
        scenario: &Scenario,
        scenario_file: &Path,
        events: Option<&[Event]>,
    ) -> Result<(), RunDirError> {
        let messages = self.messages(scenario);
        rundir::write(dir, scenario_file, events, &messages, &self.summary)?;
        rundir::write_received(dir, &self.received, &messages, scenario.policy.agreement())
    }
}

/// Why [`record`] could not leave a run directory.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error(transparent)]
    RunDir(#[from] RunDirError),
}

/// Plays `scenario` with `seed` into the run directory `dir`: the event log
/// streamed to `events.jsonl` as it happens (never held in memory), then the
/// messages, the summary and a copy of `scenario_file`.
pub fn record(
    scenario: &Scenario,
    seed: u64,
    dir: &Path,
    scenario_file: &Path,
    progress: Option<Progress>,
) -> Result<Run, RecordError> {
    let cannot = |path: &Path, e: std::io::Error| RunDirError::Unreadable {
        path: path.display().to_string(),
        message: format!("cannot write: {e}"),
    };
    std::fs::create_dir_all(dir).map_err(|e| cannot(dir, e))?;
    let path = dir.join(rundir::EVENTS);
    let file = std::fs::File::create(&path).map_err(|e| cannot(&path, e))?;
    let log = Arc::new(JsonLines::new(std::io::BufWriter::with_capacity(
        1 << 20,
        file,
    )));
    let run = play_into(scenario, seed, log.clone(), progress)?;
    log.finish().map_err(|e| cannot(&path, e))?;
    run.write_rest(dir, scenario, scenario_file)?;
    Ok(run)
}
