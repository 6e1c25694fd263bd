//! The participants of the exchange and the hosts of the network.
//!
//! A [`Ministry`] is a participant's code (`HN-SEDS`, `CR-MSP`), interned:
//! copied freely, compared cheaply, and spelt the same everywhere. The five
//! ministries of the 2019 Memorandum are built in; a sharing agreement or a
//! scenario adds others ([`Ministry::declare`]) without a code change. Who a
//! participant is (its name, role and status) is the agreement's business;
//! this type is only the name.

use std::fmt;
use std::str::FromStr;
use std::sync::{OnceLock, RwLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A participant of the exchange, named by its code.
///
/// Ordered as the built-in five are listed ([`Ministry::DEFAULTS`]), then by
/// code: the order never depends on which codes a process declared first.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ministry(u16);

/// The built-in participants: code and name in full.
const BUILT_IN: [(&str, &str); 5] = [
    ("US-DHS", "United States — Department of Homeland Security"),
    ("GT-MINGOB", "Guatemala — Ministry of Government"),
    ("HN-SEDS", "Honduras — Secretariat of Security"),
    (
        "SV-MJSP",
        "El Salvador — Ministry of Justice and Public Security",
    ),
    ("MX-SEGOB", "Mexico — Secretariat of the Interior"),
];

/// The longest participant code accepted.
pub const MAX_CODE_LEN: usize = 24;

/// Codes declared so far: index = the `Ministry`'s number. Grows only by
/// declaration (agreements, scenarios, command lines), never from the wire.
struct Registry {
    codes: Vec<&'static str>,
    names: Vec<Option<&'static str>>,
}

fn registry() -> &'static RwLock<Registry> {
    static REGISTRY: OnceLock<RwLock<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        RwLock::new(Registry {
            codes: BUILT_IN.iter().map(|(c, _)| *c).collect(),
            names: BUILT_IN.iter().map(|(_, n)| Some(*n)).collect(),
        })
    })
}

/// A participant code that is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a participant code: a code is a country's ISO 3166-1 alpha-2 code, `-` and \
     the body's short name in capitals, digits or `-` (e.g. CR-MSP), at most 24 characters"
)]
pub struct BadCode(pub String);

impl Ministry {
    /// United States, Department of Homeland Security.
    pub const US_DHS: Ministry = Ministry(0);
    /// Guatemala, Ministry of Government.
    pub const GT_MINGOB: Ministry = Ministry(1);
    /// Honduras, Secretariat of Security.
    pub const HN_SEDS: Ministry = Ministry(2);
    /// El Salvador, Ministry of Justice and Public Security.
    pub const SV_MJSP: Ministry = Ministry(3);
    /// Mexico, Secretariat of the Interior.
    pub const MX_SEGOB: Ministry = Ministry(4);

    /// The built-in ministries, in the order the default participant list names them.
    pub const DEFAULTS: [Ministry; 5] = [
        Ministry::US_DHS,
        Ministry::GT_MINGOB,
        Ministry::HN_SEDS,
        Ministry::SV_MJSP,
        Ministry::MX_SEGOB,
    ];

    /// Makes `code` a known participant code (idempotent), or says why it
    /// cannot be one. `name`, when given, is what reports call it.
    pub fn declare(code: &str, name: Option<&str>) -> Result<Ministry, BadCode> {
        check_code(code)?;
        let mut reg = registry().write().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = reg.codes.iter().position(|c| *c == code) {
            if let Some(name) = name
                && i >= BUILT_IN.len()
                && reg.names[i] != Some(name)
            {
                reg.names[i] = Some(Box::leak(name.to_string().into_boxed_str()));
            }
            return Ok(Ministry(i as u16));
        }
        let i = reg.codes.len();
        if i >= u16::MAX as usize {
            return Err(BadCode(code.to_string()));
        }
        // Declared codes live as long as the process: a handful per agreement.
        reg.codes.push(Box::leak(code.to_string().into_boxed_str()));
        reg.names
            .push(name.map(|n| &*Box::leak(n.to_string().into_boxed_str())));
        Ok(Ministry(i as u16))
    }

    /// The short code used on the wire, in scenarios and in the event log.
    pub fn code(self) -> &'static str {
        let i = self.0 as usize;
        if let Some((code, _)) = BUILT_IN.get(i) {
            return code;
        }
        registry().read().unwrap_or_else(|e| e.into_inner()).codes[i]
    }

    /// The ISO 3166-1 alpha-2 code of the participant's country: its code's
    /// first two letters.
    pub fn country(self) -> &'static str {
        &self.code()[..2]
    }

    /// The participant's name in full, for reports (its code when nobody
    /// gave it a name).
    pub fn full_name(self) -> &'static str {
        let i = self.0 as usize;
        if let Some((_, name)) = BUILT_IN.get(i) {
            return name;
        }
        let reg = registry().read().unwrap_or_else(|e| e.into_inner());
        reg.names[i].unwrap_or(reg.codes[i])
    }

    /// Whether this is one of the five built-in ministries.
    pub fn is_built_in(self) -> bool {
        (self.0 as usize) < BUILT_IN.len()
    }
}

/// Checks the form of a participant code: `CC-NAME`, `CC` an assigned ISO
/// 3166-1 alpha-2 code.
fn check_code(code: &str) -> Result<(), BadCode> {
    let bad = || BadCode(code.to_string());
    let (cc, rest) = code.split_once('-').ok_or_else(bad)?;
    if code.len() > MAX_CODE_LEN
        || !super::is_country_code(cc)
        || rest.is_empty()
        || rest.starts_with('-')
        || rest.ends_with('-')
        || !rest
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(bad());
    }
    Ok(())
}

impl PartialOrd for Ministry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ministry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let rank = |m: &Ministry| (m.0 as usize).min(BUILT_IN.len());
        rank(self)
            .cmp(&rank(other))
            .then_with(|| match (self.is_built_in(), other.is_built_in()) {
                (false, false) => self.code().cmp(other.code()),
                _ => std::cmp::Ordering::Equal,
            })
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

/// Reading a code from a file declares it (run directories name the
/// participants of their run); the wire never deserializes with serde.
impl<'de> Deserialize<'de> for Ministry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ministry::declare(&s, None).map_err(serde::de::Error::custom)
    }
}

/// Deserializes a participant code already declared, for input from the
/// network (`#[serde(deserialize_with = "known_ministry")]`): unlike
/// `Ministry`'s own `Deserialize`, it never declares a new code.
pub fn known_ministry<'de, D: Deserializer<'de>>(d: D) -> Result<Ministry, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

/// A name that is not a declared participant code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ministry `{0}` (expected one of {list})", list = known_list())]
pub struct UnknownMinistry(pub String);

/// The declared codes, for error messages.
fn known_list() -> String {
    let reg = registry().read().unwrap_or_else(|e| e.into_inner());
    let mut all: Vec<Ministry> = (0..reg.codes.len() as u16).map(Ministry).collect();
    drop(reg);
    all.sort();
    all.iter().map(|m| m.code()).collect::<Vec<_>>().join(", ")
}

/// Parsing looks a code up among those declared; it never declares one, so
/// nothing read from the network grows the registry.
impl FromStr for Ministry {
    type Err = UnknownMinistry;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let reg = registry().read().unwrap_or_else(|e| e.into_inner());
        reg.codes
            .iter()
            .position(|c| *c == s)
            .map(|i| Ministry(i as u16))
            .ok_or_else(|| UnknownMinistry(s.to_string()))
    }
}
/// The built-in ministries as plain constants, for `use built_in::*`.
pub mod built_in {
    use super::Ministry;

    pub const US_DHS: Ministry = Ministry::US_DHS;
    pub const GT_MINGOB: Ministry = Ministry::GT_MINGOB;
    pub const HN_SEDS: Ministry = Ministry::HN_SEDS;
    pub const SV_MJSP: Ministry = Ministry::SV_MJSP;
    pub const MX_SEGOB: Ministry = Ministry::MX_SEGOB;
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
#[error("unknown host `{0}` (expected GCIF or one of {list})", list = known_list())]
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
        for m in Ministry::DEFAULTS {
            assert_eq!(m.code().parse::<Ministry>(), Ok(m));
            assert_eq!(m.code().parse::<Host>(), Ok(Host::Node(m)));
        }
        assert_eq!("GCIF".parse::<Host>(), Ok(Host::Hub));
        assert!("XX-NEVER-DECLARED".parse::<Ministry>().is_err());
        assert!("gcif".parse::<Host>().is_err());
        assert_eq!(Ministry::SV_MJSP.country(), "SV");
    }

    #[test]
    fn declared_codes_sort_after_the_built_in_ones_by_code() {
        let pa =
            Ministry::declare("PA-MINSEG", Some("Panama — Ministry of Public Security")).unwrap();
        let cr = Ministry::declare("CR-MSP", None).unwrap();
        assert_eq!(Ministry::declare("CR-MSP", None), Ok(cr));
        assert_eq!("CR-MSP".parse::<Ministry>(), Ok(cr));
        assert_eq!(cr.country(), "CR");
        assert_eq!(pa.full_name(), "Panama — Ministry of Public Security");
        assert_eq!(cr.full_name(), "CR-MSP");
        let mut all = vec![pa, Ministry::MX_SEGOB, cr, Ministry::US_DHS];
        all.sort();
        assert_eq!(all, [Ministry::US_DHS, Ministry::MX_SEGOB, cr, pa]);
        for bad in [
            "cr-msp",
            "ZZ-X",
            "CR",
            "CR-",
            "CR--X",
            "CR-MSP ",
            "CR-ÁB",
            "CR-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        ] {
            assert!(Ministry::declare(bad, None).is_err(), "{bad}");
        }
    }
}
