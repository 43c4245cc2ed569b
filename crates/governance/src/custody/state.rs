//! The PIN state of a number, and the row custody reads under its lock.

use chrono::{DateTime, Utc};

use crate::store::{Tx, dialect};
use crate::{Error, on_tx};

/// Where a number's PIN stands (DESIGN.md "Domain").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PinState {
    /// Found at Meta, no escrowed PIN: the take-custody queue.
    Unknown,
    /// The PIN Meta holds is the current escrowed version.
    Escrowed,
    /// A new version is pending and being sent.
    Rotating,
    /// A send's outcome is not known: the pending and the current version are both kept.
    Uncertain,
    /// Handed to the client; no more rotations unless it is taken back into custody.
    Released,
}

impl PinState {
    /// Every state, in the order a number usually passes through them.
    pub const ALL: [PinState; 5] = [
        PinState::Unknown,
        PinState::Escrowed,
        PinState::Rotating,
        PinState::Uncertain,
        PinState::Released,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PinState::Unknown => "unknown",
            PinState::Escrowed => "escrowed",
            PinState::Rotating => "rotating",
            PinState::Uncertain => "uncertain",
            PinState::Released => "released",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> Option<PinState> {
        Some(match text {
            "unknown" => PinState::Unknown,
            "escrowed" => PinState::Escrowed,
            "rotating" => PinState::Rotating,
            "uncertain" => PinState::Uncertain,
            "released" => PinState::Released,
            _ => return None,
        })
    }
}

impl std::fmt::Display for PinState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A number as custody sees it.
#[derive(Debug, Clone)]
pub(crate) struct NumberRow {
    pub id: String,
    pub waba_id: String,
    pub meta_id: String,
    pub pin_state: PinState,
    pub connector: String,
    pub onprem_base_url: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub send_failures: i64,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    bool,
    String,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
    i64,
);

/// The number `meta_id` of `org`, locked until `tx` ends; `NotFound` if the org has none.
pub(crate) async fn lock_number(tx: &mut Tx, org: &str, meta_id: &str) -> Result<NumberRow, Error> {
    let sql = dialect::select_number_for_update(tx.backend());
    let row: Option<Row> = on_tx!(tx, conn => sqlx::query_as(sql)
        .bind(org)
        .bind(meta_id)
        .fetch_optional(conn)
        .await)?;
    let Some((
        id,
        waba_id,
        meta_id,
        _display,
        state,
        _stale,
        connector,
        url,
        owner,
        until,
        failures,
    )) = row
    else {
        return Err(Error::NotFound {
            what: "phone number",
        });
    };
    let pin_state = PinState::parse(&state).ok_or_else(|| Error::Invalid {
        field: "pin_state",
        problem: "the database holds an unknown state".to_owned(),
    })?;
    Ok(NumberRow {
        id,
        waba_id,
        meta_id,
        pin_state,
        connector,
        onprem_base_url: url,
        lease_owner: owner,
        lease_until: until,
        send_failures: failures,
    })
}

/// Runs one statement inside `tx` and returns the rows it changed.
#[macro_export]
#[doc(hidden)]
macro_rules! exec {
    ($tx:expr, $sql:expr $(, $bind:expr)* $(,)?) => {
        $crate::on_tx!($tx, conn => sqlx::query($sql)$(.bind($bind))*.execute(conn).await.map(|r| r.rows_affected()))
    };
}
