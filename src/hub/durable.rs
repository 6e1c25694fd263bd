//! What the hub's durable journal keeps of an accepted message, and the
//! hub rebuilt from it after a restart.

use std::collections::BTreeMap;

use super::{Hub, Queued, Record, Reshared, Standing};
use crate::model::{Envelope, MessageId, Ministry, Timestamp};
use crate::policy::Withheld;

/// An accepted message as the hub's durable journal keeps it: enough to
/// deliver it again to whoever has not acknowledged it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Kept {
    pub envelope: Envelope,
    pub recipients: Vec<Ministry>,
    #[serde(default)]
    pub withheld: Vec<Withheld>,
    /// `(by, to)` of each time it was passed on, in order.
    #[serde(default)]
    pub reshared: Vec<(Ministry, Ministry)>,
}

/// How delivery to one recipient ended, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "ended", rename_all = "snake_case")]
pub enum Ended {
    Delivered { at: Timestamp },
    Undeliverable { reason: String },
}

impl Hub {
    /// What the journal keeps of accepted message `id`.
    pub fn kept(&self, id: &MessageId) -> Option<Kept> {
        match self.records.get(id)? {
            Record::Accepted {
                envelope,
                recipients,
                withheld,
                reshared,
                ..
            } => Some(Kept {
                envelope: (**envelope).clone(),
                recipients: recipients.clone(),
                withheld: withheld.clone(),
                reshared: reshared.iter().map(|r| (r.by, r.to)).collect(),
            }),
            Record::Refused { .. } => None,
        }
    }

    /// Takes back a message the journal kept (in the order they were
    /// accepted): recorded as accepted under the policy in force, and
    /// queued again for every recipient whose delivery had not `ended`.
    pub fn restore(&mut self, now: Timestamp, kept: Kept, ended: &BTreeMap<Ministry, Ended>) {
        let id = kept.envelope.id.clone();
        let version = self.policies.len() - 1;
        let due = kept
            .recipients
            .iter()
            .chain(kept.reshared.iter().map(|(_, to)| to));
        let mut ends = Vec::new();
        for &to in due {
            match ended.get(&to) {
                Some(e) => {
                    let standing = match e {
                        Ended::Delivered { at } => Standing::Delivered {
                            at: *at,
                            attempts: 1,
                        },
                        Ended::Undeliverable { reason } => Standing::Undeliverable {
                            reason: reason.clone(),
                            attempts: 1,
                        },
                    };
                    ends.push((to, standing));
                }
                None => {
                    self.queues.entry(to).or_default().push(
                        now,
                        Queued {
                            id: id.clone(),
                            after: kept.envelope.references.clone(),
                        },
                    );
                }
            }
        }
        self.records.insert(
            id,
            Record::Accepted {
                envelope: std::sync::Arc::new(kept.envelope),
                recipients: kept.recipients,
                withheld: kept.withheld,
                version,
                reshared: kept
                    .reshared
                    .into_iter()
                    .map(|(by, to)| Reshared { to, by, version })
                    .collect(),
                ended: ends,
            },
        );
    }
}
