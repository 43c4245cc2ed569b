//! Signing in and out of the dashboard, step-up re-authentication and API tokens, through
//! the real router on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use governance::access::{Caller, Role};
use pinward_tests::on_both_databases;

on_both_databases! {
    async fn a_visitor_sent_to_sign_in_comes_back_to_the_page_they_asked_for(db) {
        let store = store(&db).await;
        org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        let app = router(store, &db, None);

        let asked = send(&app, get("/numbers?state=escrowed&page=2")).await;
        assert_eq!(asked.status(), StatusCode::SEE_OTHER);
        let to = header(&asked, "location").to_owned();
        assert_eq!(to, "/signin?next=%2Fnumbers%3Fstate%3Descrowed%26page%3D2");
        let form = send(&app, get(&to)).await;
        let cookie = cookie_of(&form).unwrap();
        let body = text(form).await;
        assert!(body.contains("name=\"next\" value=\"/numbers?state=escrowed&#38;page=2\""), "{body}");
        let marker = "name=\"_csrf\" value=\"";
        let start = body.find(marker).unwrap() + marker.len();
        let visit = Visit { cookie, csrf: body[start..].split('"').next().unwrap().to_owned() };

        let wrong = format!("email=ann%40example.com&password=nope&next={}", enc("/numbers?state=escrowed&page=2"));
        let refused = text(send(&app, same_origin_post("/signin", &visit, &wrong)).await).await;
        assert!(refused.contains("name=\"next\" value=\"/numbers?state=escrowed&#38;page=2\""), "kept after a wrong password");
        let fields = format!("email=ann%40example.com&password={}&next={}", enc(PASSWORD), enc("/numbers?state=escrowed&page=2"));
        let response = send(&app, same_origin_post("/signin", &visit, &fields)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(header(&response, "location"), "/numbers?state=escrowed&page=2");

        // Never somewhere else: another host's address goes to the overview.
        for elsewhere in ["//evil.example/", "https://evil.example/", "/\\evil.example"] {
            let visit = visit_sign_in(&app).await;
            let fields = format!("email=ann%40example.com&password={}&next={}", enc(PASSWORD), enc(elsewhere));
            let response = send(&app, same_origin_post("/signin", &visit, &fields)).await;
            assert_eq!(header(&response, "location"), "/", "{elsewhere}");
        }
    }

    async fn signing_in_opens_the_dashboard_under_a_new_session_id(db) {
        let store = store(&db).await;
        org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        let app = router(store, &db, None);

        let visit = visit_sign_in(&app).await;
        let fields = format!("email=ann%40example.com&password={}", enc(PASSWORD));
        let response = send(&app, same_origin_post("/signin", &visit, &fields)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(header(&response, "location"), "/");
        let signed_in = cookie_of(&response).expect("a cookie for the signed-in session");
        assert_ne!(signed_in, visit.cookie, "the session id changes at sign-in");

        let dashboard = send(&app, get_as("/", &signed_in)).await;
        assert_eq!(dashboard.status(), StatusCode::OK);
        let page = text(dashboard).await;
        assert!(page.contains("Person ann@example.com") && page.contains("acme Ltd"), "{page}");

        // Session fixation: the id the visitor held before signing in opens nothing.
        let planted = send(&app, get_as("/", &visit.cookie)).await;
        assert_eq!(planted.status(), StatusCode::SEE_OTHER);
        assert_eq!(header(&planted, "location"), "/signin");
    }

    async fn a_wrong_password_or_unknown_email_gets_the_same_answer_and_no_session(db) {
        let store = store(&db).await;
        org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        let app = router(store, &db, None);
        for fields in [
            "email=ann%40example.com&password=wrong-password-here",
            "email=nobody%40example.com&password=wrong-password-here",
            "email=not-an-email&password=x",
        ] {
            let visit = visit_sign_in(&app).await;
            let response = send(&app, same_origin_post("/signin", &visit, fields)).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{fields}");
            let page = text(response).await;
            assert!(page.contains("The email or password is not right."), "{page}");
            assert!(page.contains("<form method=\"post\" action=\"/signin\""), "the form again");
            let still_anonymous = send(&app, get_as("/", &visit.cookie)).await;
            assert_eq!(still_anonymous.status(), StatusCode::SEE_OTHER);
        }
    }

    async fn a_sign_in_form_missing_a_field_is_refused_naming_it(db) {
        let app = app(&db, None).await;
        let visit = visit_sign_in(&app).await;
        let response = send(&app, same_origin_post("/signin", &visit, "email=ann%40example.com")).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = text(response).await;
        assert!(page.contains("missing field `password`"), "names the missing field: {page}");
    }

    async fn after_five_failures_even_the_right_password_is_refused_for_a_while(db) {
        let store = store(&db).await;
        org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        let app = router(store, &db, None);
        let visit = visit_sign_in(&app).await;
        for _ in 0..5 {
            let response = send(
                &app,
                same_origin_post("/signin", &visit, "email=ann%40example.com&password=guess-guess-guess"),
            )
            .await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
        let fields = format!("email=ann%40example.com&password={}", enc(PASSWORD));
        let response = send(&app, same_origin_post("/signin", &visit, &fields)).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(text(response).await.contains("Too many failed attempts"));
    }

    async fn signing_out_deletes_the_session_on_the_server(db) {
        let store = store(&db).await;
        org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        let table = governance::sessions::SessionTable::new(store.clone());
        let app = router(store, &db, None);
        let cookie = sign_in(&app, "ann@example.com").await;
        let id: tower_sessions::session::Id = cookie.split_once('=').unwrap().1.parse().unwrap();
        assert!(tower_sessions::SessionStore::load(&table, &id).await.unwrap().is_some());
        let page = text(send(&app, get_as("/", &cookie)).await).await;
        let marker = "name=\"_csrf\" value=\"";
        let start = page.find(marker).unwrap() + marker.len();
        let csrf = page[start..].split('"').next().unwrap().to_owned();
        let visit = Visit { cookie: cookie.clone(), csrf };
        let response = send(&app, same_origin_post("/signout", &visit, "")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert!(tower_sessions::SessionStore::load(&table, &id).await.unwrap().is_none(), "the row is deleted");

        // The browser's copy of the cookie, replayed, opens nothing.
        let replayed = send(&app, get_as("/", &cookie)).await;
        assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
        assert_eq!(header(&replayed, "location"), "/signin");
    }

    async fn a_deactivated_member_is_signed_out_at_the_next_request(db) {
        let store = store(&db).await;
        let org = org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        let admin = Caller::cli(&org);
        governance::members::add_new_user(
            &store,
            &admin,
            &governance::users::NewUser {
                email: "bob@example.com".to_owned(),
                display_name: "Bob".to_owned(),
                password: Some(governance::users::Password::new(PASSWORD.to_owned())),
            },
            Role::Ops,
            &[],
        )
        .await
        .unwrap();
        let app = router(store.clone(), &db, None);
        let cookie = sign_in(&app, "bob@example.com").await;
        assert_eq!(send(&app, get_as("/", &cookie)).await.status(), StatusCode::OK);

        let bob = governance::members::find_by_email(&store, &admin, "bob@example.com").await.unwrap();
        governance::members::deactivate(&store, &admin, &bob.id).await.unwrap();
        let after = send(&app, get_as("/", &cookie)).await;
        assert_eq!(after.status(), StatusCode::SEE_OTHER);
        assert_eq!(header(&after, "location"), "/signin");
    }

    async fn step_up_takes_the_password_again_and_returns_to_a_local_page_only(db) {
        let store = store(&db).await;
        org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        let app = router(store, &db, None);
        let cookie = sign_in(&app, "ann@example.com").await;
        let page = text(send(&app, get_as("/reauth?next=/numbers", &cookie)).await).await;
        assert!(page.contains("Confirm it is you") && page.contains("value=\"/numbers\""), "{page}");
        let marker = "name=\"_csrf\" value=\"";
        let start = page.find(marker).unwrap() + marker.len();
        let csrf = page[start..].split('"').next().unwrap().to_owned();
        let visit = Visit { cookie, csrf };

        let wrong = send(&app, same_origin_post("/reauth", &visit, "password=nope-nope-nope&next=%2Fnumbers")).await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert!(text(wrong).await.contains("The password is not right."));

        // Browsers drop tabs and line breaks from a Location and read \ as /: each of these
        // would land on another site.
        for next in ["//evil.example/", "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/\\evil.example", "/ /evil.example", "https://evil.example/"] {
            let fields = format!("password={}&next={}", enc(PASSWORD), enc(next));
            let right = send(&app, same_origin_post("/reauth", &visit, &fields)).await;
            assert_eq!(right.status(), StatusCode::SEE_OTHER);
            assert_eq!(header(&right, "location"), "/", "never off-site: {next:?}");
            let page = text(send(&app, get_as(&format!("/reauth?next={}", enc(next)), &visit.cookie)).await).await;
            assert!(page.contains("name=\"next\" value=\"/\""), "the form drops {next:?}: {page}");
        }
        let fields = format!("password={}&next=%2Fnumbers%3Fq%3D555%26page%3D2", enc(PASSWORD));
        let right = send(&app, same_origin_post("/reauth", &visit, &fields)).await;
        assert_eq!(header(&right, "location"), "/numbers?q=555&page=2", "a local page with its query");
    }

    async fn after_five_wrong_passwords_step_up_refuses_even_the_right_one_for_a_while(db) {
        let store = store(&db).await;
        org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        let table = governance::sessions::SessionTable::new(store.clone());
        let app = router(store, &db, None);
        let cookie = sign_in(&app, "ann@example.com").await;
        pinward_tests::sessions::age_step_up(&db).await;
        let page = text(send(&app, get_as("/reauth?next=/numbers", &cookie)).await).await;
        let marker = "name=\"_csrf\" value=\"";
        let start = page.find(marker).unwrap() + marker.len();
        let csrf = page[start..].split('"').next().unwrap().to_owned();
        let visit = Visit { cookie, csrf };
        for _ in 0..5 {
            let wrong = send(&app, same_origin_post("/reauth", &visit, "password=nope-nope-nope&next=%2Fnumbers")).await;
            assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        }
        let fields = format!("password={}&next=%2Fnumbers", enc(PASSWORD));
        let right = send(&app, same_origin_post("/reauth", &visit, &fields)).await;
        assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(text(right).await.contains("Too many failed attempts. Try again in"));

        let id: tower_sessions::session::Id = visit.cookie.split_once('=').unwrap().1.parse().unwrap();
        let stored = tower_sessions::SessionStore::load(&table, &id).await.unwrap().unwrap();
        let checked = stored.data["signed_in"]["authenticated_at"].as_i64().unwrap();
        assert!(checked < chrono::Utc::now().timestamp() - 3000, "the password check is still an hour old");
    }

    async fn the_numbers_list_needs_a_session_and_names_a_bad_filter(db) {
        let store = store(&db).await;
        org_with_member(&store, "acme", "ann@example.com", Role::Auditor).await;
        let app = router(store, &db, None);
        let anonymous = send(&app, get("/numbers")).await;
        assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);

        let cookie = sign_in(&app, "ann@example.com").await;
        let empty = send(&app, get_as("/numbers?q=555&state=escrowed", &cookie)).await;
        assert_eq!(empty.status(), StatusCode::OK);
        let page = text(empty).await;
        assert!(page.contains("No number matches.") && page.contains("value=\"555\""), "{page}");

        for (query, field) in [("state=lost", "PIN state:"), ("health=tired", "Health:"), ("page=0", "Page:"), ("page=x", "Page:")] {
            let bad = send(&app, get_as(&format!("/numbers?{query}"), &cookie)).await;
            assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
            assert!(text(bad).await.contains(field), "{query}");
        }
    }

    async fn an_api_token_acts_for_its_org_and_a_wrong_one_is_a_401_problem(db) {
        let store = store(&db).await;
        let org = org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        let (_, secret) = governance::tokens::create(&store, &Caller::cli(&org), "ci", Role::Auditor)
            .await
            .unwrap();
        let app = router(store, &db, None);
        let me = Request::get("/api/v1/me")
            .header(header::AUTHORIZATION, format!("Bearer {}", secret.expose()))
            .body(Body::empty())
            .unwrap();
        let response = send(&app, me).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
        assert_eq!(body["org_id"], org.as_str());
        assert_eq!(body["role"], "auditor");

        let wrong = Request::get("/api/v1/me")
            .header(header::AUTHORIZATION, format!("Bearer pwt_{org}_wrong"))
            .body(Body::empty())
            .unwrap();
        let response = send(&app, wrong).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header(&response, "content-type"), "application/problem+json");
    }
}
