//! Where stamped events go. A run hands its hosts one sink; [`FanOut`] makes
//! one of several, so a run can stream its log to a file, keep it in memory for
//! the expectation checks and (later) feed a live console, each only if wanted.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use super::Event;

/// Keeps or forwards the events of a run, in the order they are written.
pub trait EventSink: Send + Sync + 'static {
    /// Takes one event, already stamped.
    fn write(&self, event: Event);
}

/// A poisoned lock means a writer panicked mid-push; what was pushed before
/// is still whole, so carry on with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps every event in memory, for the expectation checks and the summary.
#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// Takes the recorded events out.
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *lock(&self.events))
    }
}

impl EventSink for Recorder {
    fn write(&self, event: Event) {
        lock(&self.events).push(event);
    }
}

/// Streams events as JSON lines (the `events.jsonl` format) to a writer, so
/// nothing of the log need be held in memory.
///
/// A write error does not stop the run: the first one is kept and returned by
/// [`JsonLines::finish`], and later events are dropped.
pub struct JsonLines<W: Write + Send> {
    out: Mutex<Output<W>>,
    /// Flush after every line, for a log that someone is following live.
    flush_each: bool,
}

struct Output<W> {
    writer: W,
    error: Option<io::Error>,
    /// The line being written: each event reaches the writer whole, in one
    /// `write_all`, so a buffered writer only ever hands the file whole
    /// lines (a process killed between two flushes leaves no torn line).
    line: Vec<u8>,
}

impl<W: Write + Send + 'static> JsonLines<W> {
    /// A sink writing to `out` (wrap a file in a `BufWriter`); flushed by
    /// [`JsonLines::finish`].
    pub fn new(out: W) -> Self {
        JsonLines {
            out: Mutex::new(Output {
                writer: out,
                error: None,
                line: Vec::new(),
            }),
            flush_each: false,
        }
    }

    /// A sink that flushes each line as it is written, for a live log.
    pub fn flushed(out: W) -> Self {
        JsonLines {
            flush_each: true,
            ..JsonLines::new(out)
        }
    }

    /// Flushes what is buffered, for a log someone follows (a live
    /// process flushes its log this way a few times a second).
    pub fn flush(&self) -> io::Result<()> {
        let mut out = lock(&self.out);
        if out.error.is_some() {
            return Ok(());
        }
        let flushed = out.writer.flush();
        if let Err(e) = &flushed {
            tracing::warn!(%e, "cannot write the event log");
            out.error = Some(io::Error::new(e.kind(), e.to_string()));
        }
        flushed
    }

    /// Flushes what is buffered; the first error met while writing, if any.
    pub fn finish(&self) -> io::Result<()> {
        let mut out = lock(&self.out);
        if let Some(e) = out.error.take() {
            return Err(e);
        }
        out.writer.flush()
    }
}

impl<W: Write + Send + 'static> EventSink for JsonLines<W> {
    fn write(&self, event: Event) {
        let mut out = lock(&self.out);
        if out.error.is_some() {
            return;
        }
        let flush_each = self.flush_each;
        let Output { writer, line, .. } = &mut *out;
        line.clear();
        let written = write_line(&mut *line, &event)
            .and_then(|()| writer.write_all(line))
            .and_then(|()| if flush_each { writer.flush() } else { Ok(()) });
        if let Err(e) = written {
            tracing::warn!(%e, "cannot write an event");
            out.error = Some(e);
        }
    }
}

/// Writes one event as a JSON line.
pub(super) fn write_line(mut out: impl Write, event: &Event) -> io::Result<()> {
    serde_json::to_writer(&mut out, event)?;
    out.write_all(b"\n")
}

/// Hands each event to every sink in turn.
#[derive(Default)]
pub struct FanOut {
    sinks: Vec<Arc<dyn EventSink>>,
}

impl FanOut {
    /// A fan-out to `sinks`, written in this order.
    pub fn new(sinks: Vec<Arc<dyn EventSink>>) -> FanOut {
        FanOut { sinks }
    }
}

impl EventSink for FanOut {
    fn write(&self, event: Event) {
        if let Some((last, rest)) = self.sinks.split_last() {
            for s in rest {
                s.write(event.clone());
            }
            last.write(event);
        }
    }
}
