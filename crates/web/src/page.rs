//! What every page shows around its content: the [`PageContext`] each page struct
//! carries as `page`, read by `templates/_layout.html` and nothing else.

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Html;
use governance::access::{Caller, Permission, Role};
use tower_sessions::Session;

use crate::AppState;
use crate::auth::csrf;
use crate::auth::session::{self, Flash, OrgChoice, SignedIn};
use crate::error::{AppError, ErrorReport};

/// The signed-in person, as the header shows them.
#[derive(Debug, Clone)]
pub struct UserView {
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
}

/// The org being acted in.
#[derive(Debug, Clone)]
pub struct OrgView {
    /// Its id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// One entry of the navigation bar.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Where it leads.
    pub href: &'static str,
    /// What it says.
    pub label: &'static str,
    /// It is the current section.
    pub current: bool,
}

/// Everything the layout needs; one per page.
#[derive(Debug, Clone)]
pub struct PageContext {
    /// The signed-in user, if any.
    pub user: Option<UserView>,
    /// The org, if signed in.
    pub org: Option<OrgView>,
    /// The session's CSRF token bound to the page's org, for every form (`_csrf`).
    pub csrf: String,
    /// The navigation bar.
    pub nav: Vec<NavItem>,
    /// A message left by the previous request.
    pub flash: Option<Flash>,
    /// The orgs the user may switch between; empty unless there are several.
    pub orgs: Vec<OrgChoice>,
    /// The request id, shown in the footer for support.
    pub request_id: String,
}

/// The sections of the dashboard, in the order the bar lists them, and what a role needs
/// to be shown one (the route itself still checks: this only spares people dead links).
const SECTIONS: &[(&str, &str, Option<Permission>)] = &[
    ("/", "Overview", None),
    ("/numbers", "Numbers", None),
    ("/sync", "Sync", Some(Permission::Custody)),
    ("/ledger", "Ledger", Some(Permission::ReadLedger)),
    ("/settings", "Settings", Some(Permission::ReadLedger)),
];

/// The bar for `path`; `role` (remembered at sign-in or switch, refreshed by every
/// authorized request) hides the sections it cannot open, and an unknown role hides
/// nothing.
fn nav(path: &str, signed_in: bool, role: Option<&str>) -> Vec<NavItem> {
    if !signed_in {
        return Vec::new();
    }
    let role = role.and_then(|r| Role::parse(r).ok());
    SECTIONS
        .iter()
        .filter(|&&(_, _, needs)| match (role, needs) {
            (Some(role), Some(permission)) => Caller {
                role,
                ..Caller::cli("")
            }
            .may(permission),
            _ => true,
        })
        .map(|&(href, label, _)| NavItem {
            href,
            label,
            current: if href == "/" {
                path == "/"
            } else {
                path.starts_with(href)
            },
        })
        .collect()
}

impl PageContext {
    async fn load(session: &Session, path: &str, request_id: &str) -> Result<Self, AppError> {
        let who = session::signed_in(session).await?;
        let csrf = csrf::for_page(
            &csrf::token(session).await?,
            who.as_ref().map(|w| w.org_id.as_str()),
        );
        let flash = session::take_flash(session).await?;
        let mut orgs = if who.is_some() {
            session::orgs(session).await?
        } else {
            Vec::new()
        };
        let role = who
            .as_ref()
            .and_then(|w| orgs.iter().find(|o| o.id == w.org_id))
            .map(|o| o.role.clone());
        if orgs.len() < 2 {
            orgs.clear();
        }
        Ok(PageContext {
            nav: nav(path, who.is_some(), role.as_deref()),
            user: who.as_ref().map(|w: &SignedIn| UserView {
                name: w.name.clone(),
                email: w.email.clone(),
            }),
            org: who.map(|w| OrgView {
                id: w.org_id,
                name: w.org_name,
            }),
            csrf,
            flash,
            orgs,
            request_id: request_id.to_owned(),
        })
    }

    /// The context of an error page: as much of the session as can still be read.
    pub(crate) async fn for_error(session: &Session, request_id: &str) -> PageContext {
        match PageContext::load(session, "", request_id).await {
            Ok(page) => page,
            Err(_) => PageContext::anonymous(request_id),
        }
    }

    /// A context without a session (it failed): no user, no forms.
    pub(crate) fn anonymous(request_id: &str) -> PageContext {
        PageContext {
            user: None,
            org: None,
            csrf: String::new(),
            nav: Vec::new(),
            flash: None,
            orgs: Vec::new(),
            request_id: request_id.to_owned(),
        }
    }
}

impl FromRequestParts<AppState> for PageContext {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, AppError> {
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(AppError::Internal("the session layer is missing"))?;
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        PageContext::load(&session, parts.uri.path(), &request_id).await
    }
}

/// Renders a page template.
///
/// # Errors
/// [`AppError::Render`] if the template fails.
pub fn render(template: &impl Template) -> Result<Html<String>, AppError> {
    Ok(Html(template.render()?))
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    page: PageContext,
    status: u16,
    title: &'a str,
    detail: &'a str,
}

pub(crate) fn error_page(
    page: PageContext,
    status: StatusCode,
    report: &ErrorReport,
) -> Result<String, askama::Error> {
    ErrorPage {
        page,
        status: status.as_u16(),
        title: report.title,
        detail: &report.detail,
    }
    .render()
}

/// A domain message as a sentence of a page: its first letter upper-case, a full stop at
/// its end.
pub(crate) fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect::<String>() + "."
    })
}
