//! Scripted messages: sender, time, thread (updates, cancels), handling and
//! the payload of each kind.

use super::*;

/// The three payload keys of an inject, at most one of them given.
pub(super) type RawPayloads<'a> = (
    &'a Option<RawCaravan>,
    &'a Option<RawDocumentFlag>,
    &'a Option<RawCargo>,
);

impl Validator<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn inject(
        &self,
        spanned: &Spanned<RawInject>,
        labels: &BTreeMap<String, usize>,
        earlier: &[Inject],
        duration: Duration,
        epoch: Timestamp,
        participant: &dyn Fn(&Spanned<String>) -> Result<Ministry>,
    ) -> Result<Inject> {
        let raw = &spanned.value;
        if let Some(id) = &raw.id {
            if id.value.trim().is_empty() {
                return self.err(id, "an inject id cannot be empty");
            }
            if labels.contains_key(&id.value) {
                return self.err(id, format!("inject id `{}` is used twice", id.value));
            }
        }
        self.within_run(&raw.at, duration, "inject")?;
        let at = raw.at.value.0;
        let from = participant(&raw.from)?;

        let payloads = [
            raw.caravan_alert.is_some(),
            raw.document_flag.is_some(),
            raw.cargo_notice.is_some(),
        ];
        let n_payloads = payloads.iter().filter(|p| **p).count();
        if n_payloads > 1 {
            return self.err(
                spanned,
                "an inject carries one payload: caravan_alert, document_flag or cargo_notice",
            );
        }
        let (message_type, references, referenced_kind) = self.thread(raw, labels, earlier, at)?;
        let payload = self.payload(
            (&raw.caravan_alert, &raw.document_flag, &raw.cargo_notice),
            duration,
            epoch.after(at),
            epoch,
        )?;
        let kind = self.kind(spanned, payload.as_ref(), referenced_kind, message_type)?;
        let mut to = Vec::new();
        if let Some(list) = &raw.to {
            for r in &list.value {
                let m = participant(r)?;
                if m == from {
                    return self.err(
                        r,
                        format!("{m} sends this message; it cannot be among its recipients"),
                    );
                }
                if to.contains(&m) {
                    return self.err(r, format!("{m} is named twice"));
                }
                to.push(m);
            }
            if to.is_empty() {
                return self.err(
                    list,
                    "`to` is empty: name the recipients, or leave `to` out",
                );
            }
        }
        let grading = match &raw.grading {
            None => None,
            Some(g) => Some(g.value.parse().or_else(|e: String| self.err(g, e))?),
        };
        let mut consent = Vec::new();
        for c in raw.consent.iter().flatten() {
            consent.push(participant(c)?);
        }
        if !consent.is_empty() && raw.controlled != Some(true) {
            return self.err(
                spanned,
                "`consent` goes with `controlled: true` (an originator-controlled message)",
            );
        }
        Ok(Inject {
            to,
            grading,
            status: raw.status,
            controlled: raw.controlled.unwrap_or(false),
            consent,
            label: raw.id.as_ref().map(|s| s.value.clone()),
            at,
            from,
            handling: raw.handling.unwrap_or_default(),
            message_type,
            references,
            kind,
            payload,
            expires: raw.expires.map(|d| d.0),
            message: raw.message.clone(),
            objective: raw.objective.clone(),
            expected_action: raw.expected_action.clone(),
        })
    }

    /// An inject with `reshares:`: who passes which earlier message on to whom.
    pub(super) fn reshare(
        &self,
        spanned: &Spanned<RawInject>,
        labels: &BTreeMap<String, usize>,
        earlier: &[Inject],
        duration: Duration,
        participant: &dyn Fn(&Spanned<String>) -> Result<Ministry>,
    ) -> Result<Reshare> {
        let raw = &spanned.value;
        let what = raw.reshares.as_ref().expect("a reshare inject");
        let carries = raw.caravan_alert.is_some()
            || raw.document_flag.is_some()
            || raw.cargo_notice.is_some()
            || raw.updates.is_some()
            || raw.cancels.is_some()
            || raw.handling.is_some()
            || raw.grading.is_some()
            || raw.controlled.is_some()
            || raw.consent.is_some()
            || raw.expires.is_some()
            || raw.status.is_some();
        if carries {
            return self.err(
                spanned,
                "a reshare passes an earlier message on as it is: give only `at`, `from`, \
                 `reshares`, `to` (and `id`, `message`, `objective`, `expected_action`)",
            );
        }
        self.within_run(&raw.at, duration, "reshare")?;
        let Some(&inject) = labels.get(&what.value) else {
            return self.err(
                what,
                format!(
                    "`{}` is not the id of an earlier message inject",
                    what.value
                ),
            );
        };
        if earlier[inject].at > raw.at.value.0 {
            return self.err(&raw.at, "a message is passed on only after it is sent");
        }
        let by = participant(&raw.from)?;
        let Some(list) = &raw.to else {
            return self.err(
                spanned,
                "a reshare needs `to`: the participants to pass it on to",
            );
        };
        let mut to = Vec::new();
        for r in &list.value {
            let m = participant(r)?;
            if m == by || to.contains(&m) {
                return self.err(
                    r,
                    format!("{m} cannot be named here ({by} passes it on, or it is named twice)"),
                );
            }
            to.push(m);
        }
        if to.is_empty() {
            return self.err(list, "`to` is empty");
        }
        Ok(Reshare {
            label: raw.id.as_ref().map(|s| s.value.clone()),
            at: raw.at.value.0,
            by,
            inject,
            to,
        })
    }

    pub(super) fn place(&self, p: &RawPlace) -> Result<model::Place> {
        Ok(model::Place {
            name: p.name.clone(),
            country: self.country(&p.country)?,
            lat: p.lat,
            lon: p.lon,
        })
    }

    /// Where an inject stands in its thread: an alert, or an update or
    /// cancel of an earlier inject (by index), with that inject's kind.
    fn thread(
        &self,
        raw: &RawInject,
        labels: &BTreeMap<String, usize>,
        earlier: &[Inject],
        at: Duration,
    ) -> Result<(MessageType, Vec<usize>, Option<Kind>)> {
        let (message_type, reference) = match (&raw.updates, &raw.cancels) {
            (Some(_), Some(c)) => {
                return self.err(c, "an inject either updates or cancels, not both");
            }
            (Some(u), None) => (MessageType::Update, Some(u)),
            (None, Some(c)) => (MessageType::Cancel, Some(c)),
            (None, None) => (MessageType::Alert, None),
        };
        let mut references = Vec::new();
        let mut referenced_kind = None;
        if let Some(r) = reference {
            let Some(&j) = labels.get(&r.value) else {
                let hint = if labels.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (earlier inject ids: {})",
                        labels.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                };
                return self.err(
                    r,
                    format!("`{}` is not the id of an earlier inject{hint}", r.value),
                );
            };
            if earlier[j].at > at {
                return self.err(
                    &raw.at,
                    format!(
                        "this inject at {} refers to `{}`, which comes later (at {})",
                        raw.at.value,
                        r.value,
                        format_duration(earlier[j].at)
                    ),
                );
            }
            references.push(j);
            referenced_kind = Some(earlier[j].kind);
        }
        Ok((message_type, references, referenced_kind))
    }

    /// The inject's content, if it has one; a caravan seen with no
    /// `observed_at` was seen at `observed_default`.
    pub(super) fn payload(
        &self,
        (caravan, document, cargo): RawPayloads<'_>,
        duration: Duration,
        observed_default: Timestamp,
        epoch: Timestamp,
    ) -> Result<Option<Payload>> {
        Ok(if let Some(c) = caravan {
            Some(Payload::CaravanAlert(model::CaravanAlert {
                caravan_id: c.caravan_id.clone(),
                location: self.place(&c.location)?,
                estimated_size: c.estimated_size,
                minors: c.minors,
                heading_to: c.heading_to.clone(),
                observed: Some(match &c.observed_at {
                    Some(o) => {
                        self.within_run(o, duration, "observed_at")?;
                        epoch.after(o.value.0)
                    }
                    None => observed_default,
                }),
            }))
        } else if let Some(d) = document {
            let birth_date = match &d.holder.birth_date {
                Some(b) => {
                    if chrono::NaiveDate::parse_from_str(&b.value, "%Y-%m-%d").is_err() {
                        return self.err(b, format!("`{}` is not a YYYY-MM-DD date", b.value));
                    }
                    b.value.clone()
                }
                None => String::new(),
            };
            Some(Payload::DocumentFlag(model::DocumentFlag {
                document_kind: d.document.kind,
                issuing_country: self.country(&d.document.issuer)?,
                document_number: d.document.number.clone(),
                holder: model::Holder {
                    name: d.holder.name.clone(),
                    birth_date,
                    nationality: match &d.holder.nationality {
                        Some(n) => self.country(n)?,
                        None => String::new(),
                    },
                },
                fraud_indicators: d.indicators.clone(),
                detected_at: self.place(&d.detected_at)?,
            }))
        } else if let Some(c) = cargo {
            let mut transit = Vec::new();
            for t in &c.transit {
                transit.push(self.country(t)?);
            }
            Some(Payload::CargoNotice(model::CargoNotice {
                container_id: c.container.clone(),
                bill_of_lading: c.bill_of_lading.clone(),
                conveyance: c.conveyance.unwrap_or_default(),
                origin: self.place(&c.origin)?,
                destination: self.place(&c.destination)?,
                transit_countries: transit,
                risk_score: c.risk_score,
                indicators: c.indicators.clone(),
                recommended_action: c.recommended_action.unwrap_or_default(),
            }))
        } else {
            None
        })
    }

    /// The inject's kind: its payload's, or for a cancel without one, the
    /// kind of what it cancels; an update or cancel keeps its thread's kind.
    fn kind(
        &self,
        spanned: &Spanned<RawInject>,
        payload: Option<&Payload>,
        referenced_kind: Option<Kind>,
        message_type: MessageType,
    ) -> Result<Kind> {
        Ok(match (payload, referenced_kind) {
            (Some(p), Some(k)) if p.kind() != k => {
                return self.err(
                    spanned,
                    format!(
                        "this {} {} a {k}: an update or cancel must be of the same kind",
                        p.kind(),
                        if message_type == MessageType::Update {
                            "updates"
                        } else {
                            "cancels"
                        }
                    ),
                );
            }
            (Some(p), _) => p.kind(),
            (None, Some(k)) if message_type == MessageType::Cancel => k,
            (None, _) => {
                return self.err(
                    spanned,
                    match message_type {
                        MessageType::Update => {
                            "an update needs its new content: caravan_alert, document_flag or \
                             cargo_notice"
                        }
                        _ => {
                            "an inject needs one of caravan_alert, document_flag, cargo_notice \
                             (or `cancels:`)"
                        }
                    },
                );
            }
        })
    }
}
