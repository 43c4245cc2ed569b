//! audit: the ledger — event model, canonical hashing, signed checkpoints, export and offline verification.
//!
//! One hash chain per org (DESIGN.md "Ledger"). This crate is pure: no database, no clock of
//! its own, no network. Governance stores events and locks the chain head inside the
//! transaction that changes state, and calls in here to:
//!
//! - build an event: [`EventDraft`] + [`ChainHead`] + time → [`seal`] → [`Event`];
//! - store and reload it: [`Event::to_stored`] / [`Event::from_stored`] (re-hashes);
//! - sign a checkpoint: [`Checkpoint::new`] + [`CheckpointKey::sign`] → [`SignedCheckpoint`];
//! - export: [`JsonlWriter`] / [`CsvWriter`], push events in seq order, then `finish`;
//! - verify offline: [`verify_jsonl`] / [`verify_csv`] → [`Report`] or the first bad line.
//!
//! Modules: [`canonical`] (RFC 8785 JCS), [`event`] (event model and layout) with its parts
//! [`time`], [`names`] and [`details`], [`chain`] (hashes, head, sealing), [`checkpoint`]
//! (signed checkpoints, public keys), [`key`] (the signing key and its file), [`export`]
//! (writers and the file formats), [`verify`] (the checks), [`error`].
//!
//! ```
//! use audit::{Action, Actor, ChainHead, Checkpoint, CheckpointKey, Details, EventDraft};
//! use audit::{JsonlWriter, VerifyOptions, seal, verify_jsonl};
//!
//! let key = CheckpointKey::generate();
//! let now = chrono::Utc::now();
//! let draft = EventDraft {
//!     actor: Actor::user("42")?,
//!     action: Action::parse("pin.rotated")?,
//!     subject: "phone:1093".to_owned(),
//!     details: Details::new(serde_json::json!({"version": 3}))?,
//! };
//! let event = seal("acme", &ChainHead::GENESIS, now, draft)?;
//! let mut export = JsonlWriter::new(Vec::new());
//! export.write_event(&event)?;
//! let signed = key.sign(Checkpoint::new("acme", &ChainHead::from(&event), now)?)?;
//! let bytes = export.finish(&signed)?;
//!
//! let options = VerifyOptions { pinned_key: Some(key.public_key()), ..Default::default() };
//! let report = verify_jsonl(bytes.as_slice(), &options)?;
//! assert_eq!(report.events, 1);
//! # Ok::<(), audit::Error>(())
//! ```

pub mod canonical;
pub mod chain;
pub mod checkpoint;
pub mod details;
pub mod error;
pub mod event;
pub mod export;
pub mod key;
pub mod names;
pub mod time;
pub mod verify;

pub use chain::{ChainHead, Hash, seal};
pub use checkpoint::{Checkpoint, PublicKey, SignedCheckpoint};
pub use details::Details;
pub use error::{Error, Reason, VerifyError};
pub use event::{Event, EventDraft, StoredEvent};
pub use export::{CsvWriter, JsonlWriter};
pub use key::CheckpointKey;
pub use names::{Action, Actor};
pub use time::Timestamp;
pub use verify::{Report, Start, VerifyOptions, verify_csv, verify_jsonl};
