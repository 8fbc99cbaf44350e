//! The one retry loop every provider runs its API calls in: retryable classes are tried
//! again (with the delay the provider computes: its backoff, or what the cloud asked),
//! an error that ran out of attempts says so once ([`ProviderError::gave_up`]) so the
//! engine does not retry it in a second layer.

use std::future::Future;
use std::time::Duration;

use crate::ProviderError;

/// `base` doubled per attempt after the first, at most a minute.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    base.saturating_mul(factor).min(Duration::from_secs(60))
}

/// Runs `call` until it succeeds, fails for good, or `max_attempts` (per class,
/// [`crate::ErrorClass::attempts_allowed`]) run out; `delay(attempt, error)` says how
/// long to wait before attempt `attempt + 1`.
pub async fn with_retries<T, F, Fut, D>(
    max_attempts: u32,
    mut delay: D,
    mut call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
    D: FnMut(u32, &ProviderError) -> Duration,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && attempt < e.class.attempts_allowed(max_attempts) => {
                tokio::time::sleep(delay(attempt, &e)).await;
                attempt += 1;
            }
            Err(e) if e.is_retryable() => return Err(e.gave_up(attempt)),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorClass;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let b = Duration::from_millis(100);
        assert_eq!(backoff(b, 1), b);
        assert_eq!(backoff(b, 3), Duration::from_millis(400));
        assert_eq!(backoff(b, 40), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn retryable_errors_are_retried_then_given_up_once() {
        let mut calls = 0;
        let r: Result<(), _> = with_retries(
            3,
            |_, _| Duration::from_secs(1),
            || {
                calls += 1;
                async { Err(ProviderError::new(ErrorClass::Transient, "busy")) }
            },
        )
        .await;
        let e = r.expect_err("gives up");
        assert_eq!(calls, 3);
        assert_eq!(e.gave_up_after, Some(3));
        let mut calls = 0;
        let r: Result<(), _> = with_retries(
            3,
            |_, _| Duration::ZERO,
            || {
                calls += 1;
                async { Err(ProviderError::new(ErrorClass::Invalid, "no")) }
            },
        )
        .await;
        assert!(r.is_err());
        assert_eq!(calls, 1, "not retryable: one attempt");
    }
}
