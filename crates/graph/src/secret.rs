//! Secrets the client carries: access tokens, 2SV PINs, the app secret, Embedded Signup codes
//! and On-Premises admin passwords.
//!
//! Each is zeroized on drop, has a redacted `Debug`, and has no `Display` or `Serialize`: the
//! only way to read one is an explicit `expose()` (crate-private for PINs). `graph` does not
//! depend on `vault`; callers build a [`PinSecret`] from `vault`'s PIN with
//! `PinSecret::new(pin.expose())`.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::error::Error;

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(SecretString::from(s))
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(SecretString::from(s))
            }
        }
    };
}

secret_string!(
    /// A Graph (system-user, business-integration, app) or On-Premises bearer token.
    AccessToken
);
secret_string!(
    /// The Meta app secret: keys `appsecret_proof`, and is the code exchange's `client_secret`.
    AppSecret
);
secret_string!(
    /// A single-use Embedded Signup authorization code.
    SignupCode
);
secret_string!(
    /// An On-Premises API admin password.
    AdminPassword
);

impl AccessToken {
    /// The token itself, e.g. to seal it for storage.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl AppSecret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl SignupCode {
    /// The code itself.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl AdminPassword {
    /// The password itself.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// A 2SV PIN on its way to Meta: exactly six ASCII digits.
///
/// Built by the caller from `vault`'s PIN. No `Clone`, no way to read it back outside this
/// crate: it goes into one request body and is zeroized when dropped.
pub struct PinSecret(SecretString);

impl PinSecret {
    /// Takes the PIN's digits; refuses anything but six ASCII digits (the input is zeroized
    /// either way, and the error does not echo it).
    pub fn new(digits: impl Into<String>) -> Result<Self, Error> {
        let digits = Zeroizing::new(digits.into());
        if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidInput("a 2SV PIN is exactly six digits"));
        }
        Ok(PinSecret(SecretString::from(digits.as_str())))
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for PinSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinSecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_token_or_a_pin() {
        let t = AccessToken::from("EAAsecret-token");
        let p = PinSecret::new("482913").unwrap();
        let s = format!("{t:?} {p:?} {:?}", AppSecret::from("appsecret"));
        assert!(!s.contains("EAAsecret-token"));
        assert!(!s.contains("482913"));
        assert!(!s.contains("appsecret\""));
    }

    #[test]
    fn a_pin_with_five_digits_is_rejected() {
        assert!(PinSecret::new("12345").is_err());
    }

    #[test]
    fn a_pin_with_a_letter_or_unicode_digit_is_rejected() {
        assert!(PinSecret::new("12345a").is_err());
        assert!(PinSecret::new("12345٣").is_err());
        assert!(PinSecret::new("1234567").is_err());
    }

    #[test]
    fn the_error_does_not_echo_the_input() {
        let err = PinSecret::new("98765x").err().unwrap();
        assert!(!err.to_string().contains("98765"));
    }
}
