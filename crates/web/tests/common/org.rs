//! Helpers of the org-wide pages' tests: a router that can export the ledger, bearer
//! tokens, and reading a form's errors.

use std::sync::Arc;

use audit::CheckpointKey;
use axum::Router;
use governance::Store;
use governance::access::{Caller, Role};
use pinward_tests::TestDb;

/// The real router over `store`, with a checkpoint key to sign exports.
pub fn router_with_key(store: Store, db: &TestDb) -> (Router, Arc<CheckpointKey>) {
    let key = Arc::new(CheckpointKey::generate());
    let state = web::AppState::new(store, db.dir().join("identity.txt"), None)
        .with_checkpoint_key(Arc::clone(&key));
    (web::app(state), key)
}

/// A bearer token of `org` with `role`.
pub async fn token(store: &Store, org: &str, role: Role) -> String {
    // Two active tokens of an org never share a name.
    let name = format!("script {}", uuid::Uuid::now_v7());
    let (_, secret) = governance::tokens::create(store, &Caller::cli(org), &name, role)
        .await
        .unwrap();
    secret.expose().to_owned()
}

/// The seq the latest stored checkpoint of `org` covers, if one was signed.
pub async fn latest_checkpoint(store: &Store, org: &str) -> Option<u64> {
    governance::checkpoints::latest(store, org)
        .await
        .unwrap()
        .map(|c| c.checkpoint().seq())
}

/// A request with a bearer token.
pub fn bearer(method: &str, path: &str, token: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header(axum::http::header::HOST, "127.0.0.1:8080")
        .header(axum::http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap()
}

/// The org's events, counted as the ledger holds them.
pub async fn ledger_length(store: &Store, org: &str) -> u64 {
    governance::history::page(
        store,
        &Caller::cli(org),
        &governance::history::Filter::default(),
        governance::history::Cursor::Newest,
        1,
    )
    .await
    .unwrap()
    .head
}

/// A signed-in browser's visit: its cookie and the CSRF token its pages carry.
pub async fn signed_in_visit(app: &Router, email: &str) -> super::Visit {
    let cookie = super::sign_in(app, email).await;
    signed_in_visit_again(app, &cookie).await
}

/// A visit of the session `cookie` names, with the CSRF token of a page made now (in the
/// org the session acts in now).
pub async fn signed_in_visit_again(app: &Router, cookie: &str) -> super::Visit {
    let body = super::text(super::send(app, super::get_as("/", cookie)).await).await;
    let marker = "name=\"_csrf\" value=\"";
    let start = body.find(marker).expect("a form with a CSRF token") + marker.len();
    let csrf = body[start..].split('"').next().unwrap().to_owned();
    super::Visit {
        cookie: cookie.to_owned(),
        csrf,
    }
}

/// Adds a person with a password to `org`; returns the member id.
pub async fn add_member(
    store: &Store,
    org: &str,
    email: &str,
    role: Role,
    clients: &[String],
) -> String {
    governance::members::add_new_user(
        store,
        &Caller::cli(org),
        &governance::users::NewUser {
            email: email.to_owned(),
            display_name: format!("Person {email}"),
            password: Some(governance::users::Password::new(super::PASSWORD.to_owned())),
        },
        role,
        clients,
    )
    .await
    .unwrap()
    .id
}
