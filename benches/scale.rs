//! `cargo bench --bench scale`: how the simulation scales, measured as a
//! user sees it, through the CLI (`gcif-sim run … --out DIR`: plan, run,
//! event log streamed to disk, checks, summary, run directory), with the wall
//! time and the peak resident memory of each child process:
//!
//! - generated scenarios of 10k, 100k and 1M messages over five simulated
//!   days between the five built-in ministries, in both network models;
//! - 5, 50 and 200 participants (an agreement file generated with them all
//!   as full members) at a fixed 2,000 messages, in both models;
//! - `gcif-sim sweep` of 1,000 seeds of `simulations/drill-partition-crash.yaml`
//!   in the message model.
//!
//! `cargo bench --bench scale -- FILTER` runs only the rows whose name holds
//! FILTER (e.g. `1m`, `participants`, `sweep`). Figures go to BENCHMARKS.md.
//! The wall clock is read here, in the benchmark, never in the simulated path.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `gcif-sim args…` to its end: its wall time, peak RSS in bytes, and
/// exit code.
fn measure(args: &[&str]) -> (Duration, u64, i32) {
    let exe = env!("CARGO_BIN_EXE_gcif-sim");
    let t0 = Instant::now();
    let child = Command::new(exe)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("gcif-sim starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child, with valid pointers; `child` is
    // never waited for again (it is forgotten below).
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = t0.elapsed();
    std::mem::forget(child);
    assert_eq!(got, pid, "wait4 on gcif-sim");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    // ru_maxrss is in KiB on Linux.
    (wall, usage.ru_maxrss as u64 * 1024, code)
}

/// A scenario of about `messages` caravan alerts over five days between the
/// given senders under `policy`.
fn scenario(name: &str, messages: u64, senders: &[String], policy: &str) -> String {
    let every_ms = (5 * 24 * 3600 * 1000) / messages.max(1);
    format!(
        "name: {name}\ntitle: generated load, {messages} messages\nstart: 2019-03-01T00:00:00-06:00\n\
         duration: 5d\nseed: 7\nstatus: test\npolicy: {policy}\nnetwork:\n  latency: 60ms\n  jitter: 20ms\n\
         traffic:\n  - {{ kind: caravan_alert, from: [{}], every: {every_ms}ms }}\n\
         expect:\n  - no_loss: true\n  - no_duplicates: true\n",
        senders.join(", ")
    )
}

/// An agreement with `n` full participants, every message to all of them.
fn agreement(n: usize) -> (String, Vec<String>) {
    let codes: Vec<String> = (1..=n).map(|i| format!("GT-P{i:03}")).collect();
    let mut y = format!(
        "agreement: generated-{n}\ntitle: {n} participants\nroles:\n  full: A member.\nparticipants:\n"
    );
    for c in &codes {
        y.push_str(&format!(
            "  - {{ code: {c}, role: full, name: Participant {c}, country: GT }}\n"
        ));
    }
    y.push_str("share:\n  - to: { role: full }\n    reason: every member receives everything\n");
    (y, codes)
}

fn row(name: &str, net: &str, dir: &Path, file: &Path) {
    let out = dir.join(format!("{name}-{net}"));
    let (wall, rss, code) = measure(&[
        "run",
        file.to_str().unwrap(),
        "--net",
        net,
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    let summary: serde_json::Value = std::fs::read_to_string(out.join("summary.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let deliveries = summary["deliveries"].as_u64().unwrap_or(0);
    let messages = summary["accepted"].as_u64().unwrap_or(0);
    println!(
        "{:<24} {:<8} {:>9} {:>11} {:>9.2}s {:>13.0} {:>9.0}MB {:>7.0}B {:>5}",
        name,
        net,
        messages,
        deliveries,
        wall.as_secs_f64(),
        deliveries as f64 / wall.as_secs_f64(),
        rss as f64 / 1e6,
        rss as f64 / messages.max(1) as f64,
        if code == 0 { "ok" } else { "FAIL" }
    );
    let _ = std::fs::remove_dir_all(&out);
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let wanted = |name: &str| filter.as_ref().is_none_or(|f| name.contains(f.as_str()));
    let dir = std::env::temp_dir().join(format!("gcif-sim-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    println!(
        "gcif-sim run FILE --net NET --json --out DIR, one child process per row; \
         wall time and peak RSS (wait4) of the child; 5 simulated days, 60 ms ± 20 ms links"
    );
    println!(
        "{:<24} {:<8} {:>9} {:>11} {:>10} {:>13} {:>11} {:>8} {:>5}",
        "scenario",
        "net",
        "messages",
        "deliveries",
        "wall",
        "deliveries/s",
        "peak RSS",
        "RSS/msg",
        "ok"
    );
    let five: Vec<String> = ["US-DHS", "GT-MINGOB", "HN-SEDS", "SV-MJSP"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (name, n) in [
        ("generated-10k", 10_000),
        ("generated-100k", 100_000),
        ("generated-1m", 1_000_000),
    ] {
        if !wanted(name) {
            continue;
        }
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(&file, scenario(name, n, &five, "compact-2019")).unwrap();
        for net in ["message", "grpc"] {
            row(name, net, &dir, &file);
        }
    }
    for n in [5, 50, 200] {
        let name = format!("participants-{n}");
        if !wanted(&name) {
            continue;
        }
        let (text, codes) = agreement(n);
        let policy: PathBuf = dir.join(format!("agreement-{n}.yaml"));
        std::fs::write(&policy, text).unwrap();
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(
            &file,
            scenario(&name, 2_000, &codes, policy.to_str().unwrap()),
        )
        .unwrap();
        for net in ["message", "grpc"] {
            row(&name, net, &dir, &file);
        }
    }
    if wanted("sweep") {
        let drill = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("simulations/drill-partition-crash.yaml");
        let out = dir.join("sweep");
        let (wall, rss, code) = measure(&[
            "sweep",
            drill.to_str().unwrap(),
            "--seeds",
            "1..1000",
            "--net",
            "message",
            "--out",
            out.to_str().unwrap(),
        ]);
        println!(
            "sweep drill-partition-crash --seeds 1..1000 --net message (all cores): {:.1} s, peak RSS {:.0} MB, exit {code}",
            wall.as_secs_f64(),
            rss as f64 / 1e6
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
