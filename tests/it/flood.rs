//! A flood of publishes on one client connection does not starve another
//! connection's calls: each connection gets at most 32 calls handled at
//! once and 64 HTTP/2 streams, so the second client's publish is answered
//! while the flood is still being worked through.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gcif_sim::live::HubConfig;
use gcif_sim::model::{Ministry, Status};
use gcif_sim::policy::Policy;
use gcif_sim::wire::hub_client::HubClient;
use tokio::net::TcpListener;

const FLOOD: usize = 2000;

fn request(id: &str, from: Ministry) -> gcif_sim::wire::PublishRequest {
    let text = include_str!("../../examples/messages/caravan-alert.yaml");
    let env = gcif_sim::scenario::message(
        "caravan-alert.yaml",
        text,
        from,
        gcif_sim::live::wall_now(),
        id,
    )
    .unwrap();
    gcif_sim::wire::PublishRequest {
        envelope: Some((&env).into()),
        attempt: 1,
    }
}

#[test]
fn a_flood_on_one_connection_leaves_another_connections_calls_answered() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let config = HubConfig {
            policy: Policy::compact_2019(Status::Exercise),
            ministries: Default::default(),
            rpc: Default::default(),
            delivery: Default::default(),
            tls: None,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let hub = tokio::spawn(gcif_sim::live::serve_hub(
            listener,
            config,
            Arc::new(gcif_sim::events::Recorder::new()),
            async {
                let _ = stopped.await;
            },
        ));
        // One connection (one channel), FLOOD publishes at once. A first
        // call lets the client learn the server's stream limit first.
        let mut flooder = HubClient::connect(url.clone()).await.unwrap();
        flooder
            .publish(request("HN-SEDS-FLOOD-FIRST", Ministry::HN_SEDS))
            .await
            .unwrap();
        let answered = Arc::new(AtomicUsize::new(0));
        let mut flood = tokio::task::JoinSet::new();
        for i in 0..FLOOD {
            let mut c = flooder.clone();
            let answered = answered.clone();
            flood.spawn(async move {
                let req = request(&format!("HN-SEDS-FLOOD-{i:05}"), Ministry::HN_SEDS);
                // A stream the server refused (REFUSED_STREAM, over its
                // limit) was not processed: retried, as gRPC allows.
                let mut r = c.publish(req.clone()).await;
                for _ in 0..100 {
                    match &r {
                        Err(s) if s.code() == tonic::Code::Unavailable => {
                            r = c.publish(req.clone()).await;
                        }
                        _ => break,
                    }
                }
                answered.fetch_add(1, Ordering::SeqCst);
                r.map(|_| ()).map_err(|s| s.to_string())
            });
        }
        // Once the flood is being answered, another connection publishes.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while answered.load(Ordering::SeqCst) < 50 {
            assert!(
                std::time::Instant::now() < deadline,
                "the flood is not answered"
            );
            tokio::task::yield_now().await;
        }
        let before = answered.load(Ordering::SeqCst);
        let mut other = HubClient::connect(url).await.unwrap();
        let receipt = other
            .publish(request("GT-MINGOB-CALM-00001", Ministry::GT_MINGOB))
            .await
            .expect("the other connection's publish is answered")
            .into_inner();
        let during = answered.load(Ordering::SeqCst) - before;
        assert!(!receipt.duplicate);
        while let Some(r) = flood.join_next().await {
            r.unwrap()
                .expect("every flooding publish is accepted in the end");
        }
        assert!(
            during < FLOOD / 4,
            "the other connection waited for {during} of the flood's {FLOOD} calls"
        );
        let _ = stop.send(());
        hub.await.unwrap().unwrap();
    });
}
