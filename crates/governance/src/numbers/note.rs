//! Free text people write that goes into the ledger (handover and review notes): bounded,
//! and never carrying something that looks like a PIN, since the ledger cannot forget.

use crate::Error;

/// Trims `text` and checks it: present when `required`, at most `max` characters, no
/// control characters but newlines, and no run of six digits.
///
/// # Errors
/// [`Error::Invalid`] naming `field`.
pub(crate) fn ledgered(
    field: &'static str,
    text: &str,
    required: bool,
    max: usize,
) -> Result<String, Error> {
    let text = text.trim();
    let problem = if required && text.is_empty() {
        "is required: write what the other side needs to know".to_owned()
    } else if text.chars().count() > max {
        format!("at most {max} characters")
    } else if text.chars().any(|c| c.is_control() && c != '\n') {
        "must not contain control characters".to_owned()
    } else if holds_six_digits(text) {
        "must not contain six digits in a row (a PIN is never written down; notes are ledgered)"
            .to_owned()
    } else {
        return Ok(text.to_owned());
    };
    Err(Error::Invalid { field, problem })
}

/// Whether `text` holds a run of six digits: what a PIN looks like. Such text is never
/// ledgered, and pages do not show it back either.
#[must_use]
pub fn holds_six_digits(text: &str) -> bool {
    let mut run = 0;
    text.chars().any(|c| {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        run >= 6
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_trimmed_bounded_and_never_holds_a_pin_like_number() {
        assert_eq!(ledgered("note", "  fine  ", true, 10).unwrap(), "fine");
        assert_eq!(ledgered("note", "", false, 10).unwrap(), "");
        for (text, required) in [
            (" ", true),
            ("x".repeat(11).as_str(), false),
            ("pin 482913", false),
            ("a\u{7}b", false),
        ] {
            assert!(
                matches!(
                    ledgered("note", text, required, 10),
                    Err(Error::Invalid { field: "note", .. })
                ),
                "{text:?}"
            );
        }
        assert!(ledgered("note", "call 12345 or 6", false, 100).is_ok());
    }
}
