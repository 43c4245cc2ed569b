//! Dashboard sessions in pinward's own database, for `tower-sessions`.
//!
//! Sessions live in the `sessions` table on SQLite or PostgreSQL like everything else, so
//! any number of pinward instances behind a load balancer share them and a restart signs
//! nobody out. [`SessionTable`] implements `tower-sessions`' [`SessionStore`] and
//! [`ExpiredDeletion`]; the web layer puts the signed-in user's id under [`USER_ID_KEY`],
//! which is also copied into a column so [`delete_for_user`] can end every session of a
//! user at once (sign out everywhere, deactivation, password change).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use time::OffsetDateTime;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store::{self, ExpiredDeletion, SessionStore};

use crate::{Error, Store, on_pool};

/// The key of a session's data that holds the signed-in user's id (a JSON string).
pub const USER_ID_KEY: &str = "user_id";

/// How many fresh ids [`SessionStore::create`] tries before giving up. A collision of
/// two random 128-bit ids is practically impossible; the bound only stops a broken
/// random source from looping forever.
const CREATE_ATTEMPTS: usize = 8;

/// The `sessions` table of a [`Store`], as a `tower-sessions` store.
#[derive(Debug, Clone)]
pub struct SessionTable {
    store: Store,
}

impl SessionTable {
    /// Sessions kept in `store`'s database.
    pub fn new(store: Store) -> Self {
        SessionTable { store }
    }
}

/// Deletes every session of `user_id`; returns how many there were.
pub async fn delete_for_user(store: &Store, user_id: &str) -> Result<u64, Error> {
    let sql = "DELETE FROM sessions WHERE user_id = $1";
    let deleted = on_pool!(store, pool => sqlx::query(sql)
        .bind(user_id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(deleted)
}

/// Deletes every session of `user_id` inside `tx`, so a deactivation and the sign-out it
/// forces commit together.
pub(crate) async fn delete_for_user_in(
    tx: &mut crate::store::Tx,
    user_id: &str,
) -> Result<u64, Error> {
    let sql = "DELETE FROM sessions WHERE user_id = $1";
    let deleted = crate::on_tx!(tx, conn => sqlx::query(sql)
        .bind(user_id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(deleted)
}

/// How many unexpired sessions `user_id` has (for "signed in on N devices").
pub async fn count_for_user(store: &Store, user_id: &str) -> Result<i64, Error> {
    let sql = "SELECT COUNT(*) FROM sessions WHERE user_id = $1 AND expires_at > $2";
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let count = on_pool!(store, pool => sqlx::query_scalar(sql)
        .bind(user_id)
        .bind(now)
        .fetch_one(pool)
        .await)?;
    Ok(count)
}

/// The columns of a record: its data as JSON text and the user id found in it.
fn columns(record: &Record) -> session_store::Result<(String, Option<String>)> {
    let data = serde_json::to_string(&record.data)
        .map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let user_id = record
        .data
        .get(USER_ID_KEY)
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    Ok((data, user_id))
}

fn backend(error: impl Into<Error>) -> session_store::Error {
    session_store::Error::Backend(error.into().to_string())
}

#[async_trait]
impl SessionStore for SessionTable {
    /// Inserts the record under a fresh id; on the (astronomically unlikely) collision with
    /// an existing session it draws another id rather than overwriting that session.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let (data, user_id) = columns(record)?;
        let sql = "INSERT INTO sessions (id, user_id, data, expires_at, created_at) \
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING";
        for _ in 0..CREATE_ATTEMPTS {
            let id = record.id.to_string();
            let inserted = on_pool!(self.store, pool => sqlx::query(sql)
                .bind(&id)
                .bind(&user_id)
                .bind(&data)
                .bind(record.expiry_date.unix_timestamp())
                .bind(Utc::now())
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))
            .map_err(backend)?;
            if inserted == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(session_store::Error::Backend(
            "no free session id after several attempts".to_owned(),
        ))
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        // Only ever an update: tower-sessions creates new sessions through `create`, and a
        // session deleted while a request was in flight (sign-out, deactivation, expiry)
        // must stay deleted when that request saves its copy at the end.
        let (data, user_id) = columns(record)?;
        let sql = "UPDATE sessions SET user_id = $2, data = $3, expires_at = $4 WHERE id = $1";
        on_pool!(self.store, pool => sqlx::query(sql)
            .bind(record.id.to_string())
            .bind(&user_id)
            .bind(&data)
            .bind(record.expiry_date.unix_timestamp())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let sql = "SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2";
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let row: Option<(String, i64)> = on_pool!(self.store, pool => sqlx::query_as(sql)
            .bind(id.to_string())
            .bind(now)
            .fetch_optional(pool)
            .await)
        .map_err(backend)?;
        let Some((data, expires_at)) = row else {
            return Ok(None);
        };
        let data: HashMap<String, serde_json::Value> =
            serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = OffsetDateTime::from_unix_timestamp(expires_at)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let sql = "DELETE FROM sessions WHERE id = $1";
        on_pool!(self.store, pool => sqlx::query(sql)
            .bind(id.to_string())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for SessionTable {
    async fn delete_expired(&self) -> session_store::Result<()> {
        let sql = "DELETE FROM sessions WHERE expires_at <= $1";
        let now = OffsetDateTime::now_utc().unix_timestamp();
        on_pool!(self.store, pool => sqlx::query(sql)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(backend)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use pinward_tests::on_both_databases;
    use time::Duration;

    use super::*;
    use crate::DatabaseTarget;

    async fn table(db: &pinward_tests::TestDb) -> (Store, SessionTable) {
        let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        (store.clone(), SessionTable::new(store))
    }

    fn record(user: Option<&str>, expires_in: Duration) -> Record {
        let mut data = HashMap::new();
        data.insert("csrf".to_owned(), serde_json::json!("token"));
        if let Some(user) = user {
            data.insert(USER_ID_KEY.to_owned(), serde_json::json!(user));
        }
        Record {
            id: Id::default(),
            data,
            // Whole seconds: the table keeps Unix seconds.
            expiry_date: OffsetDateTime::from_unix_timestamp(
                (OffsetDateTime::now_utc() + expires_in).unix_timestamp(),
            )
            .unwrap(),
        }
    }

    on_both_databases! {
        async fn a_created_session_loads_back_and_a_saved_change_replaces_it(db) {
            let (_, table) = table(&db).await;
            let mut first = record(None, Duration::minutes(30));
            table.create(&mut first).await.unwrap();
            assert_eq!(table.load(&first.id).await.unwrap(), Some(first.clone()));

            let mut changed = first.clone();
            changed.data.insert(USER_ID_KEY.to_owned(), serde_json::json!("u1"));
            changed.expiry_date += Duration::minutes(5);
            table.save(&changed).await.unwrap();
            assert_eq!(table.load(&first.id).await.unwrap(), Some(changed));
        }

        async fn saving_an_unknown_id_creates_nothing(db) {
            let (_, table) = table(&db).await;
            let fresh = record(Some("u1"), Duration::minutes(30));
            table.save(&fresh).await.unwrap();
            assert_eq!(table.load(&fresh.id).await.unwrap(), None);
        }

        async fn a_request_in_flight_when_its_user_is_signed_out_everywhere_does_not_bring_the_session_back(db) {
            let (store, table) = table(&db).await;
            let mut session = record(Some("ann"), Duration::minutes(30));
            table.create(&mut session).await.unwrap();
            let in_flight = table.load(&session.id).await.unwrap().unwrap();
            assert_eq!(delete_for_user(&store, "ann").await.unwrap(), 1);
            let mut touched = in_flight;
            touched.expiry_date += Duration::minutes(1);
            table.save(&touched).await.unwrap();
            assert_eq!(table.load(&session.id).await.unwrap(), None);
            assert_eq!(count_for_user(&store, "ann").await.unwrap(), 0);
        }

        async fn a_deleted_session_is_gone(db) {
            let (_, table) = table(&db).await;
            let mut session = record(Some("u1"), Duration::minutes(30));
            table.create(&mut session).await.unwrap();
            table.delete(&session.id).await.unwrap();
            assert_eq!(table.load(&session.id).await.unwrap(), None);
            // Deleting again is not an error.
            table.delete(&session.id).await.unwrap();
        }

        async fn an_expired_session_does_not_load_and_expired_deletion_removes_only_those(db) {
            let (store, table) = table(&db).await;
            let mut old = record(Some("u1"), Duration::seconds(-1));
            let mut live = record(Some("u1"), Duration::minutes(30));
            table.create(&mut old).await.unwrap();
            table.create(&mut live).await.unwrap();
            assert_eq!(table.load(&old.id).await.unwrap(), None);

            table.delete_expired().await.unwrap();
            let rows: i64 = on_pool!(store, pool => sqlx::query_scalar("SELECT COUNT(*) FROM sessions").fetch_one(pool).await).unwrap();
            assert_eq!(rows, 1);
            assert_eq!(table.load(&live.id).await.unwrap(), Some(live));
        }

        async fn deleting_a_users_sessions_ends_all_of_them_and_no_one_elses(db) {
            let (store, table) = table(&db).await;
            let mut laptop = record(Some("ann"), Duration::minutes(30));
            let mut phone = record(Some("ann"), Duration::minutes(30));
            let mut other = record(Some("bob"), Duration::minutes(30));
            let mut anonymous = record(None, Duration::minutes(30));
            for r in [&mut laptop, &mut phone, &mut other, &mut anonymous] {
                table.create(r).await.unwrap();
            }
            assert_eq!(count_for_user(&store, "ann").await.unwrap(), 2);

            assert_eq!(delete_for_user(&store, "ann").await.unwrap(), 2);
            assert_eq!(table.load(&laptop.id).await.unwrap(), None);
            assert_eq!(table.load(&phone.id).await.unwrap(), None);
            assert!(table.load(&other.id).await.unwrap().is_some());
            assert!(table.load(&anonymous.id).await.unwrap().is_some());
            assert_eq!(count_for_user(&store, "ann").await.unwrap(), 0);
        }

        async fn a_user_who_signs_in_on_an_anonymous_session_can_be_signed_out_everywhere(db) {
            let (store, table) = table(&db).await;
            let mut session = record(None, Duration::minutes(30));
            table.create(&mut session).await.unwrap();
            session.data.insert(USER_ID_KEY.to_owned(), serde_json::json!("ann"));
            table.save(&session).await.unwrap();
            assert_eq!(delete_for_user(&store, "ann").await.unwrap(), 1);
        }

        async fn creating_with_an_id_already_taken_draws_a_new_id_and_keeps_the_existing_session(db) {
            let (_, table) = table(&db).await;
            let mut existing = record(Some("ann"), Duration::minutes(30));
            table.create(&mut existing).await.unwrap();

            let mut colliding = record(Some("bob"), Duration::minutes(30));
            colliding.id = existing.id;
            table.create(&mut colliding).await.unwrap();

            assert_ne!(colliding.id, existing.id);
            assert_eq!(table.load(&existing.id).await.unwrap(), Some(existing));
            assert_eq!(table.load(&colliding.id).await.unwrap(), Some(colliding));
        }
    }
}
