//! The lock object `<prefix><stack>/lock.json`: created with `If-None-Match: *`,
//! renewed by its holder every third of the TTL with `If-Match` on its last ETag, taken
//! over (also with `If-Match`) once its lease has run out or its holder is certainly
//! gone, deleted with `If-Match` on release. Every change is conditional, so two runs
//! can never both believe they hold it.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use fedstack_state::{Lease, LockInfo, StateError};

use crate::backend::Inner;
use crate::errors::S3StateError;
use crate::objects::{Condition, Outcome};

/// How often a waiting run looks at the lock again.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// A held lock as the holder's threads share it.
#[derive(Debug)]
pub(crate) struct LeaseState {
    pub id: String,
    etag: Mutex<String>,
    /// Writes stop at this instant unless a renewal extends it: a sixth of the TTL
    /// before the lease could have run out for the others.
    valid_until: Mutex<Instant>,
    /// Why the lock is gone, once it is.
    lost: Mutex<Option<String>>,
}

impl LeaseState {
    /// `Ok` while this run may write.
    pub fn check(&self, stack: &str) -> Result<(), StateError> {
        let lost = lock(&self.lost).is_some();
        if lost || Instant::now() >= *lock(&self.valid_until) {
            return Err(StateError::LockLost {
                stack: stack.to_string(),
                id: self.id.clone(),
            });
        }
        Ok(())
    }

    fn etag(&self) -> String {
        lock(&self.etag).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The lease of one run: its state and the thread renewing it.
pub(crate) struct S3Lease {
    pub inner: Arc<Inner>,
    pub state: Arc<LeaseState>,
    renewer: Mutex<Option<(mpsc::Sender<()>, thread::JoinHandle<()>)>>,
}

impl std::fmt::Debug for S3Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Lease")
            .field("location", &self.inner.location())
            .field("id", &self.state.id)
            .finish_non_exhaustive()
    }
}

impl Lease for S3Lease {
    fn location(&self) -> String {
        self.inner.location()
    }

    fn check(&self) -> Result<(), StateError> {
        self.state.check(&self.inner.stack)
    }

    fn release(&self) -> Result<(), StateError> {
        self.stop_renewing();
        let key = self.inner.lock_key();
        let etag = self.state.etag();
        *lock(&self.state.lost) = Some("released".into());
        // Refused or missing: someone took it over or removed it; it is not ours to delete.
        self.inner
            .runner
            .block(self.inner.bucket.delete_if(&key, &etag))?;
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl S3Lease {
    fn stop_renewing(&self) {
        if let Some((stop, handle)) = lock(&self.renewer).take() {
            drop(stop);
            let _ = handle.join();
        }
    }
}

/// The lock's content for this run, with its lease starting now.
pub(crate) fn lock_info(operation: &str, ttl: Duration) -> LockInfo {
    let mut info = LockInfo::for_this_process(operation);
    info.expires = Some(expiry(ttl));
    info
}

fn expiry(ttl: Duration) -> String {
    humantime::format_rfc3339_seconds(SystemTime::now() + ttl).to_string()
}

/// Whether `holder`'s lease has run out by this machine's clock (hosts are assumed to
/// keep their clocks within a few seconds, as NTP does), or its holder ran on this
/// host and is gone.
pub(crate) fn expired(holder: &LockInfo) -> bool {
    if holder.holder_alive() == Some(false) {
        return true;
    }
    match holder
        .expires
        .as_deref()
        .and_then(|e| humantime::parse_rfc3339(e).ok())
    {
        Some(until) => SystemTime::now() > until,
        // A lock without a lease (written by hand, or a local-style lock): only its
        // holder's death frees it.
        None => false,
    }
}

pub(crate) fn encode(info: &LockInfo, stack: &str) -> Result<Vec<u8>, StateError> {
    let mut bytes = serde_json::to_vec_pretty(info).map_err(|source| StateError::Serialize {
        stack: stack.to_string(),
        source,
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

pub(crate) fn decode(inner: &Inner, bytes: &[u8]) -> Result<LockInfo, StateError> {
    serde_json::from_slice(bytes).map_err(|e| {
        S3StateError::LockUnreadable {
            location: inner.bucket.url(&inner.lock_key()),
            reason: e.to_string(),
        }
        .into()
    })
}

/// Starts holding the lock written with `etag` at `started`: the lease and its renewer.
pub(crate) fn hold(inner: Arc<Inner>, info: &LockInfo, etag: String, started: Instant) -> S3Lease {
    let ttl = inner.ttl;
    let state = Arc::new(LeaseState {
        id: info.id.clone(),
        etag: Mutex::new(etag),
        valid_until: Mutex::new(started + usable(ttl)),
        lost: Mutex::new(None),
    });
    let (stop, stopped) = mpsc::channel::<()>();
    let handle = {
        let inner = inner.clone();
        let state = state.clone();
        let info = info.clone();
        thread::Builder::new()
            .name("fedstack-s3-lease".into())
            .spawn(move || renew_until_stopped(&inner, &state, info, &stopped))
    };
    let renewer = match handle {
        Ok(h) => Some((stop, h)),
        // No thread: the lease is never renewed, so writes stop when it runs out.
        Err(_) => None,
    };
    S3Lease {
        inner,
        state,
        renewer: Mutex::new(renewer),
    }
}

/// The part of a lease its holder may write in: five sixths of it.
fn usable(ttl: Duration) -> Duration {
    ttl - ttl / 6
}

enum Renewal {
    Renewed(String),
    Adopted(String),
    Lost(String),
}

fn renew_until_stopped(
    inner: &Inner,
    state: &LeaseState,
    mut info: LockInfo,
    stopped: &mpsc::Receiver<()>,
) {
    let every = inner.ttl / 3;
    loop {
        match stopped.recv_timeout(every) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let started = Instant::now();
        info.expires = Some(expiry(inner.ttl));
        let Ok(bytes) = encode(&info, &inner.stack) else {
            return;
        };
        let key = inner.lock_key();
        let etag = state.etag();
        let result = inner.runner.block(async {
            match inner
                .bucket
                .put(&key, &bytes, Condition::Unchanged(&etag), &[])
                .await?
            {
                Outcome::Done(etag) => Ok(Renewal::Renewed(etag)),
                // An earlier attempt of ours that seemed to fail may have landed.
                Outcome::Refused => match inner.bucket.get(&key).await? {
                    Some(o) => match decode(inner, &o.bytes) {
                        Ok(holder) if holder.id == state.id => Ok(Renewal::Adopted(o.etag)),
                        Ok(other) => Ok(Renewal::Lost(format!("taken over by {other}"))),
                        Err(e) => Ok(Renewal::Lost(e.to_string())),
                    },
                    None => Ok(Renewal::Lost("the lock object was deleted".into())),
                },
                Outcome::Missing => Ok(Renewal::Lost("the lock object was deleted".into())),
            }
        });
        match result {
            Ok(Renewal::Renewed(etag)) => {
                *lock(&state.etag) = etag;
                *lock(&state.valid_until) = started + usable(inner.ttl);
            }
            // Its lease started at an earlier attempt we can't date: not extended now,
            // renewed properly at the next tick.
            Ok(Renewal::Adopted(etag)) => *lock(&state.etag) = etag,
            Ok(Renewal::Lost(why)) => {
                *lock(&state.lost) = Some(why);
                return;
            }
            // The bucket did not answer: try again at the next tick; writes stop by
            // themselves when the lease runs out meanwhile.
            Err::<_, S3StateError>(_) => {}
        }
    }
}
