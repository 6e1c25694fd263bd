//! The `gcif.v1.Hub` service and the hub's delivery loop.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinSet;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::{Channels, Peer, ServeError, decode, serve, transmission, wait_for_work};
use crate::events::TokioClock;
use crate::host::{HubHost, Transmission, lock};
use crate::hub::Refusal;
use crate::model::Ministry;
use crate::wire::{self, hub_server::HubServer, ministry_client::MinistryClient};

/// The `gcif.v1.Hub` service over a [`HubHost`].
struct HubService {
    host: Arc<HubHost>,
}

#[tonic::async_trait]
impl wire::hub_server::Hub for HubService {
    async fn publish(
        &self,
        request: Request<wire::PublishRequest>,
    ) -> Result<Response<wire::PublishReceipt>, Status> {
        let request = request.into_inner();
        let envelope = decode(request.envelope)?;
        let id = envelope.id.0.clone();
        match self.host.on_publish(envelope, request.attempt) {
            Ok(receipt) => Ok(Response::new(wire::PublishReceipt {
                message_id: id,
                recipients: receipt
                    .recipients
                    .iter()
                    .map(|m| m.code().to_string())
                    .collect(),
                duplicate: receipt.duplicate,
            })),
            Err(Refusal::Invalid(r)) => Err(Status::invalid_argument(r)),
            Err(Refusal::Forbidden(r)) => Err(Status::permission_denied(r)),
            Err(Refusal::Conflict(r)) => Err(Status::already_exists(r)),
        }
    }
}

/// Serves `gcif.v1.Hub` for `host` on the connections `incoming` yields,
/// until `shutdown` completes.
pub async fn serve_hub<I, S>(
    host: Arc<HubHost>,
    incoming: I,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError>
where
    I: Stream<Item = io::Result<S>> + Send + 'static,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let router =
        tonic::transport::Server::builder().add_service(HubServer::new(HubService { host }));
    serve(router, incoming, shutdown).await
}

/// The hub's delivery loop: delivers what `host` says is due to the peers in
/// `peers`; runs until aborted (a crash, or the end of the run).
pub async fn hub_delivery_loop(
    host: Arc<HubHost>,
    clock: TokioClock,
    peers: BTreeMap<Ministry, Peer>,
) {
    let channels = Arc::new(Mutex::new(Channels::new()));
    let mut tasks = JoinSet::new();
    loop {
        let (due, next) = host.poll();
        for d in due {
            let Some(peer) = peers.get(&d.to) else {
                let error = format!("no address known for {}", d.to);
                host.on_delivery(&d, Transmission::Failed(error));
                continue;
            };
            let (generation, channel) = lock(&channels).get(d.to, peer);
            let (host, channels) = (host.clone(), channels.clone());
            tasks.spawn(
                async move {
                    let request = wire::Delivery {
                        envelope: Some((&d.envelope).into()),
                        recipient: d.to.code().to_string(),
                        attempt: d.attempt,
                    };
                    let result = MinistryClient::new(channel).deliver(request).await;
                    let result = transmission(result, |_| ());
                    if let Transmission::Failed(_) = result {
                        lock(&channels).failed(d.to, generation);
                    }
                    host.on_delivery(&d, result);
                }
                .in_current_span(),
            );
        }
        while tasks.try_join_next().is_some() {}
        wait_for_work(host.notified(), next.map(|t| clock.instant_at(t))).await;
    }
}
