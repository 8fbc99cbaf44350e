//! [`S3Backend`]: the [`Backend`] of a stack whose state is in a bucket.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fedstack_state::{snapshot, Backend, Loaded, LockGuard, LockInfo, StateError, StateWriter};

use crate::client::{make_client, Runner, S3Settings};
use crate::errors::S3StateError;
use crate::lease::{self, S3Lease, POLL_INTERVAL};
use crate::objects::{Bucket, Condition, Outcome};
use crate::store::{self, S3Journal};

/// What the backend's pieces share.
#[derive(Debug)]
pub(crate) struct Inner {
    pub runner: Runner,
    pub bucket: Bucket,
    pub stack: String,
    /// `<key_prefix><stack>/`.
    pub prefix: String,
    pub ttl: Duration,
}

impl Inner {
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn snapshot_key(&self) -> String {
        self.key("snapshot.json")
    }

    pub fn lock_key(&self) -> String {
        self.key("lock.json")
    }

    /// `s3://bucket/prefix/stack/`.
    pub fn location(&self) -> String {
        self.bucket.url(&self.prefix)
    }
}

/// One stack's state under `s3://<bucket>/<key_prefix><stack>/`:
///
/// | object | content |
/// |---|---|
/// | `snapshot.json` | the compacted state, as the local backend's `snapshot.json`; replaced with `If-Match` |
/// | `journal/<first>-<last>.log` | one committed batch: journal lines of serials `first..=last`; created with `If-None-Match: *` |
/// | `lock.json` | the writer's [`LockInfo`] with its lease's `expires`; every change conditional |
///
/// Creating the backend makes the client (no request yet).
#[derive(Debug, Clone)]
pub struct S3Backend {
    inner: Arc<Inner>,
}

impl S3Backend {
    pub fn new(settings: &S3Settings, stack: &str) -> Result<S3Backend, StateError> {
        snapshot::validate_stack_name(stack)?;
        let runner = Runner::new().map_err(|e| S3StateError::Failed {
            action: "start the S3 client for",
            location: format!("s3://{}/", settings.bucket),
            reason: e.to_string(),
            gave_up: false,
        })?;
        let (client, region) = runner.block(make_client(settings));
        Ok(S3Backend {
            inner: Arc::new(Inner {
                bucket: Bucket {
                    client,
                    name: settings.bucket.clone(),
                    region,
                },
                runner,
                stack: stack.to_string(),
                prefix: format!("{}{stack}/", settings.key_prefix),
                ttl: settings.lock_ttl,
            }),
        })
    }

    /// The bucket must exist and keep versions (so every earlier state stays
    /// recoverable): checked before a run writes. A store whose answer cannot be read
    /// gets the benefit of the doubt, with a note.
    fn check_bucket(&self) -> Result<Option<String>, StateError> {
        let inner = &self.inner;
        match inner.runner.block(inner.bucket.versioning())? {
            Some(status) if status == "Enabled" => Ok(None),
            Some(status) => Err(S3StateError::VersioningOff {
                bucket: inner.bucket.name.clone(),
                status: status.to_lowercase(),
            }
            .into()),
            None => Ok(Some(format!(
                "could not confirm that bucket {:?} keeps versions (its store's answer to GetBucketVersioning does not parse); make sure versioning is enabled",
                inner.bucket.name
            ))),
        }
    }

    fn read_lock(&self) -> Result<Option<(LockInfo, String)>, StateError> {
        let inner = &self.inner;
        match inner.runner.block(inner.bucket.get(&inner.lock_key()))? {
            Some(o) => Ok(Some((lease::decode(inner, &o.bytes)?, o.etag))),
            None => Ok(None),
        }
    }
}

impl Backend for S3Backend {
    fn stack(&self) -> &str {
        &self.inner.stack
    }

    fn location(&self) -> String {
        self.inner.location()
    }

    fn load(&self) -> Result<Loaded, StateError> {
        let read = self.inner.runner.block(store::read(&self.inner))?;
        Ok(Loaded {
            is_new: read.base.is_none(),
            snapshot: read.state,
            warnings: Vec::new(),
        })
    }

    fn lock(
        &self,
        operation: &str,
        timeout: Duration,
        on_wait: &mut dyn FnMut(&LockInfo),
    ) -> Result<LockGuard, StateError> {
        let inner = &self.inner;
        let key = inner.lock_key();
        let deadline = Instant::now().checked_add(timeout);
        let mut notes: Vec<String> = self.check_bucket()?.into_iter().collect();
        let mut waiting = false;
        loop {
            let info = lease::lock_info(operation, inner.ttl);
            let bytes = lease::encode(&info, &inner.stack)?;
            let started = Instant::now();
            let created =
                inner
                    .runner
                    .block(inner.bucket.put(&key, &bytes, Condition::Absent, &[]))?;
            if let Outcome::Done(etag) = created {
                let lease = lease::hold(inner.clone(), &info, etag, started);
                return Ok(LockGuard::new(info, notes, Box::new(lease)));
            }
            let Some((holder, etag)) = self.read_lock()? else {
                continue; // released in between
            };
            if holder.id == info.id {
                // Our create landed though its answer was lost.
                let lease = lease::hold(inner.clone(), &info, etag, started);
                return Ok(LockGuard::new(info, notes, Box::new(lease)));
            }
            if lease::expired(&holder) {
                let taken = inner.runner.block(inner.bucket.put(
                    &key,
                    &bytes,
                    Condition::Unchanged(&etag),
                    &[],
                ))?;
                if let Outcome::Done(etag) = taken {
                    notes.push(format!(
                        "took over the lock on stack {:?} from {holder}: {}",
                        inner.stack,
                        if holder.holder_alive() == Some(false) {
                            "that process no longer runs"
                        } else {
                            "its lease ran out without being renewed"
                        }
                    ));
                    let lease = lease::hold(inner.clone(), &info, etag, started);
                    return Ok(LockGuard::new(info, notes, Box::new(lease)));
                }
                continue; // someone else changed it first: look again
            }
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if remaining == Some(Duration::ZERO) {
                return Err(StateError::Locked {
                    stack: inner.stack.clone(),
                    holder: Box::new(holder),
                });
            }
            if !waiting {
                waiting = true;
                on_wait(&holder);
            }
            std::thread::sleep(remaining.map_or(POLL_INTERVAL, |r| r.min(POLL_INTERVAL)));
        }
    }

    fn current_lock(&self) -> Result<Option<LockInfo>, StateError> {
        Ok(self.read_lock()?.map(|(info, _)| info))
    }

    fn unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        let inner = &self.inner;
        let stack = inner.stack.clone();
        let Some((holder, etag)) = self.read_lock()? else {
            return Err(StateError::NotLocked { stack });
        };
        if holder.id != id.trim() {
            return Err(StateError::LockIdMismatch {
                stack,
                given: id.to_string(),
                holder: Box::new(holder),
            });
        }
        match inner
            .runner
            .block(inner.bucket.delete_if(&inner.lock_key(), &etag))?
        {
            Outcome::Done(()) => Ok(holder),
            // Renewed, released or replaced while we looked: report what is there now.
            _ => match self.read_lock()? {
                Some((now, _)) if now.id == holder.id => {
                    Err(StateError::Backend(Box::new(S3StateError::Failed {
                        action: "remove the lock",
                        location: inner.bucket.url(&inner.lock_key()),
                        reason: format!(
                            "its holder {now} renewed it while it was removed; it is still running"
                        ),
                        gave_up: false,
                    })))
                }
                Some((now, _)) => Err(StateError::LockIdMismatch {
                    stack,
                    given: id.to_string(),
                    holder: Box::new(now),
                }),
                None => Err(StateError::NotLocked { stack }),
            },
        }
    }

    fn open_writer(&self, lock: &LockGuard) -> Result<(StateWriter, Vec<String>), StateError> {
        let inner = &self.inner;
        let Some(lease) = lock
            .lease()
            .as_any()
            .downcast_ref::<S3Lease>()
            .filter(|l| l.inner.location() == inner.location())
        else {
            return Err(StateError::LockLost {
                stack: inner.stack.clone(),
                id: lock.info.id.clone(),
            });
        };
        lease.state.check(&inner.stack)?;
        let read = inner.runner.block(store::read(inner))?;
        let (snapshot_serial, snapshot_etag) = match read.base {
            Some((serial, etag)) => (serial, Some(etag)),
            None => (0, None),
        };
        let mut journal = S3Journal {
            inner: inner.clone(),
            lease: lease.state.clone(),
            snapshot_etag,
            snapshot_serial,
            segments: read.segments,
            writer: lock.info.to_string(),
        };
        if journal.snapshot_etag.is_none() {
            // A new stack: its lineage is fixed by the first snapshot.
            let bytes = snapshot::encode(&read.state, &inner.stack)?;
            fedstack_state::JournalStore::compact(&mut journal, Some((&read.state, &bytes)))?;
        }
        let disk_serial = journal.snapshot_serial;
        let mut writer = StateWriter::new(&inner.stack, read.state, disk_serial, Box::new(journal));
        writer.compact()?;
        Ok((writer, Vec::new()))
    }
}
