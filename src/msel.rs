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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use chrono::{
    DateTime, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Timelike,
};
use serde::Serialize;

use crate::hub::{DeliveryConfig, Hub, PublishOutcome};
use crate::model::{
    Conveyance, DocumentKind, Handling, Kind, MessageType, Ministry, Payload, Place,
    RecommendedAction,
};
use crate::policy::Policy;
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

/// The scenario's injects as an MSEL table: a header row ([`COLUMNS`]), then
/// one row per inject in time order (ties in file order).
///
/// `to` holds the recipients the scenario's sharing policy gives the inject,
/// computed as the hub would (content checks first, then the policy, with the
/// recipients and originator of a referenced inject also reached), or
/// `(refused: <reason>)`. `payload` is one-line JSON with the scenario file's
/// keys, which is also valid YAML flow. Generated traffic is not listed.
pub fn export_csv(scenario: &Scenario) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let header = std::iter::once(COLUMNS.map(String::from).to_vec());
    for row in header.chain(rows(scenario)) {
        // Writing to memory cannot fail, and every row has the same length.
        w.write_record(&row).expect("writing CSV to memory");
    }
    let bytes = w.into_inner().expect("flushing CSV to memory");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The MSEL as text for a terminal: one block per inject with its time,
/// sender, recipients and kind, then the message, the expected action and the
/// objective, wrapped.
pub fn to_text(scenario: &Scenario) -> String {
    use std::fmt::Write as _;
    let col = |name: &str| COLUMNS.iter().position(|c| *c == name).unwrap_or(0);
    let mut out = format!(
        "MSEL: {} ({}), start {}\n",
        scenario.title,
        scenario.name,
        scenario.start.to_rfc3339_opts(SecondsFormat::AutoSi, false)
    );
    let rows = rows(scenario);
    if rows.is_empty() {
        out += "\nno injects (generated traffic is not part of an MSEL)\n";
    }
    for row in rows {
        let _ = write!(
            out,
            "\n#{} at {} ({}) · {} {} → {}\n",
            row[col("#")],
            row[col("time")],
            row[col("datetime")],
            row[col("from")],
            row[col("kind")].replace('_', " "),
            row[col("to")].replace("; ", ", "),
        );
        for (title, name) in [
            ("message", "message"),
            ("expected action", "expected action"),
            ("objective", "objective"),
        ] {
            let cell = &row[col(name)];
            if !cell.is_empty() {
                out += &wrap(&format!("{title}: {cell}"), 78, "    ", "      ");
            }
        }
    }
    out
}

/// `text` wrapped at `width` columns, the first line indented by `first`,
/// the others by `rest`.
fn wrap(text: &str, width: usize, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    let mut indent = first;
    for word in text.split_whitespace() {
        if !line.is_empty()
            && indent.len() + line.chars().count() + 1 + word.chars().count() > width
        {
            out += &format!("{indent}{line}\n");
            line.clear();
            indent = rest;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line += word;
    }
    if !line.is_empty() {
        out += &format!("{indent}{line}\n");
    }
    out
}

/// The MSEL's data rows, cells in [`COLUMNS`] order.
fn rows(scenario: &Scenario) -> Vec<Vec<String>> {
    let mut order: Vec<usize> = (0..scenario.injects.len()).collect();
    order.sort_by_key(|&i| scenario.injects[i].at);
    let routes = route_injects(scenario);
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (n, &i) in order.iter().enumerate() {
        let inj = &scenario.injects[i];
        let datetime = i64::try_from(inj.at.as_millis())
            .ok()
            .and_then(|ms| {
                scenario
                    .start
                    .checked_add_signed(chrono::Duration::milliseconds(ms))
            })
            .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
            .unwrap_or_default();
        let to = match &routes[i] {
            Ok(recipients) => recipients
                .iter()
                .map(|m| m.code())
                .collect::<Vec<_>>()
                .join("; "),
            Err(reason) => format!("(refused: {reason})"),
        };
        rows.push(vec![
            (n + 1).to_string(),
            format_duration(inj.at),
            datetime,
            inj.from.code().to_string(),
            to,
            inj.kind.name().to_string(),
            inj.message
                .clone()
                .unwrap_or_else(|| describe(scenario, inj)),
            inj.expected_action.clone().unwrap_or_default(),
            inj.objective.clone().unwrap_or_default(),
            inj.label.clone().unwrap_or_default(),
            inj.message_type.name().to_string(),
            references(scenario, inj).join("; "),
            handling_name(inj.handling).to_string(),
            inj.expires.map(format_duration).unwrap_or_default(),
            payload_cell(scenario, inj),
        ]);
    }
    rows
}

/// Labels of the injects `inj` updates or cancels.
fn references(scenario: &Scenario, inj: &Inject) -> Vec<String> {
    inj.references
        .iter()
        .filter_map(|&r| scenario.injects.get(r)?.label.clone())
        .collect()
}

/// For every inject (by index), its recipients or why the hub refuses it:
/// the scenario's injects planned as a run plans them and published, in time
/// order, to a hub under the scenario's policy.
fn route_injects(scenario: &Scenario) -> Vec<Result<Vec<Ministry>, String>> {
    let injects_only = Scenario {
        traffic: Vec::new(),
        ..scenario.clone()
    };
    let policy = Policy::new(scenario.policy, scenario.participants.iter().copied());
    let mut hub = Hub::new(policy, DeliveryConfig::default());
    let mut routes = vec![Err("not routed".to_string()); scenario.injects.len()];
    // Without traffic the plan draws nothing from the seed.
    for p in crate::plan::plan_for(&injects_only, 0) {
        let Some(i) = p.inject else { continue };
        routes[i] = match hub.on_publish(p.envelope.created, p.envelope) {
            PublishOutcome::Accepted { recipients, .. } => Ok(recipients),
            PublishOutcome::Refused { refusal, .. } => Err(refusal.reason().to_string()),
        };
    }
    routes
}

fn handling_name(h: Handling) -> &'static str {
    match h {
        Handling::Clear => "clear",
        Handling::Green => "green",
        Handling::Amber => "amber",
        Handling::AmberStrict => "amber+strict",
        Handling::Red => "red",
    }
}

fn document_kind_name(k: DocumentKind) -> &'static str {
    match k {
        DocumentKind::Passport => "passport",
        DocumentKind::NationalId => "national_id",
        DocumentKind::Visa => "visa",
        DocumentKind::ResidencePermit => "residence_permit",
        DocumentKind::TravelDocument => "travel_document",
        DocumentKind::Other => "other",
    }
}

fn conveyance_name(c: Conveyance) -> &'static str {
    match c {
        Conveyance::Truck => "truck",
        Conveyance::Vessel => "vessel",
        Conveyance::Rail => "rail",
        Conveyance::Air => "air",
    }
}

fn action_name(a: RecommendedAction) -> &'static str {
    match a {
        RecommendedAction::Monitor => "monitor",
        RecommendedAction::Inspect => "inspect",
        RecommendedAction::Hold => "hold",
    }
}

/// A one-line description of an inject for the `message` column.
fn describe(scenario: &Scenario, inj: &Inject) -> String {
    let refs = references(scenario, inj).join(", ");
    let content = inj
        .payload
        .as_ref()
        .map(Payload::describe)
        .unwrap_or_default();
    match inj.message_type {
        MessageType::Cancel => format!("CANCEL of {refs}"),
        MessageType::Update => format!("UPDATE of {refs}: {content}"),
        MessageType::Alert => content,
    }
}

fn no_strings(v: &&[String]) -> bool {
    v.is_empty()
}

#[derive(Serialize)]
struct JPlace<'a> {
    name: &'a str,
    country: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lon: Option<f64>,
}

impl<'a> From<&'a Place> for JPlace<'a> {
    fn from(p: &'a Place) -> Self {
        JPlace {
            name: &p.name,
            country: &p.country,
            lat: p.lat,
            lon: p.lon,
        }
    }
}

#[derive(Serialize)]
struct JCaravan<'a> {
    caravan_id: &'a str,
    location: JPlace<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    estimated_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    minors: Option<u32>,
    #[serde(skip_serializing_if = "no_strings")]
    heading_to: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    observed_at: Option<String>,
}

#[derive(Serialize)]
struct JDocument<'a> {
    kind: &'static str,
    issuer: &'a str,
    number: &'a str,
}

#[derive(Serialize)]
struct JHolder<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    birth_date: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nationality: Option<&'a str>,
}

#[derive(Serialize)]
struct JDocumentFlag<'a> {
    document: JDocument<'a>,
    holder: JHolder<'a>,
    #[serde(skip_serializing_if = "no_strings")]
    indicators: &'a [String],
    detected_at: JPlace<'a>,
}

#[derive(Serialize)]
struct JCargo<'a> {
    container: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    bill_of_lading: Option<&'a str>,
    conveyance: &'static str,
    origin: JPlace<'a>,
    destination: JPlace<'a>,
    #[serde(skip_serializing_if = "no_strings")]
    transit: &'a [String],
    risk_score: f64,
    #[serde(skip_serializing_if = "no_strings")]
    indicators: &'a [String],
    recommended_action: &'static str,
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// The payload as one-line JSON with the scenario file's keys; `observed_at`
/// as an offset from the start.
fn payload_json(scenario: &Scenario, p: &Payload) -> String {
    let epoch = scenario.epoch();
    let json = match p {
        Payload::CaravanAlert(c) => serde_json::to_string(&JCaravan {
            caravan_id: &c.caravan_id,
            location: (&c.location).into(),
            estimated_size: c.estimated_size,
            minors: c.minors,
            heading_to: &c.heading_to,
            observed_at: c
                .observed
                .map(|o| format_duration(Duration::from_millis(o.since(epoch)))),
        }),
        Payload::DocumentFlag(d) => serde_json::to_string(&JDocumentFlag {
            document: JDocument {
                kind: document_kind_name(d.document_kind),
                issuer: &d.issuing_country,
                number: &d.document_number,
            },
            holder: JHolder {
                name: &d.holder.name,
                birth_date: non_empty(&d.holder.birth_date),
                nationality: non_empty(&d.holder.nationality),
            },
            indicators: &d.fraud_indicators,
            detected_at: (&d.detected_at).into(),
        }),
        Payload::CargoNotice(c) => serde_json::to_string(&JCargo {
            container: &c.container_id,
            bill_of_lading: non_empty(&c.bill_of_lading),
            conveyance: conveyance_name(c.conveyance),
            origin: (&c.origin).into(),
            destination: (&c.destination).into(),
            transit: &c.transit_countries,
            risk_score: c.risk_score,
            indicators: &c.indicators,
            recommended_action: action_name(c.recommended_action),
        }),
    };
    json.unwrap_or_default()
}

/// The `payload` cell: a caravan's `observed_at` is left out when it is the
/// inject's own time (its default).
fn payload_cell(scenario: &Scenario, inj: &Inject) -> String {
    let Some(p) = &inj.payload else {
        return String::new();
    };
    match p {
        Payload::CaravanAlert(c) if c.observed == Some(scenario.epoch().after(inj.at)) => {
            let mut c = c.clone();
            c.observed = None;
            payload_json(scenario, &Payload::CaravanAlert(c))
        }
        _ => payload_json(scenario, p),
    }
}

// ---------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------

/// A column an MSEL table may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Number,
    Time,
    DateTime,
    From,
    To,
    Kind,
    Message,
    ExpectedAction,
    Objective,
    Id,
    Type,
    RefersTo,
    Handling,
    Expires,
    Payload,
}

impl Field {
    const ALL: [Field; 15] = [
        Field::Number,
        Field::Time,
        Field::DateTime,
        Field::From,
        Field::To,
        Field::Kind,
        Field::Message,
        Field::ExpectedAction,
        Field::Objective,
        Field::Id,
        Field::Type,
        Field::RefersTo,
        Field::Handling,
        Field::Expires,
        Field::Payload,
    ];

    /// The canonical name, as [`export_csv`] writes it.
    fn name(self) -> &'static str {
        COLUMNS[self as usize]
    }

    /// Header spellings, normalized (see [`normalize_header`]).
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Number => &[
                "#",
                "no",
                "nr",
                "num",
                "number",
                "inject#",
                "injectno",
                "injectnumber",
                "msel#",
                "event#",
                "eventno",
                "eventnumber",
                "seq",
                // Spanish
                "n",
                "nº",
                "numero",
                "número",
            ],
            Field::Time => &[
                "time",
                "at",
                "scenariotime",
                "offset",
                "elapsed",
                "elapsedtime",
                "exercisetime",
                "hora",
                "tiempo",
                "tiempodelescenario",
                "horadelescenario",
            ],
            Field::DateTime => &[
                "datetime",
                "clock",
                "clocktime",
                "timestamp",
                "localtime",
                "fecha",
                "fechayhora",
                "fechahora",
            ],
            Field::From => &[
                "from",
                "sender",
                "originator",
                "source",
                "sentby",
                "de",
                "remitente",
                "emisor",
                "origen",
                "enviadopor",
            ],
            Field::To => &[
                "to",
                "recipients",
                "recipient",
                "receiver",
                "receivers",
                "sentto",
                "addressees",
                "para",
                "destinatario",
                "destinatarios",
                "receptor",
                "receptores",
            ],
            Field::Kind => &[
                "kind",
                "messagekind",
                "category",
                "messagecategory",
                "tipo",
                "tipodemensaje",
                "categoría",
                "categoria",
            ],
            Field::Message => &[
                "message",
                "inject",
                "description",
                "eventdescription",
                "messagetext",
                "injecttext",
                "injectdescription",
                "mensaje",
                "descripción",
                "descripcion",
                "evento",
                "descripcióndelevento",
                "descripciondelevento",
            ],
            Field::ExpectedAction => &[
                "expectedaction",
                "expectedactions",
                "expectedplayeraction",
                "expectedplayeractions",
                "expectedresponse",
                "expectedoutcome",
                "acciónesperada",
                "accionesperada",
                "accionesesperadas",
                "respuestaesperada",
            ],
            Field::Objective => &[
                "objective",
                "objectives",
                "corecapability",
                "corecapabilities",
                "exerciseobjective",
                "objetivo",
                "objetivos",
            ],
            Field::Id => &["id", "injectid", "label", "eventid"],
            Field::Type => &["type", "messagetype", "msgtype"],
            Field::RefersTo => &["refersto", "references", "reference", "ref"],
            Field::Handling => &["handling", "tlp", "tlplevel", "marking", "manejo"],
            Field::Expires => &["expires", "expiry", "expiresafter", "validfor"],
            Field::Payload => &["payload", "payloadjson", "content"],
        }
    }

    /// The spellings an error message suggests.
    fn spellings(self) -> &'static str {
        match self {
            Field::Time => "time, at, scenario time, offset, hora (or a datetime column: fecha)",
            Field::From => "from, sender, originator, source, remitente",
            Field::Kind => "kind, message kind, category, tipo",
            Field::Message => {
                "message, inject, description, event description, message text, mensaje"
            }
            _ => self.name(),
        }
    }
}

/// Lower case, letters, digits and `#` only: `Recipient(s)` → `recipients`,
/// `Date/Time` → `datetime`, `Expected_Action` → `expectedaction`.
fn normalize_header(h: &str) -> String {
    h.chars()
        .filter(|c| c.is_alphanumeric() || *c == '#')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Lower-case letters and digits only.
fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The delimiter of the header line: the most frequent of `,` `;` tab outside
/// quotes (`,` on a tie).
fn sniff_delimiter(text: &str) -> u8 {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => counts[0] += 1,
            ';' if !quoted => counts[1] += 1,
            '\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let mut best = (b',', counts[0]);
    for (d, n) in [(b';', counts[1]), (b'\t', counts[2])] {
        if n > best.1 {
            best = (d, n);
        }
    }
    best.0
}

/// A time as a cell gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// An offset from the scenario's start.
    Elapsed(Duration),
    /// A date and time, with its UTC offset when the cell gives one.
    Absolute(NaiveDateTime, Option<FixedOffset>),
    /// Day index (0 = the start's day) and seconds after midnight.
    Day(u64, u32),
}

const TIME_FORMS: &str = "expected an offset from the start such as 0s, 14h, 1d2h30m or 14:30 \
     (hours:minutes), a day and clock time such as D+1 08:00 or Day 2 08:00, or a date-time \
     such as 2019-01-15 19:00, 15/01/2019 7:00 PM or 2019-01-15T19:00:00-06:00";

/// `H:MM` or `H:MM:SS` in seconds; hours below 24 when `clock`.
fn hms(s: &str, clock: bool) -> Option<u64> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 6 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let n: Vec<u64> = parts.iter().filter_map(|p| p.parse().ok()).collect();
    let (h, m, sec) = (n[0], n[1], n.get(2).copied().unwrap_or(0));
    if parts[1].len() != 2 || m >= 60 || sec >= 60 || (clock && h >= 24) {
        return None;
    }
    Some(h * 3600 + m * 60 + sec)
}

/// `D+1 08:00`, `D-Day 08:00`, `Day 2 08:00`: `None` when the cell is not of
/// this form at all.
fn parse_day(s: &str) -> Option<Result<When, String>> {
    let lower = s.trim().to_lowercase();
    let (day, rest) = if let Some(rest) = lower.strip_prefix("d-day") {
        (0, rest.to_string())
    } else if let Some(rest) = lower.strip_prefix("d+") {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let day = rest[..digits].parse::<u64>().ok()?;
        (day, rest[digits..].to_string())
    } else if let Some(rest) = lower.strip_prefix("day") {
        let rest = rest.trim_start();
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let day = rest[..digits].parse::<u64>().ok()?;
        if day == 0 {
            return Some(Err(format!(
                "`{}`: days count from Day 1 (the start's day); {TIME_FORMS}",
                s.trim()
            )));
        }
        (day - 1, rest[digits..].to_string())
    } else {
        return None;
    };
    let rest = rest.trim_start_matches([' ', ',', '@', '-']).trim();
    let secs = if rest.is_empty() {
        Some(0)
    } else {
        hms(rest, true)
    };
    Some(match secs {
        Some(secs) if day <= 100_000 => Ok(When::Day(day, secs as u32)),
        _ => Err(format!(
            "`{}` is not a day and clock time (the clock time must be HH:MM or HH:MM:SS, \
             below 24:00); {TIME_FORMS}",
            s.trim()
        )),
    })
}

/// The parts of a numeric date-time as a spreadsheet shows it: `14/01/2019
/// 21:00`, `1/14/19 9:00 PM`, `14.01.2019 21:00:00`, `15/1/2019 9:00 p. m.`:
/// the two leading numbers (day and month in some order), the year, and the
/// time of day in seconds. `None` when `s` is not of this form.
fn numeric_date(s: &str) -> Option<(u32, u32, i32, u32)> {
    let s = s.trim();
    let (date, time) = match s.split_once(|c: char| c.is_whitespace() || c == 'T') {
        Some((d, t)) => (d, t.trim()),
        None => (s, ""),
    };
    let sep = if date.contains('/') { '/' } else { '.' };
    let parts: Vec<&str> = date.split(sep).collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        || parts[0].len() > 2
        || parts[1].len() > 2
        || !matches!(parts[2].len(), 2 | 4)
    {
        return None;
    }
    let (a, b): (u32, u32) = (parts[0].parse().ok()?, parts[1].parse().ok()?);
    let mut year: i32 = parts[2].parse().ok()?;
    if parts[2].len() == 2 {
        year += 2000;
    }
    // A 12-hour clock: `9:00 PM`, `9:00 p.m.`, `9:00 p. m.`.
    let lower = time.to_lowercase();
    let squashed: String = lower
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '.')
        .collect();
    let (clock, half) = if let Some(c) = squashed.strip_suffix("am") {
        (c.to_string(), Some(0))
    } else if let Some(c) = squashed.strip_suffix("pm") {
        (c.to_string(), Some(12))
    } else {
        (time.to_string(), None)
    };
    let secs = if clock.is_empty() {
        0
    } else {
        hms(&clock, true)? as u32
    };
    let secs = match half {
        Some(add) => {
            let h = secs / 3600;
            if !(1..=12).contains(&h) {
                return None;
            }
            (h % 12 + add) * 3600 + secs % 3600
        }
        None => secs,
    };
    Some((a, b, year, secs))
}

/// A numeric date read in `order`.
fn numeric_datetime(s: &str, order: DateOrder) -> Option<NaiveDateTime> {
    let (a, b, year, secs) = numeric_date(s)?;
    let (day, month) = match order {
        DateOrder::DayFirst => (a, b),
        DateOrder::MonthFirst => (b, a),
    };
    chrono::NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
    )
}

/// What the table's numeric dates say about their order: `Ok(None)` when it
/// has none or they fit either order.
fn date_order_of(cells: &[(u64, &str)]) -> Result<Option<DateOrder>, (u64, String)> {
    let mut day_first: Option<(u64, &str)> = None;
    let mut month_first: Option<(u64, &str)> = None;
    for &(line, c) in cells {
        let Some((a, b, ..)) = numeric_date(c) else {
            continue;
        };
        if a > 12 && b <= 12 {
            day_first.get_or_insert((line, c));
        }
        if b > 12 && a <= 12 {
            month_first.get_or_insert((line, c));
        }
    }
    match (day_first, month_first) {
        (Some((l1, c1)), Some((l2, c2))) => Err((
            l2.max(l1),
            format!(
                "dates in both orders: `{c1}` (line {l1}) is day first, `{c2}` (line {l2}) month \
                 first: expected one order throughout, or dates written as 2019-01-14"
            ),
        )),
        (Some(_), None) => Ok(Some(DateOrder::DayFirst)),
        (None, Some(_)) => Ok(Some(DateOrder::MonthFirst)),
        (None, None) => Ok(None),
    }
}

/// A date-time, with or without a UTC offset.
fn parse_absolute(s: &str, order: Option<DateOrder>) -> Option<When> {
    if let Some(order) = order
        && let Some(n) = numeric_datetime(s, order)
    {
        return Some(When::Absolute(n, None));
    }
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(When::Absolute(dt.naive_local(), Some(*dt.offset())));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%d %H:%M%:z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%d %H:%M:%S %:z",
        "%Y-%m-%d %H:%M %:z",
        "%Y-%m-%d %H:%M:%S %z",
        "%Y-%m-%d %H:%M %z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(s, f) {
            return Some(When::Absolute(dt.naive_local(), Some(*dt.offset())));
        }
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return Some(When::Absolute(n, None));
        }
    }
    None
}

/// A cell of the `time` column; `order` reads numeric dates.
fn parse_time_cell(s: &str, order: Option<DateOrder>) -> Result<When, String> {
    if let Ok(d) = parse_duration(s) {
        return Ok(When::Elapsed(d));
    }
    let t = s.trim();
    let t = t
        .strip_prefix("T+")
        .or_else(|| t.strip_prefix("t+"))
        .or_else(|| t.strip_prefix('+'))
        .unwrap_or(t);
    if let Some(secs) = hms(t, false) {
        return Ok(When::Elapsed(Duration::from_secs(secs)));
    }
    if let Some(r) = parse_day(s) {
        return r;
    }
    parse_absolute(s, order).ok_or_else(|| not_a_time(s, "a time", TIME_FORMS))
}

/// A cell of the `datetime` column: a date-time, a day and clock time, or a
/// clock time on the start's day.
fn parse_datetime_cell(s: &str, order: Option<DateOrder>) -> Result<When, String> {
    if let Some(w) = parse_absolute(s, order) {
        return Ok(w);
    }
    if let Some(r) = parse_day(s) {
        return r;
    }
    if let Some(secs) = hms(s, true) {
        return Ok(When::Day(0, secs as u32));
    }
    Err(not_a_time(
        s,
        "a date-time",
        "expected e.g. 2019-01-15T19:00:00-06:00, 2019-01-15 19:00, 15/01/2019 19:00, \
         D+1 08:00, Day 2 08:00 or a clock time 19:00 on the first day",
    ))
}

/// Why `s` is not `what`: a numeric date whose day and month cannot be told
/// apart gets its own reason.
fn not_a_time(s: &str, what: &str, forms: &str) -> String {
    match numeric_date(s) {
        Some((a, b, year, _)) if a <= 12 && b <= 12 => format!(
            "`{}` could be {year}-{b:02}-{a:02} or {year}-{a:02}-{b:02}, and no date in the \
             table has a day above 12 to tell: import with --dates dmy (day first) or --dates \
             mdy (month first), or write dates as 2019-01-14",
            s.trim()
        ),
        Some(_) => format!("`{}` is not a valid date", s.trim()),
        None => format!("`{}` is not {what}: {forms}", s.trim()),
    }
}

const MINISTRY_FORMS: &str = "expected a ministry code (US-DHS, GT-MINGOB, HN-SEDS, SV-MJSP, \
     MX-SEGOB, any case) or a country code (US, GT, HN, SV, MX)";

/// A ministry as a planner writes it: its code in any case, its country's
/// code or name, or its agency's short name.
fn parse_ministry(s: &str) -> Result<Ministry, String> {
    let t = s.trim();
    let key = squash(t);
    if key == "gcif" || key.starts_with("gcifhub") || key == "hub" {
        return Err(format!(
            "`{t}` is the hub, not a ministry: the hub neither sends nor receives injects; \
             {MINISTRY_FORMS}"
        ));
    }
    for m in Ministry::ALL {
        let code = m.code();
        let (country, agency) = code.split_once('-').unwrap_or((code, code));
        let name = match m {
            Ministry::UsDhs => &["unitedstates", "usa", "dhs"][..],
            Ministry::GtMingob => &["guatemala", "mingob"][..],
            Ministry::HnSeds => &["honduras", "seds", "sedsh"][..],
            Ministry::SvMjsp => &["elsalvador", "salvador", "mjsp"][..],
            Ministry::MxSegob => &["mexico", "méxico", "segob"][..],
        };
        if key == squash(code)
            || key == country.to_lowercase()
            || key == agency.to_lowercase()
            || name.contains(&key.as_str())
        {
            return Ok(m);
        }
    }
    Err(format!("unknown ministry `{t}`: {MINISTRY_FORMS}"))
}

/// What the `to` column says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum To {
    Recipients(Vec<Ministry>),
    /// `all`: every other participant the sharing policy lets receive it.
    Everyone,
    Refused,
}

/// The `to` cell of a row; `all` (or `everyone`, `todos`) is every other
/// participant the policy lets receive it.
fn parse_to(s: &str) -> Result<Option<To>, String> {
    let t = s.trim();
    let lower = t.to_lowercase();
    if lower.starts_with("(refused") || lower.starts_with("refused") || lower == "rejected" {
        return Ok(Some(To::Refused));
    }
    if matches!(
        lower.as_str(),
        "-" | "—" | "none" | "(none)" | "n/a" | "nobody"
    ) {
        return Ok(None);
    }
    if t == "*"
        || matches!(
            squash(t).as_str(),
            "all"
                | "everyone"
                | "allpartners"
                | "allparticipants"
                | "allministries"
                | "todos"
                | "todas"
                | "todoslosparticipantes"
        )
    {
        return Ok(Some(To::Everyone));
    }
    let mut out = Vec::new();
    for part in t.split([';', ',', '|', '/', '\n']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let m = parse_ministry(part).map_err(|e| {
            format!(
                "{e}; several recipients are separated by `;` or `,`, e.g. GT-MINGOB; SV-MJSP \
                 (`all` is every other ministry)"
            )
        })?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(Some(To::Recipients(out)))
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    let t = s.trim();
    let key = squash(t);
    let expected = "expected caravan_alert, document_flag or cargo_notice (or e.g. `Caravan \
                    alert`, `Fraudulent document`, `Cargo notice`)";
    for k in Kind::ALL {
        if key == squash(k.name()) {
            return Ok(k);
        }
    }
    let words: [(Kind, &[&str]); 3] = [
        (Kind::CaravanAlert, &["caravan", "migra"]),
        (
            Kind::DocumentFlag,
            &[
                "document",
                "passport",
                "forged",
                "fraud",
                "visa",
                "identity",
                "pasaporte",
                "falsific",
                "identidad",
            ],
        ),
        (
            Kind::CargoNotice,
            &[
                "cargo",
                "container",
                "shipment",
                "freight",
                "carga",
                "contenedor",
                "embarque",
            ],
        ),
    ];
    let found: Vec<Kind> = words
        .iter()
        .filter(|(_, ws)| ws.iter().any(|w| key.contains(w)))
        .map(|(k, _)| *k)
        .collect();
    match found.as_slice() {
        [k] => Ok(*k),
        [] => Err(format!("unknown kind `{t}`: {expected}")),
        _ => Err(format!("`{t}` could mean more than one kind: {expected}")),
    }
}

fn parse_handling(s: &str) -> Result<&'static str, String> {
    let t = s.trim();
    let lower = t.to_lowercase();
    let lower = lower.strip_prefix("tlp").unwrap_or(&lower);
    let key: String = lower
        .trim_start_matches([':', ' '])
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    match key.as_str() {
        "clear" | "white" => Ok("clear"),
        "green" => Ok("green"),
        "amber" => Ok("amber"),
        "amberstrict" => Ok("amber+strict"),
        "red" => Ok("red"),
        _ => Err(format!(
            "unknown handling `{t}`: expected clear, green, amber, amber+strict or red \
             (TLP:AMBER and upper case are accepted too)"
        )),
    }
}

fn parse_type(s: &str) -> Result<MessageType, String> {
    let t = s.trim();
    match squash(t).as_str() {
        "alert" | "new" | "initial" | "original" => Ok(MessageType::Alert),
        "update" | "upd" | "amendment" | "amend" | "followup" => Ok(MessageType::Update),
        "cancel" | "cancellation" | "cancelled" | "withdraw" | "withdrawal" | "retract" => {
            Ok(MessageType::Cancel)
        }
        _ => Err(format!(
            "unknown type `{t}`: expected alert, update or cancel"
        )),
    }
}

/// Double-quoted YAML scalar with escapes: safe for any text.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text for a YAML comment: one line, no control characters.
fn comment_text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn country_name(cc: &str) -> &'static str {
    match cc {
        "US" => "United States",
        "GT" => "Guatemala",
        "HN" => "Honduras",
        "SV" => "El Salvador",
        "MX" => "Mexico",
        _ => "Unspecified",
    }
}

/// The line of the record that starts at byte `byte` (the CSV reader may
/// place a record's start before the line end that precedes it).
fn line_at(text: &str, byte: u64) -> u64 {
    let bytes = text.as_bytes();
    let mut b = usize::try_from(byte).unwrap_or(usize::MAX).min(bytes.len());
    while matches!(bytes.get(b), Some(b'\r' | b'\n')) {
        b += 1;
    }
    1 + bytes[..b].iter().filter(|&&c| c == b'\n').count() as u64
}

/// One data row, as read.
struct Row {
    line: u64,
    cells: Vec<String>,
}

/// One data row, understood.
struct Parsed {
    line: u64,
    /// Which column gave the time.
    time_field: Field,
    when: When,
    /// The `datetime` cell, when the `time` cell gave the time.
    datetime: Option<When>,
    at: Duration,
    number: Option<String>,
    id: String,
    /// Whether `id` comes from the row's own id cell.
    id_given: bool,
    from: Ministry,
    to: Option<To>,
    kind: Option<Kind>,
    message: Option<String>,
    expected_action: Option<String>,
    objective: Option<String>,
    message_type: Option<MessageType>,
    refers_to: Option<String>,
    handling: Option<&'static str>,
    expires: Option<Duration>,
    payload: Option<String>,
}

/// The header: which column is which.
struct Table<'a> {
    file: &'a str,
    header_line: u64,
    columns: BTreeMap<Field, (usize, String)>,
    /// How numeric dates read (`None`: none seen, or undecided).
    dates: Option<DateOrder>,
}

impl Table<'_> {
    fn header(&self, f: Field) -> String {
        self.columns
            .get(&f)
            .map_or_else(|| f.name().to_string(), |(_, h)| h.clone())
    }

    fn err(&self, line: u64, f: Field, message: impl Into<String>) -> MselError {
        MselError::Column {
            file: self.file.to_string(),
            line,
            column: self.header(f),
            message: message.into(),
        }
    }

    fn cell<'r>(&self, row: &'r Row, f: Field) -> Option<&'r str> {
        let (i, _) = self.columns.get(&f)?;
        row.cells
            .get(*i)
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
    }

    fn text(&self, row: &Row, f: Field) -> Option<String> {
        self.cell(row, f).map(str::to_string)
    }

    /// Everything about one row that does not depend on other rows.
    fn parse_row(&self, row: &Row, n: usize) -> Result<Parsed, MselError> {
        let line = row.line;
        let at_err = |f: Field, e: String| self.err(line, f, e);
        let time = self
            .cell(row, Field::Time)
            .map(|c| parse_time_cell(c, self.dates).map_err(|e| at_err(Field::Time, e)))
            .transpose()?;
        let datetime = self
            .cell(row, Field::DateTime)
            .map(|c| parse_datetime_cell(c, self.dates).map_err(|e| at_err(Field::DateTime, e)))
            .transpose()?;
        let (time_field, when, datetime) = match (time, datetime) {
            (Some(t), d) => (Field::Time, t, d),
            (None, Some(d)) => (Field::DateTime, d, None),
            (None, None) => {
                let f = if self.columns.contains_key(&Field::Time) {
                    Field::Time
                } else {
                    Field::DateTime
                };
                return Err(self.err(
                    line,
                    f,
                    format!("empty: every row needs a time; {TIME_FORMS}"),
                ));
            }
        };
        let from = match self.cell(row, Field::From) {
            Some(c) => parse_ministry(c).map_err(|e| at_err(Field::From, e))?,
            None => {
                return Err(self.err(
                    line,
                    Field::From,
                    format!("empty: every row needs its sender; {MINISTRY_FORMS}"),
                ));
            }
        };
        let to = match self.cell(row, Field::To) {
            Some(c) => parse_to(c).map_err(|e| at_err(Field::To, e))?,
            None => None,
        };
        if let Some(To::Recipients(list)) = &to
            && list.contains(&from)
        {
            return Err(self.err(
                line,
                Field::To,
                format!(
                    "{from} sends this inject and never receives its own message: \
                     expected only the other ministries"
                ),
            ));
        }
        let kind = self
            .cell(row, Field::Kind)
            .map(|c| parse_kind(c).map_err(|e| at_err(Field::Kind, e)))
            .transpose()?;
        let message_type = self
            .cell(row, Field::Type)
            .map(|c| parse_type(c).map_err(|e| at_err(Field::Type, e)))
            .transpose()?;
        let handling = self
            .cell(row, Field::Handling)
            .map(|c| parse_handling(c).map_err(|e| at_err(Field::Handling, e)))
            .transpose()?;
        let expires = match self.cell(row, Field::Expires) {
            None => None,
            Some(c) if matches!(c.to_lowercase().as_str(), "-" | "none" | "never") => None,
            Some(c) => {
                let d = parse_duration(c).map_err(|e| {
                    at_err(
                        Field::Expires,
                        format!("{e} (how long after the inject's time the content goes stale)"),
                    )
                })?;
                if d.is_zero() {
                    return Err(self.err(
                        line,
                        Field::Expires,
                        "0 would expire the message before it is sent: expected a duration \
                         above zero, e.g. 12h, or an empty cell",
                    ));
                }
                Some(d)
            }
        };
        let number = self
            .cell(row, Field::Number)
            .map(|c| c.trim_start_matches('#').trim().to_string())
            .filter(|c| !c.is_empty());
        let id_given = self.cell(row, Field::Id).is_some();
        let id = match (self.text(row, Field::Id), &number) {
            (Some(id), _) => id,
            (None, Some(num)) => format!("inject-{num}"),
            (None, None) => format!("row-{n}"),
        };
        let payload = self
            .cell(row, Field::Payload)
            .map(|c| c.replace(['\r', '\n'], " ").trim().to_string());
        Ok(Parsed {
            line,
            time_field,
            when,
            datetime,
            at: Duration::ZERO,
            number,
            id,
            id_given,
            from,
            to,
            kind,
            message: self.text(row, Field::Message),
            expected_action: self.text(row, Field::ExpectedAction),
            objective: self.text(row, Field::Objective),
            message_type,
            refers_to: self.text(row, Field::RefersTo),
            handling,
            expires,
            payload,
        })
    }
}

/// A date-time from a local date-time and an offset.
fn at_offset(n: NaiveDateTime, off: FixedOffset) -> Option<DateTime<FixedOffset>> {
    n.and_local_timezone(off).single()
}

fn day_time(
    day0: NaiveDate,
    day: u64,
    secs: u32,
    off: FixedOffset,
) -> Option<DateTime<FixedOffset>> {
    let date = day0.checked_add_days(Days::new(day))?;
    let time = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0)?;
    at_offset(date.and_time(time), off)
}

fn floor_hour(t: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    t.with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

/// Up to the next whole hour (unchanged when already whole).
fn ceil_hour(d: Duration) -> Duration {
    let h = d.as_secs().div_ceil(3600);
    Duration::from_secs(h * 3600)
}

/// The kind-specific payload check: the text must be a flow mapping with the
/// scenario file's keys for `kind`. Returns the latest `observed_at` in it.
fn check_payload(text: &str, kind: Kind) -> Result<Option<Duration>, String> {
    let example = match kind {
        Kind::CaravanAlert => {
            r#"{"caravan_id":"CAR-2019-001","location":{"name":"San Pedro Sula","country":"HN"}}"#
        }
        Kind::DocumentFlag => {
            r#"{"document":{"kind":"passport","issuer":"HN","number":"F4811902"},"holder":{"name":"Juan Pérez"},"indicators":["photo_substitution"],"detected_at":{"name":"Agua Caliente","country":"GT"}}"#
        }
        Kind::CargoNotice => {
            r#"{"container":"MSCU1234566","origin":{"name":"Puerto Cortés","country":"HN"},"destination":{"name":"Tapachula","country":"MX"},"risk_score":0.91}"#
        }
    };
    if !(text.starts_with('{') && text.ends_with('}')) {
        return Err(format!(
            "not a {kind} payload: expected one JSON object (or YAML flow mapping) with the \
             scenario file's keys, e.g. {example}"
        ));
    }
    let bad = |e: serde_saphyr::Error| {
        let msg = e.to_string();
        let first = msg.lines().next().unwrap_or_default().trim();
        let first = first.strip_prefix("error: ").unwrap_or(first);
        format!("not a valid {kind} payload ({first}); expected e.g. {example}")
    };
    match kind {
        Kind::CaravanAlert => serde_saphyr::from_str::<RawCaravan>(text)
            .map(|c| c.observed_at.map(|o| o.value.0))
            .map_err(bad),
        Kind::DocumentFlag => serde_saphyr::from_str::<RawDocumentFlag>(text)
            .map(|_| None)
            .map_err(bad),
        Kind::CargoNotice => serde_saphyr::from_str::<RawCargo>(text)
            .map(|_| None)
            .map_err(bad),
    }
}

/// A payload that passes the hub's content checks, built from what the row
/// gives: placeholders named after the sender's country.
fn skeleton_payload(kind: Kind, id: &str, from: Ministry, to: Option<&To>) -> String {
    let cc = from.country();
    let here = format!("{{ name: {}, country: {cc} }}", quote(country_name(cc)));
    match kind {
        Kind::CaravanAlert => format!(
            "{{ caravan_id: {}, location: {here} }}",
            quote(&format!("CAR-{id}"))
        ),
        Kind::DocumentFlag => format!(
            "{{ document: {{ kind: other, issuer: {cc}, number: {} }}, holder: {{ name: \
             \"unspecified\" }}, indicators: [unspecified], detected_at: {here} }}",
            quote(&format!("UNSPECIFIED-{id}"))
        ),
        Kind::CargoNotice => {
            // An observer only receives a cargo notice for its own country:
            // send the placeholder there when the table routes it there.
            let dest = match to {
                Some(To::Recipients(list)) if list.contains(&Ministry::MxSegob) => "MX",
                _ => cc,
            };
            format!(
                "{{ container: {}, origin: {here}, destination: {{ name: {}, country: {dest} }}, \
                 risk_score: 0.5, indicators: [unspecified] }}",
                quote(&format!("UNSPECIFIED-{id}")),
                quote(country_name(dest))
            )
        }
    }
}

/// YAML text being built, each line remembering the CSV line and column it
/// came from, so a validation error can point at the table.
#[derive(Default)]
struct Yaml {
    lines: Vec<(String, Option<(u64, Field)>)>,
}

impl Yaml {
    fn push(&mut self, text: impl Into<String>, origin: Option<(u64, Field)>) {
        self.lines.push((text.into(), origin));
    }

    fn text(&self) -> String {
        let mut s = String::new();
        for (l, _) in &self.lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }
}

/// Turns an MSEL table (CSV text) into a scenario skeleton (YAML text) that
/// validates. `file` names the table in errors and gives the default name and
/// title.
///
/// Headers are matched ignoring case, spaces and punctuation, with aliases
/// (`Scenario Time`, `Sender`, `Recipient(s)`, `Event Description`, `Core
/// Capability`, `TLP`…); the columns time (or datetime), from, kind and message
/// are required, the others optional, unknown ones listed in a comment and
/// ignored. A UTF-8 byte-order mark, CRLF line ends, `;` or tab delimiters,
/// blank rows and trailing empty columns are accepted.
///
/// The start is `opts.start`; else, when a row gives both an offset (`time`)
/// and a date-time (`datetime`), the date-time minus the offset; else the
/// earliest absolute time rounded down to the hour; else [`DEFAULT_START`].
/// Rows are sorted by time (stable). The duration is the last inject's time
/// rounded up to the hour, plus 1h.
pub fn import_csv(text: &str, file: &str, opts: &ImportOptions) -> Result<String, MselError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let table_err = |line: u64, message: String| MselError::Table {
        file: file.to_string(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(text))
        .from_reader(text.as_bytes());
    let mut header: Option<Row> = None;
    let mut rows: Vec<Row> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            table_err(
                e.position().map_or(1, |p| line_at(text, p.byte())),
                format!("not readable as CSV: {e}"),
            )
        })?;
        let line = record.position().map_or(1, |p| line_at(text, p.byte()));
        let cells: Vec<String> = record.iter().map(|c| c.trim().to_string()).collect();
        if cells.iter().all(String::is_empty) {
            continue;
        }
        let row = Row { line, cells };
        if header.is_none() {
            header = Some(row);
        } else {
            rows.push(row);
        }
    }
    let Some(header) = header else {
        return Err(table_err(
            1,
            "the table is empty: expected a header row (time, from, kind, message, …) and one \
             row per inject"
                .into(),
        ));
    };

    // Which column is which.
    let mut table = Table {
        file,
        header_line: header.line,
        columns: BTreeMap::new(),
        dates: opts.dates,
    };
    let mut ignored: Vec<String> = Vec::new();
    for (i, h) in header.cells.iter().enumerate() {
        if h.is_empty() {
            continue;
        }
        let key = normalize_header(h);
        let Some(field) = Field::ALL
            .into_iter()
            .find(|f| f.aliases().contains(&key.as_str()))
        else {
            ignored.push(h.clone());
            continue;
        };
        if let Some((_, other)) = table.columns.get(&field) {
            return Err(MselError::Column {
                file: file.to_string(),
                line: header.line,
                column: h.clone(),
                message: format!(
                    "means the same as column {other} ({}): expected each column once",
                    field.name()
                ),
            });
        }
        table.columns.insert(field, (i, h.clone()));
    }
    let has = |f: Field| table.columns.contains_key(&f);
    let mut missing = Vec::new();
    if !has(Field::Time) && !has(Field::DateTime) {
        missing.push(Field::Time);
    }
    missing.extend(
        [Field::From, Field::Kind, Field::Message]
            .into_iter()
            .filter(|f| !has(*f)),
    );
    if let Some(&f) = missing.first() {
        return Err(table.err(
            table.header_line,
            f,
            format!(
                "missing: expected a header named {} (the required columns are time, from, \
                 kind and message)",
                f.spellings()
            ),
        ));
    }
    if rows.is_empty() {
        return Err(table_err(
            header.line,
            "the table has a header but no rows: expected one row per inject".into(),
        ));
    }

    // Numeric dates: day or month first, as the options or the table say.
    if table.dates.is_none() {
        let cells: Vec<(u64, &str)> = rows
            .iter()
            .flat_map(|row| {
                [Field::Time, Field::DateTime]
                    .into_iter()
                    .filter_map(|f| Some((row.line, table.cell(row, f)?)))
            })
            .collect();
        table.dates = date_order_of(&cells).map_err(|(line, message)| table_err(line, message))?;
    }

    // Each row on its own.
    let mut parsed = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        parsed.push(table.parse_row(row, n + 1)?);
    }
    let mut ids: BTreeMap<String, u64> = BTreeMap::new();
    for p in &parsed {
        if let Some(first) = ids.insert(p.id.clone(), p.line) {
            let f = if p.id_given { Field::Id } else { Field::Number };
            return Err(table.err(
                p.line,
                f,
                format!(
                    "id `{}` is used twice (also on line {first}): expected a unique id per row",
                    p.id
                ),
            ));
        }
    }

    // Times: the start, then every row's offset.
    let start = resolve_times(&table, &mut parsed, opts)?;
    parsed.sort_by_key(|p| p.at);

    // References, kinds and payloads, in time order.
    let by_number: BTreeMap<String, String> = parsed
        .iter()
        .filter_map(|p| Some((p.number.clone()?, p.id.clone())))
        .collect();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut resolved: Vec<Resolved> = Vec::new();
    let mut last = Duration::ZERO;
    for (i, p) in parsed.iter().enumerate() {
        let r = resolve_row(&table, p, &index, &by_number, &resolved)?;
        last = last.max(p.at).max(r.observed.unwrap_or_default());
        index.insert(p.id.clone(), i);
        resolved.push(r);
    }
    let duration = ceil_hour(last) + Duration::from_secs(3600);

    // The YAML.
    let stem = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name = String::new();
    for c in stem.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            name.push(c);
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_end_matches('-').to_string();
    let name = opts.name.clone().unwrap_or(if name.is_empty() {
        "msel".to_string()
    } else {
        name
    });
    let title = opts.title.clone().unwrap_or(if stem.trim().is_empty() {
        "Imported MSEL".to_string()
    } else {
        stem.clone()
    });

    let mut y = Yaml::default();
    y.push(
        format!(
            "# Scenario skeleton built by `gcif-sim msel import` from {}.",
            comment_text(file)
        ),
        None,
    );
    y.push(
        "# Add network, faults, traffic and further expectations as needed.",
        None,
    );
    if !ignored.is_empty() {
        let list: Vec<String> = ignored.iter().map(|h| comment_text(h)).collect();
        y.push(
            format!("# Columns not carried over: {}", list.join(", ")),
            None,
        );
    }
    y.push(format!("name: {}", quote(&name)), None);
    y.push(format!("title: {}", quote(&title)), None);
    y.push(
        format!(
            "start: {}",
            start.to_rfc3339_opts(SecondsFormat::AutoSi, false)
        ),
        None,
    );
    y.push(format!("duration: {}", format_duration(duration)), None);
    y.push("status: exercise", None);
    y.push("injects:", None);
    for (p, r) in parsed.iter().zip(&resolved) {
        let l = p.line;
        let id_field = if p.id_given { Field::Id } else { Field::Kind };
        y.push(
            format!("  - id: {}  # line {l}", quote(&p.id)),
            Some((l, id_field)),
        );
        y.push(
            format!("    at: {}", format_duration(p.at)),
            Some((l, p.time_field)),
        );
        y.push(
            format!("    from: {}", p.from.code()),
            Some((l, Field::From)),
        );
        if let Some(h) = p.handling {
            y.push(format!("    handling: {h}"), Some((l, Field::Handling)));
        } else if p.to == Some(To::Refused) && p.payload.is_none() {
            // The table expects the hub to refuse a placeholder it would
            // accept: TLP:RED is what every policy refuses.
            y.push(
                "    handling: red  # the table expects a refusal; the hub refuses TLP:RED",
                Some((l, Field::To)),
            );
        }
        if let Some(e) = p.expires {
            y.push(
                format!("    expires: {}", format_duration(e)),
                Some((l, Field::Expires)),
            );
        }
        if let Some(target) = &r.refers {
            let key = if r.message_type == MessageType::Cancel {
                "cancels"
            } else {
                "updates"
            };
            y.push(
                format!("    {key}: {}", quote(target)),
                Some((l, Field::RefersTo)),
            );
        }
        for (key, value, f) in [
            ("message", &p.message, Field::Message),
            ("expected_action", &p.expected_action, Field::ExpectedAction),
            ("objective", &p.objective, Field::Objective),
        ] {
            if let Some(v) = value {
                y.push(format!("    {key}: {}", quote(v)), Some((l, f)));
            }
        }
        if let Some((text, f)) = &r.payload {
            y.push(format!("    {}: {text}", r.kind.name()), Some((l, *f)));
        }
    }
    // `all`: whom the policy lets receive each inject, as the hub will
    // decide it (the skeleton so far is a scenario to route).
    let routes = if parsed.iter().any(|p| p.to == Some(To::Everyone)) {
        let draft = format!("{}expect:\n  - no_loss: true\n", y.text());
        scenario::parse(file, &name, &draft)
            .ok()
            .map(|s| route_injects(&s))
    } else {
        None
    };
    y.push("expect:", None);
    for (i, p) in parsed.iter().enumerate() {
        let everyone;
        let to = match &p.to {
            Some(To::Everyone) => {
                everyone = match routes.as_ref().and_then(|r| r.get(i)) {
                    Some(Ok(recipients)) => recipients.clone(),
                    // Refused, or not routable: expect what the table says,
                    // and let the run show the difference.
                    _ => Ministry::ALL.into_iter().filter(|&m| m != p.from).collect(),
                };
                Some(To::Recipients(everyone))
            }
            to => to.clone(),
        };
        match &to {
            Some(To::Recipients(list)) => {
                let codes: Vec<&str> = list.iter().map(|m| m.code()).collect();
                y.push(
                    format!(
                        "  - {{ inject: {}, delivered_to: [{}] }}",
                        quote(&p.id),
                        codes.join(", ")
                    ),
                    Some((p.line, Field::To)),
                );
            }
            Some(To::Refused) => y.push(
                format!("  - {{ inject: {}, rejected: true }}", quote(&p.id)),
                Some((p.line, Field::To)),
            ),
            Some(To::Everyone) | None => {}
        }
    }
    y.push("  - no_loss: true", None);

    // Bug guard: what we return must validate.
    let yaml = y.text();
    match scenario::parse(file, &name, &yaml) {
        Ok(_) => Ok(yaml),
        Err(e) => {
            let origin = usize::try_from(e.line)
                .ok()
                .and_then(|l| y.lines.get(l.checked_sub(1)?))
                .and_then(|(_, o)| *o);
            Err(match origin {
                Some((line, f)) => table.err(line, f, e.message),
                None => MselError::Generated {
                    file: file.to_string(),
                    source: e,
                },
            })
        }
    }
}

/// Sets every row's `at` and returns the start.
fn resolve_times(
    table: &Table,
    parsed: &mut [Parsed],
    opts: &ImportOptions,
) -> Result<DateTime<FixedOffset>, MselError> {
    let cells = || {
        parsed
            .iter()
            .flat_map(|p| [Some(p.when), p.datetime])
            .flatten()
    };
    // The offset of date-times that give none.
    let default_start =
        DateTime::parse_from_rfc3339(DEFAULT_START).map_err(|e| MselError::Table {
            file: table.file.to_string(),
            line: 1,
            message: format!("bad DEFAULT_START: {e}"),
        })?;
    let tz = opts.start.map(|s| *s.offset()).unwrap_or_else(|| {
        cells()
            .find_map(|w| match w {
                When::Absolute(_, Some(off)) => Some(off),
                _ => None,
            })
            .unwrap_or(*default_start.offset())
    });
    let bad_time = |p: &Parsed, f: Field| {
        table.err(
            p.line,
            f,
            "this date-time does not exist or is out of range: expected a date-time \
             between the years 1 and 9999",
        )
    };
    let absolute = |n: NaiveDateTime, off: Option<FixedOffset>| at_offset(n, off.unwrap_or(tz));

    let mut start = opts.start;
    if start.is_none() {
        // A row with both an offset and a date-time fixes the start exactly.
        for p in parsed.iter() {
            if let (When::Elapsed(d), Some(When::Absolute(n, off))) = (p.when, p.datetime) {
                let t = absolute(n, off).ok_or_else(|| bad_time(p, Field::DateTime))?;
                let d = chrono::Duration::from_std(d).map_err(|_| bad_time(p, Field::Time))?;
                start = Some(
                    t.checked_sub_signed(d)
                        .ok_or_else(|| bad_time(p, Field::Time))?,
                );
                break;
            }
        }
    }
    let day0 = match start {
        Some(s) => s.date_naive(),
        None => cells()
            .filter_map(|w| match w {
                When::Absolute(n, off) => absolute(n, off),
                _ => None,
            })
            .min()
            .map_or(default_start.date_naive(), |t| t.date_naive()),
    };
    // Each row's time as a date-time, where it is not an offset.
    let mut clock: Vec<Option<DateTime<FixedOffset>>> = Vec::new();
    for p in parsed.iter() {
        clock.push(match p.when {
            When::Elapsed(_) => None,
            When::Absolute(n, off) => {
                Some(absolute(n, off).ok_or_else(|| bad_time(p, p.time_field))?)
            }
            When::Day(day, secs) => {
                Some(day_time(day0, day, secs, tz).ok_or_else(|| bad_time(p, p.time_field))?)
            }
        });
    }
    let start = match start {
        Some(s) => s,
        None => match clock.iter().flatten().min() {
            Some(&earliest) => floor_hour(earliest),
            None => default_start.with_timezone(&tz),
        },
    };
    for (p, c) in parsed.iter_mut().zip(clock) {
        p.at = match (p.when, c) {
            (When::Elapsed(d), _) => d,
            (_, Some(t)) => (t - start).to_std().map_err(|_| {
                table.err(
                    p.line,
                    p.time_field,
                    format!(
                        "{} is before the scenario start {}: expected a time at or after it",
                        t.to_rfc3339_opts(SecondsFormat::AutoSi, false),
                        start.to_rfc3339_opts(SecondsFormat::AutoSi, false)
                    ),
                )
            })?,
            (_, None) => return Err(bad_time(p, p.time_field)),
        };
    }
    Ok(start)
}

/// A row's place in its thread, kind and payload.
struct Resolved {
    message_type: MessageType,
    refers: Option<String>,
    kind: Kind,
    /// The payload's YAML flow text and the column it came from.
    payload: Option<(String, Field)>,
    observed: Option<Duration>,
}

fn resolve_row(
    table: &Table,
    p: &Parsed,
    index: &BTreeMap<String, usize>,
    by_number: &BTreeMap<String, String>,
    earlier: &[Resolved],
) -> Result<Resolved, MselError> {
    let err = |f: Field, m: String| table.err(p.line, f, m);
    let message_type = match (p.message_type, &p.refers_to) {
        (Some(t), _) => t,
        (None, Some(_)) => MessageType::Update,
        (None, None) => MessageType::Alert,
    };
    let target = match (&p.refers_to, message_type) {
        (Some(r), MessageType::Alert) => {
            return Err(err(
                Field::RefersTo,
                format!(
                    "an alert refers to nothing, but this row refers to `{r}`: expected type \
                     update or cancel, or an empty cell"
                ),
            ));
        }
        (None, MessageType::Update | MessageType::Cancel) => {
            return Err(err(
                if table.columns.contains_key(&Field::RefersTo) {
                    Field::RefersTo
                } else {
                    Field::Type
                },
                format!(
                    "an {} needs the id of the earlier inject it {}: expected it in column \
                     refers to",
                    message_type.name(),
                    if message_type == MessageType::Update {
                        "updates"
                    } else {
                        "cancels"
                    }
                ),
            ));
        }
        (None, MessageType::Alert) => None,
        (Some(r), _) => {
            let key = r.trim();
            let id = if index.contains_key(key) {
                key.to_string()
            } else if let Some(id) = by_number.get(key.trim_start_matches('#').trim()) {
                id.clone()
            } else {
                key.to_string()
            };
            match index.get(&id) {
                Some(&j) => Some((id, j)),
                None => {
                    return Err(err(
                        Field::RefersTo,
                        format!(
                            "`{r}` is not the id (or #) of an earlier row: expected the inject \
                             this row {}, at or before this row's time",
                            if message_type == MessageType::Update {
                                "updates"
                            } else {
                                "cancels"
                            }
                        ),
                    ));
                }
            }
        }
    };
    let target_kind = target
        .as_ref()
        .and_then(|(_, j)| earlier.get(*j))
        .map(|r| r.kind);
    let kind = match (p.kind, target_kind) {
        (Some(k), Some(t)) if k != t => {
            return Err(err(
                Field::Kind,
                format!(
                    "this row is a {k} but refers to a {t}: expected the kind of the inject it \
                     {}",
                    if message_type == MessageType::Update {
                        "updates"
                    } else {
                        "cancels"
                    }
                ),
            ));
        }
        (Some(k), _) => k,
        (None, Some(t)) => t,
        (None, None) => {
            return Err(err(
                Field::Kind,
                "empty: expected caravan_alert, document_flag or cargo_notice".into(),
            ));
        }
    };
    let (payload, observed) = if message_type == MessageType::Cancel {
        if p.payload.is_some() {
            return Err(err(
                Field::Payload,
                "a cancel carries no payload: expected an empty cell".into(),
            ));
        }
        (None, None)
    } else if let Some(text) = &p.payload {
        let observed = check_payload(text, kind).map_err(|e| err(Field::Payload, e))?;
        (Some((text.clone(), Field::Payload)), observed)
    } else if let Some((text, observed)) = target
        .as_ref()
        .and_then(|(_, j)| earlier.get(*j))
        .and_then(|r| Some((r.payload.as_ref()?.0.clone(), r.observed)))
    {
        // An update without content repeats what it updates.
        (Some((text, Field::Kind)), observed)
    } else {
        (
            Some((
                skeleton_payload(kind, &p.id, p.from, p.to.as_ref()),
                Field::Kind,
            )),
            None,
        )
    };
    Ok(Resolved {
        message_type,
        refers: target.map(|(id, _)| id),
        kind,
        payload,
        observed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(text: &str) -> Result<String, MselError> {
        import_csv(text, "t.csv", &ImportOptions::default())
    }

    fn load(yaml: &str) -> Scenario {
        scenario::parse("t.yaml", "t", yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
    }

    fn err(text: &str) -> MselError {
        match import(text) {
            Ok(y) => panic!("expected an error, got\n{y}"),
            Err(e) => e,
        }
    }

    const MINIMAL: &str = "time,from,kind,message\n0s,HN-SEDS,caravan_alert,Caravan forms\n";

    #[test]
    fn a_minimal_table_imports_and_validates() {
        let yaml = import(MINIMAL).unwrap();
        let s = load(&yaml);
        assert_eq!(s.injects.len(), 1);
        assert_eq!(s.injects[0].from, Ministry::HnSeds);
        assert_eq!(s.injects[0].message.as_deref(), Some("Caravan forms"));
        assert_eq!(s.injects[0].label.as_deref(), Some("row-1"));
        assert_eq!(s.name, "t");
        assert_eq!(s.duration, Duration::from_secs(3600));
        assert_eq!(
            s.start,
            DateTime::parse_from_rfc3339(DEFAULT_START).unwrap()
        );
    }

    #[test]
    fn header_aliases_are_matched_loosely() {
        let text = "No.;Scenario Time;Sender;Recipient(s);Message Kind;Event Description;\
                    Expected Player Action;Core Capability;TLP;Refers_To;Message Type;Notes\n\
                    1;0s;hn;GT-MINGOB, sv-mjsp;Caravan alert;Caravan forms;Alert the border;\
                    Information sharing;TLP:AMBER;;;controller note\n\
                    2;2h;GT;HN-SEDS;caravan;Caravan grows;Update the count;Situational \
                    awareness;amber;1;update;\n";
        let yaml = import(text).unwrap();
        assert!(yaml.contains("# Columns not carried over: Notes"), "{yaml}");
        let s = load(&yaml);
        let a = &s.injects[0];
        assert_eq!(a.label.as_deref(), Some("inject-1"));
        assert_eq!(a.handling, Handling::Amber);
        assert_eq!(a.expected_action.as_deref(), Some("Alert the border"));
        assert_eq!(a.objective.as_deref(), Some("Information sharing"));
        let b = &s.injects[1];
        assert_eq!(b.from, Ministry::GtMingob);
        assert_eq!(b.message_type, MessageType::Update);
        assert_eq!(b.references, [0]);
        assert_eq!(
            s.expect[0].delivered_to,
            [Ministry::GtMingob, Ministry::SvMjsp]
        );
        assert!(s.expect.last().unwrap().no_loss);
    }

    #[test]
    fn normalized_headers() {
        assert_eq!(normalize_header("Recipient(s)"), "recipients");
        assert_eq!(normalize_header("Date/Time"), "datetime");
        assert_eq!(normalize_header(" Expected_Action "), "expectedaction");
        assert_eq!(normalize_header("#"), "#");
    }

    #[test]
    fn bom_crlf_tabs_blank_rows_and_trailing_columns() {
        let text = "\u{feff}Time\tFrom\tKind\tMessage\t\t\r\n\r\n\
                    1h\tHN-SEDS\tcargo\tBox\t\t\r\n\t\t\t\t\t\r\n\
                    2h\tGT-MINGOB\tforged document\tFake\t\t\r\n";
        let s = load(&import(text).unwrap());
        assert_eq!(s.injects.len(), 2);
        assert_eq!(s.injects[0].kind, Kind::CargoNotice);
        assert_eq!(s.injects[1].kind, Kind::DocumentFlag);
        assert_eq!(s.injects[1].label.as_deref(), Some("row-2"));
    }

    #[test]
    fn time_forms() {
        let elapsed = |c: &str| match parse_time_cell(c, None) {
            Ok(When::Elapsed(d)) => d.as_secs(),
            other => panic!("{c}: {other:?}"),
        };
        assert_eq!(elapsed("0s"), 0);
        assert_eq!(elapsed("0"), 0);
        assert_eq!(elapsed("14h"), 14 * 3600);
        assert_eq!(elapsed("1d2h"), 26 * 3600);
        assert_eq!(elapsed("14:30"), 14 * 3600 + 1800);
        assert_eq!(elapsed("36:00:30"), 36 * 3600 + 30);
        assert_eq!(elapsed("T+1:05"), 3900);
        assert_eq!(
            parse_time_cell("D+1 08:00", None),
            Ok(When::Day(1, 8 * 3600))
        );
        assert_eq!(
            parse_time_cell("Day 2 08:00", None),
            Ok(When::Day(1, 8 * 3600))
        );
        assert!(matches!(
            parse_time_cell("2019-01-15 19:00", None),
            Ok(When::Absolute(_, None))
        ));
        assert!(matches!(
            parse_time_cell("2019-01-15T19:00:00-06:00", None),
            Ok(When::Absolute(_, Some(_)))
        ));
        for bad in ["soon", "14:3", "25", "Day 0 08:00", "D+1 25:00", "1.5h"] {
            assert!(parse_time_cell(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn numeric_dates_as_spreadsheets_write_them() {
        let at = |c: &str, o: DateOrder| match parse_time_cell(c, Some(o)) {
            Ok(When::Absolute(n, None)) => n.format("%Y-%m-%d %H:%M:%S").to_string(),
            other => panic!("{c}: {other:?}"),
        };
        use DateOrder::*;
        assert_eq!(at("14/01/2019 21:00", DayFirst), "2019-01-14 21:00:00");
        assert_eq!(at("1/14/2019 9:00 PM", MonthFirst), "2019-01-14 21:00:00");
        assert_eq!(at("1/14/19 12:30 am", MonthFirst), "2019-01-14 00:30:00");
        assert_eq!(
            at("15/1/2019 9:05:30 p. m.", DayFirst),
            "2019-01-15 21:05:30"
        );
        assert_eq!(at("14.01.2019 08:00", DayFirst), "2019-01-14 08:00:00");
        assert_eq!(at("03/02/2019", DayFirst), "2019-02-03 00:00:00");
        assert_eq!(at("03/02/2019", MonthFirst), "2019-03-02 00:00:00");
        for bad in [
            "31/02/2019 10:00",
            "14/01/2019 13:00 pm",
            "14/01/2019 25:00",
        ] {
            assert!(parse_time_cell(bad, Some(DayFirst)).is_err(), "{bad}");
        }
        // The table decides the order; an undecided one is an error that
        // says how to decide it.
        let order = |cells: &[&str]| {
            let cells: Vec<(u64, &str)> = cells.iter().map(|&c| (2, c)).collect();
            date_order_of(&cells)
        };
        assert_eq!(
            order(&["03/02/2019 10:00", "14/02/2019 10:00"]),
            Ok(Some(DayFirst))
        );
        assert_eq!(
            order(&["2/3/2019 10:00", "2/14/2019 10:00"]),
            Ok(Some(MonthFirst))
        );
        assert_eq!(order(&["03/02/2019", "0s"]), Ok(None));
        assert!(order(&["14/02/2019", "2/14/2019"]).is_err());
        let e = parse_time_cell("03/02/2019 10:00", None).unwrap_err();
        assert!(e.contains("--dates dmy"), "{e}");
    }

    #[test]
    fn all_means_everyone_the_policy_lets_receive_it() {
        let text = "time,from,to,kind,message\n\
                    0s,GT-MINGOB,all,document flag,Forged passport\n\
                    1h,HN-SEDS,everyone,caravan alert,Caravan forms\n\
                    2h,HN-SEDS,all,cargo notice,Container to Guatemala\n";
        let yaml = import_csv(text, "all.csv", &ImportOptions::default()).unwrap();
        // The observer gets no document flag, and a cargo notice only for its
        // own country; it does get caravan alerts.
        assert!(
            yaml.contains("inject: \"row-1\", delivered_to: [US-DHS, HN-SEDS, SV-MJSP] }"),
            "{yaml}"
        );
        assert!(
            yaml.contains(
                "inject: \"row-2\", delivered_to: [US-DHS, GT-MINGOB, SV-MJSP, MX-SEGOB] }"
            ),
            "{yaml}"
        );
        assert!(
            yaml.contains("inject: \"row-3\", delivered_to: [US-DHS, GT-MINGOB, SV-MJSP] }"),
            "{yaml}"
        );
    }

    #[test]
    fn a_refused_row_without_content_is_made_red() {
        let text = "time,from,to,kind,message\n0s,HN-SEDS,(refused),document flag,A source lead\n";
        let yaml = import_csv(text, "refused.csv", &ImportOptions::default()).unwrap();
        assert!(yaml.contains("    handling: red"), "{yaml}");
        assert!(yaml.contains("rejected: true"), "{yaml}");
        let s = crate::scenario::parse("refused.yaml", "refused", &yaml).unwrap();
        assert_eq!(s.injects[0].handling, crate::model::Handling::Red);
    }

    #[test]
    fn a_table_in_day_first_dates_imports() {
        // As a Central American planner's spreadsheet saves it: Spanish
        // headers, `;`, a byte-order mark, CRLF, day-first dates.
        let text = "\u{feff}Nº;Fecha;Remitente;Destinatarios;Tipo;Mensaje;Acción esperada\r\n\
                    1;14/01/2019 21:00;Honduras;todos;Alerta de caravana;Sale la caravana;GT alerta \
                    a Agua Caliente\r\n\
                    2;15/01/2019 9:30 a. m.;GT;HN, SV;Pasaporte falsificado;Pasaporte alterado;\r\n";
        let yaml = import_csv(text, "msel.csv", &ImportOptions::default()).unwrap();
        assert!(yaml.contains("start: 2019-01-14T21:00:00"), "{yaml}");
        assert!(yaml.contains("at: 12h30m"), "{yaml}");
        assert!(
            yaml.contains("expected_action: \"GT alerta a Agua Caliente\""),
            "{yaml}"
        );
        assert!(yaml.contains("document_flag:"), "{yaml}");
        assert!(
            yaml.contains("delivered_to: [US-DHS, GT-MINGOB, SV-MJSP, MX-SEGOB]"),
            "{yaml}"
        );
    }

    #[test]
    fn absolute_times_are_offsets_from_the_earliest_hour_or_the_given_start() {
        let text = "datetime,from,kind,message\n\
                    2019-01-15 21:40,GT-MINGOB,caravan,Later\n\
                    2019-01-15 19:20,HN-SEDS,caravan,Earlier\n";
        let s = load(&import(text).unwrap());
        assert_eq!(s.start.to_rfc3339(), "2019-01-15T19:00:00-06:00");
        assert_eq!(s.injects[0].at, Duration::from_secs(20 * 60));
        assert_eq!(
            s.injects[0].from,
            Ministry::HnSeds,
            "rows are sorted by time"
        );
        assert_eq!(s.injects[1].at, Duration::from_secs(2 * 3600 + 40 * 60));
        assert_eq!(s.duration, Duration::from_secs(4 * 3600));
        let opts = ImportOptions {
            dates: None,
            start: Some(DateTime::parse_from_rfc3339("2019-01-15T12:00:00-06:00").unwrap()),
            name: Some("n".into()),
            title: Some("T".into()),
        };
        let s = load(&import_csv(text, "t.csv", &opts).unwrap());
        assert_eq!(s.injects[0].at, Duration::from_secs(7 * 3600 + 20 * 60));
        assert_eq!((s.name.as_str(), s.title.as_str()), ("n", "T"));
        let early = ImportOptions {
            start: Some(DateTime::parse_from_rfc3339("2019-01-15T20:00:00-06:00").unwrap()),
            ..ImportOptions::default()
        };
        let e = import_csv(text, "t.csv", &early).unwrap_err();
        assert_eq!((e.line(), e.column()), (3, Some("datetime")), "{e}");
        assert!(e.to_string().contains("before the scenario start"), "{e}");
    }

    #[test]
    fn day_forms_count_from_the_start_day() {
        let text =
            "time,from,kind,message\nD+0 08:30,HN-SEDS,caravan,A\nDay 2 08:00,HN-SEDS,caravan,B\n";
        let s = load(&import(text).unwrap());
        assert_eq!(s.start.to_rfc3339(), "2019-01-01T08:00:00-06:00");
        assert_eq!(s.injects[1].at, Duration::from_secs(24 * 3600));
    }

    #[test]
    fn bad_values_name_line_and_column() {
        let cases = [
            (
                "time,from,kind,message\n0s,CR-MSP,caravan,x\n",
                2,
                "from",
                "unknown ministry",
            ),
            (
                "time,from,kind,message\n0s,GCIF,caravan,x\n",
                2,
                "from",
                "hub",
            ),
            (
                "time,from,kind,message\n\n0s,HN,caravan,x\nsoon,HN,caravan,x\n",
                4,
                "time",
                "not a time",
            ),
            (
                "Time,From,Kind,Message\n0s,HN,weather,x\n",
                2,
                "Kind",
                "unknown kind",
            ),
            (
                "time,from,kind,message,tlp\n0s,HN,cargo,x,purple\n",
                2,
                "tlp",
                "unknown handling",
            ),
            (
                "time,from,kind,message,to\n0s,HN,cargo,x,HN-SEDS\n",
                2,
                "to",
                "own message",
            ),
            ("time,from,message\n0s,HN,x\n", 1, "kind", "missing"),
            (
                "time,from,kind,message,id,type,refers to\n0s,HN,cargo,x,a,cancel,zzz\n",
                2,
                "refers to",
                "not the id",
            ),
            (
                "time,from,kind,message,payload\n0s,HN,caravan,x,{\"caravan_id\":\"C\"}\n",
                2,
                "payload",
                "location",
            ),
            (
                "time,from,kind,message,payload\n0s,HN,caravan,x,\"{\"\"caravan_id\"\":\"\"C\"\",\"\"location\"\":{\"\"name\"\":\"\"X\"\",\"\"country\"\":\"\"Honduras\"\"}}\"\n",
                2,
                "payload",
                "country",
            ),
            (
                "time,from,kind,message,id\n0s,HN,cargo,x,a\n1h,HN,cargo,y,a\n",
                3,
                "id",
                "used twice",
            ),
        ];
        for (text, line, column, what) in cases {
            let e = err(text);
            assert_eq!((e.line(), e.column()), (line, Some(column)), "{e}");
            assert!(e.to_string().contains(what), "{what}: {e}");
            assert!(e.to_string().starts_with("t.csv:"), "{e}");
        }
        let crlf = "time,from,kind,message\r\n\r\n0s,HN,caravan,x\r\nsoon,HN,caravan,x\r\n";
        assert_eq!(err(crlf).line(), 4);
        let e = err("");
        assert!(e.to_string().contains("empty"), "{e}");
        let e = err("time,from,kind,message\n");
        assert!(e.to_string().contains("no rows"), "{e}");
    }

    #[test]
    fn compact_json_payloads_are_valid_yaml() {
        let text = "time,from,kind,message,payload\n\
                    0s,HN-SEDS,caravan,x,\"{\"\"caravan_id\"\":\"\"C-1\"\",\"\"location\"\":{\"\"name\"\":\"\"San Pedro Sula\"\",\"\"country\"\":\"\"HN\"\",\"\"lat\"\":15.504},\"\"minors\"\":3,\"\"observed_at\"\":\"\"3h\"\"}\"\n";
        let s = load(&import(text).unwrap());
        let Some(Payload::CaravanAlert(c)) = &s.injects[0].payload else {
            panic!("not a caravan")
        };
        assert_eq!((c.caravan_id.as_str(), c.minors), ("C-1", Some(3)));
        assert_eq!(c.location.lat, Some(15.504));
        assert_eq!(
            s.duration,
            Duration::from_secs(4 * 3600),
            "covers observed_at"
        );
    }

    #[test]
    fn skeleton_payloads_pass_the_hub() {
        let text = "time,from,kind,message,to\n\
                    0s,HN-SEDS,caravan,a,\n\
                    1h,GT-MINGOB,document,b,\n\
                    2h,SV-MJSP,cargo,c,MX-SEGOB; US-DHS\n";
        let s = load(&import(text).unwrap());
        for (inj, route) in s.injects.iter().zip(route_injects(&s)) {
            let recipients = route.unwrap_or_else(|e| panic!("{:?} refused: {e}", inj.label));
            if inj.kind == Kind::CargoNotice {
                assert!(recipients.contains(&Ministry::MxSegob), "{recipients:?}");
            }
        }
    }

    #[test]
    fn quoting_survives_any_text() {
        let nasty = "He said \"go\": \\ # not a comment\n\ttab, {flow}, [list], *alias, &anchor, \
                     'single', \u{7}bell, \u{2028}, 'ünïcødé' ---";
        let yaml = format!(
            "start: 2019-01-15T05:00:00-06:00\nduration: 1h\ninjects:\n  - at: 0s\n    from: \
             HN-SEDS\n    message: {}\n    cancels: x\n",
            quote(nasty)
        );
        let e = scenario::parse("q.yaml", "q", &yaml).unwrap_err();
        assert!(e.message.contains("not the id of an earlier inject"), "{e}");
        let yaml = format!(
            "start: 2019-01-15T05:00:00-06:00\nduration: 1h\ninjects:\n  - at: 0s\n    from: \
             HN-SEDS\n    message: {}\n    caravan_alert: {{ caravan_id: C, location: {{ name: \
             X, country: HN }} }}\n",
            quote(nasty)
        );
        assert_eq!(load(&yaml).injects[0].message.as_deref(), Some(nasty));
    }

    #[test]
    fn export_lists_injects_in_time_order_with_routing() {
        let yaml = "start: 2019-01-15T05:00:00-06:00\nduration: 2h\ninjects:\n\
                    - id: b\n  at: 30m\n  from: GT-MINGOB\n  handling: red\n  caravan_alert: { caravan_id: C2, location: { name: X, country: GT } }\n\
                    - id: a\n  at: 10m\n  from: HN-SEDS\n  objective: \"Share, fast\"\n  caravan_alert: { caravan_id: C1, location: { name: San Pedro Sula, country: HN }, estimated_size: 800, minors: 150, heading_to: [Agua Caliente] }\n\
                    - at: 1h\n  from: HN-SEDS\n  cancels: a\n";
        let s = load(yaml);
        let csv = export_csv(&s);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "#,time,datetime,from,to,kind,message,expected action,objective,id,type,refers to,handling,expires,payload"
        );
        assert!(lines[1].starts_with("1,10m,2019-01-15T05:10:00-06:00,HN-SEDS,US-DHS; GT-MINGOB; SV-MJSP; MX-SEGOB,caravan_alert,\"Caravan C1 at San Pedro Sula (HN), about 800 people incl. 150 minors, heading to Agua Caliente\",,\"Share, fast\",a,alert,,green,,"), "{}", lines[1]);
        assert!(
            lines[2].contains(",GT-MINGOB,(refused: TLP:RED"),
            "{}",
            lines[2]
        );
        assert!(lines[3].starts_with("3,1h,"), "{}", lines[3]);
        assert!(
            lines[3].contains("CANCEL of a,,,,cancel,a,green,,"),
            "{}",
            lines[3]
        );
        assert_eq!(lines.len(), 4);
    }
}
