//! Backpressure: a recipient that is down fills its queue at the hub up to
//! `protocol: max_pending`, and no further. What is routed to it is then
//! deferred (RESOURCE_EXHAUSTED with a retry hint) and published again when
//! the hub said; everything else flows as before, and nothing is lost or
//! doubled. Both network models, on `simulations/stuck-recipient.yaml`;
//! live, against `gcif-sim hub --max-pending`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use gcif_sim::events::EventBody;
use gcif_sim::model::{Kind, MessageId, Ministry};
use gcif_sim::scenario::{self, NetModel};

use super::live_procs::{WITHIN, caravan, node, received_ids, send, start_hub, wait_metrics};
use super::procs::{Proc, scratch};
use super::support::play_scenario;

const MAX_PENDING: i64 = 40;

#[test]
fn a_stuck_recipient_fills_its_queue_to_the_bound_and_holds_back_nothing_else() {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("simulations/stuck-recipient.yaml");
    let loaded = scenario::load(&file).expect("the shipped scenario loads");
    assert_eq!(loaded.delivery.max_pending, MAX_PENDING as usize);
    let mx = Ministry::MX_SEGOB;
    for net in [NetModel::Grpc, NetModel::Message] {
        let mut s = loaded.clone();
        s.net = net;
        let played = play_scenario(s, loaded.seed.expect("the scenario has a seed"));
        played.assert_passed();
        let mut kinds: BTreeMap<MessageId, Kind> = BTreeMap::new();
        let mut waiting_for_mx = 0i64;
        let mut most_waiting = 0i64;
        let mut deferred = 0;
        let mut flag_latencies = Vec::new();
        for e in &played.out.events {
            match &e.body {
                EventBody::Published { msg, kind, .. } => {
                    kinds.insert(msg.clone(), *kind);
                }
                EventBody::Accepted { recipients, .. } if recipients.contains(&mx) => {
                    waiting_for_mx += 1;
                    most_waiting = most_waiting.max(waiting_for_mx);
                }
                EventBody::Delivered { to, .. } if *to == mx => waiting_for_mx -= 1,
                EventBody::Delivered {
                    kind: Kind::DocumentFlag,
                    latency_ms,
                    ..
                } => flag_latencies.push(*latency_ms),
                EventBody::Deferred {
                    msg,
                    full,
                    retry_ms,
                    ..
                } => {
                    deferred += 1;
                    assert_eq!(full, &[mx], "{net:?}: only Mexico is ever full");
                    assert_eq!(
                        kinds.get(msg),
                        Some(&Kind::CaravanAlert),
                        "{net:?}: only what goes to Mexico is deferred ({msg})"
                    );
                    assert!(
                        (1_000..=30_000).contains(retry_ms),
                        "{net:?}: the hint is within the hub's backoff: {retry_ms} ms"
                    );
                }
                _ => {}
            }
        }
        assert!(deferred > 0, "{net:?}: the bound was reached");
        // Accepted for Mexico and not yet processed by it: never more than
        // the hub keeps for one recipient.
        assert_eq!(
            most_waiting, MAX_PENDING,
            "{net:?}: Mexico's queue filled to the bound and no further"
        );
        assert_eq!(
            waiting_for_mx, 0,
            "{net:?}: Mexico got everything in the end"
        );
        flag_latencies.sort_unstable();
        let p99 = flag_latencies[flag_latencies.len() * 99 / 100];
        assert!(
            p99 < 1_000,
            "{net:?}: document flags (not for Mexico) flow as before: p99 {p99} ms"
        );
    }
}

#[test]
fn a_live_hub_defers_with_a_retry_hint_and_takes_the_message_once_there_is_room() {
    let dir = scratch("backpressure-live");
    let (mut hub, grpc, http) = start_hub(
        &dir.join("hub"),
        &["--participants", "HN-SEDS,GT-MINGOB", "--max-pending", "2"],
    );
    for n in 1..=2 {
        let (code, out, err) = send(
            &grpc,
            "HN-SEDS",
            &caravan(&format!("HN-SEDS-BP-{n}"), "green"),
            &[],
        );
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("to GT-MINGOB"), "{out}");
    }
    // GT-MINGOB has no node yet: two wait for it, and a third is deferred.
    let (code, out, err) = send(
        &grpc,
        "HN-SEDS",
        &caravan("HN-SEDS-BP-3", "green"),
        &["--give-up", "100ms"],
    );
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("ResourceExhausted"), "{err}");
    assert!(
        err.contains("GT-MINGOB already has 2 messages waiting"),
        "{err}"
    );
    // A sender that keeps trying is told when to come back (the
    // grpc-retry-pushback-ms trailer), and gets through once GT-MINGOB's
    // node has taken its two.
    let message = dir.join("bp-3.yaml");
    std::fs::write(&message, caravan("HN-SEDS-BP-3", "green")).unwrap();
    let url = format!("http://{grpc}");
    let mut sender = Proc::gcif(
        "send",
        &[
            "send",
            "--hub",
            &url,
            "--as",
            "HN-SEDS",
            "--give-up",
            "60s",
            message.to_str().unwrap(),
        ],
    );
    let retry_line = sender.wait_for(WITHIN, "a retry with the hub's hint", |l| {
        (l.stderr && l.text.contains("ResourceExhausted")).then(|| l.text.clone())
    });
    let hinted: u64 = retry_line
        .rsplit("retrying in ")
        .next()
        .and_then(|rest| rest.trim_end_matches(" ms").trim().parse().ok())
        .unwrap_or_else(|| panic!("a hint in: {retry_line}"));
    assert!((1_000..=30_000).contains(&hinted), "{retry_line}");
    let mut gt = node("GT-MINGOB", &grpc);
    assert_eq!(
        sender.wait(WITHIN + Duration::from_secs(30)),
        0,
        "{}",
        sender.transcript()
    );
    wait_metrics(&http, "three deliveries to GT-MINGOB", |l| {
        l == "gcif_delivered_total{to=\"GT-MINGOB\",kind=\"caravan_alert\"} 3"
    });
    assert_eq!(gt.terminate(), 0);
    let mut ids = received_ids(&mut gt);
    ids.sort();
    assert_eq!(ids, ["HN-SEDS-BP-1", "HN-SEDS-BP-2", "HN-SEDS-BP-3"]);
    hub.terminate();
    let events = std::fs::read_to_string(dir.join("hub/events.jsonl")).expect("the hub's log");
    assert!(
        events
            .lines()
            .any(|l| l.contains("\"event\":\"deferred\"") && l.contains("HN-SEDS-BP-3")),
        "the deferral is in the hub's log"
    );
}
