//! The scenario text the import writes: payload cells checked with the
//! scenario's own structs, skeleton payloads, and the YAML writer that
//! remembers which CSV cell each line came from.

use super::*;

/// The kind-specific payload check: the text must be a flow mapping with the
/// scenario file's keys for `kind`. Returns the latest `observed_at` in it.
pub(super) fn check_payload(text: &str, kind: Kind) -> Result<Option<Duration>, String> {
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
pub(super) fn skeleton_payload(kind: Kind, id: &str, from: Ministry, to: Option<&To>) -> String {
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
                Some(To::Recipients(list)) if list.contains(&Ministry::MX_SEGOB) => "MX",
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
pub(super) struct Yaml {
    pub(super) lines: Vec<(String, Option<(u64, Field)>)>,
}

impl Yaml {
    pub(super) fn push(&mut self, text: impl Into<String>, origin: Option<(u64, Field)>) {
        self.lines.push((text.into(), origin));
    }

    pub(super) fn text(&self) -> String {
        let mut s = String::new();
        for (l, _) in &self.lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }
}
