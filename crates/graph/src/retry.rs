//! Backoff between retries, and the sleeper that waits it out (injectable, so tests never wait
//! for real seconds).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use rand::Rng;

use crate::config::RetryPolicy;

/// A future that sleeps.
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Waits between retries. The default is [`TokioSleeper`]; tests pass one that records the
/// delays and returns at once.
pub trait Sleeper: Send + Sync + 'static {
    /// Sleeps for `delay`.
    fn sleep(&self, delay: Duration) -> SleepFuture;
}

/// Sleeps on the tokio timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, delay: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(delay))
    }
}

/// The delay before retry number `retry` (1 for the first retry): capped exponential with
/// equal jitter, so it lies in `[d/2, d]` for `d = min(max_delay, base_delay · 2^(retry-1))`.
pub fn backoff_delay(policy: &RetryPolicy, retry: u32) -> Duration {
    let exp = retry.saturating_sub(1).min(30);
    let uncapped = policy.base_delay.saturating_mul(1u32 << exp);
    let d = uncapped.min(policy.max_delay);
    let half = d / 2;
    let jitter = rand::thread_rng().gen_range(0.0..=1.0);
    half + half.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_backoff_is_between_half_and_all_of_the_capped_exponential(retry in 1u32..40) {
            let p = RetryPolicy {
                max_attempts: 5,
                base_delay: Duration::from_millis(100),
                max_delay: Duration::from_secs(5),
                rate_limit_fallback: Duration::from_secs(60),
            };
            let d = backoff_delay(&p, retry);
            let cap = Duration::from_millis(100)
                .saturating_mul(1u32 << (retry - 1).min(30))
                .min(Duration::from_secs(5));
            prop_assert!(d >= cap / 2 && d <= cap);
        }
    }
}
