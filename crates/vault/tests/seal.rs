//! Sealing and opening through the public API: every recipient opens, others cannot, and
//! damaged or foreign ciphertext fails with a typed error.

#![allow(clippy::unwrap_used, clippy::panic)]

use vault::{Error, Identity, LineProblem, OpenFailure, Pin, Recipients, Secret, open, seal};

fn four_identities() -> (Identity, Vec<Identity>, Recipients) {
    let service = Identity::generate();
    let recovery: Vec<Identity> = (0..3).map(|_| Identity::generate()).collect();
    let recipients = Recipients::new(
        std::iter::once(service.recipient()).chain(recovery.iter().map(Identity::recipient)),
    )
    .unwrap();
    (service, recovery, recipients)
}

#[test]
fn a_pin_sealed_to_four_recipients_opens_with_each_of_them() {
    let (service, recovery, recipients) = four_identities();
    let pin = Pin::parse("048213").unwrap();
    let sealed = seal(&pin, &recipients).unwrap();
    for identity in std::iter::once(&service).chain(&recovery) {
        let opened: Pin = open(&sealed, identity).unwrap();
        assert!(opened == pin);
    }
}

#[test]
fn sealed_output_is_armored_and_never_contains_the_pin() {
    let (_, _, recipients) = four_identities();
    let pin = Pin::parse("048213").unwrap();
    let sealed = seal(&pin, &recipients).unwrap();
    let text = sealed.as_str();
    assert!(
        text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("-----END AGE ENCRYPTED FILE-----"),
        "{text}"
    );
    assert!(!text.contains("048213"));
    // Sealing twice gives different ciphertexts (fresh file key and ephemeral shares).
    assert_ne!(seal(&pin, &recipients).unwrap(), sealed);
}

#[test]
fn an_identity_that_is_not_a_recipient_cannot_open() {
    let (_, _, recipients) = four_identities();
    let sealed = seal(&Pin::parse("048213").unwrap(), &recipients).unwrap();
    let stranger = Identity::generate();
    assert!(matches!(
        open::<Pin>(&sealed, &stranger),
        Err(Error::Open(OpenFailure::NoMatchingIdentity))
    ));
}

#[test]
fn a_token_secret_round_trips_through_the_same_api() {
    let (service, _, recipients) = four_identities();
    let token = Secret::from(String::from("EAAG-example-graph-token"));
    let sealed = seal(&token, &recipients).unwrap();
    let opened: Secret = open(sealed.as_str(), &service).unwrap();
    assert_eq!(opened.expose(), b"EAAG-example-graph-token");
    let empty: Secret = open(
        seal(&Secret::new(Vec::new()), &recipients).unwrap(),
        &service,
    )
    .unwrap();
    assert!(empty.expose().is_empty());
}

#[test]
fn a_sealed_token_opened_as_a_pin_is_refused_without_showing_it() {
    let (service, _, recipients) = four_identities();
    let sealed = seal(&Secret::from(String::from("12345678")), &recipients).unwrap();
    let error = open::<Pin>(&sealed, &service).err().unwrap();
    assert!(matches!(
        error,
        Error::Open(OpenFailure::UnexpectedPlaintext)
    ));
    assert!(!format!("{error} {error:?}").contains("1234"));
}

#[test]
fn damaged_ciphertext_is_a_typed_failure() {
    let (service, _, recipients) = four_identities();
    let sealed = seal(&Pin::parse("048213").unwrap(), &recipients)
        .unwrap()
        .into_string();

    // Every single-character change inside the armored body must fail to open; none may
    // open to a different PIN.
    let body_start = sealed.find('\n').unwrap() + 1;
    let body_end = sealed.rfind("-----END").unwrap();
    for index in body_start..body_end {
        let original = sealed.as_bytes()[index];
        if original == b'\n' {
            continue;
        }
        let replacement = if original == b'A' { b'B' } else { b'A' };
        let mut damaged = sealed.clone().into_bytes();
        damaged[index] = replacement;
        match open::<Pin>(&damaged, &service) {
            Err(Error::Open(_)) => {}
            Ok(_) => panic!("a change at byte {index} still opened"),
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }

    for junk in [&b""[..], b"   ", b"hello", b"-----BEGIN PGP MESSAGE-----\n"] {
        assert!(matches!(open::<Pin>(junk, &service), Err(Error::Open(_))));
    }
    let truncated = &sealed.as_bytes()[..sealed.len() / 2];
    assert!(matches!(
        open::<Pin>(truncated, &service),
        Err(Error::Open(_))
    ));
}

#[test]
fn armor_surrounded_by_whitespace_still_opens() {
    let (service, _, recipients) = four_identities();
    let sealed = seal(&Pin::parse("048213").unwrap(), &recipients).unwrap();
    let padded = format!("\n \t\r\n{}\n\n  ", sealed.as_str());
    let opened: Pin = open(padded, &service).unwrap();
    assert_eq!(opened.expose(), "048213");
}

/// The age header inside an armored seal, as text.
fn header_of(sealed: &vault::Sealed) -> String {
    use base64::{Engine, prelude::BASE64_STANDARD};
    let body: String = sealed
        .as_str()
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let binary = BASE64_STANDARD.decode(body).unwrap();
    let end = binary.windows(4).position(|w| w == b"\n---").unwrap();
    String::from_utf8(binary[..end].to_vec()).unwrap()
}

#[test]
fn each_recipient_gets_an_x25519_stanza_of_its_own_with_a_fresh_ephemeral_share() {
    let (_, _, recipients) = four_identities();
    let sealed = seal(&Pin::parse("048213").unwrap(), &recipients).unwrap();
    let header = header_of(&sealed);
    let mut lines = header.lines();
    assert_eq!(lines.next(), Some("age-encryption.org/v1"));
    let mut shares = Vec::new();
    while let Some(line) = lines.next() {
        let stanza = line.strip_prefix("-> ").unwrap();
        // A body is base64 in lines of 64 characters, ended by a shorter one.
        let mut body = Vec::new();
        for body_line in lines.by_ref() {
            body.push(body_line);
            if body_line.len() < 64 {
                break;
            }
        }
        // age also writes one "grease" stanza with a random tag, which readers skip.
        let Some(share) = stanza.strip_prefix("X25519 ") else {
            continue;
        };
        // The 32-byte ephemeral share, then the wrapped file key (16 bytes of key and 16 of
        // Poly1305 tag), each as unpadded base64.
        assert_eq!(share.len(), 43, "{header}");
        assert_eq!(body, [body[0]], "{header}");
        assert_eq!(body[0].len(), 43, "{header}");
        shares.push(share.to_owned());
    }
    assert_eq!(shares.len(), 4);
    shares.sort();
    shares.dedup();
    assert_eq!(shares.len(), 4, "an ephemeral share was reused: {header}");
}

/// Every X25519 public key of low order, in its canonical and non-canonical encodings (the
/// top bit is ignored, as RFC 7748 says): 0, 1, the two points of order 8, p − 1, p and
/// p + 1 (little-endian).
fn low_order_keys() -> Vec<vault::Recipient> {
    let mut keys: Vec<[u8; 32]> = vec![[0; 32], {
        let mut one = [0; 32];
        one[0] = 1;
        one
    }];
    for hex_key in [
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    ] {
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex_key[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        keys.push(bytes.try_into().unwrap());
    }
    for low in [0xec, 0xed, 0xee] {
        let mut near_p = [0xff; 32];
        (near_p[0], near_p[31]) = (low, 0x7f);
        keys.push(near_p);
    }
    let with_top_bit: Vec<[u8; 32]> = keys
        .iter()
        .map(|key| {
            let mut high = *key;
            high[31] |= 0x80;
            high
        })
        .collect();
    keys.extend(with_top_bit);
    let hrp = bech32::Hrp::parse("age").unwrap();
    keys.iter()
        .map(|key| {
            let text = bech32::encode::<bech32::Bech32>(hrp, key).unwrap();
            vault::Recipient::parse(&text).unwrap()
        })
        .collect()
}

#[test]
fn a_recipient_key_of_low_order_is_refused_rather_than_sealed_to_a_key_anyone_can_compute() {
    // Its exchange gives the all-zero secret whatever the ephemeral key, so the wrapped file
    // key would be readable by anyone. age's own recipient panics on such a key.
    let (service, _, _) = four_identities();
    for weak in low_order_keys() {
        let recipients = Recipients::new([service.recipient(), weak.clone()]).unwrap();
        assert!(
            matches!(
                seal(&Pin::parse("048213").unwrap(), &recipients),
                Err(Error::InvalidRecipient(LineProblem::LowOrderKey))
            ),
            "{weak}"
        );
        assert!(
            matches!(
                vault::Recipient::parse_new(&weak.to_string()),
                Err(Error::InvalidRecipient(LineProblem::LowOrderKey))
            ),
            "{weak}"
        );
    }
}

#[test]
fn a_recipients_file_supplied_by_a_person_names_the_line_of_a_low_order_key() {
    let sound = Identity::generate().recipient();
    let weak = low_order_keys().remove(2);
    let text = format!("# recovery keys\n{sound}\n{weak}\n");
    assert_eq!(
        Recipients::parse(&text).unwrap().len(),
        2,
        "stored files still load"
    );
    assert!(matches!(
        Recipients::parse_new(&text),
        Err(Error::InvalidRecipientLine {
            line: 3,
            problem: LineProblem::LowOrderKey
        })
    ));
    assert_eq!(
        Recipients::parse_new(&format!("{sound}\n")).unwrap().len(),
        1
    );
}

#[test]
fn a_sound_key_is_never_mistaken_for_one_of_low_order() {
    for _ in 0..200 {
        let sound = Identity::generate().recipient();
        assert_eq!(
            vault::Recipient::parse_new(&sound.to_string()).unwrap(),
            sound
        );
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

    #[test]
    fn any_secret_sealed_to_any_number_of_recipients_opens_with_each_and_only_them(
        secret in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        count in 1usize..6,
    ) {
        let identities: Vec<Identity> = (0..count).map(|_| Identity::generate()).collect();
        let recipients = Recipients::new(identities.iter().map(Identity::recipient)).unwrap();
        let sealed = seal(&Secret::new(secret.clone()), &recipients).unwrap();
        for identity in &identities {
            let opened: Secret = open(&sealed, identity).unwrap();
            proptest::prop_assert_eq!(opened.expose(), &secret[..]);
        }
        proptest::prop_assert!(open::<Secret>(&sealed, &Identity::generate()).is_err());
    }
}

#[test]
fn sealing_to_nobody_is_impossible() {
    assert!(matches!(Recipients::new([]), Err(Error::NoRecipients)));
}

#[test]
fn vault_types_can_be_shared_across_threads_and_blocking_tasks() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Identity>();
    shareable::<Recipients>();
    shareable::<Pin>();
    shareable::<Secret>();
    shareable::<vault::Sealed>();
    shareable::<vault::FingerprintKey>();
    shareable::<Error>();
}
