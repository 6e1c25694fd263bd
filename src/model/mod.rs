//! Plain data shared by every layer: ministries, time, envelopes and payloads.
//!
//! Nothing here does I/O or reads a clock; the wire and scenario layers convert
//! into these types and validate on the way in.

mod caller;
mod envelope;
mod headline;
mod ministry;
mod validate;
mod vocabulary;

pub use caller::Caller;
pub use envelope::*;
pub use ministry::*;
pub use validate::is_country_code;
pub use vocabulary::UnknownWord;
