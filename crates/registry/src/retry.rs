//! When to try a request again: 429, 5xx and connection errors, with exponential
//! backoff and full jitter, or the server's `Retry-After` (seconds) when it sends one.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (1 = no retries).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A longer Retry-After is cut to this: a registry asking for an hour should
    /// fail the copy, not hang it.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// Statuses worth another attempt: throttling and server-side failures. 501 (not
/// implemented) and 505 will not change.
pub fn retryable_status(status: u16) -> bool {
    status == 429 || status == 408 || (500..600).contains(&status) && status != 501 && status != 505
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempt counts from 1).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(self.max_retry_after);
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        // Full jitter: concurrent copies that failed together do not retry together.
        let ms = exp.as_millis() as u64;
        Duration::from_millis(ms / 2 + fastrand::u64(0..=ms / 2))
    }
}

/// `Retry-After: <seconds>`; the HTTP-date form is rare from registries and falls
/// back to the backoff.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        let p = RetryPolicy::default();
        assert!(p.delay(1, None) <= Duration::from_millis(200));
        assert!(p.delay(10, None) <= p.max_delay);
        assert!(p.delay(3, None) >= Duration::from_millis(400));
        assert_eq!(p.delay(1, parse_retry_after("2")), Duration::from_secs(2));
        assert_eq!(p.delay(1, parse_retry_after("3600")), p.max_retry_after);
        assert!(
            retryable_status(429)
                && retryable_status(503)
                && !retryable_status(501)
                && !retryable_status(404)
        );
    }
}
