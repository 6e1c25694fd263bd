//! Setting up a live run's hosts: the certificates, the ports, and the
//! external nodes to wait for.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::play::{LiveOptions, Say, bind_again};
use crate::events::Log;
use crate::host::HubHost;
use crate::hub::Hub;
use crate::model::{Host, Ministry};
use crate::scenario::Scenario;
use crate::transport::{self, Address, Directory, Peer, Tls};

/// Each host's certificate from `--tls DIR`: the hub's unless the run
/// plays against one already running, and each participant's.
pub(super) fn certificates(
    scenario: &Scenario,
    opts: &LiveOptions,
) -> anyhow::Result<BTreeMap<Host, Tls>> {
    let Some(dir) = &opts.tls else {
        return Ok(BTreeMap::new());
    };
    let hosts = opts
        .hub
        .is_none()
        .then_some(Host::Hub)
        .into_iter()
        .chain(scenario.participants.iter().map(|&m| Host::Node(m)));
    hosts
        .map(|h| {
            let name = match h {
                Host::Hub => crate::certs::HUB.to_string(),
                Host::Node(m) => m.code().to_string(),
            };
            let tls = Tls::load(dir, &name, None)
                .with_context(|| format!("--tls {}: no certificate for {name}", dir.display()))?;
            Ok((h, tls))
        })
        .collect()
}

/// A port for every host the run runs, kept for the whole run; and where
/// the hub is.
pub(super) async fn ports(
    scenario: &Scenario,
    opts: &LiveOptions,
) -> anyhow::Result<(BTreeMap<Host, SocketAddr>, SocketAddr)> {
    let mut addrs = BTreeMap::new();
    let hub_addr = match &opts.hub {
        Some(url) => resolve(url).await?,
        None => {
            let l = TcpListener::bind(opts.listen)
                .await
                .with_context(|| format!("cannot listen on {}", opts.listen))?;
            let a = l.local_addr()?;
            addrs.insert(Host::Hub, a);
            a
        }
    };
    for &m in &scenario.participants {
        if !opts.external.contains(&m) {
            let l = TcpListener::bind("127.0.0.1:0").await?;
            addrs.insert(Host::Node(m), l.local_addr()?);
        }
    }
    Ok((addrs, hub_addr))
}

/// The socket address of a hub URL, looked up.
async fn resolve(url: &Address) -> anyhow::Result<SocketAddr> {
    tokio::net::lookup_host(url.authority())
        .await
        .with_context(|| format!("cannot resolve {url}"))?
        .next()
        .with_context(|| format!("{url} resolves to no address"))
}

/// The run's own hub, up for registrations only, until every external
/// node has registered; says what to start, and repeats it while waiting.
pub(super) async fn wait_for_externals(
    directory: &Directory,
    external: &[Ministry],
    hub_addr: SocketAddr,
    say: &Say,
    scenario: &Scenario,
    tls: Option<&Tls>,
) -> anyhow::Result<()> {
    let log = Log::new(
        Arc::new(super::wall_clock()),
        Arc::new(crate::events::Recorder::new()),
    );
    let policy = scenario.policy.clone();
    let host = Arc::new(HubHost::new(Hub::new(policy, scenario.delivery), log));
    let listener = bind_again(hub_addr).await?;
    let rpc = scenario.rpc;
    let client = tls.cloned();
    let dialer: transport::Dialer = Arc::new(move |_, a| Peer::at(a, rpc, client.as_ref()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(transport::serve_hub(
        host,
        directory.clone(),
        Some(dialer),
        tls.cloned(),
        super::incoming(listener),
        super::stopped(stop_rx),
    ));
    let joined = |d: &Directory| {
        let nodes = d.nodes();
        external
            .iter()
            .filter(|m| !nodes.iter().any(|(n, _, live)| n == *m && *live))
            .copied()
            .collect::<Vec<_>>()
    };
    let mut waiting = joined(directory);
    let mut last_said = None::<Instant>;
    while !waiting.is_empty() {
        if last_said.is_none_or(|t| t.elapsed() > Duration::from_secs(15)) {
            for m in &waiting {
                say(&format!(
                    "waiting for {m} to join: start its node, e.g. `gcif-sim node --ministry {m} \
                     --hub http://{hub_addr}` (Ctrl-C gives up)"
                ));
            }
            last_said = Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now_waiting = joined(directory);
        for m in waiting.iter().filter(|m| !now_waiting.contains(m)) {
            say(&format!("{m} joined"));
        }
        waiting = now_waiting;
    }
    let _ = stop_tx.send(true);
    let _ = server.await;
    Ok(())
}
