//! The gRPC network model: the hosts talk real gRPC (through
//! [`crate::transport`]) over [`crate::simnet`] streams, on tokio's paused
//! clock, so the run exercises the protocol stack as deployed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::{Played, Progress, fault_targets, link_faults, take_receipts};
use crate::config::RpcConfig;
use crate::events::{self, EventBody, EventSink, Log, TokioClock};
use crate::host::{HubHost, NodeHost, lock};
use crate::hub::Hub;
use crate::model::{Envelope, Host, Ministry};
use crate::node::Node;
use crate::plan::{self, Planned};
use crate::scenario::{Fault, FaultAction, Scenario};
use crate::simnet::SimNet;
use crate::transport::{self, Peer};

/// Plays `scenario` with `seed` in this model, writing every event to `sink`.
pub(super) fn run(
    scenario: &Scenario,
    seed: u64,
    plan: Vec<Planned>,
    net_rng: ChaCha8Rng,
    sink: Arc<dyn EventSink>,
    progress: Option<Progress>,
) -> Result<Played, std::io::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    let played = runtime.block_on(play(scenario, seed, plan, net_rng, sink, progress));
    // Dropping the runtime cancels whatever connection tasks are left.
    drop(runtime);
    Ok(played)
}

/// Everything the driver needs to (re)start hosts. The hosts' state
/// machines outlive a crash, as an on-disk journal would.
#[derive(Clone)]
struct World {
    net: SimNet,
    clock: TokioClock,
    log: Log,
    rpc: RpcConfig,
    hub: Arc<HubHost>,
    nodes: BTreeMap<Ministry, Arc<NodeHost>>,
}

impl World {
    fn new(scenario: &Scenario, net: SimNet, clock: TokioClock, log: Log) -> World {
        let policy = scenario.policy.clone();
        let hub = Hub::new(policy, scenario.delivery);
        World {
            net,
            clock,
            rpc: scenario.rpc,
            hub: Arc::new(HubHost::new(hub, log.clone())),
            nodes: scenario
                .participants
                .iter()
                .map(|&m| {
                    let node = Node::new(m, scenario.publish);
                    (m, Arc::new(NodeHost::new(node, log.clone())))
                })
                .collect(),
            log,
        }
    }

    /// `to` as `from` dials it over the simulated network.
    fn peer(&self, from: Host, to: Host) -> Peer {
        let net = self.net.clone();
        Peer::over(
            move || {
                let net = net.clone();
                async move { net.connect(from, to).await }
            },
            self.rpc,
            None,
        )
    }

    /// Starts `host`'s server and client loop; returns the handle that crashes it.
    fn start(&self, host: Host, tasks: &mut JoinSet<()>) -> AbortHandle {
        let incoming =
            UnboundedReceiverStream::new(self.net.listen(host)).map(Ok::<_, std::io::Error>);
        let world = self.clone();
        let span = tracing::info_span!("host", name = host.name());
        let task = async move {
            // The server lives in the host's own task set, so a crash (which
            // aborts this task and drops the set) stops it too.
            let mut server = JoinSet::new();
            match host {
                Host::Hub => {
                    let peers = transport::Directory::fixed(world.nodes.keys().map(|&m| {
                        (
                            m,
                            format!("sim://{m}"),
                            world.peer(Host::Hub, Host::Node(m)),
                        )
                    }));
                    let served = transport::serve_hub(
                        world.hub.clone(),
                        peers.clone(),
                        None,
                        None,
                        incoming,
                        std::future::pending(),
                    );
                    server.spawn(log_stop(served));
                    transport::hub_delivery_loop(
                        world.hub.clone(),
                        world.clock,
                        peers,
                        transport::Calls::Unary,
                    )
                    .await;
                }
                Host::Node(m) => {
                    let node = world.nodes[&m].clone();
                    let served =
                        transport::serve_node(node.clone(), None, incoming, std::future::pending());
                    server.spawn(log_stop(served));
                    let hub = world.peer(Host::Node(m), Host::Hub);
                    transport::node_publish_loop(node, world.clock, hub).await;
                }
            }
        };
        tasks.spawn(tracing::Instrument::instrument(task, span))
    }

    /// Whether every accepted message is delivered and every outbox is empty.
    fn settled(&self) -> bool {
        self.hub.backlog() == 0 && self.nodes.values().all(|n| n.pending() == 0)
    }
}

/// Runs a server to its end, logging why it stopped if it failed.
async fn log_stop(served: impl Future<Output = Result<(), transport::ServeError>>) {
    if let Err(e) = served.await {
        tracing::error!(%e, "server stopped");
    }
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
        match host {
            Host::Hub => world.hub.on_restart(),
            Host::Node(m) => world.nodes[&m].on_restart(),
        }
        self.start(world, host);
    }
}

async fn play(
    scenario: &Scenario,
    seed: u64,
    plan: Vec<Planned>,
    net_rng: ChaCha8Rng,
    sink: Arc<dyn EventSink>,
    progress: Option<Progress>,
) -> Played {
    let origin = Instant::now();
    let clock = TokioClock::new(origin, scenario.epoch());
    let _entered = events::clock::enter(Arc::new(clock));
    let log = Log::new(Arc::new(clock), sink);
    let net = SimNet::new(
        origin,
        scenario.topology.clone(),
        link_faults(scenario),
        net_rng,
    );
    let world = World::new(scenario, net, clock, log);

    // Hosts: started in a fixed order; faults crash and restart them.
    let hosts = Arc::new(Mutex::new(Hosts::default()));
    {
        let mut h = lock(&hosts);
        h.start(&world, Host::Hub);
        for &m in &scenario.participants {
            h.start(&world, Host::Node(m));
        }
    }

    let mut drivers = JoinSet::new();
    let submissions = plan
        .iter()
        .map(|p| {
            let label = p.inject.and_then(|i| scenario.injects[i].label.clone());
            (p.at, p.envelope.clone(), label)
        })
        .collect();
    let injector = tokio::spawn(inject(world.clone(), submissions));
    for f in scenario.faults.clone() {
        drivers.spawn(fault(world.clone(), hosts.clone(), f));
    }
    if !scenario.amendments.is_empty() {
        drivers.spawn(amend(world.clone(), scenario.amendments.clone()));
    }
    let reshares = plan::reshares(scenario, &plan);
    if !reshares.is_empty() {
        drivers.spawn(pass_on(world.clone(), reshares));
    }
    if let Some(progress) = progress {
        drivers.spawn(report_progress(origin, scenario.duration, progress));
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
    let received = take_receipts(world.nodes.values(), scenario.epoch());
    Played {
        seed,
        plan,
        received,
        end,
    }
}

/// Hands each scripted reshare to its node at its time.
async fn pass_on(world: World, reshares: Vec<plan::PassOn>) {
    let origin = world.clock.start();
    for r in reshares {
        tokio::time::sleep_until(origin + r.at).await;
        world.nodes[&r.by].pass_on(r.msg, r.to);
    }
}

/// Amends the agreement at each amendment's time.
async fn amend(world: World, amendments: Vec<crate::scenario::Scheduled>) {
    let origin = world.clock.start();
    for a in amendments {
        tokio::time::sleep_until(origin + a.at).await;
        if let Err(e) = world.hub.amend(&a.amendment) {
            tracing::error!(%e, "amendment not applied");
        }
    }
}

/// Hands each planned message (with its inject label) to its node at its time.
async fn inject(world: World, submissions: Vec<(Duration, Arc<Envelope>, Option<String>)>) {
    let origin = world.clock.start();
    for (at, envelope, label) in submissions {
        tokio::time::sleep_until(origin + at).await;
        world.nodes[&envelope.originator].submit(envelope, label);
    }
}

/// Plays one fault: logs it, crashes and restarts hosts (links are the
/// network's business, known to it in advance).
async fn fault(world: World, hosts: Arc<Mutex<Hosts>>, f: Fault) {
    let origin = world.clock.start();
    let (kind, targets) = fault_targets(f.action);
    tokio::time::sleep_until(origin + f.at).await;
    let until = f.at + f.lasts;
    let names = targets
        .iter()
        .map(|h| h.name())
        .collect::<Vec<_>>()
        .join(" ");
    tracing::info!(?kind, targets = %names, "fault");
    world.log.record(EventBody::Fault {
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
    world.log.record(EventBody::Healed {
        fault: kind,
        targets,
    });
}

/// Tells `progress` of each 1% of the run.
async fn report_progress(origin: Instant, total: Duration, progress: Progress) {
    for i in 1..=100u32 {
        tokio::time::sleep_until(origin + total * i / 100).await;
        progress(total * i / 100, total);
    }
}
