//! One message written as a scenario inject, for `gcif-sim send`: the same
//! keys (`caravan_alert:`, `handling:`, `updates:`…), where `updates:` and
//! `cancels:` name the message id published before, and `id:` is the
//! message id to publish under.

use schemars::JsonSchema;
use serde::Deserialize;

use super::*;

/// A message to publish, as `gcif-sim send` reads it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMessage {
    /// The message id; it must begin with the sender's code (`HN-SEDS-…`).
    /// Default: the sender's code and the wall-clock time, e.g.
    /// `HN-SEDS-20261202T010203123`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub id: Option<Spanned<String>>,
    /// Accepted (and ignored) so that an inject copied from a scenario works.
    #[serde(default)]
    pub at: Option<Dur>,
    /// The sender; when given, it must be the one `--as` names.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub from: Option<Spanned<String>>,
    /// Default green.
    #[serde(default)]
    pub handling: Option<Handling>,
    /// Default `exercise`.
    #[serde(default)]
    pub status: Option<Status>,
    /// The recipients the sender names (TLP:RED needs them).
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub to: Option<Vec<Spanned<String>>>,
    /// Admiralty grading, e.g. `B2`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub grading: Option<Spanned<String>>,
    /// Originator-controlled: not to be passed on without consent.
    #[serde(default)]
    pub controlled: Option<bool>,
    /// The participants it may be passed on to anyway.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub consent: Option<Vec<Spanned<String>>>,
    /// Makes this an UPDATE of the message with this id.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub updates: Option<Spanned<String>>,
    /// Makes this a CANCEL of the message with this id.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub cancels: Option<Spanned<String>>,
    /// The kind, needed only for a CANCEL that carries no payload.
    #[serde(default)]
    pub kind: Option<Kind>,
    /// The content goes stale this long after it is sent.
    #[serde(default)]
    pub expires: Option<Dur>,
    /// Free text, as in a scenario; not sent.
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub objective: Option<String>,
    #[serde(default)]
    pub expected_action: Option<String>,
    #[serde(default)]
    pub caravan_alert: Option<RawCaravan>,
    #[serde(default)]
    pub document_flag: Option<RawDocumentFlag>,
    #[serde(default)]
    pub cargo_notice: Option<RawCargo>,
}

/// Reads the message in `text` (named `file` in errors), sent by `sender`
/// now; `default_id` is its id unless the file gives one.
pub fn message(
    file: &str,
    text: &str,
    sender: Ministry,
    now: Timestamp,
    default_id: &str,
) -> Result<model::Envelope, ScenarioError> {
    let at_start = |message: String| ScenarioError {
        file: file.into(),
        line: 1,
        column: 1,
        message,
    };
    if text.trim().is_empty() {
        return Err(at_start(
            "the message is empty: give one payload, e.g. `caravan_alert:` with its fields".into(),
        ));
    }
    let raw: RawMessage = serde_saphyr::from_str(text).map_err(|e| yaml_error(file, &e))?;
    let v = Validator {
        file,
        agreement: None,
        keys: None,
    };
    if let Some(from) = &raw.from {
        let named = v.ministry(from)?;
        if named != sender {
            return v.err(
                from,
                format!("the message is from {named}, but it is sent --as {sender}"),
            );
        }
    }
    let payloads = [
        raw.caravan_alert.is_some(),
        raw.document_flag.is_some(),
        raw.cargo_notice.is_some(),
    ];
    if payloads.iter().filter(|p| **p).count() > 1 {
        return Err(at_start(
            "a message carries one payload: caravan_alert, document_flag or cargo_notice".into(),
        ));
    }
    let (message_type, reference) = match (&raw.updates, &raw.cancels) {
        (Some(_), Some(c)) => return v.err(c, "a message either updates or cancels, not both"),
        (Some(u), None) => (MessageType::Update, Some(u.value.clone())),
        (None, Some(c)) => (MessageType::Cancel, Some(c.value.clone())),
        (None, None) => (MessageType::Alert, None),
    };
    let payload = v.payload(
        (&raw.caravan_alert, &raw.document_flag, &raw.cargo_notice),
        Duration::MAX,
        now,
        now,
    )?;
    let kind = match (&payload, raw.kind) {
        (Some(p), Some(k)) if p.kind() != k => {
            return Err(at_start(format!(
                "`kind: {k}` does not match the {} payload",
                p.kind()
            )));
        }
        (Some(p), _) => p.kind(),
        (None, Some(k)) if message_type == MessageType::Cancel => k,
        (None, _) if message_type == MessageType::Cancel => {
            return Err(at_start(
                "a cancel without a payload needs `kind:` (caravan_alert, document_flag or \
                 cargo_notice), the kind of what it cancels"
                    .into(),
            ));
        }
        (None, _) => {
            return Err(at_start(
                "the message has no payload: give caravan_alert, document_flag or cargo_notice"
                    .into(),
            ));
        }
    };
    let id = match &raw.id {
        Some(id) if id.value.trim().is_empty() => return v.err(id, "the message id is empty"),
        Some(id) => id.value.trim().to_string(),
        None => default_id.to_string(),
    };
    Ok(model::Envelope {
        id: model::MessageId(id),
        originator: sender,
        created: now,
        status: raw.status.unwrap_or(Status::Exercise),
        message_type,
        references: reference.into_iter().map(model::MessageId).collect(),
        handling: raw.handling.unwrap_or_default(),
        expires: raw.expires.map(|d| now.after(d.0)),
        kind,
        payload,
        to: codes(&v, raw.to.as_deref())?,
        grading: match &raw.grading {
            None => None,
            Some(g) => Some(g.value.parse().or_else(|e: String| v.err(g, e))?),
        },
        controlled: raw.controlled.unwrap_or(false),
        consent: codes(&v, raw.consent.as_deref())?,
    })
}

/// Participant codes as a message names them: well formed, whether or not
/// this process has read the agreement that lists them (the hub checks that).
fn codes(
    v: &Validator<'_>,
    list: Option<&[Spanned<String>]>,
) -> Result<Vec<Ministry>, ScenarioError> {
    let mut out = Vec::new();
    for c in list.unwrap_or_default() {
        let m = Ministry::declare(c.value.trim(), None).or_else(|e| v.err(c, e.to_string()))?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}
