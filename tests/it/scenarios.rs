//! Every shipped scenario validates, runs, and meets its expectations.

use crate::support::{audit, gcif_sim, play_scenario, shipped};

#[test]
fn every_shipped_scenario_validates() {
    for file in shipped() {
        let out = gcif_sim(&["validate", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(": ok ("));
    }
}

#[test]
fn every_shipped_scenario_meets_its_expectations() {
    for file in shipped() {
        let scenario = gcif_sim::scenario::load(&file).expect("shipped scenarios are valid");
        assert!(
            !scenario.expect.is_empty(),
            "{}: has no expectations",
            file.display()
        );
        let seed = scenario.seed.unwrap_or(gcif_sim::sim::DEFAULT_SEED);
        let played = play_scenario(scenario, seed);
        played.assert_passed();
        assert_causal_order(&played);
        let (accepted, deliveries) = audit(&played.out.events, seed);
        assert!(
            accepted > 0 && deliveries > accepted,
            "{}: too little traffic",
            file.display()
        );
    }
}

#[test]
fn run_writes_the_event_log_and_prints_the_summary() {
    let dir = std::env::temp_dir().join(format!("gcif-sim-run-{}", std::process::id()));
    let file = &shipped()[0];
    let out = gcif_sim(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for heading in [
        "ministry",
        "sent",
        "received",
        "duplicates",
        "p50",
        "p99",
        "expectations:",
    ] {
        assert!(
            stdout.contains(heading),
            "summary lacks {heading}: {stdout}"
        );
    }
    let log = std::fs::read_to_string(dir.join("events.jsonl")).expect("events.jsonl written");
    let events = gcif_sim::events::read_jsonl(&log).expect("every line is a documented event");
    assert!(
        events
            .iter()
            .any(|e| matches!(e.body, gcif_sim::events::EventBody::Expectation { .. }))
    );
    let json = gcif_sim(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
        "--json",
    ]);
    let summary: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("--json prints JSON");
    assert_eq!(summary["passed"], true);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn schema_is_json_schema() {
    let out = gcif_sim(&["schema"]);
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(schema["type"], "object");
    assert!(schema["properties"]["injects"].is_object());
    assert!(
        schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "duration")
    );
}

/// No recipient gets an UPDATE or CANCEL before the message it refers to
/// (when it gets both), as the `.proto` promises.
fn assert_causal_order(played: &crate::support::Played) {
    use gcif_sim::events::EventBody;
    use std::collections::BTreeMap;
    let mut first = BTreeMap::new();
    for e in &played.out.events {
        if let EventBody::Delivered { msg, to, .. } = &e.body {
            first.entry((msg.clone(), *to)).or_insert(e.t);
        }
    }
    let mut checked = 0;
    for p in &played.out.plan {
        for r in &p.envelope.references {
            for ((msg, to), t) in
                first.range((p.envelope.id.clone(), gcif_sim::model::Ministry::US_DHS)..)
            {
                if *msg != p.envelope.id {
                    break;
                }
                if let Some(t_ref) = first.get(&(r.clone(), *to)) {
                    assert!(
                        t_ref <= t,
                        "{}: {to} got {msg} at t={t} before {r} (t={t_ref})",
                        played.scenario.name
                    );
                    checked += 1;
                }
            }
        }
    }
    let threads = played
        .out
        .plan
        .iter()
        .any(|p| !p.envelope.references.is_empty());
    assert!(
        !threads || checked > 0,
        "{}: no update was checked",
        played.scenario.name
    );
}
