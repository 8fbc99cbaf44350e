//! The local backend: reading, writing and compacting one stack's state directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fedstack_core::state::StateSnapshot;

use crate::backend::{Backend, Loaded};
use crate::error::{IoContext, StateError};
use crate::fsutil::{
    ensure_private_dir, read_optional, remove_if_exists, replace_atomically, sync_dir,
    unix_seconds, write_private_file, FILE_MODE,
};
use crate::journal::{self, TornTail};
use crate::lock::{self, LocalLease, LockGuard, LockInfo, LOCK_FILE};
use crate::snapshot::validate_stack_name;
use crate::writer::{JournalStore, StateWriter};

/// The compacted state.
pub const SNAPSHOT_FILE: &str = "snapshot.json";
/// The snapshot before the last compaction.
pub const BACKUP_FILE: &str = "snapshot.json.backup";
/// Changes since the snapshot, one checksummed line each.
pub const JOURNAL_FILE: &str = "journal.log";
/// Prefix of files holding a damaged journal tail (`journal.torn-<unix-seconds>`).
pub const TORN_PREFIX: &str = "journal.torn-";

const SNAPSHOT_TMP: &str = "snapshot.json.tmp";
const BACKUP_TMP: &str = "snapshot.json.backup.tmp";

/// The state of one stack stored under `<state_dir>/<stack>/`.
///
/// Creating a backend touches nothing; the directory appears with the first lock.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    stack: String,
    dir: PathBuf,
}

impl LocalBackend {
    /// The backend for `stack` under `state_dir`. The name is checked by each operation.
    pub fn new(state_dir: &Path, stack: &str) -> LocalBackend {
        LocalBackend {
            stack: stack.to_string(),
            dir: state_dir.join(stack),
        }
    }

    /// `<state_dir>/<stack>`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The stack name.
    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// Reads the state without locking or changing anything: the snapshot with the
    /// journal replayed in memory. A torn journal tail is ignored with a warning;
    /// damage followed by intact lines is an error.
    pub fn load(&self) -> Result<Loaded, StateError> {
        validate_stack_name(&self.stack)?;
        // A writer may be appending or compacting while we read: if the journal looks
        // damaged but changed under us, read again.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (read_len, result) = self.read_on_disk(false);
            let suspicious = match &result {
                Ok(disk) => disk.torn.is_some(),
                Err(StateError::JournalCorrupt { .. }) => true,
                Err(_) => false,
            };
            if suspicious && attempts < 3 && self.journal_len_now() != Some(read_len as u64) {
                continue;
            }
            let disk = result?;
            let mut warnings = Vec::new();
            if let Some(torn) = &disk.torn {
                warnings.push(format!(
                    "{} line {} is damaged ({}): ignoring its last {} bytes, an interrupted write; the next apply moves them to {}<time>",
                    self.dir.join(JOURNAL_FILE).display(),
                    torn.line,
                    torn.reason,
                    torn.len,
                    TORN_PREFIX
                ));
            }
            return Ok(Loaded {
                snapshot: disk.snapshot,
                is_new: disk.disk_serial.is_none(),
                warnings,
            });
        }
    }

    /// Takes the stack's lock for `operation` ("apply", "destroy", ...), creating the
    /// stack directory if needed. A stale lock (holder on this host no longer running)
    /// is removed, with a note in [`LockGuard::notes`]. A live lock is waited for,
    /// polling every 100 ms, up to `timeout` (`Duration::ZERO`: fail at once), then
    /// [`StateError::Locked`] names the holder.
    pub fn lock(&self, operation: &str, timeout: Duration) -> Result<LockGuard, StateError> {
        self.lock_with(operation, timeout, &mut |_| {})
    }

    /// [`lock`](Self::lock), calling `on_wait(holder)` once if it has to wait (to tell
    /// the user "waiting for the lock held by ...").
    pub fn lock_with(
        &self,
        operation: &str,
        timeout: Duration,
        on_wait: &mut dyn FnMut(&LockInfo),
    ) -> Result<LockGuard, StateError> {
        validate_stack_name(&self.stack)?;
        ensure_private_dir(&self.dir)?;
        lock::acquire(&self.dir, &self.stack, operation, timeout, on_wait)
    }

    /// The current lock, if any (for `state unlock`/status output). Takes no lock.
    pub fn current_lock(&self) -> Result<Option<LockInfo>, StateError> {
        validate_stack_name(&self.stack)?;
        lock::read_lock(&self.dir.join(LOCK_FILE))
    }

    /// Removes the lock if its ID is `id`, returning what it was. Fails with
    /// [`StateError::LockIdMismatch`] (naming the real holder) or
    /// [`StateError::NotLocked`]. Does not check whether the holder still runs: the
    /// caller decides (see [`LockInfo::holder_alive`]).
    pub fn unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        validate_stack_name(&self.stack)?;
        lock::unlock(&self.dir, &self.stack, id)
    }

    /// Opens the state for writing under `lock`: loads it, moves a torn journal tail
    /// aside (to `journal.torn-<unix-seconds>`, with a warning), creates the snapshot
    /// of a new stack (fixing its lineage), and compacts the journal.
    ///
    /// Returns the writer and the warnings to show the user.
    pub fn open_writer(&self, lock: &LockGuard) -> Result<(StateWriter, Vec<String>), StateError> {
        validate_stack_name(&self.stack)?;
        let ours = lock
            .lease()
            .as_any()
            .downcast_ref::<LocalLease>()
            .is_some_and(|l| l.dir == self.dir && l.stack == self.stack);
        if !ours {
            return Err(StateError::LockLost {
                stack: self.stack.clone(),
                id: lock.info.id.clone(),
            });
        }
        lock.lease().check()?;
        ensure_private_dir(&self.dir)?;
        let (_, disk) = self.read_on_disk(true);
        let disk = disk?;
        let mut warnings = Vec::new();

        let disk_serial = match disk.disk_serial {
            Some(serial) => serial,
            None => {
                let bytes = crate::snapshot::encode(&disk.snapshot, &self.stack)?;
                write_snapshot(&self.dir, &bytes, false)?;
                disk.snapshot.serial
            }
        };

        let journal_path = self.dir.join(JOURNAL_FILE);
        let existed = journal_path.exists();
        let journal = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(FILE_MODE)
            .open(&journal_path)
            .ctx("open", &journal_path)?;
        if !existed {
            sync_dir(&self.dir)?;
        }

        let mut journal_len = disk.journal_len as u64;
        if let (Some(torn), Some(bytes)) = (&disk.torn, &disk.torn_bytes) {
            let saved = save_torn(&self.dir, bytes)?;
            journal_len = torn.offset as u64;
            journal
                .set_len(journal_len)
                .ctx("truncate", &journal_path)?;
            journal.sync_all().ctx("sync", &journal_path)?;
            sync_dir(&self.dir)?;
            warnings.push(format!(
                "{} line {} was damaged ({}), an interrupted write that never completed: moved its {} bytes to {} and cut the journal back to its last intact line",
                journal_path.display(),
                torn.line,
                torn.reason,
                torn.len,
                saved.display()
            ));
        }

        let store = LocalJournal {
            dir: self.dir.clone(),
            journal,
            journal_path,
            journal_len,
        };
        let mut writer = StateWriter::new(&self.stack, disk.snapshot, disk_serial, Box::new(store));
        writer.compact()?;
        Ok((writer, warnings))
    }

    /// The stacks with state under `state_dir` (directories holding a snapshot or a
    /// journal), sorted. A missing `state_dir` has none.
    pub fn list_stacks(state_dir: &Path) -> Result<Vec<String>, StateError> {
        let entries = match fs::read_dir(state_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StateError::io("list", state_dir, e)),
        };
        let mut stacks = Vec::new();
        for entry in entries {
            let entry = entry.ctx("list", state_dir)?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let path = entry.path();
            if validate_stack_name(&name).is_ok()
                && path.is_dir()
                && (path.join(SNAPSHOT_FILE).exists() || path.join(JOURNAL_FILE).exists())
            {
                stacks.push(name);
            }
        }
        stacks.sort();
        Ok(stacks)
    }

    fn journal_len_now(&self) -> Option<u64> {
        fs::metadata(self.dir.join(JOURNAL_FILE))
            .ok()
            .map(|m| m.len())
    }

    /// Reads journal then snapshot (in that order, so that a compaction running
    /// concurrently can only make the snapshot newer than the journal we hold, never
    /// older) and replays. Also returns how many journal bytes were read.
    fn read_on_disk(&self, keep_torn_bytes: bool) -> (usize, Result<OnDisk, StateError>) {
        let journal_path = self.dir.join(JOURNAL_FILE);
        let journal_bytes = match read_optional(&journal_path) {
            Ok(bytes) => bytes.unwrap_or_default(),
            Err(e) => return (0, Err(e)),
        };
        let len = journal_bytes.len();
        (
            len,
            self.build(&journal_path, journal_bytes, keep_torn_bytes),
        )
    }

    fn build(
        &self,
        journal_path: &Path,
        journal_bytes: Vec<u8>,
        keep_torn_bytes: bool,
    ) -> Result<OnDisk, StateError> {
        let snapshot_path = self.dir.join(SNAPSHOT_FILE);
        let snapshot_bytes = read_optional(&snapshot_path)?;
        let scan = journal::scan(&journal_bytes, journal_path)?;

        let (mut snapshot, disk_serial) = match snapshot_bytes {
            Some(bytes) => {
                let snapshot = crate::snapshot::parse(&snapshot_path, &bytes, &self.stack)?;
                let serial = snapshot.serial;
                (snapshot, Some(serial))
            }
            None => {
                if !journal_bytes.is_empty() {
                    return Err(StateError::SnapshotMissing {
                        path: snapshot_path,
                        evidence: journal_path.to_path_buf(),
                    });
                }
                let backup = self.dir.join(BACKUP_FILE);
                if backup.exists() {
                    return Err(StateError::SnapshotMissing {
                        path: snapshot_path,
                        evidence: backup,
                    });
                }
                (
                    StateSnapshot::new(&self.stack, uuid::Uuid::new_v4().to_string()),
                    None,
                )
            }
        };
        journal::replay(&mut snapshot, &scan.entries, journal_path)?;
        let torn_bytes = match (&scan.torn, keep_torn_bytes) {
            (Some(t), true) => Some(journal_bytes[t.offset..].to_vec()),
            _ => None,
        };
        let journal_len = scan.torn.as_ref().map_or(journal_bytes.len(), |t| t.offset);
        Ok(OnDisk {
            snapshot,
            disk_serial,
            journal_len,
            torn: scan.torn,
            torn_bytes,
        })
    }
}

/// What is on disk, replayed.
struct OnDisk {
    snapshot: StateSnapshot,
    /// Serial of `snapshot.json`; `None` if there is none (a new stack).
    disk_serial: Option<u64>,
    /// Length of the intact part of the journal.
    journal_len: usize,
    torn: Option<TornTail>,
    torn_bytes: Option<Vec<u8>>,
}

/// The local backend's [`JournalStore`]: `journal.log` and `snapshot.json`.
#[derive(Debug)]
struct LocalJournal {
    dir: PathBuf,
    journal: File,
    journal_path: PathBuf,
    /// Bytes in the journal (all intact).
    journal_len: u64,
}

impl JournalStore for LocalJournal {
    fn location(&self) -> String {
        self.journal_path.display().to_string()
    }

    /// One `write` and one `fdatasync`.
    fn append(&mut self, _first: u64, _last: u64, lines: &[u8]) -> Result<(), StateError> {
        self.journal
            .write_all(lines)
            .and_then(|()| self.journal.sync_data())
            .ctx("append to", &self.journal_path)?;
        self.journal_len += lines.len() as u64;
        Ok(())
    }

    fn journal_is_empty(&self) -> bool {
        self.journal_len == 0
    }

    fn compact(&mut self, snapshot: Option<(&StateSnapshot, &[u8])>) -> Result<(), StateError> {
        if let Some((_, bytes)) = snapshot {
            write_snapshot(&self.dir, bytes, true)?;
        }
        if self.journal_len > 0 {
            // The snapshot is durable: a crash before this truncation leaves entries
            // the snapshot already holds, which replay skips.
            self.journal
                .set_len(0)
                .and_then(|()| self.journal.sync_all())
                .ctx("truncate", &self.journal_path)?;
            self.journal_len = 0;
        }
        Ok(())
    }
}

/// Replaces `snapshot.json` atomically; with `backup`, the current one first becomes
/// `snapshot.json.backup` (atomically as well: hard link to a temporary name, rename
/// over the backup), so `snapshot.json` exists at every moment.
fn write_snapshot(dir: &Path, bytes: &[u8], backup: bool) -> Result<(), StateError> {
    let target = dir.join(SNAPSHOT_FILE);
    if backup && target.exists() {
        let backup_tmp = dir.join(BACKUP_TMP);
        remove_if_exists(&backup_tmp)?;
        if fs::hard_link(&target, &backup_tmp).is_err() {
            // No hard links here: copy (fs::copy keeps the 0600 mode) and sync.
            fs::copy(&target, &backup_tmp).ctx("copy", &target)?;
            File::open(&backup_tmp)
                .and_then(|f| f.sync_all())
                .ctx("sync", &backup_tmp)?;
        }
        let backup_path = dir.join(BACKUP_FILE);
        fs::rename(&backup_tmp, &backup_path).ctx("rename into place", &backup_path)?;
    }
    // Syncs the directory, which also makes the backup rename durable.
    replace_atomically(dir, &dir.join(SNAPSHOT_TMP), &target, bytes)
}

/// Saves a torn journal tail as `journal.torn-<unix-seconds>` (with `.N` appended if
/// that name is taken).
fn save_torn(dir: &Path, bytes: &[u8]) -> Result<PathBuf, StateError> {
    let base = format!("{TORN_PREFIX}{}", unix_seconds());
    for n in 0..1000 {
        let name = if n == 0 {
            base.clone()
        } else {
            format!("{base}.{n}")
        };
        let path = dir.join(name);
        match write_private_file(&path, bytes, true) {
            Ok(()) => return Ok(path),
            Err(StateError::Io { source, .. }) if source.kind() == io::ErrorKind::AlreadyExists => {
                continue
            }
            Err(e) => return Err(e),
        }
    }
    let path = dir.join(base);
    Err(StateError::io(
        "create",
        &path,
        io::Error::new(io::ErrorKind::AlreadyExists, "too many torn-journal files"),
    ))
}

impl Backend for LocalBackend {
    fn stack(&self) -> &str {
        &self.stack
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    fn load(&self) -> Result<Loaded, StateError> {
        LocalBackend::load(self)
    }

    fn lock(
        &self,
        operation: &str,
        timeout: Duration,
        on_wait: &mut dyn FnMut(&LockInfo),
    ) -> Result<LockGuard, StateError> {
        self.lock_with(operation, timeout, on_wait)
    }

    fn current_lock(&self) -> Result<Option<LockInfo>, StateError> {
        LocalBackend::current_lock(self)
    }

    fn unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        LocalBackend::unlock(self, id)
    }

    fn open_writer(&self, lock: &LockGuard) -> Result<(StateWriter, Vec<String>), StateError> {
        LocalBackend::open_writer(self, lock)
    }
}
