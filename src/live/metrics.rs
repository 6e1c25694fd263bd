//! The hub's `--http` port: `/metrics` in the Prometheus text format and
//! `/healthz`. Counters are taken from the event stream (a sink beside the
//! log), gauges from the hub and its directory at each scrape.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::events::{Event, EventBody, EventSink};
use crate::host::{HubHost, lock};
use crate::model::{Host, Kind, Ministry};
use crate::transport::Directory;

/// Upper bounds of the delivery-latency histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Counters {
    accepted: BTreeMap<(Ministry, Kind), u64>,
    rejected: BTreeMap<String, u64>,
    delivered: BTreeMap<(Ministry, Kind), u64>,
    duplicates: BTreeMap<Ministry, u64>,
    redelivered: BTreeMap<Ministry, u64>,
    undeliverable: BTreeMap<Ministry, u64>,
    latency: BTreeMap<Kind, Histogram>,
}

/// Counts what the event stream says, for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
}

impl EventSink for Metrics {
    fn write(&self, event: Event) {
        let mut c = lock(&self.counters);
        match event.body {
            EventBody::Accepted { from, kind, .. } => {
                *c.accepted.entry((from, kind)).or_default() += 1
            }
            EventBody::Rejected { from, .. } => {
                *c.rejected.entry(from.code().to_string()).or_default() += 1
            }
            EventBody::RefusedRequest { from, .. } => {
                let from = if from.is_empty() {
                    "unknown".to_string()
                } else {
                    from
                };
                *c.rejected.entry(from).or_default() += 1
            }
            EventBody::Delivered {
                to,
                kind,
                latency_ms,
                ..
            } => {
                *c.delivered.entry((to, kind)).or_default() += 1;
                let h = c.latency.entry(kind).or_default();
                let secs = latency_ms as f64 / 1000.0;
                for (i, bound) in BUCKETS.iter().enumerate() {
                    if secs <= *bound {
                        h.counts[i] += 1;
                    }
                }
                h.count += 1;
                h.sum += secs;
            }
            EventBody::Duplicate { to, .. } => *c.duplicates.entry(to).or_default() += 1,
            EventBody::Sent {
                from: Host::Hub,
                to: Host::Node(to),
                attempt,
                ..
            } if attempt > 1 => *c.redelivered.entry(to).or_default() += 1,
            EventBody::Undeliverable { to, .. } => *c.undeliverable.entry(to).or_default() += 1,
            _ => {}
        }
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

impl Metrics {
    /// The Prometheus text exposition of the counters, and of the gauges
    /// read now from `host` and `directory`.
    pub fn render(&self, host: &HubHost, directory: &Directory) -> String {
        let c = lock(&self.counters);
        let mut out = String::new();
        family(
            &mut out,
            "gcif_accepted_total",
            "counter",
            "Messages the hub accepted, by originator and kind.",
        );
        for ((from, kind), n) in &c.accepted {
            let _ = writeln!(
                out,
                "gcif_accepted_total{{from=\"{from}\",kind=\"{kind}\"}} {n}"
            );
        }
        family(
            &mut out,
            "gcif_rejected_total",
            "counter",
            "Publishes the hub refused, by the originator the request named.",
        );
        for (from, n) in &c.rejected {
            let _ = writeln!(out, "gcif_rejected_total{{from=\"{}\"}} {n}", escape(from));
        }
        family(
            &mut out,
            "gcif_delivered_total",
            "counter",
            "First deliveries acknowledged, by recipient and kind.",
        );
        for ((to, kind), n) in &c.delivered {
            let _ = writeln!(
                out,
                "gcif_delivered_total{{to=\"{to}\",kind=\"{kind}\"}} {n}"
            );
        }
        for (name, help, map) in [
            (
                "gcif_duplicates_total",
                "Redeliveries a recipient had already and discarded.",
                &c.duplicates,
            ),
            (
                "gcif_redelivered_total",
                "Delivery attempts after the first, by recipient.",
                &c.redelivered,
            ),
            (
                "gcif_undeliverable_total",
                "Deliveries a recipient refused for good.",
                &c.undeliverable,
            ),
        ] {
            family(&mut out, name, "counter", help);
            for (to, n) in map {
                let _ = writeln!(out, "{name}{{to=\"{to}\"}} {n}");
            }
        }
        family(
            &mut out,
            "gcif_pending",
            "gauge",
            "Deliveries waiting for an acknowledgement, by recipient.",
        );
        for m in host.inspect(|h| h.policy().participants().collect::<Vec<_>>()) {
            let n = host.inspect(|h| h.backlog_of(m));
            let _ = writeln!(out, "gcif_pending{{to=\"{m}\"}} {n}");
        }
        family(
            &mut out,
            "gcif_delivery_latency_seconds",
            "histogram",
            "From a message's creation to its first acknowledged delivery, by kind.",
        );
        for (kind, h) in &c.latency {
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "gcif_delivery_latency_seconds_bucket{{kind=\"{kind}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "gcif_delivery_latency_seconds_bucket{{kind=\"{kind}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "gcif_delivery_latency_seconds_sum{{kind=\"{kind}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "gcif_delivery_latency_seconds_count{{kind=\"{kind}\"}} {}",
                h.count
            );
        }
        let nodes = directory.nodes();
        family(
            &mut out,
            "gcif_node_connected",
            "gauge",
            "1 while a node's address is fixed or its registration lease runs.",
        );
        for (m, _, live) in &nodes {
            let _ = writeln!(
                out,
                "gcif_node_connected{{ministry=\"{m}\"}} {}",
                u8::from(*live)
            );
        }
        family(
            &mut out,
            "gcif_nodes_connected",
            "gauge",
            "Nodes counted as connected.",
        );
        let _ = writeln!(
            out,
            "gcif_nodes_connected {}",
            nodes.iter().filter(|n| n.2).count()
        );
        out
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[derive(Clone)]
struct Http {
    metrics: Arc<Metrics>,
    host: Arc<HubHost>,
    directory: Directory,
    stopping: tokio::sync::watch::Receiver<bool>,
}

/// The `--http` routes: `/metrics` and `/healthz` (503 once shutdown began).
pub fn router(
    metrics: Arc<Metrics>,
    host: Arc<HubHost>,
    directory: Directory,
    stopping: tokio::sync::watch::Receiver<bool>,
) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(healthz))
        .with_state(Http {
            metrics,
            host,
            directory,
            stopping,
        })
}

async fn scrape(State(http): State<Http>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        http.metrics.render(&http.host, &http.directory),
    )
}

async fn healthz(State(http): State<Http>) -> impl IntoResponse {
    if *http.stopping.borrow() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    } else {
        (StatusCode::OK, "ok\n")
    }
}
