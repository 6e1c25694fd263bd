//! Hosts: a state machine with its clock and its event log, and the logic a
//! hub or a node performs around its state machine whatever carries its
//! messages.
//!
//! A host is driven, never drives. Its contract, for any driver (the tonic
//! adapter in [`crate::transport`], or a message-level network model that
//! calls hosts directly):
//! - **Inbound**: hand it what arrived ([`HubHost::on_publish`],
//!   [`NodeHost::on_deliver`]) and send back what it answers.
//! - **Outbound**: call `poll()`; it returns the transmissions to start now
//!   and when to call again. Start each, then report how each ended
//!   ([`HubHost::on_delivery`], [`NodeHost::on_publish`]) with the
//!   [`Transmission`] it came back with.
//! - **Wake-ups**: between polls, wait until the time `poll` gave or until
//!   [`HubHost::notified`] / [`NodeHost::notified`] fires, whichever comes first:
//!   the host notifies when new work was queued (a publish accepted, a
//!   message submitted, a transmission ended).
//! - **Crashes**: a driver that models a crash stops calling the host and drops
//!   its connections; on restart it calls `on_restart`. The state machine is the
//!   durable state and survives.
//!
//! The host records every event of its side (`sent`, `received`, `failed`,
//! `published`, `accepted`, `rejected`, `delivered`, `duplicate`) through its
//! [`Log`], stamped by the driver's clock, so every driver yields the same log.
//! Hosts lock their state machine only for the length of a call, so a
//! multi-threaded driver may call them from several tasks.

mod hub;
mod node;

pub use hub::{Acked, HubHost, Published};
pub use node::{Delivered, NodeHost, Tap};

use std::sync::{Mutex, MutexGuard};

/// How one transmission (a publish to the hub, or a delivery to a node) ended,
/// as the driver that carried it reports back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmission<T> {
    /// The peer handled it and answered `T`.
    Answered(T),
    /// The peer understood and refused it for good (malformed, forbidden or
    /// conflicting): no retry.
    Refused(String),
    /// It did not get through (unreachable, reset, no answer in time): retry,
    /// after pausing everything to that peer. The text says why, in a few
    /// words, for the event log.
    Failed(String),
    /// The peer was reached but answered with an error worth retrying
    /// (`INTERNAL`, `UNKNOWN`, ...): retry this transmission alone, after its
    /// own backoff; the others to that peer carry on.
    Erred(String),
    /// The peer was reached but has no room for it now (`RESOURCE_EXHAUSTED`
    /// with a retry hint): retry this transmission alone once `retry_after`
    /// has passed; the others to that peer carry on.
    Busy {
        error: String,
        retry_after: std::time::Duration,
    },
}

/// Locks a state machine. A poisoned lock means a task panicked mid-update;
/// the state is still the last consistent one, so carry on with it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
