//! What every request handler may use.

use std::path::PathBuf;

use governance::Store;

/// Shared, cheaply cloned state of the service.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The age identity file that opens escrowed PINs; `/readyz` checks it is readable.
    pub identity_file: PathBuf,
}
