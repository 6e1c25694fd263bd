//! `gcif-sim policy explain` and `policy diff`: who would receive a message
//! under an agreement, field by field, with the rule and reason behind each
//! line; and what changes for whom between two agreements.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::fields::{self, FIELDS, Value};
use super::{Decision, Policy, Routing};
use crate::model::{
    CaravanAlert, CargoNotice, DocumentFlag, DocumentKind, Envelope, Handling, Holder, Kind,
    Ministry, Payload, Place, Timestamp,
};

/// What one participant gets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub to: Ministry,
    pub role: String,
    pub receives: bool,
    /// The rule (or built-in step) that decided, e.g. `rule `cargo-to-signatories` (41:5)`.
    pub by: String,
    pub reason: String,
    /// For a recipient: each field the message carries, and what it gets of it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldLine>,
}

/// One field of one recipient's copy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldLine {
    pub field: String,
    /// `kept`, `removed`, `generalised` or `pseudonymised`.
    pub treatment: String,
    /// The redaction's reason, when changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Who receives `env`, and what, under one policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub agreement: String,
    /// `a document flag from GT-MINGOB, TLP:GREEN, exercise`.
    pub message: String,
    /// Why the hub would refuse it, if it would.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    pub lines: Vec<Line>,
}

/// Explains how `policy` routes `env`.
pub fn explain(policy: &Policy, env: &Envelope) -> Explanation {
    let message = format!(
        "a {} from {}, {}, {}{}{}",
        env.kind.label(),
        env.originator,
        env.handling.label(),
        env.status.name(),
        env.grading
            .map_or(String::new(), |g| format!(", graded {g}")),
        if env.to.is_empty() {
            String::new()
        } else {
            let to: Vec<&str> = env.to.iter().map(|m| m.code()).collect();
            format!(", addressed to {}", to.join(", "))
        }
    );
    let mut out = Explanation {
        agreement: policy.name().to_string(),
        message,
        refused: None,
        lines: Vec::new(),
    };
    let (recipients, withheld) = match policy.route(env, &[]) {
        Routing::Rejected { reason } => {
            out.refused = Some(reason);
            return out;
        }
        Routing::Accepted {
            recipients,
            withheld,
            ..
        } => (recipients, withheld),
    };
    let withheld: BTreeMap<Ministry, String> =
        withheld.into_iter().map(|w| (w.to, w.reason)).collect();
    for m in policy.participants().filter(|&m| m != env.originator) {
        let member = policy.member(m).expect("a participant").clone();
        let rule = policy.first_rule(env, m, &member);
        let receives = recipients.contains(&m);
        let by = match (receives, rule) {
            (true, Some(r)) => r.label(),
            (false, Some(r)) if r.decision == Decision::Withhold => r.label(),
            // Shared by the rules, left out by a later step.
            (false, Some(_)) => later_step(policy, env, m),
            (_, None) => "no rule matches".to_string(),
        };
        let reason = if receives {
            rule.map(|r| r.reason.clone()).unwrap_or_default()
        } else {
            withheld.get(&m).cloned().unwrap_or_default()
        };
        let fields = if receives {
            field_lines(policy, env, m)
        } else {
            Vec::new()
        };
        out.lines.push(Line {
            to: m,
            role: member.role,
            receives,
            by,
            reason,
            fields,
        });
    }
    out
}

/// The step after the share rules that left `m` out.
fn later_step(policy: &Policy, env: &Envelope, m: Ministry) -> String {
    let member = policy.member(m).expect("a participant");
    if let Some(limit) = policy.agreement().handling.get(&env.handling)
        && let Some(to) = &limit.to
        && !to.selects(m, &member.role)
    {
        return format!("the {} limit ({})", env.handling.label(), limit.at);
    }
    if member.status != env.status {
        return "status".to_string();
    }
    "named recipients (`to`)".to_string()
}

/// Each field `env` carries, as recipient `m` gets it.
fn field_lines(policy: &Policy, env: &Envelope, m: Ministry) -> Vec<FieldLine> {
    let (_, redactions) = policy.copy_for(env, m);
    let role = policy.role_of(m).unwrap_or_default();
    // The redaction rule behind a changed field: the first that applies and names it.
    let rule_for = |path: &str| {
        policy
            .agreement()
            .redactions
            .iter()
            .find(|r| {
                (r.kinds.is_empty() || r.kinds.contains(&env.kind))
                    && r.who.selects(m, role)
                    && super::holds(&r.when, env, m)
                    && r.fields
                        .iter()
                        .any(|(p, _)| covers(fields::canonical(p, env.kind), path))
            })
            .map(|r| r.label())
    };
    FIELDS
        .iter()
        .filter(|f| f.kind == Some(env.kind))
        // A place is listed by its parts (a redaction of the place covers them).
        .filter(|f| f.ty != fields::Type::Place)
        .filter(|f| fields::value(env, f.path) != Value::Absent)
        .map(|f| {
            let by = redactions.iter().find_map(|r| {
                r.fields
                    .iter()
                    .find(|p| covers(p, f.path) && changes_part(r.how(p), p, f.path))
                    .map(|p| (r, p.as_str()))
            });
            FieldLine {
                field: f.path.to_string(),
                treatment: by.map_or("kept", |(r, p)| r.how(p)).to_string(),
                reason: by.map(|(r, _)| match rule_for(f.path) {
                    Some(label) => format!("{label}: {}", r.reason),
                    None => r.reason.clone(),
                }),
            }
        })
        .collect()
}

impl Explanation {
    /// As tables for a terminal: who receives it and why, then each field
    /// as each recipient gets it, then why each changed field was changed.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{} under {}", self.message, self.agreement);
        if let Some(r) = &self.refused {
            let _ = writeln!(out, "  refused by the hub: {r}");
            return out;
        }
        if self.lines.is_empty() {
            let _ = writeln!(out, "  nobody else takes part");
            return out;
        }
        for l in &self.lines {
            let _ = writeln!(
                out,
                "  {:<10} {:<10} {:<9} {}: {}",
                l.to.code(),
                l.role,
                if l.receives { "receives" } else { "withheld" },
                l.by,
                l.reason
            );
        }
        let receiving: Vec<&Line> = self.lines.iter().filter(|l| l.receives).collect();
        if receiving.is_empty() {
            return out;
        }
        // Every field any recipient's copy lists, in the catalogue's order.
        let rows: Vec<&str> = FIELDS
            .iter()
            .map(|f| f.path)
            .filter(|p| {
                receiving
                    .iter()
                    .any(|l| l.fields.iter().any(|g| g.field == *p))
            })
            .collect();
        let width = receiving
            .iter()
            .map(|l| l.to.code().len())
            .max()
            .unwrap_or(8)
            .max(13)
            + 1;
        let _ = write!(out, "\n  {:<22}", "field");
        for l in &receiving {
            let _ = write!(out, "{:<width$}", l.to.code());
        }
        trim_end(&mut out);
        let _ = writeln!(out);
        // (field, treatment, reason) → who.
        let mut notes: Vec<(Note, Vec<&str>)> = Vec::new();
        for row in rows {
            let _ = write!(out, "  {row:<22}");
            for l in &receiving {
                let cell = l.fields.iter().find(|g| g.field == row);
                let _ = write!(
                    out,
                    "{:<width$}",
                    cell.map_or("kept", |c| c.treatment.as_str())
                );
                if let Some(c) = cell
                    && let Some(why) = &c.reason
                {
                    let key = (row, c.treatment.as_str(), why.as_str());
                    match notes.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, who)) => who.push(l.to.code()),
                        None => notes.push((key, vec![l.to.code()])),
                    }
                }
            }
            trim_end(&mut out);
            let _ = writeln!(out);
        }
        for ((field, treatment, why), who) in notes {
            let _ = writeln!(out, "  · {field} {treatment} for {}: {why}", who.join(", "));
        }
        out
    }
}

/// Whether a redaction of `redacted` changes `path` (itself, or a part of
/// the place it names).
fn covers(redacted: &str, path: &str) -> bool {
    path == redacted
        || path
            .strip_prefix(redacted)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Whether redacting the place `redacted` as `how` changes its part `path`:
/// generalising rounds the coordinates; removing clears all but the country.
fn changes_part(how: &str, redacted: &str, path: &str) -> bool {
    if path == redacted {
        return true;
    }
    match how {
        "generalised" => path.ends_with(".lat") || path.ends_with(".lon"),
        _ => !path.ends_with(".country"),
    }
}

/// A note under the field table: field, treatment, reason.
type Note<'a> = (&'a str, &'a str, &'a str);

/// What groups changes: kind, recipient, field, before, after.
type GroupKey<'a> = (Kind, Option<Ministry>, Option<&'a str>, &'a str, &'a str);

/// Drops the spaces a padded last column leaves.
fn trim_end(s: &mut String) {
    s.truncate(s.trim_end_matches(' ').len());
}

/// A representative message of `kind` from `from` marked `handling`, with
/// every field filled, for explanations without `--inject`.
pub fn sample(kind: Kind, from: Ministry, handling: Handling) -> Envelope {
    let place = |name: &str, country: &str, lat: f64, lon: f64| Place {
        name: name.into(),
        country: country.into(),
        lat: Some(lat),
        lon: Some(lon),
    };
    let payload = match kind {
        Kind::CaravanAlert => Payload::CaravanAlert(CaravanAlert {
            caravan_id: "CARAVAN-SAMPLE".into(),
            location: place("San Pedro Sula", "HN", 15.5042, -88.0250),
            estimated_size: Some(1300),
            minors: Some(230),
            heading_to: vec!["GT".into(), "MX".into(), "US".into()],
            observed: Some(Timestamp(1_547_546_400_000)),
        }),
        Kind::DocumentFlag => Payload::DocumentFlag(DocumentFlag {
            document_kind: DocumentKind::Passport,
            issuing_country: "HN".into(),
            document_number: "F2236078".into(),
            holder: Holder {
                name: "Sample Holder".into(),
                birth_date: "1990-04-02".into(),
                nationality: "HN".into(),
            },
            fraud_indicators: vec!["altered_biodata_page".into()],
            detected_at: place("Tecún Umán", "GT", 14.6781, -92.1466),
        }),
        Kind::CargoNotice => Payload::CargoNotice(CargoNotice {
            container_id: "MSCU1234565".into(),
            bill_of_lading: "HNPCR-77812".into(),
            origin: place("Puerto Cortés", "HN", 15.8456, -87.9405),
            destination: place("Houston", "US", 29.7604, -95.3698),
            transit_countries: vec!["GT".into(), "MX".into()],
            risk_score: 0.91,
            indicators: vec!["route_anomaly".into()],
            ..CargoNotice::default()
        }),
    };
    Envelope {
        handling,
        ..Envelope::alert(
            format!("{}-SAMPLE", from.code()),
            from,
            Timestamp(0),
            payload,
        )
    }
}

/// One difference between two agreements for one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub message: String,
    pub kind: Kind,
    pub from: Ministry,
    pub handling: Handling,
    pub to: Option<Ministry>,
    pub field: Option<String>,
    pub before: String,
    pub after: String,
}

/// What changes between `a` and `b` for each of `messages` (explained under
/// each, with the status each policy gives the sender).
pub fn diff(a: &Policy, b: &Policy, messages: &[Envelope]) -> Vec<Change> {
    let mut out = Vec::new();
    for env in messages {
        let with_status = |p: &Policy| {
            let mut e = env.clone();
            if let Some(m) = p.member(e.originator) {
                e.status = m.status;
            }
            e
        };
        let ea = explain(a, &with_status(a));
        let eb = explain(b, &with_status(b));
        let said = |e: &Explanation| e.refused.clone().map(|r| format!("refused: {r}"));
        if ea.refused.is_some() || eb.refused.is_some() {
            if said(&ea) != said(&eb) {
                out.push(Change {
                    message: ea.message.clone(),
                    kind: env.kind,
                    from: env.originator,
                    handling: env.handling,
                    to: None,
                    field: None,
                    before: said(&ea).unwrap_or_else(|| "accepted".into()),
                    after: said(&eb).unwrap_or_else(|| "accepted".into()),
                });
            }
            continue;
        }
        let lines = |e: &Explanation| -> BTreeMap<Ministry, Line> {
            e.lines.iter().map(|l| (l.to, l.clone())).collect()
        };
        let (la, lb) = (lines(&ea), lines(&eb));
        let mut who: Vec<Ministry> = la.keys().chain(lb.keys()).copied().collect();
        who.sort();
        who.dedup();
        for m in who {
            let state = |l: Option<&Line>| match l {
                None => "not a participant".to_string(),
                Some(l) if l.receives => "receives".to_string(),
                Some(l) => format!("withheld ({})", l.reason),
            };
            let change = |field: Option<String>, before: String, after: String| Change {
                message: ea.message.clone(),
                kind: env.kind,
                from: env.originator,
                handling: env.handling,
                to: Some(m),
                field,
                before,
                after,
            };
            let (x, y) = (la.get(&m), lb.get(&m));
            if x.map(|l| l.receives) != y.map(|l| l.receives) {
                out.push(change(None, state(x), state(y)));
                continue;
            }
            let (Some(x), Some(y)) = (x, y) else { continue };
            let fa: BTreeMap<&str, &str> = x
                .fields
                .iter()
                .map(|f| (f.field.as_str(), f.treatment.as_str()))
                .collect();
            for f in &y.fields {
                let before = fa.get(f.field.as_str()).copied().unwrap_or("kept");
                if before != f.treatment {
                    out.push(change(
                        Some(f.field.clone()),
                        before.to_string(),
                        f.treatment.clone(),
                    ));
                }
            }
        }
    }
    out
}

/// How two policies' participants differ: who joins, leaves or changes role.
pub fn participant_changes(a: &Policy, b: &Policy) -> Vec<String> {
    let mut who: Vec<Ministry> = a.participants().chain(b.participants()).collect();
    who.sort();
    who.dedup();
    who.into_iter()
        .filter_map(|m| match (a.role_of(m), b.role_of(m)) {
            (Some(x), Some(y)) if x != y => Some(format!("{m}: {x} → {y}")),
            (Some(x), None) => Some(format!("{m}: {x} → not a participant")),
            (None, Some(y)) => Some(format!("{m}: joins as {y}")),
            _ => None,
        })
        .collect()
}

/// `changes` grouped for reading: one line per kind, recipient, field and
/// change, naming the senders and marks it holds for.
pub fn grouped(changes: &[Change]) -> Vec<String> {
    let mut groups: Vec<(GroupKey, Vec<(Ministry, Handling)>)> = Vec::new();
    for c in changes {
        let key = (
            c.kind,
            c.to,
            c.field.as_deref(),
            c.before.as_str(),
            c.after.as_str(),
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push((c.from, c.handling)),
            None => groups.push((key, vec![(c.from, c.handling)])),
        }
    }
    groups
        .into_iter()
        .map(|((kind, to, field, before, after), cases)| {
            let mut senders: Vec<Ministry> = cases.iter().map(|c| c.0).collect();
            senders.sort();
            senders.dedup();
            let mut marks: Vec<Handling> = cases.iter().map(|c| c.1).collect();
            marks.sort();
            marks.dedup();
            let marks = if marks.len() == Handling::ALL.len() {
                "any mark".to_string()
            } else {
                marks
                    .iter()
                    .map(|h| h.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let from: Vec<&str> = senders.iter().map(|m| m.code()).collect();
            let who = to.map_or("the hub".to_string(), |m| m.code().to_string());
            let what = match field {
                Some(f) => format!("{who} {f}: {before} → {after}"),
                None => format!("{who}: {before} → {after}"),
            };
            format!(
                "{} ({marks}; from {}): {what}",
                kind.label(),
                from.join(", ")
            )
        })
        .collect()
}
