//! Integration tests: one binary, one module per concern. Every failure
//! message names the seed, so a failing run can be replayed with
//! `gcif-sim run FILE --seed N`.

mod agreements;
mod architecture;
mod backpressure;
mod bad_input;
mod cdp;
mod console;
mod crash;
mod determinism;
mod faults;
mod flood;
mod fuzz_regressions;
mod identity;
mod live;
mod live_audit;
mod live_policy;
mod live_procs;
mod live_tls;
mod msel;
mod net_models;
mod policy;
mod procs;
mod python_node;
mod report;
mod scenarios;
mod support;
mod sweep;
