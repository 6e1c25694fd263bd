//! The table as read: rows with their CSV lines, cells by field, and each
//! row checked on its own (`Table::parse_row`).

use super::*;

/// One data row, as read.
pub(super) struct Row {
    pub(super) line: u64,
    pub(super) cells: Vec<String>,
}

/// One data row, understood.
pub(super) struct Parsed {
    pub(super) line: u64,
    /// Which column gave the time.
    pub(super) time_field: Field,
    pub(super) when: When,
    /// The `datetime` cell, when the `time` cell gave the time.
    pub(super) datetime: Option<When>,
    pub(super) at: Duration,
    pub(super) number: Option<String>,
    pub(super) id: String,
    /// Whether `id` comes from the row's own id cell.
    pub(super) id_given: bool,
    pub(super) from: Ministry,
    pub(super) to: Option<To>,
    pub(super) kind: Option<Kind>,
    pub(super) message: Option<String>,
    pub(super) expected_action: Option<String>,
    pub(super) objective: Option<String>,
    pub(super) message_type: Option<MessageType>,
    pub(super) refers_to: Option<String>,
    pub(super) handling: Option<Handling>,
    pub(super) expires: Option<Duration>,
    pub(super) payload: Option<String>,
}

/// The header: which column is which.
pub(super) struct Table<'a> {
    pub(super) file: &'a str,
    pub(super) header_line: u64,
    pub(super) columns: BTreeMap<Field, (usize, String)>,
    /// How numeric dates read (`None`: none seen, or undecided).
    pub(super) dates: Option<DateOrder>,
}

impl Table<'_> {
    pub(super) fn header(&self, f: Field) -> String {
        self.columns
            .get(&f)
            .map_or_else(|| f.name().to_string(), |(_, h)| h.clone())
    }

    pub(super) fn err(&self, line: u64, f: Field, message: impl Into<String>) -> MselError {
        MselError::Column {
            file: self.file.to_string(),
            line,
            column: self.header(f),
            message: message.into(),
        }
    }

    pub(super) fn cell<'r>(&self, row: &'r Row, f: Field) -> Option<&'r str> {
        let (i, _) = self.columns.get(&f)?;
        row.cells
            .get(*i)
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
    }

    pub(super) fn text(&self, row: &Row, f: Field) -> Option<String> {
        self.cell(row, f).map(str::to_string)
    }

    /// Everything about one row that does not depend on other rows.
    pub(super) fn parse_row(&self, row: &Row, n: usize) -> Result<Parsed, MselError> {
        let line = row.line;
        let at_err = |f: Field, e: String| self.err(line, f, e);
        let time = self
            .cell(row, Field::Time)
            .map(|c| parse_time_cell(c, self.dates).map_err(|e| at_err(Field::Time, e)))
            .transpose()?;
        let datetime = self
            .cell(row, Field::DateTime)
            .map(|c| parse_datetime_cell(c, self.dates).map_err(|e| at_err(Field::DateTime, e)))
            .transpose()?;
        let (time_field, when, datetime) = match (time, datetime) {
            (Some(t), d) => (Field::Time, t, d),
            (None, Some(d)) => (Field::DateTime, d, None),
            (None, None) => {
                let f = if self.columns.contains_key(&Field::Time) {
                    Field::Time
                } else {
                    Field::DateTime
                };
                return Err(self.err(
                    line,
                    f,
                    format!("empty: every row needs a time; {TIME_FORMS}"),
                ));
            }
        };
        let from = match self.cell(row, Field::From) {
            Some(c) => parse_ministry(c).map_err(|e| at_err(Field::From, e))?,
            None => {
                return Err(self.err(
                    line,
                    Field::From,
                    format!("empty: every row needs its sender; {MINISTRY_FORMS}"),
                ));
            }
        };
        let to = match self.cell(row, Field::To) {
            Some(c) => parse_to(c).map_err(|e| at_err(Field::To, e))?,
            None => None,
        };
        if let Some(To::Recipients(list)) = &to
            && list.contains(&from)
        {
            return Err(self.err(
                line,
                Field::To,
                format!(
                    "{from} sends this inject and never receives its own message: \
                     expected only the other ministries"
                ),
            ));
        }
        let kind = self
            .cell(row, Field::Kind)
            .map(|c| parse_kind(c).map_err(|e| at_err(Field::Kind, e)))
            .transpose()?;
        let message_type = self
            .cell(row, Field::Type)
            .map(|c| parse_type(c).map_err(|e| at_err(Field::Type, e)))
            .transpose()?;
        let handling = self
            .cell(row, Field::Handling)
            .map(|c| parse_handling(c).map_err(|e| at_err(Field::Handling, e)))
            .transpose()?;
        let expires = match self.cell(row, Field::Expires) {
            None => None,
            Some(c) if matches!(c.to_lowercase().as_str(), "-" | "none" | "never") => None,
            Some(c) => {
                let d = parse_duration(c).map_err(|e| {
                    at_err(
                        Field::Expires,
                        format!("{e} (how long after the inject's time the content goes stale)"),
                    )
                })?;
                if d.is_zero() {
                    return Err(self.err(
                        line,
                        Field::Expires,
                        "0 would expire the message before it is sent: expected a duration \
                         above zero, e.g. 12h, or an empty cell",
                    ));
                }
                Some(d)
            }
        };
        let number = self
            .cell(row, Field::Number)
            .map(|c| c.trim_start_matches('#').trim().to_string())
            .filter(|c| !c.is_empty());
        let id_given = self.cell(row, Field::Id).is_some();
        let id = match (self.text(row, Field::Id), &number) {
            (Some(id), _) => id,
            (None, Some(num)) => format!("inject-{num}"),
            (None, None) => format!("row-{n}"),
        };
        let payload = self
            .cell(row, Field::Payload)
            .map(|c| c.replace(['\r', '\n'], " ").trim().to_string());
        Ok(Parsed {
            line,
            time_field,
            when,
            datetime,
            at: Duration::ZERO,
            number,
            id,
            id_given,
            from,
            to,
            kind,
            message: self.text(row, Field::Message),
            expected_action: self.text(row, Field::ExpectedAction),
            objective: self.text(row, Field::Objective),
            message_type,
            refers_to: self.text(row, Field::RefersTo),
            handling,
            expires,
            payload,
        })
    }
}
