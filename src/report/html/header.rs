//! The report's header: title, set-up, the verdict and how to reproduce the run.

use super::*;

pub(super) fn header(
    h: &mut String,
    run: &RunDir,
    a: &Analysis,
    start: Option<DateTime<FixedOffset>>,
) {
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
    // What the agreement did besides routing: its changes, the messages
    // passed on, and the leak checker's verdict.
    let mut extra = String::new();
    let amended: Vec<String> = run
        .events
        .iter()
        .filter_map(|e| match &e.body {
            crate::events::EventBody::Amended { change } => Some(format!(
                "{} {}",
                esc(&crate::format::human(e.t)),
                esc(change)
            )),
            _ => None,
        })
        .collect();
    if !amended.is_empty() {
        let _ = write!(
            extra,
            "<dt>Amendments</dt><dd>{}</dd>",
            amended.join("<br>")
        );
    }
    let (passed, refused) = run.events.iter().fold((0, 0), |(p, r), e| match &e.body {
        crate::events::EventBody::Reshared { .. } => (p + 1, r),
        crate::events::EventBody::ReshareRefused { .. } => (p, r + 1),
        _ => (p, r),
    });
    if passed + refused > 0 {
        let _ = write!(
            extra,
            "<dt>Passed on</dt><dd>{passed} reshare{} accepted, {refused} refused</dd>",
            if passed == 1 { "" } else { "s" }
        );
    }
    if let Some(leaks) = &s.leak_check {
        let class = if leaks.starts_with("no leak") {
            "ok"
        } else {
            "bad"
        };
        let _ = write!(
            extra,
            "<dt>Leak check</dt><dd class=\"leak {class}\" id=leak-check>{}</dd>",
            esc(leaks)
        );
    }
    if !extra.is_empty() {
        let _ = writeln!(h, "<dl class=meta>{extra}</dl>");
    }
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
    let copy = run.dir.join(crate::report::rundir::SCENARIO);
    if let Some(how) = &s.live {
        let _ = write!(
            h,
            "<h3>Played live</h3><pre class=cmd>{}</pre>\n<p class=small>This run was played \
             live ({}), on real sockets and the wall clock: its timing depends on the machines and \
             the network, so playing it again gives another log. <code>gcif-sim run FILE --seed \
             {}</code> plays the same scenario in simulated time, reproducibly.</p>\n",
            esc(&s.command),
            esc(how),
            s.seed
        );
        for w in &run.warnings {
            let _ = writeln!(h, "<p class=warn>{}</p>", esc(w));
        }
        return;
    }
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
pub(super) fn worst(outcomes: impl Iterator<Item = Outcome>) -> Option<Outcome> {
    outcomes.filter(|o| !o.ok()).max_by_key(|o| match o {
        Outcome::Met => 0,
        Outcome::Late => 1,
        Outcome::Failed => 2,
        Outcome::Missing => 3,
        Outcome::Leaked => 4,
    })
}
