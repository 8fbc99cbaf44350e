//! fedstack's state: the [`Backend`] boundary every state backend implements, the
//! [`StateWriter`] they share, and the local backend.
//!
//! ## The local backend
//!
//! Each stack's state lives in `<state_dir>/<stack>/` (directory mode 0700, files 0600):
//!
//! | file                    | content |
//! |-------------------------|---------|
//! | `snapshot.json`         | the compacted [`StateSnapshot`](fedstack_core::state::StateSnapshot), compact JSON |
//! | `snapshot.json.backup`  | the snapshot before the last compaction |
//! | `journal.log`           | changes since the snapshot: `<crc32 of json, 8 lowercase hex> <JournalEntry json>\n` per line |
//! | `lock.json`             | the writer's [`LockInfo`], present while a writer runs |
//! | `journal.torn-<secs>`   | a damaged journal tail moved aside by a repair |
//!
//! **Durability.** [`StateWriter::append`] writes all its changes with one `write`
//! and one `fdatasync` before returning. [`StateWriter::compact`] writes the new
//! snapshot to a temporary file, fsyncs it, renames it over `snapshot.json` (the old
//! one having become `snapshot.json.backup` the same way) and fsyncs the directory;
//! only then is the journal emptied. At any crash point, snapshot + journal replay
//! give every change whose `append` returned.
//!
//! **Reading** ([`LocalBackend::load`]) takes no lock and writes nothing.
//! **Writing** needs the stack's lock ([`LocalBackend::lock`]) and
//! [`LocalBackend::open_writer`], which also repairs a torn journal tail and compacts.
//!
//! ```no_run
//! # use std::{path::Path, time::Duration};
//! # use fedstack_state::{LocalBackend, StateError};
//! # fn main() -> Result<(), StateError> {
//! let backend = LocalBackend::new(Path::new("state"), "multicloud");
//! let lock = backend.lock("apply", Duration::from_secs(30))?;
//! let (mut writer, warnings) = backend.open_writer(&lock)?;
//! # let changes = vec![];
//! writer.append(changes)?; // durable on return
//! writer.compact()?;
//! drop(writer);
//! lock.release()?;
//! # let _ = warnings;
//! # Ok(()) }
//! ```

mod backend;
mod error;
mod fsutil;
pub mod journal;
mod local;
mod lock;
pub mod snapshot;
mod writer;

pub use backend::{Backend, Loaded};
pub use error::StateError;
pub use local::{LocalBackend, BACKUP_FILE, JOURNAL_FILE, SNAPSHOT_FILE, TORN_PREFIX};
pub use lock::{hostname, Lease, LockGuard, LockInfo, LOCK_POLL_INTERVAL};
pub use writer::{JournalStore, StateWriter};

/// The name of the lock file in a stack directory.
pub const LOCK_FILE: &str = lock::LOCK_FILE;
