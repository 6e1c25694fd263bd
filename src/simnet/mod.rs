//! The simulated network: in-memory byte streams between hosts, with per-link
//! latency and jitter, and the faults a scenario schedules.
//!
//! Each connection is a pair of one-way pipes. A write is stamped with its
//! arrival time (now + the link's latency ± jitter, never before the previous
//! write on that pipe, so bytes stay in order) and becomes readable at that
//! virtual instant. Everything runs on tokio's paused clock, so waiting costs
//! nothing: the clock jumps to the next arrival.
//!
//! Faults, as simplifications of real networks:
//! - **partition**: bytes written while two hosts are partitioned arrive after
//!   the partition heals (plus latency), as TCP retransmission would deliver
//!   them; new connections between them are refused. Bytes already in flight
//!   when it starts still arrive. Nothing tells either side: a stalled peer is
//!   noticed by the RPC deadline.
//! - **degrade**: the link's latency is replaced for a while.
//! - **crash**: the host's connections reset at once on its side, and on the
//!   peer's side when the reset would reach it (partition-gated like data); new
//!   connections to it are refused until it restarts.
//!
//! The jitter comes from the run's seeded RNG, so a run is reproducible.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use crate::model::Host;

/// Latency and jitter of one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    /// One-way latency.
    pub latency: Duration,
    /// Each transmission's latency varies uniformly within ± this.
    pub jitter: Duration,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: Duration::from_millis(50),
            jitter: Duration::ZERO,
        }
    }
}

/// The network's shape: a default link and per-pair overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    /// Every link not listed in `links`.
    pub default: LinkConfig,
    /// Overrides, keyed by the host pair in sorted order.
    pub links: BTreeMap<(Host, Host), LinkConfig>,
}

impl Topology {
    /// The link between `a` and `b` (either order).
    pub fn link(&self, a: Host, b: Host) -> LinkConfig {
        *self.links.get(&pair(a, b)).unwrap_or(&self.default)
    }
}

/// A host pair in sorted order, so links are undirected.
pub fn pair(a: Host, b: Host) -> (Host, Host) {
    if a <= b { (a, b) } else { (b, a) }
}

/// A time window in simulated time (offsets from the start of the run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: Duration,
    pub until: Duration,
}

impl Window {
    pub fn contains(&self, t: Duration) -> bool {
        self.from <= t && t < self.until
    }
}

/// Link faults known in advance (crashes are applied by the driver, since they
/// stop processes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkFaults {
    /// Host pairs (sorted) cut off from each other during a window.
    pub partitions: Vec<((Host, Host), Window)>,
    /// Host pairs (sorted) whose latency is replaced during a window.
    pub degradations: Vec<((Host, Host), Window, Duration)>,
}

struct HostSlot {
    up: bool,
    listener: Option<mpsc::UnboundedSender<SimStream>>,
    conns: Vec<Weak<Conn>>,
}

/// The rules of the links, in simulated time (offsets from the start of the
/// run): when a transmission arrives, and whether two hosts are partitioned.
/// Both network models (this byte-level one and the message-level
/// `sim::message`) take their latencies, jitter, partitions and
/// degradations from here, so the rules exist once.
pub struct Links {
    topology: Topology,
    faults: LinkFaults,
    rng: ChaCha8Rng,
}

impl Links {
    /// The links of `topology` under `faults`; `rng` supplies jitter.
    pub fn new(topology: Topology, faults: LinkFaults, rng: ChaCha8Rng) -> Links {
        Links {
            topology,
            faults,
            rng,
        }
    }

    /// When a transmission sent from `from` to `to` at `sent` arrives: after
    /// every partition window covering it has healed (as TCP retransmission
    /// would deliver it), plus the link's latency (a degradation's, if one
    /// covers the moment it leaves) ± jitter drawn from the run's RNG.
    pub fn arrival(&mut self, from: Host, to: Host, sent: Duration) -> Duration {
        let key = pair(from, to);
        let mut sent = sent;
        // Partitions may chain: keep moving past every window covering `sent`.
        while let Some((_, w)) = self
            .faults
            .partitions
            .iter()
            .find(|(p, w)| *p == key && w.contains(sent))
        {
            sent = w.until;
        }
        let link = self.topology.link(from, to);
        let latency = self
            .faults
            .degradations
            .iter()
            .find(|(p, w, _)| *p == key && w.contains(sent))
            .map_or(link.latency, |&(_, _, l)| l);
        let jitter_us = link.jitter.as_micros() as i64;
        let delay_us = if jitter_us > 0 {
            let j = self.rng.random_range(-jitter_us..=jitter_us);
            (latency.as_micros() as i64 + j).max(0) as u64
        } else {
            latency.as_micros() as u64
        };
        sent + Duration::from_micros(delay_us)
    }

    /// Whether `a` and `b` are partitioned at `t`.
    pub fn partitioned(&self, a: Host, b: Host, t: Duration) -> bool {
        let key = pair(a, b);
        self.faults
            .partitions
            .iter()
            .any(|(p, w)| *p == key && w.contains(t))
    }
}

struct Inner {
    origin: Instant,
    links: Links,
    hosts: BTreeMap<Host, HostSlot>,
}

/// Handle to the simulated network; cheap to clone.
#[derive(Clone)]
pub struct SimNet {
    inner: Arc<Mutex<Inner>>,
}

impl SimNet {
    /// A network whose simulated time starts at `origin`. `rng` supplies jitter.
    pub fn new(origin: Instant, topology: Topology, faults: LinkFaults, rng: ChaCha8Rng) -> SimNet {
        SimNet {
            inner: Arc::new(Mutex::new(Inner {
                origin,
                links: Links::new(topology, faults, rng),
                hosts: BTreeMap::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock means a panic elsewhere already failed the run.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Brings `host` up and returns the stream of connections made to it.
    pub fn listen(&self, host: Host) -> mpsc::UnboundedReceiver<SimStream> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut inner = self.lock();
        let slot = inner.hosts.entry(host).or_insert_with(|| HostSlot {
            up: true,
            listener: None,
            conns: Vec::new(),
        });
        slot.up = true;
        slot.listener = Some(tx);
        rx
    }

    /// Takes `host` down: refuses new connections and resets its existing ones.
    pub fn crash(&self, host: Host) {
        let conns: Vec<Arc<Conn>> = {
            let mut inner = self.lock();
            let Some(slot) = inner.hosts.get_mut(&host) else {
                return;
            };
            slot.up = false;
            slot.listener = None;
            slot.conns.drain(..).filter_map(|w| w.upgrade()).collect()
        };
        let now = Instant::now();
        for conn in conns {
            let side = if conn.hosts[0] == host { 0 } else { 1 };
            let peer = conn.hosts[1 - side];
            let reaches_peer = self.arrival(host, peer, now);
            conn.reset(side, now);
            conn.reset(1 - side, reaches_peer);
        }
    }

    /// When bytes written from `from` to `to` at `now` arrive.
    pub fn arrival(&self, from: Host, to: Host, now: Instant) -> Instant {
        let mut inner = self.lock();
        let t = now.saturating_duration_since(inner.origin);
        inner.origin + inner.links.arrival(from, to, t)
    }

    /// Whether `a` and `b` are partitioned at `now`.
    pub fn partitioned(&self, a: Host, b: Host, now: Instant) -> bool {
        let inner = self.lock();
        let t = now.saturating_duration_since(inner.origin);
        inner.links.partitioned(a, b, t)
    }

    /// Opens a connection from `from` to `to`, as a TCP handshake would: it
    /// takes a round trip, and fails if `to` is down or the two are partitioned.
    pub async fn connect(&self, from: Host, to: Host) -> io::Result<SimStream> {
        let now = Instant::now();
        let there = self.arrival(from, to, now);
        let back = self.arrival(to, from, there);
        tokio::time::sleep_until(back).await;
        let refused = |why: &str| {
            Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("{from} cannot reach {to}: {why}"),
            ))
        };
        if self.partitioned(from, to, now) {
            return refused("partitioned");
        }
        let mut inner = self.lock();
        if !inner.hosts.get(&from).is_some_and(|s| s.up) {
            return refused("the caller is down");
        }
        let Some(slot) = inner.hosts.get_mut(&to).filter(|s| s.up) else {
            return refused("host down");
        };
        let Some(listener) = slot.listener.clone() else {
            return refused("nothing listening");
        };
        let conn = Arc::new(Conn {
            net: self.clone(),
            hosts: [from, to],
            pipes: [Mutex::new(Pipe::default()), Mutex::new(Pipe::default())],
        });
        slot.conns.retain(|w| w.strong_count() > 0);
        slot.conns.push(Arc::downgrade(&conn));
        if let Some(s) = inner.hosts.get_mut(&from) {
            s.conns.retain(|w| w.strong_count() > 0);
            s.conns.push(Arc::downgrade(&conn));
        }
        drop(inner);
        let server_end = SimStream::new(conn.clone(), 1);
        if listener.send(server_end).is_err() {
            return refused("nothing listening");
        }
        Ok(SimStream::new(conn, 0))
    }
}

enum Segment {
    Data {
        at: Instant,
        bytes: Vec<u8>,
        read: usize,
    },
    Eof {
        at: Instant,
    },
}

impl Segment {
    fn at(&self) -> Instant {
        match self {
            Segment::Data { at, .. } | Segment::Eof { at } => *at,
        }
    }
}

/// Bytes travelling towards one end of a connection.
#[derive(Default)]
struct Pipe {
    segments: VecDeque<Segment>,
    /// The reader waiting for bytes.
    waker: Option<Waker>,
    /// Arrival time of the last segment, to keep order under jitter.
    last_at: Option<Instant>,
    /// From this instant, reads fail with a connection reset.
    reset_at: Option<Instant>,
}

struct Conn {
    net: SimNet,
    /// `hosts[0]` dialled `hosts[1]`.
    hosts: [Host; 2],
    /// `pipes[i]` carries bytes towards end `i`.
    pipes: [Mutex<Pipe>; 2],
}

impl Conn {
    fn pipe(&self, side: usize) -> MutexGuard<'_, Pipe> {
        self.pipes[side].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn reset(&self, side: usize, at: Instant) {
        let mut pipe = self.pipe(side);
        pipe.reset_at = Some(pipe.reset_at.map_or(at, |r| r.min(at)));
        if let Some(w) = pipe.waker.take() {
            w.wake();
        }
    }

    /// Queues a segment from end `side` to the other end.
    fn send(&self, side: usize, make: impl FnOnce(Instant) -> Segment) {
        let to = 1 - side;
        let mut at = self
            .net
            .arrival(self.hosts[side], self.hosts[to], Instant::now());
        let mut pipe = self.pipe(to);
        if let Some(last) = pipe.last_at {
            at = at.max(last);
        }
        pipe.last_at = Some(at);
        pipe.segments.push_back(make(at));
        if let Some(w) = pipe.waker.take() {
            w.wake();
        }
    }
}

/// One end of a simulated connection: an `AsyncRead + AsyncWrite` byte stream.
pub struct SimStream {
    conn: Arc<Conn>,
    side: usize,
    sleep: Pin<Box<Sleep>>,
    shut: bool,
}

impl std::fmt::Debug for SimStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimStream")
            .field("local", &self.conn.hosts[self.side])
            .field("peer", &self.peer())
            .finish()
    }
}

impl SimStream {
    fn new(conn: Arc<Conn>, side: usize) -> SimStream {
        SimStream {
            conn,
            side,
            sleep: Box::pin(tokio::time::sleep_until(Instant::now())),
            shut: false,
        }
    }

    /// The host at the other end.
    pub fn peer(&self) -> Host {
        self.conn.hosts[1 - self.side]
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let now = Instant::now();
            let wake_at = {
                let mut pipe = this.conn.pipe(this.side);
                if pipe.reset_at.is_some_and(|r| r <= now) {
                    return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
                }
                match pipe.segments.front_mut() {
                    Some(Segment::Data { at, bytes, read }) if *at <= now => {
                        let n = (bytes.len() - *read).min(buf.remaining());
                        buf.put_slice(&bytes[*read..*read + n]);
                        *read += n;
                        if *read == bytes.len() {
                            pipe.segments.pop_front();
                        }
                        return Poll::Ready(Ok(()));
                    }
                    Some(Segment::Eof { at }) if *at <= now => return Poll::Ready(Ok(())),
                    front => {
                        let next = front.map(|s| s.at());
                        let wake_at = match (next, pipe.reset_at) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                        pipe.waker = Some(cx.waker().clone());
                        wake_at
                    }
                }
            };
            let Some(at) = wake_at else {
                return Poll::Pending;
            };
            this.sleep.as_mut().reset(at);
            if this.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.shut {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let now = Instant::now();
        if this.conn.pipe(this.side).reset_at.is_some_and(|r| r <= now) {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let bytes = data.to_vec();
        this.conn
            .send(this.side, |at| Segment::Data { at, bytes, read: 0 });
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.shut {
            this.shut = true;
            this.conn.send(this.side, |at| Segment::Eof { at });
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        if !self.shut {
            self.shut = true;
            self.conn.send(self.side, |at| Segment::Eof { at });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Ministry;
    use rand::SeedableRng;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const HN: Host = Host::Node(Ministry::HN_SEDS);

    fn net(faults: LinkFaults) -> SimNet {
        let topology = Topology {
            default: LinkConfig {
                latency: Duration::from_millis(100),
                jitter: Duration::ZERO,
            },
            links: BTreeMap::new(),
        };
        SimNet::new(
            Instant::now(),
            topology,
            faults,
            ChaCha8Rng::seed_from_u64(1),
        )
    }

    /// Sends "ping" from HN to the hub at `send_at` and returns when it arrived.
    async fn check(net: SimNet, send_at: Duration) -> io::Result<Duration> {
        let start = Instant::now();
        let mut incoming = net.listen(Host::Hub);
        net.listen(HN);
        tokio::time::sleep(send_at).await;
        let mut client = net.connect(HN, Host::Hub).await?;
        let mut server = incoming.recv().await.expect("a connection");
        let sent = Instant::now();
        client.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"ping");
        let _ = start;
        Ok(Instant::now() - sent)
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_take_the_link_latency() {
        let took = check(net(LinkFaults::default()), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(took, Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_partition_refuses_connections_and_stalls_bytes() {
        let w = Window {
            from: Duration::from_secs(10),
            until: Duration::from_secs(70),
        };
        let faults = LinkFaults {
            partitions: vec![(pair(HN, Host::Hub), w)],
            ..LinkFaults::default()
        };
        let n = net(faults.clone());
        let err = check(n, Duration::from_secs(20)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);

        // Connected before the partition, written during it: arrives after it.
        let n = net(faults);
        let mut incoming = n.listen(Host::Hub);
        n.listen(HN);
        let mut client = n.connect(HN, Host::Hub).await.unwrap();
        let mut server = incoming.recv().await.unwrap();
        let origin = n.lock().origin;
        tokio::time::sleep_until(origin + Duration::from_secs(30)).await;
        client.write_all(b"x").await.unwrap();
        let mut b = [0u8; 1];
        server.read_exact(&mut b).await.unwrap();
        assert_eq!(Instant::now() - origin, Duration::from_millis(70_100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_crash_resets_both_ends() {
        let n = net(LinkFaults::default());
        let mut incoming = n.listen(Host::Hub);
        n.listen(HN);
        let mut client = n.connect(HN, Host::Hub).await.unwrap();
        let mut server = incoming.recv().await.unwrap();
        let crashed_at = Instant::now();
        n.crash(Host::Hub);
        let mut b = [0u8; 1];
        let e = server.read(&mut b).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        let e = client.read(&mut b).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(Instant::now() - crashed_at, Duration::from_millis(100));
        let refused = n.connect(HN, Host::Hub).await.unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_one_end_is_eof_at_the_other() {
        let n = net(LinkFaults::default());
        let mut incoming = n.listen(Host::Hub);
        n.listen(HN);
        let client = n.connect(HN, Host::Hub).await.unwrap();
        let mut server = incoming.recv().await.unwrap();
        drop(client);
        let mut b = Vec::new();
        assert_eq!(server.read_to_end(&mut b).await.unwrap(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn degradation_replaces_the_latency_for_its_window() {
        let w = Window {
            from: Duration::ZERO,
            until: Duration::from_secs(60),
        };
        let faults = LinkFaults {
            degradations: vec![(pair(HN, Host::Hub), w, Duration::from_secs(2))],
            ..LinkFaults::default()
        };
        let took = check(net(faults), Duration::from_secs(1)).await.unwrap();
        assert_eq!(took, Duration::from_secs(2));
    }
}
