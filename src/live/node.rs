//! `gcif-sim node`: one ministry's node as a process. It serves
//! `gcif.v1.Ministry`, registers with the hub (and renews the registration,
//! so a restarted hub finds it again), publishes what it is handed, and keeps
//! its outbox and inbox for the life of the process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::journal::{Journal, Session, write_session};
use crate::config::{PublishConfig, RpcConfig};
use crate::events::{Clock, EventSink, Log};
use crate::host::{NodeHost, Tap};
use crate::model::Ministry;
use crate::node::Node;
use crate::plan::Planned;
use crate::transport::{self, Address, Peer, Registration};

/// What `gcif-sim node` is told.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    pub ministry: Ministry,
    pub hub: Address,
    pub listen: SocketAddr,
    /// The address to register, when the listening one is not how the hub
    /// reaches this node (a wildcard address, a proxy).
    pub advertise: Option<Address>,
    /// The run directory to write (the log streams to DIR/events.jsonl).
    pub out: Option<PathBuf>,
    /// The node's data directory: its durable journal (`node.redb`: what it
    /// processed and what it has yet to publish), read back on restart.
    pub data: Option<PathBuf>,
    /// The status it takes part in, told to the hub when it registers.
    pub status: crate::model::Status,
    pub rpc: RpcConfig,
    pub publish: PublishConfig,
    /// Mutual TLS with this ministry's certificate (`--tls DIR`): the node
    /// shows it to the hub, checks the hub's, and takes deliveries only
    /// from the hub's.
    pub tls: Option<transport::Tls>,
}

/// Drops every event: a node run without `--out` keeps no log.
struct Discard;

impl EventSink for Discard {
    fn write(&self, _: crate::events::Event) {}
}

/// The address the hub should dial to reach a node listening on `bound`
/// (`https://` with `tls`).
pub fn reachable_at(bound: SocketAddr, tls: bool) -> Result<Address, String> {
    let host = if bound.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        match bound.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        }
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{host}:{}", bound.port()).parse()
}

/// Runs the node until `shutdown`: `ready` is told the address it
/// registers, `tap` of each message received, `told` of each registration.
pub async fn run(
    opts: NodeOptions,
    tap: Tap,
    told: impl Fn(&Registration) + Send + 'static,
    ready: impl FnOnce(&Address),
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let journal = match &opts.out {
        Some(dir) => Some(Journal::open(
            &dir.join(crate::report::rundir::EVENTS),
            &format!("node {}", opts.ministry),
        )?),
        None => None,
    };
    let (clock, log) = match &journal {
        Some(j) => (j.clock, j.log()),
        None => {
            let clock = super::wall_clock();
            (clock, Log::new(Arc::new(clock), Arc::new(Discard)))
        }
    };
    let mut node = Node::new(opts.ministry, opts.publish);
    let host = match &opts.data {
        Some(dir) => {
            let (store, inbox, outbox) = crate::store::NodeJournal::open(dir)?;
            for r in inbox {
                node.restore_received(r);
            }
            let host = NodeHost::new(node, log)
                .with_tap(tap)
                .with_journal(Arc::new(store));
            for e in outbox {
                host.submit(Arc::new(e), None);
            }
            host
        }
        None => NodeHost::new(node, log).with_tap(tap),
    };
    let host = Arc::new(host);
    let listener = TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let address = match &opts.advertise {
        Some(a) => a.clone(),
        None => {
            reachable_at(listener.local_addr()?, opts.tls.is_some()).map_err(anyhow::Error::msg)?
        }
    };
    ready(&address);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut loops = JoinSet::new();
    let hub = Peer::at(&opts.hub, opts.rpc, opts.tls.as_ref());
    loops.spawn(transport::node_publish_loop(
        host.clone(),
        clock,
        hub.clone(),
    ));
    let mut registering = tokio::spawn(transport::register_loop(
        host.clone(),
        hub,
        address,
        opts.status,
        told,
    ));
    let served = transport::serve_node(
        host.clone(),
        opts.tls.clone(),
        super::incoming(listener),
        super::stopped(stop_rx.clone()),
    );
    let server = tokio::spawn(served);
    // A hub with fixed addresses (FAILED_PRECONDITION) still delivers to a
    // node at its address; any other refusal means it never will.
    let refused = tokio::select! {
        () = shutdown => None,
        reason = &mut registering => reason.ok().filter(|r| !r.starts_with("FAILED_PRECONDITION")),
    };
    registering.abort();
    let _ = stop_tx.send(true);
    loops.abort_all();
    match tokio::time::timeout(super::GRACE, server).await {
        Ok(Ok(Err(e))) => tracing::error!(%e, "the node's server stopped"),
        Err(_) => tracing::warn!("in-flight deliveries abandoned after {:?}", super::GRACE),
        _ => {}
    }
    if let Some(reason) = refused {
        anyhow::bail!("the hub refused to register {}: {reason}", opts.ministry);
    }
    if let Some(j) = journal {
        j.finish()
            .with_context(|| format!("cannot write {}", j.path.display()))?;
        if let Some(dir) = &opts.out {
            let origin = j.clock.origin();
            let plan = host.inspect(|n| {
                n.inbox()
                    .map(|r| Planned {
                        at: Duration::from_millis(r.at.since(origin)),
                        envelope: r.envelope.clone(),
                        inject: None,
                    })
                    .collect::<Vec<_>>()
            });
            write_session(
                dir,
                Session {
                    process: &format!("gcif-sim node --ministry {}", opts.ministry),
                    name: &format!("live-node-{}", opts.ministry.code().to_lowercase()),
                    title: &format!("Live node of {}", opts.ministry),
                    policy: &crate::policy::Policy::compact_2019(crate::model::Status::Exercise),
                    plan,
                    received: crate::sim::take_receipts([&host], origin),
                },
                j.events()?,
                origin,
            )?;
        }
    }
    Ok(())
}
