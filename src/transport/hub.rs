//! The `gcif.v1.Hub` service and the hub's delivery loop.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::stream::{OnFailed, deliver_unary, session};
use super::{
    Address, Channels, Directory, Identified, Peer, Registered, ServeError, Tls, decode_publish,
    refusal_status, serve, server, wait_for_work,
};
use crate::config::MAX_RPC_BYTES;
use crate::events::Timer;
use crate::host::{HubHost, Transmission, lock};
use crate::hub::Delivery;
use crate::hub::{Standing, Tracked};
use crate::model::{Caller, Ministry};
use crate::wire::{self, hub_server::HubServer};

/// How the hub dials a node that registered its address.
pub type Dialer = Arc<dyn Fn(Ministry, &Address) -> Peer + Send + Sync>;

/// The `gcif.v1.Hub` service over a [`HubHost`].
struct HubService {
    host: Arc<HubHost>,
    directory: Directory,
    /// `None`: the hub's addresses are fixed; registrations are refused.
    dialer: Option<Dialer>,
    /// Whether callers are authenticated by certificate.
    tls: bool,
}

#[tonic::async_trait]
impl wire::hub_server::Hub for HubService {
    async fn publish(
        &self,
        request: Request<wire::PublishRequest>,
    ) -> Result<Response<wire::PublishReceipt>, Status> {
        let caller = super::tls::caller_of(&request, self.tls);
        let request = request.into_inner();
        let envelope = decode_publish(request.envelope).map_err(|(id, from, status)| {
            self.host.on_refused_request(&id, &from, status.message());
            status
        })?;
        self.host
            .authorise(&caller, envelope.originator, "Publish", &envelope.id.0)
            .map_err(Status::permission_denied)?;
        let id = envelope.id.0.clone();
        let published = self
            .host
            .on_publish(std::sync::Arc::new(envelope), request.attempt);
        if published.is_ok() {
            // A receipt promises delivery: only once the message is on disk.
            self.host.synced().await.map_err(|e| {
                Status::unavailable(format!("the hub could not store the message: {e}"))
            })?;
        }
        match published {
            Ok(receipt) => Ok(Response::new(wire::PublishReceipt {
                message_id: id,
                recipients: receipt
                    .recipients
                    .iter()
                    .map(|m| m.code().to_string())
                    .collect(),
                duplicate: receipt.duplicate,
                withheld: receipt
                    .withheld
                    .into_iter()
                    .map(|w| wire::Withheld {
                        ministry: w.to.code().to_string(),
                        reason: w.reason,
                    })
                    .collect(),
            })),
            Err(refusal) => Err(refusal_status(refusal)),
        }
    }

    async fn track(
        &self,
        request: Request<wire::TrackRequest>,
    ) -> Result<Response<wire::TrackReply>, Status> {
        use wire::recipient_state::State;
        let caller = super::tls::caller_of(&request, self.tls);
        let id = request.into_inner().message_id;
        let mid = crate::model::MessageId(id.clone());
        let (tracked, originator) = self
            .host
            .inspect(|h| h.track(&mid).zip(h.originator_of(&mid)))
            .ok_or_else(|| Status::not_found(format!("the hub has never been given {id}")))?;
        // Who received a message is itself shared information: with
        // identities, only its originator and its recipients may ask.
        if let Caller::Ministry(m) = &caller
            && *m != originator
            && !matches!(&tracked, Tracked::Accepted(s) if s.iter().any(|(r, _)| r == m))
        {
            return Err(Status::permission_denied(format!(
                "{m} neither sent nor received {id}: only they may track it"
            )));
        }
        if matches!(caller, Caller::Hub | Caller::Stranger(_)) {
            self.host
                .authorise(&caller, originator, "Track", &id)
                .map_err(Status::permission_denied)?;
        }
        let reply = match tracked {
            Tracked::Refused(why) => wire::TrackReply {
                message_id: id,
                accepted: false,
                refusal: why,
                recipients: Vec::new(),
            },
            Tracked::Accepted(standings) => wire::TrackReply {
                message_id: id,
                accepted: true,
                refusal: String::new(),
                recipients: standings
                    .into_iter()
                    .map(|(m, s)| {
                        let mut r = wire::RecipientState {
                            ministry: m.code().to_string(),
                            ..Default::default()
                        };
                        match s {
                            Standing::Pending => r.state = State::Pending as i32,
                            Standing::Delivered { at, attempts } => {
                                r.state = State::Delivered as i32;
                                r.acknowledged = Some(crate::wire::ts_to_wire(at));
                                r.attempts = attempts;
                            }
                            Standing::Undeliverable { reason, attempts } => {
                                r.state = State::Undeliverable as i32;
                                r.reason = reason;
                                r.attempts = attempts;
                            }
                        }
                        r
                    })
                    .collect(),
            },
        };
        Ok(Response::new(reply))
    }

    async fn reshare(
        &self,
        request: Request<wire::ReshareRequest>,
    ) -> Result<Response<wire::ReshareReply>, Status> {
        let caller = super::tls::caller_of(&request, self.tls);
        let r = request.into_inner();
        let code = |field: &str, c: &str| -> Result<Ministry, Status> {
            if c.trim().is_empty() {
                return Err(Status::invalid_argument(format!("{field} is empty")));
            }
            c.trim()
                .parse()
                .map_err(|e| Status::invalid_argument(format!("{field}: {e}")))
        };
        if r.message_id.trim().is_empty() {
            return Err(Status::invalid_argument("message_id is empty"));
        }
        let (by, to) = (code("by", &r.by)?, code("to", &r.to)?);
        self.host
            .authorise(&caller, by, "Reshare", r.message_id.trim())
            .map_err(Status::permission_denied)?;
        let id = crate::model::MessageId(r.message_id.trim().to_string());
        let passed = self.host.on_reshare(&id, by, to);
        if passed.is_ok() {
            self.host.synced().await.map_err(|e| {
                Status::unavailable(format!("the hub could not store the reshare: {e}"))
            })?;
        }
        match passed {
            Ok((duplicate, redacted)) => {
                let kind = self
                    .host
                    .inspect(|h| h.kind_of(&id))
                    .map(|k| k.name())
                    .unwrap_or_default();
                Ok(Response::new(wire::ReshareReply {
                    duplicate,
                    redacted: redacted
                        .iter()
                        .flat_map(|x| {
                            x.fields.iter().map(move |f| wire::Redacted {
                                field: format!("{kind}.{f}"),
                                reason: x.reason.clone(),
                                how: x.how(f).to_string(),
                            })
                        })
                        .collect(),
                }))
            }
            Err(refusal) => Err(refusal_status(refusal)),
        }
    }

    async fn register(
        &self,
        request: Request<wire::RegisterRequest>,
    ) -> Result<Response<wire::RegisterReply>, Status> {
        let caller = super::tls::caller_of(&request, self.tls);
        let request = request.into_inner();
        let Some(dialer) = &self.dialer else {
            return Err(Status::failed_precondition(
                "this hub takes no registrations: its ministries' addresses are fixed",
            ));
        };
        let ministry: Ministry = request
            .ministry
            .trim()
            .parse()
            .map_err(|e| Status::permission_denied(format!("{e}")))?;
        self.host
            .authorise(&caller, ministry, "Register", "")
            .map_err(Status::permission_denied)?;
        let participant = self
            .host
            .inspect(|h| h.policy().participants().any(|m| m == ministry));
        if !participant {
            return Err(Status::permission_denied(format!(
                "{ministry} is not a participant of this hub's policy"
            )));
        }
        let address: Address = request
            .address
            .parse()
            .map_err(|e: String| Status::invalid_argument(e))?;
        let status = match wire::Status::try_from(request.status) {
            Ok(wire::Status::Unspecified) => None,
            Ok(wire::Status::Actual) => Some(crate::model::Status::Actual),
            Ok(wire::Status::Exercise) => Some(crate::model::Status::Exercise),
            Ok(wire::Status::Test) => Some(crate::model::Status::Test),
            Err(_) => {
                return Err(Status::invalid_argument(format!(
                    "status {} is not ACTUAL, EXERCISE or TEST",
                    request.status
                )));
            }
        };
        if let Some(status) = status {
            self.host.set_status(ministry, status);
        }
        let replaced = match self
            .directory
            .register(ministry, &address, || dialer(ministry, &address))
        {
            Registered::New { replaced } => {
                tracing::info!(%ministry, %address, ?replaced, "registered");
                self.host.on_registered(ministry, &address.to_string());
                replaced.unwrap_or_default()
            }
            Registered::Renewed => {
                self.host.on_renewed(ministry);
                String::new()
            }
        };
        let pending = self.host.inspect(|h| h.backlog_of(ministry));
        Ok(Response::new(wire::RegisterReply {
            pending: pending.try_into().unwrap_or(u32::MAX),
            lease_seconds: Directory::LEASE.as_secs() as u32,
            replaced,
        }))
    }
}

/// Serves `gcif.v1.Hub` for `host` on the connections `incoming` yields,
/// until `shutdown` completes, with the health and reflection services.
/// Nodes that register are dialled with `dialer` and entered in `directory`;
/// without a dialer, registrations are refused.
pub async fn serve_hub<I, S>(
    host: Arc<HubHost>,
    directory: Directory,
    dialer: Option<Dialer>,
    tls: Option<Tls>,
    incoming: I,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError>
where
    I: Stream<Item = io::Result<S>> + Send + 'static,
    S: AsyncRead + AsyncWrite + Identified + Unpin + Send + 'static,
{
    let service = HubServer::new(HubService {
        host,
        directory,
        dialer,
        tls: tls.is_some(),
    })
    .max_decoding_message_size(MAX_RPC_BYTES);
    let router = server(tls.as_ref())?.add_service(service);
    serve(router, "gcif.v1.Hub", incoming, shutdown).await
}

/// How the hub's delivery loop calls the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Calls {
    /// One `Ministry.Deliver` per delivery (the simulation's gRPC model,
    /// whose links carry each call as a real peer's would).
    Unary,
    /// Deliveries on one `Ministry.DeliverStream` per connection (the live
    /// hub), each answered within `deadline`; a node that does not serve
    /// the stream gets `Deliver` calls instead.
    Streamed { deadline: std::time::Duration },
}

/// The hub's delivery loop: delivers what `host` says is due to the peers in
/// `directory`, by `calls`; runs until aborted (a crash, or the end of the
/// run).
pub async fn hub_delivery_loop(
    host: Arc<HubHost>,
    clock: impl Timer,
    directory: Directory,
    calls: Calls,
) {
    type Key = (Ministry, u64);
    let channels = Arc::new(Mutex::new(Channels::<Key>::new()));
    // The open stream session of each connection, by its generation.
    let mut sessions: BTreeMap<Key, (u64, mpsc::UnboundedSender<Delivery>)> = BTreeMap::new();
    let mut tasks = JoinSet::new();
    loop {
        let (due, next) = host.poll();
        for d in due {
            let Some((version, peer)) = directory.get(d.to) else {
                let error = format!("no address known for {} (it has not registered)", d.to);
                host.on_delivery(&d, Transmission::Failed(error));
                continue;
            };
            let key = (d.to, version);
            let (generation, channel) = lock(&channels).get(key, &peer);
            let on_failed: OnFailed = {
                let channels = channels.clone();
                Arc::new(move || lock(&channels).failed(key, generation))
            };
            match calls {
                Calls::Unary => {
                    tasks.spawn(
                        deliver_unary(host.clone(), channel, d, on_failed).in_current_span(),
                    );
                }
                Calls::Streamed { deadline } => {
                    let d = match sessions.get(&key) {
                        Some((g, tx)) if *g == generation => match tx.send(d) {
                            Ok(()) => continue,
                            Err(mpsc::error::SendError(d)) => d,
                        },
                        _ => d,
                    };
                    let (tx, queue) = mpsc::unbounded_channel();
                    // The receiver is held by the session just made: this
                    // cannot fail.
                    let _ = tx.send(d);
                    tasks.spawn(
                        session(host.clone(), channel, queue, deadline, on_failed)
                            .in_current_span(),
                    );
                    sessions.insert(key, (generation, tx));
                }
            }
        }
        while tasks.try_join_next().is_some() {}
        sessions.retain(|_, (_, tx)| !tx.is_closed());
        wait_for_work(host.notified(), next.and_then(|t| clock.instant_at(t))).await;
    }
}

/// The fields cleared from `d`'s copy, as paths in the envelope.
pub(super) fn redacted_fields(d: &crate::hub::Delivery) -> Vec<wire::Redacted> {
    let payload = d.envelope.kind.name();
    d.redactions
        .iter()
        .flat_map(|r| {
            r.fields.iter().map(|f| wire::Redacted {
                field: format!("{payload}.{f}"),
                reason: r.reason.clone(),
                how: r.how(f).to_string(),
            })
        })
        .collect()
}
