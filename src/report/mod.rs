//! What a run produced: the event log, the expectation checks and the summary.

pub mod events;
pub mod summary;

pub use events::{Event, EventBody, EventSink, FaultKind, Recorder, read_jsonl, write_jsonl};
pub use summary::{Index, Summary, Verdict, check_expectations};
