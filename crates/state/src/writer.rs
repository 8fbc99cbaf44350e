//! The state writer every backend hands out: the in-memory state, serials, group
//! commit and poisoning are here once; where the bytes go is the backend's
//! [`JournalStore`].

use std::fmt;

use fedstack_core::state::{JournalEntry, StateChange, StateSnapshot};

use crate::error::StateError;
use crate::journal;

/// Where a writer's bytes go: the durable half of a backend. The lines given to
/// [`append`](Self::append) are in the journal format of [`crate::journal`]; the
/// bytes given to [`compact`](Self::compact) are a snapshot as
/// [`crate::snapshot::encode`] writes it.
pub trait JournalStore: Send + fmt::Debug {
    /// Where the state is, for messages: a directory or an object prefix.
    fn location(&self) -> String;

    /// Makes the encoded entries `first..=last` durable; returns only once they are.
    /// An error means the outcome is uncertain: the writer accepts nothing more.
    fn append(&mut self, first: u64, last: u64, lines: &[u8]) -> Result<(), StateError>;

    /// Whether the journal holds anything beyond the durable snapshot.
    fn journal_is_empty(&self) -> bool;

    /// Makes `snapshot` (the state and its encoding) the durable base, then drops the
    /// journal, whose entries it holds. `None`: the durable snapshot already holds
    /// them (an interrupted compaction); only drop the journal.
    fn compact(&mut self, snapshot: Option<(&StateSnapshot, &[u8])>) -> Result<(), StateError>;
}

/// Writes one stack's state. Obtained from a backend's `open_writer`; `Send`, so it
/// can live in a dedicated thread. Keep the backend's [`crate::LockGuard`] alive for as
/// long as the writer is used.
#[derive(Debug)]
pub struct StateWriter {
    stack: String,
    snapshot: StateSnapshot,
    /// Serial of the durable snapshot.
    disk_serial: u64,
    store: Box<dyn JournalStore>,
    poisoned: bool,
}

impl StateWriter {
    /// A writer over `store`, whose durable snapshot is `snapshot` with the journal
    /// already replayed onto it; `disk_serial` is the durable snapshot's own serial.
    pub fn new(
        stack: &str,
        snapshot: StateSnapshot,
        disk_serial: u64,
        store: Box<dyn JournalStore>,
    ) -> StateWriter {
        StateWriter {
            stack: stack.to_string(),
            snapshot,
            disk_serial,
            store,
            poisoned: false,
        }
    }

    /// The current state, including every appended change.
    pub fn snapshot(&self) -> &StateSnapshot {
        &self.snapshot
    }

    /// The serial of the last recorded change.
    pub fn serial(&self) -> u64 {
        self.snapshot.serial
    }

    /// Where the state is written (a directory, an object prefix).
    pub fn location(&self) -> String {
        self.store.location()
    }

    /// Records `changes` durably: they get consecutive serials (current + 1, ...), are
    /// written with one durable write (group commit: one `write` + `fdatasync` on
    /// disk, one object in a bucket), then applied to [`snapshot`](Self::snapshot).
    /// Returns the serial of the last one (the current serial if `changes` is empty,
    /// which does no I/O).
    ///
    /// If the write fails its outcome is uncertain: the writer is poisoned and refuses
    /// further changes ([`StateError::WriterPoisoned`]); the next run recovers from
    /// the journal.
    pub fn append(&mut self, changes: Vec<StateChange>) -> Result<u64, StateError> {
        self.check_poisoned()?;
        if changes.is_empty() {
            return Ok(self.snapshot.serial);
        }
        let first = self.snapshot.serial + 1;
        let mut buf = Vec::with_capacity(changes.len() * 512);
        let mut entries = Vec::with_capacity(changes.len());
        let mut serial = self.snapshot.serial;
        for change in changes {
            serial += 1;
            let entry = JournalEntry { serial, change };
            journal::encode_entry(&entry, &mut buf).map_err(|source| StateError::Serialize {
                stack: self.stack.clone(),
                source,
            })?;
            entries.push(entry);
        }
        if let Err(e) = self.store.append(first, serial, &buf) {
            self.poisoned = true;
            return Err(e);
        }
        for entry in &entries {
            self.snapshot.apply(entry);
        }
        Ok(serial)
    }

    /// Folds the journal into a new durable snapshot and empties the journal. Does
    /// nothing if the journal is empty; never changes the serial.
    pub fn compact(&mut self) -> Result<(), StateError> {
        self.check_poisoned()?;
        if self.store.journal_is_empty() && self.snapshot.serial == self.disk_serial {
            return Ok(());
        }
        let result = if self.snapshot.serial == self.disk_serial {
            self.store.compact(None)
        } else {
            let bytes = crate::snapshot::encode(&self.snapshot, &self.stack)?;
            self.store.compact(Some((&self.snapshot, &bytes)))
        };
        if let Err(e) = result {
            self.poisoned = true;
            return Err(e);
        }
        self.disk_serial = self.snapshot.serial;
        Ok(())
    }

    /// Replaces the whole state with `snapshot`, lineage and serial included (`state
    /// migrate`): written as the new durable snapshot, the journal dropped.
    pub fn replace(&mut self, snapshot: StateSnapshot) -> Result<(), StateError> {
        self.check_poisoned()?;
        let bytes = crate::snapshot::encode(&snapshot, &self.stack)?;
        if let Err(e) = self.store.compact(Some((&snapshot, &bytes))) {
            self.poisoned = true;
            return Err(e);
        }
        self.disk_serial = snapshot.serial;
        self.snapshot = snapshot;
        Ok(())
    }

    fn check_poisoned(&self) -> Result<(), StateError> {
        if self.poisoned {
            Err(StateError::WriterPoisoned {
                location: self.store.location(),
            })
        } else {
            Ok(())
        }
    }
}
