//! Users: people who sign in. A user belongs to orgs through memberships
//! ([`crate::members`]); the account itself (email, name, password) is not any org's.
//!
//! Sign-in answers every failure — unknown email, wrong password, deactivated account — with
//! the one [`Error::Unauthenticated`], after the same Argon2 work, so neither the answer nor
//! its timing tells whether an email has an account.

mod password;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

pub use password::{MAX_LEN as PASSWORD_MAX_LEN, MIN_LEN as PASSWORD_MIN_LEN, Password};

use crate::access::Role;
use crate::orgs::{self, parse_name};
use crate::store::{Store, Tx};
use crate::{Error, on_pool, on_tx};

/// Longest display name of a person, in characters.
const NAME_MAX: usize = 200;

/// A person's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Generated id (UUIDv7).
    pub id: String,
    /// Normalized (trimmed, lower-case) email; unique.
    pub email: String,
    /// The name shown to others.
    pub display_name: String,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When the account was closed (it can no longer sign in).
    pub deactivated_at: Option<DateTime<Utc>>,
}

/// What a new account is made of.
#[derive(Debug)]
pub struct NewUser {
    /// As typed; normalized by [`parse_email`].
    pub email: String,
    /// As typed; trimmed.
    pub display_name: String,
    /// `None` for an account that signs in only by single sign-on.
    pub password: Option<Password>,
}

/// One org a user belongs to, for the org switcher after sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    /// The org's id.
    pub org_id: String,
    /// The org's slug.
    pub org_slug: String,
    /// The org's name.
    pub org_name: String,
    /// The membership's id.
    pub member_id: String,
    /// The role in that org.
    #[serde(serialize_with = "role_name")]
    pub role: Role,
}

fn role_name<S: serde::Serializer>(role: &Role, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(role.as_str())
}

/// Normalizes and checks an email address: trimmed, lower-cased, 3–254 bytes, one `@`
/// between a non-empty local part (at most 64 bytes) and a domain with a dot, no spaces or
/// control characters.
///
/// # Errors
/// [`Error::Invalid`] naming `email`.
pub fn parse_email(text: &str) -> Result<String, Error> {
    let invalid = |problem: &str| Error::Invalid {
        field: "email",
        problem: problem.to_owned(),
    };
    let email = text.trim().to_lowercase();
    if email.len() < 3 || email.len() > 254 {
        return Err(invalid("must be 3 to 254 characters"));
    }
    if email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
    {
        return Err(invalid("must not contain spaces, control characters or <>"));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(invalid("must be an address like name@example.com"));
    };
    let domain_ok = domain.contains('.')
        && !domain.contains('@')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || local.len() > 64 || !domain_ok {
        return Err(invalid("must be an address like name@example.com"));
    }
    Ok(email)
}

type UserRow = (String, String, String, DateTime<Utc>, Option<DateTime<Utc>>);

fn from_row((id, email, display_name, created_at, deactivated_at): UserRow) -> User {
    User {
        id,
        email,
        display_name,
        created_at,
        deactivated_at,
    }
}

/// A new account checked and its password hashed, ready to insert: made before the
/// transaction that inserts it, so the slow hash holds no lock.
pub(crate) struct Prepared {
    email: String,
    display_name: String,
    password_hash: Option<String>,
}

/// Checks a new account and hashes its password (the slow part of making one).
///
/// # Errors
/// [`Error::Invalid`] naming `email`, `name` or `password`.
pub(crate) async fn prepare(new: &NewUser) -> Result<Prepared, Error> {
    let email = parse_email(&new.email)?;
    let display_name = parse_name("name", &new.display_name, NAME_MAX)?;
    let password_hash = match &new.password {
        Some(password) => {
            password.check_policy()?;
            Some(password::hash(password).await?)
        }
        None => None,
    };
    Ok(Prepared {
        email,
        display_name,
        password_hash,
    })
}

/// Inserts a prepared account inside `tx` (the caller ledgers it with the membership it is
/// created for).
///
/// # Errors
/// [`Error::Conflict`] `users_email_uq` when the email has an account.
pub(crate) async fn insert(tx: &mut Tx, new: Prepared) -> Result<User, Error> {
    let user = User {
        id: Uuid::now_v7().to_string(),
        email: new.email,
        display_name: new.display_name,
        created_at: crate::clock::now(),
        deactivated_at: None,
    };
    let sql = "INSERT INTO users (id, email, display_name, password_hash, created_at) \
               VALUES ($1, $2, $3, $4, $5)";
    on_tx!(tx, conn => sqlx::query(sql)
        .bind(&user.id)
        .bind(&user.email)
        .bind(&user.display_name)
        .bind(new.password_hash)
        .bind(user.created_at)
        .execute(conn)
        .await.map(drop))?;
    Ok(user)
}

/// The account of `email` (normalized first), if any.
///
/// # Errors
/// [`Error::Invalid`] naming `email` when it is not an address.
pub async fn find_by_email(store: &Store, email: &str) -> Result<Option<User>, Error> {
    let email = parse_email(email)?;
    let sql =
        "SELECT id, email, display_name, created_at, deactivated_at FROM users WHERE email = $1";
    let row: Option<UserRow> =
        on_pool!(store, pool => sqlx::query_as(sql).bind(&email).fetch_optional(pool).await)?;
    Ok(row.map(from_row))
}

/// The account `user_id`.
///
/// # Errors
/// [`Error::NotFound`] `user`.
pub async fn get(store: &Store, user_id: &str) -> Result<User, Error> {
    let sql = "SELECT id, email, display_name, created_at, deactivated_at FROM users WHERE id = $1";
    let row: Option<UserRow> =
        on_pool!(store, pool => sqlx::query_as(sql).bind(user_id).fetch_optional(pool).await)?;
    row.map(from_row).ok_or(Error::NotFound { what: "user" })
}

/// Signs a user in by email and password.
///
/// # Errors
/// [`Error::Unauthenticated`] for an unknown or malformed email, a wrong password, an
/// account without a password, or a deactivated account — all alike, after the same work.
pub async fn authenticate(store: &Store, email: &str, password: &Password) -> Result<User, Error> {
    let email = parse_email(email).ok();
    let row: Option<(UserRow, Option<String>)> = match &email {
        Some(email) => fetch_with_hash(store, Key::Email(email)).await?,
        None => None,
    };
    check(row, password).await
}

/// Checks `password` against the account `user_id` again, for step-up re-authentication
/// before a sensitive action (revealing a PIN).
///
/// # Errors
/// [`Error::Unauthenticated`] as for [`authenticate`].
pub async fn verify_password(
    store: &Store,
    user_id: &str,
    password: &Password,
) -> Result<(), Error> {
    let row = fetch_with_hash(store, Key::Id(user_id)).await?;
    check(row, password).await.map(drop)
}

/// How an account is looked up for a password check.
enum Key<'a> {
    Email(&'a str),
    Id(&'a str),
}

async fn fetch_with_hash(
    store: &Store,
    key: Key<'_>,
) -> Result<Option<(UserRow, Option<String>)>, Error> {
    let (sql, key) = match key {
        Key::Email(email) => (
            "SELECT id, email, display_name, created_at, deactivated_at, password_hash FROM users WHERE email = $1",
            email,
        ),
        Key::Id(id) => (
            "SELECT id, email, display_name, created_at, deactivated_at, password_hash FROM users WHERE id = $1",
            id,
        ),
    };
    type Row = (
        String,
        String,
        String,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<String>,
    );
    let row: Option<Row> =
        on_pool!(store, pool => sqlx::query_as(sql).bind(key).fetch_optional(pool).await)?;
    Ok(row.map(|(id, email, name, created, deactivated, hash)| {
        ((id, email, name, created, deactivated), hash)
    }))
}

async fn check(row: Option<(UserRow, Option<String>)>, password: &Password) -> Result<User, Error> {
    let (row, stored) = match row {
        Some((row, stored)) => (Some(row), stored),
        None => (None, None),
    };
    let matches = password::verify(password, stored).await?;
    match row.map(from_row) {
        Some(user) if matches && user.deactivated_at.is_none() => Ok(user),
        _ => Err(Error::Unauthenticated),
    }
}

/// The orgs `user_id` is an active member of, by org slug.
///
/// This is a deliberate cross-org read: `members` is under row-level security on
/// PostgreSQL, so it visits the orgs one after another in one read-only transaction,
/// setting each as the tenant before looking for the user's membership there.
pub async fn memberships(store: &Store, user_id: &str) -> Result<Vec<Membership>, Error> {
    let all = orgs::list(store).await?;
    let mut found = Vec::new();
    let Some(first) = all.first() else {
        return Ok(found);
    };
    let mut tx = store.read_for(&first.id).await?;
    let sql = "SELECT m.id, m.role FROM members m JOIN users u ON u.id = m.user_id \
               WHERE m.org_id = $1 AND m.user_id = $2 AND m.deactivated_at IS NULL \
               AND u.deactivated_at IS NULL";
    for org in all {
        tx.set_tenant(&org.id).await?;
        let row: Option<(String, String)> = on_tx!(tx, conn => sqlx::query_as(sql)
            .bind(&org.id)
            .bind(user_id)
            .fetch_optional(conn)
            .await)?;
        if let Some((member_id, role)) = row {
            found.push(Membership {
                org_id: org.id,
                org_slug: org.slug,
                org_name: org.name,
                member_id,
                role: Role::parse(&role)?,
            });
        }
    }
    tx.rollback().await?;
    Ok(found)
}

/// Replaces the password of an account (Argon2id). Not ledgered: an account is not any
/// org's (the demo resets its printed logins with it; an admin reset would ledger per org).
///
/// # Errors
/// [`Error::Invalid`] naming `password` when it breaks the policy (nothing changed);
/// [`Error::NotFound`] `user`.
pub async fn set_password(store: &Store, user_id: &str, password: &Password) -> Result<(), Error> {
    password.check_policy()?;
    let hash = password::hash(password).await?;
    let sql = "UPDATE users SET password_hash = $2 WHERE id = $1";
    let updated = on_pool!(store, pool => sqlx::query(sql)
        .bind(user_id)
        .bind(hash)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    if updated == 0 {
        return Err(Error::NotFound { what: "user" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sign_in_as_nobody_is_refused_after_a_full_check_against_the_dummy_hash() {
        let _alone = password::DUMMY_CHECKERS.lock().await;
        let checked = || password::DUMMY_CHECKS.load(std::sync::atomic::Ordering::Relaxed);
        let before = checked();
        let refused = check(None, &Password::generate()).await.unwrap_err();
        assert!(matches!(refused, Error::Unauthenticated), "{refused:?}");
        assert_eq!(
            checked(),
            before + 1,
            "the same Argon2 work as for an account"
        );
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            parse_email("  Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_refused_naming_the_field() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "ann@@example.com",
            "ann@example..com",
        ] {
            assert!(
                matches!(parse_email(bad), Err(Error::Invalid { field: "email", .. })),
                "{bad:?} was accepted"
            );
        }
    }
}
