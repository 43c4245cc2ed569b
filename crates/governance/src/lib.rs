//! governance: the domain of pinward and its storage on SQLite and PostgreSQL.
//!
//! Everything below `web` that touches a database goes through [`store::Store`]: one
//! implementation of every query, run on whichever backend is configured.

pub mod checkpoints;
pub mod error;
pub mod export;
pub mod keys;
pub mod ledger;
pub mod sessions;
pub mod store;

pub use error::Error;
pub use store::{Backend, DatabaseTarget, DatabaseUrl, Store};
