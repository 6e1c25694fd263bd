//! The invariants of ARCHITECTURE.md that a test can check, read from the
//! source as text: only `transport` and `wire.rs` name tonic; the top-level
//! modules import one another without a loop; no source file is too long to
//! find one's way in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("src is readable") {
            let path = entry.expect("readable entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The file's code lines, with `//` comments (and doc comments) removed.
fn code(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).expect("source is readable");
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let code = match l.find("//") {
                // A `//` inside a string (a URL, say) is rare in this code;
                // the lines that have one are not `use` lines.
                Some(at) => &l[..at],
                None => l,
            };
            (!code.trim().is_empty()).then(|| (i + 1, code.to_string()))
        })
        .collect()
}

/// The top-level module a source file belongs to (`src/host/hub.rs` → `host`).
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(src()).expect("under src");
    let first = rel.components().next().expect("non-empty path");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

#[test]
fn only_transport_and_wire_name_tonic() {
    let mut offenders = Vec::new();
    for path in sources(&src()) {
        let m = module_of(&path);
        if m == "transport" || m == "wire" {
            continue;
        }
        for (n, line) in code(&path) {
            let named = line.match_indices("tonic").any(|(at, _)| {
                let before = line[..at].chars().next_back();
                let after = &line[at + "tonic".len()..];
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                    && (after.starts_with("::")
                        || after.starts_with('_')
                        || after.trim_start().starts_with('{'))
            });
            if named {
                offenders.push(format!("{}:{n}: {}", path.display(), line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "tonic is named outside src/transport/ and src/wire.rs:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn top_level_modules_import_each_other_without_a_loop() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in sources(&src()) {
        let m = module_of(&path);
        if m == "main" || m == "cli" || m == "lib" {
            continue; // the binary and the crate root sit above everything
        }
        let deps = graph.entry(m.clone()).or_default();
        for (_, line) in code(&path) {
            for (at, _) in line.match_indices("crate::") {
                let rest = &line[at + "crate::".len()..];
                let dep: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !dep.is_empty() && dep != m {
                    deps.insert(dep);
                }
            }
        }
    }
    // Depth-first search for a cycle, reporting the first one found.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut cycle = path[at..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for dep in graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(dep, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        if let Some(cycle) = visit(m, &graph, &mut Vec::new(), &mut done) {
            panic!("import loop: {}\ngraph: {graph:#?}", cycle.join(" → "));
        }
    }
    // The event log sits below every driver and every reader.
    for upper in ["host", "transport", "sim", "live", "report", "run"] {
        let below = graph.get("events").cloned().unwrap_or_default();
        assert!(
            !below.contains(upper),
            "events imports {upper}, which should sit above it"
        );
    }
}

#[test]
fn no_source_file_is_over_800_lines() {
    let long: Vec<String> = sources(&src())
        .into_iter()
        .filter_map(|p| {
            let n = std::fs::read_to_string(&p).ok()?.lines().count();
            (n > 800).then(|| format!("{} ({n} lines)", p.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these where a reader would want a name: {long:?}"
    );
}
