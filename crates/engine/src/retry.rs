//! Bounded, jittered exponential backoff for throttling and transient errors.

use std::future::Future;
use std::time::Duration;

use fedstack_provider::ProviderError;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (1-based): "full jitter" over an
    /// exponentially growing cap, and at least what the cloud asked for.
    pub fn delay(&self, attempt: u32, asked: Option<Duration>) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max_delay);
        let jittered = cap.mul_f64(0.5 + fastrand::f64() * 0.5);
        asked.map_or(jittered, |a| a.max(jittered))
    }

    /// Runs `call` until it succeeds, fails for good, or the attempts run out.
    /// `on_retry` hears about every retry (for progress lines).
    pub async fn run<T, F, Fut>(
        &self,
        mut call: F,
        mut on_retry: impl FnMut(u32, &ProviderError, Duration),
    ) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let mut attempt = 1;
        loop {
            match call().await {
                Ok(v) => return Ok(v),
                Err(e)
                    if e.is_retryable()
                        && attempt < e.class.attempts_allowed(self.max_attempts) =>
                {
                    let d = self.delay(attempt, e.retry_after);
                    on_retry(attempt, &e, d);
                    tokio::time::sleep(d).await;
                    attempt += 1;
                }
                // Retryable but out of attempts here; an error a provider already gave
                // up on keeps its own count and is not retried a second time.
                Err(e) if e.is_retryable() => return Err(e.gave_up(attempt)),
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fedstack_provider::ErrorClass;
    use std::cell::Cell;

    #[test]
    fn delays_grow_and_stay_bounded() {
        let p = RetryPolicy::default();
        for attempt in 1..20 {
            let d = p.delay(attempt, None);
            assert!(d <= p.max_delay, "{d:?}");
        }
        assert!(p.delay(1, None) <= Duration::from_millis(200));
        assert!(p.delay(1, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_errors_then_gives_up() {
        let p = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let calls = Cell::new(0);
        let r: Result<(), _> = p
            .run(
                || {
                    calls.set(calls.get() + 1);
                    async { Err(ProviderError::new(ErrorClass::Throttled, "Rate exceeded")) }
                },
                |_, _, _| {},
            )
            .await;
        assert_eq!(calls.get(), 3);
        assert!(r
            .expect_err("fails")
            .message
            .contains("gave up after 3 attempts"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_a_provider_gave_up_on_is_not_retried_again() {
        let p = RetryPolicy::default();
        let calls = Cell::new(0);
        let r: Result<(), _> = p
            .run(
                || {
                    calls.set(calls.get() + 1);
                    async {
                        Err(
                            ProviderError::new(ErrorClass::Transient, "CreateRole: timed out")
                                .gave_up(8),
                        )
                    }
                },
                |_, _, _| {},
            )
            .await;
        assert_eq!(calls.get(), 1);
        assert_eq!(
            r.expect_err("fails").message,
            "CreateRole: timed out (gave up after 8 attempts)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_unreachable_endpoint_is_tried_only_briefly() {
        let p = RetryPolicy::default();
        let calls = Cell::new(0);
        let r: Result<(), _> = p
            .run(
                || {
                    calls.set(calls.get() + 1);
                    async {
                        Err(ProviderError::new(
                            ErrorClass::Unreachable,
                            "connection refused",
                        ))
                    }
                },
                |_, _, _| {},
            )
            .await;
        assert_eq!(calls.get(), fedstack_provider::UNREACHABLE_ATTEMPTS);
        assert_eq!(
            r.expect_err("fails").gave_up_after,
            Some(fedstack_provider::UNREACHABLE_ATTEMPTS)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_are_not_retried() {
        let p = RetryPolicy::default();
        let calls = Cell::new(0);
        let r: Result<(), _> = p
            .run(
                || {
                    calls.set(calls.get() + 1);
                    async { Err(ProviderError::new(ErrorClass::Invalid, "bad region")) }
                },
                |_, _, _| {},
            )
            .await;
        assert_eq!(calls.get(), 1);
        assert_eq!(r.expect_err("fails").message, "bad region");
    }
}
