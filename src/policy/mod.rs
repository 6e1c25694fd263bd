//! Sharing policy: who may receive which message, with which fields. A pure
//! function of the message, the [`Agreement`] in force, the participants and
//! what the hub already routed.
//!
//! A refusal is data ([`Routing::Rejected`]), not an error: the hub records it and
//! answers the originator with the reason. So is everything the policy keeps
//! back: each participant left out and each field changed comes with its
//! reason, for the event log and the run report.
//!
//! How a message is routed, in order (README.md, "Sharing agreements"):
//! 1. the originator must be a participant, publishing in its own status, and
//!    every recipient it names (`to`) a participant; TLP:RED must name them;
//! 2. for every other participant, the first share rule that matches decides;
//!    none matching: withheld;
//! 3. an UPDATE or CANCEL also reaches every current participant that
//!    received, or sent, a message it references;
//! 4. the handling mark's limit, if the agreement sets one, leaves out
//!    whoever it does not name;
//! 5. a participant in another status (actual, exercise, test) never
//!    receives it; nor does anyone the sender did not name, when it names.
//!
//! Then each recipient's copy has every matching redaction applied.

pub mod agreement;
pub mod explain;

pub mod fields;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use agreement::{Agreement, AgreementError, Decision, Rule, Selector};
use agreement::{Condition, Test, Word};
use fields::{Action, Value};

use crate::model::{Envelope, Handling, Ministry, Status};

/// A participant the policy keeps a message from, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Withheld {
    pub to: Ministry,
    pub reason: String,
}

/// Fields the policy changed in one recipient's copy, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Redaction {
    pub to: Ministry,
    /// Field names as the scenario format spells them (`minors`,
    /// `holder.birth_date`): every field changed, removed unless listed below.
    pub fields: Vec<String>,
    pub reason: String,
    /// Those of `fields` made coarser rather than removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generalised: Vec<String>,
    /// Those of `fields` replaced by a keyed hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pseudonymised: Vec<String>,
}

impl Redaction {
    /// How `field` was changed: `removed`, `generalised` or `pseudonymised`.
    pub fn how(&self, field: &str) -> &'static str {
        if self.generalised.iter().any(|f| f == field) {
            "generalised"
        } else if self.pseudonymised.iter().any(|f| f == field) {
            "pseudonymised"
        } else {
            "removed"
        }
    }
}

/// What the policy decided for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// Deliver to `recipients` (sorted, never the originator; possibly empty),
    /// with the fields in `redacted` changed in those recipients' copies.
    /// `withheld` names every other participant (but the originator) and why
    /// it gets nothing.
    Accepted {
        recipients: Vec<Ministry>,
        withheld: Vec<Withheld>,
        redacted: Vec<Redaction>,
    },
    /// Refuse the message; the reason goes back to the originator.
    Rejected { reason: String },
}

/// A participant as the policy sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub role: String,
    pub status: Status,
}

/// A change to the agreement during a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Amendment {
    /// A participant joins (or rejoins) with `role`, taking part in `status`.
    Join {
        ministry: Ministry,
        role: String,
        status: Status,
    },
    /// A participant leaves: it neither sends nor receives from now on.
    Leave { ministry: Ministry },
    /// A participant changes role.
    Role { ministry: Ministry, role: String },
    /// A share rule is added ahead of the others.
    AddRule(Rule),
    /// The share rule of this name is lifted.
    LiftRule { name: String },
}

impl Amendment {
    /// One line for the log: `MX-SEGOB joins as full`.
    pub fn describe(&self) -> String {
        match self {
            Amendment::Join { ministry, role, .. } => format!("{ministry} joins as {role}"),
            Amendment::Leave { ministry } => format!("{ministry} leaves the exchange"),
            Amendment::Role { ministry, role } => format!("{ministry} becomes {role}"),
            Amendment::AddRule(r) => format!(
                "{} added: {} {} ({})",
                r.label(),
                match r.decision {
                    Decision::Share => "shares with",
                    Decision::Withhold => "withholds from",
                },
                r.who,
                r.reason
            ),
            Amendment::LiftRule { name } => format!("rule `{name}` lifted"),
        }
    }
}

/// Why the policy could not be put together (a key with no secret, say).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

/// The agreement in force among a set of participants.
#[derive(Debug, Clone)]
pub struct Policy {
    agreement: Arc<Agreement>,
    /// Participants connected to the hub, with their role and status now.
    members: BTreeMap<Ministry, Member>,
    /// The share rules now (amendments add and lift them).
    rules: Arc<Vec<Rule>>,
    /// Pseudonymisation secrets by key name.
    keys: Arc<BTreeMap<String, Vec<u8>>>,
}

impl Policy {
    /// `agreement` among `participants`, each with the role the agreement
    /// gives it and status `status`. A participant the agreement does not
    /// list gets the agreement's last role (give roles with
    /// [`Policy::with_members`] instead).
    pub fn new(
        agreement: Arc<Agreement>,
        participants: impl IntoIterator<Item = Ministry>,
        status: Status,
    ) -> Policy {
        let fallback = agreement
            .roles
            .last()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let members = participants
            .into_iter()
            .map(|m| {
                let role = agreement.role_of(m).unwrap_or(&fallback).to_string();
                (m, Member { role, status })
            })
            .collect();
        Policy::with_members(agreement, members)
    }

    /// `agreement` among `members`.
    pub fn with_members(agreement: Arc<Agreement>, members: BTreeMap<Ministry, Member>) -> Policy {
        Policy {
            rules: Arc::new(agreement.rules.clone()),
            agreement,
            members,
            keys: Arc::default(),
        }
    }

    /// The built-in compact-2019 among the five ministries, every one in `status`.
    pub fn compact_2019(status: Status) -> Policy {
        Policy::new(
            Arc::new(Agreement::compact_2019()),
            Ministry::DEFAULTS,
            status,
        )
    }

    /// The same policy with its pseudonymisation keys: from `given` (name
    /// to secret, from the command line), else the key's environment
    /// variable, else its value in the agreement.
    pub fn with_keys(
        mut self,
        given: &BTreeMap<String, String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Policy, PolicyError> {
        let mut keys = BTreeMap::new();
        for (name, source) in &self.agreement.keys {
            let secret = given
                .get(name)
                .cloned()
                .or_else(|| env(&source.env).filter(|s| !s.is_empty()))
                .or_else(|| source.value.clone())
                .ok_or_else(|| {
                    PolicyError(format!(
                        "key `{name}` of agreement {} has no secret: give it with `--key \
                         {name}=SECRET` or in ${}",
                        self.agreement.name, source.env
                    ))
                })?;
            keys.insert(name.clone(), secret.into_bytes());
        }
        if let Some(unknown) = given.keys().find(|k| !self.agreement.keys.contains_key(*k)) {
            return Err(PolicyError(format!(
                "agreement {} has no key `{unknown}`",
                self.agreement.name
            )));
        }
        self.keys = Arc::new(keys);
        Ok(self)
    }

    /// The agreement this policy applies.
    pub fn agreement(&self) -> &Agreement {
        &self.agreement
    }

    /// The shared agreement, for another policy over it.
    pub fn agreement_arc(&self) -> Arc<Agreement> {
        self.agreement.clone()
    }

    /// The agreement's name (`compact-2019`).
    pub fn name(&self) -> &str {
        &self.agreement.name
    }

    /// The participants now, in code order.
    pub fn participants(&self) -> impl Iterator<Item = Ministry> + '_ {
        self.members.keys().copied()
    }

    /// A participant's role and status now.
    pub fn member(&self, m: Ministry) -> Option<&Member> {
        self.members.get(&m)
    }

    /// A participant's role now (`None`: not a participant).
    pub fn role_of(&self, m: Ministry) -> Option<&str> {
        self.members.get(&m).map(|x| x.role.as_str())
    }

    /// The share rules now.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Sets `m`'s status (a live node says it when it registers).
    pub fn set_status(&mut self, m: Ministry, status: Status) {
        if let Some(member) = self.members.get_mut(&m) {
            member.status = status;
        }
    }

    /// Applies `amendment`; `Err` says why it cannot be.
    pub fn amend(&mut self, amendment: &Amendment) -> Result<(), PolicyError> {
        match amendment {
            Amendment::Join {
                ministry,
                role,
                status,
            } => {
                self.known_role(role)?;
                self.members.insert(
                    *ministry,
                    Member {
                        role: role.clone(),
                        status: *status,
                    },
                );
            }
            Amendment::Leave { ministry } => {
                self.members.remove(ministry).ok_or_else(|| {
                    PolicyError(format!("{ministry} is not a participant; it cannot leave"))
                })?;
            }
            Amendment::Role { ministry, role } => {
                self.known_role(role)?;
                let member = self.members.get_mut(ministry).ok_or_else(|| {
                    PolicyError(format!("{ministry} is not a participant; it has no role"))
                })?;
                member.role = role.clone();
            }
            Amendment::AddRule(rule) => {
                let mut rules = (*self.rules).clone();
                rules.insert(0, rule.clone());
                self.rules = Arc::new(rules);
            }
            Amendment::LiftRule { name } => {
                let mut rules = (*self.rules).clone();
                let before = rules.len();
                rules.retain(|r| r.name.as_deref() != Some(name));
                if rules.len() == before {
                    return Err(PolicyError(format!("no rule named `{name}` is in force")));
                }
                self.rules = Arc::new(rules);
            }
        }
        Ok(())
    }

    fn known_role(&self, role: &str) -> Result<(), PolicyError> {
        if self.agreement.has_role(role) {
            Ok(())
        } else {
            Err(PolicyError(format!(
                "unknown role `{role}` (agreement {} has {})",
                self.agreement.name,
                self.agreement
                    .roles
                    .iter()
                    .map(|r| r.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }

    /// Decides who receives `env`, with which fields.
    ///
    /// `earlier` holds the recipients and originators of the messages `env`
    /// updates or cancels, as far as the hub knows them: those who saw a
    /// message also hear of its update or cancellation.
    pub fn route(&self, env: &Envelope, earlier: &[Ministry]) -> Routing {
        let reject = |reason: String| Routing::Rejected { reason };
        let Some(sender) = self.members.get(&env.originator) else {
            return reject(format!(
                "{} is not a participant of this exchange",
                env.originator
            ));
        };
        if sender.status != env.status {
            return reject(format!(
                "{} takes part in {} status: it cannot publish a message marked {}",
                env.originator,
                sender.status.name(),
                env.status.name()
            ));
        }
        if let Some(m) = env.to.iter().find(|m| !self.members.contains_key(m)) {
            return reject(format!(
                "{m}, named among the recipients, is not a participant of this exchange"
            ));
        }
        if env.handling == Handling::Red && env.to.is_empty() {
            let reason = self
                .agreement
                .handling
                .get(&Handling::Red)
                .map(|h| h.reason.clone())
                .unwrap_or_else(|| {
                    "TLP:RED goes only to the recipients its sender names: give `to`".into()
                });
            return reject(reason);
        }
        // Every participant but the originator, with the reason it is left
        // out (None: it receives the message).
        let mut decision: BTreeMap<Ministry, Option<String>> = self
            .members
            .iter()
            .filter(|&(&m, _)| m != env.originator)
            .map(|(&m, member)| (m, self.decide(env, m, member).err()))
            .collect();
        for m in earlier {
            if let Some(why) = decision.get_mut(m) {
                *why = None;
            }
        }
        if let Some(limit) = self.agreement.handling.get(&env.handling)
            && let Some(to) = &limit.to
        {
            for (m, why) in &mut decision {
                if why.is_none() && !to.selects(*m, &self.members[m].role) {
                    *why = Some(self.fill(&limit.reason, env, *m));
                }
            }
        }
        for (m, why) in &mut decision {
            let status = self.members[m].status;
            if why.is_none() && status != env.status {
                *why = Some(format!(
                    "{m} takes part in {} status; this message is marked {}",
                    status.name(),
                    env.status.name()
                ));
            }
            if why.is_none() && !env.to.is_empty() && !env.to.contains(m) {
                *why = Some(format!(
                    "the sender named its recipients (`to`) and {m} is not among them"
                ));
            }
        }
        let mut recipients = Vec::new();
        let mut withheld = Vec::new();
        for (m, why) in decision {
            match why {
                None => recipients.push(m),
                Some(reason) => withheld.push(Withheld { to: m, reason }),
            }
        }
        let redacted = recipients
            .iter()
            .filter(|&&to| self.redacts_for(env, to))
            .flat_map(|&to| self.copy_for(env, to).1)
            .collect();
        Routing::Accepted {
            recipients,
            withheld,
            redacted,
        }
    }

    /// What the share rules decide for `m`: `Ok` with the rule that shares,
    /// `Err` with the reason it is withheld.
    fn decide(&self, env: &Envelope, m: Ministry, member: &Member) -> Result<(), String> {
        match self.first_rule(env, m, member) {
            Some(rule) if rule.decision == Decision::Share => Ok(()),
            Some(rule) => Err(self.fill(&rule.reason, env, m)),
            None => Err(format!(
                "no rule of {} shares a {} with {m} ({})",
                self.agreement.name,
                env.kind.label(),
                member.role
            )),
        }
    }

    /// The first share rule that matches `env` for `m`.
    pub fn first_rule(&self, env: &Envelope, m: Ministry, member: &Member) -> Option<&Rule> {
        self.rules.iter().find(|r| {
            r.covers_kind(env.kind) && r.who.selects(m, &member.role) && holds(&r.when, env, m)
        })
    }

    /// `reason` with its placeholders filled for recipient `m`.
    fn fill(&self, reason: &str, env: &Envelope, m: Ministry) -> String {
        if !reason.contains('{') {
            return reason.to_string();
        }
        reason
            .replace("{recipient}", m.code())
            .replace("{country}", m.country())
            .replace("{role}", self.role_of(m).unwrap_or("none"))
            .replace("{kind}", env.kind.label())
            .replace("{sender}", env.originator.code())
    }

    /// Whether any redaction rule applies to `to`'s copy of `env` (it may
    /// still find nothing to change).
    pub fn redacts_for(&self, env: &Envelope, to: Ministry) -> bool {
        let Some(role) = self.role_of(to) else {
            return false;
        };
        self.agreement.redactions.iter().any(|r| {
            (r.kinds.is_empty() || r.kinds.contains(&env.kind))
                && r.who.selects(to, role)
                && holds(&r.when, env, to)
        })
    }

    /// `to`'s copy of `env`: the fields this policy withholds from `to` changed.
    pub fn redact(&self, env: &Envelope, to: Ministry) -> Envelope {
        self.copy_for(env, to).0
    }

    /// [`Policy::copy_for`] of a shared envelope: `env` itself when nothing
    /// in it is changed for `to` (no copy made), else the changed copy.
    pub fn copy_for_shared(
        &self,
        env: &Arc<Envelope>,
        to: Ministry,
    ) -> (Arc<Envelope>, Vec<Redaction>) {
        if !self.redacts_for(env, to) {
            return (Arc::clone(env), Vec::new());
        }
        let (copy, redactions) = self.copy_for(env, to);
        if redactions.is_empty() {
            (Arc::clone(env), redactions)
        } else {
            (Arc::new(copy), redactions)
        }
    }

    /// `to`'s copy of `env`, and what was changed in it and why: the one
    /// place that both decides a redaction and applies it, so what the event
    /// log says was changed is what the copy differs in.
    pub fn copy_for(&self, env: &Envelope, to: Ministry) -> (Envelope, Vec<Redaction>) {
        let mut copy = env.clone();
        let Some(role) = self.role_of(to) else {
            return (copy, Vec::new());
        };
        let mut out = Vec::new();
        for r in &self.agreement.redactions {
            if !(r.kinds.is_empty() || r.kinds.contains(&env.kind))
                || !r.who.selects(to, role)
                || !holds(&r.when, env, to)
            {
                continue;
            }
            let mut redaction = Redaction {
                to,
                fields: Vec::new(),
                reason: self.fill(&r.reason, env, to),
                generalised: Vec::new(),
                pseudonymised: Vec::new(),
            };
            for (path, action) in &r.fields {
                let key = match action {
                    Action::Pseudonymise { key } => Some(self.key(key)),
                    _ => None,
                };
                if fields::apply(&mut copy, path, action, key) {
                    let path = fields::canonical(path, env.kind).to_string();
                    match action {
                        Action::Generalise => redaction.generalised.push(path.clone()),
                        Action::Pseudonymise { .. } => redaction.pseudonymised.push(path.clone()),
                        Action::Remove => {}
                    }
                    redaction.fields.push(path);
                }
            }
            if !redaction.fields.is_empty() {
                out.push(redaction);
            }
        }
        (copy, out)
    }

    /// The secret of key `name`; a policy whose keys were never given (see
    /// [`Policy::with_keys`]) pseudonymises under the key's name alone.
    fn key<'a>(&'a self, name: &'a str) -> &'a [u8] {
        self.keys
            .get(name)
            .map(|k| k.as_slice())
            .unwrap_or(name.as_bytes())
    }

    /// Whether `by`, a recipient of `env`, may pass it on to `to` under the
    /// handling rules and the agreement; `Err` says why not.
    pub fn may_reshare(&self, env: &Envelope, by: Ministry, to: Ministry) -> Result<(), String> {
        let label = env.handling.label();
        match env.handling {
            Handling::Red | Handling::AmberStrict => {
                return Err(format!("{label} may never be passed on"));
            }
            Handling::Amber => {
                let allowed = self
                    .agreement
                    .handling
                    .get(&Handling::Amber)
                    .and_then(|h| h.reshare.as_ref());
                match (allowed, self.members.get(&to)) {
                    (Some(sel), Some(member)) if sel.selects(to, &member.role) => {}
                    (Some(_), Some(_)) => {
                        return Err(format!(
                            "agreement {} lets TLP:AMBER be passed on only to {}",
                            self.agreement.name,
                            allowed.expect("matched Some")
                        ));
                    }
                    (None, _) => {
                        return Err(format!(
                            "agreement {} does not let TLP:AMBER be passed on",
                            self.agreement.name
                        ));
                    }
                    (_, None) => {}
                }
            }
            Handling::Clear | Handling::Green => {}
        }
        let Some(member) = self.members.get(&to) else {
            return Err(format!("{to} is not a participant of this exchange"));
        };
        if to == env.originator {
            return Err(format!("{to} originated the message"));
        }
        if to == by {
            return Err(format!("{by} cannot pass a message on to itself"));
        }
        if member.status != env.status {
            return Err(format!(
                "{to} takes part in {} status; this message is marked {}",
                member.status.name(),
                env.status.name()
            ));
        }
        self.decide(env, to, member)
    }
}

/// Whether `when` holds for `env` as recipient `to` would receive it.
pub fn holds(when: &Condition, env: &Envelope, to: Ministry) -> bool {
    when.all.iter().all(|t| passes(t, env, to))
        && (when.any.is_empty()
            || when
                .any
                .iter()
                .any(|group| group.iter().all(|t| passes(t, env, to))))
}

fn passes(t: &Test, env: &Envelope, to: Ministry) -> bool {
    let value = fields::value(env, &t.path);
    if let Some(present) = t.present
        && present != (value != Value::Absent)
    {
        return false;
    }
    let word = |w: &Word| -> String {
        match w {
            Word::Literal(s) => s.clone(),
            Word::Recipient => to.country().to_string(),
            Word::Sender => env.originator.country().to_string(),
        }
    };
    if !t.one_of.is_empty() {
        let Value::Words(ws) = &value else {
            return false;
        };
        if !t.one_of.iter().any(|w| ws.contains(&word(w))) {
            return false;
        }
    }
    if !t.none_of.is_empty()
        && let Value::Words(ws) = &value
        && t.none_of.iter().any(|w| ws.contains(&word(w)))
    {
        return false;
    }
    if t.min.is_some() || t.max.is_some() {
        let Value::Number(n) = value else {
            return false;
        };
        if t.min.is_some_and(|m| n < m) || t.max.is_some_and(|m| n > m) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests;
