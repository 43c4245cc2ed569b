//! Signed checkpoints of each org's chain, stored so that the history of heads the service
//! vouched for survives in the database.
//!
//! A checkpoint is signed at every export and, while the service runs, periodically for
//! every org whose chain moved since its last one: an auditor holding any of them can prove
//! later exports extend what was signed, and an edit behind the service's back shows up as
//! a head that no longer matches.

use audit::{ChainHead, Checkpoint, CheckpointKey, Hash, SignedCheckpoint, Timestamp};
use chrono::{DateTime, Utc};

use crate::store::Tx;
use crate::{Error, Store, on_pool, on_tx};

/// Signs `head` of `org` at `at` and stores the checkpoint inside `tx`.
pub async fn sign_and_store(
    tx: &mut Tx,
    key: &CheckpointKey,
    org: &str,
    head: &ChainHead,
    at: DateTime<Utc>,
) -> Result<SignedCheckpoint, Error> {
    let signed = key.sign(Checkpoint::new(org, head, at)?)?;
    let checkpoint = signed.checkpoint();
    let insert = "INSERT INTO ledger_checkpoints (id, org_id, seq, head, at, signature, key) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let id = uuid::Uuid::now_v7().to_string();
    let seq = i64::try_from(checkpoint.seq())
        .map_err(|_| Error::LedgerCorrupt("a seq beyond the database's range"))?;
    let head_hex = checkpoint.head().to_hex();
    let at_text = checkpoint.at().to_string();
    let signature = signed.signature_base64();
    let public = signed.key().to_base64();
    on_tx!(tx, conn => sqlx::query(insert)
        .bind(&id)
        .bind(org)
        .bind(seq)
        .bind(&head_hex)
        .bind(&at_text)
        .bind(&signature)
        .bind(&public)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(signed)
}

/// Signs a checkpoint for every org whose chain head is past its latest checkpoint, and
/// returns how many were signed. The service runs this periodically.
pub async fn sign_moved_heads(
    store: &Store,
    key: &CheckpointKey,
    now: DateTime<Utc>,
) -> Result<usize, Error> {
    // Cross-org by design: the org list has no row-level security, and each org's head is
    // read and signed inside that org's own tenant-scoped transaction.
    let moved = "SELECT h.seq, h.hash FROM ledger_heads h WHERE h.org_id = $1 \
                 AND h.seq > COALESCE((SELECT MAX(c.seq) FROM ledger_checkpoints c WHERE c.org_id = h.org_id), 0)";
    let orgs: Vec<String> = on_pool!(store, pool => sqlx::query_scalar("SELECT id FROM orgs ORDER BY id").fetch_all(pool).await)?;
    let mut signed = 0;
    for org in orgs {
        let mut tx = store.begin_for(&org).await?;
        let row: Option<(i64, String)> =
            on_tx!(tx, conn => sqlx::query_as(moved).bind(&org).fetch_optional(conn).await)?;
        let Some((seq, hash)) = row else {
            tx.rollback().await?;
            continue;
        };
        let head = ChainHead {
            seq: u64::try_from(seq).map_err(|_| Error::LedgerCorrupt("a negative head seq"))?,
            hash: Hash::from_hex(&hash)?,
        };
        sign_and_store(&mut tx, key, &org, &head, now).await?;
        tx.commit().await?;
        signed += 1;
    }
    Ok(signed)
}

/// The most recent stored checkpoint of `org`, if any.
pub async fn latest(store: &Store, org: &str) -> Result<Option<SignedCheckpoint>, Error> {
    let sql = "SELECT seq, head, at, signature, key FROM ledger_checkpoints \
               WHERE org_id = $1 ORDER BY seq DESC, at DESC LIMIT 1";
    let row: Option<CheckpointRow> = crate::on_read!(store, org, conn => sqlx::query_as(sql).bind(org).fetch_optional(conn).await)?;
    row.map(|row| signed(org, row)).transpose()
}

/// The most recent stored checkpoint of `org` at or below `seq` that `key` signed, if any;
/// its signature is verified (a row claiming the key with a bad signature is an error).
pub async fn latest_signed_by(
    store: &Store,
    org: &str,
    key: &audit::PublicKey,
    seq: u64,
) -> Result<Option<SignedCheckpoint>, Error> {
    let sql = "SELECT seq, head, at, signature, key FROM ledger_checkpoints \
               WHERE org_id = $1 AND key = $2 AND seq <= $3 ORDER BY seq DESC, at DESC LIMIT 1";
    let seq = i64::try_from(seq)
        .map_err(|_| Error::LedgerCorrupt("a seq beyond the database's range"))?;
    let row: Option<CheckpointRow> = crate::on_read!(store, org, conn => sqlx::query_as(sql)
        .bind(org).bind(key.to_base64()).bind(seq).fetch_optional(conn).await)?;
    row.map(|row| signed(org, row)).transpose()
}

/// A `ledger_checkpoints` row: seq, head, at, signature, key.
type CheckpointRow = (i64, String, String, String, String);

fn signed(org: &str, row: CheckpointRow) -> Result<SignedCheckpoint, Error> {
    let (seq, head, at, signature, key) = row;
    let head = ChainHead {
        seq: u64::try_from(seq).map_err(|_| Error::LedgerCorrupt("a negative checkpoint seq"))?,
        hash: Hash::from_hex(&head)?,
    };
    let checkpoint = Checkpoint::new(org, &head, Timestamp::parse(&at)?.as_datetime())?;
    Ok(SignedCheckpoint::from_parts(checkpoint, &signature, &key)?)
}
