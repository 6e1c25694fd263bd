//! Formatting for people, in one place: durations (four ways, each for its
//! reader), percentiles, and shell words for reproduce commands.

use std::time::Duration;

/// A duration for people, rounded to what matters: `183ms`, `12.3s`,
/// `2m05s`, `3h00m12s`, `1d04h05m`.
pub fn human(ms: u64) -> String {
    let s = ms / 1000;
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{:02}s", s / 60, s % 60),
        3_600_000..86_400_000 => format!("{}h{:02}m{:02}s", s / 3600, s % 3600 / 60, s % 60),
        _ => format!(
            "{}d{:02}h{:02}m",
            s / 86_400,
            s % 86_400 / 3600,
            s % 3600 / 60
        ),
    }
}

/// A duration exactly, as the scenario format writes it: `1d2h`, `90s`,
/// `1m500ms`, `0s` (the form `scenario::parse_duration` reads back).
pub fn exact(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    if ms > 0 {
        out.push_str(&format!("{ms}ms"));
    }
    out
}

/// Time since a run's start, as reports show it: `+02:03:04`, `+1d 02:03:04`,
/// with `.mmm` when not on a second.
pub fn offset(t: u64) -> String {
    let (s, ms) = (t / 1000, t % 1000);
    let (d, h, m, s) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let frac = if ms > 0 {
        format!(".{ms:03}")
    } else {
        String::new()
    };
    if d > 0 {
        format!("+{d}d {h:02}:{m:02}:{s:02}{frac}")
    } else {
        format!("+{h:02}:{m:02}:{s:02}{frac}")
    }
}

/// Time since a run's start as log lines stamp it, fixed width:
/// `t=+1d02:03:04.005`.
pub fn stamp(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    let (s, ms) = (ms / 1000, ms % 1000);
    let (m, s) = (s / 60, s % 60);
    let (h, m) = (m / 60, m % 60);
    let (days, h) = (h / 24, h % 24);
    format!("t=+{days}d{h:02}:{m:02}:{s:02}.{ms:03}")
}

/// `s` as one shell word: as is when it is plain, else single-quoted.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=+,@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The nearest-rank percentile of sorted `v`.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The first line of serde-saphyr's rendered error, without its own
/// "error: line L column C:" prefix (we print the location our way).
pub fn yaml_message(rendered: &str) -> String {
    let first = rendered.lines().next().unwrap_or(rendered).trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    if let Some(rest) = first.strip_prefix("line ")
        && let Some((_, msg)) = rest.split_once(": ")
    {
        return msg.to_string();
    }
    first.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn human_durations() {
        let h: Vec<String> = [183, 12_345, 125_000, 10_800_412, 93_600_000]
            .into_iter()
            .map(human)
            .collect();
        assert_eq!(h, ["183ms", "12.3s", "2m05s", "3h00m00s", "1d02h00m"]);
    }

    #[test]
    fn the_four_duration_forms() {
        assert_eq!(human(183), "183ms");
        assert_eq!(human(12_340), "12.3s");
        assert_eq!(human(125_000), "2m05s");
        assert_eq!(human(10_812_000), "3h00m12s");
        assert_eq!(human(101_100_000), "1d04h05m");
        assert_eq!(exact(Duration::from_millis(93_784_005)), "1d2h3m4s5ms");
        assert_eq!(exact(Duration::ZERO), "0s");
        assert_eq!(offset(93_784_005), "+1d 02:03:04.005");
        assert_eq!(offset(7_384_000), "+02:03:04");
        assert_eq!(
            stamp(Duration::from_millis(93_784_005)),
            "t=+1d02:03:04.005"
        );
    }
}
