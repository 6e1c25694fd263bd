//! A run directory, written and read here: `summary.json`, `events.jsonl`,
//! `messages.jsonl` (what every message carried) and `scenario.yaml` (a copy
//! of the scenario as played). `report` and `compare` start from here, so
//! they work on any run, not only the last one, and need nothing else: the
//! messages' content comes from `messages.jsonl`, not from re-planning.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Summary;
use crate::events::{Event, read_jsonl, write_jsonl};
use crate::model::{Envelope, MessageId, Ministry};
use crate::plan::{self, Planned};
use crate::scenario::{self, Scenario};

/// The file names inside a run directory.
pub const SUMMARY: &str = "summary.json";
/// The event log.
pub const EVENTS: &str = "events.jsonl";
/// What every message carried, one JSON object per line ([`Message`]).
pub const MESSAGES: &str = "messages.jsonl";
/// The copy of the scenario the run played.
pub const SCENARIO: &str = "scenario.yaml";
/// The copy of the sharing agreement the run played under.
pub const AGREEMENT: &str = "agreement.yaml";
/// What each recipient's node received, one JSON object per line ([`Receipt`]).
pub const RECEIVED: &str = "received.jsonl";
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

/// One line of `messages.jsonl`: a message the run handed to a node, with
/// its content, and each recipient's copy where the policy redacted it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub msg: MessageId,
    /// When its node was handed it (ms since the run's start).
    pub at_t: u64,
    /// The scenario inject it came from (index in `injects:`); absent for
    /// generated traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inject: Option<usize>,
    /// That inject's `id`, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The message as its originator published it.
    pub envelope: std::sync::Arc<Envelope>,
    /// The copy each redacted recipient received; a recipient not named here
    /// received `envelope` as it is.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub copies: BTreeMap<Ministry, std::sync::Arc<Envelope>>,
}

/// A message as a recipient's node received it (after redaction), the
/// first time it did. The leak checker reads these.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    pub to: Ministry,
    /// When (ms since the run's start).
    pub t: u64,
    pub envelope: std::sync::Arc<Envelope>,
}

/// One line of `received.jsonl`: who received which message when, and the
/// copy itself when it differs from the message as sent (`messages.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ReceiptLine {
    to: Ministry,
    t: u64,
    msg: MessageId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    copy: Option<Envelope>,
}

impl Message {
    /// The message as planned, for reports.
    pub fn planned(&self) -> Planned {
        Planned {
            at: std::time::Duration::from_millis(self.at_t),
            envelope: std::sync::Arc::clone(&self.envelope),
            inject: self.inject,
        }
    }
}

/// Writes a run directory: `events` (unless the run streamed its log there
/// already: `None`), `messages`, `summary`, and a copy of `scenario_file`
/// (unless it is that copy already).
pub fn write(
    dir: &Path,
    scenario_file: &Path,
    events: Option<&[Event]>,
    messages: &[Message],
    summary: &Summary,
) -> Result<(), RunDirError> {
    let create = |name: &str| {
        let path = dir.join(name);
        std::fs::File::create(&path)
            .map(std::io::BufWriter::new)
            .map_err(|e| unreadable(&path, format!("cannot write: {e}")))
            .map(|f| (path, f))
    };
    std::fs::create_dir_all(dir).map_err(|e| unreadable(dir, format!("cannot create: {e}")))?;
    // A copy of the scenario as played, so reports read the run alone.
    let copy = dir.join(SCENARIO);
    let same = matches!(
        (scenario_file.canonicalize(), copy.canonicalize()),
        (Ok(a), Ok(b)) if a == b
    );
    if !same {
        std::fs::copy(scenario_file, &copy)
            .map_err(|e| unreadable(&copy, format!("cannot write: {e}")))?;
    }
    if let Some(events) = events {
        let (path, file) = create(EVENTS)?;
        write_jsonl(events, file).map_err(|e| unreadable(&path, format!("cannot write: {e}")))?;
    }
    let (path, mut file) = create(MESSAGES)?;
    messages
        .iter()
        .try_for_each(|m| {
            serde_json::to_writer(&mut file, m)?;
            file.write_all(b"\n")
        })
        .and_then(|()| file.flush())
        .map_err(|e| unreadable(&path, format!("cannot write: {e}")))?;
    let (path, mut file) = create(SUMMARY)?;
    serde_json::to_writer_pretty(&mut file, summary)
        .map_err(std::io::Error::from)
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.flush())
        .map_err(|e| unreadable(&path, format!("cannot write: {e}")))?;
    Ok(())
}

/// Writes `received.jsonl` (what each recipient received) and
/// `agreement.yaml` (the agreement the run played under) into `dir`.
pub fn write_received(
    dir: &Path,
    received: &[Receipt],
    sent: &[Message],
    agreement: &crate::policy::Agreement,
) -> Result<(), RunDirError> {
    let path = dir.join(RECEIVED);
    let mut file = std::fs::File::create(&path)
        .map(std::io::BufWriter::new)
        .map_err(|e| unreadable(&path, format!("cannot write: {e}")))?;
    // `sent` already holds each copy that differs from its message.
    let copies: BTreeMap<&MessageId, &BTreeMap<Ministry, std::sync::Arc<Envelope>>> =
        sent.iter().map(|m| (&m.msg, &m.copies)).collect();
    received
        .iter()
        .try_for_each(|r| {
            let id = &r.envelope.id;
            let differs = match copies.get(id) {
                Some(c) => c.contains_key(&r.to),
                // A message the run did not send: only the copy says what it was.
                None => true,
            };
            let line = ReceiptLine {
                to: r.to,
                t: r.t,
                msg: id.clone(),
                copy: differs.then(|| Envelope::clone(&r.envelope)),
            };
            serde_json::to_writer(&mut file, &line)?;
            file.write_all(b"\n")
        })
        .and_then(|()| file.flush())
        .map_err(|e| unreadable(&path, format!("cannot write: {e}")))?;
    let path = dir.join(AGREEMENT);
    std::fs::write(&path, &agreement.text)
        .map_err(|e| unreadable(&path, format!("cannot write: {e}")))
}

/// Reads `received.jsonl`, each copy not written out being the message as
/// sent (`messages`); the error names the line.
pub fn read_received(path: &Path, messages: &[Message]) -> Result<Vec<Receipt>, RunDirError> {
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(path, e))?;
    let originals: BTreeMap<&MessageId, &Envelope> =
        messages.iter().map(|m| (&m.msg, &*m.envelope)).collect();
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let bad = |e: String| unreadable(path, format!("line {}: {e}", i + 1));
            let line: ReceiptLine = serde_json::from_str(l).map_err(|e| bad(e.to_string()))?;
            let envelope = match line.copy {
                Some(copy) if copy.id == line.msg => copy,
                Some(copy) => {
                    return Err(bad(format!(
                        "the copy is of {}, not of {}",
                        copy.id, line.msg
                    )));
                }
                None => (*originals.get(&line.msg).ok_or_else(|| {
                    bad(format!(
                        "{} is not in {MESSAGES}: give its `copy`",
                        line.msg
                    ))
                })?)
                .clone(),
            };
            Ok(Receipt {
                to: line.to,
                t: line.t,
                envelope: std::sync::Arc::new(envelope),
            })
        })
        .collect()
}

/// Reads `messages.jsonl`; the error names the line.
pub fn read_messages(path: &Path) -> Result<Vec<Message>, RunDirError> {
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| unreadable(path, format!("line {}: {e}", i + 1)))
        })
        .collect()
}

/// Everything a report needs about one run.
#[derive(Debug)]
pub struct RunDir {
    pub dir: PathBuf,
    pub summary: Summary,
    pub events: Vec<Event>,
    /// The scenario as played, when it could be read back.
    pub scenario: Option<Scenario>,
    /// The messages of the run with their content (from `messages.jsonl`;
    /// empty when neither it nor the scenario is there).
    pub plan: Vec<Planned>,
    /// What every message carried, with redacted copies (empty for a run
    /// directory written before `messages.jsonl` existed).
    pub messages: Vec<Message>,
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
        let messages_path = dir.join(MESSAGES);
        let has_messages = messages_path.is_file();
        // What the scenario is still needed for, once the messages are known.
        let needed_for = if has_messages {
            "the injects' exercise fields"
        } else {
            "message content and exercise fields"
        };
        let copy = dir.join(SCENARIO);
        let source = if copy.is_file() {
            Some(copy)
        } else {
            let original = PathBuf::from(&summary.file);
            if original.is_file() {
                warnings.push(format!(
                    "no {SCENARIO} in the run directory; {needed_for} come from {}, which may \
                     have changed since the run",
                    summary.file
                ));
                Some(original)
            } else {
                let missing = if has_messages {
                    "objectives and expected actions"
                } else {
                    "message content, objectives and expected actions"
                };
                warnings.push(format!(
                    "the scenario ({}) is not available: {missing} are not shown",
                    summary.file
                ));
                None
            }
        };
        let mut scenario = None;
        // The agreement as played, when the run directory has its copy
        // (the scenario's `policy:` path is relative to where it was).
        let agreement = dir.join(AGREEMENT);
        let agreement = if agreement.is_file() {
            match crate::policy::Agreement::load(&agreement) {
                Ok(a) => Some(std::sync::Arc::new(a)),
                Err(e) => {
                    warnings.push(format!("the agreement could not be read back: {e}"));
                    None
                }
            }
        } else {
            None
        };
        if let Some(path) = source {
            let opts = scenario::LoadOptions {
                agreement,
                lenient_keys: true,
                ..Default::default()
            };
            match scenario::load_with(&path, &opts) {
                Ok(s) => scenario = Some(s),
                Err(e) => warnings.push(format!("the scenario could not be read back: {e}")),
            }
        }
        let messages = if has_messages {
            read_messages(&messages_path)?
        } else {
            Vec::new()
        };
        let plan = if has_messages {
            messages.iter().map(Message::planned).collect()
        } else {
            replan(scenario.as_ref(), &summary, &events, &mut warnings)
        };
        Ok(RunDir {
            dir: dir.to_path_buf(),
            summary,
            events,
            scenario,
            plan,
            messages,
            warnings,
        })
    }
}

/// The plan of a run directory written before `messages.jsonl` existed,
/// recomputed from its scenario, if that still matches the log.
fn replan(
    scenario: Option<&Scenario>,
    summary: &Summary,
    events: &[Event],
    warnings: &mut Vec<String>,
) -> Vec<Planned> {
    let Some(s) = scenario else {
        return Vec::new();
    };
    warnings.push(format!(
        "no {MESSAGES} in the run directory (written by an older gcif-sim): message content \
         is recomputed from the scenario"
    ));
    let plan = plan::plan_for(s, summary.seed);
    if !plan.is_empty() && !plan_matches(&plan, events) {
        warnings.push(
            "the scenario no longer matches the event log (edited since the run?): \
             message content is not shown"
                .into(),
        );
        return Vec::new();
    }
    plan
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
