//! What a run produced: the event log, the expectation checks and the summary.

pub mod events;

pub use events::{Event, EventBody, EventSink, FaultKind, Recorder};
