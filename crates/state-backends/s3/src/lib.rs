//! fedstack's S3 state backend ([`S3Backend`]): a stack's state as objects in a
//! versioned bucket, for teams that run fedstack from several machines.
//!
//! - **Durable per batch, not per state**: each batch of results that finish together
//!   is one `PutObject` of a journal segment; the snapshot is rewritten only when the
//!   journal is compacted (at the start and end of a run).
//! - **No lost updates**: every write is conditional. Segments are created with
//!   `If-None-Match: *` under a name made of their serials, the snapshot is replaced
//!   with `If-Match` on the ETag the writer last saw. A writer that loses a race stops
//!   with an error naming the other writer; it never overwrites.
//! - **Leased lock**: `lock.json` names its holder and when its lease ends; the holder
//!   renews it every third of `lock_ttl` and stops writing before it could run out. A
//!   run that died is taken over by the next one once its lease has expired, with no
//!   manual step; `fedstack state unlock` still exists.
//! - **Retries**: transient failures (5xx, `SlowDown`, dropped connections) are
//!   retried; a retried conditional write that finds its own first attempt landed
//!   recognises it by content.
//!
//! Reads take no lock and see the state as of the last committed batch.

mod backend;
mod client;
mod errors;
mod lease;
mod objects;
mod store;

pub use backend::S3Backend;
pub use client::S3Settings;
pub use errors::S3StateError;
