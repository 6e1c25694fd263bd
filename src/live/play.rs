//! `gcif-sim run --live`: a whole scenario on loopback sockets in one
//! process, the hub and every node on real TCP ports, injects, generated
//! traffic and faults fired on the wall clock (sped up `speed` times). The
//! same plan, hosts and event-log contract as the simulation; the network is
//! real and the faults are carried out for real by [`Links`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::{AbortHandle, JoinSet};

use super::clock::Controlled;
use super::links::{Links, Reach};
use super::setup::{certificates, ports, wait_for_externals};
use crate::events::{Clock, EventBody, EventSink, FaultKind, Log};
use crate::host::{HubHost, NodeHost};
use crate::hub::Hub;
use crate::model::{Host, Ministry};
use crate::node::Node;
use crate::plan::{self, Planned};
use crate::scenario::{Fault, FaultAction, Scenario};
use crate::sim::Played;
use crate::transport::{self, Address, Directory, Peer, Tls};

/// How a live run is played.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Simulated time per real time (60: an hour a minute).
    pub speed: f64,
    /// Play against this hub, already running, instead of one of the run's own.
    pub hub: Option<Address>,
    /// Where the run's own hub listens (port 0: any free port).
    pub listen: SocketAddr,
    /// Ministries whose nodes someone else runs.
    pub external: Vec<Ministry>,
    /// Serve the trainer's console here.
    pub dashboard: Option<SocketAddr>,
    /// Mutual TLS between every host of the run, with the certificates
    /// `gcif-sim certs init DIR` made (the hub's and each participant's).
    pub tls: Option<std::path::PathBuf>,
}

/// What a live run tells the person running it, as it goes.
pub type Say = Arc<dyn Fn(&str) + Send + Sync>;

/// Everything needed to (re)start the run's hosts.
#[derive(Clone)]
pub(super) struct World {
    pub(super) links: Links,
    pub(super) clock: Controlled,
    rpc: crate::config::RpcConfig,
    pub(super) hub: Option<Arc<HubHost>>,
    directory: Directory,
    pub(super) nodes: BTreeMap<Ministry, Arc<NodeHost>>,
    /// The status each node takes part in (told to the hub when it registers).
    statuses: BTreeMap<Ministry, crate::model::Status>,
    /// Where each host the run runs listens (kept across crashes).
    addrs: BTreeMap<Host, SocketAddr>,
    /// Where the hub is, the run's own or not.
    hub_addr: SocketAddr,
    /// Each host's certificate, with `--tls`.
    tls: BTreeMap<Host, Tls>,
}

impl World {
    /// Wakes every host the run runs to look at the clock again.
    pub(super) fn wake_all(&self) {
        if let Some(h) = &self.hub {
            h.wake();
        }
        for n in self.nodes.values() {
            n.wake();
        }
    }

    /// The run's hosts around the state machines: the hub unless the run
    /// plays against one already running, and a node host per participant
    /// (for an external one, its operator's outbox only: the run publishes
    /// its scripted messages for it; its own node receives its deliveries).
    fn new(
        scenario: &Scenario,
        opts: &LiveOptions,
        log: &Log,
        clock: Controlled,
        directory: Directory,
        (addrs, hub_addr): (BTreeMap<Host, SocketAddr>, SocketAddr),
        tls: BTreeMap<Host, Tls>,
    ) -> World {
        let hub = opts.hub.is_none().then(|| {
            let policy = scenario.policy.clone();
            Arc::new(
                HubHost::new(Hub::new(policy, scenario.delivery), log.clone())
                    .with_remote(opts.external.iter().copied()),
            )
        });
        let nodes = scenario
            .participants
            .iter()
            .map(|&m| {
                let host = NodeHost::new(Node::new(m, scenario.publish), log.clone());
                let host = if opts.hub.is_some() {
                    host.with_remote_hub(scenario.participants.iter().copied())
                } else {
                    host
                };
                (m, Arc::new(host))
            })
            .collect();
        World {
            links: Links::new(scenario.topology.clone(), opts.speed),
            clock,
            rpc: scenario.rpc,
            hub,
            directory,
            nodes,
            statuses: scenario
                .participants
                .iter()
                .map(|&m| (m, scenario.status_of(m)))
                .collect(),
            addrs,
            hub_addr,
            tls,
        }
    }

    /// Starts every host the run runs, and the outboxes of the external ones.
    async fn start_all(&self, external: &[Ministry]) -> anyhow::Result<Hosts> {
        let mut h = Hosts::default();
        for host in self.addrs.keys().copied().collect::<Vec<_>>() {
            let handle = self.start(host, &mut h.tasks).await?;
            h.running.insert(host, handle);
        }
        for m in external {
            let hub = self.peer(Host::Node(*m), Host::Hub, self.hub_addr);
            h.tasks.spawn(transport::node_publish_loop(
                self.nodes[m].clone(),
                self.clock.clone(),
                hub,
            ));
        }
        Ok(h)
    }

    fn local(&self, h: Host) -> bool {
        self.addrs.contains_key(&h)
    }

    /// `from` dials `to` through the run's links.
    fn peer(&self, from: Host, to: Host, addr: SocketAddr) -> Peer {
        let links = self.links.clone();
        Peer::over(
            move || {
                let links = links.clone();
                async move { links.dial(from, to, addr).await }
            },
            self.rpc,
            self.tls.get(&from),
        )
    }

    /// Starts `host` on its port: its server and its loops, in one task.
    async fn start(&self, host: Host, tasks: &mut JoinSet<()>) -> anyhow::Result<AbortHandle> {
        let addr = self.addrs[&host];
        let listener = bind_again(addr).await?;
        let incoming = self.links.incoming(host, listener);
        let world = self.clone();
        let task = async move {
            let mut inner = JoinSet::new();
            match host {
                Host::Hub => {
                    let hub = world.hub.clone().expect("a local hub");
                    let links = world.clone();
                    let dialer: transport::Dialer =
                        Arc::new(move |m, address| match socket_addr(address) {
                            Some(a) => links.peer(Host::Hub, Host::Node(m), a),
                            None => Peer::at(address, links.rpc, links.tls.get(&Host::Hub)),
                        });
                    inner.spawn(log_stop(transport::serve_hub(
                        hub.clone(),
                        world.directory.clone(),
                        Some(dialer),
                        world.tls.get(&Host::Hub).cloned(),
                        incoming,
                        std::future::pending(),
                    )));
                    transport::hub_delivery_loop(
                        hub,
                        world.clock,
                        world.directory.clone(),
                        transport::Calls::Unary,
                    )
                    .await;
                }
                Host::Node(m) => {
                    let node = world.nodes[&m].clone();
                    inner.spawn(log_stop(transport::serve_node(
                        node.clone(),
                        world.tls.get(&host).cloned(),
                        incoming,
                        std::future::pending(),
                    )));
                    let hub = world.peer(host, Host::Hub, world.hub_addr);
                    let me: Address = format!("http://{addr}")
                        .parse()
                        .expect("a socket address is a URL");
                    let registering = transport::register_loop(
                        node.clone(),
                        hub.clone(),
                        me,
                        world.statuses[&m],
                        move |r| {
                            if let transport::Registration::Registered {
                                replaced: Some(other),
                                ..
                            } = r
                            {
                                tracing::warn!(
                                    "another node of {m} was registered with the hub at {other}; \
                                     this run's node took over (give --external {m} to leave \
                                     {m} to it)"
                                );
                            }
                        },
                    );
                    inner.spawn(async move {
                        let why = registering.await;
                        tracing::error!(why, "the hub refused a registration");
                    });
                    transport::node_publish_loop(node, world.clock, hub).await;
                }
            }
        };
        let span = tracing::info_span!("host", name = host.name());
        Ok(tasks.spawn(tracing::Instrument::instrument(task, span)))
    }

    fn settled(&self) -> bool {
        self.hub.as_ref().is_none_or(|h| h.backlog() == 0)
            && self.nodes.values().all(|n| n.pending() == 0)
    }
}

async fn log_stop(served: impl Future<Output = Result<(), transport::ServeError>>) {
    if let Err(e) = served.await {
        tracing::error!(%e, "server stopped");
    }
}

/// The socket address of `address` (a literal IP and port), if it has one.
fn socket_addr(address: &Address) -> Option<SocketAddr> {
    address.authority().parse().ok()
}

/// Binds `addr` again (after a crash the old socket may linger a moment).
pub(super) async fn bind_again(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let mut last = None;
    for _ in 0..50 {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(anyhow::anyhow!(
        "cannot listen on {addr}: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    ))
}

/// Running hosts and the crashes holding them down.
#[derive(Default)]
struct Hosts {
    tasks: JoinSet<()>,
    running: BTreeMap<Host, AbortHandle>,
    crashes: BTreeMap<Host, u32>,
}

/// Plays `scenario` live with `seed`'s traffic, writing events to `sink`,
/// until it has run its course or `stop` resolves.
pub async fn play(
    scenario: &Scenario,
    seed: u64,
    opts: &LiveOptions,
    sink: Arc<dyn EventSink>,
    say: Say,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<Played> {
    anyhow::ensure!(
        opts.speed.is_finite() && opts.speed > 0.0,
        "--speed must be a positive number"
    );
    for m in &opts.external {
        anyhow::ensure!(
            scenario.participants.contains(m),
            "--external {m}: not a participant of the scenario ({})",
            codes(&scenario.participants)
        );
    }
    let (mut traffic_rng, _) = plan::streams(seed);
    let plan = plan::plan(scenario, &mut traffic_rng);
    let tls = certificates(scenario, opts)?;
    let (addrs, hub_addr) = ports(scenario, opts).await?;
    let directory = Directory::fixed(addrs.iter().filter_map(|(h, a)| match h {
        Host::Node(m) => Some((
            *m,
            format!("http://{a}"),
            Peer::at(
                &format!("http://{a}").parse().ok()?,
                scenario.rpc,
                tls.get(&Host::Hub),
            ),
        )),
        Host::Hub => None,
    }));
    if opts.hub.is_none() && !opts.external.is_empty() {
        wait_for_externals(
            &directory,
            &opts.external,
            hub_addr,
            &say,
            scenario,
            tls.get(&Host::Hub),
        )
        .await?;
    }
    if opts.hub.is_some() {
        let ahead = scenario
            .duration
            .saturating_sub(scenario.duration.div_f64(opts.speed));
        if ahead > crate::model::Envelope::MAX_AHEAD {
            say(&format!(
                "warning: at {}× this run's clock gets {} ahead of the hub's, which refuses \
                 messages created more than {} ahead of it: lower --speed, or play with the \
                 run's own hub (no --hub)",
                opts.speed,
                crate::format::human(ahead.as_millis() as u64),
                crate::format::human(crate::model::Envelope::MAX_AHEAD.as_millis() as u64)
            ));
        }
    }
    if opts.hub.is_some() && !opts.external.is_empty() {
        say(&format!(
            "playing against the hub at {hub_addr}: make sure {} has joined it (this run \
             cannot see its registrations)",
            codes(&opts.external)
        ));
    }

    // t=0: now that every host the run needs is there.
    let wall_start = super::wall_now();
    let clock = Controlled::new(scenario.epoch(), opts.speed);
    // The console sees every event, as the log's sinks do.
    let feed = Arc::new(crate::console::Feed::default());
    let sink: Arc<dyn EventSink> = match opts.dashboard {
        Some(_) => Arc::new(crate::events::FanOut::new(vec![sink, feed.clone()])),
        None => sink,
    };
    let log = Log::new(Arc::new(clock.clone()), sink);
    log.record(EventBody::Started {
        process: format!("run --live --speed {}", opts.speed),
        wall: super::journal::rfc3339(wall_start),
    });
    let world = World::new(
        scenario,
        opts,
        &log,
        clock.clone(),
        directory,
        (addrs, hub_addr),
        tls,
    );
    let hosts = Arc::new(tokio::sync::Mutex::new(
        world.start_all(&opts.external).await?,
    ));
    announce(scenario, opts, &world, &say);
    let _console = match opts.dashboard {
        Some(addr) => Some(
            super::steer::start(addr, scenario, &plan, &world, &log, feed.clone(), &say).await?,
        ),
        None => None,
    };

    let mut drivers = JoinSet::new();
    drivers.spawn(inject(world.clone(), scenario.clone(), plan.clone()));
    for f in &scenario.faults {
        drivers.spawn(fault(world.clone(), hosts.clone(), log.clone(), *f));
    }
    let reshares = crate::plan::reshares(scenario, &plan);
    if !reshares.is_empty() {
        let world = world.clone();
        drivers.spawn(async move {
            for r in reshares {
                world.clock.sleep_until_t(r.at).await;
                if let Some(node) = world.nodes.get(&r.by) {
                    node.pass_on(r.msg, r.to);
                }
            }
        });
    }
    if !scenario.amendments.is_empty() {
        match &world.hub {
            Some(hub) => drivers.spawn(amend(
                world.clone(),
                hub.clone(),
                scenario.amendments.clone(),
            )),
            None => {
                say("the scenario's amendments are not carried out: the hub runs elsewhere");
                drivers.spawn(async {})
            }
        };
    }
    let tracker = Tracker {
        world: &world,
        external: &opts.external,
        log: &log,
        wall_start,
        speed: opts.speed,
        remote_hub: opts.hub.is_some(),
    };
    tokio::select! {
        () = run_to_end(&world, scenario, &plan, &tracker) => {}
        () = stop => say("stopped early (Ctrl-C): the run directory holds what happened so far"),
    }
    let end = Duration::from_millis(clock.t());
    drivers.abort_all();
    hosts.lock().await.tasks.abort_all();
    let received = crate::sim::take_receipts(world.nodes.values(), scenario.epoch());
    Ok(Played {
        seed,
        plan,
        received,
        end,
    })
}

/// Tells the person running it what the run is about to do.
fn announce(scenario: &Scenario, opts: &LiveOptions, world: &World, say: &Say) {
    if !opts.external.is_empty() {
        say(&format!(
            "the run publishes the scripted messages of {} for it; its own node receives \
             its deliveries",
            codes(&opts.external)
        ));
    }
    say(&format!(
        "playing {} live at {}× ({} of scenario time in {} real); hub {}{}",
        scenario.name,
        opts.speed,
        crate::format::human(scenario.duration.as_millis() as u64),
        crate::format::human(world.clock.real(scenario.duration).as_millis() as u64),
        if opts.hub.is_some() { "at " } else { "on " },
        world.hub_addr,
    ));
}

/// Waits out the scenario's duration, then its drain while anything is
/// under way; against a hub the run does not run, asks it about the
/// external nodes' deliveries.
async fn run_to_end(world: &World, scenario: &Scenario, plan: &[Planned], tracker: &Tracker<'_>) {
    let clock = &world.clock;
    clock.sleep_until_t(scenario.duration).await;
    let deadline = scenario.duration + scenario.drain;
    let t = || Duration::from_millis(clock.t());
    while !world.settled() && t() < deadline {
        clock
            .sleep_until_t((t() + Duration::from_secs(1)).min(deadline))
            .await;
    }
    if tracker.remote_hub && !tracker.external.is_empty() {
        tracker.collect(plan, deadline).await;
    }
}

/// Plays `scenario` live (see [`play`]), streaming its events to `sink` as
/// well, then checks and summarises it as a simulated run is.
pub async fn play_checked(
    scenario: &Scenario,
    seed: u64,
    opts: &LiveOptions,
    sink: Arc<dyn EventSink>,
    say: Say,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<crate::run::Run> {
    let recorder = Arc::new(crate::events::Recorder::new());
    let both = Arc::new(crate::events::FanOut::new(vec![recorder.clone(), sink]));
    let played = play(scenario, seed, opts, both, say, stop).await?;
    let mut events = recorder.take();
    // Receipts learnt after the fact were logged late: back in time order.
    events.sort_by_key(|e| e.t);
    let output = crate::sim::RunOutput {
        seed,
        received: played.received,
        events,
        plan: played.plan,
        end: played.end,
    };
    Ok(crate::run::finish(scenario, output))
}

/// Against a hub the run does not run, the deliveries to external nodes are
/// learnt from the hub (`Hub.Track`) and logged as `delivered` at the run
/// time of the hub's acknowledgement.
struct Tracker<'a> {
    world: &'a World,
    external: &'a [Ministry],
    log: &'a Log,
    /// The wall-clock time of the run's t=0.
    wall_start: crate::model::Timestamp,
    speed: f64,
    /// Whether the hub is one the run does not run.
    remote_hub: bool,
}

impl Tracker<'_> {
    /// Asks the hub about every accepted message with an external
    /// recipient until none is pending or `deadline` passes; logs what it
    /// learnt.
    async fn collect(&self, plan: &[Planned], deadline: Duration) {
        // Each message is tracked as its originator, the one identity that
        // may always ask about it (with --tls, the hub checks).
        let mut peers = BTreeMap::new();
        let mut waiting: Vec<&Planned> = plan
            .iter()
            .filter(|p| {
                self.world.nodes[&p.envelope.originator].inspect(|n| {
                    matches!(n.outcome(&p.envelope.id), Some(crate::node::Outcome::Accepted { recipients })
                        if recipients.iter().any(|r| self.external.contains(r)))
                })
            })
            .collect();
        let mut logged = std::collections::BTreeSet::new();
        while !waiting.is_empty() {
            let mut still = Vec::new();
            for p in waiting {
                let from = Host::Node(p.envelope.originator);
                let hub = peers
                    .entry(from)
                    .or_insert_with(|| self.world.peer(from, Host::Hub, self.world.hub_addr));
                match transport::track(hub, &p.envelope.id.0).await {
                    Ok(Some(crate::hub::Tracked::Accepted(standings))) => {
                        let mut pending = false;
                        for (m, s) in standings
                            .into_iter()
                            .filter(|(m, _)| self.external.contains(m))
                        {
                            match s {
                                crate::hub::Standing::Pending => pending = true,
                                crate::hub::Standing::Delivered { at, .. } => {
                                    if logged.insert((p.envelope.id.clone(), m)) {
                                        self.delivered(p, m, at);
                                    }
                                }
                                crate::hub::Standing::Undeliverable { reason, .. } => {
                                    if logged.insert((p.envelope.id.clone(), m)) {
                                        self.log.record(EventBody::Undeliverable {
                                            msg: p.envelope.id.clone(),
                                            to: m,
                                            reason,
                                        });
                                    }
                                }
                            }
                        }
                        if pending {
                            still.push(p);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(msg = %p.envelope.id, e, "cannot track");
                        still.push(p);
                    }
                }
            }
            waiting = still;
            if waiting.is_empty() || Duration::from_millis(self.world.clock.t()) >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Logs `p` as delivered to `to` when the hub (on the wall clock) got
    /// the acknowledgement at `acked`.
    fn delivered(&self, p: &Planned, to: Ministry, acked: crate::model::Timestamp) {
        let real = Duration::from_millis(acked.since(self.wall_start));
        let t = if self.speed == 1.0 {
            real
        } else {
            real.mul_f64(self.speed)
        };
        let t = t.max(p.at);
        self.log.record_at(
            t.as_millis() as u64,
            EventBody::Delivered {
                msg: p.envelope.id.clone(),
                kind: p.envelope.kind,
                to,
                latency_ms: (t - p.at).as_millis() as u64,
            },
        );
    }
}

fn codes(ms: &[Ministry]) -> String {
    ms.iter().map(|m| m.code()).collect::<Vec<_>>().join(", ")
}

/// Hands each planned message to its node (or, for an external node, to
/// its operator's outbox) at its time.
async fn inject(world: World, scenario: Scenario, plan: Vec<Planned>) {
    for p in plan {
        world.clock.sleep_until_t(p.at).await;
        let label = p.inject.and_then(|i| scenario.injects[i].label.clone());
        if let Some(node) = world.nodes.get(&p.envelope.originator) {
            node.submit(Arc::clone(&p.envelope), label);
        }
    }
}

/// Amends the run's hub's agreement at each amendment's run time.
async fn amend(world: World, hub: Arc<HubHost>, amendments: Vec<crate::scenario::Scheduled>) {
    for a in amendments {
        world.clock.sleep_until_t(a.at).await;
        if let Err(e) = hub.amend(&a.amendment) {
            tracing::error!(%e, "amendment not applied");
        }
    }
}

/// Plays one fault for real: logs it, carries out what it can, logs what
/// it cannot, and heals it at its end.
async fn fault(world: World, hosts: Arc<tokio::sync::Mutex<Hosts>>, log: Log, f: Fault) {
    let (kind, targets) = match f.action {
        FaultAction::Partition(a, b) => (FaultKind::Partition, vec![a, b]),
        FaultAction::Degrade(a, b, _) => (FaultKind::Degrade, vec![a, b]),
        FaultAction::Crash(h) => (FaultKind::Crash, vec![h]),
    };
    world.clock.sleep_until_t(f.at).await;
    let until = f.at + f.lasts;
    log.record(EventBody::Fault {
        fault: kind,
        targets: targets.clone(),
        until_t: until.as_millis() as u64,
    });
    let reach = match f.action {
        FaultAction::Partition(a, b) | FaultAction::Degrade(a, b, _) => {
            Links::reach(a, b, |h| world.local(h))
        }
        FaultAction::Crash(h) if world.local(h) => Reach::Full,
        FaultAction::Crash(h) => Reach::None(format!("{} does not run in this process", h.name())),
    };
    if let Reach::Part(reason) | Reach::None(reason) = &reach {
        log.record(EventBody::FaultNotCarriedOut {
            fault: kind,
            targets: targets.clone(),
            reason: reason.clone(),
        });
    }
    let carried = !matches!(reach, Reach::None(_));
    if carried {
        match f.action {
            FaultAction::Partition(a, b) => world.links.partition(a, b),
            FaultAction::Degrade(a, b, l) => world.links.degrade(a, b, l),
            FaultAction::Crash(h) => crash(&world, &hosts, h).await,
        }
    }
    world.clock.sleep_until_t(until).await;
    if carried {
        match f.action {
            FaultAction::Partition(a, b) => world.links.heal_partition(a, b),
            FaultAction::Degrade(a, b, l) => world.links.heal_degrade(a, b, l),
            FaultAction::Crash(h) => restart(&world, &hosts, h).await,
        }
    }
    log.record(EventBody::Healed {
        fault: kind,
        targets,
    });
}

async fn crash(world: &World, hosts: &tokio::sync::Mutex<Hosts>, host: Host) {
    let mut h = hosts.lock().await;
    let n = h.crashes.entry(host).or_insert(0);
    *n += 1;
    if *n == 1 {
        if let Some(handle) = h.running.remove(&host) {
            handle.abort();
        }
        world.links.cut_host(host);
    }
}

async fn restart(world: &World, hosts: &tokio::sync::Mutex<Hosts>, host: Host) {
    let mut h = hosts.lock().await;
    let n = h.crashes.entry(host).or_insert(1);
    *n = n.saturating_sub(1);
    if *n > 0 {
        return;
    }
    match host {
        Host::Hub => {
            if let Some(hub) = &world.hub {
                hub.on_restart();
            }
        }
        Host::Node(m) => world.nodes[&m].on_restart(),
    }
    let tasks = &mut h.tasks;
    match world.start(host, tasks).await {
        Ok(handle) => {
            h.running.insert(host, handle);
        }
        Err(e) => tracing::error!(%e, host = host.name(), "cannot restart"),
    }
}
