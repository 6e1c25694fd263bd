//! Unit tests of the import: aliases, delimiters, time forms, routing and
//! located errors.

use super::*;

fn import(text: &str) -> Result<String, MselError> {
    import_csv(text, "t.csv", &ImportOptions::default())
}

fn load(yaml: &str) -> Scenario {
    scenario::parse("t.yaml", "t", yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn err(text: &str) -> MselError {
    match import(text) {
        Ok(y) => panic!("expected an error, got\n{y}"),
        Err(e) => e,
    }
}

const MINIMAL: &str = "time,from,kind,message\n0s,HN-SEDS,caravan_alert,Caravan forms\n";

#[test]
fn a_minimal_table_imports_and_validates() {
    let yaml = import(MINIMAL).unwrap();
    let s = load(&yaml);
    assert_eq!(s.injects.len(), 1);
    assert_eq!(s.injects[0].from, Ministry::HN_SEDS);
    assert_eq!(s.injects[0].message.as_deref(), Some("Caravan forms"));
    assert_eq!(s.injects[0].label.as_deref(), Some("row-1"));
    assert_eq!(s.name, "t");
    assert_eq!(s.duration, Duration::from_secs(3600));
    assert_eq!(
        s.start,
        DateTime::parse_from_rfc3339(DEFAULT_START).unwrap()
    );
}

#[test]
fn header_aliases_are_matched_loosely() {
    let text = "No.;Scenario Time;Sender;Recipient(s);Message Kind;Event Description;\
                Expected Player Action;Core Capability;TLP;Refers_To;Message Type;Notes\n\
                1;0s;hn;GT-MINGOB, sv-mjsp;Caravan alert;Caravan forms;Alert the border;\
                Information sharing;TLP:AMBER;;;controller note\n\
                2;2h;GT;HN-SEDS;caravan;Caravan grows;Update the count;Situational \
                awareness;amber;1;update;\n";
    let yaml = import(text).unwrap();
    assert!(yaml.contains("# Columns not carried over: Notes"), "{yaml}");
    let s = load(&yaml);
    let a = &s.injects[0];
    assert_eq!(a.label.as_deref(), Some("inject-1"));
    assert_eq!(a.handling, Handling::Amber);
    assert_eq!(a.expected_action.as_deref(), Some("Alert the border"));
    assert_eq!(a.objective.as_deref(), Some("Information sharing"));
    let b = &s.injects[1];
    assert_eq!(b.from, Ministry::GT_MINGOB);
    assert_eq!(b.message_type, MessageType::Update);
    assert_eq!(b.references, [0]);
    assert_eq!(
        s.expect[0].delivered_to,
        [Ministry::GT_MINGOB, Ministry::SV_MJSP]
    );
    assert!(s.expect.last().unwrap().no_loss);
}

#[test]
fn normalized_headers() {
    assert_eq!(normalize_header("Recipient(s)"), "recipients");
    assert_eq!(normalize_header("Date/Time"), "datetime");
    assert_eq!(normalize_header(" Expected_Action "), "expectedaction");
    assert_eq!(normalize_header("#"), "#");
}

#[test]
fn bom_crlf_tabs_blank_rows_and_trailing_columns() {
    let text = "\u{feff}Time\tFrom\tKind\tMessage\t\t\r\n\r\n\
                1h\tHN-SEDS\tcargo\tBox\t\t\r\n\t\t\t\t\t\r\n\
                2h\tGT-MINGOB\tforged document\tFake\t\t\r\n";
    let s = load(&import(text).unwrap());
    assert_eq!(s.injects.len(), 2);
    assert_eq!(s.injects[0].kind, Kind::CargoNotice);
    assert_eq!(s.injects[1].kind, Kind::DocumentFlag);
    assert_eq!(s.injects[1].label.as_deref(), Some("row-2"));
}

#[test]
fn time_forms() {
    let elapsed = |c: &str| match parse_time_cell(c, None) {
        Ok(When::Elapsed(d)) => d.as_secs(),
        other => panic!("{c}: {other:?}"),
    };
    assert_eq!(elapsed("0s"), 0);
    assert_eq!(elapsed("0"), 0);
    assert_eq!(elapsed("14h"), 14 * 3600);
    assert_eq!(elapsed("1d2h"), 26 * 3600);
    assert_eq!(elapsed("14:30"), 14 * 3600 + 1800);
    assert_eq!(elapsed("36:00:30"), 36 * 3600 + 30);
    assert_eq!(elapsed("T+1:05"), 3900);
    assert_eq!(
        parse_time_cell("D+1 08:00", None),
        Ok(When::Day(1, 8 * 3600))
    );
    assert_eq!(
        parse_time_cell("Day 2 08:00", None),
        Ok(When::Day(1, 8 * 3600))
    );
    assert!(matches!(
        parse_time_cell("2019-01-15 19:00", None),
        Ok(When::Absolute(_, None))
    ));
    assert!(matches!(
        parse_time_cell("2019-01-15T19:00:00-06:00", None),
        Ok(When::Absolute(_, Some(_)))
    ));
    for bad in ["soon", "14:3", "25", "Day 0 08:00", "D+1 25:00", "1.5h"] {
        assert!(parse_time_cell(bad, None).is_err(), "{bad}");
    }
}

#[test]
fn numeric_dates_as_spreadsheets_write_them() {
    let at = |c: &str, o: DateOrder| match parse_time_cell(c, Some(o)) {
        Ok(When::Absolute(n, None)) => n.format("%Y-%m-%d %H:%M:%S").to_string(),
        other => panic!("{c}: {other:?}"),
    };
    use DateOrder::*;
    assert_eq!(at("14/01/2019 21:00", DayFirst), "2019-01-14 21:00:00");
    assert_eq!(at("1/14/2019 9:00 PM", MonthFirst), "2019-01-14 21:00:00");
    assert_eq!(at("1/14/19 12:30 am", MonthFirst), "2019-01-14 00:30:00");
    assert_eq!(
        at("15/1/2019 9:05:30 p. m.", DayFirst),
        "2019-01-15 21:05:30"
    );
    assert_eq!(at("14.01.2019 08:00", DayFirst), "2019-01-14 08:00:00");
    assert_eq!(at("03/02/2019", DayFirst), "2019-02-03 00:00:00");
    assert_eq!(at("03/02/2019", MonthFirst), "2019-03-02 00:00:00");
    for bad in [
        "31/02/2019 10:00",
        "14/01/2019 13:00 pm",
        "14/01/2019 25:00",
    ] {
        assert!(parse_time_cell(bad, Some(DayFirst)).is_err(), "{bad}");
    }
    // The table decides the order; an undecided one is an error that
    // says how to decide it.
    let order = |cells: &[&str]| {
        let cells: Vec<(u64, &str)> = cells.iter().map(|&c| (2, c)).collect();
        date_order_of(&cells)
    };
    assert_eq!(
        order(&["03/02/2019 10:00", "14/02/2019 10:00"]),
        Ok(Some(DayFirst))
    );
    assert_eq!(
        order(&["2/3/2019 10:00", "2/14/2019 10:00"]),
        Ok(Some(MonthFirst))
    );
    assert_eq!(order(&["03/02/2019", "0s"]), Ok(None));
    assert!(order(&["14/02/2019", "2/14/2019"]).is_err());
    let e = parse_time_cell("03/02/2019 10:00", None).unwrap_err();
    assert!(e.contains("--dates dmy"), "{e}");
}

#[test]
fn all_means_everyone_the_policy_lets_receive_it() {
    let text = "time,from,to,kind,message\n\
                0s,GT-MINGOB,all,document flag,Forged passport\n\
                1h,HN-SEDS,everyone,caravan alert,Caravan forms\n\
                2h,HN-SEDS,all,cargo notice,Container to Guatemala\n";
    let yaml = import_csv(text, "all.csv", &ImportOptions::default()).unwrap();
    // The observer gets no document flag, and a cargo notice only for its
    // own country; it does get caravan alerts.
    assert!(
        yaml.contains("inject: \"row-1\", delivered_to: [US-DHS, HN-SEDS, SV-MJSP] }"),
        "{yaml}"
    );
    assert!(
        yaml.contains("inject: \"row-2\", delivered_to: [US-DHS, GT-MINGOB, SV-MJSP, MX-SEGOB] }"),
        "{yaml}"
    );
    assert!(
        yaml.contains("inject: \"row-3\", delivered_to: [US-DHS, GT-MINGOB, SV-MJSP] }"),
        "{yaml}"
    );
}

#[test]
fn a_refused_row_without_content_is_made_red() {
    let text = "time,from,to,kind,message\n0s,HN-SEDS,(refused),document flag,A source lead\n";
    let yaml = import_csv(text, "refused.csv", &ImportOptions::default()).unwrap();
    assert!(yaml.contains("    handling: red"), "{yaml}");
    assert!(yaml.contains("rejected: true"), "{yaml}");
    let s = crate::scenario::parse("refused.yaml", "refused", &yaml).unwrap();
    assert_eq!(s.injects[0].handling, crate::model::Handling::Red);
}

#[test]
fn a_table_in_day_first_dates_imports() {
    // As a Central American planner's spreadsheet saves it: Spanish
    // headers, `;`, a byte-order mark, CRLF, day-first dates.
    let text = "\u{feff}Nº;Fecha;Remitente;Destinatarios;Tipo;Mensaje;Acción esperada\r\n\
                1;14/01/2019 21:00;Honduras;todos;Alerta de caravana;Sale la caravana;GT alerta \
                a Agua Caliente\r\n\
                2;15/01/2019 9:30 a. m.;GT;HN, SV;Pasaporte falsificado;Pasaporte alterado;\r\n";
    let yaml = import_csv(text, "msel.csv", &ImportOptions::default()).unwrap();
    assert!(yaml.contains("start: 2019-01-14T21:00:00"), "{yaml}");
    assert!(yaml.contains("at: 12h30m"), "{yaml}");
    assert!(
        yaml.contains("expected_action: \"GT alerta a Agua Caliente\""),
        "{yaml}"
    );
    assert!(yaml.contains("document_flag:"), "{yaml}");
    assert!(
        yaml.contains("delivered_to: [US-DHS, GT-MINGOB, SV-MJSP, MX-SEGOB]"),
        "{yaml}"
    );
}

#[test]
fn absolute_times_are_offsets_from_the_earliest_hour_or_the_given_start() {
    let text = "datetime,from,kind,message\n\
                2019-01-15 21:40,GT-MINGOB,caravan,Later\n\
                2019-01-15 19:20,HN-SEDS,caravan,Earlier\n";
    let s = load(&import(text).unwrap());
    assert_eq!(s.start.to_rfc3339(), "2019-01-15T19:00:00-06:00");
    assert_eq!(s.injects[0].at, Duration::from_secs(20 * 60));
    assert_eq!(
        s.injects[0].from,
        Ministry::HN_SEDS,
        "rows are sorted by time"
    );
    assert_eq!(s.injects[1].at, Duration::from_secs(2 * 3600 + 40 * 60));
    assert_eq!(s.duration, Duration::from_secs(4 * 3600));
    let opts = ImportOptions {
        dates: None,
        start: Some(DateTime::parse_from_rfc3339("2019-01-15T12:00:00-06:00").unwrap()),
        name: Some("n".into()),
        title: Some("T".into()),
    };
    let s = load(&import_csv(text, "t.csv", &opts).unwrap());
    assert_eq!(s.injects[0].at, Duration::from_secs(7 * 3600 + 20 * 60));
    assert_eq!((s.name.as_str(), s.title.as_str()), ("n", "T"));
    let early = ImportOptions {
        start: Some(DateTime::parse_from_rfc3339("2019-01-15T20:00:00-06:00").unwrap()),
        ..ImportOptions::default()
    };
    let e = import_csv(text, "t.csv", &early).unwrap_err();
    assert_eq!((e.line(), e.column()), (3, Some("datetime")), "{e}");
    assert!(e.to_string().contains("before the scenario start"), "{e}");
}

#[test]
fn day_forms_count_from_the_start_day() {
    let text =
        "time,from,kind,message\nD+0 08:30,HN-SEDS,caravan,A\nDay 2 08:00,HN-SEDS,caravan,B\n";
    let s = load(&import(text).unwrap());
    assert_eq!(s.start.to_rfc3339(), "2019-01-01T08:00:00-06:00");
    assert_eq!(s.injects[1].at, Duration::from_secs(24 * 3600));
}

#[test]
fn bad_values_name_line_and_column() {
    let cases = [
        (
            "time,from,kind,message\n0s,BZ-NEVER-DECLARED,caravan,x\n",
            2,
            "from",
            "unknown ministry",
        ),
        (
            "time,from,kind,message\n0s,GCIF,caravan,x\n",
            2,
            "from",
            "hub",
        ),
        (
            "time,from,kind,message\n\n0s,HN,caravan,x\nsoon,HN,caravan,x\n",
            4,
            "time",
            "not a time",
        ),
        (
            "Time,From,Kind,Message\n0s,HN,weather,x\n",
            2,
            "Kind",
            "unknown kind",
        ),
        (
            "time,from,kind,message,tlp\n0s,HN,cargo,x,purple\n",
            2,
            "tlp",
            "unknown handling",
        ),
        (
            "time,from,kind,message,to\n0s,HN,cargo,x,HN-SEDS\n",
            2,
            "to",
            "own message",
        ),
        ("time,from,message\n0s,HN,x\n", 1, "kind", "missing"),
        (
            "time,from,kind,message,id,type,refers to\n0s,HN,cargo,x,a,cancel,zzz\n",
            2,
            "refers to",
            "not the id",
        ),
        (
            "time,from,kind,message,payload\n0s,HN,caravan,x,{\"caravan_id\":\"C\"}\n",
            2,
            "payload",
            "location",
        ),
        (
            "time,from,kind,message,payload\n0s,HN,caravan,x,\"{\"\"caravan_id\"\":\"\"C\"\",\"\"location\"\":{\"\"name\"\":\"\"X\"\",\"\"country\"\":\"\"Honduras\"\"}}\"\n",
            2,
            "payload",
            "country",
        ),
        (
            "time,from,kind,message,id\n0s,HN,cargo,x,a\n1h,HN,cargo,y,a\n",
            3,
            "id",
            "used twice",
        ),
    ];
    for (text, line, column, what) in cases {
        let e = err(text);
        assert_eq!((e.line(), e.column()), (line, Some(column)), "{e}");
        assert!(e.to_string().contains(what), "{what}: {e}");
        assert!(e.to_string().starts_with("t.csv:"), "{e}");
    }
    let crlf = "time,from,kind,message\r\n\r\n0s,HN,caravan,x\r\nsoon,HN,caravan,x\r\n";
    assert_eq!(err(crlf).line(), 4);
    let e = err("");
    assert!(e.to_string().contains("empty"), "{e}");
    let e = err("time,from,kind,message\n");
    assert!(e.to_string().contains("no rows"), "{e}");
}

#[test]
fn compact_json_payloads_are_valid_yaml() {
    let text = "time,from,kind,message,payload\n\
                0s,HN-SEDS,caravan,x,\"{\"\"caravan_id\"\":\"\"C-1\"\",\"\"location\"\":{\"\"name\"\":\"\"San Pedro Sula\"\",\"\"country\"\":\"\"HN\"\",\"\"lat\"\":15.504},\"\"minors\"\":3,\"\"observed_at\"\":\"\"3h\"\"}\"\n";
    let s = load(&import(text).unwrap());
    let Some(Payload::CaravanAlert(c)) = &s.injects[0].payload else {
        panic!("not a caravan")
    };
    assert_eq!((c.caravan_id.as_str(), c.minors), ("C-1", Some(3)));
    assert_eq!(c.location.lat, Some(15.504));
    assert_eq!(
        s.duration,
        Duration::from_secs(4 * 3600),
        "covers observed_at"
    );
}

#[test]
fn skeleton_payloads_pass_the_hub() {
    let text = "time,from,kind,message,to\n\
                0s,HN-SEDS,caravan,a,\n\
                1h,GT-MINGOB,document,b,\n\
                2h,SV-MJSP,cargo,c,MX-SEGOB; US-DHS\n";
    let s = load(&import(text).unwrap());
    for (inj, route) in s.injects.iter().zip(route_injects(&s)) {
        let recipients = route.unwrap_or_else(|e| panic!("{:?} refused: {e}", inj.label));
        if inj.kind == Kind::CargoNotice {
            assert!(recipients.contains(&Ministry::MX_SEGOB), "{recipients:?}");
        }
    }
}

#[test]
fn quoting_survives_any_text() {
    let nasty = "He said \"go\": \\ # not a comment\n\ttab, {flow}, [list], *alias, &anchor, \
                 'single', \u{7}bell, \u{2028}, 'ünïcødé' ---";
    let yaml = format!(
        "start: 2019-01-15T05:00:00-06:00\nduration: 1h\ninjects:\n  - at: 0s\n    from: \
         HN-SEDS\n    message: {}\n    cancels: x\n",
        quote(nasty)
    );
    let e = scenario::parse("q.yaml", "q", &yaml).unwrap_err();
    assert!(e.message.contains("not the id of an earlier inject"), "{e}");
    let yaml = format!(
        "start: 2019-01-15T05:00:00-06:00\nduration: 1h\ninjects:\n  - at: 0s\n    from: \
         HN-SEDS\n    message: {}\n    caravan_alert: {{ caravan_id: C, location: {{ name: \
         X, country: HN }} }}\n",
        quote(nasty)
    );
    assert_eq!(load(&yaml).injects[0].message.as_deref(), Some(nasty));
}

#[test]
fn export_lists_injects_in_time_order_with_routing() {
    let yaml = "start: 2019-01-15T05:00:00-06:00\nduration: 2h\ninjects:\n\
                - id: b\n  at: 30m\n  from: GT-MINGOB\n  handling: red\n  caravan_alert: { caravan_id: C2, location: { name: X, country: GT } }\n\
                - id: a\n  at: 10m\n  from: HN-SEDS\n  objective: \"Share, fast\"\n  caravan_alert: { caravan_id: C1, location: { name: San Pedro Sula, country: HN }, estimated_size: 800, minors: 150, heading_to: [Agua Caliente] }\n\
                - at: 1h\n  from: HN-SEDS\n  cancels: a\n\
                expect:\n  - { inject: b, rejected: true }\n";
    let s = load(yaml);
    let csv = export_csv(&s);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "#,time,datetime,from,to,kind,message,expected action,objective,id,type,refers to,handling,expires,payload"
    );
    assert!(lines[1].starts_with("1,10m,2019-01-15T05:10:00-06:00,HN-SEDS,US-DHS; GT-MINGOB; SV-MJSP; MX-SEGOB,caravan_alert,\"Caravan C1 at San Pedro Sula (HN), about 800 people incl. 150 minors, heading to Agua Caliente\",,\"Share, fast\",a,alert,,green,,"), "{}", lines[1]);
    assert!(
        lines[2].contains(",GT-MINGOB,(refused: TLP:RED"),
        "{}",
        lines[2]
    );
    assert!(lines[3].starts_with("3,1h,"), "{}", lines[3]);
    assert!(
        lines[3].contains("CANCEL of a,,,,cancel,a,green,,"),
        "{}",
        lines[3]
    );
    assert_eq!(lines.len(), 4);
}
