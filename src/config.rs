//! Run-time settings of the exchange's protocol, with their defaults in one
//! place. A scenario's `protocol:` and `network:` sections set them; the live
//! commands take the defaults.
//!
//! | setting | default | where it acts |
//! |---|---|---|
//! | [`RpcConfig::timeout`] | 10 s | every publish and delivery RPC, and connecting |
//! | [`DeliveryConfig`] `window` | 16 (`gcif-sim hub`: 256, `--window`) | deliveries in flight to one recipient |
//! | [`DeliveryConfig`] `max_pending` | 1,000,000 | messages waiting for one recipient; beyond, publishes to it are deferred |
//! | [`PublishConfig`] `window` | 8 | publishes in flight from one node |
//! | [`Backoff`] | 1 s doubling to 30 s | after a failed transmission, per peer |
//! | [`MAX_ENVELOPE_BYTES`] | 1 MiB | largest envelope the hub accepts (encoded) |
//! | [`MAX_RPC_BYTES`] | 4 MiB | largest request any server decodes |
//! | [`MAX_CALLS_PER_CONNECTION`] | 32 | calls one connection has handled at once |
//! | [`MAX_STREAMS_PER_CONNECTION`] | 64 | HTTP/2 streams one connection may open |

use std::time::Duration;

pub use crate::hub::DeliveryConfig;
pub use crate::node::PublishConfig;
pub use crate::retry::Backoff;

/// The largest envelope (protobuf-encoded) the hub accepts for publishing.
/// A `Delivery` is the envelope plus a few bytes, so whatever the hub accepts
/// it can deliver to any node that takes [`MAX_RPC_BYTES`], gRPC's usual
/// default: limits are consistent end to end.
pub const MAX_ENVELOPE_BYTES: usize = 1 << 20;

/// The largest request message every gRPC server of the exchange decodes
/// (gRPC's customary default, set explicitly). Larger is refused by the
/// server before any handler runs.
pub const MAX_RPC_BYTES: usize = 4 << 20;

/// The calls one client connection has in a server's handlers at once; more
/// wait their turn, so a node flooding the hub on its connection slows
/// itself, not the others (each has its own). Twice the hub's delivery
/// window and four times a node's publish window: well-behaved peers never
/// meet it.
pub const MAX_CALLS_PER_CONNECTION: usize = 32;

/// HTTP/2 streams one client connection may have open at once on a server;
/// beyond, the client must wait for a stream to close.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 64;

/// How long a TLS handshake may take before the connection is dropped, so
/// a client that opens a socket and says nothing holds nothing for long.
pub const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Per-RPC deadline and connection set-up, for publishes and deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcConfig {
    /// A call not answered within this is abandoned and retried; this is how a
    /// silently stalled (partitioned) connection is noticed.
    pub timeout: Duration,
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            timeout: Duration::from_secs(10),
        }
    }
}
