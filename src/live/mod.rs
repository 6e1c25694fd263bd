//! The live driver: the same hosts as the simulation, on real TCP sockets and
//! the wall clock (sped up on demand), as separate processes or all in one.
//!
//! - [`hub`]: `gcif-sim hub`, the hub as a process nodes join at any time.
//! - [`node`]: `gcif-sim node`, one ministry's node as a process.
//! - [`send`]: `gcif-sim send`, one message published from the command line.
//! - [`play`]: `gcif-sim run --live`, a whole scenario on loopback sockets.
//! - [`links`]: live faults: connections between two hosts cut, refused or
//!   slowed for real.
//! - [`metrics`]: `/metrics` (Prometheus text) and `/healthz` on `--http`.
//! - [`journal`]: the live event log on disk, anchored to the wall clock and
//!   continued (not emptied) across restarts, and the run directory.
//!
//! This is the one place outside benchmarks that reads the wall clock;
//! nothing here is on the simulated path.

pub mod clock;
pub mod hub;
pub mod journal;
pub mod links;
pub mod metrics;
pub mod node;
pub mod play;
pub mod send;
mod setup;
pub mod steer;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_stream::Stream;

use crate::config::{DeliveryConfig, RpcConfig};
use crate::events::{EventSink, Log, TokioClock};
use crate::host::HubHost;
use crate::hub::Hub;
use crate::model::{Ministry, Timestamp};
use crate::policy::Policy;
use crate::transport::{self, Address, Peer, ServeError, Tls};

/// The wall clock now, as a timestamp.
pub fn wall_now() -> Timestamp {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    Timestamp(since_epoch.as_millis() as i64)
}

/// A clock on wall-clock time, with t=0 now.
pub fn wall_clock() -> TokioClock {
    TokioClock::new(Instant::now(), wall_now())
}

/// A clock on wall-clock time whose t=0 was at `origin` (earlier, for a
/// process continuing a log another one began).
pub fn wall_clock_since(origin: Timestamp) -> TokioClock {
    wall_clock().with_zero(origin)
}

/// The connections `listener` accepts, each with Nagle's algorithm off
/// (`TCP_NODELAY`): gRPC sends small frames and waits for answers, and
/// Nagle's delay would stall each of them for up to 40 ms.
pub fn incoming(listener: TcpListener) -> impl Stream<Item = std::io::Result<TcpStream>> {
    use tokio_stream::StreamExt;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|conn| {
        let conn = conn?;
        conn.set_nodelay(true)?;
        Ok(conn)
    })
}

/// `gcif-sim hub --window` unless set: deliveries in flight to one
/// recipient. Larger than the simulation's default (16): on a stream, the
/// window is what keeps it full.
pub const LIVE_WINDOW: usize = 256;

/// How long in-flight calls get to finish once shutdown begins.
pub const GRACE: Duration = Duration::from_secs(5);

/// Resolves once `stop` says true.
pub async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, whichever comes first. The
/// handlers are installed by this call (so call it, inside the runtime,
/// before telling anyone the process is ready), not on the first poll.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let int = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            match (int, term) {
                (Ok(mut int), Ok(mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                (int, term) => {
                    let e = int.err().or(term.err());
                    tracing::warn!(
                        ?e,
                        "cannot listen for SIGINT/SIGTERM; Ctrl-C may not stop cleanly"
                    );
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// What a live hub needs to know.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Participants whose `Ministry` service address is fixed in advance;
    /// others join with `Hub.Register`.
    pub ministries: BTreeMap<Ministry, Address>,
    /// The agreement among the participants.
    pub policy: Policy,
    pub rpc: RpcConfig,
    pub delivery: DeliveryConfig,
    /// Mutual TLS with the hub's certificate: no connection without a
    /// certificate from the same authority, and each call's identity taken
    /// from it.
    pub tls: Option<Tls>,
}

/// Parses `CODE=URL` (e.g. `HN-SEDS=http://127.0.0.1:50052`).
pub fn parse_ministry_address(s: &str) -> Result<(Ministry, Address), String> {
    let (code, url) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected CODE=URL, e.g. HN-SEDS=http://127.0.0.1:50052"))?;
    let ministry: Ministry = code.trim().parse().map_err(|e| format!("{e}"))?;
    Ok((ministry, url.parse()?))
}

/// Serves the hub on `listener` until `shutdown` completes, with every
/// participant's node in another process (the hub records their deliveries
/// from their acknowledgements). Accepted messages are delivered to each
/// ministry's fixed or registered address, retried until acknowledged.
/// Events go to `sink`, stamped with milliseconds since the hub started.
pub async fn serve_hub(
    listener: TcpListener,
    config: HubConfig,
    sink: Arc<dyn EventSink>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let clock = wall_clock();
    let log = Log::new(Arc::new(clock), sink);
    let host = Arc::new(hub_host(config.policy, config.delivery, log));
    let tls = config.tls.as_ref();
    let directory = fixed_directory(&config.ministries, config.rpc, tls);
    serve_hub_host(host, directory, listener, clock, config.rpc, tls, shutdown).await
}

/// A hub host whose recipients are all in other processes.
fn hub_host(policy: Policy, delivery: DeliveryConfig, log: Log) -> HubHost {
    remote_hub_host(Hub::new(policy, delivery), log)
}

/// A host around `hub` whose recipients are all in other processes.
fn remote_hub_host(hub: Hub, log: Log) -> HubHost {
    let remote = hub.policy().participants().collect::<Vec<_>>();
    HubHost::new(hub, log).with_remote(remote)
}

/// A directory of the fixed addresses, dialled over TCP.
fn fixed_directory(
    ministries: &BTreeMap<Ministry, Address>,
    rpc: RpcConfig,
    tls: Option<&Tls>,
) -> transport::Directory {
    transport::Directory::fixed(
        ministries
            .iter()
            .map(|(&m, address)| (m, address.to_string(), Peer::at(address, rpc, tls))),
    )
}

/// Serves `host` on `listener` with its delivery loop, registrations dialled
/// over TCP, until `shutdown`.
async fn serve_hub_host(
    host: Arc<HubHost>,
    directory: transport::Directory,
    listener: TcpListener,
    clock: TokioClock,
    rpc: RpcConfig,
    tls: Option<&Tls>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let client = tls.cloned();
    let dialer: transport::Dialer =
        Arc::new(move |_, address| Peer::at(address, rpc, client.as_ref()));
    let server = transport::serve_hub(
        host.clone(),
        directory.clone(),
        Some(dialer),
        tls.cloned(),
        incoming(listener),
        shutdown,
    );
    let deliveries = transport::hub_delivery_loop(
        host,
        clock,
        directory,
        transport::Calls::Streamed {
            deadline: rpc.timeout,
        },
    );
    tokio::select! {
        biased;
        served = server => served,
        () = deliveries => Ok(()),
    }
}
