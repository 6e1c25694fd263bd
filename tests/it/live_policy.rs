//! Sharing agreements on the live path, as processes: a hub started with
//! `--policy FILE` among participants the agreement adds, a node in another
//! status, handling marks, named recipients and reshares over gRPC.

use crate::live_procs::{WITHIN, caravan, received_ids, send, start_hub, wait_metrics};
use crate::procs::{Proc, addr_after, scratch};

/// A node of `ministry` printing JSON lines, with `extra` arguments, once it serves.
fn node_with(ministry: &str, hub: &str, extra: &[&str]) -> Proc {
    let url = format!("http://{hub}");
    let mut args = vec!["node", "--ministry", ministry, "--hub", &url, "--json"];
    args.extend_from_slice(extra);
    let mut node = Proc::gcif(ministry, &args);
    node.wait_for(WITHIN, "its address", |l| {
        addr_after(l, "serving gcif.v1.Ministry on ")
    });
    node
}

/// `gcif-sim reshare` as `by`: (exit code, stdout).
fn reshare(hub: &str, by: &str, id: &str, to: &str) -> (i32, String) {
    let url = format!("http://{hub}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gcif-sim"))
        .args(["reshare", "--hub", &url, "--as", by, id, "--to", to])
        .output()
        .expect("gcif-sim reshare runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn flag(id: &str, handling: &str, to: Option<&str>) -> String {
    let to = to.map_or(String::new(), |t| format!("to: [{t}]\n"));
    format!(
        "id: {id}\nhandling: {handling}\n{to}document_flag:\n  document: {{ kind: passport, issuer: HN, \
         number: F0731542 }}\n  holder: {{ name: José Zelaya, nationality: HN }}\n  indicators: \
         [photo_substitution]\n  detected_at: {{ name: El Amatillo, country: SV }}\n"
    )
}

/// Waits until `node` has printed message `id`.
fn wait_received(node: &mut Proc, id: &str) {
    let id = id.to_string();
    node.wait_for(WITHIN, &format!("message {id}"), |l| {
        serde_json::from_str::<serde_json::Value>(&l.text)
            .ok()
            .filter(|v| v["envelope"]["id"] == id.as_str())
    });
}

#[test]
fn an_agreement_file_rules_the_live_hub() {
    let dir = scratch("live-policy");
    let agreement = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/regional-group.yaml");
    let (mut hub, grpc, http) = start_hub(
        &dir.join("hub"),
        &[
            "--policy",
            agreement,
            "--participants",
            "HN-SEDS,SV-MJSP,GT-MINGOB,US-DHS,CR-MSP",
        ],
    );
    let mut hn = node_with("HN-SEDS", &grpc, &[]);
    let mut sv = node_with("SV-MJSP", &grpc, &[]);
    let mut gt = node_with("GT-MINGOB", &grpc, &[]);
    // A participant the agreement adds, and one taking part for real.
    let mut cr = node_with("CR-MSP", &grpc, &[]);
    let mut us = node_with("US-DHS", &grpc, &["--status", "actual"]);
    wait_metrics(&http, "five connected nodes", |l| {
        l == "gcif_nodes_connected 5"
    });

    // Exercise traffic never reaches the participant in actual status, and
    // the guest gets no caravan alert.
    let (code, out, err) = send(&grpc, "HN-SEDS", &caravan("HN-SEDS-LIVE-1", "green"), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("withheld from US-DHS: US-DHS takes part in actual status"),
        "{out}"
    );
    assert!(out.contains("withheld from CR-MSP"), "{out}");
    wait_received(&mut sv, "HN-SEDS-LIVE-1");
    wait_received(&mut gt, "HN-SEDS-LIVE-1");

    // The hub refuses a publish whose status is not its sender's.
    let (code, out, _) = send(
        &grpc,
        "US-DHS",
        &format!("status: exercise\n{}", caravan("US-DHS-LIVE-1", "green")),
        &[],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("actual status"), "{out}");

    // TLP:RED: refused without named recipients, delivered to them alone with.
    let (code, out, _) = send(
        &grpc,
        "SV-MJSP",
        &flag("SV-MJSP-LIVE-RED", "red", None),
        &[],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("TLP:RED"), "{out}");
    let red = flag("SV-MJSP-LIVE-RED2", "red", Some("GT-MINGOB"));
    let (code, out, _) = send(&grpc, "SV-MJSP", &red, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("to GT-MINGOB"), "{out}");
    wait_received(&mut gt, "SV-MJSP-LIVE-RED2");

    // AMBER is passed on only among signatories; nobody passes on what it
    // never received; RED is never passed on.
    let (code, out, _) = send(
        &grpc,
        "SV-MJSP",
        &flag("SV-MJSP-LIVE-2", "amber", None),
        &[],
    );
    assert_eq!(code, 0, "{out}");
    wait_received(&mut hn, "SV-MJSP-LIVE-2");
    let (code, out) = reshare(&grpc, "HN-SEDS", "SV-MJSP-LIVE-2", "CR-MSP");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("TLP:AMBER"), "{out}");
    let (code, out) = reshare(&grpc, "CR-MSP", "SV-MJSP-LIVE-2", "GT-MINGOB");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("never received"), "{out}");
    let (code, out) = reshare(&grpc, "GT-MINGOB", "SV-MJSP-LIVE-RED2", "HN-SEDS");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("never be passed on"), "{out}");

    // A GREEN flag addressed to Guatemala alone, passed on by it to Honduras.
    let (code, out, _) = send(
        &grpc,
        "SV-MJSP",
        &flag("SV-MJSP-LIVE-3", "green", Some("GT-MINGOB")),
        &[],
    );
    assert_eq!(code, 0, "{out}");
    wait_received(&mut gt, "SV-MJSP-LIVE-3");
    let (code, out) = reshare(&grpc, "GT-MINGOB", "SV-MJSP-LIVE-3", "HN-SEDS");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("passed SV-MJSP-LIVE-3 on to HN-SEDS"), "{out}");
    wait_received(&mut hn, "SV-MJSP-LIVE-3");

    // A last message to every node: once it is in, nothing earlier is still
    // on its way, and the actual participant and the guest got nothing else.
    let (code, out, _) = send(
        &grpc,
        "HN-SEDS",
        "id: HN-SEDS-LIVE-END\ncargo_notice:\n  container: MSCU1234565\n  origin: { name: Puerto \
         Cortés, country: HN }\n  destination: { name: Puerto Limón, country: CR }\n  risk_score: 0.9\n",
        &[],
    );
    assert_eq!(code, 0, "{out}");
    wait_received(&mut cr, "HN-SEDS-LIVE-END");
    wait_received(&mut sv, "HN-SEDS-LIVE-END");
    assert_eq!(received_ids(&mut cr), ["HN-SEDS-LIVE-END"]);
    assert!(
        received_ids(&mut us).is_empty(),
        "{:?}",
        received_ids(&mut us)
    );
    assert!(!received_ids(&mut sv).contains(&"SV-MJSP-LIVE-RED2".to_string()));
    assert!(!received_ids(&mut hn).contains(&"SV-MJSP-LIVE-RED2".to_string()));

    for p in [&mut hn, &mut sv, &mut gt, &mut cr, &mut us, &mut hub] {
        assert_eq!(p.terminate(), 0, "{}", p.transcript());
    }
    let log = std::fs::read_to_string(dir.join("hub/events.jsonl")).unwrap();
    assert!(log.contains("\"event\":\"reshared\""), "{log}");
    assert_eq!(
        log.matches("\"event\":\"reshare_refused\"").count(),
        3,
        "{log}"
    );
    // The hub's run directory passes the leak checker on who got what.
    let check = crate::support::gcif_sim(&["check", dir.join("hub").to_str().unwrap()]);
    let said = String::from_utf8_lossy(&check.stdout).into_owned()
        + &String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{said}");
    assert!(said.contains("deliveries the log alone records"), "{said}");
}

#[test]
fn amendments_reshares_and_the_leak_check_hold_on_a_live_run() {
    for (scenario, events) in [
        ("misp-empty-group", &["\"event\":\"amended\""][..]),
        (
            "misp-outside-the-group",
            &["\"event\":\"reshared\"", "\"event\":\"reshare_refused\""][..],
        ),
    ] {
        let out = scratch(&format!("live-{scenario}"));
        let file = format!("{}/simulations/{scenario}.yaml", env!("CARGO_MANIFEST_DIR"));
        let mut run = Proc::gcif(
            scenario,
            &[
                "run",
                "--live",
                "--speed",
                "7200",
                "--out",
                out.to_str().unwrap(),
                &file,
            ],
        );
        let code = run.wait(std::time::Duration::from_secs(120));
        assert_eq!(code, 0, "every expectation met:\n{}", run.transcript());
        let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
        assert!(summary.contains("\"leak_check\": \"no leak:"), "{summary}");
        let log = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
        for e in events {
            assert!(log.contains(e), "{scenario}: no {e} in the live log");
        }
        // The run directory checks again from the command line.
        let check = crate::support::gcif_sim(&["check", out.to_str().unwrap()]);
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
}
