//! The state as objects: `snapshot.json` (replaced only with `If-Match` on the ETag
//! this writer last saw, or `If-None-Match: *` for the first) and one
//! `journal/<first serial>-<last serial>.log` per committed batch (created with
//! `If-None-Match: *`: two writers continuing the same serial collide, they never
//! overwrite each other). Segments hold journal lines as the local backend writes
//! them (checksummed), so replay is the same code.

use std::path::PathBuf;
use std::sync::Arc;

use fedstack_core::state::StateSnapshot;
use fedstack_state::{journal, snapshot, JournalStore, StateError};
use tokio::task::JoinSet;

use crate::backend::Inner;
use crate::errors::S3StateError;
use crate::lease::LeaseState;
use crate::objects::{Condition, Object, Outcome};

/// Object metadata naming the writer of a segment or snapshot, so a lost race can
/// say who won it.
pub(crate) const WRITER_META: &str = "fedstack-writer";
/// Segments read at once.
const PARALLEL_READS: usize = 16;
/// A listing raced with a compaction this many times in a row: give up.
const READ_ATTEMPTS: usize = 5;

/// `journal/<first>-<last>.log`, zero-padded so keys sort by serial.
pub(crate) fn segment_name(first: u64, last: u64) -> String {
    format!("journal/{first:020}-{last:020}.log")
}

/// The serials of a segment key.
fn segment_serials(key: &str) -> Option<(u64, u64)> {
    let name = key.rsplit('/').next()?.strip_suffix(".log")?;
    let (first, last) = name.split_once('-')?;
    Some((first.parse().ok()?, last.parse().ok()?))
}

/// The state as read from the bucket.
#[derive(Debug)]
pub(crate) struct Read {
    /// The snapshot with every later segment replayed.
    pub state: StateSnapshot,
    /// The stored snapshot's serial and ETag (`None`: there is none yet).
    pub base: Option<(u64, String)>,
    /// Keys of the segments replayed.
    pub segments: Vec<String>,
}

/// Reads snapshot and journal: lists the journal first, then reads the snapshot, so a
/// compaction in between can only make the snapshot newer than the listing (its
/// segments are skipped). A segment deleted under us means the same: read again.
pub(crate) async fn read(inner: &Inner) -> Result<Read, StateError> {
    let mut last_problem = None;
    for _ in 0..READ_ATTEMPTS {
        let journal_prefix = inner.key("journal/");
        let keys = inner.bucket.list(&journal_prefix).await?;
        let snapshot_key = inner.snapshot_key();
        let stored = inner.bucket.get(&snapshot_key).await?;
        let snapshot_path = PathBuf::from(inner.bucket.url(&snapshot_key));
        let (mut state, base) = match &stored {
            Some(o) => {
                let s = snapshot::parse(&snapshot_path, &o.bytes, &inner.stack)?;
                let serial = s.serial;
                (s, Some((serial, o.etag.clone())))
            }
            None if !keys.is_empty() => {
                return Err(StateError::SnapshotMissing {
                    path: snapshot_path,
                    evidence: PathBuf::from(inner.bucket.url(&keys[0])),
                })
            }
            None => (
                StateSnapshot::new(&inner.stack, uuid::Uuid::new_v4().to_string()),
                None,
            ),
        };
        let mut wanted: Vec<(u64, String)> = keys
            .iter()
            .filter_map(|k| segment_serials(k).map(|(first, last)| (first, last, k)))
            .filter(|(_, last, _)| *last > state.serial)
            .map(|(first, _, k)| (first, k.clone()))
            .collect();
        wanted.sort();
        let segments: Vec<String> = wanted.into_iter().map(|(_, k)| k).collect();
        let Some(bodies) = fetch_all(inner, &segments).await? else {
            last_problem = Some("a segment was compacted away while it was read".to_string());
            continue;
        };
        let journal_path = PathBuf::from(inner.bucket.url(&journal_prefix));
        let mut entries = Vec::new();
        for (key, body) in segments.iter().zip(&bodies) {
            let path = PathBuf::from(inner.bucket.url(key));
            let scan = journal::scan(body, &path)?;
            if let Some(torn) = scan.torn {
                // An object is written whole or not at all: damage is corruption.
                return Err(StateError::JournalCorrupt {
                    path,
                    line: torn.line,
                    reason: torn.reason,
                });
            }
            entries.extend(scan.entries);
        }
        match journal::replay(&mut state, &entries, &journal_path) {
            Ok(_) => {
                return Ok(Read {
                    state,
                    base,
                    segments,
                })
            }
            // A gap: a segment committed between listing and reading, or a compaction
            // between the two reads. Read again.
            Err(e @ StateError::JournalCorrupt { .. }) => last_problem = Some(e.to_string()),
            Err(e) => return Err(e),
        }
    }
    Err(StateError::JournalCorrupt {
        path: PathBuf::from(inner.bucket.url(&inner.key("journal/"))),
        line: 0,
        reason: format!(
            "it kept changing while it was read {READ_ATTEMPTS} times ({})",
            last_problem.unwrap_or_default()
        ),
    })
}

/// The bodies of `keys`, in order; `None` if one is gone.
async fn fetch_all(inner: &Inner, keys: &[String]) -> Result<Option<Vec<Vec<u8>>>, StateError> {
    let mut bodies: Vec<Option<Vec<u8>>> = vec![None; keys.len()];
    let mut tasks = JoinSet::new();
    let mut next = 0;
    while next < keys.len() || !tasks.is_empty() {
        while next < keys.len() && tasks.len() < PARALLEL_READS {
            let bucket = inner.bucket.clone();
            let key = keys[next].clone();
            let i = next;
            tasks.spawn(async move { (i, bucket.get(&key).await) });
            next += 1;
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        let (i, result) = done.map_err(|e| S3StateError::Failed {
            action: "read",
            location: inner.location(),
            reason: e.to_string(),
            gave_up: false,
        })?;
        match result? {
            Some(Object { bytes, .. }) => bodies[i] = Some(bytes),
            None => return Ok(None),
        }
    }
    Ok(bodies.into_iter().collect())
}

/// The S3 backend's [`JournalStore`].
#[derive(Debug)]
pub(crate) struct S3Journal {
    pub inner: Arc<Inner>,
    pub lease: Arc<LeaseState>,
    /// ETag of the stored snapshot; `None` before the first one.
    pub snapshot_etag: Option<String>,
    /// Serial of the stored snapshot.
    pub snapshot_serial: u64,
    /// Segments not yet folded into the stored snapshot.
    pub segments: Vec<String>,
    /// This writer, as [`WRITER_META`] names it.
    pub writer: String,
}

impl S3Journal {
    fn meta(&self) -> [(&'static str, String); 1] {
        [(WRITER_META, self.writer.clone())]
    }

    fn conflict(&self, key: &str, theirs: Option<&Object>) -> StateError {
        let other = match theirs.and_then(|o| o.metadata.get(WRITER_META)) {
            Some(w) => format!("{} was written by {w}", self.inner.bucket.url(key)),
            None if theirs.is_some() => format!(
                "{} was written by something other than fedstack",
                self.inner.bucket.url(key)
            ),
            None => format!("{} was deleted", self.inner.bucket.url(key)),
        };
        S3StateError::Conflict {
            location: self.inner.location(),
            other,
        }
        .into()
    }

    async fn put_segment(&self, key: &str, lines: &[u8]) -> Result<(), StateError> {
        let bucket = &self.inner.bucket;
        match bucket
            .put(key, lines, Condition::Absent, &self.meta())
            .await?
        {
            Outcome::Done(_) => Ok(()),
            _ => match bucket.get(key).await? {
                // Our own attempt landed though its answer was lost.
                Some(o) if o.bytes == lines => Ok(()),
                theirs => Err(self.conflict(key, theirs.as_ref())),
            },
        }
    }

    async fn put_snapshot(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let bucket = &self.inner.bucket;
        let key = self.inner.snapshot_key();
        let condition = match &self.snapshot_etag {
            Some(etag) => Condition::Unchanged(etag),
            None => Condition::Absent,
        };
        let etag = match bucket.put(&key, bytes, condition, &self.meta()).await? {
            Outcome::Done(etag) => etag,
            _ => match bucket.get(&key).await? {
                Some(o) if o.bytes == bytes => o.etag,
                theirs => return Err(self.conflict(&key, theirs.as_ref())),
            },
        };
        self.snapshot_etag = Some(etag);
        Ok(())
    }

    /// Segments in the bucket that this writer did not write, beyond `serial`: another
    /// writer's work.
    async fn foreign_segment(&self, serial: u64) -> Result<Option<String>, StateError> {
        let keys = self.inner.bucket.list(&self.inner.key("journal/")).await?;
        Ok(keys.into_iter().find(|k| {
            !self.segments.contains(k) && segment_serials(k).is_some_and(|(_, last)| last > serial)
        }))
    }
}

impl JournalStore for S3Journal {
    fn location(&self) -> String {
        self.inner.location()
    }

    /// One `PutObject` per batch.
    fn append(&mut self, first: u64, last: u64, lines: &[u8]) -> Result<(), StateError> {
        self.lease.check(&self.inner.stack)?;
        let key = self.inner.key(&segment_name(first, last));
        let inner = self.inner.clone();
        inner.runner.block(self.put_segment(&key, lines))?;
        self.segments.push(key);
        Ok(())
    }

    fn journal_is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    fn compact(&mut self, snapshot: Option<(&StateSnapshot, &[u8])>) -> Result<(), StateError> {
        self.lease.check(&self.inner.stack)?;
        let inner = self.inner.clone();
        inner.runner.block(async {
            if let Some((state, bytes)) = snapshot {
                if let Some(key) = self.foreign_segment(self.snapshot_serial).await? {
                    let theirs = inner.bucket.get(&key).await?;
                    return Err(self.conflict(&key, theirs.as_ref()));
                }
                self.put_snapshot(bytes).await?;
                self.snapshot_serial = state.serial;
            }
            // The snapshot holds them: a crash before this leaves segments that the
            // next read skips by serial.
            inner.bucket.delete_all(&self.segments).await?;
            self.segments.clear();
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_by_serial_and_parse_back() {
        let a = segment_name(9, 12);
        let b = segment_name(13, 100);
        assert!(a < b);
        assert_eq!(segment_serials(&format!("prod/s/{a}")), Some((9, 12)));
        assert_eq!(segment_serials("prod/s/journal/x.log"), None);
        assert_eq!(segment_serials("prod/s/journal/1-2.txt"), None);
    }
}
