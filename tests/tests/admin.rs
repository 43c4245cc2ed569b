//! `pinward admin …` as an operator uses it: orgs, members and API tokens through the real
//! binary on both databases, with one-line errors that name the field and change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Output;

use governance::access::Role;
use governance::tokens::TokenSecret;
use governance::users::Password;
use governance::{DatabaseTarget, Store, tokens, users};
use pinward_tests::{TestDb, on_both_databases};

/// Runs the binary with only this test's settings, feeding `stdin`.
fn pinward_with_input(db: &TestDb, args: &[&str], stdin: &str) -> Output {
    pinward_tests::run_with_input(db, args, stdin)
}

fn pinward(db: &TestDb, args: &[&str]) -> Output {
    pinward_tests::run(db, args)
}

fn ok(output: &Output) -> String {
    pinward_tests::succeeded(output)
}

/// The one `error: …` line of a failed run.
fn error(output: &Output) -> String {
    pinward_tests::failed_with(output)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap()
}

async fn store(db: &TestDb) -> Store {
    Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
        .await
        .unwrap()
}

on_both_databases! {
    async fn an_operator_creates_and_lists_orgs_and_a_bad_slug_changes_nothing(db) {
        let created = json(&ok(&pinward(&db, &["admin", "org", "create", "--slug", "acme", "--name", "Acme Partners", "--json"])));
        assert_eq!(created["slug"], "acme");
        let listed = json(&ok(&pinward(&db, &["admin", "org", "list", "--json"])));
        assert_eq!(listed.as_array().unwrap().len(), 1);
        assert_eq!(listed[0]["id"], created["id"]);

        let bad = pinward(&db, &["admin", "org", "create", "--slug", "Not A Slug", "--name", "X"]);
        assert!(error(&bad).starts_with("error: slug:"), "{}", error(&bad));
        let taken = pinward(&db, &["admin", "org", "create", "--slug", "acme", "--name", "X"]);
        assert_eq!(error(&taken), "error: slug: another org has this slug");
        assert_eq!(json(&ok(&pinward(&db, &["admin", "org", "list", "--json"]))).as_array().unwrap().len(), 1);
    }

    async fn a_user_created_with_a_password_on_stdin_signs_in_with_it(db) {
        ok(&pinward(&db, &["admin", "org", "create", "--slug", "acme", "--name", "Acme"]));
        let member = json(&ok(&pinward_with_input(
            &db,
            &["admin", "user", "create", "--org", "acme", "--email", "Ann@Example.com", "--name", "Ann", "--role", "admin", "--password-stdin", "--json"],
            "correct horse battery staple\n",
        )));
        assert_eq!((member["email"].as_str(), member["role"].as_str()), (Some("ann@example.com"), Some("admin")));
        assert!(member.get("password").is_none());
        let store = store(&db).await;
        let user = users::authenticate(&store, "ann@example.com", &Password::new("correct horse battery staple".to_owned())).await.unwrap();
        assert_eq!(user.display_name, "Ann");

        let listed = ok(&pinward(&db, &["admin", "user", "list", "--org", "acme"]));
        assert!(listed.contains("ann@example.com\tadmin\tactive"), "{listed}");
    }

    async fn a_user_created_without_a_password_gets_one_generated_and_shown_once(db) {
        ok(&pinward(&db, &["admin", "org", "create", "--slug", "acme", "--name", "Acme"]));
        let out = ok(&pinward(&db, &["admin", "user", "create", "--org", "acme", "--email", "otto@example.com", "--name", "Otto", "--role", "ops"]));
        let line = out.lines().find(|l| l.starts_with("password (shown once")).unwrap();
        let password = line.rsplit(' ').next().unwrap();
        let store = store(&db).await;
        users::authenticate(&store, "otto@example.com", &Password::new(password.to_owned())).await.unwrap();
        let listed = ok(&pinward(&db, &["admin", "user", "list", "--org", "acme", "--json"]));
        assert!(!listed.contains(password));
    }

    async fn an_email_with_an_account_is_added_to_another_org_only_when_the_operator_says_so(db) {
        ok(&pinward(&db, &["admin", "org", "create", "--slug", "acme", "--name", "Acme"]));
        ok(&pinward(&db, &["admin", "org", "create", "--slug", "globex", "--name", "Globex"]));
        ok(&pinward(&db, &["admin", "user", "create", "--org", "acme", "--email", "ann@example.com", "--name", "Ann", "--role", "ops"]));
        let add_to_globex = ["admin", "user", "create", "--org", "globex", "--email", "ann@example.com", "--name", "Ann Real", "--role", "admin"];

        let typo = pinward(&db, &["admin", "user", "create", "--org", "globex", "--email", "anne@example.com", "--name", "Ann", "--role", "admin", "--existing-account"]);
        assert_eq!(error(&typo), "error: --existing-account: no pinward account has the email anne@example.com");
        assert!(users::find_by_email(&store(&db).await, "anne@example.com").await.unwrap().is_none(), "no account made");

        let refused = pinward(&db, &add_to_globex);
        let said = error(&refused);
        assert!(said.starts_with("error: --email: ann@example.com already has a pinward account (active, named \"Ann\", made "), "{said}");
        assert!(said.contains("a member of acme as ops); it signs in with its own password") && said.contains("run again with --existing-account"), "{said}");
        let globex = ok(&pinward(&db, &["admin", "user", "list", "--org", "globex"]));
        assert!(!globex.contains("ann@example.com"), "added nowhere: {globex}");

        let both = pinward_with_input(&db, &[&add_to_globex[..], &["--existing-account", "--password-stdin"]].concat(), "another password here\n");
        let said = String::from_utf8_lossy(&both.stderr);
        assert!(!both.status.success() && said.contains("'--existing-account' cannot be used with '--password-stdin'"), "{said}");
        ok(&pinward(&db, &[&add_to_globex[..], &["--existing-account"]].concat()));
        let globex = ok(&pinward(&db, &["admin", "user", "list", "--org", "globex"]));
        assert!(globex.contains("ann@example.com\tadmin\tactive"), "{globex}");
        let store = store(&db).await;
        let ann = users::find_by_email(&store, "ann@example.com").await.unwrap().unwrap();
        assert_eq!(ann.display_name, "Ann", "the account keeps its name");
    }

    async fn bad_user_input_is_one_line_naming_the_field_and_adds_nobody(db) {
        ok(&pinward(&db, &["admin", "org", "create", "--slug", "acme", "--name", "Acme"]));
        ok(&pinward(&db, &["admin", "user", "create", "--org", "acme", "--email", "ann@example.com", "--name", "Ann", "--role", "ops"]));
        let cases: [(&[&str], &str, &str); 6] = [
            (&["--email", "Ann@Example.com", "--name", "Ann", "--role", "ops"], "", "error: email: this person is already a member of the org"),
            (&["--email", "nobody", "--name", "N", "--role", "ops"], "", "error: email:"),
            (&["--email", "n@example.com", "--name", "N", "--role", "root"], "", "error: role:"),
            (&["--email", "n@example.com", "--name", "N", "--role", "business_admin"], "", "error: clients:"),
            (&["--email", "n@example.com", "--name", "N", "--role", "ops", "--password-stdin"], "short\n", "error: password:"),
            (&["--email", "n@example.com", "--name", " ", "--role", "ops"], "", "error: name:"),
        ];
        for (args, stdin, expected) in cases {
            let mut all = vec!["admin", "user", "create", "--org", "acme"];
            all.extend_from_slice(args);
            let output = pinward_with_input(&db, &all, stdin);
            let line = error(&output);
            assert!(line.starts_with(expected), "{args:?}: {line}");
            assert!(!line.contains("short"), "{line}");
        }
        let unknown_org = pinward(&db, &["admin", "user", "list", "--org", "nope"]);
        assert!(error(&unknown_org).contains("org not found"), "{}", error(&unknown_org));
        let listed = json(&ok(&pinward(&db, &["admin", "user", "list", "--org", "acme", "--json"])));
        let emails: Vec<&str> = listed.as_array().unwrap().iter().map(|m| m["email"].as_str().unwrap()).collect();
        assert_eq!(emails, ["ann@example.com"]);
    }

    async fn a_deactivated_user_loses_the_org(db) {
        ok(&pinward(&db, &["admin", "org", "create", "--slug", "acme", "--name", "Acme"]));
        ok(&pinward(&db, &["admin", "user", "create", "--org", "acme", "--email", "ann@example.com", "--name", "Ann", "--role", "admin"]));
        ok(&pinward(&db, &["admin", "user", "create", "--org", "acme", "--email", "otto@example.com", "--name", "Otto", "--role", "ops"]));
        ok(&pinward(&db, &["admin", "user", "deactivate", "--org", "acme", "--email", "otto@example.com"]));
        let listed = ok(&pinward(&db, &["admin", "user", "list", "--org", "acme"]));
        assert!(listed.contains("otto@example.com\tops\tdeactivated"), "{listed}");
        let store = store(&db).await;
        let otto = users::find_by_email(&store, "otto@example.com").await.unwrap().unwrap();
        assert!(users::memberships(&store, &otto.id).await.unwrap().is_empty());
    }

    async fn a_token_is_printed_once_authenticates_and_stops_when_revoked(db) {
        ok(&pinward(&db, &["admin", "org", "create", "--slug", "acme", "--name", "Acme"]));
        let created = json(&ok(&pinward(&db, &["admin", "token", "create", "--org", "acme", "--name", "ci", "--role", "auditor", "--json"])));
        let secret = created["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("pwt_"));
        let store = store(&db).await;
        let caller = tokens::authenticate(&store, &TokenSecret::new(secret.clone())).await.unwrap();
        assert_eq!(caller.role, Role::Auditor);

        let listed = ok(&pinward(&db, &["admin", "token", "list", "--org", "acme", "--json"]));
        assert!(!listed.contains(&secret[secret.len() - 20..]), "{listed}");
        assert_eq!(json(&listed)[0]["id"], created["id"]);

        let bad_role = pinward(&db, &["admin", "token", "create", "--org", "acme", "--name", "x", "--role", "business_admin"]);
        assert!(error(&bad_role).starts_with("error: role:"), "{}", error(&bad_role));

        ok(&pinward(&db, &["admin", "token", "revoke", "--org", "acme", created["id"].as_str().unwrap()]));
        assert!(tokens::authenticate(&store, &TokenSecret::new(secret)).await.is_err());
        let listed = ok(&pinward(&db, &["admin", "token", "list", "--org", "acme"]));
        assert!(listed.contains("\trevoked\tlast used 20"), "its last use shows: {listed}");
        assert_eq!(listed.lines().count(), 1);
    }
}
