//! `provider: gcp`: GKE clusters and node pools through Google's official Rust client
//! (`google-cloud-container-v1`), authenticated with Application Default Credentials
//! or a `credentials_file`.
//!
//! Every mutation returns a GKE `Operation`, which [`operation`] polls until DONE
//! (with live progress) and checks for an error. The client's own retries are off:
//! [`errors`] classifies each failure and the provider retries in one place (429 and
//! 5xx with backoff; FAILED_PRECONDITION "incompatible operation" by waiting the other
//! operation out).

mod config;
mod credentials;
mod errors;
mod gke;
mod operation;
mod provider;

pub use config::{GcpOptions, GcpSettings, Op, Timeouts};
pub use provider::GcpProvider;
