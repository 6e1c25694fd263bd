//! Helpers shared by the integration tests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use gcif_sim::events::{Event, EventBody};
use gcif_sim::model::{Kind, MessageId, Ministry};
use gcif_sim::report::Verdict;
use gcif_sim::run::{self, Run};
use gcif_sim::scenario::{self, Scenario};

/// A played scenario with its verdicts.
pub struct Played {
    pub scenario: Scenario,
    pub out: Run,
    pub verdicts: Vec<Verdict>,
}

impl Played {
    /// Panics with every failed verdict (and the seed) unless all passed.
    pub fn assert_passed(&self) {
        let failed: Vec<String> = self
            .verdicts
            .iter()
            .filter(|v| !v.ok)
            .map(|v| format!("{}: {}", v.name, v.detail))
            .collect();
        assert!(
            failed.is_empty(),
            "{} (seed {}) failed: {failed:#?}",
            self.scenario.name,
            self.out.seed
        );
    }

    /// The message id of the inject labelled `label`.
    pub fn msg(&self, label: &str) -> MessageId {
        let i = self
            .scenario
            .injects
            .iter()
            .position(|i| i.label.as_deref() == Some(label))
            .unwrap_or_else(|| panic!("no inject {label}"));
        self.out
            .plan
            .iter()
            .find(|p| p.inject == Some(i))
            .expect("every inject is planned")
            .envelope
            .id
            .clone()
    }

    /// When `msg` first reached `to`, if it did.
    pub fn delivered_at(&self, msg: &MessageId, to: Ministry) -> Option<u64> {
        self.out.events.iter().find_map(|e| match &e.body {
            EventBody::Delivered { msg: m, to: t, .. } if m == msg && *t == to => Some(e.t),
            _ => None,
        })
    }

    /// Every event of one name.
    pub fn events(&self, name: &str) -> Vec<&Event> {
        self.out
            .events
            .iter()
            .filter(|e| event_name(e) == name)
            .collect()
    }
}

/// The `event` field of an event.
pub fn event_name(e: &Event) -> String {
    serde_json::to_value(e).expect("events serialize")["event"]
        .as_str()
        .expect("event has a name")
        .to_string()
}

/// Parses `yaml` and plays it with `seed`.
pub fn play(yaml: &str, seed: u64) -> Played {
    let scenario = scenario::parse("test.yaml", "test", yaml)
        .unwrap_or_else(|e| panic!("test scenario is invalid: {e}"));
    play_scenario(scenario, seed)
}

/// Plays a loaded scenario with `seed`.
pub fn play_scenario(scenario: Scenario, seed: u64) -> Played {
    let out = run::play(&scenario, seed, None).expect("the runtime starts");
    Played {
        verdicts: out.verdicts.clone(),
        scenario,
        out,
    }
}

/// Every shipped scenario file.
pub fn shipped() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("simulations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("simulations/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "expected at least four shipped scenarios");
    files
}

/// The shipped scenarios an MSEL table carries whole: played under the
/// built-in agreement, with no amendments, reshares or named recipients
/// (the table lists injects; the agreement and its changes stay in the
/// scenario file).
pub fn shipped_for_msel() -> Vec<PathBuf> {
    shipped()
        .into_iter()
        .filter(|f| {
            let s = gcif_sim::scenario::load(f).expect("shipped scenarios are valid");
            s.policy.name() == "compact-2019"
                && s.amendments.is_empty()
                && s.reshares.is_empty()
                && s.injects.iter().all(|i| i.to.is_empty() && !i.controlled)
        })
        .collect()
}

/// Runs the `gcif-sim` binary.
pub fn gcif_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gcif-sim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Checks loss, duplicates and policy from the event log alone, the way an
/// outside tool would, and returns counts of (accepted, deliveries).
pub fn audit(events: &[Event], seed: u64) -> (usize, usize) {
    let mut recipients: BTreeMap<MessageId, (Ministry, Kind, Vec<Ministry>)> = BTreeMap::new();
    let mut delivered: BTreeMap<(MessageId, Ministry), u32> = BTreeMap::new();
    let mut last_t = 0;
    for e in events {
        assert!(
            e.t >= last_t,
            "seed {seed}: events out of time order at {e:?}"
        );
        last_t = e.t;
        match &e.body {
            EventBody::Accepted {
                msg,
                from,
                kind,
                recipients: r,
                ..
            } => {
                assert!(
                    recipients
                        .insert(msg.clone(), (*from, *kind, r.clone()))
                        .is_none(),
                    "seed {seed}: {msg} accepted twice"
                );
                assert!(
                    !r.contains(from),
                    "seed {seed}: {msg} routed back to its originator"
                );
            }
            // A message passed on has one more recipient.
            EventBody::Reshared { msg, to, .. } => {
                let (_, _, r) = recipients.get_mut(msg).unwrap_or_else(|| {
                    panic!("seed {seed}: {msg} passed on before it was accepted")
                });
                assert!(
                    !r.contains(to),
                    "seed {seed}: {msg} passed on to {to} twice"
                );
                r.push(*to);
            }
            EventBody::Delivered { msg, to, .. } => {
                let (_, _, r) = recipients.get(msg).unwrap_or_else(|| {
                    panic!("seed {seed}: {msg} delivered before it was accepted")
                });
                assert!(r.contains(to), "seed {seed}: {msg} leaked to {to}");
                *delivered.entry((msg.clone(), *to)).or_insert(0) += 1;
            }
            _ => {}
        }
    }
    let mut n = 0;
    for (msg, (_, _, r)) in &recipients {
        for to in r {
            let count = delivered.get(&(msg.clone(), *to)).copied().unwrap_or(0);
            assert_eq!(count, 1, "seed {seed}: {msg} reached {to} {count} times");
            n += 1;
        }
    }
    (recipients.len(), n)
}
