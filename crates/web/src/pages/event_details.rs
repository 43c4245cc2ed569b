//! A ledger event's details as a person reads them on a page: one name and value a line,
//! not the canonical JSON the chain hashes (which the exports carry unchanged). Each value
//! stands in an element of its own, so text inside a value (a note, a client's name) can
//! never pass for another detail.

use serde_json::{Map, Value};

/// One detail of an event.
pub(crate) struct Detail {
    pub(crate) key: String,
    pub(crate) value: String,
    /// The value is JSON `null` (shown muted, unlike the text "—").
    pub(crate) absent: bool,
}

/// The details in their canonical (key) order; a nested value keeps its compact JSON.
pub(crate) fn readable(details: &Map<String, Value>) -> Vec<Detail> {
    details
        .iter()
        .map(|(key, value)| Detail {
            key: key.clone(),
            absent: value.is_null(),
            value: value_text(value),
        })
        .collect()
}

/// [`readable`] for details held as any JSON value (an object, as the ledger keeps them).
pub(crate) fn readable_value(details: &Value) -> Vec<Detail> {
    match details {
        Value::Object(map) => readable(map),
        other => vec![Detail {
            key: String::new(),
            value: other.to_string(),
            absent: false,
        }],
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "—".to_owned(),
        // A list of plain words reads as the words; anything else keeps its JSON.
        Value::Array(items) if items.iter().all(Value::is_string) && !items.is_empty() => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: Value) -> Vec<(String, String, bool)> {
        readable_value(&value)
            .into_iter()
            .map(|d| (d.key, d.value, d.absent))
            .collect()
    }

    fn pair(key: &str, value: &str) -> (String, String, bool) {
        (key.to_owned(), value.to_owned(), false)
    }

    #[test]
    fn each_detail_is_its_own_name_and_value_in_key_order() {
        assert_eq!(
            read(json!({"to": "Beta", "from": "Alpha"})),
            [pair("from", "Alpha"), pair("to", "Beta")]
        );
        assert_eq!(
            read(json!({"version": 2, "rotate": true})),
            [pair("rotate", "true"), pair("version", "2")]
        );
    }

    #[test]
    fn text_that_looks_like_another_detail_stays_inside_its_own_value() {
        assert_eq!(
            read(json!({"to": "X · from: Y\nnote: Z"})),
            [pair("to", "X · from: Y\nnote: Z")]
        );
    }

    #[test]
    fn a_null_is_marked_absent_and_a_list_of_words_reads_as_the_words() {
        assert_eq!(
            read(json!({"recipient": null})),
            [("recipient".to_owned(), "—".to_owned(), true)]
        );
        assert_eq!(read(json!({"recipient": "—"})), [pair("recipient", "—")]);
        assert_eq!(
            read(json!({"scopes": ["a", "b"]})),
            [pair("scopes", "a, b")]
        );
        assert_eq!(read(json!({"clients": []})), [pair("clients", "[]")]);
        assert!(read(json!({})).is_empty());
    }

    #[test]
    fn a_nested_object_keeps_its_json() {
        assert_eq!(
            read(json!({"usage": {"from": null, "to": "sales"}})),
            [pair("usage", r#"{"from":null,"to":"sales"}"#)]
        );
    }
}
