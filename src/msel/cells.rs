//! One cell at a time: ministries, recipients, kinds, handling marks,
//! message types; quoting and comments for the YAML written from them.

use super::*;

pub(super) const MINISTRY_FORMS: &str = "expected a ministry code (US-DHS, GT-MINGOB, HN-SEDS, SV-MJSP, \
     MX-SEGOB, any case) or a country code (US, GT, HN, SV, MX)";

/// A ministry as a planner writes it: its code in any case, its country's
/// code or name, or its agency's short name.
pub(super) fn parse_ministry(s: &str) -> Result<Ministry, String> {
    let t = s.trim();
    let key = squash(t);
    if key == "gcif" || key.starts_with("gcifhub") || key == "hub" {
        return Err(format!(
            "`{t}` is the hub, not a ministry: the hub neither sends nor receives injects; \
             {MINISTRY_FORMS}"
        ));
    }
    // A declared participant's code (`CR-MSP`), in any case.
    if let Ok(m) = t.to_uppercase().parse::<Ministry>() {
        return Ok(m);
    }
    for m in Ministry::DEFAULTS {
        let code = m.code();
        let (country, agency) = code.split_once('-').unwrap_or((code, code));
        let name = match m {
            Ministry::US_DHS => &["unitedstates", "usa", "dhs"][..],
            Ministry::GT_MINGOB => &["guatemala", "mingob"][..],
            Ministry::HN_SEDS => &["honduras", "seds", "sedsh"][..],
            Ministry::SV_MJSP => &["elsalvador", "salvador", "mjsp"][..],
            Ministry::MX_SEGOB => &["mexico", "méxico", "segob"][..],
            _ => &[][..],
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
pub(super) enum To {
    Recipients(Vec<Ministry>),
    /// `all`: every other participant the sharing policy lets receive it.
    Everyone,
    Refused,
}

/// The `to` cell of a row; `all` (or `everyone`, `todos`) is every other
/// participant the policy lets receive it.
pub(super) fn parse_to(s: &str) -> Result<Option<To>, String> {
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

pub(super) fn parse_kind(s: &str) -> Result<Kind, String> {
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

/// A handling mark as a spreadsheet may write it: any spelling the
/// vocabulary reads, in any case, with or without `TLP`, punctuation dropped.
pub(super) fn parse_handling(s: &str) -> Result<Handling, String> {
    let t = s.trim();
    let key = |w: &str| -> String {
        let lower = w.to_lowercase();
        let lower = lower.strip_prefix("tlp").unwrap_or(&lower).to_string();
        lower.chars().filter(|c| c.is_alphanumeric()).collect()
    };
    let wanted = key(t);
    Handling::ALL
        .into_iter()
        .find(|h| h.spellings().iter().any(|w| key(w) == wanted))
        .ok_or_else(|| {
            format!(
                "unknown handling `{t}`: expected {} (TLP:AMBER and upper case are accepted \
                 too)",
                Handling::names().replace(", red", " or red")
            )
        })
}

pub(super) fn parse_type(s: &str) -> Result<MessageType, String> {
    let t = s.trim();
    if let Ok(m) = t.parse() {
        return Ok(m);
    }
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
pub(super) fn quote(s: &str) -> String {
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
pub(super) fn comment_text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

pub(super) fn country_name(cc: &str) -> &'static str {
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
pub(super) fn line_at(text: &str, byte: u64) -> u64 {
    let bytes = text.as_bytes();
    let mut b = usize::try_from(byte).unwrap_or(usize::MAX).min(bytes.len());
    while matches!(bytes.get(b), Some(b'\r' | b'\n')) {
        b += 1;
    }
    1 + bytes[..b].iter().filter(|&&c| c == b'\n').count() as u64
}
