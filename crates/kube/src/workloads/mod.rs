//! Workloads across the federation, the Kubernetes half: manifests read from YAML with
//! their locations, applied to a cluster by server-side apply (field manager
//! `fedstack`), pruned, deleted, checked for drift and followed through their rollouts.
//!
//! - [`manifests`]: load and validate (`file:line:column` errors with hints), scopes and
//!   default namespaces;
//! - [`order`]: apply order (CRDs, namespaces, cluster RBAC, ..., custom resources) and
//!   deletion in reverse;
//! - [`apply`](apply::apply): server-side apply, ownership checks, CRDs awaited; returns
//!   the [`Inventory`];
//! - [`prune`](prune::prune): delete what a previous inventory has and the new one not;
//! - [`delete_inventory`](delete::delete_inventory): delete everything, bounded waits
//!   naming a stuck object and its finalizers;
//! - [`readiness`]: rollout status and [`wait_rollout`](readiness::wait_rollout);
//! - [`render`]: a cluster's share of the replicas and its overrides, and the recorded
//!   form plans and state carry (Secret data as a fingerprint);
//! - [`drift`]: what differs in the fields the manifests set (Secret values never shown).
//!
//! Errors are [`WorkloadError`]s; an unreachable cluster is
//! [`WorkloadError::Unreachable`], so a caller fails only that cluster's resource.

pub mod apply;
pub mod delete;
pub(crate) mod discovery;
pub mod drift;
mod errors;
mod kinds;
pub mod manifests;
mod object;
pub mod order;
mod patch;
pub mod prune;
pub mod readiness;
pub mod render;
mod watch;
mod yaml;

pub use apply::{apply, ApplyOptions, CRD_ESTABLISHED_TIMEOUT};
pub use delete::{delete_inventory, DELETE_TIMEOUT, FOREGROUND_FINALIZER};
pub(crate) use drift::read_live;
pub use drift::{
    changes, diff, project, read_drift, secret_fingerprint, Difference, ObjectDrift, SENSITIVE,
};
pub use errors::WorkloadError;
pub use manifests::{
    load_manifests, manifests_from_str, manifests_from_texts, Manifest, ManifestError,
    ManifestErrors, ManifestSet, ObjectScope, Source,
};
pub use object::{Inventory, InventoryEntry, ObjectRef};
pub use order::{apply_order, delete_order};
pub use prune::{prune, stale};
pub use readiness::{has_rollout, read_rollout, rollout_of, wait_rollout, Rollout};
pub use render::{
    from_recorded, image_references, recorded, render, substitute, substitute_value, RenderError,
};
