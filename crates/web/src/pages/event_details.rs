//! A ledger event's details as a person reads them on a page: `key: value` pairs, not the
//! canonical JSON the chain hashes (which the exports carry unchanged).

use serde_json::{Map, Value};

/// `{"from":"Alpha","to":"Beta"}` reads `from: Alpha · to: Beta`; a nested value keeps its
/// compact JSON; no details read `—`.
pub(crate) fn readable(details: &Map<String, Value>) -> String {
    if details.is_empty() {
        return "—".to_owned();
    }
    details
        .iter()
        .map(|(key, value)| format!("{key}: {}", value_text(value)))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// [`readable`] for details held as any JSON value (an object, as the ledger keeps them).
pub(crate) fn readable_value(details: &Value) -> String {
    match details {
        Value::Object(map) => readable(map),
        other => other.to_string(),
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "—".to_owned(),
        Value::Array(items) if items.is_empty() => "none".to_owned(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: Value) -> String {
        readable_value(&value)
    }

    #[test]
    fn each_detail_reads_as_its_key_and_value() {
        assert_eq!(
            read(json!({"from": "Alpha", "to": "Beta"})),
            "from: Alpha · to: Beta"
        );
        assert_eq!(
            read(json!({"version": 2, "rotate": true})),
            "rotate: true · version: 2"
        );
    }

    #[test]
    fn an_empty_value_or_list_says_so_and_a_list_reads_as_its_items() {
        assert_eq!(read(json!({"recipient": null})), "recipient: —");
        assert_eq!(read(json!({"clients": []})), "clients: none");
        assert_eq!(read(json!({"scopes": ["a", "b"]})), "scopes: a, b");
        assert_eq!(read(json!({})), "—");
    }

    #[test]
    fn a_nested_object_keeps_its_json() {
        assert_eq!(
            read(json!({"usage": {"from": null, "to": "sales"}})),
            r#"usage: {"from":null,"to":"sales"}"#
        );
    }
}
