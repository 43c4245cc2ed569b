//! Sign-in throttling: failed password checks are counted per email and client address,
//! and per address alone, over a sliding window; past the limit, further attempts are
//! refused without checking the password.
//!
//! The counts live in this process's memory: cheap, and enough to make guessing
//! impractical, but each instance behind a load balancer counts on its own and a restart
//! forgets. Behind a reverse proxy the address is the proxy's, so the per-address limit is
//! set generously; the per-email-and-address limit still stops guessing one account.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures are remembered this long.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures per email from one address within [`WINDOW`].
pub const PER_ACCOUNT: usize = 5;
/// Failures from one address, whatever the email, within [`WINDOW`].
pub const PER_ADDRESS: usize = 50;
/// Above this many tracked keys, expired ones are swept before adding another.
const SWEEP_ABOVE: usize = 10_000;

/// Counts of recent failures.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

fn keys(scope: &str, account: &str, address: Option<IpAddr>) -> [(String, usize); 2] {
    let address = address.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
    let account = account.trim().to_lowercase();
    [
        (format!("{scope}|{account}|{address}"), PER_ACCOUNT),
        (format!("{scope}||{address}"), PER_ADDRESS),
    ]
}

impl Throttle {
    /// `Err(seconds to wait)` when `account` from `address` has failed too often lately.
    pub fn check(&self, scope: &str, account: &str, address: Option<IpAddr>) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(mut failures) = self.failures.lock() else {
            return Ok(());
        };
        for (key, limit) in keys(scope, account, address) {
            if let Some(times) = failures.get_mut(&key) {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > WINDOW)
                {
                    times.pop_front();
                }
                if times.len() >= limit {
                    let oldest = times.front().copied().unwrap_or(now);
                    let wait = WINDOW.saturating_sub(now.duration_since(oldest));
                    return Err(wait.as_secs().max(1));
                }
            }
        }
        Ok(())
    }

    /// Counts a failed attempt.
    pub fn failed(&self, scope: &str, account: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) <= WINDOW)
            });
        }
        for (key, _) in keys(scope, account, address) {
            failures.entry(key).or_default().push_back(now);
        }
    }

    /// Forgets the account's failures after a success (the address's count stays).
    pub fn succeeded(&self, scope: &str, account: &str, address: Option<IpAddr>) {
        if let Ok(mut failures) = self.failures.lock() {
            let [(key, _), _] = keys(scope, account, address);
            failures.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_refused_after_its_failures_and_others_are_not() {
        let throttle = Throttle::default();
        let here = Some(IpAddr::from([127, 0, 0, 1]));
        for _ in 0..PER_ACCOUNT {
            assert!(throttle.check("signin", "ann@example.com", here).is_ok());
            throttle.failed("signin", "ann@example.com", here);
        }
        let wait = throttle
            .check("signin", " ANN@example.com", here)
            .unwrap_err();
        assert!(wait > 0 && wait <= WINDOW.as_secs());
        assert!(throttle.check("signin", "bob@example.com", here).is_ok());
        assert!(throttle.check("reauth", "ann@example.com", here).is_ok());
    }

    #[test]
    fn a_success_forgets_the_accounts_failures() {
        let throttle = Throttle::default();
        for _ in 0..PER_ACCOUNT - 1 {
            throttle.failed("signin", "ann@example.com", None);
        }
        throttle.succeeded("signin", "ann@example.com", None);
        throttle.failed("signin", "ann@example.com", None);
        assert!(throttle.check("signin", "ann@example.com", None).is_ok());
    }
}
