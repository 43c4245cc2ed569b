//! The numbers pages: the list and one number's record, scoped to the signed-in member's
//! org, on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::*;
use governance::access::Role;
use pinward_tests::on_both_databases;

/// An org (admin ann@example.com) with numbers 1001 and 1002 of clients c-1001 and c-1002,
/// an ops member, and a business admin of each client: eve (c-1001) and dan (c-1002).
struct TwoClients {
    store: governance::Store,
    org: String,
    ops: String,
    eve: String,
    dan: String,
}

async fn two_clients(db: &pinward_tests::TestDb) -> TwoClients {
    let store = store(db).await;
    let org = org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
    seed_number(db, &org, "1001", "+1 555-0100").await;
    seed_number(db, &org, "1002", "+1 555-0200").await;
    let ops = org::add_member(&store, &org, "ops@example.com", Role::Ops, &[]).await;
    let eve = org::add_member(
        &store,
        &org,
        "eve@example.com",
        Role::BusinessAdmin,
        &["c-1001".to_owned()],
    )
    .await;
    let dan = org::add_member(
        &store,
        &org,
        "dan@example.com",
        Role::BusinessAdmin,
        &["c-1002".to_owned()],
    )
    .await;
    TwoClients {
        store,
        org,
        ops,
        eve,
        dan,
    }
}

on_both_databases! {
    async fn a_member_finds_a_number_in_the_list_and_opens_its_record_without_any_pin(db) {
        let store = store(&db).await;
        let org = org_with_member(&store, "acme", "ann@example.com", Role::Auditor).await;
        seed_number(&db, &org, "1001", "+1 555-0100").await;
        seed_number(&db, &org, "1002", "+1 555-0200").await;
        let app = router(store, &db, None);
        let cookie = sign_in(&app, "ann@example.com").await;

        let list = text(send(&app, get_as("/numbers?q=0100", &cookie)).await).await;
        assert!(list.contains("href=\"/numbers/1001\"") && list.contains("+1 555-0100"), "{list}");
        assert!(!list.contains("+1 555-0200"), "the search narrows the list");
        assert!(list.contains("1–1 of 1"), "{list}");
        let none = text(send(&app, get_as("/numbers?q=0300", &cookie)).await).await;
        assert!(none.contains("0 numbers") && none.contains("No number matches."), "{none}");
        let past = text(send(&app, get_as("/numbers?q=555&page=999", &cookie)).await).await;
        assert!(past.contains("Page 999 is past the last page, 1 (2 numbers in all)"), "{past}");
        assert!(past.contains("href=\"/numbers?q=555&#38;page=1\" rel=\"prev\""), "back to the last page: {past}");
        assert!(!past.contains("rel=\"next\""), "{past}");

        // Three pages: First and Last are offered wherever they lead elsewhere.
        for i in 0..110 {
            seed_number(&db, &org, &format!("{}", 3000 + i), &format!("+1 555-3{i:03}")).await;
        }
        let pager = |body: &str| body[body.find("<nav class=\"pager\">").unwrap()..].split("</nav>").next().unwrap().to_owned();
        let middle = text(send(&app, get_as("/numbers?page=2", &cookie)).await).await;
        assert!(middle.contains("51–100 of 112 · page 2 of 3"), "{middle}");
        let links = pager(&middle);
        assert!(links.contains("href=\"/numbers?page=1\" rel=\"prev\"") && links.contains("href=\"/numbers?page=3\" rel=\"next\""), "{links}");
        assert!(links.contains("href=\"/numbers?page=1\" rel=\"first\"") && links.contains("href=\"/numbers?page=3\" rel=\"last\""), "{links}");
        let start = pager(&text(send(&app, get_as("/numbers", &cookie)).await).await);
        assert!(start.contains("href=\"/numbers?page=3\" rel=\"last\"") && !start.contains("rel=\"prev\"") && !start.contains("rel=\"first\""), "{start}");
        let end = pager(&text(send(&app, get_as("/numbers?page=3", &cookie)).await).await);
        assert!(end.contains("href=\"/numbers?page=1\" rel=\"first\"") && !end.contains("rel=\"next\"") && !end.contains("rel=\"last\""), "{end}");

        let response = send(&app, get_as("/numbers/1001", &cookie)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "cache-control"), "no-store");
        let record = text(response).await;
        assert!(record.contains("+1 555-0100") && record.contains("Shop 1001"), "{record}");
        assert!(record.contains("data-label=\"Status\">current</td>"), "version 1 is listed: {record}");
        assert!(record.contains("no main owner"), "health is shown: {record}");
    }

    async fn another_orgs_number_is_a_404_like_a_number_that_does_not_exist(db) {
        let store = store(&db).await;
        let acme = org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        org_with_member(&store, "rival", "rick@example.com", Role::Admin).await;
        seed_number(&db, &acme, "1001", "+1 555-0100").await;
        let app = router(store, &db, None);
        let rick = sign_in(&app, "rick@example.com").await;

        for path in ["/numbers/1001", "/numbers/9999", "/numbers/not-a-number-id!"] {
            let response = send(&app, get_as(path, &rick)).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            let page = text(response).await;
            assert!(page.contains("<p>phone number not found</p>"), "the same words for each: {path}: {page}");
            assert!(!page.contains("555-0100"), "{path}");
        }
        let list = text(send(&app, get_as("/numbers", &rick)).await).await;
        assert!(!list.contains("555-0100"), "{list}");
    }

    async fn the_client_filter_offers_the_clients_the_member_sees_and_names_one_it_does_not(db) {
        let store = store(&db).await;
        let org = org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        let rival = org_with_member(&store, "rival", "rick@example.com", Role::Admin).await;
        seed_number(&db, &org, "1001", "+1 555-0100").await;
        seed_number(&db, &org, "1002", "+1 555-0200").await;
        seed_number(&db, &rival, "9001", "+1 555-0900").await;
        org::add_member(&store, &org, "dan@example.com", Role::BusinessAdmin, &["c-1002".to_owned()]).await;
        let app = router(store, &db, None);
        let ann = sign_in(&app, "ann@example.com").await;

        let list = text(send(&app, get_as("/numbers", &ann)).await).await;
        assert!(list.contains("<option value=\"c-1001\">Client 1001</option>"), "{list}");
        assert!(list.contains("<option value=\"c-1002\">Client 1002</option>"), "{list}");
        assert!(!list.contains("c-9001"), "another org's client is not offered: {list}");
        let one = text(send(&app, get_as("/numbers?client=c-1002", &ann)).await).await;
        assert!(one.contains("<option value=\"c-1002\" selected>Client 1002</option>"), "{one}");
        assert!(one.contains("+1 555-0200") && !one.contains("+1 555-0100"), "{one}");
        assert!(one.contains("1–1 of 1"), "{one}");

        let dan = sign_in(&app, "dan@example.com").await;
        let scoped = text(send(&app, get_as("/numbers", &dan)).await).await;
        assert!(scoped.contains("c-1002") && !scoped.contains("c-1001"), "a business admin is offered its own clients: {scoped}");
        for (who, client) in [(&ann, "c-9001"), (&ann, "c-nope"), (&dan, "c-1001")] {
            let response = send(&app, get_as(&format!("/numbers?client={client}"), who)).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{client}");
            let page = text(response).await;
            assert!(page.contains("id=\"filter-problem\">Client: is not a client you can see; pick one from the list"), "{client}: {page}");
            assert!(!page.contains("555-0"), "no number is shown: {page}");
        }
    }

    async fn a_bad_filter_value_is_named_inside_the_filter_form_which_keeps_the_rest_and_lists_nothing(db) {
        let store = store(&db).await;
        let org = org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        seed_number(&db, &org, "1001", "+1 555-0100").await;
        let app = router(store, &db, None);
        let ann = sign_in(&app, "ann@example.com").await;
        for (query, message, invalid) in [
            ("state=lost&q=555", "PIN state: must be one of unknown, escrowed, rotating, uncertain, released", "state"),
            ("health=odd&q=555", "Health: must be one of no_owner, ", "health"),
            ("page=0&q=555", "Page: must be a whole number from 1", ""),
            ("page=x&q=555", "Page: must be a whole number from 1", ""),
            ("page=3&state=lost&q=555", "PIN state: must be one of", "state"),
        ] {
            let response = send(&app, get_as(&format!("/numbers?{query}"), &ann)).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
            let page = text(response).await;
            let form = page[page.find("role=\"search\"").unwrap()..].split("</form>").next().unwrap();
            assert!(form.contains(&format!("id=\"filter-problem\">{message}")), "{query}: {form}");
            assert!(form.contains("name=\"q\" value=\"555\""), "the search typed stays: {form}");
            if !invalid.is_empty() {
                assert!(form.contains(&format!("name=\"{invalid}\" aria-invalid=\"true\" aria-describedby=\"filter-problem\"")), "{form}");
            }
            assert!(page.contains("No numbers listed") && !page.contains("555-0100"), "nothing is listed: {page}");
            assert!(page.contains("<table class=\"numbers cards\""), "the page keeps its table: {page}");
            assert!(!page.contains("rel=\"first\"") && !page.contains("rel=\"prev\""), "and no pager leads to the same refusal: {page}");
        }
        let long = text(send(&app, get_as(&format!("/numbers?q={}&client=c-nope", "x".repeat(101)), &ann)).await).await;
        assert!(long.contains("id=\"filter-problem\">Search: at most 100 characters; Client: is not a client"), "the list's own refusal too, in the form's order: {long}");
        assert!(long.contains("aria-invalid=\"true\" aria-describedby=\"filter-problem\">"), "{long}");
        let both = text(send(&app, get_as("/numbers?client=c-nope&state=lost", &ann)).await).await;
        assert!(both.contains("id=\"filter-problem\">Client: is not a client you can see; pick one from the list; PIN state: must be one of"), "every refusal, in the form's order: {both}");
    }

    async fn the_seat_pickers_offer_only_whom_the_seat_rules_accept_and_hide_other_clients_people(db) {
        let TwoClients { store, org, ops, eve, dan } = two_clients(&db).await;
        let auditor = org::add_member(&store, &org, "aud@example.com", Role::Auditor, &[]).await;
        let gone = org::add_member(&store, &org, "gus@example.com", Role::Ops, &[]).await;
        governance::members::deactivate(&store, &governance::access::Caller::cli(&org), &gone).await.unwrap();
        let app = router(store, &db, None);
        let offered = |page: &str, id: &str| page.contains(&format!("<option value=\"{id}\""));

        let ann = sign_in(&app, "ann@example.com").await;
        let page = text(send(&app, get_as("/numbers/1001", &ann)).await).await;
        assert!(offered(&page, &ops) && offered(&page, &eve), "staff and the client's own business admin: {page}");
        for refused in [&auditor, &dan, &gone] {
            assert!(!offered(&page, refused), "an auditor, another client's business admin, a departed member: {page}");
        }

        let dan_visit = sign_in(&app, "dan@example.com").await;
        let page = text(send(&app, get_as("/numbers/1002", &dan_visit)).await).await;
        assert!(page.contains("id=\"assign\""), "a business admin assigns its numbers' seats: {page}");
        assert!(offered(&page, &ops) && offered(&page, &dan), "{page}");
        assert!(!offered(&page, &eve) && !page.contains("eve@example.com"), "another client's people stay hidden: {page}");
        assert!(!offered(&page, &auditor) && !offered(&page, &gone), "{page}");
    }

    async fn a_business_admin_reads_a_numbers_history_without_another_clients_people(db) {
        let TwoClients { store, org, ops, eve, dan } = two_clients(&db).await;
        let admin = governance::access::Caller::cli(&org);
        let number = graph::PhoneNumberId::parse("1001").unwrap();
        governance::numbers::assign(&store, &admin, &number, &eve, &ops, chrono::Utc::now()).await.unwrap();
        // Meta moved the number's WABA to the other client, whose business admin takes the seat:
        // the number's history goes with it.
        sql(&db, &[format!("UPDATE wabas SET client_id = 'c-1002' WHERE id = 'w-1001' AND org_id = '{org}'")]).await;
        governance::numbers::assign(&store, &admin, &number, &dan, &ops, chrono::Utc::now()).await.unwrap();
        let app = router(store, &db, None);

        let dan_visit = sign_in(&app, "dan@example.com").await;
        let page = text(send(&app, get_as("/numbers/1001", &dan_visit)).await).await;
        assert!(page.contains("<dt>owner</dt><dd title="), "the number's history is shown: {page}");
        assert!(!page.contains("eve@example.com"), "not the other client's people: {page}");
        assert!(page.contains("another member of the org → Person dan@example.com &#60;dan@example.com&#62;"), "the earlier holder reads as someone unnamed: {page}");
        assert!(page.contains("Person ops@example.com &#60;ops@example.com&#62;"), "the org's staff are named: {page}");
        let ann = sign_in(&app, "ann@example.com").await;
        let page = text(send(&app, get_as("/numbers/1001", &ann)).await).await;
        assert!(page.contains("Person eve@example.com &#60;eve@example.com&#62; → Person dan@example.com"), "an admin sees everyone: {page}");
    }

    async fn a_seat_holder_who_lost_the_numbers_client_counts_as_departed(db) {
        let TwoClients { store, org, ops, eve, .. } = two_clients(&db).await;
        let admin = governance::access::Caller::cli(&org);
        let number = graph::PhoneNumberId::parse("1001").unwrap();
        governance::numbers::assign(&store, &admin, &number, &eve, &ops, chrono::Utc::now()).await.unwrap();
        let app = router(store.clone(), &db, None);
        let ann = sign_in(&app, "ann@example.com").await;
        let page = text(send(&app, get_as("/numbers/1001", &ann)).await).await;
        assert!(!page.contains("the main owner left"), "Eve acts for her client's number: {page}");

        // Eve now handles the other client only: she can no longer see the number she owns.
        governance::members::change_role(&store, &admin, &eve, Role::BusinessAdmin, &["c-1002".to_owned()]).await.unwrap();
        let page = text(send(&app, get_as("/numbers/1001", &ann)).await).await;
        assert!(page.contains("the main owner left or lost access"), "{page}");
        assert!(
            page.contains("aria-describedby=\"owner-left\"")
                && page.contains("<p class=\"muted\" id=\"owner-left\">Person eve@example.com holds this seat but left or lost access: choose who takes it over.</p>"),
            "the seat's picker says why it starts empty: {page}"
        );
        assert!(!page.contains("id=\"manager-left\""), "the manager still acts: {page}");
        let listed = text(send(&app, get_as("/numbers?health=owner_departed", &ann)).await).await;
        assert!(listed.contains("+1 555-0100") && !listed.contains("+1 555-0200"), "the health filter finds it: {listed}");
        // So ops fill the seat directly, as for a member who left, without a handover.
        let fay = org::add_member(&store, &org, "fay@example.com", Role::Ops, &[]).await;
        let ops_user = governance::members::get(&store, &admin, &ops).await.unwrap().user_id;
        let ops_caller = governance::members::caller_for(&store, &org, &ops_user).await.unwrap();
        governance::numbers::assign(&store, &ops_caller, &number, &fay, &ops, chrono::Utc::now()).await.unwrap();
        let page = text(send(&app, get_as("/numbers/1001", &ann)).await).await;
        assert!(!page.contains("the main owner left") && !page.contains("owner-left"), "{page}");
    }
}
