//! Time cells as planners write them: offsets, day and clock times,
//! date-times, numeric dates day or month first, and hour rounding.

use super::*;

/// A time as a cell gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum When {
    /// An offset from the scenario's start.
    Elapsed(Duration),
    /// A date and time, with its UTC offset when the cell gives one.
    Absolute(NaiveDateTime, Option<FixedOffset>),
    /// Day index (0 = the start's day) and seconds after midnight.
    Day(u64, u32),
}

pub(super) const TIME_FORMS: &str = "expected an offset from the start such as 0s, 14h, 1d2h30m or 14:30 \
     (hours:minutes), a day and clock time such as D+1 08:00 or Day 2 08:00, or a date-time \
     such as 2019-01-15 19:00, 15/01/2019 7:00 PM or 2019-01-15T19:00:00-06:00";

/// `H:MM` or `H:MM:SS` in seconds; hours below 24 when `clock`.
pub(super) fn hms(s: &str, clock: bool) -> Option<u64> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 6 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let n: Vec<u64> = parts.iter().filter_map(|p| p.parse().ok()).collect();
    let (h, m, sec) = (n[0], n[1], n.get(2).copied().unwrap_or(0));
    if parts[1].len() != 2 || m >= 60 || sec >= 60 || (clock && h >= 24) {
        return None;
    }
    Some(h * 3600 + m * 60 + sec)
}

/// `D+1 08:00`, `D-Day 08:00`, `Day 2 08:00`: `None` when the cell is not of
/// this form at all.
pub(super) fn parse_day(s: &str) -> Option<Result<When, String>> {
    let lower = s.trim().to_lowercase();
    let (day, rest) = if let Some(rest) = lower.strip_prefix("d-day") {
        (0, rest.to_string())
    } else if let Some(rest) = lower.strip_prefix("d+") {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let day = rest[..digits].parse::<u64>().ok()?;
        (day, rest[digits..].to_string())
    } else if let Some(rest) = lower.strip_prefix("day") {
        let rest = rest.trim_start();
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let day = rest[..digits].parse::<u64>().ok()?;
        if day == 0 {
            return Some(Err(format!(
                "`{}`: days count from Day 1 (the start's day); {TIME_FORMS}",
                s.trim()
            )));
        }
        (day - 1, rest[digits..].to_string())
    } else {
        return None;
    };
    let rest = rest.trim_start_matches([' ', ',', '@', '-']).trim();
    let secs = if rest.is_empty() {
        Some(0)
    } else {
        hms(rest, true)
    };
    Some(match secs {
        Some(secs) if day <= 100_000 => Ok(When::Day(day, secs as u32)),
        _ => Err(format!(
            "`{}` is not a day and clock time (the clock time must be HH:MM or HH:MM:SS, \
             below 24:00); {TIME_FORMS}",
            s.trim()
        )),
    })
}

/// The parts of a numeric date-time as a spreadsheet shows it: `14/01/2019
/// 21:00`, `1/14/19 9:00 PM`, `14.01.2019 21:00:00`, `15/1/2019 9:00 p. m.`:
/// the two leading numbers (day and month in some order), the year, and the
/// time of day in seconds. `None` when `s` is not of this form.
pub(super) fn numeric_date(s: &str) -> Option<(u32, u32, i32, u32)> {
    let s = s.trim();
    let (date, time) = match s.split_once(|c: char| c.is_whitespace() || c == 'T') {
        Some((d, t)) => (d, t.trim()),
        None => (s, ""),
    };
    let sep = if date.contains('/') { '/' } else { '.' };
    let parts: Vec<&str> = date.split(sep).collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        || parts[0].len() > 2
        || parts[1].len() > 2
        || !matches!(parts[2].len(), 2 | 4)
    {
        return None;
    }
    let (a, b): (u32, u32) = (parts[0].parse().ok()?, parts[1].parse().ok()?);
    let mut year: i32 = parts[2].parse().ok()?;
    if parts[2].len() == 2 {
        year += 2000;
    }
    // A 12-hour clock: `9:00 PM`, `9:00 p.m.`, `9:00 p. m.`.
    let lower = time.to_lowercase();
    let squashed: String = lower
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '.')
        .collect();
    let (clock, half) = if let Some(c) = squashed.strip_suffix("am") {
        (c.to_string(), Some(0))
    } else if let Some(c) = squashed.strip_suffix("pm") {
        (c.to_string(), Some(12))
    } else {
        (time.to_string(), None)
    };
    let secs = if clock.is_empty() {
        0
    } else {
        hms(&clock, true)? as u32
    };
    let secs = match half {
        Some(add) => {
            let h = secs / 3600;
            if !(1..=12).contains(&h) {
                return None;
            }
            (h % 12 + add) * 3600 + secs % 3600
        }
        None => secs,
    };
    Some((a, b, year, secs))
}

/// A numeric date read in `order`.
pub(super) fn numeric_datetime(s: &str, order: DateOrder) -> Option<NaiveDateTime> {
    let (a, b, year, secs) = numeric_date(s)?;
    let (day, month) = match order {
        DateOrder::DayFirst => (a, b),
        DateOrder::MonthFirst => (b, a),
    };
    chrono::NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
    )
}

/// What the table's numeric dates say about their order: `Ok(None)` when it
/// has none or they fit either order.
pub(super) fn date_order_of(cells: &[(u64, &str)]) -> Result<Option<DateOrder>, (u64, String)> {
    let mut day_first: Option<(u64, &str)> = None;
    let mut month_first: Option<(u64, &str)> = None;
    for &(line, c) in cells {
        let Some((a, b, ..)) = numeric_date(c) else {
            continue;
        };
        if a > 12 && b <= 12 {
            day_first.get_or_insert((line, c));
        }
        if b > 12 && a <= 12 {
            month_first.get_or_insert((line, c));
        }
    }
    match (day_first, month_first) {
        (Some((l1, c1)), Some((l2, c2))) => Err((
            l2.max(l1),
            format!(
                "dates in both orders: `{c1}` (line {l1}) is day first, `{c2}` (line {l2}) month \
                 first: expected one order throughout, or dates written as 2019-01-14"
            ),
        )),
        (Some(_), None) => Ok(Some(DateOrder::DayFirst)),
        (None, Some(_)) => Ok(Some(DateOrder::MonthFirst)),
        (None, None) => Ok(None),
    }
}

/// A date-time, with or without a UTC offset.
pub(super) fn parse_absolute(s: &str, order: Option<DateOrder>) -> Option<When> {
    if let Some(order) = order
        && let Some(n) = numeric_datetime(s, order)
    {
        return Some(When::Absolute(n, None));
    }
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(When::Absolute(dt.naive_local(), Some(*dt.offset())));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%d %H:%M%:z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%d %H:%M:%S %:z",
        "%Y-%m-%d %H:%M %:z",
        "%Y-%m-%d %H:%M:%S %z",
        "%Y-%m-%d %H:%M %z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(s, f) {
            return Some(When::Absolute(dt.naive_local(), Some(*dt.offset())));
        }
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return Some(When::Absolute(n, None));
        }
    }
    None
}

/// A cell of the `time` column; `order` reads numeric dates.
pub(super) fn parse_time_cell(s: &str, order: Option<DateOrder>) -> Result<When, String> {
    if let Ok(d) = parse_duration(s) {
        return Ok(When::Elapsed(d));
    }
    let t = s.trim();
    let t = t
        .strip_prefix("T+")
        .or_else(|| t.strip_prefix("t+"))
        .or_else(|| t.strip_prefix('+'))
        .unwrap_or(t);
    if let Some(secs) = hms(t, false) {
        return Ok(When::Elapsed(Duration::from_secs(secs)));
    }
    if let Some(r) = parse_day(s) {
        return r;
    }
    parse_absolute(s, order).ok_or_else(|| not_a_time(s, "a time", TIME_FORMS))
}

/// A cell of the `datetime` column: a date-time, a day and clock time, or a
/// clock time on the start's day.
pub(super) fn parse_datetime_cell(s: &str, order: Option<DateOrder>) -> Result<When, String> {
    if let Some(w) = parse_absolute(s, order) {
        return Ok(w);
    }
    if let Some(r) = parse_day(s) {
        return r;
    }
    if let Some(secs) = hms(s, true) {
        return Ok(When::Day(0, secs as u32));
    }
    Err(not_a_time(
        s,
        "a date-time",
        "expected e.g. 2019-01-15T19:00:00-06:00, 2019-01-15 19:00, 15/01/2019 19:00, \
         D+1 08:00, Day 2 08:00 or a clock time 19:00 on the first day",
    ))
}

/// Why `s` is not `what`: a numeric date whose day and month cannot be told
/// apart gets its own reason.
pub(super) fn not_a_time(s: &str, what: &str, forms: &str) -> String {
    match numeric_date(s) {
        Some((a, b, year, _)) if a <= 12 && b <= 12 => format!(
            "`{}` could be {year}-{b:02}-{a:02} or {year}-{a:02}-{b:02}, and no date in the \
             table has a day above 12 to tell: import with --dates dmy (day first) or --dates \
             mdy (month first), or write dates as 2019-01-14",
            s.trim()
        ),
        Some(_) => format!("`{}` is not a valid date", s.trim()),
        None => format!("`{}` is not {what}: {forms}", s.trim()),
    }
}

/// A date-time from a local date-time and an offset, in the years 1 to 9999.
pub(super) fn at_offset(n: NaiveDateTime, off: FixedOffset) -> Option<DateTime<FixedOffset>> {
    n.and_local_timezone(off).single().and_then(in_years)
}

/// `t` if its local date is in the years 1 to 9999, which RFC 3339 (a
/// scenario's `start`) can write; chrono also reads `-1-01-14 01:00`.
pub(super) fn in_years(t: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
    use chrono::Datelike as _;
    (1..=9999).contains(&t.year()).then_some(t)
}

pub(super) fn day_time(
    day0: NaiveDate,
    day: u64,
    secs: u32,
    off: FixedOffset,
) -> Option<DateTime<FixedOffset>> {
    let date = day0.checked_add_days(Days::new(day))?;
    let time = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0)?;
    at_offset(date.and_time(time), off)
}

pub(super) fn floor_hour(t: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    t.with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

/// Up to the next whole hour (unchanged when already whole).
pub(super) fn ceil_hour(d: Duration) -> Duration {
    let h = d.as_secs().div_ceil(3600);
    Duration::from_secs(h * 3600)
}
