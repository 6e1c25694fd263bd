//! `cargo bench --bench live`: the live hub as a user runs it (`gcif-sim hub`,
//! a child process on a loopback port, its event log written to a file),
//! driven over gRPC by this process, which publishes and hosts the
//! recipients' `gcif.v1.Ministry` services (each acknowledges at once):
//!
//! - **throughput**: 1 publisher (HN-SEDS) whose caravan alerts go to the
//!   four other ministries, then 5 publishers (every ministry publishes, each
//!   message going to the four others), 64 publishes in flight per
//!   publisher, in memory and with the durable journal (`--data`): delivered
//!   (acknowledged) messages per second, and the hub's CPU in cores;
//! - **latency**: publish-to-delivery p50/p99/p99.9 at fixed offered rates
//!   of 1k, 10k and 50k messages/s (open loop: a publish is sent when due,
//!   whatever the hub answered);
//! - **baselines in the same run**: raw tonic unary and bidirectional
//!   streaming echoes (benches/echo.proto) between the same two process
//!   shapes (a child serving, this process calling), so each figure is also
//!   a ratio to what the gRPC stack alone does on this machine today;
//! - **memory**: the hub's resident memory with `GCIF_LIVE_PENDING`
//!   (default 1,000,000) messages pending for a recipient that is down
//!   (MX-SEGOB registered at an address where nothing listens), the other
//!   three acknowledging.
//!
//! `cargo bench --bench live -- FILTER` runs the rows whose name holds FILTER
//! (`baseline`, `throughput`, `durable`, `latency`, `memory`).
//! `GCIF_LIVE_SECONDS` (default 5) is how long each measurement publishes.
//! Loopback only; every process started is stopped. Figures go to
//! BENCHMARKS.md.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gcif_sim::wire::{
    self, hub_client::HubClient, ministry_server::Ministry, ministry_server::MinistryServer,
};
use tokio::net::TcpListener;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};

mod echo {
    tonic::include_proto!("bench.echo");
}

/// The allocator the `gcif-sim` binary uses, so the baselines are measured
/// as the hub runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ALL: [&str; 5] = ["US-DHS", "GT-MINGOB", "HN-SEDS", "SV-MJSP", "MX-SEGOB"];
/// Publishes in flight per publisher in the throughput rows.
const IN_FLIGHT: usize = 64;
/// The baselines' calls in flight, as in the measurements.
const UNARY_IN_FLIGHT: usize = 256;
const STREAM_IN_FLIGHT: usize = 1000;
/// How long to wait for the last deliveries once publishing stopped.
const DRAIN: Duration = Duration::from_secs(120);

fn seconds() -> Duration {
    Duration::from_secs_f64(
        std::env::var("GCIF_LIVE_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5.0),
    )
}

// ---------------------------------------------------------------------------
// The hub child process
// ---------------------------------------------------------------------------

/// `command`, whose process is killed if this one dies first (interrupted
/// with Ctrl-C, say), so that no run of the benchmark leaves a hub behind.
fn orphan_killed(mut command: Command) -> Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe, and the closure touches nothing
    // of the parent's state.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

/// `gcif-sim hub` on a free loopback port; killed and its files removed on drop.
struct HubProcess {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl HubProcess {
    fn start(name: &str, durable: bool, extra: &[String]) -> HubProcess {
        let dir = std::env::temp_dir().join(format!("gcif-live-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        let mut args = vec![
            "hub".to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--events".into(),
            dir.join("events.jsonl").display().to_string(),
        ];
        if durable {
            args.extend(["--data".into(), dir.join("data").display().to_string()]);
        }
        args.extend(extra.iter().cloned());
        let mut child = orphan_killed(Command::new(env!("CARGO_BIN_EXE_gcif-sim")))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gcif-sim hub starts");
        let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
        let marker = "serving gcif.v1.Hub on ";
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.split(marker).nth(1) {
                        break rest
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_string();
                    }
                }
                _ => {
                    let _ = child.kill();
                    panic!("gcif-sim hub exited before serving");
                }
            }
        };
        // Keep reading its standard error so that it never blocks on a pipe.
        std::thread::spawn(move || for _ in lines {});
        HubProcess { child, addr, dir }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// CPU seconds the hub has used so far (user + system).
    fn cpu(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name, which ends with the last ')'.
        let rest = stat.rsplit(')').next().unwrap_or_default();
        let f: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line.
        let ticks: f64 = [11, 12]
            .iter()
            .filter_map(|&i| f.get(i).and_then(|s| s.parse::<f64>().ok()))
            .sum();
        // SAFETY: sysconf has no preconditions.
        ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
    }

    /// The hub's resident memory now, in bytes.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------
// Recipients hosted here
// ---------------------------------------------------------------------------

/// What the recipients saw: deliveries, when the last came, and the
/// publish-to-delivery latencies when the publisher noted its send times.
#[derive(Default)]
struct Seen {
    delivered: AtomicU64,
    last_ns: AtomicU64,
    /// Per message sequence number, nanoseconds since `t0` when it was sent
    /// (0: not noted).
    sent_ns: Vec<AtomicU64>,
    latencies_us: Mutex<Vec<u32>>,
}

impl Seen {
    /// Message `id` was delivered now.
    fn saw(&self, id: &str, t0: Instant) {
        let now = t0.elapsed().as_nanos() as u64;
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.last_ns.fetch_max(now, Ordering::Relaxed);
        let seq = id.rsplit('-').next().and_then(|s| s.parse::<usize>().ok());
        if let Some(sent) = seq.and_then(|s| self.sent_ns.get(s)) {
            let at = sent.load(Ordering::Relaxed);
            if at > 0 {
                let us = (now.saturating_sub(at) / 1000) as u32;
                self.latencies_us.lock().unwrap().push(us);
            }
        }
    }
}

/// A recipient: serves `Deliver` and `DeliverStream`, acknowledging each
/// delivery at once.
struct Recipient {
    seen: Arc<Seen>,
    t0: Instant,
}

#[tonic::async_trait]
impl Ministry for Recipient {
    async fn deliver(
        &self,
        r: Request<wire::Delivery>,
    ) -> Result<Response<wire::DeliveryAck>, Status> {
        let id = r
            .into_inner()
            .envelope
            .map(|e| e.message_id)
            .unwrap_or_default();
        self.seen.saw(&id, self.t0);
        Ok(Response::new(wire::DeliveryAck {
            message_id: id,
            duplicate: false,
        }))
    }

    async fn deliver_stream(
        &self,
        r: Request<tonic::Streaming<wire::Delivery>>,
    ) -> Result<Response<tonic::codegen::BoxStream<wire::DeliveryResult>>, Status> {
        let mut deliveries = r.into_inner();
        let (seen, t0) = (self.seen.clone(), self.t0);
        let (results, answers) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(d)) = deliveries.message().await {
                let id = d.envelope.map(|e| e.message_id).unwrap_or_default();
                seen.saw(&id, t0);
                let result = wire::DeliveryResult {
                    message_id: id,
                    ..Default::default()
                };
                if results.send(Ok(result)).is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::UnboundedReceiverStream::new(answers),
        )))
    }
}

/// Serves a recipient for each of `ministries` on free loopback ports and
/// registers it with the hub; `down` are registered at an address where
/// nothing listens.
async fn recipients(
    hub: &mut HubClient<Channel>,
    ministries: &[&str],
    down: &[&str],
    seen: &Arc<Seen>,
    t0: Instant,
) {
    for m in ministries {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let service = MinistryServer::new(Recipient {
            seen: seen.clone(),
            t0,
        });
        tokio::spawn(
            Server::builder()
                .add_service(service)
                .serve_with_incoming(gcif_sim::live::incoming(listener)),
        );
        register(hub, m, &format!("http://{addr}")).await;
    }
    for m in down {
        let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = dead.local_addr().expect("address");
        drop(dead);
        register(hub, m, &format!("http://{addr}")).await;
    }
}

async fn register(hub: &mut HubClient<Channel>, ministry: &str, address: &str) {
    hub.register(wire::RegisterRequest {
        ministry: ministry.into(),
        address: address.into(),
        status: 0,
    })
    .await
    .unwrap_or_else(|e| panic!("register {ministry}: {e}"));
}

// ---------------------------------------------------------------------------
// Publishing
// ---------------------------------------------------------------------------

/// A caravan alert (about 200 bytes encoded) from `from`, TLP:GREEN, so
/// that it goes to every other participant.
fn alert(from: &str, seq: u64) -> wire::PublishRequest {
    wire::PublishRequest {
        envelope: Some(wire::Envelope {
            message_id: format!("{from}-{seq:010}"),
            originator: from.into(),
            created: Some(prost_types::Timestamp {
                seconds: 1_547_550_000,
                nanos: 0,
            }),
            status: wire::Status::Exercise as i32,
            message_type: wire::MessageType::Alert as i32,
            handling: wire::Handling::Green as i32,
            kind: wire::Kind::CaravanAlert as i32,
            payload: Some(wire::envelope::Payload::CaravanAlert(wire::CaravanAlert {
                caravan_id: "CAR-2019-0117-SAN-PEDRO-SULA-TERMINAL".into(),
                location: Some(wire::Place {
                    name: "Gran Central Metropolitana bus terminal, San Pedro Sula, Cortés".into(),
                    country: "HN".into(),
                    lat: Some(15.504),
                    lon: Some(-88.025),
                }),
                estimated_size: Some(1200),
                minors: Some(140),
                heading_to: vec!["GT".into(), "MX".into(), "US".into()],
                observed: Some(prost_types::Timestamp {
                    seconds: 1_547_549_000,
                    nanos: 0,
                }),
            })),
            ..Default::default()
        }),
        attempt: 1,
    }
}

/// Publishes `request` until the hub takes it (honouring a busy hint);
/// false on a final refusal.
async fn publish(hub: &mut HubClient<Channel>, request: wire::PublishRequest) -> bool {
    loop {
        match hub.publish(request.clone()).await {
            Ok(_) => return true,
            Err(s) if s.code() == Code::ResourceExhausted || s.code() == Code::Unavailable => {
                let ms = s
                    .metadata()
                    .get("grpc-retry-pushback-ms")
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .unwrap_or(10);
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            Err(s) => {
                eprintln!("publish refused: {s}");
                return false;
            }
        }
    }
}

async fn connect(url: &str) -> HubClient<Channel> {
    HubClient::connect(url.to_string())
        .await
        .unwrap_or_else(|e| panic!("connect to the hub at {url}: {e}"))
}

/// Publishes from each of `from`, `IN_FLIGHT` at a time per publisher, until
/// `count` messages in all or `for_` has passed; returns how many the hub
/// accepted.
async fn closed_loop(url: &str, from: &[&str], count: u64, for_: Duration) -> u64 {
    let next = Arc::new(AtomicU64::new(1));
    let accepted = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + for_;
    let mut tasks = Vec::new();
    for m in from {
        // One connection per publisher, as one node has.
        let hub = connect(url).await;
        for _ in 0..IN_FLIGHT {
            let (mut hub, next, accepted, m) =
                (hub.clone(), next.clone(), accepted.clone(), m.to_string());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let seq = next.fetch_add(1, Ordering::Relaxed);
                    if seq > count {
                        break;
                    }
                    if publish(&mut hub, alert(&m, seq)).await {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.expect("publisher");
    }
    accepted.load(Ordering::Relaxed)
}

/// Waits (at most `DRAIN`) until `seen` has `want` deliveries.
async fn drained(seen: &Seen, want: u64) -> bool {
    let until = Instant::now() + DRAIN;
    while seen.delivered.load(Ordering::Relaxed) < want {
        if Instant::now() > until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

// ---------------------------------------------------------------------------
// The rows
// ---------------------------------------------------------------------------

/// Delivered messages per second through the hub: `publishers` publish for
/// `seconds()`; every message goes to the four others.
async fn throughput(name: &str, publishers: &[&str], durable: bool) -> f64 {
    let hub = HubProcess::start(name, durable, &[]);
    let url = hub.url();
    let t0 = Instant::now();
    let seen = Arc::new(Seen::default());
    let mut client = connect(&url).await;
    let receivers: Vec<&str> = if publishers.len() == 1 {
        ALL.iter()
            .copied()
            .filter(|m| m != &publishers[0])
            .collect()
    } else {
        ALL.to_vec()
    };
    recipients(&mut client, &receivers, &[], &seen, t0).await;
    let start = t0.elapsed();
    let cpu0 = hub.cpu();
    let accepted = closed_loop(&url, publishers, u64::MAX, seconds()).await;
    let complete = drained(&seen, accepted * 4).await;
    let end = Duration::from_nanos(seen.last_ns.load(Ordering::Relaxed));
    let wall = (end.saturating_sub(start)).as_secs_f64().max(1e-9);
    let delivered = seen.delivered.load(Ordering::Relaxed);
    let cores = (hub.cpu() - cpu0) / wall;
    let rate = delivered as f64 / wall;
    println!(
        "{name:<28} {:>9} accepted {:>10} delivered {:>7.2}s {:>10.0} delivered/s {:>9.0} published/s  hub CPU {cores:.2} cores{}",
        accepted,
        delivered,
        wall,
        rate,
        accepted as f64 / wall,
        if complete { "" } else { "  INCOMPLETE" }
    );
    rate
}

/// Publish-to-delivery latency at `rate` messages/s offered by one publisher.
async fn latency(rate: u64) {
    let name = format!("latency-{}k", rate / 1000);
    let hub = HubProcess::start(&name, false, &[]);
    let url = hub.url();
    let for_ = seconds();
    let total = (rate as f64 * for_.as_secs_f64()) as u64;
    let t0 = Instant::now();
    let seen = Arc::new(Seen {
        sent_ns: (0..=total).map(|_| AtomicU64::new(0)).collect(),
        ..Default::default()
    });
    let mut client = connect(&url).await;
    let receivers: Vec<&str> = ALL.iter().copied().filter(|m| *m != "HN-SEDS").collect();
    recipients(&mut client, &receivers, &[], &seen, t0).await;
    // Warm the connection up.
    assert!(publish(&mut client, alert("HN-SEDS", 0)).await);
    drained(&seen, 4).await;
    seen.latencies_us.lock().unwrap().clear();
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut sent = 0u64;
    let mut tasks = Vec::new();
    while sent < total {
        tick.tick().await;
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        while sent < due {
            sent += 1;
            seen.sent_ns[sent as usize].store(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
            let mut c = client.clone();
            tasks.push(tokio::spawn(async move {
                publish(&mut c, alert("HN-SEDS", sent)).await
            }));
        }
    }
    let offered = sent as f64 / start.elapsed().as_secs_f64();
    let mut accepted = 0;
    for t in tasks {
        accepted += u64::from(t.await.expect("publisher"));
    }
    let complete = drained(&seen, 4 + accepted * 4).await;
    let mut l = std::mem::take(&mut *seen.latencies_us.lock().unwrap());
    l.sort_unstable();
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .map(|&us| us as f64 / 1000.0)
            .unwrap_or(f64::NAN)
    };
    println!(
        "{name:<28} offered {offered:>8.0} msg/s {:>10} deliveries  p50 {:>7.2} ms  p99 {:>7.2} ms  p99.9 {:>7.2} ms  max {:>7.2} ms{}",
        l.len(),
        pct(0.50),
        pct(0.99),
        pct(0.999),
        pct(1.0),
        if complete { "" } else { "  INCOMPLETE" }
    );
}

/// The hub's memory with `n` messages pending for MX-SEGOB, which is down.
async fn memory(n: u64) {
    // Room for them all, and the message that warms the hub up.
    let hub = HubProcess::start(
        "memory",
        false,
        &["--max-pending".into(), (n + 1).to_string()],
    );
    let url = hub.url();
    let t0 = Instant::now();
    let seen = Arc::new(Seen::default());
    let mut client = connect(&url).await;
    let up = ["US-DHS", "GT-MINGOB", "SV-MJSP"];
    recipients(&mut client, &up, &["MX-SEGOB"], &seen, t0).await;
    // Settle the hub's start-up allocations before the baseline.
    assert!(publish(&mut client, alert("HN-SEDS", 0)).await);
    drained(&seen, 3).await;
    let before = hub.rss();
    let started = Instant::now();
    let accepted = closed_loop(&url, &["HN-SEDS"], n, Duration::from_secs(3600)).await;
    let complete = drained(&seen, 3 + accepted * 3).await;
    let after = hub.rss();
    let size = prost::Message::encoded_len(&alert("HN-SEDS", 1).envelope.expect("set"));
    println!(
        "{:<28} {accepted:>9} pending for MX-SEGOB (down) after {:.1}s  hub RSS {:.0} MB -> {:.0} MB  {:.0} B per pending message (envelope {size} B encoded){}",
        "memory",
        started.elapsed().as_secs_f64(),
        before as f64 / 1e6,
        after as f64 / 1e6,
        after.saturating_sub(before) as f64 / accepted.max(1) as f64,
        if complete { "" } else { "  INCOMPLETE" }
    );
}

// ---------------------------------------------------------------------------
// The raw tonic baselines
// ---------------------------------------------------------------------------

struct EchoService;

type ChunkStream = Pin<Box<dyn Stream<Item = Result<echo::Chunk, Status>> + Send>>;

#[tonic::async_trait]
impl echo::echo_server::Echo for EchoService {
    async fn unary(&self, r: Request<echo::Chunk>) -> Result<Response<echo::Chunk>, Status> {
        Ok(Response::new(r.into_inner()))
    }

    type StreamStream = ChunkStream;

    async fn stream(
        &self,
        r: Request<tonic::Streaming<echo::Chunk>>,
    ) -> Result<Response<ChunkStream>, Status> {
        Ok(Response::new(Box::pin(r.into_inner())))
    }
}

/// This benchmark's own binary serving the echo on a free loopback port
/// until its standard input closes.
fn echo_child() -> (Child, String) {
    let mut child = orphan_killed(Command::new(std::env::current_exe().expect("own path")))
        .arg("--echo-server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("echo server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("echo server address");
    (child, format!("http://{}", line.trim()))
}

fn serve_echo() {
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("{}", listener.local_addr().expect("address"));
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin().read_line(&mut sink).unwrap_or(0) > 0 {}
        });
        Server::builder()
            .add_service(echo::echo_server::EchoServer::new(EchoService))
            .serve_with_incoming_shutdown(gcif_sim::live::incoming(listener), async {
                let _ = stdin_closed.await;
            })
            .await
            .expect("echo server");
    });
}

fn chunk(seq: u64) -> echo::Chunk {
    echo::Chunk {
        seq,
        payload: vec![b'x'; 200],
    }
}

/// Raw tonic: unary echoes per second, `UNARY_IN_FLIGHT` in flight over
/// one connection; then bidirectional-streaming echoes per second,
/// `STREAM_IN_FLIGHT` in flight on one stream.
async fn baselines() -> f64 {
    let (mut child, url) = echo_child();
    let client = echo::echo_client::EchoClient::connect(url)
        .await
        .expect("connect to the echo server");
    let for_ = seconds();
    let calls = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + for_;
    let tasks: Vec<_> = (0..UNARY_IN_FLIGHT)
        .map(|_| {
            let (mut c, calls) = (client.clone(), calls.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    c.unary(chunk(1)).await.expect("echo");
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("caller");
    }
    let unary = calls.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    println!(
        "{:<28} {unary:>10.0} calls/s ({UNARY_IN_FLIGHT} in flight, one connection)",
        "baseline-unary"
    );

    let permits = Arc::new(tokio::sync::Semaphore::new(STREAM_IN_FLIGHT));
    let (tx, rx) = tokio::sync::mpsc::channel(STREAM_IN_FLIGHT);
    let start = Instant::now();
    let deadline = start + for_;
    let sender = {
        let permits = permits.clone();
        tokio::spawn(async move {
            let mut seq = 0;
            while Instant::now() < deadline {
                permits.acquire().await.expect("open").forget();
                seq += 1;
                if tx.send(chunk(seq)).await.is_err() {
                    break;
                }
            }
        })
    };
    let mut answers = client
        .clone()
        .stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect("stream")
        .into_inner();
    let mut echoed = 0u64;
    while let Some(Ok(_)) = answers.next().await {
        echoed += 1;
        permits.add_permits(1);
        if Instant::now() >= deadline {
            break;
        }
    }
    let streamed = echoed as f64 / start.elapsed().as_secs_f64();
    sender.abort();
    println!(
        "{:<28} {streamed:>10.0} messages/s ({STREAM_IN_FLIGHT} in flight, one stream)",
        "baseline-streaming"
    );
    drop(child.stdin.take());
    let _ = child.wait();
    unary
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--echo-server") {
        return serve_echo();
    }
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let wanted = |name: &str| filter.as_ref().is_none_or(|f| name.contains(f.as_str()));
    let pending: u64 = std::env::var("GCIF_LIVE_PENDING")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    println!(
        "gcif-sim hub (child process, loopback, event log to a file) driven from this process; \
         {:.0} s per row; {IN_FLIGHT} publishes in flight per publisher; recipients acknowledge at once; \
         caravan alerts of {} B, each to the 4 other ministries",
        seconds().as_secs_f64(),
        prost::Message::encoded_len(&alert("HN-SEDS", 1).envelope.expect("set"))
    );
    let rt = runtime();
    rt.block_on(async {
        let unary = if wanted("baseline") {
            Some(baselines().await)
        } else {
            None
        };
        let ratio = |rate: f64| {
            if let Some(u) = unary {
                println!("{:<28} {:.2}× the raw unary echo's calls/s", "", rate / u);
            }
        };
        if wanted("throughput-1") {
            ratio(throughput("throughput-1-publisher", &["HN-SEDS"], false).await);
        }
        if wanted("throughput-5") {
            ratio(throughput("throughput-5-publishers", &ALL, false).await);
        }
        if wanted("durable-1") {
            ratio(throughput("durable-1-publisher", &["HN-SEDS"], true).await);
        }
        if wanted("durable-5") {
            ratio(throughput("durable-5-publishers", &ALL, true).await);
        }
        for rate in [1_000, 10_000, 50_000] {
            if wanted(&format!("latency-{}k", rate / 1000)) {
                latency(rate).await;
            }
        }
        if wanted("memory") {
            memory(pending).await;
        }
    });
}
