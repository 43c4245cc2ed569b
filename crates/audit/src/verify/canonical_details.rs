//! Canonical text of an event's `details`, written while serde parses it.
//!
//! The verifier only needs to know whether the details text is canonical, so instead of
//! building a `serde_json::Value` (allocating every key and string, re-sorting members) a
//! visitor writes the canonical form straight into a buffer as serde walks the text: members
//! must arrive in JCS order without repeats (a check of neighbours), strings the parser could
//! borrow had no escapes and are copied verbatim, numbers outside the ledger's subset (floats,
//! |n| > 2^53−1) stop the parse. Parsing stays serde_json's.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::canonical::{MAX_SAFE_INTEGER, Sink, Str, utf16_order};
use crate::error::Reason;

const NUMBER_ERROR: &str = "ledger numbers are integers within +-(2^53-1)";
const ORDER_ERROR: &str = "members out of canonical order or repeated";

/// Appends the canonical text of the JSON object `text` to `out`.
///
/// # Errors
/// [`Reason::WrongType`] if `text` is not an object, [`Reason::BadNumber`] for a number
/// outside the subset, [`Reason::NotCanonical`] for members out of order or repeated,
/// [`Reason::Malformed`] for text that is not JSON.
pub(super) fn write_canonical_object(text: &str, out: &mut Vec<u8>) -> Result<(), Reason> {
    if !text.starts_with('{') {
        return Err(Reason::WrongType {
            member: "details",
            expected: "an object",
        });
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let written = Canonical { out }
        .deserialize(&mut de)
        .and_then(|()| de.end());
    written.map_err(|e| {
        let message = e.to_string();
        if message.contains(NUMBER_ERROR) {
            Reason::BadNumber
        } else if message.contains(ORDER_ERROR) {
            Reason::NotCanonical
        } else {
            Reason::Malformed
        }
    })
}

/// A seed that parses a JSON object and appends its canonical text to `out` (errors as
/// [`write_canonical_object`], reported through the parser).
pub(super) struct CanonicalObject<'b> {
    pub(super) out: &'b mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for CanonicalObject<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(Canonical { out: self.out })
    }
}

/// Whether a parse error came from a number outside the subset.
pub(super) fn is_number_error(e: &serde_json::Error) -> bool {
    e.to_string().contains(NUMBER_ERROR)
}

struct Canonical<'b> {
    out: &'b mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for Canonical<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Canonical<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.out.bytes(b"null");
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.out.bytes(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        if v.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(E::custom(NUMBER_ERROR));
        }
        self.out.integer(v);
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        match i64::try_from(v) {
            Ok(i) if v <= MAX_SAFE_INTEGER => {
                self.out.integer(i);
                Ok(())
            }
            _ => Err(E::custom(NUMBER_ERROR)),
        }
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom(NUMBER_ERROR))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.out.string(Str::Verbatim(v)).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.out.string(Str::Escape(v)).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.bytes(b"[");
        let mut first = true;
        loop {
            let before = self.out.len();
            if !first {
                self.out.bytes(b",");
            }
            if seq
                .next_element_seed(Canonical {
                    out: &mut *self.out,
                })?
                .is_none()
            {
                // The comma went out before the end of the array was known.
                self.out.truncate(before);
                break;
            }
            first = false;
        }
        self.out.bytes(b"]");
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.out.bytes(b"{");
        let mut previous: Option<Cow<'de, str>> = None;
        while let Some(MaybeBorrowed(key)) = map.next_key()? {
            if let Some(previous) = &previous {
                if utf16_order(previous, &key) != Ordering::Less {
                    return Err(de::Error::custom(ORDER_ERROR));
                }
                self.out.bytes(b",");
            }
            self.out
                .string(Str::of_cow(&key))
                .map_err(de::Error::custom)?;
            self.out.bytes(b":");
            map.next_value_seed(Canonical {
                out: &mut *self.out,
            })?;
            previous = Some(key);
        }
        self.out.bytes(b"}");
        Ok(())
    }
}

/// A string, borrowed from the input when it had no escapes (`Cow`'s own `Deserialize`
/// always copies).
pub(super) struct MaybeBorrowed<'a>(pub(super) Cow<'a, str>);

impl<'de> de::Deserialize<'de> for MaybeBorrowed<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = MaybeBorrowed<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MaybeBorrowed(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MaybeBorrowed(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}
