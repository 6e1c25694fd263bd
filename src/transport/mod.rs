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
//! host's next wake-up or until it is notified. Status codes are sorted three
//! ways ([`classify`]): final refusals, never retried; the peer down (the
//! whole queue to it pauses, and the channel is dropped so the next attempt
//! reconnects); and an error for this call alone, retried by itself.

mod hub;
mod node;
mod stream;
mod tls;

pub use hub::{Calls, Dialer, hub_delivery_loop, serve_hub};
pub use tls::{Identified, Tls, TlsError};

pub use node::{
    Receipt, Registration, node_publish_loop, publish_once, register_loop, reshare_once,
    serve_node, track,
};

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

use crate::config::{MAX_ENVELOPE_BYTES, RpcConfig};
use crate::host::Transmission;
use crate::model::Ministry;

/// What an error status means for the transmission that got it. The
/// `.proto` documents the same table for third-party implementers.
fn classify(status: &Status) -> Class {
    // tonic reports a failure of the connection itself (refused, reset, a
    // broken HTTP/2 stream) as a status with the cause attached, often as
    // UNKNOWN "transport error": the peer is not reachable, whatever the code.
    if std::error::Error::source(status).is_some() {
        return Class::PeerDown;
    }
    match status.code() {
        // The peer understood and refused: final, never retried.
        Code::InvalidArgument
        | Code::PermissionDenied
        | Code::AlreadyExists
        | Code::FailedPrecondition
        | Code::OutOfRange => Class::Final,
        // The peer is not there to answer (or does not serve the method):
        // pause everything to it, retry with backoff.
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unimplemented => {
            Class::PeerDown
        }
        // The peer answered with a fault of its own for this call
        // (RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN, ABORTED, ...): retry this
        // transmission alone after backoff; the others carry on.
        _ => Class::ThisCall,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Final,
    PeerDown,
    ThisCall,
}

/// What became of an RPC, as the host is told it.
fn transmission<T, A>(result: Result<T, Status>, answer: impl FnOnce(T) -> A) -> Transmission<A> {
    match result {
        Ok(r) => Transmission::Answered(answer(r)),
        Err(status) => error_outcome(&status),
    }
}

/// What a caller makes of an error status, by the table of the `.proto`.
fn error_outcome<A>(status: &Status) -> Transmission<A> {
    match classify(status) {
        Class::Final => Transmission::Refused(format!(
            "{}: {}",
            code_name(status.code()),
            status.message()
        )),
        Class::PeerDown => Transmission::Failed(failure(status)),
        Class::ThisCall => match retry_pushback(status) {
            Some(retry_after) if status.code() == Code::ResourceExhausted => Transmission::Busy {
                error: failure(status),
                retry_after,
            },
            _ => Transmission::Erred(failure(status)),
        },
    }
}

/// The trailer in which a server says how long to wait before retrying
/// (gRPC's retry pushback, gRFC A6), in milliseconds.
pub const RETRY_PUSHBACK: &str = "grpc-retry-pushback-ms";

/// The retry hint a status carries, if it carries a well-formed one.
fn retry_pushback(status: &Status) -> Option<std::time::Duration> {
    let ms = status.metadata().get(RETRY_PUSHBACK)?.to_str().ok()?;
    ms.trim()
        .parse::<u64>()
        .ok()
        .map(std::time::Duration::from_millis)
}

/// The status the hub answers a refusal with.
fn refusal_status(r: crate::hub::Refusal) -> Status {
    use crate::hub::Refusal;
    match r {
        Refusal::Invalid(r) => Status::invalid_argument(r),
        Refusal::Forbidden(r) => Status::permission_denied(r),
        Refusal::Conflict(r) => Status::already_exists(r),
        Refusal::Unknown(r) => Status::not_found(r),
        Refusal::Busy {
            reason,
            retry_after,
            ..
        } => {
            let mut metadata = tonic::metadata::MetadataMap::new();
            if let Ok(ms) = retry_after.as_millis().to_string().parse() {
                metadata.insert(RETRY_PUSHBACK, ms);
            }
            Status::with_metadata(Code::ResourceExhausted, reason, metadata)
        }
    }
}

/// How the caller takes the hub's refusal `r`: exactly as over gRPC (the
/// status the hub would answer, classified by the `.proto`'s table), for a
/// driver that hands calls to hosts directly (the message-level model).
pub fn refusal_outcome<A>(r: crate::hub::Refusal) -> Transmission<A> {
    error_outcome(&refusal_status(r))
}

/// How the caller takes a `PERMISSION_DENIED` for `reason` (an identity
/// refused), as over gRPC.
pub fn denied_outcome<A>(reason: String) -> Transmission<A> {
    error_outcome(&Status::permission_denied(reason))
}

/// How the caller takes a call that got no answer before its deadline, as
/// over gRPC (`DEADLINE_EXCEEDED`: the peer is taken for down).
pub fn deadline_outcome<A>() -> Transmission<A> {
    error_outcome(&Status::deadline_exceeded("deadline exceeded"))
}

/// How the caller takes a connection refused or reset, as over gRPC
/// (`UNAVAILABLE`: the peer is taken for down).
pub fn unreachable_outcome<A>() -> Transmission<A> {
    error_outcome(&Status::unavailable("connection refused or reset"))
}

/// How the caller takes an `INVALID_ARGUMENT` for `reason`, as over gRPC.
pub fn invalid_outcome<A>(reason: String) -> Transmission<A> {
    error_outcome(&Status::invalid_argument(reason))
}

/// A status code as the `.proto` and gRPC documentation spell it.
fn code_name(code: Code) -> String {
    let debug = format!("{code:?}");
    let mut out = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The envelope of a request, checked as the `.proto` requires: present and
/// well-formed, else `INVALID_ARGUMENT` with the reason.
fn decode(envelope: Option<crate::wire::Envelope>) -> Result<crate::model::Envelope, Status> {
    let envelope = envelope.ok_or_else(|| Status::invalid_argument("envelope is missing"))?;
    crate::model::Envelope::try_from(envelope).map_err(|e| Status::invalid_argument(e.to_string()))
}

/// The envelope of a publish, checked before the hub's state machine sees it:
/// present, within [`MAX_ENVELOPE_BYTES`], from a known ministry (else
/// `PERMISSION_DENIED`), well-formed (else `INVALID_ARGUMENT`).
fn decode_publish(
    envelope: Option<crate::wire::Envelope>,
) -> Result<crate::model::Envelope, (String, String, Status)> {
    use prost::Message as _;
    let Some(envelope) = envelope else {
        let status = Status::invalid_argument("envelope is missing");
        return Err((String::new(), String::new(), status));
    };
    let (id, from) = (envelope.message_id.clone(), envelope.originator.clone());
    let refuse = |status: Status| Err((id.clone(), from.clone(), status));
    let size = envelope.encoded_len();
    if size > MAX_ENVELOPE_BYTES {
        return refuse(Status::invalid_argument(format!(
            "the envelope is {size} bytes encoded, over the limit of {MAX_ENVELOPE_BYTES}"
        )));
    }
    if from == crate::model::Host::HUB_NAME {
        return refuse(Status::permission_denied(
            "GCIF is the hub: it originates no message",
        ));
    }
    if let Err(e) = from.parse::<crate::model::Ministry>() {
        return refuse(Status::permission_denied(format!(
            "originator: {e}; only a participant may publish"
        )));
    }
    crate::model::Envelope::try_from(envelope)
        .or_else(|e| refuse(Status::invalid_argument(e.to_string())))
}

/// A transport failure in a few words, for the event log; a TLS failure
/// (a certificate refused either way) says so, with rustls's reason.
fn failure(status: &Status) -> String {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    while let Some(e) = cause {
        let text = e.to_string();
        let lower = text.to_ascii_lowercase();
        if lower.contains("certificate") || lower.contains("tls") || lower.contains("alert") {
            return format!("TLS: {text}");
        }
        cause = e.source();
    }
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
        let url = url.trim();
        let bad = |why: &str| {
            format!("`{url}` is not a usable address: {why} (expected e.g. http://127.0.0.1:50051)")
        };
        let uri: tonic::codegen::http::Uri = url.parse().map_err(|_| bad("not a URL"))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            Some(_) => return Err(bad("the scheme must be http or https")),
            None => return Err(bad("no http:// or https:// scheme")),
        }
        let Some(authority) = uri.authority() else {
            return Err(bad("no host"));
        };
        if authority.host().is_empty() {
            return Err(bad("no host"));
        }
        if authority.port_u16().is_none() {
            return Err(bad("no port"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(bad("a gRPC address has no path or query"));
        }
        Endpoint::from_shared(url.to_string())
            .map(Address)
            .map_err(|e| bad(&e.to_string()))
    }
}

impl Address {
    /// The `host:port` part, to look up or to parse as a socket address.
    pub fn authority(&self) -> String {
        self.0
            .uri()
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uri = self.0.uri().to_string();
        f.write_str(uri.strip_suffix('/').unwrap_or(&uri))
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
    /// The peer at `address`, over TCP; with `tls`, over mutual TLS
    /// (whatever the address's scheme), its certificate checked against
    /// the address's host.
    pub fn at(address: &Address, rpc: RpcConfig, tls: Option<&Tls>) -> Peer {
        let mut endpoint = address.0.clone();
        if let Some(tls) = tls {
            let authority = address.authority();
            let host = address.0.uri().host().unwrap_or("localhost").to_string();
            endpoint = Endpoint::from_shared(format!("https://{authority}"))
                .and_then(|e| e.tls_config(tls.client(&host)))
                .unwrap_or(endpoint);
        }
        let endpoint = endpoint.timeout(rpc.timeout).connect_timeout(rpc.timeout);
        Peer {
            dial: Arc::new(move || endpoint.connect_lazy()),
        }
    }

    /// The peer reached by `connect`, which opens a byte stream to it (a
    /// simulated link, say); refusing to connect is an `Err`.
    /// With `tls`, the stream carries mutual TLS and the peer's certificate
    /// must name `localhost`.
    pub fn over<F, Fut, S>(connect: F, rpc: RpcConfig, tls: Option<&Tls>) -> Peer
    where
        F: Fn() -> Fut + Send + Sync + Clone + 'static,
        Fut: Future<Output = io::Result<S>> + Send + 'static,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let endpoint = match tls {
            None => Endpoint::from_static("http://gcif.sim"),
            Some(tls) => Endpoint::from_static("https://localhost")
                .tls_config(tls.client("localhost"))
                .unwrap_or_else(|_| Endpoint::from_static("https://localhost")),
        };
        let endpoint = endpoint.timeout(rpc.timeout).connect_timeout(rpc.timeout);
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

type Response = tonic::codegen::http::Response<tonic::body::Body>;

/// A server as every one of ours is built.
type Layers = tower::layer::util::Stack<
    tower::util::MapResponseLayer<fn(Response) -> Response>,
    tower::layer::util::Identity,
>;
type Server = tonic::transport::Server<Layers>;

/// tonic refuses a request over the decoding limit with OUT_OF_RANGE; gRPC
/// (and our .proto) says RESOURCE_EXHAUSTED. No handler of ours answers
/// OUT_OF_RANGE, so each one is that refusal.
fn oversize_is_resource_exhausted(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if headers.get("grpc-status").is_some_and(|v| v == "11") {
        headers.insert(
            "grpc-status",
            tonic::codegen::http::HeaderValue::from_static("8"),
        );
    }
    response
}

/// A server with the limits every one of ours has (see `config`), and
/// mutual TLS with `tls`.
fn server(tls: Option<&Tls>) -> Result<Server, ServeError> {
    let builder = tonic::transport::Server::builder()
        .concurrency_limit_per_connection(crate::config::MAX_CALLS_PER_CONNECTION)
        .max_concurrent_streams(crate::config::MAX_STREAMS_PER_CONNECTION)
        .layer(tower::util::MapResponseLayer::new(
            oversize_is_resource_exhausted as fn(Response) -> Response,
        ));
    match tls {
        None => Ok(builder),
        Some(tls) => builder
            .tls_config(tls.server())
            .map_err(|e| ServeError(format!("TLS ({}): {e}", tls.cert_path.display()))),
    }
}

/// Serves `router` (whose gRPC service is `name`) on the connections
/// `incoming` yields until `shutdown`, with the standard health service
/// (`name` and the whole server SERVING, NOT_SERVING once shutdown begins) and
/// server reflection beside it.
async fn serve<I, S>(
    router: tonic::transport::server::Router<Layers>,
    name: &'static str,
    incoming: I,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError>
where
    I: Stream<Item = io::Result<S>> + Send + 'static,
    S: AsyncRead + AsyncWrite + Identified + Unpin + Send + 'static,
{
    use tonic_health::ServingStatus;
    let (reporter, health) = tonic_health::server::health_reporter();
    for service in ["", name] {
        reporter
            .set_service_status(service, ServingStatus::Serving)
            .await;
    }
    // Reflection in both versions: grpc.reflection.v1, and v1alpha, which
    // older tools (grpcurl before 1.9, many IDE plugins) still ask for.
    // Only what this server serves is listed (the descriptors hold both
    // gcif.v1 services; a hub does not serve `Ministry`).
    let reflection = || {
        [
            name,
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
        .into_iter()
        .fold(
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(crate::wire::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
            |b, service| b.with_service_name(service),
        )
    };
    let reflection_v1 = reflection()
        .build_v1()
        .map_err(|e| ServeError(format!("reflection: {e}")))?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .map_err(|e| ServeError(format!("reflection: {e}")))?;
    let shutdown = async move {
        shutdown.await;
        for service in ["", name] {
            reporter
                .set_service_status(service, ServingStatus::NotServing)
                .await;
        }
    };
    router
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(incoming.map(|c| c.map(Conn)), shutdown)
        .await
        .map_err(|e| ServeError(e.to_string()))
}

/// What a registration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    /// The same address again: the lease is renewed.
    Renewed,
    /// A new address (a join, or a move); `replaced` is the address it took
    /// over from while that one's lease still ran.
    New { replaced: Option<String> },
}

/// Where each ministry's node is reached: fixed at start (`--ministry`, the
/// simulation) or learnt from `Hub.Register`. Shared by the hub's service,
/// which registers, and its delivery loop, which dials.
#[derive(Clone, Default)]
pub struct Directory {
    inner: Arc<std::sync::Mutex<BTreeMap<Ministry, Entry>>>,
}

struct Entry {
    address: String,
    /// Bumped when the address changes, so the old connection is not reused.
    version: u64,
    peer: Peer,
    /// The last registration (or renewal); `None` for a fixed address.
    seen: Option<Instant>,
}

impl Directory {
    /// How long a registration counts the node as connected.
    pub const LEASE: std::time::Duration = std::time::Duration::from_secs(30);

    /// A directory of fixed peers.
    pub fn fixed(peers: impl IntoIterator<Item = (Ministry, String, Peer)>) -> Directory {
        let map = peers
            .into_iter()
            .map(|(m, address, peer)| {
                (
                    m,
                    Entry {
                        address,
                        version: 0,
                        peer,
                        seen: None,
                    },
                )
            })
            .collect();
        Directory {
            inner: Arc::new(std::sync::Mutex::new(map)),
        }
    }

    /// `ministry` registered `address`; `dial` makes its peer if the address
    /// is new.
    pub fn register(
        &self,
        ministry: Ministry,
        address: &Address,
        dial: impl FnOnce() -> Peer,
    ) -> Registered {
        let text = address.to_string();
        let mut map = crate::host::lock(&self.inner);
        let now = Instant::now();
        if let Some(e) = map.get_mut(&ministry)
            && e.address == text
        {
            e.seen = Some(now);
            return Registered::Renewed;
        }
        let (version, replaced) = match map.get(&ministry) {
            Some(e) => {
                let live = e
                    .seen
                    .is_none_or(|seen| now.saturating_duration_since(seen) < Self::LEASE);
                (e.version + 1, live.then(|| e.address.clone()))
            }
            None => (0, None),
        };
        map.insert(
            ministry,
            Entry {
                address: text,
                version,
                peer: dial(),
                seen: Some(now),
            },
        );
        Registered::New { replaced }
    }

    fn get(&self, ministry: Ministry) -> Option<(u64, Peer)> {
        crate::host::lock(&self.inner)
            .get(&ministry)
            .map(|e| (e.version, e.peer.clone()))
    }

    /// Each known ministry, its address, and whether it counts as connected
    /// (a fixed address always does; a registration while its lease runs).
    pub fn nodes(&self) -> Vec<(Ministry, String, bool)> {
        let now = Instant::now();
        crate::host::lock(&self.inner)
            .iter()
            .map(|(&m, e)| {
                let live = e
                    .seen
                    .is_none_or(|seen| now.saturating_duration_since(seen) < Self::LEASE);
                (m, e.address.clone(), live)
            })
            .collect()
    }
}

/// An accepted connection of any byte stream, as tonic's server takes it.
struct Conn<S>(S);

impl<S: Identified> tonic::transport::server::Connected for Conn<S> {
    type ConnectInfo = crate::model::Caller;

    fn connect_info(&self) -> crate::model::Caller {
        self.0.caller()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_sort_as_the_proto_says() {
        let cases = [
            (Status::invalid_argument("bad"), Class::Final),
            (Status::permission_denied("no"), Class::Final),
            (Status::out_of_range("too large"), Class::Final),
            (Status::unavailable("down"), Class::PeerDown),
            (Status::deadline_exceeded("slow"), Class::PeerDown),
            (Status::unimplemented("no such method"), Class::PeerDown),
            (Status::internal("oops"), Class::ThisCall),
            (Status::resource_exhausted("busy"), Class::ThisCall),
            (Status::unknown("the peer said so"), Class::ThisCall),
        ];
        for (status, class) in cases {
            assert_eq!(classify(&status), class, "{status:?}");
        }
        // tonic's own connection failures carry their cause, whatever the code.
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let transport = Status::from_error(Box::new(reset));
        assert_eq!(transport.code(), Code::Unknown);
        assert_eq!(classify(&transport), Class::PeerDown);
    }
}
