//! The hand-written JCS against RFC 8785's own examples and a reference implementation.
#![allow(clippy::unwrap_used)]

use audit::Error;
use audit::canonical::{MAX_SAFE_INTEGER, to_canonical_string};
use proptest::prelude::*;
use serde_json::{Value, json};

fn canon(text: &str) -> Result<String, Error> {
    to_canonical_string(&serde_json::from_str::<Value>(text).unwrap())
}

#[test]
fn rfc_8785_sorting_example_orders_keys_by_utf16_code_units() {
    // RFC 8785 section 3.2.3: the keys and values are all strings, so the example fits whole.
    let input = r#"{
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\ud83d\ude00": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis"
    }"#;
    let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
        \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
        \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
    assert_eq!(canon(input).unwrap(), expected);
    // The emoji (UTF-16 D83D DE00) sorts before U+FB33 although its code point is larger:
    // code point or UTF-8 order would put it last.
    let out = canon(input).unwrap();
    assert!(out.find('\u{1f600}').unwrap() < out.find('\u{fb33}').unwrap());
}

#[test]
fn rfc_8785_main_example_without_its_numbers_matches() {
    // RFC 8785 section 3.2.2, minus the "numbers" member (floats are outside the ledger's subset).
    let input = r#"{
        "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
        "literals": [null, true, false]
    }"#;
    let expected =
        "{\"literals\":[null,true,false],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
    assert_eq!(canon(input).unwrap(), expected);
}

#[test]
fn rfc_8785_main_example_numbers_are_refused_not_rounded() {
    let input =
        r#"{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]}"#;
    assert!(matches!(canon(input), Err(Error::FloatNotAllowed)));
}

#[test]
fn rfc_8785_integer_examples_within_the_safe_range_print_plainly() {
    // Appendix B: 0, ±(2^53−1) print as plain decimals; 2^53 is beyond the safe range.
    assert_eq!(canon("0").unwrap(), "0");
    assert_eq!(canon("9007199254740991").unwrap(), "9007199254740991");
    assert_eq!(canon("-9007199254740991").unwrap(), "-9007199254740991");
    assert!(matches!(
        canon("9007199254740992"),
        Err(Error::IntegerOutOfRange)
    ));
    assert!(matches!(
        canon("18446744073709551615"),
        Err(Error::IntegerOutOfRange)
    ));
    assert!(matches!(canon("-0"), Err(Error::FloatNotAllowed)));
}

#[test]
fn control_characters_use_short_escapes_where_jcs_has_them() {
    let v = json!("\u{8}\u{9}\u{a}\u{c}\u{d}\u{0}\u{1f}\u{7f}\u{2028}/");
    assert_eq!(
        to_canonical_string(&v).unwrap(),
        "\"\\b\\t\\n\\f\\r\\u0000\\u001f\u{7f}\u{2028}/\""
    );
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        // Around the places where UTF-16 and code point order disagree.
        "[a-z\u{0}-\u{1f}\u{d7ff}\u{e000}-\u{e002}\u{fffd}-\u{ffff}\u{10000}\u{1f600}\u{10ffff}]{0,4}",
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let safe = MAX_SAFE_INTEGER as i64;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-safe..=safe).prop_map(|i| json!(i)),
        prop_oneof![Just(safe), Just(-safe), Just(0_i64), -1000_i64..1000].prop_map(|i| json!(i)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn canonical_text_matches_serde_json_canonicalizer(v in value()) {
        let ours = to_canonical_string(&v).unwrap();
        let reference = serde_json_canonicalizer::to_string(&v).unwrap();
        prop_assert_eq!(ours, reference);
    }

    #[test]
    fn canonical_text_parses_back_to_the_same_value(v in value()) {
        let text = to_canonical_string(&v).unwrap();
        prop_assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }
}
