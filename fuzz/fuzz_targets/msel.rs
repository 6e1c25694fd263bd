//! The MSEL importer: any UTF-8 text is either scenario YAML that the
//! scenario parser accepts, or an error naming a line of the table; never a
//! panic, and never `MselError::Generated` (YAML the importer built but the
//! parser refuses, which the importer itself calls a bug).
#![no_main]

use gcif_sim::msel::{ImportOptions, MselError, import_csv};
use libfuzzer_sys::fuzz_target;

const FILE: &str = "fuzz-input.csv";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match import_csv(text, FILE, &ImportOptions::default()) {
        Ok(yaml) => {
            if let Err(e) = gcif_sim::scenario::parse(FILE, "fuzz-input", &yaml) {
                panic!("the imported scenario does not parse: {e}\n{yaml}");
            }
        }
        Err(e @ MselError::Generated { .. }) => panic!("{e}"),
        Err(e) => assert!(e.line() >= 1, "an unlocated error: {e}"),
    }
});
