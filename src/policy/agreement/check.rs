//! The checks an agreement must pass, each failure located: unknown roles,
//! fields and participants, tests that can never match, rules that an
//! earlier one pre-empts or contradicts.

use std::collections::BTreeMap;

use serde_saphyr::Spanned;

use super::raw::*;
use super::*;
use crate::model::is_country_code;
use crate::policy::fields;

/// Checks a share rule written outside the agreement (a scenario's
/// `add_rule:`) against `agreement`, whose participants are now `participants`.
pub fn check_rule(
    file: &str,
    raw: &Spanned<RawRule>,
    agreement: &Agreement,
    participants: &[Ministry],
) -> Result<Rule> {
    let checker = Checker { file };
    let roles: Vec<String> = agreement.roles.iter().map(|r| r.0.clone()).collect();
    let ctx = Ctx {
        checker: &checker,
        roles: &roles,
        participants,
    };
    ctx.rule(raw)
}

pub(super) struct Checker<'a> {
    pub(super) file: &'a str,
}

pub(super) type Result<T, E = AgreementError> = std::result::Result<T, E>;

impl Checker<'_> {
    pub(super) fn err<T, S>(&self, at_: &Spanned<S>, message: impl Into<String>) -> Result<T> {
        let a = at(at_);
        Err(AgreementError {
            file: self.file.into(),
            line: a.line,
            column: a.column,
            message: message.into(),
        })
    }

    fn err_at<T>(&self, a: At, message: impl Into<String>) -> Result<T> {
        Err(AgreementError {
            file: self.file.into(),
            line: a.line,
            column: a.column,
            message: message.into(),
        })
    }

    pub(super) fn agreement(&self, raw: RawAgreement, text: &str) -> Result<Agreement> {
        let name = raw.agreement.value.trim().to_string();
        if name.is_empty() {
            return self.err(&raw.agreement, "the agreement's name is empty");
        }
        let mut roles: Vec<(String, String)> = Vec::new();
        let declared: Vec<(&Spanned<String>, String)> = match &raw.roles.value {
            RawRoles::Described(entries) => entries.0.iter().map(|(r, d)| (r, d.clone())).collect(),
            RawRoles::Named(names) => names.iter().map(|r| (r, String::new())).collect(),
        };
        for (role, description) in declared {
            let r = role.value.trim();
            if r.is_empty() || r.contains(char::is_whitespace) {
                return self.err(
                    role,
                    format!("`{}` is not a role name (one word)", role.value),
                );
            }
            if roles.iter().any(|(x, _)| x == r) {
                return self.err(role, format!("role `{r}` is declared twice"));
            }
            roles.push((r.to_string(), description));
        }
        if roles.is_empty() {
            return self.err(
                &raw.roles,
                "declare at least one role (e.g. `full:` and `observer:`)",
            );
        }
        let role_names: Vec<String> = roles.iter().map(|(r, _)| r.clone()).collect();
        let check_role = |s: &Spanned<String>| -> Result<String> {
            if role_names.contains(&s.value) {
                Ok(s.value.clone())
            } else {
                self.err(
                    s,
                    format!(
                        "unknown role `{}` (this agreement's roles: {})",
                        s.value,
                        role_names.join(", ")
                    ),
                )
            }
        };

        let mut participants: Vec<Participant> = Vec::new();
        for p in &raw.participants.value {
            let code = &p.value.code;
            let ministry = Ministry::declare(code.value.trim(), p.value.name.as_deref())
                .or_else(|e| self.err(code, e.to_string()))?;
            if let Some(country) = &p.value.country {
                if !is_country_code(&country.value) {
                    return self.err(
                        country,
                        format!("`{}` is not an ISO 3166-1 alpha-2 code", country.value),
                    );
                }
                if country.value != ministry.country() {
                    return self.err(
                        country,
                        format!(
                            "{ministry}'s code says its country is {}, not {}: a participant's \
                             code begins with its country's code",
                            ministry.country(),
                            country.value
                        ),
                    );
                }
            }
            if participants.iter().any(|q| q.ministry == ministry) {
                return self.err(code, format!("{ministry} is listed twice"));
            }
            participants.push(Participant {
                ministry,
                name: p
                    .value
                    .name
                    .clone()
                    .unwrap_or_else(|| ministry.full_name().to_string()),
                role: check_role(&p.value.role)?,
            });
        }
        if participants.is_empty() {
            return self.err(
                &raw.participants,
                "an agreement needs at least one participant",
            );
        }
        let known: Vec<Ministry> = participants.iter().map(|p| p.ministry).collect();

        let mut keys = BTreeMap::new();
        for (name, key) in raw.keys.iter().flat_map(|k| &k.0) {
            let n = name.value.trim();
            if n.is_empty() {
                return self.err(name, "a key needs a name");
            }
            let env = key.value.env.clone().unwrap_or_else(|| {
                format!(
                    "GCIF_KEY_{}",
                    n.to_uppercase()
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                        .collect::<String>()
                )
            });
            if key.value.value.as_deref() == Some("") {
                return self.err(key, format!("key `{n}` has an empty value"));
            }
            keys.insert(
                n.to_string(),
                KeySource {
                    value: key.value.value.clone(),
                    env,
                },
            );
        }

        let ctx = Ctx {
            checker: self,
            roles: &role_names,
            participants: &known,
        };
        let mut rules: Vec<Rule> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for r in &raw.share.value {
            let rule = ctx.rule(r)?;
            if let Some(n) = &rule.name {
                if names.contains(n) {
                    return self.err_at(rule.at, format!("two rules are named `{n}`"));
                }
                names.push(n.clone());
            }
            ctx.against_earlier(&rule, &rules)?;
            rules.push(rule);
        }
        if rules.is_empty() {
            return self.err(
                &raw.share,
                "`share` has no rules: nobody would receive anything",
            );
        }

        let mut handling = BTreeMap::new();
        for (mark, h) in raw.handling.iter().flat_map(|h| &h.0) {
            let m: Handling = mark
                .value
                .parse()
                .or_else(|e: crate::model::UnknownWord| self.err(mark, e.to_string()))?;
            if handling.contains_key(&m) {
                return self.err(mark, format!("{} is given twice", m.label()));
            }
            let to = h.value.to.as_ref().map(|s| ctx.selector(s)).transpose()?;
            let reshare = h
                .value
                .reshare
                .as_ref()
                .map(|s| ctx.selector(s))
                .transpose()?;
            if reshare.is_some() && matches!(m, Handling::Red | Handling::AmberStrict) {
                return self.err(
                    h,
                    format!(
                        "{} may never be passed on (TLP 2.0): `reshare` cannot allow it",
                        m.label()
                    ),
                );
            }
            if to.is_some() && m == Handling::Red {
                return self.err(
                    h,
                    "TLP:RED goes only to the recipients its sender names: `to` cannot widen or \
                     narrow it; give only `reason`",
                );
            }
            let reason = match &h.value.reason {
                Some(r) if !r.trim().is_empty() => r.trim().to_string(),
                _ if to.is_some() || m == Handling::Red => {
                    return self.err(h, format!("give the `reason` for {}'s limit", m.label()));
                }
                _ => String::new(),
            };
            handling.insert(
                m,
                HandlingRule {
                    to,
                    reshare,
                    reason,
                    at: at(h),
                },
            );
        }

        let mut redactions = Vec::new();
        for r in &raw.redact {
            redactions.push(ctx.redact(r, &keys)?);
        }

        Ok(Agreement {
            name,
            title: raw.title.clone(),
            description: raw.description.clone(),
            file: self.file.to_string(),
            text: text.to_string(),
            roles,
            participants,
            keys,
            rules,
            handling,
            redactions,
        })
    }
}

/// What a rule is checked against.
pub(super) struct Ctx<'a> {
    pub(super) checker: &'a Checker<'a>,
    pub(super) roles: &'a [String],
    pub(super) participants: &'a [Ministry],
}

impl Ctx<'_> {
    fn kinds(&self, k: Option<&Spanned<OneOrMany>>) -> Result<Vec<Kind>> {
        let Some(k) = k else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for word in k.value.items() {
            let kind: Kind = word
                .parse()
                .or_else(|e: crate::model::UnknownWord| self.checker.err(k, e.to_string()))?;
            if !out.contains(&kind) {
                out.push(kind);
            }
        }
        if out.is_empty() {
            return self
                .checker
                .err(k, "`kind` is an empty list: the rule could never match");
        }
        Ok(out)
    }

    fn selector(&self, s: &Spanned<RawSelector>) -> Result<Selector> {
        match &s.value {
            RawSelector::Word(w) if matches!(w.as_str(), "everyone" | "all" | "anyone") => {
                Ok(Selector::Everyone)
            }
            RawSelector::Words(words) => {
                let mut roles = Vec::new();
                let mut participants = Vec::new();
                for w in words {
                    match self.selector(&Spanned {
                        value: RawSelector::Word(w.clone()),
                        referenced: s.referenced,
                        defined: s.defined,
                    })? {
                        Selector::Everyone => return Ok(Selector::Everyone),
                        Selector::Some {
                            roles: r,
                            participants: p,
                            ..
                        } => {
                            roles.extend(r);
                            participants.extend(p);
                        }
                    }
                }
                if roles.is_empty() && participants.is_empty() {
                    return self.checker.err(s, "an empty list selects nobody");
                }
                Ok(Selector::Some {
                    roles,
                    participants,
                    except: Vec::new(),
                })
            }
            RawSelector::Word(w) => {
                // A bare role name or participant code.
                if self.roles.iter().any(|r| r == w) {
                    return Ok(Selector::Some {
                        roles: vec![w.clone()],
                        participants: Vec::new(),
                        except: Vec::new(),
                    });
                }
                if let Ok(m) = w.parse::<Ministry>()
                    && self.participants.contains(&m)
                {
                    return Ok(Selector::Some {
                        roles: Vec::new(),
                        participants: vec![m],
                        except: Vec::new(),
                    });
                }
                self.checker.err(
                    s,
                    format!(
                        "`{w}` is neither `everyone`, a role ({}) nor a participant of this \
                         agreement",
                        self.roles.join(", ")
                    ),
                )
            }
            RawSelector::Some(some) => {
                let mut roles = Vec::new();
                for r in some.role.iter().chain(&some.roles).flat_map(|r| r.items()) {
                    if !self.roles.iter().any(|x| x == r) {
                        return self.checker.err(
                            s,
                            format!(
                                "unknown role `{r}` (this agreement's roles: {})",
                                self.roles.join(", ")
                            ),
                        );
                    }
                    roles.push(r.to_string());
                }
                let code = |c: &str| -> Result<Ministry> {
                    match c.parse::<Ministry>() {
                        Ok(m) if self.participants.contains(&m) => Ok(m),
                        _ => self.checker.err(
                            s,
                            format!(
                                "`{c}` is not a participant of this agreement (declare it under \
                                 `participants`)"
                            ),
                        ),
                    }
                };
                let mut participants = Vec::new();
                for c in some
                    .participant
                    .iter()
                    .chain(&some.participants)
                    .flat_map(|p| p.items())
                {
                    participants.push(code(c)?);
                }
                let mut except = Vec::new();
                for c in some.except.iter().flat_map(|p| p.items()) {
                    except.push(code(c)?);
                }
                if roles.is_empty() && participants.is_empty() {
                    if except.is_empty() {
                        return self.checker.err(
                            s,
                            "name who: `everyone`, `role:` or `participants:` (an empty \
                             selection would match nobody)",
                        );
                    }
                    return Ok(Selector::Some {
                        roles: self.roles.to_vec(),
                        participants: Vec::new(),
                        except,
                    });
                }
                Ok(Selector::Some {
                    roles,
                    participants,
                    except,
                })
            }
        }
    }

    fn condition(
        &self,
        when: Option<&Entries<Spanned<RawTest>>>,
        when_any: Option<&Vec<Entries<Spanned<RawTest>>>>,
        kinds: &[Kind],
    ) -> Result<Condition> {
        let all = when
            .map(|w| self.tests(w, kinds))
            .transpose()?
            .unwrap_or_default();
        let mut any = Vec::new();
        for group in when_any.into_iter().flatten() {
            any.push(self.tests(group, kinds)?);
        }
        Ok(Condition { all, any })
    }

    fn reason(&self, r: &Spanned<String>) -> Result<String> {
        let t = r.value.trim();
        if t.is_empty() {
            return self
                .checker
                .err(r, "give the rule's reason: the log carries it");
        }
        for placeholder in placeholders(t) {
            if !matches!(
                placeholder,
                "recipient" | "country" | "role" | "kind" | "sender"
            ) {
                return self.checker.err(
                    r,
                    format!(
                        "unknown placeholder `{{{placeholder}}}` (use {{recipient}}, \
                         {{country}}, {{role}}, {{kind}} or {{sender}})"
                    ),
                );
            }
        }
        Ok(t.to_string())
    }

    fn rule(&self, r: &Spanned<RawRule>) -> Result<Rule> {
        let raw = &r.value;
        let kinds = self.kinds(raw.kind.as_ref())?;
        let (decision, who) = match (&raw.to, &raw.withhold) {
            (Some(to), None) => (Decision::Share, self.selector(to)?),
            (None, Some(w)) => (Decision::Withhold, self.selector(w)?),
            _ => {
                return self.checker.err(
                    r,
                    "a rule either shares (`to:`) or withholds (`withhold:`), one of the two",
                );
            }
        };
        Ok(Rule {
            name: raw.name.as_ref().map(|n| n.value.trim().to_string()),
            kinds: kinds.clone(),
            decision,
            who,
            when: self.condition(raw.when.as_ref(), raw.when_any.as_ref(), &kinds)?,
            reason: self.reason(&raw.reason)?,
            at: at(r),
        })
    }

    /// A rule that an earlier one always pre-empts never matches; if it
    /// decides otherwise, the two contradict each other.
    fn against_earlier(&self, rule: &Rule, earlier: &[Rule]) -> Result<()> {
        for e in earlier {
            let kinds_covered = e.kinds.is_empty()
                || (!rule.kinds.is_empty() && rule.kinds.iter().all(|k| e.kinds.contains(k)));
            if !kinds_covered || !e.who.covers(&rule.who) {
                continue;
            }
            if e.when == rule.when && e.decision != rule.decision {
                return self.checker.err_at(
                    rule.at,
                    format!(
                        "this rule contradicts the {} for the same messages and participants \
                         (one shares, the other withholds); keep one",
                        e.label()
                    ),
                );
            }
            if e.when.is_always() || e.when == rule.when {
                return self.checker.err_at(
                    rule.at,
                    format!(
                        "this rule can never match: the {} ({} {}) decides first for every \
                         message and participant it covers",
                        e.label(),
                        match e.decision {
                            Decision::Share => "shares with",
                            Decision::Withhold => "withholds from",
                        },
                        e.who
                    ),
                );
            }
        }
        Ok(())
    }

    fn redact(&self, r: &Spanned<RawRedact>, keys: &BTreeMap<String, KeySource>) -> Result<Redact> {
        let raw = &r.value;
        let kinds = self.kinds(raw.kind.as_ref())?;
        let covered: Vec<Kind> = if kinds.is_empty() {
            Kind::ALL.to_vec()
        } else {
            kinds.clone()
        };
        let mut fields_out = Vec::new();
        for (path, action) in &raw.fields.value.0 {
            let p = path.value.trim();
            let has = fields::kinds_with(p);
            if has.is_empty() {
                let known: Vec<&str> = fields::FIELDS
                    .iter()
                    .filter(|f| f.kind.is_some())
                    .map(|f| f.path)
                    .collect();
                return self.checker.err(
                    path,
                    format!("unknown field `{p}` (fields: {})", known.join(", ")),
                );
            }
            if let Some(missing) = covered.iter().find(|k| !has.contains(k)) {
                let kinds_of: Vec<&str> = has.iter().map(|k| k.name()).collect();
                return self.checker.err(
                    path,
                    format!(
                        "`{p}` is not a field of a {missing} (it is one of {}): give the \
                         redaction `kind: {}`",
                        kinds_of.join(", "),
                        kinds_of.join(", ")
                    ),
                );
            }
            let field = fields::field(p, covered[0]).expect("checked above");
            if field.kind.is_none() {
                return self.checker.err(
                    path,
                    format!(
                        "`{p}` is part of the envelope, not the content: it cannot be redacted"
                    ),
                );
            }
            let act = match &action.value {
                RawAction::Word(w) => match w.trim() {
                    "remove" => Action::Remove,
                    "generalise" | "generalize" => Action::Generalise,
                    "pseudonymise" | "pseudonymize" => match keys.keys().collect::<Vec<_>>()[..] {
                        [only] => Action::Pseudonymise { key: only.clone() },
                        [] => {
                            return self.checker.err(
                                action,
                                "pseudonymise needs a key: declare one under `keys:`",
                            );
                        }
                        _ => {
                            return self.checker.err(
                                action,
                                "this agreement has several keys: write `{pseudonymise: KEY}`",
                            );
                        }
                    },
                    other => {
                        return self.checker.err(
                            action,
                            format!(
                                "unknown redaction `{other}` (remove, generalise, pseudonymise \
                                 or {{pseudonymise: KEY}})"
                            ),
                        );
                    }
                },
                RawAction::Keyed(k) => {
                    if !keys.contains_key(k.pseudonymise.trim()) {
                        return self.checker.err(
                            action,
                            format!(
                                "unknown key `{}` (declare it under `keys:`)",
                                k.pseudonymise
                            ),
                        );
                    }
                    Action::Pseudonymise {
                        key: k.pseudonymise.trim().to_string(),
                    }
                }
            };
            act.check(field.ty).or_else(|why| {
                self.checker
                    .err(action, format!("cannot {} `{p}`: {why}", verb(&act)))
            })?;
            if fields_out.iter().any(|(q, _): &(String, Action)| q == p) {
                return self.checker.err(path, format!("`{p}` is given twice"));
            }
            fields_out.push((p.to_string(), act));
        }
        if fields_out.is_empty() {
            return self
                .checker
                .err(&raw.fields, "name at least one field to redact");
        }
        Ok(Redact {
            name: raw.name.as_ref().map(|n| n.value.trim().to_string()),
            kinds: kinds.clone(),
            who: self.selector(&raw.for_)?,
            when: self.condition(raw.when.as_ref(), raw.when_any.as_ref(), &kinds)?,
            fields: fields_out,
            reason: self.reason(&raw.reason)?,
            at: at(r),
        })
    }
}

fn verb(a: &Action) -> &'static str {
    match a {
        Action::Remove => "remove",
        Action::Generalise => "generalise",
        Action::Pseudonymise { .. } => "pseudonymise",
    }
}

/// The `{name}` placeholders in `s`.
fn placeholders(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('{') {
        let Some(j) = rest[i..].find('}') else { break };
        out.push(&rest[i + 1..i + j]);
        rest = &rest[i + j + 1..];
    }
    out
}
