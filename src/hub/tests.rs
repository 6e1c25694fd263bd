use super::*;
use crate::model::built_in::*;
use crate::model::*;

fn hub() -> Hub {
    Hub::new(
        Policy::compact_2019(Status::Exercise),
        DeliveryConfig {
            backoff: Backoff::default(),
            window: 2,
            max_pending: crate::hub::DEFAULT_MAX_PENDING,
        },
    )
}

fn alert(id: &str, from: Ministry) -> Envelope {
    Envelope::alert(
        id,
        from,
        Timestamp(0),
        Payload::CaravanAlert(CaravanAlert {
            caravan_id: "CAR-1".into(),
            location: Place {
                name: "San Pedro Sula".into(),
                country: "HN".into(),
                ..Place::default()
            },
            ..CaravanAlert::default()
        }),
    )
}

/// Publishes `env` and returns the outcome and the deliveries then due.
fn check(hub: &mut Hub, now: i64, env: Envelope) -> (PublishOutcome, Vec<(Ministry, String)>) {
    let outcome = hub.on_publish(Timestamp(now), env);
    let due = hub
        .poll(Timestamp(now))
        .into_iter()
        .map(|d| (d.to, d.envelope.id.0.clone()))
        .collect();
    (outcome, due)
}

#[test]
fn accepts_routes_and_queues_per_recipient() {
    let mut h = hub();
    let (outcome, due) = check(&mut h, 0, alert("HN-SEDS-1", HN_SEDS));
    assert_eq!(
        outcome,
        PublishOutcome::Accepted {
            recipients: vec![US_DHS, GT_MINGOB, SV_MJSP, MX_SEGOB],
            first: true,
            withheld: vec![],
            redacted: vec![],
            note: None,
        }
    );
    let to: Vec<Ministry> = due.iter().map(|d| d.0).collect();
    assert_eq!(to, [US_DHS, GT_MINGOB, SV_MJSP, MX_SEGOB]);
    assert_eq!(h.backlog(), 4);
}

#[test]
fn a_retried_publish_is_recognised_and_not_queued_twice() {
    let mut h = hub();
    h.on_publish(Timestamp(0), alert("HN-SEDS-1", HN_SEDS));
    let again = h.on_publish(Timestamp(10), alert("HN-SEDS-1", HN_SEDS));
    assert!(matches!(
        again,
        PublishOutcome::Accepted { first: false, .. }
    ));
    assert_eq!(h.backlog(), 4);
    let mut other = alert("HN-SEDS-1", HN_SEDS);
    other.handling = Handling::Amber;
    let conflict = h.on_publish(Timestamp(20), other);
    assert!(matches!(
        conflict,
        PublishOutcome::Refused {
            refusal: Refusal::Conflict(_),
            ..
        }
    ));
}

#[test]
fn refusals_are_remembered_with_their_reason() {
    let mut h = hub();
    let mut red = alert("HN-SEDS-2", HN_SEDS);
    red.handling = Handling::Red;
    let (outcome, due) = check(&mut h, 0, red.clone());
    assert!(matches!(
        outcome,
        PublishOutcome::Refused {
            refusal: Refusal::Forbidden(_),
            first: true
        }
    ));
    assert!(due.is_empty());
    assert!(matches!(
        h.on_publish(Timestamp(5), red),
        PublishOutcome::Refused { first: false, .. }
    ));
    let mut invalid = alert("HN-SEDS-3", HN_SEDS);
    invalid.references = vec!["HN-SEDS-2".into()];
    assert!(matches!(
        h.on_publish(Timestamp(5), invalid),
        PublishOutcome::Refused {
            refusal: Refusal::Invalid(_),
            ..
        }
    ));
}

#[test]
fn unacknowledged_deliveries_are_redelivered_after_backoff() {
    let mut h = hub();
    h.on_publish(Timestamp(0), alert("HN-SEDS-1", HN_SEDS));
    let first = h.poll(Timestamp(0));
    let to_gt = first.iter().find(|d| d.to == GT_MINGOB).unwrap().clone();
    for d in first.iter().filter(|d| d.to != GT_MINGOB) {
        h.on_acked(Timestamp(100), d.to, d.seq);
    }
    h.on_failed(Timestamp(100), GT_MINGOB, to_gt.seq);
    assert!(h.poll(Timestamp(500)).is_empty());
    assert_eq!(h.next_wakeup(), Some(Timestamp(1_100)));
    let retry = h.poll(Timestamp(1_100));
    assert_eq!(retry.len(), 1);
    assert_eq!((retry[0].to, retry[0].attempt), (GT_MINGOB, 2));
    h.on_acked(Timestamp(1_200), GT_MINGOB, retry[0].seq);
    assert_eq!(h.backlog(), 0);
    assert_eq!(h.next_wakeup(), None);
}

#[test]
fn a_restart_keeps_the_journal_and_resends_what_was_in_flight() {
    let mut h = hub();
    h.on_publish(Timestamp(0), alert("HN-SEDS-1", HN_SEDS));
    assert_eq!(h.poll(Timestamp(0)).len(), 4);
    h.on_restart(Timestamp(60_000));
    let again = h.poll(Timestamp(60_000));
    assert_eq!(again.len(), 4);
    assert!(again.iter().all(|d| d.attempt == 2));
    assert!(matches!(
        h.on_publish(Timestamp(60_001), alert("HN-SEDS-1", HN_SEDS)),
        PublishOutcome::Accepted { first: false, .. }
    ));
}

#[test]
fn an_update_reaches_the_original_originator() {
    let mut h = hub();
    h.on_publish(Timestamp(0), alert("HN-SEDS-1", HN_SEDS));
    let mut update = alert("GT-MINGOB-1", GT_MINGOB);
    update.message_type = MessageType::Update;
    update.references = vec!["HN-SEDS-1".into()];
    let outcome = h.on_publish(Timestamp(10), update);
    assert_eq!(
        outcome,
        PublishOutcome::Accepted {
            recipients: vec![US_DHS, HN_SEDS, SV_MJSP, MX_SEGOB],
            first: true,
            withheld: vec![],
            redacted: vec![],
            note: Some(
                "GT-MINGOB updates another participant's message: HN-SEDS-1 (from HN-SEDS)".into()
            ),
        }
    );
}

#[test]
fn window_limits_deliveries_in_flight_per_recipient() {
    let mut h = hub();
    for i in 0..3 {
        h.on_publish(Timestamp(0), alert(&format!("HN-SEDS-{i}"), HN_SEDS));
    }
    let due = h.poll(Timestamp(0));
    assert_eq!(due.iter().filter(|d| d.to == US_DHS).count(), 2);
}

#[test]
fn ids_are_unique_per_originator() {
    let mut h = hub();
    let theirs = h.on_publish(Timestamp(0), alert("GT-MINGOB-000777", HN_SEDS));
    assert!(matches!(
        theirs,
        PublishOutcome::Refused {
            refusal: Refusal::Forbidden(_),
            ..
        }
    ));
    // GT-MINGOB's own message with that id is not blocked by it.
    let own = h.on_publish(Timestamp(1), alert("GT-MINGOB-000777", GT_MINGOB));
    assert!(matches!(own, PublishOutcome::Accepted { first: true, .. }));
}

#[test]
fn corrected_content_under_a_refused_id_is_decided_afresh() {
    let mut h = hub();
    let mut red = alert("HN-SEDS-9", HN_SEDS);
    red.handling = Handling::Red;
    assert!(matches!(
        h.on_publish(Timestamp(0), red),
        PublishOutcome::Refused { first: true, .. }
    ));
    let fixed = h.on_publish(Timestamp(5), alert("HN-SEDS-9", HN_SEDS));
    assert!(
        matches!(fixed, PublishOutcome::Accepted { first: true, .. }),
        "{fixed:?}"
    );
}

#[test]
fn an_update_never_reaches_a_recipient_before_what_it_updates() {
    let mut h = hub();
    h.on_publish(Timestamp(0), alert("HN-SEDS-1", HN_SEDS));
    let first = h.poll(Timestamp(0));
    let to_gt = first.iter().find(|d| d.to == GT_MINGOB).unwrap().clone();
    h.on_failed(Timestamp(10), GT_MINGOB, to_gt.seq);
    let mut update = alert("HN-SEDS-2", HN_SEDS);
    update.message_type = MessageType::Update;
    update.references = vec!["HN-SEDS-1".into()];
    h.on_publish(Timestamp(20), update);
    // After the backoff, GT-MINGOB gets the alert and not yet the update.
    let due: Vec<_> = h
        .poll(Timestamp(5_000))
        .into_iter()
        .filter(|d| d.to == GT_MINGOB)
        .collect();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].envelope.id, "HN-SEDS-1".into());
    h.on_acked(Timestamp(5_010), GT_MINGOB, due[0].seq);
    let next: Vec<_> = h
        .poll(Timestamp(5_010))
        .into_iter()
        .filter(|d| d.to == GT_MINGOB)
        .map(|d| d.envelope.id.clone())
        .collect();
    assert_eq!(next, ["HN-SEDS-2".into()] as [MessageId; 1]);
}

/// A caravan alert with `minors`, addressed to `to` (empty: as the agreement decides).
fn caravan_with_minors(id: &str, from: Ministry, to: &[Ministry]) -> Envelope {
    let mut e = alert(id, from);
    if let Some(Payload::CaravanAlert(c)) = &mut e.payload {
        c.minors = Some(40);
        c.estimated_size = Some(300);
    }
    e.to = to.to_vec();
    e
}

#[test]
fn a_reshare_is_checked_and_the_copy_never_carries_more_than_the_passers() {
    let mut h = hub();
    // Addressed to GT-MINGOB alone; it passes it on to the observer.
    let e = caravan_with_minors("HN-SEDS-1", HN_SEDS, &[GT_MINGOB]);
    let _ = check(&mut h, 0, e);
    let id = MessageId::from("HN-SEDS-1");
    // Someone it never reached cannot pass it on; the originator's own
    // recipients can, once each.
    assert!(matches!(
        h.on_reshare(Timestamp(1), &id, SV_MJSP, MX_SEGOB),
        ReshareOutcome::Refused(Refusal::Forbidden(r)) if r.contains("never received")
    ));
    let ReshareOutcome::Accepted { first, redacted } =
        h.on_reshare(Timestamp(1), &id, GT_MINGOB, MX_SEGOB)
    else {
        panic!("refused")
    };
    assert!(first);
    assert_eq!(redacted.len(), 1);
    assert_eq!(
        (redacted[0].to, redacted[0].fields.clone()),
        (MX_SEGOB, vec!["minors".to_string()])
    );
    assert!(matches!(
        h.on_reshare(Timestamp(2), &id, GT_MINGOB, MX_SEGOB),
        ReshareOutcome::Accepted { first: false, .. }
    ));
    assert!(matches!(
        h.on_reshare(Timestamp(2), &id, GT_MINGOB, HN_SEDS),
        ReshareOutcome::Refused(Refusal::Conflict(_))
    ));
    // The observer's delivery lacks the minors, like any observer copy.
    let to_mx: Vec<Delivery> = h
        .poll(Timestamp(2))
        .into_iter()
        .filter(|d| d.to == MX_SEGOB)
        .collect();
    assert_eq!(to_mx.len(), 1);
    let Some(Payload::CaravanAlert(c)) = &to_mx[0].envelope.payload else {
        panic!("payload lost")
    };
    assert_eq!((c.minors, c.estimated_size), (None, Some(300)));
    assert!(matches!(
        h.track(&id),
        Some(Tracked::Accepted(s)) if s.iter().any(|(m, _)| *m == MX_SEGOB)
    ));
    // An unknown message, a strict mark, RED.
    assert!(matches!(
        h.on_reshare(
            Timestamp(3),
            &MessageId::from("HN-SEDS-404"),
            GT_MINGOB,
            US_DHS
        ),
        ReshareOutcome::Refused(Refusal::Unknown(_))
    ));
    let mut strict = caravan_with_minors("HN-SEDS-2", HN_SEDS, &[GT_MINGOB]);
    strict.handling = Handling::AmberStrict;
    let _ = check(&mut h, 3, strict);
    assert!(matches!(
        h.on_reshare(Timestamp(4), &MessageId::from("HN-SEDS-2"), GT_MINGOB, US_DHS),
        ReshareOutcome::Refused(Refusal::Forbidden(r)) if r.contains("never be passed on")
    ));
    // AMBER: compact-2019 lets nobody pass it on.
    let mut amber = caravan_with_minors("HN-SEDS-3", HN_SEDS, &[GT_MINGOB]);
    amber.handling = Handling::Amber;
    let _ = check(&mut h, 5, amber);
    assert!(matches!(
        h.on_reshare(Timestamp(6), &MessageId::from("HN-SEDS-3"), GT_MINGOB, US_DHS),
        ReshareOutcome::Refused(Refusal::Forbidden(r)) if r.contains("TLP:AMBER")
    ));
    // Originator-controlled: only with consent.
    let mut controlled = caravan_with_minors("HN-SEDS-4", HN_SEDS, &[GT_MINGOB]);
    controlled.controlled = true;
    controlled.consent = vec![US_DHS];
    let _ = check(&mut h, 7, controlled);
    let id4 = MessageId::from("HN-SEDS-4");
    assert!(matches!(
        h.on_reshare(Timestamp(8), &id4, GT_MINGOB, SV_MJSP),
        ReshareOutcome::Refused(Refusal::Forbidden(r)) if r.contains("originator-controlled")
    ));
    assert!(matches!(
        h.on_reshare(Timestamp(8), &id4, GT_MINGOB, US_DHS),
        ReshareOutcome::Accepted { first: true, .. }
    ));
}

#[test]
fn an_amendment_applies_to_messages_accepted_after_it_only() {
    let mut h = hub();
    let before = caravan_with_minors("HN-SEDS-1", HN_SEDS, &[]);
    let _ = h.on_publish(Timestamp(0), before);
    h.on_amend(&Amendment::Role {
        ministry: MX_SEGOB,
        role: "full".into(),
    })
    .unwrap();
    let after = caravan_with_minors("HN-SEDS-2", HN_SEDS, &[]);
    let _ = h.on_publish(Timestamp(1), after);
    let minors: BTreeMap<String, Option<u32>> = h
        .poll(Timestamp(1))
        .into_iter()
        .filter(|d| d.to == MX_SEGOB)
        .map(|d| match &d.envelope.payload {
            Some(Payload::CaravanAlert(c)) => (d.envelope.id.0.clone(), c.minors),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(minors["HN-SEDS-1"], None, "routed as an observer's copy");
    assert_eq!(
        minors["HN-SEDS-2"],
        Some(40),
        "routed as a full participant's"
    );
}

#[test]
fn a_cancel_only_from_its_originator() {
    let mut h = hub();
    let _ = h.on_publish(Timestamp(0), alert("HN-SEDS-1", HN_SEDS));
    let mut cancel = alert("GT-MINGOB-1", GT_MINGOB);
    cancel.message_type = MessageType::Cancel;
    cancel.references = vec!["HN-SEDS-1".into()];
    cancel.payload = None;
    assert!(matches!(
        h.on_publish(Timestamp(1), cancel),
        PublishOutcome::Refused { refusal: Refusal::Forbidden(r), .. } if r.contains("only HN-SEDS")
    ));
}

#[test]
fn a_full_recipient_defers_only_what_is_routed_to_it_and_nothing_is_recorded() {
    let mut h = Hub::new(
        Policy::compact_2019(Status::Exercise),
        DeliveryConfig {
            backoff: Backoff::default(),
            window: 2,
            max_pending: 2,
        },
    );
    let to_all = |n: u32| alert(&format!("HN-SEDS-{n}"), HN_SEDS);
    let to_us = |n: u32| caravan_with_minors(&format!("HN-SEDS-{n}"), HN_SEDS, &[US_DHS]);
    for n in 1..=2 {
        assert!(matches!(
            h.on_publish(Timestamp(0), to_all(n)),
            PublishOutcome::Accepted { first: true, .. }
        ));
    }
    // Mexico takes nothing; the others acknowledge everything.
    for d in h.poll(Timestamp(0)) {
        if d.to != MX_SEGOB {
            h.on_acked(Timestamp(1), d.to, d.seq);
        }
    }
    assert_eq!(h.backlog_of(MX_SEGOB), 2);
    let PublishOutcome::Refused {
        refusal: Refusal::Busy {
            full, retry_after, ..
        },
        ..
    } = h.on_publish(Timestamp(2), to_all(3))
    else {
        panic!("a third message for a full recipient is deferred");
    };
    assert_eq!(full, [MX_SEGOB]);
    assert!(retry_after >= Backoff::default().initial && retry_after <= Backoff::default().max);
    assert!(
        h.track(&"HN-SEDS-3".into()).is_none(),
        "a deferral is not recorded"
    );
    assert_eq!(h.backlog_of(US_DHS), 0, "nothing was queued for the others");
    // What is not routed to Mexico is accepted as before.
    assert!(matches!(
        h.on_publish(Timestamp(3), to_us(4)),
        PublishOutcome::Accepted { first: true, .. }
    ));
    // A retried publish of an accepted message is still answered.
    assert!(matches!(
        h.on_publish(Timestamp(4), to_all(1)),
        PublishOutcome::Accepted { first: false, .. }
    ));
    // Mexico is reached and takes one: there is room for one more.
    let mx: Vec<Delivery> = h
        .poll(Timestamp(5))
        .into_iter()
        .filter(|d| d.to == MX_SEGOB)
        .collect();
    assert!(mx.is_empty(), "Mexico's two are in flight");
    h.on_acked(Timestamp(6), MX_SEGOB, 0);
    assert!(matches!(
        h.on_publish(Timestamp(7), to_all(3)),
        PublishOutcome::Accepted { first: true, .. }
    ));
    assert!(matches!(
        h.on_publish(Timestamp(8), to_all(5)),
        PublishOutcome::Refused {
            refusal: Refusal::Busy { .. },
            ..
        }
    ));
}

#[test]
fn a_reshare_to_a_full_recipient_is_deferred() {
    let mut h = Hub::new(
        Policy::compact_2019(Status::Exercise),
        DeliveryConfig {
            max_pending: 1,
            ..DeliveryConfig::default()
        },
    );
    h.on_publish(
        Timestamp(0),
        caravan_with_minors("HN-SEDS-1", HN_SEDS, &[US_DHS]),
    );
    h.on_publish(
        Timestamp(0),
        caravan_with_minors("HN-SEDS-2", HN_SEDS, &[GT_MINGOB]),
    );
    assert!(matches!(
        h.on_reshare(Timestamp(1), &"HN-SEDS-1".into(), HN_SEDS, GT_MINGOB),
        ReshareOutcome::Refused(Refusal::Busy { .. })
    ));
    assert!(matches!(
        h.on_reshare(Timestamp(1), &"HN-SEDS-1".into(), HN_SEDS, SV_MJSP),
        ReshareOutcome::Accepted { first: true, .. }
    ));
}
