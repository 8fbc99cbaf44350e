//! Kubernetes API access for fedstack, on kube-rs (rustls, no OpenSSL).
//!
//! - [`client_for`] / [`client_from_kubeconfig`]: clients from a
//!   [`ClusterAccess`](fedstack_provider::ClusterAccess) or a user's kubeconfig, with
//!   connect and read timeouts.
//! - [`render_kubeconfig`]: a standalone kubeconfig (credentials embedded) for clusters
//!   fedstack knows (`fedstack output kubeconfig`).
//! - [`federation`]: a kubefed-compatible host setup, join and unjoin (the objects of
//!   `kubefedctl join`, `core.kubefed.io/v1beta1`), idempotent, and reads that notice
//!   drift (a deleted or stale host Secret, an edited `KubeFedCluster` or role).
//! - [`objects`]: the objects themselves, built as JSON with no I/O (unit-tested).
//! - [`resources`]: the `federation_host` / `federation_member` resources on top of
//!   [`federation`], for any [`resources::ClusterSource`] (local control planes, or
//!   clusters reached through their clouds' `cluster_access`).
//! - [`workload_resource`]: the `workload.<cluster>.<name>` resource over the same sources.
//! - [`workloads`]: manifests (located YAML), server-side apply in dependency order with
//!   an inventory, prune, bounded delete, drift and rollout status.
//!
//! Errors are [`KubeError`]s: one line, classified for the engine, never a token.

mod client;
mod errors;
pub mod federation;
mod kubeconfig;
pub mod objects;
pub mod resources;
pub mod workload_resource;
pub mod workloads;

pub use client::{client_for, client_from_kubeconfig, get_text};
pub use errors::KubeError;
pub use federation::{Cluster, HostObserved, MemberObserved};
pub use kubeconfig::{
    access_from_kubeconfig, kubeconfig_document, load_kubeconfig, render_kubeconfig, to_yaml,
    KubeconfigTarget,
};
pub use objects::{Join, JoinNames, Scope};
