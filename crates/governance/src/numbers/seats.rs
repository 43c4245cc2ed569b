//! The seats a member still holds but can no longer act on, so that whoever changes or
//! deactivates a member hears what that leaves behind.

use super::query::{Arg, COUNT_FROM, Where};
use crate::access::{Caller, Permission};
use crate::health::sql::departed;
use crate::store::Store;
use crate::{Error, bind_args, on_tx};

/// How many seats of the numbers the caller sees `member_id` holds while unable to act on
/// them (deactivated, an auditor, or a business admin without the number's client): the
/// seats `health::check` flags as `owner_departed` / `manager_departed` for this member.
///
/// # Errors
/// [`Error::Forbidden`] without `numbers:read`; database errors.
pub async fn out_of_reach(store: &Store, caller: &Caller, member_id: &str) -> Result<u64, Error> {
    caller.require(Permission::ReadNumbers)?;
    let mut tx = store.read_for(&caller.org_id).await?;
    let mut clause = Where::visible_to(caller, tx.backend());
    let (owner, manager) = (
        departed("n.main_owner_id", &caller.org_id),
        departed("n.permission_manager_id", &caller.org_id),
    );
    let member = || Arg::Text(member_id.to_owned());
    let mut args = vec![member()];
    args.extend(owner.args);
    args.push(member());
    args.extend(manager.args);
    clause.and(
        &format!(
            "((n.main_owner_id = ? AND {}) OR (n.permission_manager_id = ? AND {}))",
            owner.sql, manager.sql
        ),
        args,
    );
    let sql = format!("SELECT COUNT(*) {COUNT_FROM}{}", clause.sql);
    let count: i64 = on_tx!(tx, conn => bind_args!(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)), &clause.args).fetch_one(conn).await)?;
    tx.rollback().await?;
    Ok(u64::try_from(count).unwrap_or(0))
}
