//! The scenario parser: any UTF-8 text is either a validated scenario or one
//! located `file:line:col` error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The input is read as if it were a file in `simulations/`, so that
/// `policy: ../policies/….yaml` names a shipped agreement, as the shipped
/// scenarios (the seeds) do.
const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../simulations/fuzz-input.yaml"
);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = gcif_sim::scenario::parse(FILE, "fuzz-input", text) {
        assert!(e.line >= 1 && e.column >= 1, "an unlocated error: {e}");
    }
});
