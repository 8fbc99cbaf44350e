//! Simulated clouds: `provider: sim` in a stack.
//!
//! The sim models GKE, EKS and AKS clusters and their node pools, kubefed federation
//! (join / unjoin), and Route 53 hosted zones, records and health checks: their fields,
//! their validation, their provisioning states and realistic latencies. It makes the
//! whole fedstack flow work with no cloud account.
//!
//! # The world
//! Every sim cloud of one state directory shares one *world*, kept in
//! `<state_dir>/.sim/world.jsonl`, so that reality survives between runs and can drift
//! (`fedstack sim set|delete`). See [`world`](crate::world) for the file format and
//! locking. Objects are keyed by kind and cloud name, which is the address name:
//! `cluster.gke-sydney` is the object of kind `cluster` named `gke-sydney`.
//!
//! Status is computed lazily from timestamps: there are no background tasks. An object
//! whose `ready_at` is in the future is `Pending`, one with a `delete_at` is `Deleting`
//! until then and gone afterwards.
//!
//! # Entry points
//! - [`SimProvider`]: the [`Provider`](fedstack_provider::Provider) implementation.
//! - [`list`], [`delete`], [`set`]: inspection for `fedstack sim list|delete|set`.
//! - [`SimOptions`]: fault injection and latency scaling (normally from the environment).

mod clock;
mod config;
mod errors;
mod inspect;
mod latency;
mod naming;
mod object;
mod provider;
mod validate;
mod world;

pub use config::{FailRule, SimOperation, SimOptions};
pub use errors::SimError;
pub use inspect::{delete, list, set, SimObjectView};
pub use latency::default_latency;
pub use provider::SimProvider;
