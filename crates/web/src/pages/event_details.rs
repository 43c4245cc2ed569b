//! A ledger event's details as a person reads them on a page: one name and value a line,
//! not the canonical JSON the chain hashes (which the exports carry unchanged). Each value
//! stands in an element of its own, so text inside a value (a note, a client's name) can
//! never pass for another detail.
//!
//! Ids read as whom or what they stand for today, times as the dashboard writes them, a
//! change as "before → after", codes in the page's words. What the chain holds stays one
//! hover away: a detail shown otherwise carries its stored JSON.

use chrono::{DateTime, Utc};
use governance::health::Problem;
use governance::history::Names;
use governance::numbers::ChannelKind;
use serde_json::{Map, Value};

use super::time::minute;

/// One detail of an event.
pub(crate) struct Detail {
    pub(crate) key: String,
    pub(crate) value: String,
    /// Nothing was recorded: JSON `null`, or an empty text (shown muted, unlike the text "—").
    pub(crate) absent: bool,
    /// The value as the chain holds it, when it reads otherwise on the page.
    pub(crate) stored: Option<String>,
}

/// The details in their canonical (key) order; a `changed` object's fields stand as details
/// of their own ("… (changed)" should the event also hold a detail of that name).
pub(crate) fn readable(details: &Map<String, Value>, names: &Names) -> Vec<Detail> {
    // An event that is one change (`client.renamed`) reads as one: "change: A → B".
    if details.len() == 2 && details.contains_key("from") && details.contains_key("to") {
        return vec![detail("change", &Value::Object(details.clone()), names)];
    }
    let mut shown = Vec::with_capacity(details.len());
    for (key, value) in details {
        match (key.as_str(), value) {
            ("changed", Value::Object(fields)) => {
                shown.extend(fields.iter().map(|(k, v)| {
                    let mut changed = detail(k, v, names);
                    if details.contains_key(k) {
                        changed.key.push_str(" (changed)");
                    }
                    changed
                }));
            }
            _ => shown.push(detail(key, value, names)),
        }
    }
    shown
}

/// [`readable`] for details held as any JSON value (an object, as the ledger keeps them).
pub(crate) fn readable_value(details: &Value, names: &Names) -> Vec<Detail> {
    match details {
        Value::Object(map) => readable(map, names),
        other => vec![Detail {
            key: String::new(),
            value: other.to_string(),
            absent: false,
            stored: None,
        }],
    }
}

fn detail(key: &str, value: &Value, names: &Names) -> Detail {
    let text = shown(key, value, names);
    let plain = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // "waba_id" naming a WABA reads "WABA": the value is the name now, not the id.
    let named = value.as_str().is_some_and(|id| names.of(id).is_some());
    let key = match key.strip_suffix("_id") {
        Some(thing) if named => thing,
        _ => key,
    };
    let key = if key == "waba" {
        "WABA".to_owned()
    } else {
        key.replace('_', " ")
    };
    Detail {
        key,
        absent: is_absent(value),
        stored: (text != plain).then_some(value.to_string()),
        value: text,
    }
}

fn is_absent(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// `value`, stored under `key`, in the page's words.
fn shown(key: &str, value: &Value, names: &Names) -> String {
    match value {
        Value::Null => "—".to_owned(),
        Value::Bool(yes) => if *yes { "yes" } else { "no" }.to_owned(),
        Value::Number(n) => match n.as_i64() {
            // Meta's times come as seconds since 1970.
            Some(seconds) if key.ends_with("_at") => {
                DateTime::from_timestamp(seconds, 0).map_or_else(|| n.to_string(), minute)
            }
            _ => n.to_string(),
        },
        Value::String(text) => word(key, text, names),
        Value::Array(items) if items.is_empty() => "none".to_owned(),
        Value::Array(items) => items
            .iter()
            .map(|item| shown(key, item, names))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(fields) => match (fields.get("from"), fields.get("to"), fields.len()) {
            // A seat assigned again to its holder, beside one that changed hands.
            (Some(from), Some(to), 2) if from == to => {
                format!("{} (unchanged)", shown(key, to, names))
            }
            (Some(from), Some(to), 2) => {
                format!("{} → {}", shown(key, from, names), shown(key, to, names))
            }
            _ => match (fields.get("kind"), fields.get("value"), fields.len()) {
                (Some(Value::String(kind)), Some(Value::String(v)), 2) => {
                    format!("{}: {v}", channel_word(kind))
                }
                // A flat record (a handover's checklist): each field in words.
                _ if fields.values().all(|v| !v.is_object() && !v.is_array()) => fields
                    .iter()
                    .map(|(k, v)| format!("{}: {}", k.replace('_', " "), shown(k, v, names)))
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => value.to_string(),
            },
        },
    }
}

fn word(key: &str, text: &str, names: &Names) -> String {
    if text.is_empty() {
        return "—".to_owned();
    }
    if let Some(name) = names.of(text) {
        return name.to_owned();
    }
    if key == "problems"
        && let Ok(problem) = Problem::parse(text)
    {
        return problem.describe().to_owned();
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return minute(at.with_timezone(&Utc));
    }
    if text == "business_admin" {
        return "business admin".to_owned();
    }
    text.to_owned()
}

fn channel_word(kind: &str) -> &str {
    match ChannelKind::ALL.into_iter().find(|k| k.as_str() == kind) {
        Some(known) => super::number::channel(known),
        None => kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: Value) -> Vec<(String, String, bool)> {
        readable_value(&value, &Names::default())
            .into_iter()
            .map(|d| (d.key, d.value, d.absent))
            .collect()
    }

    fn pair(key: &str, value: &str) -> (String, String, bool) {
        (key.to_owned(), value.to_owned(), false)
    }

    #[test]
    fn a_checklist_reads_in_words_and_an_unchanged_seat_says_so() {
        let checklist =
            json!({"checklist": {"backup_channels_confirmed": true, "pin_escrowed": false}});
        assert_eq!(
            read(checklist),
            [pair(
                "checklist",
                "backup channels confirmed: yes, pin escrowed: no"
            )]
        );
        let seats =
            json!({"owner": {"from": "Ann", "to": "Ann"}, "manager": {"from": "Bob", "to": "Cat"}});
        assert_eq!(
            read(seats),
            [
                pair("manager", "Bob → Cat"),
                pair("owner", "Ann (unchanged)")
            ]
        );
    }

    #[test]
    fn each_detail_is_its_own_name_and_value_in_key_order() {
        assert_eq!(
            read(json!({"to": "Beta", "from": "Alpha", "by": "Cat"})),
            [pair("by", "Cat"), pair("from", "Alpha"), pair("to", "Beta")]
        );
        assert_eq!(
            read(json!({"to": "Beta", "from": "Alpha"})),
            [pair("change", "Alpha → Beta")],
            "an event that is one change reads as one"
        );
        assert_eq!(
            read(json!({"version": 2, "rotate": true, "released": false})),
            [
                pair("released", "no"),
                pair("rotate", "yes"),
                pair("version", "2")
            ]
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
    fn nothing_recorded_is_marked_absent_and_a_list_reads_as_its_words() {
        assert_eq!(
            read(json!({"recipient": null, "note": ""})),
            [
                ("note".to_owned(), "—".to_owned(), true),
                ("recipient".to_owned(), "—".to_owned(), true)
            ]
        );
        assert_eq!(read(json!({"recipient": "—"})), [pair("recipient", "—")]);
        assert_eq!(
            read(json!({"scopes": ["a", "b"]})),
            [pair("scopes", "a, b")]
        );
        assert_eq!(
            read(json!({"stale_versions": [1, 2]})),
            [pair("stale versions", "1, 2")]
        );
        assert_eq!(read(json!({"clients": []})), [pair("clients", "none")]);
        assert!(read(json!({})).is_empty());
    }

    #[test]
    fn a_change_reads_before_and_after_and_its_fields_stand_alone() {
        assert_eq!(
            read(
                json!({"changed": {"usage": {"from": null, "to": "sales"}, "activation_date": {"from": "2021-01-01", "to": "2022-02-02"}}, "recovery_email_flag": "personal"})
            ),
            [
                pair("activation date", "2021-01-01 → 2022-02-02"),
                pair("usage", "— → sales"),
                pair("recovery email flag", "personal")
            ]
        );
    }

    #[test]
    fn a_changed_field_named_like_another_detail_says_it_is_the_change() {
        assert_eq!(
            read(json!({"changed": {"usage": {"from": "a", "to": "b"}}, "usage": "b"})),
            [pair("usage (changed)", "a → b"), pair("usage", "b")]
        );
    }

    #[test]
    fn times_codes_and_channels_read_in_the_pages_words() {
        assert_eq!(
            read(
                json!({"last_onboarded_at": 1_737_755_082, "next_review_due": "2027-02-23T01:29:18Z"})
            ),
            [
                pair("last onboarded at", "2025-01-24 21:44 UTC"),
                pair("next review due", "2027-02-23 01:29 UTC")
            ]
        );
        assert_eq!(
            read(json!({"problems": ["no_owner", "few_backup_channels", "something_new"]})),
            [pair(
                "problems",
                "no main owner, fewer than two backup channels, something_new"
            )]
        );
        assert_eq!(
            read(
                json!({"backup_channels": {"from": [], "to": [{"kind": "email", "value": "a@b.example"}, {"kind": "web_form", "value": "https://b.example/help"}]}})
            ),
            [pair(
                "backup channels",
                "none → email: a@b.example, web form: https://b.example/help"
            )]
        );
    }

    #[test]
    fn a_detail_shown_otherwise_keeps_what_the_chain_holds() {
        let details = json!({"version": 2, "last_onboarded_at": 1_737_755_082, "note": "as typed"});
        let stored: Vec<Option<String>> = readable_value(&details, &Names::default())
            .into_iter()
            .map(|d| d.stored)
            .collect();
        assert_eq!(stored, [Some("1737755082".to_owned()), None, None]);
    }

    #[test]
    fn a_nested_object_of_another_shape_keeps_its_json() {
        assert_eq!(
            read(json!({"limits": {"per_hour": {"max": 10}, "burst": [2]}})),
            [pair("limits", r#"{"burst":[2],"per_hour":{"max":10}}"#)]
        );
    }
}
