//! The run report: one self-contained HTML file (inline CSS, SVG and
//! JavaScript; nothing fetched), readable on screen and in print. Its
//! sections: the scenario's header and how to reproduce the run, the
//! after-action review (every expectation and every inject, expected against
//! actual), the message-flow diagram, and the service measures.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset};
use serde_json::json;

use super::analysis::{Analysis, BUCKETS, Dist, Msg};
use super::rundir::{REPORT, RunDir};
use super::summary::{Outcome, Verdict, human, shell_word};
use crate::model::{Host, Kind, MessageType, Ministry};

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Simulated time since start, `+1d 02:03:04` (with `.mmm` when not on a second).
pub fn offset(t: u64) -> String {
    let (s, ms) = (t / 1000, t % 1000);
    let (d, h, m, s) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let frac = if ms > 0 {
        format!(".{ms:03}")
    } else {
        String::new()
    };
    if d > 0 {
        format!("+{d}d {h:02}:{m:02}:{s:02}{frac}")
    } else {
        format!("+{h:02}:{m:02}:{s:02}{frac}")
    }
}

/// The scenario's local clock at `t`, `2019-01-15 05:00`.
fn clock(start: Option<DateTime<FixedOffset>>, t: u64) -> String {
    match start {
        Some(s) => (s + chrono::Duration::milliseconds(t as i64))
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        None => String::new(),
    }
}

/// A `<td>` with both forms of a time.
fn time_cell(start: Option<DateTime<FixedOffset>>, t: Option<u64>) -> String {
    match t {
        Some(t) => format!(
            "<td class=t>{}<br><span class=small>{}</span></td>",
            offset(t),
            clock(start, t)
        ),
        None => "<td class=t>—</td>".to_string(),
    }
}

fn pill(class: &str, text: &str) -> String {
    format!("<span class=\"pill {class}\">{}</span>", esc(text))
}

fn kind_label(k: Kind) -> &'static str {
    match k {
        Kind::CaravanAlert => "caravan alert",
        Kind::DocumentFlag => "document flag",
        Kind::CargoNotice => "cargo notice",
    }
}

fn kind_chip(k: Kind) -> String {
    format!(
        "<span class=\"kind k-{}\"></span>{}",
        k.name(),
        kind_label(k)
    )
}

/// `1 fault`, `2 faults`, `3 deliveries`.
fn plural(n: usize, word: &str) -> String {
    match (n, word.strip_suffix('y')) {
        (1, _) => format!("1 {word}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {word}s"),
    }
}

/// A link that follows a message in the diagram.
fn msg_link(id: &str) -> String {
    format!(
        "<a href=\"#msg={0}\" data-msg=\"{0}\" class=mono>{0}</a>",
        esc(id)
    )
}

/// Renders the report of `run`.
pub fn render(run: &RunDir, a: &Analysis) -> String {
    let s = &run.summary;
    let start = DateTime::parse_from_rfc3339(&s.start).ok();
    let mut h = String::with_capacity(64 * 1024 + a.tx.len() * 40);
    let title = s.display_title();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\n\
         <meta name=generator content=\"gcif-sim {}\">\n<title>{} — gcif-sim run report</title>\n\
         <style>\n{}</style>\n</head>\n<body>\n<main>\n",
        esc(&s.version),
        esc(title),
        include_str!("report.css")
    );
    header(&mut h, run, a, start);
    review(&mut h, run, a, start);
    flow(&mut h, run, a);
    measures(&mut h, run, a, start);
    let _ = write!(
        h,
        "<p class=small style=\"margin-top:40px\">Made by gcif-sim {} from <code>{}</code>. \
         This file is self-contained: it opens offline and fetches nothing.</p>\n</main>\n",
        esc(&s.version),
        esc(&run.dir.display().to_string())
    );
    h.push_str("<script type=\"application/json\" id=\"flow-data\">");
    // `</` cannot end the script element early once escaped.
    h.push_str(&flow_data(run, a, start).to_string().replace("</", "<\\/"));
    h.push_str("</script>\n<script>\n");
    h.push_str(include_str!("report.js"));
    h.push_str("</script>\n</body>\n</html>\n");
    h
}

fn header(h: &mut String, run: &RunDir, a: &Analysis, start: Option<DateTime<FixedOffset>>) {
    let s = &run.summary;
    let title = s.display_title();
    let _ = write!(
        h,
        "<h1>{}</h1>\n<p class=sub>Scenario <b>{}</b> · <code>{}</code> · after-action report of a simulated run</p>\n",
        esc(title),
        esc(&s.scenario),
        esc(&s.file)
    );
    if let Some(d) = run.scenario.as_ref().and_then(|sc| sc.description.as_ref()) {
        let _ = writeln!(h, "<p>{}</p>", esc(d));
    }
    let participants: Vec<&str> = s.participants.iter().map(|m| m.code()).collect();
    let drain = s.end_ms.saturating_sub(s.duration_ms);
    let _ = writeln!(
        h,
        "<dl class=meta>\
         <dt>Start</dt><dd>{}</dd><dt>Seed</dt><dd class=mono>{}</dd>\
         <dt>Status</dt><dd>{}</dd><dt>Policy</dt><dd>{}</dd>\
         <dt>Simulated</dt><dd>{}{}</dd><dt>Participants</dt><dd>{}</dd>\
         <dt>Faults</dt><dd>{}</dd><dt>Made with</dt><dd>gcif-sim {}</dd></dl>",
        esc(&s.start),
        s.seed,
        esc(&s.status.to_uppercase()),
        esc(&s.policy),
        human(s.duration_ms),
        if drain > 0 {
            format!(" (+{} drain)", human(drain))
        } else {
            String::new()
        },
        esc(&participants.join(", ")),
        a.faults.len(),
        esc(&s.version)
    );
    // The verdict.
    let n = s.expectations.len();
    let failed: Vec<&Verdict> = s.expectations.iter().filter(|v| !v.ok).collect();
    let (class, head) = match (n, failed.len()) {
        (0, _) => ("ok", "No expectations were set for this run.".to_string()),
        (n, 0) => ("ok", format!("All {n} expectations met.")),
        (n, f) => ("bad", format!("{f} of {n} expectations not met.")),
    };
    let lost: usize = a
        .msgs
        .iter()
        .map(|m| {
            m.recipients
                .iter()
                .filter(|r| !m.delivered.contains_key(r))
                .count()
        })
        .sum();
    let _ = write!(
        h,
        "<div class=\"verdict {class}\" id=verdict><strong>{head}</strong>"
    );
    let _ = write!(
        h,
        " {} published, {} accepted, {} refused; {} made, {} missing; {}.",
        plural(s.published, "message"),
        s.accepted,
        s.rejected,
        plural(s.deliveries, "delivery"),
        lost,
        plural(a.faults.len(), "fault")
    );
    if !failed.is_empty() {
        h.push_str("<ul>");
        for v in failed {
            let _ = write!(h, "<li><b>{}</b>: {}</li>", esc(&v.name), esc(&v.detail));
        }
        h.push_str("</ul>");
    }
    h.push_str("</div>\n<div class=figures>");
    for (k, d) in &a.by_kind {
        let _ = write!(
            h,
            "<div class=figure><span>{}</span><b>{}</b><span>p50 · p99 {} · max {}</span></div>",
            kind_chip(*k),
            human(d.p50),
            human(d.p99),
            human(d.max)
        );
    }
    let retries: u32 = a.msgs.iter().map(|m| m.n_retries).sum();
    let dups: u32 = a.msgs.iter().map(|m| m.n_duplicates).sum();
    let _ = writeln!(
        h,
        "<div class=figure><span>transmissions</span><b>{}</b><span>{} retries · {} duplicates discarded</span></div></div>",
        a.tx.len(),
        retries,
        dups
    );
    let dir = shell_word(&run.dir.display().to_string());
    let copy = run.dir.join(super::rundir::SCENARIO);
    let _ = write!(
        h,
        "<h3>Reproduce this run</h3><pre class=cmd>{} --out {dir}\ngcif-sim report {dir}</pre>\n\
         <p class=small>From the directory the run was made in. {}Same scenario, same seed and the \
         same build (gcif-sim {}) give a byte-identical event log.{}</p>\n",
        esc(&s.command),
        if copy.is_file() {
            format!(
                "The scenario as played is kept with the run, so from anywhere: \
                 <code>gcif-sim run {} --seed {}</code>. ",
                esc(&shell_word(
                    &std::path::absolute(&copy)
                        .unwrap_or(copy.clone())
                        .display()
                        .to_string()
                )),
                s.seed
            )
        } else {
            String::new()
        },
        esc(&s.version),
        if start.is_none() {
            " (The start time could not be read.)"
        } else {
            ""
        }
    );
    for w in &run.warnings {
        let _ = writeln!(h, "<p class=warn>{}</p>", esc(w));
    }
}

/// The worst outcome of a verdict's failed checks.
fn worst(outcomes: impl Iterator<Item = Outcome>) -> Option<Outcome> {
    outcomes.filter(|o| !o.ok()).max_by_key(|o| match o {
        Outcome::Met => 0,
        Outcome::Late => 1,
        Outcome::Failed => 2,
        Outcome::Missing => 3,
        Outcome::Leaked => 4,
    })
}

fn review(h: &mut String, run: &RunDir, a: &Analysis, start: Option<DateTime<FixedOffset>>) {
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
fn inject_actual(m: &Msg, related: &[&Verdict]) -> (String, String) {
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

fn flow(h: &mut String, run: &RunDir, a: &Analysis) {
    let _ = &run;
    h.push_str("<h2 id=flow-section>Message flow</h2>\n");
    h.push_str(
        "<p class=sub>A lane per ministry and one for the GCIF hub; simulated time runs downwards. \
         Each arrow is one transmission (a publish to the hub or a delivery to a ministry), \
         from when it was sent to when it arrived.</p>\n",
    );
    h.push_str("<div id=flow-controls class=noprint>");
    h.push_str(
        "<button type=button id=flow-fit>Whole run</button>\
         <button type=button id=flow-in>Zoom in</button>\
         <button type=button id=flow-out>Zoom out</button>\
         <button type=button id=flow-up>↑ Earlier</button>\
         <button type=button id=flow-down>Later ↓</button>\
         <select id=flow-jump><option value=\"\">Jump to an inject or fault…</option></select>",
    );
    for k in Kind::ALL {
        let _ = write!(
            h,
            "<label><input type=checkbox data-kind={} checked> {}</label>",
            k.name(),
            kind_chip(k)
        );
    }
    h.push_str(
        "<input type=search id=flow-filter placeholder=\"Filter: message id, inject, content\" size=30></div>\n",
    );
    h.push_str(
        "<div class=legend>\
         <span><svg width=34 height=10><line x1=0 y1=5 x2=34 y2=5 stroke=#1565c0 stroke-width=2.6 /></svg> scripted inject</span>\
         <span><svg width=34 height=10><line x1=0 y1=5 x2=34 y2=5 stroke=#1565c0 stroke-width=1.4 /></svg> generated traffic</span>\
         <span><svg width=34 height=10><line x1=0 y1=5 x2=34 y2=5 stroke=#1565c0 stroke-width=1.6 stroke-dasharray=\"5 3\" /></svg> retry / redelivery</span>\
         <span><svg width=14 height=12><circle cx=7 cy=6 r=5 fill=#fff stroke=#1565c0 stroke-width=1.6 /></svg> duplicate, discarded</span>\
         <span><svg width=34 height=10><line x1=0 y1=5 x2=26 y2=5 stroke=#b3261e stroke-dasharray=\"2 3\" /><path d=\"M26,1L34,9M26,9L34,1\" stroke=#b3261e stroke-width=2 /></svg> failed (no answer, unreachable)</span>\
         <span><svg width=20 height=10><rect width=20 height=10 fill=\"rgba(179,38,30,.2)\" /></svg> crash</span>\
         <span><svg width=20 height=10><rect width=20 height=10 fill=\"rgba(230,81,0,.2)\" /></svg> partition</span>\
         <span><svg width=20 height=10><rect width=20 height=10 fill=\"rgba(138,90,0,.18)\" /></svg> degraded link</span>\
         </div>\n",
    );
    h.push_str("<div id=flow-status></div>\n<div id=flow-wrap><svg id=flow role=img aria-label=\"Message-flow diagram\"></svg><div id=tip></div></div>\n");
    h.push_str("<div id=flow-detail></div>\n");
    let _ = writeln!(
        h,
        "<noscript><p class=warn>The message-flow diagram needs JavaScript. The run had {} transmissions.</p></noscript>",
        a.tx.len()
    );
}

/// The diagram's data: compact arrays, decoded by report.js.
fn flow_data(
    run: &RunDir,
    a: &Analysis,
    start: Option<DateTime<FixedOffset>>,
) -> serde_json::Value {
    let lane_of: BTreeMap<Host, usize> = a.lanes.iter().enumerate().map(|(i, &h)| (h, i)).collect();
    let lane = |h: Host| lane_of.get(&h).copied().unwrap_or(0);
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
    let kind_ix = |k: Kind| Kind::ALL.iter().position(|&x| x == k).unwrap_or(0);
    let mut errors: Vec<String> = Vec::new();
    let mut error_ix = |e: &str| match errors.iter().position(|x| x == e) {
        Some(i) => i as i64,
        None => {
            errors.push(e.to_string());
            errors.len() as i64 - 1
        }
    };
    let msgs: Vec<serde_json::Value> = a
        .msgs
        .iter()
        .map(|m| {
            let fate = match (&m.rejected, m.accepted) {
                (Some((_, r)), _) => format!("refused: {r}"),
                (None, Some(_)) => format!(
                    "accepted; delivered to {} of {}",
                    m.recipients
                        .iter()
                        .filter(|r| m.delivered.contains_key(r))
                        .count(),
                    m.recipients.len()
                ),
                (None, None) => "never answered by the hub".to_string(),
            };
            json!([
                m.id.0,
                kind_ix(m.kind),
                lane(Host::Node(m.from)),
                m.label.clone().unwrap_or_default(),
                m.content.clone().unwrap_or_default(),
                fate
            ])
        })
        .collect();
    let tx: Vec<serde_json::Value> =
        a.tx.iter()
            .map(|t| {
                let (failed, err) = match &t.failed {
                    Some((ft, e)) => (*ft as i64, error_ix(e)),
                    None => (-1, -1),
                };
                json!([
                    t.msg,
                    lane(t.from),
                    lane(t.to),
                    t.attempt,
                    t.sent,
                    t.received.map(|r| r as i64).unwrap_or(-1),
                    failed,
                    u8::from(t.duplicate),
                    err
                ])
            })
            .collect();
    let faults: Vec<serde_json::Value> = a
        .faults
        .iter()
        .map(|f| {
            let kind = match f.kind {
                crate::events::FaultKind::Partition => "partition",
                crate::events::FaultKind::Crash => "crash",
                crate::events::FaultKind::Degrade => "degrade",
            };
            let lanes: Vec<usize> = f.targets.iter().map(|&h| lane(h)).collect();
            json!([kind, lanes, f.from, f.until, f.describe()])
        })
        .collect();
    // "Jump to" entries: each labelled inject's message, then each fault.
    let mut jumps: Vec<serde_json::Value> = Vec::new();
    for (i, m) in a.msgs.iter().enumerate() {
        let Some(label) = &m.label else { continue };
        let (lo, hi) =
            a.tx.iter()
                .filter(|t| t.msg == i)
                .fold((u64::MAX, 0), |(lo, hi), t| {
                    let end = t
                        .received
                        .or(t.failed.as_ref().map(|f| f.0))
                        .unwrap_or(t.sent);
                    (lo.min(t.sent), hi.max(end))
                });
        if lo > hi {
            continue;
        }
        let margin = (hi - lo).max(200) / 5;
        jumps.push(json!([
            format!("inject {label} ({})", offset(lo)),
            lo.saturating_sub(margin),
            hi + margin,
            i
        ]));
    }
    for f in &a.faults {
        let margin = (f.until - f.from) / 5;
        jumps.push(json!([
            format!("fault: {} ({})", f.describe(), offset(f.from)),
            f.from.saturating_sub(margin),
            f.until + 3 * margin,
            -1
        ]));
    }
    let (start_ms, offset_min) = match start {
        Some(s) => (s.timestamp_millis(), s.offset().local_minus_utc() / 60),
        None => (0, 0),
    };
    let _ = run;
    json!({
        "lanes": a.lanes.iter().map(|h| h.name()).collect::<Vec<_>>(),
        "kinds": kinds,
        "end": a.end,
        "startMs": start_ms,
        "offsetMin": offset_min,
        "msgs": msgs,
        "tx": tx,
        "errors": errors,
        "faults": faults,
        "jumps": jumps,
    })
}

/// A percentile chart: per row, the p50–p90 box, a whisker to p99 and a dot at
/// the maximum, on a logarithmic time axis.
fn latency_chart(id: &str, rows: &[(String, &str, &Dist)]) -> String {
    let row_h = 30.0;
    let (left, right, top) = (150.0, 20.0, 26.0);
    let width = 900.0;
    let height = top + row_h * rows.len() as f64 + 10.0;
    let max = rows.iter().map(|r| r.2.max).max().unwrap_or(1).max(100) as f64;
    let lo = 10f64.log10();
    let hi = (max * 1.5).log10();
    let x =
        |ms: u64| left + ((ms.max(10) as f64).log10() - lo) / (hi - lo) * (width - left - right);
    let mut out = format!(
        "<svg class=chart id=\"{id}\" viewBox=\"0 0 {width} {height}\" role=img aria-label=\"Delivery latency percentiles\">"
    );
    for &(ms, label) in &[
        (10u64, "10ms"),
        (100, "100ms"),
        (1_000, "1s"),
        (10_000, "10s"),
        (60_000, "1m"),
        (600_000, "10m"),
        (3_600_000, "1h"),
        (36_000_000, "10h"),
        (86_400_000, "1d"),
    ] {
        if (ms as f64) > max * 1.5 {
            break;
        }
        let _ = write!(
            out,
            "<line class=grid x1={0:.1} x2={0:.1} y1={1} y2={2} /><text x={0:.1} y=14 text-anchor=middle>{label}</text>",
            x(ms),
            top - 6.0,
            height - 6.0
        );
    }
    for (i, (label, color, d)) in rows.iter().enumerate() {
        let y = top + row_h * i as f64 + row_h / 2.0;
        let _ = write!(
            out,
            "<text x=4 y={:.1}>{}</text>\
             <line x1={:.1} x2={:.1} y1={y:.1} y2={y:.1} stroke={color} stroke-width=1.5 />\
             <rect x={:.1} y={:.1} width={:.1} height=12 fill={color} fill-opacity=0.35 stroke={color} />\
             <line x1={:.1} x2={:.1} y1={:.1} y2={:.1} stroke={color} stroke-width=2.5 />\
             <line x1={:.1} x2={:.1} y1={:.1} y2={:.1} stroke={color} stroke-width=2 />\
             <circle cx={:.1} cy={y:.1} r=3.5 fill={color} />\
             <title>{}: p50 {}, p90 {}, p99 {}, max {} ({} deliveries)</title>",
            y + 4.0,
            esc(label),
            x(d.p50),
            x(d.max),
            x(d.p50),
            y - 6.0,
            (x(d.p90) - x(d.p50)).max(1.5),
            x(d.p50),
            x(d.p50),
            y - 8.0,
            y + 8.0,
            x(d.p99),
            x(d.p99),
            y - 7.0,
            y + 7.0,
            x(d.max),
            esc(label),
            human(d.p50),
            human(d.p90),
            human(d.p99),
            human(d.max),
            d.n
        );
    }
    out.push_str("</svg>");
    out
}

/// Bars of the latency histogram, one group per bucket, one bar per kind.
fn histogram_chart(a: &Analysis) -> String {
    let (left, top, width, height) = (40.0, 10.0, 900.0, 190.0);
    let n_buckets = BUCKETS.len() + 1;
    let group_w = (width - left - 10.0) / n_buckets as f64;
    let max = a
        .by_kind
        .iter()
        .flat_map(|(_, d)| d.hist.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let plot_h = height - top - 40.0;
    let mut out = format!(
        "<svg class=chart id=latency-histogram viewBox=\"0 0 {width} {height}\" role=img aria-label=\"Delivery latency histogram\">"
    );
    let _ = write!(
        out,
        "<line class=axis x1={left} x2={} y1={1:.1} y2={1:.1} />",
        width - 10.0,
        top + plot_h
    );
    // A logarithmic count axis, so a tail of a few late deliveries shows
    // next to thousands of prompt ones.
    let scale = |n: u64| (1.0 + n as f64).log10() / (1.0 + max).log10() * plot_h;
    let mut tick = 1u64;
    while tick as f64 <= max {
        let ty = top + plot_h - scale(tick);
        let _ = write!(
            out,
            "<line class=grid x1={left} x2={} y1={ty:.1} y2={ty:.1} /><text x={:.1} y={:.1} text-anchor=end>{tick}</text>",
            width - 10.0,
            left - 4.0,
            ty + 3.5
        );
        tick *= 10;
    }
    let bar_w = group_w * 0.8 / a.by_kind.len().max(1) as f64;
    for b in 0..n_buckets {
        let gx = left + group_w * b as f64;
        let label = bucket_label(b);
        let _ = write!(
            out,
            "<text x={:.1} y={:.1} text-anchor=middle>{}</text>",
            gx + group_w / 2.0,
            top + plot_h + 14.0,
            esc(&label)
        );
        for (i, (k, d)) in a.by_kind.iter().enumerate() {
            let n = d.hist.get(b).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let hgt = scale(u64::from(n));
            let _ = write!(
                out,
                "<rect x={:.1} y={:.1} width={:.1} height={:.1} fill={}><title>{}: {n} deliveries {}</title></rect>",
                gx + group_w * 0.1 + bar_w * i as f64,
                top + plot_h - hgt,
                bar_w,
                hgt.max(1.0),
                color(*k),
                kind_label(*k),
                esc(&label)
            );
        }
    }
    let _ = write!(
        out,
        "<text x={left} y={:.1}>deliveries by latency bucket (logarithmic count axis; the highest bar = {})</text>",
        height - 6.0,
        max as u64
    );
    out.push_str("</svg>");
    out
}

/// A short name for latency bucket `b` of [`BUCKETS`]: `<250ms`, `<1m`, `≥3h`.
fn bucket_label(b: usize) -> String {
    let short = |ms: u64| match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{}s", ms / 1000),
        60_000..3_600_000 => format!("{}m", ms / 60_000),
        _ => format!("{}h", ms / 3_600_000),
    };
    match BUCKETS.get(b) {
        Some(&edge) => format!("<{}", short(edge)),
        None => format!("≥{}", short(BUCKETS[BUCKETS.len() - 1])),
    }
}

fn color(k: Kind) -> &'static str {
    match k {
        Kind::CaravanAlert => "#1565c0",
        Kind::DocumentFlag => "#8e24aa",
        Kind::CargoNotice => "#e65100",
    }
}

fn dist_cells(d: &Dist) -> String {
    format!(
        "<td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td>",
        d.n,
        human(d.p50),
        human(d.p90),
        human(d.p99),
        human(d.max)
    )
}

fn measures(h: &mut String, run: &RunDir, a: &Analysis, start: Option<DateTime<FixedOffset>>) {
    h.push_str("<h2 id=measures>Service measures</h2>\n");
    h.push_str("<h3>Delivery latency by kind</h3>\n<p class=sub>From a message's creation to its first receipt by each recipient.</p>\n");
    if a.by_kind.is_empty() {
        h.push_str("<p>No deliveries were made.</p>\n");
    } else {
        h.push_str("<table id=latency-by-kind><thead><tr><th>Kind</th><th class=num>deliveries</th><th class=num>p50</th><th class=num>p90</th><th class=num>p99</th><th class=num>max</th></tr></thead><tbody>");
        for (k, d) in &a.by_kind {
            let _ = write!(h, "<tr><td>{}</td>{}</tr>", kind_chip(*k), dist_cells(d));
        }
        h.push_str("</tbody></table>\n");
        let rows: Vec<(String, &str, &Dist)> = a
            .by_kind
            .iter()
            .map(|(k, d)| (kind_label(*k).to_string(), color(*k), d))
            .collect();
        h.push_str(&latency_chart("latency-kind-chart", &rows));
        h.push_str(
            "<p class=small>Box: p50 to p90; bar: p99; dot: maximum; logarithmic time axis.</p>\n",
        );
        h.push_str(&histogram_chart(a));

        h.push_str("<h3>Delivery latency by recipient</h3>\n");
        h.push_str("<table id=latency-by-recipient><thead><tr><th>Recipient</th><th>Kind</th><th class=num>deliveries</th><th class=num>p50</th><th class=num>p90</th><th class=num>p99</th><th class=num>max</th></tr></thead><tbody>");
        for (m, d) in &a.by_recipient {
            let _ = write!(
                h,
                "<tr class=group><td>{}</td><td>all kinds</td>{}</tr>",
                esc(m.code()),
                dist_cells(d)
            );
            for (k, r, d) in &a.by_kind_recipient {
                if r == m {
                    let _ = write!(
                        h,
                        "<tr><td></td><td>{}</td>{}</tr>",
                        kind_chip(*k),
                        dist_cells(d)
                    );
                }
            }
        }
        h.push_str("</tbody></table>\n");
        let rows: Vec<(String, &str, &Dist)> = a
            .by_recipient
            .iter()
            .map(|(m, d)| (m.code().to_string(), "#37474f", d))
            .collect();
        h.push_str(&latency_chart("latency-recipient-chart", &rows));
    }

    // Transmissions per message.
    h.push_str("<h3>Messages per inject</h3>\n<p class=sub>Transmissions each message took: its publish attempts plus every delivery attempt, redeliveries included.</p>\n");
    h.push_str("<table id=per-inject><thead><tr><th>Inject</th><th>Message</th><th class=num>recipients</th><th class=num>transmissions</th><th class=num>retries</th><th class=num>failed attempts</th><th class=num>duplicates discarded</th><th class=num>last receipt</th></tr></thead><tbody>");
    for m in a
        .msgs
        .iter()
        .filter(|m| m.label.is_some() || m.inject.is_some())
    {
        let at = m.at.or(m.published).unwrap_or(0);
        let last = m.delivered.values().map(|d| d.0).max();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td></tr>",
            esc(m.label.as_deref().unwrap_or("(unlabelled)")),
            msg_link(&m.id.0),
            m.recipients.len(),
            m.n_tx,
            m.n_retries,
            m.n_failed,
            m.n_duplicates,
            last.map(|t| format!("after {}", human(t.saturating_sub(at))))
                .unwrap_or_else(|| "—".into())
        );
    }
    // Totals per kind, generated traffic included.
    let mut totals: BTreeMap<Kind, (u32, u32, u32, u32, u32)> = BTreeMap::new();
    for m in &a.msgs {
        let t = totals.entry(m.kind).or_default();
        t.0 += 1;
        t.1 += m.n_tx;
        t.2 += m.n_retries;
        t.3 += m.n_failed;
        t.4 += m.n_duplicates;
    }
    for (k, (n, tx, retries, failed, dups)) in &totals {
        let _ = write!(
            h,
            "<tr class=group><td>all {}s</td><td>{n} messages</td><td class=num></td><td class=num>{tx} ({:.2} per message)</td><td class=num>{retries}</td><td class=num>{failed}</td><td class=num>{dups}</td><td></td></tr>",
            kind_label(*k),
            *tx as f64 / (*n).max(1) as f64
        );
    }
    h.push_str("</tbody></table>\n");

    // Faults.
    h.push_str("<h3>Pending during faults</h3>\n<p class=sub>Deliveries (message × recipient) not yet made at some time during each fault, and how long they waited inside its window.</p>\n");
    if a.faults.is_empty() {
        h.push_str("<p>No faults were injected.</p>\n");
    } else {
        h.push_str("<table id=fault-pending><thead><tr><th>Fault</th><th>From</th><th class=num>lasted</th><th class=num>deliveries pending</th><th class=num>time pending in window</th><th class=num>longest wait</th><th class=num>failed attempts</th></tr></thead><tbody>");
        for p in &a.fault_pending {
            let f = &a.faults[p.fault];
            let _ = write!(
                h,
                "<tr><td>{}</td>{}<td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td></tr>",
                esc(&f.describe()),
                time_cell(start, Some(f.from)),
                human(f.until - f.from),
                p.n_pending,
                human(p.pending_ms),
                human(p.longest_wait_ms),
                p.n_failed
            );
        }
        h.push_str("</tbody></table>\n");
    }

    // Policy.
    h.push_str("<h3>Withheld and redacted by policy</h3>\n");
    let _ = writeln!(
        h,
        "<p class=sub>What the sharing policy <b>{}</b> kept back, and why.</p>",
        esc(&run.summary.policy)
    );
    let mut withheld: BTreeMap<(Kind, Ministry, String), u32> = BTreeMap::new();
    let mut redacted: BTreeMap<(Kind, Ministry, String, String), u32> = BTreeMap::new();
    for m in &a.msgs {
        for w in &m.withheld {
            *withheld
                .entry((m.kind, w.to, w.reason.clone()))
                .or_default() += 1;
        }
        for r in &m.redacted {
            *redacted
                .entry((m.kind, r.to, r.fields.join(", "), r.reason.clone()))
                .or_default() += 1;
        }
    }
    if withheld.is_empty() {
        h.push_str("<p>Nothing was withheld from any participant.</p>\n");
    } else {
        h.push_str("<table id=policy-withheld><thead><tr><th>Kind</th><th>Withheld from</th><th class=num>messages</th><th>Why</th></tr></thead><tbody>");
        for ((k, to, why), n) in &withheld {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=num>{n}</td><td>{}</td></tr>",
                kind_chip(*k),
                esc(to.code()),
                esc(why)
            );
        }
        h.push_str("</tbody></table>\n");
    }
    if redacted.is_empty() {
        h.push_str("<p>No field was redacted from any copy.</p>\n");
    } else {
        h.push_str("<table id=policy-redacted><thead><tr><th>Kind</th><th>Recipient</th><th>Fields cleared</th><th class=num>messages</th><th>Why</th></tr></thead><tbody>");
        for ((k, to, fields, why), n) in &redacted {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=mono>{}</td><td class=num>{n}</td><td>{}</td></tr>",
                kind_chip(*k),
                esc(to.code()),
                esc(fields),
                esc(why)
            );
        }
        h.push_str("</tbody></table>\n");
    }
    let refused: Vec<&Msg> = a.msgs.iter().filter(|m| m.rejected.is_some()).collect();
    if !refused.is_empty() {
        h.push_str("<table id=policy-refused><thead><tr><th>Refused message</th><th>From</th><th>When</th><th>Reason</th></tr></thead><tbody>");
        for m in refused {
            let (t, reason) = m.rejected.clone().unwrap_or_default();
            let _ = write!(
                h,
                "<tr><td>{}{}</td><td>{}</td>{}<td>{}</td></tr>",
                msg_link(&m.id.0),
                m.label
                    .as_ref()
                    .map(|l| format!(" <span class=small>{}</span>", esc(l)))
                    .unwrap_or_default(),
                esc(m.from.code()),
                time_cell(start, Some(t)),
                esc(&reason)
            );
        }
        h.push_str("</tbody></table>\n");
    }

    h.push_str("<h3>Per ministry</h3>\n<table id=per-ministry><thead><tr><th>Ministry</th><th class=num>sent</th><th class=num>received</th><th class=num>duplicates discarded</th></tr></thead><tbody>");
    for r in &run.summary.ministries {
        let _ = write!(
            h,
            "<tr><td>{} <span class=small>{}</span></td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td></tr>",
            esc(r.ministry.code()),
            esc(r.ministry.full_name()),
            r.sent,
            r.received,
            r.duplicates_discarded
        );
    }
    h.push_str("</tbody></table>\n");
}

/// Writes `RUN_DIR/report.html`; returns its path.
pub fn write(run: &RunDir) -> std::io::Result<std::path::PathBuf> {
    let a = Analysis::new(run);
    let path = run.dir.join(REPORT);
    std::fs::write(&path, render(run, &a))?;
    Ok(path)
}
