//! Property tests of the parsers that take outside input: PINs, recipient strings, recipients
//! files and identity files never panic, accept what they should (round-trip), and never echo
//! key material in their errors.

#![allow(clippy::unwrap_used)]

use age::secrecy::ExposeSecret;
use proptest::prelude::*;
use vault::{Error, Identity, Pin, Recipient, Recipients};

/// A fresh X25519 key pair as text: (secret `AGE-SECRET-KEY-1…`, public `age1…`).
fn key_pair() -> (String, String) {
    let identity = age::x25519::Identity::generate();
    (
        identity.to_string().expose_secret().to_owned(),
        identity.to_public().to_string(),
    )
}

/// Lines that a recipients or identity file may hold besides keys.
fn filler() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("   ".to_owned()),
        "# [ -~]{0,40}".prop_map(|s| s),
        "[ \t]{1,3}# comment".prop_map(|s| s),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn pin_parsing_never_panics_and_accepts_exactly_six_ascii_digits(text in any::<String>()) {
        let valid = text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit());
        match Pin::parse(&text) {
            Ok(pin) => { prop_assert!(valid); prop_assert_eq!(pin.expose(), text.as_str()); }
            Err(error) => {
                prop_assert!(!valid);
                prop_assert!(matches!(error, Error::InvalidPin));
                let shown = format!("{error:?}{error}");
                prop_assert!(!shown.chars().any(|c| c.is_ascii_digit()));
            }
        }
    }

    #[test]
    fn six_digit_strings_round_trip(text in "[0-9]{6}") {
        let pin = Pin::parse(&text).unwrap();
        prop_assert_eq!(pin.expose(), text.as_str());
    }

    #[test]
    fn recipient_parsing_never_panics(text in any::<String>()) {
        let _ = Recipient::parse(&text);
        let _ = Recipients::parse(&text);
        let _ = Identity::parse(&text);
    }

    #[test]
    fn bech32_lookalikes_never_panic(
        prefix in prop_oneof![Just("age1"), Just("AGE1"), Just("age1pq1"), Just("AGE-SECRET-KEY-1"), Just("AGE-SECRET-KEY-PQ-1")],
        data in "[qpzry9x8gf2tvdw0s3jn54khce6mua7l1QPZRY]{0,80}",
    ) {
        let text = format!("{prefix}{data}");
        let _ = Recipient::parse(&text);
        let _ = Identity::parse(&text);
    }

    #[test]
    fn recipients_files_round_trip_with_comments_and_blank_lines(
        count in 1usize..5,
        fillers in prop::collection::vec(filler(), 0..6),
        crlf in any::<bool>(),
    ) {
        let keys: Vec<String> = (0..count).map(|_| key_pair().1).collect();
        let mut lines: Vec<String> = fillers.clone();
        for (i, key) in keys.iter().enumerate() {
            lines.insert(i.min(lines.len()) * 2 % (lines.len() + 1), format!(" {key} "));
        }
        let text = lines.join(if crlf { "\r\n" } else { "\n" });
        let parsed = Recipients::parse(&text).unwrap();
        let expected = Recipients::new(keys.iter().map(|k| Recipient::parse(k).unwrap())).unwrap();
        prop_assert_eq!(parsed.len(), expected.len());
        for recipient in expected.iter() {
            prop_assert!(parsed.iter().any(|r| r == recipient));
            prop_assert_eq!(Recipient::parse(&recipient.to_string()).unwrap(), recipient.clone());
        }
    }

    #[test]
    fn a_bad_line_in_a_recipients_file_is_named_by_its_number(
        before in prop::collection::vec(filler(), 0..5),
        garbage in "[A-Za-z0-9+/=-]{1,60}",
    ) {
        let (_, public) = key_pair();
        let mut lines = before.clone();
        lines.push(public);
        lines.push(garbage.clone());
        let text = lines.join("\n");
        match Recipients::parse(&text) {
            Err(Error::InvalidRecipientLine { line, .. }) => prop_assert_eq!(line, lines.len()),
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn identity_files_round_trip_and_errors_never_echo_the_key(
        before in prop::collection::vec(filler(), 0..4),
        after in prop::collection::vec(filler(), 0..4),
        corrupt_at in any::<prop::sample::Index>(),
    ) {
        let (secret, public) = key_pair();
        let text = [before.clone(), vec![secret.clone()], after.clone()].concat().join("\n");
        prop_assert_eq!(Identity::parse(&text).unwrap().recipient().to_string(), public);

        // Corrupt one character of the key's data part: it must fail without echoing it.
        let data_start = "AGE-SECRET-KEY-1".len();
        let index = data_start + corrupt_at.index(secret.len() - data_start);
        let mut broken = secret.clone().into_bytes();
        broken[index] = if broken[index] == b'Q' { b'P' } else { b'Q' };
        let broken = String::from_utf8(broken).unwrap();
        let text = [before, vec![broken], after].concat().join("\n");
        match Identity::parse(&text) {
            Err(error) => {
                let shown = format!("{error} {error:?}");
                prop_assert!(!shown.contains(&secret[data_start..data_start + 12]), "{}", shown);
            }
            Ok(_) => prop_assert!(false, "a corrupted key parsed"),
        }
    }
}
