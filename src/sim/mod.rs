//! The deterministic driver: one process, one thread, virtual time.
//!
//! A run builds a current-thread tokio runtime with a paused clock: whenever
//! every task is idle the clock jumps to the next timer, so the cost of a run
//! grows with the number of events, not with the simulated duration. The hub
//! and the nodes talk real gRPC (tonic) over [`crate::simnet`] streams.
//!
//! **Invariant:** the run's only randomness is one ChaCha8 generator seeded
//! from the seed; it is split, in a fixed order, into a stream for generated
//! traffic and a stream for network jitter, so changing the network does not
//! change the traffic. Nothing reads the wall clock, nothing iterates a hash
//! map, and every `select!` is `biased`.

pub mod traffic;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::Notify;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::{Endpoint, Server};

use crate::hub::Hub;
use crate::model::{Envelope, Host, MessageId, MessageType, Ministry, Timestamp};
use crate::node::Node;
use crate::policy::Policy;
use crate::report::{Event, EventBody, FaultKind, Recorder};
use crate::scenario::{FaultAction, Scenario};
use crate::simnet::{LinkFaults, SimNet, Window, pair};
use crate::transport::{self, Clock, HostContext, HubService, MinistryService, RpcConfig};
use crate::wire::{hub_server::HubServer, ministry_server::MinistryServer};

thread_local! {
    /// The running simulation's t=0, for log timestamps.
    static ORIGIN: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// Simulated time since the start of the run on this thread, if one is running.
pub fn elapsed() -> Option<Duration> {
    let origin = ORIGIN.with(|o| o.get())?;
    tokio::runtime::Handle::try_current().ok()?;
    Some(Instant::now().saturating_duration_since(origin))
}

/// The seed used when neither the scenario nor the command line gives one.
pub const DEFAULT_SEED: u64 = 1;

/// One message the run will hand to a node.
#[derive(Debug, Clone)]
pub struct Planned {
    /// When the node's operator submits it.
    pub at: Duration,
    pub envelope: Envelope,
    /// Index into the scenario's injects; `None` for generated traffic.
    pub inject: Option<usize>,
}

/// Every message of the run, in submission order, with message ids assigned
/// (`<MINISTRY>-<six-digit sequence>`, per sender, in time order).
pub fn plan(scenario: &Scenario, rng: &mut ChaCha8Rng) -> Vec<Planned> {
    let epoch = scenario.epoch();
    // Generated traffic first, so the traffic stream is consumed in a fixed order.
    let mut drafts: Vec<(Duration, usize, Option<usize>, Ministry)> = scenario
        .injects
        .iter()
        .enumerate()
        .map(|(i, inj)| (inj.at, i, Some(i), inj.from))
        .collect();
    let mut generated = Vec::new();
    let mut n = 0usize;
    for t in &scenario.traffic {
        let mean = t.every.as_secs_f64();
        let mut at = t.start;
        loop {
            let u: f64 = rng.random();
            let gap = -mean * (1.0 - u).ln();
            at += Duration::from_millis((gap * 1000.0).round() as u64);
            if at >= t.until {
                break;
            }
            let from = t.from[rng.random_range(0..t.from.len())];
            let payload = traffic::generate(t.kind, from, epoch.after(at), n, rng);
            drafts.push((at, scenario.injects.len() + generated.len(), None, from));
            generated.push((t.handling, payload));
            n += 1;
        }
    }
    drafts.sort_by_key(|d| (d.0, d.1));
    let mut seq: BTreeMap<Ministry, u32> = BTreeMap::new();
    let mut ids: BTreeMap<usize, MessageId> = BTreeMap::new();
    for d in &drafts {
        let s = seq.entry(d.3).or_insert(0);
        *s += 1;
        ids.insert(d.1, MessageId(format!("{}-{:06}", d.3.code(), s)));
    }
    drafts
        .into_iter()
        .map(|(at, key, inject, from)| {
            let id = ids[&key].clone();
            let created = epoch.after(at);
            let envelope = match inject {
                Some(i) => {
                    let inj = &scenario.injects[i];
                    Envelope {
                        id,
                        originator: from,
                        created,
                        status: scenario.status,
                        message_type: inj.message_type,
                        references: inj.references.iter().map(|r| ids[r].clone()).collect(),
                        handling: inj.handling,
                        expires: inj.expires.map(|e| created.after(e)),
                        kind: inj.kind,
                        payload: inj.payload.clone(),
                    }
                }
                None => {
                    let (handling, payload) = generated[key - scenario.injects.len()].clone();
                    Envelope {
                        id,
                        originator: from,
                        created,
                        status: scenario.status,
                        message_type: MessageType::Alert,
                        references: vec![],
                        handling,
                        expires: None,
                        kind: payload.kind(),
                        payload: Some(payload),
                    }
                }
            };
            Planned {
                at,
                envelope,
                inject,
            }
        })
        .collect()
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub seed: u64,
    /// The event log, in simulated-time order (expectations not yet appended).
    pub events: Vec<Event>,
    pub plan: Vec<Planned>,
    /// When the run stopped (at least the scenario's duration).
    pub end: Duration,
}

/// Why a run could not be carried out (not: why it failed expectations).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot start the simulation runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Virtual time as the hosts see it.
struct SimClock {
    origin: Instant,
    epoch: Timestamp,
}

impl Clock for SimClock {
    fn now(&self) -> Timestamp {
        let since = Instant::now().saturating_duration_since(self.origin);
        self.epoch.after(since)
    }

    fn instant_at(&self, t: Timestamp) -> Instant {
        self.origin + Duration::from_millis(t.since(self.epoch))
    }
}

/// State that outlives a host's crash: the state machine and its wake-up.
struct Durable<T> {
    state: Arc<Mutex<T>>,
    wake: Arc<Notify>,
}

impl<T> Clone for Durable<T> {
    fn clone(&self) -> Self {
        Durable {
            state: self.state.clone(),
            wake: self.wake.clone(),
        }
    }
}

/// Everything the driver needs to (re)start hosts.
#[derive(Clone)]
struct World {
    net: SimNet,
    ctx: HostContext,
    rpc: RpcConfig,
    hub: Durable<Hub>,
    nodes: BTreeMap<Ministry, Durable<Node>>,
}

impl World {
    fn channel(&self, from: Host, to: Host) -> tonic::transport::Channel {
        let net = self.net.clone();
        let connector = tower::service_fn(move |_: tonic::codegen::http::Uri| {
            let net = net.clone();
            async move {
                net.connect(from, to)
                    .await
                    .map(hyper_util::rt::TokioIo::new)
            }
        });
        Endpoint::from_static("http://gcif.sim")
            .timeout(self.rpc.timeout)
            .connect_timeout(self.rpc.timeout)
            .connect_with_connector_lazy(connector)
    }

    /// Starts `host`'s server and client loop; returns the handle that crashes it.
    fn start(&self, host: Host, tasks: &mut JoinSet<()>) -> AbortHandle {
        let incoming =
            UnboundedReceiverStream::new(self.net.listen(host)).map(Ok::<_, std::io::Error>);
        let world = self.clone();
        let span = tracing::info_span!("host", name = host.name());
        let router = match host {
            Host::Hub => Server::builder().add_service(HubServer::new(HubService {
                hub: world.hub.state.clone(),
                wake: world.hub.wake.clone(),
                ctx: world.ctx.clone(),
            })),
            Host::Node(m) => Server::builder().add_service(MinistryServer::new(MinistryService {
                node: world.nodes[&m].state.clone(),
                ctx: world.ctx.clone(),
            })),
        };
        let task = async move {
            // The server lives in the host's own task set, so a crash (which
            // aborts this task and drops the set) stops it too.
            let mut server = JoinSet::new();
            server.spawn(async move {
                if let Err(e) = router.serve_with_incoming(incoming).await {
                    tracing::error!(%e, "server stopped");
                }
            });
            let w = world.clone();
            match host {
                Host::Hub => {
                    let dial: transport::Dial =
                        Arc::new(move |m: Ministry| w.channel(Host::Hub, Host::Node(m)));
                    let hub = &world.hub;
                    transport::hub_delivery_loop(
                        hub.state.clone(),
                        hub.wake.clone(),
                        dial,
                        world.ctx,
                    )
                    .await;
                }
                Host::Node(m) => {
                    let dial = Arc::new(move || w.channel(Host::Node(m), Host::Hub));
                    let node = &world.nodes[&m];
                    transport::node_publish_loop(
                        node.state.clone(),
                        node.wake.clone(),
                        dial,
                        world.ctx,
                    )
                    .await;
                }
            }
        };
        tasks.spawn(tracing::Instrument::instrument(task, span))
    }

    /// Whether every accepted message is delivered and every outbox is empty.
    fn settled(&self) -> bool {
        lock(&self.hub.state).backlog() == 0
            && self.nodes.values().all(|n| lock(&n.state).pending() == 0)
    }
}

/// A poisoned lock means a task panicked; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running hosts, and how many crashes currently hold each one down
/// (crashes of one host may overlap; it restarts when the last one ends).
#[derive(Default)]
struct Hosts {
    tasks: JoinSet<()>,
    running: BTreeMap<Host, AbortHandle>,
    crashes: BTreeMap<Host, u32>,
}

impl Hosts {
    fn start(&mut self, world: &World, host: Host) {
        let handle = world.start(host, &mut self.tasks);
        self.running.insert(host, handle);
    }

    fn crash(&mut self, world: &World, host: Host) {
        let n = self.crashes.entry(host).or_insert(0);
        *n += 1;
        if *n == 1 {
            if let Some(h) = self.running.remove(&host) {
                h.abort();
            }
            world.net.crash(host);
        }
    }

    fn heal(&mut self, world: &World, host: Host) {
        let n = self.crashes.entry(host).or_insert(1);
        *n -= 1;
        if *n > 0 {
            return;
        }
        let now = world.ctx.clock.now();
        match host {
            Host::Hub => lock(&world.hub.state).on_restart(now),
            Host::Node(m) => lock(&world.nodes[&m].state).on_restart(now),
        }
        self.start(world, host);
    }
}

/// Plays `scenario` with `seed`. `progress`, if given, follows simulated time.
pub fn run(
    scenario: &Scenario,
    seed: u64,
    progress: Option<ProgressBar>,
) -> Result<RunOutput, SimError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    let output = runtime.block_on(play(scenario, seed, progress));
    // Dropping the runtime cancels whatever connection tasks are left.
    drop(runtime);
    Ok(output)
}

/// The run's two random streams, split from the root generator in a fixed
/// order: generated traffic first, then network jitter.
fn streams(seed: u64) -> (ChaCha8Rng, ChaCha8Rng) {
    let mut root = ChaCha8Rng::seed_from_u64(seed);
    let traffic = ChaCha8Rng::seed_from_u64(root.random());
    let net = ChaCha8Rng::seed_from_u64(root.random());
    (traffic, net)
}

/// The messages a run of `scenario` with `seed` hands to its nodes: the same
/// plan [`run`] plays, without playing it (reports use it to show content).
pub fn plan_for(scenario: &Scenario, seed: u64) -> Vec<Planned> {
    plan(scenario, &mut streams(seed).0)
}

async fn play(scenario: &Scenario, seed: u64, progress: Option<ProgressBar>) -> RunOutput {
    let (mut traffic_rng, net_rng) = streams(seed);
    let plan = plan(scenario, &mut traffic_rng);

    let origin = Instant::now();
    ORIGIN.with(|o| o.set(Some(origin)));
    let labels = plan
        .iter()
        .filter_map(|p| {
            let label = scenario.injects[p.inject?].label.clone()?;
            Some((p.envelope.id.clone(), label))
        })
        .collect();
    let recorder = Arc::new(Recorder::new(origin, labels));
    let ctx = HostContext {
        clock: Arc::new(SimClock {
            origin,
            epoch: scenario.epoch(),
        }),
        sink: recorder.clone(),
    };
    let mut link_faults = LinkFaults::default();
    for f in &scenario.faults {
        let window = Window {
            from: f.at,
            until: f.at + f.lasts,
        };
        match f.action {
            FaultAction::Partition(a, b) => link_faults.partitions.push((pair(a, b), window)),
            FaultAction::Degrade(a, b, latency) => {
                link_faults.degradations.push((pair(a, b), window, latency))
            }
            FaultAction::Crash(_) => {}
        }
    }
    let net = SimNet::new(origin, scenario.topology.clone(), link_faults, net_rng);
    let policy = Policy::new(scenario.policy, scenario.participants.iter().copied());
    let world = World {
        net,
        ctx: ctx.clone(),
        rpc: scenario.rpc,
        hub: Durable {
            state: Arc::new(Mutex::new(Hub::new(policy, scenario.delivery))),
            wake: Arc::new(Notify::new()),
        },
        nodes: scenario
            .participants
            .iter()
            .map(|&m| {
                (
                    m,
                    Durable {
                        state: Arc::new(Mutex::new(Node::new(m, scenario.publish))),
                        wake: Arc::new(Notify::new()),
                    },
                )
            })
            .collect(),
    };

    // Hosts: started in a fixed order; faults crash and restart them.
    let hosts = Arc::new(Mutex::new(Hosts::default()));
    {
        let mut h = hosts.lock().expect("fresh lock");
        h.start(&world, Host::Hub);
        for &m in &scenario.participants {
            h.start(&world, Host::Node(m));
        }
    }

    let mut drivers = JoinSet::new();
    // Injects and generated traffic: each handed to its node at its time.
    let injector = {
        let world = world.clone();
        let plan = plan.clone();
        tokio::spawn(async move {
            for p in plan {
                tokio::time::sleep_until(origin + p.at).await;
                let node = &world.nodes[&p.envelope.originator];
                let now = world.ctx.clock.now();
                lock(&node.state).submit(now, p.envelope);
                node.wake.notify_one();
            }
        })
    };

    // Faults: log them, crash and restart hosts.
    for f in scenario.faults.clone() {
        let world = world.clone();
        let hosts = hosts.clone();
        drivers.spawn(async move {
            let (kind, targets) = match f.action {
                FaultAction::Partition(a, b) => (FaultKind::Partition, vec![a, b]),
                FaultAction::Degrade(a, b, _) => (FaultKind::Degrade, vec![a, b]),
                FaultAction::Crash(h) => (FaultKind::Crash, vec![h]),
            };
            tokio::time::sleep_until(origin + f.at).await;
            let until = f.at + f.lasts;
            let names = targets
                .iter()
                .map(|h| h.name())
                .collect::<Vec<_>>()
                .join(" ");
            tracing::info!(?kind, targets = %names, "fault");
            world.ctx.sink.record(EventBody::Fault {
                fault: kind,
                targets: targets.clone(),
                until_t: until.as_millis() as u64,
            });
            if let FaultAction::Crash(host) = f.action {
                lock(&hosts).crash(&world, host);
            }
            tokio::time::sleep_until(origin + until).await;
            if let FaultAction::Crash(host) = f.action {
                lock(&hosts).heal(&world, host);
            }
            tracing::info!(?kind, targets = %names, "healed");
            world.ctx.sink.record(EventBody::Healed {
                fault: kind,
                targets,
            });
        });
    }

    // Progress: a tick per 1% of the run.
    if let Some(bar) = progress.clone() {
        let total = scenario.duration;
        bar.set_length(total.as_secs().max(1));
        drivers.spawn(async move {
            for i in 1..=100u32 {
                tokio::time::sleep_until(origin + total * i / 100).await;
                bar.set_position((total * i / 100).as_secs());
                bar.set_message(format!(
                    "{} of {}",
                    crate::report::summary::human((total * i / 100).as_millis() as u64),
                    crate::report::summary::human(total.as_millis() as u64)
                ));
            }
        });
    }

    tokio::time::sleep_until(origin + scenario.duration).await;
    // Every inject falls within the duration; let those due at the very end
    // be handed over before deciding whether the run has settled.
    if let Err(e) = injector.await {
        tracing::error!(%e, "the injector stopped early");
    }
    // Drain: no new injects, but let what is under way arrive.
    let deadline = origin + scenario.duration + scenario.drain;
    while !world.settled() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1).min(deadline - Instant::now())).await;
    }
    let end = Instant::now() - origin;
    lock(&hosts).tasks.abort_all();
    drivers.abort_all();
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    RunOutput {
        seed,
        events: recorder.take(),
        plan,
        end,
    }
}
