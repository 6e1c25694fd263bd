//! Run reports, `compare` and the `msel` command, through the binary as a
//! user runs them. The report is also rendered in headless Chromium: its
//! script must draw the diagram, follow deep links, print to PDF, and leave a
//! screenshot in `target/report-screenshots/` for a person to look at.
//!
//! Chromium is `$GCIF_CHROMIUM`, else `/usr/bin/chromium`. Where none is
//! installed the browser checks are skipped with a note, unless
//! `GCIF_REQUIRE_BROWSER` is set (CI sets it), which makes them fail instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gcif_sim::events::{EventBody, read_jsonl};

use crate::support::{gcif_sim, shipped};

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gcif-sim-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a scratch directory");
    dir
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `gcif-sim` and asserts its exit code.
fn expect_exit(args: &[&str], code: i32) -> (String, String) {
    let out = gcif_sim(args);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "gcif-sim {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        args.join(" ")
    );
    (stdout, stderr)
}

/// Plays `scenario` into `dir` with `--report`; returns the report's HTML.
fn run_with_report(scenario: &Path, dir: &Path, extra: &[&str], code: i32) -> String {
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
        "--report",
    ];
    args.extend_from_slice(extra);
    let (stdout, _) = expect_exit(&args, code);
    let report = dir.join("report.html");
    assert!(
        stdout.contains(&format!("report: {}", report.display())),
        "{stdout}"
    );
    std::fs::read_to_string(&report).expect("run --report writes report.html")
}

/// The value of `attr` on the element whose opening tag starts with `open`.
fn attr(html: &str, open: &str, attr: &str) -> Option<String> {
    let start = html.find(open)?;
    let tag = &html[start..start + html[start..].find('>')?];
    let key = format!("{attr}=\"");
    let at = tag.find(&key)? + key.len();
    Some(tag[at..at + tag[at..].find('"')?].to_string())
}

/// A report must open offline: nothing it loads may come from elsewhere.
fn assert_self_contained(html: &str, what: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"), "{what}: not HTML");
    for needle in [
        "src=\"http",
        "src=http",
        "href=\"http",
        "<link",
        "@import",
        "url(http",
        "fetch(",
        "XMLHttpRequest",
    ] {
        assert!(!html.contains(needle), "{what}: loads something: {needle}");
    }
    assert!(html.contains("@media print"), "{what}: no print styles");
}

// ---------------------------------------------------------------------------
// Headless Chromium
// ---------------------------------------------------------------------------

/// One browser at a time: the machine may have two cores.
static BROWSER: Mutex<()> = Mutex::new(());

pub fn chromium() -> Option<PathBuf> {
    let candidates = std::env::var_os("GCIF_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from));
    for c in candidates {
        if c.is_file() {
            return Some(c);
        }
    }
    assert!(
        std::env::var_os("GCIF_REQUIRE_BROWSER").is_none(),
        "GCIF_REQUIRE_BROWSER is set but no Chromium was found (set GCIF_CHROMIUM)"
    );
    eprintln!("note: no Chromium found: browser checks skipped (set GCIF_CHROMIUM)");
    None
}

/// Runs Chromium headless on `url` with `args`, waiting for it to exit (at
/// most two minutes); returns its standard output. Fails on any uncaught
/// script error or console error the page logs.
fn browse(browser: &Path, args: &[String], url: &str) -> String {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    // One browser at a time (the lock above), so one profile directory serves.
    let profile = scratch("chromium-profile");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting Chromium");
    let read_all = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let reader = read_all(Box::new(child.stdout.take().expect("piped stdout")));
    let log = read_all(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for Chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("Chromium did not finish {url} within two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = log.join().expect("reading Chromium's log");
    assert!(
        status.success(),
        "Chromium failed on {url}: {status}\n{log}"
    );
    let _ = std::fs::remove_dir_all(&profile);
    let page_errors: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE") && (l.contains("Uncaught") || l.contains("ERROR:CONSOLE"))
        })
        .collect();
    assert!(
        page_errors.is_empty(),
        "{url}: script errors:\n{page_errors:#?}"
    );
    reader.join().expect("reading Chromium's output")
}

/// The DOM of `file` (with `#fragment`) after its script ran.
fn dom(browser: &Path, file: &Path, fragment: &str) -> String {
    let url = format!("file://{}{fragment}", file.display());
    browse(browser, &["--dump-dom".to_string()], &url)
}

/// Saves a screenshot of `file` as `target/report-screenshots/NAME.png`.
fn screenshot(browser: &Path, file: &Path, name: &str, height: u32) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-screenshots");
    std::fs::create_dir_all(&dir).expect("creating target/report-screenshots");
    let png = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    browse(
        browser,
        &[
            format!("--window-size=1280,{height}"),
            format!("--screenshot={}", png.display()),
        ],
        &format!("file://{}", file.display()),
    );
    let bytes = std::fs::read(&png).expect("Chromium wrote the screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "{}: not a real screenshot ({} bytes)",
        png.display(),
        bytes.len()
    );
    png
}

/// Prints `file` to PDF; returns the number of pages.
fn print_pages(browser: &Path, file: &Path) -> usize {
    let pdf = file.with_extension("pdf");
    browse(
        browser,
        &[
            "--no-pdf-header-footer".to_string(),
            format!("--print-to-pdf={}", pdf.display()),
        ],
        &format!("file://{}", file.display()),
    );
    let bytes = std::fs::read(&pdf).expect("Chromium wrote the PDF");
    assert!(bytes.starts_with(b"%PDF"), "{}: not a PDF", pdf.display());
    let text = String::from_utf8_lossy(&bytes);
    text.matches("/Type /Page").count() - text.matches("/Type /Pages").count()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn every_shipped_scenario_gets_a_complete_report_that_renders() {
    let browser = chromium();
    let root = scratch("shipped");
    for file in shipped() {
        let scenario = gcif_sim::scenario::load(&file).expect("shipped scenarios are valid");
        let dir = root.join(&scenario.name);
        let html = run_with_report(&file, &dir, &[], 0);
        let what = file.display().to_string();
        assert_self_contained(&html, &what);

        // The header, the verdict and how to reproduce the run.
        let seed = scenario.seed.unwrap_or(gcif_sim::sim::DEFAULT_SEED);
        for needle in [
            format!("<h1>{}</h1>", gcif_sim::report::html::esc(&scenario.title)),
            format!("--seed {seed}"),
            format!("gcif-sim run {}", file.display()),
            scenario.start.format("%Y-%m-%d").to_string(),
            "expectations met.".to_string(),
        ] {
            assert!(html.contains(&needle), "{what}: no {needle:?}");
        }
        // Every expectation and every inject has its row in the review.
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("summary.json")).expect("summary.json"),
        )
        .expect("summary.json is JSON");
        let verdicts = summary["expectations"].as_array().expect("expectations");
        assert_eq!(verdicts.len(), scenario.expect.len(), "{what}");
        for v in verdicts {
            let name = gcif_sim::report::html::esc(v["name"].as_str().unwrap());
            assert!(html.contains(&name), "{what}: expectation {name} missing");
        }
        for inj in &scenario.injects {
            if let Some(label) = &inj.label {
                assert!(html.contains(label.as_str()), "{what}: inject {label}");
            }
            for text in [&inj.objective, &inj.expected_action].into_iter().flatten() {
                let text = gcif_sim::report::html::esc(text);
                assert!(html.contains(&text), "{what}: {text:?} not in the review");
            }
        }
        for section in [
            "id=review",
            "id=flow-section",
            "id=measures",
            "id=per-inject",
        ] {
            assert!(html.contains(section), "{what}: no {section}");
        }

        let Some(browser) = &browser else { continue };
        let report = dir.join("report.html");
        let dom = dom(browser, &report, "");
        let events = read_jsonl(&std::fs::read_to_string(dir.join("events.jsonl")).unwrap())
            .expect("events.jsonl reads back");
        let transmissions = events
            .iter()
            .filter(|e| matches!(e.body, EventBody::Sent { .. }))
            .count();
        assert!(transmissions > 0, "{what}: no transmissions recorded");
        assert_eq!(
            attr(&dom, "<svg id=\"flow\"", "data-in-view").as_deref(),
            Some(transmissions.to_string().as_str()),
            "{what}: the whole-run diagram must account for every transmission"
        );
        let drawn: usize = attr(&dom, "<svg id=\"flow\"", "data-arrows")
            .and_then(|n| n.parse().ok())
            .expect("the diagram says what it drew");
        assert!(drawn > 0, "{what}: nothing drawn");
        screenshot(browser, &report, &scenario.name, 2400);
        let pages = print_pages(browser, &report);
        assert!(pages >= 2, "{what}: printed to {pages} page(s)");
    }
}

#[test]
fn a_failed_expectation_is_found_in_the_review() {
    let dir = scratch("failed");
    let original = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("simulations/forged-passports.yaml"),
    )
    .unwrap();
    // Too tight a limit (late), a recipient the policy excludes (missing),
    // and a recipient that does get it (leaked).
    let broken = original
        .replacen(
            "{ inject: fp-el-amatillo, delivered_to: [GT-MINGOB, HN-SEDS, US-DHS], within: 1m }",
            "{ inject: fp-el-amatillo, delivered_to: [GT-MINGOB, MX-SEGOB], within: 20ms }",
            1,
        )
        .replacen(
            "{ inject: fp-la-hachadura, not_delivered_to: [MX-SEGOB] }",
            "{ inject: fp-la-hachadura, not_delivered_to: [GT-MINGOB] }",
            1,
        );
    assert_ne!(
        broken, original,
        "the shipped file changed: update this test"
    );
    let file = dir.join("broken.yaml");
    std::fs::write(&file, broken).unwrap();
    let html = run_with_report(&file, &dir.join("run"), &[], 1);
    assert!(html.contains("2 of 21 expectations not met."), "verdict");
    assert!(
        html.contains("class=\"verdict bad\""),
        "the verdict is marked"
    );
    for (outcome, detail) in [
        ("late", "GT-MINGOB receives it within 20ms"),
        ("missing", "MX-SEGOB receives it within 20ms"),
        ("leaked", "GT-MINGOB does not receive it"),
    ] {
        let row = html
            .split("<tr")
            .find(|row| row.contains(detail))
            .unwrap_or_else(|| panic!("no review row for {detail:?}"));
        assert!(
            row.contains(&format!(">{outcome}<")),
            "{detail}: expected {outcome}: {row}"
        );
    }
    assert!(html.contains("late by"), "how late is said");
    // The inject row carries the outcome of its expectations.
    let inject_row = html
        .split("<tr")
        .find(|row| row.contains("fp-la-hachadura") && row.contains("Objective"))
        .expect("an MSEL row for fp-la-hachadura");
    assert!(inject_row.contains(">leaked<"), "{inject_row}");

    if let Some(browser) = chromium() {
        let report = dir.join("run/report.html");
        let dom = dom(&browser, &report, "");
        assert!(dom.contains("2 of 21 expectations not met."));
        screenshot(&browser, &report, "failed-expectation", 1400);
    }
}

#[test]
fn the_diagram_zooms_to_single_arrows_and_follows_a_message() {
    let Some(browser) = chromium() else { return };
    let dir = scratch("flow");
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("simulations/caravan-san-pedro-sula.yaml");
    run_with_report(&file, &dir, &[], 0);
    let report = dir.join("report.html");

    // The whole run has thousands of transmissions: aggregated, not a smear.
    let whole = dom(&browser, &report, "");
    assert_eq!(
        attr(&whole, "<svg id=\"flow\"", "data-mode").as_deref(),
        Some("aggregated")
    );
    // The first minute: few enough for an arrow each.
    let minute = dom(&browser, &report, "#t=0-60000");
    assert_eq!(
        attr(&minute, "<svg id=\"flow\"", "data-mode").as_deref(),
        Some("arrows")
    );
    assert_eq!(
        attr(&minute, "<svg id=\"flow\"", "data-view").as_deref(),
        Some("0-60000")
    );
    let in_view: usize = attr(&minute, "<svg id=\"flow\"", "data-in-view")
        .unwrap()
        .parse()
        .unwrap();
    let arrows: usize = attr(&minute, "<svg id=\"flow\"", "data-arrows")
        .unwrap()
        .parse()
        .unwrap();
    assert!(in_view > 0 && arrows == in_view, "{in_view} vs {arrows}");

    // Following the update sent during the partition: its detail lists the
    // failed attempts and the final arrival, and its arrows are highlighted.
    let events = read_jsonl(&std::fs::read_to_string(dir.join("events.jsonl")).unwrap()).unwrap();
    let id = events
        .iter()
        .find_map(|e| match &e.body {
            EventBody::Published {
                msg,
                inject: Some(label),
                ..
            } if label == "caravan-escuintla" => Some(msg.to_string()),
            _ => None,
        })
        .expect("the caravan-escuintla inject was published");
    let followed = dom(&browser, &report, &format!("#msg={id}"));
    let detail = &followed[followed.find("id=\"flow-detail\"").expect("detail")..];
    assert!(detail.contains(&id) && detail.contains("caravan-escuintla"));
    assert!(detail.contains("failed"), "the failed attempts are listed");
    assert!(detail.contains("arrived"), "the arrivals are listed");
    assert!(followed.contains("class=\"tx inject sel"), "highlighted");
    let view = attr(&followed, "<svg id=\"flow\"", "data-view").unwrap();
    let (a, b) = view.split_once('-').unwrap();
    let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
    assert!(
        b - a < 24 * 3_600_000,
        "zoomed to the message, not the 3-day run: {view}"
    );
    // An unknown message is said so, not ignored.
    let unknown = dom(&browser, &report, "#msg=XX-000000");
    assert!(unknown.contains("No message XX-000000 in this run."));
}

#[test]
fn compare_shows_what_differs_between_two_designs() {
    let dir = scratch("compare");
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("simulations/forged-passports.yaml");
    let text = std::fs::read_to_string(&base).unwrap();
    // Design B: a slower network.
    let slow = text.replacen("latency: 55ms", "latency: 400ms", 1);
    assert_ne!(slow, text, "the shipped file changed: update this test");
    let slow_file = dir.join("forged-passports-slow.yaml");
    std::fs::write(&slow_file, slow).unwrap();
    let (a, b) = (dir.join("a"), dir.join("b"));
    run_with_report(&base, &a, &[], 0);
    run_with_report(&slow_file, &b, &["--seed", "20190603"], 0);

    let html = dir.join("cmp.html");
    let (table, _) = expect_exit(
        &[
            "compare",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        0,
    );
    assert!(table.contains("Changed: network"), "{table}");
    let network = table
        .lines()
        .find(|l| l.starts_with("* network"))
        .expect("the network row is marked as differing");
    assert!(network.contains("55ms"), "{network}");
    assert!(table.contains("400ms"), "{table}");
    let p50 = table
        .lines()
        .find(|l| l.starts_with("* document_flag p50"))
        .expect("document_flag p50 differs");
    assert!(p50.contains('+'), "slower network, higher latency: {p50}");
    assert!(table.contains("expectations:"));

    let (json, _) = expect_exit(
        &[
            "compare",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--json",
        ],
        0,
    );
    let v: serde_json::Value = serde_json::from_str(&json).expect("--json is JSON");
    assert!(v.is_object(), "{json}");

    let page = std::fs::read_to_string(&html).expect("--html writes the page");
    assert_self_contained(&page, "compare --html");
    assert!(page.contains("400ms") && page.contains("55ms"));
    if let Some(browser) = chromium() {
        let dom = dom(&browser, &html, "");
        assert!(dom.contains("400ms"));
        screenshot(&browser, &html, "compare", 1400);
    }
}

#[test]
fn report_and_compare_refuse_what_is_not_a_run() {
    let dir = scratch("not-a-run");
    let (_, stderr) = expect_exit(&["report", dir.to_str().unwrap()], 2);
    assert!(stderr.contains("summary.json"), "{stderr}");
    let (_, stderr) = expect_exit(
        &["compare", dir.to_str().unwrap(), dir.to_str().unwrap()],
        2,
    );
    assert!(stderr.contains(dir.to_str().unwrap()), "{stderr}");
    // A damaged event log is named, with its line.
    let run = dir.join("run");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("simulations/forged-passports.yaml");
    run_with_report(&file, &run, &[], 0);
    let log = run.join("events.jsonl");
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str("{\"t\": 1, \"event\": \"nonsense\"}\n");
    std::fs::write(&log, text).unwrap();
    let (_, stderr) = expect_exit(&["report", run.to_str().unwrap()], 2);
    assert!(stderr.contains("events.jsonl"), "{stderr}");
}

#[test]
fn an_msel_goes_out_to_a_spreadsheet_and_comes_back() {
    let dir = scratch("msel");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("simulations/forged-passports.yaml");
    let csv = dir.join("msel.csv");
    expect_exit(
        &[
            "msel",
            file.to_str().unwrap(),
            "--csv",
            "--out",
            csv.to_str().unwrap(),
        ],
        0,
    );
    let exported = std::fs::read_to_string(&csv).unwrap();
    // A byte-order mark for Excel, then the header.
    let exported = exported
        .strip_prefix('\u{feff}')
        .expect("a file export starts with a byte-order mark");
    assert!(exported.starts_with("#,time,datetime,from,to,kind,message,expected action"));

    // Edited as in a spreadsheet: saved with `;`, the El Amatillo inject
    // moved to 4h, its expected action rewritten.
    let mut reader = csv::Reader::from_reader(exported.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
    w.write_record(&header).unwrap();
    for row in reader.records() {
        let mut row: Vec<String> = row.unwrap().iter().map(String::from).collect();
        if row[col("id")] == "fp-el-amatillo" {
            row[col("time")] = "4h".into();
            row[col("datetime")].clear();
            row[col("expected action")] = "HN-SEDS calls the RNP within the hour".into();
        }
        w.write_record(&row).unwrap();
    }
    let edited = dir.join("edited.csv");
    std::fs::write(&edited, w.into_inner().unwrap()).unwrap();

    let yaml = dir.join("imported.yaml");
    expect_exit(
        &[
            "msel",
            "import",
            edited.to_str().unwrap(),
            "-o",
            yaml.to_str().unwrap(),
        ],
        0,
    );
    let imported = gcif_sim::scenario::load(&yaml).expect("the import validates");
    let amatillo = imported
        .injects
        .iter()
        .find(|i| i.label.as_deref() == Some("fp-el-amatillo"))
        .expect("the edited inject");
    assert_eq!(amatillo.at, Duration::from_secs(4 * 3600));
    assert_eq!(
        amatillo.expected_action.as_deref(),
        Some("HN-SEDS calls the RNP within the hour")
    );
    // It plays, and the review shows the edited expected action.
    let html = run_with_report(&yaml, &dir.join("run"), &[], 0);
    assert!(html.contains("HN-SEDS calls the RNP within the hour"));

    // An existing file is not overwritten without --force.
    let (_, stderr) = expect_exit(
        &[
            "msel",
            "import",
            edited.to_str().unwrap(),
            "-o",
            yaml.to_str().unwrap(),
        ],
        2,
    );
    assert!(stderr.contains("--force"), "{stderr}");
    // A bad cell is named by line and column.
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "time,from,to,kind,message\n0s,HN-SEDS,all,caravan alert,forming\n1h,Atlantis,,caravan alert,x\n",
    )
    .unwrap();
    let (_, stderr) = expect_exit(&["msel", "import", bad.to_str().unwrap()], 2);
    assert!(
        stderr.contains("bad.csv:3: column from: unknown ministry `Atlantis`"),
        "{stderr}"
    );
    // The readable listing names every inject.
    let (listing, _) = expect_exit(&["msel", file.to_str().unwrap()], 0);
    for inj in &gcif_sim::scenario::load(&file).unwrap().injects {
        let from = format!("· {} ", inj.from.code());
        assert!(listing.contains(&from), "{listing}");
    }
    assert!(listing.contains("expected action: HN-SEDS checks F0731542"));
}

#[test]
fn reports_of_unusual_runs_render_without_errors() {
    let dir = scratch("unusual");
    let cases: [(&str, &str, i32); 4] = [
        ("nothing", "start: 2020-03-01T00:00:00Z\nduration: 10m\n", 0),
        (
            "two-participants",
            "title: One alert, two participants\nstart: 2020-03-01T08:00:00Z\nduration: 1h\n\
             participants: [HN-SEDS, GT-MINGOB]\ninjects:\n  - at: 0s\n    from: HN-SEDS\n    \
             caravan_alert: { caravan_id: C1, location: { name: Corinto, country: HN } }\n",
            0,
        ),
        (
            "markup-and-refusals",
            "title: <script>alert(1)</script> & \"quotes\"\nstart: 2020-03-01T08:00:00-06:00\n\
             duration: 2h\ninjects:\n  - id: red-1\n    at: 10m\n    from: SV-MJSP\n    \
             handling: red\n    message: \"A <b>red</b> & secret lead\"\n    document_flag: { \
             document: { kind: passport, issuer: SV, number: \"A<1>\" }, holder: { name: \"O'Brien \
             <x>\" }, indicators: [x], detected_at: { name: El Amatillo, country: SV } }\n\
             expect:\n  - { inject: red-1, rejected: true }\n  - { inject: red-1, delivered_to: [US-DHS] }\n",
            1,
        ),
        (
            "faults-and-traffic",
            "start: 2020-03-01T00:00:00-06:00\nduration: 6h\nfaults:\n  \
             - { at: 1h, crash: SV-MJSP, for: 30m }\n  \
             - { at: 2h, degrade: [US-DHS, GCIF], latency: 3s, for: 1h }\n  \
             - { at: 5h, partition: [MX-SEGOB, GCIF], for: 1h }\n\
             traffic:\n  - { kind: document_flag, from: [GT-MINGOB, SV-MJSP], every: 2m }\n  \
             - { kind: cargo_notice, from: [HN-SEDS], every: 10m }\n",
            0,
        ),
    ];
    let browser = chromium();
    for (name, yaml, code) in cases {
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(&file, yaml).unwrap();
        let run = dir.join(name);
        let html = run_with_report(&file, &run, &[], code);
        assert_self_contained(&html, name);
        assert!(
            !html.contains("<script>alert(1)"),
            "{name}: markup not escaped"
        );
        let Some(browser) = &browser else { continue };
        let dom = dom(browser, &run.join("report.html"), "");
        let view = attr(&dom, "<svg id=\"flow\"", "data-view")
            .unwrap_or_else(|| panic!("{name}: the diagram was not drawn"));
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(
            view,
            format!("0-{}", summary["end_ms"]),
            "{name}: the diagram spans the whole run"
        );
        if name == "nothing" {
            assert!(dom.contains("No message was sent in this run"), "{name}");
        }
    }
}

/// Pointer interaction, played in the page by a script appended to a copy of
/// the report: a press is mousedown and mouseup at the element, then a click
/// only if the element is still in the page, as a browser does. The results
/// come back as JSON in `data-interaction` on `<body>`.
const INTERACTION: &str = r#"<script>
(function () {
  var out = {}, flow = document.getElementById("flow");
  function at(el) {
    var r = el.getBoundingClientRect();
    return { bubbles: true, cancelable: true, view: window,
             clientX: r.left + r.width / 2, clientY: r.top + r.height / 2 };
  }
  function press(el) {
    var o = at(el);
    el.dispatchEvent(new MouseEvent("mousedown", o));
    el.dispatchEvent(new MouseEvent("mouseup", o));
    if (el.isConnected) el.dispatchEvent(new MouseEvent("click", o));
  }
  function view() { return flow.getAttribute("data-view"); }
  out.whole = view();
  out.wholeMode = flow.getAttribute("data-mode");
  // A cell of the aggregated diagram zooms in.
  var cell = Array.prototype.find.call(flow.querySelectorAll("rect"),
    function (r) { return r.style.cursor === "zoom-in"; });
  if (cell) { press(cell); out.afterCell = view(); }
  document.getElementById("flow-fit").click();
  // A fault band zooms to the fault.
  var band = flow.querySelector('rect[class^="band-"]');
  if (band) { press(band); out.afterBand = view(); }
  // Zoom in until single arrows show, then hover and click one.
  document.getElementById("flow-fit").click();
  for (var i = 0; i < 12 && flow.getAttribute("data-mode") !== "arrows"; i++)
    document.getElementById("flow-in").click();
  for (var j = 0; j < 40 && !flow.querySelector("line.hit"); j++)
    document.getElementById("flow-down").click();
  out.zoomedMode = flow.getAttribute("data-mode");
  var hit = flow.querySelector("line.hit");
  if (hit) {
    hit.dispatchEvent(new MouseEvent("mousemove", at(hit)));
    var tip = document.getElementById("tip");
    out.tip = tip.style.display !== "none" ? tip.textContent : "";
    press(hit);
    out.detail = document.getElementById("flow-detail").textContent;
    out.hash = location.hash;
    out.selected = flow.querySelectorAll(".sel").length;
  }
  // The jump list goes to a fault.
  var jump = document.getElementById("flow-jump");
  for (var k = 0; k < jump.options.length; k++) if (/^fault/.test(jump.options[k].textContent)) {
    jump.selectedIndex = k;
    jump.dispatchEvent(new Event("change"));
    out.afterJump = view();
    break;
  }
  document.body.setAttribute("data-interaction", JSON.stringify(out));
})();
</script></body>"#;

#[test]
fn the_diagram_answers_the_pointer() {
    let Some(browser) = chromium() else { return };
    let dir = scratch("pointer");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("simulations/drill-partition-crash.yaml");
    let html = run_with_report(&file, &dir, &[], 0);
    let page = dir.join("interaction.html");
    std::fs::write(&page, html.replacen("</body>", INTERACTION, 1)).unwrap();
    let dom = dom(&browser, &page, "");
    let json = attr(&dom, "<body", "data-interaction").expect("the script ran");
    let json = json
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let out: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let span = |key: &str| -> u64 {
        let v = out[key]
            .as_str()
            .unwrap_or_else(|| panic!("no {key}: {out}"));
        let (a, b) = v.split_once('-').unwrap();
        b.parse::<u64>().unwrap() - a.parse::<u64>().unwrap()
    };
    assert_eq!(out["wholeMode"], "aggregated", "{out}");
    let whole = span("whole");
    assert!(span("afterCell") < whole / 10, "a cell zooms in: {out}");
    assert!(
        span("afterBand") < whole / 2,
        "a fault band zooms to it: {out}"
    );
    assert_eq!(out["zoomedMode"], "arrows", "{out}");
    let tip = out["tip"].as_str().unwrap();
    assert!(
        tip.contains(" → ") && tip.contains("sent +"),
        "hover shows the transmission: {out}"
    );
    let hash = out["hash"].as_str().unwrap();
    let id = hash
        .strip_prefix("#msg=")
        .unwrap_or_else(|| panic!("a click follows: {out}"));
    assert!(out["detail"].as_str().unwrap().contains(id), "{out}");
    assert!(
        out["selected"].as_u64().unwrap() > 0,
        "its arrows are highlighted: {out}"
    );
    assert!(span("afterJump") < whole / 2, "the jump list zooms: {out}");
}

#[test]
fn a_run_directory_speaks_for_itself_without_its_scenario() {
    let dir = scratch("no-scenario");
    let scenario = dir.join("caravan.yaml");
    std::fs::copy(
        shipped()
            .into_iter()
            .find(|f| f.ends_with("caravan-san-pedro-sula.yaml"))
            .expect("the caravan scenario is shipped"),
        &scenario,
    )
    .unwrap();
    let run = dir.join("run");
    expect_exit(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
        ],
        0,
    );

    // messages.jsonl: every published message's content, and the copy each
    // redacted recipient got.
    let events = read_jsonl(&std::fs::read_to_string(run.join("events.jsonl")).unwrap()).unwrap();
    let messages: Vec<serde_json::Value> = std::fs::read_to_string(run.join("messages.jsonl"))
        .expect("run writes messages.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let published = events
        .iter()
        .filter(|e| matches!(e.body, EventBody::Published { .. }))
        .count();
    assert_eq!(messages.len(), published, "one line per message");
    let redacted = events
        .iter()
        .find_map(|e| match &e.body {
            EventBody::Accepted { msg, redacted, .. } if !redacted.is_empty() => Some((
                msg.0.clone(),
                redacted[0].to.code(),
                redacted[0].fields[0].clone(),
            )),
            _ => None,
        })
        .expect("the caravan scenario redacts a field for the observer");
    let line = messages
        .iter()
        .find(|m| m["msg"] == redacted.0.as_str())
        .expect("the redacted message is listed");
    let caravan = |env: &serde_json::Value| env["payload"]["caravan_alert"].clone();
    assert!(!caravan(&line["envelope"])[&redacted.2].is_null(), "{line}");
    assert!(
        caravan(&line["copies"][redacted.1])[&redacted.2].is_null(),
        "{}'s copy lacks {}: {line}",
        redacted.1,
        redacted.2
    );

    // With the scenario gone (the original and the copy), the report still
    // shows what each inject carried.
    std::fs::remove_file(&scenario).unwrap();
    std::fs::remove_file(run.join("scenario.yaml")).unwrap();
    let (stdout, _) = expect_exit(&["report", run.to_str().unwrap()], 0);
    assert!(stdout.contains("report.html"), "{stdout}");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    let first = &messages[0]["envelope"]["payload"]["caravan_alert"]["caravan_id"];
    assert!(
        html.contains(&format!("Caravan {}", first.as_str().unwrap())),
        "the report shows message content without the scenario"
    );
    assert!(
        html.contains("objectives and expected actions are not shown"),
        "the report says what is missing"
    );
    assert!(!html.contains("message content, objectives"));
}
