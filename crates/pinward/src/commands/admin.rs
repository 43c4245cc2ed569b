//! `pinward admin org|user|token …`: the service operator sets up orgs, their members and
//! API tokens. The operator acts as each org's admin ([`Caller::cli`]); every change is
//! ledgered with the `system` actor.

use std::io::{Read, Write};

use anyhow::Context;
use audit::Actor;
use governance::access::{Caller, Role};
use governance::users::{NewUser, Password};
use governance::{Store, members, orgs, tokens, users};

use crate::cli::{AdminCommand, OrgCommand, TokenCommand, UserCommand};
use crate::config::Config;

pub async fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let result = match command {
        AdminCommand::Org(command) => org(&store, command).await,
        AdminCommand::User(command) => user(&store, command).await,
        AdminCommand::Token(command) => token(&store, command).await,
    };
    store.close().await;
    result
}

fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

/// The CLI caller of the org named by id or slug.
async fn caller(store: &Store, org: &str) -> anyhow::Result<Caller> {
    let org = orgs::find(store, org)
        .await
        .with_context(|| format!("--org {org}"))?;
    Ok(Caller::cli(&org.id))
}

async fn org(store: &Store, command: OrgCommand) -> anyhow::Result<()> {
    match command {
        OrgCommand::Create { slug, name, json } => {
            let org = orgs::create(store, &Actor::system(), &slug, &name).await?;
            if json {
                print(&serde_json::to_string(&org)?)
            } else {
                print(&format!(
                    "created org {} ({}) with id {}",
                    org.slug, org.name, org.id
                ))
            }
        }
        OrgCommand::List { json } => {
            let all = orgs::list(store).await?;
            if json {
                return print(&serde_json::to_string(&all)?);
            }
            for org in all {
                print(&format!("{}\t{}\t{}", org.id, org.slug, org.name))?;
            }
            Ok(())
        }
    }
}

/// Why `admin user create` does not add the existing account of an email by itself: the
/// account signs in with the password of whoever made it (perhaps through an invitation
/// code of another org, which proves no one owns the email), so the operator is shown
/// what it is before adding it anywhere.
fn existing_account_refusal(account: &users::User, orgs: &[users::Membership]) -> String {
    let orgs = if orgs.is_empty() {
        "no org".to_owned()
    } else {
        orgs.iter()
            .map(|m| format!("{} as {}", m.org_slug, m.role.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let state = if account.deactivated_at.is_some() {
        "deactivated"
    } else {
        "active"
    };
    format!(
        "--email: {} already has a pinward account ({state}, named {:?}, made {}, a member of \
         {orgs}); it signs in with its own password, and --name and --password-stdin would not \
         apply. If it is the person you mean, run again with --existing-account.",
        account.email,
        account.display_name,
        account.created_at.format("%Y-%m-%d %H:%M UTC"),
    )
}

/// The password on standard input, without its final line break.
fn password_from_stdin() -> anyhow::Result<Password> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("--password-stdin: cannot read standard input")?;
    let trimmed = text.trim_end_matches(['\n', '\r']).len();
    text.truncate(trimmed);
    let password = Password::new(text);
    Ok(password)
}

async fn user(store: &Store, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            org,
            email,
            name,
            role,
            clients,
            password_stdin,
            existing_account,
            json,
        } => {
            let caller = caller(store, &org).await?;
            let role = Role::parse(&role)?;
            let given = if password_stdin {
                Some(password_from_stdin()?)
            } else {
                None
            };
            let (member, generated) = match users::find_by_email(store, &email).await? {
                Some(existing) => {
                    let orgs = users::memberships(store, &existing.id).await?;
                    // A member here already: adding says so, as for anyone.
                    let here = orgs.iter().any(|m| m.org_id == caller.org_id);
                    if !existing_account && !here {
                        anyhow::bail!("{}", existing_account_refusal(&existing, &orgs));
                    }
                    (
                        members::add(store, &caller, &existing.id, role, &clients).await?,
                        None,
                    )
                }
                // A typo would otherwise make a stranger's account, with a password printed.
                None if existing_account => {
                    anyhow::bail!("--existing-account: no pinward account has the email {email}")
                }
                None => {
                    let (password, generated) = match given {
                        Some(password) => (password, None),
                        None => {
                            let password = Password::generate();
                            (password.clone(), Some(password))
                        }
                    };
                    let new = NewUser {
                        email,
                        display_name: name,
                        password: Some(password),
                    };
                    let member =
                        members::add_new_user(store, &caller, &new, role, &clients).await?;
                    (member, generated)
                }
            };
            if json {
                let mut value = serde_json::to_value(&member)?;
                if let (Some(password), Some(object)) = (&generated, value.as_object_mut()) {
                    object.insert("password".to_owned(), password.expose().into());
                }
                print(&value.to_string())
            } else {
                print(&format!(
                    "added {} to {} as {} (member {})",
                    member.email,
                    org,
                    member.role.as_str(),
                    member.id
                ))?;
                match generated {
                    Some(password) => print(&format!(
                        "password (shown once, pass it on privately): {}",
                        password.expose()
                    )),
                    None => Ok(()),
                }
            }
        }
        UserCommand::List { org, json } => {
            let caller = caller(store, &org).await?;
            let all = members::list(store, &caller).await?;
            if json {
                return print(&serde_json::to_string(&all)?);
            }
            for member in all {
                let state = if member.is_active() {
                    "active"
                } else {
                    "deactivated"
                };
                print(&format!(
                    "{}\t{}\t{}\t{}\t{}",
                    member.id,
                    member.email,
                    member.role.as_str(),
                    state,
                    member.display_name
                ))?;
            }
            Ok(())
        }
        UserCommand::Deactivate { org, email } => {
            let caller = caller(store, &org).await?;
            let member = members::find_by_email(store, &caller, &email).await?;
            let gone = members::deactivate(store, &caller, &member.id).await?;
            let withdrawn = match gone.handovers_withdrawn {
                0 => String::new(),
                n => format!("; {n} handover(s) offered to them withdrawn"),
            };
            print(&format!(
                "deactivated {} in {org}; their sessions ended{withdrawn}",
                member.email
            ))
        }
    }
}

async fn token(store: &Store, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            org,
            name,
            role,
            json,
        } => {
            let caller = caller(store, &org).await?;
            let role = Role::parse(&role)?;
            let (token, secret) = tokens::create(store, &caller, &name, role).await?;
            if json {
                let mut value = serde_json::to_value(&token)?;
                if let Some(object) = value.as_object_mut() {
                    object.insert("secret".to_owned(), secret.expose().into());
                }
                print(&value.to_string())
            } else {
                print(&format!(
                    "created token {} ({}, {}); its secret, shown once:\n{}",
                    token.id,
                    token.name,
                    token.role.as_str(),
                    secret.expose()
                ))
            }
        }
        TokenCommand::List { org, json } => {
            let caller = caller(store, &org).await?;
            let all = tokens::list(store, &caller).await?;
            if json {
                return print(&serde_json::to_string(&all)?);
            }
            for token in all {
                let state = if token.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                let used = token.last_used_at.map_or_else(
                    || "never used".to_owned(),
                    |at| {
                        format!(
                            "last used {}",
                            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        )
                    },
                );
                print(&format!(
                    "{}\t{}\t{}\t{}\t{used}",
                    token.id,
                    token.name,
                    token.role.as_str(),
                    state
                ))?;
            }
            Ok(())
        }
        TokenCommand::Revoke { org, id } => {
            let caller = caller(store, &org).await?;
            tokens::revoke(store, &caller, &id).await?;
            print(&format!("revoked token {id}"))
        }
    }
}
