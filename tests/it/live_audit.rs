//! The hub's audit trail, as a user meets it: `gcif-sim hub --data DIR`, then
//! `gcif-sim audit verify | show DIR`, on an intact trail and on one edited,
//! cut and reordered by hand.

use crate::live_procs::{caravan, node, send, start_hub};
use crate::procs::scratch;
use crate::support::gcif_sim;

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn a_hubs_decisions_are_chained_and_tampering_is_named() {
    let dir = scratch("live-audit");
    let data = dir.join("data");
    let data_arg = data.to_str().unwrap().to_string();
    let (mut hub, grpc, _) = start_hub(&dir.join("out"), &["--data", &data_arg]);
    let mut gt = node("GT-MINGOB", &grpc);
    for i in 1..=3 {
        let (code, out, err) = send(
            &grpc,
            "HN-SEDS",
            &caravan(&format!("HN-SEDS-AUDIT-{i}"), "green"),
            &[],
        );
        assert_eq!(code, 0, "{out}{err}");
    }
    let (code, out, _) = send(&grpc, "HN-SEDS", &caravan("HN-SEDS-AUDIT-RED", "red"), &[]);
    assert_eq!(code, 1, "{out}");
    gt.wait_for(crate::live_procs::WITHIN, "the third alert", |l| {
        l.text.contains("HN-SEDS-AUDIT-3").then_some(())
    });
    assert_eq!(gt.terminate(), 0);
    assert_eq!(hub.terminate(), 0, "{}", hub.transcript());

    let out = gcif_sim(&["audit", "verify", &data_arg]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("audit trail intact"), "{}", text(&out));
    let out = gcif_sim(&["audit", "show", &data_arg, "--message", "HN-SEDS-AUDIT-2"]);
    let t = text(&out);
    assert!(t.contains("accepted") && t.contains("delivered"), "{t}");
    let out = gcif_sim(&["audit", "show", &data_arg, "--message", "HN-SEDS-AUDIT-RED"]);
    assert!(text(&out).contains("rejected"), "{}", text(&out));

    // A restarted hub continues the chain.
    let (mut hub, grpc, _) = start_hub(&dir.join("out"), &["--data", &data_arg]);
    let (code, out, err) = send(&grpc, "HN-SEDS", &caravan("HN-SEDS-AUDIT-4", "green"), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(hub.terminate(), 0, "{}", hub.transcript());
    let out = gcif_sim(&["audit", "verify", &data_arg]);
    assert!(out.status.success(), "{}", text(&out));

    let log = data.join("audit.jsonl");
    let good = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    assert!(lines.len() >= 6, "{good}");
    let tampered = |edited: String, want: &str| {
        std::fs::write(&log, edited).unwrap();
        let out = gcif_sim(&["audit", "verify", &data_arg]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains(want), "{want:?} in {}", text(&out));
    };
    // Edited: another recipient written into an accepted entry.
    let i = lines
        .iter()
        .position(|l| l.contains("\"event\":\"accepted\""))
        .unwrap();
    let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    edited[i] = edited[i].replacen("\"recipients\":[", "\"recipients\":[\"MX-SEGOB\",", 1);
    tampered(
        edited.join("\n") + "\n",
        &format!("audit.jsonl:{}: entry {} was edited", i + 1, i + 1),
    );
    // Removed.
    let mut removed: Vec<&str> = lines.clone();
    removed.remove(1);
    tampered(removed.join("\n") + "\n", "audit.jsonl:2:");
    // Reordered.
    let mut reordered: Vec<&str> = lines.clone();
    reordered.swap(2, 3);
    tampered(reordered.join("\n") + "\n", "reordered");
    // Cut below the last checkpoint (taken when the hub stopped).
    tampered(
        lines[..lines.len() - 1].join("\n") + "\n",
        "its tail was cut",
    );
    std::fs::write(&log, good).unwrap();
    assert!(gcif_sim(&["audit", "verify", &data_arg]).status.success());
}
