//! Two runs side by side: the same scenario under two designs (another seed,
//! policy, network, protocol tuning or build). What differs in the set-up,
//! then the measures (messages, transmissions, latency), the expectations,
//! and the messages whose fate changed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::analysis::{Analysis, Dist};
use super::html::esc;
use super::rundir::RunDir;
use super::summary::Summary;
use crate::format::human;
use crate::model::Kind;
use crate::scenario::{FaultAction, Scenario, format_duration};

/// One setting or measure in both runs.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub what: String,
    pub a: String,
    pub b: String,
    /// `b − a` for numbers, in the row's unit; empty when not a number.
    pub change: String,
    pub differs: bool,
}

impl Row {
    fn text(what: impl Into<String>, a: impl Into<String>, b: impl Into<String>) -> Row {
        let (a, b) = (a.into(), b.into());
        Row {
            what: what.into(),
            differs: a != b,
            change: String::new(),
            a,
            b,
        }
    }

    fn count(what: impl Into<String>, a: u64, b: u64) -> Row {
        let change = if a == b {
            String::new()
        } else if a == 0 {
            format!("{:+}", b as i64 - a as i64)
        } else {
            format!(
                "{:+} ({:+.0}%)",
                b as i64 - a as i64,
                (b as f64 - a as f64) / a as f64 * 100.0
            )
        };
        Row {
            what: what.into(),
            a: a.to_string(),
            b: b.to_string(),
            differs: a != b,
            change,
        }
    }

    fn millis(what: impl Into<String>, a: u64, b: u64) -> Row {
        let change = match a.cmp(&b) {
            std::cmp::Ordering::Equal => String::new(),
            std::cmp::Ordering::Less => format!("+{}", human(b - a)),
            std::cmp::Ordering::Greater => format!("−{}", human(a - b)),
        };
        Row {
            what: what.into(),
            a: human(a),
            b: human(b),
            differs: a != b,
            change,
        }
    }
}

/// An expectation's verdict in both runs (matched by name).
#[derive(Debug, Clone, Serialize)]
pub struct ExpectationRow {
    pub name: String,
    /// `None`: the run has no expectation of that name.
    pub a: Option<(bool, String)>,
    pub b: Option<(bool, String)>,
}

/// Two runs compared.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    pub same_scenario: bool,
    /// Settings that make up the design; `differs` marks the changed ones.
    pub setup: Vec<Row>,
    /// Lines of the scenario files that differ: (`-` or `+`, line number, text).
    pub scenario_diff: Vec<(char, usize, String)>,
    pub measures: Vec<Row>,
    pub latency: Vec<Row>,
    pub expectations: Vec<ExpectationRow>,
    /// Messages whose fate differs, in words (at most 50).
    pub messages: Vec<String>,
    /// How many messages differ in all.
    pub n_messages_differ: usize,
    /// One paragraph: what changed, in short.
    pub headline: String,
}

fn network(s: &Scenario) -> String {
    let d = s.topology.default;
    let mut out = format!("latency {}", format_duration(d.latency));
    if !d.jitter.is_zero() {
        out += &format!(" ± {}", format_duration(d.jitter));
    }
    for ((x, y), l) in &s.topology.links {
        out += &format!("; {}–{} {}", x.name(), y.name(), format_duration(l.latency));
        if !l.jitter.is_zero() {
            out += &format!(" ± {}", format_duration(l.jitter));
        }
    }
    out
}

fn faults(s: &Scenario) -> String {
    if s.faults.is_empty() {
        return "none".into();
    }
    s.faults
        .iter()
        .map(|f| {
            let what = match f.action {
                FaultAction::Partition(a, b) => format!("partition {}–{}", a.name(), b.name()),
                FaultAction::Crash(h) => format!("crash {}", h.name()),
                FaultAction::Degrade(a, b, l) => {
                    format!(
                        "degrade {}–{} to {}",
                        a.name(),
                        b.name(),
                        format_duration(l)
                    )
                }
            };
            format!(
                "{what} at {} for {}",
                format_duration(f.at),
                format_duration(f.lasts)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn protocol(s: &Scenario) -> String {
    format!(
        "rpc_timeout {}, retry {}…{}, hub_window {}, node_window {}",
        format_duration(s.rpc.timeout),
        format_duration(s.delivery.backoff.initial),
        format_duration(s.delivery.backoff.max),
        s.delivery.window,
        s.publish.window
    )
}

/// The lines that differ between two texts: `-` with its line in `a`, `+`
/// with its line in `b` (Myers' diff, by the `similar` crate).
fn line_diff(a: &str, b: &str) -> Vec<(char, usize, String)> {
    use similar::ChangeTag;
    similar::TextDiff::from_lines(a, b)
        .iter_all_changes()
        .filter_map(|c| {
            let text = c.value().trim_end_matches(['\n', '\r']).to_string();
            match c.tag() {
                ChangeTag::Delete => Some(('-', c.old_index()? + 1, text)),
                ChangeTag::Insert => Some(('+', c.new_index()? + 1, text)),
                ChangeTag::Equal => None,
            }
        })
        .collect()
}

fn read_scenario_text(run: &RunDir) -> Option<String> {
    std::fs::read_to_string(run.dir.join(super::rundir::SCENARIO)).ok()
}

fn totals(a: &Analysis) -> (u64, u64, u64, u64, u64) {
    let mut t = (a.tx.len() as u64, 0, 0, 0, 0);
    for m in &a.msgs {
        t.1 += u64::from(m.n_retries);
        t.2 += u64::from(m.n_failed);
        t.3 += u64::from(m.n_duplicates);
        t.4 += m
            .recipients
            .iter()
            .filter(|r| !m.delivered.contains_key(r))
            .count() as u64;
    }
    t
}

impl Comparison {
    /// Compares run `a` (the baseline) with run `b`.
    pub fn new(ra: &RunDir, rb: &RunDir) -> Comparison {
        let (sa, sb) = (&ra.summary, &rb.summary);
        let (aa, ab) = (Analysis::new(ra), Analysis::new(rb));
        let setup = setup(ra, rb);
        let scenario_diff = match (read_scenario_text(ra), read_scenario_text(rb)) {
            (Some(x), Some(y)) => line_diff(&x, &y),
            _ => Vec::new(),
        };
        let (messages, n_messages_differ) = messages_that_differ(&aa, &ab);
        let headline = headline(&setup, sa, sb, n_messages_differ);
        Comparison {
            a: ra.dir.display().to_string(),
            b: rb.dir.display().to_string(),
            same_scenario: sa.scenario == sb.scenario,
            measures: measures(sa, sb, &aa, &ab),
            latency: latency(&aa, &ab),
            expectations: expectations(sa, sb),
            setup,
            scenario_diff,
            messages,
            n_messages_differ,
            headline,
        }
    }

    /// The comparison as a plain-text table.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "A: {}\nB: {}\n", self.a, self.b);
        let _ = writeln!(out, "{}\n", self.headline);
        if !self.same_scenario {
            let _ = writeln!(out, "note: the runs are of different scenarios\n");
        }
        let rows = |out: &mut String, title: &str, rows: &[Row]| {
            let widest = |cell: fn(&Row) -> &str| {
                rows.iter()
                    .map(|r| cell(r).chars().count())
                    .max()
                    .unwrap_or(0)
            };
            let w = widest(|r| &r.what).max(title.len());
            let wa = widest(|r| &r.a).clamp(1, 48);
            let wb = widest(|r| &r.b).clamp(1, 48);
            let _ = writeln!(out, "  {title:<w$}  {:>wa$}  {:>wb$}  change", "A", "B");
            for r in rows {
                let _ = writeln!(
                    out,
                    "{} {:<w$}  {:>wa$}  {:>wb$}  {}",
                    if r.differs { '*' } else { ' ' },
                    r.what,
                    r.a,
                    r.b,
                    r.change
                );
            }
            let _ = writeln!(out);
        };
        let _ = writeln!(out, "set-up (* differs):");
        for r in &self.setup {
            if r.differs {
                let _ = writeln!(
                    out,
                    "* {}: A {}\n  {:w$}  B {}",
                    r.what,
                    r.a,
                    "",
                    r.b,
                    w = r.what.chars().count()
                );
            } else {
                let _ = writeln!(out, "  {}: {}", r.what, r.a);
            }
        }
        let _ = writeln!(out);
        if !self.scenario_diff.is_empty() {
            let _ = writeln!(out, "scenario file differences (- A, + B):");
            for (sign, line, text) in self.scenario_diff.iter().take(40) {
                let _ = writeln!(out, "  {sign} {line:>4}: {text}");
            }
            if self.scenario_diff.len() > 40 {
                let _ = writeln!(out, "  … {} more lines", self.scenario_diff.len() - 40);
            }
            let _ = writeln!(out);
        }
        rows(&mut out, "messages", &self.measures);
        rows(&mut out, "delivery latency", &self.latency);
        let _ = writeln!(out, "expectations:");
        let verdict = |v: &Option<(bool, String)>| match v {
            Some((true, _)) => "PASS",
            Some((false, _)) => "FAIL",
            None => "—",
        };
        for e in &self.expectations {
            let mark = if verdict(&e.a) != verdict(&e.b) {
                '*'
            } else {
                ' '
            };
            let _ = writeln!(
                out,
                "{mark} A {:<4} B {:<4} {}",
                verdict(&e.a),
                verdict(&e.b),
                e.name
            );
            if mark == '*' {
                for (side, v) in [("A", &e.a), ("B", &e.b)] {
                    if let Some((_, d)) = v {
                        let _ = writeln!(out, "      {side}: {d}");
                    }
                }
            }
        }
        let _ = writeln!(
            out,
            "\nmessages that fared differently: {}",
            self.n_messages_differ
        );
        for m in &self.messages {
            let _ = writeln!(out, "  {m}");
        }
        out
    }
}

/// The comparison as a self-contained HTML page.
pub fn to_html(c: &Comparison) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>gcif-sim comparison</title>\
         <style>{}</style></head><body><main>\n<h1>Comparison of two runs</h1>\n\
         <p class=sub>A (baseline): <code>{}</code><br>B: <code>{}</code></p>\n\
         <div class=\"verdict {}\" id=headline>{}</div>\n",
        include_str!("html/report.css"),
        esc(&c.a),
        esc(&c.b),
        if c.expectations
            .iter()
            .any(|e| e.a.as_ref().map(|x| x.0) != e.b.as_ref().map(|x| x.0))
        {
            "bad"
        } else {
            "ok"
        },
        esc(&c.headline)
    );
    let table = |h: &mut String, id: &str, title: &str, rows: &[Row]| {
        let _ = write!(
            h,
            "<h2>{}</h2><table id={id}><thead><tr><th></th><th>A</th><th>B</th><th>change</th></tr></thead><tbody>",
            esc(title)
        );
        for r in rows {
            let _ = write!(
                h,
                "<tr{}><td>{}</td><td>{}</td><td>{}</td><td class=num>{}</td></tr>",
                if r.differs { " class=group" } else { "" },
                esc(&r.what),
                esc(&r.a),
                esc(&r.b),
                esc(&r.change)
            );
        }
        h.push_str("</tbody></table>\n");
    };
    table(
        &mut h,
        "setup",
        "Set-up (changed rows highlighted)",
        &c.setup,
    );
    if !c.scenario_diff.is_empty() {
        h.push_str("<h3>Scenario file differences</h3><pre class=cmd>");
        for (sign, line, text) in &c.scenario_diff {
            let _ = writeln!(h, "{sign} {line:>4}: {}", esc(text));
        }
        h.push_str("</pre>\n");
    }
    table(&mut h, "measures", "Messages", &c.measures);
    table(&mut h, "latency", "Delivery latency", &c.latency);
    h.push_str("<h2>Expectations</h2><table id=expectations><thead><tr><th>Expectation</th><th>A</th><th>B</th></tr></thead><tbody>");
    let cell = |v: &Option<(bool, String)>| match v {
        Some((true, d)) => format!("<span class=\"pill met\">PASS</span> {}", esc(d)),
        Some((false, d)) => format!("<span class=\"pill failed\">FAIL</span> {}", esc(d)),
        None => "—".to_string(),
    };
    for e in &c.expectations {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.name),
            cell(&e.a),
            cell(&e.b)
        );
    }
    h.push_str("</tbody></table>\n");
    let _ = write!(
        h,
        "<h2>Messages that fared differently ({})</h2><ul id=messages>",
        c.n_messages_differ
    );
    for m in &c.messages {
        let _ = write!(h, "<li>{}</li>", esc(m));
    }
    h.push_str("</ul>\n</main></body></html>\n");
    h
}

/// The set-up of both runs, side by side.
fn setup(ra: &RunDir, rb: &RunDir) -> Vec<Row> {
    let (sa, sb) = (&ra.summary, &rb.summary);
    let mut setup = vec![
        Row::text("scenario", &sa.scenario, &sb.scenario),
        Row::text("seed", sa.seed.to_string(), sb.seed.to_string()),
        Row::text("policy", &sa.policy, &sb.policy),
        Row::text("gcif-sim version", &sa.version, &sb.version),
        Row::text(
            "participants",
            sa.participants
                .iter()
                .map(|m| m.code())
                .collect::<Vec<_>>()
                .join(", "),
            sb.participants
                .iter()
                .map(|m| m.code())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Row::text("simulated", human(sa.duration_ms), human(sb.duration_ms)),
    ];
    if let (Some(x), Some(y)) = (&ra.scenario, &rb.scenario) {
        setup.push(Row::text("network", network(x), network(y)));
        setup.push(Row::text("protocol", protocol(x), protocol(y)));
        setup.push(Row::text("faults", faults(x), faults(y)));
        setup.push(Row::text(
            "injects · traffic streams",
            format!("{} · {}", x.injects.len(), x.traffic.len()),
            format!("{} · {}", y.injects.len(), y.traffic.len()),
        ));
    }
    setup
}

/// The counts of both runs, side by side.
fn measures(sa: &Summary, sb: &Summary, aa: &Analysis, ab: &Analysis) -> Vec<Row> {
    let (ta, tb) = (totals(aa), totals(ab));
    vec![
        Row::count("messages planned", sa.planned as u64, sb.planned as u64),
        Row::count("published", sa.published as u64, sb.published as u64),
        Row::count("accepted", sa.accepted as u64, sb.accepted as u64),
        Row::count("refused", sa.rejected as u64, sb.rejected as u64),
        Row::count(
            "deliveries made",
            sa.deliveries as u64,
            sb.deliveries as u64,
        ),
        Row::count("deliveries missing", ta.4, tb.4),
        Row::count("transmissions", ta.0, tb.0),
        Row::count("retries and redeliveries", ta.1, tb.1),
        Row::count("failed attempts", ta.2, tb.2),
        Row::count("duplicates discarded", ta.3, tb.3),
        Row::millis("run end (incl. drain)", sa.end_ms, sb.end_ms),
    ]
}

/// Latency percentiles per kind, for the kinds either run delivered.
fn latency(aa: &Analysis, ab: &Analysis) -> Vec<Row> {
    let empty = Dist::default();
    let mut latency = Vec::new();
    for k in Kind::ALL {
        let da = aa.by_kind.iter().find(|x| x.0 == k).map(|x| &x.1);
        let db = ab.by_kind.iter().find(|x| x.0 == k).map(|x| &x.1);
        if da.is_none() && db.is_none() {
            continue;
        }
        let (da, db) = (da.unwrap_or(&empty), db.unwrap_or(&empty));
        let name = k.name();
        latency.push(Row::millis(format!("{name} p50"), da.p50, db.p50));
        latency.push(Row::millis(format!("{name} p90"), da.p90, db.p90));
        latency.push(Row::millis(format!("{name} p99"), da.p99, db.p99));
        latency.push(Row::millis(format!("{name} max"), da.max, db.max));
    }
    latency
}

/// Every expectation of either run, with each run's verdict.
fn expectations(sa: &Summary, sb: &Summary) -> Vec<ExpectationRow> {
    let mut names: Vec<String> = Vec::new();
    for v in sa.expectations.iter().chain(&sb.expectations) {
        if !names.contains(&v.name) {
            names.push(v.name.clone());
        }
    }
    names
        .into_iter()
        .map(|name| {
            let find = |s: &Summary| {
                s.expectations
                    .iter()
                    .find(|v| v.name == name)
                    .map(|v| (v.ok, v.detail.clone()))
            };
            ExpectationRow {
                a: find(sa),
                b: find(sb),
                name,
            }
        })
        .collect()
}

/// The messages whose fate differs between the runs (at most 60 listed),
/// and how many differ in all.
fn messages_that_differ(aa: &Analysis, ab: &Analysis) -> (Vec<String>, usize) {
    // Messages whose fate differs. When both runs carry the same messages
    // (same scenario traffic and seed) every message is matched by id;
    // otherwise only scripted injects, by their label.
    let same_messages = aa.msgs.len() == ab.msgs.len()
        && aa
            .msgs
            .iter()
            .zip(&ab.msgs)
            .all(|(x, y)| x.id == y.id && x.kind == y.kind && x.from == y.from);
    let key = |m: &super::analysis::Msg| -> Option<String> {
        if same_messages {
            Some(m.id.0.clone())
        } else {
            m.label.clone()
        }
    };
    let by_key: BTreeMap<String, &super::analysis::Msg> =
        ab.msgs.iter().filter_map(|m| Some((key(m)?, m))).collect();
    let mut messages = Vec::new();
    if !same_messages {
        messages.push(
            "the runs carry different generated traffic (another seed or traffic settings): \
             scripted injects are matched by label, generated messages compared in aggregate only"
                .to_string(),
        );
    }
    let mut n_messages_differ = 0;
    let mut matched = 0;
    for m in &aa.msgs {
        let Some(k) = key(m) else { continue };
        let name = match &m.label {
            Some(l) => format!("{l} ({})", m.id),
            None => m.id.to_string(),
        };
        let Some(o) = by_key.get(&k) else {
            n_messages_differ += 1;
            messages.push(format!("{name}: only in A"));
            continue;
        };
        matched += 1;
        let mut diffs = Vec::new();
        match (&m.rejected, &o.rejected) {
            (None, Some((_, r))) => diffs.push(format!("refused in B: {r}")),
            (Some((_, r)), None) => diffs.push(format!("refused in A only: {r}")),
            _ => {}
        }
        if m.recipients != o.recipients {
            let codes = |v: &[crate::model::Ministry]| {
                v.iter().map(|x| x.code()).collect::<Vec<_>>().join(", ")
            };
            diffs.push(format!(
                "recipients [{}] → [{}]",
                codes(&m.recipients),
                codes(&o.recipients)
            ));
        }
        let lost = |x: &super::analysis::Msg| {
            x.recipients
                .iter()
                .filter(|r| !x.delivered.contains_key(r))
                .count()
        };
        if lost(m) != lost(o) {
            diffs.push(format!("missing deliveries {} → {}", lost(m), lost(o)));
        }
        let last = |x: &super::analysis::Msg| x.delivered.values().map(|d| d.1).max();
        if let (Some(x), Some(y)) = (last(m), last(o))
            && x.abs_diff(y) >= 1000
            && x.abs_diff(y) * 5 >= x.min(y)
        {
            diffs.push(format!("last receipt after {} → {}", human(x), human(y)));
        }
        if m.n_tx != o.n_tx && m.label.is_some() {
            diffs.push(format!("transmissions {} → {}", m.n_tx, o.n_tx));
        }
        if !diffs.is_empty() {
            n_messages_differ += 1;
            if messages.len() < 60 {
                messages.push(format!("{name}: {}", diffs.join("; ")));
            }
        }
    }
    let only_b = by_key.len().saturating_sub(matched);
    if only_b > 0 {
        n_messages_differ += only_b;
        messages.push(format!("{only_b} message(s) only in B"));
    }
    (messages, n_messages_differ)
}

/// One sentence: what changed, expectations met, deliveries, messages that
/// fared differently.
fn headline(setup: &[Row], sa: &Summary, sb: &Summary, n_messages_differ: usize) -> String {
    let changed: Vec<&str> = setup
        .iter()
        .filter(|r| r.differs)
        .map(|r| r.what.as_str())
        .collect();
    let ok = |s: &Summary| s.expectations.iter().filter(|v| v.ok).count();
    format!(
        "{}. Expectations met: A {} of {}, B {} of {}. Deliveries: A {}, B {}. {} message(s) fared differently.",
        if changed.is_empty() {
            "Same set-up in both runs".to_string()
        } else {
            format!("Changed: {}", changed.join(", "))
        },
        ok(sa),
        sa.expectations.len(),
        ok(sb),
        sb.expectations.len(),
        sa.deliveries,
        sb.deliveries,
        n_messages_differ
    )
}
