//! What the ids a ledger event holds stand for, as people know them. The chain keeps ids
//! (names change, ids do not); a page reading it shows the names of today beside them.

use std::collections::HashMap;

use crate::access::{Caller, Permission, Role};
use crate::{Error, Store, members, on_read};

/// How a business admin is told of a person it may not see (another client's, an auditor).
const UNSEEN: &str = "another member of the org";

/// How to name an org's ledger ids to a person reading them.
///
/// - Actors: `user:<id>` as "Name <email>" for every member of the org, past or present, and
///   `token:<id>` as `API token "name"` for every token it issued.
/// - Bare ids in events' details: a member's or user's id as "Name <email>" (a seat's holders,
///   a handover's two sides, a member's user), a client's id as its name, a WABA's as its
///   name.
/// - Subjects: `org:`, `client:`, `waba:`, `member:`, `token:`, `invitation:` (and its id in
///   a joining member's details), `recipient:` (a recovery key still listed), and the
///   `phone:` subjects asked for, as the dashboard shows them.
///
/// Ids not found (`system`, something of a client a business admin does not see) keep their
/// id; a person a business admin may not see reads as "another member of the org".
#[derive(Debug, Clone, Default)]
pub struct Names {
    actors: HashMap<String, String>,
    ids: HashMap<String, String>,
    subjects: HashMap<String, String>,
}

impl Names {
    /// The name to show for `actor`.
    pub fn name<'a>(&'a self, actor: &'a str) -> &'a str {
        self.actors.get(actor).map_or(actor, String::as_str)
    }

    /// Whom or what a bare id in an event's details stands for.
    pub fn of(&self, id: &str) -> Option<&str> {
        self.ids.get(id).map(String::as_str)
    }

    /// How the dashboard shows `subject`.
    pub fn subject(&self, subject: &str) -> Option<&str> {
        self.subjects.get(subject).map(String::as_str)
    }
}

/// The names of the caller's org's ids (see [`Names`]), with the numbers among `subjects`.
///
/// # Errors
/// [`Error::Forbidden`] without `numbers:read` (every role that sees events has it); database
/// errors.
pub async fn names(store: &Store, caller: &Caller, subjects: &[&str]) -> Result<Names, Error> {
    caller.require(Permission::ReadNumbers)?;
    let org = caller.org_id.as_str();
    let mut numbers: Vec<&str> = subjects
        .iter()
        .filter_map(|s| s.strip_prefix("phone:"))
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    let found = on_read!(store, org, conn => {
        let people = "SELECT m.id, u.id, u.display_name, u.email, m.role FROM members m \
                      JOIN users u ON u.id = m.user_id WHERE m.org_id = $1";
        let people: Vec<(String, String, String, String, String)> =
            sqlx::query_as(people).bind(org).fetch_all(&mut *conn).await?;
        // Only a business admin's view depends on whose clients a member has.
        let scopes: Vec<(String, String)> = if caller.role == Role::BusinessAdmin {
            let sql = "SELECT member_id, client_id FROM member_clients WHERE org_id = $1";
            sqlx::query_as(sql).bind(org).fetch_all(&mut *conn).await?
        } else {
            Vec::new()
        };
        let tokens = "SELECT id, name FROM api_tokens WHERE org_id = $1";
        let tokens: Vec<(String, String)> = sqlx::query_as(tokens).bind(org).fetch_all(&mut *conn).await?;
        let invitations = "SELECT id, email, role, clients FROM invitations WHERE org_id = $1";
        let invitations: Vec<(String, String, String, String)> =
            sqlx::query_as(invitations).bind(org).fetch_all(&mut *conn).await?;
        let keys = "SELECT id, label FROM recovery_recipients WHERE org_id = $1";
        let keys: Vec<(String, String)> = sqlx::query_as(keys).bind(org).fetch_all(&mut *conn).await?;
        let clients = "SELECT id, name FROM clients WHERE org_id = $1";
        let clients: Vec<(String, String)> = sqlx::query_as(clients).bind(org).fetch_all(&mut *conn).await?;
        let wabas = "SELECT id, meta_waba_id, name, client_id FROM wabas WHERE org_id = $1";
        let wabas: Vec<(String, String, String, String)> =
            sqlx::query_as(wabas).bind(org).fetch_all(&mut *conn).await?;
        let org_name: Option<String> = sqlx::query_scalar("SELECT name FROM orgs WHERE id = $1")
            .bind(org)
            .fetch_optional(&mut *conn)
            .await?;
        let mut phones: Vec<(String, String, Option<String>, String)> = Vec::new();
        if !numbers.is_empty() {
            // One statement for the page's numbers: $2, $3, … bind each Meta id.
            let list: Vec<String> = (0..numbers.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT n.meta_phone_number_id, n.display_phone_number, n.verified_name, w.client_id \
                 FROM phone_numbers n JOIN wabas w ON w.id = n.waba_id \
                 WHERE n.org_id = $1 AND n.meta_phone_number_id IN ({})",
                list.join(", ")
            );
            // The statement holds only numbered placeholders; every value is bound.
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(org);
            for id in &numbers {
                query = query.bind(*id);
            }
            phones = query.fetch_all(&mut *conn).await?;
        }
        Ok::<_, Error>(Found { people, scopes, tokens, invitations, keys, clients, wabas, org_name, phones })
    })?;
    found.named(caller)
}

/// The rows [`names`] reads.
struct Found {
    /// (member id, user id, name, email, role)
    people: Vec<(String, String, String, String, String)>,
    /// (member id, client id), read for a business admin only.
    scopes: Vec<(String, String)>,
    /// (token id, name)
    tokens: Vec<(String, String)>,
    /// (invitation id, email, role, clients as a JSON list)
    invitations: Vec<(String, String, String, String)>,
    /// (recovery recipient id, label)
    keys: Vec<(String, String)>,
    /// (client id, name)
    clients: Vec<(String, String)>,
    /// (id, Meta WABA id, name, client id)
    wabas: Vec<(String, String, String, String)>,
    org_name: Option<String>,
    /// (Meta phone number id, display number, verified name, client id)
    phones: Vec<(String, String, Option<String>, String)>,
}

impl Found {
    /// The names, a person named only when `caller` may see it (`members::visible_to`).
    fn named(self, caller: &Caller) -> Result<Names, Error> {
        let mut names = Names::default();
        let mut clients_of: HashMap<String, Vec<String>> = HashMap::new();
        for (member, client) in self.scopes {
            clients_of.entry(member).or_default().push(client);
        }
        for (member, user, name, email, role) in self.people {
            let clients = clients_of.get(&member).map_or(&[][..], Vec::as_slice);
            let person = if members::visible_to(caller, Role::parse(&role)?, clients) {
                format!("{name} <{email}>")
            } else {
                UNSEEN.to_owned()
            };
            names.actors.insert(format!("user:{user}"), person.clone());
            names
                .subjects
                .insert(format!("member:{member}"), person.clone());
            names.ids.insert(user, person.clone());
            names.ids.insert(member, person);
        }
        for (id, name) in self.tokens {
            let token = format!("API token \"{name}\"");
            names.subjects.insert(format!("token:{id}"), token.clone());
            names.actors.insert(format!("token:{id}"), token);
        }
        for (id, email, role, clients) in self.invitations {
            let clients: Vec<String> = serde_json::from_str(&clients).unwrap_or_default();
            let invited = if members::visible_to(caller, Role::parse(&role)?, &clients) {
                format!("the invitation of {email}")
            } else {
                "an invitation".to_owned()
            };
            names
                .subjects
                .insert(format!("invitation:{id}"), invited.clone());
            names.ids.insert(id, invited);
        }
        for (id, label) in self.keys {
            names.subjects.insert(
                format!("recipient:{id}"),
                format!("recovery key \"{label}\""),
            );
        }
        // A business admin is not told the names of the clients it does not see.
        for (id, name) in self.clients {
            if caller.sees_client(&id) {
                names.subjects.insert(format!("client:{id}"), name.clone());
                names.ids.insert(id, name);
            }
        }
        for (id, meta_id, name, client) in self.wabas {
            if caller.sees_client(&client) {
                names
                    .subjects
                    .insert(format!("waba:{meta_id}"), name.clone());
                names.ids.insert(id, name);
            }
        }
        if let Some(name) = self.org_name {
            names
                .subjects
                .insert(format!("org:{}", caller.org_id), name);
        }
        for (meta_id, display, verified, client) in self.phones {
            if caller.sees_client(&client) {
                let shown = match verified.filter(|v| !v.is_empty()) {
                    Some(verified) => format!("{display} · {verified}"),
                    None => display,
                };
                names.subjects.insert(format!("phone:{meta_id}"), shown);
            }
        }
        Ok(names)
    }
}
