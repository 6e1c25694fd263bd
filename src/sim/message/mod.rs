//! The message-level network model: the same [`HubHost`] and [`NodeHost`]
//! as every other driver, handed each call directly by a discrete-event
//! queue, with no protocol stack in between.
//!
//! Time is the queue's: an event runs at its instant, in the order it was
//! scheduled among those of the same instant, and the hosts read the time
//! from [`SimClock`]. The rules, each the message-level form of what the
//! gRPC model gets from tonic, hyper and [`crate::simnet`]:
//! - **Links**: every transmission (a connection's handshake each way, a
//!   request, a response, a reset) takes [`Links::arrival`], the one rule
//!   both models share: latency (or a degradation's), ± jitter from the
//!   run's RNG, held back past any partition covering the moment it leaves.
//!   A connection keeps each direction in order, as a byte stream does.
//! - **Connections**: a client holds one connection per peer (the hub one
//!   per recipient, a node one to the hub), opened by its first call and
//!   shared by the calls after it. Opening takes a round trip and is
//!   refused if the two are partitioned when it starts, or the server is
//!   down when the handshake would reach back; every call waiting on it
//!   then fails as *unreachable*. A call that fails that way (refused,
//!   reset, deadline) drops the connection, so the next call opens a new
//!   one, as the tonic adapter drops a failed channel.
//! - **Calls**: a request reaches the server after the link's delay and is
//!   handled at once (the host answers as in the gRPC service: identity
//!   checked, the hub's refusal mapped to the status and class the `.proto`
//!   gives); the answer takes the link back. A call not answered within the
//!   RPC deadline (`protocol.rpc_timeout`) fails as *no answer before the
//!   deadline*; a request that reaches the server after that is still
//!   handled, as a real server handles a request it already read.
//! - **Crashes**: the crashed host stops (its calls in flight are abandoned,
//!   its pending wake-ups dropped) and its connections reset: on its side at
//!   once, on the peer's side when the reset reaches it. A request reaching
//!   a reset side is lost; a call whose connection resets before its answer
//!   arrives fails as *unreachable*. On restart the host's `on_restart`
//!   makes its in-flight work ready again, as in the gRPC model.
//!
//! Where it departs from the gRPC model: no HTTP/2 framing, flow control or
//! per-connection call limits (the windows of 16 deliveries and 8 publishes
//! stay below them); no envelope size check on the way in (an envelope
//! within `Envelope::validate`'s limits is far below 1 MiB, so only the
//! reason given for an oversized one could differ); times are kept in
//! microseconds, not rounded up to tokio's millisecond timer; the jitter
//! draws fall in another order. Same seed, same model: the same log, byte
//! for byte.

use std::cmp::Ordering as CmpOrdering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;

mod calls;

use super::{Played, Progress, fault_targets, link_faults, take_receipts};
use crate::events::{self, Clock, EventBody, EventSink, Log};
use crate::host::{HubHost, NodeHost};
use crate::hub::Hub;
use crate::model::{Host, Ministry, Timestamp};
use crate::node::Node;
use crate::plan::{self, Planned};
use crate::scenario::{FaultAction, Scenario};
use crate::simnet::Links;
use calls::{Call, Conn, Fail, What};

/// Simulated time: microseconds since t=0.
type Us = u64;

fn us(d: Duration) -> Us {
    d.as_micros().min(u64::MAX as u128) as u64
}

/// The model's clock: the queue's now, as the hosts and the log read it.
#[derive(Clone)]
struct SimClock {
    now: Arc<AtomicU64>,
    epoch: Timestamp,
}

impl Clock for SimClock {
    fn now(&self) -> Timestamp {
        self.epoch
            .after(Duration::from_micros(self.now.load(Ordering::Relaxed)))
    }

    fn origin(&self) -> Timestamp {
        self.epoch
    }
}

/// Plays `scenario` with `seed` in the message-level model, writing every
/// event to `sink` as it happens.
pub(super) fn run(
    scenario: &Scenario,
    seed: u64,
    plan: Vec<Planned>,
    net_rng: ChaCha8Rng,
    sink: Arc<dyn EventSink>,
    progress: Option<Progress>,
) -> Played {
    let clock = SimClock {
        now: Arc::new(AtomicU64::new(0)),
        epoch: scenario.epoch(),
    };
    let _entered = events::clock::enter(Arc::new(clock.clone()));
    let log = Log::new(Arc::new(clock.clone()), sink);
    let links = Links::new(scenario.topology.clone(), link_faults(scenario), net_rng);
    let mut model = Model::new(scenario, plan, clock, log, links, progress);
    let end = model.play();
    let received = take_receipts(model.nodes.values(), scenario.epoch());
    Played {
        seed,
        plan: model.plan,
        received,
        end: Duration::from_micros(end),
    }
}

/// Something the script does at its time.
enum Action {
    Submit(usize),
    FaultStarts(usize),
    FaultEnds(usize),
    Amend(usize),
    PassOn(usize),
    Progress(u32),
}

/// What an event of the queue does.
#[derive(Debug, Clone, Copy)]
enum Ev {
    /// The script's next action.
    Script(usize),
    /// A host polls its state machine (if it is still the same incarnation).
    Poll(Host, u32),
    /// A connection's handshake is back at the client.
    Connected(usize),
    /// A call's request reaches the server.
    Request(u64),
    /// A call's answer reaches the client.
    Response(u64),
    /// A call's connection reset reaches the client.
    Reset(u64),
    /// A call's deadline passes.
    Deadline(u64),
    /// The end of the run is checked: settled, or the drain is over.
    Settle,
}

struct Due {
    at: Us,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    /// Reversed, so the heap pops the earliest (then the first scheduled).
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A host as the model runs it.
#[derive(Default)]
struct Slot {
    up: bool,
    /// Bumped by each crash: events of an earlier incarnation are dropped.
    epoch: u32,
    /// The earliest poll scheduled, if any.
    timer: Option<Us>,
    /// An immediate poll is queued.
    woken: bool,
    /// Crashes now holding it down (they may overlap).
    crashes: u32,
}

struct Model<'a> {
    scenario: &'a Scenario,
    now: Us,
    clock: SimClock,
    log: Log,
    queue: BinaryHeap<Due>,
    seq: u64,
    links: Links,
    hub: HubHost,
    nodes: BTreeMap<Ministry, Arc<NodeHost>>,
    hosts: BTreeMap<Host, Slot>,
    /// Each client's connection to each server.
    chans: BTreeMap<(Host, Host), usize>,
    conns: Vec<Conn>,
    calls: HashMap<u64, Call>,
    next_call: u64,
    timeout: Us,
    plan: Vec<Planned>,
    reshares: Vec<plan::PassOn>,
    script: Vec<(Us, Action)>,
    progress: Option<Progress>,
}

impl<'a> Model<'a> {
    fn new(
        scenario: &'a Scenario,
        plan: Vec<Planned>,
        clock: SimClock,
        log: Log,
        links: Links,
        progress: Option<Progress>,
    ) -> Model<'a> {
        let hub = HubHost::new(
            Hub::new(scenario.policy.clone(), scenario.delivery),
            log.clone(),
        );
        let nodes = scenario
            .participants
            .iter()
            .map(|&m| {
                let node = Node::new(m, scenario.publish);
                (m, Arc::new(NodeHost::new(node, log.clone())))
            })
            .collect();
        let mut hosts = BTreeMap::new();
        for h in
            std::iter::once(Host::Hub).chain(scenario.participants.iter().map(|&m| Host::Node(m)))
        {
            hosts.insert(
                h,
                Slot {
                    up: true,
                    ..Slot::default()
                },
            );
        }
        let reshares = plan::reshares(scenario, &plan);
        let script = script(scenario, &plan, &reshares, progress.is_some());
        Model {
            scenario,
            now: 0,
            clock,
            log,
            queue: BinaryHeap::new(),
            seq: 0,
            links,
            hub,
            nodes,
            hosts,
            chans: BTreeMap::new(),
            conns: Vec::new(),
            calls: HashMap::new(),
            next_call: 0,
            timeout: us(scenario.rpc.timeout),
            plan,
            reshares,
            script,
            progress,
        }
    }

    fn push(&mut self, at: Us, ev: Ev) {
        self.seq += 1;
        self.queue.push(Due {
            at,
            seq: self.seq,
            ev,
        });
    }

    fn slot(&mut self, h: Host) -> &mut Slot {
        self.hosts.entry(h).or_default()
    }

    /// Runs the queue until the run settles after its duration or the drain
    /// is over; returns when it stopped.
    fn play(&mut self) -> Us {
        let duration = us(self.scenario.duration);
        let deadline = duration + us(self.scenario.drain);
        if let Some(&(at, _)) = self.script.first() {
            self.push(at, Ev::Script(0));
        }
        for h in self.hosts.keys().copied().collect::<Vec<_>>() {
            self.wake(h);
        }
        self.push(duration, Ev::Settle);
        while let Some(due) = self.queue.pop() {
            self.now = due.at;
            self.clock.now.store(due.at, Ordering::Relaxed);
            match due.ev {
                Ev::Script(i) => self.script_step(i),
                Ev::Poll(h, epoch) => self.poll(h, epoch),
                Ev::Connected(c) => self.connected(c),
                Ev::Request(id) => self.request(id),
                Ev::Response(id) => self.response(id),
                Ev::Reset(id) => self.end_call(id, Some(Fail::Unreachable)),
                Ev::Deadline(id) => self.end_call(id, Some(Fail::Deadline)),
                Ev::Settle => {
                    if self.settled() || self.now >= deadline {
                        return self.now;
                    }
                    self.push((self.now + 1_000_000).min(deadline), Ev::Settle);
                }
            }
        }
        self.now
    }

    fn settled(&self) -> bool {
        self.hub.backlog() == 0 && self.nodes.values().all(|n| n.pending() == 0)
    }

    fn script_step(&mut self, i: usize) {
        let scenario = self.scenario;
        match self.script[i].1 {
            Action::Submit(k) => {
                let p = &self.plan[k];
                let label = p.inject.and_then(|x| scenario.injects[x].label.clone());
                let from = p.envelope.originator;
                self.nodes[&from].submit(p.envelope.clone(), label);
                self.wake(Host::Node(from));
            }
            Action::FaultStarts(k) => {
                let f = &scenario.faults[k];
                let (kind, targets) = fault_targets(f.action);
                self.log.record(EventBody::Fault {
                    fault: kind,
                    targets,
                    until_t: (f.at + f.lasts).as_millis() as u64,
                });
                if let FaultAction::Crash(h) = f.action {
                    self.crash(h);
                }
            }
            Action::FaultEnds(k) => {
                let f = &scenario.faults[k];
                if let FaultAction::Crash(h) = f.action {
                    self.heal(h);
                }
                let (fault, targets) = fault_targets(f.action);
                self.log.record(EventBody::Healed { fault, targets });
            }
            Action::Amend(k) => {
                if let Err(e) = self.hub.amend(&scenario.amendments[k].amendment) {
                    tracing::error!(%e, "amendment not applied");
                }
            }
            Action::PassOn(k) => {
                let r = &self.reshares[k];
                self.nodes[&r.by].pass_on(r.msg.clone(), r.to);
                self.wake(Host::Node(r.by));
            }
            Action::Progress(n) => {
                if let Some(progress) = &self.progress {
                    let total = scenario.duration;
                    progress(total * n / 100, total);
                }
            }
        }
        if let Some(&(at, _)) = self.script.get(i + 1) {
            self.push(at, Ev::Script(i + 1));
        }
    }

    /// Queues an immediate poll of `h` (the host was handed new work).
    fn wake(&mut self, h: Host) {
        let now = self.now;
        let slot = self.slot(h);
        if slot.up && !slot.woken {
            slot.woken = true;
            let epoch = slot.epoch;
            self.push(now, Ev::Poll(h, epoch));
        }
    }

    fn poll(&mut self, h: Host, epoch: u32) {
        let now = self.now;
        let slot = self.slot(h);
        if slot.epoch != epoch || !slot.up {
            return;
        }
        slot.woken = false;
        if slot.timer == Some(now) {
            slot.timer = None;
        }
        let next = match h {
            Host::Hub => {
                let (due, next) = self.hub.poll();
                for d in due {
                    let to = Host::Node(d.to);
                    self.start_call(Host::Hub, to, What::Deliver(d, None));
                }
                next
            }
            Host::Node(m) => {
                let node = self.nodes[&m].clone();
                let (due, next) = node.poll();
                for p in due {
                    self.start_call(h, Host::Hub, What::Publish(p, None));
                }
                for r in node.poll_reshares() {
                    self.start_call(h, Host::Hub, What::Reshare(r, None));
                }
                next
            }
        };
        if let Some(next) = next {
            let mut at = next.since(self.clock.epoch).saturating_mul(1000);
            if at <= now {
                // Due already (the hosts count milliseconds): the next one.
                at = (now / 1000 + 1) * 1000;
            }
            let slot = self.slot(h);
            if slot.timer.is_none_or(|t| at < t || t < now) {
                slot.timer = Some(at);
                self.push(at, Ev::Poll(h, epoch));
            }
        }
    }

    /// The last crash holding `h` down ends: it restarts.
    fn heal(&mut self, h: Host) {
        let slot = self.slot(h);
        slot.crashes = slot.crashes.saturating_sub(1);
        if slot.crashes > 0 {
            return;
        }
        slot.up = true;
        match h {
            Host::Hub => self.hub.on_restart(),
            Host::Node(m) => self.nodes[&m].on_restart(),
        }
        self.wake(h);
    }
}

/// Everything the scenario does at a time of its own, in time order: the
/// submissions, reshares and amendments each in their order (a late one
/// waits for the one before, as a sequential driver would), faults starting
/// and ending, and the hundred progress reports.
fn script(
    scenario: &Scenario,
    plan: &[Planned],
    reshares: &[plan::PassOn],
    progress: bool,
) -> Vec<(Us, Action)> {
    fn in_order(times: impl Iterator<Item = Duration>) -> impl Iterator<Item = Us> {
        times.scan(0, |last, t| {
            *last = us(t).max(*last);
            Some(*last)
        })
    }
    let mut script: Vec<(Us, Action)> = Vec::with_capacity(plan.len() + 16);
    script.extend(in_order(plan.iter().map(|p| p.at)).zip((0..).map(Action::Submit)));
    script.extend(in_order(reshares.iter().map(|r| r.at)).zip((0..).map(Action::PassOn)));
    script.extend(in_order(scenario.amendments.iter().map(|a| a.at)).zip((0..).map(Action::Amend)));
    for (k, f) in scenario.faults.iter().enumerate() {
        script.push((us(f.at), Action::FaultStarts(k)));
        script.push((us(f.at + f.lasts), Action::FaultEnds(k)));
    }
    if progress {
        let total = scenario.duration;
        script.extend((1..=100u32).map(|i| (us(total * i / 100), Action::Progress(i))));
    }
    script.sort_by_key(|(at, _)| *at);
    script
}
