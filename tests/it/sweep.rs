//! `gcif-sim sweep`: a scenario under many seeds, in parallel; each seed's
//! row is what `gcif-sim run --seed N` gives, and a failing seed leaves a
//! run directory and a command that reproduces it.

use crate::procs::scratch;
use crate::support::gcif_sim;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_sweep_runs_every_seed_and_each_row_is_what_run_gives() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/simulations/drill-partition-crash.yaml"
    );
    let dir = scratch("sweep-pass");
    let out = gcif_sim(&[
        "sweep",
        file,
        "--seeds",
        "1..6",
        "--jobs",
        "2",
        "--json",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let seeds = v["seeds"].as_array().unwrap();
    assert_eq!(seeds.len(), 6);
    assert_eq!(v["passed"], 6);
    // In the seeds' order, whatever order the jobs finished in.
    let order: Vec<u64> = seeds.iter().map(|s| s["seed"].as_u64().unwrap()).collect();
    assert_eq!(order, [1, 2, 3, 4, 5, 6]);
    // Seed 4's row is what a run of seed 4 alone says.
    let run = gcif_sim(&[
        "run",
        file,
        "--seed",
        "4",
        "--json",
        "--out",
        dir.join("seed-4-alone").to_str().unwrap(),
    ]);
    let summary: serde_json::Value = serde_json::from_str(&stdout(&run)).unwrap();
    assert_eq!(seeds[3]["deliveries"], summary["deliveries"]);
    assert_eq!(seeds[3]["passed"], summary["passed"]);
    assert!(
        seeds[3]["reproduce"]
            .as_str()
            .unwrap()
            .ends_with("drill-partition-crash.yaml --seed 4")
    );
    // Nothing failed, so no run directory was written.
    assert!(!dir.join("seed-1").exists());
}

#[test]
fn a_failing_seed_leaves_its_run_directory_and_a_command_that_reproduces_it() {
    let dir = scratch("sweep-fail");
    let file = dir.join("impossible.yaml");
    std::fs::write(
        &file,
        "name: impossible\nstart: 2019-01-15T05:00:00-06:00\nduration: 1h\n\
         participants: [US-DHS, GT-MINGOB, HN-SEDS]\n\
         injects:\n  - id: alert\n    at: 1m\n    from: HN-SEDS\n    caravan_alert: \
         { caravan_id: C1, location: { name: San Pedro Sula, country: HN } }\n\
         expect:\n  - { inject: alert, delivered_to: [US-DHS, GT-MINGOB], within: 1ms }\n",
    )
    .unwrap();
    let runs = dir.join("runs");
    let out = gcif_sim(&[
        "sweep",
        file.to_str().unwrap(),
        "--seeds",
        "1,2,3",
        "--out",
        runs.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("3 seeds of impossible") && text.contains("0 passed, 3 failed"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("seed 2:"))
        .unwrap_or_else(|| panic!("seed 2 listed among the failing:\n{text}"));
    assert!(line.contains("seed-2"), "{line}");
    let events = std::fs::read_to_string(runs.join("seed-2/events.jsonl")).unwrap();
    // The command it gives plays the same run.
    let reproduce = line.split("reproduce: ").nth(1).unwrap();
    let args: Vec<&str> = reproduce.split_whitespace().skip(1).collect();
    let mut args = args;
    let again = runs.join("again");
    args.extend(["--out", again.to_str().unwrap()]);
    let run = gcif_sim(&args);
    assert_eq!(run.status.code(), Some(1), "{}", stdout(&run));
    assert_eq!(
        std::fs::read_to_string(again.join("events.jsonl")).unwrap(),
        events,
        "the reproduce command plays the same run"
    );
    // Bad seeds are bad input.
    let bad = gcif_sim(&["sweep", file.to_str().unwrap(), "--seeds", "9..1"]);
    assert_eq!(bad.status.code(), Some(2));
}
