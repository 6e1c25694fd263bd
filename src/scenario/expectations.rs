//! `expect:` entries: about one inject (delivered to, not delivered to,
//! rejected) or about the whole run (no loss, no duplicates).

use super::*;

impl Validator<'_> {
    pub(super) fn expectation(
        &self,
        spanned: &Spanned<RawExpect>,
        labels: &BTreeMap<String, usize>,
        injects: &[Inject],
        participants: &[Ministry],
    ) -> Result<Expectation> {
        let raw = &spanned.value;
        let inject = match &raw.inject {
            Some(i) => match labels.get(&i.value) {
                Some(&j) => Some(j),
                None => return self.err(i, format!("no inject has id `{}`", i.value)),
            },
            None => None,
        };
        let list = |l: &Option<Vec<Spanned<String>>>| -> Result<Vec<Ministry>> {
            let mut out = Vec::new();
            for s in l.iter().flatten() {
                let m = self.ministry(s)?;
                if !participants.contains(&m) {
                    return self.err(s, format!("{m} is not a participant"));
                }
                out.push(m);
            }
            Ok(out)
        };
        let delivered_to = list(&raw.delivered_to)?;
        let not_delivered_to = list(&raw.not_delivered_to)?;
        let per_inject = raw.delivered_to.is_some()
            || raw.not_delivered_to.is_some()
            || raw.rejected.is_some()
            || raw.within.is_some();
        if per_inject && inject.is_none() {
            return self.err(
                spanned,
                "delivered_to, not_delivered_to, within and rejected need `inject:` (an inject id)",
            );
        }
        if let Some(w) = &raw.within
            && raw.delivered_to.is_none()
        {
            return self.err(w, "`within` goes with `delivered_to`");
        }
        let no_loss = raw.no_loss.unwrap_or(false);
        let no_duplicates = raw.no_duplicates.unwrap_or(false);
        let no_leak = raw.no_leak.unwrap_or(false);
        if !per_inject
            && raw.no_loss.is_none()
            && raw.no_duplicates.is_none()
            && raw.no_leak.is_none()
        {
            return self.err(
                spanned,
                "an expectation needs a condition: delivered_to, not_delivered_to, rejected, \
                 no_loss, no_duplicates or no_leak",
            );
        }
        if let (Some(j), Some(from)) = (inject, inject.map(|j| injects[j].from))
            && let Some(m) = delivered_to.iter().find(|m| **m == from)
        {
            return self.err(
                spanned,
                format!(
                    "{m} originates inject `{}` and never receives its own message",
                    injects[j].label.as_deref().unwrap_or("?")
                ),
            );
        }
        let within = raw.within.as_ref().map(|w| w.value.0);
        let name = raw.name.clone().unwrap_or_else(|| {
            let mut parts = Vec::new();
            let label = inject
                .and_then(|j| injects[j].label.clone())
                .unwrap_or_default();
            if !delivered_to.is_empty() || raw.delivered_to.is_some() {
                let to: Vec<&str> = delivered_to.iter().map(|m| m.code()).collect();
                parts.push(match within {
                    Some(w) => format!(
                        "{label} delivered to {} within {}",
                        to.join(", "),
                        format_duration(w)
                    ),
                    None => format!("{label} delivered to {}", to.join(", ")),
                });
            }
            if !not_delivered_to.is_empty() {
                let to: Vec<&str> = not_delivered_to.iter().map(|m| m.code()).collect();
                parts.push(format!("{label} not delivered to {}", to.join(", ")));
            }
            match raw.rejected {
                Some(true) => parts.push(format!("{label} rejected")),
                Some(false) => parts.push(format!("{label} accepted")),
                None => {}
            }
            if no_loss {
                parts.push("no loss".into());
            }
            if no_duplicates {
                parts.push("no duplicates".into());
            }
            if no_leak {
                parts.push("no leak".into());
            }
            if parts.is_empty() {
                "(no condition)".into()
            } else {
                parts.join("; ")
            }
        });
        Ok(Expectation {
            name,
            inject,
            delivered_to,
            within,
            not_delivered_to,
            rejected: raw.rejected,
            no_loss,
            no_duplicates,
            no_leak,
        })
    }
}
