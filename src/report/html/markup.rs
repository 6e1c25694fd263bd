//! Markup helpers shared by the report and the comparison page: escaping,
//! times, pills, kind chips, plurals, message links.

use super::*;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The scenario's local clock at `t`, `2019-01-15 05:00`.
pub(super) fn clock(start: Option<DateTime<FixedOffset>>, t: u64) -> String {
    match start {
        Some(s) => (s + chrono::Duration::milliseconds(t as i64))
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        None => String::new(),
    }
}

/// A `<td>` with both forms of a time.
pub(super) fn time_cell(start: Option<DateTime<FixedOffset>>, t: Option<u64>) -> String {
    match t {
        Some(t) => format!(
            "<td class=t>{}<br><span class=small>{}</span></td>",
            offset(t),
            clock(start, t)
        ),
        None => "<td class=t>—</td>".to_string(),
    }
}

pub(super) fn pill(class: &str, text: &str) -> String {
    format!("<span class=\"pill {class}\">{}</span>", esc(text))
}

pub(super) fn kind_chip(k: Kind) -> String {
    format!("<span class=\"kind k-{}\"></span>{}", k.name(), k.label())
}

/// `1 fault`, `2 faults`, `3 deliveries`.
pub(super) fn plural(n: usize, word: &str) -> String {
    match (n, word.strip_suffix('y')) {
        (1, _) => format!("1 {word}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {word}s"),
    }
}

/// A link that follows a message in the diagram.
pub(super) fn msg_link(id: &str) -> String {
    format!(
        "<a href=\"#msg={0}\" data-msg=\"{0}\" class=mono>{0}</a>",
        esc(id)
    )
}
