//! Tokens, PINs, app secrets, signup codes and On-Premises passwords never reach a log line
//! or an error, even at TRACE and on failing calls. Its own test binary: it installs a global
//! subscriber (and the `log` bridge, for reqwest's and hyper's records).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use graph::sandbox::{Fault, FaultPlan, FaultRule, Route};
use graph::{AccessToken, OnPremClient, OnPremConfig, PinSecret};
use tracing_subscriber::fmt::MakeWriter;

use common::*;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_pin_or_secret_appears_in_logs_or_errors_at_trace_level() {
    let buffer = Buffer::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(buffer.clone())
        .try_init()
        .unwrap();

    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let pin_text = "482913";
    let wrong_pin_text = "000123";
    let bad_token_text = "EAAbad-token-that-must-not-leak";
    let facts = cloud_number(&sb);
    let pin = PinSecret::new(pin_text).unwrap();
    let mut errors = Vec::new();

    c.set_pin(&token, &facts.id, &pin).await.unwrap();
    c.phone_number(&token, &facts.id, &[]).await.unwrap();
    c.debug_token(&token, &token).await.unwrap();
    c.debug_token(&token, &AccessToken::from(bad_token_text))
        .await
        .unwrap();
    errors.push(
        c.set_pin(&AccessToken::from(bad_token_text), &facts.id, &pin)
            .await
            .unwrap_err(),
    );
    errors.push(
        c.register(
            &token,
            &facts.id,
            &PinSecret::new(wrong_pin_text).unwrap(),
            None,
        )
        .await
        .unwrap_err(),
    );
    sb.set_faults(FaultPlan::single(
        FaultRule::always(Route::SetPin, Fault::ServerError).apply_first(),
    ));
    errors.push(c.set_pin(&token, &facts.id, &pin).await.unwrap_err());
    sb.set_faults(FaultPlan::single(
        FaultRule::always(Route::SetPin, Fault::Truncate).apply_first(),
    ));
    errors.push(c.set_pin(&token, &facts.id, &pin).await.unwrap_err());
    sb.set_faults(FaultPlan::none());

    let app = sb.app();
    let code = sb.issue_signup_code(std::slice::from_ref(&facts.waba));
    let exchanged = c.exchange_code(&app, &code).await.unwrap();
    errors.push(c.exchange_code(&app, &code).await.unwrap_err());

    let onprem = number(&sb, |n| n.onprem);
    let mut cfg = OnPremConfig::new(sb.onprem_base_url(&onprem.id));
    cfg.retry = policy();
    let op = OnPremClient::new(cfg).unwrap();
    let (user, password) = sb.onprem_admin();
    let session = op.login(&user, &password).await.unwrap();
    op.set_pin(&session.token, &pin).await.unwrap();
    errors.push(op.login(&user, &"wrong-password".into()).await.unwrap_err());

    for e in &errors {
        tracing::error!(error = %e, debug = ?e, "call failed");
    }
    tracing::info!(
        ?token,
        ?pin,
        ?session,
        ?exchanged,
        ?app,
        "secrets formatted with Debug"
    );

    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("graph.call") && log.contains("set_pin"),
        "the capture works"
    );
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "low levels are captured"
    );
    let secrets = [
        token.expose(),
        pin_text,
        wrong_pin_text,
        bad_token_text,
        app.secret.expose(),
        code.expose(),
        password.expose(),
        "wrong-password",
        session.token.expose(),
        exchanged.access_token.expose(),
    ];
    for secret in secrets {
        assert!(!log.contains(secret), "a secret leaked into the log");
        for e in &errors {
            assert!(
                !format!("{e} {e:?}").contains(secret),
                "a secret leaked into an error"
            );
        }
    }
}
