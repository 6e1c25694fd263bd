//! The leak checker: did any recipient get a message, or a field value, that
//! the agreement forbids it?
//!
//! It starts from what the recipients' nodes actually received
//! (`received.jsonl`: each copy after redaction) and from the agreement,
//! and re-derives who could receive each message and what each copy may
//! contain. It reads nothing of the hub's own decisions (its journal,
//! queues or the `accepted` event's recipient list): it takes from the log
//! only when each message was accepted, so that amendments apply to the
//! messages accepted after them, and which messages the hub refused. What
//! the rules *mean* is the one evaluation of [`crate::policy`]; what the hub
//! did with them is what is checked.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use crate::model::{Envelope, MessageId, Ministry};
use crate::policy::fields::{self, FIELDS, Value};
use crate::policy::{Policy, Routing};
use crate::report::rundir::Receipt;
use crate::scenario::Scheduled;

/// One thing a recipient got that it should not have.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leak {
    pub msg: MessageId,
    pub to: Ministry,
    /// The field, when the copy held a value it should not; `None` when the
    /// recipient should not have had the message at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Which rule was broken, and how.
    pub rule: String,
}

impl std::fmt::Display for Leak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(
                f,
                "{} to {}: field {field}: {}",
                self.msg, self.to, self.rule
            ),
            None => write!(f, "{} to {}: {}", self.msg, self.to, self.rule),
        }
    }
}

/// What the checker looked at and what it found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LeakReport {
    /// The agreement checked against.
    pub agreement: String,
    /// Copies checked (one per message and recipient).
    pub receipts: usize,
    /// Distinct messages among them.
    pub messages: usize,
    /// Copies of messages the run does not know (sent by a node outside
    /// it): not checkable.
    pub unknown: usize,
    /// Deliveries only the log records (no copy in the directory: nodes in
    /// other processes), checked for who got the message, not its fields.
    pub logged: usize,
    pub leaks: Vec<Leak>,
}

impl LeakReport {
    pub fn is_clean(&self) -> bool {
        self.leaks.is_empty()
    }

    /// One line: `no leak: 412 copies of 103 messages checked against compact-2019`.
    pub fn headline(&self) -> String {
        let unknown = if self.unknown > 0 {
            format!(
                " ({} copies of messages from outside the run not checked)",
                self.unknown
            )
        } else {
            String::new()
        };
        let what = if self.logged > 0 {
            format!(
                "{} copies and {} deliveries the log alone records, of {} messages",
                self.receipts, self.logged, self.messages
            )
        } else {
            format!("{} copies of {} messages", self.receipts, self.messages)
        };
        if self.leaks.is_empty() {
            format!(
                "no leak: {what} checked against {}{unknown}",
                self.agreement
            )
        } else {
            format!(
                "{} leak{} in {what} checked against {}{unknown}",
                self.leaks.len(),
                if self.leaks.len() == 1 { "" } else { "s" },
                self.agreement
            )
        }
    }
}

/// Checks `received` against `policy` (as in force at t=0) amended by
/// `amendments`; `sent` are the messages as their originators published
/// them and `log` what the run's event log said.
pub fn check(
    policy: &Policy,
    amendments: &[Scheduled],
    sent: &[&Envelope],
    log: &super::Index,
    received: &[Receipt],
) -> LeakReport {
    // Lookups by message id go through hash maps, never iterated (so the
    // report's order stays the receipts' order): it is the hot path of a sweep.
    // The policy each message was accepted under: the log says how many
    // amendments came before its acceptance.
    let mut versions = vec![policy.clone()];
    for a in amendments {
        let mut next = versions.last().expect("one at least").clone();
        // A scenario's amendments were checked when it was loaded.
        let _ = next.amend(&a.amendment);
        versions.push(next);
    }
    let last = versions.len() - 1;
    let accepted_under: HashMap<&MessageId, usize> = log
        .acceptances
        .iter()
        .map(|(msg, amended)| (msg, (*amended).min(last)))
        .collect();
    let accepted_at: HashMap<&MessageId, usize> = log
        .acceptances
        .iter()
        .enumerate()
        .map(|(i, (msg, _))| (msg, i))
        .collect();
    let refused: HashSet<&MessageId> = log.rejected.keys().collect();
    // Reshares the hub accepted, with the policy in force then.
    let reshared: Vec<(&MessageId, Ministry, Ministry, usize)> = log
        .reshares
        .iter()
        .map(|(msg, by, to, amended)| (msg, *by, *to, (*amended).min(last)))
        .collect();
    let originals: HashMap<&MessageId, &Envelope> = sent.iter().map(|e| (&e.id, *e)).collect();

    // Who may receive each message, derived thread by thread in the order
    // the messages were accepted (an update reaches those its original
    // could reach).
    let mut order: Vec<&&Envelope> = sent.iter().collect();
    order.sort_by_key(|e| accepted_at.get(&e.id).copied().unwrap_or(usize::MAX));
    let mut allowed: HashMap<&MessageId, (BTreeSet<Ministry>, BTreeMap<Ministry, String>)> =
        HashMap::new();
    for env in order {
        if refused.contains(&env.id) && !accepted_under.contains_key(&env.id) {
            continue;
        }
        let Some(&v) = accepted_under.get(&env.id) else {
            continue;
        };
        let mut earlier = Vec::new();
        for r in &env.references {
            if let (Some((to, _)), Some(orig)) = (allowed.get(r), originals.get(r)) {
                earlier.extend(to.iter().copied());
                earlier.push(orig.originator);
            }
        }
        match versions[v].route(env, &earlier) {
            Routing::Accepted {
                recipients,
                withheld,
                ..
            } => {
                let why = withheld.into_iter().map(|w| (w.to, w.reason)).collect();
                allowed.insert(&env.id, (recipients.into_iter().collect(), why));
            }
            Routing::Rejected { reason } => {
                allowed.insert(
                    &env.id,
                    (
                        BTreeSet::new(),
                        versions[v]
                            .participants()
                            .map(|m| (m, format!("the agreement refuses it: {reason}")))
                            .collect(),
                    ),
                );
            }
        }
    }

    // Which of those the agreement allows, and each allowed copy as it
    // should be: the passer's copy, redacted again for the new recipient.
    let mut passed: HashMap<(&MessageId, Ministry), Result<Envelope, String>> = HashMap::new();
    for (msg, by, to, v_now) in reshared {
        let (Some(original), Some((may, _))) = (originals.get(msg), allowed.get(msg)) else {
            continue;
        };
        let had_it = by == original.originator
            || may.contains(&by)
            || matches!(passed.get(&(msg, by)), Some(Ok(_)));
        let v = accepted_under.get(msg).copied().unwrap_or(0);
        let verdict = if !had_it {
            Err(format!("{by} passed it on without having received it"))
        } else if original.controlled
            && by != original.originator
            && !original.consent.contains(&to)
        {
            Err(format!(
                "it is originator-controlled and {} did not consent to its passing to {to}",
                original.originator
            ))
        } else if let Err(why) = versions[v_now].may_reshare(original, by, to) {
            Err(format!("passed on by {by} against the rules: {why}"))
        } else {
            let theirs = match passed.get(&(msg, by)) {
                Some(Ok(copy)) => copy.clone(),
                _ if by == original.originator => (*original).clone(),
                _ => versions[v].copy_for(original, by).0,
            };
            Ok(versions[v_now].copy_for(&theirs, to).0)
        };
        passed.entry((msg, to)).or_insert(verdict);
    }

    let mut report = LeakReport {
        agreement: policy.name().to_string(),
        ..LeakReport::default()
    };
    // Each (message, recipient) counted once; a second, different record
    // of the same copy is checked too.
    let mut seen: HashMap<(&MessageId, Ministry), &Envelope> = HashMap::new();
    let mut messages: HashSet<&MessageId> = HashSet::new();
    for r in received {
        let id = &r.envelope.id;
        match seen.get(&(id, r.to)) {
            Some(e) if **e == *r.envelope => continue,
            Some(_) => {}
            None => {
                seen.insert((id, r.to), &r.envelope);
                if originals.contains_key(id) {
                    report.receipts += 1;
                }
            }
        }
        let Some(original) = originals.get(id) else {
            report.unknown += 1;
            continue;
        };
        messages.insert(id);
        let leak = |field: Option<String>, rule: String| Leak {
            msg: id.clone(),
            to: r.to,
            field,
            rule,
        };
        if r.to == original.originator {
            report.leaks.push(leak(
                None,
                "a message never goes back to its originator".into(),
            ));
            continue;
        }
        let Some((may, why)) = allowed.get(id) else {
            let rule = if refused.contains(id) {
                "the hub refused this message: nobody may receive it".to_string()
            } else {
                "the hub never accepted this message: nobody may receive it".to_string()
            };
            report.leaks.push(leak(None, rule));
            continue;
        };
        let v = accepted_under.get(id).copied().unwrap_or(0);
        // The common case first: the copy is exactly the one the agreement
        // makes (the message as sent, when no redaction applies).
        if may.contains(&r.to) {
            let same = if versions[v].redacts_for(original, r.to) {
                *r.envelope == versions[v].copy_for(original, r.to).0
            } else {
                // Shared with the message itself (the message-level model): the same.
                std::ptr::eq(&*r.envelope, *original) || *r.envelope == **original
            };
            if same {
                continue;
            }
        }
        let (expected, redactions) = if may.contains(&r.to) {
            versions[v].copy_for(original, r.to)
        } else {
            match passed.get(&(id, r.to)) {
                Some(Ok(copy)) => {
                    // What the copy lacks against the original, as redacted.
                    let lacks = FIELDS
                        .iter()
                        .filter(|f| f.kind.is_none_or(|k| k == original.kind))
                        .filter(|f| fields::value(copy, f.path) != fields::value(original, f.path))
                        .map(|f| f.path.to_string())
                        .collect();
                    let how = crate::policy::Redaction {
                        to: r.to,
                        fields: lacks,
                        reason: "redacted as passed on".into(),
                        generalised: Vec::new(),
                        pseudonymised: Vec::new(),
                    };
                    (copy.clone(), vec![how])
                }
                Some(Err(why)) => {
                    report.leaks.push(leak(None, why.clone()));
                    continue;
                }
                None => {
                    let rule = why.get(&r.to).cloned().unwrap_or_else(|| {
                        format!("{} is not a participant of the exchange", r.to)
                    });
                    report
                        .leaks
                        .push(leak(None, format!("withheld by the agreement: {rule}")));
                    continue;
                }
            }
        };
        for f in FIELDS {
            if f.kind.is_some_and(|k| k != original.kind) {
                continue;
            }
            let got = fields::value(&r.envelope, f.path);
            let want = fields::value(&expected, f.path);
            if got == want {
                continue;
            }
            let changed_by = redactions
                .iter()
                .find(|x| x.fields.iter().any(|p| p == f.path));
            // A pseudonym made under a key the checker was not given still
            // has to be a pseudonym, and not the value itself.
            let pseudonymised = changed_by.is_some_and(|x| x.how(f.path) == "pseudonymised");
            if pseudonymised && pseudonyms_only(&got, &fields::value(original, f.path)) {
                continue;
            }
            let rule = match changed_by {
                Some(x) => format!(
                    "the copy should be {} ({}); it holds {}",
                    x.how(f.path),
                    x.reason,
                    show(&got)
                ),
                None => format!(
                    "the copy should hold {} as sent; it holds {}",
                    show(&want),
                    show(&got)
                ),
            };
            report.leaks.push(leak(Some(f.path.to_string()), rule));
        }
    }
    // The log's `delivered` events are a record of receipt too (a live run
    // logs them for nodes in other processes): each must be to someone the
    // agreement lets have the message.
    for (msg, to) in log.delivered.keys() {
        if seen.contains_key(&(msg, *to)) {
            continue;
        }
        let Some(original) = originals.get(msg) else {
            continue;
        };
        report.logged += 1;
        messages.insert(msg);
        let leak = |rule: String| Leak {
            msg: msg.clone(),
            to: *to,
            field: None,
            rule: format!("{rule} (delivered, says the log)"),
        };
        if *to == original.originator {
            report
                .leaks
                .push(leak("a message never goes back to its originator".into()));
            continue;
        }
        match allowed.get(msg) {
            None => report.leaks.push(leak(
                "the hub never accepted this message: nobody may receive it".into(),
            )),
            Some((may, why)) if !may.contains(to) => match passed.get(&(msg, *to)) {
                Some(Ok(_)) => {}
                Some(Err(reason)) => report.leaks.push(leak(reason.clone())),
                None => report.leaks.push(leak(format!(
                    "withheld by the agreement: {}",
                    why.get(to)
                        .cloned()
                        .unwrap_or_else(|| format!("{to} is not a participant of the exchange"))
                ))),
            },
            Some(_) => {}
        }
    }
    report.messages = messages.len();
    report
}

/// Whether every word of `got` is a pseudonym and none is a word of `original`.
fn pseudonyms_only(got: &Value, original: &Value) -> bool {
    match (got, original) {
        (Value::Words(g), Value::Words(o)) => {
            g.iter().all(|w| fields::is_pseudonym(w)) && !g.iter().any(|w| o.contains(w))
        }
        _ => false,
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Absent => "nothing".into(),
        Value::Present => "a value".into(),
        Value::Number(n) => format!("{n}"),
        Value::Words(w) => format!("{:?}", w.join(", ")),
    }
}

/// Checks the run directory `dir`: its agreement copy, scenario, log,
/// messages and `received.jsonl`; `keys` as the run was given them.
pub fn check_dir(
    dir: &std::path::Path,
    keys: &BTreeMap<String, String>,
) -> anyhow::Result<LeakReport> {
    use anyhow::Context;
    let run = super::RunDir::load(dir)?;
    let scenario = run.scenario.as_ref().with_context(|| {
        format!(
            "{}: cannot check it: the scenario it played is not there (or not readable)",
            dir.display()
        )
    })?;
    let received_path = dir.join(super::rundir::RECEIVED);
    anyhow::ensure!(
        received_path.is_file(),
        "{}: no {}: the run directory does not say what each recipient received (made by an \
         older gcif-sim?)",
        dir.display(),
        super::rundir::RECEIVED
    );
    let mut received = super::rundir::read_received(&received_path, &run.messages)?;
    // The copies `messages.jsonl` lists are a record of what was received too.
    for m in &run.messages {
        for (&to, copy) in &m.copies {
            received.push(super::rundir::Receipt {
                to,
                t: m.at_t,
                envelope: std::sync::Arc::clone(copy),
            });
        }
    }
    let policy = scenario
        .policy
        .clone()
        .with_keys(keys, |v| std::env::var(v).ok())
        .unwrap_or_else(|_| scenario.policy.clone());
    let sent: Vec<&Envelope> = run.messages.iter().map(|m| &*m.envelope).collect();
    Ok(check(
        &policy,
        &scenario.amendments,
        &sent,
        &super::Index::new(&run.events),
        &received,
    ))
}
