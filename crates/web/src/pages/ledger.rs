//! The ledger view: the org's events newest first, filtered by action and subject, paged by
//! seq; and the export download.
//!
//! The download is a POST form, not a link: every export signs and stores a checkpoint,
//! which `/api/v1/ledger/status` reports as the latest one, so it is a state change, and
//! state changes never happen on GET (a cross-site `<img>` could trigger them).

use askama::Template;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use governance::history::{self, Cursor, Filter, HistoryPage};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Authorized, ReadLedger};
use crate::error::AppError;
use crate::ledger_download;
use crate::page::{PageContext, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ledger", get(list))
        .route("/ledger/export", post(export))
}

/// Events per page.
const PER_PAGE: u32 = 50;

/// The view's query string, as typed: empty fields mean "any".
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    action: Option<String>,
    subject: Option<String>,
    before: Option<String>,
    after: Option<String>,
}

fn seq(field: &'static str, text: Option<&String>) -> Result<Option<u64>, governance::Error> {
    match text.map(|t| t.trim()).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| governance::Error::Invalid {
                field,
                problem: "must be a seq number (a whole number)".to_owned(),
            }),
    }
}

impl ListQuery {
    fn cursor(&self) -> Result<Cursor, governance::Error> {
        Ok(
            match (
                seq("before", self.before.as_ref())?,
                seq("after", self.after.as_ref())?,
            ) {
                (Some(before), _) => Cursor::Before(before),
                (None, Some(after)) => Cursor::After(after),
                (None, None) => Cursor::Newest,
            },
        )
    }

    /// The link to the page at `cursor` with the same filters.
    fn link(filter: &Filter, cursor: Cursor) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(action) = &filter.action_prefix {
            query.append_pair("action", action);
        }
        if let Some(subject) = &filter.subject {
            query.append_pair("subject", subject);
        }
        match cursor {
            Cursor::Newest => {}
            Cursor::Before(seq) => {
                query.append_pair("before", &seq.to_string());
            }
            Cursor::After(seq) => {
                query.append_pair("after", &seq.to_string());
            }
        }
        format!("/ledger?{}", query.finish())
    }
}

/// One event, ready to print.
struct Row {
    seq: u64,
    /// When, to the second, and as the chain holds it.
    at: String,
    at_stored: String,
    /// The actor's id, and how a person knows it (a member's name and email).
    actor: String,
    actor_name: String,
    action: String,
    subject: String,
    /// How the dashboard shows the subject (a number, a person, a client), when known.
    subject_name: Option<String>,
    /// The number's page, when the subject is a number.
    subject_href: Option<String>,
    /// This view narrowed to the event's action, and to its subject.
    action_filter: String,
    subject_filter: String,
    details: Vec<super::event_details::Detail>,
}

impl Row {
    fn new(event: audit::Event, names: &history::Names) -> Row {
        let subject = event.subject().to_owned();
        Row {
            seq: event.seq(),
            at: super::time::second(event.at().as_datetime()),
            at_stored: event.at().to_string(),
            actor: event.actor().as_str().to_owned(),
            actor_name: names.name(event.actor().as_str()).to_owned(),
            action: event.action().as_str().to_owned(),
            subject_href: subject
                .strip_prefix("phone:")
                .map(|id| format!("/numbers/{id}")),
            action_filter: ListQuery::link(
                &Filter {
                    action_prefix: Some(event.action().as_str().to_owned()),
                    subject: None,
                },
                Cursor::Newest,
            ),
            subject_filter: ListQuery::link(
                &Filter {
                    action_prefix: None,
                    subject: Some(subject.clone()),
                },
                Cursor::Newest,
            ),
            subject_name: names.subject(&subject).map(str::to_owned),
            subject,
            details: super::event_details::readable(event.details().as_map(), names),
        }
    }
}

#[derive(Template)]
#[template(path = "ledger/list.html")]
struct LedgerPage {
    page: PageContext,
    action: String,
    subject: String,
    /// Which events the subject filter shows, in words ("Events of Ann Lee, …").
    subject_scope: Option<String>,
    filtered: bool,
    head: u64,
    /// The latest signed checkpoint: its seq and time.
    checkpoint: Option<(u64, String)>,
    rows: Vec<Row>,
    newer: Option<String>,
    older: Option<String>,
    newest: Option<String>,
    /// A refused filter: the field at fault and the message, shown in the filter form.
    problem: Option<(&'static str, String)>,
}

impl LedgerPage {
    fn invalid(&self, field: &str) -> bool {
        self.problem.as_ref().is_some_and(|(at, _)| *at == field)
    }
}

/// The filter as the form's words name its fields.
fn label(field: &str) -> &str {
    match field {
        "action" => "Action starts with",
        "subject" => "Subject",
        other => other,
    }
}

/// Which events a filter by `subject` (named `name` on the dashboard) shows: a member's or
/// a client's include the events naming it.
fn subject_scope(subject: &str, name: Option<&str>) -> Option<String> {
    if history::named_in_details(subject).is_none() {
        return name.map(|name| format!("Events of {name}"));
    }
    let shown = name.unwrap_or(subject);
    let naming = match subject.split_once(':').map(|(kind, _)| kind) {
        Some("member") => "them (the seats they were given or left, handovers)",
        Some("client") => "it (its WABAs, the business admins given it)",
        _ => "it",
    };
    Some(format!("Events of {shown}, and those naming {naming}"))
}

async fn list(
    State(state): State<AppState>,
    who: Authorized<ReadLedger>,
    page: PageContext,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    let resolved = match Filter::parse(query.action.as_deref(), query.subject.as_deref()) {
        Ok(filter) => history::resolve_subject(&state.store, &who.caller, filter).await,
        Err(refused) => Err(refused),
    };
    let (filter, problem) = match resolved {
        Ok(filter) => (filter, None),
        // Refused, the page keeps what was typed, says why beside it and lists nothing.
        Err(governance::Error::Invalid { field, problem }) => (
            Filter::default(),
            Some((field, format!("{}: {problem}", label(field)))),
        ),
        Err(other) => return Err(other.into()),
    };
    let cursor = query.cursor()?;
    let typed = |text: &Option<String>| text.as_deref().unwrap_or_default().trim().to_owned();
    // Refused, the page keeps what was typed, says why beside it and lists nothing; one event
    // is read only for the count the page's header gives.
    let (action, subject, found) = match &problem {
        None => (
            filter.action_prefix.clone().unwrap_or_default(),
            filter.subject.clone().unwrap_or_default(),
            history::page(&state.store, &who.caller, &filter, cursor, PER_PAGE).await?,
        ),
        Some(_) => {
            let newest = history::page(&state.store, &who.caller, &filter, Cursor::Newest, 1);
            let found = HistoryPage {
                events: Vec::new(),
                head: newest.await?.head,
                older: None,
                newer: None,
            };
            (typed(&query.action), typed(&query.subject), found)
        }
    };
    let mut subjects: Vec<&str> = found.events.iter().map(audit::Event::subject).collect();
    subjects.extend(filter.subject.as_deref());
    let names = history::names(&state.store, &who.caller, &subjects).await?;
    let checkpoint = governance::checkpoints::latest(&state.store, &who.caller.org_id)
        .await?
        .map(|signed| {
            let c = signed.checkpoint();
            (
                c.seq(),
                format!("{} UTC", super::time::second(c.at().as_datetime())),
            )
        });
    let listed = problem.is_none();
    let subject_scope = filter
        .subject
        .as_deref()
        .and_then(|s| subject_scope(s, names.subject(s)));
    let html = render(&LedgerPage {
        page,
        subject_scope,
        action,
        subject,
        filtered: !listed || filter != Filter::default(),
        head: found.head,
        checkpoint,
        rows: found
            .events
            .into_iter()
            .map(|event| Row::new(event, &names))
            .collect(),
        newer: found.newer.map(|c| ListQuery::link(&filter, c)),
        older: found.older.map(|c| ListQuery::link(&filter, c)),
        newest: (listed && cursor != Cursor::Newest)
            .then(|| ListQuery::link(&filter, Cursor::Newest)),
        problem,
    })?;
    let status = if listed {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, html).into_response())
}

#[derive(Deserialize)]
struct ExportForm {
    format: Option<String>,
}

async fn export(
    State(state): State<AppState>,
    who: Authorized<ReadLedger>,
    Form(form): Form<ExportForm>,
) -> Result<Response, AppError> {
    let format = ledger_download::parse_format(form.format.as_deref())?;
    let whole = governance::export::Range::default();
    ledger_download::download(&state, &who.caller.org_id, format, whole).await
}
