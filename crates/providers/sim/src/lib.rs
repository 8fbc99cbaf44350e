//! Simulated clouds: `provider: sim` in a stack.
//!
//! The sim models GKE, EKS and AKS clusters and their node pools, kubefed federation
//! (join / unjoin), and Route 53 hosted zones, records and health checks: their fields,
//! their validation, their provisioning states and realistic latencies. It makes the
//! whole fedstack flow work with no cloud account.
//!
//! # The world
//! Every sim cloud of one state directory shares one *world*, so that reality survives
//! between runs and can drift (`fedstack sim set|delete`). It lives in
//! `<state_dir>/.sim/` (mode 0700):
//!
//! - `world.jsonl` (0600): an append-only log, one JSON op per line, each written with a
//!   single `write()` (no fsync: a `kill -9` of fedstack loses nothing written; a torn
//!   last line is ignored and cut off by the next writer):
//!   ```text
//!   {"op":"format","version":1}
//!   {"op":"put","obj":{"kind":"cluster","name":"gke-sydney","account":"gcp","flavor":"gke",
//!     "attrs":{...},"outputs":{...},"created_at":1732150000000,"ready_at":1732150012000,
//!     "generation":1}}
//!   {"op":"del","key":"cluster.gke-sydney"}
//!   ```
//!   Optional object fields: `delete_at` (deleting until then, gone after), `pending_op`
//!   (`update` while an update is in progress), `failed` (set by `sim set status=failed`),
//!   `token_generation`. Times are unix milliseconds. The log is loaded into memory at
//!   open and compacted (temporary file + rename) at open or `finish` when it holds
//!   more than `2 * live + 256` ops.
//! - `seed` (0600): the world's random seed. **No secret is stored**: cluster
//!   `admin_token` and member `token` are `hex(sha256(seed, kind, name, generation))`
//!   (`token_generation` for members), derived on read.
//! - `lock`: an advisory lock (`File::lock`), held while the world is open in a process:
//!   exclusive for writers, shared for read-only opens (`ProviderContext::read_only`).
//!   A process that finds it taken waits up to `FEDSTACK_SIM_LOCK_TIMEOUT` (10 s), then
//!   fails with a `Transient` error naming the holder's pid. [`list`] does not lock: the
//!   log is append-only and compaction renames, so a snapshot is always consistent.
//!
//! All sim clouds of a process share one in-memory world (a registry keyed by the
//! canonical directory); it closes, releasing the lock, when the last one is dropped.
//! Objects are keyed by kind and cloud name, which is the address name:
//! `cluster.gke-sydney` is the object of kind `cluster` named `gke-sydney`, whatever
//! cloud (account) made it.
//!
//! Status is computed lazily from timestamps: there are no background tasks. An object
//! whose `ready_at` is in the future is `Pending` (`PROVISIONING` while created,
//! `RECONCILING` on GKE or `UPDATING` elsewhere while updated), one with a `delete_at`
//! is `Deleting` until then and gone afterwards (purged from the log lazily).
//!
//! # Errors
//! | class | when |
//! |---|---|
//! | `Invalid` | a field breaks the cloud's rules; an in-place change of a replace-only attribute; a dependency missing during an *update* |
//! | `NotFound` | a dependency (cluster, host, zone, health check) missing during a *create*; `update`/`wait_ready` of an absent or deleting object |
//! | `AlreadyExists` | create of an existing object (adopt it) |
//! | `Transient` (retry; `retry_after` set) | "operation in progress": create while the object is still being deleted, update while pending, a dependency still provisioning, delete blocked only by dependents already being deleted; the world locked by another process |
//! | `Throttled` (retry) | `FEDSTACK_SIM_THROTTLE` ("Rate exceeded") |
//! | `Permanent` | delete blocked by dependents (EKS `ResourceInUseException`, `HostedZoneNotEmpty`, `HealthCheckInUse`, kubefed host with members), joining a member to a second host, an object in a failed state, `FEDSTACK_SIM_FAIL` ("injected failure"), writes through a read-only cloud, I/O errors |
//!
//! # Entry points
//! - [`SimProvider`]: the [`Provider`](fedstack_provider::Provider) implementation.
//! - [`list`], [`delete`], [`set`]: inspection for `fedstack sim list|delete|set`.
//! - [`SimOptions`]: fault injection and latency scaling (normally from the environment).
//! - [`default_latency`]: the realistic latencies used without a `latency` setting.

mod clock;
mod config;
mod errors;
mod hold;
mod inspect;
mod latency;
mod naming;
mod object;
mod provider;
mod validate;
mod world;

pub use config::{FailRule, SimOperation, SimOptions};
pub use errors::SimError;
pub use hold::marker as held_marker;
pub use inspect::{delete, list, set, SimObjectView};
pub use latency::default_latency;
pub use provider::SimProvider;
