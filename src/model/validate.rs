//! The checks every message must pass, whatever the policy or history:
//! [`Envelope::validate`], with the limits on every field.

use super::*;

impl Envelope {
    /// The longest message id accepted.
    pub const MAX_ID_LEN: usize = 128;

    /// How far ahead of the hub's clock `created` may be: clock skew, and an
    /// exercise whose clock runs faster than the hub's (`run --live --speed`
    /// against a hub on the wall clock gets ahead of it by the scenario's
    /// length, less the real time it takes; a week covers every shipped
    /// scenario at any speed), while a clock years off is refused.
    pub const MAX_AHEAD: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

    /// Checks everything about the envelope that does not depend on policy or on
    /// what the hub has seen before. `now` is used only for expiry.
    pub fn validate(&self, now: Timestamp) -> Result<(), Invalid> {
        let bad = |s: String| Err(Invalid(s));
        let id = &self.id.0;
        if id.is_empty() {
            return bad("message id is empty".into());
        }
        if id.len() > Self::MAX_ID_LEN {
            return bad(format!(
                "message id is {} bytes long (at most {})",
                id.len(),
                Self::MAX_ID_LEN
            ));
        }
        if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return bad(format!(
                "message id {id:?} contains white space or control characters"
            ));
        }
        match (self.message_type, self.references.is_empty()) {
            (MessageType::Alert, false) => {
                return bad("an ALERT must not reference other messages".into());
            }
            (MessageType::Update | MessageType::Cancel, true) => {
                return bad(format!(
                    "an {} must reference the message(s) it {}",
                    self.message_type.name().to_uppercase(),
                    if self.message_type == MessageType::Update {
                        "updates"
                    } else {
                        "cancels"
                    }
                ));
            }
            _ => {}
        }
        if self.to.contains(&self.originator) {
            return bad("the originator cannot be among its own recipients (`to`)".into());
        }
        if let Some(dup) = self
            .to
            .iter()
            .enumerate()
            .find(|(i, m)| self.to[..*i].contains(m))
        {
            return bad(format!("recipient {} is named twice in `to`", dup.1));
        }
        if self.references.iter().any(|r| r == &self.id) {
            return bad("a message cannot reference itself".into());
        }
        match &self.payload {
            None if self.message_type != MessageType::Cancel => {
                return bad(format!(
                    "an {} must carry a {} payload",
                    self.message_type.name().to_uppercase(),
                    self.kind
                ));
            }
            Some(p) if p.kind() != self.kind => {
                return bad(format!(
                    "kind is {} but the payload is a {}",
                    self.kind,
                    p.kind()
                ));
            }
            _ => {}
        }
        if self.created > now.after(Self::MAX_AHEAD) {
            return bad(format!(
                "created is {} ahead of the hub's clock (at most {} allowed)",
                crate::format::human(self.created.since(now)),
                crate::format::human(Self::MAX_AHEAD.as_millis() as u64)
            ));
        }
        if let Some(expires) = self.expires {
            if expires <= self.created {
                return bad("expires is not after created".into());
            }
            if expires <= now {
                return bad("the message had expired when it was published".into());
            }
        }
        self.within_limits()?;
        match &self.payload {
            Some(Payload::CaravanAlert(a)) => validate_caravan(a),
            Some(Payload::DocumentFlag(d)) => validate_document(d),
            Some(Payload::CargoNotice(c)) => validate_cargo(c),
            None => Ok(()),
        }
    }

    /// The longest text field accepted (a name, an id, a document number,
    /// one indicator), in bytes.
    pub const MAX_TEXT: usize = 256;
    /// The most entries a list field may have (references, recipients,
    /// consent, countries, indicators).
    pub const MAX_LIST: usize = 64;

    /// Every text field at most [`Envelope::MAX_TEXT`] bytes and without
    /// control characters, every list at most [`Envelope::MAX_LIST`] long.
    fn within_limits(&self) -> Result<(), Invalid> {
        let text = |field: &str, s: &str| -> Result<(), Invalid> {
            if s.len() > Self::MAX_TEXT {
                return Err(Invalid(format!(
                    "{field} is {} bytes long (at most {})",
                    s.len(),
                    Self::MAX_TEXT
                )));
            }
            if s.chars().any(char::is_control) {
                return Err(Invalid(format!("{field} contains control characters")));
            }
            Ok(())
        };
        let list = |field: &str, n: usize| -> Result<(), Invalid> {
            if n > Self::MAX_LIST {
                return Err(Invalid(format!(
                    "{field} has {n} entries (at most {})",
                    Self::MAX_LIST
                )));
            }
            Ok(())
        };
        let words = |field: &str, v: &[String]| -> Result<(), Invalid> {
            list(field, v.len())?;
            v.iter().try_for_each(|w| text(field, w))
        };
        list("references", self.references.len())?;
        for r in &self.references {
            text("a reference", &r.0)?;
        }
        list("to", self.to.len())?;
        list("consent", self.consent.len())?;
        let place = |field: &str, p: &Place| {
            text(&format!("{field}.name"), &p.name)?;
            text(&format!("{field}.country"), &p.country)
        };
        match &self.payload {
            Some(Payload::CaravanAlert(c)) => {
                text("caravan_id", &c.caravan_id)?;
                place("location", &c.location)?;
                words("heading_to", &c.heading_to)?;
            }
            Some(Payload::DocumentFlag(d)) => {
                text("issuing_country", &d.issuing_country)?;
                text("document_number", &d.document_number)?;
                text("holder.name", &d.holder.name)?;
                text("holder.birth_date", &d.holder.birth_date)?;
                text("holder.nationality", &d.holder.nationality)?;
                words("fraud_indicators", &d.fraud_indicators)?;
                place("detected_at", &d.detected_at)?;
            }
            Some(Payload::CargoNotice(c)) => {
                text("container_id", &c.container_id)?;
                text("bill_of_lading", &c.bill_of_lading)?;
                place("origin", &c.origin)?;
                place("destination", &c.destination)?;
                words("transit_countries", &c.transit_countries)?;
                words("indicators", &c.indicators)?;
            }
            None => {}
        }
        Ok(())
    }
}

fn require(field: &str, value: &str) -> Result<(), Invalid> {
    if value.trim().is_empty() {
        Err(Invalid(format!("{field} is empty")))
    } else {
        Ok(())
    }
}

/// The officially assigned ISO 3166-1 alpha-2 codes (249), space separated
/// and sorted.
const ISO_3166_ALPHA2: &str = concat!(
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE ",
    "BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD ",
    "CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM ",
    "DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF ",
    "GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ",
    "ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN ",
    "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME ",
    "MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA ",
    "NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM ",
    "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI ",
    "SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK ",
    "TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI ",
    "VN VU WF WS YE YT ZA ZM ZW ",
);

/// Whether `s` is an officially assigned ISO 3166-1 alpha-2 code, in upper
/// case (`HN`, not `hn`; `ZZ` and `UK` are not assigned).
pub fn is_country_code(s: &str) -> bool {
    s.len() == 2
        && s.bytes().all(|b| b.is_ascii_uppercase())
        && ISO_3166_ALPHA2
            .split_ascii_whitespace()
            .any(|code| code == s)
}

fn country(field: &str, value: &str) -> Result<(), Invalid> {
    if is_country_code(value) {
        Ok(())
    } else {
        Err(Invalid(format!(
            "{field} {value:?} is not an ISO 3166-1 alpha-2 country code"
        )))
    }
}

fn validate_place(field: &str, p: &Place) -> Result<(), Invalid> {
    require(&format!("{field}.name"), &p.name)?;
    country(&format!("{field}.country"), &p.country)?;
    if let Some(lat) = p.lat
        && !(-90.0..=90.0).contains(&lat)
    {
        return Err(Invalid(format!("{field}.lat {lat} is outside -90..90")));
    }
    if let Some(lon) = p.lon
        && !(-180.0..=180.0).contains(&lon)
    {
        return Err(Invalid(format!("{field}.lon {lon} is outside -180..180")));
    }
    Ok(())
}

fn validate_caravan(a: &CaravanAlert) -> Result<(), Invalid> {
    require("caravan_id", &a.caravan_id)?;
    validate_place("location", &a.location)?;
    if let (Some(size), Some(minors)) = (a.estimated_size, a.minors)
        && minors > size
    {
        return Err(Invalid(format!(
            "minors ({minors}) exceeds estimated_size ({size})"
        )));
    }
    Ok(())
}

fn validate_document(d: &DocumentFlag) -> Result<(), Invalid> {
    country("issuing_country", &d.issuing_country)?;
    require("document_number", &d.document_number)?;
    require("holder.name", &d.holder.name)?;
    if !d.holder.nationality.is_empty() {
        country("holder.nationality", &d.holder.nationality)?;
    }
    if !d.holder.birth_date.is_empty()
        && chrono::NaiveDate::parse_from_str(&d.holder.birth_date, "%Y-%m-%d").is_err()
    {
        return Err(Invalid(format!(
            "holder.birth_date {:?} is not a YYYY-MM-DD date",
            d.holder.birth_date
        )));
    }
    if d.fraud_indicators.is_empty() {
        return Err(Invalid(
            "a document flag needs at least one fraud indicator".into(),
        ));
    }
    validate_place("detected_at", &d.detected_at)
}

fn validate_cargo(c: &CargoNotice) -> Result<(), Invalid> {
    require("container_id", &c.container_id)?;
    validate_place("origin", &c.origin)?;
    validate_place("destination", &c.destination)?;
    for t in &c.transit_countries {
        country("transit country", t)?;
    }
    if !(0.0..=1.0).contains(&c.risk_score) {
        return Err(Invalid(format!(
            "risk_score {} is outside 0..1",
            c.risk_score
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cargo(risk: f64) -> Envelope {
        Envelope::alert(
            "HN-SEDS-000001",
            Ministry::HN_SEDS,
            Timestamp(1_000),
            Payload::CargoNotice(CargoNotice {
                container_id: "MSCU1234565".into(),
                origin: Place {
                    name: "Puerto Cortés".into(),
                    country: "HN".into(),
                    ..Place::default()
                },
                destination: Place {
                    name: "Tapachula".into(),
                    country: "MX".into(),
                    ..Place::default()
                },
                transit_countries: vec!["GT".into()],
                risk_score: risk,
                ..CargoNotice::default()
            }),
        )
    }

    #[test]
    fn a_well_formed_notice_passes() {
        assert_eq!(cargo(0.91).validate(Timestamp(1_000)), Ok(()));
    }

    #[test]
    fn risk_outside_unit_interval_is_invalid() {
        for risk in [-0.1, 1.01, f64::NAN] {
            let err = cargo(risk).validate(Timestamp(1_000)).unwrap_err();
            assert!(err.0.contains("risk_score"), "{err}");
        }
    }

    #[test]
    fn references_must_match_the_message_type() {
        let mut e = cargo(0.5);
        e.references = vec!["X".into()];
        assert!(e.validate(Timestamp(0)).unwrap_err().0.contains("ALERT"));
        e.message_type = MessageType::Update;
        assert_eq!(e.validate(Timestamp(0)), Ok(()));
        e.references.clear();
        assert!(
            e.validate(Timestamp(0))
                .unwrap_err()
                .0
                .contains("reference")
        );
    }

    #[test]
    fn only_a_cancel_may_omit_the_payload() {
        let mut e = cargo(0.5);
        e.payload = None;
        assert!(e.validate(Timestamp(0)).is_err());
        e.message_type = MessageType::Cancel;
        e.references = vec!["HN-SEDS-000000".into()];
        assert_eq!(e.validate(Timestamp(0)), Ok(()));
    }

    #[test]
    fn an_expired_message_is_invalid() {
        let mut e = cargo(0.5);
        e.expires = Some(Timestamp(5_000));
        assert_eq!(e.validate(Timestamp(4_999)), Ok(()));
        assert!(
            e.validate(Timestamp(5_000))
                .unwrap_err()
                .0
                .contains("expired")
        );
    }

    #[test]
    fn text_and_lists_have_limits() {
        let mut e = cargo(0.5);
        if let Some(Payload::CargoNotice(c)) = &mut e.payload {
            c.bill_of_lading = "B".repeat(Envelope::MAX_TEXT + 1);
        }
        let err = e.validate(Timestamp(1_000)).unwrap_err();
        assert!(err.0.contains("bill_of_lading is 257 bytes long"), "{err}");
        let mut e = cargo(0.5);
        if let Some(Payload::CargoNotice(c)) = &mut e.payload {
            c.indicators = vec!["x".into(); Envelope::MAX_LIST + 1];
        }
        let err = e.validate(Timestamp(1_000)).unwrap_err();
        assert!(err.0.contains("indicators has 65 entries"), "{err}");
        let mut e = cargo(0.5);
        if let Some(Payload::CargoNotice(c)) = &mut e.payload {
            c.origin.name = "Puerto\u{7}Cortés".into();
        }
        assert!(
            e.validate(Timestamp(1_000))
                .unwrap_err()
                .0
                .contains("control characters")
        );
    }

    #[test]
    fn kind_must_match_payload() {
        let mut e = cargo(0.5);
        e.kind = Kind::CaravanAlert;
        assert!(e.validate(Timestamp(0)).unwrap_err().0.contains("payload"));
    }

    #[test]
    fn country_codes_are_the_assigned_ones_and_created_is_not_far_ahead() {
        assert_eq!(super::ISO_3166_ALPHA2.split_ascii_whitespace().count(), 249);
        for ok in ["HN", "GT", "SV", "MX", "US", "CR", "PA", "BZ", "CO"] {
            assert!(is_country_code(ok), "{ok}");
        }
        for bad in ["ZZ", "UK", "hn", "HND", ""] {
            assert!(!is_country_code(bad), "{bad}");
        }
        let mut e = cargo(0.5);
        e.created = Timestamp(1_000 + 8 * 24 * 3_600_000);
        let err = e.validate(Timestamp(1_000)).unwrap_err();
        assert!(err.0.contains("ahead of the hub's clock"), "{err:?}");
        e.created = Timestamp(1_000 + 3 * 24 * 3_600_000);
        assert!(
            e.validate(Timestamp(1_000)).is_ok(),
            "a sped-up exercise is tolerated"
        );
    }
}
