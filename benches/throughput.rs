//! `cargo bench`: wall time of every shipped scenario and of the scenarios in
//! `benches/` (~10,000 messages over five simulated days; a storm of 80 faults),
//! in both network models: the simulation alone with its event log streamed,
//! then the whole `run::play` (checks and summary too), each with deliveries
//! per wall-clock second; then, for the gRPC model's run, the time
//! `gcif-sim report` takes to turn it into report.html, and its size.
//! Figures are recorded in BENCHMARKS.md. The wall clock is read here, in the
//! benchmark, never in the simulated path.

use std::path::{Path, PathBuf};

/// The allocator the `gcif-sim` binary uses, so the figures are the CLI's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::{Duration, Instant};

use std::sync::Arc;

use gcif_sim::events::{EventBody, JsonLines};
use gcif_sim::scenario::{self, NetModel};
use gcif_sim::sim;

/// Plays `file` in `net` `n` times with the event log streamed (JSON lines
/// through a buffered writer, thrown away) and nothing else; returns the
/// median wall time.
fn measure_sim(file: &Path, net: NetModel, n: usize) -> Duration {
    let mut s = scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
    s.net = net;
    let seed = s.seed.unwrap_or(sim::DEFAULT_SEED);
    let mut times = Vec::new();
    for _ in 0..n {
        let t0 = Instant::now();
        let sink = Arc::new(JsonLines::new(std::io::BufWriter::new(std::io::sink())));
        sim::run_into(&s, seed, sink.clone(), None).expect("runtime");
        sink.finish().expect("writes");
        times.push(t0.elapsed());
    }
    times.sort();
    times[n / 2]
}

/// Plays `file` in `net` `n` times through `run::play` (the simulation, the
/// expectation checks and the summary, as the CLI does); returns the median
/// wall time and the run's counts.
fn measure(file: &Path, net: NetModel, n: usize) -> (Duration, usize, usize, bool) {
    let mut s = scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
    s.net = net;
    let seed = s.seed.unwrap_or(sim::DEFAULT_SEED);
    let mut times = Vec::new();
    let mut counts = (0, 0, false);
    for _ in 0..n {
        let t0 = Instant::now();
        let out = gcif_sim::run::play(&s, seed, None).expect("runtime");
        times.push(t0.elapsed());
        let delivered = out
            .events
            .iter()
            .filter(|e| matches!(e.body, EventBody::Delivered { .. }))
            .count();
        counts = (out.plan.len(), delivered, out.summary.passed);
    }
    times.sort();
    (times[n / 2], counts.0, counts.1, counts.2)
}

/// Runs the CLI on `file` into a scratch directory, then times
/// `gcif-sim report` on it `n` times; returns the median and the report's size.
fn measure_report(file: &Path, n: usize) -> (Duration, u64) {
    let exe = env!("CARGO_BIN_EXE_gcif-sim");
    let dir = std::env::temp_dir().join(format!(
        "gcif-sim-bench-{}-{}",
        std::process::id(),
        file.file_stem().unwrap().to_string_lossy()
    ));
    let out = std::process::Command::new(exe)
        .args([
            "run",
            file.to_str().unwrap(),
            "--json",
            "--out",
            dir.to_str().unwrap(),
        ])
        .output()
        .expect("running gcif-sim");
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "gcif-sim run failed"
    );
    let mut times = Vec::new();
    for _ in 0..n {
        let t0 = Instant::now();
        let out = std::process::Command::new(exe)
            .args(["report", dir.to_str().unwrap()])
            .output()
            .expect("running gcif-sim report");
        times.push(t0.elapsed());
        assert!(out.status.success(), "gcif-sim report failed");
    }
    let size = std::fs::metadata(dir.join("report.html")).map_or(0, |m| m.len());
    let _ = std::fs::remove_dir_all(&dir);
    times.sort();
    (times[n / 2], size)
}

fn main() {
    // `cargo bench -- <filter>` passes extra arguments; accept and ignore `--bench`.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("simulations"))
        .expect("simulations/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut extra: Vec<PathBuf> = std::fs::read_dir(root.join("benches"))
        .expect("benches/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    extra.sort();
    files.extend(extra);
    println!(
        "{:<26} {:<8} {:>9} {:>11} {:>10} {:>14} {:>10} {:>14} {:>5} {:>12}",
        "scenario",
        "net",
        "messages",
        "deliveries",
        "sim+log",
        "deliveries/s",
        "play",
        "deliveries/s",
        "ok",
        "report (med)"
    );
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().to_string();
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        for net in NetModel::ALL {
            let sim = measure_sim(&file, net, 3);
            let (wall, messages, delivered, ok) = measure(&file, net, 3);
            let report = match net {
                NetModel::Grpc => {
                    let (report, size) = measure_report(&file, 3);
                    format!("{:.3}s {:.1}MB", report.as_secs_f64(), size as f64 / 1e6)
                }
                NetModel::Message => String::new(),
            };
            println!(
                "{:<26} {:<8} {:>9} {:>11} {:>9.3}s {:>14.0} {:>9.3}s {:>14.0} {:>5} {:>12}",
                name,
                net.name(),
                messages,
                delivered,
                sim.as_secs_f64(),
                delivered as f64 / sim.as_secs_f64(),
                wall.as_secs_f64(),
                delivered as f64 / wall.as_secs_f64(),
                ok,
                report
            );
        }
    }
}
