use super::*;
use crate::model::built_in::*;
use crate::model::*;
use std::sync::Arc;

fn envelope(from: Ministry, payload: Payload) -> Envelope {
    Envelope {
        status: Status::Test,
        ..Envelope::alert("X-1", from, Timestamp(0), payload)
    }
}

fn cargo(destination: &str, transit: &[&str]) -> Payload {
    Payload::CargoNotice(CargoNotice {
        destination: Place {
            name: "somewhere".into(),
            country: destination.into(),
            ..Place::default()
        },
        transit_countries: transit.iter().map(|s| s.to_string()).collect(),
        ..CargoNotice::default()
    })
}

/// Routes `env` under compact-2019 with every ministry participating.
fn route(env: &Envelope, earlier: &[Ministry]) -> Routing {
    Policy::compact_2019(Status::Test).route(env, earlier)
}

/// The recipients of an accepted routing, for comparison.
fn to(recipients: &[Ministry]) -> Vec<Ministry> {
    recipients.to_vec()
}

fn check(env: &Envelope, earlier: &[Ministry]) -> Vec<Ministry> {
    match route(env, earlier) {
        Routing::Accepted { recipients, .. } => recipients,
        Routing::Rejected { reason } => panic!("rejected: {reason}"),
    }
}

#[test]
fn caravan_alerts_go_to_everyone_but_the_originator() {
    let e = envelope(HN_SEDS, Payload::CaravanAlert(CaravanAlert::default()));
    assert_eq!(check(&e, &[]), to(&[US_DHS, GT_MINGOB, SV_MJSP, MX_SEGOB]));
}

#[test]
fn document_flags_skip_the_observer() {
    let e = envelope(GT_MINGOB, Payload::DocumentFlag(DocumentFlag::default()));
    assert_eq!(check(&e, &[]), to(&[US_DHS, HN_SEDS, SV_MJSP]));
}

#[test]
fn cargo_reaches_the_observer_only_on_its_route() {
    let e = envelope(HN_SEDS, cargo("MX", &["GT"]));
    assert_eq!(check(&e, &[]), to(&[US_DHS, GT_MINGOB, SV_MJSP, MX_SEGOB]));
    let e = envelope(HN_SEDS, cargo("US", &["GT", "MX"]));
    assert_eq!(check(&e, &[]), to(&[US_DHS, GT_MINGOB, SV_MJSP, MX_SEGOB]));
    let e = envelope(HN_SEDS, cargo("SV", &["GT"]));
    assert_eq!(check(&e, &[]), to(&[US_DHS, GT_MINGOB, SV_MJSP]));
}

#[test]
fn updates_reach_those_who_saw_the_original() {
    let mut e = envelope(HN_SEDS, cargo("SV", &[]));
    e.message_type = MessageType::Update;
    e.references = vec!["X-0".into()];
    assert_eq!(
        check(&e, &[MX_SEGOB]),
        to(&[US_DHS, GT_MINGOB, SV_MJSP, MX_SEGOB])
    );
}

#[test]
fn red_is_refused_and_amber_strict_stays_with_full_participants() {
    let mut e = envelope(HN_SEDS, Payload::CaravanAlert(CaravanAlert::default()));
    e.handling = Handling::Red;
    assert!(matches!(route(&e, &[]), Routing::Rejected { .. }));
    e.handling = Handling::AmberStrict;
    assert_eq!(check(&e, &[]), to(&[US_DHS, GT_MINGOB, SV_MJSP]));
}

#[test]
fn non_participants_are_refused_and_never_receive() {
    let policy = Policy::new(
        Arc::new(Agreement::compact_2019()),
        [HN_SEDS, GT_MINGOB],
        Status::Test,
    );
    let e = envelope(HN_SEDS, Payload::CaravanAlert(CaravanAlert::default()));
    assert!(matches!(
        policy.route(&e, &[US_DHS]),
        Routing::Accepted { recipients, .. } if recipients == [GT_MINGOB]
    ));
    let e = envelope(SV_MJSP, Payload::CaravanAlert(CaravanAlert::default()));
    match policy.route(&e, &[]) {
        Routing::Rejected { reason } => assert!(reason.contains("SV-MJSP"), "{reason}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn every_participant_left_out_is_named_with_a_reason() {
    let e = envelope(GT_MINGOB, Payload::DocumentFlag(DocumentFlag::default()));
    let Routing::Accepted { withheld, .. } = route(&e, &[]) else {
        panic!("rejected")
    };
    assert_eq!(withheld.len(), 1);
    assert_eq!(withheld[0].to, MX_SEGOB);
    assert!(
        withheld[0].reason.contains("full participants"),
        "{withheld:?}"
    );
    let e = envelope(HN_SEDS, cargo("SV", &["GT"]));
    let Routing::Accepted { withheld, .. } = route(&e, &[]) else {
        panic!("rejected")
    };
    assert!(
        withheld[0]
            .reason
            .contains("country (MX) is the destination"),
        "{withheld:?}"
    );
    let mut e = envelope(HN_SEDS, Payload::CaravanAlert(CaravanAlert::default()));
    e.handling = Handling::AmberStrict;
    let Routing::Accepted { withheld, .. } = route(&e, &[]) else {
        panic!("rejected")
    };
    assert!(withheld[0].reason.contains("AMBER+STRICT"), "{withheld:?}");
}

#[test]
fn observers_get_copies_without_minors_or_bills_of_lading() {
    let caravan = Payload::CaravanAlert(CaravanAlert {
        minors: Some(150),
        estimated_size: Some(800),
        ..CaravanAlert::default()
    });
    let e = envelope(HN_SEDS, caravan);
    let Routing::Accepted { redacted, .. } = route(&e, &[]) else {
        panic!("rejected")
    };
    assert_eq!(redacted.len(), 1);
    assert_eq!(
        (redacted[0].to, redacted[0].fields.clone()),
        (MX_SEGOB, vec!["minors".to_string()])
    );
    let policy = Policy::compact_2019(Status::Test);
    let Some(Payload::CaravanAlert(c)) = policy.redact(&e, MX_SEGOB).payload else {
        panic!("payload lost")
    };
    assert_eq!((c.minors, c.estimated_size), (None, Some(800)));
    assert_eq!(policy.redact(&e, US_DHS), e);

    let mut e = envelope(HN_SEDS, cargo("MX", &["GT"]));
    if let Some(Payload::CargoNotice(c)) = &mut e.payload {
        c.bill_of_lading = "HNPCR-77812".into();
    }
    let Some(Payload::CargoNotice(c)) = policy.redact(&e, MX_SEGOB).payload else {
        panic!("payload lost")
    };
    assert!(c.bill_of_lading.is_empty());
    assert_eq!(c.destination.country, "MX");
}

/// An agreement from text, or its error as `line:col: message`.
fn agreement(text: &str) -> Result<Agreement, String> {
    Agreement::parse("a.yaml", text).map_err(|e| format!("{}:{}: {}", e.line, e.column, e.message))
}

const HEAD: &str = "agreement: test\nroles:\n  full: signatory\n  observer: invited\n\
participants:\n  - { code: HN-SEDS, role: full }\n  - { code: GT-MINGOB, role: full }\n  \
- { code: CR-MSP, name: Costa Rica — Ministry of Public Security, role: observer }\n";

#[test]
fn the_built_in_agreement_is_the_shipped_file() {
    let a = Agreement::compact_2019();
    assert_eq!(a.name, "compact-2019");
    assert_eq!(a.participants.len(), 5);
    assert_eq!(a.role_of(MX_SEGOB), Some("observer"));
    assert_eq!(a.rules.len(), 7);
    assert_eq!(
        a.text,
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policies/compact-2019.yaml"
        ))
        .unwrap()
    );
}

#[test]
fn a_new_participant_is_routed_by_its_role_and_the_content() {
    let text = format!(
        "{HEAD}share:\n  - kind: cargo_notice\n    to: {{ role: full }}\n    reason: signatories\n  \
- kind: cargo_notice\n    to: observer\n    when:\n      risk_score: {{ min: 0.8 }}\n      \
destination.country: [CR, PA]\n    reason: high risk to its region\n"
    );
    let a = Arc::new(agreement(&text).unwrap());
    let cr: Ministry = "CR-MSP".parse().unwrap();
    assert_eq!(cr.full_name(), "Costa Rica — Ministry of Public Security");
    let policy = Policy::new(a, [HN_SEDS, GT_MINGOB, cr], Status::Test);
    let mut e = envelope(HN_SEDS, cargo("CR", &["GT"]));
    let set_risk = |e: &mut Envelope, r: f64| {
        if let Some(Payload::CargoNotice(c)) = &mut e.payload {
            c.risk_score = r;
        }
    };
    set_risk(&mut e, 0.9);
    assert!(
        matches!(policy.route(&e, &[]), Routing::Accepted { recipients, .. } if recipients == [GT_MINGOB, cr])
    );
    set_risk(&mut e, 0.5);
    let Routing::Accepted {
        recipients,
        withheld,
        ..
    } = policy.route(&e, &[])
    else {
        panic!("rejected")
    };
    assert_eq!(recipients, [GT_MINGOB]);
    assert!(
        withheld[0]
            .reason
            .contains("no rule of test shares a cargo notice with CR-MSP (observer)"),
        "{withheld:?}"
    );
}

#[test]
fn redactions_remove_generalise_and_pseudonymise_matchably() {
    let text = format!(
        "{HEAD}keys:\n  doc: {{ value: exercise-secret }}\nshare:\n  - to: everyone\n    reason: all\n\
redact:\n  - kind: document_flag\n    for: observer\n    fields:\n      document_number: pseudonymise\n      \
holder.birth_date: generalise\n      holder.name: remove\n    reason: an observer matches documents without reading them\n"
    );
    let a = Arc::new(agreement(&text).unwrap());
    let cr: Ministry = "CR-MSP".parse().unwrap();
    let policy = Policy::new(a, [HN_SEDS, GT_MINGOB, cr], Status::Test)
        .with_keys(&Default::default(), |_| None)
        .unwrap();
    let flag = |n: &str| {
        envelope(
            GT_MINGOB,
            Payload::DocumentFlag(DocumentFlag {
                document_number: n.into(),
                holder: Holder {
                    name: "Ana".into(),
                    birth_date: "1990-02-03".into(),
                    nationality: "HN".into(),
                },
                ..DocumentFlag::default()
            }),
        )
    };
    let (a1, r) = policy.copy_for(&flag("F1"), cr);
    let (a2, _) = policy.copy_for(&flag("F1"), cr);
    let (b, _) = policy.copy_for(&flag("F2"), cr);
    let doc = |e: &Envelope| match &e.payload {
        Some(Payload::DocumentFlag(d)) => d.clone(),
        _ => unreachable!(),
    };
    assert_eq!(doc(&a1).document_number, doc(&a2).document_number);
    assert_ne!(doc(&a1).document_number, doc(&b).document_number);
    assert!(fields::is_pseudonym(&doc(&a1).document_number));
    assert_eq!(doc(&a1).holder.birth_date, "1990");
    assert!(doc(&a1).holder.name.is_empty());
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0].fields,
        ["document_number", "holder.birth_date", "holder.name"]
    );
    assert_eq!(r[0].how("holder.birth_date"), "generalised");
    assert_eq!(r[0].how("document_number"), "pseudonymised");
    assert_eq!(r[0].how("holder.name"), "removed");
    // A full participant's copy is untouched.
    assert_eq!(policy.copy_for(&flag("F1"), HN_SEDS).0, flag("F1"));
}

#[test]
fn broken_agreements_are_located() {
    let share = |rules: &str| format!("{HEAD}share:\n{rules}");
    let cases = [
        (
            share(
                "  - kind: caravan_alert\n    to: everyone\n    when: { risk_score: { min: 0.5 } }\n    reason: r\n",
            ),
            "12:13:",
            "not a field of a caravan_alert",
        ),
        (
            share("  - to: { role: partner }\n    reason: r\n"),
            "10:9:",
            "unknown role `partner`",
        ),
        (
            share("  - to: everyone\n    when: { handsome: yes }\n    reason: r\n"),
            "11:13:",
            "unknown field `handsome`",
        ),
        (
            share(
                "  - kind: cargo_notice\n    to: everyone\n    when: { risk_score: { min: 1.5 } }\n    reason: r\n",
            ),
            "12:25:",
            "can never match",
        ),
        (
            share(
                "  - to: everyone\n    reason: a\n  - kind: cargo_notice\n    to: observer\n    reason: b\n",
            ),
            "12:5:",
            "can never match",
        ),
        (
            share(
                "  - kind: cargo_notice\n    to: observer\n    reason: a\n  - kind: cargo_notice\n    withhold: observer\n    reason: b\n",
            ),
            "13:5:",
            "contradicts",
        ),
        (
            share(
                "  - to: everyone\n    reason: a\nredact:\n  - for: observer\n    fields: { minors: remove }\n    reason: r\n",
            ),
            "14:15:",
            "not a field of a document_flag",
        ),
        (
            share(
                "  - to: everyone\n    reason: a\nredact:\n  - kind: cargo_notice\n    for: observer\n    fields: { conveyance: remove }\n    reason: r\n",
            ),
            "15:27:",
            "cannot remove `conveyance`",
        ),
        (
            share(
                "  - to: everyone\n    reason: a\nredact:\n  - kind: cargo_notice\n    for: observer\n    fields: { bill_of_lading: pseudonymise }\n    reason: r\n",
            ),
            "15:31:",
            "needs a key",
        ),
        (
            format!(
                "{HEAD}  - {{ code: ZZ-BAD, role: full }}\nshare:\n  - to: everyone\n    reason: a\n"
            ),
            "9:13:",
            "not a participant code",
        ),
        (
            share("  - to: everyone\n    reason: '{nobody}'\n"),
            "11:13:",
            "unknown placeholder",
        ),
        (
            share("  - to: everyone\n    reason: a\n    colour: red\n"),
            "12:5:",
            "colour",
        ),
    ];
    for (text, at, what) in cases {
        let e = agreement(&text).unwrap_err();
        assert!(
            e.starts_with(at) && e.contains(what),
            "expected {at} {what:?}, got {e}\n{text}"
        );
    }
}

#[test]
fn amendments_change_membership_and_rules_from_then_on() {
    let mut p = Policy::compact_2019(Status::Test);
    let e = envelope(GT_MINGOB, Payload::DocumentFlag(DocumentFlag::default()));
    let to = |p: &Policy| match p.route(&e, &[]) {
        Routing::Accepted { recipients, .. } => recipients,
        Routing::Rejected { reason } => panic!("{reason}"),
    };
    assert!(!to(&p).contains(&MX_SEGOB));
    p.amend(&Amendment::Role {
        ministry: MX_SEGOB,
        role: "full".into(),
    })
    .unwrap();
    assert!(to(&p).contains(&MX_SEGOB));
    p.amend(&Amendment::Leave { ministry: SV_MJSP }).unwrap();
    assert!(!to(&p).contains(&SV_MJSP));
    p.amend(&Amendment::LiftRule {
        name: "flags-to-signatories".into(),
    })
    .unwrap();
    assert_eq!(
        to(&p),
        Vec::<Ministry>::new(),
        "no rule shares flags any more"
    );
    assert!(
        p.amend(&Amendment::Role {
            ministry: HN_SEDS,
            role: "king".into()
        })
        .is_err()
    );
}

#[test]
fn handling_status_and_named_recipients() {
    let p = Policy::compact_2019(Status::Test);
    let mut e = envelope(HN_SEDS, Payload::CaravanAlert(CaravanAlert::default()));
    e.handling = Handling::Red;
    assert!(matches!(p.route(&e, &[]), Routing::Rejected { .. }));
    e.to = vec![GT_MINGOB];
    assert!(
        matches!(p.route(&e, &[]), Routing::Accepted { recipients, .. } if recipients == [GT_MINGOB])
    );
    e.status = Status::Exercise;
    match p.route(&e, &[]) {
        Routing::Rejected { reason } => assert!(reason.contains("test status"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let mut p = p;
    p.set_status(GT_MINGOB, Status::Actual);
    let mut e = envelope(HN_SEDS, Payload::CaravanAlert(CaravanAlert::default()));
    let Routing::Accepted {
        recipients,
        withheld,
        ..
    } = p.route(&e, &[])
    else {
        panic!()
    };
    assert!(!recipients.contains(&GT_MINGOB));
    assert!(
        withheld
            .iter()
            .any(|w| w.to == GT_MINGOB && w.reason.contains("actual status"))
    );
    e.to = vec!["BZ-NOT-IN".parse().unwrap_or(US_DHS)];
    e.to = vec![US_DHS];
    let Routing::Accepted { recipients, .. } = p.route(&e, &[]) else {
        panic!()
    };
    assert_eq!(recipients, [US_DHS]);
}

#[test]
fn who_may_be_a_list_and_roles_just_names() {
    let text = "agreement: lists\nroles: [full, observer]\nparticipants:\n  - { code: HN-SEDS, role: full }\n  \
                - { code: GT-MINGOB, role: full }\n  - { code: MX-SEGOB, role: observer }\n  \
                - { code: US-DHS, role: observer }\nshare:\n  - to: [full, MX-SEGOB]\n    reason: r\n";
    let a = Arc::new(agreement(text).unwrap());
    assert_eq!(
        a.roles.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["full", "observer"]
    );
    let policy = Policy::new(a, [HN_SEDS, GT_MINGOB, MX_SEGOB, US_DHS], Status::Test);
    let e = envelope(HN_SEDS, Payload::CaravanAlert(CaravanAlert::default()));
    assert!(matches!(
        policy.route(&e, &[]),
        Routing::Accepted { recipients, .. } if recipients == [GT_MINGOB, MX_SEGOB]
    ));
    let e = agreement(&text.replace("[full, MX-SEGOB]", "[full, PA-NOBODY]")).unwrap_err();
    assert!(e.contains("neither `everyone`, a role"), "{e}");
}
