//! The sandbox's accept loop: HTTP/1.1 over hyper, each request handed to the axum router
//! with a per-connection control handle, so a fault can drop the connection without an answer
//! (which `axum::serve` cannot do) and a hanging request ends when the sandbox stops.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::error::Error;

/// Per-connection control, put in every request's extensions.
#[derive(Clone, Debug)]
pub(crate) struct ConnCtl {
    reset: Arc<Notify>,
    stop: watch::Receiver<bool>,
}

impl ConnCtl {
    /// Drops the connection without an answer.
    pub(crate) fn reset(&self) {
        self.reset.notify_one();
    }

    /// Resolves when the sandbox stops serving.
    pub(crate) async fn stopped(&self) {
        let mut stop = self.stop.clone();
        // An error means the server is gone: stopped too.
        let _gone = stop.wait_for(|s| *s).await;
    }
}

/// Serves `router` on `listener` until `shutdown` resolves; then lets connections finish for
/// up to a second and drops the rest.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    conns.spawn(serve_conn(stream, router.clone(), stop_rx.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "sandbox accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    let _no_receivers = stop_tx.send(true);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(1), drain)
        .await
        .is_err()
    {
        conns.abort_all();
    }
    Ok(())
}

async fn serve_conn(stream: TcpStream, router: Router, stop: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let ctl = ConnCtl {
        reset: Arc::new(Notify::new()),
        stop: stop.clone(),
    };
    let reset = ctl.reset.clone();
    let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
        req.extensions_mut().insert(ctl.clone());
        router.clone().oneshot(req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        // The timer arms hyper's default 30 s header-read timeout against idle sockets.
        .timer(TokioTimer::new())
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let stopping = ConnCtl {
        reset: reset.clone(),
        stop,
    };
    tokio::select! {
        _ = conn.as_mut() => {}
        () = reset.notified() => {
            // Dropping the connection closes the socket with no answer written.
        }
        () = stopping.stopped() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_millis(500), conn.as_mut()).await;
        }
    }
}
