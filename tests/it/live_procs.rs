//! The live exchange as separate processes, as a user starts it: `gcif-sim
//! hub`, `gcif-sim node`, `gcif-sim send`, `gcif-sim run --live`, on
//! loopback ports the processes pick themselves, every one stopped at the end.

use std::time::Duration;

use crate::procs::{Proc, addr_after, http_get, scratch};

pub(crate) const WITHIN: Duration = Duration::from_secs(30);

/// A hub on free ports with `--http` and `--out DIR`: (process, gRPC and HTTP addresses).
pub(crate) fn start_hub(out: &std::path::Path, extra: &[&str]) -> (Proc, String, String) {
    let out = out.to_str().unwrap();
    let mut args = vec![
        "hub",
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    let mut hub = Proc::gcif("hub", &args);
    let grpc = hub.wait_for(WITHIN, "the hub's address", |l| {
        addr_after(l, "serving gcif.v1.Hub on ")
    });
    let http = hub.wait_for(WITHIN, "the metrics address", |l| {
        addr_after(l, "metrics on http://")
    });
    (hub, grpc, http)
}

/// A node of `ministry` printing JSON lines, once it serves.
pub(crate) fn node(ministry: &str, hub: &str) -> Proc {
    let url = format!("http://{hub}");
    let mut node = Proc::gcif(
        ministry,
        &["node", "--ministry", ministry, "--hub", &url, "--json"],
    );
    node.wait_for(WITHIN, "its address", |l| {
        addr_after(l, "serving gcif.v1.Ministry on ")
    });
    node
}

/// Waits until the hub's `/metrics` has a line for which `f` holds.
pub(crate) fn wait_metrics(http: &str, what: &str, f: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + WITHIN;
    loop {
        let (status, body) = http_get(http, "/metrics");
        assert_eq!(status, 200, "{body}");
        if body.lines().any(&f) {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {what} in /metrics:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `gcif-sim send` of `yaml` as `sender`: (exit code, stdout, stderr).
pub(crate) fn send(hub: &str, sender: &str, yaml: &str, extra: &[&str]) -> (i32, String, String) {
    use std::io::Write;
    let url = format!("http://{hub}");
    let mut args = vec!["send", "--hub", url.as_str(), "--as", sender, "-"];
    args.extend_from_slice(extra);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gcif-sim"))
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("gcif-sim send starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("send exits");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) fn caravan(id: &str, handling: &str) -> String {
    format!(
        "id: {id}\nhandling: {handling}\ncaravan_alert:\n  caravan_id: CAR-LIVE-1\n  location: \
         {{name: San Pedro Sula, country: HN, lat: 15.5, lon: -88.0}}\n  estimated_size: 800\n  \
         minors: 120\n"
    )
}

/// The envelopes a `--json` node printed, as JSON.
/// The ids of the messages a `--json` node printed, in the order it got them.
pub(crate) fn received_ids(node: &mut Proc) -> Vec<String> {
    received(node)
        .iter()
        .map(|e| {
            e["id"]
                .as_str()
                .expect("every envelope has an id")
                .to_string()
        })
        .collect()
}

pub(crate) fn received(node: &mut Proc) -> Vec<serde_json::Value> {
    node.stdout()
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("envelope").cloned())
        .collect()
}

#[test]
fn hub_nodes_and_send_as_separate_processes() {
    let dir = scratch("live-procs-exchange");
    let (mut hub, grpc, http) = start_hub(&dir.join("hub"), &[]);
    // Nodes started after the hub join it by registering.
    let mut gt = node("GT-MINGOB", &grpc);
    let mut mx = node("MX-SEGOB", &grpc);
    wait_metrics(&http, "two connected nodes", |l| {
        l == "gcif_nodes_connected 2"
    });

    let (code, out, err) = send(&grpc, "HN-SEDS", &caravan("HN-SEDS-LIVE-1", "amber"), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("accepted HN-SEDS-LIVE-1"), "{out}");
    assert!(
        out.contains("GT-MINGOB") && out.contains("MX-SEGOB"),
        "{out}"
    );

    let got = |p: &mut Proc| {
        p.wait_for(WITHIN, "the caravan alert", |l| {
            let v: serde_json::Value = serde_json::from_str(&l.text).ok()?;
            let env = v.get("envelope")?;
            (env["id"] == "HN-SEDS-LIVE-1").then(|| env.clone())
        })
    };
    let at_gt = got(&mut gt);
    let at_mx = got(&mut mx);
    assert_eq!(at_gt["payload"]["caravan_alert"]["minors"], 120);
    assert!(
        at_mx["payload"]["caravan_alert"]["minors"].is_null(),
        "the observer's copy has minors redacted: {at_mx}"
    );

    // A refusal exits 1 with the hub's reason; bad input exits 2 with file:line:col.
    let (code, out, _) = send(&grpc, "HN-SEDS", &caravan("HN-SEDS-LIVE-2", "red"), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("refused HN-SEDS-LIVE-2: PERMISSION_DENIED"),
        "{out}"
    );
    let (code, _, err) = send(
        &grpc,
        "HN-SEDS",
        "caravan_alert:\n  caravan_id: X\n  location: {name: A, country: ZZ}\n",
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("<stdin>:3:") && err.contains("ZZ"), "{err}");
    // Another ministry's id space is refused, as the .proto says.
    let (code, out, _) = send(&grpc, "HN-SEDS", &caravan("GT-MINGOB-000777", "green"), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PERMISSION_DENIED"), "{out}");
    // A hub that never answers: retried until --give-up, then exit 2.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (code, _, err) = send(
        &closed.to_string(),
        "HN-SEDS",
        &caravan("HN-SEDS-LIVE-3", "green"),
        &["--give-up", "1s"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("gave up"), "{err}");

    let metrics = wait_metrics(&http, "GT-MINGOB's delivery", |l| {
        l == "gcif_delivered_total{to=\"GT-MINGOB\",kind=\"caravan_alert\"} 1"
    });
    assert!(
        metrics.contains("gcif_accepted_total{from=\"HN-SEDS\",kind=\"caravan_alert\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gcif_rejected_total{from=\"HN-SEDS\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE gcif_delivery_latency_seconds histogram"),
        "{metrics}"
    );
    assert_eq!(http_get(&http, "/healthz").0, 200);

    assert_eq!(gt.terminate(), 0, "{}", gt.transcript());
    assert_eq!(mx.terminate(), 0, "{}", mx.transcript());
    assert_eq!(
        hub.terminate(),
        0,
        "SIGTERM is a clean stop: {}",
        hub.transcript()
    );

    // The hub's run directory reads like a simulated one.
    let run = dir.join("hub");
    for f in [
        "events.jsonl",
        "messages.jsonl",
        "summary.json",
        "scenario.yaml",
    ] {
        assert!(run.join(f).is_file(), "{f} in the hub's run directory");
    }
    let events = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    let delivered = events
        .lines()
        .filter(|l| l.contains("\"event\":\"delivered\""))
        .count();
    assert_eq!(
        delivered, 2,
        "the hub logs its remote nodes' deliveries:\n{events}"
    );
    assert!(events.contains("\"event\":\"rejected\""), "{events}");
    assert!(events.contains("\"event\":\"registered\""), "{events}");
    let report = crate::support::gcif_sim(&["report", run.to_str().unwrap()]);
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.contains("HN-SEDS-LIVE-1"),
        "the report shows the live message"
    );
    assert!(
        html.contains("Played live"),
        "and says the run was live, not reproducible"
    );
}

#[test]
fn a_node_restarted_mid_run_gets_what_it_missed_and_nothing_twice() {
    let dir = scratch("live-procs-restart");
    let (mut hub, grpc, http) = start_hub(&dir.join("hub"), &[]);
    let mut gt = node("GT-MINGOB", &grpc);
    wait_metrics(&http, "GT-MINGOB connected", |l| {
        l == "gcif_node_connected{ministry=\"GT-MINGOB\"} 1"
    });
    for i in 1..=3 {
        let (code, out, err) = send(
            &grpc,
            "HN-SEDS",
            &caravan(&format!("HN-SEDS-R{i}"), "green"),
            &[],
        );
        assert_eq!(code, 0, "{out}{err}");
    }
    wait_metrics(&http, "three deliveries to GT-MINGOB", |l| {
        l == "gcif_delivered_total{to=\"GT-MINGOB\",kind=\"caravan_alert\"} 3"
    });
    assert_eq!(gt.terminate(), 0);
    let first: Vec<String> = received_ids(&mut gt);
    assert_eq!(first, ["HN-SEDS-R1", "HN-SEDS-R2", "HN-SEDS-R3"]);

    // While GT-MINGOB is down, three more wait at the hub.
    for i in 4..=6 {
        let (code, out, err) = send(
            &grpc,
            "HN-SEDS",
            &caravan(&format!("HN-SEDS-R{i}"), "green"),
            &[],
        );
        assert_eq!(code, 0, "{out}{err}");
    }
    wait_metrics(&http, "three pending for GT-MINGOB", |l| {
        l == "gcif_pending{to=\"GT-MINGOB\"} 3"
    });
    let mut again = node("GT-MINGOB", &grpc);
    // The hub says whose registration this one replaced (the first node's lease still ran).
    again.wait_for(WITHIN, "the note of the replaced registration", |l| {
        l.text
            .contains("the hub had GT-MINGOB at http://")
            .then_some(())
    });
    wait_metrics(&http, "nothing pending for GT-MINGOB", |l| {
        l == "gcif_pending{to=\"GT-MINGOB\"} 0"
    });
    assert_eq!(again.terminate(), 0);
    // Deliveries run concurrently (a window per recipient): any order.
    let mut second: Vec<String> = received_ids(&mut again);
    second.sort();
    assert_eq!(
        second,
        ["HN-SEDS-R4", "HN-SEDS-R5", "HN-SEDS-R6"],
        "what it missed, and nothing it had acknowledged"
    );
    assert_eq!(hub.terminate(), 0);

    // A hub restarted on the same run directory continues its log.
    let (mut hub2, _, _) = start_hub(&dir.join("hub"), &[]);
    assert_eq!(hub2.terminate(), 0);
    let events = std::fs::read_to_string(dir.join("hub/events.jsonl")).unwrap();
    let started: Vec<u64> = events
        .lines()
        .filter(|l| l.contains("\"event\":\"started\""))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["t"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(started.len(), 2, "{events}");
    assert!(
        started[1] > started[0],
        "t goes on from the first start: {started:?}"
    );
    assert_eq!(
        events
            .lines()
            .filter(|l| l.contains("\"event\":\"accepted\""))
            .count(),
        6,
        "the first process's events are kept"
    );
    let messages = std::fs::read_to_string(dir.join("hub/messages.jsonl")).unwrap();
    assert_eq!(messages.lines().count(), 6, "and its messages: {messages}");
}

/// A small scenario for live runs: two hours, a caravan from HN-SEDS, a
/// flag from GT-MINGOB during a partition of GT-MINGOB from the hub.
pub(crate) const LIVE_SCENARIO: &str = r#"
name: live-small
start: 2019-01-15T05:00:00-06:00
duration: 2h
drain: 30m
participants: [US-DHS, GT-MINGOB, HN-SEDS, SV-MJSP]
faults:
  - { at: 30m, partition: [GT-MINGOB, GCIF], for: 30m }
injects:
  - id: caravan
    at: 10m
    from: HN-SEDS
    caravan_alert:
      caravan_id: CAR-LIVE
      location: { name: San Pedro Sula, country: HN }
      estimated_size: 500
  - id: to-gt-while-cut
    at: 40m
    from: US-DHS
    document_flag:
      document: { kind: passport, issuer: HN, number: F1234567 }
      holder: { name: Test Subject }
      indicators: [photo_substitution]
      detected_at: { name: Houston, country: US }
expect:
  - { inject: caravan, delivered_to: [US-DHS, GT-MINGOB, SV-MJSP], within: 5m }
  - { name: "GT-MINGOB gets it once the partition heals", inject: to-gt-while-cut, delivered_to: [GT-MINGOB, HN-SEDS, SV-MJSP], within: 1h }
  - no_loss: true
  - no_duplicates: true
"#;

#[test]
fn a_scenario_plays_live_with_an_external_node_and_a_real_partition() {
    let dir = scratch("live-procs-run");
    let file = dir.join("live-small.yaml");
    std::fs::write(&file, LIVE_SCENARIO).unwrap();
    let out = dir.join("run");
    let mut run = Proc::gcif(
        "run --live",
        &[
            "run",
            "--live",
            "--speed",
            "600",
            "--external",
            "SV-MJSP",
            "--out",
            out.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    );
    // The run says what to start, and waits for it.
    let hub = run.wait_for(WITHIN, "the wait for SV-MJSP", |l| {
        l.text
            .contains("waiting for SV-MJSP to join")
            .then(|| addr_after(l, "--hub http://"))
            .flatten()
    });
    let mut sv = node("SV-MJSP", &hub);
    let code = run.wait(Duration::from_secs(120));
    assert_eq!(code, 0, "every expectation met:\n{}", run.transcript());
    // The external node received the scripted messages meant for it.
    let ids: Vec<String> = received_ids(&mut sv);
    assert!(ids.contains(&"HN-SEDS-000001".to_string()), "{ids:?}");
    assert!(ids.contains(&"US-DHS-000001".to_string()), "{ids:?}");
    assert_eq!(sv.terminate(), 0);

    let text = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    let events = gcif_sim::events::read_jsonl(&text).unwrap();
    use gcif_sim::events::EventBody;
    use gcif_sim::model::Ministry;
    // The partition was real: GT-MINGOB's copy came only after it healed (1h).
    let at = events
        .iter()
        .find_map(|e| match &e.body {
            EventBody::Delivered {
                msg,
                to: Ministry::GT_MINGOB,
                ..
            } if msg.0 == "US-DHS-000001" => Some(e.t),
            _ => None,
        })
        .expect("GT-MINGOB got the flag");
    assert!(
        at >= 3_600_000,
        "delivered at t={at}, before the partition healed"
    );
    assert!(
        events.iter().any(|e| matches!(
            &e.body,
            EventBody::Failed {
                to: gcif_sim::model::Host::Node(Ministry::GT_MINGOB),
                ..
            }
        )),
        "deliveries to the partitioned node failed for real"
    );
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(summary.contains("\"passed\": true"), "{summary}");
    assert!(
        summary.contains("\"live\": \"run --live --speed 600 --external SV-MJSP\""),
        "{summary}"
    );
}

#[test]
fn a_scenario_plays_live_against_a_hub_already_running() {
    let dir = scratch("live-procs-run-hub");
    let file = dir.join("live-small.yaml");
    std::fs::write(&file, LIVE_SCENARIO).unwrap();
    let (mut hub, grpc, _http) = start_hub(&dir.join("hub"), &[]);
    let mut sv = node("SV-MJSP", &grpc);
    let out = dir.join("run");
    let url = format!("http://{grpc}");
    let mut run = Proc::gcif(
        "run --live --hub",
        &[
            "run",
            "--live",
            "--speed",
            "600",
            "--hub",
            &url,
            "--external",
            "SV-MJSP",
            "--out",
            out.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    );
    let code = run.wait(Duration::from_secs(120));
    assert_eq!(
        code,
        0,
        "every expectation met, SV-MJSP's deliveries from Hub.Track:\n{}",
        run.transcript()
    );
    let ids: Vec<String> = received_ids(&mut sv);
    assert!(ids.contains(&"US-DHS-000001".to_string()), "{ids:?}");
    assert_eq!(sv.terminate(), 0);
    assert_eq!(hub.terminate(), 0);
    // The hub's own log saw the run's messages.
    let events = std::fs::read_to_string(dir.join("hub/events.jsonl")).unwrap();
    assert!(events.contains("\"msg\":\"HN-SEDS-000001\""), "{events}");
}

#[test]
fn a_hub_serves_the_console_and_takes_an_improvised_message() {
    let dir = scratch("live-procs-hub-console");
    let out = dir.join("hub");
    let mut hub = Proc::gcif(
        "hub --dashboard",
        &[
            "hub",
            "--listen",
            "127.0.0.1:0",
            "--dashboard",
            "127.0.0.1:0",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let console = hub.wait_for(WITHIN, "the console's address", |l| {
        addr_after(l, "trainer's console on http://")
    });
    let grpc = hub.wait_for(WITHIN, "the hub's address", |l| {
        addr_after(l, "serving gcif.v1.Hub on ")
    });
    let mut us = node("US-DHS", &grpc);
    let (status, page) = http_get(&console, "/");
    assert_eq!(status, 200);
    assert!(
        page.contains("GCIF trainer's console") && !page.contains("https://"),
        "served whole, nothing fetched"
    );
    let (status, meta) = http_get(&console, "/api/meta");
    assert_eq!(status, 200);
    assert!(meta.contains("\"controls\":[\"inject\"]"), "{meta}");
    let message = r#"{\"caravan_alert\":{\"caravan_id\":\"C1\",\"location\":{\"name\":\"Corinto\",\"country\":\"HN\"}}}"#;
    let (status, body) = crate::procs::http_post(
        &console,
        "/api/control",
        &format!(r#"{{"action":"inject","from":"HN-SEDS","message":"{message}"}}"#),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("accepted for"), "{body}");
    let id = us.wait_for(WITHIN, "the improvised message", |l| {
        let v: serde_json::Value = serde_json::from_str(&l.text).ok()?;
        let id = v["envelope"]["id"].as_str()?;
        id.starts_with("HN-SEDS-C").then(|| id.to_string())
    });
    let (status, _) = crate::procs::http_post(&console, "/api/control", r#"{"action":"pause"}"#);
    assert_eq!(status, 422, "a standalone hub cannot be paused");
    assert_eq!(us.terminate(), 0);
    assert_eq!(hub.terminate(), 0);
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    assert!(
        events.contains("\"event\":\"control\"") && events.contains(&id),
        "{events}"
    );
}
