//! The one error type of `governance`.
//!
//! Policy: every fallible public function returns [`Error`]. Variants say what went wrong
//! in terms a caller can act on (a named constraint, a bad field); driver details stay in
//! the `source` chain for the log. Messages never contain a PIN, token, key or password.

use std::path::PathBuf;

/// What can go wrong in the domain and its storage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database URL is not one pinward can use.
    #[error("database URL: {0}")]
    DatabaseUrl(&'static str),
    /// The SQLite file or its folder could not be prepared.
    #[error("database file {path}: {source}")]
    DatabaseFile {
        /// The file pinward tried to create or open.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The database refused a change because a named constraint would break. For the
    /// constraints a person's input can break, the message says what clashed in their
    /// words ([`conflict_meaning`]); nothing was changed.
    #[error("{}", conflict_text(.constraint))]
    Conflict {
        /// The constraint's name, as written in `migrations/`.
        constraint: String,
    },
    /// Applying migrations failed.
    #[error("migrations could not be applied: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The service identity file is gone while the database holds items sealed to it.
    #[error(
        "the service identity {path} is missing but the database holds {sealed} sealed PIN versions; \
         restore the identity file from backup (pinward never replaces it, a new one would open nothing)"
    )]
    IdentityMissing {
        /// Where the identity should be.
        path: PathBuf,
        /// How many sealed items need it.
        sealed: i64,
    },
    /// A key, PIN or sealing operation failed.
    #[error(transparent)]
    Vault(#[from] vault::Error),
    /// A ledger event could not be built or read back.
    #[error(transparent)]
    Audit(#[from] audit::Error),
    /// The stored ledger does not hold together.
    #[error("the stored ledger is corrupt: {0}")]
    LedgerCorrupt(&'static str),
    /// A background task did not finish.
    #[error("{0} was interrupted")]
    Background(&'static str),
    /// A value given by the caller is not acceptable; nothing was changed.
    #[error("{field}: {problem}")]
    Invalid {
        /// The field, flag or parameter at fault.
        field: &'static str,
        /// What is wrong with it (never the value itself when it may be secret).
        problem: String,
    },
    /// The object does not exist, or exists in a scope the caller cannot see.
    #[error("{what} not found")]
    NotFound {
        /// What kind of object was looked for.
        what: &'static str,
    },
    /// The caller may see the object but lacks the permission for this action.
    #[error("this needs the {needed} permission")]
    Forbidden {
        /// The permission that was missing.
        needed: &'static str,
    },
    /// Sign-in failed: the email or password is wrong, the account is deactivated, or the
    /// API token is unknown or revoked. One answer for all, so a refusal tells nothing.
    #[error("the credentials are not valid")]
    Unauthenticated,
    /// The database could not be reached or failed a query.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The number's PIN is in a state that does not allow the request; nothing changed.
    #[error("the number's PIN is {state}: {refused}")]
    PinState {
        /// The number's PIN state.
        state: &'static str,
        /// What was refused and why.
        refused: &'static str,
    },
    /// Another worker holds the lease on this item until it expires; nothing changed.
    #[error("{what} is being worked on by another worker")]
    Busy {
        /// The item.
        what: &'static str,
    },
    /// What the caller read and meant to change was changed by someone else since; nothing
    /// was changed, so that their change is not overwritten unseen.
    #[error("{what} changed since they were read; nothing was changed")]
    Stale {
        /// What changed.
        what: &'static str,
    },
    /// This worker's attempt was taken over (its lease expired) or already finished: its
    /// result was not written.
    #[error("the attempt was taken over by another worker; its result was not written")]
    Superseded,
    /// Meta's API failed in a way the operation could not absorb.
    #[error("Meta API: {0}")]
    Graph(#[from] graph::Error),
    /// A file of the service (escrow export, identity files) could not be written or read.
    #[error("file {path}: {source}")]
    File {
        /// The file or folder.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Key rotation would pull the identity from under a running pinward (serve, demo or a
    /// custody command), which holds `lock` shared while it runs.
    #[error(
        "a running pinward uses the service identity (it holds {lock}); stop it, rotate, then start it again"
    )]
    IdentityInUse {
        /// The lock file beside the identity.
        lock: PathBuf,
    },
    /// Escrow in the database is sealed to another service identity than this process
    /// loaded (`keys rotate` ran on another host since it started): sealing to the retired
    /// identity would leave the database's key unable to open it, so nothing is sealed.
    #[error(
        "the service identity was rotated since this pinward started (escrow in the database is sealed to a newer identity); nothing was sealed: put the new identity file in place and restart pinward"
    )]
    IdentityRotated,
    /// A service key rotation is re-sealing escrow, or stopped before it finished: a new
    /// seal now would be to one identity only, so nothing is sealed until it ends.
    #[error(
        "a service key rotation is under way or stopped before it finished; nothing was sealed: wait for `pinward keys rotate` to end, or run it again if it stopped"
    )]
    KeyRotationUnfinished,
    /// Service key rotation found something it cannot repair by itself.
    #[error("key rotation: {0}")]
    KeyRotation(String),
    /// An invitation code that cannot be used (unknown, used, withdrawn or expired);
    /// nothing was changed.
    #[error("{0}")]
    Invitation(crate::invitations::Closed),
    /// A failpoint armed with `return` stopped the operation here (test builds only).
    #[error("failpoint {0} fired")]
    Failpoint(&'static str),
}

/// The field at fault and what clashed, for a constraint that input from a person (a
/// slug, an email, a recipient) can break; `None` for the constraints only a bug breaks.
#[must_use]
pub fn conflict_meaning(constraint: &str) -> Option<(&'static str, &'static str)> {
    Some(match constraint {
        "orgs_slug_uq" => ("slug", "another org has this slug"),
        "members_org_user_uq" => ("email", "this person is already a member of the org"),
        "users_email_uq" => ("email", "an account has this email"),
        "invitations_open_uq" => (
            "email",
            "an invitation to this email was made at the same moment; see the open invitations",
        ),
        "recovery_recipients_org_recipient_uq" => {
            ("recipient", "this key is already a recovery recipient")
        }
        _ => return None,
    })
}

fn conflict_text(constraint: &str) -> String {
    match conflict_meaning(constraint) {
        Some((field, meaning)) => format!("{field}: {meaning}"),
        None => format!("conflict with constraint {constraint}"),
    }
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        match crate::store::dialect::violated_constraint(&error) {
            Some(constraint) => Error::Conflict { constraint },
            None => Error::Database(error),
        }
    }
}
