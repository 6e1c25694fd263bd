//! Unit tests of the validator: located errors and defaults.

use super::*;

const MINIMAL: &str = "start: 2019-01-15T05:00:00-06:00\nduration: 1h\n";

fn check(text: &str) -> Result<Scenario> {
    parse("t.yaml", "t", text)
}

fn err_at(text: &str) -> (u64, u64, String) {
    let e = check(text).unwrap_err();
    (e.line, e.column, e.message)
}

#[test]
fn a_minimal_scenario_takes_the_defaults() {
    let s = check(MINIMAL).unwrap();
    assert_eq!(s.name, "t");
    assert_eq!(s.participants, Ministry::DEFAULTS);
    assert_eq!(s.policy.name(), "compact-2019");
    assert_eq!(s.topology.default.latency, Duration::from_millis(50));
    assert_eq!(s.status, Status::Exercise);
    assert_eq!(s.epoch(), Timestamp(1_547_550_000_000));
}

#[test]
fn unknown_ministry_is_located() {
    let text =
        format!("{MINIMAL}injects:\n  - at: 0s\n    from: BZ-NEVER-DECLARED\n    cancels: x\n");
    let (line, col, msg) = err_at(&text);
    assert_eq!((line, col), (5, 11));
    assert!(
        msg.contains("unknown ministry `BZ-NEVER-DECLARED`"),
        "{msg}"
    );
}

#[test]
fn syntax_errors_are_located() {
    let (line, col, msg) = err_at("start: [\nduration: 1h\n");
    assert!(line >= 1 && col >= 1, "{line}:{col}");
    assert!(!msg.contains('\n'));
    let (line, _, msg) = err_at(&format!("{MINIMAL}bogus: 1\n"));
    assert_eq!(line, 3);
    assert!(msg.contains("unknown field `bogus`"), "{msg}");
}

#[test]
fn bad_durations_and_times_are_located() {
    let (line, col, msg) = err_at("start: 2019-01-15T05:00:00Z\nduration: 5 hours\n");
    assert_eq!((line, col), (2, 11));
    assert!(msg.contains("unit"), "{msg}");
    let (line, _, msg) = err_at(&format!(
        "{MINIMAL}faults:\n  - at: 50m\n    for: 20m\n    crash: GCIF\n"
    ));
    assert_eq!(line, 5);
    assert!(msg.contains("after the end of the run"), "{msg}");
    let (line, col, _) = err_at("start: yesterday\nduration: 1h\n");
    assert_eq!((line, col), (1, 8));
}

#[test]
fn references_must_name_earlier_injects() {
    let text = format!(
        "{MINIMAL}injects:\n  - id: a\n    at: 10m\n    from: HN-SEDS\n    caravan_alert: {{ caravan_id: C, location: {{ name: SPS, country: HN }} }}\n  - at: 5m\n    from: HN-SEDS\n    cancels: a\n"
    );
    let (line, _, msg) = err_at(&text);
    assert_eq!(line, 8);
    assert!(msg.contains("comes later"), "{msg}");
    let text = format!("{MINIMAL}injects:\n  - at: 5m\n    from: HN-SEDS\n    cancels: zzz\n");
    assert!(err_at(&text).2.contains("not the id of an earlier inject"));
}

#[test]
fn a_cancel_takes_the_kind_of_what_it_cancels() {
    let text = format!(
        "{MINIMAL}injects:\n  - id: a\n    at: 0s\n    from: HN-SEDS\n    cargo_notice: {{ container: MSCU1234566, origin: {{ name: Puerto Cortés, country: HN }}, destination: {{ name: Tapachula, country: MX }}, risk_score: 0.9 }}\n  - at: 5m\n    from: HN-SEDS\n    cancels: a\n"
    );
    let s = check(&text).unwrap();
    assert_eq!(s.injects[1].kind, Kind::CargoNotice);
    assert_eq!(s.injects[1].message_type, MessageType::Cancel);
    assert_eq!(s.injects[1].references, [0]);
}

#[test]
fn expectations_need_an_inject_for_per_message_conditions() {
    let text = format!("{MINIMAL}expect:\n  - delivered_to: [US-DHS]\n");
    assert!(err_at(&text).2.contains("need `inject:`"));
    let text = format!("{MINIMAL}expect:\n  - no_loss: true\n  - no_duplicates: true\n");
    let s = check(&text).unwrap();
    assert_eq!(s.expect[0].name, "no loss");
}

#[test]
fn runaway_traffic_is_refused() {
    let text =
        format!("{MINIMAL}traffic:\n  - {{ kind: cargo_notice, from: [HN-SEDS], every: 1ms }}\n");
    let (line, col, msg) = err_at(&text);
    assert_eq!((line, col), (4, 51));
    assert!(msg.contains("at most"), "{msg}");
}

#[test]
fn the_schema_names_the_top_level_keys() {
    let schema = json_schema();
    for key in [
        "injects", "faults", "traffic", "expect", "network", "duration",
    ] {
        assert!(schema.contains(&format!("\"{key}\"")), "{key} missing");
    }
}
