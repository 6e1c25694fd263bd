//! The agreement file as written: serde structs that mirror the YAML, with
//! source locations kept where the checks need to point at a value.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

/// A YAML mapping kept in order with each key's location.
#[derive(Debug)]
pub struct Entries<V>(pub Vec<(Spanned<String>, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V2<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<Spanned<String>, V>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V2(std::marker::PhantomData))
    }
}

/// A word or a list of words.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(|s| s.as_str()).collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgreement {
    pub agreement: Spanned<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub roles: Spanned<RawRoles>,
    pub participants: Spanned<Vec<Spanned<RawParticipant>>>,
    #[serde(default)]
    pub keys: Option<Entries<Spanned<RawKey>>>,
    pub share: Spanned<Vec<Spanned<RawRule>>>,
    #[serde(default)]
    pub handling: Option<Entries<Spanned<RawHandling>>>,
    #[serde(default)]
    pub redact: Vec<Spanned<RawRedact>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParticipant {
    pub code: Spanned<String>,
    #[serde(default)]
    pub country: Option<Spanned<String>>,
    #[serde(default)]
    pub name: Option<String>,
    pub role: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub env: Option<String>,
}

/// Role names with what each means, or just the names.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawRoles {
    Described(Entries<String>),
    Named(Vec<Spanned<String>>),
}

/// `everyone`, or a mapping of `role`/`roles`, `participant`/`participants`, `except`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawSelector {
    Word(String),
    /// Role names and participant codes.
    Words(Vec<String>),
    Some(RawSome),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSome {
    #[serde(default)]
    pub role: Option<OneOrMany>,
    #[serde(default)]
    pub roles: Option<OneOrMany>,
    #[serde(default)]
    pub participant: Option<OneOrMany>,
    #[serde(default)]
    pub participants: Option<OneOrMany>,
    #[serde(default)]
    pub except: Option<OneOrMany>,
}

/// A test on one field: a word, a list of words, a number, or a mapping.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawTest {
    Number(f64),
    Bool(bool),
    Word(String),
    Words(Vec<String>),
    Full(RawFullTest),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFullTest {
    #[serde(default, rename = "in")]
    pub in_: Option<OneOrMany>,
    #[serde(default)]
    pub not_in: Option<OneOrMany>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub present: Option<bool>,
}

/// One share rule as written (also in a scenario's `add_rule:`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub kind: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    pub to: Option<Spanned<RawSelector>>,
    #[serde(default)]
    pub withhold: Option<Spanned<RawSelector>>,
    #[serde(default)]
    pub when: Option<Entries<Spanned<RawTest>>>,
    #[serde(default)]
    pub when_any: Option<Vec<Entries<Spanned<RawTest>>>>,
    pub reason: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHandling {
    #[serde(default)]
    pub to: Option<Spanned<RawSelector>>,
    #[serde(default)]
    pub reshare: Option<Spanned<RawSelector>>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedact {
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub kind: Option<Spanned<OneOrMany>>,
    #[serde(rename = "for")]
    pub for_: Spanned<RawSelector>,
    #[serde(default)]
    pub when: Option<Entries<Spanned<RawTest>>>,
    #[serde(default)]
    pub when_any: Option<Vec<Entries<Spanned<RawTest>>>>,
    pub fields: Spanned<Entries<Spanned<RawAction>>>,
    pub reason: Spanned<String>,
}

/// `remove`, `generalise`, `pseudonymise` (with the agreement's only key),
/// or `{pseudonymise: KEY}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawAction {
    Word(String),
    Keyed(RawKeyed),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeyed {
    #[serde(alias = "pseudonymize")]
    pub pseudonymise: String,
}
