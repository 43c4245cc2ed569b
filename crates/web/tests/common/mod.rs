//! Helpers of the web tests: the real router over a fresh database, one request at a time.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use governance::access::{Caller, Role};
use governance::users::{NewUser, Password};
use governance::{DatabaseTarget, Store};
use pinward_tests::TestDb;
use tower::ServiceExt;

pub mod custody;
pub mod org;

pub async fn store(db: &TestDb) -> Store {
    let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

pub fn router(store: Store, db: &TestDb, public_url: Option<&str>) -> Router {
    let url = public_url.map(|u| url::Url::parse(u).unwrap());
    web::app(web::AppState::new(
        store,
        db.dir().join("identity.txt"),
        url.as_ref(),
    ))
}

pub async fn app(db: &TestDb, public_url: Option<&str>) -> Router {
    router(store(db).await, db, public_url)
}

pub async fn send(app: &Router, request: Request<Body>) -> Response<Body> {
    app.clone().oneshot(request).await.unwrap()
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, "127.0.0.1:8080")
        .body(Body::empty())
        .unwrap()
}

pub async fn text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

pub fn header<'a>(response: &'a Response<Body>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// A browser's visit to the sign-in page: its session cookie and the form's CSRF token.
pub struct Visit {
    pub cookie: String,
    pub csrf: String,
}

pub async fn visit_sign_in(app: &Router) -> Visit {
    let response = send(app, get("/signin")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let set_cookie = header(&response, "set-cookie").to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let body = text(response).await;
    let marker = "name=\"_csrf\" value=\"";
    let start = body.find(marker).expect("the form carries a CSRF token") + marker.len();
    let csrf = body[start..].split('"').next().unwrap().to_owned();
    assert!(csrf.len() >= 40, "a 256-bit token: {csrf}");
    Visit { cookie, csrf }
}

/// A form post from the visit's browser (its cookie; headers added per test).
pub fn post_form(path: &str, visit: &Visit) -> http::request::Builder {
    Request::post(path)
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::COOKIE, &visit.cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
}

pub fn form_body(visit: &Visit, extra: &str) -> Body {
    Body::from(format!("_csrf={}{extra}", visit.csrf))
}

/// The first cookie of a response's `Set-Cookie`, as a `Cookie` header value.
pub fn cookie_of(response: &Response<Body>) -> Option<String> {
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// A same-origin post of `fields` (already urlencoded, without the token) with the visit's
/// cookie and token.
pub fn same_origin_post(path: &str, visit: &Visit, fields: &str) -> Request<Body> {
    post_form(path, visit)
        .header(header::ORIGIN, "http://127.0.0.1:8080")
        .header("sec-fetch-site", "same-origin")
        .body(form_body(visit, &format!("&{fields}")))
        .unwrap()
}

/// A GET with the visit's cookie.
pub fn get_as(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

pub const PASSWORD: &str = "correct horse battery staple";

/// An org `slug` with one member of `role` whose email is `email` and password [`PASSWORD`];
/// returns the org id.
pub async fn org_with_member(store: &Store, slug: &str, email: &str, role: Role) -> String {
    let org =
        governance::orgs::create(store, &audit::Actor::system(), slug, &format!("{slug} Ltd"))
            .await
            .unwrap();
    governance::members::add_new_user(
        store,
        &Caller::cli(&org.id),
        &NewUser {
            email: email.to_owned(),
            display_name: format!("Person {email}"),
            password: Some(Password::new(PASSWORD.to_owned())),
        },
        role,
        &[],
    )
    .await
    .unwrap();
    org.id
}

/// Signs `email` in from a fresh visit; returns the signed-in session's cookie.
pub async fn sign_in(app: &Router, email: &str) -> String {
    let visit = visit_sign_in(app).await;
    let fields = format!("email={}&password={}", enc(email), enc(PASSWORD));
    let response = send(app, same_origin_post("/signin", &visit, &fields)).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "sign-in of {email}"
    );
    cookie_of(&response).expect("a new session cookie at sign-in")
}

pub fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Runs SQL as the database's owner (test fixtures only).
pub async fn sql(db: &TestDb, statements: &[String]) {
    use sqlx::Connection;
    match db.backend() {
        pinward_tests::Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            for s in statements {
                sqlx::raw_sql(sqlx::AssertSqlSafe(s.clone()))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
        }
        pinward_tests::Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            for s in statements {
                sqlx::raw_sql(sqlx::AssertSqlSafe(s.clone()))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
        }
    }
}

/// A client, a WABA and number `meta` (escrowed, version 1) in `org`.
pub async fn seed_number(db: &TestDb, org: &str, meta: &str, display: &str) {
    let t = "'2026-01-01T00:00:00Z'";
    sql(
        db,
        &[
            format!(
                "INSERT INTO clients (id, org_id, name, created_at) VALUES ('c-{meta}', '{org}', 'Client {meta}', {t})"
            ),
            format!(
                "INSERT INTO wabas (id, org_id, client_id, meta_waba_id, name, ownership, first_seen_at, last_seen_at) \
                 VALUES ('w-{meta}', '{org}', 'c-{meta}', 'meta-w-{meta}', 'WABA {meta}', 'client', {t}, {t})"
            ),
            format!(
                "INSERT INTO phone_numbers (id, org_id, waba_id, meta_phone_number_id, display_phone_number, verified_name, \
                 pin_state, first_seen_at, last_synced_at) \
                 VALUES ('n-{meta}', '{org}', 'w-{meta}', '{meta}', '{display}', 'Shop {meta}', 'escrowed', {t}, {t})"
            ),
            format!(
                "INSERT INTO pin_versions (id, org_id, phone_number_id, version, status, attempt_id, sealed, fingerprint, \
                 created_by, created_at, confirmed_at) VALUES ('v-{meta}', '{org}', 'n-{meta}', 1, 'current', \
                 'a-{meta}', 'sealed', 'fp-{meta}', 'system', '2026-10-01T00:00:00Z', '2026-10-01T00:00:05Z')"
            ),
        ],
    )
    .await;
}

/// The ids of the inputs a page marks `aria-invalid`.
pub fn invalid_inputs(body: &str) -> Vec<&str> {
    body.split('<')
        .filter(|tag| tag.contains("aria-invalid=\"true\""))
        .filter_map(|tag| tag.split(" id=\"").nth(1)?.split('"').next())
        .collect()
}

/// The value of the first input named `name` on a page (a hidden field a form carries).
pub fn input_value<'a>(body: &'a str, name: &str) -> &'a str {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no input {name}"))
        + marker.len();
    body[start..].split('"').next().unwrap_or_default()
}
