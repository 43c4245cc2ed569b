//! Who is asking, and what each org role may do. Every org-scoped use case takes a
//! [`Caller`]; authorization is decided here and nowhere else, so the web layer and the
//! CLI cannot disagree about it.
//!
//! A caller only ever reaches objects of its own org (and, for a business admin, of its
//! own clients): an object outside that scope is [`Error::NotFound`], never
//! [`Error::Forbidden`], so a refusal does not confirm that the object exists.

use audit::Actor;

use crate::Error;

/// An org role of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(rename_all = "snake_case")
)]
pub enum Role {
    /// Members, credentials, recovery recipients, policies; everything else too.
    Admin,
    /// Inventory sync, custody, rotations, assignments and handovers.
    Ops,
    /// Reads everything except PINs; exports the ledger.
    Auditor,
    /// Sees and manages only the numbers of its clients.
    BusinessAdmin,
}

impl Role {
    /// Every role, in the order the dashboard lists them.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Ops, Role::Auditor, Role::BusinessAdmin];

    /// The name stored in the database and shown to people.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Ops => "ops",
            Role::Auditor => "auditor",
            Role::BusinessAdmin => "business_admin",
        }
    }

    /// Parses a stored or typed role name.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `role` for anything but the four role names.
    pub fn parse(text: &str) -> Result<Role, Error> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| Error::Invalid {
                field: "role",
                problem: "must be one of admin, ops, auditor, business_admin".to_owned(),
            })
    }
}

/// What a use case needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// See numbers, their facts, health, owners and PIN state (never a PIN).
    ReadNumbers,
    /// Assign owner and manager, edit number metadata, hand over, complete reviews.
    ManageNumbers,
    /// Inventory sync, take custody, rotate, release, record an out-of-band change.
    Custody,
    /// Read and export the ledger.
    ReadLedger,
    /// Members, roles, API tokens, Graph credentials, recovery recipients, policies.
    ManageOrg,
}

impl Permission {
    /// The name used in [`Error::Forbidden`] and in the API's problem documents.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ReadNumbers => "numbers:read",
            Permission::ManageNumbers => "numbers:manage",
            Permission::Custody => "custody",
            Permission::ReadLedger => "ledger:read",
            Permission::ManageOrg => "org:manage",
        }
    }
}

/// How the caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A dashboard session of a user.
    Session,
    /// An org-scoped API token (its id).
    ApiToken(String),
    /// The `pinward` CLI run by an operator of the service (acts as the org's admin).
    Cli,
}

/// The member on whose behalf a use case runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The org (tenant) every read and write is scoped to.
    pub org_id: String,
    /// The user, when a person acts (not for API tokens or the CLI).
    pub user_id: Option<String>,
    /// The membership, when a person acts.
    pub member_id: Option<String>,
    /// The role in force.
    pub role: Role,
    /// For a business admin: the client ids it may see. Empty for every other role.
    pub clients: Vec<String>,
    /// How the caller authenticated.
    pub via: Via,
}

impl Caller {
    /// The service's own operator at the CLI, acting as the org's admin.
    #[must_use]
    pub fn cli(org_id: &str) -> Caller {
        Caller {
            org_id: org_id.to_owned(),
            user_id: None,
            member_id: None,
            role: Role::Admin,
            clients: Vec::new(),
            via: Via::Cli,
        }
    }

    /// Whether the role grants `permission` at all (a business admin only within its
    /// clients: see [`Caller::sees_client`]).
    #[must_use]
    pub fn may(&self, permission: Permission) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Ops => permission != Permission::ManageOrg,
            Role::Auditor => matches!(permission, Permission::ReadNumbers | Permission::ReadLedger),
            Role::BusinessAdmin => matches!(
                permission,
                Permission::ReadNumbers | Permission::ManageNumbers
            ),
        }
    }

    /// Refuses with [`Error::Forbidden`] unless the role grants `permission`.
    ///
    /// # Errors
    /// [`Error::Forbidden`] naming the permission.
    pub fn require(&self, permission: Permission) -> Result<(), Error> {
        if self.may(permission) {
            Ok(())
        } else {
            Err(Error::Forbidden {
                needed: permission.as_str(),
            })
        }
    }

    /// Whether the caller may see objects of `client_id` (always, except a business admin
    /// outside its clients).
    #[must_use]
    pub fn sees_client(&self, client_id: &str) -> bool {
        self.role != Role::BusinessAdmin || self.clients.iter().any(|c| c == client_id)
    }

    /// The ledger actor of this caller.
    ///
    /// # Errors
    /// [`Error::Invalid`] if a stored id is not a valid actor id (never for ids pinward
    /// generated).
    pub fn actor(&self) -> Result<Actor, Error> {
        let actor = match (&self.via, &self.user_id) {
            (Via::ApiToken(token_id), _) => Actor::token(token_id),
            (_, Some(user_id)) => Actor::user(user_id),
            (Via::Cli, None) | (Via::Session, None) => return Ok(Actor::system()),
        };
        actor.map_err(|_| Error::Invalid {
            field: "actor",
            problem: "not a valid actor id".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role) -> Caller {
        Caller {
            role,
            clients: vec!["client-a".to_owned()],
            ..Caller::cli("org-1")
        }
    }

    #[test]
    fn an_auditor_reads_but_never_changes_anything() {
        let auditor = caller(Role::Auditor);
        assert!(auditor.may(Permission::ReadNumbers));
        assert!(auditor.may(Permission::ReadLedger));
        for p in [
            Permission::ManageNumbers,
            Permission::Custody,
            Permission::ManageOrg,
        ] {
            assert!(matches!(
                auditor.require(p),
                Err(Error::Forbidden { needed }) if needed == p.as_str()
            ));
        }
    }

    #[test]
    fn ops_does_everything_but_run_the_org() {
        let ops = caller(Role::Ops);
        assert!(ops.may(Permission::Custody));
        assert!(!ops.may(Permission::ManageOrg));
    }

    #[test]
    fn a_business_admin_sees_only_its_clients() {
        let business = caller(Role::BusinessAdmin);
        assert!(business.sees_client("client-a"));
        assert!(!business.sees_client("client-b"));
        assert!(!business.may(Permission::Custody));
        assert!(caller(Role::Admin).sees_client("client-b"));
    }

    #[test]
    fn role_names_round_trip_and_unknown_names_are_refused() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
        assert!(matches!(
            Role::parse("root"),
            Err(Error::Invalid { field: "role", .. })
        ));
    }
}
