//! The fields an agreement can name: what a condition reads and what a
//! redaction changes, by path as the scenario format spells them
//! (`destination.country`, `holder.birth_date`).
//!
//! One catalogue serves both, so a path that an agreement may test is a
//! path it may redact, and every path is checked against the message kinds a
//! rule covers when the agreement is loaded.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::{
    Conveyance, DocumentKind, Envelope, Handling, Kind, MessageType, Payload, Place,
    RecommendedAction, Status, Timestamp,
};

/// What a field holds, which decides the tests and redactions it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// Free text (an id, a name, a number on a document).
    Text,
    /// An ISO 3166-1 alpha-2 code.
    Country,
    /// A list of ISO codes.
    Countries,
    /// A list of free-text words (indicators).
    Texts,
    /// One word of a closed vocabulary.
    Word(&'static str),
    /// A count of people.
    Count,
    /// A score in 0..1.
    Score,
    /// A latitude or longitude in degrees.
    Coordinate,
    /// A place (name, country, coordinates); generalising rounds its coordinates.
    Place,
    /// A `YYYY-MM-DD` date.
    Date,
    /// An instant.
    Instant,
    /// The payload as a whole: present or absent.
    Presence,
}

/// One field of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub path: &'static str,
    /// `None`: a field of every envelope.
    pub kind: Option<Kind>,
    pub ty: Type,
}

const fn f(path: &'static str, kind: Option<Kind>, ty: Type) -> Field {
    Field { path, kind, ty }
}

const CARAVAN: Option<Kind> = Some(Kind::CaravanAlert);
const DOCUMENT: Option<Kind> = Some(Kind::DocumentFlag);
const CARGO: Option<Kind> = Some(Kind::CargoNotice);

/// Every field an agreement can name.
pub const FIELDS: &[Field] = &[
    f("handling", None, Type::Word("handling")),
    f("status", None, Type::Word("status")),
    f("message_type", None, Type::Word("message_type")),
    f("payload", None, Type::Presence),
    f("grading.source", None, Type::Word("source")),
    f("grading.information", None, Type::Word("information")),
    f("caravan_id", CARAVAN, Type::Text),
    f("location", CARAVAN, Type::Place),
    f("location.name", CARAVAN, Type::Text),
    f("location.country", CARAVAN, Type::Country),
    f("location.lat", CARAVAN, Type::Coordinate),
    f("location.lon", CARAVAN, Type::Coordinate),
    f("estimated_size", CARAVAN, Type::Count),
    f("minors", CARAVAN, Type::Count),
    f("heading_to", CARAVAN, Type::Countries),
    f("observed", CARAVAN, Type::Instant),
    f("document_kind", DOCUMENT, Type::Word("document_kind")),
    f("issuing_country", DOCUMENT, Type::Country),
    f("document_number", DOCUMENT, Type::Text),
    f("holder.name", DOCUMENT, Type::Text),
    f("holder.birth_date", DOCUMENT, Type::Date),
    f("holder.nationality", DOCUMENT, Type::Country),
    f("fraud_indicators", DOCUMENT, Type::Texts),
    f("detected_at", DOCUMENT, Type::Place),
    f("detected_at.name", DOCUMENT, Type::Text),
    f("detected_at.country", DOCUMENT, Type::Country),
    f("detected_at.lat", DOCUMENT, Type::Coordinate),
    f("detected_at.lon", DOCUMENT, Type::Coordinate),
    f("container_id", CARGO, Type::Text),
    f("bill_of_lading", CARGO, Type::Text),
    f("conveyance", CARGO, Type::Word("conveyance")),
    f("origin", CARGO, Type::Place),
    f("origin.name", CARGO, Type::Text),
    f("origin.country", CARGO, Type::Country),
    f("origin.lat", CARGO, Type::Coordinate),
    f("origin.lon", CARGO, Type::Coordinate),
    f("destination", CARGO, Type::Place),
    f("destination.name", CARGO, Type::Text),
    f("destination.country", CARGO, Type::Country),
    f("destination.lat", CARGO, Type::Coordinate),
    f("destination.lon", CARGO, Type::Coordinate),
    f("transit_countries", CARGO, Type::Countries),
    f("risk_score", CARGO, Type::Score),
    f("indicators", CARGO, Type::Texts),
    f(
        "recommended_action",
        CARGO,
        Type::Word("recommended_action"),
    ),
];

/// The scenario format's spellings of some fields (`transit:` in a
/// scenario's cargo notice is `transit_countries` here), read as aliases.
const ALIASES: &[(&str, Kind, &str)] = &[
    ("container", Kind::CargoNotice, "container_id"),
    ("transit", Kind::CargoNotice, "transit_countries"),
    ("document.number", Kind::DocumentFlag, "document_number"),
    ("document.issuer", Kind::DocumentFlag, "issuing_country"),
    ("document.kind", Kind::DocumentFlag, "document_kind"),
    ("indicators", Kind::DocumentFlag, "fraud_indicators"),
    ("observed_at", Kind::CaravanAlert, "observed"),
];

/// The catalogue's name for `path` in a message of `kind` (itself, or what
/// the alias stands for).
pub fn canonical(path: &str, kind: Kind) -> &str {
    // No alias is the name of a field of its own kind.
    ALIASES
        .iter()
        .find(|(alias, k, _)| *alias == path && *k == kind)
        .map_or(path, |(_, _, to)| to)
}

/// The field at `path` (or an alias of it) for a message of `kind`, if there is one.
pub fn field(path: &str, kind: Kind) -> Option<Field> {
    let path = canonical(path, kind);
    FIELDS
        .iter()
        .find(|f| f.path == path && f.kind.is_none_or(|k| k == kind))
        .copied()
}

/// The kinds that have a field at `path` (empty: no kind does).
pub fn kinds_with(path: &str) -> Vec<Kind> {
    Kind::ALL
        .into_iter()
        .filter(|&k| field(path, k).is_some())
        .collect()
}

/// The words a `Word` field takes, for checking an agreement's conditions.
pub fn words(vocabulary: &str) -> Vec<&'static str> {
    match vocabulary {
        "handling" => Handling::ALL.iter().map(|h| h.name()).collect(),
        "status" => Status::ALL.iter().map(|s| s.name()).collect(),
        "message_type" => MessageType::ALL.iter().map(|m| m.name()).collect(),
        "document_kind" => DocumentKind::ALL.iter().map(|d| d.name()).collect(),
        "conveyance" => Conveyance::ALL.iter().map(|c| c.name()).collect(),
        "recommended_action" => RecommendedAction::ALL.iter().map(|r| r.name()).collect(),
        "source" => vec!["A", "B", "C", "X"],
        "information" => vec!["1", "2", "3", "4"],
        _ => Vec::new(),
    }
}

/// A field's value in one message, as a condition reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Empty, unset, or the message has no payload.
    Absent,
    /// Words or codes (one for a scalar field, each element of a list).
    Words(Vec<String>),
    Number(f64),
    /// A place or an instant: only its presence can be tested.
    Present,
}

fn text(s: &str) -> Value {
    if s.is_empty() {
        Value::Absent
    } else {
        Value::Words(vec![s.to_string()])
    }
}

fn list(v: &[String]) -> Value {
    if v.is_empty() {
        Value::Absent
    } else {
        Value::Words(v.to_vec())
    }
}

fn number<T: Into<f64>>(v: Option<T>) -> Value {
    v.map_or(Value::Absent, |n| Value::Number(n.into()))
}

fn place(p: &Place, rest: &str) -> Value {
    match rest {
        "" if p.name.is_empty() && p.country.is_empty() => Value::Absent,
        "" => Value::Present,
        "name" => text(&p.name),
        "country" => text(&p.country),
        "lat" => number(p.lat),
        "lon" => number(p.lon),
        _ => Value::Absent,
    }
}

/// Splits `location.country` into `location` and `country` (`""` for a place itself).
fn split(path: &str) -> (&str, &str) {
    path.split_once('.').unwrap_or((path, ""))
}

/// The value of the field at `path` (or an alias of it) in `env`.
pub fn value(env: &Envelope, path: &str) -> Value {
    let path = canonical(path, env.kind);
    match path {
        "handling" => return text(env.handling.name()),
        "status" => return text(env.status.name()),
        "message_type" => return text(env.message_type.name()),
        "payload" => {
            return if env.payload.is_some() {
                Value::Present
            } else {
                Value::Absent
            };
        }
        "grading.source" => return env.grading.map_or(Value::Absent, |g| text(g.source.name())),
        "grading.information" => {
            return env
                .grading
                .map_or(Value::Absent, |g| text(g.information.name()));
        }
        _ => {}
    }
    let (head, rest) = split(path);
    match &env.payload {
        None => Value::Absent,
        Some(Payload::CaravanAlert(c)) => match head {
            "caravan_id" => text(&c.caravan_id),
            "location" => place(&c.location, rest),
            "estimated_size" => number(c.estimated_size),
            "minors" => number(c.minors),
            "heading_to" => list(&c.heading_to),
            "observed" => c.observed.map_or(Value::Absent, |_| Value::Present),
            _ => Value::Absent,
        },
        Some(Payload::DocumentFlag(d)) => match head {
            "document_kind" => text(d.document_kind.name()),
            "issuing_country" => text(&d.issuing_country),
            "document_number" => text(&d.document_number),
            "holder" => match rest {
                "name" => text(&d.holder.name),
                "birth_date" => text(&d.holder.birth_date),
                "nationality" => text(&d.holder.nationality),
                _ => Value::Absent,
            },
            "fraud_indicators" => list(&d.fraud_indicators),
            "detected_at" => place(&d.detected_at, rest),
            _ => Value::Absent,
        },
        Some(Payload::CargoNotice(c)) => match head {
            "container_id" => text(&c.container_id),
            "bill_of_lading" => text(&c.bill_of_lading),
            "conveyance" => text(c.conveyance.name()),
            "origin" => place(&c.origin, rest),
            "destination" => place(&c.destination, rest),
            "transit_countries" => list(&c.transit_countries),
            "risk_score" => Value::Number(c.risk_score),
            "indicators" => list(&c.indicators),
            "recommended_action" => text(c.recommended_action.name()),
            _ => Value::Absent,
        },
    }
}

/// What a redaction does to one field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// Cleared to its empty value.
    Remove,
    /// Made coarser: coordinates to 0.1° (about 10 km), a date to its year,
    /// an instant to its day, a count to the nearest ten, a score to one
    /// decimal.
    Generalise,
    /// Replaced by a keyed hash (HMAC-SHA256 under the named key), so equal
    /// values stay equal without being readable.
    Pseudonymise { key: String },
}

impl Action {
    /// How the log and the wire name it: `removed`, `generalised`, `pseudonymised`.
    pub fn past(&self) -> &'static str {
        match self {
            Action::Remove => "removed",
            Action::Generalise => "generalised",
            Action::Pseudonymise { .. } => "pseudonymised",
        }
    }

    /// Whether this action applies to a field of type `ty`; `Err` says why not.
    pub fn check(&self, ty: Type) -> Result<(), String> {
        let ok = match self {
            Action::Remove => !matches!(ty, Type::Word(_) | Type::Score | Type::Presence),
            Action::Generalise => matches!(
                ty,
                Type::Place
                    | Type::Coordinate
                    | Type::Date
                    | Type::Instant
                    | Type::Count
                    | Type::Score
            ),
            Action::Pseudonymise { .. } => matches!(ty, Type::Text | Type::Date | Type::Texts),
        };
        if ok {
            return Ok(());
        }
        Err(match self {
            Action::Remove => "it has no empty value to clear it to (generalise it, or withhold \
                               the message)"
                .to_string(),
            Action::Generalise => "only places, coordinates, dates, instants, counts and scores \
                                   can be generalised"
                .to_string(),
            Action::Pseudonymise { .. } => {
                "only text fields (ids, numbers, names, dates) can be pseudonymised".to_string()
            }
        })
    }
}

/// Rounds to one decimal (0.1° of latitude is about 11 km).
fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The pseudonym of `value` in field `path` under `key`: `hmac:` and the
/// first 20 hex digits of HMAC-SHA256(key, path NUL value).
pub fn pseudonym(key: &[u8], path: &str, value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(path.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::from("hmac:");
    for b in &digest[..10] {
        out += &format!("{b:02x}");
    }
    out
}

/// Whether `s` has the form [`pseudonym`] writes.
pub fn is_pseudonym(s: &str) -> bool {
    s.strip_prefix("hmac:")
        .is_some_and(|h| h.len() == 20 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn round_place(p: &mut Place) -> bool {
    let before = (p.lat, p.lon);
    p.lat = p.lat.map(tenth);
    p.lon = p.lon.map(tenth);
    before != (p.lat, p.lon)
}

/// Applies `action` to the field at `path` of `env`; `key` is the
/// pseudonymisation key when the action needs one. Returns whether the
/// copy changed (a field already empty is not reported as redacted).
pub fn apply(env: &mut Envelope, path: &str, action: &Action, key: Option<&[u8]>) -> bool {
    let path = canonical(path, env.kind);
    let (head, rest) = split(path);
    let Some(payload) = &mut env.payload else {
        return false;
    };
    let mut on_text = |s: &mut String| -> bool {
        if s.is_empty() {
            return false;
        }
        match action {
            Action::Remove => s.clear(),
            // A copy passed on keeps the pseudonym it was given.
            Action::Pseudonymise { .. } if is_pseudonym(s) => return false,
            Action::Pseudonymise { .. } => {
                *s = pseudonym(key.unwrap_or_default(), path, s);
            }
            Action::Generalise => {
                // Dates: to the year.
                if s.len() >= 4 {
                    s.truncate(4);
                } else {
                    return false;
                }
            }
        }
        true
    };
    let on_list = |v: &mut Vec<String>| -> bool {
        if v.is_empty() {
            return false;
        }
        match action {
            Action::Pseudonymise { .. } => {
                for s in v.iter_mut() {
                    *s = pseudonym(key.unwrap_or_default(), path, s);
                }
            }
            _ => v.clear(),
        }
        true
    };
    let on_count = |n: &mut Option<u32>| -> bool {
        let Some(x) = *n else { return false };
        *n = match action {
            Action::Generalise => Some((x + 5) / 10 * 10),
            _ => None,
        };
        *n != Some(x)
    };
    let on_coordinate = |c: &mut Option<f64>| -> bool {
        let Some(x) = *c else { return false };
        *c = match action {
            Action::Generalise => Some(tenth(x)),
            _ => None,
        };
        *c != Some(x)
    };
    let on_place =
        |p: &mut Place, rest: &str, on_text: &mut dyn FnMut(&mut String) -> bool| match rest {
            "" => match action {
                Action::Generalise => round_place(p),
                _ => {
                    let had = !p.name.is_empty() || p.lat.is_some() || p.lon.is_some();
                    *p = Place {
                        country: p.country.clone(),
                        ..Place::default()
                    };
                    had
                }
            },
            "name" => on_text(&mut p.name),
            "country" => on_text(&mut p.country),
            "lat" => on_coordinate(&mut p.lat),
            "lon" => on_coordinate(&mut p.lon),
            _ => false,
        };
    match payload {
        Payload::CaravanAlert(c) => match head {
            "caravan_id" => on_text(&mut c.caravan_id),
            "location" => on_place(&mut c.location, rest, &mut on_text),
            "estimated_size" => on_count(&mut c.estimated_size),
            "minors" => on_count(&mut c.minors),
            "heading_to" => on_list(&mut c.heading_to),
            "observed" => {
                let Some(t) = c.observed else { return false };
                c.observed = match action {
                    Action::Generalise => Some(Timestamp(t.0 - t.0.rem_euclid(86_400_000))),
                    _ => None,
                };
                c.observed != Some(t)
            }
            _ => false,
        },
        Payload::DocumentFlag(d) => match head {
            "issuing_country" => on_text(&mut d.issuing_country),
            "document_number" => on_text(&mut d.document_number),
            "holder" => match rest {
                "name" => on_text(&mut d.holder.name),
                "birth_date" => on_text(&mut d.holder.birth_date),
                "nationality" => on_text(&mut d.holder.nationality),
                _ => false,
            },
            "fraud_indicators" => on_list(&mut d.fraud_indicators),
            "detected_at" => on_place(&mut d.detected_at, rest, &mut on_text),
            _ => false,
        },
        Payload::CargoNotice(c) => match head {
            "container_id" => on_text(&mut c.container_id),
            "bill_of_lading" => on_text(&mut c.bill_of_lading),
            "origin" => on_place(&mut c.origin, rest, &mut on_text),
            "destination" => on_place(&mut c.destination, rest, &mut on_text),
            "transit_countries" => on_list(&mut c.transit_countries),
            "risk_score" => {
                let before = c.risk_score;
                c.risk_score = tenth(before);
                c.risk_score != before
            }
            "indicators" => on_list(&mut c.indicators),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn flag(number: &str) -> Envelope {
        Envelope::alert(
            "GT-MINGOB-1",
            Ministry::GT_MINGOB,
            Timestamp(0),
            Payload::DocumentFlag(DocumentFlag {
                document_number: number.into(),
                holder: Holder {
                    name: "Ana".into(),
                    birth_date: "1987-04-02".into(),
                    nationality: "HN".into(),
                },
                detected_at: Place {
                    name: "Tecún Umán".into(),
                    country: "GT".into(),
                    lat: Some(14.6789),
                    lon: Some(-92.1444),
                },
                ..DocumentFlag::default()
            }),
        )
    }

    fn doc(e: &Envelope) -> &DocumentFlag {
        match &e.payload {
            Some(Payload::DocumentFlag(d)) => d,
            _ => unreachable!(),
        }
    }

    #[test]
    fn every_path_is_read_and_every_kinded_path_belongs_to_its_kind() {
        for f in FIELDS {
            if let Some(k) = f.kind {
                assert_eq!(field(f.path, k).map(|g| g.path), Some(f.path));
            }
        }
        let e = flag("F2236078");
        assert_eq!(
            value(&e, "holder.nationality"),
            Value::Words(vec!["HN".into()])
        );
        assert_eq!(value(&e, "detected_at.lat"), Value::Number(14.6789));
        assert_eq!(value(&e, "minors"), Value::Absent);
        assert_eq!(kinds_with("risk_score"), [Kind::CargoNotice]);
        assert_eq!(kinds_with("handling").len(), 3);
    }

    #[test]
    fn remove_generalise_and_pseudonymise() {
        let mut e = flag("F2236078");
        assert!(apply(
            &mut e,
            "holder.birth_date",
            &Action::Generalise,
            None
        ));
        assert!(apply(&mut e, "detected_at", &Action::Generalise, None));
        assert!(apply(&mut e, "holder.name", &Action::Remove, None));
        let key = Action::Pseudonymise { key: "k".into() };
        assert!(apply(&mut e, "document_number", &key, Some(b"secret")));
        let d = doc(&e);
        assert_eq!(d.holder.birth_date, "1987");
        assert_eq!(
            (d.detected_at.lat, d.detected_at.lon),
            (Some(14.7), Some(-92.1))
        );
        assert!(d.holder.name.is_empty());
        assert!(is_pseudonym(&d.document_number), "{}", d.document_number);
        // The same number under the same key matches; another key or number does not.
        let mut again = flag("F2236078");
        apply(&mut again, "document_number", &key, Some(b"secret"));
        assert_eq!(doc(&again).document_number, d.document_number);
        let mut other = flag("F2236078");
        apply(&mut other, "document_number", &key, Some(b"another"));
        assert_ne!(doc(&other).document_number, d.document_number);
        let mut other = flag("F2236079");
        apply(&mut other, "document_number", &key, Some(b"secret"));
        assert_ne!(doc(&other).document_number, d.document_number);
        // Nothing to redact: not reported.
        assert!(!apply(&mut e, "holder.name", &Action::Remove, None));
    }

    #[test]
    fn no_alias_shadows_a_field_of_its_kind() {
        for (alias, kind, to) in ALIASES {
            assert!(
                !FIELDS
                    .iter()
                    .any(|f| f.path == *alias && f.kind.is_none_or(|k| k == *kind)),
                "{alias}"
            );
            assert!(field(to, *kind).is_some(), "{to}");
        }
        assert_eq!(canonical("indicators", Kind::CargoNotice), "indicators");
        assert_eq!(
            canonical("indicators", Kind::DocumentFlag),
            "fraud_indicators"
        );
    }

    #[test]
    fn actions_fit_their_types() {
        assert!(Action::Remove.check(Type::Word("conveyance")).is_err());
        assert!(Action::Remove.check(Type::Text).is_ok());
        assert!(Action::Generalise.check(Type::Text).is_err());
        assert!(Action::Generalise.check(Type::Date).is_ok());
        let p = Action::Pseudonymise { key: "k".into() };
        assert!(p.check(Type::Count).is_err());
        assert!(p.check(Type::Text).is_ok());
    }
}
