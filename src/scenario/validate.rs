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
        let amendments = self.amendments(&raw.amendments, &policy, &mut participants, duration)?;
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
        for (i, inject) in raw.injects.iter().enumerate() {
            let inject_v = self.inject(inject, &labels, &injects, duration, epoch, &participant)?;
            if let Some(id) = &inject.value.id {
                labels.insert(id.value.clone(), i);
            }
            injects.push(inject_v);
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
            topology,
            rpc,
            delivery,
            publish,
            injects,
            faults,
            traffic,
            expect,
        })
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
