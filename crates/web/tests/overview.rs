//! The overview page and `/metrics`' numbers: each headline figure opens the numbers list
//! filtered to exactly the numbers it counts, three inline SVG charts, and gauges of every
//! org's numbers by state and health computed at each scrape, on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::Router;
use axum::http::StatusCode;
use common::*;
use governance::access::Role;
use pinward_tests::on_both_databases;

/// `(figure, href)` of every headline item of the overview page.
fn headline(page: &str) -> Vec<(u64, String)> {
    page.split("<li")
        .filter(|item| item.contains("class=\"figure\""))
        .map(|item| {
            let href = item
                .split("href=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let figure = item
                .split("<span class=\"figure\">")
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap();
            (figure.parse().unwrap(), href.replace("&#61;", "="))
        })
        .collect()
}

/// The total the numbers list at `href` reports ("1–50 of N · page 1 of M", or "0 numbers").
async fn list_total(app: &Router, cookie: &str, href: &str) -> u64 {
    let page = text(send(app, get_as(href, cookie)).await).await;
    let shown = page
        .split("<p class=\"muted\">")
        .nth(1)
        .unwrap()
        .split("</p>")
        .next()
        .unwrap();
    let shown = shown.split(" · page").next().unwrap();
    let total = shown.strip_suffix(" numbers").unwrap_or(shown);
    total.rsplit(' ').next().unwrap().parse().unwrap()
}

fn gauge(metrics: &str, state: &str, health: &str) -> u64 {
    let series = format!("pinward_numbers{{state=\"{state}\",health=\"{health}\"}} ");
    let line = metrics
        .lines()
        .find(|l| l.starts_with(&series))
        .unwrap_or_else(|| panic!("{series}: {metrics}"));
    line[series.len()..].trim().parse().unwrap()
}

on_both_databases! {
    async fn each_headline_figure_opens_the_list_of_exactly_the_numbers_it_counts(db) {
        let store = store(&db).await;
        let org = org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        let rival = org_with_member(&store, "rival", "rick@example.com", Role::Admin).await;
        seed_number(&db, &org, "1001", "+1 555-0100").await;
        seed_number(&db, &org, "1002", "+1 555-0200").await;
        seed_number(&db, &org, "1003", "+1 555-0300").await;
        seed_number(&db, &rival, "2001", "+1 555-0400").await;
        seed_number(&db, &org, "1004", "+1 555-0500").await;
        sql(&db, &[
            "UPDATE phone_numbers SET pin_state = 'unknown' WHERE id = 'n-1003'".to_owned(),
            "UPDATE phone_numbers SET pin_state = 'released' WHERE id = 'n-1004'".to_owned(),
        ]).await;
        let app = router(store, &db, None);
        let cookie = sign_in(&app, "ann@example.com").await;

        let response = send(&app, get_as("/", &cookie)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let page = text(response).await;
        let figures = headline(&page);
        let wanted: Vec<(u64, &str)> = vec![
            (4, "/numbers"),
            (2, "/numbers?state=escrowed"),
            (1, "/numbers?health=pin_not_escrowed"),
            (1, "/numbers?state=released"),
            (4, "/numbers?health=unhealthy"),
            (4, "/numbers?health=review_overdue"),
        ];
        let got: Vec<(u64, &str)> = figures.iter().map(|(n, h)| (*n, h.as_str())).collect();
        assert_eq!(got, wanted, "{page}");
        for (figure, href) in &figures {
            assert_eq!(list_total(&app, &cookie, href).await, *figure, "{href}");
        }
        let unhealthy = text(send(&app, get_as("/numbers?health=unhealthy", &cookie)).await).await;
        assert!(unhealthy.contains("<option value=\"unhealthy\" selected>any problem</option>"), "{unhealthy}");
    }

    async fn the_overview_draws_three_accessible_svg_charts_without_inline_style(db) {
        let store = store(&db).await;
        org_with_member(&store, "acme", "ann@example.com", Role::Auditor).await;
        let app = router(store, &db, None);
        let cookie = sign_in(&app, "ann@example.com").await;
        let page = text(send(&app, get_as("/", &cookie)).await).await;
        assert_eq!(page.matches("<svg").count(), 3, "{page}");
        for title in ["PIN age", "Health problems by kind", "Reviews due per month"] {
            assert!(page.contains(&format!("-title\">{title}</title>")), "{title}: {page}");
        }
        assert_eq!(page.matches("<desc").count(), 3);
        assert_eq!(page.matches("<table").count(), 3, "each chart has its figures as a table");
        assert_eq!(page.matches("Nothing to show yet").count(), 3, "an org without numbers has nothing to draw");
        assert!(!page.contains("style="), "the CSP forbids inline style");
    }

    async fn metrics_count_every_orgs_numbers_by_state_and_health_at_each_scrape(db) {
        let store = store(&db).await;
        let org = org_with_member(&store, "acme", "ann@example.com", Role::Admin).await;
        let rival = org_with_member(&store, "rival", "rick@example.com", Role::Admin).await;
        seed_number(&db, &org, "1001", "+1 555-0100").await;
        seed_number(&db, &org, "1002", "+1 555-0200").await;
        seed_number(&db, &rival, "2001", "+1 555-0400").await;
        let app = router(store, &db, None);

        let metrics = text(send(&app, get("/metrics")).await).await;
        assert_eq!(gauge(&metrics, "escrowed", "all"), 3);
        assert_eq!(gauge(&metrics, "escrowed", "no_owner"), 3);
        assert_eq!(gauge(&metrics, "escrowed", "ok"), 0);
        assert_eq!(gauge(&metrics, "unknown", "all"), 0);
        assert_eq!(gauge(&metrics, "released", "pin_not_escrowed"), 0, "every pair is listed, zeros too");
        assert!(metrics.contains("pinward_pin_rotations_total{outcome=\"rotated\"} 0"), "{metrics}");

        sql(&db, &["UPDATE phone_numbers SET pin_state = 'unknown' WHERE id = 'n-2001'".to_owned()]).await;
        let metrics = text(send(&app, get("/metrics")).await).await;
        assert_eq!(gauge(&metrics, "escrowed", "all"), 2);
        assert_eq!(gauge(&metrics, "unknown", "all"), 1);
        assert_eq!(gauge(&metrics, "unknown", "pin_not_escrowed"), 1);
    }
}
