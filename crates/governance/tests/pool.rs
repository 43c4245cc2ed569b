//! The connection pool on PostgreSQL: a connection is not checked each time it is taken
//! (sqlx checks it when it comes back), only after it sat idle long enough to have been
//! dropped by the server or the network in between.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use governance::{DatabaseTarget, Store};
use pinward_tests::{Backend, TestDb};

#[tokio::test]
async fn a_postgresql_connection_the_server_dropped_while_idle_is_replaced_before_a_query_gets_it()
{
    let db = TestDb::new(Backend::Postgres).await;
    let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
        .await
        .unwrap();
    store.ping().await.unwrap();
    // What a server restart or a proxy's idle timeout does to the pool's connections.
    db.execute(&["SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()"])
        .await;
    // Longer than a connection may sit idle before it is checked on its way out.
    tokio::time::sleep(Duration::from_secs(6)).await;
    store.ping().await.unwrap();
}
