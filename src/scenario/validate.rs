//! The scenario as a whole: start, duration, participants, policy, protocol
//! settings and traffic; injects, faults and expectations are checked in
//! modules of their own.

use super::*;

impl Validator<'_> {
    pub(super) fn scenario(&self, raw: RawScenario, stem: &str) -> Result<Scenario> {
        let start = DateTime::parse_from_rfc3339(raw.start.value.trim()).or_else(|e| {
            self.err(
                &raw.start,
                format!(
                    "`{}` is not an RFC 3339 date-time ({e}); e.g. 2019-01-15T05:00:00-06:00",
                    raw.start.value
                ),
            )
        })?;
        let duration = raw.duration.value.0;
        if duration.is_zero() {
            return self.err(&raw.duration, "duration must be longer than zero");
        }
        let status = raw.status.unwrap_or(Status::Exercise);
        let agreement = self.agreement(raw.policy.as_ref())?;
        let (mut participants, members) =
            self.members(raw.participants.as_ref(), &agreement, status)?;
        let policy = Policy::with_members(agreement, members);
        let policy = match self.keys {
            None => policy,
            Some(opts) => match policy
                .clone()
                .with_keys(&opts.keys, |v| std::env::var(v).ok())
            {
                Ok(p) => p,
                Err(_) if opts.lenient_keys => policy,
                Err(e) => {
                    let message = format!("{e} (or run with --key NAME=SECRET)");
                    return match &raw.policy {
                        Some(p) => self.err(p, message),
                        None => self.err(&raw.start, message),
                    };
                }
            },
        };
        let amendments = self.amendments(
            &raw.amendments,
            &policy,
            &mut participants,
            duration,
            status,
        )?;
        let participants = participants;
        let participant = |s: &Spanned<String>| -> Result<Ministry> {
            let m = self.ministry(s)?;
            if participants.contains(&m) {
                Ok(m)
            } else {
                self.err(s, format!("{m} is not among this scenario's participants"))
            }
        };

        let topology = self.topology(&raw.network, &participants)?;
        let (rpc, delivery, publish) = self.protocol(&raw.protocol)?;

        let epoch = Timestamp(start.timestamp_millis());
        let mut labels: BTreeMap<String, usize> = BTreeMap::new();
        let mut injects = Vec::new();
        // Where each message inject is in the file (reshares are not messages).
        let mut raw_of = Vec::new();
        let mut reshares = Vec::new();
        let mut reshare_labels = std::collections::BTreeSet::new();
        for inject in &raw.injects {
            if inject.value.reshares.is_some() {
                reshares.push(self.reshare(inject, &labels, &injects, duration, &participant)?);
                if let Some(id) = &inject.value.id
                    && (labels.contains_key(&id.value) || !reshare_labels.insert(id.value.clone()))
                {
                    return self.err(id, format!("inject id `{}` is used twice", id.value));
                }
                continue;
            }
            if let Some(id) = &inject.value.id
                && reshare_labels.contains(&id.value)
            {
                return self.err(id, format!("inject id `{}` is used twice", id.value));
            }
            let inject_v = self.inject(inject, &labels, &injects, duration, epoch, &participant)?;
            if let Some(id) = &inject.value.id {
                labels.insert(id.value.clone(), injects.len());
            }
            injects.push(inject_v);
            raw_of.push(inject);
        }

        let mut faults = Vec::new();
        for f in &raw.faults {
            faults.push(self.fault(f, duration, &participants)?);
        }

        let mut traffic = Vec::new();
        let mut expected_messages = 0.0;
        for t in &raw.traffic {
            traffic.push(self.traffic(t, duration, &mut expected_messages, &participant)?);
        }

        let mut expect = Vec::new();
        for e in &raw.expect {
            expect.push(self.expectation(e, &labels, &injects, &participants)?);
        }
        self.refusals(&raw_of, &injects, &expect, &policy, &amendments, epoch)?;

        Ok(Scenario {
            file: self.file.into(),
            name: raw.name.clone().unwrap_or_else(|| stem.to_string()),
            title: raw
                .title
                .clone()
                .or_else(|| raw.name.clone())
                .unwrap_or_else(|| stem.to_string()),
            description: raw.description.clone(),
            start,
            duration,
            drain: raw.drain.map_or(Duration::from_secs(3600), |d| d.0),
            seed: raw.seed,
            status,
            participants,
            policy,
            amendments,
            reshares,
            topology,
            net: raw.network.model.unwrap_or_default(),
            rpc,
            delivery,
            publish,
            injects,
            faults,
            traffic,
            expect,
        })
    }

    /// Content the hub would refuse is an error in the scenario, located at
    /// its inject, unless an expectation says the inject must be refused
    /// (`rejected: true`): that is how a scenario exercises the refusals.
    fn refusals(
        &self,
        raw: &[&Spanned<RawInject>],
        injects: &[Inject],
        expect: &[Expectation],
        policy: &Policy,
        amendments: &[Scheduled],
        epoch: Timestamp,
    ) -> Result<()> {
        let meant: std::collections::BTreeSet<usize> = expect
            .iter()
            .filter(|x| x.rejected == Some(true))
            .filter_map(|x| x.inject)
            .collect();
        for (i, inj) in injects.iter().enumerate() {
            if meant.contains(&i) {
                continue;
            }
            // The agreement as it stands when the inject is sent.
            let mut now = policy.clone();
            for a in amendments.iter().filter(|a| a.at <= inj.at) {
                let _ = now.amend(&a.amendment);
            }
            let Some(reason) = would_refuse(inj, i, injects, &now, epoch) else {
                continue;
            };
            let hint = match &inj.label {
                Some(l) => format!(
                    "if that is the point, expect it: `- {{ inject: {l}, rejected: true }}`"
                ),
                None => "if that is the point, give the inject an `id` and expect it \
                         `rejected: true`"
                    .to_string(),
            };
            return self.err(
                raw[i],
                format!("the hub would refuse this message: {reason}; {hint}"),
            );
        }
        Ok(())
    }

    /// `protocol:`: the RPC deadline, backoff and windows, defaults filled in.
    fn protocol(
        &self,
        protocol: &RawProtocol,
    ) -> Result<(RpcConfig, DeliveryConfig, PublishConfig)> {
        let backoff = Backoff {
            initial: protocol
                .retry_initial
                .map_or(Backoff::default().initial, |d| d.0),
            max: protocol.retry_max.map_or(Backoff::default().max, |d| d.0),
        };
        let rpc = RpcConfig {
            timeout: protocol
                .rpc_timeout
                .map_or(RpcConfig::default().timeout, |d| d.0),
        };
        if rpc.timeout.is_zero() || backoff.initial.is_zero() || backoff.max < backoff.initial {
            return Err(ScenarioError {
                file: self.file.into(),
                line: 1,
                column: 1,
                message: "protocol: rpc_timeout and retry_initial must be above zero, and \
                          retry_max at least retry_initial"
                    .into(),
            });
        }
        let delivery = DeliveryConfig {
            backoff,
            window: protocol
                .hub_window
                .map_or(DeliveryConfig::default().window, |w| w.max(1) as usize),
            max_pending: protocol
                .max_pending
                .map_or(DeliveryConfig::default().max_pending, |m| m.max(1) as usize),
        };
        let publish = PublishConfig {
            backoff,
            window: protocol
                .node_window
                .map_or(PublishConfig::default().window, |w| w.max(1) as usize),
        };
        Ok((rpc, delivery, publish))
    }

    /// One `traffic:` stream; `expected_messages` sums what the streams so
    /// far would generate, to refuse a runaway scenario.
    fn traffic(
        &self,
        t: &Spanned<RawTraffic>,
        duration: Duration,
        expected_messages: &mut f64,
        participant: &dyn Fn(&Spanned<String>) -> Result<Ministry>,
    ) -> Result<Traffic> {
        let v = &t.value;
        let mut from = Vec::new();
        for m in &v.from.value {
            from.push(participant(m)?);
        }
        if from.is_empty() {
            return self.err(&v.from, "traffic needs at least one sender in `from`");
        }
        if v.every.value.0 < Duration::from_millis(1) {
            return self.err(&v.every, "`every` must be at least 1ms");
        }
        let start_t = v.start.as_ref().map_or(Duration::ZERO, |s| s.value.0);
        if let Some(s) = &v.start {
            self.within_run(s, duration, "traffic start")?;
        }
        let until = match &v.until {
            Some(u) => {
                self.within_run(u, duration, "traffic until")?;
                if u.value.0 < start_t {
                    return self.err(u, "traffic `until` is before its `start`");
                }
                u.value.0
            }
            None => duration,
        };
        *expected_messages += (until - start_t).as_secs_f64() / v.every.value.0.as_secs_f64();
        if *expected_messages > MAX_GENERATED as f64 {
            return self.err(
                &v.every,
                format!(
                    "the traffic would generate about {} messages in all; at most \
                     {MAX_GENERATED} are supported: raise `every` or shorten the window",
                    *expected_messages as u64
                ),
            );
        }
        Ok(Traffic {
            kind: v.kind,
            from,
            every: v.every.value.0,
            start: start_t,
            until,
            handling: v.handling.unwrap_or_default(),
        })
    }
}

/// Why the hub would refuse inject `i` as planned, if it would: malformed
/// content, a CANCEL of another's message, or the agreement's refusal.
fn would_refuse(
    inj: &Inject,
    i: usize,
    injects: &[Inject],
    policy: &Policy,
    epoch: Timestamp,
) -> Option<String> {
    let id = |j: usize| model::MessageId(format!("{}-{:06}", injects[j].from.code(), j + 1));
    let status = policy
        .member(inj.from)
        .map_or(Status::Exercise, |m| m.status);
    let references = inj.references.iter().map(|&j| id(j)).collect();
    let env = inj.envelope(id(i), epoch, status, references);
    let created = env.created;
    if let Err(e) = env.validate(created) {
        return Some(e.0);
    }
    if inj.message_type == MessageType::Cancel
        && let Some(&j) = inj
            .references
            .iter()
            .find(|&&j| injects[j].from != inj.from)
    {
        return Some(format!(
            "only {}, its originator, may cancel inject `{}`",
            injects[j].from,
            injects[j].label.as_deref().unwrap_or("?")
        ));
    }
    match policy.route(&env, &[]) {
        crate::policy::Routing::Rejected { reason } => Some(reason),
        crate::policy::Routing::Accepted { .. } => None,
    }
}
