//! The PIN and other plaintext secrets: parsed once, kept in zeroizing memory, never shown.
//!
//! [`Pin`] is exactly six ASCII digits (`0`–`9`; leading zeros are fine). It has no `Debug`,
//! `Display`, `Serialize` or `Clone`, so it cannot slip into a log line, an error, a derived
//! `Debug` or a second copy by accident; the digits are reached only through
//! [`Pin::expose`], which makes every use greppable. Equality is constant-time.
//!
//! [`Secret`] holds any other small secret (a Graph token, a key) the same way, except that
//! its `Debug` prints `Secret([REDACTED])` so structs holding one can still derive `Debug`.
//!
//! The digits live on the heap in a [`Zeroizing`] buffer allocated at its final size, so moving
//! a `Pin` moves a pointer, not the digits, and the one copy is wiped on drop.

use std::str::FromStr;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::Error;

/// Number of digits in a WhatsApp two-step verification PIN.
pub const PIN_LEN: usize = 6;

/// A WhatsApp two-step verification PIN: exactly six ASCII digits.
pub struct Pin(Zeroizing<String>);

impl Pin {
    /// Parses a PIN. Anything but exactly six ASCII digits (no spaces, signs or non-ASCII
    /// digits) is [`Error::InvalidPin`], which does not echo the input.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if text.len() == PIN_LEN && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(Zeroizing::new(text.to_owned())))
        } else {
            Err(Error::InvalidPin)
        }
    }

    /// The six digits. Call this only where the PIN must leave the process (the Graph API
    /// request) or be sealed; never to log or display it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Builds the PIN whose digits are `n` written with leading zeros (`n < 1_000_000`).
    pub(crate) fn from_index(n: u32) -> Result<Self, Error> {
        if n >= 1_000_000 {
            return Err(Error::InvalidPin);
        }
        let mut digits = Zeroizing::new(String::with_capacity(PIN_LEN));
        let mut divisor = 100_000;
        while divisor > 0 {
            let digit = (n / divisor) % 10;
            // `digit < 10`, so this is always `Some`.
            if let Some(c) = char::from_digit(digit, 10) {
                digits.push(c);
            }
            divisor /= 10;
        }
        Self::parse(&digits)
    }

    /// True if this PIN is one of the trivial patterns the generator never emits (see
    /// [`crate::generate`]). Useful to warn about a PIN that was chosen by a person.
    pub fn is_trivial(&self) -> bool {
        crate::generate::is_trivial(self.0.as_bytes())
    }
}

impl FromStr for Pin {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        Self::parse(text)
    }
}

impl ConstantTimeEq for Pin {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        // Both are always six bytes, so comparing lengths first leaks nothing.
        self.0.as_bytes().ct_eq(other.0.as_bytes())
    }
}

impl PartialEq for Pin {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Pin {}

/// A small secret other than a PIN (a Graph access token, a fingerprint key…), as bytes in a
/// zeroizing buffer. `Debug` is redacted; there is no `Display`, `Serialize` or `Clone`.
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Takes ownership of the bytes; they are wiped when the `Secret` is dropped.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub(crate) fn from_zeroizing(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    /// The secret bytes. Call this only where the secret must be used.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Secret {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self::new(text.into_bytes())
    }
}

impl ConstantTimeEq for Secret {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.as_slice().ct_eq(other.0.as_slice())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Secret {}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_ascii_digits_parse_and_expose_unchanged() {
        for text in ["000000", "012345", "999999", "480213"] {
            let pin = Pin::parse(text).unwrap();
            assert_eq!(pin.expose(), text);
        }
    }

    #[test]
    fn anything_but_six_ascii_digits_is_rejected() {
        for text in [
            "",
            "12345",
            "1234567",
            " 123456",
            "123456 ",
            "12345a",
            "+12345",
            "-12345",
            "１２３４５６",
            "١٢٣٤٥٦",
            "12 456",
            "123456\n",
            "12\u{0}456",
        ] {
            assert!(
                matches!(Pin::parse(text), Err(Error::InvalidPin)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn pins_compare_by_value() {
        assert!(Pin::parse("123450").unwrap() == Pin::parse("123450").unwrap());
        assert!(Pin::parse("123450").unwrap() != Pin::parse("123451").unwrap());
    }

    #[test]
    fn an_index_becomes_its_zero_padded_digits() {
        assert_eq!(Pin::from_index(0).unwrap().expose(), "000000");
        assert_eq!(Pin::from_index(42).unwrap().expose(), "000042");
        assert_eq!(Pin::from_index(999_999).unwrap().expose(), "999999");
        assert!(Pin::from_index(1_000_000).is_err());
    }

    /// Fails to compile if `T` implements the trait named by `$bound`: with the impl for
    /// `T: $bound` present, `<T as NotImplemented<_>>::check` becomes ambiguous (the trick of
    /// the `static_assertions` crate's `assert_not_impl_any!`).
    macro_rules! assert_not_impl {
        ($type:ty: $bound:path) => {{
            trait NotImplemented<A> {
                fn check() {}
            }
            impl<T: ?Sized> NotImplemented<()> for T {}
            struct IfImplemented;
            impl<T: ?Sized + $bound> NotImplemented<IfImplemented> for T {}
            <$type as NotImplemented<_>>::check();
        }};
    }

    #[test]
    fn a_pin_cannot_be_debugged_displayed_or_cloned() {
        // Compile-time proofs; `Serialize` cannot exist since the crate does not use serde.
        assert_not_impl!(Pin: std::fmt::Debug);
        assert_not_impl!(Pin: std::fmt::Display);
        assert_not_impl!(Pin: Clone);
        assert_not_impl!(Secret: std::fmt::Display);
        assert_not_impl!(Secret: Clone);
    }

    #[test]
    fn debug_of_errors_and_wrappers_never_shows_a_digit_of_the_pin() {
        let pin = Pin::parse("480213").unwrap();
        let has_digit = |shown: &str| shown.chars().any(|c| c.is_ascii_digit());

        // Every error a PIN can meet (parsing, sealing, opening) carries no digit at all, so
        // it cannot carry a digit of the PIN.
        let mut errors = vec![
            Error::NoRecipients,
            Error::Seal {
                reason: "age".to_owned(),
            },
        ];
        for text in ["48021", "4802134", "48021x", "４８０２１３", " 480213"] {
            errors.push(Pin::parse(text).err().unwrap());
        }
        for failure in [
            crate::OpenFailure::NoMatchingIdentity,
            crate::OpenFailure::Armor,
            crate::OpenFailure::Header,
            crate::OpenFailure::HeaderMac,
            crate::OpenFailure::Payload,
            crate::OpenFailure::UnexpectedPlaintext,
        ] {
            errors.push(Error::Open(failure));
        }
        for error in &errors {
            for shown in [
                format!("{error:?}"),
                format!("{error:#?}"),
                format!("{error}"),
            ] {
                assert!(!has_digit(&shown), "{shown}");
            }
        }

        // Wrappers that carry a PIN or something derived from it.
        let secret = Secret::new(pin.expose().as_bytes().to_vec());
        let shown = format!("{secret:?} {secret:#?}");
        assert!(!has_digit(&shown), "{shown}");
        let key = crate::FingerprintKey::generate();
        let shown = format!("{key:?}");
        assert!(!has_digit(&shown), "{shown}");
        // A fingerprint and a sealed PIN are hex and base64, so they hold digits, but never
        // the PIN.
        let fingerprint = key.fingerprint(&pin);
        let identity = crate::Identity::generate();
        let to = crate::Recipients::new([identity.recipient()]).unwrap();
        let sealed = crate::seal(&pin, &to).unwrap();
        for shown in [
            format!("{fingerprint:?}"),
            format!("{sealed:?}"),
            format!("{identity:?}"),
        ] {
            assert!(!shown.contains(pin.expose()), "{shown}");
        }
    }
}
