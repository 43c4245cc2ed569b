//! Meta object ids (phone number, WABA, business, app): numeric strings, parsed once.
//!
//! Ids go into URL paths, so only ASCII digits are accepted: nothing can turn an id into
//! another path (`../`, `?`, `/`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a Meta id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a Meta id is 1 to 32 ASCII digits")]
pub struct IdParseError;

/// How a message names `text` refused as an id: quoted when short, by its length when
/// long, since a long paste may be a token pasted into the wrong field.
#[must_use]
pub fn described(text: &str) -> String {
    let length = text.chars().count();
    if length <= 40 {
        format!("`{text}`")
    } else {
        format!("an id of {length} characters")
    }
}

macro_rules! meta_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses an id: 1 to 32 ASCII digits.
            pub fn parse(s: &str) -> Result<Self, IdParseError> {
                if s.is_empty() || s.len() > 32 || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(IdParseError);
                }
                Ok($name(s.to_owned()))
            }

            /// The id as Meta writes it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdParseError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $name::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

meta_id!(
    /// A business phone number id (`phone_number_id`), not the display number.
    PhoneNumberId
);
meta_id!(
    /// A WhatsApp Business Account id.
    WabaId
);
meta_id!(
    /// A business portfolio (Business Manager) id.
    BusinessId
);
meta_id!(
    /// A Meta app id.
    AppId
);

impl AppId {
    /// For an id this crate generated itself (the sandbox's app id: digits by construction).
    pub(crate) fn from_generated(digits: String) -> Self {
        debug_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        AppId(digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_with_a_slash_or_dots_is_refused() {
        for bad in ["", "12/34", "..", "12a", "1 2", "١٢"] {
            assert!(PhoneNumberId::parse(bad).is_err(), "{bad}");
        }
        assert!(PhoneNumberId::parse(&"1".repeat(33)).is_err());
    }

    #[test]
    fn ids_deserialize_only_when_numeric() {
        assert!(serde_json::from_str::<WabaId>("\"102290129340398\"").is_ok());
        assert!(serde_json::from_str::<WabaId>("\"../x\"").is_err());
    }
}
