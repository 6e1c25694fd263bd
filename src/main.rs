//! `gcif-sim`: parse the command line, start tracing, dispatch.

mod cli;

/// mimalloc rather than the system allocator: the simulation and the live
/// hub allocate and free many small objects (envelopes, events, ids), and
/// glibc's malloc/free took about a fifth of the simulation's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// Stamps log lines with simulated time (`t=+1d02:03:04.005`) when a
/// simulation is running, since wall-clock stamps would say nothing useful.
struct SimulatedTime;

impl FormatTime for SimulatedTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        match gcif_sim::events::clock::elapsed() {
            Some(d) => w.write_str(&gcif_sim::format::stamp(d)),
            None => write!(w, "t=?"),
        }
    }
}

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_timer(SimulatedTime)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    cli::dispatch(cli)
}
