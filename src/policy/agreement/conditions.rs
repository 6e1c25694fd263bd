//! The tests of a rule's `when:`: each field known for the kinds the rule
//! covers, each word a value that field takes, each range one it can hold.

use serde_saphyr::Spanned;

use super::check::{Ctx, Result};
use super::raw::*;
use super::*;
use crate::model::{Status, is_country_code};
use crate::policy::fields::{self, Type};

impl Ctx<'_> {
    /// The tests of one `when` mapping, checked against the kinds they apply to.
    pub(super) fn tests(
        &self,
        when: &Entries<Spanned<RawTest>>,
        kinds: &[Kind],
    ) -> Result<Vec<Test>> {
        let mut out = Vec::new();
        for (path, test) in &when.0 {
            let p = path.value.trim();
            let has = fields::kinds_with(p);
            if has.is_empty() {
                let known: Vec<&str> = fields::FIELDS.iter().map(|f| f.path).collect();
                return self.checker.err(
                    path,
                    format!("unknown field `{p}` (fields: {})", known.join(", ")),
                );
            }
            let covered: Vec<Kind> = if kinds.is_empty() {
                Kind::ALL.to_vec()
            } else {
                kinds.to_vec()
            };
            if let Some(missing) = covered.iter().find(|k| !has.contains(k)) {
                let kinds_of: Vec<&str> = has.iter().map(|k| k.name()).collect();
                return self.checker.err(
                    path,
                    format!(
                        "`{p}` is not a field of a {missing} (it is one of {}): give the rule \
                         `kind: {}`",
                        kinds_of.join(", "),
                        kinds_of.join(", ")
                    ),
                );
            }
            let ty = fields::field(p, covered[0]).expect("checked above").ty;
            out.push(self.test(p, ty, test)?);
        }
        Ok(out)
    }

    fn test(&self, path: &str, ty: Type, raw: &Spanned<RawTest>) -> Result<Test> {
        let mut t = Test {
            path: path.to_string(),
            one_of: Vec::new(),
            none_of: Vec::new(),
            min: None,
            max: None,
            present: None,
        };
        let numeric = matches!(ty, Type::Count | Type::Score | Type::Coordinate);
        match &raw.value {
            RawTest::Number(n) if numeric => {
                t.min = Some(*n);
                t.max = Some(*n);
            }
            RawTest::Number(n) => {
                // `information: 2` is a word.
                t.one_of = vec![self.word(path, ty, &n.to_string(), raw)?];
            }
            RawTest::Word(w) => t.one_of = vec![self.word(path, ty, w, raw)?],
            RawTest::Bool(b) => {
                return self.checker.err(
                    raw,
                    format!(
                        "`{path}: {b}`: compare a field with a word, a list of words, a number, \
                         or a mapping of `in`, `not_in`, `min`, `max`, `present` (e.g. \
                         `{{ present: {b} }}`)"
                    ),
                );
            }
            RawTest::Words(ws) => {
                for w in ws {
                    t.one_of.push(self.word(path, ty, w, raw)?);
                }
                if t.one_of.is_empty() {
                    return self.checker.err(
                        raw,
                        format!("`{path}` is tested against an empty list: it can never match"),
                    );
                }
            }
            RawTest::Full(f) => {
                for w in f.in_.iter().flat_map(|x| x.items()) {
                    t.one_of.push(self.word(path, ty, w, raw)?);
                }
                for w in f.not_in.iter().flat_map(|x| x.items()) {
                    t.none_of.push(self.word(path, ty, w, raw)?);
                }
                if f.in_.as_ref().is_some_and(|x| x.items().is_empty()) {
                    return self
                        .checker
                        .err(raw, format!("`{path}: in: []` can never match"));
                }
                if (f.min.is_some() || f.max.is_some()) && !numeric {
                    return self.checker.err(
                        raw,
                        format!("`{path}` is not a number: `min`/`max` do not apply"),
                    );
                }
                t.min = f.min;
                t.max = f.max;
                t.present = f.present;
            }
        }
        if t.present == Some(false) && (!t.one_of.is_empty() || t.min.is_some() || t.max.is_some())
        {
            return self.checker.err(
                raw,
                format!("`{path}` cannot be both absent and have a value: this test never matches"),
            );
        }
        if ty == Type::Presence && (!t.one_of.is_empty() || !t.none_of.is_empty()) {
            return self.checker.err(
                raw,
                "`payload` can only be tested with `present: true` or `present: false`",
            );
        }
        if matches!(ty, Type::Place | Type::Instant)
            && (!t.one_of.is_empty() || !t.none_of.is_empty())
        {
            return self.checker.err(
                raw,
                format!(
                    "`{path}` can only be tested for presence; test its parts (e.g. \
                     `{path}.country`)"
                ),
            );
        }
        let (lo, hi) = match ty {
            Type::Score => (0.0, 1.0),
            Type::Count => (0.0, f64::from(u32::MAX)),
            Type::Coordinate if path.ends_with("lat") => (-90.0, 90.0),
            Type::Coordinate => (-180.0, 180.0),
            _ => (f64::NEG_INFINITY, f64::INFINITY),
        };
        let (min, max) = (t.min.unwrap_or(lo), t.max.unwrap_or(hi));
        if min > max || min > hi || max < lo || min.is_nan() || max.is_nan() {
            return self.checker.err(
                raw,
                format!(
                    "`{path}` between {min} and {max} can never match (its values lie in \
                     {lo}..{hi})"
                ),
            );
        }
        if let Some(w) = t.one_of.iter().find(|w| t.none_of.contains(w)) {
            return self.checker.err(
                raw,
                format!("`{path}` both must and must not be {w:?}: this test never matches"),
            );
        }
        Ok(t)
    }

    fn word(&self, path: &str, ty: Type, w: &str, raw: &Spanned<RawTest>) -> Result<Word> {
        let w = w.trim();
        match ty {
            Type::Country | Type::Countries => match w {
                "recipient" => Ok(Word::Recipient),
                "sender" => Ok(Word::Sender),
                c if is_country_code(c) => Ok(Word::Literal(c.to_string())),
                c => self.checker.err(
                    raw,
                    format!(
                        "`{c}` is not a country code for `{path}` (an ISO 3166-1 alpha-2 code, \
                         `recipient` or `sender`)"
                    ),
                ),
            },
            Type::Word(vocabulary) => {
                let words = fields::words(vocabulary);
                // Accept the other spellings the vocabulary reads (`TLP:AMBER`).
                let canonical = match vocabulary {
                    "handling" => w.parse::<Handling>().ok().map(|h| h.name()),
                    "status" => w.parse::<Status>().ok().map(|s| s.name()),
                    _ => words.iter().find(|x| x.eq_ignore_ascii_case(w)).copied(),
                };
                match canonical {
                    Some(c) => Ok(Word::Literal(c.to_string())),
                    None => self.checker.err(
                        raw,
                        format!(
                            "`{w}` is not a value of `{path}` (expected one of {})",
                            words.join(", ")
                        ),
                    ),
                }
            }
            Type::Text | Type::Texts | Type::Date => Ok(Word::Literal(w.to_string())),
            _ => self.checker.err(
                raw,
                format!("`{path}` is not compared with words; use `min`/`max` or `present`"),
            ),
        }
    }
}
