//! A number's details and periodic review, edited from its record page through HTTP, on
//! both databases; and the effective review due date, the same on the list and the record.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::custody::{ADMIN, AUDITOR, OPS, RIVAL, custody_world};
use common::*;
use governance::health::Problem;
use governance::numbers::{BackupChannel, ChannelKind};
use graph::PhoneNumberId;
use pinward_tests::on_both_databases;

fn record_path(number: &PhoneNumberId) -> String {
    format!("/numbers/{}", number.as_str())
}

/// The details form's fields: `overrides` replace the valid defaults by name.
fn details(overrides: &[(&str, &str)]) -> String {
    let defaults = [
        ("usage", "Support line"),
        ("activation_date", "2024-05-01"),
        ("recovery_email", "whatsapp@acme.example"),
        (
            "backup_channels",
            "email: help@acme.example\r\nphone: +1 555 0100 200",
        ),
    ];
    defaults
        .iter()
        .map(|(name, value)| {
            let value = overrides
                .iter()
                .find(|(n, _)| n == name)
                .map_or(*value, |(_, v)| *v);
            format!("{name}={}", enc(value))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The "Next review due" cell of a record page.
fn record_review_due(record: &str) -> &str {
    let marker = "<tr><th>Next review due</th><td>";
    let start = record
        .find(marker)
        .expect("the record shows the review due")
        + marker.len();
    record[start..].split("</td>").next().unwrap()
}

/// The "Review due" cell of `number`'s row in the list.
fn list_review_due<'a>(list: &'a str, number: &PhoneNumberId) -> &'a str {
    let start = list
        .find(&format!("<a href=\"/numbers/{}\">", number.as_str()))
        .expect("the number is listed");
    let row = list[start..].split("</tr>").next().unwrap();
    let cell = row
        .split("<td role=\"cell\" data-label=\"Review due\">")
        .nth(1)
        .expect("a review due cell");
    cell.split("</td>").next().unwrap()
}

async fn backdate_first_seen(db: &pinward_tests::TestDb, number: &PhoneNumberId, at: &str) {
    sql(
        db,
        &[format!(
            "UPDATE phone_numbers SET first_seen_at = '{at}' WHERE meta_phone_number_id = '{}'",
            number.as_str()
        )],
    )
    .await;
}

on_both_databases! {
    async fn ops_edits_a_numbers_details_and_the_record_shows_them_clears_their_problems_and_ledgers_the_change(db) {
        let w = custody_world(&db).await;
        let ops = w.browser(OPS).await;
        let path = record_path(&w.unknown);
        let before = w.record(&w.unknown).await;
        assert!(before.health.contains(&Problem::NoRecoveryEmail), "{:?}", before.health);
        assert!(before.health.contains(&Problem::FewBackupChannels), "{:?}", before.health);
        assert!(w.page(&ops, &path).await.contains("id=\"details\""), "ops gets the form");
        let events = w.ledger_len().await;

        let personal = details(&[("recovery_email", "Someone@Gmail.com")]);
        let (status, location, _) = w.post(&ops, &format!("{path}/details"), &personal).await;
        let top = format!("{path}#top");
        assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some(top.as_str())), "the page opens at its message, not at the form");
        let record = w.record(&w.unknown).await;
        assert_eq!(record.metadata.usage.as_deref(), Some("Support line"));
        assert_eq!(record.metadata.activation_date.map(|d| d.to_string()).as_deref(), Some("2024-05-01"));
        assert_eq!(record.metadata.recovery_email.as_deref(), Some("someone@gmail.com"));
        assert_eq!(record.metadata.backup_channels, vec![
            BackupChannel { kind: ChannelKind::Email, value: "help@acme.example".to_owned() },
            BackupChannel { kind: ChannelKind::Phone, value: "+1 555 0100 200".to_owned() },
        ]);
        assert!(record.health.contains(&Problem::PersonalRecoveryEmail), "{:?}", record.health);
        assert!(!record.health.contains(&Problem::NoRecoveryEmail), "{:?}", record.health);
        assert!(!record.health.contains(&Problem::FewBackupChannels), "{:?}", record.health);
        assert_eq!(w.ledger_len().await, events + 1, "the change is ledgered");

        let (status, _, _) = w.post(&ops, &format!("{path}/details"), &details(&[])).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let record = w.record(&w.unknown).await;
        assert!(!record.health.contains(&Problem::PersonalRecoveryEmail), "a business address clears it: {:?}", record.health);
        assert_eq!(w.ledger_len().await, events + 2);
        let shown = w.page(&ops, &path).await;
        assert!(shown.contains("Details saved."), "the flash: {shown}");
        assert!(shown.contains("<td role=\"cell\" data-label=\"What\">number.updated</td>"), "{shown}");
        assert!(shown.contains("value=\"whatsapp@acme.example\""), "the form is pre-filled: {shown}");
        assert!(
            shown.contains(">email: help@acme.example\nphone: +1 555 0100 200</textarea>"),
            "the channels are shown one per line: {shown}"
        );

        // A kind typed as the page words it or as the API spells it is the same kind.
        let channels = "web form: https://acme.example/help\nWeb-Form: https://acme.example/other\nweb_form: https://acme.example/third";
        let (status, _, _) = w.post(&ops, &format!("{path}/details"), &details(&[("backup_channels", channels)])).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let kinds: Vec<ChannelKind> = w.record(&w.unknown).await.metadata.backup_channels.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, [ChannelKind::WebForm; 3]);
        let shown = w.page(&ops, &path).await;
        assert!(shown.contains(">web form: https://acme.example/help\nweb form: https://acme.example/other\nweb form: https://acme.example/third</textarea>"), "and the form shows it in the page's words: {shown}");
    }

    async fn every_bad_details_input_is_a_422_naming_the_field_and_changes_nothing(db) {
        let w = custody_world(&db).await;
        let admin = w.browser(ADMIN).await;
        let path = format!("{}/details", record_path(&w.escrowed));
        let before = (w.record(&w.escrowed).await, w.ledger_len().await);
        let long = "x".repeat(201);
        let eleven = (0..11).map(|i| format!("other: channel {i}")).collect::<Vec<_>>().join("\n");
        for (name, value, message) in [
            ("usage", long.as_str(), "Usage: at most 200 characters"),
            ("activation_date", "2024-13-01", "Activation date: 2024-13-01 is not a day of the calendar"),
            ("activation_date", "May 1st", "Activation date: must be a date (YYYY-MM-DD)"),
            ("activation_date", "2008-12-31", "Activation date: must be between 2009-01-01 and today"),
            ("activation_date", "2999-01-01", "Activation date: must be between 2009-01-01 and today"),
            ("recovery_email", "whatsapp", "Recovery email: is not an email address"),
            ("backup_channels", "email help@acme.example", "Backup channels: channel 1: write it as kind: value"),
            ("backup_channels", "pager: 555 0100", "Backup channels: channel 1: the kind is one of email, web form, phone, messenger or other"),
            ("backup_channels", "email: help", "Backup channels: channel 1: not an email address"),
            ("backup_channels", "email: a@acme.example\nweb_form: ftp://acme.example", "Backup channels: channel 2: a web form must be an http(s) URL"),
            ("backup_channels", "phone: 12", "Backup channels: channel 1: a phone line is 7 to 15 digits"),
            ("backup_channels", "email: a@acme.example\nemail: A@acme.example", "Backup channels: channel 2: listed twice"),
            ("backup_channels", eleven.as_str(), "Backup channels: at most 10 channels"),
            ("backup_channels", "pager: 1\nemail: a@acme.example\nweb form https://acme.example", "Backup channels: channel 1: the kind is one of email, web form, phone, messenger or other; channel 3: write it as kind: value"),
            ("backup_channels", "email: help\nphone: 12\nemail: a@acme.example\nemail: A@acme.example", "Backup channels: channel 1: not an email address; channel 2: a phone line is 7 to 15 digits; channel 4: listed twice"),
            ("backup_channels", "email: help\nweb form https://acme.example\nphone: 12", "Backup channels: channel 1: not an email address; channel 2: write it as kind: value; channel 3: a phone line is 7 to 15 digits"),
            ("backup_channels", "email: a@acme.example\nweb form https://acme.example\nemail: A@acme.example", "Backup channels: channel 2: write it as kind: value; channel 3: listed twice"),
        ] {
            let (status, _, body) = w.post(&admin, &path, &details(&[(name, value)])).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}={value}");
            assert!(body.contains(message), "{name}={value}: {body}");
            assert!(body.contains("id=\"details\""), "the form is shown again: {name}");
            let form = &body[body.find("id=\"details\"").unwrap()..];
            assert!(form.contains(&format!("role=\"alert\" id=\"details-problem\">{message}")), "and says what is wrong where it is: {name}");
            assert!(body.contains("/details#details\""), "the refused page opens at the form");
            assert_eq!(invalid_inputs(&body), [name], "the field at fault is marked for assistive technology: {name}");
            assert!(body.contains("aria-describedby=\"details-problem\""), "which points at the message");
        }
        assert_eq!((w.record(&w.escrowed).await, w.ledger_len().await), before, "nothing changed");

        // Several mistakes at once are all reported, in the form's order, each field marked.
        let (status, _, body) = w.post(&admin, &path, &details(&[("recovery_email", "whatsapp"), ("activation_date", "2999-01-01"), ("backup_channels", "pager: 1")])).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let all = "Activation date: must be between 2009-01-01 and today; Recovery email: is not an email address (name@domain.tld); Backup channels: channel 1: the kind is one of";
        assert!(body.contains(&format!("id=\"details-problem\">{all}")), "{body}");
        assert_eq!(invalid_inputs(&body), ["activation_date", "recovery_email", "backup_channels"]);
        assert_eq!((w.record(&w.escrowed).await, w.ledger_len().await), before, "nothing changed");

        // The refused form holds what was typed, not what is recorded.
        let typed = details(&[("usage", "Front desk & sales"), ("recovery_email", "whatsapp")]);
        let (_, _, body) = w.post(&admin, &path, &typed).await;
        assert!(body.contains("id=\"usage\" name=\"usage\" maxlength=\"200\" value=\"Front desk &#38; sales\""), "{body}");
        let today = chrono::Utc::now().date_naive();
        assert!(body.contains(&format!("type=\"date\" min=\"2009-01-01\" max=\"{today}\"")), "the date picker offers only dates the form takes: {body}");
        assert!(body.contains("value=\"whatsapp\""), "{body}");
        assert!(body.contains(">email: help@acme.example\r\nphone: +1 555 0100 200</textarea>"), "{body}");

        // Reloading the refused form's address (a GET) goes back to the record, not a 405.
        let reloaded = send(&w.app, get_as(&path, &admin.cookie)).await;
        assert_eq!(reloaded.status(), StatusCode::SEE_OTHER);
        assert_eq!(header(&reloaded, "location"), record_path(&w.escrowed));
        assert_eq!(send(&w.app, get_as("/numbers/not-a-number/details", &admin.cookie)).await.status(), StatusCode::NOT_FOUND);

        // Usage and free-text channels are ledgered too: what may be a PIN is refused and
        // not shown back, while a phone line keeps its digits.
        for (name, value, message, gone, kept) in [
            ("usage", "Front desk, PIN 123456", "Usage: must not contain six digits in a row", "PIN 123456", None),
            ("backup_channels", "phone: +1 555 0100 200\nother: pin 123456", "Backup channels: channel 2: must not contain six digits in a row", "pin 123456", Some("phone: +1 555 0100 200")),
            ("backup_channels", "phone: 123456", "Backup channels: channel 1: a phone line is 7 to 15 digits", "phone: 123456", None),
            ("backup_channels", "phone: my PIN 123456", "Backup channels: channel 1: a phone line is 7 to 15 digits", "my PIN", None),
        ] {
            let (status, _, body) = w.post(&admin, &path, &details(&[(name, value)])).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
            assert!(body.contains(message), "{name}: {body}");
            let cleared = if name == "usage" { "The usage was cleared, so that nothing that may be a PIN is shown again" } else { "The lines holding them were cleared, so that nothing that may be a PIN is shown again" };
            assert!(body.contains(cleared), "the form says it cleared what it does not show back: {name}: {body}");
            assert!(!body.contains("123456") && !body.contains(gone), "a PIN-like text is not shown back: {name}");
            if let Some(kept) = kept {
                assert!(body.contains(kept), "the other lines are kept: {body}");
            }
        }
        assert_eq!((w.record(&w.escrowed).await, w.ledger_len().await), before, "nothing changed");

        let review = format!("{}/review", record_path(&w.escrowed));
        let (status, _, body) = w.post(&admin, &review, &format!("note={}", "n".repeat(1001))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains(&format!(">{}</textarea>", "n".repeat(1001))), "the review note is kept");
        let (status, _, body) = w.post(&admin, &review, "note=old+pin+123456").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!body.contains("123456"), "a note that may hold a PIN is not shown back: {body}");
    }

    async fn a_details_form_opened_before_the_details_changed_saves_nothing_and_comes_back_holding_what_was_typed(db) {
        let w = custody_world(&db).await;
        let (ops, admin) = (w.browser(OPS).await, w.browser(ADMIN).await);
        let record = record_path(&w.escrowed);
        let path = format!("{record}/details");
        let opened = w.page(&ops, &record).await;
        let seen = format!("seen={}", input_value(&opened, "seen"));
        let (status, _, _) = w.post(&admin, &path, &format!("{}&{seen}", details(&[("usage", "Sales line")]))).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "the first save of a form opened on the details as they are");
        let before = (w.record(&w.escrowed).await, w.ledger_len().await);
        let (status, _, _) = w.post(&admin, &path, &format!("{}&{seen}", details(&[("usage", "Sales line")]))).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "the same text posted twice (a double click) finds it saved");
        assert_eq!((w.record(&w.escrowed).await, w.ledger_len().await), before, "and changes nothing");

        let (status, _, body) = w.post(&ops, &path, &format!("{}&{seen}", details(&[("activation_date", "2024-13-01")]))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a refused input is named first: {body}");
        assert_eq!(format!("seen={}", input_value(&body, "seen")), seen, "and the form is still checked against the details first shown");

        let (status, _, body) = w.post(&ops, &path, &format!("{}&{seen}", details(&[("usage", "Support line, weekdays")]))).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!((w.record(&w.escrowed).await, w.ledger_len().await), before, "the admin's change stands");
        let form = &body[body.find("id=\"details\"").unwrap()..];
        assert!(form.contains("id=\"details-problem\">These details changed since this page was opened, so nothing was saved."), "{form}");
        assert!(form.contains("value=\"Support line, weekdays\""), "what was typed comes back: {form}");
        assert!(body.contains("<td>Sales line</td>"), "the record shows the details as they are: {body}");

        let seen = format!("seen={}", input_value(form, "seen"));
        let (status, _, _) = w.post(&ops, &path, &format!("{}&{seen}", details(&[("usage", "Support line, weekdays")]))).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "saved again from the form that said so");
        assert_eq!(w.record(&w.escrowed).await.metadata.usage.as_deref(), Some("Support line, weekdays"));
    }

    async fn details_and_reviews_need_numbers_manage_a_csrf_token_and_a_number_of_the_callers_org(db) {
        let w = custody_world(&db).await;
        let record = record_path(&w.escrowed);
        let before = (w.record(&w.escrowed).await, w.ledger_len().await);
        let auditor = w.browser(AUDITOR).await;
        let shown = w.page(&auditor, &record).await;
        assert!(!shown.contains("id=\"details\"") && !shown.contains("id=\"review\""), "no form for an auditor");
        let rival = w.browser(RIVAL).await;
        let admin = w.browser(ADMIN).await;
        for (action, fields) in [("details", details(&[])), ("review", "note=checked".to_owned())] {
            let path = format!("{record}/{action}");
            assert_eq!(w.post(&auditor, &path, &fields).await.0, StatusCode::FORBIDDEN, "{action}");
            assert_eq!(w.post(&rival, &path, &fields).await.0, StatusCode::NOT_FOUND, "another org's number: {action}");
            let forged = post_form(&path, &admin)
                .header("origin", "http://127.0.0.1:8080")
                .header("sec-fetch-site", "same-origin")
                .body(axum::body::Body::from(fields.clone()))
                .unwrap();
            assert_eq!(send(&w.app, forged).await.status(), StatusCode::FORBIDDEN, "no CSRF token: {action}");
        }
        assert_eq!((w.record(&w.escrowed).await, w.ledger_len().await), before, "nothing changed");
    }

    async fn completing_a_review_clears_review_overdue_moves_the_next_review_by_the_cadence_and_ledgers_it(db) {
        let w = custody_world(&db).await;
        backdate_first_seen(&db, &w.escrowed, "2025-01-01T00:00:00Z").await;
        let ops = w.browser(OPS).await;
        let path = record_path(&w.escrowed);
        let before = w.record(&w.escrowed).await;
        assert!(before.health.contains(&Problem::ReviewOverdue), "{:?}", before.health);
        assert_eq!(record_review_due(&w.page(&ops, &path).await), "2025-04-01 (first review)");
        let events = w.ledger_len().await;

        let (status, _, body) = w.post(&ops, &format!("{path}/review"), "note=PIN+123456+noted").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("id=\"review-problem\">Note: must not contain six digits in a row"), "{body}");
        assert!(body.contains("The note was cleared"), "it says why the note is gone: {body}");
        assert_eq!(invalid_inputs(&body), ["review_note"], "the note is marked");
        assert_eq!((w.record(&w.escrowed).await, w.ledger_len().await), (before, events), "nothing changed");

        let note = enc("Checked with the client.\r\nAll good.");
        let (status, location, _) = w.post(&ops, &format!("{path}/review"), &format!("note={note}")).await;
        assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some(format!("{path}#top").as_str())));
        let after = w.record(&w.escrowed).await;
        let reviewed = after.last_reviewed_at.expect("the review is recorded");
        let due = reviewed + chrono::Duration::days(90);
        assert_eq!(after.next_review_due, Some(due), "one cadence (90 days) after the review");
        assert!(!after.health.contains(&Problem::ReviewOverdue), "{:?}", after.health);
        assert_eq!(w.ledger_len().await, events + 1, "the review is ledgered");
        let shown = w.page(&ops, &path).await;
        let date = due.format("%Y-%m-%d").to_string();
        assert!(shown.contains(&format!("Review completed: the next one is due {date}.")), "the flash: {shown}");
        assert_eq!(record_review_due(&shown), date, "no longer the first review");
        assert!(shown.contains("<td role=\"cell\" data-label=\"What\">review.completed</td>"), "{shown}");
        assert!(shown.contains("<dt>note</dt><dd>Checked with the client.\nAll good.</dd>"), "the note is ledgered, and reads as typed: {shown}");
    }

    async fn a_review_held_on_an_earlier_day_counts_from_that_day_and_a_bad_day_is_refused_naming_its_field(db) {
        let w = custody_world(&db).await;
        let ops = w.browser(OPS).await;
        let path = record_path(&w.escrowed);
        let review = format!("{path}/review");
        assert!(w.page(&ops, &path).await.contains("<input type=\"date\" id=\"reviewed_on\" name=\"reviewed_on\" min=\"2009-01-01\" max=\""), "the form asks for the day");
        let before = (w.record(&w.escrowed).await, w.ledger_len().await);
        let today = chrono::Utc::now().date_naive();
        // Two days ahead, so that midnight passing during the test changes nothing.
        let ahead = today + chrono::Duration::days(2);
        for (day, message) in [
            ("25/11/2026".to_owned(), "Reviewed on: must be a date (YYYY-MM-DD)</p>".to_owned()),
            ("2008-12-31".to_owned(), "Reviewed on: must be 2009-01-01 or later</p>".to_owned()),
            (ahead.to_string(), format!("Reviewed on: {ahead} is after today (")),
        ] {
            let (status, _, body) = w.post(&ops, &review, &format!("note=kept&reviewed_on={}", enc(&day))).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{day}");
            assert!(body.contains(&format!("id=\"review-problem\">{message}")), "{body}");
            assert_eq!(invalid_inputs(&body), ["reviewed_on"], "the day is marked");
            assert!(body.contains(&format!("value=\"{day}\"")) && body.contains(">kept</textarea>"), "what was typed stays: {body}");
        }
        // chrono alone would take this year; and six digits in a row are never shown back.
        let (status, _, body) = w.post(&ops, &review, "note=&reviewed_on=-123456-01-01").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("id=\"review-problem\">Reviewed on: must be a date (YYYY-MM-DD)</p>"), "{body}");
        assert!(!body.contains("123456"), "a day that may be a PIN is not shown back: {body}");
        // A bad day does not hide a bad note: both are named and marked at once.
        let (status, _, body) = w.post(&ops, &review, "note=a%01b&reviewed_on=2008-12-31").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body.contains("id=\"review-problem\">Reviewed on: must be 2009-01-01 or later; Note: must not contain control characters</p>"),
            "{body}"
        );
        let mut marked = invalid_inputs(&body);
        marked.sort_unstable();
        assert_eq!(marked, ["review_note", "reviewed_on"], "both fields are marked");
        assert_eq!((w.record(&w.escrowed).await, w.ledger_len().await), before, "nothing changed");

        let held = today - chrono::Duration::days(10);
        let (status, _, _) = w.post(&ops, &review, &format!("note=&reviewed_on={held}")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let after = w.record(&w.escrowed).await;
        let start = held.and_hms_opt(0, 0, 0).unwrap().and_utc();
        assert_eq!((after.last_reviewed_at, after.next_review_due), (Some(start), Some(start + chrono::Duration::days(90))));
        let shown = w.page(&ops, &path).await;
        let due = (start + chrono::Duration::days(90)).format("%Y-%m-%d");
        assert!(shown.contains(&format!("Review completed: the next one is due {due}.")), "{shown}");
        assert!(shown.contains(&format!("<dt>reviewed on</dt><dd>{held}</dd>")), "the day is in the ledgered event: {shown}");

        // A review so long ago that the next one has passed says the number is overdue again.
        let other = record_path(&w.unknown);
        let long_ago = today - chrono::Duration::days(200);
        let (status, _, _) = w.post(&ops, &format!("{other}/review"), &format!("note=&reviewed_on={long_ago}")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let was_due = (long_ago + chrono::Duration::days(90)).format("%Y-%m-%d");
        let shown = w.page(&ops, &other).await;
        assert!(shown.contains(&format!("Review recorded: the next one was due {was_due}, so the number is overdue again.")), "{shown}");
        assert!(w.record(&w.unknown).await.health.contains(&Problem::ReviewOverdue));
    }

    async fn the_list_and_the_record_show_the_same_effective_review_due_for_a_never_reviewed_number(db) {
        let w = custody_world(&db).await;
        backdate_first_seen(&db, &w.unknown, "2026-01-10T08:00:00Z").await;
        let ops = w.browser(OPS).await;
        let list = w.page(&ops, "/numbers").await;
        let record = w.page(&ops, &record_path(&w.unknown)).await;
        assert_eq!(list_review_due(&list, &w.unknown), "2026-04-10 (first review)", "first seen + 90 days");
        assert_eq!(record_review_due(&record), "2026-04-10 (first review)");
    }
}
