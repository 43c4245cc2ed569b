//! Inventory sync for the dashboard and the API: the org's stored Graph credential with the
//! service's Graph client, then `governance::sync` (which reads everything from Meta before
//! it writes, so a failed read changes nothing).

use governance::access::Caller;
use governance::custody::MetaAccess;
use governance::sync::{SyncOptions, SyncReport};
use graph::BusinessId;

use crate::state::Custody;

/// The Meta business ids a caller typed (spaces, commas or new lines between them); none
/// means the businesses the org was synced with before.
///
/// # Errors
/// [`governance::Error::Invalid`] naming `businesses` for anything but Meta ids (1 to 32
/// digits), naming the item (or its length, for a long paste).
pub(crate) fn parse_businesses<'a>(
    items: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<BusinessId>, governance::Error> {
    items
        .into_iter()
        .flat_map(|item| item.split(|c: char| c == ',' || c.is_whitespace()))
        .filter(|id| !id.is_empty())
        .map(|id| {
            BusinessId::parse(id).map_err(|error| governance::Error::Invalid {
                field: "businesses",
                problem: format!(
                    "{}: {error}, ids separated by spaces or commas",
                    graph::described(id)
                ),
            })
        })
        .collect()
}

/// Syncs the caller's org from Meta with its stored credential.
///
/// # Errors
/// [`governance::Error::NotFound`] `graph credential` when the org has none; the errors of
/// [`governance::sync::run`] (nothing is changed then).
pub(crate) async fn sync(
    store: &governance::Store,
    custody: &Custody,
    caller: &Caller,
    businesses: &[BusinessId],
) -> Result<SyncReport, governance::Error> {
    caller.require(governance::access::Permission::Custody)?;
    let token = governance::credentials::open(store, &custody.escrow, &caller.org_id).await?;
    let meta = MetaAccess {
        graph: custody.graph.clone(),
        token,
        on_prem: None,
    };
    let report = governance::sync::run(
        store,
        &caller.org_id,
        &caller.actor()?,
        &meta,
        businesses,
        &SyncOptions::default(),
        &mut |_| {},
    )
    .await?;
    tracing::info!(
        org = %caller.org_id,
        numbers = report.numbers_seen,
        changes = report.changes(),
        "inventory synced"
    );
    Ok(report)
}

/// A one-line account of a sync for people.
pub(crate) fn summary(report: &SyncReport) -> String {
    format!(
        "Synced {} WABAs and {} numbers: {} added, {} updated, {} gone, {} back; {} changes ledgered.",
        report.wabas_seen,
        report.numbers_seen,
        report.numbers_discovered,
        report.numbers_updated,
        report.numbers_vanished,
        report.numbers_reappeared,
        report.changes()
    )
}
