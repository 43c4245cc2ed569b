//! An org's ledger export as an HTTP download: the very bytes `pinward ledger export`
//! writes (`governance::export`), streamed as they are produced, ending with a checkpoint
//! signed by the service's key.
//!
//! `governance::export` writes into a `std::io::Write` and awaits the database between
//! batches. It runs on a blocking thread of its own under a small executor, so its writer
//! can wait for the HTTP client (a bounded channel) without stalling the runtime: memory
//! stays constant however large the ledger and however slow the client. An export that
//! fails before its first byte is an ordinary error response; one that fails later aborts
//! the body, so the client sees a broken transfer, never a plausible but truncated file.

use std::io::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::Utc;
use governance::export::{Format, Range};
use tokio::sync::mpsc;

use crate::AppState;
use crate::error::AppError;

/// The words [`parse_format`] takes.
pub(crate) const FORMATS: [&str; 2] = ["jsonl", "csv"];

/// Reads the `format` a caller asked for: `jsonl` (the default) or `csv`.
///
/// # Errors
/// [`governance::Error::Invalid`] naming `format`.
pub(crate) fn parse_format(text: Option<&str>) -> Result<Format, governance::Error> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None | Some("jsonl") => Ok(Format::Jsonl),
        Some("csv") => Ok(Format::Csv),
        Some(_) => Err(governance::Error::Invalid {
            field: "format",
            problem: "must be jsonl or csv".to_owned(),
        }),
    }
}

/// Reads an optional seq bound typed by a caller.
///
/// # Errors
/// [`governance::Error::Invalid`] naming `field`.
pub(crate) fn parse_seq(
    field: &'static str,
    text: Option<&str>,
) -> Result<Option<u64>, governance::Error> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| governance::Error::Invalid {
                field,
                problem: "must be a seq number (a whole number from 1)".to_owned(),
            }),
    }
}

/// What the exporting thread hands to the response body.
enum Piece {
    Data(Bytes),
    Done,
    Failed(governance::Error),
}

/// Chunks in flight between the export and the client (each up to the writers' 64 KiB).
const CHUNKS_IN_FLIGHT: usize = 4;

/// The events of `org_id` in `range` (all by default) in `format`, as an attachment
/// streamed to the client.
///
/// # Errors
/// [`AppError::Internal`] when the service has no checkpoint key; the export's own error
/// when it fails before its first byte.
pub(crate) async fn download(
    state: &AppState,
    org_id: &str,
    format: Format,
    range: Range,
) -> Result<Response, AppError> {
    let key = state.checkpoint_key.clone().ok_or(AppError::Unavailable(
        "this service was started without its checkpoint key",
    ))?;
    let org = governance::orgs::find(&state.store, org_id).await?;
    let now = Utc::now();
    let (sender, mut receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let store = state.store.clone();
    let exporting = org.id.clone();
    tokio::task::spawn_blocking(move || {
        export_on_this_thread(store, exporting, format, range, key, sender);
    });

    let first = match receiver.recv().await {
        Some(Piece::Data(bytes)) => bytes,
        Some(Piece::Failed(error)) => return Err(error.into()),
        Some(Piece::Done) | None => return Err(AppError::Internal("the export stopped early")),
    };
    let rest = futures_util::stream::unfold(Some(receiver), |receiver| async move {
        let mut receiver = receiver?;
        match receiver.recv().await {
            Some(Piece::Data(bytes)) => Some((Ok(bytes), Some(receiver))),
            Some(Piece::Done) => None,
            Some(Piece::Failed(error)) => {
                tracing::error!(%error, "the ledger export failed while streaming");
                Some((Err(std::io::Error::other("the export failed")), None))
            }
            None => Some((Err(std::io::Error::other("the export stopped")), None)),
        }
    });
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(first) }),
        rest,
    );
    let (extension, content_type) = match format {
        Format::Jsonl => ("jsonl", "application/jsonl; charset=utf-8"),
        Format::Csv => ("csv", "text/csv; charset=utf-8"),
    };
    // The slug is `a-z0-9-` only, so the name needs no quoting rules beyond the quotes.
    let filename = format!(
        "pinward-ledger-{}-{}.{extension}",
        org.slug,
        now.format("%Y%m%dT%H%M%SZ")
    );
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .map_err(|_| AppError::Internal("the download's file name is not a header value"))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// Runs the export on the current (blocking) thread, sending its bytes to `sender`.
fn export_on_this_thread(
    store: governance::Store,
    org_id: String,
    format: Format,
    range: Range,
    key: Arc<audit::CheckpointKey>,
    sender: mpsc::Sender<Piece>,
) {
    let writer = ChannelWriter {
        sender: sender.clone(),
    };
    let exported = futures_executor::block_on(governance::export::export(
        &store,
        &org_id,
        range,
        format,
        &key,
        Utc::now(),
        writer,
    ));
    let last = match exported {
        Ok((_, summary)) => {
            tracing::info!(
                org = %summary.org_id,
                events = summary.events,
                checkpoint_seq = summary.checkpoint.checkpoint().seq(),
                "ledger exported"
            );
            Piece::Done
        }
        Err(error) => Piece::Failed(error),
    };
    // The client may be gone already; then nobody needs to hear how it ended.
    let _ = sender.blocking_send(last);
}

/// A `Write` that hands every chunk to the response body, waiting while the client is
/// behind.
struct ChannelWriter {
    sender: mpsc::Sender<Piece>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.sender
            .blocking_send(Piece::Data(Bytes::copy_from_slice(buf)))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
            })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
