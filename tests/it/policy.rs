//! compact-2019 as seen from the event log.

use gcif_sim::events::EventBody;
use gcif_sim::model::Ministry;
use gcif_sim::model::built_in::*;

use crate::support::{audit, play};

const YAML: &str = r#"
start: 2019-06-01T00:00:00Z
duration: 2h
injects:
  - id: caravan
    at: 1m
    from: HN-SEDS
    caravan_alert: { caravan_id: C-1, location: { name: San Pedro Sula, country: HN } }
  - id: flag
    at: 2m
    from: GT-MINGOB
    document_flag:
      document: { kind: passport, issuer: HN, number: F1 }
      holder: { name: Juan Pérez, birth_date: 1990-04-02, nationality: HN }
      indicators: [photo_substitution]
      detected_at: { name: Agua Caliente, country: GT }
  - id: cargo-to-mx
    at: 3m
    from: HN-SEDS
    cargo_notice:
      container: MSCU1234566
      origin: { name: Puerto Cortés, country: HN }
      destination: { name: Tapachula, country: MX }
      transit: [GT]
      risk_score: 0.91
  - id: cargo-to-sv
    at: 4m
    from: GT-MINGOB
    cargo_notice:
      container: MSCU1234566
      origin: { name: Guatemala City, country: GT }
      destination: { name: San Salvador, country: SV }
      risk_score: 0.7
  - id: cargo-via-mx
    at: 5m
    from: SV-MJSP
    cargo_notice:
      container: MSCU1234566
      origin: { name: Acajutla, country: SV }
      destination: { name: Laredo, country: US }
      transit: [GT, MX]
      risk_score: 0.8
  - id: red
    at: 6m
    from: HN-SEDS
    handling: red
    caravan_alert: { caravan_id: C-2, location: { name: Choluteca, country: HN } }
  - id: strict
    at: 7m
    from: HN-SEDS
    handling: amber+strict
    caravan_alert: { caravan_id: C-3, location: { name: Choluteca, country: HN } }
  - id: too-risky
    at: 8m
    from: HN-SEDS
    cargo_notice:
      container: MSCU1234566
      origin: { name: Puerto Cortés, country: HN }
      destination: { name: Tapachula, country: MX }
      risk_score: 1.5
  - id: cargo-update
    at: 9m
    from: GT-MINGOB
    updates: cargo-to-sv
    cargo_notice:
      container: MSCU1234566
      origin: { name: Guatemala City, country: GT }
      destination: { name: San Salvador, country: SV }
      risk_score: 0.95
      recommended_action: hold
  - id: cancel
    at: 10m
    from: HN-SEDS
    cancels: caravan
expect:
  - { inject: red, rejected: true }
  - { inject: too-risky, rejected: true }
  - { inject: caravan, rejected: false }
  - no_loss: true
  - no_duplicates: true
"#;

fn recipients_of(p: &crate::support::Played, label: &str) -> Option<Vec<Ministry>> {
    let msg = p.msg(label);
    p.out.events.iter().find_map(|e| match &e.body {
        EventBody::Accepted {
            msg: m, recipients, ..
        } if *m == msg => Some(recipients.clone()),
        _ => None,
    })
}

#[test]
fn compact_2019_routes_each_kind() {
    let p = play(YAML, 11);
    p.assert_passed();
    audit(&p.out.events, 11);
    let full_but = |me: Ministry| -> Vec<Ministry> {
        [US_DHS, GT_MINGOB, HN_SEDS, SV_MJSP]
            .into_iter()
            .filter(|m| *m != me)
            .collect()
    };
    let mut all_but_hn = full_but(HN_SEDS);
    all_but_hn.push(MX_SEGOB);
    assert_eq!(recipients_of(&p, "caravan").unwrap(), all_but_hn);
    assert_eq!(recipients_of(&p, "flag").unwrap(), full_but(GT_MINGOB));
    assert_eq!(recipients_of(&p, "cargo-to-mx").unwrap(), all_but_hn);
    assert_eq!(
        recipients_of(&p, "cargo-to-sv").unwrap(),
        full_but(GT_MINGOB)
    );
    let mut all_but_sv = full_but(SV_MJSP);
    all_but_sv.push(MX_SEGOB);
    assert_eq!(recipients_of(&p, "cargo-via-mx").unwrap(), all_but_sv);
    assert_eq!(recipients_of(&p, "strict").unwrap(), full_but(HN_SEDS));
    assert_eq!(recipients_of(&p, "red"), None);
    assert_eq!(recipients_of(&p, "too-risky"), None);
    // The update reaches the original originator; the cancel follows the original.
    assert_eq!(
        recipients_of(&p, "cargo-update").unwrap(),
        full_but(GT_MINGOB)
    );
    assert_eq!(recipients_of(&p, "cancel").unwrap(), all_but_hn);
}

#[test]
fn rejections_carry_their_reason() {
    let p = play(YAML, 11);
    let reasons: Vec<String> = p
        .out
        .events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Rejected { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("TLP:RED")), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("risk_score")),
        "{reasons:?}"
    );
}

#[test]
fn a_failed_expectation_exits_1_and_names_the_leak() {
    let yaml = YAML.replace(
        "  - { inject: red, rejected: true }",
        "  - { inject: red, rejected: true }\n  - { inject: flag, delivered_to: [MX-SEGOB] }\n  - { inject: caravan, not_delivered_to: [MX-SEGOB] }",
    );
    let p = play(&yaml, 1);
    let failed: Vec<_> = p.verdicts.iter().filter(|v| !v.ok).collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed[0]
            .detail
            .contains("not a recipient under the policy"),
        "{}",
        failed[0].detail
    );
    assert!(failed[1].detail.contains("leaked"), "{}", failed[1].detail);

    let file = std::env::temp_dir().join(format!("gcif-fail-{}.yaml", std::process::id()));
    std::fs::write(&file, &yaml).unwrap();
    let out_dir = file.with_extension("out");
    let out = crate::support::gcif_sim(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL"));
    std::fs::remove_file(&file).ok();
    std::fs::remove_dir_all(&out_dir).ok();
}
