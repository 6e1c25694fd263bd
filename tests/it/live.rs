//! The live hub on real loopback sockets, driven by a plain tonic client the
//! way a node written in another language would drive it (from the .proto).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gcif_sim::events::JsonLines;
use gcif_sim::live::{HubConfig, parse_ministry_address};
use gcif_sim::policy::PolicyName;
use gcif_sim::wire::{self, hub_client::HubClient, ministry_server::MinistryServer};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Code, Request, Response, Status};

/// A stand-in ministry: acknowledges and reports each delivery.
struct FakeMinistry {
    name: &'static str,
    seen: mpsc::UnboundedSender<(&'static str, String)>,
}

#[tonic::async_trait]
impl wire::ministry_server::Ministry for FakeMinistry {
    async fn deliver(
        &self,
        r: Request<wire::Delivery>,
    ) -> Result<Response<wire::DeliveryAck>, Status> {
        let d = r.into_inner();
        let id = d.envelope.map(|e| e.message_id).unwrap_or_default();
        let _ = self.seen.send((self.name, id.clone()));
        Ok(Response::new(wire::DeliveryAck {
            message_id: id,
            duplicate: false,
        }))
    }
}

/// An in-memory writer for the event log.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn caravan(id: &str, from: &str, handling: wire::Handling) -> wire::PublishRequest {
    wire::PublishRequest {
        envelope: Some(wire::Envelope {
            message_id: id.into(),
            originator: from.into(),
            created: Some(prost_types::Timestamp {
                seconds: 1_547_550_000,
                nanos: 0,
            }),
            status: wire::Status::Exercise as i32,
            message_type: wire::MessageType::Alert as i32,
            handling: handling as i32,
            kind: wire::Kind::CaravanAlert as i32,
            payload: Some(wire::envelope::Payload::CaravanAlert(wire::CaravanAlert {
                caravan_id: "CAR-2019-001".into(),
                location: Some(wire::Place {
                    name: "San Pedro Sula".into(),
                    country: "HN".into(),
                    lat: Some(15.504),
                    lon: Some(-88.025),
                }),
                estimated_size: Some(800),
                ..Default::default()
            })),
            ..Default::default()
        }),
        attempt: 1,
    }
}

#[tokio::test]
async fn a_node_joins_with_the_proto_alone_and_gets_status_codes() {
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let mut ministries = BTreeMap::new();
    for name in ["US-DHS", "GT-MINGOB", "HN-SEDS", "MX-SEGOB"] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = FakeMinistry {
            name,
            seen: seen_tx.clone(),
        };
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(MinistryServer::new(fake))
                .serve_with_incoming(TcpListenerStream::new(listener)),
        );
        let (m, endpoint) = parse_ministry_address(&format!("{name}=http://{addr}")).unwrap();
        ministries.insert(m, endpoint);
    }
    let hub_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hub_addr = hub_listener.local_addr().unwrap();
    let log = Shared::default();
    let config = HubConfig {
        participants: ministries.keys().copied().collect(),
        ministries,
        policy: PolicyName::Compact2019,
        rpc: Default::default(),
        delivery: Default::default(),
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let hub = tokio::spawn(gcif_sim::live::serve_hub(
        hub_listener,
        config,
        Arc::new(JsonLines::flushed(log.clone())),
        async {
            let _ = stop_rx.await;
        },
    ));

    let mut client = HubClient::connect(format!("http://{hub_addr}"))
        .await
        .unwrap();
    let receipt = client
        .publish(caravan("HN-SEDS-000001", "HN-SEDS", wire::Handling::Amber))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(receipt.recipients, ["US-DHS", "GT-MINGOB", "MX-SEGOB"]);
    assert!(!receipt.duplicate);

    // Wait (bounded) for the three deliveries.
    let mut got = Vec::new();
    while got.len() < 3 {
        let next = tokio::time::timeout(Duration::from_secs(20), seen.recv())
            .await
            .expect("deliveries arrive")
            .expect("channel open");
        got.push(next);
    }
    got.sort();
    assert_eq!(
        got,
        [
            ("GT-MINGOB", "HN-SEDS-000001".to_string()),
            ("MX-SEGOB", "HN-SEDS-000001".to_string()),
            ("US-DHS", "HN-SEDS-000001".to_string())
        ]
    );

    // A retried publish is recognised.
    let again = client
        .publish(caravan("HN-SEDS-000001", "HN-SEDS", wire::Handling::Amber))
        .await
        .unwrap()
        .into_inner();
    assert!(again.duplicate);

    // Bad requests get the right status code, with a reason.
    let code = |r: Result<Response<wire::PublishReceipt>, Status>| {
        let s = r.expect_err("refused");
        assert!(!s.message().is_empty(), "{s:?} has no reason");
        s.code()
    };
    let missing = client
        .publish(wire::PublishRequest {
            envelope: None,
            attempt: 1,
        })
        .await;
    assert_eq!(code(missing), Code::InvalidArgument);
    let red = client
        .publish(caravan("HN-SEDS-000002", "HN-SEDS", wire::Handling::Red))
        .await;
    assert_eq!(code(red), Code::PermissionDenied);
    let reused = client
        .publish(caravan("HN-SEDS-000001", "HN-SEDS", wire::Handling::Green))
        .await;
    assert_eq!(code(reused), Code::AlreadyExists);
    let stranger = client
        .publish(caravan("CR-1", "CR-MSP", wire::Handling::Green))
        .await;
    assert_eq!(
        code(stranger),
        Code::PermissionDenied,
        "an unknown originator is not a participant"
    );
    let outsider = client
        .publish(caravan("SV-MJSP-000001", "SV-MJSP", wire::Handling::Green))
        .await;
    assert_eq!(
        code(outsider),
        Code::PermissionDenied,
        "SV-MJSP is not a participant here"
    );

    stop_tx.send(()).unwrap();
    hub.await.unwrap().unwrap();
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let events = gcif_sim::events::read_jsonl(&text).unwrap();
    let names: Vec<String> = events.iter().map(crate::support::event_name).collect();
    assert_eq!(
        names.iter().filter(|n| *n == "accepted").count(),
        1,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| *n == "rejected").count(),
        2,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| *n == "refused_request").count(),
        2,
        "the missing envelope and the unknown originator leave a line: {names:?}"
    );
}
