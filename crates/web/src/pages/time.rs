//! How the pages write a time: always UTC; to the minute beside other facts, to the second
//! in a list of events (two events a second apart stay apart).

use chrono::{DateTime, Utc};

/// `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn minute(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `YYYY-MM-DD HH:MM:SS`, for a column whose heading says UTC; elsewhere add " UTC".
pub(crate) fn second(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}
