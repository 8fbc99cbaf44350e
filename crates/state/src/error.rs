//! The one error type of this crate.

use std::io;
use std::path::{Path, PathBuf};

use crate::lock::LockInfo;

/// Everything that can go wrong with local state. Every variant displays as one line
/// that names the file or stack concerned and, where there is one, what to do next.
///
/// [`StateError::Io`] already includes the operating-system error in its message; the
/// same `io::Error` is also available through `source()` for code that inspects it.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file-system operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done: "read", "write", "create", "rename", ...
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The stack name cannot be used as a directory name.
    #[error("stack name {name:?} cannot be used for local state: {reason}")]
    InvalidStackName { name: String, reason: &'static str },

    /// `snapshot.json` is not valid JSON or not a fedstack state.
    #[error("{} is not a valid fedstack state ({message}); restore the previous snapshot (snapshot.json.backup beside it, or the previous object version in a versioned bucket) or inspect it manually", path.display())]
    SnapshotInvalid { path: PathBuf, message: String },

    /// `snapshot.json` was written by a newer fedstack.
    #[error("{} has state format version {found}, but this fedstack only understands version {supported} or older; upgrade fedstack", path.display())]
    FormatTooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    /// `snapshot.json` belongs to another stack.
    #[error("{} holds the state of stack {found:?}, not {expected:?}; check --state-dir and the stack name", path.display())]
    StackMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },

    /// The journal or backup exists but the snapshot it builds on is gone.
    #[error("{} is missing although {} exists; restore the previous snapshot (snapshot.json.backup, or the previous object version in a versioned bucket) or inspect the state manually", path.display(), evidence.display())]
    SnapshotMissing { path: PathBuf, evidence: PathBuf },

    /// A journal line that cannot be replayed is followed by intact lines, or the
    /// journal does not continue the snapshot. Nothing was changed on disk.
    #[error("{} is corrupt at line {line}: {reason}; nothing was changed: restore from the previous snapshot (snapshot.json.backup, or the previous object version) or inspect it manually", path.display())]
    JournalCorrupt {
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        reason: String,
    },

    /// Another process holds the stack's lock and did not release it in time.
    #[error("state for stack {stack:?} is locked by {holder}; wait for it, retry with --lock-timeout, or run `fedstack state unlock {}` if that process is gone", holder.id)]
    Locked {
        stack: String,
        holder: Box<LockInfo>,
    },

    /// `lock.json` exists but cannot be parsed.
    #[error("{} exists but is not a valid lock ({reason}); if no fedstack process is working on this stack, delete the file", path.display())]
    LockUnreadable { path: PathBuf, reason: String },

    /// `unlock` was asked for but there is no lock.
    #[error("state for stack {stack:?} is not locked")]
    NotLocked { stack: String },

    /// `unlock` was given an ID that is not the current lock's.
    #[error(
        "lock ID {given} does not match the lock on stack {stack:?}, which is held by {holder}"
    )]
    LockIdMismatch {
        stack: String,
        given: String,
        holder: Box<LockInfo>,
    },

    /// The guard handed to `open_writer` no longer owns `lock.json` (or belongs to
    /// another stack): writing would race with another writer.
    #[error("the lock {id} on stack {stack:?} is no longer held (it was removed, taken over, or its lease ran out before it could be renewed); refusing to write the state: run again, and the next run repairs the state")]
    LockLost { stack: String, id: String },

    /// An earlier append failed half-way; the writer refuses further writes.
    #[error("an earlier write to {location} failed, so this state writer accepts no more changes; run the command again to recover from the journal")]
    WriterPoisoned { location: String },

    /// A remote backend's own error (a bucket that does not exist, a lost race, ...),
    /// already one line with what to do.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),

    /// Serializing the state failed (should not happen for well-formed values).
    #[error("cannot serialize the state of stack {stack:?}: {source}")]
    Serialize {
        stack: String,
        #[source]
        source: serde_json::Error,
    },
}

impl StateError {
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> StateError {
        StateError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Attaches an action and a path to `io::Result`s.
pub(crate) trait IoContext<T> {
    fn ctx(self, action: &'static str, path: &Path) -> Result<T, StateError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, action: &'static str, path: &Path) -> Result<T, StateError> {
        self.map_err(|e| StateError::io(action, path, e))
    }
}
