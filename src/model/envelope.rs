//! The message envelope, its three payloads, and the checks every message must pass.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Ministry;

/// An instant, in milliseconds since the Unix epoch.
///
/// The state machines take "now" as one of these; the simulation computes it from
/// virtual time, a live host from the wall clock.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// This instant plus a duration (saturating).
    pub fn after(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(d.as_millis().min(i64::MAX as u128) as i64),
        )
    }

    /// Milliseconds from `earlier` to `self`, or zero when `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0).max(0) as u64
    }
}

/// A message id, chosen by the originator.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(pub String);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for MessageId {
    fn from(s: String) -> Self {
        MessageId(s)
    }
}

impl From<&str> for MessageId {
    fn from(s: &str) -> Self {
        MessageId(s.to_string())
    }
}

crate::vocabulary! {
    /// Whether a message is about the real world, an exercise, or a technical test.
    pub enum Status ("status") {
        Actual = "actual" | "ACTUAL",
        Exercise = "exercise" | "EXERCISE",
        Test = "test" | "TEST",
    }
}

crate::vocabulary! {
    /// Where a message stands in its thread.
    pub enum MessageType ("message type") {
        /// A new report.
        Alert = "alert",
        /// Supersedes the content of the messages it references.
        Update = "update",
        /// Withdraws the messages it references.
        Cancel = "cancel",
    }
}

crate::vocabulary! {
    /// Traffic Light Protocol 2.0 handling mark.
    ///
    /// Spelled `clear`, `green`, `amber`, `amber+strict`, `red` in files; the TLP
    /// labels (`TLP:AMBER+STRICT`), upper case, `white` and `amber_strict` are read too.
    #[derive(Default)]
    pub enum Handling ("handling mark") {
        Clear = "clear" | "CLEAR" | "TLP:CLEAR" | "white",
        #[default]
        Green = "green" | "GREEN" | "TLP:GREEN",
        Amber = "amber" | "AMBER" | "TLP:AMBER",
        AmberStrict = "amber+strict" | "AMBER+STRICT" | "TLP:AMBER+STRICT" | "amber_strict",
        Red = "red" | "RED" | "TLP:RED",
    }
}

impl Handling {
    /// The mark as TLP writes it, e.g. `TLP:AMBER+STRICT`.
    pub fn label(self) -> &'static str {
        match self {
            Handling::Clear => "TLP:CLEAR",
            Handling::Green => "TLP:GREEN",
            Handling::Amber => "TLP:AMBER",
            Handling::AmberStrict => "TLP:AMBER+STRICT",
            Handling::Red => "TLP:RED",
        }
    }
}

crate::vocabulary! {
    /// The three kinds of message the exchange carries.
    pub enum Kind ("message kind") {
        CaravanAlert = "caravan_alert",
        DocumentFlag = "document_flag",
        CargoNotice = "cargo_notice",
    }
}

impl Kind {
    /// The kind as people read it: `caravan alert`.
    pub fn label(self) -> &'static str {
        match self {
            Kind::CaravanAlert => "caravan alert",
            Kind::DocumentFlag => "document flag",
            Kind::CargoNotice => "cargo notice",
        }
    }
}

crate::vocabulary! {
    /// How reliable the source is judged (Admiralty grading): A completely
    /// or usually reliable, B usually reliable, C fairly reliable, X cannot
    /// be judged.
    pub enum Source ("source grade") {
        A = "A" | "a",
        B = "B" | "b",
        C = "C" | "c",
        X = "X" | "x",
    }
}

crate::vocabulary! {
    /// How credible the information is judged (Admiralty grading): 1 confirmed
    /// by other sources, 2 probably true, 3 possibly true, 4 cannot be judged.
    pub enum Information ("information grade") {
        Confirmed = "1",
        Probable = "2",
        Possible = "3",
        Unjudged = "4",
    }
}

/// The grading of a report: source and information, as `B2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Grading {
    pub source: Source,
    pub information: Information,
}

impl fmt::Display for Grading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.source.name(), self.information.name())
    }
}

impl std::str::FromStr for Grading {
    type Err = String;

    /// `B2`, `b2` or `B-2`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t: String = s.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
        let bad = || {
            format!(
                "`{s}` is not a grading: a source grade (A, B, C or X) and an information grade \
                 (1 to 4), e.g. B2"
            )
        };
        let mut chars = t.chars();
        let (Some(a), Some(b), None) = (chars.next(), chars.next(), chars.next()) else {
            return Err(bad());
        };
        Ok(Grading {
            source: a.to_string().parse().map_err(|_| bad())?,
            information: b.to_string().parse().map_err(|_| bad())?,
        })
    }
}

impl Serialize for Grading {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Grading {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A named place; `country` is ISO 3166-1 alpha-2.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Place {
    pub name: String,
    pub country: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// A high-risk migration flow.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CaravanAlert {
    pub caravan_id: String,
    pub location: Place,
    pub estimated_size: Option<u32>,
    pub minors: Option<u32>,
    pub heading_to: Vec<String>,
    pub observed: Option<Timestamp>,
}

crate::vocabulary! {
    /// The kind of a flagged identity document.
    #[derive(Default)]
    pub enum DocumentKind ("document kind") {
        #[default]
        Passport = "passport",
        NationalId = "national_id",
        Visa = "visa",
        ResidencePermit = "residence_permit",
        TravelDocument = "travel_document",
        Other = "other",
    }
}

impl DocumentKind {
    /// The kind as people read it: `National ID`.
    pub fn label(self) -> &'static str {
        match self {
            DocumentKind::Passport => "Passport",
            DocumentKind::NationalId => "National ID",
            DocumentKind::Visa => "Visa",
            DocumentKind::ResidencePermit => "Residence permit",
            DocumentKind::TravelDocument => "Travel document",
            DocumentKind::Other => "Document",
        }
    }
}

/// The person a flagged document names.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Holder {
    pub name: String,
    /// `YYYY-MM-DD`, or empty when unknown.
    pub birth_date: String,
    pub nationality: String,
}

/// A forged or altered identity document seen at a border.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DocumentFlag {
    pub document_kind: DocumentKind,
    pub issuing_country: String,
    pub document_number: String,
    pub holder: Holder,
    pub fraud_indicators: Vec<String>,
    pub detected_at: Place,
}

crate::vocabulary! {
    /// How a shipment travels.
    #[derive(Default)]
    pub enum Conveyance ("conveyance") {
        #[default]
        Truck = "truck",
        Vessel = "vessel",
        Rail = "rail",
        Air = "air",
    }
}

crate::vocabulary! {
    /// What the notifying ministry recommends the receivers do.
    #[derive(Default)]
    pub enum RecommendedAction ("recommended action") {
        #[default]
        Monitor = "monitor",
        Inspect = "inspect",
        Hold = "hold",
    }
}

/// A shipment scored high-risk for narcotics smuggling.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CargoNotice {
    pub container_id: String,
    pub bill_of_lading: String,
    pub conveyance: Conveyance,
    pub origin: Place,
    pub destination: Place,
    pub transit_countries: Vec<String>,
    pub risk_score: f64,
    pub indicators: Vec<String>,
    pub recommended_action: RecommendedAction,
}

/// One of the three payloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    CaravanAlert(CaravanAlert),
    DocumentFlag(DocumentFlag),
    CargoNotice(CargoNotice),
}

impl Payload {
    /// Which kind of message this payload makes.
    pub fn kind(&self) -> Kind {
        match self {
            Payload::CaravanAlert(_) => Kind::CaravanAlert,
            Payload::DocumentFlag(_) => Kind::DocumentFlag,
            Payload::CargoNotice(_) => Kind::CargoNotice,
        }
    }
}

impl Place {
    /// `San Pedro Sula (HN)`.
    pub fn describe(&self) -> String {
        if self.country.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.country)
        }
    }
}

impl Payload {
    /// The content in one line, for people: reports and exercise tables.
    pub fn describe(&self) -> String {
        match self {
            Payload::CaravanAlert(c) => {
                let mut out = format!("Caravan {} at {}", c.caravan_id, c.location.describe());
                match (c.estimated_size, c.minors) {
                    (Some(n), Some(k)) => out += &format!(", about {n} people incl. {k} minors"),
                    (Some(n), None) => out += &format!(", about {n} people"),
                    (None, Some(k)) => out += &format!(", {k} minors"),
                    (None, None) => {}
                }
                if !c.heading_to.is_empty() {
                    out += &format!(", heading to {}", c.heading_to.join(", "));
                }
                out
            }
            Payload::DocumentFlag(d) => {
                let what = d.document_kind.label();
                let mut out = format!(
                    "{what} {} issued by {}, held by {}",
                    d.document_number, d.issuing_country, d.holder.name
                );
                if !d.fraud_indicators.is_empty() {
                    out += &format!(" ({})", d.fraud_indicators.join(", "));
                }
                out + &format!(", detected at {}", d.detected_at.describe())
            }
            Payload::CargoNotice(c) => {
                let mut route = vec![c.origin.describe()];
                route.extend(c.transit_countries.iter().cloned());
                route.push(c.destination.describe());
                let (by, action) = (c.conveyance.name(), c.recommended_action.name());
                let indicators = if c.indicators.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", c.indicators.join(", "))
                };
                format!(
                    "Container {} by {by}, {}; risk {:.2}, {action}{indicators}",
                    c.container_id,
                    route.join(" → "),
                    c.risk_score,
                )
            }
        }
    }
}

/// A message as it travels the exchange.
///
/// Serialized (in `messages.jsonl`) with the `.proto`'s field names; times
/// are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: MessageId,
    pub originator: Ministry,
    pub created: Timestamp,
    pub status: Status,
    pub message_type: MessageType,
    pub references: Vec<MessageId>,
    pub handling: Handling,
    pub expires: Option<Timestamp>,
    pub kind: Kind,
    /// Absent only on a CANCEL.
    pub payload: Option<Payload>,
    /// The recipients the sender names; empty: whoever the agreement lets
    /// receive it. TLP:RED needs it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<Ministry>,
    /// Source and information grading, when the sender gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grading: Option<Grading>,
    /// Originator-controlled (like Europol's H2): not to be passed on
    /// without the originator's consent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub controlled: bool,
    /// The participants the originator consents to its being passed on to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consent: Vec<Ministry>,
}

/// Why an envelope is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Envelope {
    /// A new alert from `originator` carrying `payload`: status `exercise`,
    /// handling green, no references, no expiry. Change fields with struct
    /// update syntax where a message differs.
    pub fn alert(
        id: impl Into<MessageId>,
        originator: Ministry,
        created: Timestamp,
        payload: Payload,
    ) -> Envelope {
        Envelope {
            id: id.into(),
            originator,
            created,
            status: Status::Exercise,
            message_type: MessageType::Alert,
            references: Vec::new(),
            handling: Handling::Green,
            expires: None,
            kind: payload.kind(),
            payload: Some(payload),
            to: Vec::new(),
            grading: None,
            controlled: false,
            consent: Vec::new(),
        }
    }
}
