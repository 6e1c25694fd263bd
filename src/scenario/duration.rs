//! Durations as scenarios write them: `250ms`, `90s`, `15m`, `2h30m`, `3d`.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A duration read from a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub Duration);

/// Parses `2h30m`-style text: one or more `<integer><unit>` parts, units `d`,
/// `h`, `m`, `s`, `ms`, largest first. A bare `0` is zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let expected = "expected a duration such as 250ms, 90s, 15m, 2h30m or 3d";
    if s.is_empty() {
        return Err(format!("empty duration: {expected}"));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    let mut last_rank: Option<usize> = None;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("`{text}` is not a duration: {expected}"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}`: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let (rank, ms) = match unit {
            "d" => (0, 86_400_000),
            "h" => (1, 3_600_000),
            "m" => (2, 60_000),
            "s" => (3, 1_000),
            "ms" => (4, 1),
            "" => {
                return Err(format!(
                    "`{text}`: a number needs a unit (d, h, m, s or ms)"
                ));
            }
            other => {
                return Err(format!(
                    "`{text}`: unknown unit `{other}` (use d, h, m, s or ms)"
                ));
            }
        };
        if last_rank.is_some_and(|last| rank <= last) {
            return Err(format!("`{text}`: write units largest first, each once"));
        }
        last_rank = Some(rank);
        let part = n
            .checked_mul(ms)
            .ok_or_else(|| format!("`{text}`: duration too large"))?;
        total = total
            .checked_add(Duration::from_millis(part))
            .ok_or_else(|| format!("`{text}`: duration too large"))?;
    }
    Ok(total)
}

/// Formats a duration the way scenarios write it (`2h30m`, `250ms`, `0s`).
pub use crate::format::exact as format_duration;

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 250ms, 90s, 15m, 2h30m or 3d")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur, E> {
                parse_duration(s).map(Dur).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Dur, E> {
                if n == 0 {
                    Ok(Dur(Duration::ZERO))
                } else {
                    Err(E::custom(format!(
                        "`{n}` needs a unit: write e.g. {n}s or {n}m"
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Dur, E> {
                if n < 0 {
                    Err(E::custom("a duration cannot be negative"))
                } else {
                    self.visit_u64(n as u64)
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Dur {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(0|([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$",
            "description": "A duration: integers with units d, h, m, s, ms, largest first, e.g. 250ms, 90s, 15m, 2h30m, 3d",
            "examples": ["250ms", "90s", "15m", "2h30m", "3d"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let ms = |s: &str| parse_duration(s).unwrap().as_millis();
        assert_eq!(ms("250ms"), 250);
        assert_eq!(ms("90s"), 90_000);
        assert_eq!(ms("15m"), 900_000);
        assert_eq!(ms("2h30m"), 9_000_000);
        assert_eq!(ms("3d"), 259_200_000);
        assert_eq!(ms("1m30s500ms"), 90_500);
        assert_eq!(ms("0"), 0);
        assert_eq!(ms("0s"), 0);
        assert_eq!(ms("2h 30m"), 9_000_000);
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for bad in [
            "",
            "5",
            "h",
            "5x",
            "2m3h",
            "1h1h",
            "-5s",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn formats_round_trip() {
        for s in ["0s", "250ms", "90s", "1m30s", "2h30m", "3d", "1d2h3m4s5ms"] {
            let d = parse_duration(s).unwrap();
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }
}
