//! What a run produced and how it reads: the event log, the expectation
//! checks and the summary; the run directory, its analysis, the HTML report
//! and the comparison of two runs.

pub mod analysis;
pub mod compare;
pub mod html;
pub mod index;
pub mod leaks;
pub mod rundir;
pub mod summary;

pub use index::{Index, IndexSink};
pub use rundir::{RunDir, RunDirError};
pub use summary::{Check, Outcome, Summary, Verdict, check_expectations};
