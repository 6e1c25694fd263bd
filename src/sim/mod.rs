//! The deterministic driver: one process, one thread, virtual time, in
//! either of two network models behind one plan, one set of hosts and one
//! event-log contract (`network.model`, `run --net`):
//! - [`grpc`]: the hosts talk real gRPC (through [`crate::transport`]) over
//!   [`crate::simnet`] streams on tokio's paused clock: whenever every task
//!   is idle the clock jumps to the next timer, so the cost of a run grows
//!   with the number of events, not with the simulated duration;
//! - [`message`]: the same hosts, handed each call directly by a
//!   discrete-event queue that applies the same links, faults, deadlines and
//!   connection resets as explicit rules, with no protocol stack.
//!
//! **Invariant:** the run's only randomness is one ChaCha8 generator seeded
//! from the seed, split by [`crate::plan::streams`] into generated traffic and
//! network jitter. Nothing reads the wall clock, nothing iterates a hash map,
//! and every `select!` is `biased`.

mod grpc;
pub mod message;

use std::sync::Arc;
use std::time::Duration;

use crate::events::{Event, EventSink, FaultKind};
use crate::host::NodeHost;
use crate::model::Host;
use crate::plan::Planned;
use crate::scenario::{FaultAction, NetModel, Scenario};
use crate::simnet::{LinkFaults, Window, pair};
use crate::transport;

pub use crate::plan::DEFAULT_SEED;

/// Told how far a run has got: simulated time so far, and the scenario's
/// duration. Called about a hundred times a run.
pub type Progress = Arc<dyn Fn(Duration, Duration) + Send + Sync>;

pub use crate::report::rundir::Receipt;

/// What a run produced, besides the events it wrote to its sink.
#[derive(Debug, Clone)]
pub struct Played {
    pub seed: u64,
    /// Every message the run handed to a node, in submission order.
    pub plan: Vec<Planned>,
    /// What each node received, as it received it.
    pub received: Vec<Receipt>,
    /// When the run stopped (at least the scenario's duration).
    pub end: Duration,
}

/// What a run produced, with its event log kept in memory.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub seed: u64,
    /// What each node received, as it received it.
    pub received: Vec<Receipt>,
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

/// Plays `scenario` with `seed` in its network model (`scenario.net`),
/// writing every event to `sink` as it happens.
pub fn run_into(
    scenario: &Scenario,
    seed: u64,
    sink: Arc<dyn EventSink>,
    progress: Option<Progress>,
) -> Result<Played, SimError> {
    // The plan is the models' common ground: the same seed gives the same
    // messages in either, and the rest of the seed's stream is the jitter.
    let (mut traffic_rng, net_rng) = crate::plan::streams(seed);
    let plan = crate::plan::plan(scenario, &mut traffic_rng);
    Ok(match scenario.net {
        NetModel::Grpc => grpc::run(scenario, seed, plan, net_rng, sink, progress)?,
        NetModel::Message => message::run(scenario, seed, plan, net_rng, sink, progress),
    })
}

/// A fault's kind and targets, as its events name them.
pub(crate) fn fault_targets(action: FaultAction) -> (FaultKind, Vec<Host>) {
    match action {
        FaultAction::Partition(a, b) => (FaultKind::Partition, vec![a, b]),
        FaultAction::Degrade(a, b, _) => (FaultKind::Degrade, vec![a, b]),
        FaultAction::Crash(h) => (FaultKind::Crash, vec![h]),
    }
}

/// The partitions and degradations of `scenario`, as the network applies them.
fn link_faults(scenario: &Scenario) -> LinkFaults {
    let mut faults = LinkFaults::default();
    for f in &scenario.faults {
        let window = Window {
            from: f.at,
            until: f.at + f.lasts,
        };
        match f.action {
            FaultAction::Partition(a, b) => faults.partitions.push((pair(a, b), window)),
            FaultAction::Degrade(a, b, latency) => {
                faults.degradations.push((pair(a, b), window, latency))
            }
            FaultAction::Crash(_) => {}
        }
    }
    faults
}

/// Everything `nodes` received, node by node in code order, each inbox in
/// the order it was received. Takes the inboxes (the run is over) rather
/// than copying every envelope.
pub fn take_receipts<'a>(
    nodes: impl IntoIterator<Item = &'a Arc<NodeHost>>,
    epoch: crate::model::Timestamp,
) -> Vec<Receipt> {
    let mut out = Vec::new();
    for n in nodes {
        let to = n.ministry();
        let mut inbox: Vec<Receipt> = n
            .take_inbox()
            .into_iter()
            .map(|r| Receipt {
                to,
                t: r.at.since(epoch),
                envelope: r.envelope,
            })
            .collect();
        inbox.sort_by(|a, b| (a.t, &a.envelope.id).cmp(&(b.t, &b.envelope.id)));
        out.extend(inbox);
    }
    out
}

/// A simulated connection carries its host's identity, as a certificate
/// does on the live path with `--tls`: the hub's identity rules are
/// checked in every simulated run.
impl transport::Identified for crate::simnet::SimStream {
    fn caller(&self) -> crate::model::Caller {
        match self.peer() {
            Host::Hub => crate::model::Caller::Hub,
            Host::Node(m) => crate::model::Caller::Ministry(m),
        }
    }
}
