//! RFC 8785 (JCS) canonical JSON for the float-free values the ledger holds.
//!
//! Ledger events contain strings, integers, booleans, null, arrays and objects, never floats.
//! For that subset JCS is: object members sorted by their keys compared as UTF-16 code units,
//! no insignificant whitespace, UTF-8 output, strings with the shortest escapes (`\"`, `\\`,
//! `\b \f \n \r \t`, other controls as lowercase `\u00xx`, everything else literal), and
//! integers in plain decimal. serde_json's string escaping is exactly that, so strings go
//! through serde_json; only the member order and the number policy are ours.
//!
//! Why hand-written (../shared/STACK.md trap 7): the JCS crates format numbers as IEEE doubles
//! and so round integers above 2^53 silently (two different events, one hash). Here a float or
//! an integer beyond ±(2^53−1) is an error, never a guess.
//!
//! Key order is computed here rather than trusted from `serde_json::Map`, whose order depends
//! on a Cargo feature (`preserve_order`) that any crate in the build can switch on.

use std::cmp::Ordering;

use serde::Serializer as _;
use serde_json::{Map, Value};

use crate::Error;

/// The largest integer magnitude JCS represents exactly: 2^53 − 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The canonical JSON text of `value`.
///
/// # Errors
/// [`Error::FloatNotAllowed`] or [`Error::IntegerOutOfRange`] for numbers outside the subset.
pub fn to_canonical_string(value: &Value) -> Result<String, Error> {
    let mut out = Vec::new();
    write_canonical(value, &mut out)?;
    // Every byte came from serde_json's UTF-8 output or ASCII punctuation.
    String::from_utf8(out).map_err(|_| Error::Json(serde::ser::Error::custom("non-UTF-8 JSON")))
}

/// Appends the canonical JSON text of `value` to `out`.
///
/// # Errors
/// [`Error::FloatNotAllowed`] or [`Error::IntegerOutOfRange`]; `out` then holds a partial text.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), Error> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => out.integer(integer_of(n)?),
        Value::String(s) => write_string(s, out)?,
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(map, out)?,
    }
    Ok(())
}

/// The integer value of a JSON number, if it is one within ±(2^53−1).
pub(crate) fn integer_of(n: &serde_json::Number) -> Result<i64, Error> {
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= MAX_SAFE_INTEGER {
            return Ok(i);
        }
        return Err(Error::IntegerOutOfRange);
    }
    if n.is_u64() {
        return Err(Error::IntegerOutOfRange);
    }
    // With serde_json's `arbitrary_precision` a huge integer is neither i64 nor u64 but has
    // no fraction or exponent; it is out of range, not a float.
    let text = n.to_string();
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return Err(Error::IntegerOutOfRange);
    }
    Err(Error::FloatNotAllowed)
}

/// Appends `s` as a JSON string with serde_json's escaping, which is JCS's.
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) -> Result<(), Error> {
    let mut ser = serde_json::Serializer::new(&mut *out);
    ser.serialize_str(s)?;
    Ok(())
}

/// A string on its way into canonical JSON.
#[derive(Clone, Copy)]
pub(crate) enum Str<'a> {
    /// Known to need no escaping: it came out of a JSON parser without any escape (raw
    /// control characters are invalid JSON, and raw `"` or `\\` end or start one), or it is
    /// validated ASCII without them. Written as `"` + text + `"`.
    Verbatim(&'a str),
    /// Anything else, escaped by serde_json.
    Escape(&'a str),
}

impl<'a> Str<'a> {
    /// `Verbatim` for a string a parser borrowed from its input (it had no escapes).
    pub(crate) fn of_cow(text: &'a std::borrow::Cow<'a, str>) -> Self {
        match text {
            std::borrow::Cow::Borrowed(s) => Str::Verbatim(s),
            std::borrow::Cow::Owned(s) => Str::Escape(s),
        }
    }

    pub(crate) fn as_str(self) -> &'a str {
        match self {
            Str::Verbatim(s) | Str::Escape(s) => s,
        }
    }
}

/// Where canonical text goes: a buffer being written ([`Vec<u8>`]), or a text being checked
/// against what would be written ([`Matcher`]), which spares the verifier a copy per line.
pub(crate) trait Sink {
    /// Appends bytes.
    fn bytes(&mut self, bytes: &[u8]);
    /// Bytes appended so far.
    fn position(&self) -> usize;
    /// Appends a string that needs escaping.
    fn escaped(&mut self, text: &str) -> Result<(), Error>;

    /// Appends a JSON string.
    fn string(&mut self, text: Str<'_>) -> Result<(), Error> {
        match text {
            Str::Verbatim(s) => {
                self.bytes(b"\"");
                self.bytes(s.as_bytes());
                self.bytes(b"\"");
                Ok(())
            }
            Str::Escape(s) => self.escaped(s),
        }
    }

    /// Appends an integer in plain decimal.
    fn integer(&mut self, value: i64) {
        let mut digits = [0_u8; 20];
        let mut start = digits.len();
        let mut rest = value.unsigned_abs();
        loop {
            start -= 1;
            // `rest % 10` is below 10, so the cast keeps it exactly.
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if value < 0 {
            self.bytes(b"-");
        }
        self.bytes(&digits[start..]);
    }
}

impl Sink for Vec<u8> {
    fn bytes(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn position(&self) -> usize {
        self.len()
    }
    fn escaped(&mut self, text: &str) -> Result<(), Error> {
        write_string(text, self)
    }
}

/// Compares what would be written with an existing text instead of writing it.
pub(crate) struct Matcher<'a> {
    expected: &'a [u8],
    position: usize,
    equal: bool,
}

impl<'a> Matcher<'a> {
    pub(crate) fn new(expected: &'a [u8]) -> Self {
        Self {
            expected,
            position: 0,
            equal: true,
        }
    }

    /// Whether everything written so far is exactly the expected text.
    pub(crate) fn matched(&self) -> bool {
        self.equal && self.position == self.expected.len()
    }
}

impl Sink for Matcher<'_> {
    fn bytes(&mut self, bytes: &[u8]) {
        let end = self.position + bytes.len();
        if self.equal && self.expected.get(self.position..end) == Some(bytes) {
            self.position = end;
        } else {
            self.equal = false;
        }
    }
    fn position(&self) -> usize {
        self.position
    }
    fn escaped(&mut self, text: &str) -> Result<(), Error> {
        let mut escaped = Vec::with_capacity(text.len() + 2);
        write_string(text, &mut escaped)?;
        self.bytes(&escaped);
        Ok(())
    }
}

/// Orders two keys as JCS does: by UTF-16 code units, not by UTF-8 bytes or code points.
pub(crate) fn utf16_order(a: &str, b: &str) -> Ordering {
    // UTF-8 byte order equals code point order; it differs from UTF-16 order only when one
    // key has a supplementary character (surrogates D800–DFFF) where the other has
    // U+E000–U+FFFF. Comparing the UTF-16 streams directly avoids reasoning about that.
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_object(map: &Map<String, Value>, out: &mut Vec<u8>) -> Result<(), Error> {
    out.push(b'{');
    let in_order = {
        let mut keys = map.keys();
        let mut ok = true;
        if let Some(mut prev) = keys.next() {
            for key in keys {
                if utf16_order(prev, key) != Ordering::Less {
                    ok = false;
                    break;
                }
                prev = key;
            }
        }
        ok
    };
    if in_order {
        write_members(map.iter(), out)?;
    } else {
        let mut members: Vec<(&String, &Value)> = map.iter().collect();
        members.sort_by(|a, b| utf16_order(a.0, b.0));
        write_members(members.into_iter(), out)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_members<'a>(
    members: impl Iterator<Item = (&'a String, &'a Value)>,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    for (i, (key, value)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(key, out)?;
        out.push(b':');
        write_canonical(value, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn members_are_sorted_and_whitespace_removed() {
        let v = json!({"b": [1, 2, {"z": null, "a": true}], "a": "x"});
        assert_eq!(
            to_canonical_string(&v).unwrap(),
            r#"{"a":"x","b":[1,2,{"a":true,"z":null}]}"#
        );
    }

    #[test]
    fn a_float_is_refused() {
        assert!(matches!(
            to_canonical_string(&json!({"a": 1.5})),
            Err(Error::FloatNotAllowed)
        ));
    }

    #[test]
    fn integers_beyond_two_to_the_53_are_refused() {
        for n in [
            json!(9_007_199_254_740_992_u64),
            json!(u64::MAX),
            json!(-9_007_199_254_740_992_i64),
        ] {
            assert!(
                matches!(to_canonical_string(&n), Err(Error::IntegerOutOfRange)),
                "{n}"
            );
        }
        assert_eq!(
            to_canonical_string(&json!(9_007_199_254_740_991_u64)).unwrap(),
            "9007199254740991"
        );
        assert_eq!(
            to_canonical_string(&json!(-9_007_199_254_740_991_i64)).unwrap(),
            "-9007199254740991"
        );
    }
}
