//! One spelling for every word of the exchange's vocabulary.
//!
//! [`vocabulary!`] declares a closed set of words (a handling mark, a kind of
//! message, a conveyance…) once: each variant with the name files and logs
//! use, and the other spellings accepted when reading. From that one list it
//! derives `name()`, `ALL`, `FromStr` (names and aliases), `Display`, serde
//! (the name out; name or alias in) and a JSON Schema (`enum` of the names),
//! so the scenario format, the event log, `messages.jsonl`, MSEL tables,
//! reports and agreement files cannot drift apart.

/// A word that is not in one of the vocabulary's sets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{word}` (expected one of {expected})")]
pub struct UnknownWord {
    /// What kind of word was expected, e.g. `handling mark`.
    pub what: &'static str,
    /// The word as given.
    pub word: String,
    /// The names, comma separated.
    pub expected: String,
}

/// Declares a vocabulary enum; see the [module documentation](self).
///
/// ```ignore
/// vocabulary! {
///     /// doc
///     pub enum Conveyance ("conveyance") {
///         Truck = "truck",
///         Vessel = "vessel" | "ship",
///     }
/// }
/// ```
#[macro_export]
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $spelling:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every word of the set, in declaration order.
            pub const ALL: [$name; [$($spelling),+].len()] = [$($name::$variant),+];

            /// The word as files, logs and reports spell it.
            pub fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $spelling ),+
                }
            }

            /// Every spelling of the word that is read: its name, then its aliases.
            pub fn spellings(self) -> &'static [&'static str] {
                match self {
                    $( $name::$variant => &[$spelling $(, $alias)*] ),+
                }
            }

            /// The names, comma separated, for error messages.
            pub fn names() -> String {
                [$($spelling),+].join(", ")
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::model::UnknownWord;

            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                match s {
                    $( $spelling $(| $alias)* => Ok($name::$variant), )+
                    _ => Err($crate::model::UnknownWord {
                        what: $what,
                        word: s.to_string(),
                        expected: $name::names(),
                    }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(::serde::de::Error::custom)
            }
        }

        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({
                    "type": "string",
                    "enum": [$($spelling),+],
                })
            }
        }
    };
}
