//! The after-action review: every expectation condition by condition, and
//! every inject as an MSEL row, expected against actual.

use super::*;

pub(super) fn review(
    h: &mut String,
    run: &RunDir,
    a: &Analysis,
    start: Option<DateTime<FixedOffset>>,
) {
    let s = &run.summary;
    h.push_str("<h2 id=review>After-action review</h2>\n");
    h.push_str(
        "<p class=sub>Each expectation of the scenario, condition by condition, and each inject \
         as a Master Scenario Events List row: what was expected, what happened, and when. \
         Times are simulated time since the start and the scenario's local clock.</p>\n",
    );
    h.push_str("<h3>Expectations</h3>\n");
    if s.expectations.is_empty() {
        h.push_str("<p>The scenario sets no expectations.</p>\n");
    } else {
        h.push_str(
            "<table id=aar-expectations><thead><tr><th>#</th><th>Expectation</th><th>Expected</th>\
             <th>Actual</th><th>Outcome</th><th>When</th></tr></thead><tbody>\n",
        );
        for (i, v) in s.expectations.iter().enumerate() {
            let overall = if v.ok {
                pill("met", "met")
            } else {
                let w = worst(v.checks.iter().map(|c| c.outcome)).unwrap_or(Outcome::Failed);
                pill(w.label(), &format!("not met: {}", w.label()))
            };
            let _ = writeln!(
                h,
                "<tr class=group data-ok={}><td>{}</td><td colspan=5>{} {}{}</td></tr>",
                v.ok,
                i + 1,
                esc(&v.name),
                overall,
                v.inject
                    .as_ref()
                    .map(|j| format!(" <span class=small>inject {}</span>", esc(j)))
                    .unwrap_or_default()
            );
            if v.checks.is_empty() {
                let _ = writeln!(
                    h,
                    "<tr><td></td><td></td><td colspan=2>{}</td><td>{}</td><td></td></tr>",
                    esc(&v.detail),
                    pill(
                        if v.ok { "met" } else { "failed" },
                        if v.ok { "met" } else { "failed" }
                    )
                );
            }
            for c in &v.checks {
                let _ = writeln!(
                    h,
                    "<tr class=check data-outcome={}><td></td><td></td><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
                    c.outcome.label(),
                    esc(&c.expected),
                    esc(&c.actual),
                    pill(c.outcome.label(), c.outcome.label()),
                    time_cell(start, c.t)
                );
            }
        }
        h.push_str("</tbody></table>\n");
    }

    h.push_str("<h3>Injects</h3>\n");
    let Some(scenario) = &run.scenario else {
        h.push_str(
            "<p class=warn>The scenario is not available, so the injects cannot be listed.</p>\n",
        );
        return;
    };
    if scenario.injects.is_empty() {
        h.push_str("<p>The scenario has no scripted injects (generated traffic only).</p>\n");
        return;
    }
    h.push_str(
        "<table id=aar-injects><thead><tr><th>Time</th><th>Inject</th><th>Message</th>\
         <th>Objective · expected action</th><th>Expected outcome</th><th>Actual outcome</th>\
         <th>Outcome</th></tr></thead><tbody>\n",
    );
    for (i, inj) in scenario.injects.iter().enumerate() {
        let m = a.of_inject(i);
        let label = inj.label.clone().unwrap_or_else(|| format!("#{}", i + 1));
        let related: Vec<&Verdict> = s
            .expectations
            .iter()
            .filter(|v| inj.label.is_some() && v.inject == inj.label)
            .collect();
        let ty = match inj.message_type {
            MessageType::Alert => String::new(),
            MessageType::Update | MessageType::Cancel => {
                let of: Vec<String> = inj
                    .references
                    .iter()
                    .map(|&r| {
                        scenario.injects[r]
                            .label
                            .clone()
                            .unwrap_or_else(|| format!("#{}", r + 1))
                    })
                    .collect();
                format!(
                    "<br><span class=small>{} of {}</span>",
                    inj.message_type.name(),
                    esc(&of.join(", "))
                )
            }
        };
        let mut message = String::new();
        if let Some(text) = &inj.message {
            let _ = write!(message, "{}<br>", esc(text));
        }
        if let Some(m) = m
            && let Some(c) = &m.content
        {
            let _ = write!(message, "<span class=small>{}</span>", esc(c));
        }
        let mut intent = String::new();
        if let Some(o) = &inj.objective {
            let _ = write!(intent, "<b>Objective:</b> {}", esc(o));
        }
        if let Some(x) = &inj.expected_action {
            if !intent.is_empty() {
                intent.push_str("<br>");
            }
            let _ = write!(intent, "<b>Expected action:</b> {}", esc(x));
        }
        if intent.is_empty() {
            intent.push_str("<span class=small>—</span>");
        }
        let expected = if related.is_empty() {
            "Accepted by the hub and delivered to every participant the policy allows \
             <span class=small>(no expectation names this inject)</span>"
                .to_string()
        } else {
            related
                .iter()
                .flat_map(|v| v.checks.iter().map(|c| esc(&c.expected)))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let (actual, outcome) = match m {
            None => (
                "Not found in the event log".to_string(),
                pill("missing", "missing"),
            ),
            Some(m) => inject_actual(m, &related),
        };
        let _ = writeln!(
            h,
            "<tr data-inject=\"{}\">{}<td><b>{}</b><br>{} · {}{}<br>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&label),
            time_cell(start, Some(inj.at.as_millis() as u64)),
            esc(&label),
            esc(inj.from.code()),
            kind_chip(inj.kind),
            ty,
            m.map(|m| msg_link(&m.id.0)).unwrap_or_default(),
            message,
            intent,
            expected,
            actual,
            outcome
        );
    }
    h.push_str("</tbody></table>\n");
}

/// What happened to an inject's message, and the outcome pill.
pub(super) fn inject_actual(m: &Msg, related: &[&Verdict]) -> (String, String) {
    let at = m.at.or(m.published).unwrap_or(0);
    let mut out = Vec::new();
    if let Some((t, reason)) = &m.rejected {
        out.push(format!(
            "Refused by the hub after {}: {}",
            human(t.saturating_sub(at)),
            esc(reason)
        ));
    } else if let Some(t) = m.accepted {
        out.push(format!("Accepted after {}", human(t.saturating_sub(at))));
        let got: Vec<String> = m
            .recipients
            .iter()
            .map(|r| match m.delivered.get(r) {
                Some((t, _)) => format!("{} after {}", r.code(), human(t.saturating_sub(at))),
                None => format!("{} <b>never</b>", r.code()),
            })
            .collect();
        if got.is_empty() {
            out.push("No recipient under the policy".to_string());
        } else {
            out.push(format!("Delivered: {}", got.join(", ")));
        }
        for w in &m.withheld {
            out.push(format!("Withheld from {}: {}", w.to.code(), esc(&w.reason)));
        }
        for r in &m.redacted {
            out.push(format!(
                "{}'s copy without {}: {}",
                r.to.code(),
                esc(&r.fields.join(", ")),
                esc(&r.reason)
            ));
        }
    } else if m.published.is_some() {
        out.push("Published, never answered by the hub".to_string());
    } else {
        out.push("Never published".to_string());
    }
    if m.n_retries > 0 || m.n_duplicates > 0 {
        out.push(format!(
            "<span class=small>{} transmissions, {} retries, {} duplicates discarded</span>",
            m.n_tx, m.n_retries, m.n_duplicates
        ));
    }
    let outcome = if !related.is_empty() {
        match worst(
            related
                .iter()
                .flat_map(|v| v.checks.iter().map(|c| c.outcome)),
        ) {
            Some(o) => pill(o.label(), o.label()),
            None if related.iter().all(|v| v.ok) => pill("met", "met"),
            None => pill("failed", "failed"),
        }
    } else if m.rejected.is_some() {
        pill("refused", "refused")
    } else if m.accepted.is_some() && m.recipients.iter().all(|r| m.delivered.contains_key(r)) {
        pill("met", "delivered")
    } else {
        pill("missing", "missing")
    };
    (out.join("<br>"), outcome)
}
