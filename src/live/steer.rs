//! The live side of the trainer's console: the run's controls (pause,
//! resume, step, speed, an improvised inject, cutting and healing a link),
//! each recorded as a `control` event, and the messages' content for the
//! inboxes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::play::{Say, World};
use crate::console::{Action, Console, Content, Controls, Feed, InjectMark, Meta};
use crate::events::{Clock, EventBody, FaultKind, Log};
use crate::host::lock;
use crate::model::{Envelope, Host, Ministry};
use crate::plan::Planned;
use crate::policy::Policy;
use crate::scenario::Scenario;

/// The next number of a message `from` improvises (1, 2, …).
fn next_improvised(counts: &Mutex<BTreeMap<Ministry, u32>>, from: Ministry) -> u32 {
    let mut counts = lock(counts);
    let n = counts.entry(from).or_insert(0);
    *n += 1;
    *n
}

/// The messages of a live run, by id: the plan's and those improvised.
struct LiveContent {
    messages: Mutex<BTreeMap<String, Envelope>>,
    policy: Policy,
}

impl Content for LiveContent {
    fn message(&self, id: &str, to: Option<Ministry>) -> Option<Envelope> {
        let env = lock(&self.messages).get(id).cloned()?;
        Some(match to {
            Some(to) => self.policy.copy_for(&env, to).0,
            None => env,
        })
    }
}

/// The trainer's controls over a live run.
struct LiveControls {
    world: World,
    log: Log,
    content: Arc<LiveContent>,
    /// Scheduled injects' run times, for `step`.
    injects: Vec<Duration>,
    /// Links cut from the console, with when.
    cuts: Mutex<BTreeMap<Ministry, u64>>,
    /// Improvised messages so far, per sender, for their ids.
    improvised: Mutex<BTreeMap<Ministry, u32>>,
}

impl LiveControls {
    fn record(&self, action: &str, detail: String) {
        self.log.record(EventBody::Control {
            by: "console".into(),
            action: action.into(),
            detail,
        });
    }
}

impl Controls for LiveControls {
    fn act(&self, action: Action) -> Result<String, String> {
        let clock = &self.world.clock;
        let done = match action {
            Action::Pause => {
                clock.pause();
                self.record("pause", String::new());
                "paused".to_string()
            }
            Action::Resume => {
                clock.resume();
                self.record("resume", String::new());
                "resumed".to_string()
            }
            Action::Speed { speed } => {
                if !(speed.is_finite() && speed > 0.0 && speed <= 1_000_000.0) {
                    return Err(format!("speed {speed} is not between 0 and 1,000,000"));
                }
                clock.set_speed(speed);
                self.world.links.set_speed(speed);
                self.record("speed", format!("{speed}×"));
                format!("speed {speed}×")
            }
            Action::Step => {
                let now = Duration::from_millis(clock.t());
                let Some(next) = self.injects.iter().find(|t| **t > now) else {
                    return Err("no scheduled inject is left".into());
                };
                clock.advance_to(clock.origin().after(*next));
                self.record(
                    "step",
                    format!("to {}", crate::format::offset(next.as_millis() as u64)),
                );
                format!(
                    "moved on to {}",
                    crate::format::offset(next.as_millis() as u64)
                )
            }
            Action::Inject { from, message } => self.inject(from, &message)?,
            Action::Cut { ministry } => {
                let mut cuts = lock(&self.cuts);
                if cuts.contains_key(&ministry) {
                    return Err(format!("{ministry}'s link is cut already"));
                }
                self.world.links.partition(Host::Hub, Host::Node(ministry));
                cuts.insert(ministry, clock.t());
                self.record("cut", ministry.code().into());
                format!("cut {ministry}'s link to the hub")
            }
            Action::Heal { ministry } => {
                let Some(from) = lock(&self.cuts).remove(&ministry) else {
                    return Err(format!("{ministry}'s link is not cut"));
                };
                self.world
                    .links
                    .heal_partition(Host::Hub, Host::Node(ministry));
                let targets = vec![Host::Node(ministry), Host::Hub];
                self.log.record_at(
                    from,
                    EventBody::Fault {
                        fault: FaultKind::Partition,
                        targets: targets.clone(),
                        until_t: clock.t(),
                    },
                );
                self.log.record(EventBody::Healed {
                    fault: FaultKind::Partition,
                    targets,
                });
                self.record("heal", ministry.code().into());
                format!("healed {ministry}'s link to the hub")
            }
        };
        self.world.wake_all();
        Ok(done)
    }

    fn clock(&self) -> serde_json::Value {
        let s = self.world.clock.state();
        serde_json::json!({
            "now_ms": s.now.0,
            "t": s.t,
            "speed": s.speed,
            "paused": s.paused,
            "cut": lock(&self.cuts).keys().collect::<Vec<_>>(),
        })
    }
}

impl LiveControls {
    /// Sends a message written on the console's form, as `from`.
    fn inject(&self, from: Ministry, message: &str) -> Result<String, String> {
        let Some(node) = self.world.nodes.get(&from) else {
            return Err(format!("{from} does not take part in this run"));
        };
        let n = next_improvised(&self.improvised, from);
        let id = format!("{}-C{n:04}", from.code());
        let now = self.world.clock.now();
        let envelope = crate::scenario::message("the console's form", message, from, now, &id)
            .map_err(|e| e.to_string())?;
        let id = envelope.id.0.clone();
        lock(&self.content.messages).insert(id.clone(), envelope.clone());
        self.record(
            "inject",
            format!("{id} {} from {from} [{}]", envelope.kind, envelope.handling),
        );
        node.submit(
            Arc::new(envelope),
            Some(format!("console-{}-{n}", from.code())),
        );
        Ok(format!("{id} handed to {from}'s node"))
    }
}

/// Starts the console of a live run on `addr`; it serves until the run ends.
pub(super) async fn start(
    addr: SocketAddr,
    scenario: &Scenario,
    plan: &[Planned],
    world: &World,
    log: &Log,
    feed: Arc<Feed>,
    say: &Say,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use anyhow::Context;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (--dashboard)"))?;
    let bound = listener.local_addr()?;
    let policy = scenario.policy.clone();
    let content = Arc::new(LiveContent {
        messages: Mutex::new(
            plan.iter()
                .map(|p| (p.envelope.id.0.clone(), Envelope::clone(&p.envelope)))
                .collect(),
        ),
        policy: policy.clone(),
    });
    let injects = plan
        .iter()
        .filter(|p| p.inject.is_some())
        .map(|p| p.at)
        .collect();
    let controls = Arc::new(LiveControls {
        world: world.clone(),
        log: log.clone(),
        content: content.clone(),
        injects,
        cuts: Mutex::new(BTreeMap::new()),
        improvised: Mutex::new(BTreeMap::new()),
    });
    let console = Console {
        meta: Arc::new(meta(
            scenario,
            plan,
            &policy,
            "live",
            world.clock.state().speed,
        )),
        feed,
        content,
        controls: Some(controls),
    };
    say(&format!("trainer's console on http://{bound}/"));
    Ok(tokio::spawn(async move {
        if let Err(e) = crate::console::serve(console, listener, std::future::pending()).await {
            tracing::error!(%e, "the console stopped");
        }
    }))
}

/// What the console page is told of `scenario` before any event.
pub fn meta(
    scenario: &Scenario,
    plan: &[Planned],
    policy: &Policy,
    mode: &'static str,
    speed: f64,
) -> Meta {
    Meta {
        mode,
        name: scenario.name.clone(),
        title: scenario.title.clone(),
        start_ms: scenario.epoch().0,
        offset_min: scenario.start.offset().local_minus_utc() / 60,
        duration_ms: scenario.duration.as_millis() as u64,
        participants: scenario.participants.clone(),
        roles: crate::console::roles(policy, &scenario.participants),
        primary_role: crate::console::primary_role(policy),
        injects: plan
            .iter()
            .filter_map(|p| {
                let i = p.inject?;
                Some(InjectMark {
                    t: p.at.as_millis() as u64,
                    from: p.envelope.originator,
                    label: scenario.injects[i]
                        .label
                        .clone()
                        .unwrap_or_else(|| p.envelope.id.0.clone()),
                })
            })
            .collect(),
        speed,
        controls: crate::console::ALL_CONTROLS.to_vec(),
    }
}

/// The messages a standalone hub has answered, from its journal.
struct HubContent {
    host: Arc<crate::host::HubHost>,
}

impl Content for HubContent {
    fn message(&self, id: &str, to: Option<Ministry>) -> Option<Envelope> {
        self.host.inspect(|h| {
            let env = h.journal().find(|(e, _)| e.id.0 == id)?.0.clone();
            Some(match to {
                Some(to) => h.policy().copy_for(&env, to).0,
                None => env,
            })
        })
    }
}

/// The trainer's controls on a standalone hub: it runs on the wall clock,
/// so only an improvised message, published as the ministry the form names.
struct HubControls {
    host: Arc<crate::host::HubHost>,
    log: Log,
    improvised: Mutex<BTreeMap<Ministry, u32>>,
}

impl Controls for HubControls {
    fn act(&self, action: Action) -> Result<String, String> {
        let Action::Inject { from, message } = action else {
            return Err(
                "a standalone hub runs on the wall clock: only improvised messages here \
                        (pause, speed, step and links are for run --live)"
                    .into(),
            );
        };
        let n = next_improvised(&self.improvised, from);
        let now = self.log.clock().now();
        // The wall time in the id: a restarted hub never reuses one, which
        // nodes that saw the first would discard as a redelivery.
        let id = format!("{}-C{}-{n}", from.code(), now.0);
        let envelope =
            crate::scenario::message("the console's form", message.as_str(), from, now, &id)
                .map_err(|e| e.to_string())?;
        let id = envelope.id.0.clone();
        self.log.record(EventBody::Control {
            by: "console".into(),
            action: "inject".into(),
            detail: format!("{id} {} from {from} [{}]", envelope.kind, envelope.handling),
        });
        match self.host.on_publish(std::sync::Arc::new(envelope), 1) {
            Ok(p) => Ok(format!(
                "{id} accepted for {}",
                p.recipients
                    .iter()
                    .map(|m| m.code())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Err(r) => Err(format!("{id} refused: {}", r.reason())),
        }
    }

    fn clock(&self) -> serde_json::Value {
        let c = self.log.clock();
        serde_json::json!({"now_ms": c.now().0, "t": c.t(), "speed": 1.0, "paused": false, "cut": []})
    }
}

/// The console of a standalone hub (`gcif-sim hub --dashboard`).
pub fn hub_console(
    host: Arc<crate::host::HubHost>,
    log: Log,
    feed: Arc<Feed>,
    title: String,
) -> Console {
    let (participants, roles, primary_role) = host.inspect(|h| {
        let p: Vec<Ministry> = h.policy().participants().collect();
        let roles = crate::console::roles(h.policy(), &p);
        (p, roles, crate::console::primary_role(h.policy()))
    });
    let clock = log.clock().clone();
    let meta = Meta {
        mode: "live",
        name: "live-hub".into(),
        title,
        start_ms: clock.origin().0,
        offset_min: 0,
        duration_ms: 0,
        participants,
        roles,
        primary_role,
        injects: Vec::new(),
        speed: 1.0,
        controls: vec!["inject"],
    };
    Console {
        meta: Arc::new(meta),
        feed,
        content: Arc::new(HubContent { host: host.clone() }),
        controls: Some(Arc::new(HubControls {
            host,
            log,
            improvised: Mutex::new(BTreeMap::new()),
        })),
    }
}
