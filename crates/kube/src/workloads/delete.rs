//! Deleting what an apply left ([`Inventory`]): in [`delete_order`], each with
//! `propagationPolicy: Foreground` (custom resources: `Background`) and the uid it was applied with as a precondition (an
//! object of the same name made by someone else since is not touched), then waiting on
//! watch events until it is gone. Each object gets `timeout`; one still there after it is
//! [`WorkloadError::Stuck`] naming it and the finalizers holding it. A kind the cluster no
//! longer serves (its CRD went first) means its objects are gone.

use std::time::Duration;

use fedstack_provider::Progress;
use kube::api::{DeleteParams, DynamicObject, Preconditions};
use serde_json::Value;
use tokio::time::Instant;

use super::discovery::Resolver;
use super::errors::{Result, WorkloadError};
use super::kinds::is_builtin_group;
use super::object::InventoryEntry;
use super::order::delete_order;
use super::watch::{wait_object, Waited};
use crate::federation::Cluster;

/// The finalizer the API server adds for a foreground deletion; the garbage collector
/// removes it once the object's dependents are gone.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// How long each object gets to go away, unless the caller says otherwise.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(300);

/// Deletes every object of `inventory` from `cluster` (reverse apply order) and waits
/// until each is gone, `timeout` per object.
pub async fn delete_inventory(
    cluster: &Cluster,
    inventory: &[InventoryEntry],
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<()> {
    let mut resolver = Resolver::new(cluster);
    for entry in delete_order(inventory) {
        delete_one(&mut resolver, entry, timeout, progress).await?;
    }
    Ok(())
}

/// Deletes one object and waits until it is gone.
pub(crate) async fn delete_one(
    resolver: &mut Resolver<'_>,
    entry: &InventoryEntry,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<()> {
    let cluster = resolver.cluster;
    let object = &entry.object;
    let Some(served) = resolver.resolve(object).await? else {
        return Ok(());
    };
    let api = served.api(cluster, object.namespace.as_deref());
    // Foreground for the API server's own kinds: the wait covers their dependents (a
    // Deployment's ReplicaSets and Pods). A custom resource gets background deletion:
    // the garbage collector learns new kinds only when it next re-reads discovery (every
    // 30s), and until then would hold a foreground deletion of one on its finalizer.
    let mut params = if is_builtin_group(&object.group) {
        DeleteParams::foreground()
    } else {
        DeleteParams::background()
    };
    if !entry.uid.is_empty() {
        params = params.preconditions(Preconditions {
            uid: Some(entry.uid.clone()),
            resource_version: None,
        });
    }
    progress.status(&format!("deleting {object}"));
    match api.delete(&object.name, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
        // The uid precondition failed: the object of that name is not the one fedstack
        // applied (someone made another since); it is not fedstack's to delete.
        Err(kube::Error::Api(s)) if s.code == 409 => return Ok(()),
        Err(e) => {
            return Err(WorkloadError::from_kube(
                &cluster.name,
                format!("delete {object} in cluster {}", cluster.name),
                e,
            ))
        }
    }
    let gone = |o: Option<&DynamicObject>| match o {
        None => true,
        Some(o) => !entry.uid.is_empty() && o.metadata.uid.as_deref() != Some(entry.uid.as_str()),
    };
    let waited = wait_object(&api, &object.name, Instant::now() + timeout, gone)
        .await
        .map_err(|e| {
            WorkloadError::from_kube(
                &cluster.name,
                format!("watch {object} in cluster {}", cluster.name),
                e,
            )
        })?;
    match waited {
        Waited::Done(_) => Ok(()),
        Waited::TimedOut(last) => Err(WorkloadError::Stuck {
            object: object.to_string(),
            after: timeout,
            finalizers: last.as_ref().map(holding_finalizers).unwrap_or_default(),
        }),
    }
}

/// The finalizers holding a deleted object: `metadata.finalizers` (and a Namespace's
/// `spec.finalizers`), the API server's own `foregroundDeletion` only when nothing else
/// holds it.
pub(crate) fn holding_finalizers(o: &DynamicObject) -> Vec<String> {
    let mut all: Vec<String> = o.metadata.finalizers.clone().unwrap_or_default();
    if let Some(spec) = o.data["spec"]["finalizers"].as_array() {
        for f in spec.iter().filter_map(Value::as_str) {
            if !all.iter().any(|x| x == f) {
                all.push(f.to_string());
            }
        }
    }
    let others: Vec<String> = all
        .iter()
        .filter(|f| *f != FOREGROUND_FINALIZER && *f != "orphan")
        .cloned()
        .collect();
    if others.is_empty() {
        all
    } else {
        others
    }
}
