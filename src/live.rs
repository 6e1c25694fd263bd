//! The live driver: the same hub host, on a real TCP socket, in wall-clock
//! time, so nodes written in other languages can join using
//! `proto/gcif/v1/gcif.proto`.
//!
//! This is the one place outside benchmarks that reads the wall clock; nothing
//! here is on the simulated path.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_stream::wrappers::TcpListenerStream;

use crate::config::{DeliveryConfig, RpcConfig};
use crate::events::{EventSink, Log, TokioClock};
use crate::host::HubHost;
use crate::hub::Hub;
use crate::model::{Ministry, Timestamp};
use crate::policy::{Policy, PolicyName};
use crate::transport::{self, Address, Peer, ServeError};

/// A clock on wall-clock time, with t=0 now.
pub fn wall_clock() -> TokioClock {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    TokioClock::new(Instant::now(), Timestamp(since_epoch.as_millis() as i64))
}

/// What a live hub needs to know.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Each participant and where its `Ministry` service listens.
    pub ministries: BTreeMap<Ministry, Address>,
    pub policy: PolicyName,
    pub rpc: RpcConfig,
    pub delivery: DeliveryConfig,
}

/// Parses `CODE=URL` (e.g. `HN-SEDS=http://127.0.0.1:50052`).
pub fn parse_ministry_address(s: &str) -> Result<(Ministry, Address), String> {
    let (code, url) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected CODE=URL, e.g. HN-SEDS=http://127.0.0.1:50052"))?;
    let ministry: Ministry = code.trim().parse().map_err(|e| format!("{e}"))?;
    Ok((ministry, url.parse()?))
}

/// Serves the hub on `listener` until `shutdown` completes. Accepted messages
/// are delivered to each ministry's address, retried until acknowledged.
/// Events go to `sink`, stamped with milliseconds since the hub started.
pub async fn serve_hub(
    listener: TcpListener,
    config: HubConfig,
    sink: Arc<dyn EventSink>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let clock = wall_clock();
    let log = Log::new(Arc::new(clock), sink);
    let policy = Policy::new(config.policy, config.ministries.keys().copied());
    let remote = policy.participants().collect::<Vec<_>>();
    let host = Arc::new(HubHost::new(Hub::new(policy, config.delivery), log).with_remote(remote));
    let rpc = config.rpc;
    let peers = transport::Directory::fixed(
        config
            .ministries
            .iter()
            .map(|(&m, address)| (m, address.to_string(), Peer::at(address, rpc))),
    );
    let dialer: transport::Dialer = Arc::new(move |_, address| Peer::at(address, rpc));
    let server = transport::serve_hub(
        host.clone(),
        peers.clone(),
        Some(dialer),
        TcpListenerStream::new(listener),
        shutdown,
    );
    let deliveries = transport::hub_delivery_loop(host, clock, peers);
    tokio::select! {
        biased;
        served = server => served,
        () = deliveries => Ok(()),
    }
}
