//! Broken scenarios: exit 2, one `file:line:col: message` line, no panic.

use crate::support::gcif_sim;

/// Writes `yaml` to a temporary file, validates and runs it, and returns
/// the one-line error (checked to be the same from both commands).
fn check(name: &str, yaml: &str) -> String {
    let file = std::env::temp_dir().join(format!("gcif-bad-{}-{name}.yaml", std::process::id()));
    std::fs::write(&file, yaml).unwrap();
    let path = file.to_str().unwrap();
    let mut lines = Vec::new();
    for args in [
        vec!["validate", path],
        vec!["run", path, "--out", "/nonexistent/never-written"],
    ] {
        let out = gcif_sim(&args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{name}: {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{name}: one line expected: {stderr}"
        );
        assert!(stderr.starts_with(&format!("{path}:")), "{name}: {stderr}");
        lines.push(stderr.trim_end().to_string());
    }
    std::fs::remove_file(&file).ok();
    assert_eq!(lines[0], lines[1]);
    lines[0][path.len() + 1..].to_string()
}

const OK: &str = "start: 2019-01-15T05:00:00-06:00\nduration: 2h\n";

#[test]
fn broken_files_are_located_precisely() {
    let cases: &[(&str, String, &str, &str)] = &[
        ("syntax", "start: [oops\nduration: 1h\n".into(), "", ""),
        ("empty", String::new(), "1:1:", "empty"),
        (
            "unknown-key",
            format!("{OK}colour: red\n"),
            "3:1:",
            "unknown field `colour`",
        ),
        ("missing-start", "duration: 1h\n".into(), "", "start"),
        (
            "bad-date",
            "start: 15/01/2019\nduration: 1h\n".into(),
            "1:8:",
            "RFC 3339",
        ),
        (
            "bad-duration",
            "start: 2019-01-15T05:00:00Z\nduration: 3 days\n".into(),
            "2:11:",
            "unit",
        ),
        (
            "unknown-ministry",
            format!(
                "{OK}injects:\n  - at: 1m\n    from: CR-MSP\n    caravan_alert: {{ caravan_id: C, location: {{ name: X, country: HN }} }}\n"
            ),
            "5:11:",
            "unknown ministry `CR-MSP`",
        ),
        (
            "inject-after-end",
            format!(
                "{OK}injects:\n  - at: 3h\n    from: HN-SEDS\n    caravan_alert: {{ caravan_id: C, location: {{ name: X, country: HN }} }}\n"
            ),
            "4:9:",
            "after the end of the run",
        ),
        (
            "fault-past-end",
            format!("{OK}faults:\n  - at: 1h\n    crash: GCIF\n    for: 2h\n"),
            "6:10:",
            "after the end of the run",
        ),
        (
            "partition-of-one",
            format!("{OK}faults:\n  - at: 1h\n    partition: [GCIF]\n    for: 1m\n"),
            "5:16:",
            "exactly two hosts",
        ),
        (
            "dangling-reference",
            format!("{OK}injects:\n  - at: 1m\n    from: HN-SEDS\n    cancels: nothing\n"),
            "6:14:",
            "not the id of an earlier inject",
        ),
        (
            "bad-country",
            format!(
                "{OK}injects:\n  - at: 1m\n    from: HN-SEDS\n    caravan_alert: {{ caravan_id: C, location: {{ name: X, country: Honduras }} }}\n"
            ),
            "6:67:",
            "ISO 3166-1",
        ),
        (
            "expect-unknown-inject",
            format!("{OK}expect:\n  - inject: nope\n    delivered_to: [US-DHS]\n"),
            "4:13:",
            "no inject has id `nope`",
        ),
        ("wrong-type", format!("{OK}seed: many\n"), "3:7:", ""),
        (
            "unknown-policy",
            format!("{OK}policy: open-borders\n"),
            "3:9:",
            "unknown policy",
        ),
        ("not-a-mapping", "- just\n- a list\n".into(), "", ""),
    ];
    for (name, yaml, at, says) in cases {
        let line = check(name, yaml);
        assert!(line.starts_with(at), "{name}: expected {at:?} in {line:?}");
        let (loc, msg) = line.split_at(line.find(": ").unwrap_or(0));
        let parts: Vec<&str> = loc.split(':').collect();
        assert_eq!(parts.len(), 2, "{name}: `line:col` expected in {line:?}");
        assert!(
            parts.iter().all(|p| p.parse::<u64>().is_ok_and(|n| n >= 1)),
            "{name}: {line:?}"
        );
        assert!(msg.contains(says), "{name}: expected {says:?} in {line:?}");
    }
}

#[test]
fn an_unreadable_file_is_bad_input() {
    let out = gcif_sim(&["validate", "/no/such/scenario.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("/no/such/scenario.yaml:1:1: cannot read"),
        "{stderr}"
    );
}

#[test]
fn bad_arguments_are_bad_input() {
    assert_eq!(gcif_sim(&["run"]).status.code(), Some(2));
    assert_eq!(
        gcif_sim(&["run", "x.yaml", "--seed", "minus-one"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(gcif_sim(&["frobnicate"]).status.code(), Some(2));
}
