//! `pinward clients …`: an org's clients, their names and the age recipient each one's
//! released PINs are sealed to. The operator acts as the org's admin.

use std::io::Write;

use governance::access::Caller;
use governance::clients::{self, Client};

use super::custody::org_id;
use crate::cli::ClientsCommand;
use crate::config::Config;

fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

fn line(client: &Client) -> String {
    format!(
        "{}\t{}\t{}",
        client.id,
        client.name,
        client.age_recipient.as_deref().unwrap_or("-")
    )
}

pub async fn run(config: &Config, command: ClientsCommand) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let result = async {
        match command {
            ClientsCommand::List { org, json } => {
                let caller = Caller::cli(&org_id(&store, &org).await?);
                let all = clients::list(&store, &caller).await?;
                if json {
                    return print(&serde_json::to_string(&all)?);
                }
                for client in &all {
                    print(&line(client))?;
                }
                Ok(())
            }
            ClientsCommand::Recipient {
                org,
                client,
                recipient,
                clear,
            } => {
                let caller = Caller::cli(&org_id(&store, &org).await?);
                let changed = match recipient {
                    Some(recipient) if !clear => {
                        let of = governance::recovery::KeyFor::Client;
                        super::keys::check_apart_from_service(config, &recipient, of).await?;
                        clients::set_recipient(&store, &caller, &client, &recipient).await?
                    }
                    _ => clients::clear_recipient(&store, &caller, &client).await?,
                };
                match &changed.age_recipient {
                    Some(key) => print(&format!(
                        "{} ({}): released PINs are sealed to {key}",
                        changed.id, changed.name
                    )),
                    None => print(&format!(
                        "{} ({}) has no age recipient: its numbers cannot be released",
                        changed.id, changed.name
                    )),
                }
            }
            ClientsCommand::Rename { org, client, name } => {
                let caller = Caller::cli(&org_id(&store, &org).await?);
                let renamed = clients::rename(&store, &caller, &client, &name).await?;
                print(&format!("{} is now named {}", renamed.id, renamed.name))
            }
        }
    }
    .await;
    store.close().await;
    result
}
