//! `pinward credentials …` and `pinward recovery …`: what an org admin keeps for the org.
//! The operator acts as the org's admin.

use std::io::{Read, Write};

use anyhow::Context;
use governance::access::Caller;
use governance::credentials::{self, CredentialFacts};
use governance::recovery;
use graph::AccessToken;

use super::custody::{graph_client, org_id};
use crate::cli::{CredentialsCommand, RecoveryCommand};
use crate::config::Config;

fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

fn describe(facts: &CredentialFacts) -> String {
    let expiry = match (facts.never_expires, facts.expires_at) {
        (true, _) => "never expires".to_owned(),
        (false, Some(at)) => format!("expires {}", at.to_rfc3339()),
        (false, None) => "expiry unknown".to_owned(),
    };
    let assets: Vec<String> = facts
        .granular_scopes
        .iter()
        .map(|g| match &g.target_ids {
            Some(ids) => format!("{} on {}", g.scope, ids.join(",")),
            None => format!("{} on every asset", g.scope),
        })
        .collect();
    format!(
        "{} token of app {}, {expiry}, checked {}\nscopes: {}\nassets: {}",
        if facts.is_valid { "valid" } else { "NOT VALID" },
        facts.app_id.as_deref().unwrap_or("?"),
        facts.checked_at.to_rfc3339(),
        facts.scopes.join(", "),
        if assets.is_empty() {
            "-".to_owned()
        } else {
            assets.join("; ")
        }
    )
}

fn show(facts: &CredentialFacts, json: bool) -> anyhow::Result<()> {
    if json {
        print(&serde_json::to_string(facts)?)
    } else {
        print(&describe(facts))
    }
}

pub async fn credentials(config: &Config, command: CredentialsCommand) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let result = async {
        match command {
            CredentialsCommand::Set { org, json } => {
                let caller = Caller::cli(&org_id(&store, &org).await?);
                let mut text = zeroize::Zeroizing::new(String::new());
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("cannot read the token from standard input")?;
                let token = AccessToken::from(text.trim());
                let escrow = super::keys::open_escrow(&store, config).await?;
                let facts =
                    credentials::set(&store, &escrow, &graph_client(config)?, &caller, &token)
                        .await?;
                show(&facts, json)
            }
            CredentialsCommand::Show { org, json } => {
                let caller = Caller::cli(&org_id(&store, &org).await?);
                match credentials::show(&store, &caller).await? {
                    Some(facts) => show(&facts, json),
                    None if json => print("null"),
                    None => print("no Graph token stored; set one with `pinward credentials set`"),
                }
            }
            CredentialsCommand::Check { org, json } => {
                let caller = Caller::cli(&org_id(&store, &org).await?);
                let escrow = super::keys::open_escrow(&store, config).await?;
                let facts =
                    credentials::recheck(&store, &escrow, &graph_client(config)?, &caller).await?;
                show(&facts, json)
            }
        }
    }
    .await;
    store.close().await;
    result
}

pub async fn recovery(config: &Config, command: RecoveryCommand) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let result = async {
        match command {
            RecoveryCommand::Add {
                org,
                recipient,
                label,
            } => {
                let caller = Caller::cli(&org_id(&store, &org).await?);
                let of = recovery::KeyFor::Recovery;
                super::keys::check_apart_from_service(config, &recipient, of).await?;
                let added = recovery::add(&store, &caller, &recipient, &label).await?;
                print(&format!(
                    "added recovery recipient {} ({})",
                    added.id, added.label
                ))
            }
            RecoveryCommand::List { org, json } => {
                let caller = Caller::cli(&org_id(&store, &org).await?);
                let all = recovery::list(&store, &caller).await?;
                if json {
                    return print(&serde_json::to_string(&all)?);
                }
                for r in all {
                    print(&format!("{}\t{}\t{}", r.id, r.recipient, r.label))?;
                }
                Ok(())
            }
            RecoveryCommand::Remove { org, id } => {
                let caller = Caller::cli(&org_id(&store, &org).await?);
                recovery::remove(&store, &caller, &id).await?;
                print(&format!("removed recovery recipient {id}"))
            }
        }
    }
    .await;
    store.close().await;
    result
}
