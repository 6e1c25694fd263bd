//! Sharing policy: who may receive which message. Pure functions of the
//! message, the participants and what the hub already routed.
//!
//! A refusal is data ([`Routing::Rejected`]), not an error: the hub records it and
//! answers the originator with the reason. So is everything the policy keeps
//! back: each participant left out and each field cleared comes with its reason,
//! for the event log and the run report.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use crate::model::{Envelope, Handling, Kind, Ministry, Payload};

/// The sharing policies this build knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyName {
    /// The 2019 Memorandum of Cooperation as the GCIF applies it.
    #[default]
    Compact2019,
}

impl PolicyName {
    /// Every known policy.
    pub const ALL: [PolicyName; 1] = [PolicyName::Compact2019];

    /// The name scenarios use.
    pub fn name(self) -> &'static str {
        match self {
            PolicyName::Compact2019 => "compact-2019",
        }
    }
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PolicyName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PolicyName::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown policy `{s}` (expected compact-2019)"))
    }
}

/// A participant the policy keeps a message from, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Withheld {
    pub to: Ministry,
    pub reason: String,
}

/// Fields the policy clears from one recipient's copy, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Redaction {
    pub to: Ministry,
    /// Field names as the scenario format spells them (`minors`, `bill_of_lading`).
    pub fields: Vec<String>,
    pub reason: String,
}

/// What the policy decided for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// Deliver to `recipients` (sorted, never the originator; possibly empty),
    /// with the fields in `redacted` cleared from those recipients' copies.
    /// `withheld` names every other participant (but the originator) and why
    /// it gets nothing.
    Accepted {
        recipients: Vec<Ministry>,
        withheld: Vec<Withheld>,
        redacted: Vec<Redaction>,
    },
    /// Refuse the message; the reason goes back to the originator.
    Rejected { reason: String },
}

/// A sharing policy applied to a fixed set of participants.
#[derive(Debug, Clone)]
pub struct Policy {
    name: PolicyName,
    /// Ministries connected to the hub.
    participants: BTreeSet<Ministry>,
}

/// Why compact-2019 keeps document flags from an observer.
const FLAGS_FULL_ONLY: &str = "document flags go to full participants only; it is an observer";
/// Why compact-2019 keeps TLP:AMBER+STRICT from an observer.
const STRICT_FULL_ONLY: &str =
    "TLP:AMBER+STRICT stays with the full participants' organisations; it is an observer";
/// Why compact-2019 clears `minors` for an observer.
const MINORS_REDACTED: &str =
    "counts of minors are shared with full participants only (child protection)";
/// Why compact-2019 clears `bill_of_lading` for an observer.
const BILL_REDACTED: &str = "commercial shipping documents are shared with full participants only";

impl Policy {
    /// The policy `name` among `participants`.
    pub fn new(name: PolicyName, participants: impl IntoIterator<Item = Ministry>) -> Policy {
        Policy {
            name,
            participants: participants.into_iter().collect(),
        }
    }

    /// Which policy this is.
    pub fn name(&self) -> PolicyName {
        self.name
    }

    /// The ministries connected to the hub, in code order.
    pub fn participants(&self) -> impl Iterator<Item = Ministry> + '_ {
        self.participants.iter().copied()
    }

    /// Whether `m` is a full participant (as opposed to an observer) under this policy.
    pub fn is_full_participant(&self, m: Ministry) -> bool {
        match self.name {
            PolicyName::Compact2019 => m != Ministry::MxSegob,
        }
    }

    /// Decides who receives `env`, with which fields.
    ///
    /// `earlier` holds the recipients of the messages `env` updates or cancels, as
    /// far as the hub knows them: those who saw a message also hear of its update
    /// or cancellation.
    pub fn route(&self, env: &Envelope, earlier: &[Ministry]) -> Routing {
        if !self.participants.contains(&env.originator) {
            return Routing::Rejected {
                reason: format!("{} is not a participant of this exchange", env.originator),
            };
        }
        match self.name {
            PolicyName::Compact2019 => self.route_compact_2019(env, earlier),
        }
    }

    fn route_compact_2019(&self, env: &Envelope, earlier: &[Ministry]) -> Routing {
        if env.handling == Handling::Red {
            return Routing::Rejected {
                reason: "TLP:RED is for named individuals only and may not be redistributed \
                         through the hub; share it bilaterally"
                    .into(),
            };
        }
        let full = |m: &Ministry| self.is_full_participant(*m);
        // Every participant but the originator, with the reason it is left out
        // (None: it receives the message).
        let mut decision: BTreeMap<Ministry, Option<String>> = self
            .participants
            .iter()
            .filter(|&&m| m != env.originator)
            .map(|&m| {
                let why = match (env.kind, &env.payload) {
                    (Kind::CaravanAlert, _) => None,
                    (Kind::DocumentFlag, _) => (!full(&m)).then(|| FLAGS_FULL_ONLY.to_string()),
                    (Kind::CargoNotice, Some(Payload::CargoNotice(c))) => {
                        let on_route = m.country() == c.destination.country
                            || c.transit_countries.iter().any(|t| t == m.country());
                        (!full(&m) && !on_route).then(|| {
                            format!(
                                "cargo notices reach an observer only when its country ({}) is the \
                                 destination or a transit country",
                                m.country()
                            )
                        })
                    }
                    // A cargo cancellation without payload goes to the full participants
                    // plus whoever received what it cancels.
                    (Kind::CargoNotice, _) => (!full(&m)).then(|| {
                        "a cargo notice without a route goes to full participants only".to_string()
                    }),
                };
                (m, why)
            })
            .collect();
        for m in earlier {
            if let Some(why) = decision.get_mut(m) {
                *why = None;
            }
        }
        if env.handling == Handling::AmberStrict {
            // TLP:AMBER+STRICT restricts sharing to the recipient organisations;
            // the compact reads that as full participants only.
            for (m, why) in &mut decision {
                if !full(m) && why.is_none() {
                    *why = Some(STRICT_FULL_ONLY.to_string());
                }
            }
        }
        let mut recipients = Vec::new();
        let mut withheld = Vec::new();
        for (m, why) in decision {
            match why {
                None => recipients.push(m),
                Some(reason) => withheld.push(Withheld { to: m, reason }),
            }
        }
        let redacted = recipients
            .iter()
            .filter(|m| !full(m))
            .filter_map(|&to| self.clear(&mut env.clone(), to))
            .collect();
        Routing::Accepted {
            recipients,
            withheld,
            redacted,
        }
    }

    /// `to`'s copy of `env`: the fields this policy withholds from `to` cleared.
    pub fn redact(&self, env: &Envelope, to: Ministry) -> Envelope {
        self.copy_for(env, to).0
    }

    /// `to`'s copy of `env`, and what was cleared from it and why.
    pub fn copy_for(&self, env: &Envelope, to: Ministry) -> (Envelope, Option<Redaction>) {
        let mut copy = env.clone();
        let redaction = self.clear(&mut copy, to);
        (copy, redaction)
    }

    /// Clears from `copy` what `to` may not see, and names what it cleared
    /// and why: the one place that both decides a redaction and applies it,
    /// so what the event log says was cleared is what the copy lacks.
    fn clear(&self, copy: &mut Envelope, to: Ministry) -> Option<Redaction> {
        if self.is_full_participant(to) {
            return None;
        }
        let (field, reason) = match &mut copy.payload {
            Some(Payload::CaravanAlert(c)) if c.minors.is_some() => {
                c.minors = None;
                ("minors", MINORS_REDACTED)
            }
            Some(Payload::CargoNotice(c)) if !c.bill_of_lading.is_empty() => {
                c.bill_of_lading.clear();
                ("bill_of_lading", BILL_REDACTED)
            }
            _ => return None,
        };
        Some(Redaction {
            to,
            fields: vec![field.to_string()],
            reason: reason.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use Ministry::*;

    fn envelope(from: Ministry, payload: Payload) -> Envelope {
        Envelope {
            status: Status::Test,
            ..Envelope::alert("X-1", from, Timestamp(0), payload)
        }
    }

    fn cargo(destination: &str, transit: &[&str]) -> Payload {
        Payload::CargoNotice(CargoNotice {
            destination: Place {
                name: "somewhere".into(),
                country: destination.into(),
                ..Place::default()
            },
            transit_countries: transit.iter().map(|s| s.to_string()).collect(),
            ..CargoNotice::default()
        })
    }

    /// Routes `env` under compact-2019 with every ministry participating.
    fn route(env: &Envelope, earlier: &[Ministry]) -> Routing {
        Policy::new(PolicyName::Compact2019, Ministry::ALL).route(env, earlier)
    }

    /// The recipients of an accepted routing, for comparison.
    fn to(recipients: &[Ministry]) -> Vec<Ministry> {
        recipients.to_vec()
    }

    fn check(env: &Envelope, earlier: &[Ministry]) -> Vec<Ministry> {
        match route(env, earlier) {
            Routing::Accepted { recipients, .. } => recipients,
            Routing::Rejected { reason } => panic!("rejected: {reason}"),
        }
    }

    #[test]
    fn caravan_alerts_go_to_everyone_but_the_originator() {
        let e = envelope(HnSeds, Payload::CaravanAlert(CaravanAlert::default()));
        assert_eq!(check(&e, &[]), to(&[UsDhs, GtMingob, SvMjsp, MxSegob]));
    }

    #[test]
    fn document_flags_skip_the_observer() {
        let e = envelope(GtMingob, Payload::DocumentFlag(DocumentFlag::default()));
        assert_eq!(check(&e, &[]), to(&[UsDhs, HnSeds, SvMjsp]));
    }

    #[test]
    fn cargo_reaches_the_observer_only_on_its_route() {
        let e = envelope(HnSeds, cargo("MX", &["GT"]));
        assert_eq!(check(&e, &[]), to(&[UsDhs, GtMingob, SvMjsp, MxSegob]));
        let e = envelope(HnSeds, cargo("US", &["GT", "MX"]));
        assert_eq!(check(&e, &[]), to(&[UsDhs, GtMingob, SvMjsp, MxSegob]));
        let e = envelope(HnSeds, cargo("SV", &["GT"]));
        assert_eq!(check(&e, &[]), to(&[UsDhs, GtMingob, SvMjsp]));
    }

    #[test]
    fn updates_reach_those_who_saw_the_original() {
        let mut e = envelope(HnSeds, cargo("SV", &[]));
        e.message_type = MessageType::Update;
        e.references = vec!["X-0".into()];
        assert_eq!(
            check(&e, &[MxSegob]),
            to(&[UsDhs, GtMingob, SvMjsp, MxSegob])
        );
    }

    #[test]
    fn red_is_refused_and_amber_strict_stays_with_full_participants() {
        let mut e = envelope(HnSeds, Payload::CaravanAlert(CaravanAlert::default()));
        e.handling = Handling::Red;
        assert!(matches!(route(&e, &[]), Routing::Rejected { .. }));
        e.handling = Handling::AmberStrict;
        assert_eq!(check(&e, &[]), to(&[UsDhs, GtMingob, SvMjsp]));
    }

    #[test]
    fn non_participants_are_refused_and_never_receive() {
        let policy = Policy::new(PolicyName::Compact2019, [HnSeds, GtMingob]);
        let e = envelope(HnSeds, Payload::CaravanAlert(CaravanAlert::default()));
        assert!(matches!(
            policy.route(&e, &[UsDhs]),
            Routing::Accepted { recipients, .. } if recipients == [GtMingob]
        ));
        let e = envelope(SvMjsp, Payload::CaravanAlert(CaravanAlert::default()));
        match policy.route(&e, &[]) {
            Routing::Rejected { reason } => assert!(reason.contains("SV-MJSP"), "{reason}"),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn every_participant_left_out_is_named_with_a_reason() {
        let e = envelope(GtMingob, Payload::DocumentFlag(DocumentFlag::default()));
        let Routing::Accepted { withheld, .. } = route(&e, &[]) else {
            panic!("rejected")
        };
        assert_eq!(withheld.len(), 1);
        assert_eq!(withheld[0].to, MxSegob);
        assert!(
            withheld[0].reason.contains("full participants"),
            "{withheld:?}"
        );
        let e = envelope(HnSeds, cargo("SV", &["GT"]));
        let Routing::Accepted { withheld, .. } = route(&e, &[]) else {
            panic!("rejected")
        };
        assert!(
            withheld[0]
                .reason
                .contains("country (MX) is the destination"),
            "{withheld:?}"
        );
        let mut e = envelope(HnSeds, Payload::CaravanAlert(CaravanAlert::default()));
        e.handling = Handling::AmberStrict;
        let Routing::Accepted { withheld, .. } = route(&e, &[]) else {
            panic!("rejected")
        };
        assert!(withheld[0].reason.contains("AMBER+STRICT"), "{withheld:?}");
    }

    #[test]
    fn observers_get_copies_without_minors_or_bills_of_lading() {
        let caravan = Payload::CaravanAlert(CaravanAlert {
            minors: Some(150),
            estimated_size: Some(800),
            ..CaravanAlert::default()
        });
        let e = envelope(HnSeds, caravan);
        let Routing::Accepted { redacted, .. } = route(&e, &[]) else {
            panic!("rejected")
        };
        assert_eq!(redacted.len(), 1);
        assert_eq!(
            (redacted[0].to, redacted[0].fields.clone()),
            (MxSegob, vec!["minors".to_string()])
        );
        let policy = Policy::new(PolicyName::Compact2019, Ministry::ALL);
        let Some(Payload::CaravanAlert(c)) = policy.redact(&e, MxSegob).payload else {
            panic!("payload lost")
        };
        assert_eq!((c.minors, c.estimated_size), (None, Some(800)));
        assert_eq!(policy.redact(&e, UsDhs), e);

        let mut e = envelope(HnSeds, cargo("MX", &["GT"]));
        if let Some(Payload::CargoNotice(c)) = &mut e.payload {
            c.bill_of_lading = "HNPCR-77812".into();
        }
        let Some(Payload::CargoNotice(c)) = policy.redact(&e, MxSegob).payload else {
            panic!("payload lost")
        };
        assert!(c.bill_of_lading.is_empty());
        assert_eq!(c.destination.country, "MX");
    }
}
