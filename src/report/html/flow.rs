//! The message-flow diagram: its section and the JSON block `report.js` draws.

use super::*;

pub(super) fn flow(h: &mut String, run: &RunDir, a: &Analysis) {
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
pub(super) fn flow_data(
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
