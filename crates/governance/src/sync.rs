//! Inventory sync: businesses → owned and client WABAs → phone numbers, from Meta into the
//! org's clients, WABAs and numbers.
//!
//! Everything is read from Meta first (paged), then written in one transaction: a failed
//! read changes nothing. Each business gets a client row (`meta_business_id`); WABAs and
//! numbers are upserted with their Meta facts. A new number arrives with PIN state
//! `unknown`: the take-custody queue. WABAs and numbers of the synced businesses that Meta
//! no longer returns get `vanished_at` (flagged, never deleted) and lose it when they come
//! back. Only real changes are written, each with its ledger event in the same
//! transaction, so a second run over an unchanged inventory writes nothing at all.
//!
//! Number facts kept: display number, verified name, quality rating, name status, platform
//! type, code verification status, last onboarded time. `platform_type` `ON_PREMISE` makes
//! the number's connector `on_prem` (`CLOUD_API` makes it `cloud`); an On-Premises endpoint
//! template (`…/{id}/`) fills in the URL of such numbers that have none.

use std::collections::{BTreeMap, HashMap, HashSet};

use audit::Actor;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use graph::{
    BusinessId, ListOptions, PhoneNumber, PhoneNumberField, Waba, WabaListOptions, WabaRelation,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::custody::MetaAccess;
use crate::custody::protocol_event as event;
use crate::store::{Store, Tx};
use crate::{Error, exec, ledger, on_read, on_tx};

/// Options of a sync.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Base URL of On-Premises numbers without one, with `{id}` standing for the phone
    /// number id (e.g. `https://wa.example.com/onprem/{id}/`).
    pub on_prem_url_template: Option<String>,
}

/// What a sync found and changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncReport {
    /// Businesses read.
    pub businesses: usize,
    /// WABAs Meta returned.
    pub wabas_seen: usize,
    /// Numbers Meta returned.
    pub numbers_seen: usize,
    /// Client rows created.
    pub clients_created: usize,
    /// WABAs new to pinward.
    pub wabas_discovered: usize,
    /// WABAs whose facts changed.
    pub wabas_updated: usize,
    /// WABAs flagged vanished.
    pub wabas_vanished: usize,
    /// WABAs back after vanishing.
    pub wabas_reappeared: usize,
    /// Numbers new to pinward (now in the take-custody queue).
    pub numbers_discovered: usize,
    /// Numbers whose facts changed.
    pub numbers_updated: usize,
    /// Numbers flagged vanished.
    pub numbers_vanished: usize,
    /// Numbers back after vanishing.
    pub numbers_reappeared: usize,
}

impl SyncReport {
    /// Ledger events written (one per change).
    pub fn changes(&self) -> usize {
        self.clients_created
            + self.wabas_discovered
            + self.wabas_updated
            + self.wabas_vanished
            + self.wabas_reappeared
            + self.numbers_discovered
            + self.numbers_updated
            + self.numbers_vanished
            + self.numbers_reappeared
    }
}

/// Progress while reading from Meta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncProgress {
    /// WABAs read so far.
    pub wabas: usize,
    /// Numbers read so far.
    pub numbers: usize,
}

struct FetchedWaba {
    business: BusinessId,
    relation: WabaRelation,
    waba: Waba,
    numbers: Vec<PhoneNumber>,
}

/// Reads the inventory of `businesses` from Meta and writes the differences (see the
/// module doc). `progress` is called after each WABA's numbers are read. No businesses
/// means the ones the org was synced with before (each synced business is a client with
/// its Meta business id).
pub async fn run(
    store: &Store,
    org: &str,
    actor: &Actor,
    meta: &MetaAccess,
    businesses: &[BusinessId],
    options: &SyncOptions,
    progress: &mut (dyn FnMut(SyncProgress) + Send),
) -> Result<SyncReport, Error> {
    let remembered;
    let named = !businesses.is_empty();
    let businesses = if businesses.is_empty() {
        remembered = synced_businesses(store, org).await?;
        if remembered.is_empty() {
            return Err(Error::Invalid {
                field: "businesses",
                problem: "the org was never synced: name at least one Meta business id".to_owned(),
            });
        }
        remembered.as_slice()
    } else {
        businesses
    };
    if let Some(template) = &options.on_prem_url_template
        && (!template.contains("{id}") || url::Url::parse(&template.replace("{id}", "1")).is_err())
    {
        return Err(Error::Invalid {
            field: "on_prem_url_template",
            problem: "a URL containing {id}".to_owned(),
        });
    }
    let fetched = fetch(meta, businesses, named, progress).await?;
    let mut report = SyncReport {
        businesses: businesses.len(),
        wabas_seen: fetched.len(),
        numbers_seen: fetched.iter().map(|w| w.numbers.len()).sum(),
        ..SyncReport::default()
    };
    let mut tx = store.begin_for(org).await?;
    let now = Utc::now();
    let mut clients = HashMap::new();
    for business in businesses {
        let id = ensure_client(&mut tx, org, actor, business, now, &mut report).await?;
        clients.insert(business.clone(), id);
    }
    let client_ids: Vec<String> = clients.values().cloned().collect();
    let mut seen_wabas = HashSet::new();
    let mut seen_numbers = HashSet::new();
    for item in &fetched {
        if !seen_wabas.insert(item.waba.id.as_str().to_owned()) {
            continue; // the same WABA under two businesses: the first one keeps it
        }
        let client = clients.get(&item.business).cloned().unwrap_or_default();
        let waba_id = upsert_waba(&mut tx, org, actor, &client, item, now, &mut report).await?;
        for number in &item.numbers {
            if seen_numbers.insert(number.id.as_str().to_owned()) {
                upsert_number(
                    &mut tx,
                    org,
                    actor,
                    &waba_id,
                    number,
                    options,
                    now,
                    &mut report,
                )
                .await?;
            }
        }
    }
    flag_vanished(
        &mut tx,
        org,
        actor,
        &client_ids,
        &seen_wabas,
        &seen_numbers,
        now,
        &mut report,
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

async fn fetch(
    meta: &MetaAccess,
    businesses: &[BusinessId],
    named: bool,
    progress: &mut (dyn FnMut(SyncProgress) + Send),
) -> Result<Vec<FetchedWaba>, Error> {
    let waba_options = WabaListOptions {
        limit: Some(100),
        ..WabaListOptions::default()
    };
    let number_options = ListOptions {
        fields: PhoneNumberField::INVENTORY.to_vec(),
        limit: Some(100),
        ..ListOptions::default()
    };
    let mut out = Vec::new();
    let mut count = SyncProgress {
        wabas: 0,
        numbers: 0,
    };
    for business in businesses {
        for relation in [WabaRelation::Owned, WabaRelation::Client] {
            let wabas: Vec<Waba> = meta
                .graph
                .wabas(&meta.token, business, relation, &waba_options)
                .try_collect()
                .await
                .map_err(|error| unreadable_business(error, business, named))?;
            for waba in wabas {
                let numbers: Vec<PhoneNumber> = meta
                    .graph
                    .phone_numbers(&meta.token, &waba.id, &number_options)
                    .try_collect()
                    .await?;
                count.wabas += 1;
                count.numbers += numbers.len();
                progress(count);
                out.push(FetchedWaba {
                    business: business.clone(),
                    relation,
                    waba,
                    numbers,
                });
            }
        }
    }
    Ok(out)
}

/// Meta's "no such object" (code 100, subcode 33) for a business's WABAs: the business id
/// is at fault (Meta does not know it, or it is not one the credential's system user can
/// load), not Meta, so the caller is told to mend `businesses` instead of being asked to
/// retry.
/// `named`: the caller gave the ids; otherwise they are the org's businesses of earlier
/// syncs.
fn unreadable_business(error: graph::Error, business: &BusinessId, named: bool) -> Error {
    let meta = match error.meta() {
        // Subcode 33 is "does not exist or cannot be loaded"; other code-100 errors (a field
        // a new Graph version dropped) are pinward's or Meta's, not the id's.
        Some(meta)
            if error.class() == graph::ErrorClass::Rejected
                && meta.code == 100
                && meta.subcode == Some(33) =>
        {
            meta
        }
        _ => return error.into(),
    };
    let remedy = if named {
        "check the id"
    } else {
        "the org was synced with it before; name the businesses to sync without it"
    };
    Error::Invalid {
        field: "businesses",
        problem: format!(
            "Meta has no business {business} that the org's credential can read ({}); {remedy}",
            meta.message
        ),
    }
}

/// The Meta businesses the org was synced with before.
async fn synced_businesses(store: &Store, org: &str) -> Result<Vec<BusinessId>, Error> {
    let sql = "SELECT meta_business_id FROM clients WHERE org_id = $1 \
               AND meta_business_id IS NOT NULL ORDER BY created_at, meta_business_id";
    let ids: Vec<String> =
        on_read!(store, org, conn => sqlx::query_scalar(sql).bind(org).fetch_all(conn).await)?;
    ids.iter()
        .map(|id| {
            BusinessId::parse(id).map_err(|_| Error::Invalid {
                field: "businesses",
                problem: "a stored Meta business id is not digits".to_owned(),
            })
        })
        .collect()
}

async fn ensure_client(
    tx: &mut Tx,
    org: &str,
    actor: &Actor,
    business: &BusinessId,
    now: DateTime<Utc>,
    report: &mut SyncReport,
) -> Result<String, Error> {
    let sql = "SELECT id FROM clients WHERE org_id = $1 AND meta_business_id = $2";
    let found: Option<String> = on_tx!(tx, conn => sqlx::query_scalar(sql).bind(org).bind(business.as_str()).fetch_optional(conn).await)?;
    if let Some(id) = found {
        return Ok(id);
    }
    // A new client is made under the org's ledger lock, as a rename is: a rename to
    // "Business <id>", or another sync finding the same business, at this moment either
    // commits first, and is seen below, or waits for this sync.
    ledger::hold(tx, org).await?;
    let found: Option<String> = on_tx!(tx, conn => sqlx::query_scalar(sql).bind(org).bind(business.as_str()).fetch_optional(conn).await)?;
    if let Some(id) = found {
        return Ok(id);
    }
    let sql = "SELECT name FROM clients WHERE org_id = $1";
    let taken: Vec<String> =
        on_tx!(tx, conn => sqlx::query_scalar(sql).bind(org).fetch_all(conn).await)?;
    let id = Uuid::now_v7().to_string();
    let name = unused_name(&format!("Business {business}"), &taken);
    exec!(
        tx,
        "INSERT INTO clients (id, org_id, name, meta_business_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        &id,
        org,
        &name,
        business.as_str(),
        now
    )?;
    let draft = event(
        "client.discovered",
        format!("client:{id}"),
        actor,
        json!({ "meta_business_id": business.as_str() }),
    )?;
    ledger::append(tx, org, now, draft).await?;
    report.clients_created += 1;
    Ok(id)
}

/// `base`, or `base (2)`, `(3)`, … when another client has that name (in any case), so no two
/// clients of an org share a name (see `clients::rename`).
fn unused_name(base: &str, taken: &[String]) -> String {
    let taken: Vec<String> = taken.iter().map(|t| t.to_lowercase()).collect();
    let mut name = base.to_owned();
    // Ends: each name taken rules out one candidate, and there are finitely many.
    for n in 2.. {
        if !taken.contains(&name.to_lowercase()) {
            break;
        }
        name = format!("{base} ({n})");
    }
    name
}

type WabaRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

async fn upsert_waba(
    tx: &mut Tx,
    org: &str,
    actor: &Actor,
    client: &str,
    item: &FetchedWaba,
    now: DateTime<Utc>,
    report: &mut SyncReport,
) -> Result<String, Error> {
    let waba = &item.waba;
    let ownership = match item.relation {
        WabaRelation::Owned => "owned",
        WabaRelation::Client => "client",
    };
    let name = waba
        .name
        .clone()
        .unwrap_or_else(|| format!("WABA {}", waba.id));
    let facts: BTreeMap<&str, Value> = BTreeMap::from([
        ("client_id", json!(client)),
        ("name", json!(name)),
        ("ownership", json!(ownership)),
        ("currency", json!(waba.currency)),
        ("timezone_id", json!(waba.timezone_id)),
    ]);
    let sql = "SELECT id, client_id, name, ownership, currency, timezone_id, vanished_at \
               FROM wabas WHERE org_id = $1 AND meta_waba_id = $2";
    let row: Option<WabaRow> = on_tx!(tx, conn => sqlx::query_as(sql).bind(org).bind(waba.id.as_str()).fetch_optional(conn).await)?;
    let subject = format!("waba:{}", waba.id);
    let Some((id, old_client, old_name, old_ownership, currency, timezone, vanished)) = row else {
        let id = Uuid::now_v7().to_string();
        exec!(
            tx,
            "INSERT INTO wabas (id, org_id, client_id, meta_waba_id, name, ownership, currency, timezone_id, \
                   first_seen_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
            &id,
            org,
            client,
            waba.id.as_str(),
            &name,
            ownership,
            &waba.currency,
            &waba.timezone_id,
            now
        )?;
        ledger::append(
            tx,
            org,
            now,
            event("waba.discovered", subject, actor, json!(facts))?,
        )
        .await?;
        report.wabas_discovered += 1;
        return Ok(id);
    };
    let old: BTreeMap<&str, Value> = BTreeMap::from([
        ("client_id", json!(old_client)),
        ("name", json!(old_name)),
        ("ownership", json!(old_ownership)),
        ("currency", json!(currency)),
        ("timezone_id", json!(timezone)),
    ]);
    let changed = diff(&old, &facts);
    if !changed.is_empty() {
        exec!(
            tx,
            "UPDATE wabas SET client_id = $2, name = $3, ownership = $4, currency = $5, timezone_id = $6, \
                   last_seen_at = $7 WHERE id = $1",
            &id,
            client,
            &name,
            ownership,
            &waba.currency,
            &waba.timezone_id,
            now
        )?;
        ledger::append(
            tx,
            org,
            now,
            event(
                "waba.updated",
                subject.clone(),
                actor,
                json!({ "changed": changed }),
            )?,
        )
        .await?;
        report.wabas_updated += 1;
    }
    if vanished.is_some() {
        exec!(
            tx,
            "UPDATE wabas SET vanished_at = NULL, last_seen_at = $2 WHERE id = $1",
            &id,
            now
        )?;
        ledger::append(
            tx,
            org,
            now,
            event("waba.reappeared", subject, actor, json!({}))?,
        )
        .await?;
        report.wabas_reappeared += 1;
    }
    Ok(id)
}

/// The fields whose value changed, as `{field: {"from", "to"}}`.
fn diff(
    old: &BTreeMap<&str, Value>,
    new: &BTreeMap<&str, Value>,
) -> serde_json::Map<String, Value> {
    new.iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| {
            (
                (*k).to_owned(),
                json!({ "from": old.get(k).cloned().unwrap_or(Value::Null), "to": v }),
            )
        })
        .collect()
}

fn meta_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    let text = text?;
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

type NumberFactsRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
    String,
    Option<String>,
    Option<DateTime<Utc>>,
);

#[allow(clippy::too_many_arguments)]
async fn upsert_number(
    tx: &mut Tx,
    org: &str,
    actor: &Actor,
    waba_id: &str,
    number: &PhoneNumber,
    options: &SyncOptions,
    now: DateTime<Utc>,
    report: &mut SyncReport,
) -> Result<(), Error> {
    let meta_id = number.id.as_str();
    let display = number
        .display_phone_number
        .clone()
        .unwrap_or_else(|| meta_id.to_owned());
    let quality = number.quality_rating.map(|q| q.as_str().to_owned());
    let name_status = number.name_status.map(|q| q.as_str().to_owned());
    let platform = number.platform_type.map(|q| q.as_str().to_owned());
    let verification = number
        .code_verification_status
        .map(|q| q.as_str().to_owned());
    let onboarded = meta_time(number.last_onboarded_time.as_deref());
    let sql = "SELECT id, waba_id, display_phone_number, verified_name, quality_rating, name_status, platform_type, \
               code_verification_status, last_onboarded_at, connector, onprem_base_url, vanished_at \
               FROM phone_numbers WHERE org_id = $1 AND meta_phone_number_id = $2";
    let row: Option<NumberFactsRow> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(org).bind(meta_id).fetch_optional(conn).await)?;
    let old_connector = row
        .as_ref()
        .map(|r| r.9.clone())
        .unwrap_or_else(|| "cloud".to_owned());
    let connector = match number.platform_type {
        Some(graph::PlatformType::OnPremise) => "on_prem".to_owned(),
        Some(graph::PlatformType::CloudApi) => "cloud".to_owned(),
        _ => old_connector,
    };
    let old_url = row.as_ref().and_then(|r| r.10.clone());
    let onprem_url = match (&old_url, &options.on_prem_url_template) {
        (None, Some(template)) if connector == "on_prem" => Some(template.replace("{id}", meta_id)),
        _ => old_url.clone(),
    };
    let facts: BTreeMap<&str, Value> = BTreeMap::from([
        ("waba_id", json!(waba_id)),
        ("display_phone_number", json!(display)),
        ("verified_name", json!(number.verified_name)),
        ("quality_rating", json!(quality)),
        ("name_status", json!(name_status)),
        ("platform_type", json!(platform)),
        ("code_verification_status", json!(verification)),
        ("last_onboarded_at", json!(onboarded.map(|t| t.timestamp()))),
        ("connector", json!(connector)),
        ("onprem_base_url", json!(onprem_url)),
    ]);
    let subject = format!("phone:{meta_id}");
    let Some((
        id,
        old_waba,
        old_display,
        old_name,
        old_quality,
        old_name_status,
        old_platform,
        old_verification,
        old_onboarded,
        old_connector,
        _,
        vanished,
    )) = row
    else {
        exec!(
            tx,
            "INSERT INTO phone_numbers (id, org_id, waba_id, meta_phone_number_id, display_phone_number, \
                   verified_name, quality_rating, name_status, platform_type, code_verification_status, \
                   last_onboarded_at, connector, onprem_base_url, first_seen_at, last_synced_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
            Uuid::now_v7().to_string(),
            org,
            waba_id,
            meta_id,
            &display,
            &number.verified_name,
            &quality,
            &name_status,
            &platform,
            &verification,
            onboarded,
            &connector,
            &onprem_url,
            now
        )?;
        let mut details = serde_json::Map::new();
        for (k, v) in &facts {
            details.insert((*k).to_owned(), v.clone());
        }
        details.insert("pin_state".to_owned(), json!("unknown"));
        ledger::append(
            tx,
            org,
            now,
            event("number.discovered", subject, actor, Value::Object(details))?,
        )
        .await?;
        report.numbers_discovered += 1;
        return Ok(());
    };
    let old: BTreeMap<&str, Value> = BTreeMap::from([
        ("waba_id", json!(old_waba)),
        ("display_phone_number", json!(old_display)),
        ("verified_name", json!(old_name)),
        ("quality_rating", json!(old_quality)),
        ("name_status", json!(old_name_status)),
        ("platform_type", json!(old_platform)),
        ("code_verification_status", json!(old_verification)),
        (
            "last_onboarded_at",
            json!(old_onboarded.map(|t| t.timestamp())),
        ),
        ("connector", json!(old_connector)),
        ("onprem_base_url", json!(old_url)),
    ]);
    let changed = diff(&old, &facts);
    if !changed.is_empty() {
        exec!(
            tx,
            "UPDATE phone_numbers SET waba_id = $2, display_phone_number = $3, verified_name = $4, \
                   quality_rating = $5, name_status = $6, platform_type = $7, code_verification_status = $8, \
                   last_onboarded_at = $9, connector = $10, onprem_base_url = $11, last_synced_at = $12 WHERE id = $1",
            &id,
            waba_id,
            &display,
            &number.verified_name,
            &quality,
            &name_status,
            &platform,
            &verification,
            onboarded,
            &connector,
            &onprem_url,
            now
        )?;
        ledger::append(
            tx,
            org,
            now,
            event(
                "number.updated",
                subject.clone(),
                actor,
                json!({ "changed": changed }),
            )?,
        )
        .await?;
        report.numbers_updated += 1;
    }
    if vanished.is_some() {
        exec!(
            tx,
            "UPDATE phone_numbers SET vanished_at = NULL, last_synced_at = $2 WHERE id = $1",
            &id,
            now
        )?;
        ledger::append(
            tx,
            org,
            now,
            event("number.reappeared", subject, actor, json!({}))?,
        )
        .await?;
        report.numbers_reappeared += 1;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn flag_vanished(
    tx: &mut Tx,
    org: &str,
    actor: &Actor,
    clients: &[String],
    seen_wabas: &HashSet<String>,
    seen_numbers: &HashSet<String>,
    now: DateTime<Utc>,
    report: &mut SyncReport,
) -> Result<(), Error> {
    for client in clients {
        let sql = "SELECT id, meta_waba_id FROM wabas WHERE org_id = $1 AND client_id = $2 AND vanished_at IS NULL";
        let wabas: Vec<(String, String)> =
            on_tx!(tx, conn => sqlx::query_as(sql).bind(org).bind(client).fetch_all(conn).await)?;
        for (id, meta_id) in &wabas {
            if !seen_wabas.contains(meta_id) {
                exec!(
                    tx,
                    "UPDATE wabas SET vanished_at = $2 WHERE id = $1",
                    id,
                    now
                )?;
                ledger::append(
                    tx,
                    org,
                    now,
                    event("waba.vanished", format!("waba:{meta_id}"), actor, json!({}))?,
                )
                .await?;
                report.wabas_vanished += 1;
            }
        }
        let sql = "SELECT n.id, n.meta_phone_number_id, n.pin_state FROM phone_numbers n JOIN wabas w \
                   ON w.org_id = n.org_id AND w.id = n.waba_id \
                   WHERE n.org_id = $1 AND w.client_id = $2 AND n.vanished_at IS NULL";
        let numbers: Vec<(String, String, String)> =
            on_tx!(tx, conn => sqlx::query_as(sql).bind(org).bind(client).fetch_all(conn).await)?;
        for (id, meta_id, state) in &numbers {
            if !seen_numbers.contains(meta_id) {
                exec!(
                    tx,
                    "UPDATE phone_numbers SET vanished_at = $2 WHERE id = $1",
                    id,
                    now
                )?;
                let draft = event(
                    "number.vanished",
                    format!("phone:{meta_id}"),
                    actor,
                    json!({ "pin_state": state }),
                )?;
                ledger::append(tx, org, now, draft).await?;
                report.numbers_vanished += 1;
            }
        }
    }
    Ok(())
}
