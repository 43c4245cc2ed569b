//! age X25519 recipients (`age1…` public keys): parsing single strings and recipients files,
//! and the non-empty list a secret is sealed to.
//!
//! A recipients file is what `age -R` reads: one recipient per line, `#` comments and blank
//! lines ignored, surrounding whitespace and CRLF endings tolerated. A bad line is reported by
//! its number and the kind of problem ([`LineProblem`]) only: the line may be a secret key
//! pasted by mistake, so its text never appears in an error.
//!
//! Only X25519 recipients are accepted. Post-quantum (`age1pq1…`), plugin (`age1yubikey1…`)
//! and SSH recipients are refused with [`LineProblem::UnsupportedKeyType`]: pinward's
//! identity is X25519, and an org's recovery export must open with the plain `age` tool.

use std::{fmt, str::FromStr};

use crate::{Error, LineProblem};

/// An age X25519 recipient: a public key, safe to display (`Display` gives `age1…`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Recipient(pub(crate) age::x25519::Recipient);

impl Recipient {
    /// Parses one `age1…` recipient; surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self, Error> {
        parse_line(text.trim()).map_err(Error::InvalidRecipient)
    }

    /// Parses a recipient a person is adding (a recovery key, a client's key): as [`parse`],
    /// and also refuses a key of low order ([`LineProblem::LowOrderKey`]), to which nothing
    /// can be sealed secretly and which [`crate::seal`] therefore refuses. It costs one X25519
    /// exchange, so recipients already stored are read back with [`parse`].
    ///
    /// [`parse`]: Self::parse
    pub fn parse_new(text: &str) -> Result<Self, Error> {
        let recipient = Self::parse(text)?;
        match low_order_problem(&recipient)? {
            Some(problem) => Err(Error::InvalidRecipient(problem)),
            None => Ok(recipient),
        }
    }
}

impl FromStr for Recipient {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        Self::parse(text)
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({})", self.0)
    }
}

/// A non-empty, duplicate-free list of recipients, in the order first given: for pinward the
/// service identity's recipient followed by the org's recovery recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipients(Vec<Recipient>);

impl Recipients {
    /// Collects recipients, dropping repeats. An empty list is [`Error::NoRecipients`].
    pub fn new(recipients: impl IntoIterator<Item = Recipient>) -> Result<Self, Error> {
        let mut list: Vec<Recipient> = Vec::new();
        for recipient in recipients {
            if !list.contains(&recipient) {
                list.push(recipient);
            }
        }
        if list.is_empty() {
            Err(Error::NoRecipients)
        } else {
            Ok(Self(list))
        }
    }

    /// Parses the text of a recipients file (see the module documentation). A malformed line is
    /// [`Error::InvalidRecipientLine`]; a file with no recipient is [`Error::NoRecipients`].
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::parse_with(text, |_| Ok(None))
    }

    /// Parses the text of a recipients file a person supplies: as [`parse`](Self::parse), and
    /// a key of low order is refused too, as in [`Recipient::parse_new`].
    pub fn parse_new(text: &str) -> Result<Self, Error> {
        Self::parse_with(text, low_order_problem)
    }

    /// Parses each line, then asks `check` what, if anything, is wrong with its recipient.
    fn parse_with(
        text: &str,
        check: fn(&Recipient) -> Result<Option<LineProblem>, Error>,
    ) -> Result<Self, Error> {
        let mut list = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let refused = |problem| Error::InvalidRecipientLine {
                line: index + 1,
                problem,
            };
            let recipient = parse_line(line).map_err(refused)?;
            if let Some(problem) = check(&recipient)? {
                return Err(refused(problem));
            }
            list.push(recipient);
        }
        Self::new(list)
    }

    /// The recipients, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Recipient> {
        self.0.iter()
    }

    /// How many distinct recipients there are (at least one).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a `Recipients` is never empty. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Recipients {
    type Item = &'a Recipient;
    type IntoIter = std::slice::Iter<'a, Recipient>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// What a key-looking line is, judged by its prefix alone (no key material is copied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    X25519Recipient,
    X25519Identity,
    UnsupportedRecipient,
    UnsupportedIdentity,
    Unknown,
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// Classifies a trimmed, non-empty, non-comment line.
pub(crate) fn classify(line: &str) -> KeyKind {
    if starts_with_ignore_case(line, "AGE-SECRET-KEY-1") {
        KeyKind::X25519Identity
    } else if starts_with_ignore_case(line, "AGE-SECRET-KEY-")
        || starts_with_ignore_case(line, "AGE-PLUGIN-")
        || line.contains("PRIVATE KEY")
    {
        KeyKind::UnsupportedIdentity
    } else if starts_with_ignore_case(line, "age1") {
        // Bech32 puts its separator at the last `1`; X25519 recipients have the human-readable
        // part `age`, post-quantum and plugin ones `age1pq`, `age1yubikey`…
        match line.rfind('1') {
            Some(3) => KeyKind::X25519Recipient,
            _ => KeyKind::UnsupportedRecipient,
        }
    } else if ["ssh-", "sk-ssh-", "sk-ecdsa-", "ecdsa-sha2-"]
        .iter()
        .any(|prefix| line.starts_with(prefix))
    {
        KeyKind::UnsupportedRecipient
    } else {
        KeyKind::Unknown
    }
}

/// [`LineProblem::LowOrderKey`] for a key of low order; `Err` only if aws-lc fails.
fn low_order_problem(recipient: &Recipient) -> Result<Option<LineProblem>, Error> {
    Ok(crate::stanza::is_low_order(recipient)?.then_some(LineProblem::LowOrderKey))
}

/// Parses a trimmed line that must be an X25519 recipient.
fn parse_line(line: &str) -> Result<Recipient, LineProblem> {
    match classify(line) {
        _ if line.is_empty() => Err(LineProblem::Empty),
        KeyKind::X25519Recipient => line
            .parse::<age::x25519::Recipient>()
            .map(Recipient)
            .map_err(|_| LineProblem::InvalidEncoding),
        KeyKind::X25519Identity | KeyKind::UnsupportedIdentity => {
            Err(LineProblem::SecretKeyNotRecipient)
        }
        KeyKind::UnsupportedRecipient => Err(LineProblem::UnsupportedKeyType),
        KeyKind::Unknown => Err(LineProblem::NotAKey),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "age1294qy9uw54gjuj4ffwp20950ryc63vrutzdvl5sajkl46hxumeysa3g9g7";

    #[test]
    fn an_x25519_recipient_parses_and_displays_unchanged() {
        let recipient = Recipient::parse(A).unwrap();
        assert_eq!(recipient.to_string(), A);
        assert_eq!(format!("{recipient:?}"), format!("Recipient({A})"));
        assert_eq!(Recipient::parse(&format!("  {A}\n")).unwrap(), recipient);
    }

    #[test]
    fn a_recipient_with_a_wrong_checksum_is_an_encoding_error() {
        let broken = format!("{}q", &A[..A.len() - 1]);
        assert!(matches!(
            Recipient::parse(&broken),
            Err(Error::InvalidRecipient(LineProblem::InvalidEncoding))
        ));
    }

    #[test]
    fn other_key_types_are_refused_by_kind() {
        let cases = [
            ("", LineProblem::Empty),
            (
                "age1pq1qqqqqqqqqqqqqqqqqqqqqqqq",
                LineProblem::UnsupportedKeyType,
            ),
            (
                "age1yubikey1qqqqqqqqqqqqqqqq",
                LineProblem::UnsupportedKeyType,
            ),
            (
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA",
                LineProblem::UnsupportedKeyType,
            ),
            ("AGE-SECRET-KEY-1QQQQ", LineProblem::SecretKeyNotRecipient),
            (
                "AGE-PLUGIN-YUBIKEY-1QQQ",
                LineProblem::SecretKeyNotRecipient,
            ),
            ("hello", LineProblem::NotAKey),
        ];
        for (text, problem) in cases {
            match Recipient::parse(text) {
                Err(Error::InvalidRecipient(found)) => assert_eq!(found, problem, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_recipients_file_skips_comments_and_blank_lines_and_drops_repeats() {
        let text = format!("# created by hand\n\n{A}\r\n   # indented comment\n{A}\n");
        let recipients = Recipients::parse(&text).unwrap();
        assert_eq!(recipients.len(), 1);
    }

    #[test]
    fn a_bad_line_is_reported_by_number_without_its_text() {
        let secret = "AGE-SECRET-KEY-1XSZ0FGJV7SX0QX4YCFG3SMJNSMR6EXCUVQF36NKXNTDGE7A0QL8QL4QSD4";
        let text = format!("# comment\n{A}\n\n{secret}\n");
        let error = Recipients::parse(&text).unwrap_err();
        assert!(matches!(
            error,
            Error::InvalidRecipientLine {
                line: 4,
                problem: LineProblem::SecretKeyNotRecipient
            }
        ));
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("XSZ0FGJV"), "{shown}");
        assert!(shown.contains("line 4"), "{shown}");
    }

    #[test]
    fn a_new_recipient_of_low_order_is_refused_and_a_sound_one_accepted() {
        let low_order = "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq5cu47z";
        assert!(
            Recipient::parse(low_order).is_ok(),
            "well-formed, so stored ones still load"
        );
        assert!(matches!(
            Recipient::parse_new(low_order),
            Err(Error::InvalidRecipient(LineProblem::LowOrderKey))
        ));
        assert_eq!(
            Recipient::parse_new(A).unwrap(),
            Recipient::parse(A).unwrap()
        );
        assert!(matches!(
            Recipient::parse_new("age1nonsense"),
            Err(Error::InvalidRecipient(LineProblem::InvalidEncoding))
        ));
    }

    #[test]
    fn an_empty_list_or_file_is_no_recipients() {
        assert!(matches!(Recipients::new([]), Err(Error::NoRecipients)));
        assert!(matches!(
            Recipients::parse("# nothing\n\n"),
            Err(Error::NoRecipients)
        ));
    }
}
