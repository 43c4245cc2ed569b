//! The numbers of an org as people see them: the list (search, filters, pages, health),
//! one number's record, its metadata and its two seats (main owner, permission manager).
//!
//! Every read and write is scoped to the caller's org and, for a business admin, to its
//! clients: a number outside that scope is [`Error::NotFound`]. Health is computed by
//! [`crate::health::check`] from the same rows, and the health filter runs its SQL twin
//! (`health::sql`, tested against it), so the list, the record and the filter agree.

mod assign;
mod metadata;
pub(crate) mod note;
pub(crate) mod query;
mod seats;

use chrono::{DateTime, NaiveDate, Utc};
use graph::PhoneNumberId;

pub(crate) use assign::check_seat_holder;
pub use assign::{SeatsSeen, assign, assign_seen, check_chosen};
pub(crate) use metadata::parse_stored_channels as stored_channels;
pub use metadata::{
    BackupChannel, ChannelKind, Metadata, MetadataUpdate, channel_faults, check_metadata,
    update_metadata, update_metadata_seen,
};
pub use note::holds_six_digits;
pub use seats::out_of_reach as seats_out_of_reach;

/// The earliest day a date about a number may name (its activation, a review): WhatsApp's
/// first year. Earlier is a typing mistake.
pub const EARLIEST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2009, 1, 1).expect("a valid date");

/// Refuses a day about a number (its activation, an out-of-band change) before
/// [`EARLIEST_DAY`] or after today, naming `field`.
pub(crate) fn check_day_between(
    field: &'static str,
    day: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    match day {
        Some(day) if day < EARLIEST_DAY || day > now.date_naive() => Err(Error::Invalid {
            field,
            problem: format!("must be between {EARLIEST_DAY} and today"),
        }),
        _ => Ok(()),
    }
}

use self::query::{
    Arg, COUNT_FROM, DISPLAY_DIGITS, JOINS, NumberRow, SELECT, Where, contains_pattern,
};
use crate::access::{Caller, Permission};
use crate::custody::PinState;
use crate::health::sql as health_sql;
use crate::health::{self, Cutoffs, Facts, Problem, SeatHolder};
use crate::policies::{self, Policy};
use crate::store::{Store, Tx, dialect};
use crate::{Error, bind_args, on_tx};

/// Most numbers one page may hold.
pub const MAX_PER_PAGE: u32 = 200;
/// Most ledger events a number's record lists (newest first); `Record::events` says the figure
/// to API users in words.
pub const RECORD_EVENTS: i64 = 200;

/// What the list is narrowed to. Every field is optional.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Text searched (case-insensitively) in the display number, verified name and usage;
    /// digits also match the display number without its punctuation.
    pub search: Option<String>,
    /// Only numbers of this client.
    pub client_id: Option<String>,
    /// Only numbers in this PIN state.
    pub pin_state: Option<PinState>,
    /// Only numbers with this health problem.
    pub problem: Option<Problem>,
    /// Only numbers with at least one health problem.
    pub unhealthy: bool,
}

/// Which page of the list (1-based) and how many numbers per page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1, 2, 3, …
    pub page: u32,
    /// 1 to [`MAX_PER_PAGE`].
    pub per_page: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            page: 1,
            per_page: 50,
        }
    }
}

impl PageRequest {
    fn validate(self) -> Result<(u64, u64), Error> {
        if self.page == 0 {
            return Err(Error::Invalid {
                field: "page",
                problem: "must be a whole number from 1".to_owned(),
            });
        }
        if !(1..=MAX_PER_PAGE).contains(&self.per_page) {
            return Err(Error::Invalid {
                field: "per_page",
                problem: format!("must be a whole number from 1 to {MAX_PER_PAGE}"),
            });
        }
        let per_page = u64::from(self.per_page);
        Ok((per_page, u64::from(self.page - 1) * per_page))
    }
}

/// One page of a list, with the number of items on every page together.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items match, on all pages.
    pub total: u64,
    /// This page (1-based).
    pub page: u32,
    /// The page size asked for.
    pub per_page: u32,
}

/// A member holding a seat of a number.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Person {
    /// The member id.
    pub member_id: String,
    /// The user's display name.
    pub name: String,
    /// False once the member or its user is deactivated.
    pub active: bool,
}

/// A number in the list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary {
    /// Meta's phone number id (the number's id in pinward's interfaces).
    pub phone_number_id: String,
    /// e.g. `+1 555-013-3742`.
    pub display_phone_number: String,
    /// The name Meta verified.
    pub verified_name: Option<String>,
    /// What the number is for.
    pub usage: Option<String>,
    /// The client business.
    pub client_id: String,
    /// Its name.
    pub client_name: String,
    /// The PIN state.
    pub pin_state: PinState,
    /// The main owner.
    pub owner: Option<Person>,
    /// The permission manager.
    pub manager: Option<Person>,
    /// When the next review is due (none before the first review).
    pub next_review_due: Option<DateTime<Utc>>,
    /// When the next review is due, the first one included.
    pub review_due: crate::reviews::Due,
    /// What is wrong with it.
    pub health: Vec<Problem>,
}

/// Facts Meta holds about a number, refreshed by inventory sync.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetaFacts {
    /// Meta's phone number id.
    pub phone_number_id: String,
    /// The display number.
    pub display_phone_number: String,
    /// The verified name.
    pub verified_name: Option<String>,
    /// `GREEN`, `YELLOW`, `RED`, …
    pub quality_rating: Option<String>,
    /// Status of the display name review.
    pub name_status: Option<String>,
    /// `CLOUD_API`, `ON_PREMISE`, …
    pub platform_type: Option<String>,
    /// Whether the number's ownership was verified by code.
    pub code_verification_status: Option<String>,
    /// When the number was last onboarded at Meta.
    pub last_onboarded_at: Option<DateTime<Utc>>,
    /// `cloud` or `on_prem`.
    pub connector: String,
    /// When pinward first saw it.
    pub first_seen_at: DateTime<Utc>,
    /// When inventory sync last saw it.
    pub last_synced_at: DateTime<Utc>,
    /// When Meta stopped listing it, if it did.
    pub vanished_at: Option<DateTime<Utc>>,
}

/// A WABA as a number's record names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WabaRef {
    /// pinward's id.
    pub id: String,
    /// Meta's WhatsApp Business Account id.
    pub meta_waba_id: String,
    /// Its name.
    pub name: String,
}

/// A client business as a number's record names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientRef {
    /// pinward's id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A PIN version as the record shows it: never the PIN.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionRecord {
    /// 1, 2, 3, …
    pub version: i64,
    /// `pending`, `current`, `previous`, `superseded`, `rejected` or `stale`.
    pub status: String,
    /// When pinward chose it.
    pub created_at: DateTime<Utc>,
    /// When Meta confirmed it.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// When it stopped being live.
    pub ended_at: Option<DateTime<Utc>>,
    /// Why its last send was not confirmed.
    pub failure_reason: Option<String>,
    /// When its PIN was last shown to a person.
    pub revealed_at: Option<DateTime<Utc>>,
}

/// A ledger event about the number.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventRecord {
    /// Its place in the org's chain.
    pub seq: i64,
    /// RFC 3339 UTC.
    pub at: String,
    /// Who did it.
    pub actor: String,
    /// What happened.
    pub action: String,
    /// Its details (never a PIN or token).
    pub details: serde_json::Value,
}

/// Everything pinward knows about one number.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Record {
    /// Meta's facts.
    pub meta: MetaFacts,
    /// The WABA it belongs to.
    pub waba: WabaRef,
    /// The client business it serves.
    pub client: ClientRef,
    /// The main owner.
    pub owner: Option<Person>,
    /// The permission manager.
    pub manager: Option<Person>,
    /// Usage, activation date, recovery email, backup channels.
    pub metadata: Metadata,
    /// The PIN state.
    pub pin_state: PinState,
    /// The PIN was changed out of band.
    pub escrow_stale: bool,
    /// Why custody needs a person.
    pub attention_reason: Option<String>,
    /// PIN versions, oldest first, without PINs.
    pub versions: Vec<VersionRecord>,
    /// When it was last reviewed.
    pub last_reviewed_at: Option<DateTime<Utc>>,
    /// When the next review is due (none before the first review).
    pub next_review_due: Option<DateTime<Utc>>,
    /// When the next review is due, the first one included.
    pub review_due: crate::reviews::Due,
    /// Open handovers of its seats.
    pub open_handovers: Vec<crate::handovers::Handover>,
    /// What is wrong with it.
    pub health: Vec<Problem>,
    /// Its ledger events, newest first (at most 200).
    pub events: Vec<EventRecord>,
}

impl Record {
    /// The number of its current PIN version, if it has one.
    #[must_use]
    pub fn current_version(&self) -> Option<i64> {
        self.versions
            .iter()
            .find(|v| v.status == "current")
            .map(|v| v.version)
    }
}

impl NumberRow {
    fn pin_state(&self) -> Result<PinState, Error> {
        PinState::parse(&self.pin_state).ok_or_else(|| Error::Invalid {
            field: "pin_state",
            problem: "the database holds an unknown state".to_owned(),
        })
    }

    fn channels(&self) -> Result<Vec<BackupChannel>, Error> {
        metadata::parse_stored_channels(&self.backup_channels)
    }

    pub(crate) fn facts(&self) -> Result<Facts, Error> {
        Ok(Facts {
            pin_state: self.pin_state()?,
            escrow_stale: self.escrow_stale,
            attention_reason: self.attention_reason.clone(),
            vanished: self.vanished_at.is_some(),
            recovery_email: self.recovery_email.clone(),
            backup_channels: self.channels()?.len(),
            owner: self.owner_id.as_ref().map(|id| SeatHolder {
                member_id: id.clone(),
                active: self.owner_active,
            }),
            manager: self.manager_id.as_ref().map(|id| SeatHolder {
                member_id: id.clone(),
                active: self.manager_active,
            }),
            pin_set_at: self.pin_set_at,
            pin_revealed: self.pin_revealed,
            next_review_due: self.next_review_due,
            first_seen_at: self.first_seen_at,
        })
    }

    fn owner(&self) -> Option<Person> {
        person(&self.owner_id, &self.owner_name, self.owner_active)
    }

    fn manager(&self) -> Option<Person> {
        person(&self.manager_id, &self.manager_name, self.manager_active)
    }

    fn review_due(&self, policy: &Policy) -> crate::reviews::Due {
        crate::reviews::Due::of(self.next_review_due, self.first_seen_at, policy)
    }

    fn summary(&self, policy: &Policy, now: DateTime<Utc>) -> Result<Summary, Error> {
        let health = health::check(&self.facts()?, policy, now);
        Ok(Summary {
            phone_number_id: self.meta_id.clone(),
            display_phone_number: self.display_phone_number.clone(),
            verified_name: self.verified_name.clone(),
            usage: self.usage.clone(),
            client_id: self.client_id.clone(),
            client_name: self.client_name.clone(),
            pin_state: self.pin_state()?,
            owner: self.owner(),
            manager: self.manager(),
            next_review_due: self.next_review_due,
            review_due: self.review_due(policy),
            health,
        })
    }
}

fn person(id: &Option<String>, name: &Option<String>, active: bool) -> Option<Person> {
    id.as_ref().map(|member_id| Person {
        member_id: member_id.clone(),
        name: name.clone().unwrap_or_default(),
        active,
    })
}

/// The numbers the caller may see, filtered, one page at a time, ordered by display number.
///
/// # Errors
/// [`Error::Forbidden`] without `numbers:read`; [`Error::Invalid`] naming `page`,
/// `per_page` or `search`; database errors.
pub async fn list(
    store: &Store,
    caller: &Caller,
    filter: &Filter,
    page: PageRequest,
    now: DateTime<Utc>,
) -> Result<Page<Summary>, Error> {
    caller.require(Permission::ReadNumbers)?;
    let (limit, offset) = page.validate()?;
    let mut tx = store.read_for(&caller.org_id).await?;
    let mut clause = Where::visible_to(caller, tx.backend());
    narrow(&mut clause, filter)?;
    // Health is a function of the clock and the policy, so it is not stored: the filter
    // runs the SQL twin of `health::check` (health::sql) against this moment's cutoffs.
    // Without a health filter the policy is only needed for the rows' health, and comes
    // with them.
    let mut loaded = None;
    if filter.problem.is_some() || filter.unhealthy {
        let policy = policies::load(&mut tx, &caller.org_id).await?;
        let cut = Cutoffs::new(&policy, now);
        if let Some(problem) = filter.problem {
            let c = health_sql::condition(problem, tx.backend(), &caller.org_id, &cut);
            clause.and(&c.sql, c.args);
        }
        if filter.unhealthy {
            let c = health_sql::any(tx.backend(), &caller.org_id, &cut);
            clause.and(&c.sql, c.args);
        }
        loaded = Some(policy);
    }
    let order = " ORDER BY n.display_phone_number, n.id";
    let total_sql = total_sql(&clause);
    // The page's ids come first, from the display-order index alone; only those rows are
    // then joined to their people and PIN, so a deep page costs no joins for the rows it
    // skips. MATERIALIZED keeps PostgreSQL's generic plan from joining every number
    // before it looks at the page, and the limit and offset are written into the SQL
    // (validated integers) so the plan knows the page is small: with them bound,
    // PostgreSQL's generic plan guesses 10 % of the table and hashes every number and PIN
    // version to join 50 rows. The total (an uncorrelated subquery, run once) and the
    // policy ride along, which spares the page two round trips to the database; only a
    // page with no rows counts on its own.
    let sql = format!(
        "WITH page AS MATERIALIZED (SELECT n.id AS page_id {COUNT_FROM}{where_}{order} LIMIT {limit} OFFSET {offset}) \
         {SELECT}, ({total_sql}) AS total, {policy_columns} \
         FROM page JOIN phone_numbers n ON n.org_id = $1 AND n.id = page.page_id {JOINS}\
         LEFT JOIN org_policies p ON p.org_id = $1{order}",
        where_ = clause.sql,
        policy_columns = policies::COLUMNS,
    );
    let rows = on_tx!(tx, conn => bind_args!(sqlx::query_as::<_, CountedRow>(sqlx::AssertSqlSafe(sql)), &clause.args).fetch_all(conn).await)?;
    let total = match rows.first() {
        Some(first) => first.total,
        None => {
            on_tx!(tx, conn => bind_args!(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(total_sql)), &clause.args).fetch_one(conn).await)?
        }
    };
    let policy = match (loaded, rows.first()) {
        (Some(policy), _) => policy,
        (None, Some(first)) => policies::from_row(first.policy())?,
        (None, None) => Policy::default(),
    };
    let items = rows
        .iter()
        .map(|counted| counted.row.summary(&policy, now))
        .collect::<Result<Vec<_>, Error>>()?;
    let total = u64::try_from(total).unwrap_or(0);
    tx.end_read();
    Ok(Page {
        items,
        total,
        page: page.page,
        per_page: page.per_page,
    })
}

/// The statement counting what `clause` matches. A clause that tests only the org and
/// WABAs (the caller's clients, a client filter) is run against the per-WABA counts that
/// migration 0011's triggers keep, summing a row per WABA instead of counting every number.
fn total_sql(clause: &Where) -> String {
    if clause.only_wabas {
        format!(
            "SELECT COALESCE(SUM(n.numbers), 0) FROM number_counts n {}",
            clause.sql
        )
    } else {
        format!("SELECT COUNT(*) {COUNT_FROM}{}", clause.sql)
    }
}

/// Longest search text.
const MAX_SEARCH: usize = 100;

fn narrow(clause: &mut Where, filter: &Filter) -> Result<(), Error> {
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if search.chars().count() > MAX_SEARCH {
            return Err(Error::Invalid {
                field: "search",
                problem: format!("at most {MAX_SEARCH} characters"),
            });
        }
        let pattern = contains_pattern(&search.to_lowercase());
        let digits: String = search.chars().filter(char::is_ascii_digit).collect();
        let only_number = search
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '+' | '(' | ')' | '.' | '/'));
        if only_number && !digits.is_empty() {
            clause.and(
                &format!(
                    "(lower(n.display_phone_number) LIKE ? ESCAPE '\\' OR lower(n.verified_name) LIKE ? ESCAPE '\\' \
                     OR lower(n.usage) LIKE ? ESCAPE '\\' OR {DISPLAY_DIGITS} LIKE ? ESCAPE '\\')"
                ),
                vec![
                    Arg::Text(pattern.clone()),
                    Arg::Text(pattern.clone()),
                    Arg::Text(pattern),
                    Arg::Text(contains_pattern(&digits)),
                ],
            );
        } else {
            clause.and(
                "(lower(n.display_phone_number) LIKE ? ESCAPE '\\' OR lower(n.verified_name) LIKE ? ESCAPE '\\' \
                 OR lower(n.usage) LIKE ? ESCAPE '\\')",
                vec![
                    Arg::Text(pattern.clone()),
                    Arg::Text(pattern.clone()),
                    Arg::Text(pattern),
                ],
            );
        }
    }
    if let Some(client) = &filter.client_id {
        clause.and_waba(
            "n.waba_id IN (SELECT cw.id FROM wabas cw WHERE cw.org_id = $1 AND cw.client_id = ?)",
            vec![Arg::Text(client.clone())],
        );
    }
    if let Some(state) = filter.pin_state {
        clause.and(
            "n.pin_state = ?",
            vec![Arg::Text(state.as_str().to_owned())],
        );
    }
    Ok(())
}

/// A listed number with the count of every number the list's filters match and the
/// org's policy (`None`s when the org has none).
#[derive(sqlx::FromRow)]
struct CountedRow {
    #[sqlx(flatten)]
    row: NumberRow,
    total: i64,
    review_cadence_days: Option<i64>,
    max_pin_age_days: Option<i64>,
    rotate_after_reveal: Option<bool>,
    rotate_on_handover: Option<bool>,
}

impl CountedRow {
    fn policy(&self) -> Option<(i64, i64, bool, bool)> {
        Some((
            self.review_cadence_days?,
            self.max_pin_age_days?,
            self.rotate_after_reveal?,
            self.rotate_on_handover?,
        ))
    }
}

async fn fetch_rows(tx: &mut Tx, sql: String, args: &[Arg]) -> Result<Vec<NumberRow>, Error> {
    let rows = on_tx!(tx, conn => bind_args!(sqlx::query_as::<_, NumberRow>(sqlx::AssertSqlSafe(sql)), args).fetch_all(conn).await)?;
    Ok(rows)
}

/// The number `phone` if the caller may see it, else [`Error::NotFound`]. With `lock`, the
/// row is locked until `tx` ends (writers call it first).
pub(crate) async fn visible(
    tx: &mut Tx,
    caller: &Caller,
    phone: &PhoneNumberId,
    lock: bool,
) -> Result<NumberRow, Error> {
    if lock {
        let sql = dialect::select_number_for_update(tx.backend());
        on_tx!(tx, conn => sqlx::query(sql).bind(&caller.org_id).bind(phone.as_str()).fetch_optional(conn).await.map(drop))?;
    }
    let mut clause = Where::visible_to(caller, tx.backend());
    clause.and(
        "n.meta_phone_number_id = ?",
        vec![Arg::Text(phone.as_str().to_owned())],
    );
    let sql = format!("{SELECT}FROM phone_numbers n {JOINS}{}", clause.sql);
    fetch_rows(tx, sql, &clause.args)
        .await?
        .into_iter()
        .next()
        .ok_or(Error::NotFound {
            what: "phone number",
        })
}

/// The health of a number now, under the org's policy.
pub(crate) fn health_of(
    row: &NumberRow,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Vec<Problem>, Error> {
    Ok(health::check(&row.facts()?, policy, now))
}

type MetaRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
    String,
    DateTime<Utc>,
    Option<NaiveDate>,
    String,
);

/// Everything about one number the caller may see; never a PIN.
///
/// # Errors
/// [`Error::Forbidden`] without `numbers:read`; [`Error::NotFound`] for a number of another
/// org or (for a business admin) of another client; database errors.
pub async fn record(
    store: &Store,
    caller: &Caller,
    phone: &PhoneNumberId,
    now: DateTime<Utc>,
) -> Result<Record, Error> {
    caller.require(Permission::ReadNumbers)?;
    let mut tx = store.read_for(&caller.org_id).await?;
    let row = visible(&mut tx, caller, phone, false).await?;
    let policy = policies::load(&mut tx, &caller.org_id).await?;
    let health = health_of(&row, &policy, now)?;
    let meta_sql = "SELECT n.quality_rating, n.name_status, n.platform_type, n.code_verification_status, \
                    n.last_onboarded_at, n.connector, n.last_synced_at, n.activation_date, w.meta_waba_id \
                    FROM phone_numbers n JOIN wabas w ON w.org_id = n.org_id AND w.id = n.waba_id \
                    WHERE n.org_id = $1 AND n.id = $2";
    let (
        quality,
        name_status,
        platform,
        code_status,
        onboarded,
        connector,
        synced,
        activation,
        meta_waba,
    ): MetaRow = on_tx!(tx, conn => sqlx::query_as(meta_sql).bind(&caller.org_id).bind(&row.id).fetch_one(conn).await)?;
    let versions_sql = "SELECT version, status, created_at, confirmed_at, ended_at, failure_reason, revealed_at \
                        FROM pin_versions WHERE org_id = $1 AND phone_number_id = $2 ORDER BY version";
    let versions: Vec<VersionRecord> = on_tx!(tx, conn => sqlx::query_as(versions_sql).bind(&caller.org_id).bind(&row.id).fetch_all(conn).await)?;
    let events_sql = "SELECT seq, at, actor, action, details FROM ledger_events \
                      WHERE org_id = $1 AND subject = $2 ORDER BY seq DESC LIMIT $3";
    let events: Vec<(i64, String, String, String, String)> = on_tx!(tx, conn => sqlx::query_as(events_sql)
        .bind(&caller.org_id)
        .bind(format!("phone:{}", row.meta_id))
        .bind(RECORD_EVENTS)
        .fetch_all(conn)
        .await)?;
    let open_handovers = crate::handovers::open_for(&mut tx, &caller.org_id, &row.id).await?;
    tx.rollback().await?;
    let recovery_email_kind = row.recovery_email.as_deref().map(health::mailbox_kind);
    Ok(Record {
        meta: MetaFacts {
            phone_number_id: row.meta_id.clone(),
            display_phone_number: row.display_phone_number.clone(),
            verified_name: row.verified_name.clone(),
            quality_rating: quality,
            name_status,
            platform_type: platform,
            code_verification_status: code_status,
            last_onboarded_at: onboarded,
            connector,
            first_seen_at: row.first_seen_at,
            last_synced_at: synced,
            vanished_at: row.vanished_at,
        },
        waba: WabaRef {
            id: row.waba_id.clone(),
            meta_waba_id: meta_waba,
            name: row.waba_name.clone(),
        },
        client: ClientRef {
            id: row.client_id.clone(),
            name: row.client_name.clone(),
        },
        owner: row.owner(),
        manager: row.manager(),
        metadata: Metadata {
            usage: row.usage.clone(),
            activation_date: activation,
            recovery_email: row.recovery_email.clone(),
            recovery_email_kind,
            backup_channels: row.channels()?,
        },
        pin_state: row.pin_state()?,
        escrow_stale: row.escrow_stale,
        attention_reason: row.attention_reason.clone(),
        versions,
        last_reviewed_at: row.last_reviewed_at,
        next_review_due: row.next_review_due,
        review_due: row.review_due(&policy),
        open_handovers,
        health,
        events: events
            .into_iter()
            .map(|(seq, at, actor, action, details)| EventRecord {
                seq,
                at,
                actor,
                action,
                details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
            })
            .collect(),
    })
}
