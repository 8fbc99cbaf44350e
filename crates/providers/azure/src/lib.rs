//! `provider: azure`: AKS managed clusters and agent pools through Azure Resource
//! Manager.
//!
//! No maintained Rust crate covers AKS management, so this is a small typed client of
//! ours for exactly the calls used, on Microsoft's official `azure_core` pipeline and
//! `azure_identity` credentials, at one pinned GA api-version
//! ([`AKS_API_VERSION`](config::AKS_API_VERSION)); bodies use the field names the
//! published spec spells.
//!
//! - `config.rs` the cloud's settings; `credentials.rs` which Entra ID credential;
//!   `arm.rs` the pipeline and its TLS roots; `operation.rs` following ARM's async
//!   operations; `aks.rs` clusters, pools, the resource group; `errors.rs` ARM errors
//!   onto error classes, and the retry loop.
//! - The resource group is made when missing (tagged `managed-by: fedstack` and the
//!   stack), and removed after the last cluster only when it is fedstack's and empty.
//! - A cluster is made with its system pool (the stack's first node pool); AKS never
//!   deletes a cluster's last system pool on its own, so that pool's delete is left to
//!   its cluster.
//!
//! # Errors
//! | class | when |
//! |---|---|
//! | `Throttled` | 429 (waited as `Retry-After` says) |
//! | `Transient` | 5xx, connection errors, 409 `OperationNotAllowed` (another operation runs: waited out) |
//! | `Denied` | 401/403, `AuthorizationFailed`, no credential |
//! | `Invalid` | a version AKS does not offer, a change AKS refuses in place, a bad setting |
//! | `Permanent` | quota, an operation that ended Failed or Canceled, an untrusted TLS certificate, a timeout |

mod aks;
mod arm;
pub mod config;
mod credentials;
mod errors;
mod operation;
mod provider;

pub use provider::AzureProvider;
