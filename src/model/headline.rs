//! A message in one readable line, for terminals (`gcif-sim node` prints
//! each message it receives this way).

use super::{Envelope, MessageType, Payload, Place};

fn place(p: &Place) -> String {
    format!("{} ({})", p.name, p.country)
}

impl Envelope {
    /// `HN-SEDS-000001 ALERT caravan_alert from HN-SEDS [green, exercise]:
    /// CAR-2019-001 at San Pedro Sula (HN), ~800 people, heading to Tecún Umán`.
    pub fn headline(&self) -> String {
        let thread = match self.message_type {
            MessageType::Alert => "ALERT".to_string(),
            t => format!(
                "{} of {}",
                t.name().to_uppercase(),
                self.references
                    .iter()
                    .map(|r| r.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let what = match &self.payload {
            None => "(no payload)".to_string(),
            Some(Payload::CaravanAlert(c)) => {
                let mut s = format!("{} at {}", c.caravan_id, place(&c.location));
                if let Some(n) = c.estimated_size {
                    s += &format!(", ~{n} people");
                }
                if let Some(n) = c.minors {
                    s += &format!(" ({n} minors)");
                }
                if !c.heading_to.is_empty() {
                    s += &format!(", heading to {}", c.heading_to.join(", "));
                }
                s
            }
            Some(Payload::DocumentFlag(d)) => format!(
                "{} {} {} of {:?}, seen at {}{}",
                d.issuing_country,
                d.document_kind,
                if d.document_number.is_empty() {
                    "(number withheld)"
                } else {
                    &d.document_number
                },
                d.holder.name,
                place(&d.detected_at),
                if d.fraud_indicators.is_empty() {
                    String::new()
                } else {
                    format!(": {}", d.fraud_indicators.join(", "))
                }
            ),
            Some(Payload::CargoNotice(c)) => format!(
                "{} by {}, {} → {}, risk {:.2}, {}",
                c.container_id,
                c.conveyance,
                place(&c.origin),
                place(&c.destination),
                c.risk_score,
                c.recommended_action
            ),
        };
        let mut marks = format!("{}, {}", self.handling, self.status);
        if let Some(g) = self.grading {
            marks += &format!(", graded {g}");
        }
        if !self.to.is_empty() {
            let to: Vec<&str> = self.to.iter().map(|m| m.code()).collect();
            marks += &format!(", to {}", to.join(" "));
        }
        if self.controlled {
            marks += ", originator-controlled";
        }
        format!(
            "{} {thread} {} from {} [{marks}]: {what}",
            self.id, self.kind, self.originator
        )
    }
}
