//! The GCIF hub as a plain state machine: validate, de-duplicate, route by
//! policy, journal, queue per recipient, deliver at least once.
//!
//! **Invariant:** no I/O, no clock, no randomness. Every method takes `now`; the
//! transport layer turns the returned attempts into RPCs and reports back.
//! The journal (`records` and the queues) is what a real hub would keep on disk:
//! in the simulation it outlives a crash of the hub's host, and
//! [`Hub::on_restart`] forgets only what was in flight.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::{Envelope, MessageId, MessageType, Ministry, Timestamp};
use crate::policy::{Amendment, Policy, PolicyError, Redaction, Routing, Withheld};
use crate::retry::{Attempt, Backoff, Causal, RetryQueue, Seq};

/// Tuning of the hub's delivery loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// Backoff on an unreachable recipient.
    pub backoff: Backoff,
    /// Deliveries in flight to one recipient at once.
    pub window: usize,
    /// The most messages that may wait for one recipient (queued, held or in
    /// flight). A publish or reshare that would add one more is refused with
    /// [`Refusal::Busy`] until the recipient has taken some: a recipient that
    /// is slow or down holds back only the messages routed to it, and the
    /// hub's memory stays bounded.
    pub max_pending: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            backoff: Backoff::default(),
            window: 16,
            max_pending: DEFAULT_MAX_PENDING,
        }
    }
}

/// [`DeliveryConfig::max_pending`] unless set: a million messages waiting
/// for one recipient.
pub const DEFAULT_MAX_PENDING: usize = 1_000_000;

/// Why the hub refused a message. Each maps to its own gRPC status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Malformed: INVALID_ARGUMENT.
    Invalid(String),
    /// Forbidden by policy: PERMISSION_DENIED.
    Forbidden(String),
    /// The id was used before for another message: ALREADY_EXISTS.
    Conflict(String),
    /// The message referred to is not one the hub accepted: NOT_FOUND.
    Unknown(String),
    /// A recipient has [`DeliveryConfig::max_pending`] messages waiting
    /// already: RESOURCE_EXHAUSTED, to be retried after `retry_after`. Not
    /// recorded: the retry is decided afresh.
    Busy {
        reason: String,
        /// The recipients with no room.
        full: Vec<Ministry>,
        retry_after: std::time::Duration,
    },
}

impl Refusal {
    /// The human-readable reason.
    pub fn reason(&self) -> &str {
        match self {
            Refusal::Invalid(r)
            | Refusal::Forbidden(r)
            | Refusal::Conflict(r)
            | Refusal::Unknown(r)
            | Refusal::Busy { reason: r, .. } => r,
        }
    }
}

/// The hub's answer to a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishOutcome {
    /// Journalled; will be delivered to `recipients`. `first` is false for a
    /// retried publish of a message already accepted. `withheld` says who the
    /// policy kept it from (on every answer), `redacted` which fields it
    /// cleared from whose copies (on the first answer only).
    Accepted {
        recipients: Vec<Ministry>,
        first: bool,
        withheld: Vec<Withheld>,
        redacted: Vec<Redaction>,
        /// For an UPDATE of another participant's message: says so.
        note: Option<String>,
    },
    /// Refused. `first` is false when the same id was refused before.
    Refused { refusal: Refusal, first: bool },
}

/// One delivery the transport must now attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub to: Ministry,
    pub seq: Seq,
    /// The recipient's copy, with what the policy withholds from it
    /// changed: the message itself, shared, when nothing is.
    pub envelope: Arc<Envelope>,
    /// What was changed in this copy, and why.
    pub redactions: Vec<Redaction>,
    /// 1 for the first attempt.
    pub attempt: u32,
}

#[derive(Debug, Clone)]
enum Record {
    Accepted {
        envelope: Arc<Envelope>,
        recipients: Vec<Ministry>,
        withheld: Vec<Withheld>,
        /// The policy it was routed by (index into `Hub::policies`): its
        /// copies are made as they were decided, whatever is amended later.
        version: usize,
        /// Participants it was passed on to after routing.
        reshared: Vec<Reshared>,
        /// How its deliveries ended, per recipient (those not here are
        /// pending): a few entries, kept with the message rather than in a
        /// map of their own.
        ended: Vec<(Ministry, Standing)>,
    },
    /// Refused: the same content gets the same answer; corrected content
    /// under the same id is decided afresh.
    Refused {
        envelope: Arc<Envelope>,
        refusal: Refusal,
    },
}

/// One passing on of an accepted message: `by` passed it to `to` under
/// the policy `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reshared {
    to: Ministry,
    by: Ministry,
    version: usize,
}

/// The copy `r.to` gets of `envelope` passed on by `r.by`: `r.by`'s copy
/// under the policy it was accepted by (`version`), redacted again for
/// `r.to` under the policy of the reshare: the same redactions or stricter.
fn passed_on(
    policies: &[Policy],
    envelope: &Arc<Envelope>,
    version: usize,
    r: &Reshared,
) -> (Arc<Envelope>, Vec<Redaction>) {
    let (theirs, mut redactions) = if r.by == envelope.originator {
        (Arc::clone(envelope), Vec::new())
    } else {
        policies[version].copy_for_shared(envelope, r.by)
    };
    for x in &mut redactions {
        x.to = r.to;
    }
    let (copy, more) = policies[r.version].copy_for_shared(&theirs, r.to);
    redactions.extend(more);
    (copy, redactions)
}

/// The hub's answer to a reshare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReshareOutcome {
    /// Queued for `to` (`first` false when it was passed on to `to` before),
    /// with the fields changed in `to`'s copy.
    Accepted {
        first: bool,
        redacted: Vec<Redaction>,
    },
    Refused(Refusal),
}

/// A message waiting in one recipient's queue, with the messages it must
/// follow to that recipient (causal order within a thread).
#[derive(Debug, Clone)]
struct Queued {
    id: MessageId,
    after: Vec<MessageId>,
}

impl Causal for Queued {
    type Key = MessageId;

    fn key(&self) -> MessageId {
        self.id.clone()
    }

    fn after(&self) -> Vec<MessageId> {
        self.after.clone()
    }
}

/// Where a message stands with one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Not yet acknowledged.
    Pending,
    /// Acknowledged at `at`, after `attempts` attempts.
    Delivered { at: Timestamp, attempts: u32 },
    /// Refused by the recipient for good.
    Undeliverable { reason: String, attempts: u32 },
}

/// What the hub knows of one message: refused (why), or accepted and where
/// it stands with each recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracked {
    Refused(String),
    Accepted(Vec<(Ministry, Standing)>),
}

/// The hub's state.
#[derive(Debug, Clone)]
pub struct Hub {
    /// Every policy in force so far, the current one last: amendments add
    /// one each.
    policies: Vec<Policy>,
    config: DeliveryConfig,
    /// Every message id the hub has answered, with its outcome.
    records: BTreeMap<MessageId, Record>,
    /// Messages still to be acknowledged, per recipient.
    queues: BTreeMap<Ministry, RetryQueue<Queued>>,
}

impl Hub {
    /// A hub with an empty journal.
    pub fn new(policy: Policy, config: DeliveryConfig) -> Hub {
        let queues = policy
            .participants()
            .map(|m| (m, RetryQueue::default()))
            .collect();
        Hub {
            policies: vec![policy],
            config,
            records: BTreeMap::new(),
            queues,
        }
    }

    /// The policy this hub routes by.
    pub fn policy(&self) -> &Policy {
        self.policies.last().expect("a hub always has a policy")
    }

    /// Amends the policy in force from now on; messages already accepted
    /// keep the decision made when they were.
    pub fn on_amend(&mut self, amendment: &Amendment) -> Result<(), PolicyError> {
        let mut next = self.policy().clone();
        next.amend(amendment)?;
        for m in next.participants() {
            self.queues.entry(m).or_default();
        }
        self.policies.push(next);
        Ok(())
    }

    /// A participant's status, as its node declared it when registering.
    pub fn set_status(&mut self, m: Ministry, status: crate::model::Status) {
        if let Some(p) = self.policies.last_mut() {
            p.set_status(m, status);
        }
    }

    /// Handles a publish of `env` at `now`.
    pub fn on_publish(&mut self, now: Timestamp, env: impl Into<Arc<Envelope>>) -> PublishOutcome {
        let env: Arc<Envelope> = env.into();
        // Ids are unique per originator: each ministry has its own id space,
        // so no ministry can take (or block) another's ids.
        let code = env.originator.code();
        let own = env
            .id
            .0
            .strip_prefix(code)
            .is_some_and(|rest| rest.starts_with('-'));
        if !own {
            return PublishOutcome::Refused {
                refusal: Refusal::Forbidden(format!(
                    "message id {} is not {}'s: the ids of its messages begin with `{code}-`",
                    env.id, env.originator
                )),
                first: true,
            };
        }
        match self.records.get(&env.id) {
            Some(Record::Accepted {
                envelope,
                recipients,
                withheld,
                ..
            }) if **envelope == *env => {
                return PublishOutcome::Accepted {
                    recipients: recipients.clone(),
                    first: false,
                    withheld: withheld.clone(),
                    redacted: Vec::new(),
                    note: None,
                };
            }
            Some(Record::Accepted { .. }) => {
                return PublishOutcome::Refused {
                    refusal: Refusal::Conflict(format!(
                        "message id {} was already used for a different message",
                        env.id
                    )),
                    first: false,
                };
            }
            Some(Record::Refused { envelope, refusal }) if **envelope == *env => {
                return PublishOutcome::Refused {
                    refusal: refusal.clone(),
                    first: false,
                };
            }
            // Corrected content under a refused id: decide it afresh.
            Some(Record::Refused { .. }) | None => {}
        }
        let id = env.id.clone();
        let decided = self
            .decide(now, &env)
            .and_then(|d| match self.busy(now, &d.0) {
                Some(busy) => Err(busy),
                None => Ok(d),
            });
        match decided {
            Err(busy @ Refusal::Busy { .. }) => PublishOutcome::Refused {
                refusal: busy,
                first: true,
            },
            Ok((recipients, withheld, redacted, note)) => {
                for m in &recipients {
                    if let Some(q) = self.queues.get_mut(m) {
                        q.push(
                            now,
                            Queued {
                                id: id.clone(),
                                after: env.references.clone(),
                            },
                        );
                    }
                }
                self.records.insert(
                    id,
                    Record::Accepted {
                        envelope: env,
                        recipients: recipients.clone(),
                        withheld: withheld.clone(),
                        version: self.policies.len() - 1,
                        reshared: Vec::new(),
                        ended: Vec::new(),
                    },
                );
                PublishOutcome::Accepted {
                    recipients,
                    first: true,
                    withheld,
                    redacted,
                    note,
                }
            }
            Err(refusal) => {
                self.records.insert(
                    id,
                    Record::Refused {
                        envelope: env,
                        refusal: refusal.clone(),
                    },
                );
                PublishOutcome::Refused {
                    refusal,
                    first: true,
                }
            }
        }
    }

    /// The refusal of a message for `recipients` when any of them has no
    /// room left, with the time to retry after: until the fullest of them
    /// is next tried (it may have taken some by then), at least the
    /// backoff's first pause and at most its longest.
    fn busy(&self, now: Timestamp, recipients: &[Ministry]) -> Option<Refusal> {
        let max = self.config.max_pending;
        let full: Vec<Ministry> = recipients
            .iter()
            .copied()
            .filter(|m| self.queues.get(m).is_some_and(|q| q.len() >= max))
            .collect();
        if full.is_empty() {
            return None;
        }
        let backoff = self.config.backoff;
        let retry_after = full
            .iter()
            .filter_map(|m| self.queues.get(m))
            .map(|q| std::time::Duration::from_millis(q.paused_until().since(now)))
            .max()
            .unwrap_or_default()
            .clamp(backoff.initial, backoff.max);
        let names: Vec<String> = full.iter().map(|m| m.to_string()).collect();
        Some(Refusal::Busy {
            reason: format!(
                "{} already {} {max} messages waiting at the hub; retry in {} ms",
                names.join(", "),
                if full.len() == 1 { "has" } else { "have" },
                retry_after.as_millis()
            ),
            full,
            retry_after,
        })
    }

    /// Validates and routes `env`: its recipients, who is left out and which
    /// fields are cleared, or why it is refused.
    #[allow(clippy::type_complexity)]
    fn decide(
        &self,
        now: Timestamp,
        env: &Envelope,
    ) -> Result<(Vec<Ministry>, Vec<Withheld>, Vec<Redaction>, Option<String>), Refusal> {
        env.validate(now).map_err(|e| Refusal::Invalid(e.0))?;
        let mut earlier = Vec::new();
        let mut others = Vec::new();
        for r in &env.references {
            match self.records.get(r) {
                Some(Record::Accepted {
                    envelope,
                    recipients,
                    ..
                }) => {
                    if envelope.kind != env.kind {
                        return Err(Refusal::Invalid(format!(
                            "{} is a {} but references {r}, a {}",
                            env.id, env.kind, envelope.kind
                        )));
                    }
                    if envelope.originator != env.originator {
                        if env.message_type == MessageType::Cancel {
                            return Err(Refusal::Forbidden(format!(
                                "only {}, its originator, may cancel {r}",
                                envelope.originator
                            )));
                        }
                        others.push(format!("{r} (from {})", envelope.originator));
                    }
                    earlier.extend(recipients.iter().copied());
                    earlier.push(envelope.originator);
                }
                Some(Record::Refused { .. }) => {
                    return Err(Refusal::Invalid(format!(
                        "references {r}, which the hub refused"
                    )));
                }
                // A reference the hub has not seen (shared bilaterally, or still
                // on its way) is allowed: the hub cannot know every message.
                None => {}
            }
        }
        let note = (!others.is_empty()).then(|| {
            format!(
                "{} updates another participant's message: {}",
                env.originator,
                others.join(", ")
            )
        });
        match self.policy().route(env, &earlier) {
            Routing::Accepted {
                recipients,
                withheld,
                redacted,
            } => Ok((recipients, withheld, redacted, note)),
            Routing::Rejected { reason } => Err(Refusal::Forbidden(reason)),
        }
    }

    /// Starts every delivery that is due, up to each recipient's window.
    pub fn poll(&mut self, now: Timestamp) -> Vec<Delivery> {
        let mut out = Vec::new();
        for (&to, q) in &mut self.queues {
            for Attempt { seq, item, attempt } in q.take_ready(now, self.config.window) {
                let Some(Record::Accepted {
                    envelope,
                    version,
                    reshared,
                    ..
                }) = self.records.get(&item.id)
                else {
                    unreachable!("only accepted messages are queued");
                };
                // Each recipient gets its own copy, with what the policy in
                // force when the message was accepted withholds from it
                // changed; a copy passed on, what its passer's copy lacked too.
                let (envelope, redactions) = match reshared.iter().find(|r| r.to == to) {
                    Some(r) => passed_on(&self.policies, envelope, *version, r),
                    None => self.policies[*version].copy_for_shared(envelope, to),
                };
                out.push(Delivery {
                    to,
                    seq,
                    envelope,
                    redactions,
                    attempt,
                });
            }
        }
        out
    }

    /// `by` asks the hub to pass message `id` on to `to`.
    ///
    /// Refused unless the message was accepted, `by` is its originator or
    /// one of its recipients, and the handling rules and the agreement in
    /// force let `to` have it passed on: TLP:CLEAR and GREEN within the
    /// agreement, AMBER only where it says so, never AMBER+STRICT or RED;
    /// an originator-controlled message only to those its originator
    /// consented to.
    pub fn on_reshare(
        &mut self,
        now: Timestamp,
        id: &MessageId,
        by: Ministry,
        to: Ministry,
    ) -> ReshareOutcome {
        let refuse = |r: Refusal| ReshareOutcome::Refused(r);
        let Some(Record::Accepted {
            envelope,
            recipients,
            reshared,
            ..
        }) = self.records.get(id)
        else {
            return refuse(Refusal::Unknown(format!(
                "the hub has accepted no message {id}"
            )));
        };
        if let Some(r) = reshared.iter().find(|r| r.to == to && r.by == by) {
            let r = r.clone();
            let (_, redacted) = passed_on(&self.policies, envelope, self.version_of(id), &r);
            return ReshareOutcome::Accepted {
                first: false,
                redacted,
            };
        }
        let had_it = by == envelope.originator
            || recipients.contains(&by)
            || reshared.iter().any(|r| r.to == by);
        if !had_it {
            return refuse(Refusal::Forbidden(format!(
                "{by} never received {id}: only its originator and recipients can pass it on"
            )));
        }
        if recipients.contains(&to)
            || reshared.iter().any(|r| r.to == to)
            || to == envelope.originator
        {
            return refuse(Refusal::Conflict(format!("{to} already has {id}")));
        }
        if envelope.controlled && by != envelope.originator && !envelope.consent.contains(&to) {
            return refuse(Refusal::Forbidden(format!(
                "{id} is originator-controlled: {} has not consented to its being passed on to {to}",
                envelope.originator
            )));
        }
        if let Err(why) = self.policy().may_reshare(envelope, by, to) {
            return refuse(Refusal::Forbidden(format!(
                "{id} may not be passed on to {to}: {why}"
            )));
        }
        if let Some(busy) = self.busy(now, &[to]) {
            return refuse(busy);
        }
        let r = Reshared {
            to,
            by,
            version: self.policies.len() - 1,
        };
        let (_, redacted) = passed_on(&self.policies, envelope, self.version_of(id), &r);
        let after = envelope.references.clone();
        if let Some(Record::Accepted { reshared, .. }) = self.records.get_mut(id) {
            reshared.push(r);
        }
        self.queues.entry(to).or_default().push(
            now,
            Queued {
                id: id.clone(),
                after,
            },
        );
        ReshareOutcome::Accepted {
            first: true,
            redacted,
        }
    }

    /// Who sent message `id` (accepted or refused), if the hub was given it.
    pub fn originator_of(&self, id: &MessageId) -> Option<Ministry> {
        match self.records.get(id)? {
            Record::Accepted { envelope, .. } | Record::Refused { envelope, .. } => {
                Some(envelope.originator)
            }
        }
    }

    /// The kind of accepted message `id`.
    pub fn kind_of(&self, id: &MessageId) -> Option<crate::model::Kind> {
        match self.records.get(id)? {
            Record::Accepted { envelope, .. } => Some(envelope.kind),
            Record::Refused { .. } => None,
        }
    }

    fn version_of(&self, id: &MessageId) -> usize {
        match self.records.get(id) {
            Some(Record::Accepted { version, .. }) => *version,
            _ => self.policies.len() - 1,
        }
    }

    /// When [`Hub::poll`] will next have work, if ever.
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        self.queues
            .values()
            .filter_map(|q| q.next_wakeup(self.config.window))
            .min()
    }

    /// The recipient acknowledged delivery `seq`.
    pub fn on_acked(&mut self, now: Timestamp, to: Ministry, seq: Seq) {
        if let Some((item, attempts)) = self.queues.get_mut(&to).and_then(|q| q.succeeded(now, seq))
        {
            self.end(&item.id, to, Standing::Delivered { at: now, attempts });
        }
    }

    /// Records how delivery of `id` to `to` ended.
    fn end(&mut self, id: &MessageId, to: Ministry, standing: Standing) {
        if let Some(Record::Accepted { ended, .. }) = self.records.get_mut(id) {
            match ended.iter_mut().find(|(m, _)| *m == to) {
                Some((_, s)) => *s = standing,
                None => ended.push((to, standing)),
            }
        }
    }

    /// Where message `id` stands, if the hub has been given it.
    pub fn track(&self, id: &MessageId) -> Option<Tracked> {
        match self.records.get(id)? {
            Record::Refused { refusal, .. } => Some(Tracked::Refused(refusal.reason().to_string())),
            Record::Accepted {
                recipients,
                reshared,
                ended,
                ..
            } => Some(Tracked::Accepted(
                recipients
                    .iter()
                    .chain(reshared.iter().map(|r| &r.to))
                    .map(|m| {
                        let standing = ended
                            .iter()
                            .find(|(to, _)| to == m)
                            .map(|(_, s)| s.clone())
                            .unwrap_or(Standing::Pending);
                        (*m, standing)
                    })
                    .collect(),
            )),
        }
    }

    /// Delivery `seq` failed in transport (unreachable, timed out): retry later.
    pub fn on_failed(&mut self, now: Timestamp, to: Ministry, seq: Seq) {
        let backoff = self.config.backoff;
        if let Some(q) = self.queues.get_mut(&to) {
            q.failed(now, seq, &backoff);
        }
    }

    /// The recipient answered delivery `seq` with an error worth retrying
    /// (it was reached): that message alone is retried after backoff.
    pub fn on_erred(&mut self, now: Timestamp, to: Ministry, seq: Seq) {
        let backoff = self.config.backoff;
        if let Some(q) = self.queues.get_mut(&to) {
            q.erred(now, seq, &backoff);
        }
    }

    /// The recipient had no room for delivery `seq` and said when to come
    /// back: that message alone is retried after `retry_after`.
    pub fn on_busy(
        &mut self,
        now: Timestamp,
        to: Ministry,
        seq: Seq,
        retry_after: std::time::Duration,
    ) {
        if let Some(q) = self.queues.get_mut(&to) {
            q.busy(now, seq, retry_after);
        }
    }

    /// The recipient refused delivery `seq` for good (malformed, too
    /// large): it will not be retried.
    pub fn on_refused_by_recipient(&mut self, to: Ministry, seq: Seq, reason: &str) {
        if let Some((item, attempts)) = self.queues.get_mut(&to).and_then(|q| q.abandon(seq)) {
            self.end(
                &item.id,
                to,
                Standing::Undeliverable {
                    reason: reason.to_string(),
                    attempts,
                },
            );
        }
    }

    /// `to` said it is reachable again (it registered): deliveries to it
    /// resume now instead of at the end of their backoff.
    pub fn on_reachable(&mut self, now: Timestamp, to: Ministry) {
        if let Some(q) = self.queues.get_mut(&to) {
            q.resume(now);
        }
    }

    /// Every message the hub has answered, by id, with whether it accepted it.
    pub fn journal(&self) -> impl Iterator<Item = (&Envelope, bool)> {
        self.records.values().map(|r| match r {
            Record::Accepted { envelope, .. } => (&**envelope, true),
            Record::Refused { envelope, .. } => (&**envelope, false),
        })
    }

    /// Deliveries not yet acknowledged by `to`.
    pub fn backlog_of(&self, to: Ministry) -> usize {
        self.queues.get(&to).map_or(0, RetryQueue::len)
    }

    /// The hub's host restarted after a crash: nothing is in flight any more.
    pub fn on_restart(&mut self, now: Timestamp) {
        for q in self.queues.values_mut() {
            q.restart(now);
        }
    }

    /// Deliveries not yet acknowledged, all recipients together.
    pub fn backlog(&self) -> usize {
        self.queues.values().map(RetryQueue::len).sum()
    }
}

mod durable;
pub use durable::{Ended, Kept};

#[cfg(test)]
mod tests;
