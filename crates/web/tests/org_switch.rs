//! The org switcher through the real router on both databases: a person in two orgs sees
//! one org at a time, switches in the header, and cannot switch into an org they are not in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::org::*;
use common::*;
use governance::access::{Caller, Role};
use pinward_tests::on_both_databases;

on_both_databases! {
    async fn a_member_of_two_orgs_sees_org_bs_numbers_only_after_switching_to_it(db) {
        let store = store(&db).await;
        let acme = org_with_member(&store, "acme", "pat@example.com", Role::Admin).await;
        let globex = org_with_member(&store, "globex", "boss@globex.example", Role::Admin).await;
        let pat = governance::users::find_by_email(&store, "pat@example.com").await.unwrap().unwrap();
        governance::members::add(&store, &Caller::cli(&globex), &pat.id, Role::Ops, &[]).await.unwrap();
        seed_number(&db, &acme, "1001", "+1 555 0101").await;
        seed_number(&db, &globex, "2002", "+1 555 0202").await;
        let app = router(store.clone(), &db, None);

        let visit = signed_in_visit(&app, "pat@example.com").await;
        let home = text(send(&app, get_as("/numbers", &visit.cookie)).await).await;
        assert!(home.contains("+1 555 0101"), "sign-in acts in the first org");
        assert!(!home.contains("+1 555 0202"));
        assert!(home.contains("action=\"/org\"") && home.contains("globex Ltd"), "the switcher");
        let theirs = send(&app, get_as("/numbers/2002", &visit.cookie)).await;
        assert_eq!(theirs.status(), StatusCode::NOT_FOUND);

        let response = send(&app, same_origin_post("/org", &visit, &format!("org={globex}"))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert!(
            cookie_of(&response).is_none_or(|c| c == visit.cookie),
            "switching keeps the session id"
        );
        let numbers = text(send(&app, get_as("/numbers", &visit.cookie)).await).await;
        assert!(numbers.contains("+1 555 0202") && !numbers.contains("+1 555 0101"));
        assert_eq!(send(&app, get_as("/numbers/2002", &visit.cookie)).await.status(), StatusCode::OK);
        assert_eq!(send(&app, get_as("/numbers/1001", &visit.cookie)).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(send(&app, get_as("/settings", &visit.cookie)).await.status(), StatusCode::OK,
                   "ops of globex reads its settings");
    }

    async fn a_form_left_open_in_one_org_is_refused_once_another_tab_switched_org(db) {
        let store = store(&db).await;
        let acme = org_with_member(&store, "acme", "pat@example.com", Role::Admin).await;
        let globex = org_with_member(&store, "globex", "boss@globex.example", Role::Admin).await;
        let pat = governance::users::find_by_email(&store, "pat@example.com").await.unwrap().unwrap();
        governance::members::add(&store, &Caller::cli(&globex), &pat.id, Role::Admin, &[]).await.unwrap();
        let app = router(store.clone(), &db, None);
        let recipients = |org: String| {
            let store = store.clone();
            async move { governance::recovery::list(&store, &Caller::cli(&org)).await.unwrap().len() }
        };
        let key = vault::Identity::generate().recipient().to_string();
        let add_key = format!("recipient={key}&label=Offline+safe");

        // Tab 1 shows acme's settings; tab 2 switches the session to globex.
        let acme_tab = signed_in_visit(&app, "pat@example.com").await;
        let response = send(&app, same_origin_post("/org", &acme_tab, &format!("org={globex}"))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "switching works from any tab");

        let response = send(&app, same_origin_post("/settings/recovery", &acme_tab, &add_key)).await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let page = text(response).await;
        assert!(page.contains("this form was made in acme Ltd, but you have switched to globex Ltd since"), "{page}");
        assert!(page.contains("nothing was changed: switch back to acme Ltd and send it again"), "{page}");
        assert_eq!((recipients(acme.clone()).await, recipients(globex.clone()).await), (0, 0), "in neither org");

        let globex_tab = signed_in_visit_again(&app, &acme_tab.cookie).await;
        let response = send(&app, same_origin_post("/settings/recovery", &globex_tab, &add_key)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "a form made in globex works there");
        assert_eq!((recipients(acme).await, recipients(globex).await), (0, 1));
        let response = send(&app, same_origin_post("/signout", &acme_tab, "")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "signing out works from any tab");
    }

    async fn the_bar_follows_a_role_changed_since_sign_in(db) {
        let store = store(&db).await;
        let acme = org_with_member(&store, "acme", "pat@example.com", Role::Admin).await;
        let pat = governance::users::find_by_email(&store, "pat@example.com").await.unwrap().unwrap();
        let member = governance::members::caller_for(&store, &acme, &pat.id).await.unwrap().member_id.unwrap();
        org_with_member(&store, "initech", "bill@initech.example", Role::Admin).await;
        let bill = governance::users::find_by_email(&store, "bill@initech.example").await.unwrap().unwrap();
        governance::members::add(&store, &Caller::cli(&acme), &bill.id, Role::Admin, &[]).await.unwrap();
        let app = router(store.clone(), &db, None);
        let visit = signed_in_visit(&app, "pat@example.com").await;
        let page = text(send(&app, get_as("/numbers", &visit.cookie)).await).await;
        assert!(page.contains("href=\"/sync\""), "an admin's bar links to Sync");

        governance::members::change_role(&store, &Caller::cli(&acme), &member, Role::Auditor, &[]).await.unwrap();
        let page = text(send(&app, get_as("/numbers", &visit.cookie)).await).await;
        assert!(!page.contains("href=\"/sync\""), "an auditor's bar has no Sync");
        assert!(page.contains("href=\"/ledger\""), "but keeps the Ledger");
        assert_eq!(send(&app, get_as("/sync", &visit.cookie)).await.status(), StatusCode::FORBIDDEN);

        governance::members::change_role(&store, &Caller::cli(&acme), &member, Role::Admin, &[]).await.unwrap();
        let page = text(send(&app, get_as("/numbers", &visit.cookie)).await).await;
        assert!(page.contains("href=\"/sync\""), "promoted again, the bar shows Sync again");
    }

    async fn switching_to_an_org_you_are_not_in_is_not_found_and_changes_nothing(db) {
        let store = store(&db).await;
        let acme = org_with_member(&store, "acme", "pat@example.com", Role::Admin).await;
        let initech = org_with_member(&store, "initech", "bill@initech.example", Role::Admin).await;
        seed_number(&db, &acme, "1001", "+1 555 0101").await;
        let app = router(store.clone(), &db, None);
        let visit = signed_in_visit(&app, "pat@example.com").await;
        for org in [initech.as_str(), "no-such-org", ""] {
            let response = send(&app, same_origin_post("/org", &visit, &format!("org={org}"))).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{org}");
        }
        let numbers = text(send(&app, get_as("/numbers", &visit.cookie)).await).await;
        assert!(numbers.contains("+1 555 0101"), "still acting in acme");
        assert!(!numbers.contains("action=\"/org\""), "one org: no switcher");
    }
}
