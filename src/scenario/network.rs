//! The network and its faults: link latencies and jitter, partitions,
//! degradations and crashes.

use super::*;

impl Validator<'_> {
    pub(super) fn topology(&self, net: &RawNetwork, participants: &[Ministry]) -> Result<Topology> {
        let default = LinkConfig {
            latency: net.latency.map_or(LinkConfig::default().latency, |d| d.0),
            jitter: net.jitter.map_or(Duration::ZERO, |d| d.0),
        };
        let mut links = BTreeMap::new();
        for link in &net.links {
            let (a, b) = self.host_pair(&link.between, "a link")?;
            for h in [a, b] {
                if let Host::Node(m) = h
                    && !participants.contains(&m)
                {
                    return self.err(&link.between, format!("{m} is not a participant"));
                }
            }
            if links.contains_key(&pair(a, b)) {
                return self.err(&link.between, format!("the link {a}–{b} is listed twice"));
            }
            links.insert(
                pair(a, b),
                LinkConfig {
                    latency: link.latency.map_or(default.latency, |d| d.0),
                    jitter: link.jitter.map_or(default.jitter, |d| d.0),
                },
            );
        }
        Ok(Topology { default, links })
    }

    pub(super) fn fault(
        &self,
        spanned: &Spanned<RawFault>,
        duration: Duration,
        participants: &[Ministry],
    ) -> Result<Fault> {
        let raw = &spanned.value;
        self.within_run(&raw.at, duration, "fault")?;
        let lasts = raw.for_.value.0;
        if lasts.is_zero() {
            return self.err(&raw.for_, "a fault must last longer than zero");
        }
        let ends = raw.at.value.0 + lasts;
        if ends > duration {
            return self.err(
                &raw.for_,
                format!(
                    "this fault ends at {}, after the end of the run (duration {})",
                    format_duration(ends),
                    format_duration(duration)
                ),
            );
        }
        let check_participant = |h: Host, at: &Spanned<Vec<Spanned<String>>>| -> Result<()> {
            match h {
                Host::Node(m) if !participants.contains(&m) => {
                    self.err(at, format!("{m} is not a participant"))
                }
                _ => Ok(()),
            }
        };
        let action = match (&raw.partition, &raw.crash, &raw.degrade) {
            (Some(p), None, None) => {
                let (a, b) = self.host_pair(p, "partition")?;
                check_participant(a, p)?;
                check_participant(b, p)?;
                if raw.latency.is_some() {
                    return self.err(spanned, "`latency` goes with `degrade`, not `partition`");
                }
                FaultAction::Partition(a, b)
            }
            (None, Some(c), None) => {
                let h = self.host(c)?;
                if let Host::Node(m) = h
                    && !participants.contains(&m)
                {
                    return self.err(c, format!("{m} is not a participant"));
                }
                FaultAction::Crash(h)
            }
            (None, None, Some(d)) => {
                let (a, b) = self.host_pair(d, "degrade")?;
                check_participant(a, d)?;
                check_participant(b, d)?;
                let Some(latency) = raw.latency else {
                    return self.err(d, "degrade needs `latency:` (the degraded one-way latency)");
                };
                FaultAction::Degrade(a, b, latency.0)
            }
            _ => {
                return self.err(
                    spanned,
                    "a fault needs exactly one of `partition: [A, B]`, `crash: HOST`, \
                     `degrade: [A, B]`",
                );
            }
        };
        Ok(Fault {
            at: raw.at.value.0,
            lasts,
            action,
        })
    }
}
