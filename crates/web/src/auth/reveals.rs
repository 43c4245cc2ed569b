//! The rate limit of PIN reveals: at most [`PER_USER`] reveals by one user within
//! [`WINDOW`] (a sliding hour), whatever the number or the address.
//!
//! Reveals are rare and deliberate (re-registering a number); a person revealing PIN after
//! PIN is either scripting the dashboard or harvesting escrow, and either way should stop
//! and talk to an admin. Like [`super::throttle`], the counts live in this process's
//! memory: each instance behind a load balancer counts on its own and a restart forgets,
//! which still bounds a harvest to a handful of PINs per instance per hour; every reveal is
//! ledgered regardless.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Reveals are remembered this long.
pub const WINDOW: Duration = Duration::from_secs(60 * 60);
/// Reveals per user within [`WINDOW`].
pub const PER_USER: usize = 5;

/// Recent reveals per user.
#[derive(Debug, Default)]
pub struct RevealLimit {
    reveals: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RevealLimit {
    /// Counts a reveal by `user` now, or refuses with the seconds to wait when the user
    /// has revealed [`PER_USER`] PINs within [`WINDOW`] (a refusal is not counted).
    pub fn admit(&self, user: &str) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(mut reveals) = self.reveals.lock() else {
            // A poisoned lock means a panic elsewhere; refusing is the safe side.
            return Err(WINDOW.as_secs());
        };
        reveals.retain(|_, times| {
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) > WINDOW)
            {
                times.pop_front();
            }
            !times.is_empty()
        });
        let times = reveals.entry(user.to_owned()).or_default();
        if times.len() >= PER_USER {
            let oldest = times.front().copied().unwrap_or(now);
            let wait = WINDOW.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs().max(1));
        }
        times.push_back(now);
        Ok(())
    }

    /// Gives back a reveal admitted by [`RevealLimit::admit`] that did not happen (refused
    /// by the domain: wrong reason, no escrowed PIN), so typos do not use up the limit.
    pub fn undo(&self, user: &str) {
        if let Ok(mut reveals) = self.reveals.lock()
            && let Some(times) = reveals.get_mut(user)
        {
            times.pop_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_refused_after_the_limit_and_others_are_not() {
        let limit = RevealLimit::default();
        for _ in 0..PER_USER {
            assert!(limit.admit("u-ann").is_ok());
        }
        let wait = limit.admit("u-ann").unwrap_err();
        assert!(wait > 0 && wait <= WINDOW.as_secs());
        assert!(limit.admit("u-bob").is_ok());
    }

    #[test]
    fn an_undone_reveal_does_not_count() {
        let limit = RevealLimit::default();
        for _ in 0..PER_USER {
            assert!(limit.admit("u-ann").is_ok());
            limit.undo("u-ann");
        }
        assert!(limit.admit("u-ann").is_ok());
    }
}
