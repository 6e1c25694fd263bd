//! The `gcif.v1.Ministry` service of a node and the node's publish loop.

use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinSet;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::{
    Address, Channels, Identified, Peer, ServeError, Tls, decode, serve, server, transmission,
    wait_for_work,
};
use crate::config::MAX_RPC_BYTES;
use crate::events::Timer;
use crate::host::{NodeHost, Transmission, lock};
use crate::wire::{self, hub_client::HubClient, ministry_server::MinistryServer};

/// The `gcif.v1.Ministry` service over a [`NodeHost`].
struct MinistryService {
    host: Arc<NodeHost>,
    /// Whether callers are authenticated by certificate.
    tls: bool,
}

#[tonic::async_trait]
impl wire::ministry_server::Ministry for MinistryService {
    async fn deliver(
        &self,
        request: Request<wire::Delivery>,
    ) -> Result<Response<wire::DeliveryAck>, Status> {
        let caller = super::tls::caller_of(&request, self.tls);
        self.host
            .authorise_delivery(&caller)
            .map_err(Status::permission_denied)?;
        let delivery = request.into_inner();
        let envelope = decode(delivery.envelope)?;
        let id = envelope.id.0.clone();
        let ack = self
            .host
            .on_deliver(
                &delivery.recipient,
                std::sync::Arc::new(envelope),
                delivery.attempt,
            )
            .map_err(Status::invalid_argument)?;
        let duplicate = ack.duplicate;
        // Acknowledged only once the node has it on disk.
        self.host.settle(ack).await.map_err(|e| {
            Status::unavailable(format!("the node could not store the message: {e}"))
        })?;
        Ok(Response::new(wire::DeliveryAck {
            message_id: id,
            duplicate,
        }))
    }

    async fn deliver_stream(
        &self,
        request: Request<tonic::Streaming<wire::Delivery>>,
    ) -> Result<Response<tonic::codegen::BoxStream<wire::DeliveryResult>>, Status> {
        let caller = super::tls::caller_of(&request, self.tls);
        self.host
            .authorise_delivery(&caller)
            .map_err(Status::permission_denied)?;
        let mut deliveries = request.into_inner();
        let host = self.host.clone();
        let (results, answers) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(
            async move {
                // Taken in order, one at a time (the inbox decides what is a
                // redelivery); each answered once kept, which for a node
                // with `--data` waits for its journal: those waits overlap.
                while let Ok(Some(delivery)) = deliveries.message().await {
                    let id = delivery
                        .envelope
                        .as_ref()
                        .map(|e| e.message_id.clone())
                        .unwrap_or_default();
                    let taken = decode(delivery.envelope).and_then(|envelope| {
                        host.on_deliver(
                            &delivery.recipient,
                            std::sync::Arc::new(envelope),
                            delivery.attempt,
                        )
                        .map_err(Status::invalid_argument)
                    });
                    match taken {
                        Err(s) => {
                            let _ = results.send(Ok(delivery_result(id, Err(s))));
                        }
                        Ok(ack) => {
                            let (host, results) = (host.clone(), results.clone());
                            tokio::spawn(async move {
                                let duplicate = ack.duplicate;
                                let kept =
                                    host.settle(ack).await.map(|()| duplicate).map_err(|e| {
                                        Status::unavailable(format!(
                                            "the node could not store the message: {e}"
                                        ))
                                    });
                                let _ = results.send(Ok(delivery_result(id, kept)));
                            });
                        }
                    }
                }
            }
            .in_current_span(),
        );
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::UnboundedReceiverStream::new(answers),
        )))
    }
}

/// The answer on `Ministry.DeliverStream` to the delivery of `id`: OK
/// (a duplicate or not) or the status `Deliver` would have answered.
fn delivery_result(id: String, status: Result<bool, Status>) -> wire::DeliveryResult {
    match status {
        Ok(duplicate) => wire::DeliveryResult {
            message_id: id,
            duplicate,
            ..Default::default()
        },
        Err(s) => wire::DeliveryResult {
            message_id: id,
            code: s.code() as i32,
            reason: s.message().to_string(),
            ..Default::default()
        },
    }
}

/// Serves `gcif.v1.Ministry` for `host` on the connections `incoming`
/// yields, until `shutdown` completes; with `tls`, over mutual TLS, taking
/// deliveries only from the hub's certificate.
pub async fn serve_node<I, S>(
    host: Arc<NodeHost>,
    tls: Option<Tls>,
    incoming: I,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError>
where
    I: Stream<Item = io::Result<S>> + Send + 'static,
    S: AsyncRead + AsyncWrite + Identified + Unpin + Send + 'static,
{
    let service = MinistryServer::new(MinistryService {
        host,
        tls: tls.is_some(),
    })
    .max_decoding_message_size(MAX_RPC_BYTES);
    let router = server(tls.as_ref())?.add_service(service);
    serve(router, "gcif.v1.Ministry", incoming, shutdown).await
}

/// A node's publish loop: publishes what `host` says is due to the hub at
/// `hub`; runs until aborted.
pub async fn node_publish_loop(host: Arc<NodeHost>, clock: impl Timer, hub: Peer) {
    // One peer, the hub.
    let channels = Arc::new(Mutex::new(Channels::new()));
    let mut tasks = JoinSet::new();
    loop {
        let (due, next) = host.poll();
        for p in due {
            let (generation, channel) = lock(&channels).get((), &hub);
            let (host, channels) = (host.clone(), channels.clone());
            tasks.spawn(
                async move {
                    let request = wire::PublishRequest {
                        envelope: Some((&*p.envelope).into()),
                        attempt: p.attempt,
                    };
                    let result = HubClient::new(channel)
                        .max_decoding_message_size(MAX_RPC_BYTES)
                        .publish(request)
                        .await;
                    let result = transmission(result, |receipt| {
                        receipt
                            .into_inner()
                            .recipients
                            .iter()
                            .filter_map(|r| r.parse().ok())
                            .collect()
                    });
                    if let Transmission::Failed(_) = result {
                        lock(&channels).failed((), generation);
                    }
                    host.on_publish(&p, result);
                }
                .in_current_span(),
            );
        }
        for r in host.poll_reshares() {
            let (generation, channel) = lock(&channels).get((), &hub);
            let (host, channels) = (host.clone(), channels.clone());
            let me = host.ministry();
            tasks.spawn(
                async move {
                    let request = wire::ReshareRequest {
                        message_id: r.pass_on.id.0.clone(),
                        by: me.code().to_string(),
                        to: r.pass_on.to.code().to_string(),
                    };
                    let result = HubClient::new(channel).reshare(request).await;
                    let result = transmission(result, |_| ());
                    if let Transmission::Failed(_) = result {
                        lock(&channels).failed((), generation);
                    }
                    host.on_reshare(&r, result);
                }
                .in_current_span(),
            );
        }
        while tasks.try_join_next().is_some() {}
        wait_for_work(host.notified(), next.and_then(|t| clock.instant_at(t))).await;
    }
}

/// What became of one registration with the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// The hub took it; this many deliveries wait for the node. `replaced`:
    /// the address of another node of the same ministry it took over from.
    Registered {
        pending: u32,
        replaced: Option<String>,
    },
    /// The hub refused it for good (the reason); the loop stops.
    Refused(String),
    /// The hub could not be reached; the loop retries.
    Unreachable(String),
}

/// Registers `host`'s ministry at `address` with the hub, and renews it
/// every third of the hub's lease, for as long as it runs; tells `told` of
/// each outcome. Ends only on a final refusal, with its reason.
pub async fn register_loop(
    host: Arc<NodeHost>,
    hub: Peer,
    address: Address,
    status: crate::model::Status,
    told: impl Fn(&Registration) + Send,
) -> String {
    let mut channel = None;
    let mut backoff = std::time::Duration::from_millis(250);
    loop {
        let ch = channel.get_or_insert_with(|| (hub.dial)()).clone();
        let request = wire::RegisterRequest {
            ministry: host.ministry().code().to_string(),
            address: address.to_string(),
            status: wire::status_to_wire(status) as i32,
        };
        let result = HubClient::new(ch).register(request).await;
        let (outcome, wait) = match result {
            Ok(reply) => {
                let reply = reply.into_inner();
                backoff = std::time::Duration::from_millis(250);
                let lease = std::time::Duration::from_secs(u64::from(reply.lease_seconds.max(3)));
                (
                    Registration::Registered {
                        pending: reply.pending,
                        replaced: (!reply.replaced.is_empty()).then_some(reply.replaced),
                    },
                    lease / 3,
                )
            }
            Err(status) => match transmission::<(), ()>(Err(status), |_| ()) {
                Transmission::Refused(reason) => {
                    told(&Registration::Refused(reason.clone()));
                    return reason;
                }
                Transmission::Failed(e)
                | Transmission::Erred(e)
                | Transmission::Busy { error: e, .. } => {
                    channel = None;
                    let wait = backoff;
                    backoff = (backoff * 2).min(std::time::Duration::from_secs(5));
                    (Registration::Unreachable(e), wait)
                }
                Transmission::Answered(()) => unreachable!("an error is never an answer"),
            },
        };
        told(&outcome);
        tokio::time::sleep(wait).await;
    }
}

/// The hub's receipt for one publish, as `gcif-sim send` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub recipients: Vec<String>,
    /// Each participant kept from the message, with the reason.
    pub withheld: Vec<(String, String)>,
    pub duplicate: bool,
}

/// Publishes `envelope` to the hub over `channel` once (its `attempt`-th try).
pub async fn publish_once(
    hub: &Peer,
    envelope: &crate::model::Envelope,
    attempt: u32,
) -> Transmission<Receipt> {
    let request = wire::PublishRequest {
        envelope: Some(envelope.into()),
        attempt,
    };
    let result = HubClient::new((hub.dial)())
        .max_decoding_message_size(MAX_RPC_BYTES)
        .publish(request)
        .await;
    transmission(result, |r| {
        let r = r.into_inner();
        Receipt {
            recipients: r.recipients,
            withheld: r
                .withheld
                .into_iter()
                .map(|w| (w.ministry, w.reason))
                .collect(),
            duplicate: r.duplicate,
        }
    })
}

/// Asks the hub once to pass message `id` on from `by` to `to`: whether it
/// had before, and the fields changed in `to`'s copy (`field (how): reason`).
pub async fn reshare_once(
    hub: &Peer,
    id: &str,
    by: crate::model::Ministry,
    to: crate::model::Ministry,
) -> Transmission<(bool, Vec<String>)> {
    let request = wire::ReshareRequest {
        message_id: id.to_string(),
        by: by.code().to_string(),
        to: to.code().to_string(),
    };
    let result = HubClient::new((hub.dial)()).reshare(request).await;
    transmission(result, |r| {
        let r = r.into_inner();
        (
            r.duplicate,
            r.redacted
                .into_iter()
                .map(|x| format!("{} ({}): {}", x.field, x.how, x.reason))
                .collect(),
        )
    })
}

/// Asks the hub where message `id` stands with each recipient: `None` when
/// the hub has never been given it; `Err` when the hub could not be asked.
pub async fn track(hub: &Peer, id: &str) -> Result<Option<crate::hub::Tracked>, String> {
    use crate::hub::{Standing, Tracked};
    use wire::recipient_state::State;
    let request = wire::TrackRequest {
        message_id: id.to_string(),
    };
    let reply = match HubClient::new((hub.dial)()).track(request).await {
        Ok(r) => r.into_inner(),
        Err(s) if s.code() == tonic::Code::NotFound => return Ok(None),
        Err(s) => return Err(super::failure(&s)),
    };
    if !reply.accepted {
        return Ok(Some(Tracked::Refused(reply.refusal)));
    }
    let mut standings = Vec::new();
    for r in reply.recipients {
        let Ok(m) = r.ministry.parse() else {
            continue;
        };
        let standing = match State::try_from(r.state) {
            Ok(State::Delivered) => Standing::Delivered {
                at: r
                    .acknowledged
                    .as_ref()
                    .and_then(|t| crate::wire::ts_from_wire("acknowledged", t).ok())
                    .unwrap_or_default(),
                attempts: r.attempts,
            },
            Ok(State::Undeliverable) => Standing::Undeliverable {
                reason: r.reason,
                attempts: r.attempts,
            },
            _ => Standing::Pending,
        };
        standings.push((m, standing));
    }
    Ok(Some(Tracked::Accepted(standings)))
}
