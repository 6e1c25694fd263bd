//! A run directory as `gcif-sim run` leaves it: `summary.json`, `events.jsonl`
//! and `scenario.yaml` (a copy of the scenario as played). `report` and
//! `compare` start from here, so they work on any run, not only the last one.

use std::path::{Path, PathBuf};

use super::Summary;
use crate::events::{Event, read_jsonl};
use crate::plan::{self, Planned};
use crate::scenario::{self, Scenario};

/// The file names inside a run directory.
pub const SUMMARY: &str = "summary.json";
/// The event log.
pub const EVENTS: &str = "events.jsonl";
/// The copy of the scenario the run played.
pub const SCENARIO: &str = "scenario.yaml";
/// The HTML report.
pub const REPORT: &str = "report.html";

/// Why a run directory cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("{0}: not a run directory (no {SUMMARY}); make one with `gcif-sim run FILE --out DIR`")]
    NotARun(String),
    #[error("{path}: {message}")]
    Unreadable { path: String, message: String },
}

/// Everything a report needs about one run.
#[derive(Debug)]
pub struct RunDir {
    pub dir: PathBuf,
    pub summary: Summary,
    pub events: Vec<Event>,
    /// The scenario as played, when it could be read back.
    pub scenario: Option<Scenario>,
    /// The messages of the run with their content (empty without the scenario).
    pub plan: Vec<Planned>,
    /// What could not be recovered, for the report to say.
    pub warnings: Vec<String>,
}

fn unreadable(path: &Path, e: impl std::fmt::Display) -> RunDirError {
    RunDirError::Unreadable {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

impl RunDir {
    /// Reads the run in `dir`.
    pub fn load(dir: &Path) -> Result<RunDir, RunDirError> {
        let summary_path = dir.join(SUMMARY);
        if dir.is_file() {
            return Err(unreadable(
                dir,
                "a file, not a run directory: give the directory `gcif-sim run` wrote \
                 (--out DIR, default runs/<scenario>-<seed>/)",
            ));
        }
        if !dir.is_dir() {
            return Err(unreadable(dir, "no such directory"));
        }
        if !summary_path.is_file() {
            return Err(RunDirError::NotARun(dir.display().to_string()));
        }
        let text =
            std::fs::read_to_string(&summary_path).map_err(|e| unreadable(&summary_path, e))?;
        let summary: Summary =
            serde_json::from_str(&text).map_err(|e| unreadable(&summary_path, e))?;
        let events_path = dir.join(EVENTS);
        let text =
            std::fs::read_to_string(&events_path).map_err(|e| unreadable(&events_path, e))?;
        let events = read_jsonl(&text).map_err(|e| unreadable(&events_path, e))?;

        let mut warnings = Vec::new();
        let copy = dir.join(SCENARIO);
        let source = if copy.is_file() {
            Some(copy)
        } else {
            let original = PathBuf::from(&summary.file);
            if original.is_file() {
                warnings.push(format!(
                    "no {SCENARIO} in the run directory; message content and exercise fields \
                     come from {}, which may have changed since the run",
                    summary.file
                ));
                Some(original)
            } else {
                warnings.push(format!(
                    "the scenario ({}) is not available: message content, objectives and \
                     expected actions are not shown",
                    summary.file
                ));
                None
            }
        };
        let mut scenario = None;
        if let Some(path) = source {
            match scenario::load(&path) {
                Ok(s) => scenario = Some(s),
                Err(e) => warnings.push(format!("the scenario could not be read back: {e}")),
            }
        }
        let mut plan = match &scenario {
            Some(s) => plan::plan_for(s, summary.seed),
            None => Vec::new(),
        };
        if !plan.is_empty() && !plan_matches(&plan, &events) {
            warnings.push(
                "the scenario no longer matches the event log (edited since the run?): \
                 message content is not shown"
                    .into(),
            );
            plan.clear();
        }
        Ok(RunDir {
            dir: dir.to_path_buf(),
            summary,
            events,
            scenario,
            plan,
            warnings,
        })
    }
}

/// Whether every published message in the log is the planned message of the
/// same id, sender and kind.
fn plan_matches(plan: &[Planned], events: &[Event]) -> bool {
    let by_id: std::collections::BTreeMap<_, _> =
        plan.iter().map(|p| (&p.envelope.id, &p.envelope)).collect();
    events.iter().all(|e| match &e.body {
        crate::events::EventBody::Published {
            msg, kind, from, ..
        } => by_id
            .get(msg)
            .is_some_and(|env| env.kind == *kind && env.originator == *from),
        _ => true,
    })
}
