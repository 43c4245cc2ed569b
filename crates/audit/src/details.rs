//! An event's `details`: facts as a float-free JSON object, kept with its canonical text.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::Error;
use crate::canonical;

/// Deepest nesting of `details` (the details object itself is level 1).
pub const MAX_DETAILS_DEPTH: usize = 32;
/// Largest `details` as canonical JSON, in bytes.
pub const MAX_DETAILS_BYTES: usize = 64 * 1024;

/// The event's `details`: a JSON object of integers (within ±(2^53−1)), strings, booleans,
/// null, arrays and objects. Never a PIN, token or key: callers put ids and facts here.
///
/// The canonical text is what counts (equality, storage, export); the members are parsed
/// from it only when asked for, so an export, which reads stored text whose hash proves it
/// canonical, never builds them.
#[derive(Clone)]
pub struct Details {
    canonical: String,
    map: OnceLock<Map<String, Value>>,
}

impl PartialEq for Details {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}

impl Eq for Details {}

impl std::fmt::Debug for Details {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Details").field(&self.canonical).finish()
    }
}

impl Details {
    /// `{}`.
    #[must_use]
    pub fn empty() -> Self {
        Self {
            canonical: "{}".to_owned(),
            map: OnceLock::from(Map::new()),
        }
    }

    /// Details whose text a matching event hash has shown to be the canonical text that
    /// [`Details::from_map`] once produced (see `Event::from_stored`).
    pub(crate) fn proven_canonical(canonical: String) -> Self {
        Self {
            canonical,
            map: OnceLock::new(),
        }
    }

    /// Validates a JSON value as details.
    ///
    /// # Errors
    /// [`Error::DetailsNotObject`], [`Error::FloatNotAllowed`], [`Error::IntegerOutOfRange`],
    /// [`Error::DetailsTooDeep`], [`Error::DetailsTooLarge`].
    pub fn new(value: Value) -> Result<Self, Error> {
        match value {
            Value::Object(map) => Self::from_map(map),
            _ => Err(Error::DetailsNotObject),
        }
    }

    /// Validates a JSON object as details.
    ///
    /// # Errors
    /// As [`Details::new`].
    pub fn from_map(map: Map<String, Value>) -> Result<Self, Error> {
        check_depth(&map)?;
        let value = Value::Object(map);
        let canonical = canonical::to_canonical_string(&value)?;
        if canonical.len() > MAX_DETAILS_BYTES {
            return Err(Error::DetailsTooLarge {
                max: MAX_DETAILS_BYTES,
            });
        }
        match value {
            Value::Object(map) => Ok(Self {
                canonical,
                map: OnceLock::from(map),
            }),
            _ => Err(Error::DetailsNotObject),
        }
    }

    /// Parses details from JSON text (any formatting; it is re-canonicalized).
    ///
    /// # Errors
    /// [`Error::Json`] for text that is not JSON, otherwise as [`Details::new`].
    pub fn from_json(text: &str) -> Result<Self, Error> {
        Self::new(serde_json::from_str(text)?)
    }

    /// The members.
    #[must_use]
    pub fn as_map(&self) -> &Map<String, Value> {
        self.map.get_or_init(|| {
            // Only proven-canonical text gets here, and it parses to an object.
            match serde_json::from_str(&self.canonical) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            }
        })
    }

    /// The canonical (JCS) JSON text, as stored and exported.
    #[must_use]
    pub fn canonical(&self) -> &str {
        &self.canonical
    }
}

/// Checks container nesting; the details object is level 1, scalars do not count.
fn check_depth(map: &Map<String, Value>) -> Result<(), Error> {
    fn walk(value: &Value, level: usize) -> Result<(), Error> {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => return Ok(()),
        };
        if level > MAX_DETAILS_DEPTH {
            return Err(Error::DetailsTooDeep {
                max: MAX_DETAILS_DEPTH,
            });
        }
        for child in children {
            walk(child, level + 1)?;
        }
        Ok(())
    }
    map.values().try_for_each(|v| walk(v, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_refuse_floats_and_unsafe_integers() {
        assert!(matches!(
            Details::new(serde_json::json!({"a": [1.0]})),
            Err(Error::FloatNotAllowed)
        ));
        assert!(matches!(
            Details::new(serde_json::json!({"a": {"b": u64::MAX}})),
            Err(Error::IntegerOutOfRange)
        ));
        assert!(matches!(
            Details::new(serde_json::json!([1])),
            Err(Error::DetailsNotObject)
        ));
    }

    #[test]
    fn details_nested_too_deep_are_refused() {
        let mut v = serde_json::json!(1);
        for _ in 0..MAX_DETAILS_DEPTH {
            v = serde_json::json!([v]);
        }
        // {"a": [[...[1]...]]}: the object is level 1, so this is one level too many.
        assert!(matches!(
            Details::new(serde_json::json!({ "a": v.clone() })),
            Err(Error::DetailsTooDeep { .. })
        ));
        let Value::Array(inner) = v else {
            unreachable!()
        };
        assert!(Details::new(serde_json::json!({ "a": inner[0].clone() })).is_ok());
    }
}
