//! The sim's clock: wall-clock unix milliseconds that follow tokio's clock.
//!
//! World timestamps are unix millis so that other processes (a later run) read them
//! correctly. Inside a tokio runtime whose clock is paused (tests), time moves with the
//! paused clock, so `sleep` and status computation always agree.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Base {
    wall_ms: u64,
    instant: Instant,
}

static BASE: OnceLock<Base> = OnceLock::new();

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Now, in unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    let base = BASE.get_or_init(|| Base {
        wall_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(millis)
            .unwrap_or(0),
        instant: Instant::now(),
    });
    let now = tokio::time::Instant::now().into_std();
    if now >= base.instant {
        base.wall_ms.saturating_add(millis(now - base.instant))
    } else {
        // Round up what we subtract, so that the result is the floor of the real value.
        let behind = base.instant - now;
        let mut ms = millis(behind);
        if behind > Duration::from_millis(ms) {
            ms += 1;
        }
        base.wall_ms.saturating_sub(ms)
    }
}

/// Sleeps until the sim clock reaches `target_ms`. Returns at once (without touching
/// the timer) when it already has. Sleeps to the exact instant rather than for a
/// rounded number of milliseconds, so a wait costs no more than the timer's own tick.
pub(crate) async fn sleep_until(target_ms: u64) {
    let now = now_ms();
    if target_ms > now {
        match BASE.get() {
            Some(base) if target_ms >= base.wall_ms => {
                let at = base.instant + Duration::from_millis(target_ms - base.wall_ms);
                tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
            }
            _ => tokio::time::sleep(Duration::from_millis(target_ms - now)).await,
        }
    }
}

/// Sleeps for `ms` milliseconds; nothing at all for 0.
pub(crate) async fn sleep_ms(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_the_paused_tokio_clock() {
        let t0 = now_ms();
        sleep_until(t0 + 60_000).await;
        let t1 = now_ms();
        assert!(t1 >= t0 + 60_000, "{t0} -> {t1}");
        assert!(t1 < t0 + 61_000, "{t0} -> {t1}");
    }

    #[test]
    fn is_close_to_the_wall_clock_outside_a_runtime() {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(millis)
            .unwrap_or(0);
        let now = now_ms();
        assert!(now.abs_diff(wall) < 5_000, "{now} vs {wall}");
    }
}
