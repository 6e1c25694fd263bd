//! The GCIF hub as a plain state machine: validate, de-duplicate, route by
//! policy, journal, queue per recipient, deliver at least once.
//!
//! **Invariant:** no I/O, no clock, no randomness. Every method takes `now`; the
//! transport layer turns the returned attempts into RPCs and reports back.
//! The journal (`records` and the queues) is what a real hub would keep on disk:
//! in the simulation it outlives a crash of the hub's host, and
//! [`Hub::on_restart`] forgets only what was in flight.

use std::collections::BTreeMap;

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
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            backoff: Backoff::default(),
            window: 16,
        }
    }
}

/// Why the hub refused a message. Each maps to its own gRPC status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Malformed: INVALID_ARGUMENT.
    Invalid(String),
    /// Forbidden by policy: PERMISSION_DENIED.
    Forbidden(String),
    /// The id was used before for another message: ALREADY_EXISTS.
    Conflict(String),
}

impl Refusal {
    /// The human-readable reason.
    pub fn reason(&self) -> &str {
        match self {
            Refusal::Invalid(r) | Refusal::Forbidden(r) | Refusal::Conflict(r) => r,
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
    /// The recipient's copy, with what the policy withholds from it changed.
    pub envelope: Envelope,
    /// What was changed in this copy, and why.
    pub redactions: Vec<Redaction>,
    /// 1 for the first attempt.
    pub attempt: u32,
}

#[derive(Debug, Clone)]
enum Record {
    Accepted {
        envelope: Box<Envelope>,
        recipients: Vec<Ministry>,
        withheld: Vec<Withheld>,
        /// The policy it was routed by (index into `Hub::policies`): its
        /// copies are made as they were decided, whatever is amended later.
        version: usize,
    },
    /// Refused: the same content gets the same answer; corrected content
    /// under the same id is decided afresh.
    Refused {
        envelope: Box<Envelope>,
        refusal: Refusal,
    },
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
    /// How deliveries ended, per message and recipient.
    ended: BTreeMap<MessageId, BTreeMap<Ministry, Standing>>,
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
            ended: BTreeMap::new(),
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
    pub fn on_publish(&mut self, now: Timestamp, env: Envelope) -> PublishOutcome {
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
            }) if **envelope == env => {
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
            Some(Record::Refused { envelope, refusal }) if **envelope == env => {
                return PublishOutcome::Refused {
                    refusal: refusal.clone(),
                    first: false,
                };
            }
            // Corrected content under a refused id: decide it afresh.
            Some(Record::Refused { .. }) | None => {}
        }
        let id = env.id.clone();
        match self.decide(now, &env) {
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
                        envelope: Box::new(env),
                        recipients: recipients.clone(),
                        withheld: withheld.clone(),
                        version: self.policies.len() - 1,
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
                        envelope: Box::new(env),
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
                    envelope, version, ..
                }) = self.records.get(&item.id)
                else {
                    unreachable!("only accepted messages are queued");
                };
                // Each recipient gets its own copy, with what the policy in
                // force when the message was accepted withholds from it changed.
                let (envelope, redactions) = self.policies[*version].copy_for(envelope, to);
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
            self.ended
                .entry(item.id)
                .or_default()
                .insert(to, Standing::Delivered { at: now, attempts });
        }
    }

    /// Where message `id` stands, if the hub has been given it.
    pub fn track(&self, id: &MessageId) -> Option<Tracked> {
        match self.records.get(id)? {
            Record::Refused { refusal, .. } => Some(Tracked::Refused(refusal.reason().to_string())),
            Record::Accepted { recipients, .. } => {
                let ended = self.ended.get(id);
                Some(Tracked::Accepted(
                    recipients
                        .iter()
                        .map(|m| {
                            let standing = ended
                                .and_then(|e| e.get(m))
                                .cloned()
                                .unwrap_or(Standing::Pending);
                            (*m, standing)
                        })
                        .collect(),
                ))
            }
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

    /// The recipient refused delivery `seq` for good (malformed, too
    /// large): it will not be retried.
    pub fn on_refused_by_recipient(&mut self, to: Ministry, seq: Seq, reason: &str) {
        if let Some((item, attempts)) = self.queues.get_mut(&to).and_then(|q| q.abandon(seq)) {
            self.ended.entry(item.id).or_default().insert(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::built_in::*;
    use crate::model::*;

    fn hub() -> Hub {
        Hub::new(
            Policy::compact_2019(Status::Exercise),
            DeliveryConfig {
                backoff: Backoff::default(),
                window: 2,
            },
        )
    }

    fn alert(id: &str, from: Ministry) -> Envelope {
        Envelope::alert(
            id,
            from,
            Timestamp(0),
            Payload::CaravanAlert(CaravanAlert {
                caravan_id: "CAR-1".into(),
                location: Place {
                    name: "San Pedro Sula".into(),
                    country: "HN".into(),
                    ..Place::default()
                },
                ..CaravanAlert::default()
            }),
        )
    }

    /// Publishes `env` and returns the outcome and the deliveries then due.
    fn check(hub: &mut Hub, now: i64, env: Envelope) -> (PublishOutcome, Vec<(Ministry, String)>) {
        let outcome = hub.on_publish(Timestamp(now), env);
        let due = hub
            .poll(Timestamp(now))
            .into_iter()
            .map(|d| (d.to, d.envelope.id.0))
            .collect();
        (outcome, due)
    }

    #[test]
    fn accepts_routes_and_queues_per_recipient() {
        let mut h = hub();
        let (outcome, due) = check(&mut h, 0, alert("HN-SEDS-1", HN_SEDS));
        assert_eq!(
            outcome,
            PublishOutcome::Accepted {
                recipients: vec![US_DHS, GT_MINGOB, SV_MJSP, MX_SEGOB],
                first: true,
                withheld: vec![],
                redacted: vec![],
                note: None,
            }
        );
        let to: Vec<Ministry> = due.iter().map(|d| d.0).collect();
        assert_eq!(to, [US_DHS, GT_MINGOB, SV_MJSP, MX_SEGOB]);
        assert_eq!(h.backlog(), 4);
    }

    #[test]
    fn a_retried_publish_is_recognised_and_not_queued_twice() {
        let mut h = hub();
        h.on_publish(Timestamp(0), alert("HN-SEDS-1", HN_SEDS));
        let again = h.on_publish(Timestamp(10), alert("HN-SEDS-1", HN_SEDS));
        assert!(matches!(
            again,
            PublishOutcome::Accepted { first: false, .. }
        ));
        assert_eq!(h.backlog(), 4);
        let mut other = alert("HN-SEDS-1", HN_SEDS);
        other.handling = Handling::Amber;
        let conflict = h.on_publish(Timestamp(20), other);
        assert!(matches!(
            conflict,
            PublishOutcome::Refused {
                refusal: Refusal::Conflict(_),
                ..
            }
        ));
    }

    #[test]
    fn refusals_are_remembered_with_their_reason() {
        let mut h = hub();
        let mut red = alert("HN-SEDS-2", HN_SEDS);
        red.handling = Handling::Red;
        let (outcome, due) = check(&mut h, 0, red.clone());
        assert!(matches!(
            outcome,
            PublishOutcome::Refused {
                refusal: Refusal::Forbidden(_),
                first: true
            }
        ));
        assert!(due.is_empty());
        assert!(matches!(
            h.on_publish(Timestamp(5), red),
            PublishOutcome::Refused { first: false, .. }
        ));
        let mut invalid = alert("HN-SEDS-3", HN_SEDS);
        invalid.references = vec!["HN-SEDS-2".into()];
        assert!(matches!(
            h.on_publish(Timestamp(5), invalid),
            PublishOutcome::Refused {
                refusal: Refusal::Invalid(_),
                ..
            }
        ));
    }

    #[test]
    fn unacknowledged_deliveries_are_redelivered_after_backoff() {
        let mut h = hub();
        h.on_publish(Timestamp(0), alert("HN-SEDS-1", HN_SEDS));
        let first = h.poll(Timestamp(0));
        let to_gt = first.iter().find(|d| d.to == GT_MINGOB).unwrap().clone();
        for d in first.iter().filter(|d| d.to != GT_MINGOB) {
            h.on_acked(Timestamp(100), d.to, d.seq);
        }
        h.on_failed(Timestamp(100), GT_MINGOB, to_gt.seq);
        assert!(h.poll(Timestamp(500)).is_empty());
        assert_eq!(h.next_wakeup(), Some(Timestamp(1_100)));
        let retry = h.poll(Timestamp(1_100));
        assert_eq!(retry.len(), 1);
        assert_eq!((retry[0].to, retry[0].attempt), (GT_MINGOB, 2));
        h.on_acked(Timestamp(1_200), GT_MINGOB, retry[0].seq);
        assert_eq!(h.backlog(), 0);
        assert_eq!(h.next_wakeup(), None);
    }

    #[test]
    fn a_restart_keeps_the_journal_and_resends_what_was_in_flight() {
        let mut h = hub();
        h.on_publish(Timestamp(0), alert("HN-SEDS-1", HN_SEDS));
        assert_eq!(h.poll(Timestamp(0)).len(), 4);
        h.on_restart(Timestamp(60_000));
        let again = h.poll(Timestamp(60_000));
        assert_eq!(again.len(), 4);
        assert!(again.iter().all(|d| d.attempt == 2));
        assert!(matches!(
            h.on_publish(Timestamp(60_001), alert("HN-SEDS-1", HN_SEDS)),
            PublishOutcome::Accepted { first: false, .. }
        ));
    }

    #[test]
    fn an_update_reaches_the_original_originator() {
        let mut h = hub();
        h.on_publish(Timestamp(0), alert("HN-SEDS-1", HN_SEDS));
        let mut update = alert("GT-MINGOB-1", GT_MINGOB);
        update.message_type = MessageType::Update;
        update.references = vec!["HN-SEDS-1".into()];
        let outcome = h.on_publish(Timestamp(10), update);
        assert_eq!(
            outcome,
            PublishOutcome::Accepted {
                recipients: vec![US_DHS, HN_SEDS, SV_MJSP, MX_SEGOB],
                first: true,
                withheld: vec![],
                redacted: vec![],
                note: Some(
                    "GT-MINGOB updates another participant's message: HN-SEDS-1 (from HN-SEDS)"
                        .into()
                ),
            }
        );
    }

    #[test]
    fn window_limits_deliveries_in_flight_per_recipient() {
        let mut h = hub();
        for i in 0..3 {
            h.on_publish(Timestamp(0), alert(&format!("HN-SEDS-{i}"), HN_SEDS));
        }
        let due = h.poll(Timestamp(0));
        assert_eq!(due.iter().filter(|d| d.to == US_DHS).count(), 2);
    }

    #[test]
    fn ids_are_unique_per_originator() {
        let mut h = hub();
        let theirs = h.on_publish(Timestamp(0), alert("GT-MINGOB-000777", HN_SEDS));
        assert!(matches!(
            theirs,
            PublishOutcome::Refused {
                refusal: Refusal::Forbidden(_),
                ..
            }
        ));
        // GT-MINGOB's own message with that id is not blocked by it.
        let own = h.on_publish(Timestamp(1), alert("GT-MINGOB-000777", GT_MINGOB));
        assert!(matches!(own, PublishOutcome::Accepted { first: true, .. }));
    }

    #[test]
    fn corrected_content_under_a_refused_id_is_decided_afresh() {
        let mut h = hub();
        let mut red = alert("HN-SEDS-9", HN_SEDS);
        red.handling = Handling::Red;
        assert!(matches!(
            h.on_publish(Timestamp(0), red),
            PublishOutcome::Refused { first: true, .. }
        ));
        let fixed = h.on_publish(Timestamp(5), alert("HN-SEDS-9", HN_SEDS));
        assert!(
            matches!(fixed, PublishOutcome::Accepted { first: true, .. }),
            "{fixed:?}"
        );
    }

    #[test]
    fn an_update_never_reaches_a_recipient_before_what_it_updates() {
        let mut h = hub();
        h.on_publish(Timestamp(0), alert("HN-SEDS-1", HN_SEDS));
        let first = h.poll(Timestamp(0));
        let to_gt = first.iter().find(|d| d.to == GT_MINGOB).unwrap().clone();
        h.on_failed(Timestamp(10), GT_MINGOB, to_gt.seq);
        let mut update = alert("HN-SEDS-2", HN_SEDS);
        update.message_type = MessageType::Update;
        update.references = vec!["HN-SEDS-1".into()];
        h.on_publish(Timestamp(20), update);
        // After the backoff, GT-MINGOB gets the alert and not yet the update.
        let due: Vec<_> = h
            .poll(Timestamp(5_000))
            .into_iter()
            .filter(|d| d.to == GT_MINGOB)
            .collect();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].envelope.id, "HN-SEDS-1".into());
        h.on_acked(Timestamp(5_010), GT_MINGOB, due[0].seq);
        let next: Vec<_> = h
            .poll(Timestamp(5_010))
            .into_iter()
            .filter(|d| d.to == GT_MINGOB)
            .map(|d| d.envelope.id)
            .collect();
        assert_eq!(next, ["HN-SEDS-2".into()] as [MessageId; 1]);
    }
}
