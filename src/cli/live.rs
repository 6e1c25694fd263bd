//! The live commands: `hub`, `node` and `send` (and the runtime they share).

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use gcif_sim::live::{self, hub::HubOptions, node::NodeOptions, send::Sent};
use gcif_sim::model::{Envelope, Ministry};
use gcif_sim::transport::{Address, Registration};

use super::BAD_INPUT;

/// `gcif-sim hub`.
#[derive(Debug, Args)]
pub struct HubArgs {
    /// Address to serve `gcif.v1.Hub` (and health, reflection) on.
    #[arg(long, default_value = "127.0.0.1:50051")]
    listen: std::net::SocketAddr,
    /// Also serve `/metrics` (Prometheus) and `/healthz` over HTTP here.
    #[arg(long)]
    http: Option<std::net::SocketAddr>,
    /// Serve the trainer's console here (e.g. 127.0.0.1:8080).
    #[arg(long)]
    dashboard: Option<std::net::SocketAddr>,
    /// Write a run directory here (events.jsonl as it happens; messages,
    /// summary and a scenario stub on shutdown) for `gcif-sim report`.
    /// Given again after a restart, the log is continued, not emptied.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the event log alone here (continued if it exists) instead of
    /// standard output.
    #[arg(long, conflicts_with = "out")]
    events: Option<PathBuf>,
    /// The hub's data directory: its durable journal (`hub.redb`: every
    /// accepted message until acknowledged, synced before the hub answers a
    /// publish, read back on restart) and the tamper-evident audit trail of
    /// every decision (`audit.jsonl`, `audit.checkpoints`; see `gcif-sim
    /// audit`), continued after a restart.
    #[arg(long)]
    data: Option<PathBuf>,
    /// A fixed delivery address, as CODE=URL (e.g.
    /// HN-SEDS=http://127.0.0.1:50052). Repeatable. Other participants join
    /// by registering (`gcif-sim node` does).
    #[arg(long = "ministry")]
    ministries: Vec<String>,
    /// Who takes part, comma separated [default: every participant of the
    /// agreement].
    #[arg(long, value_delimiter = ',')]
    participants: Vec<String>,
    /// The sharing agreement: `compact-2019` (built in) or an agreement file.
    #[arg(long, default_value = "compact-2019")]
    policy: String,
    /// A pseudonymisation key's secret, as NAME=SECRET (repeatable);
    /// otherwise from the key's environment variable or the agreement.
    #[arg(long = "key", value_parser = parse_key)]
    keys: Vec<(String, String)>,
    /// The status participants take part in until their node says
    /// otherwise when it registers: actual, exercise or test.
    #[arg(long, default_value = "exercise")]
    status: gcif_sim::model::Status,
    /// The most messages that may wait for one recipient (not yet
    /// acknowledged). A publish that would go beyond is refused with
    /// RESOURCE_EXHAUSTED and a retry hint (the `grpc-retry-pushback-ms`
    /// trailer) until the recipient has taken some.
    #[arg(long, default_value_t = gcif_sim::hub::DEFAULT_MAX_PENDING, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_pending: usize,
    /// Deliveries in flight to one recipient at once: on the delivery
    /// stream of a node that serves `Ministry.DeliverStream`, or as that many
    /// concurrent `Deliver` calls to one that does not.
    #[arg(long, default_value_t = gcif_sim::live::LIVE_WINDOW, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    window: usize,
    #[command(flatten)]
    tls: TlsArgs,
}

/// `--tls DIR` and `--cert FILE`, on every live command.
#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
    /// Mutual TLS with the certificates in DIR (made by `gcif-sim certs init
    /// DIR`): this process shows DIR/<CODE>.pem (the hub: DIR/hub.pem), with
    /// its .key, and trusts only DIR/ca.pem. A hub or node with --tls accepts
    /// no connection without such a certificate, and takes each caller's
    /// identity from it.
    #[arg(long, value_name = "DIR")]
    tls: Option<PathBuf>,
    /// With --tls: show this certificate (its key is FILE with .key)
    /// instead of DIR/<CODE>.pem.
    #[arg(long, requires = "tls", value_name = "FILE")]
    cert: Option<PathBuf>,
}

impl TlsArgs {
    /// The TLS files of `name` (`hub` or a ministry code), if --tls.
    fn load(&self, name: &str) -> anyhow::Result<Option<gcif_sim::transport::Tls>> {
        match &self.tls {
            None => Ok(None),
            Some(dir) => Ok(Some(gcif_sim::transport::Tls::load(
                dir,
                name,
                self.cert.as_deref(),
            )?)),
        }
    }
}

/// `NAME=SECRET`.
pub fn parse_key(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((n, v)) if !n.trim().is_empty() && !v.is_empty() => {
            Ok((n.trim().to_string(), v.to_string()))
        }
        _ => Err(format!("`{s}`: expected NAME=SECRET")),
    }
}

/// The policy `--policy`, `--participants`, `--key` and `--status` describe.
pub fn policy_of(
    agreement: &str,
    participants: &[String],
    keys: &[(String, String)],
    status: gcif_sim::model::Status,
) -> anyhow::Result<gcif_sim::policy::Policy> {
    use gcif_sim::policy::{Agreement, Policy};
    let agreement = std::sync::Arc::new(Agreement::named(agreement)?);
    let members: Vec<Ministry> = if participants.is_empty() {
        agreement.participants.iter().map(|p| p.ministry).collect()
    } else {
        participants
            .iter()
            .map(|c| {
                let m: Ministry = c.trim().parse()?;
                anyhow::ensure!(
                    agreement.role_of(m).is_some(),
                    "--participants: {m} is not a participant of agreement {}",
                    agreement.name
                );
                Ok(m)
            })
            .collect::<anyhow::Result<_>>()?
    };
    let keys = keys.iter().cloned().collect();
    Ok(Policy::new(agreement, members, status).with_keys(&keys, |v| std::env::var(v).ok())?)
}

/// `gcif-sim node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The ministry this node serves, e.g. HN-SEDS (any participant code the
    /// hub's agreement lists).
    #[arg(long, value_parser = participant_code)]
    ministry: Ministry,
    /// The hub, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    hub: Address,
    /// Address to serve `gcif.v1.Ministry` on [default: a free loopback port].
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// The URL to register with the hub, when it is not the listening address.
    #[arg(long)]
    advertise: Option<Address>,
    /// Write a run directory here (the node's own log) on shutdown.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The node's data directory: it keeps what it processed and what it
    /// has yet to publish in DIR/node.redb (synced before each
    /// acknowledgement), so after a crash it processes nothing twice.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Print each message received as a JSON line instead of a readable line.
    #[arg(long)]
    json: bool,
    /// The status this node takes part in: actual, exercise or test. The
    /// hub delivers it only messages of this status and refuses its
    /// publishes of another.
    #[arg(long, default_value = "exercise")]
    status: gcif_sim::model::Status,
    #[command(flatten)]
    tls: TlsArgs,
}

/// A participant code, as a command line gives it (`CR-MSP`): well formed,
/// whether or not this process has read an agreement naming it.
pub fn participant_code(s: &str) -> Result<Ministry, String> {
    if s.trim() == gcif_sim::model::Host::HUB_NAME {
        return Err("GCIF is the hub, not a participant".into());
    }
    Ministry::declare(s.trim(), None).map_err(|e| e.to_string())
}

/// `gcif-sim reshare`.
#[derive(Debug, Args)]
pub struct ReshareArgs {
    /// The hub, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    hub: Address,
    /// The participant passing the message on (one of its recipients), e.g. SV-MJSP.
    #[arg(long = "as", value_parser = participant_code)]
    by: Ministry,
    /// The id of the message to pass on, e.g. HN-SEDS-000042.
    message_id: String,
    /// The participants to pass it on to (comma separated or repeated).
    #[arg(long, required = true, value_delimiter = ',', value_parser = participant_code)]
    to: Vec<Ministry>,
    /// Stop retrying an unreachable hub after this long (e.g. 30s) [default: never].
    #[arg(long, value_parser = gcif_sim::scenario::parse_duration)]
    give_up: Option<std::time::Duration>,
    /// Print each answer as a JSON line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tls: TlsArgs,
}

/// `gcif-sim send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The hub, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    hub: Address,
    /// The sending ministry, e.g. HN-SEDS.
    #[arg(long = "as", value_parser = participant_code)]
    sender: Ministry,
    /// The message, written as a scenario inject (YAML), or - for standard input.
    file: PathBuf,
    /// Stop retrying after this long without an answer (e.g. 30s) and exit 2
    /// [default: retry until the hub answers].
    #[arg(long, value_parser = gcif_sim::scenario::parse_duration)]
    give_up: Option<Duration>,
    /// Print the receipt or refusal as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tls: TlsArgs,
}

/// A runtime for a live process: two worker threads, on the wall clock.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn failed(e: anyhow::Error) -> ExitCode {
    eprintln!("gcif-sim: {e:#}");
    ExitCode::from(BAD_INPUT)
}

pub fn hub(args: HubArgs) -> ExitCode {
    let policy = match policy_of(&args.policy, &args.participants, &args.keys, args.status) {
        Ok(p) => p,
        Err(e) => return failed(e),
    };
    let mut fixed = std::collections::BTreeMap::new();
    for spec in &args.ministries {
        let (m, address) = match live::parse_ministry_address(spec) {
            Ok(x) => x,
            Err(e) => return failed(anyhow::anyhow!("--ministry {e}")),
        };
        if fixed.insert(m, address).is_some() {
            return failed(anyhow::anyhow!("--ministry {m} is given twice"));
        }
    }
    let participants: Vec<Ministry> = policy.participants().collect();
    let tls = match args.tls.load(gcif_sim::certs::HUB) {
        Ok(t) => t,
        Err(e) => return failed(e),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let opts = HubOptions {
        listen: args.listen,
        http: args.http,
        dashboard: args.dashboard,
        out: args.out,
        events: args.events,
        data: args.data,
        ministries: fixed,
        policy,
        rpc: Default::default(),
        delivery: gcif_sim::config::DeliveryConfig {
            max_pending: args.max_pending,
            window: args.window,
            ..Default::default()
        },
        tls,
    };
    let result = runtime().and_then(|rt| {
        let _entered = rt.enter();
        let stop = live::shutdown_signal();
        rt.block_on(live::hub::run(
            opts.clone(),
            |bound| {
                eprintln!(
                    "gcif-sim hub: serving gcif.v1.Hub on {} for {}{}; nodes join with \
                     `gcif-sim node --hub {scheme}://{}`; Ctrl-C stops",
                    bound.grpc,
                    participants
                        .iter()
                        .map(|m| m.code())
                        .collect::<Vec<_>>()
                        .join(", "),
                    bound
                        .http
                        .map(|h| format!("; metrics on http://{h}/metrics"))
                        .unwrap_or_default()
                        + &bound
                            .dashboard
                            .map(|d| format!("; trainer's console on http://{d}/"))
                            .unwrap_or_default(),
                    bound.grpc
                );
            },
            stop,
        ))
    });
    match result {
        Ok(()) => {
            if let Some(dir) = &opts.out {
                eprintln!(
                    "gcif-sim hub: stopped; run directory {} (gcif-sim report {})",
                    dir.display(),
                    dir.display()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => failed(e),
    }
}

pub fn node(args: NodeArgs) -> ExitCode {
    let json = args.json;
    let me = args.ministry;
    let tap: gcif_sim::host::Tap = Arc::new(move |env: &Envelope, attempt: u32| {
        let line = if json {
            serde_json::json!({
                "received_at": live::journal::rfc3339(live::wall_now()),
                "attempt": attempt,
                "envelope": env,
            })
            .to_string()
        } else {
            format!(
                "{}  {}",
                live::journal::rfc3339(live::wall_now()),
                env.headline()
            )
        };
        super::print_line(&line);
    });
    let hub = args.hub.clone();
    // Said on each change only: joined, lost the hub, back.
    let state = std::sync::Mutex::new(None::<bool>);
    let told = move |r: &Registration| {
        let mut was = state.lock().unwrap_or_else(|e| e.into_inner());
        match r {
            Registration::Registered { pending, replaced } => {
                if let Some(other) = replaced {
                    eprintln!(
                        "gcif-sim node {me}: the hub had {me} at {other} (another node of {me}, or \
                         an earlier run of this one); it now delivers here (the last to register \
                         wins)"
                    );
                }
                if *was != Some(true) {
                    eprintln!(
                        "gcif-sim node {me}: registered with the hub at {hub}; {pending} \
                         message(s) waiting for us"
                    );
                }
                *was = Some(true);
            }
            Registration::Refused(reason) => {
                eprintln!("gcif-sim node {me}: the hub refused the registration: {reason}");
            }
            Registration::Unreachable(e) => {
                if *was != Some(false) {
                    eprintln!(
                        "gcif-sim node {me}: hub {hub} unreachable ({e}); retrying with backoff"
                    );
                }
                *was = Some(false);
            }
        }
    };
    let tls = match args.tls.load(me.code()) {
        Ok(t) => t,
        Err(e) => return failed(e),
    };
    let opts = NodeOptions {
        tls,
        ministry: args.ministry,
        hub: args.hub.clone(),
        listen: args.listen,
        advertise: args.advertise,
        out: args.out.clone(),
        data: args.data.clone(),
        status: args.status,
        rpc: Default::default(),
        publish: Default::default(),
    };
    let result = runtime().and_then(|rt| {
        let _entered = rt.enter();
        let stop = live::shutdown_signal();
        rt.block_on(live::node::run(
            opts,
            tap,
            told,
            |address| {
                eprintln!(
                    "gcif-sim node {me}: serving gcif.v1.Ministry on {address}, registering with \
                     {}; Ctrl-C stops",
                    args.hub
                )
            },
            stop,
        ))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failed(e),
    }
}

/// The message file of `send`: its text and its name for errors.
fn read_message(file: &PathBuf) -> anyhow::Result<(String, String)> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        return Ok((text, "<stdin>".into()));
    }
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok((text, file.display().to_string()))
}

pub fn send(args: SendArgs) -> ExitCode {
    let (text, name) = match read_message(&args.file) {
        Ok(t) => t,
        Err(e) => return failed(e),
    };
    let now = live::wall_now();
    let default_id = format!(
        "{}-{}",
        args.sender.code(),
        live::journal::rfc3339(now)
            .replace(['-', ':'], "")
            .replace('.', "")
            .trim_end_matches('Z')
    );
    let envelope = match gcif_sim::scenario::message(&name, &text, args.sender, now, &default_id) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let quiet = args.json || !std::io::stderr().is_terminal();
    let hub = match args.tls.load(args.sender.code()) {
        Ok(tls) => gcif_sim::transport::Peer::at(&args.hub, Default::default(), tls.as_ref()),
        Err(e) => return failed(e),
    };
    let sent = match runtime() {
        Ok(rt) => rt.block_on(async {
            let stop = live::shutdown_signal();
            tokio::select! {
                sent = live::send::send(&hub, &envelope, args.give_up, |attempt, error, wait| {
                    if !quiet || attempt == 1 {
                        eprintln!("gcif-sim send: hub {} did not take it ({error}); retrying in {} ms", args.hub, wait.as_millis());
                    }
                }) => Some(sent),
                () = stop => None,
            }
        }),
        Err(e) => return failed(e),
    };
    let id = envelope.id.0.as_str();
    match sent {
        Some(Sent::Accepted(r)) => {
            if args.json {
                super::print_line(
                    &serde_json::json!({
                        "message_id": id,
                        "accepted": true,
                        "duplicate": r.duplicate,
                        "recipients": r.recipients,
                        "withheld": r.withheld.iter().map(|(m, why)| serde_json::json!({"ministry": m, "reason": why})).collect::<Vec<_>>(),
                    })
                    .to_string(),
                );
            } else {
                super::print_line(&format!(
                    "accepted {id}{}: to {}",
                    if r.duplicate {
                        " (already accepted before)"
                    } else {
                        ""
                    },
                    if r.recipients.is_empty() {
                        "nobody".to_string()
                    } else {
                        r.recipients.join(", ")
                    }
                ));
                for (m, why) in &r.withheld {
                    super::print_line(&format!("  withheld from {m}: {why}"));
                }
            }
            ExitCode::SUCCESS
        }
        Some(Sent::Refused(reason)) => {
            if args.json {
                super::print_line(
                    &serde_json::json!({"message_id": id, "accepted": false, "refused": reason})
                        .to_string(),
                );
            } else {
                super::print_line(&format!("refused {id}: {reason}"));
            }
            ExitCode::from(1)
        }
        Some(Sent::GaveUp(error)) => {
            eprintln!(
                "gcif-sim send: gave up: hub {} did not take it ({error})",
                args.hub
            );
            ExitCode::from(BAD_INPUT)
        }
        None => {
            eprintln!("gcif-sim send: interrupted before the hub answered");
            ExitCode::from(BAD_INPUT)
        }
    }
}

/// The `--live` options of `gcif-sim run`.
#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Play the scenario live: the hub and every node on loopback TCP ports,
    /// injects, traffic and faults fired on the wall clock.
    #[arg(long)]
    pub live: bool,
    /// With --live: simulated time per real time (60 plays an hour a minute).
    #[arg(long, requires = "live", default_value_t = 1.0)]
    pub speed: f64,
    /// With --live: play against this hub, already running, instead of the
    /// run's own.
    #[arg(long, requires = "live")]
    pub hub: Option<Address>,
    /// With --live: where the run's own hub listens [default: a free
    /// loopback port]. Give a port to tell external nodes in advance.
    #[arg(long, requires = "live", default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// With --live: leave this ministry to a node someone else runs
    /// (comma separated or repeated); the run waits for it to join.
    #[arg(long, requires = "live", value_delimiter = ',')]
    pub external: Vec<Ministry>,
    /// With --live: serve the trainer's console here (e.g. 127.0.0.1:8080).
    #[arg(long, requires = "live")]
    pub dashboard: Option<std::net::SocketAddr>,
    /// Mutual TLS between every host of the run, with the certificates in
    /// DIR (`gcif-sim certs init DIR` for the scenario's agreement).
    #[arg(long, requires = "live", value_name = "DIR")]
    pub tls: Option<PathBuf>,
}

/// `gcif-sim replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A run directory (simulated or live).
    run_dir: PathBuf,
    /// Serve the trainer's console here.
    #[arg(long, default_value = "127.0.0.1:8080")]
    dashboard: std::net::SocketAddr,
    /// Simulated time per real time when the page plays the run (the
    /// trainer can change it on the page).
    #[arg(long, default_value_t = 60.0)]
    speed: f64,
}

pub fn replay(args: ReplayArgs) -> ExitCode {
    let run = match gcif_sim::report::RunDir::load(&args.run_dir) {
        Ok(r) => r,
        Err(e) => return failed(e.into()),
    };
    if !(args.speed.is_finite() && args.speed > 0.0) {
        return failed(anyhow::anyhow!("--speed must be a positive number"));
    }
    let console = gcif_sim::console::replay(&run, args.speed);
    let result = runtime().and_then(|rt| {
        let _entered = rt.enter();
        let stop = live::shutdown_signal();
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind(args.dashboard)
                .await
                .with_context(|| format!("cannot listen on {}", args.dashboard))?;
            eprintln!(
                "gcif-sim replay: {} on http://{}/ ({} events); Ctrl-C stops",
                args.run_dir.display(),
                listener.local_addr()?,
                run.events.len()
            );
            gcif_sim::console::serve(console, listener, stop).await?;
            Ok(())
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failed(e),
    }
}

/// Plays `scenario` live, streaming its log to DIR/events.jsonl as it goes.
pub fn run_live(
    scenario: &gcif_sim::scenario::Scenario,
    seed: u64,
    args: &LiveArgs,
    dir: &std::path::Path,
) -> anyhow::Result<gcif_sim::run::Run> {
    let mut scenario = scenario.clone();
    if args.hub.is_some() {
        // A hub already running keeps the wall clock: play on its calendar.
        let offset = *scenario.start.offset();
        scenario.start = chrono::DateTime::from_timestamp_millis(live::wall_now().0)
            .unwrap_or_default()
            .with_timezone(&offset);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(gcif_sim::report::rundir::EVENTS);
    let file =
        std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
    let stream = Arc::new(gcif_sim::events::JsonLines::flushed(
        std::io::BufWriter::new(file),
    ));
    let opts = live::play::LiveOptions {
        speed: args.speed,
        hub: args.hub.clone(),
        listen: args.listen,
        external: args.external.clone(),
        dashboard: args.dashboard,
        tls: args.tls.clone(),
    };
    let say: live::play::Say = Arc::new(|line: &str| eprintln!("gcif-sim run --live: {line}"));
    let rt = runtime()?;
    let _entered = rt.enter();
    let stop = live::shutdown_signal();
    let run = rt.block_on(live::play::play_checked(
        &scenario,
        seed,
        &opts,
        stream.clone(),
        say,
        stop,
    ))?;
    stream
        .finish()
        .with_context(|| format!("cannot write {}", path.display()))?;
    let mut run = run;
    let mut how = format!("--live --speed {}", args.speed);
    if let Some(hub) = &args.hub {
        how += &format!(" --hub {hub}");
    }
    if !args.external.is_empty() {
        let codes: Vec<&str> = args.external.iter().map(|m| m.code()).collect();
        how += &format!(" --external {}", codes.join(","));
    }
    run.summary.command = format!(
        "gcif-sim run {} --seed {seed} {how}",
        gcif_sim::format::shell_word(&scenario.file)
    );
    run.summary.live = Some(format!("run {how}"));
    Ok(run)
}

/// `gcif-sim reshare`: exit 0 when the hub passed it on to every one of
/// `--to`, 1 when it refused any, 2 for bad input or an unreachable hub.
pub fn reshare(args: ReshareArgs) -> ExitCode {
    use gcif_sim::live::send::Passed;
    let hub = match args.tls.load(args.by.code()) {
        Ok(tls) => gcif_sim::transport::Peer::at(&args.hub, Default::default(), tls.as_ref()),
        Err(e) => return failed(e),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return failed(e),
    };
    let mut code = ExitCode::SUCCESS;
    for &to in &args.to {
        let passed = rt.block_on(async {
            let stop = live::shutdown_signal();
            tokio::select! {
                p = live::send::reshare(&hub, &args.message_id, args.by, to, args.give_up, |attempt, error, wait| {
                    if attempt == 1 {
                        eprintln!("gcif-sim reshare: hub {} did not take it ({error}); retrying in {} ms", args.hub, wait.as_millis());
                    }
                }) => Some(p),
                () = stop => None,
            }
        });
        let id = &args.message_id;
        match passed {
            Some(Passed::Accepted {
                duplicate,
                redacted,
            }) => {
                if args.json {
                    super::print_line(
                        &serde_json::json!({"message_id": id, "to": to, "passed_on": true, "duplicate": duplicate, "redacted": redacted})
                            .to_string(),
                    );
                } else {
                    super::print_line(&format!(
                        "passed {id} on to {to}{}",
                        if duplicate { " (already before)" } else { "" }
                    ));
                    for r in redacted {
                        super::print_line(&format!("  {r}"));
                    }
                }
            }
            Some(Passed::Refused(reason)) => {
                if args.json {
                    super::print_line(
                        &serde_json::json!({"message_id": id, "to": to, "passed_on": false, "refused": reason})
                            .to_string(),
                    );
                } else {
                    super::print_line(&format!("refused to pass {id} on to {to}: {reason}"));
                }
                code = ExitCode::from(1);
            }
            Some(Passed::GaveUp(error)) => {
                eprintln!(
                    "gcif-sim reshare: gave up: hub {} did not take it ({error})",
                    args.hub
                );
                return ExitCode::from(BAD_INPUT);
            }
            None => return ExitCode::from(BAD_INPUT),
        }
    }
    code
}
