//! The client businesses of an org, as people pick them (a business admin's scope).

use crate::access::{Caller, Permission};
use crate::{Error, Store, on_read};

/// A client business of the org.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Client {
    /// pinward's id of the client.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// The clients the caller sees (a business admin: its own), by name.
///
/// # Errors
/// [`Error::Forbidden`] without `numbers:read`; database errors.
pub async fn list(store: &Store, caller: &Caller) -> Result<Vec<Client>, Error> {
    caller.require(Permission::ReadNumbers)?;
    let sql = "SELECT id, name FROM clients WHERE org_id = $1 ORDER BY name, id";
    let rows: Vec<(String, String)> = on_read!(store, &caller.org_id, conn => sqlx::query_as(sql)
        .bind(&caller.org_id)
        .fetch_all(conn)
        .await)?;
    Ok(rows
        .into_iter()
        .filter(|(id, _)| caller.sees_client(id))
        .map(|(id, name)| Client { id, name })
        .collect())
}
