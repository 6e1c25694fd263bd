//! The live event log on disk, and the run directory a live process leaves.
//!
//! A live log's `t` counts milliseconds from the wall-clock instant of its
//! first line, a `started` event that says that instant in RFC 3339. A
//! process given a log that already exists appends to it and keeps its t=0,
//! so a restarted hub continues one log instead of emptying it.

use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::events::{Event, EventBody, EventSink, JsonLines, Log, TokioClock, read_jsonl};
use crate::model::Timestamp;

/// An open live log: where it goes and its clock. Nothing of the log is
/// held in memory: it is written through a buffer that a thread of its own
/// flushes every [`FLUSH_EVERY`] (and [`Journal::finish`] at the end), and
/// read back from the file when a run directory is written.
pub struct Journal {
    pub path: PathBuf,
    pub clock: TokioClock,
    file: Arc<JsonLines<BufWriter<File>>>,
}

/// How often a live log's buffer reaches the file: someone following it
/// (`tail -f`, a test) sees each line within this long, and a process
/// killed with SIGKILL loses at most this much of its log (never a torn
/// line: lines reach the file whole). What the hub accepted is in its
/// durable journal (`--data`), not here.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// The buffer between a live log and its file.
const BUFFER: usize = 256 * 1024;

/// Why a live log cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {message}")]
    Unusable { path: String, message: String },
}

fn unusable(path: &Path, message: impl std::fmt::Display) -> JournalError {
    JournalError::Unusable {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// The wall-clock time of `ts`, RFC 3339 with milliseconds.
pub fn rfc3339(ts: Timestamp) -> String {
    DateTime::<Utc>::from_timestamp_millis(ts.0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The t=0 of an existing live log: the wall time of its first `started`
/// event less its `t`.
fn origin_of(events: &[Event]) -> Option<Timestamp> {
    events.iter().find_map(|e| match &e.body {
        EventBody::Started { wall, .. } => DateTime::parse_from_rfc3339(wall)
            .ok()
            .map(|w| Timestamp(w.timestamp_millis() - e.t as i64)),
        _ => None,
    })
}

impl Journal {
    /// Opens the live log at `path` for `process` (e.g. `hub`), continuing
    /// it if it exists, and records `started`.
    pub fn open(path: &Path, process: &str) -> Result<Journal, JournalError> {
        let earlier = match std::fs::read_to_string(path) {
            Ok(text) => read_jsonl(&text).map_err(|e| unusable(path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(unusable(path, format!("cannot read: {e}"))),
        };
        let clock = match origin_of(&earlier) {
            Some(origin) => super::wall_clock_since(origin),
            None if earlier.is_empty() => super::wall_clock(),
            None => {
                return Err(unusable(
                    path,
                    "not a live log (no `started` line): give a new file, or the log a live \
                     gcif-sim process wrote",
                ));
            }
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| unusable(parent, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| unusable(path, format!("cannot write: {e}")))?;
        let file = Arc::new(JsonLines::new(BufWriter::with_capacity(BUFFER, file)));
        let flushed = Arc::downgrade(&file);
        std::thread::Builder::new()
            .name("event-log-flush".into())
            .spawn(move || {
                // Ends once the log is dropped (or cannot be written).
                while let Some(file) = flushed.upgrade() {
                    if file.flush().is_err() {
                        break;
                    }
                    drop(file);
                    std::thread::sleep(FLUSH_EVERY);
                }
            })
            .map_err(|e| unusable(path, format!("cannot start its writer: {e}")))?;
        let journal = Journal {
            path: path.to_path_buf(),
            clock,
            file,
        };
        journal.log().record(EventBody::Started {
            process: process.to_string(),
            wall: rfc3339(super::wall_now()),
        });
        Ok(journal)
    }

    /// Where hosts write: the file, and `also` when given (metrics, a
    /// console).
    pub fn sink(&self, also: Option<Arc<dyn EventSink>>) -> Arc<dyn EventSink> {
        match also {
            Some(also) => Arc::new(crate::events::FanOut::new(vec![self.file.clone(), also])),
            None => self.file.clone(),
        }
    }

    /// A log on this journal's clock and sinks.
    pub fn log(&self) -> Log {
        Log::new(Arc::new(self.clock), self.sink(None))
    }

    /// Every event of the log so far, earlier processes' and this one's,
    /// read back from the file (for the run directory, at the end).
    pub fn events(&self) -> Result<Vec<Event>, JournalError> {
        self.file
            .flush()
            .map_err(|e| unusable(&self.path, format!("cannot write: {e}")))?;
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| unusable(&self.path, format!("cannot read: {e}")))?;
        read_jsonl(&text).map_err(|e| unusable(&self.path, e))
    }

    /// Flushes the file.
    pub fn finish(&self) -> std::io::Result<()> {
        self.file.finish()
    }
}

/// What a live process leaves in its run directory, besides the log.
pub struct Session<'a> {
    /// `gcif-sim hub`, `gcif-sim node HN-SEDS`: said in the scenario stub.
    pub process: &'a str,
    /// The stub scenario's name and title.
    pub name: &'a str,
    pub title: &'a str,
    /// The agreement among the participants, copied into the directory.
    pub policy: &'a crate::policy::Policy,
    /// Every message the process saw, with when (run time) it first did.
    pub plan: Vec<crate::plan::Planned>,
    /// What the process's node received (none for a hub).
    pub received: Vec<crate::report::rundir::Receipt>,
}

/// Writes the run directory `dir` of a live process whose log is `events`
/// (t=0 at `origin`): the log, the messages, a summary, and a stub scenario
/// (start, duration, participants, policy) that `gcif-sim report` reads like
/// a simulated run's.
pub fn write_session(
    dir: &Path,
    session: Session<'_>,
    events: Vec<Event>,
    origin: Timestamp,
) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let end = Duration::from_millis(events.iter().map(|e| e.t).max().unwrap_or(0))
        .max(Duration::from_secs(1));
    // Each participant with its status, so the leak checker reads the
    // directory under the rules the hub applied.
    let participants = session
        .policy
        .participants()
        .map(|m| {
            let status = session
                .policy
                .member(m)
                .map_or(crate::model::Status::Exercise, |x| x.status);
            format!("{{ code: {m}, status: {} }}", status.name())
        })
        .collect::<Vec<_>>()
        .join(", ");
    let agreement = dir.join(crate::report::rundir::AGREEMENT);
    std::fs::write(&agreement, &session.policy.agreement().text)
        .with_context(|| format!("cannot write {}", agreement.display()))?;
    let stub = format!(
        "# Written by `{}`: a live session, described for `gcif-sim report`.\n\
         name: {}\n\
         title: {:?}\n\
         start: {}\n\
         duration: {}\n\
         drain: 0s\n\
         participants: [{participants}]\n\
         policy: {}\n",
        session.process,
        session.name,
        session.title,
        rfc3339(origin),
        crate::format::exact(end),
        crate::report::rundir::AGREEMENT,
    );
    let path = dir.join(crate::report::rundir::SCENARIO);
    std::fs::write(&path, stub).with_context(|| format!("cannot write {}", path.display()))?;
    let scenario = crate::scenario::load(&path)?;
    let index = crate::report::Index::new(&events);
    let mut summary =
        crate::report::Summary::new(&scenario, 0, &session.plan, &index, end, Vec::new());
    summary.command = session.process.to_string();
    summary.live = Some(session.title.to_string());
    let run = crate::run::Run {
        seed: 0,
        plan: session.plan,
        received: session.received,
        events,
        index,
        verdicts: Vec::new(),
        summary,
        end,
    };
    run.write(dir, &scenario, &path)?;
    Ok(())
}
