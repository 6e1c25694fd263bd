//! MSEL export and import on the library API: every shipped scenario survives
//! export → import, a table edited the way planners edit spreadsheets still
//! imports, and malformed tables give located errors without panicking.

use gcif_sim::model::{Kind, MessageType, Ministry, Payload};
use gcif_sim::msel::{self, ImportOptions, MselError};
use gcif_sim::scenario::{self, Inject, Scenario};

use crate::support::{play_scenario, shipped, shipped_for_msel};

/// What an inject must keep through export and import.
#[derive(Debug, PartialEq)]
struct Kept {
    label: String,
    at: std::time::Duration,
    from: Ministry,
    kind: Kind,
    handling: gcif_sim::model::Handling,
    message_type: MessageType,
    references: Vec<String>,
    payload: Option<Payload>,
    expires: Option<std::time::Duration>,
    objective: Option<String>,
    expected_action: Option<String>,
}

fn label(s: &Scenario, i: usize) -> String {
    s.injects[i]
        .label
        .clone()
        .unwrap_or_else(|| format!("#{i}"))
}

/// The injects in time order (ties in file order), as comparable values.
fn kept(s: &Scenario) -> Vec<Kept> {
    let mut order: Vec<usize> = (0..s.injects.len()).collect();
    order.sort_by_key(|&i| s.injects[i].at);
    order
        .into_iter()
        .map(|i| {
            let inj: &Inject = &s.injects[i];
            Kept {
                label: label(s, i),
                at: inj.at,
                from: inj.from,
                kind: inj.kind,
                handling: inj.handling,
                message_type: inj.message_type,
                references: inj.references.iter().map(|&r| label(s, r)).collect(),
                payload: inj.payload.clone(),
                expires: inj.expires,
                objective: inj.objective.clone(),
                expected_action: inj.expected_action.clone(),
            }
        })
        .collect()
}

fn import(csv: &str, file: &str) -> Result<Scenario, MselError> {
    let yaml = msel::import_csv(csv, file, &ImportOptions::default())?;
    Ok(scenario::parse(file, "imported", &yaml)
        .unwrap_or_else(|e| panic!("import_csv returned YAML that does not validate: {e}\n{yaml}")))
}

#[test]
fn every_shipped_scenario_survives_export_and_import() {
    for file in shipped_for_msel() {
        let original = scenario::load(&file).expect("shipped scenarios are valid");
        let csv = msel::export_csv(&original);
        assert_eq!(
            csv.lines().count(),
            original.injects.len() + 1,
            "{}: one row per inject plus the header",
            file.display()
        );
        let name = format!("{}.csv", original.name);
        let imported = import(&csv, &name).unwrap_or_else(|e| panic!("{e}\n{csv}"));
        assert_eq!(imported.start, original.start, "{}", file.display());
        assert_eq!(imported.name, original.name);
        let (a, b) = (kept(&original), kept(&imported));
        assert_eq!(a.len(), b.len(), "{}", file.display());
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(a, b, "{}", file.display());
        }
        assert!(
            original
                .injects
                .iter()
                .all(|i| i.objective.is_some() && i.expected_action.is_some()),
            "{}: every shipped inject states its objective and expected action",
            file.display()
        );
        // Exporting the import again gives the same table but for the
        // generated message texts, which became the injects' `message:`.
        assert_eq!(msel::export_csv(&imported), csv, "{}", file.display());
    }
}

#[test]
fn the_exported_routing_is_what_the_hub_does() {
    // The imported scenario expects every inject to reach exactly the `to`
    // column (or to be refused): playing it checks the export's routing
    // against the real hub, with no faults and no traffic.
    for file in shipped_for_msel() {
        let original = scenario::load(&file).expect("shipped scenarios are valid");
        let csv = msel::export_csv(&original);
        let imported = import(&csv, "routing.csv").unwrap_or_else(|e| panic!("{e}"));
        assert!(imported.expect.len() > 1, "{}", file.display());
        play_scenario(imported, 1).assert_passed();
    }
}

/// Parses CSV text into rows of cells.
fn rows(csv: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv.as_bytes())
        .records()
        .map(|r| r.expect("valid CSV").iter().map(str::to_string).collect())
        .collect()
}

/// Writes rows as CSV with `delimiter` and CRLF line ends, as spreadsheets do.
fn write(rows: &[Vec<String>], delimiter: u8) -> String {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for r in rows {
        w.write_record(r).expect("in memory");
    }
    String::from_utf8(w.into_inner().expect("in memory")).expect("UTF-8")
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

#[test]
fn a_table_edited_like_a_spreadsheet_still_imports() {
    let file = shipped()
        .into_iter()
        .find(|f| f.ends_with("caravan-san-pedro-sula.yaml"))
        .expect("the caravan scenario ships");
    let original = scenario::load(&file).expect("valid");
    let mut table = rows(&msel::export_csv(&original));
    let header = table.remove(0);
    let (time, id, action, to) = (
        column(&header, "time"),
        column(&header, "id"),
        column(&header, "expected action"),
        column(&header, "to"),
    );
    // Move one row and rewrite its expected action.
    let santa_rosa = table
        .iter_mut()
        .find(|r| r[id] == "caravan-santa-rosa")
        .expect("row exists");
    santa_rosa[time] = "08:15".into();
    santa_rosa[action] = "SV-MJSP briefs its border posts; nothing else".into();
    // Delete a row nothing refers to.
    table.retain(|r| r[id] != "passport-flag-agua-caliente");
    // Add a hand-written row: no payload, no id, a human kind, country codes.
    let mut extra = vec![String::new(); header.len()];
    extra[time] = "Day 2 09:30".into();
    extra[column(&header, "from")] = "sv".into();
    extra[column(&header, "kind")] = "Fraudulent document".into();
    extra[column(&header, "message")] =
        "SV-MJSP reports a forged \"DUI\" seen at El Amatillo; details to follow".into();
    extra[to] = "GT, HN, US".into();
    extra[column(&header, "objective")] = "Information sharing: document flags".into();
    table.push(extra);
    // Reorder: newest first.
    table.reverse();
    // The datetime column no longer agrees with every row: drop it, and give
    // the start explicitly.
    let datetime = column(&header, "datetime");
    let mut all = vec![header.clone()];
    all.extend(table);
    for r in &mut all {
        r.remove(datetime);
    }
    let csv = format!("\u{feff}{}", write(&all, b';'));

    let opts = ImportOptions {
        start: Some(original.start),
        title: Some("Edited caravan MSEL".into()),
        name: None,
        dates: None,
    };
    let yaml = msel::import_csv(&csv, "edited caravan MSEL.csv", &opts)
        .unwrap_or_else(|e| panic!("{e}\n{csv}"));
    let s =
        scenario::parse("edited.yaml", "edited", &yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(s.name, "edited-caravan-msel");
    assert_eq!(s.title, "Edited caravan MSEL");
    assert_eq!(s.injects.len(), original.injects.len());
    assert!(
        s.injects.windows(2).all(|w| w[0].at <= w[1].at),
        "sorted by time"
    );
    let by = |l: &str| {
        s.injects
            .iter()
            .find(|i| i.label.as_deref() == Some(l))
            .unwrap_or_else(|| panic!("no inject {l}"))
    };
    let moved = by("caravan-santa-rosa");
    assert_eq!(moved.at.as_secs(), 8 * 3600 + 15 * 60);
    assert_eq!(
        moved.expected_action.as_deref(),
        Some("SV-MJSP briefs its border posts; nothing else")
    );
    assert_eq!(moved.message_type, MessageType::Update);
    assert!(
        s.injects
            .iter()
            .all(|i| i.label.as_deref() != Some("passport-flag-agua-caliente"))
    );
    let added = s
        .injects
        .iter()
        .find(|i| i.from == Ministry::SV_MJSP)
        .expect("the added row");
    assert_eq!(added.kind, Kind::DocumentFlag);
    assert_eq!(
        added.at.as_secs(),
        12 * 3600 + 30 * 60,
        "09:30 on the second day"
    );
    assert!(added.payload.is_some(), "a skeleton payload");
    assert!(
        added
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("\"DUI\"")
    );
    // The hand-written routing is checked by the run, and the skeleton passes the hub.
    play_scenario(s, 3).assert_passed();
}

fn located(text: &str) -> MselError {
    match msel::import_csv(text, "bad.csv", &ImportOptions::default()) {
        Ok(yaml) => panic!("expected an error, got\n{yaml}"),
        Err(e) => e,
    }
}

#[test]
fn malformed_tables_name_the_line_and_the_column() {
    let header = "Time,From,To,Kind,Message\n";
    let cases = [
        (
            format!("{header}0s,HN-SEDS,,caravan,ok\n1h,BZ-NEVER-DECLARED,,caravan,x\n"),
            3,
            "From",
            "unknown ministry `BZ-NEVER-DECLARED`",
        ),
        (
            format!("{header}0s,HN-SEDS,,caravan,ok\n\n\nlater,GT,,caravan,x\n"),
            5,
            "Time",
            "`later` is not a time",
        ),
        (
            format!("{header}0s,HN-SEDS,,hurricane,x\n"),
            2,
            "Kind",
            "unknown kind `hurricane`",
        ),
        (
            format!("{header}0s,HN-SEDS,GT-MINGOB; BZ-NEVER-DECLARED,caravan,x\n"),
            2,
            "To",
            "unknown ministry `BZ-NEVER-DECLARED`",
        ),
        (
            "Time,From,To,Message\n0s,HN-SEDS,,x\n".to_string(),
            1,
            "kind",
            "missing",
        ),
        (
            "When,From,Kind,Message\n0s,HN-SEDS,caravan,x\n".to_string(),
            1,
            "time",
            "missing",
        ),
        (
            format!(
                "{header}\"0s\",GCIF,,caravan,\"multi\nline\"\n1h,HN,,cargo,\"x\"\n2h,HN,,nothing,x\n"
            ),
            2,
            "From",
            "hub",
        ),
    ];
    for (text, line, column, what) in cases {
        let e = located(&text);
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("bad.csv:{line}: column {column}: ")),
            "{shown}"
        );
        assert!(shown.contains(what), "{what}: {shown}");
        assert!(
            shown.contains("expected"),
            "says what was expected: {shown}"
        );
    }
}

#[test]
fn a_quoted_multi_line_cell_does_not_shift_line_numbers() {
    let text = "time,from,kind,message\n0s,HN,caravan,\"one\ntwo\nthree\"\n1h,XX,caravan,x\n";
    let e = located(text);
    assert_eq!((e.line(), e.column()), (5, Some("from")), "{e}");
}

#[test]
fn import_never_panics_on_damaged_tables() {
    // Every prefix of every shipped export, and each with one character
    // replaced: errors are fine, panics are not.
    for file in shipped() {
        let original = scenario::load(&file).expect("valid");
        let csv = msel::export_csv(&original);
        let cuts: Vec<usize> = csv
            .char_indices()
            .map(|(i, _)| i)
            .filter(|i| i % 97 == 0)
            .collect();
        for &i in &cuts {
            let _ = msel::import_csv(&csv[..i], "cut.csv", &ImportOptions::default());
            for c in ['"', ',', '\n', '{', 'x', ';'] {
                let mut damaged = csv.clone();
                let end = csv[i..].chars().next().map_or(i, |ch| i + ch.len_utf8());
                damaged.replace_range(i..end, &c.to_string());
                if let Ok(yaml) =
                    msel::import_csv(&damaged, "damaged.csv", &ImportOptions::default())
                {
                    scenario::parse("damaged.yaml", "d", &yaml)
                        .unwrap_or_else(|e| panic!("returned YAML does not validate: {e}"));
                }
            }
        }
    }
}

/// The worked example in README.md stays true: its table imports to exactly
/// the YAML shown there.
#[test]
fn the_readme_worked_example_imports_as_shown() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let example = &readme[readme
        .find("### A worked example")
        .expect("README has a worked MSEL example")..];
    let block = |fence: &str| -> String {
        let start = example.find(fence).expect("fenced block") + fence.len();
        let body = &example[start..];
        body[..body.find("\n```").expect("closing fence")]
            .trim_start_matches('\n')
            .to_string()
            + "\n"
    };
    let csv = block("```csv\n");
    let shown = block("```yaml\n");
    let opts = ImportOptions {
        title: Some("Caravan drill".into()),
        ..ImportOptions::default()
    };
    let yaml = msel::import_csv(&csv, "caravan-drill.csv", &opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(yaml, shown, "README's worked example is out of date");
    scenario::parse("caravan-drill.yaml", "caravan-drill", &yaml).expect("it validates");
}
