//! Sharing policy: who may receive which message. Pure functions of the
//! message, the participants and what the hub already routed.
//!
//! A refusal is data ([`Routing::Rejected`]), not an error: the hub records it and
//! answers the originator with the reason.

use std::collections::BTreeSet;
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

/// What the policy decided for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// Deliver to these ministries (sorted, never the originator; possibly empty).
    Accepted { recipients: Vec<Ministry> },
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

    /// Decides who receives `env`.
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
        let mut recipients: BTreeSet<Ministry> = match (env.kind, &env.payload) {
            (Kind::CaravanAlert, _) => self.participants.clone(),
            (Kind::DocumentFlag, _) => self.participants.iter().copied().filter(full).collect(),
            (Kind::CargoNotice, Some(Payload::CargoNotice(c))) => self
                .participants
                .iter()
                .copied()
                .filter(|m| {
                    full(m)
                        || m.country() == c.destination.country
                        || c.transit_countries.iter().any(|t| t == m.country())
                })
                .collect(),
            // A cargo cancellation without payload goes to the full participants
            // plus whoever received what it cancels.
            (Kind::CargoNotice, _) => self.participants.iter().copied().filter(full).collect(),
        };
        recipients.extend(
            earlier
                .iter()
                .copied()
                .filter(|m| self.participants.contains(m)),
        );
        if env.handling == Handling::AmberStrict {
            // TLP:AMBER+STRICT restricts sharing to the recipient organisations;
            // the compact reads that as full participants only.
            recipients.retain(full);
        }
        recipients.remove(&env.originator);
        Routing::Accepted {
            recipients: recipients.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use Ministry::*;

    fn envelope(from: Ministry, payload: Payload) -> Envelope {
        Envelope {
            id: "X-1".into(),
            originator: from,
            created: Timestamp(0),
            status: Status::Test,
            message_type: MessageType::Alert,
            references: vec![],
            handling: Handling::Green,
            expires: None,
            kind: payload.kind(),
            payload: Some(payload),
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
    fn check(env: &Envelope, earlier: &[Ministry]) -> Routing {
        Policy::new(PolicyName::Compact2019, Ministry::ALL).route(env, earlier)
    }

    fn to(recipients: &[Ministry]) -> Routing {
        Routing::Accepted {
            recipients: recipients.to_vec(),
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
        assert!(matches!(check(&e, &[]), Routing::Rejected { .. }));
        e.handling = Handling::AmberStrict;
        assert_eq!(check(&e, &[]), to(&[UsDhs, GtMingob, SvMjsp]));
    }

    #[test]
    fn non_participants_are_refused_and_never_receive() {
        let policy = Policy::new(PolicyName::Compact2019, [HnSeds, GtMingob]);
        let e = envelope(HnSeds, Payload::CaravanAlert(CaravanAlert::default()));
        assert_eq!(policy.route(&e, &[UsDhs]), to(&[GtMingob]));
        let e = envelope(SvMjsp, Payload::CaravanAlert(CaravanAlert::default()));
        match policy.route(&e, &[]) {
            Routing::Rejected { reason } => assert!(reason.contains("SV-MJSP"), "{reason}"),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
}
