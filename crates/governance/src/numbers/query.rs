//! SQL shared by the numbers use cases: the visible-numbers query with its optional filters,
//! built from fixed fragments with every value bound (never spliced into the text).

use chrono::{DateTime, Utc};

use crate::access::{Caller, Role};
use crate::store::{Backend, dialect};

/// A value bound to a built query.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    Time(DateTime<Utc>),
}

/// Binds every [`Arg`] to a query, in order.
#[macro_export]
#[doc(hidden)]
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                $crate::numbers::query::Arg::Text(text) => query.bind(text.clone()),
                $crate::numbers::query::Arg::Int(int) => query.bind(*int),
                $crate::numbers::query::Arg::Time(time) => query.bind(*time),
            };
        }
        query
    }};
}

/// The columns of one number as the list and the health check need them.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct NumberRow {
    pub id: String,
    pub meta_id: String,
    pub display_phone_number: String,
    pub verified_name: Option<String>,
    pub usage: Option<String>,
    pub client_id: String,
    pub client_name: String,
    pub waba_id: String,
    pub waba_name: String,
    pub pin_state: String,
    pub escrow_stale: bool,
    pub attention_reason: Option<String>,
    pub vanished_at: Option<DateTime<Utc>>,
    pub recovery_email: Option<String>,
    pub backup_channels: String,
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub owner_active: bool,
    pub manager_id: Option<String>,
    pub manager_name: Option<String>,
    pub manager_active: bool,
    pub pin_set_at: Option<DateTime<Utc>>,
    pub pin_revealed: bool,
    pub last_reviewed_at: Option<DateTime<Utc>>,
    pub next_review_due: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
}

pub(crate) const SELECT: &str = "SELECT n.id, n.meta_phone_number_id AS meta_id, n.display_phone_number, \
    n.verified_name, n.usage, w.client_id, c.name AS client_name, w.id AS waba_id, w.name AS waba_name, \
    n.pin_state, n.escrow_stale, n.attention_reason, n.vanished_at, n.recovery_email, n.backup_channels, \
    n.main_owner_id AS owner_id, ou.display_name AS owner_name, \
    (o.deactivated_at IS NULL AND ou.deactivated_at IS NULL AND COALESCE(o.role, '') <> 'auditor' \
     AND (COALESCE(o.role, '') <> 'business_admin' OR EXISTS (SELECT 1 FROM member_clients oc \
     WHERE oc.org_id = n.org_id AND oc.member_id = o.id AND oc.client_id = w.client_id))) AS owner_active, \
    n.permission_manager_id AS manager_id, mu.display_name AS manager_name, \
    (m.deactivated_at IS NULL AND mu.deactivated_at IS NULL AND COALESCE(m.role, '') <> 'auditor' \
     AND (COALESCE(m.role, '') <> 'business_admin' OR EXISTS (SELECT 1 FROM member_clients mc \
     WHERE mc.org_id = n.org_id AND mc.member_id = m.id AND mc.client_id = w.client_id))) AS manager_active, \
    COALESCE(v.confirmed_at, v.created_at) AS pin_set_at, (v.revealed_at IS NOT NULL) AS pin_revealed, \
    n.last_reviewed_at, n.next_review_due, n.first_seen_at ";

/// What a number row is joined to: its WABA, client, seat holders and current PIN version.
pub(crate) const JOINS: &str = "JOIN wabas w ON w.org_id = n.org_id AND w.id = n.waba_id \
    JOIN clients c ON c.org_id = w.org_id AND c.id = w.client_id \
    LEFT JOIN members o ON o.org_id = n.org_id AND o.id = n.main_owner_id \
    LEFT JOIN users ou ON ou.id = o.user_id \
    LEFT JOIN members m ON m.org_id = n.org_id AND m.id = n.permission_manager_id \
    LEFT JOIN users mu ON mu.id = m.user_id \
    LEFT JOIN pin_versions v ON v.phone_number_id = n.id AND v.status = 'current' ";

/// What a filter looks at: the number alone (clients are reached through subqueries on
/// `n.waba_id`), so counting and picking a page's ids walk one index of one table — the
/// display-order index serves `ORDER BY … LIMIT` without sorting the org's numbers.
pub(crate) const COUNT_FROM: &str = "FROM phone_numbers n ";

/// A WHERE clause under construction with its bound values.
#[derive(Debug)]
pub(crate) struct Where {
    pub sql: String,
    pub args: Vec<Arg>,
    /// Nothing but the org and `n.waba_id` is tested, so the per-WABA counts
    /// (`number_counts`, which has both columns) can answer how many numbers match.
    pub only_wabas: bool,
}

impl Where {
    /// The org, and for a business admin its clients: every query starts here. A caller who
    /// sees every client gets no client condition at all, so the database plans the plain
    /// per-org scan instead of one that tests a flag on every number.
    pub(crate) fn visible_to(caller: &Caller, backend: Backend) -> Where {
        let org = Arg::Text(caller.org_id.clone());
        if caller.role != Role::BusinessAdmin {
            return Where {
                sql: "WHERE n.org_id = $1".to_owned(),
                args: vec![org],
                only_wabas: true,
            };
        }
        let clients = serde_json::Value::from(caller.clients.clone()).to_string();
        Where {
            sql: format!(
                "WHERE n.org_id = $1 AND {}",
                dialect::client_scope(backend, 2)
            ),
            args: vec![org, Arg::Text(clients)],
            only_wabas: true,
        }
    }

    /// Adds `AND <fragment>` where `?` in the fragment stands for each new bind, in order.
    pub(crate) fn and(&mut self, fragment: &str, args: Vec<Arg>) {
        self.and_waba(fragment, args);
        self.only_wabas = false;
    }

    /// [`Where::and`] for a fragment that tests nothing but `n.waba_id`.
    pub(crate) fn and_waba(&mut self, fragment: &str, args: Vec<Arg>) {
        let out = bind_more(&mut self.args, fragment, args);
        self.sql.push_str(" AND ");
        self.sql.push_str(&out);
    }
}

/// `fragment` with each `?` numbered after the binds already in `args` (`$4`, `$5`, …),
/// and `new` (one value per `?`, in order) appended to `args`.
pub(crate) fn bind_more(args: &mut Vec<Arg>, fragment: &str, new: Vec<Arg>) -> String {
    let mut out = String::new();
    let mut next = args.len();
    for piece in fragment.split_inclusive('?') {
        if let Some(head) = piece.strip_suffix('?') {
            next += 1;
            out.push_str(head);
            out.push('$');
            out.push_str(&next.to_string());
        } else {
            out.push_str(piece);
        }
    }
    args.extend(new);
    out
}

/// `text` as a LIKE pattern matching it anywhere, its wildcards escaped with `\`.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The digits of a display number without its punctuation, as SQL.
pub(crate) const DISPLAY_DIGITS: &str = "replace(replace(replace(replace(replace(n.display_phone_number, ' ', ''), '-', ''), '+', ''), '(', ''), ')', '')";
