//! Sharing-agreement files: YAML in, a checked [`Agreement`] out, or one
//! `file:line:col: what is wrong` error.
//!
//! The format is described in README.md ("Sharing agreements");
//! `policies/compact-2019.yaml` is the built-in default written in it.

use std::collections::BTreeMap;
use std::fmt;

mod check;
mod conditions;
mod raw;

use serde::Serialize;
use serde_saphyr::Spanned;

use super::fields::Action;
use crate::model::{Handling, Kind, Ministry};
use check::Checker;
pub use check::check_rule;
use raw::RawAgreement;
pub use raw::RawRule;

/// The built-in agreement, `compact-2019`, as shipped in `policies/`.
pub const COMPACT_2019: &str = include_str!("../../../policies/compact-2019.yaml");
/// Its name, which a scenario's `policy:` may give instead of a path.
pub const COMPACT_2019_NAME: &str = "compact-2019";

/// An agreement that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct AgreementError {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// Where something was written: line and column (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct At {
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

fn at<T>(s: &Spanned<T>) -> At {
    At {
        line: s.referenced.line().max(1),
        column: s.referenced.column().max(1),
    }
}

/// A checked sharing agreement.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    /// Its name, as logs and summaries give it (`compact-2019`).
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// Where it was read from (`built-in` for the default).
    pub file: String,
    /// The text it was read from, copied into run directories.
    pub text: String,
    /// Role names with what each means, in the file's order.
    pub roles: Vec<(String, String)>,
    /// The participants, in the file's order.
    pub participants: Vec<Participant>,
    /// Keys for pseudonymisation, by name.
    pub keys: BTreeMap<String, KeySource>,
    /// Who receives what: the first rule that matches a recipient decides.
    pub rules: Vec<Rule>,
    /// Limits by handling mark, applied after the rules.
    pub handling: BTreeMap<Handling, HandlingRule>,
    /// Field redactions, every matching one applied in order.
    pub redactions: Vec<Redact>,
}

/// One participant as the agreement declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Participant {
    pub ministry: Ministry,
    pub name: String,
    pub role: String,
}

/// Where a pseudonymisation key's secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySource {
    /// Given in the file (fine for exercises; a real key comes from elsewhere).
    pub value: Option<String>,
    /// The environment variable holding it.
    pub env: String,
}

/// Which participants a rule is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Everyone,
    /// Anyone with one of `roles` or named in `participants`, but not in `except`.
    Some {
        roles: Vec<String>,
        participants: Vec<Ministry>,
        except: Vec<Ministry>,
    },
}

impl Selector {
    /// Whether `m`, with `role`, is selected.
    pub fn selects(&self, m: Ministry, role: &str) -> bool {
        match self {
            Selector::Everyone => true,
            Selector::Some {
                roles,
                participants,
                except,
            } => {
                !except.contains(&m)
                    && (roles.iter().any(|r| r == role) || participants.contains(&m))
            }
        }
    }

    /// Whether every participant `other` selects, this one selects too.
    fn covers(&self, other: &Selector) -> bool {
        match (self, other) {
            (Selector::Everyone, _) => true,
            (Selector::Some { .. }, Selector::Everyone) => false,
            (
                Selector::Some {
                    roles,
                    participants,
                    except,
                },
                Selector::Some {
                    roles: r2,
                    participants: p2,
                    except: e2,
                },
            ) => {
                except.iter().all(|e| e2.contains(e))
                    && r2.iter().all(|r| roles.contains(r))
                    && p2.iter().all(|p| participants.contains(p))
            }
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Everyone => f.write_str("everyone"),
            Selector::Some {
                roles,
                participants,
                except,
            } => {
                let mut parts: Vec<String> = roles.iter().map(|r| format!("role {r}")).collect();
                parts.extend(participants.iter().map(|p| p.to_string()));
                let mut out = parts.join(", ");
                if !except.is_empty() {
                    let except: Vec<_> = except.iter().map(|m| m.code()).collect();
                    out += &format!(" except {}", except.join(", "));
                }
                f.write_str(&out)
            }
        }
    }
}

/// A word a condition compares a field with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Word {
    Literal(String),
    /// The recipient's country.
    Recipient,
    /// The originator's country.
    Sender,
}

/// One test on one field.
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub path: String,
    /// The field's value (any element of a list) is one of these.
    pub one_of: Vec<Word>,
    /// ...and none of these.
    pub none_of: Vec<Word>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The field is set (true) or empty (false).
    pub present: Option<bool>,
}

/// When a rule applies: every test of `all`, and at least one group of
/// `any` (when there are groups).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Condition {
    pub all: Vec<Test>,
    pub any: Vec<Vec<Test>>,
}

impl Condition {
    pub fn is_always(&self) -> bool {
        self.all.is_empty() && self.any.is_empty()
    }
}

/// What a routing rule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Share,
    Withhold,
}

/// One routing rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: Option<String>,
    /// Empty: every kind.
    pub kinds: Vec<Kind>,
    pub decision: Decision,
    pub who: Selector,
    pub when: Condition,
    pub reason: String,
    pub at: At,
}

impl Rule {
    /// How explanations name it: its name, or where it is written.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("rule `{n}` ({})", self.at),
            None => format!("rule at {}", self.at),
        }
    }

    pub fn covers_kind(&self, kind: Kind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }
}

/// A limit by handling mark.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlingRule {
    /// Who may receive a message with this mark; `None`: no limit beyond the rules.
    pub to: Option<Selector>,
    /// Who a recipient may pass such a message on to (`None`: nobody, for
    /// AMBER; the agreement's rules, for CLEAR and GREEN).
    pub reshare: Option<Selector>,
    /// Given to those the limit leaves out (for RED: why a message naming
    /// no recipients is refused).
    pub reason: String,
    pub at: At,
}

/// One redaction rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Redact {
    pub name: Option<String>,
    pub kinds: Vec<Kind>,
    pub who: Selector,
    pub when: Condition,
    /// Field path and what to do to it, in the file's order.
    pub fields: Vec<(String, Action)>,
    pub reason: String,
    pub at: At,
}

impl Redact {
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("redaction `{n}` ({})", self.at),
            None => format!("redaction at {}", self.at),
        }
    }
}

impl Agreement {
    /// The built-in default, `compact-2019`.
    pub fn compact_2019() -> Agreement {
        Agreement::parse("built-in compact-2019", COMPACT_2019)
            .expect("the built-in agreement is valid")
    }

    /// `compact-2019` (built in) or the agreement file at `name_or_path`.
    pub fn named(name_or_path: &str) -> Result<Agreement, AgreementError> {
        if name_or_path == COMPACT_2019_NAME {
            Ok(Agreement::compact_2019())
        } else {
            Agreement::load(std::path::Path::new(name_or_path))
        }
    }

    /// Reads and checks the agreement at `path`.
    pub fn load(path: &std::path::Path) -> Result<Agreement, AgreementError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| AgreementError {
            file: file.clone(),
            line: 1,
            column: 1,
            message: format!("cannot read the agreement: {e}"),
        })?;
        Agreement::parse(&file, &text)
    }

    /// Parses and checks agreement `text`; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Agreement, AgreementError> {
        let err = |line: u64, column: u64, message: String| AgreementError {
            file: file.into(),
            line,
            column,
            message,
        };
        if text.trim().is_empty() {
            return Err(err(
                1,
                1,
                "the file is empty: an agreement needs `agreement`, `roles`, `participants` \
                 and `share`"
                    .into(),
            ));
        }
        let raw: RawAgreement = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            err(
                line.max(1),
                column.max(1),
                friendly(crate::format::yaml_message(&e.to_string())),
            )
        })?;
        Checker { file }.agreement(raw, text)
    }

    /// The role of `m`, if it is a participant.
    pub fn role_of(&self, m: Ministry) -> Option<&str> {
        self.participants
            .iter()
            .find(|p| p.ministry == m)
            .map(|p| p.role.as_str())
    }

    /// Whether `role` is one of the agreement's roles.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|(r, _)| r == role)
    }
}

/// serde's wording for a value of the wrong shape, in the format's terms.
fn friendly(message: String) -> String {
    const SHAPES: [(&str, &str); 5] = [
        (
            "untagged enum RawTest",
            "a test is a word, a list of words, a number, or a mapping of `in`, `not_in`, \
             `min`, `max`, `present`",
        ),
        (
            "untagged enum RawSelector",
            "say who: `everyone`, a role, a participant code, a list of roles and codes, or a \
             mapping of `role(s)`, `participant(s)`, `except`",
        ),
        (
            "untagged enum RawRoles",
            "`roles` maps each role to what it means (`full: A signatory.`), or lists the names",
        ),
        (
            "untagged enum RawAction",
            "a redaction is `remove`, `generalise`, `pseudonymise` or `{ pseudonymise: KEY }`",
        ),
        (
            "untagged enum OneOrMany",
            "expected a word or a list of words",
        ),
    ];
    for (serde_says, we_say) in SHAPES {
        if message.contains(serde_says) {
            return we_say.to_string();
        }
    }
    message
}
