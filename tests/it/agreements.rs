//! Sharing agreements as files, from the command line: check, explain,
//! diff, runs under them, and the leak checker on clean and doctored runs.

use crate::procs::scratch;
use crate::support::gcif_sim;

fn repo(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_shipped_agreements_check_and_a_broken_one_is_located() {
    for f in [
        "compact-2019.yaml",
        "mexico-joins.yaml",
        "costa-rica-observer.yaml",
        "regional-group.yaml",
    ] {
        let out = gcif_sim(&["policy", "check", &repo(&format!("policies/{f}"))]);
        assert!(out.status.success(), "{f}: {}", text(&out));
    }
    let dir = scratch("broken-agreement");
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "agreement: bad\nroles: { full: signatory }\nparticipants:\n  - { code: HN-SEDS, role: full }\n  \
         - { code: PA-MINSEG, role: partner }\nshare:\n  - to: everyone\n    reason: all\n",
    )
    .unwrap();
    let out = gcif_sim(&["policy", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let t = text(&out);
    assert!(t.contains("bad.yaml:5:30: unknown role `partner`"), "{t}");
    // A scenario playing under it names the agreement's file and line.
    let scenario = dir.join("s.yaml");
    std::fs::write(
        &scenario,
        "start: 2019-01-01T00:00:00Z\nduration: 1h\npolicy: bad.yaml\n",
    )
    .unwrap();
    let out = gcif_sim(&["validate", scenario.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("bad.yaml:5:30"), "{}", text(&out));
}

#[test]
fn explain_shows_each_field_and_diff_what_changes() {
    let out = gcif_sim(&[
        "policy",
        "explain",
        &repo("policies/costa-rica-observer.yaml"),
        "--kind",
        "document_flag",
        "--from",
        "GT-MINGOB",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    for want in [
        "CR-MSP     guest      receives  rule `high-risk-flags-to-the-guest`",
        "MX-SEGOB   observer   withheld",
        "pseudonymised",
        "generalised",
        "document_number pseudonymised for CR-MSP: redaction `documents-matched-not-read`",
    ] {
        assert!(t.contains(want), "{want:?} in\n{t}");
    }
    let out = gcif_sim(&[
        "policy",
        "explain",
        "compact-2019",
        "--kind",
        "caravan_alert",
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mx = json[0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["to"] == "MX-SEGOB")
        .unwrap();
    let minors = mx["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "minors")
        .unwrap();
    assert_eq!(minors["treatment"], "removed");

    let out = gcif_sim(&[
        "policy",
        "diff",
        "compact-2019",
        &repo("policies/mexico-joins.yaml"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("MX-SEGOB: observer → full"), "{t}");
    assert!(t.contains("MX-SEGOB minors: removed → kept"), "{t}");
    let out = gcif_sim(&[
        "policy",
        "diff",
        "compact-2019",
        &repo("policies/compact-2019.yaml"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_pseudonym_matches_two_flags_of_one_document_without_showing_it() {
    let dir = scratch("costa-rica");
    let out = gcif_sim(&[
        "run",
        &repo("simulations/costa-rica-observer.yaml"),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    // Costa Rica's copies differ from the messages as sent: each is written out.
    let flags: Vec<serde_json::Value> = lines(&dir.join("received.jsonl"))
        .into_iter()
        .filter(|r| r["to"] == "CR-MSP" && r["copy"]["kind"] == "document_flag")
        .map(|r| r["copy"]["payload"]["document_flag"].clone())
        .collect();
    assert_eq!(flags.len(), 2, "{flags:?}");
    let number = flags[0]["document_number"].as_str().unwrap();
    assert!(
        number.starts_with("hmac:") && number != "F0731542",
        "{number}"
    );
    assert_eq!(flags[1]["document_number"], flags[0]["document_number"]);
    assert_eq!(flags[0]["holder"]["birth_date"], "1988");
    // The caravan reaches Costa Rica with its position rounded.
    let caravan = lines(&dir.join("received.jsonl"))
        .into_iter()
        .find(|r| {
            r["to"] == "CR-MSP"
                && r["copy"]["payload"]["caravan_alert"]["caravan_id"] == "CARAVAN-SUR-1"
        })
        .unwrap();
    assert_eq!(
        caravan["copy"]["payload"]["caravan_alert"]["location"]["lat"],
        13.3
    );
    assert!(caravan["copy"]["payload"]["caravan_alert"]["minors"].is_null());
    // Another key gives other pseudonyms.
    let other = scratch("costa-rica-other-key");
    let out = gcif_sim(&[
        "run",
        &repo("simulations/costa-rica-observer.yaml"),
        "--out",
        other.to_str().unwrap(),
        "--key",
        "flag-matching=another-secret",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let again = lines(&other.join("received.jsonl"))
        .into_iter()
        .find(|r| r["to"] == "CR-MSP" && r["copy"]["kind"] == "document_flag")
        .unwrap();
    assert_ne!(
        again["copy"]["payload"]["document_flag"]["document_number"],
        number
    );
    // The checker, given the run's key, still finds no leak.
    let out = gcif_sim(&[
        "check",
        other.to_str().unwrap(),
        "--key",
        "flag-matching=another-secret",
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn the_leak_checker_passes_runs_with_faults_and_finds_a_leak_edited_in() {
    let dir = scratch("leak-check");
    let out = gcif_sim(&[
        "run",
        &repo("simulations/drill-partition-crash.yaml"),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("leak check: no leak:"),
        "{}",
        text(&out)
    );
    let out = gcif_sim(&["check", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));

    // Edit the run: the observer gets a document flag, and its copy of a
    // caravan alert gets its minors back.
    let flag_id = lines(&dir.join("messages.jsonl"))
        .into_iter()
        .find(|m| {
            m["envelope"]["kind"] == "document_flag" && m["envelope"]["originator"] != "MX-SEGOB"
        })
        .map(|m| m["msg"].as_str().unwrap().to_string())
        .unwrap();
    let path = dir.join("received.jsonl");
    let mut rows = lines(&path);
    rows.push(serde_json::json!({"to": "MX-SEGOB", "t": 1, "msg": flag_id}));
    let caravan = rows
        .iter_mut()
        .find(|r| r["to"] == "MX-SEGOB" && r["copy"]["kind"] == "caravan_alert")
        .unwrap();
    caravan["copy"]["payload"]["caravan_alert"]["minors"] = 99.into();
    let caravan_id = caravan["msg"].as_str().unwrap().to_string();
    let edited: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&path, edited).unwrap();
    let out = gcif_sim(&["check", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("2 leaks"), "{t}");
    assert!(
        t.contains(&format!("{flag_id} to MX-SEGOB: withheld by the agreement: document flags go to full participants only")),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "{caravan_id} to MX-SEGOB: field minors: the copy should be removed"
        )),
        "{t}"
    );
}

#[test]
fn content_the_hub_would_refuse_is_caught_when_the_scenario_loads() {
    let dir = scratch("load-refusals");
    let s = dir.join("s.yaml");
    let body = "start: 2019-01-01T00:00:00Z\nduration: 1h\ninjects:\n  - id: hot\n    at: 1m\n    \
                from: HN-SEDS\n    cargo_notice:\n      container: MSCU1234565\n      origin: { name: \
                A, country: HN }\n      destination: { name: B, country: US, lat: 215 }\n      \
                risk_score: 0.5\n";
    std::fs::write(&s, body).unwrap();
    let out = gcif_sim(&[
        "run",
        s.to_str().unwrap(),
        "--out",
        dir.join("r").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("s.yaml:4:5: the hub would refuse this message: destination.lat 215"),
        "{}",
        text(&out)
    );
    std::fs::write(
        &s,
        format!("{body}expect:\n  - {{ inject: hot, rejected: true }}\n"),
    )
    .unwrap();
    let out = gcif_sim(&[
        "run",
        s.to_str().unwrap(),
        "--out",
        dir.join("r").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// The first ```yaml block after `heading` in README.md.
fn readme_block(heading: &str) -> String {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let at = readme
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?} in README.md"));
    let start = readme[at..].find("```yaml\n").unwrap() + at + 8;
    let end = readme[start..].find("```").unwrap() + start;
    readme[start..end].to_string()
}

#[test]
fn the_readme_examples_are_valid() {
    let dir = scratch("readme-examples");
    let agreement = dir.join("agreement.yaml");
    std::fs::write(&agreement, readme_block("### The format")).unwrap();
    let out = gcif_sim(&["policy", "check", agreement.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let scenario = dir.join("scenario.yaml");
    std::fs::write(&scenario, readme_block("## Scenario format")).unwrap();
    let out = gcif_sim(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        dir.join("run").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn the_leak_checker_reads_every_record_of_receipt() {
    let dir = scratch("leak-records");
    let out = gcif_sim(&[
        "run",
        &repo("simulations/forged-passports.yaml"),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let messages = lines(&dir.join("messages.jsonl"));
    let flags: Vec<String> = messages
        .iter()
        .filter(|m| {
            m["envelope"]["kind"] == "document_flag" && m["envelope"]["originator"] != "MX-SEGOB"
        })
        .map(|m| m["msg"].as_str().unwrap().to_string())
        .collect();
    // The log says the observer got one flag…
    let mut log = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    log += &format!(
        "{}\n",
        serde_json::json!({"t": 1, "event": "delivered", "msg": flags[0], "kind": "document_flag", "to": "MX-SEGOB", "latency_ms": 1})
    );
    std::fs::write(dir.join("events.jsonl"), log).unwrap();
    // …and messages.jsonl lists its copy of another.
    let edited: String = messages
        .into_iter()
        .map(|mut m| {
            if m["msg"] == flags[1].as_str() {
                let copy = m["envelope"].clone();
                m["copies"] = serde_json::json!({ "MX-SEGOB": copy });
            }
            format!("{m}\n")
        })
        .collect();
    std::fs::write(dir.join("messages.jsonl"), edited).unwrap();
    let out = gcif_sim(&["check", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!("{} to MX-SEGOB: withheld by the agreement: document flags go to full participants only; it is an observer (delivered, says the log)", flags[0])),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "{} to MX-SEGOB: withheld by the agreement",
            flags[1]
        )),
        "{t}"
    );
}
