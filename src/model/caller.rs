//! Who is at the other end of a connection, as the transport established it.

use std::fmt;

use super::Ministry;

/// The identity a connection proves: a certificate on the live path with
/// `--tls`, the connecting host in the simulation. Claims a request makes
/// (an envelope's originator, a registration's ministry, a reshare's `by`)
/// are checked against it by [`Caller::may_act_as`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Caller {
    /// Nothing authenticates this connection (plain TCP, no `--tls`): the
    /// request's own claims are taken at their word.
    Unverified,
    /// The hub.
    Hub,
    /// A ministry's node.
    Ministry(Ministry),
    /// An authenticated certificate that names no participant known here
    /// (its name as given): it may act as no one.
    Stranger(String),
}

impl Caller {
    /// Whether a request from this caller may speak for `claimed`; the
    /// refusal's reason otherwise.
    pub fn may_act_as(&self, claimed: Ministry) -> Result<(), String> {
        match self {
            Caller::Unverified => Ok(()),
            Caller::Ministry(m) if *m == claimed => Ok(()),
            other => Err(format!(
                "the connection is authenticated as {other}, not as {claimed}"
            )),
        }
    }

    /// Whether the caller is authenticated at all.
    pub fn is_verified(&self) -> bool {
        !matches!(self, Caller::Unverified)
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::Unverified => f.write_str("an unauthenticated caller"),
            Caller::Hub => f.write_str("the hub"),
            Caller::Ministry(m) => write!(f, "{m}"),
            Caller::Stranger(name) => write!(f, "{name:?} (not a participant)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::built_in::*;

    #[test]
    fn only_the_ministry_itself_or_an_unverified_caller_may_speak_for_it() {
        assert!(Caller::Unverified.may_act_as(HN_SEDS).is_ok());
        assert!(Caller::Ministry(HN_SEDS).may_act_as(HN_SEDS).is_ok());
        let e = Caller::Ministry(GT_MINGOB).may_act_as(HN_SEDS).unwrap_err();
        assert_eq!(
            e,
            "the connection is authenticated as GT-MINGOB, not as HN-SEDS"
        );
        assert!(Caller::Hub.may_act_as(HN_SEDS).is_err());
        assert!(Caller::Stranger("XX".into()).may_act_as(HN_SEDS).is_err());
    }
}
