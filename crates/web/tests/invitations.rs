//! Invitations through the real router on both databases: an admin invites by email and
//! gets a code once; the person joins on the join page with the account they have or one
//! they make; the admin's pages read alike whether or not the email had an account; a code
//! works once, until it expires or is withdrawn.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::Router;
use axum::http::StatusCode;
use common::org::*;
use common::*;
use governance::Store;
use governance::access::{Caller, Role};
use pinward_tests::{TestDb, on_both_databases};

const ADMIN: &str = "admin@acme.example";
/// A person with an account in another org.
const GIL: &str = "gil@globex.example";
/// The password a newcomer chooses on the join page.
const OWN_PASSWORD: &str = "a password of my own choosing";

struct World {
    store: Store,
    app: Router,
    org: String,
}

async fn world(db: &TestDb) -> World {
    let store = store(db).await;
    let org = org_with_member(&store, "acme", ADMIN, Role::Admin).await;
    add_member(&store, &org, "ops@acme.example", Role::Ops, &[]).await;
    org_with_member(&store, "globex", GIL, Role::Ops).await;
    let (app, _) = router_with_key(store.clone(), db);
    World { store, app, org }
}

impl World {
    async fn members(&self) -> Vec<governance::members::Member> {
        governance::members::list(&self.store, &Caller::cli(&self.org))
            .await
            .unwrap()
    }

    async fn is_member(&self, email: &str) -> bool {
        self.members()
            .await
            .iter()
            .any(|m| m.email == email && m.is_active())
    }

    async fn open_invitations(&self) -> Vec<governance::invitations::Invitation> {
        governance::invitations::open(&self.store, &Caller::cli(&self.org))
            .await
            .unwrap()
    }

    async fn events(&self) -> Vec<audit::Event> {
        governance::ledger::events(&self.store, &self.org, 1, u64::MAX)
            .await
            .unwrap()
    }

    /// Invites `email` as `role` (more fields in `extra`) from the admin's visit; returns
    /// the answer's status and page.
    async fn invite_as(&self, visit: &Visit, fields: &str) -> (StatusCode, String) {
        let settings = text(send(&self.app, get_as("/settings", &visit.cookie)).await).await;
        let fields = format!("_once={}&{fields}", once(&settings));
        let response = send(
            &self.app,
            same_origin_post("/settings/invitations", visit, &fields),
        )
        .await;
        let status = response.status();
        if status == StatusCode::OK {
            assert_eq!(
                header(&response, "cache-control"),
                "no-store",
                "the code is never cached"
            );
        }
        (status, text(response).await)
    }

    /// Invites `email` as `role` and gives back the code shown.
    async fn invite(&self, visit: &Visit, email: &str, role: &str) -> String {
        let (status, page) = self
            .invite_as(visit, &format!("email={}&role={role}", enc(email)))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        code_in(&page)
    }

    /// A visitor's first look at the join page: its cookie and CSRF token.
    async fn visitor(&self) -> Visit {
        let response = send(&self.app, get("/join")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = cookie_of(&response).expect("a session for the form's token");
        csrf_visit(cookie, &text(response).await)
    }

    /// Posts `fields` to a join page address; returns the status and page (or location).
    async fn join(&self, visit: &Visit, path: &str, fields: &str) -> (StatusCode, String) {
        let response = send(&self.app, same_origin_post(path, visit, fields)).await;
        let status = response.status();
        if status == StatusCode::SEE_OTHER {
            return (status, header(&response, "location").to_owned());
        }
        assert_eq!(
            header(&response, "cache-control"),
            "no-store",
            "{path}: the code is never cached"
        );
        (status, text(response).await)
    }
}

fn csrf_visit(cookie: String, page: &str) -> Visit {
    let marker = "name=\"_csrf\" value=\"";
    let start = page.find(marker).expect("a form with a CSRF token") + marker.len();
    let csrf = page[start..].split('"').next().unwrap().to_owned();
    Visit { cookie, csrf }
}

/// The one-time token of the invitation form on a settings page.
fn once(page: &str) -> String {
    let form = &page[page
        .find("action=\"/settings/invitations#invite\"")
        .expect("the invitation form")..];
    let marker = "name=\"_once\" value=\"";
    let start = form.find(marker).expect("its one-time token") + marker.len();
    form[start..].split('"').next().unwrap().to_owned()
}

/// The code shown on the answer to the invitation form.
fn code_in(page: &str) -> String {
    let marker = "id=\"code\"><code>";
    let start = page.find(marker).expect("the code, once") + marker.len();
    let code = page[start..].split('<').next().unwrap().to_owned();
    assert!(code.starts_with("pwi_"), "{code}");
    code
}

/// The first alert of a page.
fn alert(page: &str) -> &str {
    let message =
        &page[page.find("role=\"alert\">").expect("an alert") + "role=\"alert\">".len()..];
    &message[..message.find("</p>").unwrap()]
}

on_both_databases! {
    async fn a_newcomer_joins_with_an_account_they_make_and_a_password_only_they_know(db) {
        let w = world(&db).await;
        let admin = signed_in_visit(&w.app, ADMIN).await;
        let (status, shown) = w.invite_as(&admin, "email=New%40Acme.example&role=ops").await;
        assert_eq!(status, StatusCode::OK);
        assert!(shown.contains("<h1>Invitation of new@acme.example</h1>"), "the email, normalized: {shown}");
        assert!(shown.contains("<a href=\"/join\">http://127.0.0.1:8080/join</a>"), "where to join: {shown}");
        let code = code_in(&shown);
        let settings = text(send(&w.app, get_as("/settings", &admin.cookie)).await).await;
        assert!(settings.contains("<td role=\"cell\" data-label=\"Email\">new@acme.example</td><td role=\"cell\" data-label=\"Role\">ops</td>"), "the open invitation: {settings}");
        assert!(!settings.contains(&code), "the code is shown once");
        assert!(!w.is_member("new@acme.example").await, "nobody joined yet");

        let visitor = w.visitor().await;
        let (status, page) = w.join(&visitor, "/join", &format!("code={}", enc(&format!("  {code} ")))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("makes <strong>new@acme.example</strong> a member of <strong>acme Ltd</strong> as <strong>ops</strong>"), "{page}");
        assert!(page.contains("action=\"/join/signin\"") && page.contains("action=\"/join/new\""), "both ways to accept");

        let (status, page) = w.join(&visitor, "/join/new", &format!("code={}&name=&password=short", enc(&code))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(alert(&page).starts_with("Name: must be"), "{page}");
        let (status, page) = w.join(&visitor, "/join/new", &format!("code={}&name=New+Person&password=short", enc(&code))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(alert(&page).starts_with("Password: must be at least 12"), "{page}");
        assert!(page.contains("value=\"New Person\""), "the name typed is kept");
        assert!(!w.is_member("new@acme.example").await);

        let response = send(&w.app, same_origin_post("/join/new", &visitor, &format!("code={}&name=New+Person&password={}", enc(&code), enc(OWN_PASSWORD)))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(header(&response, "location"), "/");
        let cookie = cookie_of(&response).expect("signed in under a new session id");
        assert_ne!(cookie, visitor.cookie);
        let home = text(send(&w.app, get_as("/", &cookie)).await).await;
        assert!(home.contains("Welcome: you joined acme Ltd as ops."), "{home}");
        let joined = w.members().await.into_iter().find(|m| m.email == "new@acme.example").unwrap();
        assert_eq!((joined.role, joined.display_name.as_str()), (Role::Ops, "New Person"));
        assert!(w.open_invitations().await.is_empty(), "accepted, it is no longer open");

        // Their own password signs them in; the admin never knew it.
        let signin = visit_sign_in(&w.app).await;
        let fields = format!("email=new%40acme.example&password={}", enc(OWN_PASSWORD));
        assert_eq!(send(&w.app, same_origin_post("/signin", &signin, &fields)).await.status(), StatusCode::SEE_OTHER);

        // The ledger: invited by the admin, added by the person who joined, naming it.
        let events = w.events().await;
        let invited = events.iter().find(|e| e.action().as_str() == "member.invited").unwrap();
        let id = invited.subject().strip_prefix("invitation:").unwrap().to_owned();
        assert_eq!(invited.details().as_map()["role"], "ops");
        let added = events.iter().rfind(|e| e.action().as_str() == "member.added").unwrap();
        assert_eq!(added.subject(), format!("member:{}", joined.id));
        assert_eq!(added.actor().as_str(), format!("user:{}", joined.user_id));
        assert_eq!(added.details().as_map()["invitation"], id.as_str());
        let ledger = text(send(&w.app, get_as("/ledger?action=member.invited", &admin.cookie)).await).await;
        assert!(ledger.contains("the invitation of new@acme.example"), "the ledger names it: {ledger}");

        // A code joins one person once.
        let other = w.visitor().await;
        let (status, page) = w.join(&other, "/join", &format!("code={}", enc(&code))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(alert(&page), "This invitation was already accepted: a code joins one person, once.");
        let (status, _) = w.join(&other, "/join/new", &format!("code={}&name=Mallory&password={}", enc(&code), enc(OWN_PASSWORD))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(w.members().await.len(), 3);
    }

    async fn an_account_of_another_org_joins_with_its_own_password_and_inviting_it_reads_as_inviting_a_new_email(db) {
        let w = world(&db).await;
        let admin = signed_in_visit(&w.app, ADMIN).await;
        let (_, for_gil) = w.invite_as(&admin, &format!("email={}&role=auditor", enc(GIL))).await;
        let (_, for_nobody) = w.invite_as(&admin, "email=nobody%40globex.example&role=auditor").await;
        let gil_code = code_in(&for_gil);
        let blank = |page: &str, email: &str, code: &str| {
            let page = page.replace(email, "EMAIL").replace(code, "CODE");
            // The minute the code expires may differ between the two.
            page.split("until ").next().unwrap().to_owned()
        };
        assert_eq!(blank(&for_gil, GIL, &gil_code), blank(&for_nobody, "nobody@globex.example", &code_in(&for_nobody)),
                   "an invitation of an existing account reads as one of a new email");
        let settings = text(send(&w.app, get_as("/settings", &admin.cookie)).await).await;
        let row = |email: &str| {
            let start = settings.find(&format!("data-label=\"Email\">{email}</td>")).unwrap();
            let row = &settings[start..];
            row[..row.find("data-label=\"Invited\">").unwrap()].replace(email, "EMAIL")
        };
        assert_eq!(row(GIL), row("nobody@globex.example"), "the two open invitations read alike");

        let visitor = w.visitor().await;
        let wrong = format!("code={}&password=not+the+password", enc(&gil_code));
        let (status, page) = w.join(&visitor, "/join/signin", &wrong).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(alert(&page), "That password does not sign in as gil@globex.example. New to pinward? Make your account below instead.");
        let (status, page) = w.join(&visitor, "/join/new", &format!("code={}&name=Gil&password={}", enc(&gil_code), enc(OWN_PASSWORD))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(alert(&page), "gil@globex.example already has a pinward account: accept with its password instead.");
        assert!(!w.is_member(GIL).await, "nothing changed");

        let (status, to) = w.join(&visitor, "/join/signin", &format!("code={}&password={}", enc(&gil_code), enc(PASSWORD))).await;
        assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/"));
        let gil = w.members().await.into_iter().find(|m| m.email == GIL).unwrap();
        assert_eq!(gil.role, Role::Auditor);
        assert_eq!(gil.display_name, format!("Person {GIL}"), "the account keeps its own name");
        let user = governance::users::find_by_email(&w.store, GIL).await.unwrap().unwrap();
        assert_eq!(governance::users::memberships(&w.store, &user.id).await.unwrap().len(), 2, "still in globex too");
    }

    async fn a_signed_in_person_accepts_in_one_step_and_then_acts_in_the_org_joined(db) {
        let w = world(&db).await;
        let admin = signed_in_visit(&w.app, ADMIN).await;
        let code = w.invite(&admin, GIL, "auditor").await;

        // Someone else signed in on this browser is told, and cannot take it.
        let ops = signed_in_visit(&w.app, "ops@acme.example").await;
        let (status, page) = w.join(&ops, "/join", &format!("code={}", enc(&code))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("You are signed in as ops@acme.example, but the invitation is for gil@globex.example."), "{page}");
        assert!(!page.contains("action=\"/join/accept\""));
        let (status, page) = w.join(&ops, "/join/accept", &format!("code={}", enc(&code))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(alert(&page).starts_with("Email: this invitation is for gil@globex.example"), "{page}");
        assert!(!w.is_member(GIL).await);

        let gil = signed_in_visit(&w.app, GIL).await;
        let (_, page) = w.join(&gil, "/join", &format!("code={}", enc(&code))).await;
        assert!(page.contains("<button type=\"submit\">Join acme Ltd</button>"), "{page}");
        let (status, to) = w.join(&gil, "/join/accept", &format!("code={}", enc(&code))).await;
        assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/"));
        let home = text(send(&w.app, get_as("/", &gil.cookie)).await).await;
        assert!(home.contains("Welcome: you joined acme Ltd as auditor."), "{home}");
        let settings = send(&w.app, get_as("/settings", &gil.cookie)).await;
        assert_eq!(settings.status(), StatusCode::OK, "acting in acme as its auditor");
        assert!(text(settings).await.contains("admin@acme.example"));
    }

    async fn a_code_stops_working_when_withdrawn_replaced_or_expired_and_garbage_is_named(db) {
        let w = world(&db).await;
        let admin = signed_in_visit(&w.app, ADMIN).await;
        let first = w.invite(&admin, "x@acme.example", "ops").await;
        let second = w.invite(&admin, "x@acme.example", "auditor").await;
        assert_eq!(w.open_invitations().await.len(), 1, "inviting again replaces the earlier one");
        let visitor = w.visitor().await;
        let closed = async |code: &str| {
            let (status, page) = w.join(&visitor, "/join", &format!("code={}", enc(code))).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{code}");
            alert(&page).to_owned()
        };
        assert_eq!(closed(&first).await, "This invitation was withdrawn, or replaced by a newer one: use the newest code you were sent, or ask an org admin for a new one.");

        let id = w.open_invitations().await[0].id.clone();
        let response = send(&w.app, same_origin_post(&format!("/settings/invitations/{id}/withdraw"), &admin, "")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let settings = text(send(&w.app, get_as("/settings", &admin.cookie)).await).await;
        assert!(settings.contains("The invitation of x@acme.example is withdrawn: its code works no more."), "{settings}");
        assert!(settings.contains("No open invitation."));
        assert_eq!(closed(&second).await, "This invitation was withdrawn, or replaced by a newer one: use the newest code you were sent, or ask an org admin for a new one.");
        let (status, _) = w.join(&visitor, "/join/new", &format!("code={}&name=X&password={}", enc(&second), enc(OWN_PASSWORD))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!w.is_member("x@acme.example").await);
        let withdrawn = w.events().await.iter().filter(|e| e.action().as_str() == "member.invitation_withdrawn").count();
        assert_eq!(withdrawn, 2, "replaced, then withdrawn: both ledgered");

        let late = w.invite(&admin, "late@acme.example", "ops").await;
        sql(&db, &["UPDATE invitations SET expires_at = '2020-01-01T00:00:00Z' WHERE email = 'late@acme.example'".to_owned()]).await;
        assert_eq!(closed(&late).await, "This invitation has expired: ask an org admin for a new one.");
        let settings = text(send(&w.app, get_as("/settings", &admin.cookie)).await).await;
        assert!(settings.contains("expired 2020-01-01"), "the admin sees it expired: {settings}");

        assert_eq!(closed("pwi_nonsense").await, "This is not an invitation code of this pinward: check that it was copied whole.");
        let cut = &late[..late.len() - 1];
        assert_eq!(closed(cut).await, "This is not an invitation code of this pinward: check that it was copied whole.");
        assert_eq!(closed("").await, "Paste the invitation code you were sent.");

        // Another org's invitation is not found; an accepted one cannot be withdrawn.
        let other_org = org_with_member(&w.store, "rival", "boss@rival.example", Role::Admin).await;
        let (theirs, _) = governance::invitations::invite(&w.store, &Caller::cli(&other_org), "y@rival.example", Role::Ops, &[]).await.unwrap();
        let response = send(&w.app, same_origin_post(&format!("/settings/invitations/{}/withdraw", theirs.id), &admin, "")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let code = w.invite(&admin, "z@acme.example", "ops").await;
        let id = w.open_invitations().await.into_iter().find(|i| i.email == "z@acme.example").unwrap().id;
        let (status, _) = w.join(&visitor, "/join/new", &format!("code={}&name=Zed&password={}", enc(&code), enc(OWN_PASSWORD))).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let response = send(&w.app, same_origin_post(&format!("/settings/invitations/{id}/withdraw"), &admin, "")).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(alert(&text(response).await), "This invitation was already accepted: a code joins one person, once.");
    }

    async fn every_bad_input_of_the_invitation_form_is_refused_naming_its_field_and_never_tells_who_has_an_account(db) {
        let w = world(&db).await;
        let admin = signed_in_visit(&w.app, ADMIN).await;
        seed_number(&db, &w.org, "1001", "+1 555 0100").await;
        seed_number(&db, &w.org, "1002", "+1 555 0200").await;
        let before = w.events().await.len();
        for (fields, message) in [
            ("email=not-an-email&role=ops", "Email: must be an address like name@example.com"),
            ("email=x%40acme.example&role=root", "Role: must be one of admin, ops, auditor, business_admin"),
            ("email=x%40acme.example&role=business_admin", "Clients: a business_admin needs at least one client"),
            ("email=x%40acme.example&role=business_admin&clients=c-9", "Clients: no such client in this org"),
            ("email=ops%40acme.example&role=ops", "Email: this person is already a member of the org"),
            ("email=not-an-email&role=business_admin", "Email: must be an address like name@example.com; Clients: a business_admin needs at least one client"),
        ] {
            let (status, page) = w.invite_as(&admin, fields).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{fields}");
            assert_eq!(alert(&page), message, "{fields}");
            assert!(page.contains("<h1>Settings</h1>"), "the form is shown again");
        }
        assert_eq!(w.events().await.len(), before, "nothing was ledgered");
        assert!(w.open_invitations().await.is_empty(), "nobody was invited");

        let (_, page) = w.invite_as(&admin, "email=typed%40acme.example&role=root").await;
        assert!(page.contains("value=\"typed@acme.example\""), "the typed email is shown again");
        let (_, page) = w.invite_as(&admin, "email=not-an-email&role=business_admin&clients=c-1002").await;
        assert!(page.contains("<option value=\"c-1002\" selected>"), "the client chosen stays chosen");
        assert!(page.contains("<option value=\"c-1001\">"), "the other one stays unchosen");

        // A refusal reads the same whether or not the email has an account.
        let (_, known) = w.invite_as(&admin, &format!("email={}&role=root", enc(GIL))).await;
        let (_, unknown) = w.invite_as(&admin, "email=nobody%40globex.example&role=root").await;
        assert_eq!(alert(&known), alert(&unknown));

        // Clients chosen while business_admin was the role stay selected, hidden, when the
        // role changes: they count for nothing.
        let (status, _) = w.invite_as(&admin, "email=x%40acme.example&role=ops&clients=c-9").await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = w.invite_as(&admin, "email=shop%40acme.example&role=business_admin&clients=c-1002").await;
        assert_eq!(status, StatusCode::OK);
        let open = w.open_invitations().await;
        let of = |email: &str| open.iter().find(|i| i.email == email).map(|i| (i.role, i.clients.clone())).unwrap();
        assert_eq!(of("x@acme.example"), (Role::Ops, vec![]));
        assert_eq!(of("shop@acme.example"), (Role::BusinessAdmin, vec!["c-1002".to_owned()]));
    }

    async fn inviting_needs_the_password_again_keeps_the_form_and_a_double_click_makes_one_code(db) {
        let w = world(&db).await;
        let admin = signed_in_visit(&w.app, ADMIN).await;
        let settings = text(send(&w.app, get_as("/settings", &admin.cookie)).await).await;
        let twice = format!("_once={}&email=double%40acme.example&role=ops", once(&settings));
        let (first, second) = tokio::join!(
            send(&w.app, same_origin_post("/settings/invitations", &admin, &twice)),
            send(&w.app, same_origin_post("/settings/invitations", &admin, &twice)),
        );
        let mut statuses = [first.status(), second.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::SEE_OTHER]);
        assert_eq!(w.open_invitations().await.len(), 1);
        let invited = w.events().await.iter().filter(|e| e.action().as_str() == "member.invited").count();
        assert_eq!(invited, 1);

        pinward_tests::sessions::age_step_up(&db).await;
        let settings = text(send(&w.app, get_as("/settings", &admin.cookie)).await).await;
        let stale = format!("_once={}&email=late%40acme.example&role=auditor", once(&settings));
        let response = send(&w.app, same_origin_post("/settings/invitations", &admin, &stale)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(header(&response, "location"), "/reauth?next=%2Fsettings%2Finvitations");
        let back = send(&w.app, get_as("/settings/invitations", &admin.cookie)).await;
        assert_eq!(header(&back, "location"), "/settings#invite", "the prompt comes back to the section");
        let settings = text(send(&w.app, get_as("/settings", &admin.cookie)).await).await;
        assert!(settings.contains("name=\"email\" value=\"late@acme.example\""), "with the form as it was typed");
        assert!(settings.contains("<option value=\"auditor\" selected>auditor</option>"), "its role too");
        assert_eq!(w.open_invitations().await.len(), 1, "nothing was made");
    }

    async fn the_join_page_is_no_way_around_the_sign_in_throttle(db) {
        let w = world(&db).await;
        let admin = signed_in_visit(&w.app, ADMIN).await;
        let code = w.invite(&admin, GIL, "auditor").await;
        let signin = visit_sign_in(&w.app).await;
        for _ in 0..5 {
            let wrong = format!("email={}&password=guess", enc(GIL));
            assert_eq!(send(&w.app, same_origin_post("/signin", &signin, &wrong)).await.status(), StatusCode::UNAUTHORIZED);
        }
        let visitor = w.visitor().await;
        let right = format!("code={}&password={}", enc(&code), enc(PASSWORD));
        let (status, page) = w.join(&visitor, "/join/signin", &right).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(alert(&page).starts_with("Too many failed attempts."), "{page}");
        assert!(!w.is_member(GIL).await);
    }

    async fn the_join_forms_are_refused_from_another_site(db) {
        let w = world(&db).await;
        let admin = signed_in_visit(&w.app, ADMIN).await;
        let code = w.invite(&admin, "x@acme.example", "ops").await;
        let visitor = w.visitor().await;
        let request = post_form("/join/new", &visitor)
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .body(form_body(&visitor, &format!("&code={}&name=X&password={}", enc(&code), enc(OWN_PASSWORD))))
            .unwrap();
        assert_eq!(send(&w.app, request).await.status(), StatusCode::FORBIDDEN);
        assert!(!w.is_member("x@acme.example").await);
        assert_eq!(w.open_invitations().await.len(), 1, "the code still works");
    }
}
