//! Ledger time: UTC with microsecond precision, in exactly one written form.

use std::fmt;
use std::ops::Range;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

use crate::Error;

/// A UTC instant with microsecond precision, written `2026-11-23T10:00:00.123456Z`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// Truncates `at` to microseconds.
    ///
    /// # Errors
    /// [`Error::InvalidTimestamp`] for a leap second or a year outside 0001–9999.
    pub fn new(at: DateTime<Utc>) -> Result<Self, Error> {
        if at.nanosecond() >= 1_000_000_000 || !(1..=9999).contains(&at.year()) {
            return Err(Error::InvalidTimestamp);
        }
        DateTime::<Utc>::from_timestamp_micros(at.timestamp_micros())
            .map(Self)
            .ok_or(Error::InvalidTimestamp)
    }

    /// Parses exactly the form this type writes.
    ///
    /// # Errors
    /// [`Error::InvalidTimestamp`] for anything else (other offsets, fewer or more digits,
    /// impossible dates, second 60).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let [year, month, day, hour, minute, second, micro] =
            timestamp_fields(text).ok_or(Error::InvalidTimestamp)?;
        let year = i32::try_from(year).map_err(|_| Error::InvalidTimestamp)?;
        NaiveDate::from_ymd_opt(year, month, day)
            .and_then(|d| d.and_hms_micro_opt(hour, minute, second, micro))
            .map(|dt| Self(dt.and_utc()))
            .ok_or(Error::InvalidTimestamp)
    }

    /// The instant.
    #[must_use]
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// The 27 ASCII bytes of the written form.
    pub(crate) fn to_bytes(self) -> [u8; 27] {
        let mut out = *b"0000-00-00T00:00:00.000000Z";
        let d = self.0;
        let fields: [(usize, usize, u32); 7] = [
            (0, 4, d.year().unsigned_abs()),
            (5, 2, d.month()),
            (8, 2, d.day()),
            (11, 2, d.hour()),
            (14, 2, d.minute()),
            (17, 2, d.second()),
            (20, 6, d.nanosecond() / 1000),
        ];
        for (start, width, mut value) in fields {
            for i in (start..start + width).rev() {
                // `value % 10` is below 10, so the cast keeps it exactly.
                out[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        out
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.to_bytes();
        f.write_str(std::str::from_utf8(&bytes).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

/// Year, month, day, hour, minute, second, microsecond of a timestamp in the one written
/// form, if it is one and names a real instant (no second 60, no year 0).
pub(crate) fn timestamp_fields(text: &str) -> Option<[u32; 7]> {
    let b = text.as_bytes();
    let separators_ok = b.len() == 27
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[26] == b'Z';
    if !separators_ok {
        return None;
    }
    let num = |r: Range<usize>| {
        b[r].iter().try_fold(0_u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let fields = [
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
        num(20..26)?,
    ];
    let [year, month, day, hour, minute, second, _] = fields;
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    let valid =
        year >= 1 && (1..=month_days).contains(&day) && hour <= 23 && minute <= 59 && second <= 59;
    valid.then_some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_with_six_digits() {
        let t = Timestamp::parse("2026-11-23T10:00:00.123456Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-23T10:00:00.123456Z");
        let t = Timestamp::parse("0001-01-01T00:00:00.000000Z").unwrap();
        assert_eq!(t.to_string(), "0001-01-01T00:00:00.000000Z");
    }

    #[test]
    fn timestamps_in_other_forms_are_refused() {
        for bad in [
            "2026-11-23T10:00:00.12345Z",
            "2026-11-23T10:00:00.1234567Z",
            "2026-11-23T10:00:00.123456+00:00",
            "2026-11-23 10:00:00.123456Z",
            "2026-02-29T10:00:00.123456Z",
            "2026-11-23T24:00:00.000000Z",
            "2026-11-23T23:59:60.000000Z",
            "0000-01-01T00:00:00.000000Z",
            "2026-11-23t10:00:00.123456Z",
            "2026-11-23T10:00:00.123456z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
        assert!(Timestamp::parse("2024-02-29T10:00:00.000000Z").is_ok());
    }

    #[test]
    fn nanoseconds_are_truncated_to_microseconds() {
        let at = DateTime::<Utc>::from_timestamp(1_800_000_000, 123_456_789).unwrap();
        assert_eq!(
            Timestamp::new(at).unwrap().to_string(),
            "2027-01-15T08:00:00.123456Z"
        );
    }
}
