//! Identities on the live path, as a user meets them: `gcif-sim certs init
//! DIR`, then a hub, nodes and `send` with `--tls DIR`. A node showing
//! another ministry's certificate, and a client showing none, try to
//! publish, register, pass on and receive; each is refused as the .proto
//! says, and the hub's audit trail names the refusals.

use crate::live_procs::{WITHIN, caravan, send};
use crate::procs::{Proc, addr_after, scratch};
use crate::support::gcif_sim;

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// A `--json` node of `ministry` with `--tls certs` (and `extra`), once it
/// serves.
fn tls_node(ministry: &str, hub: &str, certs: &str, extra: &[&str]) -> Proc {
    let url = format!("https://{hub}");
    let mut args = vec![
        "node",
        "--ministry",
        ministry,
        "--hub",
        &url,
        "--json",
        "--tls",
        certs,
    ];
    args.extend_from_slice(extra);
    let mut node = Proc::gcif(ministry, &args);
    node.wait_for(WITHIN, "its address", |l| {
        addr_after(l, "serving gcif.v1.Ministry on ")
    });
    node
}

fn pem(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn with_tls_the_hub_takes_each_callers_identity_from_its_certificate() {
    let dir = scratch("live-tls");
    let certs = dir.join("certs");
    let certs_arg = certs.to_str().unwrap().to_string();
    let made = gcif_sim(&["certs", "init", &certs_arg]);
    assert!(made.status.success(), "{}", text(&made));
    for f in [
        "ca.pem",
        "hub.pem",
        "hub.key",
        "HN-SEDS.pem",
        "GT-MINGOB.key",
    ] {
        assert!(certs.join(f).exists(), "{f}: {}", text(&made));
    }
    // A second init would overwrite the authority: refused.
    let again = gcif_sim(&["certs", "init", &certs_arg]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));

    let data = dir.join("data");
    let data_arg = data.to_str().unwrap().to_string();
    let (mut hub, grpc, _) = crate::live_procs::start_hub(
        &dir.join("out"),
        &["--data", &data_arg, "--tls", &certs_arg],
    );
    let mut gt = tls_node("GT-MINGOB", &grpc, &certs_arg, &[]);
    gt.wait_for(WITHIN, "its registration", |l| {
        l.text.contains("registered with the hub").then_some(())
    });

    // The right certificate: accepted and delivered over TLS.
    let tls = ["--tls", certs_arg.as_str()];
    let (code, out, err) = send(&grpc, "HN-SEDS", &caravan("HN-SEDS-TLS-1", "green"), &tls);
    assert_eq!(code, 0, "{out}{err}");
    gt.wait_for(WITHIN, "the alert over TLS", |l| {
        l.text.contains("HN-SEDS-TLS-1").then_some(())
    });

    // GT-MINGOB's certificate publishing as HN-SEDS: PERMISSION_DENIED.
    let gt_cert = certs.join("GT-MINGOB.pem");
    let gt_cert = gt_cert.to_str().unwrap();
    let forged = ["--tls", certs_arg.as_str(), "--cert", gt_cert];
    let (code, out, _) = send(
        &grpc,
        "HN-SEDS",
        &caravan("HN-SEDS-TLS-2", "green"),
        &forged,
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("PERMISSION_DENIED") && out.contains("authenticated as GT-MINGOB"),
        "{out}"
    );
    // ... which leaves the id free for the real HN-SEDS.
    let (code, out, err) = send(&grpc, "HN-SEDS", &caravan("HN-SEDS-TLS-2", "green"), &tls);
    assert_eq!(code, 0, "{out}{err}");

    // GT-MINGOB's certificate passing on as HN-SEDS: PERMISSION_DENIED.
    let reshare = gcif_sim(&[
        "reshare",
        "--hub",
        &format!("https://{grpc}"),
        "--as",
        "HN-SEDS",
        "HN-SEDS-TLS-1",
        "--to",
        "MX-SEGOB",
        "--tls",
        &certs_arg,
        "--cert",
        gt_cert,
    ]);
    assert_eq!(reshare.status.code(), Some(1), "{}", text(&reshare));
    assert!(
        text(&reshare).contains("PERMISSION_DENIED"),
        "{}",
        text(&reshare)
    );

    // A node of SV-MJSP showing GT-MINGOB's certificate cannot register
    // (so it never receives SV-MJSP's messages): it exits 2.
    let mut sv = Proc::gcif(
        "SV-MJSP (forged)",
        &[
            "node",
            "--ministry",
            "SV-MJSP",
            "--hub",
            &format!("https://{grpc}"),
            "--tls",
            &certs_arg,
            "--cert",
            gt_cert,
        ],
    );
    assert_eq!(sv.wait(WITHIN), 2, "{}", sv.transcript());
    assert!(
        sv.transcript().contains("PERMISSION_DENIED"),
        "{}",
        sv.transcript()
    );

    // No certificate at all: no connection, so nothing is published.
    let (code, out, err) = send(
        &grpc,
        "HN-SEDS",
        &caravan("HN-SEDS-TLS-3", "green"),
        &["--give-up", "2s"],
    );
    assert_eq!(code, 2, "{out}{err}");
    // A certificate for HN-SEDS from another authority: no connection either.
    let other = dir.join("other-ca");
    let made = gcif_sim(&["certs", "init", other.to_str().unwrap()]);
    assert!(made.status.success(), "{}", text(&made));
    let (code, out, err) = send(
        &grpc,
        "HN-SEDS",
        &caravan("HN-SEDS-TLS-4", "green"),
        &["--tls", other.to_str().unwrap(), "--give-up", "2s"],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("TLS"), "{err}");
    let anonymous = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
            // TLS, trusting the authority, but showing no certificate.
            let channel = Endpoint::from_shared(format!("https://{grpc}"))
                .unwrap()
                .tls_config(
                    ClientTlsConfig::new()
                        .ca_certificate(Certificate::from_pem(pem(&certs.join("ca.pem"))))
                        .domain_name("localhost"),
                )
                .unwrap()
                .connect()
                .await;
            match channel {
                Err(e) => Err(e.to_string()),
                Ok(ch) => gcif_sim::wire::hub_client::HubClient::new(ch)
                    .track(gcif_sim::wire::TrackRequest {
                        message_id: "HN-SEDS-TLS-1".into(),
                    })
                    .await
                    .map(|r| format!("{:?}", r.into_inner()))
                    .map_err(|s| s.to_string()),
            }
        });
    assert!(
        anonymous.is_err(),
        "a client without a certificate was answered: {anonymous:?}"
    );

    // The hub's certificate is the only one a node takes deliveries from.
    let gt_addr = {
        let t = gt.transcript();
        t.lines()
            .find_map(|l| l.split("serving gcif.v1.Ministry on https://").nth(1))
            .map(|a| a.split(',').next().unwrap().trim().to_string())
            .expect("the node says where it serves over https")
    };
    let deliver = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
            let hn = Identity::from_pem(
                pem(&certs.join("HN-SEDS.pem")),
                pem(&certs.join("HN-SEDS.key")),
            );
            let channel = Endpoint::from_shared(format!("https://{gt_addr}"))
                .unwrap()
                .tls_config(
                    ClientTlsConfig::new()
                        .ca_certificate(Certificate::from_pem(pem(&certs.join("ca.pem"))))
                        .identity(hn),
                )
                .unwrap()
                .connect()
                .await
                .expect("HN-SEDS's certificate opens a TLS connection");
            gcif_sim::wire::ministry_client::MinistryClient::new(channel)
                .deliver(gcif_sim::wire::Delivery {
                    envelope: None,
                    recipient: "GT-MINGOB".into(),
                    attempt: 1,
                    redacted: Vec::new(),
                })
                .await
        });
    let status = deliver.expect_err("a node takes deliveries only from the hub");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("only the hub"), "{status:?}");

    assert_eq!(gt.terminate(), 0);
    assert_eq!(hub.terminate(), 0, "{}", hub.transcript());
    let verify = gcif_sim(&["audit", "verify", &data_arg]);
    assert!(verify.status.success(), "{}", text(&verify));
    let show = text(&gcif_sim(&["audit", "show", &data_arg]));
    for call in ["\"Publish\"", "\"Reshare\"", "\"Register\""] {
        assert!(
            show.lines()
                .any(|l| l.contains("identity_refused") && l.contains(call)),
            "no identity refusal of {call} in the audit trail:\n{show}"
        );
    }
    assert!(!show.contains("HN-SEDS-TLS-3"), "{show}");
    assert!(!show.contains("HN-SEDS-TLS-4"), "{show}");
}

#[test]
fn a_scenario_plays_live_over_mutual_tls_with_a_real_partition() {
    let dir = scratch("live-tls-run");
    let certs = dir.join("certs");
    let made = gcif_sim(&["certs", "init", certs.to_str().unwrap()]);
    assert!(made.status.success(), "{}", text(&made));
    let file = dir.join("live-small.yaml");
    std::fs::write(&file, crate::live_procs::LIVE_SCENARIO).unwrap();
    let out = dir.join("run");
    let mut run = Proc::gcif(
        "run --live --tls",
        &[
            "run",
            "--live",
            "--speed",
            "600",
            "--tls",
            certs.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    );
    let code = run.wait(std::time::Duration::from_secs(120));
    assert_eq!(code, 0, "every expectation met:\n{}", run.transcript());

    // Against a TLS hub already running, with an external TLS node: the
    // run learns that node's deliveries with Hub.Track, as each message's
    // originator (the identity the hub lets ask).
    let certs_arg = certs.to_str().unwrap();
    let (mut hub, grpc, _) = crate::live_procs::start_hub(&dir.join("hub"), &["--tls", certs_arg]);
    let mut sv = tls_node("SV-MJSP", &grpc, certs_arg, &[]);
    let mut run = Proc::gcif(
        "run --live --hub --tls",
        &[
            "run",
            "--live",
            "--speed",
            "600",
            "--hub",
            &format!("https://{grpc}"),
            "--external",
            "SV-MJSP",
            "--tls",
            certs_arg,
            "--out",
            dir.join("run-hub").to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    );
    let code = run.wait(std::time::Duration::from_secs(120));
    assert_eq!(code, 0, "every expectation met:\n{}", run.transcript());
    assert_eq!(sv.terminate(), 0);
    assert_eq!(hub.terminate(), 0);

    // A certificate missing for a participant is named before anything starts.
    std::fs::remove_file(certs.join("SV-MJSP.pem")).unwrap();
    let missing = gcif_sim(&[
        "run",
        "--live",
        "--tls",
        certs.to_str().unwrap(),
        "--out",
        dir.join("run2").to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(
        text(&missing).contains("no certificate for SV-MJSP"),
        "{}",
        text(&missing)
    );
}
