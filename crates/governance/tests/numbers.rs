//! Policies, the numbers list and record, metadata and the two seats, through the public
//! API, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{Duration, NaiveDate};
use common::seed::{caller, now, phone, seeded};
use common::{ledger, sql};
use governance::Error;
use governance::custody::PinState;
use governance::health::{MailboxKind, Problem};
use governance::numbers::{self, BackupChannel, ChannelKind, Filter, MetadataUpdate, PageRequest};
use governance::policies::{self, Policy};
use pinward_tests::on_both_databases;

fn ids(page: &numbers::Page<numbers::Summary>) -> Vec<&str> {
    page.items
        .iter()
        .map(|n| n.phone_number_id.as_str())
        .collect()
}

async fn list(
    store: &governance::Store,
    member: &str,
    filter: Filter,
) -> numbers::Page<numbers::Summary> {
    numbers::list(
        store,
        &caller(member),
        &filter,
        PageRequest::default(),
        now(),
    )
    .await
    .unwrap()
}

fn actions(events: &[(String, String)]) -> Vec<&str> {
    events.iter().map(|(a, _)| a.as_str()).collect()
}

fn good_metadata() -> MetadataUpdate {
    MetadataUpdate {
        usage: Some("Sales line for ads".to_owned()),
        activation_date: NaiveDate::from_ymd_opt(2024, 3, 1),
        recovery_email: Some("WhatsApp@Alpha.example".to_owned()),
        backup_channels: vec![
            BackupChannel {
                kind: ChannelKind::Email,
                value: "ops@alpha.example".to_owned(),
            },
            BackupChannel {
                kind: ChannelKind::WebForm,
                value: "https://alpha.example/contact".to_owned(),
            },
        ],
    }
}

on_both_databases! {
    async fn an_org_runs_on_default_policies_until_an_admin_changes_them_and_the_change_is_ledgered(db) {
        let store = seeded(&db).await;
        assert_eq!(policies::get(&store, &caller("m-eve")).await.unwrap(), Policy::default());
        let wanted = Policy { review_cadence_days: 120, rotate_on_handover: false, ..Policy::default() };
        policies::set(&store, &caller("m-ann"), wanted, now()).await.unwrap();
        assert_eq!(policies::get(&store, &caller("m-bob")).await.unwrap(), wanted);
        let events = ledger(&store).await;
        assert_eq!(actions(&events), ["policy.updated"]);
        assert!(events[0].1.contains(r#""review_cadence_days":{"from":90,"to":120}"#), "{}", events[0].1);
        assert!(!events[0].1.contains("max_pin_age_days"), "unchanged fields are not listed");
        // Saving the same policy again writes nothing.
        policies::set(&store, &caller("m-ann"), wanted, now()).await.unwrap();
        assert_eq!(ledger(&store).await.len(), 1);
        // The other org still runs on the defaults.
        assert_eq!(policies::get(&store, &caller("m-zed")).await.unwrap(), Policy::default());
    }

    async fn a_policy_out_of_range_or_set_by_a_non_admin_is_refused_and_changes_nothing(db) {
        let store = seeded(&db).await;
        for (policy, field) in [
            (Policy { review_cadence_days: 89, ..Policy::default() }, "review_cadence_days"),
            (Policy { review_cadence_days: 184, ..Policy::default() }, "review_cadence_days"),
            (Policy { max_pin_age_days: 0, ..Policy::default() }, "max_pin_age_days"),
        ] {
            let error = policies::set(&store, &caller("m-ann"), policy, now()).await.unwrap_err();
            assert!(matches!(error, Error::Invalid { field: f, .. } if f == field), "{error:?}");
        }
        let error = policies::set(&store, &caller("m-bob"), Policy { review_cadence_days: 100, ..Policy::default() }, now())
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Forbidden { needed: "org:manage" }), "{error:?}");
        assert_eq!(policies::get(&store, &caller("m-ann")).await.unwrap(), Policy::default());
        assert!(ledger(&store).await.is_empty());
    }

    async fn the_list_shows_only_the_callers_org_and_a_business_admin_only_its_clients(db) {
        let store = seeded(&db).await;
        let all = list(&store, "m-eve", Filter::default()).await;
        assert_eq!(ids(&all), ["1001", "1002", "1003", "1004"]);
        assert_eq!(all.total, 4);
        assert_eq!(all.items[0].client_name, "Alpha Foods");
        assert_eq!(all.items[0].pin_state, PinState::Escrowed);
        let dan = list(&store, "m-dan", Filter::default()).await;
        assert_eq!((ids(&dan), dan.total), (vec!["1001", "1002"], 2));
        let other = list(&store, "m-zed", Filter::default()).await;
        assert_eq!(ids(&other), ["9001"]);
        // A business admin asking for another client's numbers gets none.
        let foreign = list(&store, "m-dan", Filter { client_id: Some("client-b".to_owned()), ..Filter::default() }).await;
        assert_eq!(foreign.total, 0);
    }

    async fn the_list_searches_filters_and_pages(db) {
        let store = seeded(&db).await;
        let search = |text: &str| Filter { search: Some(text.to_owned()), ..Filter::default() };
        assert_eq!(ids(&list(&store, "m-ann", search("BETA")).await), ["1003", "1004"]);
        assert_eq!(ids(&list(&store, "m-ann", search("010-1002")).await), ["1002"]);
        assert_eq!(ids(&list(&store, "m-ann", search("5550101001")).await), ["1001"], "digits match without punctuation");
        assert_eq!(ids(&list(&store, "m-ann", search("555.010.1001")).await), ["1001"], "or written with dots");
        assert_eq!(ids(&list(&store, "m-ann", search("+1 (555) 010/1001")).await), ["1001"], "or slashes and brackets");
        assert_eq!(list(&store, "m-ann", search("50%")).await.total, 0, "wildcards are literal");
        let escrowed = Filter { pin_state: Some(PinState::Escrowed), ..Filter::default() };
        assert_eq!(ids(&list(&store, "m-ann", escrowed).await), ["1001", "1003"]);
        let b = Filter { client_id: Some("client-b".to_owned()), ..Filter::default() };
        assert_eq!(ids(&list(&store, "m-ann", b).await), ["1003", "1004"]);
        let unescrowed = Filter { problem: Some(Problem::PinNotEscrowed), ..Filter::default() };
        assert_eq!(ids(&list(&store, "m-ann", unescrowed).await), ["1002", "1004"]);

        let second = numbers::list(&store, &caller("m-ann"), &Filter::default(), PageRequest { page: 2, per_page: 3 }, now())
            .await
            .unwrap();
        assert_eq!((ids(&second), second.total), (vec!["1004"], 4));
        let second_unescrowed = numbers::list(
            &store,
            &caller("m-ann"),
            &Filter { problem: Some(Problem::PinNotEscrowed), ..Filter::default() },
            PageRequest { page: 2, per_page: 1 },
            now(),
        )
        .await
        .unwrap();
        assert_eq!((ids(&second_unescrowed), second_unescrowed.total), (vec!["1004"], 2));
    }

    async fn the_lists_total_follows_numbers_as_they_are_added_moved_between_wabas_and_removed(db) {
        let store = seeded(&db).await;
        let client_b = || Filter { client_id: Some("client-b".to_owned()), ..Filter::default() };
        let totals = || async {
            (
                list(&store, "m-ann", Filter::default()).await.total,
                list(&store, "m-dan", Filter::default()).await.total,
                list(&store, "m-ann", client_b()).await.total,
            )
        };
        assert_eq!(totals().await, (4, 2, 2), "everything, client a's business admin, client b");
        sql(&db, &["INSERT INTO phone_numbers (id, org_id, waba_id, meta_phone_number_id, display_phone_number, \
                    pin_state, first_seen_at, last_synced_at) VALUES ('n-1005', 'org-acme', 'waba-a', '1005', \
                    '+1 555-010-1005', 'unknown', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"]).await;
        assert_eq!(totals().await, (5, 3, 2));
        // A sync writes every number's WABA again: the same WABA changes nothing.
        sql(&db, &["UPDATE phone_numbers SET waba_id = waba_id, display_phone_number = display_phone_number"]).await;
        assert_eq!(totals().await, (5, 3, 2));
        // Meta moved a number to another WABA (of another client).
        sql(&db, &["UPDATE phone_numbers SET waba_id = 'waba-a' WHERE id = 'n-1003'"]).await;
        assert_eq!(totals().await, (5, 4, 1));
        sql(&db, &["DELETE FROM phone_numbers WHERE id = 'n-1005'"]).await;
        assert_eq!(totals().await, (4, 3, 1));
        // The counted totals agree with the numbers themselves, and with a filter that counts.
        let everything = list(&store, "m-ann", Filter::default()).await;
        assert_eq!(ids(&everything), ["1001", "1002", "1003", "1004"]);
        let escrowed = Filter { pin_state: Some(PinState::Escrowed), ..client_b() };
        assert_eq!(list(&store, "m-ann", escrowed).await.total, 0, "1003 left client b");
        // Another org's numbers never enter this org's total.
        assert_eq!(list(&store, "m-zed", Filter::default()).await.total, 1);
    }

    async fn the_lists_health_follows_the_orgs_policy(db) {
        let store = seeded(&db).await;
        let too_old = |page: &numbers::Page<numbers::Summary>| -> Vec<String> {
            page.items.iter().filter(|n| n.health.contains(&Problem::PinTooOld)).map(|n| n.phone_number_id.clone()).collect()
        };
        // 1001 and 1003 got their PINs on 2026-10-01, 50 days before now.
        assert!(too_old(&list(&store, "m-ann", Filter::default()).await).is_empty(), "the default allows 180 days");
        let strict = Policy { max_pin_age_days: 30, ..Policy::default() };
        policies::set(&store, &caller("m-ann"), strict, now()).await.unwrap();
        assert_eq!(too_old(&list(&store, "m-ann", Filter::default()).await), ["1001", "1003"]);
        assert_eq!(too_old(&list(&store, "m-dan", Filter::default()).await), ["1001"]);
        let filtered = list(&store, "m-ann", Filter { problem: Some(Problem::PinTooOld), ..Filter::default() }).await;
        assert_eq!((ids(&filtered), filtered.total), (vec!["1001", "1003"], 2));
        // The other org keeps the defaults.
        assert!(too_old(&list(&store, "m-zed", Filter::default()).await).is_empty());
    }

    async fn numbers_there_before_the_counts_existed_are_counted(db) {
        let store = governance::Store::connect(&governance::DatabaseTarget::parse(db.url()).unwrap()).await.unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations").join(match db.backend() {
            pinward_tests::Backend::Sqlite => "sqlite",
            pinward_tests::Backend::Postgres => "postgres",
        });
        let migrator = sqlx::migrate::Migrator::new(dir).await.unwrap();
        match db.backend() {
            pinward_tests::Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(db.url()).await.unwrap();
                migrator.run_to(10, &pool).await.unwrap();
            }
            pinward_tests::Backend::Postgres => {
                let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
                migrator.run_to(10, &pool).await.unwrap();
            }
        }
        let t = "'2026-01-01T00:00:00Z'";
        let mut statements = vec![
            format!("INSERT INTO orgs (id, slug, name, created_at) VALUES ('org-old', 'org-old', 'Old', {t})"),
            format!("INSERT INTO clients (id, org_id, name, created_at) VALUES ('c-old', 'org-old', 'Old client', {t})"),
        ];
        for waba in ["w-1", "w-2"] {
            statements.push(format!(
                "INSERT INTO wabas (id, org_id, client_id, meta_waba_id, name, ownership, first_seen_at, last_seen_at) \
                 VALUES ('{waba}', 'org-old', 'c-old', '{waba}', '{waba}', 'client', {t}, {t})"
            ));
        }
        for (i, waba) in ["w-1", "w-1", "w-2"].iter().enumerate() {
            statements.push(format!(
                "INSERT INTO phone_numbers (id, org_id, waba_id, meta_phone_number_id, display_phone_number, pin_state, \
                 first_seen_at, last_synced_at) VALUES ('n-{i}', 'org-old', '{waba}', '{i}', '+1 555-000-000{i}', 'unknown', {t}, {t})"
            ));
        }
        let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
        sql(&db, &refs).await;
        store.migrate().await.unwrap();
        let page = numbers::list(&store, &governance::access::Caller::cli("org-old"), &Filter::default(), PageRequest::default(), now())
            .await
            .unwrap();
        assert_eq!((page.items.len(), page.total), (3, 3));
    }

    async fn bad_list_parameters_are_refused_by_name(db) {
        let store = seeded(&db).await;
        for (page, field) in [
            (PageRequest { page: 0, per_page: 10 }, "page"),
            (PageRequest { page: 1, per_page: 0 }, "per_page"),
            (PageRequest { page: 1, per_page: 201 }, "per_page"),
        ] {
            let error = numbers::list(&store, &caller("m-ann"), &Filter::default(), page, now()).await.unwrap_err();
            assert!(matches!(error, Error::Invalid { field: f, .. } if f == field), "{error:?}");
        }
        let long = Filter { search: Some("x".repeat(101)), ..Filter::default() };
        let error = numbers::list(&store, &caller("m-ann"), &long, PageRequest::default(), now()).await.unwrap_err();
        assert!(matches!(error, Error::Invalid { field: "search", .. }), "{error:?}");
    }

    async fn the_health_filter_agrees_with_the_health_of_every_number(db) {
        let store = seeded(&db).await;
        numbers::assign(&store, &caller("m-ann"), &phone("1001"), "m-bob", "m-cat", now()).await.unwrap();
        numbers::update_metadata(&store, &caller("m-ann"), &phone("1003"), &MetadataUpdate {
            recovery_email: Some("someone@gmail.com".to_owned()),
            ..MetadataUpdate::default()
        }, now()).await.unwrap();
        sql(&db, &["UPDATE phone_numbers SET permission_manager_id = 'm-gil', escrow_stale = TRUE WHERE id = 'n-1003'"]).await;
        let all = list(&store, "m-ann", Filter::default()).await;
        for problem in Problem::ALL {
            let filtered = list(&store, "m-ann", Filter { problem: Some(problem), ..Filter::default() }).await;
            let expected: Vec<&str> = all
                .items
                .iter()
                .filter(|n| n.health.contains(&problem))
                .map(|n| n.phone_number_id.as_str())
                .collect();
            assert_eq!(ids(&filtered), expected, "{problem:?}");
        }
        let health = |id: &str| all.items.iter().find(|n| n.phone_number_id == id).unwrap().health.clone();
        assert!(!health("1001").contains(&Problem::NoOwner));
        assert!(health("1002").contains(&Problem::NoOwner));
        assert!(health("1003").contains(&Problem::ManagerDeparted));
        assert!(health("1003").contains(&Problem::PersonalRecoveryEmail));
        assert!(health("1003").contains(&Problem::OutOfBandChange));
        assert!(health("1001").contains(&Problem::ReviewOverdue), "never reviewed since January");
    }

    async fn a_numbers_record_holds_its_facts_people_versions_and_events_but_no_pin(db) {
        let store = seeded(&db).await;
        numbers::assign(&store, &caller("m-ann"), &phone("1001"), "m-bob", "m-cat", now()).await.unwrap();
        let record = numbers::record(&store, &caller("m-dan"), &phone("1001"), now()).await.unwrap();
        assert_eq!(record.meta.display_phone_number, "+1 555-010-1001");
        assert_eq!((record.client.id.as_str(), record.client.name.as_str()), ("client-a", "Alpha Foods"));
        assert_eq!(record.waba.meta_waba_id, "meta-waba-a");
        assert_eq!(record.owner.as_ref().unwrap().name, "Bob Ops");
        assert_eq!(record.manager.as_ref().unwrap().name, "Cat Ops");
        assert_eq!(record.versions.len(), 1);
        assert_eq!(record.versions[0].status, "current");
        assert_eq!(record.events.len(), 1);
        assert_eq!(record.events[0].action, "number.assigned");
        let text = serde_json::to_string(&record).unwrap();
        assert!(!text.contains("sealed"), "no sealed PIN leaves the record");
    }

    async fn another_orgs_or_another_clients_number_is_not_found(db) {
        let store = seeded(&db).await;
        for (member, number) in [("m-ann", "9001"), ("m-zed", "1001"), ("m-dan", "1003"), ("m-hal", "1001")] {
            let error = numbers::record(&store, &caller(member), &phone(number), now()).await.unwrap_err();
            assert!(matches!(error, Error::NotFound { what: "phone number" }), "{member} {number}: {error:?}");
            let error = numbers::update_metadata(&store, &caller(member), &phone(number), &good_metadata(), now()).await.unwrap_err();
            assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
        }
        let error = numbers::assign(&store, &caller("m-dan"), &phone("1003"), "m-bob", "m-cat", now()).await.unwrap_err();
        assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
        assert!(ledger(&store).await.is_empty());
    }

    async fn metadata_is_saved_normalized_flagged_and_ledgered_with_what_changed(db) {
        let store = seeded(&db).await;
        let saved = numbers::update_metadata(&store, &caller("m-dan"), &phone("1001"), &good_metadata(), now()).await.unwrap();
        assert_eq!(saved.recovery_email.as_deref(), Some("whatsapp@alpha.example"));
        assert_eq!(saved.recovery_email_kind, Some(MailboxKind::Business));
        let record = numbers::record(&store, &caller("m-ann"), &phone("1001"), now()).await.unwrap();
        assert_eq!(record.metadata, saved);
        assert!(!record.health.contains(&Problem::FewBackupChannels));
        assert!(!record.health.contains(&Problem::NoRecoveryEmail));
        let events = ledger(&store).await;
        assert_eq!(actions(&events), ["number.updated"]);
        assert!(events[0].1.contains(r#""usage":{"from":null,"to":"Sales line for ads"}"#), "{}", events[0].1);

        let personal = MetadataUpdate { recovery_email: Some("ann@yahoo.com".to_owned()), ..good_metadata() };
        let saved = numbers::update_metadata(&store, &caller("m-ann"), &phone("1001"), &personal, now()).await.unwrap();
        assert_eq!(saved.recovery_email_kind, Some(MailboxKind::Personal));
        let events = ledger(&store).await;
        assert_eq!(events.len(), 2);
        assert!(events[1].1.contains(r#""recovery_email_flag":"personal""#), "{}", events[1].1);
        assert!(!events[1].1.contains("usage"), "only what changed is ledgered");
        // Saving the same again writes nothing.
        numbers::update_metadata(&store, &caller("m-ann"), &phone("1001"), &personal, now()).await.unwrap();
        assert_eq!(ledger(&store).await.len(), 2);
    }

    async fn bad_metadata_is_refused_by_field_and_changes_nothing(db) {
        let store = seeded(&db).await;
        let cases: Vec<(MetadataUpdate, &str)> = vec![
            (MetadataUpdate { recovery_email: Some("not an email".to_owned()), ..good_metadata() }, "recovery_email"),
            (MetadataUpdate { usage: Some("u".repeat(201)), ..good_metadata() }, "usage"),
            (MetadataUpdate { activation_date: Some(now().date_naive() + Duration::days(1)), ..good_metadata() }, "activation_date"),
            (MetadataUpdate { activation_date: NaiveDate::from_ymd_opt(2001, 1, 1), ..good_metadata() }, "activation_date"),
            (MetadataUpdate { backup_channels: vec![BackupChannel { kind: ChannelKind::WebForm, value: "ftp://alpha.example".to_owned() }], ..good_metadata() }, "backup_channels"),
            (MetadataUpdate { backup_channels: vec![BackupChannel { kind: ChannelKind::Phone, value: "call me".to_owned() }], ..good_metadata() }, "backup_channels"),
            (MetadataUpdate { backup_channels: vec![BackupChannel { kind: ChannelKind::Email, value: "x@y.example".to_owned() }; 2], ..good_metadata() }, "backup_channels"),
            (MetadataUpdate { backup_channels: vec![BackupChannel { kind: ChannelKind::Other, value: " ".to_owned() }], ..good_metadata() }, "backup_channels"),
            // Free text is ledgered for good: what looks like a PIN never goes in.
            (MetadataUpdate { usage: Some("Front desk, PIN 123456".to_owned()), ..good_metadata() }, "usage"),
            (MetadataUpdate { backup_channels: vec![BackupChannel { kind: ChannelKind::Other, value: "pin 123456".to_owned() }], ..good_metadata() }, "backup_channels"),
            (MetadataUpdate { backup_channels: vec![BackupChannel { kind: ChannelKind::Messenger, value: "+15550100200".to_owned() }], ..good_metadata() }, "backup_channels"),
        ];
        for (update, field) in cases {
            let error = numbers::update_metadata(&store, &caller("m-ann"), &phone("1001"), &update, now()).await.unwrap_err();
            assert!(matches!(error, Error::Invalid { field: f, .. } if f == field), "{field}: {error:?}");
        }
        assert!(matches!(ChannelKind::parse("carrier pigeon"), Err(Error::Invalid { field: "backup_channels", .. })));
        let error = numbers::update_metadata(&store, &caller("m-eve"), &phone("1001"), &good_metadata(), now()).await.unwrap_err();
        assert!(matches!(error, Error::Forbidden { .. }), "{error:?}");
        let record = numbers::record(&store, &caller("m-ann"), &phone("1001"), now()).await.unwrap();
        assert_eq!(record.metadata.usage, None);
        assert!(record.metadata.backup_channels.is_empty());
        assert!(ledger(&store).await.is_empty());
    }

    async fn owner_and_manager_are_two_different_active_members_who_can_see_the_number(db) {
        let store = seeded(&db).await;
        let refused: [(&str, &str, &str, &str); 6] = [
            ("1001", "m-bob", "m-bob", "manager"),
            ("1001", "m-gil", "m-bob", "owner"),
            ("1001", "m-bob", "m-gil", "manager"),
            ("1001", "m-nobody", "m-bob", "owner"),
            ("1001", "m-zed", "m-bob", "owner"),
            ("1001", "m-hal", "m-bob", "owner"),
        ];
        for (number, owner, manager, field) in refused {
            let error = numbers::assign(&store, &caller("m-ann"), &phone(number), owner, manager, now()).await.unwrap_err();
            assert!(matches!(error, Error::Invalid { field: f, .. } if f == field), "{owner}/{manager}: {error:?}");
        }
        let error = numbers::assign(&store, &caller("m-eve"), &phone("1001"), "m-bob", "m-cat", now()).await.unwrap_err();
        assert!(matches!(error, Error::Forbidden { needed: "numbers:manage" }), "{error:?}");
        assert!(ledger(&store).await.is_empty());
        let record = numbers::record(&store, &caller("m-ann"), &phone("1001"), now()).await.unwrap();
        assert_eq!((record.owner, record.manager), (None, None));

        // A business admin assigns on its own client's number, itself included.
        numbers::assign(&store, &caller("m-dan"), &phone("1001"), "m-dan", "m-bob", now()).await.unwrap();
        let record = numbers::record(&store, &caller("m-ann"), &phone("1001"), now()).await.unwrap();
        assert_eq!(record.owner.unwrap().member_id, "m-dan");
        assert_eq!(record.manager.unwrap().member_id, "m-bob");
        let events = ledger(&store).await;
        assert_eq!(actions(&events), ["number.assigned"]);
        assert!(events[0].1.contains(r#""owner":{"from":null,"to":"m-dan"}"#), "{}", events[0].1);
    }

    async fn only_an_org_admin_replaces_an_active_seat_holder_directly_and_ops_never_seat_themselves(db) {
        let store = seeded(&db).await;
        let refused = |owner: &'static str, manager: &'static str, by: &'static str| {
            let store = store.clone();
            async move { numbers::assign(&store, &caller(by), &phone("1001"), owner, manager, now()).await.unwrap_err() }
        };
        let invalid = |error: Error, field: &str| matches!(error, Error::Invalid { field: f, .. } if f == field);
        assert!(invalid(refused("m-bob", "m-cat", "m-bob").await, "owner"), "ops cannot take the owner seat");
        assert!(invalid(refused("m-cat", "m-bob", "m-bob").await, "manager"), "nor the manager seat");
        assert!(ledger(&store).await.is_empty(), "nothing changed");

        numbers::assign(&store, &caller("m-bob"), &phone("1001"), "m-cat", "m-dan", now()).await.unwrap();
        let record = numbers::record(&store, &caller("m-ann"), &phone("1001"), now()).await.unwrap();
        assert_eq!((record.owner.unwrap().member_id, record.manager.unwrap().member_id), ("m-cat".to_owned(), "m-dan".to_owned()), "ops staffs empty seats with others");
        let before = ledger(&store).await.len();
        assert!(invalid(refused("m-eve", "m-dan", "m-bob").await, "owner"), "ops cannot replace an active owner");
        assert!(invalid(refused("m-cat", "m-bob", "m-dan").await, "manager"), "nor can a business admin replace an active manager");
        assert_eq!(ledger(&store).await.len(), before, "nothing changed");

        numbers::assign(&store, &caller("m-ann"), &phone("1001"), "m-bob", "m-dan", now()).await.unwrap();
        let record = numbers::record(&store, &caller("m-ann"), &phone("1001"), now()).await.unwrap();
        assert_eq!(record.owner.unwrap().member_id, "m-bob", "an org admin reassigns an active holder's seat");
    }
}

/// On PostgreSQL, row-level security keeps policies and handovers inside their tenant: an
/// app role (not a superuser, which would bypass it) sees nothing without the tenant set
/// and only its own org's rows with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_and_handovers_are_invisible_outside_their_tenant_on_postgres() {
    use sqlx::Connection;

    let db = pinward_tests::TestDb::new(pinward_tests::Backend::Postgres).await;
    let store = seeded(&db).await;
    policies::set(
        &store,
        &caller("m-ann"),
        Policy {
            review_cadence_days: 100,
            ..Policy::default()
        },
        now(),
    )
    .await
    .unwrap();
    numbers::assign(
        &store,
        &caller("m-ann"),
        &phone("1001"),
        "m-bob",
        "m-cat",
        now(),
    )
    .await
    .unwrap();
    governance::handovers::propose(
        &store,
        &caller("m-bob"),
        &phone("1001"),
        governance::handovers::Seat::Owner,
        "m-ann",
        "Leaving the team",
        now(),
    )
    .await
    .unwrap();
    let role = format!("pw_app_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    sql(
        &db,
        &[
            &format!("CREATE ROLE {role} LOGIN"),
            &format!("GRANT USAGE ON SCHEMA public TO {role}"),
            &format!("GRANT SELECT, INSERT ON org_policies, handovers TO {role}"),
        ],
    )
    .await;
    let url = db.url().replacen("postgres@", &format!("{role}@"), 1);
    let mut app = sqlx::PgConnection::connect(&url).await.unwrap();
    async fn count(app: &mut sqlx::PgConnection, tenant: Option<&str>) -> (i64, i64) {
        let mut tx = app.begin().await.unwrap();
        if let Some(tenant) = tenant {
            sqlx::query("SELECT set_config('pinward.org_id', $1, true)")
                .bind(tenant)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        let policies: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_policies")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        let handovers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM handovers")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        (policies, handovers)
    }
    assert_eq!(count(&mut app, None).await, (0, 0), "no tenant, no rows");
    assert_eq!(count(&mut app, Some(common::seed::OTHER_ORG)).await, (0, 0));
    assert_eq!(count(&mut app, Some(common::ORG)).await, (1, 1));
    let mut tx = app.begin().await.unwrap();
    sqlx::query("SELECT set_config('pinward.org_id', $1, true)")
        .bind(common::seed::OTHER_ORG)
        .execute(&mut *tx)
        .await
        .unwrap();
    let refused = sqlx::query(
        "INSERT INTO org_policies (org_id, review_cadence_days, max_pin_age_days, rotate_after_reveal, rotate_on_handover, updated_at, updated_by) \
         VALUES ('org-acme', 90, 90, TRUE, TRUE, now(), 'system')",
    )
    .execute(&mut *tx)
    .await;
    assert!(
        refused.is_err(),
        "a row of another tenant cannot be written"
    );
}
