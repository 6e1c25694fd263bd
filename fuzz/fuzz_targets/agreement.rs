//! The sharing-agreement parser: any UTF-8 text is either a checked agreement
//! or one located `file:line:col` error, never a panic.
#![no_main]

use gcif_sim::policy::Agreement;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Agreement::parse("fuzz-input.yaml", text) {
        assert!(e.line >= 1 && e.column >= 1, "an unlocated error: {e}");
    }
});
