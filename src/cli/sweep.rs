//! `gcif-sim sweep FILE --seeds 1..1000`: one scenario under many seeds, in
//! parallel, with a table per seed, a summary, and the failing seeds' run
//! directories with the command that reproduces each.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::BAD_INPUT;
use gcif_sim::scenario;

/// `gcif-sim sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The scenario file (YAML).
    file: PathBuf,
    /// The seeds: a range `A..B` (both included), a list `1,5,9`, or both
    /// (`1..100,250`).
    #[arg(long, value_parser = parse_seeds)]
    seeds: Seeds,
    /// The network model (overrides the scenario's `network.model`):
    /// `grpc` or `message`.
    #[arg(long, value_parser = super::parse_net)]
    net: Option<scenario::NetModel>,
    /// Runs at once [default: every core].
    #[arg(long)]
    jobs: Option<usize>,
    /// Where to write the failing seeds' run directories (DIR/seed-N)
    /// [default: runs/sweep-<scenario>/].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the table and summary as JSON.
    #[arg(long)]
    json: bool,
    /// A pseudonymisation key's secret for the agreement, as NAME=SECRET.
    #[arg(long = "key", value_parser = super::live::parse_key)]
    keys: Vec<(String, String)>,
}

/// The seeds to run, in order, without repeats.
#[derive(Debug, Clone)]
pub struct Seeds(Vec<u64>);

fn parse_seeds(s: &str) -> Result<Seeds, String> {
    let mut seeds = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |x: &str| {
            x.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{x}` is not a seed (a whole number)"))
        };
        match part.split_once("..") {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b.trim_start_matches('='))?);
                if a > b {
                    return Err(format!("`{part}`: the range is empty ({a} > {b})"));
                }
                if b - a >= 10_000_000 {
                    return Err(format!("`{part}`: more than 10 million seeds"));
                }
                seeds.extend(a..=b);
            }
            None => seeds.push(num(part)?),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    seeds.retain(|s| seen.insert(*s));
    if seeds.is_empty() {
        return Err("no seeds: give e.g. 1..1000".into());
    }
    Ok(Seeds(seeds))
}

/// One seed's outcome.
#[derive(Debug, Clone, serde::Serialize)]
struct Row {
    seed: u64,
    passed: bool,
    deliveries: usize,
    /// The 99th percentile of delivery latency over every kind, if any.
    p99_ms: Option<u64>,
    failed: Vec<String>,
    /// The run directory written, for a failing seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    run_dir: Option<String>,
    /// The command that plays this seed again.
    reproduce: String,
    /// Why the seed could not be played at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn sweep(args: SweepArgs) -> ExitCode {
    let opts = scenario::LoadOptions {
        keys: args.keys.iter().cloned().collect(),
        ..Default::default()
    };
    let mut scenario = match scenario::load_with(&args.file, &opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    if let Some(net) = args.net {
        scenario.net = net;
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("sweep-{}", scenario.name)));
    let seeds = &args.seeds.0;
    let bar = (!args.json && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
        let bar = ProgressBar::new(seeds.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("seeds {pos}/{len} [{bar:40}] {elapsed} ({msg})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let started = std::time::Instant::now();
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let rows: Mutex<Vec<Row>> = Mutex::new(Vec::with_capacity(seeds.len()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(seeds.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&seed) = seeds.get(i) else { break };
                    let row = play_one(&scenario, &args.file, seed, &dir, &args.keys);
                    if !row.passed {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(bar) = &bar {
                        bar.inc(1);
                        bar.set_message(format!("{} failed", failures.load(Ordering::Relaxed)));
                    }
                    rows.lock().unwrap_or_else(|e| e.into_inner()).push(row);
                }
            });
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let wall = started.elapsed();
    let mut rows = rows.into_inner().unwrap_or_else(|e| e.into_inner());
    rows.sort_by_key(|r| seeds.iter().position(|s| *s == r.seed));
    let failed: Vec<&Row> = rows.iter().filter(|r| !r.passed).collect();
    if args.json {
        let out = serde_json::json!({
            "scenario": scenario.name,
            "file": args.file.display().to_string(),
            "jobs": jobs,
            "wall_ms": wall.as_millis() as u64,
            "seeds": rows,
            "passed": rows.len() - failed.len(),
            "failed": failed.len(),
        });
        outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        outln!(
            "{:>8}  {:<6}  {:>10}  {:>9}  failed expectations",
            "seed",
            "result",
            "deliveries",
            "p99"
        );
        for r in &rows {
            let p99 = r
                .p99_ms
                .map(gcif_sim::format::human)
                .unwrap_or_else(|| "-".into());
            let what = match &r.error {
                Some(e) => format!("could not run: {e}"),
                None => r.failed.join("; "),
            };
            outln!(
                "{:>8}  {:<6}  {:>10}  {:>9}  {what}",
                r.seed,
                if r.passed { "PASS" } else { "FAIL" },
                r.deliveries,
                p99
            );
        }
        outln!(
            "\nsweep: {} seeds of {} in {:.1} s ({jobs} at once): {} passed, {} failed",
            rows.len(),
            scenario.name,
            wall.as_secs_f64(),
            rows.len() - failed.len(),
            failed.len()
        );
        if !failed.is_empty() {
            outln!("failing seeds (run directories written):");
            for r in &failed {
                outln!(
                    "  seed {}: {} — reproduce: {}",
                    r.seed,
                    r.run_dir.as_deref().unwrap_or("(not written)"),
                    r.reproduce
                );
            }
        }
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Plays `seed`; writes its run directory under `dir` if it failed.
fn play_one(
    scenario: &scenario::Scenario,
    file: &Path,
    seed: u64,
    dir: &Path,
    keys: &[(String, String)],
) -> Row {
    let keys: String = keys.iter().map(|(n, _)| format!(" --key {n}=…")).collect();
    let reproduce = format!(
        "gcif-sim run {} --seed {seed}{}{keys}",
        file.display(),
        gcif_sim::report::summary::net_flag(scenario.net)
    );
    let mut row = Row {
        seed,
        passed: false,
        deliveries: 0,
        p99_ms: None,
        failed: Vec::new(),
        run_dir: None,
        reproduce,
        error: None,
    };
    // The log is not kept: a seed that fails is played again into its run
    // directory (the same seed plays the same run).
    let run = match gcif_sim::run::play_into(scenario, seed, Arc::new(Discard), None) {
        Ok(run) => run,
        Err(e) => {
            row.error = Some(e.to_string());
            return row;
        }
    };
    let latencies = run.index.all_latencies();
    row.p99_ms = (!latencies.is_empty())
        .then(|| latencies[((latencies.len() * 99).div_ceil(100)).saturating_sub(1)]);
    row.deliveries = run.summary.deliveries;
    row.passed = run.summary.passed;
    row.failed = run
        .verdicts
        .iter()
        .filter(|v| !v.ok)
        .map(|v| v.name.clone())
        .collect();
    if !row.passed {
        let seed_dir = dir.join(format!("seed-{seed}"));
        match gcif_sim::run::record(scenario, seed, &seed_dir, file, None) {
            Ok(_) => row.run_dir = Some(seed_dir.display().to_string()),
            Err(e) => row.error = Some(format!("the run directory: {e}")),
        }
    }
    row
}

/// A sink that keeps nothing: a sweep reads what it needs from the index.
struct Discard;

impl gcif_sim::events::EventSink for Discard {
    fn write(&self, _: gcif_sim::events::Event) {}
}

#[cfg(test)]
mod tests {
    use super::parse_seeds;

    #[test]
    fn seeds_are_ranges_and_lists_in_order_without_repeats() {
        assert_eq!(parse_seeds("1..5").unwrap().0, [1, 2, 3, 4, 5]);
        assert_eq!(parse_seeds("3,1..2,3").unwrap().0, [3, 1, 2]);
        assert_eq!(parse_seeds("7..=8").unwrap().0, [7, 8]);
        assert!(parse_seeds("5..1").is_err());
        assert!(parse_seeds("x").is_err());
        assert!(parse_seeds("").is_err());
    }
}
