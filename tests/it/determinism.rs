//! Same scenario and seed: byte-identical event log, across processes.

use crate::support::{gcif_sim, shipped};

fn events_of(file: &str, seed: &str, tag: &str) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("gcif-sim-det-{}-{tag}", std::process::id()));
    let out = gcif_sim(&["run", file, "--seed", seed, "--out", dir.to_str().unwrap()]);
    assert!(out.status.code().is_some(), "the run was killed");
    let bytes = std::fs::read(dir.join("events.jsonl")).expect("events.jsonl written");
    std::fs::remove_dir_all(&dir).ok();
    bytes
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let drill = shipped()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("drill"))
        .expect("the drill scenario is shipped");
    let file = drill.to_str().unwrap();
    let a = events_of(file, "42", "a");
    let b = events_of(file, "42", "b");
    assert!(!a.is_empty());
    assert!(a == b, "seed 42: two runs of {file} differ");
    let c = events_of(file, "43", "c");
    assert!(a != c, "seeds 42 and 43 gave the same log");
}

#[test]
fn seed_comes_from_the_scenario_unless_overridden() {
    let file = shipped()[0].clone();
    let scenario = gcif_sim::scenario::load(&file).unwrap();
    let seed = scenario
        .seed
        .expect("shipped scenarios name their seed")
        .to_string();
    let a = events_of(file.to_str().unwrap(), &seed, "s1");
    let dir = std::env::temp_dir().join(format!("gcif-sim-det-{}-s2", std::process::id()));
    gcif_sim(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    let b = std::fs::read(dir.join("events.jsonl")).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(a == b, "the scenario's seed {seed} was not the default");
}
