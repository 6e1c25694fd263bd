//! The trainer's console in a real headless Chromium (over the DevTools
//! protocol): a live run's messages arrive in the inboxes; pause stops the
//! clock and resume restarts it; an inject from the form reaches the inboxes
//! the policy allows and not the others; a cut link holds deliveries to that
//! ministry until it is healed; the trainer's actions are in the run's log
//! and its report. A finished run is replayed and scrubbed. Screenshots at
//! 1920×1080 and 1280×720 are kept in `target/console-screenshots/`.

use std::time::Duration;

use crate::cdp::Browser;
use crate::procs::{Proc, addr_after, scratch};

const WITHIN: Duration = Duration::from_secs(60);

const SCENARIO: &str = r#"
name: console-drill
title: Console drill
start: 2019-01-15T05:00:00-06:00
duration: 6h
drain: 10m
injects:
  - id: first-caravan
    at: 2m
    from: HN-SEDS
    handling: amber
    caravan_alert:
      caravan_id: CAR-CONSOLE
      location: { name: San Pedro Sula, country: HN }
      estimated_size: 400
      minors: 60
  - id: later-flag
    at: 5h
    from: US-DHS
    document_flag:
      document: { kind: passport, issuer: HN, number: F7654321 }
      holder: { name: Exercise Subject }
      indicators: [photo_substitution]
      detected_at: { name: Houston, country: US }
"#;

fn shots() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The ids in `ministry`'s inbox on the page.
fn inbox_has(ministry: &str, id: &str) -> String {
    format!("document.querySelector('#inbox-{ministry} [data-msg=\"{id}\"]')")
}

fn send_form(b: &mut Browser, from: &str, kind: &str) {
    b.key("i");
    b.wait_for(
        WITHIN,
        "the inject form",
        "document.getElementById('inject').open",
    );
    b.eval(&format!(
        "(() => {{ const f = document.getElementById('inject-form');
           f.from.value = '{from}'; f.kind.value = '{kind}'; f.kind.dispatchEvent(new Event('change'));
           f.requestSubmit(); return true; }})()"
    ));
    b.wait_for(
        WITHIN,
        "the form closed",
        "!document.getElementById('inject').open",
    );
}

#[test]
fn a_trainer_steers_a_live_run_from_the_console() {
    let Some(chromium) = crate::report::chromium() else {
        return;
    };
    let dir = scratch("console-live");
    let file = dir.join("console-drill.yaml");
    std::fs::write(&file, SCENARIO).unwrap();
    let out = dir.join("run");
    let mut run = Proc::gcif(
        "run --live --dashboard",
        &[
            "run",
            "--live",
            "--speed",
            "120",
            "--dashboard",
            "127.0.0.1:0",
            "--out",
            out.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    );
    let url = run.wait_for(WITHIN, "the console's address", |l| {
        addr_after(l, "trainer's console on http://")
    });
    let mut b = Browser::open(
        &chromium,
        &format!("http://{url}/"),
        1920,
        1080,
        &dir.join("profile"),
    );
    b.wait_for(
        WITHIN,
        "the page ready",
        "document.body.dataset.ready === 'true'",
    );

    // Messages arrive in the inboxes the policy allows.
    b.wait_for(
        WITHIN,
        "the caravan alert at GT-MINGOB",
        &inbox_has("GT-MINGOB", "HN-SEDS-000001"),
    );
    b.wait_for(
        WITHIN,
        "the caravan alert at MX-SEGOB",
        &inbox_has("MX-SEGOB", "HN-SEDS-000001"),
    );

    // Pause stops the clock; resume restarts it.
    b.key(" ");
    b.wait_for(
        WITHIN,
        "the clock paused",
        "document.getElementById('clock').dataset.paused === 'true'",
    );
    let paused_at = b.eval("fetch('/api/clock').then(r => r.json()).then(c => c.t)");
    b.screenshot(&shots().join("console-1920x1080.png"));
    let still = b.eval("fetch('/api/clock').then(r => r.json()).then(c => c.t)");
    assert_eq!(paused_at, still, "a paused clock does not move");

    // An inject from the form, while paused: a document flag reaches the
    // full participants and not the observer.
    send_form(&mut b, "GT-MINGOB", "document_flag");
    for m in ["US-DHS", "HN-SEDS", "SV-MJSP"] {
        let what = format!("the improvised flag at {m}");
        b.wait_for(WITHIN, &what, &inbox_has(m, "GT-MINGOB-C0001"));
    }
    let recipients = b.eval("S.msgs['GT-MINGOB-C0001'].recipients");
    assert!(!recipients.to_string().contains("MX-SEGOB"), "{recipients}");
    assert_eq!(
        b.eval(&format!("!!{}", inbox_has("MX-SEGOB", "GT-MINGOB-C0001"))),
        serde_json::json!(false)
    );

    b.key(" ");
    b.wait_for(
        WITHIN,
        "the clock running again",
        "document.getElementById('clock').dataset.paused === 'false'",
    );
    b.wait_for(
        WITHIN,
        "run time past the pause",
        &format!("+document.getElementById('clock').dataset.t > {paused_at}"),
    );

    // Cutting GT-MINGOB's link holds its deliveries until it is healed.
    let gt = b.eval("S.meta.participants.indexOf('GT-MINGOB') + 1");
    b.key("c");
    b.key(&gt.to_string());
    b.wait_for(
        WITHIN,
        "the link drawn cut",
        "document.getElementById('link-GT-MINGOB').classList.contains('cut')",
    );
    send_form(&mut b, "HN-SEDS", "caravan_alert");
    for m in ["US-DHS", "SV-MJSP"] {
        let what = format!("the alert at {m}");
        b.wait_for(WITHIN, &what, &inbox_has(m, "HN-SEDS-C0001"));
    }
    assert_eq!(
        b.eval(&format!("!!{}", inbox_has("GT-MINGOB", "HN-SEDS-C0001"))),
        serde_json::json!(false),
        "held while GT-MINGOB's link is cut"
    );
    b.key("h");
    b.key(&gt.to_string());
    b.wait_for(
        WITHIN,
        "the alert at GT-MINGOB after the heal",
        &inbox_has("GT-MINGOB", "HN-SEDS-C0001"),
    );

    // Faster doubles the speed; next inject moves the clock on to it.
    b.key("+");
    b.wait_for(
        WITHIN,
        "double speed",
        "fetch('/api/clock').then(r => r.json()).then(c => c.speed === 240)",
    );
    b.key("n");
    b.wait_for(
        WITHIN,
        "the clock at the next inject (5h)",
        "+document.getElementById('clock').dataset.t >= 18000000",
    );
    b.wait_for(
        WITHIN,
        "the later flag delivered",
        &inbox_has("GT-MINGOB", "US-DHS-000001"),
    );

    // A message's detail shows what was redacted for the observer.
    b.eval(&format!(
        "{}.click()",
        inbox_has("MX-SEGOB", "HN-SEDS-000001")
    ));
    b.wait_for(
        WITHIN,
        "the detail",
        "document.getElementById('detail').open",
    );
    b.wait_for(
        WITHIN,
        "the redaction named",
        "document.getElementById('detail-body').textContent.includes('minors')",
    );
    b.eval("document.getElementById('detail').close()");
    b.send(
        "Emulation.setDeviceMetricsOverride",
        serde_json::json!({"width": 1280, "height": 720, "deviceScaleFactor": 1, "mobile": false}),
    );
    b.screenshot(&shots().join("console-1280x720.png"));
    assert!(b.errors.is_empty(), "script errors: {:?}", b.errors);
    drop(b);

    // Stopped early (SIGTERM): the run directory is written all the same;
    // the drill sets no expectations, so it exits 0.
    assert_eq!(run.terminate(), 0, "{}", run.transcript());
    assert!(out.join("summary.json").is_file());
    let text = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    for action in ["pause", "inject", "resume", "cut", "heal", "speed", "step"] {
        assert!(
            text.contains(&format!(
                "\"event\":\"control\",\"by\":\"console\",\"action\":\"{action}\""
            )),
            "{action} in the log"
        );
    }
    let report = crate::support::gcif_sim(&["report", out.to_str().unwrap()]);
    assert!(report.status.success());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("Trainer's actions") && html.contains("GT-MINGOB-C0001"),
        "the report lists the trainer's actions"
    );
}

#[test]
fn a_finished_run_is_replayed_and_scrubbed() {
    let Some(chromium) = crate::report::chromium() else {
        return;
    };
    let dir = scratch("console-replay");
    let out = dir.join("run");
    let shipped = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/simulations/caravan-san-pedro-sula.yaml"
    );
    let run = crate::support::gcif_sim(&["run", shipped, "--out", out.to_str().unwrap()]);
    assert!(run.status.success());
    let mut replay = Proc::gcif(
        "replay",
        &[
            "replay",
            out.to_str().unwrap(),
            "--dashboard",
            "127.0.0.1:0",
            "--speed",
            "3600",
        ],
    );
    let url = replay.wait_for(WITHIN, "the console's address", |l| {
        addr_after(l, " on http://")
    });
    let mut b = Browser::open(
        &chromium,
        &format!("http://{url}/"),
        1920,
        1080,
        &dir.join("profile"),
    );
    b.wait_for(
        WITHIN,
        "the page ready",
        "document.body.dataset.ready === 'true'",
    );
    // Scrub to the end: every inbox holds what the run delivered.
    b.eval("(() => { const s = document.getElementById('scrub'); s.value = 1000; s.dispatchEvent(new Event('input')); return true; })()");
    let delivered: u64 = std::fs::read_to_string(out.join("events.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"event\":\"delivered\""))
        .count() as u64;
    b.wait_for(
        WITHIN,
        "every delivery in the inboxes",
        &format!("[...document.querySelectorAll('.inbox')].reduce((n, e) => n + +e.dataset.count, 0) === {delivered}"),
    );
    b.screenshot(&shots().join("replay-1920x1080.png"));
    // Back to the start: empty inboxes.
    b.key("Home");
    b.wait_for(
        WITHIN,
        "empty inboxes at the start",
        "[...document.querySelectorAll('.inbox')].every(e => e.dataset.count === '0')",
    );
    assert!(b.errors.is_empty(), "script errors: {:?}", b.errors);
    drop(b);
    assert_eq!(replay.terminate(), 0);
}
