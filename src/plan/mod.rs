//! Planning a run: every message the nodes will be handed, with its time,
//! its content and its id, from the scenario and the seed alone.
//!
//! **Invariant:** pure. The seed is split, in a fixed order, into a stream for
//! generated traffic (consumed here) and a stream for network jitter (handed
//! to the driver), so changing the network does not change the traffic.

pub mod traffic;

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{Envelope, MessageId, Ministry};
use crate::scenario::Scenario;

/// The seed used when neither the scenario nor the command line gives one.
pub const DEFAULT_SEED: u64 = 1;

/// One message the run will hand to a node.
#[derive(Debug, Clone)]
pub struct Planned {
    /// When the node's operator submits it.
    pub at: Duration,
    /// Shared by the node's outbox and, in the message-level model, by the
    /// hub's record and every unredacted copy delivered.
    pub envelope: std::sync::Arc<Envelope>,
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
                    let references = inj.references.iter().map(|r| ids[r].clone()).collect();
                    inj.envelope(id, epoch, scenario.status_of(from), references)
                }
                None => {
                    let (handling, payload) = generated[key - scenario.injects.len()].clone();
                    Envelope {
                        status: scenario.status_of(from),
                        handling,
                        ..Envelope::alert(id, from, created, payload)
                    }
                }
            };
            Planned {
                at,
                envelope: std::sync::Arc::new(envelope),
                inject,
            }
        })
        .collect()
}

/// One scripted reshare, ready to hand to its node: at `at`, `by` asks to
/// pass `msg` on to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassOn {
    pub at: Duration,
    pub by: Ministry,
    pub msg: MessageId,
    pub to: Ministry,
}

/// The scenario's reshares against `plan` (which gives each inject its
/// message id), in time order.
pub fn reshares(scenario: &Scenario, plan: &[Planned]) -> Vec<PassOn> {
    let ids: BTreeMap<usize, &MessageId> = plan
        .iter()
        .filter_map(|p| Some((p.inject?, &p.envelope.id)))
        .collect();
    let mut out: Vec<PassOn> = scenario
        .reshares
        .iter()
        .flat_map(|r| {
            r.to.iter().map(|&to| PassOn {
                at: r.at,
                by: r.by,
                msg: ids[&r.inject].clone(),
                to,
            })
        })
        .collect();
    out.sort_by_key(|p| p.at);
    out
}

/// The run's two random streams, split from the root generator in a fixed
/// order: generated traffic first, then network jitter.
pub fn streams(seed: u64) -> (ChaCha8Rng, ChaCha8Rng) {
    let mut root = ChaCha8Rng::seed_from_u64(seed);
    let traffic = ChaCha8Rng::seed_from_u64(root.random());
    let net = ChaCha8Rng::seed_from_u64(root.random());
    (traffic, net)
}

/// The messages a run of `scenario` with `seed` hands to its nodes: the same
/// plan [`run`] plays, without playing it.
pub fn plan_for(scenario: &Scenario, seed: u64) -> Vec<Planned> {
    plan(scenario, &mut streams(seed).0)
}
