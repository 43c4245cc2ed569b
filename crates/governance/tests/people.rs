//! Orgs, users and members: who may do what, sign-in that tells nothing, and bad input
//! that changes nothing — on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use audit::Actor;
use governance::access::{Caller, Role, Via};
use governance::users::{self, NewUser, Password};
use governance::{DatabaseTarget, Error, Store, members, orgs};
use pinward_tests::{TestDb, on_both_databases};

const PASSWORD: &str = "correct horse battery staple";

async fn open(db: &TestDb) -> Store {
    let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.to_owned(),
        display_name: "Ann Admin".to_owned(),
        password: Some(Password::new(PASSWORD.to_owned())),
    }
}

/// An org with one admin member; returns the org id and that admin's session caller.
async fn org_with_admin(store: &Store, slug: &str, email: &str) -> (String, Caller) {
    let org = orgs::create(store, &Actor::system(), slug, "Acme Partners")
        .await
        .unwrap();
    let member = members::add_new_user(
        store,
        &Caller::cli(&org.id),
        &new_user(email),
        Role::Admin,
        &[],
    )
    .await
    .unwrap();
    let caller = members::caller_for(store, &org.id, &member.user_id)
        .await
        .unwrap();
    (org.id, caller)
}

async fn actions(store: &Store, org: &str) -> Vec<String> {
    governance::ledger::events(store, org, 1, u64::MAX)
        .await
        .unwrap()
        .iter()
        .map(|e| e.to_stored().action)
        .collect()
}

async fn add_client(db: &TestDb, org: &str, client: &str) {
    let sql = format!(
        "INSERT INTO clients (id, org_id, name, created_at) VALUES ('{client}', '{org}', 'Client', '2026-01-01T00:00:00Z')"
    );
    raw(db, &sql).await;
}

async fn raw(db: &TestDb, sql: &str) {
    use sqlx::Connection;
    match db.backend() {
        pinward_tests::Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        pinward_tests::Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

on_both_databases! {
    async fn an_org_is_created_ledgered_and_found_by_id_or_slug(db) {
        let store = open(&db).await;
        let org = orgs::create(&store, &Actor::system(), "acme", "  Acme Partners ").await.unwrap();
        assert_eq!(org.name, "Acme Partners");
        assert_eq!(orgs::find(&store, "acme").await.unwrap(), org);
        assert_eq!(orgs::find(&store, &org.id).await.unwrap(), org);
        assert_eq!(orgs::list(&store).await.unwrap(), vec![org.clone()]);
        assert_eq!(actions(&store, &org.id).await, ["org.created"]);
        assert!(matches!(orgs::find(&store, "nope").await, Err(Error::NotFound { what: "org" })));
    }

    async fn a_bad_or_taken_slug_or_name_is_refused_and_creates_nothing(db) {
        let store = open(&db).await;
        orgs::create(&store, &Actor::system(), "acme", "Acme").await.unwrap();
        for (slug, name, field) in [
            ("", "Acme", "slug"),
            ("Acme", "Acme", "slug"),
            ("-acme", "Acme", "slug"),
            ("ac me", "Acme", "slug"),
            ("beta", "  ", "name"),
            ("beta", "tab\there", "name"),
        ] {
            let error = orgs::create(&store, &Actor::system(), slug, name).await.unwrap_err();
            assert!(matches!(&error, Error::Invalid { field: f, .. } if *f == field), "{slug:?} {name:?}: {error:?}");
        }
        let taken = orgs::create(&store, &Actor::system(), "acme", "Other").await.unwrap_err();
        assert!(matches!(&taken, Error::Conflict { constraint } if constraint == "orgs_slug_uq"), "{taken:?}");
        assert_eq!(orgs::list(&store).await.unwrap().len(), 1);
    }

    async fn a_user_signs_in_with_the_right_password_and_any_failure_is_one_answer(db) {
        let store = open(&db).await;
        let (org, admin) = org_with_admin(&store, "acme", " Ann@Example.com").await;
        let user = users::authenticate(&store, "ANN@example.com ", &Password::new(PASSWORD.to_owned())).await.unwrap();
        assert_eq!(user.email, "ann@example.com");
        assert_eq!(Some(user.id.clone()), admin.user_id);

        let wrong_password = users::authenticate(&store, "ann@example.com", &Password::new("wrong horse battery".to_owned())).await;
        let unknown_email = users::authenticate(&store, "bob@example.com", &Password::new(PASSWORD.to_owned())).await;
        let not_an_email = users::authenticate(&store, "bob", &Password::new(PASSWORD.to_owned())).await;
        for result in [wrong_password, unknown_email, not_an_email] {
            assert!(matches!(result, Err(Error::Unauthenticated)), "{result:?}");
        }
        users::verify_password(&store, &user.id, &Password::new(PASSWORD.to_owned())).await.unwrap();
        assert!(matches!(
            users::verify_password(&store, &user.id, &Password::new("wrong horse battery".to_owned())).await,
            Err(Error::Unauthenticated)
        ));

        let memberships = users::memberships(&store, &user.id).await.unwrap();
        assert_eq!(memberships.len(), 1);
        assert_eq!((memberships[0].org_id.as_str(), memberships[0].role), (org.as_str(), Role::Admin));

        // A closed account signs in no more.
        raw(&db, &format!("UPDATE users SET deactivated_at = '2026-01-02T00:00:00Z' WHERE id = '{}'", user.id)).await;
        assert!(matches!(
            users::authenticate(&store, "ann@example.com", &Password::new(PASSWORD.to_owned())).await,
            Err(Error::Unauthenticated)
        ));
        assert!(users::memberships(&store, &user.id).await.unwrap().is_empty());
    }

    async fn the_password_is_stored_only_as_an_argon2id_hash(db) {
        let store = open(&db).await;
        org_with_admin(&store, "acme", "ann@example.com").await;
        use sqlx::Connection;
        let hash: String = match db.backend() {
            pinward_tests::Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
                sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&mut conn).await.unwrap()
            }
            pinward_tests::Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
                sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&mut conn).await.unwrap()
            }
        };
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("horse"));
    }

    async fn a_bad_new_user_is_refused_naming_the_field_and_nothing_is_added(db) {
        let store = open(&db).await;
        let (org, admin) = org_with_admin(&store, "acme", "ann@example.com").await;
        let before = actions(&store, &org).await.len();
        let cases: Vec<(NewUser, Role, Vec<String>, &str)> = vec![
            (new_user("not an email"), Role::Ops, vec![], "email"),
            (NewUser { display_name: " ".to_owned(), ..new_user("bob@example.com") }, Role::Ops, vec![], "name"),
            (NewUser { password: Some(Password::new("short".to_owned())), ..new_user("bob@example.com") }, Role::Ops, vec![], "password"),
            (new_user("bob@example.com"), Role::BusinessAdmin, vec![], "clients"),
            (new_user("bob@example.com"), Role::Ops, vec!["c1".to_owned()], "clients"),
        ];
        for (new, role, clients, field) in cases {
            let error = members::add_new_user(&store, &admin, &new, role, &clients).await.unwrap_err();
            assert!(matches!(&error, Error::Invalid { field: f, .. } if *f == field), "{field}: {error:?}");
        }
        let unknown_client = members::add_new_user(&store, &admin, &new_user("bob@example.com"), Role::BusinessAdmin, &["nope".to_owned()]).await;
        assert!(matches!(unknown_client, Err(Error::NotFound { what: "client" })), "{unknown_client:?}");
        let taken = members::add_new_user(&store, &admin, &new_user("ANN@example.com"), Role::Ops, &[]).await.unwrap_err();
        assert!(matches!(&taken, Error::Conflict { constraint } if constraint == "users_email_uq"), "{taken:?}");

        assert_eq!(members::list(&store, &admin).await.unwrap().len(), 1);
        assert!(users::find_by_email(&store, "bob@example.com").await.unwrap().is_none());
        assert_eq!(actions(&store, &org).await.len(), before);
    }

    async fn the_member_list_puts_active_members_first_by_email_each_with_its_clients(db) {
        let store = open(&db).await;
        let (org, admin) = org_with_admin(&store, "acme", "ann@example.com").await;
        add_client(&db, &org, "c1").await;
        add_client(&db, &org, "c2").await;
        members::add_new_user(&store, &admin, &new_user("zed@example.com"), Role::BusinessAdmin, &["c2".to_owned(), "c1".to_owned()]).await.unwrap();
        let gone = members::add_new_user(&store, &admin, &new_user("abe@example.com"), Role::BusinessAdmin, &["c1".to_owned()]).await.unwrap();
        members::add_new_user(&store, &admin, &new_user("bob@example.com"), Role::Ops, &[]).await.unwrap();
        members::deactivate(&store, &admin, &gone.id).await.unwrap();

        let listed: Vec<(String, Vec<String>, bool)> = members::list(&store, &admin)
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.email, m.clients, m.deactivated_at.is_some()))
            .collect();
        let expected = [
            ("ann@example.com", vec![], false),
            ("bob@example.com", vec![], false),
            ("zed@example.com", vec!["c1", "c2"], false),
            ("abe@example.com", vec!["c1"], true),
        ];
        let expected: Vec<(String, Vec<String>, bool)> = expected
            .into_iter()
            .map(|(email, clients, gone)| (email.to_owned(), clients.into_iter().map(str::to_owned).collect(), gone))
            .collect();
        assert_eq!(listed, expected);
    }

    async fn a_business_admin_sees_the_staff_and_its_own_clients_people_only(db) {
        let store = open(&db).await;
        let (org, admin) = org_with_admin(&store, "acme", "ann@example.com").await;
        for client in ["c1", "c2", "c3"] {
            add_client(&db, &org, client).await;
        }
        let ben = members::add_new_user(&store, &admin, &new_user("ben@example.com"), Role::BusinessAdmin, &["c1".to_owned(), "c2".to_owned()]).await.unwrap();
        let cat = members::add_new_user(&store, &admin, &new_user("cat@example.com"), Role::BusinessAdmin, &["c2".to_owned(), "c3".to_owned()]).await.unwrap();
        let dan = members::add_new_user(&store, &admin, &new_user("dan@example.com"), Role::BusinessAdmin, &["c3".to_owned()]).await.unwrap();
        let aud = members::add_new_user(&store, &admin, &new_user("aud@example.com"), Role::Auditor, &[]).await.unwrap();
        members::add_new_user(&store, &admin, &new_user("ops@example.com"), Role::Ops, &[]).await.unwrap();
        let ben_caller = members::caller_for(&store, &org, &ben.user_id).await.unwrap();

        let seen: Vec<(String, Vec<String>)> = members::list(&store, &ben_caller)
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.email, m.clients))
            .collect();
        // Cat shares c2 with Ben, and Ben is not told she also has c3; Dan (c3 only) and the
        // auditor are not listed.
        let expected = [
            ("ann@example.com", vec![]),
            ("ben@example.com", vec!["c1", "c2"]),
            ("cat@example.com", vec!["c2"]),
            ("ops@example.com", vec![]),
        ];
        let expected: Vec<(String, Vec<String>)> = expected
            .into_iter()
            .map(|(email, clients)| (email.to_owned(), clients.into_iter().map(str::to_owned).collect()))
            .collect();
        assert_eq!(seen, expected);
        for hidden in [&dan, &aud] {
            assert!(matches!(members::get(&store, &ben_caller, &hidden.id).await, Err(Error::NotFound { what: "member" })));
            assert!(matches!(members::find_by_email(&store, &ben_caller, &hidden.email).await, Err(Error::NotFound { what: "member" })));
        }
        assert_eq!(members::get(&store, &ben_caller, &cat.id).await.unwrap().clients, ["c2"]);
        // The org's own staff still see everyone as they are.
        assert_eq!(members::list(&store, &admin).await.unwrap().len(), 6);
        assert_eq!(members::get(&store, &admin, &cat.id).await.unwrap().clients, ["c2", "c3"]);
    }

    async fn a_business_admin_of_two_clients_acts_for_both_in_order(db) {
        let store = open(&db).await;
        let (org, admin) = org_with_admin(&store, "acme", "ann@example.com").await;
        add_client(&db, &org, "c1").await;
        add_client(&db, &org, "c0").await;
        let two = members::add_new_user(&store, &admin, &new_user("cy@example.com"), Role::BusinessAdmin, &["c1".to_owned(), "c0".to_owned()]).await.unwrap();
        let caller = members::caller_for(&store, &org, &two.user_id).await.unwrap();
        assert_eq!((caller.role, caller.clients.clone()), (Role::BusinessAdmin, vec!["c0".to_owned(), "c1".to_owned()]));
        assert!(caller.sees_client("c0") && caller.sees_client("c1"));
    }

    async fn a_business_admin_is_scoped_to_its_clients_and_only_admins_manage_members(db) {
        let store = open(&db).await;
        let (org, admin) = org_with_admin(&store, "acme", "ann@example.com").await;
        add_client(&db, &org, "c1").await;
        let scoped = members::add_new_user(&store, &admin, &new_user("bea@example.com"), Role::BusinessAdmin, &["c1".to_owned(), "c1".to_owned()]).await.unwrap();
        assert_eq!(scoped.clients, ["c1"]);
        let caller = members::caller_for(&store, &org, &scoped.user_id).await.unwrap();
        assert_eq!((caller.role, caller.clients.clone(), caller.via.clone()), (Role::BusinessAdmin, vec!["c1".to_owned()], Via::Session));
        assert!(caller.sees_client("c1") && !caller.sees_client("c2"));

        let ops = members::add_new_user(&store, &admin, &new_user("otto@example.com"), Role::Ops, &[]).await.unwrap();
        let ops_caller = members::caller_for(&store, &org, &ops.user_id).await.unwrap();
        let refused = members::add_new_user(&store, &ops_caller, &new_user("eve@example.com"), Role::Admin, &[]).await;
        assert!(matches!(refused, Err(Error::Forbidden { needed: "org:manage" })), "{refused:?}");
        let refused = members::change_role(&store, &ops_caller, &ops.id, Role::Admin, &[]).await;
        assert!(matches!(refused, Err(Error::Forbidden { .. })), "{refused:?}");

        let promoted = members::change_role(&store, &admin, &ops.id, Role::Auditor, &[]).await.unwrap().member;
        assert_eq!(promoted.role, Role::Auditor);
        // The same role again, or a business admin's same clients in another order: no event.
        members::change_role(&store, &admin, &ops.id, Role::Auditor, &[]).await.unwrap();
        members::change_role(&store, &admin, &scoped.id, Role::BusinessAdmin, &[" c1".to_owned(), "c1".to_owned()]).await.unwrap();
        assert_eq!(
            actions(&store, &org).await,
            ["org.created", "member.added", "member.added", "member.added", "member.role_changed"]
        );
    }

    async fn another_orgs_member_and_org_are_not_found(db) {
        let store = open(&db).await;
        let (org_a, admin_a) = org_with_admin(&store, "acme", "ann@example.com").await;
        let (_, admin_b) = org_with_admin(&store, "beta", "ben@example.com").await;
        let member_b = admin_b.member_id.clone().unwrap();
        assert!(matches!(members::get(&store, &admin_a, &member_b).await, Err(Error::NotFound { what: "member" })));
        assert!(matches!(members::deactivate(&store, &admin_a, &member_b).await, Err(Error::NotFound { what: "member" })));
        assert!(matches!(members::change_role(&store, &admin_a, &member_b, Role::Ops, &[]).await, Err(Error::NotFound { what: "member" })));
        assert!(matches!(members::find_by_email(&store, &admin_a, "ben@example.com").await, Err(Error::NotFound { .. })));
        assert!(matches!(
            members::caller_for(&store, &org_a, admin_b.user_id.as_deref().unwrap()).await,
            Err(Error::NotFound { what: "org" })
        ));
        assert_eq!(members::list(&store, &admin_a).await.unwrap().len(), 1);
    }

    async fn deactivating_a_member_ends_its_sessions_and_its_access(db) {
        let store = open(&db).await;
        let (org, admin) = org_with_admin(&store, "acme", "ann@example.com").await;
        let ops = members::add_new_user(&store, &admin, &new_user("otto@example.com"), Role::Ops, &[]).await.unwrap();
        raw(&db, &format!(
            "INSERT INTO sessions (id, user_id, data, expires_at, created_at) VALUES ('0123456789abcdef0123', '{}', '{{}}', 4102444800, '2026-01-01T00:00:00Z')",
            ops.user_id
        )).await;
        assert_eq!(governance::sessions::count_for_user(&store, &ops.user_id).await.unwrap(), 1);

        let gone = members::deactivate(&store, &admin, &ops.id).await.unwrap().member;
        assert!(!gone.is_active());
        assert_eq!(governance::sessions::count_for_user(&store, &ops.user_id).await.unwrap(), 0);
        assert!(matches!(members::caller_for(&store, &org, &ops.user_id).await, Err(Error::NotFound { what: "org" })));
        assert!(users::memberships(&store, &ops.user_id).await.unwrap().is_empty());
        assert_eq!(actions(&store, &org).await.last().unwrap(), "member.deactivated");

        // Added again, the membership comes back with its new role.
        let back = members::add(&store, &admin, &ops.user_id, Role::Auditor, &[]).await.unwrap();
        assert_eq!((back.id.as_str(), back.role, back.is_active()), (ops.id.as_str(), Role::Auditor, true));
    }

    async fn the_last_active_admin_can_neither_leave_nor_be_demoted(db) {
        let store = open(&db).await;
        let (org, admin) = org_with_admin(&store, "acme", "ann@example.com").await;
        let me = admin.member_id.clone().unwrap();
        let before = actions(&store, &org).await.len();
        assert!(matches!(members::deactivate(&store, &admin, &me).await, Err(Error::Invalid { field: "member", .. })));
        assert!(matches!(members::change_role(&store, &admin, &me, Role::Ops, &[]).await, Err(Error::Invalid { field: "role", .. })));
        assert_eq!(actions(&store, &org).await.len(), before);

        let second = members::add_new_user(&store, &admin, &new_user("bob@example.com"), Role::Admin, &[]).await.unwrap();
        members::deactivate(&store, &admin, &second.id).await.unwrap();
        assert!(members::caller_for(&store, &org, &admin.user_id.clone().unwrap()).await.is_ok());
    }
}

mod api_tokens {
    use governance::tokens::{self, TokenSecret};

    use super::*;

    on_both_databases! {
        async fn a_token_is_shown_once_stored_hashed_and_acts_with_its_role(db) {
            let store = open(&db).await;
            let (org, admin) = org_with_admin(&store, "acme", "ann@example.com").await;
            let (token, secret) = tokens::create(&store, &admin, "ci export", Role::Auditor).await.unwrap();
            assert!(secret.expose().starts_with("pwt_"));
            assert_eq!(format!("{secret:?}"), "TokenSecret(redacted)");

            let caller = tokens::authenticate(&store, &TokenSecret::new(secret.expose().to_owned())).await.unwrap();
            assert_eq!((caller.org_id.as_str(), caller.role, caller.via.clone()), (org.as_str(), Role::Auditor, Via::ApiToken(token.id.clone())));
            assert!(caller.user_id.is_none());

            let listed = tokens::list(&store, &admin).await.unwrap();
            let used = listed[0].last_used_at.expect("its use is recorded");
            assert!(used >= token.created_at, "{used}");
            assert_eq!(listed, vec![governance::tokens::ApiToken { last_used_at: Some(used), ..token.clone() }]);
            tokens::authenticate(&store, &TokenSecret::new(secret.expose().to_owned())).await.unwrap();
            assert_eq!(tokens::list(&store, &admin).await.unwrap()[0].last_used_at, Some(used), "a use within the minute writes nothing");
            let twin = tokens::create(&store, &admin, "CI Export", Role::Ops).await;
            assert!(matches!(&twin, Err(Error::Invalid { field: "name", problem }) if problem.starts_with("an active token has this name")), "{twin:?}");
            // Neither the table nor the ledger holds the secret.
            let random = secret.expose().rsplit('_').next().unwrap().to_owned();
            use sqlx::Connection;
            let stored: String = match db.backend() {
                pinward_tests::Backend::Sqlite => {
                    let mut c = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
                    sqlx::query_scalar("SELECT secret_hash FROM api_tokens").fetch_one(&mut c).await.unwrap()
                }
                pinward_tests::Backend::Postgres => {
                    let mut c = sqlx::PgConnection::connect(db.url()).await.unwrap();
                    sqlx::query_scalar("SELECT secret_hash FROM api_tokens").fetch_one(&mut c).await.unwrap()
                }
            };
            assert!(!stored.contains(&random) && stored.len() == 64);
            let ledger = governance::ledger::events(&store, &org, 1, u64::MAX).await.unwrap();
            assert!(ledger.iter().all(|e| !e.to_line().unwrap().contains(&random)));

            tokens::revoke(&store, &admin, &token.id).await.unwrap();
            let revoked = tokens::authenticate(&store, &TokenSecret::new(secret.expose().to_owned())).await;
            assert!(matches!(revoked, Err(Error::Unauthenticated)), "{revoked:?}");
            assert!(tokens::list(&store, &admin).await.unwrap()[0].revoked_at.is_some());
            assert_eq!(actions(&store, &org).await[2..], ["token.created", "token.revoked"]);
            tokens::create(&store, &admin, "ci export", Role::Auditor).await.expect("a revoked token's name is free again");
        }

        async fn unknown_or_malformed_tokens_are_one_answer(db) {
            let store = open(&db).await;
            let (org, admin) = org_with_admin(&store, "acme", "ann@example.com").await;
            let (_, secret) = tokens::create(&store, &admin, "ci", Role::Ops).await.unwrap();
            let mut forged = secret.expose().to_owned();
            forged.pop();
            forged.push('x');
            for bad in [forged, String::new(), "pwt_".to_owned(), format!("pwt_{org}"), "Bearer x".to_owned(), format!("pwt_{org}'--_00")] {
                let result = tokens::authenticate(&store, &TokenSecret::new(bad.clone())).await;
                assert!(matches!(result, Err(Error::Unauthenticated)), "{bad:?}: {result:?}");
            }
        }

        async fn bad_token_input_is_refused_and_other_orgs_tokens_are_not_found(db) {
            let store = open(&db).await;
            let (org, admin) = org_with_admin(&store, "acme", "ann@example.com").await;
            let (_, admin_b) = org_with_admin(&store, "beta", "ben@example.com").await;
            let before = actions(&store, &org).await.len();
            assert!(matches!(tokens::create(&store, &admin, " ", Role::Ops).await, Err(Error::Invalid { field: "name", .. })));
            assert!(matches!(tokens::create(&store, &admin, "x", Role::BusinessAdmin).await, Err(Error::Invalid { field: "role", .. })));
            let ops = members::add_new_user(&store, &admin, &new_user("otto@example.com"), Role::Ops, &[]).await.unwrap();
            let ops = members::caller_for(&store, &org, &ops.user_id).await.unwrap();
            assert!(matches!(tokens::create(&store, &ops, "x", Role::Admin).await, Err(Error::Forbidden { .. })));
            assert_eq!(actions(&store, &org).await.len(), before + 1);
            assert!(tokens::list(&store, &admin).await.unwrap().is_empty());

            let (theirs, _) = tokens::create(&store, &admin_b, "theirs", Role::Ops).await.unwrap();
            assert!(matches!(tokens::revoke(&store, &admin, &theirs.id).await, Err(Error::NotFound { what: "token" })));
            assert!(tokens::list(&store, &admin_b).await.unwrap()[0].revoked_at.is_none());
        }
    }
}
