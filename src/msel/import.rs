//! `import_csv`: a table in, scenario YAML out, checked by the scenario
//! parser, with errors mapped back to the CSV cell they came from.

use super::*;

/// Turns an MSEL table (CSV text) into a scenario skeleton (YAML text) that
/// validates. `file` names the table in errors and gives the default name and
/// title.
///
/// Headers are matched ignoring case, spaces and punctuation, with aliases
/// (`Scenario Time`, `Sender`, `Recipient(s)`, `Event Description`, `Core
/// Capability`, `TLP`…); the columns time (or datetime), from, kind and message
/// are required, the others optional, unknown ones listed in a comment and
/// ignored. A UTF-8 byte-order mark, CRLF line ends, `;` or tab delimiters,
/// blank rows and trailing empty columns are accepted.
///
/// The start is `opts.start`; else, when a row gives both an offset (`time`)
/// and a date-time (`datetime`), the date-time minus the offset; else the
/// earliest absolute time rounded down to the hour; else [`DEFAULT_START`].
/// Rows are sorted by time (stable). The duration is the last inject's time
/// rounded up to the hour, plus 1h.
pub fn import_csv(text: &str, file: &str, opts: &ImportOptions) -> Result<String, MselError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (header, rows) = read_rows(text, file)?;
    let (mut table, ignored) = map_columns(&header, file, opts)?;
    check_columns(&table, &header, &rows)?;

    // Numeric dates: day or month first, as the options or the table say.
    if table.dates.is_none() {
        let cells: Vec<(u64, &str)> = rows
            .iter()
            .flat_map(|row| {
                [Field::Time, Field::DateTime]
                    .into_iter()
                    .filter_map(|f| Some((row.line, table.cell(row, f)?)))
            })
            .collect();
        table.dates =
            date_order_of(&cells).map_err(|(line, message)| table_err(file, line, message))?;
    }

    let mut parsed = parse_rows(&table, &rows)?;

    // Times: the start, then every row's offset.
    let start = resolve_times(&table, &mut parsed, opts)?;
    parsed.sort_by_key(|p| p.at);

    // References, kinds and payloads, in time order.
    let (resolved, last) = resolve_rows(&table, &parsed)?;
    let duration = ceil_hour(last) + Duration::from_secs(3600);

    // The YAML.
    let (name, title) = names(file, opts);
    let mut y = Yaml::default();
    y.push(
        format!(
            "# Scenario skeleton built by `gcif-sim msel import` from {}.",
            comment_text(file)
        ),
        None,
    );
    y.push(
        "# Add network, faults, traffic and further expectations as needed.",
        None,
    );
    if !ignored.is_empty() {
        let list: Vec<String> = ignored.iter().map(|h| comment_text(h)).collect();
        y.push(
            format!("# Columns not carried over: {}", list.join(", ")),
            None,
        );
    }
    y.push(format!("name: {}", quote(&name)), None);
    y.push(format!("title: {}", quote(&title)), None);
    y.push(
        format!(
            "start: {}",
            start.to_rfc3339_opts(SecondsFormat::AutoSi, false)
        ),
        None,
    );
    y.push(format!("duration: {}", format_duration(duration)), None);
    y.push("status: exercise", None);
    write_injects(&mut y, &parsed, &resolved);
    write_expectations(&mut y, &parsed, file, &name);
    validated(y, &table, file, &name)
}

/// A table error at `line`.
fn table_err(file: &str, line: u64, message: String) -> MselError {
    MselError::Table {
        file: file.to_string(),
        line,
        message,
    }
}

/// The header row and the data rows, blank rows skipped, each with its line.
fn read_rows(text: &str, file: &str) -> Result<(Row, Vec<Row>), MselError> {
    let table_err = |line: u64, message: String| table_err(file, line, message);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(text))
        .from_reader(text.as_bytes());
    let mut header: Option<Row> = None;
    let mut rows: Vec<Row> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            table_err(
                e.position().map_or(1, |p| line_at(text, p.byte())),
                format!("not readable as CSV: {e}"),
            )
        })?;
        let line = record.position().map_or(1, |p| line_at(text, p.byte()));
        let cells: Vec<String> = record.iter().map(|c| c.trim().to_string()).collect();
        if cells.iter().all(String::is_empty) {
            continue;
        }
        let row = Row { line, cells };
        if header.is_none() {
            header = Some(row);
        } else {
            rows.push(row);
        }
    }
    let Some(header) = header else {
        return Err(table_err(
            1,
            "the table is empty: expected a header row (time, from, kind, message, …) and one \
             row per inject"
                .into(),
        ));
    };
    Ok((header, rows))
}

/// Which column is which: each header matched to a field by its aliases;
/// the headers no field answers to, to be listed in a comment.
fn map_columns<'a>(
    header: &Row,
    file: &'a str,
    opts: &ImportOptions,
) -> Result<(Table<'a>, Vec<String>), MselError> {
    let mut table = Table {
        file,
        header_line: header.line,
        columns: BTreeMap::new(),
        dates: opts.dates,
    };
    let mut ignored: Vec<String> = Vec::new();
    for (i, h) in header.cells.iter().enumerate() {
        if h.is_empty() {
            continue;
        }
        let key = normalize_header(h);
        let Some(field) = Field::ALL
            .into_iter()
            .find(|f| f.aliases().contains(&key.as_str()))
        else {
            ignored.push(h.clone());
            continue;
        };
        if let Some((_, other)) = table.columns.get(&field) {
            return Err(MselError::Column {
                file: file.to_string(),
                line: header.line,
                column: h.clone(),
                message: format!(
                    "means the same as column {other} ({}): expected each column once",
                    field.name()
                ),
            });
        }
        table.columns.insert(field, (i, h.clone()));
    }
    Ok((table, ignored))
}

/// The required columns are there, and at least one row.
fn check_columns(table: &Table, header: &Row, rows: &[Row]) -> Result<(), MselError> {
    let file = table.file;
    let table_err = |line: u64, message: String| table_err(file, line, message);
    let has = |f: Field| table.columns.contains_key(&f);
    let mut missing = Vec::new();
    if !has(Field::Time) && !has(Field::DateTime) {
        missing.push(Field::Time);
    }
    missing.extend(
        [Field::From, Field::Kind, Field::Message]
            .into_iter()
            .filter(|f| !has(*f)),
    );
    if let Some(&f) = missing.first() {
        return Err(table.err(
            table.header_line,
            f,
            format!(
                "missing: expected a header named {} (the required columns are time, from, \
                 kind and message)",
                f.spellings()
            ),
        ));
    }
    if rows.is_empty() {
        return Err(table_err(
            header.line,
            "the table has a header but no rows: expected one row per inject".into(),
        ));
    }
    Ok(())
}

/// Each row checked on its own, and ids unique.
fn parse_rows(table: &Table, rows: &[Row]) -> Result<Vec<Parsed>, MselError> {
    let mut parsed = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        parsed.push(table.parse_row(row, n + 1)?);
    }
    let mut ids: BTreeMap<String, u64> = BTreeMap::new();
    for p in &parsed {
        if let Some(first) = ids.insert(p.id.clone(), p.line) {
            let f = if p.id_given { Field::Id } else { Field::Number };
            return Err(table.err(
                p.line,
                f,
                format!(
                    "id `{}` is used twice (also on line {first}): expected a unique id per row",
                    p.id
                ),
            ));
        }
    }
    Ok(parsed)
}

/// References, kinds and payloads resolved row by row, in time order; and
/// the latest time any row needs the run to reach.
fn resolve_rows(table: &Table, parsed: &[Parsed]) -> Result<(Vec<Resolved>, Duration), MselError> {
    let by_number: BTreeMap<String, String> = parsed
        .iter()
        .filter_map(|p| Some((p.number.clone()?, p.id.clone())))
        .collect();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut resolved: Vec<Resolved> = Vec::new();
    let mut last = Duration::ZERO;
    for (i, p) in parsed.iter().enumerate() {
        let r = resolve_row(table, p, &index, &by_number, &resolved)?;
        last = last.max(p.at).max(r.observed.unwrap_or_default());
        index.insert(p.id.clone(), i);
        resolved.push(r);
    }
    Ok((resolved, last))
}

/// The scenario's name (from the file name, as a slug) and title.
fn names(file: &str, opts: &ImportOptions) -> (String, String) {
    let stem = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name = String::new();
    for c in stem.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            name.push(c);
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_end_matches('-').to_string();
    let name = opts.name.clone().unwrap_or(if name.is_empty() {
        "msel".to_string()
    } else {
        name
    });
    let title = opts.title.clone().unwrap_or(if stem.trim().is_empty() {
        "Imported MSEL".to_string()
    } else {
        stem.clone()
    });
    (name, title)
}

/// The `injects:` section, each line tied to the cell it came from.
fn write_injects(y: &mut Yaml, parsed: &[Parsed], resolved: &[Resolved]) {
    y.push("injects:", None);
    for (p, r) in parsed.iter().zip(resolved) {
        let l = p.line;
        let id_field = if p.id_given { Field::Id } else { Field::Kind };
        y.push(
            format!("  - id: {}  # line {l}", quote(&p.id)),
            Some((l, id_field)),
        );
        y.push(
            format!("    at: {}", format_duration(p.at)),
            Some((l, p.time_field)),
        );
        y.push(
            format!("    from: {}", p.from.code()),
            Some((l, Field::From)),
        );
        if let Some(h) = p.handling {
            y.push(format!("    handling: {h}"), Some((l, Field::Handling)));
        } else if p.to == Some(To::Refused) && p.payload.is_none() {
            // The table expects the hub to refuse a placeholder it would
            // accept: TLP:RED is what every policy refuses.
            y.push(
                "    handling: red  # the table expects a refusal; the hub refuses TLP:RED",
                Some((l, Field::To)),
            );
        }
        if let Some(e) = p.expires {
            y.push(
                format!("    expires: {}", format_duration(e)),
                Some((l, Field::Expires)),
            );
        }
        if let Some(target) = &r.refers {
            let key = if r.message_type == MessageType::Cancel {
                "cancels"
            } else {
                "updates"
            };
            y.push(
                format!("    {key}: {}", quote(target)),
                Some((l, Field::RefersTo)),
            );
        }
        for (key, value, f) in [
            ("message", &p.message, Field::Message),
            ("expected_action", &p.expected_action, Field::ExpectedAction),
            ("objective", &p.objective, Field::Objective),
        ] {
            if let Some(v) = value {
                y.push(format!("    {key}: {}", quote(v)), Some((l, f)));
            }
        }
        if let Some((text, f)) = &r.payload {
            y.push(format!("    {}: {text}", r.kind.name()), Some((l, *f)));
        }
    }
}

/// The `expect:` section: for each row, who must receive it (routing `all`
/// as the hub will) or that it is refused; and no loss overall.
fn write_expectations(y: &mut Yaml, parsed: &[Parsed], file: &str, name: &str) {
    // `all`: whom the policy lets receive each inject, as the hub will
    // decide it (the skeleton so far is a scenario to route).
    let routes = if parsed.iter().any(|p| p.to == Some(To::Everyone)) {
        let draft = format!("{}expect:\n  - no_loss: true\n", y.text());
        scenario::parse(file, name, &draft)
            .ok()
            .map(|s| route_injects(&s))
    } else {
        None
    };
    y.push("expect:", None);
    for (i, p) in parsed.iter().enumerate() {
        let everyone;
        let to = match &p.to {
            Some(To::Everyone) => {
                everyone = match routes.as_ref().and_then(|r| r.get(i)) {
                    Some(Ok(recipients)) => recipients.clone(),
                    // Refused, or not routable: expect what the table says,
                    // and let the run show the difference.
                    _ => Ministry::DEFAULTS
                        .into_iter()
                        .filter(|&m| m != p.from)
                        .collect(),
                };
                Some(To::Recipients(everyone))
            }
            to => to.clone(),
        };
        match &to {
            Some(To::Recipients(list)) => {
                let codes: Vec<&str> = list.iter().map(|m| m.code()).collect();
                y.push(
                    format!(
                        "  - {{ inject: {}, delivered_to: [{}] }}",
                        quote(&p.id),
                        codes.join(", ")
                    ),
                    Some((p.line, Field::To)),
                );
            }
            Some(To::Refused) => y.push(
                format!("  - {{ inject: {}, rejected: true }}", quote(&p.id)),
                Some((p.line, Field::To)),
            ),
            Some(To::Everyone) | None => {}
        }
    }
    y.push("  - no_loss: true", None);
}

/// The YAML text, once the scenario parser accepts it; its error mapped back
/// to the CSV cell that produced the offending line (a bug guard: what the
/// import returns must validate).
fn validated(y: Yaml, table: &Table, file: &str, name: &str) -> Result<String, MselError> {
    let yaml = y.text();
    match scenario::parse(file, name, &yaml) {
        Ok(_) => Ok(yaml),
        Err(e) => {
            let origin = usize::try_from(e.line)
                .ok()
                .and_then(|l| y.lines.get(l.checked_sub(1)?))
                .and_then(|(_, o)| *o);
            Err(match origin {
                Some((line, f)) => table.err(line, f, e.message),
                None => MselError::Generated {
                    file: file.to_string(),
                    source: e,
                },
            })
        }
    }
}

/// Sets every row's `at` and returns the start.
pub(super) fn resolve_times(
    table: &Table,
    parsed: &mut [Parsed],
    opts: &ImportOptions,
) -> Result<DateTime<FixedOffset>, MselError> {
    let cells = || {
        parsed
            .iter()
            .flat_map(|p| [Some(p.when), p.datetime])
            .flatten()
    };
    // The offset of date-times that give none.
    let default_start =
        DateTime::parse_from_rfc3339(DEFAULT_START).map_err(|e| MselError::Table {
            file: table.file.to_string(),
            line: 1,
            message: format!("bad DEFAULT_START: {e}"),
        })?;
    let tz = opts.start.map(|s| *s.offset()).unwrap_or_else(|| {
        cells()
            .find_map(|w| match w {
                When::Absolute(_, Some(off)) => Some(off),
                _ => None,
            })
            .unwrap_or(*default_start.offset())
    });
    let bad_time = |p: &Parsed, f: Field| {
        table.err(
            p.line,
            f,
            "this date-time does not exist or is out of range: expected a date-time \
             between the years 1 and 9999",
        )
    };
    let absolute = |n: NaiveDateTime, off: Option<FixedOffset>| at_offset(n, off.unwrap_or(tz));

    let mut start = opts.start;
    if start.is_none() {
        // A row with both an offset and a date-time fixes the start exactly.
        for p in parsed.iter() {
            if let (When::Elapsed(d), Some(When::Absolute(n, off))) = (p.when, p.datetime) {
                let t = absolute(n, off).ok_or_else(|| bad_time(p, Field::DateTime))?;
                let d = chrono::Duration::from_std(d).map_err(|_| bad_time(p, Field::Time))?;
                start = Some(
                    t.checked_sub_signed(d)
                        .and_then(in_years)
                        .ok_or_else(|| bad_time(p, Field::Time))?,
                );
                break;
            }
        }
    }
    let day0 = match start {
        Some(s) => s.date_naive(),
        None => cells()
            .filter_map(|w| match w {
                When::Absolute(n, off) => absolute(n, off),
                _ => None,
            })
            .min()
            .map_or(default_start.date_naive(), |t| t.date_naive()),
    };
    // Each row's time as a date-time, where it is not an offset.
    let mut clock: Vec<Option<DateTime<FixedOffset>>> = Vec::new();
    for p in parsed.iter() {
        clock.push(match p.when {
            When::Elapsed(_) => None,
            When::Absolute(n, off) => {
                Some(absolute(n, off).ok_or_else(|| bad_time(p, p.time_field))?)
            }
            When::Day(day, secs) => {
                Some(day_time(day0, day, secs, tz).ok_or_else(|| bad_time(p, p.time_field))?)
            }
        });
    }
    let start = match start {
        Some(s) => s,
        None => match clock.iter().flatten().min() {
            Some(&earliest) => floor_hour(earliest),
            None => default_start.with_timezone(&tz),
        },
    };
    for (p, c) in parsed.iter_mut().zip(clock) {
        p.at = match (p.when, c) {
            (When::Elapsed(d), _) => d,
            (_, Some(t)) => (t - start).to_std().map_err(|_| {
                table.err(
                    p.line,
                    p.time_field,
                    format!(
                        "{} is before the scenario start {}: expected a time at or after it",
                        t.to_rfc3339_opts(SecondsFormat::AutoSi, false),
                        start.to_rfc3339_opts(SecondsFormat::AutoSi, false)
                    ),
                )
            })?,
            (_, None) => return Err(bad_time(p, p.time_field)),
        };
    }
    Ok(start)
}

/// A row's place in its thread, kind and payload.
pub(super) struct Resolved {
    pub(super) message_type: MessageType,
    pub(super) refers: Option<String>,
    pub(super) kind: Kind,
    /// The payload's YAML flow text and the column it came from.
    pub(super) payload: Option<(String, Field)>,
    pub(super) observed: Option<Duration>,
}

pub(super) fn resolve_row(
    table: &Table,
    p: &Parsed,
    index: &BTreeMap<String, usize>,
    by_number: &BTreeMap<String, String>,
    earlier: &[Resolved],
) -> Result<Resolved, MselError> {
    let err = |f: Field, m: String| table.err(p.line, f, m);
    let message_type = match (p.message_type, &p.refers_to) {
        (Some(t), _) => t,
        (None, Some(_)) => MessageType::Update,
        (None, None) => MessageType::Alert,
    };
    let target = match (&p.refers_to, message_type) {
        (Some(r), MessageType::Alert) => {
            return Err(err(
                Field::RefersTo,
                format!(
                    "an alert refers to nothing, but this row refers to `{r}`: expected type \
                     update or cancel, or an empty cell"
                ),
            ));
        }
        (None, MessageType::Update | MessageType::Cancel) => {
            return Err(err(
                if table.columns.contains_key(&Field::RefersTo) {
                    Field::RefersTo
                } else {
                    Field::Type
                },
                format!(
                    "an {} needs the id of the earlier inject it {}: expected it in column \
                     refers to",
                    message_type.name(),
                    if message_type == MessageType::Update {
                        "updates"
                    } else {
                        "cancels"
                    }
                ),
            ));
        }
        (None, MessageType::Alert) => None,
        (Some(r), _) => {
            let key = r.trim();
            let id = if index.contains_key(key) {
                key.to_string()
            } else if let Some(id) = by_number.get(key.trim_start_matches('#').trim()) {
                id.clone()
            } else {
                key.to_string()
            };
            match index.get(&id) {
                Some(&j) => Some((id, j)),
                None => {
                    return Err(err(
                        Field::RefersTo,
                        format!(
                            "`{r}` is not the id (or #) of an earlier row: expected the inject \
                             this row {}, at or before this row's time",
                            if message_type == MessageType::Update {
                                "updates"
                            } else {
                                "cancels"
                            }
                        ),
                    ));
                }
            }
        }
    };
    let target_kind = target
        .as_ref()
        .and_then(|(_, j)| earlier.get(*j))
        .map(|r| r.kind);
    let kind = match (p.kind, target_kind) {
        (Some(k), Some(t)) if k != t => {
            return Err(err(
                Field::Kind,
                format!(
                    "this row is a {k} but refers to a {t}: expected the kind of the inject it \
                     {}",
                    if message_type == MessageType::Update {
                        "updates"
                    } else {
                        "cancels"
                    }
                ),
            ));
        }
        (Some(k), _) => k,
        (None, Some(t)) => t,
        (None, None) => {
            return Err(err(
                Field::Kind,
                "empty: expected caravan_alert, document_flag or cargo_notice".into(),
            ));
        }
    };
    let (payload, observed) = if message_type == MessageType::Cancel {
        if p.payload.is_some() {
            return Err(err(
                Field::Payload,
                "a cancel carries no payload: expected an empty cell".into(),
            ));
        }
        (None, None)
    } else if let Some(text) = &p.payload {
        let observed = check_payload(text, kind).map_err(|e| err(Field::Payload, e))?;
        (Some((text.clone(), Field::Payload)), observed)
    } else if let Some((text, observed)) = target
        .as_ref()
        .and_then(|(_, j)| earlier.get(*j))
        .and_then(|r| Some((r.payload.as_ref()?.0.clone(), r.observed)))
    {
        // An update without content repeats what it updates.
        (Some((text, Field::Kind)), observed)
    } else {
        (
            Some((
                skeleton_payload(kind, &p.id, p.from, p.to.as_ref()),
                Field::Kind,
            )),
            None,
        )
    };
    Ok(Resolved {
        message_type,
        refers: target.map(|(id, _)| id),
        kind,
        payload,
        observed,
    })
}
