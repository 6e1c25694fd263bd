//! Run-time settings of the exchange's protocol, with their defaults in one
//! place. A scenario's `protocol:` and `network:` sections set them; the live
//! commands take the defaults.
//!
//! | setting | default | where it acts |
//! |---|---|---|
//! | [`RpcConfig::timeout`] | 10 s | every publish and delivery RPC, and connecting |
//! | [`DeliveryConfig`] `window` | 16 | deliveries in flight to one recipient |
//! | [`PublishConfig`] `window` | 8 | publishes in flight from one node |
//! | [`Backoff`] | 1 s doubling to 30 s | after a failed transmission, per peer |

use std::time::Duration;

pub use crate::hub::DeliveryConfig;
pub use crate::node::PublishConfig;
pub use crate::retry::Backoff;

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
