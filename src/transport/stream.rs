//! The hub's deliveries on `Ministry.DeliverStream`: one stream per
//! connection to a node, many deliveries in flight on it, each answered by a
//! `DeliveryResult` that the session hands to the host exactly as the answer
//! to a unary `Deliver` would be. A node that does not serve the stream
//! (UNIMPLEMENTED) gets unary calls from the same session instead.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tracing::Instrument;

use super::{RETRY_PUSHBACK, error_outcome, transmission};
use crate::config::MAX_RPC_BYTES;
use crate::host::{Acked, HubHost, Transmission};
use crate::hub::Delivery;
use crate::wire::{self, ministry_client::MinistryClient};

/// Tells the delivery loop that the connection a session ran on failed,
/// so that the next delivery redials.
pub(super) type OnFailed = Arc<dyn Fn() + Send + Sync>;

/// The wire form of delivery `d`.
pub(super) fn request(d: &Delivery) -> wire::Delivery {
    wire::Delivery {
        envelope: Some((&*d.envelope).into()),
        recipient: d.to.code().to_string(),
        attempt: d.attempt,
        redacted: super::hub::redacted_fields(d),
    }
}

/// One unary `Deliver` of `d` on `channel`, its end told to `host`.
pub(super) async fn deliver_unary(
    host: Arc<HubHost>,
    channel: Channel,
    d: Delivery,
    on_failed: OnFailed,
) {
    let result = MinistryClient::new(channel)
        .max_decoding_message_size(MAX_RPC_BYTES)
        .deliver(request(&d))
        .await;
    let result = transmission(result, |ack| Acked {
        duplicate: ack.into_inner().duplicate,
    });
    if let Transmission::Failed(_) = result {
        on_failed();
    }
    host.on_delivery(&d, result);
}

/// What a `DeliveryResult` says, as the transmission's end.
fn outcome(r: &wire::DeliveryResult) -> Transmission<Acked> {
    if r.code == Code::Ok as i32 {
        return Transmission::Answered(Acked {
            duplicate: r.duplicate,
        });
    }
    let mut status = Status::new(Code::from_i32(r.code), r.reason.clone());
    if r.retry_after_ms > 0
        && let Ok(v) = r.retry_after_ms.to_string().parse()
    {
        status.metadata_mut().insert(RETRY_PUSHBACK, v);
    }
    error_outcome(&status)
}

/// Runs a delivery session on `channel`: each delivery `queue` yields is
/// sent on one `DeliverStream` and its result handed to `host`; a delivery
/// not answered within `deadline` ends as a call that timed out. When the
/// stream breaks, the deliveries still in flight and those not yet sent end
/// as failed (the host retries them after backoff, on a new connection) and
/// the session ends; the loop opens a new one for the next delivery.
pub(super) async fn session(
    host: Arc<HubHost>,
    channel: Channel,
    mut queue: mpsc::UnboundedReceiver<Delivery>,
    deadline: Duration,
    on_failed: OnFailed,
) {
    let (to_node, outbound) = mpsc::unbounded_channel::<wire::Delivery>();
    let opened = MinistryClient::new(channel.clone())
        .max_decoding_message_size(MAX_RPC_BYTES)
        .deliver_stream(tokio_stream::wrappers::UnboundedReceiverStream::new(
            outbound,
        ))
        .await;
    let mut results = match opened {
        Ok(r) => r.into_inner(),
        Err(s) if s.code() == Code::Unimplemented && std::error::Error::source(&s).is_none() => {
            // A node that serves `Deliver` alone.
            tracing::debug!("the node does not serve DeliverStream: unary deliveries");
            let mut calls = JoinSet::new();
            while let Some(d) = queue.recv().await {
                calls.spawn(
                    deliver_unary(host.clone(), channel.clone(), d, on_failed.clone())
                        .in_current_span(),
                );
                while calls.try_join_next().is_some() {}
            }
            return;
        }
        Err(s) => {
            let error = super::failure(&s);
            return broken(&host, queue, BTreeMap::new(), error, &on_failed);
        }
    };
    let mut in_flight: BTreeMap<String, (Delivery, Instant)> = BTreeMap::new();
    let mut tick = tokio::time::interval(deadline.min(Duration::from_secs(1)));
    let error = loop {
        tokio::select! {
            next = queue.recv() => {
                let Some(d) = next else { return };
                let wire = request(&d);
                in_flight.insert(d.envelope.id.0.clone(), (d, Instant::now()));
                if to_node.send(wire).is_err() {
                    break "the delivery stream closed".to_string();
                }
            }
            answer = results.message() => match answer {
                Ok(Some(r)) => match in_flight.remove(&r.message_id) {
                    Some((d, _)) => host.on_delivery(&d, outcome(&r)),
                    None => tracing::debug!(msg = r.message_id, "a result for no delivery in flight"),
                },
                Ok(None) => break "the node ended the delivery stream".to_string(),
                Err(s) => break super::failure(&s),
            },
            _ = tick.tick() => {
                let now = Instant::now();
                let late: Vec<String> = in_flight
                    .iter()
                    .filter(|(_, (_, sent))| now.duration_since(*sent) >= deadline)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in late {
                    if let Some((d, _)) = in_flight.remove(&id) {
                        let status = Status::deadline_exceeded(format!(
                            "no result on the delivery stream within {} ms",
                            deadline.as_millis()
                        ));
                        let result = error_outcome(&status);
                        if let Transmission::Failed(_) = result {
                            on_failed();
                        }
                        host.on_delivery(&d, result);
                    }
                }
            }
        }
    };
    broken(&host, queue, in_flight, error, &on_failed);
}

/// The stream broke: every delivery in flight or waiting ends as failed.
fn broken(
    host: &HubHost,
    mut queue: mpsc::UnboundedReceiver<Delivery>,
    in_flight: BTreeMap<String, (Delivery, Instant)>,
    error: String,
    on_failed: &OnFailed,
) {
    tracing::debug!(error, "delivery stream broken");
    on_failed();
    queue.close();
    for (_, (d, _)) in in_flight {
        host.on_delivery(&d, Transmission::Failed(error.clone()));
    }
    while let Ok(d) = queue.try_recv() {
        host.on_delivery(&d, Transmission::Failed(error.clone()));
    }
}
