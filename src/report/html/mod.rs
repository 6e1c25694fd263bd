//! The run report: one self-contained HTML file (inline CSS, SVG and
//! JavaScript; nothing fetched), readable on screen and in print. Its
//! sections: the scenario's header and how to reproduce the run, the
//! after-action review (every expectation and every inject, expected against
//! actual), the message-flow diagram, and the service measures.

mod flow;
mod header;
mod markup;
mod measures;
mod review;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset};
use serde_json::json;

use crate::format::{human, shell_word};
use crate::model::{Host, Kind, MessageType, Ministry};
use crate::report::analysis::{Analysis, BUCKETS, Dist, Msg};
use crate::report::rundir::{REPORT, RunDir};
use crate::report::summary::{Outcome, Verdict};

pub use crate::format::offset;
use flow::*;
use header::*;
pub use markup::esc;
use markup::*;
use measures::*;
use review::*;

/// The trainer's actions on a live run's console (`control` events), in
/// order: what the after-action review should know was improvised.
fn controls(h: &mut String, run: &RunDir, start: Option<DateTime<FixedOffset>>) {
    let actions: Vec<_> = run
        .events
        .iter()
        .filter_map(|e| match &e.body {
            crate::events::EventBody::Control { by, action, detail } => {
                Some((e.t, by, action, detail))
            }
            _ => None,
        })
        .collect();
    if actions.is_empty() {
        return;
    }
    h.push_str(
        "<h3 id=controls>Trainer's actions</h3>\n<p class=sub>What the trainer did on the console \
         during the run: pauses, speed changes, improvised injects, links cut and healed.</p>\n\
         <table id=aar-controls><thead><tr><th>When</th><th>Action</th><th>Detail</th><th>By</th>\
         </tr></thead><tbody>\n",
    );
    for (t, by, action, detail) in actions {
        let _ = writeln!(
            h,
            "<tr>{}<td>{}</td><td>{}</td><td>{}</td></tr>",
            time_cell(start, Some(t)),
            esc(action),
            esc(detail),
            esc(by)
        );
    }
    h.push_str("</tbody></table>\n");
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
    controls(&mut h, run, start);
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

/// Writes `RUN_DIR/report.html`; returns its path.
pub fn write(run: &RunDir) -> std::io::Result<std::path::PathBuf> {
    let a = Analysis::new(run);
    let path = run.dir.join(REPORT);
    std::fs::write(&path, render(run, &a))?;
    Ok(path)
}
