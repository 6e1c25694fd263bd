//! A ministry node written in Python with grpcio, from `proto/` alone
//! (`examples/python-node/gcif_node.py`), joins a live exchange of separate
//! processes: it publishes an alert the Rust nodes receive, receives and
//! acknowledges theirs, discards a redelivery, and probes the hub with
//! malformed, oversize and misattributed requests.
//!
//! The Python is `$GCIF_PYTHON`, else `python3` if it has `grpc` and
//! `grpc_tools`. Where there is none the test says so and passes, unless
//! `GCIF_REQUIRE_PYTHON` is set (CI sets it, after installing grpcio in a
//! virtual environment).

use std::time::Duration;

use crate::procs::{Proc, addr_after, scratch};

const WITHIN: Duration = Duration::from_secs(60);

/// The Python node, run from the repository.
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/python-node/gcif_node.py"
);

fn python() -> Option<String> {
    let candidates = std::env::var("GCIF_PYTHON")
        .ok()
        .into_iter()
        .chain(["python3".to_string()]);
    for py in candidates {
        let ok = std::process::Command::new(&py)
            .args(["-c", "import grpc, grpc_tools"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(py);
        }
    }
    assert!(
        std::env::var_os("GCIF_REQUIRE_PYTHON").is_none(),
        "GCIF_REQUIRE_PYTHON is set but no Python with grpcio and grpcio-tools was found \
         (set GCIF_PYTHON)"
    );
    eprintln!(
        "note: no Python with grpcio: the Python node test is skipped (pip install -r \
         examples/python-node/requirements.txt, or set GCIF_PYTHON)"
    );
    None
}

fn json(line: &str) -> Option<serde_json::Value> {
    serde_json::from_str(line).ok()
}

#[test]
fn a_python_node_written_from_the_proto_joins_a_live_exchange() {
    let Some(py) = python() else {
        return;
    };
    let dir = scratch("python-node");
    let out = dir.join("hub");
    let mut hub = Proc::gcif(
        "hub",
        &[
            "hub",
            "--listen",
            "127.0.0.1:0",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let addr = hub.wait_for(WITHIN, "the hub's address", |l| {
        addr_after(l, "serving gcif.v1.Hub on ")
    });
    let url = format!("http://{addr}");
    let mut rust_nodes: Vec<Proc> = ["US-DHS", "GT-MINGOB"]
        .iter()
        .map(|m| {
            let mut p = Proc::gcif(m, &["node", "--ministry", m, "--hub", &url, "--json"]);
            p.wait_for(WITHIN, "its address", |l| {
                addr_after(l, "serving gcif.v1.Ministry on ")
            });
            p
        })
        .collect();
    let mut sv = Proc::start(
        "python MX-SEGOB",
        &py,
        &[
            SCRIPT,
            "--ministry",
            "MX-SEGOB",
            "--hub",
            &url,
            "--publish-caravan",
            "MX-SEGOB-PY-000001",
            "--probe",
        ],
    );
    let py_addr = sv.wait_for(WITHIN, "its address", |l| {
        let v = json(&l.text)?;
        (v["event"] == "listening").then(|| v["address"].as_str().unwrap().to_string())
    });
    sv.wait_for(WITHIN, "its registration", |l| {
        json(&l.text).filter(|v| v["event"] == "registered")
    });

    // Its alert reaches the Rust nodes.
    let receipt = sv.wait_for(WITHIN, "its publish receipt", |l| {
        json(&l.text).filter(|v| v["event"] == "published")
    });
    let recipients: Vec<&str> = receipt["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        recipients.contains(&"US-DHS") && recipients.contains(&"GT-MINGOB"),
        "{receipt}"
    );
    for node in &mut rust_nodes {
        node.wait_for(WITHIN, "the Python node's alert", |l| {
            let v = json(&l.text)?;
            (v["envelope"]["id"] == "MX-SEGOB-PY-000001").then_some(())
        });
    }

    // A Rust-side message reaches it, and it acknowledges it.
    let send = crate::support::gcif_sim(&[
        "send",
        "--hub",
        &url,
        "--as",
        "HN-SEDS",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/messages/caravan-alert.yaml"
        ),
    ]);
    assert!(
        send.status.success(),
        "{}",
        String::from_utf8_lossy(&send.stderr)
    );
    let id = String::from_utf8_lossy(&send.stdout)
        .split_whitespace()
        .nth(1)
        .expect("accepted ID")
        .trim_end_matches(':')
        .to_string();
    let first = sv.wait_for(WITHIN, "the Rust node's alert", |l| {
        json(&l.text).filter(|v| v["event"] == "delivered" && v["msg"] == id.as_str())
    });
    assert_eq!(first["from"], "HN-SEDS");
    // It is the observer: its copy comes with the withheld field named.
    assert_eq!(
        first["redacted"],
        serde_json::json!(["caravan_alert.minors"]),
        "{first}"
    );

    // A redelivery is discarded: acknowledged as a duplicate, not processed.
    let envelope = {
        // The live log reaches its file within 50 ms: wait for it, bounded.
        let deadline = std::time::Instant::now() + WITHIN;
        loop {
            let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
            if events.contains(&format!("\"msg\":\"{id}\"")) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{events}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        caravan_envelope(&id)
    };
    let ack = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut client =
                gcif_sim::wire::ministry_client::MinistryClient::connect(py_addr.clone())
                    .await
                    .expect("the Python node serves Ministry");
            client
                .deliver(gcif_sim::wire::Delivery {
                    envelope: Some(envelope),
                    recipient: "MX-SEGOB".into(),
                    attempt: 9,
                    redacted: Vec::new(),
                })
                .await
                .expect("a redelivery is acknowledged")
                .into_inner()
        });
    assert!(ack.duplicate, "{ack:?}");
    sv.wait_for(WITHIN, "the duplicate discarded", |l| {
        json(&l.text).filter(|v| v["event"] == "duplicate" && v["attempt"] == 9)
    });

    // Its probes get the codes the .proto documents.
    let expected = [
        ("missing_envelope", vec!["INVALID_ARGUMENT"]),
        ("unknown_originator", vec!["PERMISSION_DENIED"]),
        ("gcif_originator", vec!["PERMISSION_DENIED"]),
        ("foreign_id_space", vec!["PERMISSION_DENIED"]),
        ("bad_country", vec!["INVALID_ARGUMENT"]),
        ("created_in_year_3000", vec!["INVALID_ARGUMENT"]),
        ("unspecified_enum", vec!["INVALID_ARGUMENT"]),
        ("envelope_over_1mib", vec!["INVALID_ARGUMENT"]),
        ("request_over_4mib", vec!["RESOURCE_EXHAUSTED"]),
        ("register_unknown_ministry", vec!["PERMISSION_DENIED"]),
        ("red_without_recipients", vec!["PERMISSION_DENIED"]),
        ("reshare_without_id", vec!["INVALID_ARGUMENT"]),
        ("reshare_unknown_message", vec!["NOT_FOUND"]),
    ];
    for (name, codes) in expected {
        let probe = sv.wait_for(WITHIN, &format!("probe {name}"), |l| {
            json(&l.text).filter(|v| v["event"] == "probe" && v["name"] == name)
        });
        let code = probe["code"].as_str().unwrap();
        assert!(codes.contains(&code), "{name}: {probe}");
        assert!(
            !probe["reason"].as_str().unwrap_or("").is_empty(),
            "{name} has a reason"
        );
    }

    assert_eq!(sv.terminate(), 0, "{}", sv.transcript());
    for mut node in rust_nodes {
        assert_eq!(node.terminate(), 0);
    }
    assert_eq!(hub.terminate(), 0);
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    assert!(
        events
            .lines()
            .any(|l| l.contains("\"event\":\"delivered\"") && l.contains("\"to\":\"MX-SEGOB\"")),
        "the hub logs the Python node's acknowledgement"
    );
    assert!(
        events
            .lines()
            .any(|l| l.contains("\"event\":\"refused_request\"") && l.contains("XX-FOO")),
        "the misattributed probe left a line in the log"
    );
}

/// The wire envelope of the caravan alert in examples/messages, as `id`.
fn caravan_envelope(id: &str) -> gcif_sim::wire::Envelope {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/messages/caravan-alert.yaml"
    ))
    .unwrap();
    let from: gcif_sim::model::Ministry = "HN-SEDS".parse().unwrap();
    let env = gcif_sim::scenario::message(
        "caravan-alert.yaml",
        &text,
        from,
        gcif_sim::model::Timestamp(1_700_000_000_000),
        id,
    )
    .expect("the example message reads");
    (&env).into()
}

#[test]
fn a_python_node_speaks_mutual_tls_and_cannot_speak_for_another_ministry() {
    let Some(py) = python() else {
        return;
    };
    let dir = scratch("python-node-tls");
    let certs = dir.join("certs");
    let certs_arg = certs.to_str().unwrap();
    let made = crate::support::gcif_sim(&["certs", "init", certs_arg]);
    assert!(made.status.success(), "{made:?}");
    let mut hub = Proc::gcif(
        "hub",
        &["hub", "--listen", "127.0.0.1:0", "--tls", certs_arg],
    );
    let addr = hub.wait_for(WITHIN, "the hub's address", |l| {
        addr_after(l, "serving gcif.v1.Hub on ")
    });
    let url = format!("https://{addr}");
    let mut gt = Proc::gcif(
        "GT-MINGOB",
        &[
            "node",
            "--ministry",
            "GT-MINGOB",
            "--hub",
            &url,
            "--json",
            "--tls",
            certs_arg,
        ],
    );
    gt.wait_for(WITHIN, "its registration", |l| {
        l.text.contains("registered with the hub").then_some(())
    });
    let mut mx = Proc::start(
        "python MX-SEGOB (TLS)",
        &py,
        &[
            SCRIPT,
            "--ministry",
            "MX-SEGOB",
            "--hub",
            &url,
            "--tls",
            certs_arg,
            "--publish-caravan",
            "MX-SEGOB-TLS-000001",
            "--probe",
        ],
    );
    let listening = mx.wait_for(WITHIN, "its address", |l| {
        json(&l.text).filter(|v| v["event"] == "listening")
    });
    assert!(
        listening["address"]
            .as_str()
            .unwrap()
            .starts_with("https://"),
        "{listening}"
    );
    mx.wait_for(WITHIN, "its registration", |l| {
        json(&l.text).filter(|v| v["event"] == "registered")
    });
    gt.wait_for(WITHIN, "the Python node's alert over TLS", |l| {
        let v = json(&l.text)?;
        (v["envelope"]["id"] == "MX-SEGOB-TLS-000001").then_some(())
    });
    // A delivery to it goes over TLS too: the hub's certificate, checked.
    let send = crate::support::gcif_sim(&[
        "send",
        "--hub",
        &url,
        "--as",
        "HN-SEDS",
        "--tls",
        certs_arg,
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/messages/caravan-alert.yaml"
        ),
    ]);
    assert!(send.status.success(), "{send:?}");
    mx.wait_for(WITHIN, "a delivery over TLS", |l| {
        json(&l.text).filter(|v| v["event"] == "delivered" && v["from"] == "HN-SEDS")
    });
    for name in [
        "publish_as_another_ministry",
        "register_as_another_ministry",
        "reshare_as_another_ministry",
    ] {
        let probe = mx.wait_for(WITHIN, &format!("probe {name}"), |l| {
            json(&l.text).filter(|v| v["event"] == "probe" && v["name"] == name)
        });
        assert_eq!(probe["code"], "PERMISSION_DENIED", "{name}: {probe}");
        assert!(
            probe["reason"]
                .as_str()
                .unwrap()
                .contains("authenticated as MX-SEGOB"),
            "{probe}"
        );
    }
    assert_eq!(mx.terminate(), 0, "{}", mx.transcript());
    assert_eq!(gt.terminate(), 0);
    assert_eq!(hub.terminate(), 0);
}
