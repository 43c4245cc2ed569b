//! governance: the domain of pinward and its storage on SQLite and PostgreSQL.
//!
//! Everything below `web` that touches a database goes through [`store::Store`]: one
//! implementation of every query, run on whichever backend is configured.

pub mod access;
pub mod checkpoints;
pub mod clients;
mod clock;
pub mod credentials;
pub mod custody;
pub mod error;
pub mod escrow;
pub mod export;
pub mod failpoint;
pub mod handovers;
pub mod health;
pub mod history;
pub mod invitations;
pub mod jobs;
pub mod keys;
pub mod ledger;
pub mod members;
pub mod numbers;
pub mod orgs;
pub mod overview;
pub mod policies;
pub mod recovery;
pub mod reviews;
pub mod sessions;
pub mod store;
pub mod sync;
pub mod tokens;
pub mod users;

pub use error::Error;
pub use store::{Backend, DatabaseTarget, DatabaseUrl, Store};
