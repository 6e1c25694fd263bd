//! tonic services and client loops around the hub and node state machines.
//! The only module that knows tonic and `tonic::Status`.
//!
//! A host is its state machine (behind a mutex, because the journal outlives
//! the host's tasks) plus:
//! - a gRPC server (`Hub` or `Ministry` service) that feeds requests in, and
//! - a client loop that asks the state machine what is due, makes those RPCs
//!   concurrently, reports each result back, and sleeps until the next wake-up
//!   or until something new arrives.
//!
//! The same code runs over the simulated network and over real sockets: it only
//! needs a [`Clock`], an [`EventSink`] and a way to dial a [`Channel`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};
use tracing::Instrument;

use crate::hub::{Hub, PublishOutcome, Refusal};
use crate::model::{self, Host, Ministry, Timestamp};
use crate::node::{Node, Outcome, Receipt};
use crate::report::{EventBody, EventSink};
use crate::wire::{self, hub_client::HubClient, ministry_client::MinistryClient};

/// Result alias for the service handlers.
type RpcResult<T> = std::result::Result<Response<T>, Status>;

/// Where a host gets the time from: virtual in the simulation, the wall clock
/// when live.
pub trait Clock: Send + Sync + 'static {
    /// Now, as the state machines see it.
    fn now(&self) -> Timestamp;
    /// The tokio instant at which `t` falls, to sleep until it.
    fn instant_at(&self, t: Timestamp) -> tokio::time::Instant;
}

/// Shared handles a host's tasks need.
#[derive(Clone)]
pub struct HostContext {
    pub clock: Arc<dyn Clock>,
    pub sink: Arc<dyn EventSink>,
}

/// Locks a state machine. A poisoned lock means a task panicked mid-update;
/// the state is still the last consistent one, so carry on with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether an RPC error is a final answer (the peer understood and refused)
/// rather than a transport failure worth retrying.
fn is_final(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument | Code::PermissionDenied | Code::AlreadyExists
    )
}

// ---------------------------------------------------------------------------
// Hub
// ---------------------------------------------------------------------------

/// The `gcif.v1.Hub` service.
#[derive(Clone)]
pub struct HubService {
    pub hub: Arc<Mutex<Hub>>,
    /// Woken when a publish queues deliveries.
    pub wake: Arc<Notify>,
    pub ctx: HostContext,
}

#[tonic::async_trait]
impl wire::hub_server::Hub for HubService {
    async fn publish(
        &self,
        request: Request<wire::PublishRequest>,
    ) -> RpcResult<wire::PublishReceipt> {
        let request = request.into_inner();
        let attempt = request.attempt;
        let Some(envelope) = request.envelope else {
            return Err(Status::invalid_argument("envelope is missing"));
        };
        let envelope = model::Envelope::try_from(envelope)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let (id, kind, from) = (envelope.id.clone(), envelope.kind, envelope.originator);
        self.ctx.sink.record(EventBody::Received {
            msg: id.clone(),
            from: Host::Node(from),
            to: Host::Hub,
            attempt,
        });
        let outcome = lock(&self.hub).on_publish(self.ctx.clock.now(), envelope);
        match outcome {
            PublishOutcome::Accepted {
                recipients,
                first,
                withheld,
                redacted,
            } => {
                if first {
                    tracing::debug!(msg = %id, ?recipients, "accepted");
                    self.ctx.sink.record(EventBody::Accepted {
                        msg: id.clone(),
                        kind,
                        from,
                        recipients: recipients.clone(),
                        withheld,
                        redacted,
                    });
                    self.wake.notify_one();
                }
                Ok(Response::new(wire::PublishReceipt {
                    message_id: id.0,
                    recipients: recipients.iter().map(|m| m.code().to_string()).collect(),
                    duplicate: !first,
                }))
            }
            PublishOutcome::Refused { refusal, first } => {
                if first {
                    tracing::info!(msg = %id, reason = refusal.reason(), "rejected");
                    self.ctx.sink.record(EventBody::Rejected {
                        msg: id,
                        from,
                        reason: refusal.reason().to_string(),
                    });
                }
                Err(match refusal {
                    Refusal::Invalid(r) => Status::invalid_argument(r),
                    Refusal::Forbidden(r) => Status::permission_denied(r),
                    Refusal::Conflict(r) => Status::already_exists(r),
                })
            }
        }
    }
}

/// Opens a channel to a ministry's node.
pub type Dial = Arc<dyn Fn(Ministry) -> Channel + Send + Sync>;

/// Open channels by peer, each with a generation number, so a task that saw
/// a connection fail drops only that connection, not a newer one.
struct Channels<K> {
    open: BTreeMap<K, (u64, Channel)>,
    next_gen: u64,
}

impl<K: Ord + Copy> Channels<K> {
    fn new() -> Self {
        Channels {
            open: BTreeMap::new(),
            next_gen: 0,
        }
    }

    /// The open channel to `peer`, dialled now if there is none.
    fn get(&mut self, peer: K, dial: impl FnOnce() -> Channel) -> (u64, Channel) {
        if let Some(open) = self.open.get(&peer) {
            return open.clone();
        }
        self.next_gen += 1;
        let open = (self.next_gen, dial());
        self.open.insert(peer, open.clone());
        open
    }

    /// The channel of `generation` to `peer` failed: the next call redials.
    fn failed(&mut self, peer: K, generation: u64) {
        if self.open.get(&peer).is_some_and(|(g, _)| *g == generation) {
            self.open.remove(&peer);
        }
    }
}

/// Sleeps until `until` (if any) or until woken, whichever comes first.
async fn wait_for_work(wake: &Notify, until: Option<tokio::time::Instant>) {
    tokio::select! {
        biased;
        _ = wake.notified() => {}
        _ = sleep_until_opt(until) => {}
    }
}

/// The hub's delivery loop: runs until aborted (a crash or the end of the run).
pub async fn hub_delivery_loop(
    hub: Arc<Mutex<Hub>>,
    wake: Arc<Notify>,
    dial: Dial,
    ctx: HostContext,
) {
    let channels = Arc::new(Mutex::new(Channels::new()));
    let mut tasks = JoinSet::new();
    loop {
        let now = ctx.clock.now();
        let (due, next) = {
            let mut h = lock(&hub);
            (h.poll(now), h.next_wakeup())
        };
        for d in due {
            let (generation, channel) = lock(&channels).get(d.to, || dial(d.to));
            let (hub, wake, ctx, channels) =
                (hub.clone(), wake.clone(), ctx.clone(), channels.clone());
            ctx.sink.record(EventBody::Sent {
                msg: d.envelope.id.clone(),
                from: Host::Hub,
                to: Host::Node(d.to),
                attempt: d.attempt,
            });
            tasks.spawn(async move {
                let request = wire::Delivery {
                    envelope: Some((&d.envelope).into()),
                    recipient: d.to.code().to_string(),
                    attempt: d.attempt,
                };
                let result = MinistryClient::new(channel).deliver(request).await;
                let now = ctx.clock.now();
                let mut h = lock(&hub);
                match result {
                    Ok(_) => h.on_acked(now, d.to, d.seq),
                    Err(status) if is_final(status.code()) => {
                        tracing::warn!(msg = %d.envelope.id, to = %d.to, %status, "recipient refused delivery");
                        h.on_refused_by_recipient(d.to, d.seq);
                    }
                    Err(status) => {
                        tracing::debug!(msg = %d.envelope.id, to = %d.to, attempt = d.attempt, %status, "delivery failed");
                        ctx.sink.record(EventBody::Failed {
                            msg: d.envelope.id.clone(),
                            from: Host::Hub,
                            to: Host::Node(d.to),
                            attempt: d.attempt,
                            error: failure(&status),
                        });
                        h.on_failed(now, d.to, d.seq);
                        lock(&channels).failed(d.to, generation);
                    }
                }
                drop(h);
                wake.notify_one();
            }.in_current_span());
        }
        while tasks.try_join_next().is_some() {}
        wait_for_work(&wake, next.map(|t| ctx.clock.instant_at(t))).await;
    }
}

/// A transport failure in a few words, for the event log.
fn failure(status: &Status) -> String {
    match status.code() {
        Code::DeadlineExceeded => "no answer before the deadline".to_string(),
        Code::Unavailable => "peer unreachable".to_string(),
        Code::Cancelled => "call cancelled".to_string(),
        code => format!("{code:?}: {}", status.message()),
    }
}

async fn sleep_until_opt(until: Option<tokio::time::Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

// ---------------------------------------------------------------------------
// Ministry node
// ---------------------------------------------------------------------------

/// The `gcif.v1.Ministry` service of one node.
#[derive(Clone)]
pub struct MinistryService {
    pub node: Arc<Mutex<Node>>,
    pub ctx: HostContext,
}

#[tonic::async_trait]
impl wire::ministry_server::Ministry for MinistryService {
    async fn deliver(&self, request: Request<wire::Delivery>) -> RpcResult<wire::DeliveryAck> {
        let delivery = request.into_inner();
        let Some(envelope) = delivery.envelope else {
            return Err(Status::invalid_argument("envelope is missing"));
        };
        let envelope = model::Envelope::try_from(envelope)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let now = self.ctx.clock.now();
        let mut node = lock(&self.node);
        let me = node.ministry();
        if delivery.recipient != me.code() {
            return Err(Status::invalid_argument(format!(
                "delivery addressed to {:?} reached {me}",
                delivery.recipient
            )));
        }
        let (id, kind, created) = (envelope.id.clone(), envelope.kind, envelope.created);
        self.ctx.sink.record(EventBody::Received {
            msg: id.clone(),
            from: Host::Hub,
            to: Host::Node(me),
            attempt: delivery.attempt,
        });
        let receipt = node.on_deliver(now, envelope);
        drop(node);
        let duplicate = receipt == Receipt::Duplicate;
        if duplicate {
            tracing::debug!(msg = %id, to = %me, attempt = delivery.attempt, "duplicate discarded");
            self.ctx.sink.record(EventBody::Duplicate {
                msg: id.clone(),
                to: me,
            });
        } else {
            tracing::debug!(msg = %id, to = %me, "delivered");
            self.ctx.sink.record(EventBody::Delivered {
                msg: id.clone(),
                kind,
                to: me,
                latency_ms: now.since(created),
            });
        }
        Ok(Response::new(wire::DeliveryAck {
            message_id: id.0,
            duplicate,
        }))
    }
}

/// A node's publish loop: runs until aborted. `dial` opens a channel to the hub.
pub async fn node_publish_loop(
    node: Arc<Mutex<Node>>,
    wake: Arc<Notify>,
    dial: Arc<dyn Fn() -> Channel + Send + Sync>,
    ctx: HostContext,
) {
    // One peer, the hub.
    let channels = Arc::new(Mutex::new(Channels::new()));
    let mut tasks = JoinSet::new();
    loop {
        let now = ctx.clock.now();
        let (due, next, me) = {
            let mut n = lock(&node);
            (n.poll(now), n.next_wakeup(), n.ministry())
        };
        for p in due {
            if p.attempt == 1 {
                ctx.sink.record(EventBody::Published {
                    msg: p.envelope.id.clone(),
                    kind: p.envelope.kind,
                    from: me,
                    inject: None,
                });
            }
            ctx.sink.record(EventBody::Sent {
                msg: p.envelope.id.clone(),
                from: Host::Node(me),
                to: Host::Hub,
                attempt: p.attempt,
            });
            let (generation, ch) = lock(&channels).get((), || dial());
            let (node, wake, ctx, channels) =
                (node.clone(), wake.clone(), ctx.clone(), channels.clone());
            tasks.spawn(async move {
                let request = wire::PublishRequest {
                    envelope: Some((&p.envelope).into()),
                    attempt: p.attempt,
                };
                let result = HubClient::new(ch).publish(request).await;
                let now = ctx.clock.now();
                let mut n = lock(&node);
                match result {
                    Ok(receipt) => {
                        let recipients = receipt
                            .into_inner()
                            .recipients
                            .iter()
                            .filter_map(|r| r.parse().ok())
                            .collect();
                        n.on_outcome(now, p.seq, Outcome::Accepted { recipients });
                    }
                    Err(status) if is_final(status.code()) => {
                        tracing::info!(msg = %p.envelope.id, %status, "publish refused");
                        n.on_outcome(
                            now,
                            p.seq,
                            Outcome::Refused {
                                reason: status.message().to_string(),
                            },
                        );
                    }
                    Err(status) => {
                        tracing::debug!(msg = %p.envelope.id, attempt = p.attempt, %status, "publish failed");
                        ctx.sink.record(EventBody::Failed {
                            msg: p.envelope.id.clone(),
                            from: Host::Node(me),
                            to: Host::Hub,
                            attempt: p.attempt,
                            error: failure(&status),
                        });
                        n.on_publish_failed(now, p.seq);
                        lock(&channels).failed((), generation);
                    }
                }
                drop(n);
                wake.notify_one();
            }.in_current_span());
        }
        while tasks.try_join_next().is_some() {}
        wait_for_work(&wake, next.map(|t| ctx.clock.instant_at(t))).await;
    }
}

/// Per-RPC deadline and connection set-up used by both loops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcConfig {
    /// A call not answered within this is abandoned and retried; this is how a
    /// silently stalled (partitioned) connection is noticed.
    pub timeout: Duration,
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            timeout: Duration::from_secs(10),
        }
    }
}
