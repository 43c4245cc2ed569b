//! The dashboard's numbers list under a fixed request rate (open loop), next to a bare axum
//! handler served the same way in the same run, on SQLite and PostgreSQL. A benchmark:
//! figures printed, nothing asserted about speed.
//!
//! Seeds one org with `PINWARD_BENCH_NUMBERS` numbers (default 10,000; the mix is
//! `pinward_tests::fleet`), signs an admin in through the real sign-in form, then sends
//! `GET /numbers` (the first page, 50 rows, all filters off) at `PINWARD_BENCH_RATE`
//! requests per second (default 50) for `PINWARD_BENCH_SECONDS` (default 20). Open loop:
//! request `i` is due at `start + i / rate` whether or not earlier ones have answered, and
//! its latency is measured from when it was due, so a slow response also counts against
//! the requests queued behind it (no coordinated omission). The bare handler — one route
//! returning a fixed page, no middleware — gets the same schedule on the same kind of
//! server, interleaved with the page's (the targets' requests a third of an interval apart),
//! which shows what the machine, the loopback network and hyper cost by themselves at the
//! same moments: measured one after the other, the two runs met different timer ticks and
//! machine noise, and their ratio moved by a third from run to run. A third target, the
//! bare list handler, is a plain axum route on a server of its own that reads the same
//! first page with `governance::numbers::list` (for a caller built once, so no session,
//! membership lookup, CSRF, template or other layer) and answers with its numbers in bare
//! HTML: the page next to it is what the dashboard adds to the list's own database work.
//!
//! Server and load generator are one process on separate runtimes (each server on two
//! worker threads, the load on one), talking HTTP/1.1 over loopback with keep-alive.
//! Requests are released by a clock thread of their own, which sleeps until just before
//! each one is due and spins the rest of the way: tokio's timer ticks in whole
//! milliseconds, and a request leaving up to a millisecond late would add that millisecond
//! to every figure from due (it made up most of the bare handler's). Each line gives how
//! late requests left, and the service time, from the moment a request left to the last
//! byte of its answer.
//!
//! Run: `cargo bench -p web --bench numbers_page` (PostgreSQL is started by the test
//! harness, as for the tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Html;
use axum::routing::get;
use governance::access::{Caller, Role};
use governance::users::{NewUser, Password};
use governance::{DatabaseTarget, Store};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use pinward_tests::fleet::{ORG, seed_fleet};
use pinward_tests::{Backend, TestDb};
use tokio::sync::{mpsc, oneshot};

const EMAIL: &str = "bench-admin@bench.example";
const PASSWORD: &str = "a bench password, not a secret";

type HttpClient = Client<HttpConnector, Body>;

/// How long the load runs, unmeasured, before the measured run.
const WARM_UP_SECONDS: u64 = 5;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let numbers = usize::try_from(env_or("PINWARD_BENCH_NUMBERS", 10_000)).unwrap();
    let rate = env_or("PINWARD_BENCH_RATE", 50).max(1);
    let seconds = env_or("PINWARD_BENCH_SECONDS", 20).max(1);
    println!(
        "numbers page, {numbers} numbers in one org, open loop at {rate} requests/s for {seconds} s per figure"
    );
    let load = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = load.block_on(TestDb::new(backend));
        let store = load.block_on(prepare(&db, numbers));
        let dashboard = Server::start(web::app(web::AppState::new(
            store.clone(),
            db.dir().join("identity.txt"),
            None,
        )));
        let bare = Server::start(Router::new().route("/", get(bare_page)));
        let listing = Server::start(
            Router::new()
                .route("/list", get(bare_list))
                .with_state(store.clone()),
        );
        load.block_on(async {
            let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
            let cookie = sign_in(&client, dashboard.addr).await;
            let page = format!("http://{}/numbers", dashboard.addr);
            let control = format!("http://{}/", bare.addr);
            let bare_list = format!("http://{}/list", listing.addr);
            let name = match backend {
                Backend::Sqlite => "sqlite",
                Backend::Postgres => "postgres",
            };
            warm_up(&client, &page, Some(&cookie)).await;
            warm_up(&client, &control, None).await;
            warm_up(&client, &bare_list, None).await;
            let targets = [
                (control.as_str(), None),
                (page.as_str(), Some(cookie.as_str())),
                (bare_list.as_str(), None),
            ];
            // The same load for a while first, unmeasured: it opens the connections the pool
            // keeps at this rate, and PostgreSQL plans a statement afresh for each of its
            // first five runs on a connection (~2 ms for the page's) before it settles on
            // a cached plan. A service that has been up a while pays neither.
            open_loop(&client, targets, rate, WARM_UP_SECONDS).await;
            let [bare, numbers, listed] = open_loop(&client, targets, rate, seconds).await;
            report(name, "bare axum handler", &bare);
            report(name, "bare list handler", &listed);
            report(name, "numbers page (first page)", &numbers);
            for (label, baseline) in [("bare handler", &bare), ("bare list handler", &listed)] {
                let ratio = |q| {
                    format!(
                        "{:.1}x from due, {:.1}x service",
                        quantile(&numbers.from_due, q) / quantile(&baseline.from_due, q),
                        quantile(&numbers.service, q) / quantile(&baseline.service, q)
                    )
                };
                println!(
                    "{name:<9} numbers page / {label}: p50 {}; p99 {}",
                    ratio(0.50),
                    ratio(0.99)
                );
            }
        });
        dashboard.stop();
        bare.stop();
        listing.stop();
    }
}

/// A migrated database holding the fleet and an admin who signs in with [`PASSWORD`].
async fn prepare(db: &TestDb, numbers: usize) -> Store {
    let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    seed_fleet(db, numbers).await;
    governance::members::add_new_user(
        &store,
        &Caller::cli(ORG),
        &NewUser {
            email: EMAIL.to_owned(),
            display_name: "Bench Admin".to_owned(),
            password: Some(Password::new(PASSWORD.to_owned())),
        },
        Role::Admin,
        &[],
    )
    .await
    .unwrap();
    store
}

async fn bare_page() -> Html<&'static str> {
    Html("<!doctype html><title>bare</title><p>The bare handler.</p>")
}

/// The list's own database work and nothing else: the first page as an org admin sees it,
/// in bare HTML.
async fn bare_list(axum::extract::State(store): axum::extract::State<Store>) -> Html<String> {
    let page = governance::numbers::list(
        &store,
        &Caller::cli(ORG),
        &governance::numbers::Filter::default(),
        governance::numbers::PageRequest::default(),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let mut html = format!(
        "<!doctype html><title>bare list</title><p>{} numbers</p><ul>",
        page.total
    );
    for number in page.items {
        html.push_str(&format!("<li>{}</li>", number.display_phone_number));
    }
    html.push_str("</ul>");
    Html(html)
}

/// An axum server on a loopback port with its own two-thread runtime.
struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Server {
    fn start(app: Router) -> Server {
        let (stop, stopped) = oneshot::channel::<()>();
        let (bound, addr) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                bound.send(listener.local_addr().unwrap()).unwrap();
                let app = app.into_make_service_with_connect_info::<SocketAddr>();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Server {
            addr: addr.recv().unwrap(),
            stop,
            thread,
        }
    }

    fn stop(self) {
        let _ = self.stop.send(());
        self.thread.join().unwrap();
    }
}

/// Signs the admin in through the sign-in form; the session cookie (`name=value`).
async fn sign_in(client: &HttpClient, addr: SocketAddr) -> String {
    let origin = format!("http://{addr}");
    let response = client
        .request(
            Request::get(format!("{origin}/signin"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let cookie = session_cookie(&response);
    let body = body_text(response).await;
    let marker = "name=\"_csrf\" value=\"";
    let start = body.find(marker).expect("the form carries a CSRF token") + marker.len();
    let csrf = body[start..].split('"').next().unwrap();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("_csrf", csrf)
        .append_pair("email", EMAIL)
        .append_pair("password", PASSWORD)
        .finish();
    let response = client
        .request(
            Request::post(format!("{origin}/signin"))
                .header(header::COOKIE, &cookie)
                .header(header::ORIGIN, &origin)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "signed in");
    session_cookie(&response)
}

fn session_cookie(response: &http::Response<hyper::body::Incoming>) -> String {
    let set_cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .expect("a session cookie")
        .to_str()
        .unwrap();
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn body_text(response: http::Response<hyper::body::Incoming>) -> String {
    let bytes = axum::body::to_bytes(Body::new(response.into_body()), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// One GET, its body read to the end; panics unless it is a 200.
async fn fetch(client: &HttpClient, url: &str, cookie: Option<&str>) {
    let mut request = Request::get(url);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = client
        .request(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    let body = axum::body::to_bytes(Body::new(response.into_body()), usize::MAX)
        .await
        .unwrap();
    assert!(!body.is_empty());
}

/// Fills caches and the connection pool before measuring.
async fn warm_up(client: &HttpClient, url: &str, cookie: Option<&str>) {
    for _ in 0..50 {
        fetch(client, url, cookie).await;
    }
}

/// Sorted latencies of one open-loop run, in milliseconds.
struct Latencies {
    /// From when each request was due to the last byte of its answer.
    from_due: Vec<f64>,
    /// From when each request left to the last byte of its answer.
    service: Vec<f64>,
    /// From when each request was due to when it left.
    late: Vec<f64>,
}

/// Sends `rate × seconds` requests to each target, interleaved: request `i` of target `k`
/// of `N` is due at `start + (i + k / N) / rate`. The targets thus run at the same time,
/// under the same clock and the same machine, rather than one after the other.
async fn open_loop<const N: usize>(
    client: &HttpClient,
    targets: [(&str, Option<&str>); N],
    rate: u64,
    seconds: u64,
) -> [Latencies; N] {
    let total = rate * seconds;
    let interval = Duration::from_secs(1).div_f64(rate as f64);
    let start = Instant::now() + Duration::from_millis(10);
    let dues: Vec<(usize, Instant)> = (0..total)
        .flat_map(|i| {
            (0..N).map(move |which| {
                let due = start + interval.mul_f64(i as f64 + which as f64 / N as f64);
                (which, due)
            })
        })
        .collect();
    let (release, mut released) = mpsc::unbounded_channel();
    let clock = std::thread::spawn(move || {
        for (which, due) in dues {
            wait_until(due);
            if release.send((which, due)).is_err() {
                break;
            }
        }
    });
    let mut inflight = Vec::with_capacity(usize::try_from(total).unwrap() * N);
    while let Some((which, due)) = released.recv().await {
        let (url, cookie) = targets[which];
        let (client, url, cookie) = (client.clone(), url.to_owned(), cookie.map(str::to_owned));
        inflight.push((
            which,
            tokio::spawn(async move {
                let sent = Instant::now();
                fetch(&client, &url, cookie.as_deref()).await;
                let ms = |d: Duration| d.as_secs_f64() * 1000.0;
                (ms(due.elapsed()), ms(sent.elapsed()), ms(sent - due))
            }),
        ));
    }
    clock.join().unwrap();
    let mut runs = [(); N].map(|()| Latencies {
        from_due: Vec::new(),
        service: Vec::new(),
        late: Vec::new(),
    });
    for (which, request) in inflight {
        let (due, sent, late) = request.await.unwrap();
        runs[which].from_due.push(due);
        runs[which].service.push(sent);
        runs[which].late.push(late);
    }
    for run in &mut runs {
        run.from_due.sort_by(f64::total_cmp);
        run.service.sort_by(f64::total_cmp);
        run.late.sort_by(f64::total_cmp);
    }
    runs
}

/// Returns at `due`: sleeps until shortly before it, since a sleeping thread wakes tens of
/// microseconds late, and spins the rest.
fn wait_until(due: Instant) {
    const SPIN: Duration = Duration::from_micros(200);
    if let Some(asleep) = due.checked_duration_since(Instant::now() + SPIN) {
        std::thread::sleep(asleep);
    }
    while Instant::now() < due {
        std::hint::spin_loop();
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn report(name: &str, label: &str, run: &Latencies) {
    let (due, service) = (&run.from_due, &run.service);
    println!(
        "{name:<9} {label:<26} from due: p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms | \
         service: p50 {:>6.2} ms  p99 {:>6.2} ms | left late: p50 {:>5.3} ms  p99 {:>5.3} ms  \
         ({} requests)",
        quantile(due, 0.50),
        quantile(due, 0.99),
        quantile(due, 1.0),
        quantile(service, 0.50),
        quantile(service, 0.99),
        quantile(&run.late, 0.50),
        quantile(&run.late, 0.99),
        due.len()
    );
}
