//! The live hub on real loopback sockets, driven by a plain tonic client the
//! way a node written in another language would drive it (from the .proto).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gcif_sim::events::JsonLines;
use gcif_sim::live::{HubConfig, parse_ministry_address};
use gcif_sim::policy::Policy;
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
        policy: Policy::new(
            std::sync::Arc::new(gcif_sim::policy::Agreement::compact_2019()),
            ministries.keys().copied(),
            gcif_sim::model::Status::Exercise,
        ),
        ministries,
        rpc: Default::default(),
        delivery: Default::default(),
        tls: None,
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
    // A code no test of this process declares (the code registry is
    // process-wide: another test reading policies/ declares CR-MSP).
    let stranger = client
        .publish(caravan(
            "XZ-NEVERDECLARED-1",
            "XZ-NEVERDECLARED",
            wire::Handling::Green,
        ))
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

/// A ministry that answers by the message id: `BAD` ids INVALID_ARGUMENT
/// (final), `FLAKY` ids INTERNAL on the first attempt, the rest OK. With
/// `stream`, it serves `DeliverStream` too (and the hub should use only
/// that); without, it answers it UNIMPLEMENTED, as a node written with
/// `Deliver` alone does.
struct PickyMinistry {
    seen: mpsc::UnboundedSender<(String, u32)>,
    stream: bool,
    unary_calls: Arc<std::sync::atomic::AtomicUsize>,
}

/// What the picky ministry answers delivery `d`: its id, and the status.
fn picky(d: wire::Delivery) -> (String, u32, Result<(), Status>) {
    let id = d.envelope.map(|e| e.message_id).unwrap_or_default();
    let status = if id.contains("BAD") {
        Err(Status::invalid_argument("this node cannot take it"))
    } else if id.contains("FLAKY") && d.attempt == 1 {
        Err(Status::internal("a fault of this node's, for this call"))
    } else {
        Ok(())
    };
    (id, d.attempt, status)
}

#[tonic::async_trait]
impl wire::ministry_server::Ministry for PickyMinistry {
    async fn deliver(
        &self,
        r: Request<wire::Delivery>,
    ) -> Result<Response<wire::DeliveryAck>, Status> {
        self.unary_calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (id, attempt, status) = picky(r.into_inner());
        let _ = self.seen.send((id.clone(), attempt));
        status.map(|()| {
            Response::new(wire::DeliveryAck {
                message_id: id,
                duplicate: false,
            })
        })
    }

    async fn deliver_stream(
        &self,
        r: Request<tonic::Streaming<wire::Delivery>>,
    ) -> Result<Response<tonic::codegen::BoxStream<wire::DeliveryResult>>, Status> {
        if !self.stream {
            return Err(Status::unimplemented("this node serves Deliver alone"));
        }
        let mut deliveries = r.into_inner();
        let seen = self.seen.clone();
        let (results, answers) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(d)) = deliveries.message().await {
                let (id, attempt, status) = picky(d);
                let _ = seen.send((id.clone(), attempt));
                let (code, reason) = match status {
                    Ok(()) => (0, String::new()),
                    Err(s) => (s.code() as i32, s.message().to_string()),
                };
                let _ = results.send(Ok(wire::DeliveryResult {
                    message_id: id,
                    code,
                    reason,
                    ..Default::default()
                }));
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::UnboundedReceiverStream::new(answers),
        )))
    }
}

/// A hub on a free port whose only recipient is `ministry`'s service; its
/// log, its address and its stop switch.
async fn hub_with(
    ministry: MinistryServer<impl wire::ministry_server::Ministry>,
) -> (Shared, String, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ministry)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let (m, endpoint) = parse_ministry_address(&format!("US-DHS=http://{addr}")).unwrap();
    let hub_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hub_addr = hub_listener.local_addr().unwrap();
    let log = Shared::default();
    let config = HubConfig {
        policy: Policy::new(
            std::sync::Arc::new(gcif_sim::policy::Agreement::compact_2019()),
            [m, "HN-SEDS".parse().unwrap()],
            gcif_sim::model::Status::Exercise,
        ),
        ministries: BTreeMap::from([(m, endpoint)]),
        rpc: Default::default(),
        delivery: Default::default(),
        tls: None,
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gcif_sim::live::serve_hub(
        hub_listener,
        config,
        Arc::new(JsonLines::flushed(log.clone())),
        async {
            let _ = stop_rx.await;
        },
    ));
    (log, format!("http://{hub_addr}"), stop_tx)
}

fn events_of(log: &Shared) -> Vec<gcif_sim::events::Event> {
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    gcif_sim::events::read_jsonl(&text).unwrap()
}

#[tokio::test]
async fn a_bad_message_never_holds_up_the_others() {
    a_bad_message_never_holds_up_the_others_when(false).await;
}

#[tokio::test]
async fn a_bad_message_never_holds_up_the_others_on_the_delivery_stream() {
    a_bad_message_never_holds_up_the_others_when(true).await;
}

/// A node that refuses one message for good and another once gets every
/// other message at once, whether it serves `DeliverStream` (`stream`) or
/// `Deliver` alone; the hub uses the stream when there is one.
async fn a_bad_message_never_holds_up_the_others_when(stream: bool) {
    use gcif_sim::events::EventBody;
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let unary_calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (log, hub, stop) = hub_with(MinistryServer::new(PickyMinistry {
        seen: seen_tx,
        stream,
        unary_calls: unary_calls.clone(),
    }))
    .await;
    let mut client = HubClient::connect(hub).await.unwrap();
    for id in ["HN-SEDS-BAD-1", "HN-SEDS-FLAKY-1", "HN-SEDS-GOOD-1"] {
        client
            .publish(caravan(id, "HN-SEDS", wire::Handling::Green))
            .await
            .unwrap();
    }
    // Wait (bounded) until the flaky one got through on its retry.
    let mut calls = Vec::new();
    while !calls.contains(&("HN-SEDS-FLAKY-1".to_string(), 2)) {
        let next = tokio::time::timeout(Duration::from_secs(20), seen.recv())
            .await
            .expect("the flaky message is retried")
            .expect("channel open");
        calls.push(next);
    }
    // The good one went through at once, before the flaky one's retry.
    let good = calls
        .iter()
        .position(|c| c.0 == "HN-SEDS-GOOD-1")
        .expect("GOOD delivered");
    let flaky_retry = calls
        .iter()
        .position(|c| *c == ("HN-SEDS-FLAKY-1".to_string(), 2))
        .unwrap();
    assert!(good < flaky_retry, "{calls:?}");
    // The bad one is not retried, and its refusal is logged.
    assert_eq!(
        calls.iter().filter(|c| c.0 == "HN-SEDS-BAD-1").count(),
        1,
        "{calls:?}"
    );
    // Wait (bounded) for the acknowledgements to be logged.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let delivered = |events: &[gcif_sim::events::Event]| {
        events
            .iter()
            .filter(|e| matches!(e.body, EventBody::Delivered { .. }))
            .count()
    };
    while delivered(&events_of(&log)) < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            events_of(&log)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events = events_of(&log);
    let undeliverable: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Undeliverable { msg, reason, .. } => Some((msg.0.clone(), reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(undeliverable.len(), 1, "{events:?}");
    assert_eq!(undeliverable[0].0, "HN-SEDS-BAD-1");
    assert!(
        undeliverable[0]
            .1
            .contains("INVALID_ARGUMENT: this node cannot take it"),
        "{undeliverable:?}"
    );
    let unary = unary_calls.load(std::sync::atomic::Ordering::Relaxed);
    if stream {
        assert_eq!(
            unary, 0,
            "a node with a delivery stream gets no Deliver call"
        );
    } else {
        assert_eq!(unary, calls.len(), "every delivery by Deliver: {calls:?}");
    }
    stop.send(()).unwrap();
}

#[tokio::test]
async fn corrected_content_under_a_refused_id_is_decided_afresh() {
    let (seen_tx, _seen) = mpsc::unbounded_channel();
    let (_log, hub, stop) = hub_with(MinistryServer::new(FakeMinistry {
        name: "US-DHS",
        seen: seen_tx,
    }))
    .await;
    let mut client = HubClient::connect(hub).await.unwrap();
    let red = client
        .publish(caravan("HN-SEDS-000010", "HN-SEDS", wire::Handling::Red))
        .await
        .expect_err("TLP:RED is refused");
    assert_eq!(red.code(), Code::PermissionDenied);
    let again = client
        .publish(caravan("HN-SEDS-000010", "HN-SEDS", wire::Handling::Red))
        .await
        .expect_err("the same content gets the same answer");
    assert_eq!(again.message(), red.message());
    let green = client
        .publish(caravan("HN-SEDS-000010", "HN-SEDS", wire::Handling::Green))
        .await
        .expect("corrected content is accepted")
        .into_inner();
    assert_eq!(green.recipients, ["US-DHS"]);
    // An envelope over the 1 MiB limit is refused at publish, for good.
    let mut big = caravan("HN-SEDS-000011", "HN-SEDS", wire::Handling::Green);
    if let Some(wire::envelope::Payload::CaravanAlert(a)) =
        big.envelope.as_mut().and_then(|e| e.payload.as_mut())
    {
        a.location.as_mut().unwrap().name = "x".repeat(1 << 20);
    }
    let big = client.publish(big).await.expect_err("too large");
    assert_eq!(big.code(), Code::InvalidArgument);
    assert!(big.message().contains("over the limit"), "{big:?}");
    stop.send(()).unwrap();
}

#[tokio::test]
async fn grpc_tools_find_the_services_by_reflection_and_health() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let (seen_tx, _seen) = mpsc::unbounded_channel();
    let (_log, hub, stop) = hub_with(MinistryServer::new(FakeMinistry {
        name: "US-DHS",
        seen: seen_tx,
    }))
    .await;
    let channel = tonic::transport::Endpoint::from_shared(hub)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut reflection = ServerReflectionClient::new(channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().expect("an answer");
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("{answer:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        !names.iter().any(|n| n == "gcif.v1.Ministry"),
        "a hub lists only what it serves: {names:?}"
    );
    for expected in [
        "gcif.v1.Hub",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }

    let mut health = HealthClient::new(channel);
    for service in ["", "gcif.v1.Hub"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "gcif.v1.Hub".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);
    stop.send(()).unwrap();
    let next = tokio::time::timeout(Duration::from_secs(20), watch.message())
        .await
        .expect("a status change on shutdown");
    if let Ok(Some(change)) = next {
        assert_eq!(
            change.status,
            ServingStatus::NotServing as i32,
            "{change:?}"
        );
    } else {
        panic!("the watch ended without NOT_SERVING: {next:?}");
    }
}

#[tokio::test]
async fn accepted_connections_have_nagle_off() {
    use tokio_stream::StreamExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut incoming = Box::pin(gcif_sim::live::incoming(listener));
    let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
    let accepted = incoming.next().await.unwrap().unwrap();
    assert!(
        accepted.nodelay().unwrap(),
        "TCP_NODELAY on the accepted socket"
    );
}

#[test]
fn a_hub_address_must_be_a_usable_url() {
    for bad in [
        "notaurl",
        "HN-SEDS",
        "ftp://127.0.0.1:1",
        "http://127.0.0.1",
        "127.0.0.1:50051",
    ] {
        assert!(
            bad.parse::<gcif_sim::transport::Address>().is_err(),
            "{bad} accepted"
        );
        assert!(parse_ministry_address(&format!("HN-SEDS={bad}")).is_err());
    }
    assert!(
        "http://127.0.0.1:50051"
            .parse::<gcif_sim::transport::Address>()
            .is_ok()
    );
}
