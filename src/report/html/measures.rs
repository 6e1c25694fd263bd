//! The service measures: latency tables and box charts, the histogram,
//! transmissions per inject and kind, pending during faults, policy.

use super::*;

/// A percentile chart: per row, the p50–p90 box, a whisker to p99 and a dot at
/// the maximum, on a logarithmic time axis.
pub(super) fn latency_chart(id: &str, rows: &[(String, &str, &Dist)]) -> String {
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
pub(super) fn histogram_chart(a: &Analysis) -> String {
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
                k.label(),
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
pub(super) fn bucket_label(b: usize) -> String {
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

pub(super) fn color(k: Kind) -> &'static str {
    match k {
        Kind::CaravanAlert => "#1565c0",
        Kind::DocumentFlag => "#8e24aa",
        Kind::CargoNotice => "#e65100",
    }
}

pub(super) fn dist_cells(d: &Dist) -> String {
    format!(
        "<td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td>",
        d.n,
        human(d.p50),
        human(d.p90),
        human(d.p99),
        human(d.max)
    )
}

pub(super) fn measures(
    h: &mut String,
    run: &RunDir,
    a: &Analysis,
    start: Option<DateTime<FixedOffset>>,
) {
    h.push_str("<h2 id=measures>Service measures</h2>\n");
    latency(h, a);
    per_inject(h, a);
    fault_pending(h, a, start);
    policy(h, run, a, start);
}

/// The delivery latency tables and charts, by kind and by recipient.
fn latency(h: &mut String, a: &Analysis) {
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
            .map(|(k, d)| (k.label().to_string(), color(*k), d))
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
}

/// Transmissions per inject and per kind.
fn per_inject(h: &mut String, a: &Analysis) {
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
            k.label(),
            *tx as f64 / (*n).max(1) as f64
        );
    }
    h.push_str("</tbody></table>\n");

    // Faults.
}

/// Deliveries pending during each fault.
fn fault_pending(h: &mut String, a: &Analysis, start: Option<DateTime<FixedOffset>>) {
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
}

/// What the policy withheld, redacted and refused.
fn policy(h: &mut String, run: &RunDir, a: &Analysis, start: Option<DateTime<FixedOffset>>) {
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
