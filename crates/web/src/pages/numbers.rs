//! The numbers list: search, filters by client, PIN state and health, and pages.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use governance::custody::PinState;
use governance::health::Problem;
use governance::numbers::{self, Filter, PageRequest, Summary};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Authorized, ReadNumbers};
use crate::error::AppError;
use crate::page::{PageContext, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/numbers", get(list))
}

/// The `health` value of numbers with at least one problem, whatever it is.
pub(crate) const UNHEALTHY: &str = "unhealthy";

/// The list's query string, as typed: empty fields mean "any".
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    q: Option<String>,
    client: Option<String>,
    state: Option<String>,
    health: Option<String>,
    page: Option<String>,
}

/// The `state` filter's value as a PIN state; anything else is refused with the states
/// there are.
pub(crate) fn parse_pin_state(text: &str) -> Result<PinState, governance::Error> {
    PinState::parse(text).ok_or_else(|| governance::Error::Invalid {
        field: "state",
        problem: format!(
            "must be one of {}",
            PinState::ALL.map(PinState::as_str).join(", ")
        ),
    })
}

/// Refuses a `client` filter naming a client the caller cannot see (another org's, outside
/// a business admin's scope, or none at all), so it is not mistaken for a client with no
/// numbers. `visible` is what `governance::clients::list` gave the caller.
pub(crate) fn check_client(
    filter: &Filter,
    visible: &[governance::clients::Client],
) -> Result<(), governance::Error> {
    match &filter.client_id {
        Some(asked) if !visible.iter().any(|c| &c.id == asked) => Err(governance::Error::Invalid {
            field: "client",
            problem: "is not a client you can see; pick one from the list".to_owned(),
        }),
        _ => Ok(()),
    }
}

fn given(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// A health filter's value typed in the parameter `field`: a problem, or `unhealthy` for
/// any (the `bool`); anything else is refused with the values there are.
pub(crate) fn parse_health(
    field: &'static str,
    text: &str,
) -> Result<(Option<Problem>, bool), governance::Error> {
    if text == UNHEALTHY {
        return Ok((None, true));
    }
    match Problem::parse(text) {
        Ok(problem) => Ok((Some(problem), false)),
        Err(_) => Err(governance::Error::Invalid {
            field,
            problem: format!(
                "must be one of {}, or {UNHEALTHY} for any of them",
                Problem::ALL.map(Problem::as_str).join(", ")
            ),
        }),
    }
}

impl ListQuery {
    /// The filter and page asked for, each value refused on its own: a refused one is left
    /// out, and every refusal is named in the form's order.
    fn read(&self) -> (Filter, PageRequest, Vec<governance::Error>) {
        let mut refused = Vec::new();
        let pin_state =
            given(self.state.as_ref()).and_then(|text| kept(parse_pin_state(text), &mut refused));
        let (problem, unhealthy) = given(self.health.as_ref())
            .and_then(|text| kept(parse_health("health", text), &mut refused))
            .unwrap_or((None, false));
        let page = given(self.page.as_ref()).map_or(Some(1), |text| {
            let parsed = text
                .parse::<u32>()
                .ok()
                .filter(|page| *page >= 1)
                .ok_or_else(|| governance::Error::Invalid {
                    field: "page",
                    problem: "must be a whole number from 1".to_owned(),
                });
            kept(parsed, &mut refused)
        });
        let filter = Filter {
            search: given(self.q.as_ref()).map(str::to_owned),
            client_id: given(self.client.as_ref()).map(str::to_owned),
            pin_state,
            problem,
            unhealthy,
        };
        let request = PageRequest {
            page: page.unwrap_or(1),
            ..PageRequest::default()
        };
        (filter, request, refused)
    }

    /// This query's string with `page` replaced, for the pager's links.
    fn with_page(&self, page: u32) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("q", &self.q),
            ("client", &self.client),
            ("state", &self.state),
            ("health", &self.health),
        ] {
            if let Some(value) = given(value.as_ref()) {
                query.append_pair(name, value);
            }
        }
        query.append_pair("page", &page.to_string());
        format!("/numbers?{}", query.finish())
    }
}

/// One row of the table, ready to print.
struct Row {
    id: String,
    display: String,
    name: String,
    client_id: String,
    client_name: String,
    state: &'static str,
    owner: String,
    manager: String,
    review_due: String,
    problems: Vec<&'static str>,
}

/// A seat's holder as the lists and the number page name them: one who left or lost access
/// is marked so.
pub(super) fn person(p: Option<&numbers::Person>) -> String {
    match p {
        Some(p) if p.active => p.name.clone(),
        Some(p) => format!("{} (departed)", p.name),
        None => "—".to_owned(),
    }
}

impl From<Summary> for Row {
    fn from(s: Summary) -> Row {
        Row {
            owner: person(s.owner.as_ref()),
            manager: person(s.manager.as_ref()),
            id: s.phone_number_id,
            display: s.display_phone_number,
            name: s.verified_name.unwrap_or_default(),
            client_id: s.client_id,
            client_name: s.client_name,
            state: s.pin_state.as_str(),
            review_due: s.review_due.describe(),
            problems: s.health.into_iter().map(Problem::describe).collect(),
        }
    }
}

/// An option of a filter's drop-down.
struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

/// A client in the filter's drop-down.
struct ClientChoice {
    id: String,
    name: String,
    selected: bool,
}

/// The value parsed, or `None` with its refusal added to `refused`.
fn kept<T>(
    parsed: Result<T, governance::Error>,
    refused: &mut Vec<governance::Error>,
) -> Option<T> {
    parsed.map_err(|error| refused.push(error)).ok()
}

/// The filter's fields, in the form's order.
const FIELDS: [&str; 5] = ["search", "client", "state", "health", "page"];

/// The filter's fields as the form names them.
fn label(field: &str) -> &str {
    match field {
        "search" => "Search",
        "client" => "Client",
        "state" => "PIN state",
        "health" => "Health",
        "page" => "Page",
        other => other,
    }
}

#[derive(Template)]
#[template(path = "numbers/list.html")]
struct ListPage {
    page: PageContext,
    q: String,
    clients: Vec<ClientChoice>,
    states: Vec<Choice>,
    problems: Vec<Choice>,
    unhealthy: bool,
    rows: Vec<Row>,
    /// "1–50 of 154", or why the page shows none.
    summary: String,
    first: Option<String>,
    previous: Option<String>,
    next: Option<String>,
    last: Option<String>,
    /// A refused filter: the fields at fault and what is wrong, shown in the filter form;
    /// nothing is listed.
    problem: Option<(Vec<&'static str>, String)>,
}

impl ListPage {
    fn invalid(&self, field: &str) -> bool {
        self.problem
            .as_ref()
            .is_some_and(|(fields, _)| fields.contains(&field))
    }
}

async fn list(
    State(state): State<AppState>,
    who: Authorized<ReadNumbers>,
    page: PageContext,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    let (filter, request, mut refused) = query.read();
    // The drop-down's clients come on a second connection while the page is read, so
    // offering them costs the page no time.
    let (found, clients) = tokio::join!(
        async {
            if refused.is_empty() {
                let now = chrono::Utc::now();
                numbers::list(&state.store, &who.caller, &filter, request, now).await
            } else {
                Ok(nothing(request))
            }
        },
        governance::clients::list(&state.store, &who.caller),
    );
    let clients = clients?;
    let mut found = match found {
        // The list itself refuses a search (its length).
        Err(error @ governance::Error::Invalid { .. }) => {
            refused.push(error);
            nothing(request)
        }
        other => other?,
    };
    refused.extend(check_client(&filter, &clients).err());
    // Named in the form's order.
    refused.sort_by_key(|error| match error {
        governance::Error::Invalid { field, .. } => FIELDS.iter().position(|f| f == field),
        _ => None,
    });
    let problem = refusal(refused)?;
    if problem.is_some() {
        found = nothing(request);
    }
    let clients = clients
        .into_iter()
        .map(|c| ClientChoice {
            selected: filter.client_id.as_ref() == Some(&c.id),
            id: c.id,
            name: c.name,
        })
        .collect();
    let per_page = u64::from(found.per_page);
    let first = u64::from(found.page - 1) * per_page;
    let shown = found.items.len() as u64;
    let last_page = u32::try_from(found.total.div_ceil(per_page.max(1))).unwrap_or(u32::MAX);
    let summary = match (found.total, shown) {
        _ if problem.is_some() => {
            "No numbers listed: the filter above says what to change.".to_owned()
        }
        (0, _) => "0 numbers".to_owned(),
        (total, 0) => format!(
            "Page {} is past the last page, {last_page} ({total} numbers in all)",
            found.page
        ),
        (total, shown) if last_page > 1 => format!(
            "{}–{} of {total} · page {} of {last_page}",
            first + 1,
            first + shown,
            found.page
        ),
        (total, shown) => format!("{}–{} of {total}", first + 1, first + shown),
    };
    let states = PinState::ALL
        .into_iter()
        .map(|s| Choice {
            value: s.as_str(),
            label: s.as_str(),
            selected: filter.pin_state == Some(s),
        })
        .collect();
    let problems = Problem::ALL
        .into_iter()
        .map(|p| Choice {
            value: p.as_str(),
            label: p.describe(),
            selected: filter.problem == Some(p),
        })
        .collect();
    let listed = problem.is_none();
    let status = if problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let html = render(&ListPage {
        page,
        q: filter.search.clone().unwrap_or_default(),
        clients,
        states,
        problems,
        unhealthy: filter.unhealthy,
        rows: found.items.into_iter().map(Row::from).collect(),
        summary,
        first: (listed && found.page > 1).then(|| query.with_page(1)),
        // Past the end, "Previous" leads to the last page.
        previous: (listed && found.page > 1)
            .then(|| query.with_page((found.page - 1).min(last_page.max(1)))),
        next: (first + shown < found.total).then(|| query.with_page(found.page + 1)),
        last: (found.page < last_page).then(|| query.with_page(last_page)),
        problem,
    })?;
    Ok((status, html).into_response())
}

/// No numbers: what a refused filter lists.
fn nothing(request: PageRequest) -> numbers::Page<Summary> {
    numbers::Page {
        items: Vec::new(),
        total: 0,
        page: request.page,
        per_page: request.per_page,
    }
}

/// The refused filter values as the form shows them (the fields, and each one's problem in
/// the form's words); other errors stay errors.
fn refusal(
    refused: Vec<governance::Error>,
) -> Result<Option<(Vec<&'static str>, String)>, AppError> {
    let mut fields = Vec::new();
    let mut messages = Vec::new();
    for error in refused {
        match error {
            governance::Error::Invalid { field, problem } => {
                fields.push(field);
                messages.push(format!("{}: {problem}", label(field)));
            }
            other => return Err(other.into()),
        }
    }
    Ok((!fields.is_empty()).then(|| (fields, messages.join("; "))))
}
