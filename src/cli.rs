//! The command line: `gcif-sim run | report | compare | msel | validate |
//! schema | hub | node | send`.
//!
//! Exit codes: 0 all expectations met (or, for `validate`, every file valid);
//! 1 an expectation failed; 2 bad input (unreadable or invalid scenario, bad
//! arguments) or a failure to write the results.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

mod live;

use gcif_sim::report;
use gcif_sim::scenario;
use gcif_sim::sim;

/// Simulates the GCIF cross-border information-exchange network.
#[derive(Debug, Parser)]
#[command(name = "gcif-sim", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Plays a scenario in simulated time and prints a summary.
    Run {
        /// The scenario file (YAML).
        file: PathBuf,
        /// Seed of the run (overrides the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// The network model of a simulated run (overrides the scenario's
        /// `network.model`): `grpc`, the real protocol stack over simulated
        /// links, or `message`, calls handed between the hosts by a
        /// discrete-event queue (many times faster).
        #[arg(long, value_parser = parse_net)]
        net: Option<scenario::NetModel>,
        /// Where to write events.jsonl and summary.json [default: runs/<scenario>-<seed>/].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the summary as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Also write the HTML report (DIR/report.html), as `gcif-sim report DIR` does.
        #[arg(long)]
        report: bool,
        /// A pseudonymisation key's secret for the agreement, as NAME=SECRET
        /// (repeatable); otherwise the key's environment variable, then its
        /// `value:` in the agreement.
        #[arg(long = "key", value_parser = live::parse_key)]
        keys: Vec<(String, String)>,
        #[command(flatten)]
        live: live::LiveArgs,
    },
    /// Plays a scenario under many seeds in parallel (`--seeds 1..1000`):
    /// a table per seed (pass/fail, deliveries, p99, failed expectations), a
    /// summary, and the failing seeds' run directories with the command that
    /// reproduces each. Exit 0 every seed passed, 1 any failed, 2 bad input.
    Sweep(sweep::SweepArgs),
    /// Writes RUN_DIR/report.html: the after-action review, the message-flow
    /// diagram and the service measures of a run made by `gcif-sim run`.
    Report {
        /// A directory written by `gcif-sim run` (holds summary.json and events.jsonl).
        run_dir: PathBuf,
    },
    /// Compares two runs of a scenario (another seed, policy, network or build)
    /// side by side: latency, messages, expectations and what differs.
    Compare {
        /// The first run directory (the baseline).
        run_a: PathBuf,
        /// The second run directory.
        run_b: PathBuf,
        /// Also write the comparison as a self-contained HTML page here.
        #[arg(long)]
        html: Option<PathBuf>,
        /// Print the comparison as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The scenario as an exercise's Master Scenario Events List (MSEL):
    /// `msel FILE` prints it, `msel FILE --csv` writes it as CSV for a
    /// spreadsheet, `msel import TABLE.csv` turns such a table into a scenario.
    Msel(MselArgs),
    /// Checks scenario files without running them.
    Validate {
        /// Scenario files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Prints the scenario format as JSON Schema (for editor completion).
    Schema,
    /// Runs the GCIF hub live, on a real socket and the wall clock. Nodes
    /// (`gcif-sim node`, or any written from proto/gcif/v1/gcif.proto) join at
    /// any time with Hub.Register.
    Hub(live::HubArgs),
    /// Runs one ministry's node live: it registers with the hub, prints each
    /// message it receives, and reconnects (losing nothing) when it loses the hub.
    Node(live::NodeArgs),
    /// Serves the trainer's console for a finished run directory (simulated
    /// or live), to play back and scrub on a projector, with no network.
    Replay(live::ReplayArgs),
    /// Sharing agreements: `policy check FILE…` validates them, `policy
    /// explain FILE` says who would receive what (field by field, with the
    /// rule and reason), `policy diff A B` what changes for whom.
    Policy(policy::PolicyArgs),
    /// Asks a live hub to pass a message on from one of its recipients to
    /// other participants; prints each answer (exit 0 all passed on, 1 any
    /// refused, 2 bad input or unreachable hub).
    Reshare(live::ReshareArgs),
    /// The tamper-evident audit trail a hub keeps in its `--data` directory:
    /// `audit verify DIR` checks its hash chain, `audit show DIR [--message ID]`
    /// prints it.
    Audit(audit::AuditArgs),
    /// Certificates for the live path's mutual TLS: `certs init DIR` makes a
    /// development authority and a certificate for the hub and for each
    /// participant, for `--tls DIR`.
    Certs(certs::CertsArgs),
    /// The leak checker on a run directory: re-derives from the agreement and
    /// what each recipient received that nobody got a message or a field
    /// value the agreement forbids it. Exit 0 clean, 1 leaks found, 2 bad input.
    Check {
        /// A directory written by `gcif-sim run` (or a live hub or node).
        run_dir: PathBuf,
        /// Pseudonymisation keys the run was given, as NAME=SECRET.
        #[arg(long = "key", value_parser = live::parse_key)]
        keys: Vec<(String, String)>,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Publishes one message to a live hub, written as a scenario inject;
    /// prints the receipt (exit 0) or the refusal (exit 1); 2 for bad input.
    Send(live::SendArgs),
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, arg_required_else_help = true)]
pub struct MselArgs {
    #[command(subcommand)]
    pub command: Option<MselCommand>,
    /// The scenario file (YAML) to export.
    pub file: Option<PathBuf>,
    /// Write CSV (one row per inject, columns as `gcif-sim msel import` reads them).
    /// Written to a file (`--out`), it starts with a UTF-8 byte-order mark so
    /// that Excel shows accented names right.
    #[arg(long)]
    pub csv: bool,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum MselCommand {
    /// Turns an MSEL table (CSV: time, from, to, kind, message, expected
    /// action, …) into a scenario skeleton in YAML that validates and runs.
    Import {
        /// The table (CSV; `,`, `;` or tab delimited).
        file: PathBuf,
        /// Write the scenario here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Overwrite `--out` if it exists.
        #[arg(long)]
        force: bool,
        /// The scenario's start (RFC 3339, e.g. 2019-01-14T21:00:00-06:00)
        /// [default: from the table's dates, else 2019-01-01T00:00:00-06:00].
        #[arg(long, value_parser = parse_rfc3339)]
        start: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// How to read numeric dates such as 03/02/2019: dmy (day first) or
        /// mdy (month first) [default: from the table; a day above 12 decides].
        #[arg(long)]
        dates: Option<gcif_sim::msel::DateOrder>,
        /// The scenario's name [default: from the file name].
        #[arg(long)]
        name: Option<String>,
        /// The scenario's title [default: from the file name].
        #[arg(long)]
        title: Option<String>,
    },
}

fn parse_rfc3339(s: &str) -> Result<chrono::DateTime<chrono::FixedOffset>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("{e}: expected RFC 3339, e.g. 2019-01-14T21:00:00-06:00"))
}

/// Prints to standard output, ignoring a closed pipe (`gcif-sim … | head`):
/// the reader has what it wanted, and that is no reason to panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// [`out!`] with a newline.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Exit code for bad input.
const BAD_INPUT: u8 = 2;

mod audit;
mod certs;
mod policy;
mod sweep;

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run {
            file,
            seed,
            net,
            out,
            json,
            report,
            keys,
            live,
        } => run(&file, seed, net, out, json, report, &keys, &live),
        Command::Report { run_dir } => match write_report(&run_dir) {
            Ok(path) => {
                outln!("report: {}", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("gcif-sim: {e:#}");
                ExitCode::from(BAD_INPUT)
            }
        },
        Command::Compare {
            run_a,
            run_b,
            html,
            json,
        } => match compare(&run_a, &run_b, html.as_deref(), json) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gcif-sim: {e:#}");
                ExitCode::from(BAD_INPUT)
            }
        },
        Command::Msel(args) => match msel(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gcif-sim: {e:#}");
                ExitCode::from(BAD_INPUT)
            }
        },
        Command::Validate { files } => validate(&files),
        Command::Schema => {
            outln!("{}", scenario::json_schema());
            ExitCode::SUCCESS
        }
        Command::Hub(args) => live::hub(args),
        Command::Node(args) => live::node(args),
        Command::Send(args) => live::send(args),
        Command::Replay(args) => live::replay(args),
        Command::Policy(args) => policy::policy(args),
        Command::Reshare(args) => live::reshare(args),
        Command::Audit(args) => audit::audit(args),
        Command::Certs(args) => certs::certs(args),
        Command::Sweep(args) => sweep::sweep(args),
        Command::Check {
            run_dir,
            keys,
            json,
        } => policy::check_run(&run_dir, &keys, json),
    }
}

/// Prints one line to standard output, ignoring a closed pipe.
pub(crate) fn print_line(line: &str) {
    outln!("{line}");
}

fn validate(files: &[PathBuf]) -> ExitCode {
    let mut all_ok = true;
    for f in files {
        match scenario::load(f) {
            Ok(s) => {
                let mut extra = String::new();
                if !s.reshares.is_empty() {
                    extra += &format!(", {} reshares", s.reshares.len());
                }
                if !s.amendments.is_empty() {
                    extra += &format!(", {} amendments", s.amendments.len());
                }
                outln!(
                    "{}: ok ({} injects, {} faults, {} traffic streams, {} expectations{extra}; \
                     agreement {})",
                    f.display(),
                    s.injects.len(),
                    s.faults.len(),
                    s.traffic.len(),
                    s.expect.len(),
                    s.policy.name()
                )
            }
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

fn msel(args: MselArgs) -> anyhow::Result<()> {
    use gcif_sim::msel;
    let (text, out) = match args.command {
        Some(MselCommand::Import {
            file,
            out,
            force,
            start,
            dates,
            name,
            title,
        }) => {
            if let Some(out) = &out {
                anyhow::ensure!(
                    force || !out.exists(),
                    "{} exists; pass --force to overwrite it",
                    out.display()
                );
            }
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let table = String::from_utf8(bytes).map_err(|e| {
                anyhow::anyhow!(
                    "{}: not UTF-8 (byte {}); save the table as \"CSV UTF-8\"",
                    file.display(),
                    e.utf8_error().valid_up_to()
                )
            })?;
            let opts = msel::ImportOptions {
                name,
                title,
                start,
                dates,
            };
            let yaml = msel::import_csv(&table, &file.display().to_string(), &opts)?;
            (yaml, out)
        }
        None => {
            let Some(file) = args.file else {
                anyhow::bail!("give a scenario file, or `msel import TABLE.csv`");
            };
            let scenario = scenario::load(&file)?;
            let text = if args.csv {
                let bom = if args.out.is_some() { "\u{feff}" } else { "" };
                format!("{bom}{}", msel::export_csv(&scenario))
            } else {
                msel::to_text(&scenario)
            };
            (text, args.out)
        }
    };
    match out {
        Some(path) => std::fs::write(&path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => out!("{text}"),
    }
    Ok(())
}

/// Writes the HTML report of the run in `dir`.
fn write_report(dir: &Path) -> anyhow::Result<PathBuf> {
    let run = report::RunDir::load(dir)?;
    let path = report::html::write(&run).with_context(|| {
        format!(
            "cannot write {}",
            dir.join(report::rundir::REPORT).display()
        )
    })?;
    Ok(path)
}

fn compare(a: &Path, b: &Path, html: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let a = report::RunDir::load(a)?;
    let b = report::RunDir::load(b)?;
    let cmp = report::compare::Comparison::new(&a, &b);
    if json {
        outln!("{}", serde_json::to_string_pretty(&cmp)?);
    } else {
        out!("{}", cmp.to_table());
    }
    if let Some(path) = html {
        std::fs::write(path, report::compare::to_html(&cmp))
            .with_context(|| format!("cannot write {}", path.display()))?;
        if !json {
            outln!("\ncomparison: {}", path.display());
        }
    }
    Ok(())
}

/// A `--net` value: a network model's name.
pub(crate) fn parse_net(s: &str) -> Result<scenario::NetModel, String> {
    s.parse().map_err(|e| format!("{e}"))
}

#[allow(clippy::too_many_arguments)]
fn run(
    file: &Path,
    seed: Option<u64>,
    net: Option<scenario::NetModel>,
    out: Option<PathBuf>,
    json: bool,
    html: bool,
    keys: &[(String, String)],
    live: &live::LiveArgs,
) -> ExitCode {
    let opts = scenario::LoadOptions {
        keys: keys.iter().cloned().collect(),
        ..Default::default()
    };
    let mut scenario = match scenario::load_with(file, &opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    if let Some(net) = net {
        if live.live {
            eprintln!(
                "gcif-sim: --net chooses a simulated run's network model; a live run's network is real"
            );
            return ExitCode::from(BAD_INPUT);
        }
        scenario.net = net;
    }
    let seed = seed.or(scenario.seed).unwrap_or(sim::DEFAULT_SEED);
    let dir =
        out.unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-{seed}", scenario.name)));
    let played = if live.live {
        let played = match live::run_live(&scenario, seed, live, &dir) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("gcif-sim: {e:#}");
                return ExitCode::from(BAD_INPUT);
            }
        };
        if let Err(e) = played.write(&dir, &scenario, file) {
            eprintln!("gcif-sim: {e}");
            return ExitCode::from(BAD_INPUT);
        }
        played
    } else {
        // The event log goes to the run directory as it happens.
        match simulate(&scenario, seed, json, &dir, file) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("gcif-sim: {e}");
                return ExitCode::from(BAD_INPUT);
            }
        }
    };
    let summary = &played.summary;
    let report_path = if html {
        match write_report(&dir) {
            Ok(path) => Some(path),
            Err(e) => {
                eprintln!("gcif-sim: {e:#}");
                return ExitCode::from(BAD_INPUT);
            }
        }
    } else {
        None
    };
    if json {
        match serde_json::to_string_pretty(&summary) {
            Ok(s) => outln!("{s}"),
            Err(e) => {
                eprintln!("gcif-sim: {e}");
                return ExitCode::from(BAD_INPUT);
            }
        }
    } else {
        out!("{}", summary.to_table());
        outln!(
            "\nevent log: {}",
            dir.join(report::rundir::EVENTS).display()
        );
        match report_path {
            Some(path) => outln!("report: {}", path.display()),
            None => outln!(
                "report: gcif-sim report {} (or run with --report)",
                dir.display()
            ),
        }
    }
    if summary.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Plays `scenario` in simulated time into the run directory `dir`, with a
/// progress bar on a terminal.
fn simulate(
    scenario: &scenario::Scenario,
    seed: u64,
    json: bool,
    dir: &std::path::Path,
    file: &std::path::Path,
) -> Result<gcif_sim::run::Run, gcif_sim::run::RecordError> {
    let bar = (!json && std::io::stderr().is_terminal()).then(progress_bar);
    let progress = bar.clone().map(|bar| -> sim::Progress {
        Arc::new(move |done, total| {
            bar.set_length(total.as_secs().max(1));
            bar.set_position(done.as_secs());
            bar.set_message(format!(
                "{} of {}",
                gcif_sim::format::human(done.as_millis() as u64),
                gcif_sim::format::human(total.as_millis() as u64)
            ));
        })
    });
    let played = gcif_sim::run::record(scenario, seed, dir, file, progress);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    played
}

/// A bar following simulated time, for a run on a terminal.
fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("simulated {msg} [{bar:40}] {elapsed} wall")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
