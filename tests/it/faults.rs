//! Each fault kind delays delivery but loses nothing and duplicates nothing.

use gcif_sim::model::Ministry;

use crate::support::{audit, play};

const HEADER: &str = "start: 2019-01-15T05:00:00-06:00\nnetwork: { latency: 100ms }\n";

fn caravan(id: &str, at: &str, from: &str) -> String {
    format!(
        "  - id: {id}\n    at: {at}\n    from: {from}\n    caravan_alert: {{ caravan_id: CAR-1, location: {{ name: San Pedro Sula, country: HN }} }}\n"
    )
}

fn expect_all() -> &'static str {
    "expect:\n  - no_loss: true\n  - no_duplicates: true\n"
}

#[test]
fn a_partition_delays_delivery_until_it_heals() {
    let yaml = format!(
        "{HEADER}duration: 6h\nfaults:\n  - {{ at: 1h, partition: [GT-MINGOB, GCIF], for: 2h }}\ninjects:\n{}{}{}",
        caravan("during", "1h30m", "HN-SEDS"),
        caravan("from-cut-off", "2h", "GT-MINGOB"),
        expect_all()
    );
    for seed in [1, 2] {
        let p = play(&yaml, seed);
        p.assert_passed();
        audit(&p.out.events, seed);
        let healed = 3 * 3_600_000;
        let to_gt = p
            .delivered_at(&p.msg("during"), Ministry::GT_MINGOB)
            .unwrap();
        assert!(
            to_gt >= healed,
            "seed {seed}: delivered at {to_gt} inside the partition"
        );
        assert!(
            to_gt < healed + 60_000,
            "seed {seed}: took {to_gt} ms; recovery too slow"
        );
        let to_us = p.delivered_at(&p.msg("during"), Ministry::US_DHS).unwrap();
        assert!(
            to_us < 90 * 60_000 + 5_000,
            "seed {seed}: others were held up ({to_us})"
        );
        let from_gt = p
            .delivered_at(&p.msg("from-cut-off"), Ministry::HN_SEDS)
            .unwrap();
        assert!(
            from_gt >= healed,
            "seed {seed}: published through a partition"
        );
        assert_eq!(p.events("fault").len(), 1);
        assert_eq!(p.events("healed")[0].t, healed);
    }
}

#[test]
fn a_hub_crash_keeps_accepted_messages_and_resumes() {
    // A burst just before the crash is in flight when it happens.
    let mut injects = String::new();
    for i in 0..20 {
        injects += &caravan(
            &format!("burst-{i}"),
            &format!("59m59s{}ms", 900 + i),
            "HN-SEDS",
        );
    }
    injects += &caravan("while-down", "1h5m", "SV-MJSP");
    let yaml = format!(
        "{HEADER}duration: 3h\nfaults:\n  - {{ at: 1h, crash: GCIF, for: 10m }}\ninjects:\n{injects}traffic:\n  - {{ kind: cargo_notice, from: [HN-SEDS, GT-MINGOB], every: 20s }}\n{}",
        expect_all()
    );
    for seed in [3, 4, 5] {
        let p = play(&yaml, seed);
        p.assert_passed();
        audit(&p.out.events, seed);
        let restarted = 70 * 60_000;
        let t = p
            .delivered_at(&p.msg("while-down"), Ministry::GT_MINGOB)
            .unwrap();
        assert!(
            t >= restarted,
            "seed {seed}: delivered while the hub was down"
        );
        assert!(t < restarted + 60_000, "seed {seed}: slow recovery ({t})");
        let nothing_while_down = p.out.events.iter().all(|e| {
            !(matches!(e.body, gcif_sim::events::EventBody::Accepted { .. })
                && e.t > 3_600_000
                && e.t < restarted)
        });
        assert!(
            nothing_while_down,
            "seed {seed}: the crashed hub accepted messages"
        );
    }
}

#[test]
fn a_crashed_recipient_gets_its_messages_after_restart() {
    let yaml = format!(
        "{HEADER}duration: 4h\nfaults:\n  - {{ at: 1h, crash: MX-SEGOB, for: 30m }}\n  - {{ at: 2h, crash: HN-SEDS, for: 30m }}\ninjects:\n{}{}{}",
        caravan("to-down-node", "1h10m", "GT-MINGOB"),
        caravan("from-down-node", "2h10m", "HN-SEDS"),
        expect_all()
    );
    let p = play(&yaml, 9);
    p.assert_passed();
    audit(&p.out.events, 9);
    let t = p
        .delivered_at(&p.msg("to-down-node"), Ministry::MX_SEGOB)
        .unwrap();
    assert!(
        (90 * 60_000..92 * 60_000).contains(&t),
        "to MX-SEGOB at {t}"
    );
    // Submitted to a crashed node: published when it comes back.
    let published = p.events("published");
    let from_down = published
        .iter()
        .find(|e| serde_json::to_value(e).unwrap()["inject"] == "from-down-node")
        .unwrap();
    assert_eq!(from_down.t, 150 * 60_000, "published at restart");
}

#[test]
fn a_degraded_link_slows_only_its_own_deliveries() {
    let yaml = format!(
        "{HEADER}duration: 3h\nfaults:\n  - {{ at: 1h, degrade: [SV-MJSP, GCIF], latency: 2s, for: 1h }}\ninjects:\n{}{}",
        caravan("slow", "1h30m", "HN-SEDS"),
        expect_all()
    );
    let p = play(&yaml, 1);
    p.assert_passed();
    let sent = 90 * 60_000;
    let to_sv = p.delivered_at(&p.msg("slow"), Ministry::SV_MJSP).unwrap() - sent;
    let to_us = p.delivered_at(&p.msg("slow"), Ministry::US_DHS).unwrap() - sent;
    assert!(
        to_sv >= 2_000,
        "SV-MJSP got it in {to_sv} ms over a 2s link"
    );
    assert!(
        to_us < 1_000,
        "US-DHS got it in {to_us} ms over a healthy link"
    );
}

#[test]
fn thousands_of_messages_through_every_fault_arrive_exactly_once() {
    let yaml = format!(
        "{HEADER}duration: 2d\nnetwork: {{ latency: 80ms, jitter: 30ms }}\n\
         faults:\n\
           - {{ at: 3h, partition: [HN-SEDS, GCIF], for: 5h }}\n\
           - {{ at: 10h, crash: GCIF, for: 20m }}\n\
           - {{ at: 20h, crash: US-DHS, for: 2h }}\n\
           - {{ at: 30h, degrade: [SV-MJSP, GCIF], latency: 3s, for: 4h }}\n\
           - {{ at: 31h, partition: [MX-SEGOB, GCIF], for: 1h }}\n\
           - {{ at: 40h, crash: GCIF, for: 1m }}\n\
         traffic:\n\
           - {{ kind: caravan_alert, from: [HN-SEDS, GT-MINGOB], every: 5m }}\n\
           - {{ kind: document_flag, from: [US-DHS, GT-MINGOB, HN-SEDS, SV-MJSP], every: 2m }}\n\
           - {{ kind: cargo_notice, from: [HN-SEDS, GT-MINGOB, SV-MJSP], every: 1m }}\n\
         {}",
        expect_all()
    )
    .replacen("network: { latency: 100ms }\n", "", 1);
    let p = play(&yaml, 2026);
    p.assert_passed();
    let (accepted, deliveries) = audit(&p.out.events, 2026);
    assert!(accepted > 3_000, "only {accepted} messages");
    assert!(deliveries > 3 * accepted, "only {deliveries} deliveries");
}

#[test]
fn overlapping_crashes_of_one_host_restart_it_once() {
    let yaml = format!(
        "{HEADER}duration: 4h\nfaults:\n  - {{ at: 1h, crash: GCIF, for: 1h }}\n  - {{ at: 1h30m, crash: GCIF, for: 10m }}\ninjects:\n{}traffic:\n  - {{ kind: caravan_alert, from: [HN-SEDS, SV-MJSP], every: 1m }}\n{}",
        caravan("held", "1h45m", "GT-MINGOB"),
        expect_all()
    );
    let p = play(&yaml, 8);
    p.assert_passed();
    audit(&p.out.events, 8);
    let t = p.delivered_at(&p.msg("held"), Ministry::HN_SEDS).unwrap();
    assert!(
        t >= 2 * 3_600_000,
        "delivered at {t}, before the longer crash ended"
    );
}

#[test]
fn a_late_delivery_fails_its_within_and_says_by_how_much() {
    let yaml = format!(
        "{HEADER}duration: 6h\nfaults:\n  - {{ at: 1h, partition: [GT-MINGOB, GCIF], for: 2h }}\ninjects:\n{}expect:\n  - {{ inject: during, delivered_to: [GT-MINGOB, US-DHS], within: 1m }}\n",
        caravan("during", "1h30m", "HN-SEDS"),
    );
    let p = play(&yaml, 1);
    let v = &p.verdicts[0];
    assert!(!v.ok, "{v:?}");
    assert!(
        v.detail.starts_with("GT-MINGOB late by 1h29m"),
        "{}",
        v.detail
    );
    assert!(
        !v.detail.contains("US-DHS"),
        "US-DHS was on time: {}",
        v.detail
    );
}
