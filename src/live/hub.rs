//! `gcif-sim hub`: the hub as a process. Nodes join at any time with
//! `Hub.Register` (or have fixed addresses, `--ministry CODE=URL`); the hub
//! serves until SIGINT or SIGTERM, then finishes or abandons its in-flight
//! calls, reports NOT_SERVING, and leaves its run directory complete.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use super::journal::{Journal, Session, write_session};
use super::metrics::Metrics;
use crate::config::{DeliveryConfig, RpcConfig};
use crate::events::{Event, EventBody, EventSink, JsonLines, Log, TokioClock};
use crate::host::HubHost;
use crate::model::Ministry;
use crate::plan::Planned;
use crate::policy::Policy;
use crate::transport::Address;

/// What `gcif-sim hub` is told.
#[derive(Debug, Clone)]
pub struct HubOptions {
    pub listen: SocketAddr,
    /// Where to serve `/metrics` and `/healthz`.
    pub http: Option<SocketAddr>,
    /// Where to serve the trainer's console.
    pub dashboard: Option<SocketAddr>,
    /// The run directory to write (the log streams to DIR/events.jsonl).
    pub out: Option<PathBuf>,
    /// The live log alone, without a run directory; standard output if
    /// neither this nor `out` is given.
    pub events: Option<PathBuf>,
    /// The hub's data directory: its audit trail (`audit.jsonl`,
    /// `audit.checkpoints`), continued across restarts.
    pub data: Option<PathBuf>,
    /// Fixed delivery addresses; other participants register.
    pub ministries: BTreeMap<Ministry, Address>,
    /// The agreement among the participants (who takes part, with which
    /// role and status, and the keys).
    pub policy: Policy,
    pub rpc: RpcConfig,
    pub delivery: DeliveryConfig,
    /// Mutual TLS with the hub's certificate (`--tls DIR`).
    pub tls: Option<crate::transport::Tls>,
}

/// Where the hub listens, once it does.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub grpc: SocketAddr,
    pub http: Option<SocketAddr>,
    pub dashboard: Option<SocketAddr>,
}

/// Runs the hub until `shutdown`; `ready` is told where it listens.
pub async fn run(
    opts: HubOptions,
    ready: impl FnOnce(Bound),
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let participants: Vec<Ministry> = opts.policy.participants().collect();
    for m in opts.ministries.keys() {
        anyhow::ensure!(
            participants.contains(m),
            "--ministry {m}: not among the participants ({})",
            codes(&participants)
        );
    }
    let journal = match (&opts.out, &opts.events) {
        (Some(dir), _) => Some(Journal::open(
            &dir.join(crate::report::rundir::EVENTS),
            "hub",
        )?),
        (None, Some(path)) => Some(Journal::open(path, "hub")?),
        (None, None) => None,
    };
    let metrics = Arc::new(Metrics::default());
    let feed = Arc::new(crate::console::Feed::default());
    let mut also: Vec<Arc<dyn EventSink>> = vec![metrics.clone()];
    if opts.dashboard.is_some() {
        also.push(feed.clone());
    }
    let audit = match &opts.data {
        Some(dir) => Some(Arc::new(crate::audit::AuditLog::open(dir)?)),
        None => None,
    };
    if let Some(a) = &audit {
        also.push(a.clone());
    }
    let (clock, log) = clock_and_log(journal.as_ref(), Arc::new(crate::events::FanOut::new(also)));
    let durable = match &opts.data {
        Some(dir) => Some(crate::store::HubJournal::open(dir)?),
        None => None,
    };
    let mut hub = crate::hub::Hub::new(opts.policy.clone(), opts.delivery);
    let mut registered = Vec::new();
    let host = match durable {
        Some((store, restored)) => {
            let now = crate::events::Clock::now(&clock);
            let n = restored.messages.len();
            for (kept, ended) in restored.messages {
                hub.restore(now, kept, &ended);
            }
            if n > 0 {
                tracing::info!(n, backlog = hub.backlog(), "journal read back");
            }
            registered = restored.registered;
            super::remote_hub_host(hub, log.clone()).with_journal(Arc::new(store))
        }
        None => super::remote_hub_host(hub, log.clone()),
    };
    let host = Arc::new(host);
    let directory = super::fixed_directory(&opts.ministries, opts.rpc, opts.tls.as_ref());
    // Where the nodes were when the hub stopped: deliveries resume at once,
    // without waiting for each node's next registration.
    for (m, address) in registered {
        if participants.contains(&m)
            && !opts.ministries.contains_key(&m)
            && let Ok(a) = address.parse::<Address>()
        {
            directory.register(m, &a, || {
                crate::transport::Peer::at(&a, opts.rpc, opts.tls.as_ref())
            });
        }
    }

    let listener = TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let http_listener = match opts.http {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (--http)"))?,
        ),
        None => None,
    };
    let dashboard_listener = match opts.dashboard {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (--dashboard)"))?,
        ),
        None => None,
    };
    ready(Bound {
        grpc: listener.local_addr()?,
        http: http_listener.as_ref().map(|l| l.local_addr()).transpose()?,
        dashboard: dashboard_listener
            .as_ref()
            .map(|l| l.local_addr())
            .transpose()?,
    });

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let http = http_listener.map(|l| {
        let router = super::metrics::router(
            metrics.clone(),
            host.clone(),
            directory.clone(),
            stop_rx.clone(),
        );
        let stopped = super::stopped(stop_rx.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(l, router).with_graceful_shutdown(stopped).await {
                tracing::error!(%e, "the --http server stopped");
            }
        })
    });
    let console = dashboard_listener.map(|l| {
        let console = super::steer::hub_console(
            host.clone(),
            log.clone(),
            feed.clone(),
            format!("Live hub on {}", opts.listen),
        );
        let stopped = super::stopped(stop_rx.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::console::serve(console, l, stopped).await {
                tracing::error!(%e, "the console stopped");
            }
        })
    });
    let served = super::serve_hub_host(
        host.clone(),
        directory,
        listener,
        clock,
        opts.rpc,
        opts.tls.as_ref(),
        async {
            shutdown.await;
            let _ = stop_tx.send(true);
        },
    );
    // In-flight calls get a few seconds to finish once shutdown begins.
    let result = tokio::select! {
        r = served => r.map_err(anyhow::Error::from),
        () = async {
            super::stopped(stop_rx.clone()).await;
            tokio::time::sleep(super::GRACE).await;
        } => {
            tracing::warn!("in-flight calls abandoned after 5 s");
            Ok(())
        }
    };
    for h in [http, console].into_iter().flatten() {
        // An open console page holds its event stream: do not wait for it.
        let _ = tokio::time::timeout(super::GRACE, h).await;
    }
    if let Some(a) = &audit {
        a.checkpoint()
            .with_context(|| format!("cannot write the audit trail in {}", a.dir().display()))?;
    }
    if let Some(j) = journal {
        j.finish()
            .with_context(|| format!("cannot write {}", j.path.display()))?;
        if let Some(dir) = &opts.out {
            write_run_dir(dir, &opts, &host, &j)?;
        }
    }
    result
}

/// The hub's run directory, on shutdown: its log (this process's and any
/// earlier one's), the messages it answered and those earlier processes
/// recorded, a summary and the stub scenario.
fn write_run_dir(
    dir: &std::path::Path,
    opts: &HubOptions,
    host: &HubHost,
    journal: &Journal,
) -> anyhow::Result<()> {
    let events = journal.events()?;
    let mut plan = plan_of(host, &events);
    let earlier = dir.join(crate::report::rundir::MESSAGES);
    if earlier.is_file() {
        let known: std::collections::BTreeSet<_> =
            plan.iter().map(|p| p.envelope.id.clone()).collect();
        let old = crate::report::rundir::read_messages(&earlier)?;
        plan.extend(
            old.iter()
                .map(crate::report::rundir::Message::planned)
                .filter(|p| !known.contains(&p.envelope.id)),
        );
        plan.sort_by(|a, b| (a.at, &a.envelope.id).cmp(&(b.at, &b.envelope.id)));
    }
    // The policy as it stands now: with the statuses the nodes registered in.
    let policy = host.inspect(|h| h.policy().clone());
    write_session(
        dir,
        Session {
            process: "gcif-sim hub",
            name: "live-hub",
            title: &format!("Live hub on {}", opts.listen),
            policy: &policy,
            plan,
            received: Vec::new(),
        },
        events,
        crate::events::Clock::origin(&journal.clock),
    )
}

/// The hub's clock and log: the journal's, or (with no journal) the wall
/// clock and standard output; `metrics` sees every event either way.
fn clock_and_log(journal: Option<&Journal>, metrics: Arc<dyn EventSink>) -> (TokioClock, Log) {
    match journal {
        Some(j) => (j.clock, Log::new(Arc::new(j.clock), j.sink(Some(metrics)))),
        None => {
            let clock = super::wall_clock();
            let stdout: Arc<dyn EventSink> = Arc::new(JsonLines::flushed(std::io::stdout()));
            let sink = Arc::new(crate::events::FanOut::new(vec![stdout, metrics]));
            (clock, Log::new(Arc::new(clock), sink))
        }
    }
}

/// The messages the hub answered, each at the run time it first answered.
fn plan_of(host: &HubHost, events: &[Event]) -> Vec<Planned> {
    let mut first: BTreeMap<&str, u64> = BTreeMap::new();
    for e in events {
        if let EventBody::Accepted { msg, .. } | EventBody::Rejected { msg, .. } = &e.body {
            first.entry(msg.0.as_str()).or_insert(e.t);
        }
    }
    let mut plan: Vec<Planned> = host.inspect(|h| {
        h.journal()
            .map(|(envelope, _)| Planned {
                at: Duration::from_millis(first.get(envelope.id.0.as_str()).copied().unwrap_or(0)),
                envelope: Arc::new(envelope.clone()),
                inject: None,
            })
            .collect()
    });
    plan.sort_by(|a, b| (a.at, &a.envelope.id).cmp(&(b.at, &b.envelope.id)));
    plan
}

fn codes(ms: &[Ministry]) -> String {
    ms.iter().map(|m| m.code()).collect::<Vec<_>>().join(", ")
}
