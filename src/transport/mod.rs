//! The tonic adapter: gRPC services and client loops around the hosts.
//!
//! **Architecture invariant:** this module and the generated code in
//! [`crate::wire`] are the only ones that name tonic. Drivers hand it small
//! types of their own: a [`Peer`] to dial (a URL, or any connect function
//! returning a byte stream, such as a simulated link), and a stream of
//! accepted connections to serve.
//!
//! The adapter decodes requests (wire → model, validating structure), calls
//! the host, and encodes its answer as a response or a `Status`. Outbound, a
//! loop polls the host, makes the due RPCs concurrently, reports each result
//! back as a [`Transmission`](crate::host::Transmission), and sleeps until the
//! host's next wake-up or until it is notified. Status codes that end an
//! attempt for good (`INVALID_ARGUMENT`, `PERMISSION_DENIED`,
//! `ALREADY_EXISTS`) are refusals; anything else is a transport failure,
//! retried, and the channel is dropped so the next attempt reconnects.

mod hub;
mod node;

pub use hub::{hub_delivery_loop, serve_hub};
pub use node::{node_publish_loop, serve_node};

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::futures::Notified;
use tokio::time::Instant;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::config::RpcConfig;
use crate::host::Transmission;

/// Whether an RPC error is a final answer (the peer understood and refused)
/// rather than a transport failure worth retrying.
fn is_final(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument | Code::PermissionDenied | Code::AlreadyExists
    )
}

/// What became of an RPC, as the host is told it.
fn transmission<T, A>(result: Result<T, Status>, answer: impl FnOnce(T) -> A) -> Transmission<A> {
    match result {
        Ok(r) => Transmission::Answered(answer(r)),
        Err(status) if is_final(status.code()) => {
            Transmission::Refused(status.message().to_string())
        }
        Err(status) => Transmission::Failed(failure(&status)),
    }
}

/// The envelope of a request, checked as the `.proto` requires: present and
/// well-formed, else `INVALID_ARGUMENT` with the reason.
fn decode(envelope: Option<crate::wire::Envelope>) -> Result<crate::model::Envelope, Status> {
    let envelope = envelope.ok_or_else(|| Status::invalid_argument("envelope is missing"))?;
    crate::model::Envelope::try_from(envelope).map_err(|e| Status::invalid_argument(e.to_string()))
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

/// A gRPC address: an `http://` or `https://` URL, checked when parsed.
#[derive(Clone)]
pub struct Address(Endpoint);

impl FromStr for Address {
    type Err = String;

    fn from_str(url: &str) -> Result<Address, String> {
        Endpoint::from_shared(url.trim().to_string())
            .map(Address)
            .map_err(|e| format!("`{url}` is not a usable URL: {e}"))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.uri())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

/// How to reach one peer: each (re)dial opens a fresh lazy channel, which
/// connects on its first call.
#[derive(Clone)]
pub struct Peer {
    dial: Arc<dyn Fn() -> Channel + Send + Sync>,
}

impl Peer {
    /// The peer at `address`, over TCP.
    pub fn at(address: &Address, rpc: RpcConfig) -> Peer {
        let endpoint = address
            .0
            .clone()
            .timeout(rpc.timeout)
            .connect_timeout(rpc.timeout);
        Peer {
            dial: Arc::new(move || endpoint.connect_lazy()),
        }
    }

    /// The peer reached by `connect`, which opens a byte stream to it (a
    /// simulated link, say); refusing to connect is an `Err`.
    pub fn over<F, Fut, S>(connect: F, rpc: RpcConfig) -> Peer
    where
        F: Fn() -> Fut + Send + Sync + Clone + 'static,
        Fut: Future<Output = io::Result<S>> + Send + 'static,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let endpoint = Endpoint::from_static("http://gcif.sim")
            .timeout(rpc.timeout)
            .connect_timeout(rpc.timeout);
        Peer {
            dial: Arc::new(move || {
                let connect = connect.clone();
                let connector = tower::service_fn(move |_: tonic::codegen::http::Uri| {
                    let connect = connect.clone();
                    async move { connect().await.map(hyper_util::rt::TokioIo::new) }
                });
                endpoint.connect_with_connector_lazy(connector)
            }),
        }
    }
}

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
    fn get(&mut self, key: K, peer: &Peer) -> (u64, Channel) {
        if let Some(open) = self.open.get(&key) {
            return open.clone();
        }
        self.next_gen += 1;
        let open = (self.next_gen, (peer.dial)());
        self.open.insert(key, open.clone());
        open
    }

    /// The channel of `generation` to `key` failed: the next call redials.
    fn failed(&mut self, key: K, generation: u64) {
        if self.open.get(&key).is_some_and(|(g, _)| *g == generation) {
            self.open.remove(&key);
        }
    }
}

/// Sleeps until `until` (if any) or until woken, whichever comes first.
async fn wait_for_work(woken: Notified<'_>, until: Option<Instant>) {
    tokio::select! {
        biased;
        _ = woken => {}
        _ = sleep_until_opt(until) => {}
    }
}

async fn sleep_until_opt(until: Option<Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Why a server stopped.
#[derive(Debug, thiserror::Error)]
#[error("the gRPC server stopped: {0}")]
pub struct ServeError(String);

/// Serves `router` on the connections `incoming` yields until `shutdown`.
async fn serve<I, S>(
    router: tonic::transport::server::Router,
    incoming: I,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError>
where
    I: Stream<Item = io::Result<S>> + Send + 'static,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    router
        .serve_with_incoming_shutdown(incoming.map(|c| c.map(Conn)), shutdown)
        .await
        .map_err(|e| ServeError(e.to_string()))
}

/// An accepted connection of any byte stream, as tonic's server takes it.
struct Conn<S>(S);

impl<S> tonic::transport::server::Connected for Conn<S> {
    type ConnectInfo = ();

    fn connect_info(&self) {}
}

impl<S: AsyncRead + Unpin> AsyncRead for Conn<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Conn<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}
