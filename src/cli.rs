//! The command line: `gcif-sim run | validate | schema | hub`.
//!
//! Exit codes: 0 all expectations met (or, for `validate`, every file valid);
//! 1 an expectation failed; 2 bad input (unreadable or invalid scenario, bad
//! arguments) or a failure to write the results.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use gcif_sim::report::{self, Event, EventBody, Summary};
use gcif_sim::scenario;
use gcif_sim::sim;

/// Simulates the GCIF cross-border information-exchange network.
#[derive(Debug, Parser)]
#[command(name = "gcif-sim", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Plays a scenario in simulated time and prints a summary.
    Run {
        /// The scenario file (YAML).
        file: PathBuf,
        /// Seed of the run (overrides the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Where to write events.jsonl and summary.json [default: runs/<scenario>-<seed>/].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the summary as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Checks scenario files without running them.
    Validate {
        /// Scenario files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Prints the scenario format as JSON Schema (for editor completion).
    Schema,
    /// Runs the GCIF hub live, on a real socket and the wall clock, so nodes
    /// written in any language can join with proto/gcif/v1/gcif.proto.
    Hub {
        /// Address to serve the `gcif.v1.Hub` service on.
        #[arg(long, default_value = "127.0.0.1:50051")]
        listen: std::net::SocketAddr,
        /// A participant and its `gcif.v1.Ministry` service, as CODE=URL
        /// (e.g. HN-SEDS=http://127.0.0.1:50052). Repeat for each participant.
        #[arg(long = "ministry", required = true, value_parser = gcif_sim::live::parse_ministry_address)]
        ministries: Vec<(gcif_sim::model::Ministry, tonic::transport::Endpoint)>,
        /// Sharing policy.
        #[arg(long, default_value = "compact-2019")]
        policy: gcif_sim::policy::PolicyName,
        /// Write the event log here instead of standard output.
        #[arg(long)]
        events: Option<PathBuf>,
    },
}

/// Exit code for bad input.
const BAD_INPUT: u8 = 2;

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run {
            file,
            seed,
            out,
            json,
        } => run(&file, seed, out, json),
        Command::Validate { files } => validate(&files),
        Command::Schema => {
            println!("{}", scenario::json_schema());
            ExitCode::SUCCESS
        }
        Command::Hub {
            listen,
            ministries,
            policy,
            events,
        } => match serve_hub(listen, ministries, policy, events) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gcif-sim: {e:#}");
                ExitCode::from(BAD_INPUT)
            }
        },
    }
}

fn serve_hub(
    listen: std::net::SocketAddr,
    ministries: Vec<(gcif_sim::model::Ministry, tonic::transport::Endpoint)>,
    policy: gcif_sim::policy::PolicyName,
    events: Option<PathBuf>,
) -> anyhow::Result<()> {
    use std::sync::Arc;

    use gcif_sim::live::{HubConfig, JsonLinesSink};
    use gcif_sim::report::EventSink;

    let mut map = std::collections::BTreeMap::new();
    for (m, endpoint) in ministries {
        anyhow::ensure!(map.insert(m, endpoint).is_none(), "{m} is given twice");
    }
    let sink: Arc<dyn EventSink> = match events {
        Some(path) => {
            let file = std::fs::File::create(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Arc::new(JsonLinesSink::new(std::io::BufWriter::new(file)))
        }
        None => Arc::new(JsonLinesSink::new(std::io::stdout())),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        eprintln!(
            "gcif-sim hub: serving gcif.v1.Hub on {} for {}; Ctrl-C stops",
            listener.local_addr()?,
            map.keys().map(|m| m.code()).collect::<Vec<_>>().join(", ")
        );
        let config = HubConfig {
            ministries: map,
            policy,
            rpc: Default::default(),
            delivery: Default::default(),
        };
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        gcif_sim::live::serve_hub(listener, config, sink, shutdown).await?;
        Ok(())
    })
}

fn validate(files: &[PathBuf]) -> ExitCode {
    let mut all_ok = true;
    for f in files {
        match scenario::load(f) {
            Ok(s) => println!(
                "{}: ok ({} injects, {} faults, {} traffic streams, {} expectations)",
                f.display(),
                s.injects.len(),
                s.faults.len(),
                s.traffic.len(),
                s.expect.len()
            ),
            Err(e) => {
                eprintln!("{e}");
                all_ok = false;
            }
        }
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(BAD_INPUT)
    }
}

fn run(file: &Path, seed: Option<u64>, out: Option<PathBuf>, json: bool) -> ExitCode {
    let scenario = match scenario::load(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let seed = seed.or(scenario.seed).unwrap_or(sim::DEFAULT_SEED);
    let progress = (!json && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("simulated {msg} [{bar:40}] {elapsed} wall")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let output = match sim::run(&scenario, seed, progress) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("gcif-sim: {e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let verdicts = report::check_expectations(&scenario, &output.plan, &output.events);
    let end_t = output.end.as_millis() as u64;
    let mut events = output.events;
    events.extend(verdicts.iter().map(|v| Event {
        t: end_t,
        body: EventBody::Expectation {
            name: v.name.clone(),
            ok: v.ok,
            detail: v.detail.clone(),
        },
    }));
    let summary = Summary::new(&scenario, seed, &output.plan, &events, output.end, verdicts);
    let dir =
        out.unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-{seed}", scenario.name)));
    if let Err(e) = write_results(&dir, &events, &summary) {
        eprintln!("gcif-sim: {e:#}");
        return ExitCode::from(BAD_INPUT);
    }
    if json {
        match serde_json::to_string_pretty(&summary) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("gcif-sim: {e}");
                return ExitCode::from(BAD_INPUT);
            }
        }
    } else {
        print!("{}", summary.to_table());
        println!("\nevent log: {}", dir.join("events.jsonl").display());
    }
    if summary.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn write_results(dir: &Path, events: &[Event], summary: &Summary) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("events.jsonl");
    let file =
        std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
    report::write_jsonl(events, std::io::BufWriter::new(file))
        .with_context(|| format!("cannot write {}", path.display()))?;
    let path = dir.join("summary.json");
    let text = serde_json::to_string_pretty(summary)?;
    std::fs::write(&path, text + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
