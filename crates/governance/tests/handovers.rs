//! Two-sided handovers of a number's seats and periodic reviews, through the public API, on
//! SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Duration;
use common::ledger;
use common::seed::{caller, now, phone, seeded};
use governance::Error;
use governance::Store;
use governance::access::Role;
use governance::custody::Outcome;
use governance::handovers::{self, Checklist, Seat};
use governance::health::Problem;
use governance::numbers::{self, BackupChannel, ChannelKind, MetadataUpdate};
use governance::policies::{self, Policy};
use governance::reviews;
use pinward_tests::on_both_databases;

const NOTE: &str = "Moving to the Lisbon office; the recovery inbox is the shared ops one.";

const ALL_CONFIRMED: Checklist = Checklist {
    recovery_email_confirmed: true,
    backup_channels_confirmed: true,
    pin_escrowed: true,
};

/// Bob owns and Cat manages `number`, whose recovery email and backup channels are recorded.
async fn staffed(store: &Store, number: &str) {
    numbers::assign(
        store,
        &caller("m-ann"),
        &phone(number),
        "m-bob",
        "m-cat",
        now(),
    )
    .await
    .unwrap();
    let update = MetadataUpdate {
        recovery_email: Some("whatsapp@alpha.example".to_owned()),
        backup_channels: vec![
            BackupChannel {
                kind: ChannelKind::Email,
                value: "ops@alpha.example".to_owned(),
            },
            BackupChannel {
                kind: ChannelKind::Phone,
                value: "+1 555 010 9999".to_owned(),
            },
        ],
        ..MetadataUpdate::default()
    };
    numbers::update_metadata(store, &caller("m-ann"), &phone(number), &update, now())
        .await
        .unwrap();
}

async fn actions(store: &Store) -> Vec<String> {
    ledger(store).await.into_iter().map(|(a, _)| a).collect()
}

async fn owner_and_manager(store: &Store, number: &str) -> (String, String) {
    let record = numbers::record(store, &caller("m-ann"), &phone(number), now())
        .await
        .unwrap();
    (
        record.owner.unwrap().member_id,
        record.manager.unwrap().member_id,
    )
}

on_both_databases! {
    async fn a_handover_is_proposed_in_writing_and_the_seat_moves_when_the_incoming_member_accepts(db) {
        let store = seeded(&db).await;
        staffed(&store, "1001").await;
        let proposed = handovers::propose(&store, &caller("m-bob"), &phone("1001"), Seat::Owner, "m-ann", NOTE, now())
            .await
            .unwrap();
        assert_eq!(proposed.from_member_id.as_deref(), Some("m-bob"));
        assert_eq!(handovers::waiting_for(&store, &caller("m-ann")).await.unwrap(), vec![proposed.clone()]);
        let record = numbers::record(&store, &caller("m-eve"), &phone("1001"), now()).await.unwrap();
        assert_eq!(record.open_handovers, vec![proposed.clone()]);
        assert_eq!(owner_and_manager(&store, "1001").await.0, "m-bob", "nothing moves before acceptance");

        let accepted = handovers::accept(&store, &caller("m-ann"), &proposed.id, ALL_CONFIRMED, false, now())
            .await
            .unwrap();
        assert_eq!(accepted.handover.status, "accepted");
        assert!(accepted.rotation_due, "the default policy rotates on handover");
        assert_eq!(owner_and_manager(&store, "1001").await, ("m-ann".to_owned(), "m-cat".to_owned()));
        assert!(handovers::waiting_for(&store, &caller("m-ann")).await.unwrap().is_empty());
        let events = ledger(&store).await;
        let (action, details) = events.last().unwrap();
        assert_eq!(action, "handover.accepted");
        assert!(details.contains(r#""pin_escrowed":true"#), "{details}");
        assert!(actions(&store).await.contains(&"handover.proposed".to_owned()));

        // Without the policy, a rotation is due only when the incoming member asks for one.
        let policy = Policy { rotate_on_handover: false, ..Policy::default() };
        policies::set(&store, &caller("m-ann"), policy, now()).await.unwrap();
        let h = handovers::propose(&store, &caller("m-cat"), &phone("1001"), Seat::Manager, "m-dan", NOTE, now()).await.unwrap();
        let accepted = handovers::accept(&store, &caller("m-dan"), &h.id, ALL_CONFIRMED, false, now()).await.unwrap();
        assert!(!accepted.rotation_due);
        let h = handovers::propose(&store, &caller("m-dan"), &phone("1001"), Seat::Manager, "m-bob", NOTE, now()).await.unwrap();
        let accepted = handovers::accept(&store, &caller("m-bob"), &h.id, ALL_CONFIRMED, true, now()).await.unwrap();
        assert!(accepted.rotation_due);
    }

    async fn the_checklist_is_checked_against_the_number_and_a_refused_acceptance_changes_nothing(db) {
        let store = seeded(&db).await;
        staffed(&store, "1001").await;
        let h = handovers::propose(&store, &caller("m-bob"), &phone("1001"), Seat::Owner, "m-ann", NOTE, now()).await.unwrap();
        for (checklist, field) in [
            (Checklist { recovery_email_confirmed: false, ..ALL_CONFIRMED }, "recovery_email_confirmed"),
            (Checklist { backup_channels_confirmed: false, ..ALL_CONFIRMED }, "backup_channels_confirmed"),
            (Checklist { pin_escrowed: false, ..ALL_CONFIRMED }, "pin_escrowed"),
        ] {
            let error = handovers::accept(&store, &caller("m-ann"), &h.id, checklist, false, now()).await.unwrap_err();
            assert!(matches!(error, Error::Invalid { field: f, .. } if f == field), "{error:?}");
        }
        // 1002's PIN is not escrowed: ticking the box does not make it so.
        staffed(&store, "1002").await;
        let unescrowed = handovers::propose(&store, &caller("m-bob"), &phone("1002"), Seat::Owner, "m-ann", NOTE, now()).await.unwrap();
        let error = handovers::accept(&store, &caller("m-ann"), &unescrowed.id, ALL_CONFIRMED, false, now()).await.unwrap_err();
        assert!(matches!(error, Error::Invalid { field: "pin_escrowed", .. }), "{error:?}");
        // 1003 has no recovery email to confirm.
        numbers::assign(&store, &caller("m-ann"), &phone("1003"), "m-bob", "m-cat", now()).await.unwrap();
        let bare = handovers::propose(&store, &caller("m-bob"), &phone("1003"), Seat::Owner, "m-ann", NOTE, now()).await.unwrap();
        let error = handovers::accept(&store, &caller("m-ann"), &bare.id, ALL_CONFIRMED, false, now()).await.unwrap_err();
        assert!(matches!(error, Error::Invalid { field: "recovery_email_confirmed", .. }), "{error:?}");

        for number in ["1001", "1002", "1003"] {
            assert_eq!(owner_and_manager(&store, number).await.0, "m-bob");
            let record = numbers::record(&store, &caller("m-ann"), &phone(number), now()).await.unwrap();
            assert_eq!(record.open_handovers.len(), 1, "{number}: still open");
        }
        assert!(!actions(&store).await.contains(&"handover.accepted".to_owned()));

        // A form asks for every fault at once: the incoming member's, in the checklist's order.
        let record = numbers::record(&store, &caller("m-ann"), &phone("1003"), now()).await.unwrap();
        let nothing_ticked = Checklist { recovery_email_confirmed: false, backup_channels_confirmed: false, pin_escrowed: false };
        let fields = |faults: Vec<Error>| faults.into_iter().map(|f| match f { Error::Invalid { field, .. } => field, other => panic!("{other:?}") }).collect::<Vec<_>>();
        let faults = handovers::checklist_faults(&caller("m-ann"), &record, &bare.id, &nothing_ticked);
        assert_eq!(fields(faults), ["recovery_email_confirmed", "backup_channels_confirmed", "pin_escrowed"]);
        let faults = handovers::checklist_faults(&caller("m-bob"), &record, &bare.id, &nothing_ticked);
        assert!(faults.is_empty(), "only the incoming member's: accept refuses anyone else itself");
    }

    async fn only_the_holder_or_an_admin_proposes_and_only_the_incoming_member_accepts(db) {
        let store = seeded(&db).await;
        staffed(&store, "1001").await;
        for member in ["m-eve", "m-dan"] {
            let error = handovers::propose(&store, &caller(member), &phone("1001"), Seat::Owner, "m-ann", NOTE, now()).await.unwrap_err();
            assert!(matches!(error, Error::Forbidden { .. }), "{member}: {error:?}");
        }
        let error = handovers::propose(&store, &caller("m-cat"), &phone("1001"), Seat::Owner, "m-ann", NOTE, now()).await.unwrap_err();
        assert!(matches!(error, Error::Invalid { field: "seat", .. }), "the manager picked the wrong seat: {error:?}");
        let error = handovers::propose(&store, &caller("m-hal"), &phone("1001"), Seat::Owner, "m-ann", NOTE, now()).await.unwrap_err();
        assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
        let h = handovers::propose(&store, &caller("m-ann"), &phone("1001"), Seat::Owner, "m-dan", NOTE, now()).await.unwrap();
        for member in ["m-bob", "m-ann", "m-cat"] {
            let error = handovers::accept(&store, &caller(member), &h.id, ALL_CONFIRMED, false, now()).await.unwrap_err();
            assert!(matches!(error, Error::Forbidden { needed: "handover:incoming" }), "{member}: {error:?}");
        }
        for member in ["m-zed", "m-hal"] {
            let error = handovers::accept(&store, &caller(member), &h.id, ALL_CONFIRMED, false, now()).await.unwrap_err();
            assert!(matches!(error, Error::NotFound { what: "handover" }), "{member}: {error:?}");
        }
        assert_eq!(owner_and_manager(&store, "1001").await.0, "m-bob");
        handovers::accept(&store, &caller("m-dan"), &h.id, ALL_CONFIRMED, false, now()).await.unwrap();
        assert_eq!(owner_and_manager(&store, "1001").await.0, "m-dan");
    }

    async fn bad_proposals_are_refused_by_field_and_change_nothing(db) {
        let store = seeded(&db).await;
        staffed(&store, "1001").await;
        let before = ledger(&store).await.len();
        let cases: [(Seat, &str, &str, &str); 7] = [
            (Seat::Owner, "m-ann", "  ", "note"),
            (Seat::Owner, "m-ann", "the PIN is 482913, keep it safe", "note"),
            (Seat::Owner, "m-cat", NOTE, "to_member"),
            (Seat::Owner, "m-bob", NOTE, "to_member"),
            (Seat::Owner, "m-gil", NOTE, "to_member"),
            (Seat::Owner, "m-hal", NOTE, "to_member"),
            (Seat::Owner, "m-zed", NOTE, "to_member"),
        ];
        for (seat, to, note, field) in cases {
            let error = handovers::propose(&store, &caller("m-bob"), &phone("1001"), seat, to, note, now()).await.unwrap_err();
            assert!(matches!(error, Error::Invalid { field: f, .. } if f == field), "{to} {note}: {error:?}");
        }
        assert!(matches!(Seat::parse("driver"), Err(Error::Invalid { field: "seat", .. })));
        assert_eq!(ledger(&store).await.len(), before);
        handovers::propose(&store, &caller("m-bob"), &phone("1001"), Seat::Owner, "m-ann", NOTE, now()).await.unwrap();
        let error = handovers::propose(&store, &caller("m-bob"), &phone("1001"), Seat::Owner, "m-dan", NOTE, now()).await.unwrap_err();
        assert!(matches!(error, Error::Invalid { field: "seat", .. }), "one open handover per seat: {error:?}");
    }

    async fn a_declined_or_cancelled_handover_is_closed_and_ledgered(db) {
        let store = seeded(&db).await;
        staffed(&store, "1001").await;
        let h = handovers::propose(&store, &caller("m-bob"), &phone("1001"), Seat::Owner, "m-ann", NOTE, now()).await.unwrap();
        let declined = handovers::decline(&store, &caller("m-ann"), &h.id, "I am on leave next month", now()).await.unwrap();
        assert_eq!(declined.status, "declined");
        let error = handovers::accept(&store, &caller("m-ann"), &h.id, ALL_CONFIRMED, false, now()).await.unwrap_err();
        assert!(matches!(error, Error::Invalid { field: "handover", .. }), "{error:?}");

        let h = handovers::propose(&store, &caller("m-bob"), &phone("1001"), Seat::Owner, "m-dan", NOTE, now()).await.unwrap();
        let error = handovers::cancel(&store, &caller("m-cat"), &h.id, now()).await.unwrap_err();
        assert!(matches!(error, Error::Forbidden { .. }), "{error:?}");
        let error = handovers::decline(&store, &caller("m-bob"), &h.id, "", now()).await.unwrap_err();
        assert!(matches!(error, Error::Forbidden { .. }), "only the incoming member declines: {error:?}");
        let cancelled = handovers::cancel(&store, &caller("m-bob"), &h.id, now()).await.unwrap();
        assert_eq!(cancelled.status, "cancelled");
        assert_eq!(owner_and_manager(&store, "1001").await.0, "m-bob");
        let actions = actions(&store).await;
        assert!(actions.ends_with(&[
            "handover.proposed".to_owned(),
            "handover.declined".to_owned(),
            "handover.proposed".to_owned(),
            "handover.cancelled".to_owned(),
        ]), "{actions:?}");
    }

    async fn a_seat_assigned_directly_withdraws_its_open_handover_and_the_other_seats_stays(db) {
        let store = seeded(&db).await;
        staffed(&store, "1001").await;
        let overtaken = handovers::propose(&store, &caller("m-bob"), &phone("1001"), Seat::Owner, "m-ann", NOTE, now()).await.unwrap();
        let kept = handovers::propose(&store, &caller("m-cat"), &phone("1001"), Seat::Manager, "m-ann", NOTE, now()).await.unwrap();
        numbers::assign(&store, &caller("m-ann"), &phone("1001"), "m-dan", "m-cat", now()).await.unwrap();

        let record = numbers::record(&store, &caller("m-ann"), &phone("1001"), now()).await.unwrap();
        let open: Vec<&str> = record.open_handovers.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(open, [kept.id.as_str()], "the owner seat's handover can never happen now; the manager seat's still can");
        let events = ledger(&store).await;
        let (last, before) = (&events[events.len() - 1], &events[events.len() - 2]);
        assert_eq!(before.0, "number.assigned");
        assert_eq!(last.0, "handover.cancelled", "withdrawn with the assignment, after it");
        assert!(last.1.contains(&overtaken.id) && last.1.contains("the seat was assigned directly since it was proposed"), "{}", last.1);

        let error = handovers::accept(&store, &caller("m-ann"), &overtaken.id, ALL_CONFIRMED, false, now()).await.unwrap_err();
        assert!(matches!(&error, Error::Invalid { field: "handover", problem } if problem == "is already cancelled"), "{error:?}");
        assert_eq!(owner_and_manager(&store, "1001").await.0, "m-dan");
        handovers::accept(&store, &caller("m-ann"), &kept.id, ALL_CONFIRMED, false, now()).await.unwrap();
        assert_eq!(owner_and_manager(&store, "1001").await.1, "m-ann");
    }

    async fn deactivating_a_member_withdraws_the_handovers_offered_to_them_and_only_those(db) {
        let store = seeded(&db).await;
        staffed(&store, "1001").await;
        let offered = handovers::propose(&store, &caller("m-bob"), &phone("1001"), Seat::Owner, "m-dan", NOTE, now()).await.unwrap();
        let kept = handovers::propose(&store, &caller("m-cat"), &phone("1001"), Seat::Manager, "m-ann", NOTE, now()).await.unwrap();
        let gone = governance::members::deactivate(&store, &caller("m-ann"), "m-dan").await.unwrap();
        assert_eq!(gone.handovers_withdrawn, 1);

        let record = numbers::record(&store, &caller("m-ann"), &phone("1001"), now()).await.unwrap();
        let open: Vec<&str> = record.open_handovers.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(open, [kept.id.as_str()], "the deactivated member can never accept theirs");
        let events = ledger(&store).await;
        let (last, before) = (&events[events.len() - 1], &events[events.len() - 2]);
        assert_eq!(before.0, "member.deactivated");
        assert_eq!(last.0, "handover.cancelled", "withdrawn with the deactivation, after it");
        assert!(last.1.contains(&offered.id) && last.1.contains("the incoming member is a deactivated member"), "{}", last.1);

        let again = governance::members::deactivate(&store, &caller("m-ann"), "m-dan").await.unwrap();
        assert_eq!(again.handovers_withdrawn, 0, "a second deactivation changes nothing");

        // The seat's holder may offer it to someone else now. A new role that can still hold
        // the seat keeps the offer; one that cannot withdraws it.
        let role = |role, clients: &'static [&'static str]| {
            let clients: Vec<String> = clients.iter().map(|c| (*c).to_owned()).collect();
            let store = &store;
            async move { governance::members::change_role(store, &caller("m-ann"), "m-hal", role, &clients).await.unwrap() }
        };
        role(Role::BusinessAdmin, &["client-a"]).await;
        let offered = handovers::propose(&store, &caller("m-bob"), &phone("1001"), Seat::Owner, "m-hal", NOTE, now()).await.unwrap();
        role(Role::Ops, &[]).await;
        let open = |record: numbers::Record| record.open_handovers.into_iter().map(|h| h.id).collect::<Vec<_>>();
        let record = numbers::record(&store, &caller("m-ann"), &phone("1001"), now()).await.unwrap();
        assert_eq!(open(record), [kept.id.as_str(), offered.id.as_str()], "ops may hold the seat");
        role(Role::Auditor, &[]).await;
        let record = numbers::record(&store, &caller("m-ann"), &phone("1001"), now()).await.unwrap();
        assert_eq!(open(record), [kept.id.as_str()], "an auditor never holds a seat");
        let events = ledger(&store).await;
        let (last, before) = (&events[events.len() - 1], &events[events.len() - 2]);
        assert_eq!((before.0.as_str(), last.0.as_str()), ("member.role_changed", "handover.cancelled"));
        assert!(last.1.contains(&offered.id) && last.1.contains("the incoming member is an auditor, who never sees PINs"), "{}", last.1);
    }

    async fn completing_a_review_sets_the_next_due_date_by_policy_and_ledgers_the_health_seen(db) {
        let store = seeded(&db).await;
        let before = numbers::record(&store, &caller("m-ann"), &phone("1001"), now()).await.unwrap();
        assert!(before.health.contains(&Problem::ReviewOverdue));
        let done = reviews::complete(&store, &caller("m-dan"), &phone("1001"), "Checked with the sales lead", now()).await.unwrap();
        assert_eq!(done.next_review_due, now() + Duration::days(90));
        assert!(done.problems.contains(&"review_overdue".to_owned()));
        let after = numbers::record(&store, &caller("m-ann"), &phone("1001"), now()).await.unwrap();
        assert_eq!(after.last_reviewed_at, Some(now()));
        assert_eq!(after.next_review_due, Some(now() + Duration::days(90)));
        assert!(!after.health.contains(&Problem::ReviewOverdue));
        let events = ledger(&store).await;
        let (action, details) = events.last().unwrap();
        assert_eq!(action, "review.completed");
        assert!(details.contains("review_overdue") && details.contains("Checked with the sales lead"), "{details}");

        policies::set(&store, &caller("m-ann"), Policy { review_cadence_days: 120, ..Policy::default() }, now()).await.unwrap();
        let done = reviews::complete(&store, &caller("m-ann"), &phone("1003"), "", now()).await.unwrap();
        assert_eq!(done.next_review_due, now() + Duration::days(120));
    }

    async fn a_review_held_earlier_counts_from_its_day_and_is_ledgered_now_with_that_day(db) {
        let store = seeded(&db).await;
        let held = now().date_naive() - Duration::days(10);
        let done = reviews::complete_on(&store, &caller("m-ann"), &phone("1001"), "Quarterly meeting", held, now()).await.unwrap();
        let start_of_day = held.and_hms_opt(0, 0, 0).unwrap().and_utc();
        assert_eq!((done.reviewed_at, done.next_review_due), (start_of_day, start_of_day + Duration::days(90)));
        let after = numbers::record(&store, &caller("m-ann"), &phone("1001"), now()).await.unwrap();
        assert_eq!((after.last_reviewed_at, after.next_review_due), (Some(start_of_day), Some(start_of_day + Duration::days(90))));
        let events = governance::ledger::events(&store, common::ORG, 1, u64::MAX).await.unwrap();
        let event = events.last().unwrap().to_stored();
        assert_eq!(event.action, "review.completed");
        assert_eq!(event.at, now(), "appended at the moment it was entered");
        assert!(event.details.contains("\"reviewed_on\":\"2026-11-10\""), "{}", event.details);

        // Today is a review done now; a day after today, or before the last review, is refused.
        let today = reviews::complete_on(&store, &caller("m-ann"), &phone("1003"), "", now().date_naive(), now()).await.unwrap();
        assert_eq!(today.reviewed_at, now());
        assert!(!ledger(&store).await.last().unwrap().1.contains("reviewed_on"));
        let tomorrow = now().date_naive() + Duration::days(1);
        let error = reviews::complete_on(&store, &caller("m-ann"), &phone("1001"), "", tomorrow, now()).await.unwrap_err();
        assert!(matches!(&error, Error::Invalid { field: "reviewed_on", problem } if problem == "2026-11-21 is after today (2026-11-20, UTC)"), "{error:?}");
        let error = reviews::complete_on(&store, &caller("m-ann"), &phone("1001"), "", held - Duration::days(1), now()).await.unwrap_err();
        assert!(matches!(&error, Error::Invalid { field: "reviewed_on", problem } if problem == "2026-11-09 is before the number's last review, on 2026-11-10"), "{error:?}");
        let error = reviews::complete_on(&store, &caller("m-ann"), &phone("1003"), "", chrono::NaiveDate::from_ymd_opt(2008, 12, 31).unwrap(), now()).await.unwrap_err();
        assert!(matches!(&error, Error::Invalid { field: "reviewed_on", problem } if problem == "must be 2009-01-01 or later"), "{error:?}");
        assert_eq!(ledger(&store).await.len(), 2, "the refusals changed nothing");
        let unchanged = numbers::record(&store, &caller("m-ann"), &phone("1001"), now()).await.unwrap();
        assert_eq!(unchanged.last_reviewed_at, Some(start_of_day));

        // Another review held the day of the last one, entered later: the later time counts.
        let same_day = reviews::complete_on(&store, &caller("m-ann"), &phone("1003"), "", now().date_naive() - Duration::days(1), now() + Duration::days(1)).await;
        assert!(matches!(&same_day, Err(Error::Invalid { field: "reviewed_on", .. })), "the 19th is before the review of the 20th: {same_day:?}");
        let again = reviews::complete_on(&store, &caller("m-ann"), &phone("1003"), "", now().date_naive(), now() + Duration::days(1)).await.unwrap();
        assert_eq!(again.reviewed_at, now(), "the last review (noon on the 20th), not the 20th's midnight");
    }

    async fn a_completed_review_falls_due_in_its_month_for_the_callers_who_see_the_number(db) {
        let store = seeded(&db).await;
        reviews::complete(&store, &caller("m-ann"), &phone("1001"), "", now()).await.unwrap();
        policies::set(&store, &caller("m-ann"), Policy { review_cadence_days: 120, ..Policy::default() }, now()).await.unwrap();
        reviews::complete(&store, &caller("m-ann"), &phone("1003"), "", now()).await.unwrap();
        let month = |m: &str| (m.to_owned(), 1);
        assert_eq!(months_due(&store, "m-eve").await, vec![month("2027-02"), month("2027-03")]);
        assert_eq!(months_due(&store, "m-dan").await, vec![month("2027-02")]);
        assert!(months_due(&store, "m-zed").await.is_empty());
    }

    async fn a_review_by_a_reader_of_another_client_or_with_a_bad_note_is_refused(db) {
        let store = seeded(&db).await;
        let error = reviews::complete(&store, &caller("m-eve"), &phone("1001"), "", now()).await.unwrap_err();
        assert!(matches!(error, Error::Forbidden { .. }), "{error:?}");
        let error = reviews::complete(&store, &caller("m-hal"), &phone("1001"), "", now()).await.unwrap_err();
        assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
        let error = reviews::complete(&store, &caller("m-ann"), &phone("1001"), &"n".repeat(1001), now()).await.unwrap_err();
        assert!(matches!(error, Error::Invalid { field: "note", .. }), "{error:?}");
        let error = reviews::complete(&store, &caller("m-ann"), &phone("1001"), "reset the PIN to 482913", now()).await.unwrap_err();
        assert!(matches!(error, Error::Invalid { field: "note", .. }), "{error:?}");
        assert!(ledger(&store).await.is_empty());
    }
}

on_both_databases! {
    async fn accepting_under_the_rotate_on_handover_policy_rotates_the_pin_by_the_custody_protocol(db) {
        let w = common::world(&db, 3).await;
        common::seed::members_beside_sync(&db).await;
        w.sync().await;
        let number = w.cloud_number();
        let custodian = w.custodian(common::quick());
        let taken = custodian.take(common::ORG, &audit::Actor::system(), &number, &[]).await.unwrap();
        assert_eq!(taken, Outcome::Confirmed { version: 1 });
        staffed(&w.store, number.as_str()).await;
        let h = handovers::propose(&w.store, &caller("m-bob"), &number, Seat::Owner, "m-ann", NOTE, now()).await.unwrap();
        let (accepted, rotation) = handovers::accept_and_rotate(&custodian, &[], &caller("m-ann"), &h.id, ALL_CONFIRMED, false, now())
            .await
            .unwrap();
        assert!(accepted.rotation_due);
        assert_eq!(rotation.unwrap().unwrap(), Outcome::Confirmed { version: 2 });
        assert!(w.meta_holds_escrowed_pin(&number).await, "Meta holds the new escrowed PIN");
        assert_eq!(w.statuses(&number).await, ["previous", "current"]);
        assert_eq!(owner_and_manager(&w.store, number.as_str()).await.0, "m-ann");
    }
}

/// The overview's months with reviews falling due for `member`, and how many in each.
async fn months_due(store: &Store, member: &str) -> Vec<(String, u64)> {
    let overview = governance::overview::summary(store, &caller(member), now())
        .await
        .unwrap();
    overview
        .reviews_due
        .into_iter()
        .filter(|c| c.numbers > 0)
        .map(|c| (c.key, c.numbers))
        .collect()
}

/// A member's deactivation in flight (its row updated, not yet committed, held by the
/// test's own connection on PostgreSQL, where transactions really overlap): a handover
/// offered to the member meanwhile waits for it, then is refused, never left open to a
/// person who can no longer accept it.
#[tokio::test]
async fn a_handover_offered_while_its_member_is_being_deactivated_waits_and_is_refused() {
    let db = pinward_tests::TestDb::new(pinward_tests::Backend::Postgres).await;
    let store = seeded(&db).await;
    staffed(&store, "1001").await;
    let mut held = common::held_transaction(
        &db,
        &["UPDATE members SET deactivated_at = now() WHERE org_id = $1 AND id = 'm-dan'"],
    )
    .await;
    let proposing = {
        let store = store.clone();
        tokio::spawn(async move {
            handovers::propose(
                &store,
                &caller("m-bob"),
                &phone("1001"),
                Seat::Owner,
                "m-dan",
                NOTE,
                now(),
            )
            .await
        })
    };
    common::until_waiting(&mut held, 1).await;
    sqlx::query("COMMIT").execute(&mut held).await.unwrap();
    let refused = proposing.await.unwrap().unwrap_err();
    assert!(
        matches!(&refused, Error::Invalid { field: "to_member", problem } if problem.contains("deactivated")),
        "{refused:?}"
    );
    let record = numbers::record(&store, &caller("m-ann"), &phone("1001"), now())
        .await
        .unwrap();
    assert!(
        record.open_handovers.is_empty(),
        "{:?}",
        record.open_handovers
    );
}
