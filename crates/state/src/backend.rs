//! The boundary every state backend implements; the CLI picks one from the stack's
//! `state:` section and works only through this.
//!
//! A backend stores one stack's state as a durable snapshot plus a journal of the
//! changes since (in the format of [`crate::journal`]), and holds one writer's lock.
//! What it must guarantee:
//! - [`load`](Backend::load) takes no lock, writes nothing, and returns the state as
//!   of the last committed batch;
//! - [`lock`](Backend::lock) admits one writer at a time, names the holder otherwise,
//!   and takes over from a holder that is certainly gone without a manual step;
//! - a writer from [`open_writer`](Backend::open_writer) makes each batch durable
//!   before `append` returns, and never overwrites another writer's work silently;
//! - a crash at any point leaves a state the next `open_writer` repairs.
//!
//! Implemented by [`crate::LocalBackend`] (a directory) and `fedstack-state-s3` (a
//! bucket). A GCS or Azure Blob backend is one more crate of the same shape: their
//! stores have the same conditional writes (generation / ETag preconditions).

use std::time::Duration;

use crate::error::StateError;
use crate::lock::{LockGuard, LockInfo};
use crate::writer::StateWriter;
use fedstack_core::state::StateSnapshot;

/// A state as read by [`Backend::load`].
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The snapshot with the journal replayed onto it.
    pub snapshot: StateSnapshot,
    /// No state exists yet: `snapshot` is empty, serial 0, with a lineage made up for
    /// this load (the real lineage is fixed when the first writer opens the state).
    pub is_new: bool,
    /// Problems that did not stop the load (a torn journal tail). Show them to the user.
    pub warnings: Vec<String>,
}

/// One stack's state, wherever it is kept.
pub trait Backend: Send + Sync {
    /// The stack name.
    fn stack(&self) -> &str;

    /// Where the state is, for messages: `state/multicloud`, `s3://bucket/prod/multicloud/`.
    fn location(&self) -> String;

    /// Reads the state without locking or changing anything.
    fn load(&self) -> Result<Loaded, StateError>;

    /// Takes the stack's lock for `operation` ("apply", "destroy", ...), waiting up to
    /// `timeout` (`Duration::ZERO`: fail at once with [`StateError::Locked`], naming
    /// the holder). Calls `on_wait(holder)` once if it has to wait.
    fn lock(
        &self,
        operation: &str,
        timeout: Duration,
        on_wait: &mut dyn FnMut(&LockInfo),
    ) -> Result<LockGuard, StateError>;

    /// The current lock, if any. Takes no lock.
    fn current_lock(&self) -> Result<Option<LockInfo>, StateError>;

    /// Removes the lock if its ID is `id`, returning what it was
    /// ([`StateError::LockIdMismatch`] or [`StateError::NotLocked`] otherwise).
    fn unlock(&self, id: &str) -> Result<LockInfo, StateError>;

    /// Opens the state for writing under `lock`: loads it, repairs what an interrupted
    /// run left (a torn journal tail), fixes the lineage of a new stack and compacts.
    /// Returns the writer and the warnings to show the user.
    fn open_writer(&self, lock: &LockGuard) -> Result<(StateWriter, Vec<String>), StateError>;
}
