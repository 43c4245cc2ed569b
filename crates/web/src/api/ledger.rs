//! `/api/v1/ledger`: the org's ledger export (streamed) and the state of its chain.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use governance::history;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::input::ApiQuery;
use super::problem::{ApiError, invalid};
use crate::AppState;
use crate::auth::{self, Authorized};
use crate::error::Problem;
use crate::ledger_download;

/// The export's format.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportQuery {
    /// `jsonl` (the default) or `csv`.
    format: Option<String>,
    /// The first seq to export (default 1); verify such a file with `--from`.
    #[param(value_type = Option<u64>, minimum = 1)]
    from: Option<String>,
    /// The last seq to export (default: the head when the export starts).
    #[param(value_type = Option<u64>, minimum = 1)]
    to: Option<String>,
}

/// The whole ledger of the token's org, as `pinward ledger export` writes it: one event per
/// line (JSON Lines) or row (CSV) in seq order, ending with a checkpoint signed by the
/// service's key, which is also stored. Streamed; check it with `pinward ledger verify
/// FILE --key KEY`.
#[utoipa::path(
    get,
    path = "/api/v1/ledger/export",
    tag = "ledger",
    params(ExportQuery),
    responses(
        (status = 200, description = "The export, as an attachment",
         content((String = "application/jsonl"), (String = "text/csv"))),
        (status = 400, description = "`format` is neither jsonl nor csv, or `from`/`to` is not a \
         seq range of the ledger; `field` names it", body = Problem,
         content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem,
         content_type = "application/problem+json"),
    )
)]
pub(crate) async fn export(
    State(state): State<AppState>,
    who: Authorized<auth::ReadLedger>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let format = ledger_download::parse_format(query.format.as_deref())?;
    let range = governance::export::Range {
        from: ledger_download::parse_seq("from", query.from.as_deref())?,
        to: ledger_download::parse_seq("to", query.to.as_deref())?,
    };
    Ok(ledger_download::download(&state, &who.caller.org_id, format, range).await?)
}

/// How much of the chain to check.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusQuery {
    /// `true`: re-hash every event of the org (cost grows with the ledger). By default only
    /// the events since the latest checkpoint are re-hashed, which the service signs every
    /// 15 minutes and at every export.
    #[param(value_type = Option<bool>)]
    full: Option<String>,
}

/// A chain head: the seq of the newest event and its hash.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Head {
    seq: u64,
    hash: String,
}

/// A signed checkpoint as stored.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CheckpointView {
    seq: u64,
    head: String,
    /// RFC 3339 UTC.
    at: String,
    /// Base64 Ed25519 public key that signed it.
    key: String,
    /// The key is the one this service signs with now.
    signed_by_this_service: bool,
}

/// What the check of the stored chain found.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VerificationView {
    /// The chain verifies from `from` to `to`.
    ok: bool,
    from: u64,
    to: u64,
    /// Events re-hashed.
    events: u64,
    /// The first problem, when not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

/// The state of the org's ledger.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LedgerStatus {
    org_id: String,
    head: Head,
    /// The latest signed checkpoint; absent before the first.
    checkpoint: Option<CheckpointView>,
    /// The service's checkpoint public key (base64), to pin for `ledger verify --key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoint_key: Option<String>,
    verification: VerificationView,
}

/// The org's chain head, its latest checkpoint, and whether the stored chain verifies.
#[utoipa::path(
    get,
    path = "/api/v1/ledger/status",
    tag = "ledger",
    params(StatusQuery),
    responses(
        (status = 200, description = "Head, latest checkpoint and verification", body = LedgerStatus),
        (status = 400, description = "`full` is not true or false (a bare `?full` is refused)", body = Problem,
         content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem,
         content_type = "application/problem+json"),
    )
)]
pub(crate) async fn status(
    State(state): State<AppState>,
    who: Authorized<auth::ReadLedger>,
    ApiQuery(query): ApiQuery<StatusQuery>,
) -> Result<Json<LedgerStatus>, ApiError> {
    let full = match query.full.as_deref().map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        // A bare `?full` is refused, not read as either: a script that meant the full check
        // must not be given the quick one.
        Some(_) => return Err(invalid("full", "must be true or false (`?full=true`)")),
    };
    let found = history::status(&state.store, &who.caller, full).await?;
    let ours = state.checkpoint_key.as_ref().map(|k| k.public_key());
    let v = found.verification;
    Ok(Json(LedgerStatus {
        org_id: who.caller.org_id,
        head: Head {
            seq: found.head.seq,
            hash: found.head.hash.to_hex(),
        },
        checkpoint: found.checkpoint.map(|signed| {
            let c = signed.checkpoint();
            CheckpointView {
                seq: c.seq(),
                head: c.head().to_hex(),
                at: c.at().to_string(),
                key: signed.key().to_base64(),
                signed_by_this_service: ours.as_ref() == Some(signed.key()),
            }
        }),
        checkpoint_key: ours.map(|k| k.to_base64()),
        verification: VerificationView {
            ok: v.problem.is_none(),
            from: v.from,
            to: v.to,
            events: v.events,
            problem: v.problem,
        },
    }))
}
