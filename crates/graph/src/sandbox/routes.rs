//! The sandbox's HTTP surface: the Graph routes, the order Meta checks things in (version,
//! token, `appsecret_proof`, object, permission, rate limit, parameters), and the fault
//! wrapper every route goes through.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Map, Value, json};

use super::Sandbox;
use super::counters::Route;
use super::envelope::{GraphError, onprem_error};
use super::faults::Fault;
use super::listing::{self, PageReq};
use super::ratelimit::Throttle;
use super::server::ConnCtl;
use super::state::{NumberRec, Principal, SCOPE_MANAGE, SCOPE_MESSAGE, World};
use crate::config::ApiVersion;

const NUMBER_DEFAULT_FIELDS: [&str; 5] = [
    "id",
    "display_phone_number",
    "verified_name",
    "quality_rating",
    "code_verification_status",
];
const WABA_LIST_FIELDS: [&str; 5] = [
    "id",
    "name",
    "currency",
    "timezone_id",
    "message_template_namespace",
];
const WABA_DEFAULT_FIELDS: [&str; 2] = ["id", "name"];

pub(crate) fn router(sandbox: Sandbox) -> Router {
    Router::new()
        .merge(super::control::router())
        .merge(super::onprem::router())
        .route("/{version}/debug_token", get(debug_token))
        .route("/{version}/oauth/access_token", get(oauth).post(oauth))
        .route("/{version}/{id}", get(get_node).post(post_node))
        .route("/{version}/{id}/{edge}", get(get_edge).post(post_edge))
        .fallback(unknown_path)
        .with_state(sandbox)
}

/// What every Graph handler reads from a request.
pub(crate) struct Req {
    pub bearer: Option<String>,
    pub proof: Option<String>,
    pub query: Vec<(String, String)>,
    pub base: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub token_in_query: bool,
}

impl Req {
    pub(crate) fn new(
        headers: HeaderMap,
        raw_query: Option<String>,
        path: String,
        body: Bytes,
    ) -> Self {
        let query: Vec<(String, String)> = raw_query
            .as_deref()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        let header_token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| rest.trim().to_owned())
            });
        let query_token = listing::get(&query, "access_token").map(str::to_owned);
        let base = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map_or_else(|| "http://127.0.0.1".to_owned(), |h| format!("http://{h}"));
        Req {
            token_in_query: query_token.is_some(),
            bearer: header_token.or(query_token),
            proof: listing::get(&query, "appsecret_proof").map(str::to_owned),
            query,
            base,
            path,
            headers,
            body,
        }
    }

    /// JSON object or form body, as Meta accepts both.
    fn params(&self) -> Result<Map<String, Value>, GraphError> {
        if self.body.is_empty() {
            return Ok(Map::new());
        }
        let is_form = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            return Ok(url::form_urlencoded::parse(&self.body)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect());
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(GraphError::new(100).title("The request body must be a JSON object")),
        }
    }
}

fn check_version(version: &str) -> Result<(), GraphError> {
    version
        .parse::<ApiVersion>()
        .map(|_| ())
        .map_err(|_| GraphError::new(2500).title(format!("Unknown path components: /{version}")))
}

/// A Graph JSON answer with extra headers.
pub(crate) fn graph_reply(
    w: &World,
    result: Result<Value, GraphError>,
    headers: Vec<(&'static str, String)>,
) -> Response {
    let mut resp = match result {
        Ok(v) => (StatusCode::OK, Json(v)).into_response(),
        Err(e) => e.into_response(w.auth_status()),
    };
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

impl Sandbox {
    /// Counts the call, applies the fault plan, and runs `work` under the world's lock.
    pub(crate) async fn run(
        &self,
        route: Route,
        number: Option<&str>,
        ctl: Option<ConnCtl>,
        token_in_query: bool,
        work: impl FnOnce(&mut World) -> Response,
    ) -> Response {
        let (decision, auth_status) = {
            let mut w = self.lock();
            w.counters.hit(route, number);
            if token_in_query {
                w.counters.access_tokens_in_query += 1;
            }
            (w.faults.decide(route, number), w.auth_status())
        };
        if !decision.latency.is_zero() {
            pause(decision.latency, ctl.as_ref()).await;
        }
        let Some((fault, apply_first)) = decision.failure else {
            return work(&mut self.lock());
        };
        tracing::debug!(route = route.as_str(), ?fault, apply_first, "sandbox fault");
        let truncating_a_read = matches!(fault, Fault::Truncate) && !route.is_write();
        let real = (apply_first || truncating_a_read).then(|| work(&mut self.lock()));
        fault_response(fault, real, route, ctl, auth_status).await
    }
}

/// Sleeps, or returns early when the sandbox stops.
async fn pause(d: Duration, ctl: Option<&ConnCtl>) {
    match ctl {
        Some(ctl) => {
            tokio::select! {
                () = tokio::time::sleep(d) => {}
                () = ctl.stopped() => {}
            }
        }
        None => tokio::time::sleep(d).await,
    }
}

fn html(status: StatusCode) -> Response {
    let text =
        format!("<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>");
    (status, [(header::CONTENT_TYPE, "text/html")], text).into_response()
}

fn server_error(route: Route, auth_status: StatusCode) -> Response {
    if route.is_onprem() {
        onprem_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            1014,
            "Internal error",
            "Sandbox fault",
        )
    } else {
        GraphError::new(131000).into_response(auth_status)
    }
}

async fn fault_response(
    fault: Fault,
    real: Option<Response>,
    route: Route,
    ctl: Option<ConnCtl>,
    auth_status: StatusCode,
) -> Response {
    match fault {
        // Latency never arrives here (it is not a failure); answer normally if it did.
        Fault::Latency { .. } => real.unwrap_or_else(|| html(StatusCode::INTERNAL_SERVER_ERROR)),
        Fault::ServerError => server_error(route, auth_status),
        Fault::Unavailable { code } => {
            if route.is_onprem() {
                onprem_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    1011,
                    "Service not ready",
                    "Sandbox fault",
                )
            } else {
                GraphError::new(code)
                    .details("Sandbox fault: temporarily unavailable")
                    .status(StatusCode::SERVICE_UNAVAILABLE)
                    .into_response(auth_status)
            }
        }
        Fault::BadGateway => html(StatusCode::BAD_GATEWAY),
        Fault::GatewayTimeout => html(StatusCode::GATEWAY_TIMEOUT),
        Fault::Hang { ms } => {
            pause(Duration::from_millis(ms), ctl.as_ref()).await;
            html(StatusCode::GATEWAY_TIMEOUT)
        }
        Fault::Reset => match ctl {
            Some(ctl) => {
                ctl.reset();
                // The connection task drops this future with the connection.
                ctl.stopped().await;
                html(StatusCode::BAD_GATEWAY)
            }
            None => html(StatusCode::BAD_GATEWAY),
        },
        Fault::Truncate => truncate(real.unwrap_or_else(|| server_error(route, auth_status))).await,
        Fault::TooManyRequests { retry_after_s } => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after_s.to_string())],
            "Too Many Requests",
        )
            .into_response(),
        Fault::MetaError { code } => {
            if route.is_onprem() {
                onprem_error(
                    StatusCode::BAD_REQUEST,
                    code,
                    "Sandbox fault",
                    "Injected error",
                )
            } else {
                GraphError::new(code)
                    .details("Injected by the sandbox")
                    .into_response(auth_status)
            }
        }
    }
}

/// Sends the head (with the full `Content-Length`) and half the body, then fails the body so
/// the connection closes mid-answer.
async fn truncate(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = bytes.slice(0..bytes.len() / 2);
    let chunks: Vec<Result<Bytes, io::Error>> = vec![
        Ok(half),
        Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "sandbox truncation",
        )),
    ];
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    Response::from_parts(parts, Body::from_stream(futures_util::stream::iter(chunks)))
}

fn ctl_of(ext: Option<Extension<ConnCtl>>) -> Option<ConnCtl> {
    ext.map(|Extension(c)| c)
}

/// Applies the BUC and app limits; pushes the usage headers.
fn limit(
    w: &mut World,
    principal: &Principal,
    waba: Option<(&str, bool)>,
    headers: &mut Vec<(&'static str, String)>,
) -> Result<(), GraphError> {
    if matches!(principal, Principal::App) {
        return Ok(());
    }
    let now = w.now();
    let app = w.app.id.clone();
    let verdict = w.limiter.check(now, &app, waba);
    headers.extend(verdict.headers);
    match verdict.throttled {
        None => Ok(()),
        Some(Throttle::App) => Err(GraphError::new(4)),
        Some(Throttle::Waba) => {
            let left = waba
                .map(|(id, _)| w.limiter.window_left(now, &app, id))
                .unwrap_or_default();
            Err(GraphError::new(80008).details(format!(
                "Too many calls to this WhatsApp Business account; access returns in about {} minutes",
                left.as_secs().div_ceil(60)
            )))
        }
    }
}

fn node_route(w: &World, id: &str) -> Route {
    if w.numbers.contains_key(id) {
        Route::PhoneNumber
    } else if w.wabas.contains_key(id) {
        Route::Waba
    } else {
        Route::Other
    }
}

async fn get_node(
    State(sb): State<Sandbox>,
    Path((version, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    ctl: Option<Extension<ConnCtl>>,
    headers: HeaderMap,
) -> Response {
    let route = node_route(&sb.lock(), &id);
    let number = (route == Route::PhoneNumber).then_some(id.as_str());
    let req = Req::new(headers, q, format!("/{version}/{id}"), Bytes::new());
    let in_query = req.token_in_query;
    sb.run(route, number, ctl_of(ctl), in_query, |w| {
        let mut hdrs = Vec::new();
        let result = read_node(w, &version, &id, &req, &mut hdrs);
        graph_reply(w, result, hdrs)
    })
    .await
}

fn read_node(
    w: &mut World,
    version: &str,
    id: &str,
    req: &Req,
    hdrs: &mut Vec<(&'static str, String)>,
) -> Result<Value, GraphError> {
    check_version(version)?;
    let principal = w.authenticate(req.bearer.as_deref(), req.proof.as_deref(), false)?;
    if let Some(n) = w.numbers.get(id).cloned() {
        let waba = w
            .wabas
            .get(&n.waba)
            .cloned()
            .ok_or_else(|| World::unknown_object(id, "get"))?;
        w.reach_waba(&principal, &waba, &[SCOPE_MANAGE])?;
        let active = w.waba_is_active(&waba);
        limit(w, &principal, Some((&waba.id, active)), hdrs)?;
        let fields = listing::fields(&req.query, &NUMBER_DEFAULT_FIELDS);
        return w.number_json(&n, &fields);
    }
    if let Some(waba) = w.wabas.get(id).cloned() {
        w.reach_waba(&principal, &waba, &[SCOPE_MANAGE])?;
        let active = w.waba_is_active(&waba);
        limit(w, &principal, Some((&waba.id, active)), hdrs)?;
        let fields = listing::fields(&req.query, &WABA_DEFAULT_FIELDS);
        return w.waba_json(&waba, &fields);
    }
    if let Some(b) = w.businesses.get(id).cloned() {
        w.reach_business(&principal, &b.id)?;
        limit(w, &principal, None, hdrs)?;
        return Ok(json!({"id": b.id, "name": b.name}));
    }
    Err(World::unknown_object(id, "get"))
}

async fn post_node(
    State(sb): State<Sandbox>,
    Path((version, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    ctl: Option<Extension<ConnCtl>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_number = sb.lock().numbers.contains_key(&id);
    let route = if is_number {
        Route::SetPin
    } else {
        Route::Other
    };
    let number = is_number.then_some(id.as_str());
    let req = Req::new(headers, q, format!("/{version}/{id}"), body);
    let in_query = req.token_in_query;
    sb.run(route, number, ctl_of(ctl), in_query, |w| {
        let mut hdrs = Vec::new();
        let result = write_number(w, &version, &id, &req, &mut hdrs, Route::SetPin);
        graph_reply(w, result, hdrs)
    })
    .await
}

fn write_number(
    w: &mut World,
    version: &str,
    id: &str,
    req: &Req,
    hdrs: &mut Vec<(&'static str, String)>,
    route: Route,
) -> Result<Value, GraphError> {
    check_version(version)?;
    let principal = w.authenticate(req.bearer.as_deref(), req.proof.as_deref(), false)?;
    let n: NumberRec = w
        .numbers
        .get(id)
        .cloned()
        .ok_or_else(|| World::unknown_object(id, "post"))?;
    let waba = w
        .wabas
        .get(&n.waba)
        .cloned()
        .ok_or_else(|| World::unknown_object(id, "post"))?;
    // Solution Partners need both WhatsApp scopes for set-PIN, register, deregister.
    w.reach_waba(&principal, &waba, &[SCOPE_MANAGE, SCOPE_MESSAGE])?;
    limit(w, &principal, None, hdrs)?;
    let params = req.params()?;
    match route {
        Route::SetPin => w.set_pin(id, &params),
        Route::Register => w.register(id, &params),
        Route::Deregister => w.deregister(id),
        _ => Err(World::unknown_object(id, "post")),
    }
}

async fn post_edge(
    State(sb): State<Sandbox>,
    Path((version, id, edge)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    ctl: Option<Extension<ConnCtl>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_number = sb.lock().numbers.contains_key(&id);
    let route = match (is_number, edge.as_str()) {
        (true, "register") => Route::Register,
        (true, "deregister") => Route::Deregister,
        _ => Route::Other,
    };
    let number = is_number.then_some(id.as_str());
    let req = Req::new(headers, q, format!("/{version}/{id}/{edge}"), body);
    let in_query = req.token_in_query;
    sb.run(route, number, ctl_of(ctl), in_query, |w| {
        let mut hdrs = Vec::new();
        let result = if route == Route::Other {
            check_version(&version).and_then(|()| Err(unknown_edge(w, &id, &edge, "post")))
        } else {
            write_number(w, &version, &id, &req, &mut hdrs, route)
        };
        graph_reply(w, result, hdrs)
    })
    .await
}

fn unknown_edge(w: &World, id: &str, edge: &str, method: &str) -> GraphError {
    let known =
        w.numbers.contains_key(id) || w.wabas.contains_key(id) || w.businesses.contains_key(id);
    if known {
        GraphError::new(2500).title(format!("Unknown path components: /{edge}"))
    } else {
        World::unknown_object(id, method)
    }
}

async fn get_edge(
    State(sb): State<Sandbox>,
    Path((version, id, edge)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    ctl: Option<Extension<ConnCtl>>,
    headers: HeaderMap,
) -> Response {
    let route = {
        let w = sb.lock();
        match edge.as_str() {
            "phone_numbers" if w.wabas.contains_key(&id) => Route::PhoneNumbers,
            "owned_whatsapp_business_accounts" if w.businesses.contains_key(&id) => {
                Route::OwnedWabas
            }
            "client_whatsapp_business_accounts" if w.businesses.contains_key(&id) => {
                Route::ClientWabas
            }
            _ => Route::Other,
        }
    };
    let req = Req::new(headers, q, format!("/{version}/{id}/{edge}"), Bytes::new());
    let in_query = req.token_in_query;
    sb.run(route, None, ctl_of(ctl), in_query, |w| {
        let mut hdrs = Vec::new();
        let result = check_version(&version).and_then(|()| match route {
            Route::PhoneNumbers => list_numbers(w, &id, &req, &mut hdrs),
            Route::OwnedWabas | Route::ClientWabas => list_wabas(w, &id, route, &req, &mut hdrs),
            _ => Err(unknown_edge(w, &id, &edge, "get")),
        });
        graph_reply(w, result, hdrs)
    })
    .await
}

fn list_numbers(
    w: &mut World,
    waba_id: &str,
    req: &Req,
    hdrs: &mut Vec<(&'static str, String)>,
) -> Result<Value, GraphError> {
    let principal = w.authenticate(req.bearer.as_deref(), req.proof.as_deref(), false)?;
    let waba = w
        .wabas
        .get(waba_id)
        .cloned()
        .ok_or_else(|| World::unknown_object(waba_id, "get"))?;
    w.reach_waba(&principal, &waba, &[SCOPE_MANAGE])?;
    let active = w.waba_is_active(&waba);
    limit(w, &principal, Some((&waba.id, active)), hdrs)?;
    let page = PageReq::parse(&req.query, w.cfg.default_page_size, w.cfg.max_page_size)?;
    let fields = listing::fields(&req.query, &NUMBER_DEFAULT_FIELDS);
    let mut account_mode = None;
    for f in listing::filters(&req.query)? {
        match (f.field.as_str(), f.operator.as_str(), f.value.as_str()) {
            ("account_mode", "EQUAL", Some(v @ ("LIVE" | "SANDBOX"))) => {
                account_mode = Some(v.to_owned())
            }
            _ => return Err(GraphError::new(100).title("Unsupported filtering")),
        }
    }
    let ascending = listing::get(&req.query, "sort")
        .is_some_and(|s| s.contains("last_onboarded_time_ascending"));
    let mut numbers: Vec<&NumberRec> = waba
        .numbers
        .iter()
        .filter_map(|id| w.numbers.get(id))
        .filter(|n| account_mode.as_deref().is_none_or(|m| n.account_mode == m))
        .collect();
    numbers.sort_by(|a, b| (a.last_onboarded, &a.id).cmp(&(b.last_onboarded, &b.id)));
    if !ascending {
        numbers.reverse();
    }
    paged(w, req, &page, &numbers, |w, n| w.number_json(n, &fields))
}

fn list_wabas(
    w: &mut World,
    business_id: &str,
    route: Route,
    req: &Req,
    hdrs: &mut Vec<(&'static str, String)>,
) -> Result<Value, GraphError> {
    let principal = w.authenticate(req.bearer.as_deref(), req.proof.as_deref(), false)?;
    let business = w
        .businesses
        .get(business_id)
        .cloned()
        .ok_or_else(|| World::unknown_object(business_id, "get"))?;
    w.reach_business(&principal, &business.id)?;
    limit(w, &principal, None, hdrs)?;
    let page = PageReq::parse(&req.query, w.cfg.default_page_size, w.cfg.max_page_size)?;
    let fields = listing::fields(&req.query, &WABA_LIST_FIELDS);
    let (mut after, mut before) = (i64::MIN, i64::MAX);
    for f in listing::filters(&req.query)? {
        let value = f
            .value
            .as_i64()
            .or_else(|| f.value.as_str().and_then(|s| s.parse().ok()));
        match (f.field.as_str(), f.operator.as_str(), value) {
            ("creation_time", "GREATER_THAN", Some(t)) => after = t,
            ("creation_time", "LESS_THAN", Some(t)) => before = t,
            ("ownership_type", _, _) if route == Route::ClientWabas => {}
            _ => return Err(GraphError::new(100).title("Unsupported filtering")),
        }
    }
    let ids = if route == Route::OwnedWabas {
        &business.owned
    } else {
        &business.clients
    };
    let mut wabas: Vec<_> = ids
        .iter()
        .filter_map(|id| w.wabas.get(id))
        .filter(|x| x.creation_time > after && x.creation_time < before)
        .collect();
    wabas.sort_by(|a, b| (a.creation_time, &a.id).cmp(&(b.creation_time, &b.id)));
    if listing::get(&req.query, "sort") != Some("creation_time_ascending") {
        wabas.reverse();
    }
    paged(w, req, &page, &wabas, |w, x| w.waba_json(x, &fields))
}

/// One page of `items` in Meta's envelope: `data` plus `paging` (and `summary` when asked).
fn paged<T>(
    w: &World,
    req: &Req,
    page: &PageReq,
    items: &[T],
    to_json: impl Fn(&World, &T) -> Result<Value, GraphError>,
) -> Result<Value, GraphError> {
    let link = listing::linker(req.base.clone(), req.path.clone(), req.query.clone());
    let (range, extra) = page.cut(items.len(), link, w.cfg.trailing_empty_page);
    let data = items[range]
        .iter()
        .map(|item| to_json(w, item))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Map::new();
    out.insert("data".into(), Value::Array(data));
    out.extend(extra);
    Ok(Value::Object(out))
}

async fn debug_token(
    State(sb): State<Sandbox>,
    Path(version): Path<String>,
    RawQuery(q): RawQuery,
    ctl: Option<Extension<ConnCtl>>,
    headers: HeaderMap,
) -> Response {
    let req = Req::new(headers, q, format!("/{version}/debug_token"), Bytes::new());
    let in_query = req.token_in_query;
    sb.run(Route::DebugToken, None, ctl_of(ctl), in_query, |w| {
        let result = (|| {
            check_version(&version)?;
            w.authenticate(req.bearer.as_deref(), req.proof.as_deref(), true)?;
            let input = listing::get(&req.query, "input_token").ok_or_else(|| {
                GraphError::new(100).title("The parameter input_token is required")
            })?;
            Ok(json!({"data": w.token_facts(input)}))
        })();
        graph_reply(w, result, Vec::new())
    })
    .await
}

async fn oauth(
    State(sb): State<Sandbox>,
    Path(version): Path<String>,
    RawQuery(q): RawQuery,
    ctl: Option<Extension<ConnCtl>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = Req::new(headers, q, format!("/{version}/oauth/access_token"), body);
    sb.run(Route::OauthAccessToken, None, ctl_of(ctl), false, |w| {
        let result = (|| {
            check_version(&version)?;
            // Query (Meta's samples) and form body (OAuth clients) are both accepted.
            let mut params: HashMap<String, String> = req.query.iter().cloned().collect();
            for (k, v) in req.params()? {
                if let Value::String(v) = v {
                    params.insert(k, v);
                }
            }
            w.exchange(&params)
        })();
        graph_reply(w, result, Vec::new())
    })
    .await
}

async fn unknown_path(State(sb): State<Sandbox>, uri: axum::http::Uri) -> Response {
    let path = uri.path().to_owned();
    sb.run(Route::Other, None, None, false, |w| {
        graph_reply(
            w,
            Err(GraphError::new(2500).title(format!("Unknown path components: {path}"))),
            Vec::new(),
        )
    })
    .await
}
