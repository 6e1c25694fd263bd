//! The live driver: the same hub, on a real TCP socket, in wall-clock time, so
//! nodes written in other languages can join using `proto/gcif/v1/gcif.proto`.
//!
//! This is the one place outside benchmarks that reads the wall clock; nothing
//! here is on the simulated path.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Endpoint, Server};

use crate::hub::{DeliveryConfig, Hub};
use crate::model::{Ministry, Timestamp};
use crate::policy::{Policy, PolicyName};
use crate::report::{Event, EventBody, EventSink};
use crate::transport::{self, Clock, HostContext, HubService, RpcConfig};
use crate::wire::hub_server::HubServer;

/// Wall-clock time, anchored once so `now` and `instant_at` agree.
pub struct WallClock {
    start: Instant,
    start_ts: Timestamp,
}

impl WallClock {
    /// A clock anchored at this instant.
    pub fn new() -> WallClock {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        WallClock {
            start: Instant::now(),
            start_ts: Timestamp(since_epoch.as_millis() as i64),
        }
    }
}

impl Default for WallClock {
    fn default() -> Self {
        WallClock::new()
    }
}

impl Clock for WallClock {
    fn now(&self) -> Timestamp {
        self.start_ts.after(self.start.elapsed())
    }

    fn instant_at(&self, t: Timestamp) -> Instant {
        self.start + Duration::from_millis(t.since(self.start_ts))
    }
}

/// Writes each event as a JSON line as it happens (`t` = ms since start).
pub struct JsonLinesSink<W: Write + Send> {
    start: Instant,
    out: Mutex<W>,
}

impl<W: Write + Send> JsonLinesSink<W> {
    /// A sink writing to `out`, with t=0 now.
    pub fn new(out: W) -> Self {
        JsonLinesSink {
            start: Instant::now(),
            out: Mutex::new(out),
        }
    }
}

impl<W: Write + Send + 'static> EventSink for JsonLinesSink<W> {
    fn record(&self, body: EventBody) {
        let event = Event {
            t: self.start.elapsed().as_millis() as u64,
            body,
        };
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let written = serde_json::to_writer(&mut *out, &event)
            .map_err(std::io::Error::from)
            .and_then(|_| out.write_all(b"\n"))
            .and_then(|_| out.flush());
        if let Err(e) = written {
            tracing::warn!(%e, "cannot write an event");
        }
    }
}

/// What a live hub needs to know.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Each participant and where its `Ministry` service listens.
    pub ministries: BTreeMap<Ministry, Endpoint>,
    pub policy: PolicyName,
    pub rpc: RpcConfig,
    pub delivery: DeliveryConfig,
}

/// Parses `CODE=URL` (e.g. `HN-SEDS=http://127.0.0.1:50052`).
pub fn parse_ministry_address(s: &str) -> Result<(Ministry, Endpoint), String> {
    let (code, url) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected CODE=URL, e.g. HN-SEDS=http://127.0.0.1:50052"))?;
    let ministry: Ministry = code.trim().parse().map_err(|e| format!("{e}"))?;
    let endpoint = Endpoint::from_shared(url.trim().to_string())
        .map_err(|e| format!("`{url}` is not a usable URL: {e}"))?;
    Ok((ministry, endpoint))
}

/// Serves the hub on `listener` until `shutdown` completes. Accepted messages
/// are delivered to each ministry's address, retried until acknowledged.
pub async fn serve_hub(
    listener: TcpListener,
    config: HubConfig,
    sink: Arc<dyn EventSink>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let ctx = HostContext {
        clock: Arc::new(WallClock::new()),
        sink,
    };
    let policy = Policy::new(config.policy, config.ministries.keys().copied());
    let hub = Arc::new(Mutex::new(Hub::new(policy, config.delivery)));
    let wake = Arc::new(Notify::new());
    let endpoints: BTreeMap<Ministry, Endpoint> = config
        .ministries
        .into_iter()
        .map(|(m, e)| {
            let e = e
                .timeout(config.rpc.timeout)
                .connect_timeout(config.rpc.timeout);
            (m, e)
        })
        .collect();
    let dial: transport::Dial = Arc::new(move |m: Ministry| endpoints[&m].connect_lazy());
    let service = HubService {
        hub: hub.clone(),
        wake: wake.clone(),
        ctx: ctx.clone(),
    };
    let server = Server::builder()
        .add_service(HubServer::new(service))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown);
    let deliveries = transport::hub_delivery_loop(hub, wake, dial, ctx);
    tokio::select! {
        biased;
        served = server => served,
        () = deliveries => Ok(()),
    }
}
