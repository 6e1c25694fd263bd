//! Export: a scenario's injects as MSEL rows (CSV, or a readable listing),
//! with the recipients the policy gives each one and the payload as one line
//! of JSON in the scenario's keys.

use super::*;

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
pub(super) fn wrap(text: &str, width: usize, first: &str, rest: &str) -> String {
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
pub(super) fn rows(scenario: &Scenario) -> Vec<Vec<String>> {
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
            inj.handling.name().to_string(),
            inj.expires.map(format_duration).unwrap_or_default(),
            payload_cell(scenario, inj),
        ]);
    }
    rows
}

/// Labels of the injects `inj` updates or cancels.
pub(super) fn references(scenario: &Scenario, inj: &Inject) -> Vec<String> {
    inj.references
        .iter()
        .filter_map(|&r| scenario.injects.get(r)?.label.clone())
        .collect()
}

/// For every inject (by index), its recipients or why the hub refuses it:
/// the scenario's injects planned as a run plans them and published, in time
/// order, to a hub under the scenario's policy.
pub(super) fn route_injects(scenario: &Scenario) -> Vec<Result<Vec<Ministry>, String>> {
    let injects_only = Scenario {
        traffic: Vec::new(),
        ..scenario.clone()
    };
    let policy = scenario.policy.clone();
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

/// A one-line description of an inject for the `message` column.
pub(super) fn describe(scenario: &Scenario, inj: &Inject) -> String {
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

pub(super) fn no_strings(v: &&[String]) -> bool {
    v.is_empty()
}

#[derive(Serialize)]
pub(super) struct JPlace<'a> {
    pub(super) name: &'a str,
    pub(super) country: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) lon: Option<f64>,
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
pub(super) struct JCaravan<'a> {
    pub(super) caravan_id: &'a str,
    pub(super) location: JPlace<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) estimated_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) minors: Option<u32>,
    #[serde(skip_serializing_if = "no_strings")]
    pub(super) heading_to: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) observed_at: Option<String>,
}

#[derive(Serialize)]
pub(super) struct JDocument<'a> {
    pub(super) kind: &'static str,
    pub(super) issuer: &'a str,
    pub(super) number: &'a str,
}

#[derive(Serialize)]
pub(super) struct JHolder<'a> {
    pub(super) name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) birth_date: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) nationality: Option<&'a str>,
}

#[derive(Serialize)]
pub(super) struct JDocumentFlag<'a> {
    pub(super) document: JDocument<'a>,
    pub(super) holder: JHolder<'a>,
    #[serde(skip_serializing_if = "no_strings")]
    pub(super) indicators: &'a [String],
    pub(super) detected_at: JPlace<'a>,
}

#[derive(Serialize)]
pub(super) struct JCargo<'a> {
    pub(super) container: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) bill_of_lading: Option<&'a str>,
    pub(super) conveyance: &'static str,
    pub(super) origin: JPlace<'a>,
    pub(super) destination: JPlace<'a>,
    #[serde(skip_serializing_if = "no_strings")]
    pub(super) transit: &'a [String],
    pub(super) risk_score: f64,
    #[serde(skip_serializing_if = "no_strings")]
    pub(super) indicators: &'a [String],
    pub(super) recommended_action: &'static str,
}

pub(super) fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// The payload as one-line JSON with the scenario file's keys; `observed_at`
/// as an offset from the start.
pub(super) fn payload_json(scenario: &Scenario, p: &Payload) -> String {
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
                kind: d.document_kind.name(),
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
            conveyance: c.conveyance.name(),
            origin: (&c.origin).into(),
            destination: (&c.destination).into(),
            transit: &c.transit_countries,
            risk_score: c.risk_score,
            indicators: &c.indicators,
            recommended_action: c.recommended_action.name(),
        }),
    };
    json.unwrap_or_default()
}

/// The `payload` cell: a caravan's `observed_at` is left out when it is the
/// inject's own time (its default).
pub(super) fn payload_cell(scenario: &Scenario, inj: &Inject) -> String {
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
