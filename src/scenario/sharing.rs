//! The scenario's sharing agreement: which agreement (`policy:`), who takes
//! part with which role and status (`participants:`), and the changes made
//! to it during the run (`amendments:`).

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::policy::agreement::{self, COMPACT_2019_NAME};
use crate::policy::{Agreement, AgreementError, Amendment, Member, Policy};

/// An amendment and when it takes effect.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    pub at: Duration,
    pub amendment: Amendment,
}

impl From<AgreementError> for ScenarioError {
    fn from(e: AgreementError) -> Self {
        ScenarioError {
            file: e.file,
            line: e.line,
            column: e.column,
            message: e.message,
        }
    }
}

impl Validator<'_> {
    /// The agreement `policy:` names: compact-2019 when absent, else a file
    /// relative to the scenario (or the run directory's copy, when reading one).
    pub(super) fn agreement(&self, raw: Option<&Spanned<String>>) -> Result<Arc<Agreement>> {
        if let Some(a) = &self.agreement {
            return Ok(a.clone());
        }
        let Some(p) = raw else {
            return Ok(Arc::new(Agreement::compact_2019()));
        };
        let name = p.value.trim();
        if name == COMPACT_2019_NAME {
            return Ok(Arc::new(Agreement::compact_2019()));
        }
        let base = Path::new(self.file).parent().unwrap_or(Path::new(""));
        let path = base.join(name);
        if !path.exists() {
            return self.err(
                p,
                format!(
                    "unknown policy `{name}`: neither the built-in {COMPACT_2019_NAME} nor an \
                     agreement file ({} does not exist)",
                    path.display()
                ),
            );
        }
        Ok(Arc::new(Agreement::load(&path)?))
    }

    /// The participants (hosts of the run, in order) and the members of
    /// the policy at t=0, each with its role and status.
    pub(super) fn members(
        &self,
        raw: Option<&Spanned<Vec<Spanned<RawParticipant>>>>,
        agreement: &Agreement,
        status: Status,
    ) -> Result<(Vec<Ministry>, BTreeMap<Ministry, Member>)> {
        let mut order = Vec::new();
        let mut members = BTreeMap::new();
        let Some(list) = raw else {
            for p in &agreement.participants {
                order.push(p.ministry);
                members.insert(
                    p.ministry,
                    Member {
                        role: p.role.clone(),
                        status,
                    },
                );
            }
            return Ok((order, members));
        };
        for entry in &list.value {
            let (code, name, role, own_status) = match &entry.value {
                RawParticipant::Code(c) => (c.as_str(), None, None, None),
                RawParticipant::Full(d) => (
                    d.code.as_str(),
                    d.name.as_deref(),
                    d.role.as_deref(),
                    d.status,
                ),
            };
            let (m, role) = self.participant_role(entry, code, name, role, agreement)?;
            if members.contains_key(&m) {
                return self.err(list, format!("{m} is listed twice"));
            }
            order.push(m);
            members.insert(
                m,
                Member {
                    role,
                    status: own_status.unwrap_or(status),
                },
            );
        }
        if order.is_empty() {
            return self.err(list, "participants is empty");
        }
        Ok((order, members))
    }

    /// `code` as a participant with its role: the agreement's, or `role`.
    fn participant_role<S>(
        &self,
        at: &Spanned<S>,
        code: &str,
        name: Option<&str>,
        role: Option<&str>,
        agreement: &Agreement,
    ) -> Result<(Ministry, String)> {
        let code = code.trim();
        if code == Host::HUB_NAME {
            return self.err(at, "GCIF is the hub, not a participant");
        }
        let listed = code
            .parse::<Ministry>()
            .ok()
            .and_then(|m| agreement.role_of(m).map(|r| (m, r.to_string())));
        if let Some(r) = role
            && !agreement.has_role(r)
        {
            return self.err(
                at,
                format!(
                    "unknown role `{r}` (agreement {} has {})",
                    agreement.name,
                    role_list(agreement)
                ),
            );
        }
        let (m, role) = match (listed, role) {
            (Some((m, _)), Some(r)) => (m, r.to_string()),
            (Some((m, r)), None) => (m, r),
            (None, Some(r)) => {
                let m = Ministry::declare(code, name).or_else(|e| self.err(at, e.to_string()))?;
                (m, r.to_string())
            }
            (None, None) => {
                return self.err(
                    at,
                    format!(
                        "{code} is not a participant of agreement {}: give it a `role` ({}), \
                         e.g. `{{code: {code}, role: ...}}`",
                        agreement.name,
                        role_list(agreement)
                    ),
                );
            }
        };
        Ok((m, role))
    }

    /// `amendments:`, in time order; joiners are added to `participants`
    /// (their nodes run from the start but take part only once they join).
    pub(super) fn amendments(
        &self,
        raw: &[Spanned<RawAmendment>],
        policy: &Policy,
        participants: &mut Vec<Ministry>,
        duration: Duration,
        status: Status,
    ) -> Result<Vec<Scheduled>> {
        let mut out: Vec<Scheduled> = Vec::new();
        // Check each against the policy as it will stand by then.
        let mut state = policy.clone();
        let mut sorted: Vec<&Spanned<RawAmendment>> = raw.iter().collect();
        sorted.sort_by_key(|a| a.value.at.value.0);
        for a in sorted {
            let v = &a.value;
            self.within_run(&v.at, duration, "amendment")?;
            let given = [
                v.join.is_some(),
                v.leave.is_some(),
                v.role.is_some(),
                v.add_rule.is_some(),
                v.lift_rule.is_some(),
            ];
            if given.iter().filter(|g| **g).count() != 1 {
                return self.err(
                    a,
                    "an amendment does one thing: `join`, `leave`, `role`, `add_rule` or \
                     `lift_rule`",
                );
            }
            let agreement = state.agreement_arc();
            let amendment = if let Some(j) = &v.join {
                if j.value.role.is_none() {
                    return self.err(j, "a participant joins with a `role`");
                }
                let (m, role) = self.participant_role(
                    j,
                    &j.value.code,
                    j.value.name.as_deref(),
                    j.value.role.as_deref(),
                    &agreement,
                )?;
                if state.member(m).is_some() {
                    return self.err(j, format!("{m} already takes part by then"));
                }
                if !participants.contains(&m) {
                    participants.push(m);
                }
                Amendment::Join {
                    ministry: m,
                    role,
                    status: j.value.status.unwrap_or(status),
                }
            } else if let Some(l) = &v.leave {
                let m = self.ministry(l)?;
                if state.member(m).is_none() {
                    return self.err(
                        l,
                        format!("{m} does not take part by then; it cannot leave"),
                    );
                }
                Amendment::Leave { ministry: m }
            } else if let Some(r) = &v.role {
                let m = self.ministry(&Spanned {
                    value: r.value.code.clone(),
                    referenced: r.referenced,
                    defined: r.defined,
                })?;
                let Some(role) = &r.value.role else {
                    return self.err(r, "give the new `role`");
                };
                if !agreement.has_role(role) {
                    return self.err(
                        r,
                        format!(
                            "unknown role `{role}` (agreement {} has {})",
                            agreement.name,
                            role_list(&agreement)
                        ),
                    );
                }
                Amendment::Role {
                    ministry: m,
                    role: role.clone(),
                }
            } else if let Some(rule) = &v.add_rule {
                let known: Vec<Ministry> = participants.clone();
                let rule = agreement::check_rule(self.file, rule, &agreement, &known)?;
                Amendment::AddRule(rule)
            } else {
                let name = v.lift_rule.as_ref().expect("one is given");
                Amendment::LiftRule {
                    name: name.value.trim().to_string(),
                }
            };
            state
                .amend(&amendment)
                .or_else(|e| self.err(a, e.to_string()))?;
            out.push(Scheduled {
                at: v.at.value.0,
                amendment,
            });
        }
        Ok(out)
    }
}

fn role_list(a: &Agreement) -> String {
    a.roles
        .iter()
        .map(|r| r.0.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
