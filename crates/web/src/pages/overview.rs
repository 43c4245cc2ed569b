//! The overview, the dashboard's home page: headline counts that open the filtered numbers
//! list, and three charts drawn on the server as inline SVG (PIN ages, health problems by
//! kind, reviews due per month), each with a table of its figures.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use governance::health::Problem;
use governance::overview::{self, Overview, PinAge};

use crate::AppState;
use crate::auth::{Authorized, ReadNumbers};
use crate::charts::{Chart, Datum, Direction, chart};
use crate::error::AppError;
use crate::page::{PageContext, render};
use crate::pages::numbers::UNHEALTHY;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/", get(show))
}

/// One headline figure and the list it opens.
struct Headline {
    label: &'static str,
    value: u64,
    href: String,
    /// Worth a look when not zero.
    warn: bool,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    page: PageContext,
    headline: Vec<Headline>,
    charts: Vec<Chart>,
}

fn health_list(code: &str) -> String {
    format!("/numbers?health={code}")
}

fn headline(o: &Overview) -> Vec<Headline> {
    vec![
        Headline {
            label: "numbers",
            value: o.numbers,
            href: "/numbers".to_owned(),
            warn: false,
        },
        Headline {
            label: "escrowed",
            value: o.escrowed,
            href: "/numbers?state=escrowed".to_owned(),
            warn: false,
        },
        Headline {
            label: "not escrowed",
            value: o.unescrowed,
            href: health_list(Problem::PinNotEscrowed.as_str()),
            warn: o.unescrowed > 0,
        },
        Headline {
            label: "released to clients",
            value: o.released,
            href: "/numbers?state=released".to_owned(),
            warn: false,
        },
        Headline {
            label: "with problems",
            value: o.with_problems,
            href: health_list(UNHEALTHY),
            warn: o.with_problems > 0,
        },
        Headline {
            label: "reviews overdue",
            value: o.reviews_overdue,
            href: health_list(Problem::ReviewOverdue.as_str()),
            warn: o.reviews_overdue > 0,
        },
    ]
}

fn charts(o: &Overview) -> Vec<Chart> {
    let ages = o
        .pin_ages
        .iter()
        .map(|c| Datum {
            label: c.key.label().to_owned(),
            value: c.numbers,
            href: (c.key == PinAge::NoPin).then(|| health_list(Problem::PinNotEscrowed.as_str())),
            warn: c.key == PinAge::NoPin,
        })
        .collect();
    let problems = o
        .problems
        .iter()
        .map(|c| Datum {
            label: c.key.describe().to_owned(),
            value: c.numbers,
            href: Some(health_list(c.key.as_str())),
            // Every bar of this chart counts numbers with something wrong.
            warn: true,
        })
        .collect();
    let mut reviews = vec![Datum {
        label: "overdue".to_owned(),
        value: o.reviews_overdue,
        href: Some(health_list(Problem::ReviewOverdue.as_str())),
        warn: true,
    }];
    reviews.extend(o.reviews_due.iter().map(|c| Datum {
        label: month_label(&c.key),
        value: c.numbers,
        href: None,
        warn: false,
    }));
    reviews.push(Datum {
        label: "later".to_owned(),
        value: o.reviews_later,
        href: None,
        warn: false,
    });
    vec![
        chart(
            "pin-ages",
            "PIN age",
            "Numbers by how long ago Meta confirmed their current PIN, youngest first; \
             numbers without a current PIN last. Released numbers are not counted.",
            Direction::Up,
            ages,
        ),
        chart(
            "problems",
            "Health problems by kind",
            "How many numbers have each health problem; a number with several problems \
             counts under each.",
            Direction::Right,
            problems,
        ),
        chart(
            "reviews",
            "Reviews due per month",
            &format!(
                "Numbers whose review is overdue, then due in each of the next {} months \
                 (UTC), then later.",
                overview::REVIEW_MONTHS
            ),
            Direction::Right,
            reviews,
        ),
    ]
}

/// `2026-11` as `Nov 2026`.
fn month_label(month: &str) -> String {
    chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map_or_else(|_| month.to_owned(), |d| d.format("%b %Y").to_string())
}

async fn show(
    State(state): State<AppState>,
    who: Authorized<ReadNumbers>,
    page: PageContext,
) -> Result<Html<String>, AppError> {
    let o = overview::summary(&state.store, &who.caller, chrono::Utc::now()).await?;
    render(&OverviewPage {
        page,
        headline: headline(&o),
        charts: charts(&o),
    })
}
