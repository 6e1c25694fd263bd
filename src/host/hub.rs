//! The hub's host: [`Hub`] with its clock and log.

use std::collections::BTreeSet;

use tokio::sync::Notify;
use tokio::sync::futures::Notified;

use super::{Transmission, lock};
use crate::events::{EventBody, Log};
use crate::hub::{Delivery, Hub, PublishOutcome, Refusal};
use crate::model::{Caller, Envelope, Host, Ministry, Timestamp};
use crate::policy::Withheld;

/// The hub's answer to an accepted publish, as the publisher is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// Who the message will be delivered to.
    pub recipients: Vec<Ministry>,
    /// Who the policy keeps it from, and why.
    pub withheld: Vec<Withheld>,
    /// A retried publish of a message already accepted.
    pub duplicate: bool,
}

/// A recipient's answer to a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acked {
    /// The recipient had the message already and discarded this copy.
    pub duplicate: bool,
}

/// The hub, its clock and its log; see the [module contract](super).
pub struct HubHost {
    hub: std::sync::Mutex<Hub>,
    log: Log,
    /// Recipients whose own events are not in this log (separate processes):
    /// the hub records their `delivered` and `duplicate` from their acks.
    remote: BTreeSet<Ministry>,
    /// Fires when deliveries were queued or a delivery ended.
    wake: Notify,
    /// The durable journal (`hub --data`), if any.
    journal: Option<std::sync::Arc<crate::store::HubJournal>>,
}

impl HubHost {
    /// A host around `hub`, writing to `log`.
    pub fn new(hub: Hub, log: Log) -> HubHost {
        HubHost {
            hub: std::sync::Mutex::new(hub),
            log,
            remote: BTreeSet::new(),
            wake: Notify::new(),
            journal: None,
        }
    }

    /// The same host, keeping every accepted message, every delivery's end
    /// and every registration in `journal`.
    pub fn with_journal(mut self, journal: std::sync::Arc<crate::store::HubJournal>) -> HubHost {
        self.journal = Some(journal);
        self
    }

    /// Resolves once everything decided so far is on disk (at once without
    /// a journal): the hub answers a publish only then.
    pub async fn synced(&self) -> Result<(), String> {
        match &self.journal {
            Some(j) => j.synced().await,
            None => Ok(()),
        }
    }

    fn keep(&self, hub: &Hub, id: &crate::model::MessageId) {
        if let (Some(j), Some(kept)) = (&self.journal, hub.kept(id)) {
            j.accepted(&kept);
        }
    }

    /// The same host, recording `delivered` and `duplicate` for `remote`
    /// recipients when they acknowledge, because their nodes write their own
    /// logs elsewhere. The latency is then measured at the acknowledgement.
    pub fn with_remote(mut self, remote: impl IntoIterator<Item = Ministry>) -> HubHost {
        self.remote = remote.into_iter().collect();
        self
    }

    /// A request refused before it could be attributed to a participant's
    /// message (malformed, unknown originator, too large): recorded, as the
    /// request gave its id and originator.
    pub fn on_refused_request(&self, msg: &str, from: &str, reason: &str) {
        tracing::info!(msg, from, reason, "request refused");
        self.log.record(EventBody::RefusedRequest {
            msg: msg.to_string(),
            from: from.to_string(),
            reason: reason.to_string(),
        });
    }

    /// Whether a call `call` (an RPC name) made by `caller` may speak for
    /// `claimed` (about message `msg`, if any). A refusal is logged as
    /// `identity_refused` and leaves the hub's records as they were, so a
    /// forged publish cannot block the real originator's message.
    pub fn authorise(
        &self,
        caller: &Caller,
        claimed: Ministry,
        call: &str,
        msg: &str,
    ) -> Result<(), String> {
        caller.may_act_as(claimed).inspect_err(|reason| {
            tracing::warn!(%caller, %claimed, call, msg, "identity refused");
            self.log.record(EventBody::IdentityRefused {
                call: call.to_string(),
                caller: caller.to_string(),
                claimed: claimed.code().to_string(),
                msg: msg.to_string(),
                reason: reason.clone(),
            });
        })
    }

    /// `ministry` renewed its registration at the same address: it is there,
    /// so deliveries to it resume now.
    pub fn on_renewed(&self, ministry: Ministry) {
        lock(&self.hub).on_reachable(self.now(), ministry);
        self.wake.notify_one();
    }

    /// `ministry` said which status it takes part in (when it registered).
    pub fn set_status(&self, ministry: Ministry, status: crate::model::Status) {
        lock(&self.hub).set_status(ministry, status);
    }

    /// `ministry` registered its delivery address: deliveries to it resume now.
    pub fn on_registered(&self, ministry: Ministry, address: &str) {
        if let Some(j) = &self.journal {
            j.registered(ministry, address);
        }
        self.log.record(EventBody::Registered {
            ministry,
            address: address.to_string(),
        });
        lock(&self.hub).on_reachable(self.now(), ministry);
        self.wake.notify_one();
    }

    fn now(&self) -> Timestamp {
        self.log.clock().now()
    }

    /// A publish of `envelope` arrived (the `attempt`-th the node made). The
    /// answer is the receipt or the refusal to send back.
    pub fn on_publish(
        &self,
        envelope: std::sync::Arc<Envelope>,
        attempt: u32,
    ) -> Result<Published, Refusal> {
        let (id, kind, from) = (envelope.id.clone(), envelope.kind, envelope.originator);
        self.log.record(EventBody::Received {
            msg: id.clone(),
            from: Host::Node(from),
            to: Host::Hub,
            attempt,
        });
        let outcome = {
            let mut h = lock(&self.hub);
            let outcome = h.on_publish(self.now(), envelope);
            if matches!(outcome, PublishOutcome::Accepted { first: true, .. }) {
                self.keep(&h, &id);
            }
            outcome
        };
        match outcome {
            PublishOutcome::Accepted {
                recipients,
                first,
                withheld,
                redacted,
                note,
            } => {
                if first {
                    tracing::debug!(msg = %id, ?recipients, "accepted");
                    self.log.record(EventBody::Accepted {
                        msg: id,
                        kind,
                        from,
                        recipients: recipients.clone(),
                        withheld: withheld.clone(),
                        redacted,
                        note,
                    });
                    self.wake.notify_one();
                }
                Ok(Published {
                    recipients,
                    withheld,
                    duplicate: !first,
                })
            }
            PublishOutcome::Refused {
                refusal: refusal @ Refusal::Busy { .. },
                ..
            } => {
                self.deferred(&id, from, &refusal);
                Err(refusal)
            }
            PublishOutcome::Refused { refusal, first } => {
                if first {
                    tracing::info!(msg = %id, reason = refusal.reason(), "rejected");
                    self.log.record(EventBody::Rejected {
                        msg: id,
                        from,
                        reason: refusal.reason().to_string(),
                    });
                }
                Err(refusal)
            }
        }
    }

    /// Logs a message refused for want of room (`Refusal::Busy`).
    fn deferred(&self, id: &crate::model::MessageId, from: Ministry, refusal: &Refusal) {
        if let Refusal::Busy {
            reason,
            full,
            retry_after,
        } = refusal
        {
            tracing::debug!(msg = %id, reason, "deferred");
            self.log.record(EventBody::Deferred {
                msg: id.clone(),
                from,
                full: full.clone(),
                retry_ms: retry_after.as_millis().try_into().unwrap_or(u64::MAX),
            });
        }
    }

    /// The deliveries to start now (each recorded as `sent`), and when to
    /// poll again if nothing wakes the host before.
    pub fn poll(&self) -> (Vec<Delivery>, Option<Timestamp>) {
        let now = self.now();
        let (due, next) = {
            let mut h = lock(&self.hub);
            (h.poll(now), h.next_wakeup())
        };
        for d in &due {
            self.log.record(EventBody::Sent {
                msg: d.envelope.id.clone(),
                from: Host::Hub,
                to: Host::Node(d.to),
                attempt: d.attempt,
            });
        }
        (due, next)
    }

    /// Delivery `d` ended with `result`.
    pub fn on_delivery(&self, d: &Delivery, result: Transmission<Acked>) {
        let now = self.now();
        let erred = matches!(result, Transmission::Erred(_));
        let busy = match &result {
            Transmission::Busy { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        let mut h = lock(&self.hub);
        match result {
            Transmission::Answered(Acked { duplicate }) => {
                h.on_acked(now, d.to, d.seq);
                if let Some(j) = &self.journal {
                    j.ended(
                        &d.envelope.id,
                        d.to,
                        &crate::hub::Ended::Delivered { at: now },
                    );
                }
                if self.remote.contains(&d.to) {
                    self.log.record(if duplicate {
                        EventBody::Duplicate {
                            msg: d.envelope.id.clone(),
                            to: d.to,
                        }
                    } else {
                        EventBody::Delivered {
                            msg: d.envelope.id.clone(),
                            kind: d.envelope.kind,
                            to: d.to,
                            latency_ms: now.since(d.envelope.created),
                        }
                    });
                }
            }
            Transmission::Refused(reason) => {
                tracing::warn!(msg = %d.envelope.id, to = %d.to, reason, "recipient refused delivery");
                h.on_refused_by_recipient(d.to, d.seq, &reason);
                if let Some(j) = &self.journal {
                    let reason = reason.clone();
                    j.ended(
                        &d.envelope.id,
                        d.to,
                        &crate::hub::Ended::Undeliverable { reason },
                    );
                }
                self.log.record(EventBody::Undeliverable {
                    msg: d.envelope.id.clone(),
                    to: d.to,
                    reason,
                });
            }
            Transmission::Failed(error)
            | Transmission::Erred(error)
            | Transmission::Busy { error, .. } => {
                tracing::debug!(msg = %d.envelope.id, to = %d.to, attempt = d.attempt, error, "delivery failed");
                self.log.record(EventBody::Failed {
                    msg: d.envelope.id.clone(),
                    from: Host::Hub,
                    to: Host::Node(d.to),
                    attempt: d.attempt,
                    error,
                });
                if let Some(retry_after) = busy {
                    h.on_busy(now, d.to, d.seq, retry_after);
                } else if erred {
                    h.on_erred(now, d.to, d.seq);
                } else {
                    h.on_failed(now, d.to, d.seq);
                }
            }
        }
        drop(h);
        self.wake.notify_one();
    }

    /// Wakes the driver to poll again (the clock was steered).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves when there may be new work for [`HubHost::poll`].
    pub fn notified(&self) -> Notified<'_> {
        self.wake.notified()
    }

    /// `by` asks to pass message `id` on to `to`: the fields changed in
    /// `to`'s copy and whether it was asked before, or the refusal.
    pub fn on_reshare(
        &self,
        id: &crate::model::MessageId,
        by: Ministry,
        to: Ministry,
    ) -> Result<(bool, Vec<crate::policy::Redaction>), Refusal> {
        let outcome = {
            let mut h = lock(&self.hub);
            let outcome = h.on_reshare(self.now(), id, by, to);
            if matches!(
                outcome,
                crate::hub::ReshareOutcome::Accepted { first: true, .. }
            ) {
                self.keep(&h, id);
            }
            outcome
        };
        match outcome {
            crate::hub::ReshareOutcome::Accepted { first, redacted } => {
                if first {
                    self.log.record(EventBody::Reshared {
                        msg: id.clone(),
                        by,
                        to,
                        redacted: redacted.clone(),
                    });
                    self.wake.notify_one();
                }
                Ok((!first, redacted))
            }
            crate::hub::ReshareOutcome::Refused(refusal @ Refusal::Busy { .. }) => {
                self.deferred(id, by, &refusal);
                Err(refusal)
            }
            crate::hub::ReshareOutcome::Refused(refusal) => {
                self.log.record(EventBody::ReshareRefused {
                    msg: id.clone(),
                    by,
                    to,
                    reason: refusal.reason().to_string(),
                });
                Err(refusal)
            }
        }
    }

    /// Amends the agreement the hub routes by from now on, and logs it.
    pub fn amend(
        &self,
        amendment: &crate::policy::Amendment,
    ) -> Result<(), crate::policy::PolicyError> {
        lock(&self.hub).on_amend(amendment)?;
        self.log.record(EventBody::Amended {
            change: amendment.describe(),
        });
        Ok(())
    }

    /// The host restarted after a crash: nothing is in flight any more.
    pub fn on_restart(&self) {
        lock(&self.hub).on_restart(self.now());
    }

    /// Deliveries not yet acknowledged, all recipients together.
    pub fn backlog(&self) -> usize {
        lock(&self.hub).backlog()
    }

    /// Reads the state machine (for checks and inspection).
    pub fn inspect<R>(&self, f: impl FnOnce(&Hub) -> R) -> R {
        f(&lock(&self.hub))
    }
}
