//! Orgs: the tenants of pinward, one per Solution Partner.
//!
//! Creating and listing orgs is the service operator's business (the `pinward admin` CLI),
//! not an org member's: there is no caller of an org that does not exist yet. The `orgs`
//! table holds no tenant data and has no row-level security, which is what lets login
//! find a user's orgs (see [`crate::users::memberships`]).

use audit::Actor;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::custody::protocol_event as event;
use crate::store::Store;
use crate::{Error, ledger, on_pool, on_tx};

/// Longest slug, so it fits a DNS label and a URL segment.
const SLUG_MAX: usize = 63;
/// Longest org name, in characters.
const NAME_MAX: usize = 200;

/// An org (tenant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Org {
    /// Generated id (UUIDv7).
    pub id: String,
    /// Short unique name used in URLs and on the command line.
    pub slug: String,
    /// The name people read.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

type OrgRow = (String, String, String, DateTime<Utc>);

fn from_row((id, slug, name, created_at): OrgRow) -> Org {
    Org {
        id,
        slug,
        name,
        created_at,
    }
}

/// Checks a slug: 1–63 of `a-z`, `0-9` and `-`, starting with a letter or digit and not
/// ending with `-`, and not shaped like an org id.
///
/// # Errors
/// [`Error::Invalid`] naming `slug`.
pub fn parse_slug(text: &str) -> Result<String, Error> {
    let invalid = |problem: &str| Error::Invalid {
        field: "slug",
        problem: problem.to_owned(),
    };
    if text.is_empty() || text.len() > SLUG_MAX {
        return Err(invalid("must be 1 to 63 characters"));
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(invalid("may hold only a-z, 0-9 and -"));
    }
    if text.starts_with('-') || text.ends_with('-') {
        return Err(invalid("must start and end with a letter or digit"));
    }
    // `--org` takes an id or a slug: a slug shaped like an id could name another org.
    if Uuid::try_parse(text).is_ok() {
        return Err(invalid(
            "must not have the shape of an org id (a UUID), which `--org` also takes",
        ));
    }
    Ok(text.to_owned())
}

/// Checks a display name (of an org, a user, a token): trimmed, 1–`max` characters, no
/// control characters. `field` names it in the error.
pub(crate) fn parse_name(field: &'static str, text: &str, max: usize) -> Result<String, Error> {
    let name = text.trim();
    if name.is_empty() || name.chars().count() > max {
        return Err(Error::Invalid {
            field,
            problem: format!("must be 1 to {max} characters"),
        });
    }
    if name.chars().any(char::is_control) {
        return Err(Error::Invalid {
            field,
            problem: "must not contain control characters".to_owned(),
        });
    }
    Ok(name.to_owned())
}

/// Creates an org; ledgered as `org.created` (the first event of its chain).
///
/// # Errors
/// [`Error::Invalid`] naming `slug` or `name`; [`Error::Conflict`] `orgs_slug_uq` when the
/// slug is taken. Nothing is written then.
pub async fn create(store: &Store, actor: &Actor, slug: &str, name: &str) -> Result<Org, Error> {
    let slug = parse_slug(slug)?;
    let name = parse_name("name", name, NAME_MAX)?;
    let org = Org {
        id: Uuid::now_v7().to_string(),
        slug,
        name,
        created_at: crate::clock::now(),
    };
    let mut tx = store.begin_for(&org.id).await?;
    let sql = "INSERT INTO orgs (id, slug, name, created_at) VALUES ($1, $2, $3, $4)";
    on_tx!(tx, conn => sqlx::query(sql)
        .bind(&org.id)
        .bind(&org.slug)
        .bind(&org.name)
        .bind(org.created_at)
        .execute(conn)
        .await.map(drop))?;
    let draft = event(
        "org.created",
        format!("org:{}", org.id),
        actor,
        json!({ "slug": org.slug, "name": org.name }),
    )?;
    ledger::append(&mut tx, &org.id, org.created_at, draft).await?;
    tx.commit().await?;
    Ok(org)
}

/// Every org, by slug.
pub async fn list(store: &Store) -> Result<Vec<Org>, Error> {
    let sql = "SELECT id, slug, name, created_at FROM orgs ORDER BY slug";
    let rows: Vec<OrgRow> = on_pool!(store, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// The org whose id or slug is `key`.
///
/// # Errors
/// [`Error::NotFound`] `org`.
pub async fn find(store: &Store, key: &str) -> Result<Org, Error> {
    let sql = "SELECT id, slug, name, created_at FROM orgs WHERE id = $1 OR slug = $1";
    let row: Option<OrgRow> =
        on_pool!(store, pool => sqlx::query_as(sql).bind(key.trim()).fetch_optional(pool).await)?;
    row.map(from_row).ok_or(Error::NotFound { what: "org" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slug_is_short_lowercase_words_joined_by_dashes() {
        for good in ["acme", "acme-partners", "a", "b2b-42"] {
            assert_eq!(parse_slug(good).unwrap(), good);
        }
        for (bad, says) in [
            ("", "must be 1 to 63 characters"),
            (&"a".repeat(64), "must be 1 to 63 characters"),
            ("Acme", "may hold only a-z, 0-9 and -"),
            ("acme partners", "may hold only a-z, 0-9 and -"),
            ("-acme", "must start and end with a letter or digit"),
            ("acme-", "must start and end with a letter or digit"),
            (
                "0190f3a2-7b1c-7d4e-8f00-0123456789ab",
                "must not have the shape of an org id",
            ),
        ] {
            let Err(Error::Invalid { field, problem }) = parse_slug(bad) else {
                panic!("{bad:?} was taken");
            };
            assert_eq!(field, "slug");
            assert!(problem.starts_with(says), "{bad:?}: {problem}");
        }
    }
}
