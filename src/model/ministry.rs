//! The participants of the exchange and the hosts of the network.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A ministry that takes part in the exchange, named by its short code.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ministry {
    /// United States, Department of Homeland Security.
    UsDhs,
    /// Guatemala, Ministry of Government.
    GtMingob,
    /// Honduras, Secretariat of Security.
    HnSeds,
    /// El Salvador, Ministry of Justice and Public Security.
    SvMjsp,
    /// Mexico, Secretariat of the Interior.
    MxSegob,
}

impl Ministry {
    /// Every ministry, in the order the default participant list names them.
    pub const ALL: [Ministry; 5] = [
        Ministry::UsDhs,
        Ministry::GtMingob,
        Ministry::HnSeds,
        Ministry::SvMjsp,
        Ministry::MxSegob,
    ];

    /// The short code used on the wire, in scenarios and in the event log.
    pub fn code(self) -> &'static str {
        match self {
            Ministry::UsDhs => "US-DHS",
            Ministry::GtMingob => "GT-MINGOB",
            Ministry::HnSeds => "HN-SEDS",
            Ministry::SvMjsp => "SV-MJSP",
            Ministry::MxSegob => "MX-SEGOB",
        }
    }

    /// The ISO 3166-1 alpha-2 code of the ministry's country.
    pub fn country(self) -> &'static str {
        &self.code()[..2]
    }

    /// The ministry's name in full, for reports.
    pub fn full_name(self) -> &'static str {
        match self {
            Ministry::UsDhs => "United States — Department of Homeland Security",
            Ministry::GtMingob => "Guatemala — Ministry of Government",
            Ministry::HnSeds => "Honduras — Secretariat of Security",
            Ministry::SvMjsp => "El Salvador — Ministry of Justice and Public Security",
            Ministry::MxSegob => "Mexico — Secretariat of the Interior",
        }
    }
}

impl fmt::Display for Ministry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Debug output is the code too, so logs and test failures read `HN-SEDS`.
impl fmt::Debug for Ministry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Ministry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Ministry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A name that is not one of the known ministry codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ministry `{0}` (expected one of US-DHS, GT-MINGOB, HN-SEDS, SV-MJSP, MX-SEGOB)")]
pub struct UnknownMinistry(pub String);

impl FromStr for Ministry {
    type Err = UnknownMinistry;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ministry::ALL
            .into_iter()
            .find(|m| m.code() == s)
            .ok_or_else(|| UnknownMinistry(s.to_string()))
    }
}

/// A machine on the network: the GCIF hub or a ministry's node.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    /// The Joint Border Intelligence Group hub, named `GCIF`.
    Hub,
    /// A ministry's node.
    Node(Ministry),
}

impl Host {
    /// The hub's name in scenarios and the event log.
    pub const HUB_NAME: &'static str = "GCIF";

    /// The host's name: `GCIF` or the ministry code.
    pub fn name(self) -> &'static str {
        match self {
            Host::Hub => Self::HUB_NAME,
            Host::Node(m) => m.code(),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Host {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Host {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A name that is neither `GCIF` nor a known ministry code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown host `{0}` (expected GCIF or one of US-DHS, GT-MINGOB, HN-SEDS, SV-MJSP, MX-SEGOB)"
)]
pub struct UnknownHost(pub String);

impl FromStr for Host {
    type Err = UnknownHost;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == Self::HUB_NAME {
            return Ok(Host::Hub);
        }
        s.parse::<Ministry>()
            .map(Host::Node)
            .map_err(|_| UnknownHost(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for m in Ministry::ALL {
            assert_eq!(m.code().parse::<Ministry>(), Ok(m));
            assert_eq!(m.code().parse::<Host>(), Ok(Host::Node(m)));
        }
        assert_eq!("GCIF".parse::<Host>(), Ok(Host::Hub));
        assert!("CR-MSP".parse::<Ministry>().is_err());
        assert!("gcif".parse::<Host>().is_err());
        assert_eq!(Ministry::SvMjsp.country(), "SV");
    }
}
