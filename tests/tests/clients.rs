//! `pinward clients …` as an operator uses it: list an org's clients with the ids `--client`
//! takes, and set or clear the age recipient a client's released PINs are sealed to, through
//! the real binary on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Output;

use pinward_tests::{TestDb, on_both_databases};

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

async fn sql(db: &TestDb, statements: &[String]) {
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    db.execute(&statements).await;
}

/// Two orgs made with `admin org create` (acme, rival), acme with clients Alpha and Beta
/// and rival with Zeta, as a sync would have found them.
async fn two_orgs(db: &TestDb) {
    for slug in ["acme", "rival"] {
        ok(&pinward(
            db,
            &["admin", "org", "create", "--slug", slug, "--name", slug],
        ));
    }
    let id = |slug: &str| format!("(SELECT id FROM orgs WHERE slug = '{slug}')");
    let mut statements = Vec::new();
    for (client, slug, name) in [
        ("c-alpha", "acme", "Alpha Foods"),
        ("c-beta", "acme", "Beta Travel"),
        ("c-zeta", "rival", "Zeta"),
    ] {
        statements.push(format!(
            "INSERT INTO clients (id, org_id, name, created_at) VALUES ('{client}', {}, '{name}', '2026-01-01T00:00:00Z')",
            id(slug)
        ));
    }
    sql(db, &statements).await;
}

fn listed(db: &TestDb, org: &str) -> serde_json::Value {
    json(&ok(&pinward(
        db,
        &["clients", "list", "--org", org, "--json"],
    )))
}

on_both_databases! {
    async fn clients_list_shows_each_clients_id_name_and_recipient(db) {
        two_orgs(&db).await;
        let text = ok(&pinward(&db, &["clients", "list", "--org", "acme"]));
        assert_eq!(text, "c-alpha\tAlpha Foods\t-\nc-beta\tBeta Travel\t-\n");
        let all = listed(&db, "acme");
        assert_eq!(all, serde_json::json!([
            {"id": "c-alpha", "name": "Alpha Foods", "age_recipient": null},
            {"id": "c-beta", "name": "Beta Travel", "age_recipient": null},
        ]));
    }

    async fn clients_recipient_sets_and_clears_a_clients_age_recipient(db) {
        two_orgs(&db).await;
        let key = vault::Identity::generate().recipient().to_string();
        let said = ok(&pinward(&db, &["clients", "recipient", "--org", "acme", "--client", "c-beta", "--recipient", &key]));
        assert!(said.contains(&key), "{said}");
        let all = listed(&db, "acme");
        assert_eq!(all[1]["age_recipient"], key.as_str());
        assert_eq!(all[0]["age_recipient"], serde_json::Value::Null, "only that client changed");
        assert!(ok(&pinward(&db, &["clients", "list", "--org", "acme"])).contains(&format!("c-beta\tBeta Travel\t{key}\n")));

        let said = ok(&pinward(&db, &["clients", "recipient", "--org", "acme", "--client", "c-beta", "--clear"]));
        assert!(said.contains("cannot be released"), "{said}");
        assert_eq!(listed(&db, "acme")[1]["age_recipient"], serde_json::Value::Null);
    }

    async fn clients_rename_names_a_client_as_people_know_it(db) {
        two_orgs(&db).await;
        let said = ok(&pinward(&db, &["clients", "rename", "--org", "acme", "--client", "c-beta", "--name", "Beta Travel Group"]));
        assert_eq!(said, "c-beta is now named Beta Travel Group\n");
        assert_eq!(listed(&db, "acme")[1]["name"], "Beta Travel Group");
        let blank = pinward(&db, &["clients", "rename", "--org", "acme", "--client", "c-beta", "--name", " "]);
        assert!(error(&blank).contains("name: 1 to 100 characters"), "{}", error(&blank));
        let theirs = pinward(&db, &["clients", "rename", "--org", "acme", "--client", "c-zeta", "--name", "Mine"]);
        assert!(error(&theirs).contains("client"), "{}", error(&theirs));
        assert_eq!(listed(&db, "rival")[0]["name"], "Zeta", "another org's client is untouched");
    }

    async fn a_bad_key_another_orgs_client_or_no_choice_is_refused_and_changes_nothing(db) {
        two_orgs(&db).await;
        let key = vault::Identity::generate().recipient().to_string();
        let bad = pinward(&db, &["clients", "recipient", "--org", "acme", "--client", "c-alpha", "--recipient", "age1nonsense"]);
        assert!(error(&bad).contains("recipient"), "{}", error(&bad));
        let theirs = pinward(&db, &["clients", "recipient", "--org", "acme", "--client", "c-zeta", "--recipient", &key]);
        assert!(error(&theirs).contains("client"), "{}", error(&theirs));
        let neither = pinward(&db, &["clients", "recipient", "--org", "acme", "--client", "c-alpha"]);
        assert!(!neither.status.success());
        let both = pinward(&db, &["clients", "recipient", "--org", "acme", "--client", "c-alpha", "--recipient", &key, "--clear"]);
        assert!(!both.status.success());
        // The service's own key (made as a first start would make it) is the service's.
        let (service, _) = vault::Identity::load_or_create(&db.dir().join("data").join("identity.txt")).unwrap();
        let own = pinward(&db, &["clients", "recipient", "--org", "acme", "--client", "c-alpha", "--recipient", &service.recipient().to_string()]);
        assert_eq!(error(&own), "error: recipient: is this pinward's own service key: a client's recipient is the client's own key, so that what is released to it opens only with the client's identity");
        assert!(listed(&db, "acme").as_array().unwrap().iter().all(|c| c["age_recipient"].is_null()));
        assert!(listed(&db, "rival")[0]["age_recipient"].is_null());
    }
}
