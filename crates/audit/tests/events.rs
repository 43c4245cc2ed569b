//! Sealing events onto a chain, their canonical form, and the round trip through storage.
#![allow(clippy::unwrap_used)]

mod common;

use audit::{Action, Actor, ChainHead, Details, Error, Event, EventDraft, Hash, seal};
use chrono::{TimeZone, Utc};
use serde_json::json;

fn rotated() -> EventDraft {
    EventDraft {
        actor: Actor::user("42").unwrap(),
        action: Action::parse("pin.rotated").unwrap(),
        subject: "phone:1093".to_owned(),
        details: Details::new(json!({"version": 3})).unwrap(),
    }
}

#[test]
fn the_first_event_hashes_its_canonical_json_without_the_hash_member() {
    let at = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
        + chrono::Duration::nanoseconds(123_456_999);
    let event = seal("acme", &ChainHead::GENESIS, at, rotated()).unwrap();
    assert_eq!(event.seq(), 1);
    assert_eq!(event.prev(), Hash::ZERO);
    assert_eq!(event.at().to_string(), "2026-11-23T10:00:00.123456Z");
    // Computed independently: Python hashlib over the hand-written JCS text
    // {"action":"pin.rotated","actor":"user:42","at":"2026-11-23T10:00:00.123456Z",
    //  "details":{"version":3},"org":"acme","prev":"000…0","seq":1,"subject":"phone:1093"}
    assert_eq!(
        event.hash().to_hex(),
        "478c3010e0adbce1078d878ec3d5a4daeddb73cb657456ba42fdc74767d65c44"
    );
    assert_eq!(
        event.to_line().unwrap(),
        format!(
            "{{\"action\":\"pin.rotated\",\"actor\":\"user:42\",\"at\":\"2026-11-23T10:00:00.123456Z\",\
             \"details\":{{\"version\":3}},\"hash\":\"{}\",\"org\":\"acme\",\"prev\":\"{}\",\"seq\":1,\
             \"subject\":\"phone:1093\"}}",
            event.hash(),
            "0".repeat(64)
        )
    );
}

#[test]
fn each_event_links_to_the_previous_hash_with_the_next_seq() {
    let events = common::chain(5);
    for pair in events.windows(2) {
        assert_eq!(pair[1].seq(), pair[0].seq() + 1);
        assert_eq!(pair[1].prev(), pair[0].hash());
    }
    assert_eq!(events[0].seq(), 1);
}

#[test]
fn the_export_line_is_the_canonical_json_of_the_event_with_its_hash() {
    for event in common::chain(8) {
        let line = event.to_line().unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(audit::canonical::to_canonical_string(&value).unwrap(), line);
        assert_eq!(value.as_object().unwrap().len(), 9);
    }
}

#[test]
fn sealing_refuses_an_empty_org_and_a_genesis_with_a_non_zero_hash() {
    assert!(matches!(
        seal("", &ChainHead::GENESIS, Utc::now(), rotated()),
        Err(Error::InvalidOrg)
    ));
    let bogus = ChainHead {
        seq: 0,
        hash: Hash::from_bytes([1; 32]),
    };
    assert!(matches!(
        seal("acme", &bogus, Utc::now(), rotated()),
        Err(Error::BadGenesis { seq: 1 })
    ));
}

#[test]
fn the_sequence_stops_at_two_to_the_53_minus_one() {
    let head = ChainHead {
        seq: audit::canonical::MAX_SAFE_INTEGER,
        hash: Hash::from_bytes([7; 32]),
    };
    assert!(matches!(
        seal("acme", &head, Utc::now(), rotated()),
        Err(Error::SeqExhausted)
    ));
}

#[test]
fn a_stored_event_reads_back_identical() {
    for event in common::chain(8) {
        let stored = event.to_stored();
        assert_eq!(Event::from_stored(stored).unwrap(), event);
    }
}

#[test]
fn a_stored_event_whose_details_were_reformatted_still_reads_back() {
    let event = common::chain(3).pop().unwrap();
    let mut stored = event.to_stored();
    let value: serde_json::Value = serde_json::from_str(&stored.details).unwrap();
    stored.details = serde_json::to_string_pretty(&value).unwrap();
    assert_eq!(Event::from_stored(stored).unwrap(), event);
}

#[test]
fn a_stored_event_shows_its_details_members() {
    let event = common::chain(3).pop().unwrap();
    let read = Event::from_stored(event.to_stored()).unwrap();
    assert_eq!(read.details().as_map(), event.details().as_map());
    assert!(!read.details().as_map().is_empty());
}

#[test]
fn a_stored_event_whose_details_were_edited_is_refused() {
    let event = common::chain(2).pop().unwrap();
    let mut stored = event.to_stored();
    let mut value: serde_json::Value = serde_json::from_str(&stored.details).unwrap();
    value["edited"] = serde_json::Value::Bool(true);
    stored.details = serde_json::to_string(&value).unwrap();
    assert!(matches!(
        Event::from_stored(stored),
        Err(Error::HashMismatch { seq: 2 })
    ));
    let mut stored = event.to_stored();
    stored.details = "{\"not\": json".to_owned();
    assert!(matches!(Event::from_stored(stored), Err(Error::Json(_))));
}

#[test]
fn a_stored_event_edited_in_the_database_is_refused() {
    let event = common::chain(2).pop().unwrap();
    let mut stored = event.to_stored();
    stored.subject.push('x');
    assert!(matches!(
        Event::from_stored(stored),
        Err(Error::HashMismatch { seq: 2 })
    ));
    let mut stored = event.to_stored();
    stored.hash = stored.hash.to_uppercase();
    assert!(matches!(
        Event::from_stored(stored),
        Err(Error::InvalidHash)
    ));
}

#[test]
fn a_stored_first_event_must_link_to_zeros() {
    let event = common::chain(1).pop().unwrap();
    let mut stored = event.to_stored();
    stored.prev = "1".repeat(64);
    assert!(matches!(
        Event::from_stored(stored),
        Err(Error::BadGenesis { seq: 1 })
    ));
}

#[test]
fn a_hash_reads_back_from_its_64_lowercase_hex_digits_and_nothing_else() {
    for byte in 0..=u8::MAX {
        let hash = Hash::from_bytes([byte; 32]);
        assert_eq!(Hash::from_hex(&hash.to_hex()).unwrap(), hash);
    }
    let mut mixed = [0_u8; 32];
    for (i, b) in mixed.iter_mut().enumerate() {
        *b = u8::try_from(i * 8 + 3).unwrap();
    }
    let hash = Hash::from_bytes(mixed);
    assert_eq!(hash.to_hex(), hex::encode(mixed));
    assert_eq!(Hash::from_hex(&hex::encode(mixed)).unwrap(), hash);

    let good = "0123456789abcdef".repeat(4);
    let refused = [
        good.to_uppercase(),
        good.replacen('a', "g", 1),
        good[..63].to_owned(),
        format!("{good}0"),
        String::new(),
        "é".repeat(32),
        format!("{}\u{0}", &good[..63]),
        format!(" {}", &good[..63]),
    ];
    for text in refused {
        assert!(
            matches!(Hash::from_hex(&text), Err(Error::InvalidHash)),
            "{text:?}"
        );
    }
}
