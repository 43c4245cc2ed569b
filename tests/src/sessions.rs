//! Dashboard sessions as a test needs to bend them.

use sqlx::Connection;

use crate::{Backend, TestDb};

macro_rules! age_with {
    ($conn:expr) => {{
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, data FROM sessions")
            .fetch_all(&mut $conn)
            .await
            .expect("read the sessions");
        for (id, data) in rows {
            let mut data: serde_json::Value =
                serde_json::from_str(&data).expect("a session holds JSON");
            let Some(at) = data.pointer_mut("/signed_in/authenticated_at") else {
                continue;
            };
            let aged = at.as_i64().expect("unix seconds") - 3600;
            *at = serde_json::json!(aged);
            sqlx::query("UPDATE sessions SET data = $1 WHERE id = $2")
                .bind(data.to_string())
                .bind(id)
                .execute(&mut $conn)
                .await
                .expect("age a session");
        }
    }};
}

/// Makes every signed-in session's last password check an hour old, as if the person had
/// signed in long ago: the next step-up action (a reveal) asks for the password again.
pub async fn age_step_up(db: &TestDb) {
    match db.backend() {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url())
                .await
                .expect("connect to the test database");
            age_with!(conn);
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url())
                .await
                .expect("connect to the test database");
            age_with!(conn);
        }
    }
}
