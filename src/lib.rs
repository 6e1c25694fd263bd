//! gcif-sim: a deterministic simulator of the GCIF cross-border
//! information-exchange network.
//!
//! Crate map, from the data up to the drivers:
//!
//! - [`model`]: ministries, time, envelopes and payloads; plain data.
//! - [`policy`]: who receives what (pure).
//! - [`retry`]: the at-least-once retry queue shared by hub and nodes (pure).
//! - [`hub`] and [`node`]: the state machines (pure: input + now ⇒ state + outputs).
//! - [`wire`]: the generated gRPC types and conversions to and from the model.
//! - [`transport`]: tonic services and client loops around hub and node.
//! - [`simnet`]: the simulated network: links with latency, jitter, partitions, crashes.
//! - [`scenario`]: the YAML scenario format, validated with file:line:col errors.
//! - [`msel`]: a scenario as an exercise's Master Scenario Events List (CSV), and back.
//! - [`sim`]: the deterministic driver: virtual clock, seeded RNG, injects, traffic.
//! - [`live`]: the live driver: hub, nodes and whole scenarios on real sockets, in
//!   wall-clock time (sped up on demand), with faults carried out for real.
//! - [`console`]: the trainer's console, a page served by the binary and fed by the
//!   event stream, for live runs and replays.
//! - [`report`]: the event log, expectation checks, the run summary, the HTML
//!   report (after-action review, message-flow diagram, service measures) and
//!   the comparison of two runs.

pub mod audit;
pub mod certs;
pub mod config;
pub mod console;
pub mod events;
pub mod format;
pub mod host;
pub mod hub;
pub mod live;
pub mod model;
pub mod msel;
pub mod node;
pub mod plan;
pub mod policy;
pub mod report;
pub mod retry;
pub mod run;
pub mod scenario;
pub mod sim;
pub mod simnet;
pub mod store;
pub mod transport;
pub mod wire;
