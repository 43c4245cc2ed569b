//! The timeouts of a signed-in session, on both databases: the idle one, which reading pages
//! moves without writing the session on every request, and the absolute one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::str::FromStr;

use axum::http::StatusCode;
use common::*;
use governance::access::Role;
use governance::sessions::SessionTable;
use pinward_tests::on_both_databases;
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};

/// The stored record of the session a `name=value` cookie names.
async fn record(table: &SessionTable, cookie: &str) -> Record {
    let id = Id::from_str(cookie.split_once('=').unwrap().1).unwrap();
    table
        .load(&id)
        .await
        .unwrap()
        .expect("the session is stored")
}

on_both_databases! {
    async fn reading_pages_right_after_sign_in_leaves_the_stored_session_as_it_was(db) {
        let store = store(&db).await;
        org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        let table = SessionTable::new(store.clone());
        let app = router(store, &db, None);
        let cookie = sign_in(&app, "ann@example.com").await;
        let before = record(&table, &cookie).await;

        for path in ["/", "/numbers", "/numbers?q=555", "/"] {
            let response = send(&app, get_as(path, &cookie)).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert!(response.headers().get("set-cookie").is_none(), "nothing to save: {path}");
        }

        let after = record(&table, &cookie).await;
        assert_eq!(after.expiry_date, before.expiry_date);
        assert_eq!(after.data, before.data);
    }

    async fn a_session_in_use_moves_its_idle_expiry_once_the_last_move_is_a_minute_old(db) {
        let store = store(&db).await;
        org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        let table = SessionTable::new(store.clone());
        let app = router(store, &db, None);
        let cookie = sign_in(&app, "ann@example.com").await;

        // As if the last request that moved the expiry were ten minutes ago.
        let mut aged = record(&table, &cookie).await;
        let ten_minutes = time::Duration::minutes(10);
        aged.expiry_date -= ten_minutes;
        let moved_at = aged.data["kept_alive_at"].as_i64().unwrap() - ten_minutes.whole_seconds();
        aged.data.insert("kept_alive_at".to_owned(), moved_at.into());
        table.save(&aged).await.unwrap();

        let response = send(&app, get_as("/numbers", &cookie)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let set_cookie = header(&response, "set-cookie").to_owned();
        assert!(set_cookie.contains("Max-Age=1800"), "the cookie's life starts again: {set_cookie}");

        let now = time::OffsetDateTime::now_utc();
        let after = record(&table, &cookie).await;
        assert!(after.expiry_date > aged.expiry_date + time::Duration::minutes(9));
        assert!(after.expiry_date > now + time::Duration::minutes(29), "{}", after.expiry_date);
        assert!(after.data["kept_alive_at"].as_i64().unwrap() > moved_at);
    }

    async fn a_session_signed_in_twelve_hours_ago_ends_at_its_next_request_however_busy(db) {
        let store = store(&db).await;
        org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        let table = SessionTable::new(store.clone());
        let app = router(store, &db, None);
        let cookie = sign_in(&app, "ann@example.com").await;
        // Kept busy all along, so never idle: only the sign-in's age counts.
        let signed_in_ago = |seconds: i64| {
            let table = table.clone();
            let cookie = cookie.clone();
            async move {
                let mut aged = record(&table, &cookie).await;
                let signed_in = aged.data.get_mut("signed_in").unwrap();
                let at = signed_in["signed_in_at"].as_i64().unwrap();
                signed_in["signed_in_at"] = (at - seconds).into();
                table.save(&aged).await.unwrap();
            }
        };

        signed_in_ago(12 * 3600 - 60).await;
        assert_eq!(send(&app, get_as("/numbers", &cookie)).await.status(), StatusCode::OK, "a minute short of twelve hours");
        signed_in_ago(120).await;
        let response = send(&app, get_as("/numbers", &cookie)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "a minute past");
        assert_eq!(header(&response, "location"), "/signin?next=%2Fnumbers");
        let id = Id::from_str(cookie.split_once('=').unwrap().1).unwrap();
        assert!(table.load(&id).await.unwrap().is_none(), "the row is deleted");
    }
}
