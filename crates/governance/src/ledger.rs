//! The ledger in the database: events appended inside the caller's transaction.
//!
//! Each org has one hash chain. An append locks the org's row in `ledger_heads` (`FOR
//! UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already holds the write lock), so
//! concurrent appends from any number of connections or processes queue up instead of
//! forking the chain, and `ledger_events`' primary key `(org_id, seq)` backs that up. If
//! the caller's transaction rolls back, its events and the head move go with it.

use audit::{ChainHead, Event, EventDraft, Hash, StoredEvent, Timestamp};
use chrono::{DateTime, Utc};

use crate::store::{Tx, dialect};
use crate::{Error, on_tx};

const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Appends `draft` to `org`'s chain at time `at`, inside `tx`, and returns the sealed event.
pub async fn append(
    tx: &mut Tx,
    org: &str,
    at: DateTime<Utc>,
    draft: EventDraft,
) -> Result<Event, Error> {
    let head = lock_head(tx, org).await?;
    let event = audit::seal(org, &head, at, draft)?;
    let stored = event.to_stored();
    let seq = to_i64(stored.seq)?;
    let insert = "INSERT INTO ledger_events (org_id, seq, at, actor, action, subject, details, prev, hash) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    let at_text = event.at().to_string();
    on_tx!(tx, conn => sqlx::query(insert)
        .bind(org)
        .bind(seq)
        .bind(&at_text)
        .bind(&stored.actor)
        .bind(&stored.action)
        .bind(&stored.subject)
        .bind(&stored.details)
        .bind(&stored.prev)
        .bind(&stored.hash)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    let update = "UPDATE ledger_heads SET seq = $2, hash = $3 WHERE org_id = $1";
    on_tx!(tx, conn => sqlx::query(update).bind(org).bind(seq).bind(&stored.hash).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(event)
}

/// Takes the org's chain lock now rather than at the append: a change whose check reads
/// other rows (a name no other client has) then sees every change committed before it, and
/// no other change that takes this lock before it writes can commit between its check and
/// its own commit.
pub(crate) async fn hold(tx: &mut Tx, org: &str) -> Result<(), Error> {
    lock_head(tx, org).await.map(drop)
}

/// The org's chain head, locked until `tx` ends; created at genesis on the first append.
async fn lock_head(tx: &mut Tx, org: &str) -> Result<ChainHead, Error> {
    let create = "INSERT INTO ledger_heads (org_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (org_id) DO NOTHING";
    on_tx!(tx, conn => sqlx::query(create).bind(org).bind(ZERO_HASH).execute(conn).await.map(|r| r.rows_affected()))?;
    let select = dialect::select_ledger_head_for_update(tx.backend());
    let (seq, hash): (i64, String) =
        on_tx!(tx, conn => sqlx::query_as(select).bind(org).fetch_one(conn).await)?;
    Ok(ChainHead {
        seq: u64::try_from(seq).map_err(|_| Error::LedgerCorrupt("a negative head seq"))?,
        hash: Hash::from_hex(&hash)?,
    })
}

/// Every event of `org` with `from <= seq <= to`, in order, re-hashed on the way out: a row
/// edited behind pinward's back is an error, not a silent lie.
pub async fn events(
    store: &crate::Store,
    org: &str,
    from: u64,
    to: u64,
) -> Result<Vec<Event>, Error> {
    let sql = "SELECT seq, at, actor, action, subject, details, prev, hash FROM ledger_events \
               WHERE org_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq";
    type Row = (i64, String, String, String, String, String, String, String);
    let rows: Vec<Row> = crate::on_read!(store, org, conn => sqlx::query_as(sql)
        .bind(org)
        .bind(to_i64(from)?)
        .bind(i64::try_from(to).unwrap_or(i64::MAX))
        .fetch_all(conn)
        .await)?;
    rows.into_iter()
        .map(|(seq, at, actor, action, subject, details, prev, hash)| {
            let stored = StoredEvent {
                seq: u64::try_from(seq).map_err(|_| Error::LedgerCorrupt("a negative seq"))?,
                org: org.to_owned(),
                at: Timestamp::parse(&at)?.as_datetime(),
                actor,
                action,
                subject,
                details,
                prev,
                hash,
            };
            Ok(Event::from_stored(stored)?)
        })
        .collect()
}

fn to_i64(seq: u64) -> Result<i64, Error> {
    i64::try_from(seq).map_err(|_| Error::LedgerCorrupt("a seq beyond the database's range"))
}

#[cfg(test)]
mod tests {
    use audit::{Action, Actor, Checkpoint, CheckpointKey, Details, JsonlWriter, VerifyOptions};
    use pinward_tests::on_both_databases;

    use super::*;
    use crate::{DatabaseTarget, Store};

    async fn store_with_org(db: &pinward_tests::TestDb) -> Store {
        let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let sql = "INSERT INTO orgs (id, slug, name, created_at) VALUES ('acme', 'acme', 'Acme', '2026-01-01T00:00:00Z')";
        on_tx!(tx, conn => sqlx::query(sql).execute(conn).await.map(|r| r.rows_affected()))
            .unwrap();
        tx.commit().await.unwrap();
        store
    }

    fn draft(n: usize) -> EventDraft {
        EventDraft {
            actor: Actor::system(),
            action: Action::parse("pin.rotated").unwrap(),
            subject: format!("phone:{n}"),
            details: Details::empty(),
        }
    }

    /// Exports the whole chain and verifies it the way an auditor would.
    async fn verified_length(store: &Store) -> u64 {
        let events = events(store, "acme", 1, u64::MAX).await.unwrap();
        let mut writer = JsonlWriter::new(Vec::new());
        let mut head = ChainHead::GENESIS;
        for event in &events {
            writer.write_event(event).unwrap();
            head = ChainHead::from(event);
        }
        let key = CheckpointKey::generate();
        let signed = key
            .sign(Checkpoint::new("acme", &head, Utc::now()).unwrap())
            .unwrap();
        let text = writer.finish(&signed).unwrap();
        let options = VerifyOptions {
            pinned_key: Some(key.public_key()),
            ..VerifyOptions::default()
        };
        audit::verify_jsonl(text.as_slice(), &options)
            .unwrap()
            .events
    }

    on_both_databases! {
        async fn parallel_writers_on_many_connections_extend_one_unbroken_chain(db) {
            let store = store_with_org(&db).await;
            let writers = 4;
            let each = 25;
            let mut tasks = Vec::new();
            for writer in 0..writers {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    for n in 0..each {
                        let mut tx = store.begin().await.unwrap();
                        append(&mut tx, "acme", Utc::now(), draft(writer * 100 + n)).await.unwrap();
                        tx.commit().await.unwrap();
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
            assert_eq!(verified_length(&store).await, (writers * each) as u64);
        }

        async fn a_rolled_back_append_leaves_no_event_and_the_head_where_it_was(db) {
            let store = store_with_org(&db).await;
            let mut tx = store.begin().await.unwrap();
            let first = append(&mut tx, "acme", Utc::now(), draft(1)).await.unwrap();
            tx.commit().await.unwrap();

            let mut tx = store.begin().await.unwrap();
            append(&mut tx, "acme", Utc::now(), draft(2)).await.unwrap();
            tx.rollback().await.unwrap();

            let mut tx = store.begin().await.unwrap();
            let next = append(&mut tx, "acme", Utc::now(), draft(3)).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(next.seq(), 2);
            assert_eq!(next.prev(), first.hash());
            assert_eq!(verified_length(&store).await, 2);
        }
    }
}
