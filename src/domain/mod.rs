//! The pure domain: plain types and rules with no database, HTTP or I/O inside.
//! Everything here is unit-tested without a server.

pub mod access;
pub mod analytics;
pub mod canonical;
pub mod compliance;
pub mod efile;
pub mod merkle;
pub mod org;
pub mod pattern;
pub mod route;
pub mod text;
pub mod tracking;
pub mod workflow;

/// Declares a closed vocabulary as an enum with its stable wire names, parsing
/// and listing, so every term of SPEC section 1 is spelled in exactly one place.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident ($label:literal) { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
                 serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name used in the API, the database and TOML files.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::domain::UnknownTerm;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(crate::domain::UnknownTerm {
                        kind: $label,
                        value: s.to_owned(),
                        allowed: &[$($text),+],
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use vocabulary;

/// A word that is not part of a closed vocabulary, with the words that are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}` (expected one of: {})", allowed.join(", "))]
pub struct UnknownTerm {
    /// Which vocabulary was being parsed.
    pub kind: &'static str,
    /// What was given.
    pub value: String,
    /// What would have been accepted.
    pub allowed: &'static [&'static str],
}
