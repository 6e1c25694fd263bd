//! What a run produced and how it reads: the event log, the expectation
//! checks and the summary; the run directory, its analysis, the HTML report
//! and the comparison of two runs.

pub mod analysis;
pub mod compare;
pub mod html;
pub mod leaks;
pub mod rundir;
pub mod summary;

pub use rundir::{RunDir, RunDirError};
pub use summary::{Check, Index, Outcome, Summary, Verdict, check_expectations};
