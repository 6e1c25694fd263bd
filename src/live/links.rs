//! Live faults, for real: every connection of a live run between two hosts
//! it runs goes through [`Links`], which can refuse new connections, cut the
//! open ones, and slow them down.
//!
//! - **partition** of a hub and a node: the node's connections (its publishes
//!   to the hub, the hub's deliveries to it) are cut at once, and new ones
//!   are refused, until it heals. Enforced on the side the run controls: the
//!   node's when it runs it, else the hub's dialling of the node.
//! - **crash** of a host: its connections are cut, its listener closed, its
//!   tasks stopped; on restart it listens on the same port again.
//! - **degrade**, and every link's configured latency: each burst of bytes a
//!   host the run controls writes on the link waits for the link's latency
//!   first (divided by the run's speed). Deliveries and their acks both
//!   wait; a publish waits one way (the hub's answer goes back at once, as
//!   the hub cannot tell which node a connection it accepted comes from).
//!
//! What a run cannot enforce (an external node's own connections) is said by
//! [`Links::reach`], and the run logs it as a fault not carried out.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tokio_stream::Stream;

use crate::host::lock;
use crate::model::Host;
use crate::simnet::{Topology, pair};

/// One open connection's cut switch and the task to wake when it is cut.
#[derive(Default)]
struct Switch {
    cut: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Switch {
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        if let Some(w) = lock(&self.waker).take() {
            w.wake();
        }
    }
}

#[derive(Default)]
struct State {
    /// Partitions in force, counted (they may overlap), by host pair.
    partitions: BTreeMap<(Host, Host), u32>,
    /// Degraded latencies in force, by host pair (the latest wins).
    degraded: BTreeMap<(Host, Host), Vec<Duration>>,
    /// Open connections by the pair they join (dialled ones).
    by_pair: BTreeMap<(Host, Host), Vec<Weak<Switch>>>,
    /// Open connections by each host at either end (dialled or accepted).
    by_host: BTreeMap<Host, Vec<Weak<Switch>>>,
}

/// The connections of a live run, and the faults in force on them.
#[derive(Clone)]
pub struct Links {
    state: Arc<Mutex<State>>,
    topology: Arc<Topology>,
    /// The run's speed, in thousandths (steered from the console).
    speed_milli: Arc<std::sync::atomic::AtomicU64>,
}

/// Whether the run can carry out a fault between two hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Full,
    /// In part; the text says what is left out.
    Part(String),
    /// Not at all; the text says why.
    None(String),
}

impl Links {
    /// Links shaped by `topology`, whose latencies pass `speed` times faster.
    pub fn new(topology: Topology, speed: f64) -> Links {
        Links {
            state: Arc::default(),
            topology: Arc::new(topology),
            speed_milli: Arc::new(std::sync::atomic::AtomicU64::new((speed * 1000.0) as u64)),
        }
    }

    /// How much of a partition or degrade between `a` and `b` the run can
    /// enforce, when `local(h)` says whether it runs host `h`.
    pub fn reach(a: Host, b: Host, local: impl Fn(Host) -> bool) -> Reach {
        let (hub, node) = match (a, b) {
            (Host::Hub, n) | (n, Host::Hub) => (Host::Hub, n),
            _ => return Reach::Full, // nodes never talk to each other
        };
        match (local(hub), local(node)) {
            (_, true) => Reach::Full,
            (true, false) => Reach::Part(format!(
                "{} is external: the hub's deliveries to it and the run's publishes on its \
                 behalf are cut, but what its own node sends the hub cannot be",
                node.name()
            )),
            (false, false) => Reach::None(format!(
                "neither the hub nor {} runs in this process",
                node.name()
            )),
        }
    }

    /// The run now goes `speed` times faster than real time.
    pub fn set_speed(&self, speed: f64) {
        self.speed_milli
            .store((speed * 1000.0) as u64, Ordering::Relaxed);
    }

    /// Starts a partition between `a` and `b`: their connections are cut.
    pub fn partition(&self, a: Host, b: Host) {
        let key = pair(a, b);
        let open = {
            let mut s = lock(&self.state);
            *s.partitions.entry(key).or_insert(0) += 1;
            let mut open = s.by_pair.remove(&key).unwrap_or_default();
            // A node's accepted connections all come from the hub.
            for end in [a, b] {
                if matches!(end, Host::Node(_)) && (a == Host::Hub || b == Host::Hub) {
                    open.extend(s.by_host.get(&end).into_iter().flatten().cloned());
                }
            }
            open
        };
        cut_all(open);
    }

    /// Ends one partition between `a` and `b`.
    pub fn heal_partition(&self, a: Host, b: Host) {
        let mut s = lock(&self.state);
        if let Some(n) = s.partitions.get_mut(&pair(a, b)) {
            *n = n.saturating_sub(1);
        }
    }

    /// The link between `a` and `b` takes `latency` each way until healed.
    pub fn degrade(&self, a: Host, b: Host, latency: Duration) {
        lock(&self.state)
            .degraded
            .entry(pair(a, b))
            .or_default()
            .push(latency);
    }

    /// Ends one degradation between `a` and `b`.
    pub fn heal_degrade(&self, a: Host, b: Host, latency: Duration) {
        let mut s = lock(&self.state);
        if let Some(v) = s.degraded.get_mut(&pair(a, b))
            && let Some(i) = v.iter().position(|l| *l == latency)
        {
            v.remove(i);
        }
    }

    /// Cuts every connection `host` has (it crashed).
    pub fn cut_host(&self, host: Host) {
        let open = lock(&self.state).by_host.remove(&host).unwrap_or_default();
        cut_all(open);
    }

    fn partitioned(&self, a: Host, b: Host) -> bool {
        lock(&self.state)
            .partitions
            .get(&pair(a, b))
            .is_some_and(|n| *n > 0)
    }

    /// The link's latency now, in real time.
    fn latency(&self, a: Host, b: Host) -> Duration {
        let s = lock(&self.state);
        let run_time = match s.degraded.get(&pair(a, b)).and_then(|v| v.last()) {
            Some(l) => *l,
            None => self.topology.link(a, b).latency,
        };
        let speed = self.speed_milli.load(Ordering::Relaxed) as f64 / 1000.0;
        if speed == 1.0 {
            run_time
        } else {
            run_time.div_f64(speed.max(0.001))
        }
    }

    fn register(&self, ends: &[Host], dialled: Option<(Host, Host)>) -> Arc<Switch> {
        let switch = Arc::new(Switch::default());
        let mut s = lock(&self.state);
        for end in ends {
            let list = s.by_host.entry(*end).or_default();
            list.retain(|w| w.strong_count() > 0);
            list.push(Arc::downgrade(&switch));
        }
        if let Some((a, b)) = dialled {
            let list = s.by_pair.entry(pair(a, b)).or_default();
            list.retain(|w| w.strong_count() > 0);
            list.push(Arc::downgrade(&switch));
        }
        switch
    }

    /// `from` dials `to` at `addr`: refused while they are partitioned.
    pub async fn dial(&self, from: Host, to: Host, addr: SocketAddr) -> io::Result<LinkStream> {
        if self.partitioned(from, to) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("{} and {} are partitioned", from.name(), to.name()),
            ));
        }
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let switch = self.register(&[from, to], Some((from, to)));
        Ok(LinkStream::new(tcp, switch, self.clone(), (from, to)))
    }

    /// The connections `host` accepts on `listener`; while `host` (a node)
    /// is partitioned from the hub, they are dropped at once.
    pub fn incoming(
        &self,
        host: Host,
        listener: TcpListener,
    ) -> impl Stream<Item = io::Result<LinkStream>> + use<> {
        let links = self.clone();
        tokio_stream::wrappers::TcpListenerStream::new(listener).filter_map(move |conn| {
            let tcp = match conn {
                Ok(tcp) => tcp,
                Err(e) => return Some(Err(e)),
            };
            if matches!(host, Host::Node(_)) && links.partitioned(host, Host::Hub) {
                return None;
            }
            if let Err(e) = tcp.set_nodelay(true) {
                return Some(Err(e));
            }
            let switch = links.register(&[host], None);
            Some(Ok(LinkStream::new(
                tcp,
                switch,
                links.clone(),
                (host, Host::Hub),
            )))
        })
    }
}

use tokio_stream::StreamExt as _;

fn cut_all(open: Vec<Weak<Switch>>) {
    for w in open {
        if let Some(s) = w.upgrade() {
            s.cut();
        }
    }
}

/// A TCP connection of a live run: cut by a fault, slowed by its link.
pub struct LinkStream {
    tcp: TcpStream,
    switch: Arc<Switch>,
    links: Links,
    ends: (Host, Host),
    /// The wait before the current burst of writes goes through.
    write_wait: Option<Pin<Box<Sleep>>>,
    /// Until when a burst is under way (no new wait before then).
    write_burst: Option<Instant>,
}

impl LinkStream {
    fn new(tcp: TcpStream, switch: Arc<Switch>, links: Links, ends: (Host, Host)) -> LinkStream {
        LinkStream {
            tcp,
            switch,
            links,
            ends,
            write_wait: None,
            write_burst: None,
        }
    }

    fn check_cut(&self, cx: &Context<'_>) -> io::Result<()> {
        *lock(&self.switch.waker) = Some(cx.waker().clone());
        if self.switch.cut.load(Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection cut by a fault",
            ));
        }
        Ok(())
    }
}

/// Waits out the link's latency before a new burst; ready once it has.
fn poll_latency(
    wait: &mut Option<Pin<Box<Sleep>>>,
    burst: &mut Option<Instant>,
    latency: Duration,
    cx: &mut Context<'_>,
) -> Poll<()> {
    if latency.is_zero() {
        return Poll::Ready(());
    }
    let now = Instant::now();
    if burst.is_some_and(|until| now < until) {
        return Poll::Ready(());
    }
    let sleep = wait.get_or_insert_with(|| Box::pin(tokio::time::sleep(latency)));
    match sleep.as_mut().poll(cx) {
        Poll::Ready(()) => {
            *wait = None;
            *burst = Some(Instant::now() + latency);
            Poll::Ready(())
        }
        Poll::Pending => Poll::Pending,
    }
}

use std::future::Future as _;

impl AsyncRead for LinkStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check_cut(cx)?;
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for LinkStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check_cut(cx)?;
        let this = &mut *self;
        let latency = this.links.latency(this.ends.0, this.ends.1);
        if poll_latency(&mut this.write_wait, &mut this.write_burst, latency, cx).is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut this.tcp).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check_cut(cx)?;
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// A link carries no identity of its own: without `--tls`, a live run's
/// calls are taken at their word, as plain TCP's are.
impl crate::transport::Identified for LinkStream {
    fn caller(&self) -> crate::model::Caller {
        crate::model::Caller::Unverified
    }
}
