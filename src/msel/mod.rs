//! A scenario as an HSEEP Master Scenario Events List (MSEL), and back.
//!
//! [`export_csv`] writes a scenario's injects as an MSEL table (CSV), one row
//! per inject in time order, with the recipients the sharing policy would give
//! each one. [`import_csv`] reads such a table, as exercise planners really
//! write them (any header spelling from a list of aliases, `,` `;` or tab
//! delimiters, times as offsets, clock times or dates), and turns it into a
//! complete scenario skeleton in YAML that validates and runs.
//!
//! Generated traffic is background load and is not part of an MSEL: it is
//! neither exported nor imported. Neither are faults.

mod cells;
mod export;
mod header;
mod import;
mod table;
#[cfg(test)]
mod tests;
mod time;
mod yaml;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use chrono::{
    DateTime, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Timelike,
};
use serde::Serialize;

use crate::hub::{DeliveryConfig, Hub, PublishOutcome};
use crate::model::{Handling, Kind, MessageType, Ministry, Payload, Place};
use crate::scenario::raw::{RawCaravan, RawCargo, RawDocumentFlag};
use crate::scenario::{self, Inject, Scenario, ScenarioError, format_duration, parse_duration};

/// The columns [`export_csv`] writes, in order.
pub const COLUMNS: [&str; 15] = [
    "#",
    "time",
    "datetime",
    "from",
    "to",
    "kind",
    "message",
    "expected action",
    "objective",
    "id",
    "type",
    "refers to",
    "handling",
    "expires",
    "payload",
];

/// Why an MSEL table cannot be imported. Every variant names the file and the
/// line of the CSV record (or of the header) it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MselError {
    /// A cell, or a column as a whole, is wrong. `column` is the header as the
    /// table writes it (or the canonical name of a missing column).
    #[error("{file}:{line}: column {column}: {message}")]
    Column {
        file: String,
        line: u64,
        column: String,
        message: String,
    },
    /// The table as a whole is wrong (empty, not CSV, no data rows).
    #[error("{file}:{line}: {message}")]
    Table {
        file: String,
        line: u64,
        message: String,
    },
    /// The scenario built from the table does not validate and the cause
    /// cannot be traced to a cell: a bug in the importer.
    #[error(
        "{file}: the scenario built from this table does not validate ({source}); \
         this is a bug in gcif-sim msel import"
    )]
    Generated { file: String, source: ScenarioError },
}

impl MselError {
    /// The line of the CSV record the error is about (1 when unknown).
    pub fn line(&self) -> u64 {
        match self {
            MselError::Column { line, .. } | MselError::Table { line, .. } => *line,
            MselError::Generated { .. } => 1,
        }
    }

    /// The column the error is about, as the table's header writes it.
    pub fn column(&self) -> Option<&str> {
        match self {
            MselError::Column { column, .. } => Some(column),
            _ => None,
        }
    }
}

/// What [`import_csv`] cannot read from the table itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// The scenario's `name`. Default: the file stem, lower-cased, with
    /// anything but letters and digits turned into `-`.
    pub name: Option<String>,
    /// The scenario's `title`. Default: the file stem.
    pub title: Option<String>,
    /// The scenario's `start`; absolute times in the table become offsets
    /// from it. Default: derived from the table (see [`import_csv`]).
    pub start: Option<DateTime<FixedOffset>>,
    /// How to read numeric dates such as `03/02/2019`. Default: from the
    /// table itself (a day above 12 anywhere in it decides); an error when
    /// the table leaves it open.
    pub dates: Option<DateOrder>,
}

/// The order of day and month in a numeric date (`14/01/2019`, `1/14/19`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrder {
    /// `14/01/2019`, `14.01.2019`: Central America, Mexico, most of the world.
    DayFirst,
    /// `1/14/2019`: the United States.
    MonthFirst,
}

impl std::str::FromStr for DateOrder {
    type Err = String;

    fn from_str(s: &str) -> Result<DateOrder, String> {
        match squash(s).as_str() {
            "dmy" | "dayfirst" | "ddmmyyyy" => Ok(DateOrder::DayFirst),
            "mdy" | "monthfirst" | "mmddyyyy" => Ok(DateOrder::MonthFirst),
            _ => Err(format!(
                "`{s}`: expected dmy (14/01/2019) or mdy (1/14/2019)"
            )),
        }
    }
}

/// The start used when the table has no absolute time and no `start` is given:
/// 2019-01-01T00:00:00-06:00 (Central America time).
pub const DEFAULT_START: &str = "2019-01-01T00:00:00-06:00";

// ---------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------

use cells::*;
use export::*;
pub use export::{export_csv, to_text};
use header::*;
pub use import::import_csv;
use table::*;
use time::*;
use yaml::*;
