//! Crash safety, as the issue asks it to be shown: under load, the hub
//! process, and separately a node process, are killed with SIGKILL at
//! random points (seeded, so a failure can be replayed) and restarted on
//! the same `--data`. The recipients' own records then show that nothing
//! the hub accepted was lost, and nothing was processed twice.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gcif_sim::hub::{Standing, Tracked};
use gcif_sim::transport::{Address, Peer};
use rand::{Rng, SeedableRng};

use crate::live_procs::received_ids;
use crate::procs::{Proc, addr_after, scratch};

const WITHIN: Duration = Duration::from_secs(60);
const MESSAGES: usize = 400;
const KILLS: usize = 6;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn hub(port: u16, data: &std::path::Path) -> Proc {
    let listen = format!("127.0.0.1:{port}");
    let mut hub = Proc::gcif(
        "hub",
        &["hub", "--listen", &listen, "--data", data.to_str().unwrap()],
    );
    hub.wait_for(WITHIN, "the hub serving", |l| {
        addr_after(l, "serving gcif.v1.Hub on ")
    });
    hub
}

fn node(ministry: &str, hub: &str, data: &std::path::Path) -> Proc {
    let mut node = Proc::gcif(
        ministry,
        &[
            "node",
            "--ministry",
            ministry,
            "--hub",
            hub,
            "--json",
            "--data",
            data.to_str().unwrap(),
        ],
    );
    node.wait_for(WITHIN, "its registration", |l| {
        l.text.contains("registered with the hub").then_some(())
    });
    node
}

/// Publishes `MESSAGES` alerts from HN-SEDS, each retried (same id, same
/// content) until the hub gives a receipt, as a node does; the ids the hub
/// accepted.
fn publish_all(url: String, tag: &'static str) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let address: Address = url.parse().unwrap();
            let text = include_str!("../../examples/messages/caravan-alert.yaml");
            let mut accepted = Vec::new();
            for i in 0..MESSAGES {
                let id = format!("HN-SEDS-{tag}-{i:04}");
                let envelope = gcif_sim::scenario::message(
                    "caravan-alert.yaml",
                    text,
                    gcif_sim::model::Ministry::HN_SEDS,
                    gcif_sim::live::wall_now(),
                    &id,
                )
                .unwrap();
                let deadline = Instant::now() + WITHIN;
                let mut attempt = 1;
                loop {
                    let peer = Peer::at(&address, Default::default(), None);
                    match gcif_sim::transport::publish_once(&peer, &envelope, attempt).await {
                        gcif_sim::host::Transmission::Answered(_) => break,
                        gcif_sim::host::Transmission::Refused(r) => panic!("{id} refused: {r}"),
                        _ => {
                            assert!(Instant::now() < deadline, "{id}: no receipt in time");
                            attempt += 1;
                            tokio::time::sleep(Duration::from_millis(25)).await;
                        }
                    }
                }
                accepted.push(id);
            }
            accepted
        })
    })
}

/// Waits until the hub says `to` acknowledged every one of `ids`.
fn wait_delivered(url: &str, ids: &[String], to: &[&str]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let peer = Peer::at(&url.parse().unwrap(), Default::default(), None);
    let deadline = Instant::now() + WITHIN;
    for id in ids {
        loop {
            let t = rt.block_on(gcif_sim::transport::track(&peer, id));
            let done = matches!(&t, Ok(Some(Tracked::Accepted(s)))
                if to.iter().all(|m| s.iter().any(|(r, st)| r.code() == *m && matches!(st, Standing::Delivered { .. }))));
            if done {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{id} not delivered to {to:?}: {t:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Every id printed by the node's processes, with how many times.
fn printed(incarnations: &mut [Proc]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for p in incarnations {
        for id in received_ids(p) {
            *counts.entry(id).or_insert(0) += 1;
        }
    }
    counts
}

/// The node's own durable record: the ids in its journal.
fn journal_ids(data: &std::path::Path) -> Vec<String> {
    let (_, inbox, _) = gcif_sim::store::NodeJournal::open(data).expect("the node's journal");
    inbox.into_iter().map(|r| r.envelope.id.0.clone()).collect()
}

fn check(accepted: &[String], data: &std::path::Path, incarnations: &mut [Proc], who: &str) {
    assert_eq!(accepted.len(), MESSAGES);
    let kept = journal_ids(data);
    for id in accepted {
        assert!(kept.contains(id), "{who} lost {id}, which the hub accepted");
    }
    for (id, n) in printed(incarnations) {
        assert_eq!(n, 1, "{who} processed {id} {n} times");
    }
}

/// Calls `kill` (a SIGKILL and a restart) at random points, seeded by
/// `seed`, until the load is over and at least `KILLS` were made, at least
/// 3 of them under load; the ids the publisher got receipts for.
fn kill_under_load(
    seed: u64,
    publisher: std::thread::JoinHandle<Vec<String>>,
    mut kill: impl FnMut(),
) -> Vec<String> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut under_load = 0;
    for k in 0.. {
        if k >= KILLS && publisher.is_finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(50..400)));
        under_load += usize::from(!publisher.is_finished());
        kill();
    }
    assert!(
        under_load >= 3,
        "only {under_load} kills under load (seed {seed})"
    );
    publisher.join().expect("the publisher")
}

#[test]
fn the_hub_killed_with_sigkill_under_load_loses_nothing_it_accepted() {
    let dir = scratch("crash-hub");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut hub_proc = hub(port, &dir.join("hub"));
    let mut gt = node("GT-MINGOB", &url, &dir.join("gt"));
    let mut us = node("US-DHS", &url, &dir.join("us"));
    let publisher = publish_all(url.clone(), "H");
    let accepted = kill_under_load(11, publisher, || {
        hub_proc.kill9();
        hub_proc = hub(port, &dir.join("hub"));
    });
    wait_delivered(&url, &accepted, &["GT-MINGOB", "US-DHS"]);
    assert_eq!(gt.terminate(), 0);
    assert_eq!(us.terminate(), 0);
    assert_eq!(hub_proc.terminate(), 0, "{}", hub_proc.transcript());
    check(&accepted, &dir.join("gt"), &mut [gt], "GT-MINGOB");
    check(&accepted, &dir.join("us"), &mut [us], "US-DHS");
    let verify = crate::support::gcif_sim(&["audit", "verify", dir.join("hub").to_str().unwrap()]);
    assert!(verify.status.success(), "{verify:?}");
}

#[test]
fn a_node_killed_with_sigkill_under_load_processes_nothing_twice() {
    let dir = scratch("crash-node");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut hub_proc = hub(port, &dir.join("hub"));
    let data = dir.join("gt");
    let mut incarnations = vec![node("GT-MINGOB", &url, &data)];
    let publisher = publish_all(url.clone(), "N");
    let accepted = kill_under_load(12, publisher, || {
        incarnations.last_mut().unwrap().kill9();
        incarnations.push(node("GT-MINGOB", &url, &data));
    });
    wait_delivered(&url, &accepted, &["GT-MINGOB"]);
    assert_eq!(incarnations.last_mut().unwrap().terminate(), 0);
    assert_eq!(hub_proc.terminate(), 0, "{}", hub_proc.transcript());
    check(&accepted, &data, &mut incarnations, "GT-MINGOB");
}
