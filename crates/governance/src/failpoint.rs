//! Crash windows of the custody protocol and of key rotation, as named failpoints.
//!
//! Built with the `failpoints` feature, each window can be armed through `fail::cfg` (tests)
//! or the `FAILPOINTS` variable (the binary calls `fail::FailScenario::setup`): `return`
//! makes the operation fail with [`Error::Failpoint`], `panic` and `sleep(ms)` do what they
//! say. An armed window logs `failpoint reached` first, so a test driving the real binary
//! knows when to `kill -9` it. Without the feature every window is a no-op.
//!
//! The windows: [`AFTER_SEAL`], [`AFTER_TX1`], [`AFTER_SEND`], [`AFTER_RESPONSE`],
//! [`INSIDE_TX2`], [`KEYS_AFTER_RESEAL`], [`KEYS_AFTER_SWAP`].

use crate::Error;

/// A fresh PIN is generated and sealed; nothing is committed.
pub const AFTER_SEAL: &str = "custody::after_seal";
/// TX1 committed the pending version; nothing was sent.
pub const AFTER_TX1: &str = "custody::after_tx1";
/// The PIN went to Meta and the call returned; its answer is not yet read.
pub const AFTER_SEND: &str = "custody::after_send";
/// Meta's answer is classified; TX2 has not started.
pub const AFTER_RESPONSE: &str = "custody::after_response";
/// TX2 made its changes but has not committed.
pub const INSIDE_TX2: &str = "custody::inside_tx2";
/// `keys rotate` wrote every re-sealed copy; the identity files are not swapped.
pub const KEYS_AFTER_RESEAL: &str = "keys::after_reseal";
/// `keys rotate` made the next identity active; the database still holds both copies.
pub const KEYS_AFTER_SWAP: &str = "keys::after_swap";

/// Passes the crash window `name`.
#[cfg(feature = "failpoints")]
pub(crate) fn window(name: &'static str) -> Result<(), Error> {
    if fail::list().iter().any(|(armed, _)| armed == name) {
        tracing::warn!(failpoint = name, "failpoint reached");
    }
    match fail::eval(name, |_| ()) {
        Some(()) => Err(Error::Failpoint(name)),
        None => Ok(()),
    }
}

/// Passes the crash window `name` (failpoints are compiled out).
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn window(_name: &'static str) -> Result<(), Error> {
    Ok(())
}
