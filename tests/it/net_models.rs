//! The two network models against each other: every shipped and `benches/`
//! scenario played in both must meet the same expectations, accept and
//! refuse the same messages for the same recipients, deliver every copy
//! exactly once in both, and keep latencies within the tolerance
//! ARCHITECTURE.md states ("Two network models"): each of p50, p90 and p99
//! of the first deliveries within 10% of the larger plus 50 ms. And each
//! model is deterministic: the same seed plays the same log, byte for byte.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use gcif_sim::events::{EventBody, write_jsonl};
use gcif_sim::model::{MessageId, Ministry};
use gcif_sim::run::{self, Run};
use gcif_sim::scenario::{self, NetModel, Scenario};

use super::support::{gcif_sim, shipped};

fn benches() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("benches/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "benches/ holds scenarios");
    files
}

fn play(scenario: &Scenario, net: NetModel, seed: u64) -> Run {
    let mut s = scenario.clone();
    s.net = net;
    run::play(&s, seed, None).expect("the run starts")
}

/// What a run decided and did, as the two models must agree on it.
#[derive(Debug, PartialEq)]
struct Outcome {
    verdicts: Vec<(String, bool)>,
    accepted: BTreeMap<MessageId, Vec<Ministry>>,
    rejected: BTreeSet<MessageId>,
    undeliverable: BTreeSet<(MessageId, Ministry)>,
    delivered: BTreeSet<(MessageId, Ministry)>,
}

/// The run's outcome, and its first-delivery latencies in order; panics on
/// a copy delivered twice.
fn outcome(run: &Run, what: &str) -> (Outcome, Vec<u64>) {
    let mut o = Outcome {
        verdicts: run
            .verdicts
            .iter()
            .map(|v| (v.name.clone(), v.ok))
            .collect(),
        accepted: BTreeMap::new(),
        rejected: BTreeSet::new(),
        undeliverable: BTreeSet::new(),
        delivered: BTreeSet::new(),
    };
    let mut latencies = Vec::new();
    for e in &run.events {
        match &e.body {
            EventBody::Accepted {
                msg, recipients, ..
            } => {
                let mut r = recipients.clone();
                r.sort();
                o.accepted.insert(msg.clone(), r);
            }
            EventBody::Rejected { msg, .. } => {
                o.rejected.insert(msg.clone());
            }
            EventBody::Undeliverable { msg, to, .. } => {
                o.undeliverable.insert((msg.clone(), *to));
            }
            EventBody::Delivered {
                msg,
                to,
                latency_ms,
                ..
            } => {
                assert!(
                    o.delivered.insert((msg.clone(), *to)),
                    "{what}: {msg} delivered twice to {to}"
                );
                latencies.push(*latency_ms);
            }
            _ => {}
        }
    }
    // No loss: every recipient of every accepted message got it (or it was
    // refused for good).
    for (msg, recipients) in &o.accepted {
        for to in recipients {
            let key = (msg.clone(), *to);
            assert!(
                o.delivered.contains(&key) || o.undeliverable.contains(&key),
                "{what}: {msg} never reached {to}"
            );
        }
    }
    latencies.sort_unstable();
    (o, latencies)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[test]
fn both_models_agree_on_every_shipped_and_bench_scenario() {
    for file in shipped().into_iter().chain(benches()) {
        let scenario = scenario::load(&file).expect("shipped scenarios are valid");
        let seed = scenario.seed.unwrap_or(gcif_sim::sim::DEFAULT_SEED);
        let name = file.display().to_string();
        let grpc = play(&scenario, NetModel::Grpc, seed);
        let message = play(&scenario, NetModel::Message, seed);
        let (a, la) = outcome(&grpc, &format!("{name} (grpc, seed {seed})"));
        let (b, lb) = outcome(&message, &format!("{name} (message, seed {seed})"));
        assert_eq!(a.verdicts, b.verdicts, "{name}: verdicts differ");
        assert!(
            a.verdicts.iter().all(|(_, ok)| *ok),
            "{name}: {:?}",
            a.verdicts
        );
        assert_eq!(a.accepted, b.accepted, "{name}: accepted messages differ");
        assert_eq!(a.rejected, b.rejected, "{name}: refused messages differ");
        assert_eq!(a.delivered, b.delivered, "{name}: deliveries differ");
        assert_eq!(a.undeliverable, b.undeliverable, "{name}");
        for p in [0.5, 0.9, 0.99] {
            let (x, y) = (percentile(&la, p), percentile(&lb, p));
            let tolerance = x.max(y) / 10 + 50;
            assert!(
                x.abs_diff(y) <= tolerance,
                "{name}: p{} latency {x} ms over gRPC, {y} ms message-level \
                 (tolerance {tolerance} ms)",
                p * 100.0
            );
        }
    }
}

#[test]
fn the_message_model_is_deterministic() {
    let file =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("simulations/drill-partition-crash.yaml");
    let scenario = scenario::load(&file).expect("valid");
    let log = |seed| {
        let run = play(&scenario, NetModel::Message, seed);
        let mut out = Vec::new();
        write_jsonl(&run.events, &mut out).expect("writes");
        out
    };
    let first = log(7);
    assert_eq!(first, log(7), "seed 7 played twice differs");
    assert_ne!(first, log(8), "another seed, another log");
}

#[test]
fn the_model_is_chosen_in_the_scenario_or_on_the_command_line() {
    let yaml = |model: &str| {
        format!(
            "name: m\nstart: 2019-06-01T00:00:00Z\nduration: 1h\n\
             participants: [GT-MINGOB, HN-SEDS]\nnetwork:\n  model: {model}\n"
        )
    };
    let s = scenario::parse("m.yaml", "m", &yaml("message")).expect("valid");
    assert_eq!(s.net, NetModel::Message);
    let s = scenario::parse("m.yaml", "m", &yaml("grpc")).expect("valid");
    assert_eq!(s.net, NetModel::Grpc);
    let e = scenario::parse("m.yaml", "m", &yaml("carrier-pigeon")).unwrap_err();
    assert_eq!((e.line, e.column), (6, 10), "{e}");
    assert!(e.to_string().contains("carrier-pigeon"), "{e}");

    // `run --net` overrides it, and the summary and its reproduce command say so.
    let dir = super::procs::scratch("net-flag");
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("simulations/forged-passports.yaml");
    let out = dir.join("run");
    let o = gcif_sim(&[
        "run",
        file.to_str().expect("utf-8"),
        "--net",
        "message",
        "--json",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(summary["network_model"], "message");
    assert!(
        summary["command"]
            .as_str()
            .expect("a command")
            .ends_with("--net message"),
        "{summary}"
    );
    let o = gcif_sim(&[
        "run",
        file.to_str().expect("utf-8"),
        "--net",
        "smoke-signals",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("smoke-signals"));
}
