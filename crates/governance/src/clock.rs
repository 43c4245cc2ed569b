//! The time stamps pinward stores: UTC to the microsecond, the precision PostgreSQL keeps,
//! so a value reads back equal to what was written on both databases.

use chrono::{DateTime, SubsecRound, Utc};

/// Now, to the microsecond.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
