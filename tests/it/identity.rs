//! The simulation models identity as the live path's certificates do: each
//! simulated connection carries the identity of the host that opened it, so
//! the hub's identity rules run in every simulated run, deterministically.

use std::sync::Arc;

use gcif_sim::config::RpcConfig;
use gcif_sim::events::{Log, Recorder, TokioClock};
use gcif_sim::host::{HubHost, Transmission};
use gcif_sim::hub::Hub;
use gcif_sim::model::{Host, Ministry, Status, Timestamp};
use gcif_sim::policy::Policy;
use gcif_sim::simnet::{LinkFaults, SimNet, Topology};
use gcif_sim::transport::{self, Directory, Peer};
use rand::SeedableRng;
use tokio_stream::StreamExt;

#[tokio::test(start_paused = true)]
async fn a_simulated_connection_speaks_only_for_the_host_that_opened_it() {
    let start = tokio::time::Instant::now();
    let origin = Timestamp(1_700_000_000_000);
    let net = SimNet::new(
        start,
        Topology::default(),
        LinkFaults::default(),
        rand_chacha::ChaCha8Rng::seed_from_u64(7),
    );
    let recorder = Arc::new(Recorder::new());
    let log = Log::new(Arc::new(TokioClock::new(start, origin)), recorder.clone());
    let hub = Arc::new(HubHost::new(
        Hub::new(Policy::compact_2019(Status::Exercise), Default::default()),
        log,
    ));
    let incoming = tokio_stream::wrappers::UnboundedReceiverStream::new(net.listen(Host::Hub))
        .map(Ok::<_, std::io::Error>);
    tokio::spawn(transport::serve_hub(
        hub.clone(),
        Directory::default(),
        None,
        None,
        incoming,
        std::future::pending(),
    ));
    // Both nodes are up (each host must be, to open a connection).
    let _up = [Ministry::GT_MINGOB, Ministry::HN_SEDS].map(|m| net.listen(Host::Node(m)));
    let from = |m: Ministry| {
        let net = net.clone();
        Peer::over(
            move || {
                let net = net.clone();
                async move { net.connect(Host::Node(m), Host::Hub).await }
            },
            RpcConfig::default(),
            None,
        )
    };
    let text = include_str!("../../examples/messages/caravan-alert.yaml");
    let envelope = gcif_sim::scenario::message(
        "caravan-alert.yaml",
        text,
        Ministry::HN_SEDS,
        origin,
        "HN-SEDS-SIM-1",
    )
    .unwrap();

    // GT-MINGOB's node publishing HN-SEDS's message: refused, not recorded.
    match transport::publish_once(&from(Ministry::GT_MINGOB), &envelope, 1).await {
        Transmission::Refused(reason) => assert_eq!(
            reason,
            "PERMISSION_DENIED: the connection is authenticated as GT-MINGOB, not as HN-SEDS"
        ),
        other => panic!("a forged publish was not refused: {other:?}"),
    }
    assert!(hub.inspect(|h| h.track(&envelope.id).is_none()));
    // HN-SEDS's own node: accepted under the same id.
    match transport::publish_once(&from(Ministry::HN_SEDS), &envelope, 1).await {
        Transmission::Answered(receipt) => assert!(!receipt.duplicate, "{receipt:?}"),
        other => panic!("the originator's publish was not accepted: {other:?}"),
    }
    let names: Vec<String> = recorder
        .take()
        .iter()
        .map(crate::support::event_name)
        .collect();
    assert!(names.contains(&"identity_refused".to_string()), "{names:?}");
    assert!(names.contains(&"accepted".to_string()), "{names:?}");
}
