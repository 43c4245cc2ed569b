//! One module per subcommand.

pub mod admin;
pub mod clients;
pub mod credentials;
pub mod custody;
pub mod demo;
pub mod graph_sandbox;
pub mod keys;
pub mod ledger;
pub mod migrate;
pub mod serve;

use anyhow::Context;
use governance::Store;

use crate::config::Config;

/// Opens the configured database and applies pending migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database)
        .await
        .context("cannot open the database")?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    Ok(store)
}
