//! The generated gRPC types (`proto/gcif/v1/gcif.proto`) and conversions between
//! them and [`crate::model`]. Conversion from the wire validates structure:
//! anything the model cannot represent is refused with a reason.

use crate::model::{self, Ministry, Timestamp};

/// Code generated from `proto/gcif/v1/gcif.proto`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("gcif.v1");
}

pub use pb::*;

/// The encoded descriptors of `proto/`, for the gRPC reflection service.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/gcif_descriptor.bin"));

/// Why a wire message could not become a model value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WireError(pub String);

fn bad<T>(s: impl Into<String>) -> Result<T, WireError> {
    Err(WireError(s.into()))
}

pub(crate) fn ts_to_wire(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.0.div_euclid(1000),
        nanos: (t.0.rem_euclid(1000) * 1_000_000) as i32,
    }
}

pub(crate) fn ts_from_wire(
    field: &str,
    t: &prost_types::Timestamp,
) -> Result<Timestamp, WireError> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return bad(format!("{field}: nanos {} out of range", t.nanos));
    }
    let ms = t
        .seconds
        .checked_mul(1000)
        .and_then(|s| s.checked_add(i64::from(t.nanos / 1_000_000)))
        .ok_or_else(|| WireError(format!("{field}: out of range")))?;
    Ok(Timestamp(ms))
}

fn place_to_wire(p: &model::Place) -> pb::Place {
    pb::Place {
        name: p.name.clone(),
        country: p.country.clone(),
        lat: p.lat,
        lon: p.lon,
    }
}

fn place_from_wire(p: Option<pb::Place>) -> model::Place {
    let p = p.unwrap_or_default();
    model::Place {
        name: p.name,
        country: p.country,
        lat: p.lat,
        lon: p.lon,
    }
}

impl From<&model::Envelope> for pb::Envelope {
    fn from(e: &model::Envelope) -> Self {
        use model::Payload as P;
        let payload = e.payload.as_ref().map(|p| match p {
            P::CaravanAlert(a) => envelope::Payload::CaravanAlert(pb::CaravanAlert {
                caravan_id: a.caravan_id.clone(),
                location: Some(place_to_wire(&a.location)),
                estimated_size: a.estimated_size,
                minors: a.minors,
                heading_to: a.heading_to.clone(),
                observed: a.observed.map(ts_to_wire),
            }),
            P::DocumentFlag(d) => envelope::Payload::DocumentFlag(pb::DocumentFlag {
                document_kind: document_kind_to_wire(d.document_kind) as i32,
                issuing_country: d.issuing_country.clone(),
                document_number: d.document_number.clone(),
                holder: Some(pb::Holder {
                    name: d.holder.name.clone(),
                    birth_date: d.holder.birth_date.clone(),
                    nationality: d.holder.nationality.clone(),
                }),
                fraud_indicators: d.fraud_indicators.clone(),
                detected_at: Some(place_to_wire(&d.detected_at)),
            }),
            P::CargoNotice(c) => envelope::Payload::CargoNotice(pb::CargoNotice {
                container_id: c.container_id.clone(),
                bill_of_lading: c.bill_of_lading.clone(),
                conveyance: conveyance_to_wire(c.conveyance) as i32,
                origin: Some(place_to_wire(&c.origin)),
                destination: Some(place_to_wire(&c.destination)),
                transit_countries: c.transit_countries.clone(),
                risk_score: c.risk_score,
                indicators: c.indicators.clone(),
                recommended_action: action_to_wire(c.recommended_action) as i32,
            }),
        });
        pb::Envelope {
            message_id: e.id.0.clone(),
            originator: e.originator.code().to_string(),
            created: Some(ts_to_wire(e.created)),
            status: status_to_wire(e.status) as i32,
            message_type: type_to_wire(e.message_type) as i32,
            references: e.references.iter().map(|r| r.0.clone()).collect(),
            handling: handling_to_wire(e.handling) as i32,
            expires: e.expires.map(ts_to_wire),
            kind: kind_to_wire(e.kind) as i32,
            payload,
            to: e.to.iter().map(|m| m.code().to_string()).collect(),
            grading: e.grading.map(|g| g.to_string()).unwrap_or_default(),
            controlled: e.controlled,
            consent: e.consent.iter().map(|m| m.code().to_string()).collect(),
        }
    }
}

impl TryFrom<pb::Envelope> for model::Envelope {
    type Error = WireError;

    fn try_from(e: pb::Envelope) -> Result<Self, WireError> {
        use envelope::Payload as W;
        let originator: Ministry = e
            .originator
            .parse()
            .map_err(|err: model::UnknownMinistry| WireError(err.to_string()))?;
        let Some(created) = &e.created else {
            return bad("created is missing");
        };
        let created = ts_from_wire("created", created)?;
        let expires = e
            .expires
            .as_ref()
            .map(|t| ts_from_wire("expires", t))
            .transpose()?;
        let status = match Status::try_from(e.status) {
            Ok(Status::Actual) => model::Status::Actual,
            Ok(Status::Exercise) => model::Status::Exercise,
            Ok(Status::Test) => model::Status::Test,
            _ => {
                return bad(format!(
                    "status {} is not ACTUAL, EXERCISE or TEST",
                    e.status
                ));
            }
        };
        let message_type = match MessageType::try_from(e.message_type) {
            Ok(MessageType::Alert) => model::MessageType::Alert,
            Ok(MessageType::Update) => model::MessageType::Update,
            Ok(MessageType::Cancel) => model::MessageType::Cancel,
            _ => {
                return bad(format!(
                    "message_type {} is not ALERT, UPDATE or CANCEL",
                    e.message_type
                ));
            }
        };
        let handling = match Handling::try_from(e.handling) {
            Ok(Handling::Clear) => model::Handling::Clear,
            Ok(Handling::Green) => model::Handling::Green,
            Ok(Handling::Amber) => model::Handling::Amber,
            Ok(Handling::AmberStrict) => model::Handling::AmberStrict,
            Ok(Handling::Red) => model::Handling::Red,
            _ => return bad(format!("handling {} is not a TLP 2.0 mark", e.handling)),
        };
        let kind = match Kind::try_from(e.kind) {
            Ok(Kind::CaravanAlert) => model::Kind::CaravanAlert,
            Ok(Kind::DocumentFlag) => model::Kind::DocumentFlag,
            Ok(Kind::CargoNotice) => model::Kind::CargoNotice,
            _ => return bad(format!("kind {} is not a known message kind", e.kind)),
        };
        let payload = match e.payload {
            None => None,
            Some(W::CaravanAlert(a)) => Some(model::Payload::CaravanAlert(model::CaravanAlert {
                caravan_id: a.caravan_id,
                location: place_from_wire(a.location),
                estimated_size: a.estimated_size,
                minors: a.minors,
                heading_to: a.heading_to,
                observed: a
                    .observed
                    .as_ref()
                    .map(|t| ts_from_wire("observed", t))
                    .transpose()?,
            })),
            Some(W::DocumentFlag(d)) => {
                let holder = d.holder.unwrap_or_default();
                Some(model::Payload::DocumentFlag(model::DocumentFlag {
                    document_kind: match DocumentKind::try_from(d.document_kind) {
                        Ok(DocumentKind::Passport) => model::DocumentKind::Passport,
                        Ok(DocumentKind::NationalId) => model::DocumentKind::NationalId,
                        Ok(DocumentKind::Visa) => model::DocumentKind::Visa,
                        Ok(DocumentKind::ResidencePermit) => model::DocumentKind::ResidencePermit,
                        Ok(DocumentKind::TravelDocument) => model::DocumentKind::TravelDocument,
                        Ok(DocumentKind::Other) => model::DocumentKind::Other,
                        _ => return bad(format!("document_kind {} is unknown", d.document_kind)),
                    },
                    issuing_country: d.issuing_country,
                    document_number: d.document_number,
                    holder: model::Holder {
                        name: holder.name,
                        birth_date: holder.birth_date,
                        nationality: holder.nationality,
                    },
                    fraud_indicators: d.fraud_indicators,
                    detected_at: place_from_wire(d.detected_at),
                }))
            }
            Some(W::CargoNotice(c)) => Some(model::Payload::CargoNotice(model::CargoNotice {
                container_id: c.container_id,
                bill_of_lading: c.bill_of_lading,
                conveyance: match Conveyance::try_from(c.conveyance) {
                    Ok(Conveyance::Truck) => model::Conveyance::Truck,
                    Ok(Conveyance::Vessel) => model::Conveyance::Vessel,
                    Ok(Conveyance::Rail) => model::Conveyance::Rail,
                    Ok(Conveyance::Air) => model::Conveyance::Air,
                    _ => return bad(format!("conveyance {} is unknown", c.conveyance)),
                },
                origin: place_from_wire(c.origin),
                destination: place_from_wire(c.destination),
                transit_countries: c.transit_countries,
                risk_score: c.risk_score,
                indicators: c.indicators,
                recommended_action: match RecommendedAction::try_from(c.recommended_action) {
                    Ok(RecommendedAction::Monitor) => model::RecommendedAction::Monitor,
                    Ok(RecommendedAction::Inspect) => model::RecommendedAction::Inspect,
                    Ok(RecommendedAction::Hold) => model::RecommendedAction::Hold,
                    _ => {
                        return bad(format!(
                            "recommended_action {} is unknown",
                            c.recommended_action
                        ));
                    }
                },
            })),
        };
        Ok(model::Envelope {
            id: model::MessageId(e.message_id),
            originator,
            created,
            status,
            message_type,
            references: e.references.into_iter().map(model::MessageId).collect(),
            handling,
            expires,
            kind,
            payload,
            to: participants(&e.to, "to")?,
            grading: match e.grading.as_str() {
                "" => None,
                g => Some(
                    g.parse()
                        .map_err(|e: String| WireError(format!("grading: {e}")))?,
                ),
            },
            controlled: e.controlled,
            consent: participants(&e.consent, "consent")?,
        })
    }
}

/// The participant codes of list `field`, each one the hub knows.
fn participants(codes: &[String], field: &str) -> Result<Vec<Ministry>, WireError> {
    codes
        .iter()
        .map(|c| {
            c.parse::<Ministry>()
                .map_err(|_| WireError(format!("unknown participant `{c}` in `{field}`")))
        })
        .collect()
}

pub fn status_to_wire(s: model::Status) -> Status {
    match s {
        model::Status::Actual => Status::Actual,
        model::Status::Exercise => Status::Exercise,
        model::Status::Test => Status::Test,
    }
}

fn type_to_wire(t: model::MessageType) -> MessageType {
    match t {
        model::MessageType::Alert => MessageType::Alert,
        model::MessageType::Update => MessageType::Update,
        model::MessageType::Cancel => MessageType::Cancel,
    }
}

fn handling_to_wire(h: model::Handling) -> Handling {
    match h {
        model::Handling::Clear => Handling::Clear,
        model::Handling::Green => Handling::Green,
        model::Handling::Amber => Handling::Amber,
        model::Handling::AmberStrict => Handling::AmberStrict,
        model::Handling::Red => Handling::Red,
    }
}

fn kind_to_wire(k: model::Kind) -> Kind {
    match k {
        model::Kind::CaravanAlert => Kind::CaravanAlert,
        model::Kind::DocumentFlag => Kind::DocumentFlag,
        model::Kind::CargoNotice => Kind::CargoNotice,
    }
}

fn document_kind_to_wire(k: model::DocumentKind) -> DocumentKind {
    match k {
        model::DocumentKind::Passport => DocumentKind::Passport,
        model::DocumentKind::NationalId => DocumentKind::NationalId,
        model::DocumentKind::Visa => DocumentKind::Visa,
        model::DocumentKind::ResidencePermit => DocumentKind::ResidencePermit,
        model::DocumentKind::TravelDocument => DocumentKind::TravelDocument,
        model::DocumentKind::Other => DocumentKind::Other,
    }
}

fn conveyance_to_wire(c: model::Conveyance) -> Conveyance {
    match c {
        model::Conveyance::Truck => Conveyance::Truck,
        model::Conveyance::Vessel => Conveyance::Vessel,
        model::Conveyance::Rail => Conveyance::Rail,
        model::Conveyance::Air => Conveyance::Air,
    }
}

fn action_to_wire(a: model::RecommendedAction) -> RecommendedAction {
    match a {
        model::RecommendedAction::Monitor => RecommendedAction::Monitor,
        model::RecommendedAction::Inspect => RecommendedAction::Inspect,
        model::RecommendedAction::Hold => RecommendedAction::Hold,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    #[test]
    fn envelopes_survive_the_round_trip() {
        let e = model::Envelope {
            id: "GT-MINGOB-000001".into(),
            originator: Ministry::GT_MINGOB,
            created: Timestamp(1_547_550_000_123),
            status: model::Status::Exercise,
            message_type: model::MessageType::Update,
            references: vec!["HN-SEDS-000001".into()],
            handling: model::Handling::AmberStrict,
            expires: Some(Timestamp(1_547_560_000_000)),
            kind: model::Kind::DocumentFlag,
            payload: Some(model::Payload::DocumentFlag(model::DocumentFlag {
                document_kind: model::DocumentKind::Passport,
                issuing_country: "HN".into(),
                document_number: "F4811902".into(),
                holder: model::Holder {
                    name: "Juan Pérez".into(),
                    birth_date: "1990-04-02".into(),
                    nationality: "HN".into(),
                },
                fraud_indicators: vec!["photo_substitution".into()],
                detected_at: model::Place {
                    name: "Agua Caliente".into(),
                    country: "GT".into(),
                    lat: Some(14.56),
                    lon: Some(-89.2),
                },
            })),
            to: vec![Ministry::US_DHS],
            grading: Some("B2".parse().unwrap()),
            controlled: true,
            consent: vec![Ministry::SV_MJSP],
        };
        let wire = pb::Envelope::from(&e);
        assert_eq!(model::Envelope::try_from(wire), Ok(e));
    }

    #[test]
    fn unknown_codes_are_refused() {
        let mut w = pb::Envelope {
            originator: "BZ-NEVER-DECLARED".into(),
            ..Default::default()
        };
        assert!(
            model::Envelope::try_from(w.clone())
                .unwrap_err()
                .0
                .contains("BZ-NEVER-DECLARED")
        );
        w.originator = "HN-SEDS".into();
        assert!(
            model::Envelope::try_from(w.clone())
                .unwrap_err()
                .0
                .contains("created")
        );
        w.created = Some(prost_types::Timestamp::default());
        assert!(
            model::Envelope::try_from(w)
                .unwrap_err()
                .0
                .contains("status")
        );
    }
}
