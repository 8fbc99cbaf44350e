//! The `workload.<cluster>.<name>` resource: one workload's manifests on one member
//! cluster, found through the same [`ClusterSource`] as the federation resources.
//!
//! - create/update render the manifests from the files again (replicas, overrides) and
//!   refuse when the result is not what the plan showed (`objects`); then record the
//!   union of the previous and the new inventory on the cluster, apply, prune what left
//!   the manifests, record the new inventory, and follow the rollouts;
//! - read projects the live objects onto the recorded `objects` (drift is a difference
//!   there) and reads the rollouts (outputs `desired`, `ready`, `rollout`);
//! - delete removes the recorded inventory in reverse order, each object bounded by the
//!   workload's `timeout`, naming what is stuck.
//!
//! The inventory lives on the cluster too (ConfigMap `kube-system/fedstack-workload-<name>-<hash of the stack and name>`),
//! written before anything is applied, so pruning never depends on a state write that a
//! crash may have lost: an object is on the cluster only if some inventory lists it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use fedstack_provider::{
    ErrorClass, Observed, Progress, ProviderError, ResourceSpec, ResourceStatus,
};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::core::ObjectMeta;
use serde_json::{json, Value};

use crate::federation::Cluster;
use crate::objects::{FIELD_MANAGER, MANAGED_BY, MANAGED_BY_LABEL};
use crate::resources::{need_running, ClusterSource, View};
use crate::workloads::render::{from_recorded, recorded, render, substitute};
use crate::workloads::{
    apply, delete_inventory, has_rollout, load_manifests, project, prune, read_rollout,
    wait_rollout, ApplyOptions, Inventory, InventoryEntry, ManifestSet, Rollout, WorkloadError,
};

/// Where each cluster keeps its workloads' inventories.
pub const RECORD_NAMESPACE: &str = "kube-system";
/// Rollouts and deletions wait this long when the spec says nothing (5 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// What a workload resource's attributes say.
struct WorkloadSpec<'a> {
    cluster: &'a str,
    name: &'a str,
    namespace: &'a str,
    wait: bool,
    adopt: bool,
    timeout: Duration,
}

fn invalid(message: String) -> ProviderError {
    ProviderError::new(ErrorClass::Invalid, message)
}

fn parse(spec: &ResourceSpec) -> Result<WorkloadSpec<'_>, ProviderError> {
    let s = |k: &str| spec.attrs.get(k).and_then(Value::as_str);
    let cluster =
        s("cluster").ok_or_else(|| invalid(format!("{} has no `cluster`", spec.address)))?;
    let name =
        s("workload").ok_or_else(|| invalid(format!("{} has no `workload`", spec.address)))?;
    Ok(WorkloadSpec {
        cluster,
        name,
        namespace: s("namespace").unwrap_or(name),
        wait: spec
            .attrs
            .get("wait")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        adopt: spec
            .attrs
            .get("adopt")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        timeout: spec
            .attrs
            .get("timeout")
            .and_then(Value::as_u64)
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis),
    })
}

/// `fedstack-workload-WORKLOAD-HASH`, HASH the first 10 hex digits of sha256 of the stack
/// and the workload: one record per stack and workload (two stacks deploying a workload
/// of the same name to one cluster never share it), always a valid object name.
fn record_name(stack: &str, workload: &str) -> String {
    let fp = fedstack_core::state::fingerprint(&format!("{stack}/{workload}"));
    let hex = fp.trim_start_matches("sha256:");
    format!("fedstack-workload-{workload}-{}", &hex[..10.min(hex.len())])
}

/// The manifests of `spec` as its cluster gets them, read from its files. The errors are
/// the loader's and the overrides', one per line.
pub fn rendered(spec: &ResourceSpec) -> Result<ManifestSet, String> {
    let namespace = spec
        .attrs
        .get("namespace")
        .and_then(Value::as_str)
        .or_else(|| spec.attrs.get("workload").and_then(Value::as_str))
        .unwrap_or("default");
    let path = spec
        .attrs
        .get("manifests")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{} has no `manifests`", spec.address))?;
    let set = load_manifests(Path::new(path), namespace).map_err(|e| e.to_string())?;
    let replicas = spec.attrs.get("replicas").and_then(Value::as_u64);
    let overrides = spec
        .attrs
        .get("overrides")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    render(&set, replicas, &overrides).map_err(|e| {
        format!(
            "{}: override {} of cluster {}: {} (hint: {})",
            spec.address,
            e.patch + 1,
            spec.attrs
                .get("cluster")
                .and_then(Value::as_str)
                .unwrap_or("?"),
            e.message,
            e.hint
        )
    })
}

// ----- the inventory record on the cluster ------------------------------------------

async fn read_record(
    cluster: &Cluster,
    workload: &str,
) -> Result<Option<Inventory>, ProviderError> {
    let api: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), RECORD_NAMESPACE);
    let name = workload.to_string();
    let cm = api.get_opt(&name).await.map_err(|e| {
        WorkloadError::from_kube(
            &cluster.name,
            format!(
                "read ConfigMap {RECORD_NAMESPACE}/{name} in cluster {}",
                cluster.name
            ),
            e,
        )
    })?;
    let Some(cm) = cm else {
        return Ok(None);
    };
    let text = cm
        .data
        .as_ref()
        .and_then(|d| d.get("inventory"))
        .map(String::as_str)
        .unwrap_or("[]");
    serde_json::from_str(text).map(Some).map_err(|e| {
        invalid(format!(
            "ConfigMap {RECORD_NAMESPACE}/{name} in cluster {} is not a fedstack inventory ({e}) (hint: if something else made it, rename the workload)",
            cluster.name
        ))
    })
}

async fn write_record(
    cluster: &Cluster,
    workload: &str,
    inventory: &[InventoryEntry],
) -> Result<(), ProviderError> {
    let api: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), RECORD_NAMESPACE);
    let name = workload.to_string();
    let text = serde_json::to_string(inventory)
        .map_err(|e| invalid(format!("cannot encode the inventory of {workload}: {e}")))?;
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(RECORD_NAMESPACE.into()),
            labels: Some(BTreeMap::from([(
                MANAGED_BY_LABEL.to_string(),
                MANAGED_BY.to_string(),
            )])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("inventory".to_string(), text)])),
        ..Default::default()
    };
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&cm),
    )
    .await
    .map_err(|e| {
        WorkloadError::from_kube(
            &cluster.name,
            format!(
                "write ConfigMap {RECORD_NAMESPACE}/{name} in cluster {}",
                cluster.name
            ),
            e,
        )
    })?;
    Ok(())
}

async fn delete_record(cluster: &Cluster, workload: &str) -> Result<(), ProviderError> {
    let api: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), RECORD_NAMESPACE);
    let name = workload.to_string();
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(WorkloadError::from_kube(
            &cluster.name,
            format!(
                "delete ConfigMap {RECORD_NAMESPACE}/{name} in cluster {}",
                cluster.name
            ),
            e,
        )
        .into()),
    }
}

/// `a` followed by the entries of `b` it does not have.
fn union(a: &[InventoryEntry], b: &[InventoryEntry]) -> Inventory {
    let mut out = a.to_vec();
    for e in b {
        if !out.iter().any(|x| x.object.same_object(&e.object)) {
            out.push(e.clone());
        }
    }
    out
}

fn planned(set: &ManifestSet) -> Inventory {
    set.objects
        .iter()
        .map(|m| InventoryEntry {
            object: m.object.clone(),
            uid: String::new(),
        })
        .collect()
}

// ----- rollouts ------------------------------------------------------------------------

/// The rollouts of an inventory, summed: (desired, ready, state).
async fn rollouts(
    cluster: &Cluster,
    inventory: &[InventoryEntry],
) -> Result<(i64, i64, String), ProviderError> {
    let (mut desired, mut ready, mut state) = (0, 0, "complete".to_string());
    for e in inventory
        .iter()
        .filter(|e| has_rollout(&e.object.group, &e.object.kind))
    {
        match read_rollout(cluster, &e.object).await? {
            Rollout::Complete => {}
            Rollout::Progressing {
                ready: r,
                desired: d,
                ..
            } => {
                desired += d.max(0);
                ready += r;
                if state == "complete" {
                    state = "progressing".into();
                }
                continue;
            }
            Rollout::Failed { reason } => {
                state = format!("failed: {} {reason}", e.object);
            }
        }
        let n = replicas_of(cluster, e).await?;
        desired += n;
        ready += n;
    }
    Ok((desired, ready, state))
}

/// A complete rollout's replicas (Deployments, StatefulSets: `spec.replicas`; others 1).
async fn replicas_of(cluster: &Cluster, e: &InventoryEntry) -> Result<i64, ProviderError> {
    if e.object.group != "apps" || !matches!(e.object.kind.as_str(), "Deployment" | "StatefulSet") {
        return Ok(1);
    }
    let gvk = kube::api::GroupVersionKind::gvk(&e.object.group, &e.object.version, &e.object.kind);
    let plural = format!("{}s", e.object.kind.to_lowercase());
    let ar = kube::api::ApiResource::from_gvk_with_plural(&gvk, &plural);
    let ns = e.object.namespace.as_deref().unwrap_or("default");
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(cluster.client.clone(), ns, &ar);
    let o = api.get_opt(&e.object.name).await.map_err(|err| {
        WorkloadError::from_kube(
            &cluster.name,
            format!("read {} in cluster {}", e.object, cluster.name),
            err,
        )
    })?;
    Ok(o.and_then(|o| o.data["spec"]["replicas"].as_i64())
        .unwrap_or(1))
}

fn outputs(
    w: &WorkloadSpec<'_>,
    desired: i64,
    ready: i64,
    rollout: &str,
) -> fedstack_core::value::Values {
    let mut out = fedstack_core::value::Values::new();
    out.insert(
        "id".into(),
        json!(format!("{}/{}/{}", w.cluster, w.namespace, w.name)),
    );
    out.insert("desired".into(), json!(desired));
    out.insert("ready".into(), json!(ready));
    out.insert("rollout".into(), json!(rollout));
    out
}

// ----- the resource ---------------------------------------------------------------------

/// Reads a workload on its cluster; `None` when it has no inventory there.
pub async fn read_workload(
    source: &dyn ClusterSource,
    spec: &ResourceSpec,
) -> Result<Option<Observed>, ProviderError> {
    let w = parse(spec)?;
    let cluster = match source.view(w.cluster).await? {
        View::Missing => return Ok(None),
        // What is on it cannot be seen: the recorded attributes stand.
        View::Unreachable => {
            return Ok(Some(Observed {
                attrs: spec.attrs.clone(),
                outputs: outputs(
                    &w,
                    0,
                    0,
                    &format!("unknown: {} is not running", source.describe(w.cluster)),
                ),
                secrets: Default::default(),
                status: ResourceStatus::Ready,
            }))
        }
        View::Running(c) => c,
    };
    let Some(inventory) = read_record(&cluster, &record_name(source.stack(), w.name)).await? else {
        return Ok(None);
    };
    let mut attrs = spec.attrs.clone();
    if let Some(objects) = spec.attrs.get("objects") {
        attrs.insert(
            "objects".into(),
            live_objects(&cluster, objects, w.namespace, &references(spec)).await?,
        );
    }
    attrs.insert("inventory".into(), json!(inventory));
    let (desired, ready, rollout) = rollouts(&cluster, &inventory).await?;
    Ok(Some(Observed {
        attrs,
        outputs: outputs(&w, desired, ready, &rollout),
        secrets: Default::default(),
        status: ResourceStatus::Ready,
    }))
}

/// The live objects projected onto the recorded ones; a missing object is left out. An
/// object whose image references (`${image...}`) hold their recorded values on the
/// cluster reads back as recorded, references and all.
async fn live_objects(
    cluster: &Cluster,
    objects: &Value,
    namespace: &str,
    refs: &[(String, String)],
) -> Result<Value, ProviderError> {
    let set = from_recorded(objects, namespace)
        .map_err(|e| invalid(format!("the recorded objects do not read back: {e}")))?;
    let resolved = substitute(&set, refs);
    let originals = objects.as_array().cloned().unwrap_or_default();
    let mut resolver = crate::workloads::discovery::Resolver::new(cluster);
    let mut out = Vec::new();
    for (i, m) in resolved.objects.iter().enumerate() {
        if let Some(live) =
            crate::workloads::read_live(&mut resolver, m, &set.default_namespace).await?
        {
            let seen = project(&m.object.kind, &m.body, &live);
            match originals.get(i) {
                Some(original) if seen == m.body => out.push(original.clone()),
                _ => out.push(seen),
            }
        }
    }
    Ok(Value::Array(out))
}

/// The prefix of the attributes that carry a workload's image references.
pub const REF_PREFIX: &str = "ref:";

/// The values of the workload's image references: its `ref:ADDRESS.OUTPUT` attributes
/// (the CLI adds one per `${ADDRESS.OUTPUT}` in the objects; the engine resolves them).
fn references(spec: &ResourceSpec) -> Vec<(String, String)> {
    spec.attrs
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.strip_prefix(REF_PREFIX)?.to_string(),
                v.as_str()?.to_string(),
            ))
        })
        .collect()
}

/// Applies (create, update and adopt alike), prunes and follows the rollouts.
pub async fn ensure_workload(
    source: &dyn ClusterSource,
    spec: &ResourceSpec,
    progress: &dyn Progress,
) -> Result<Observed, ProviderError> {
    source.writable(&format!("apply {}", spec.address))?;
    let w = parse(spec)?;
    let set = rendered(spec).map_err(invalid)?;
    if let Some(expected) = spec.attrs.get("objects") {
        if recorded(&set) != *expected {
            return Err(invalid(format!(
                "{}: the manifests in {} changed since the plan was made (hint: run `fedstack plan` again)",
                spec.address,
                spec.attrs.get("manifests").and_then(Value::as_str).unwrap_or("?")
            )));
        }
    }
    // Deployed by digest: the references get the values the engine resolved for them.
    let refs = references(spec);
    let unresolved: Vec<String> = crate::workloads::image_references(&recorded(&set))
        .into_iter()
        .filter(|r| !refs.iter().any(|(k, _)| k == r))
        .collect();
    if !unresolved.is_empty() {
        return Err(invalid(format!(
            "{}: no value for ${{{}}} (hint: the reference needs its image in the stack's `images:`)",
            spec.address,
            unresolved.join("}, ${")
        )));
    }
    let set = substitute(&set, &refs);
    let cluster = need_running(source, w.cluster, spec, progress).await?;
    let previous = read_record(&cluster, &record_name(source.stack(), w.name))
        .await?
        .unwrap_or_default();
    write_record(
        &cluster,
        &record_name(source.stack(), w.name),
        &union(&previous, &planned(&set)),
    )
    .await?;
    let options = ApplyOptions {
        adopt: w.adopt,
        ..ApplyOptions::default()
    };
    let inventory = apply(&cluster, &set, &options, progress).await?;
    let pruned = prune(&cluster, &previous, &inventory, w.timeout, progress).await?;
    if !pruned.is_empty() {
        let names: Vec<String> = pruned.iter().map(ToString::to_string).collect();
        progress.status(&format!("pruned {}", names.join(", ")));
    }
    write_record(&cluster, &record_name(source.stack(), w.name), &inventory).await?;
    let (desired, ready, rollout) = if w.wait {
        wait_all(&cluster, &inventory, w.timeout, progress).await?
    } else {
        rollouts(&cluster, &inventory).await?
    };
    let mut attrs = spec.attrs.clone();
    attrs.insert("inventory".into(), json!(inventory));
    Ok(Observed {
        attrs,
        outputs: outputs(&w, desired, ready, &rollout),
        secrets: Default::default(),
        status: ResourceStatus::Ready,
    })
}

/// Waits for every rollout of `inventory`, all within `timeout`; a failed one fails the
/// resource with its reason.
async fn wait_all(
    cluster: &Cluster,
    inventory: &[InventoryEntry],
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<(i64, i64, String), ProviderError> {
    let started = Instant::now();
    for e in inventory
        .iter()
        .filter(|e| has_rollout(&e.object.group, &e.object.kind))
    {
        let left = timeout.saturating_sub(started.elapsed());
        let object = e.object.to_string();
        let outcome = wait_rollout(
            cluster,
            &e.object,
            |r| {
                if let Rollout::Progressing {
                    ready,
                    desired,
                    message,
                } = r
                {
                    progress.status(&format!(
                        "{object}: {ready}/{desired} replicas available{} [{}s elapsed]",
                        if message.is_empty() {
                            String::new()
                        } else {
                            format!(" ({message})")
                        },
                        started.elapsed().as_secs()
                    ));
                }
            },
            left,
        )
        .await?;
        if let Rollout::Failed { reason } = outcome {
            return Err(ProviderError::new(
                ErrorClass::Permanent,
                format!(
                    "{object} in cluster {} failed to roll out: {reason}",
                    cluster.name
                ),
            ));
        }
    }
    rollouts(cluster, inventory).await
}

/// Deletes everything the workload put on its cluster (reverse apply order), then its
/// inventory record.
pub async fn remove_workload(
    source: &dyn ClusterSource,
    spec: &ResourceSpec,
    progress: &dyn Progress,
) -> Result<(), ProviderError> {
    source.writable(&format!("delete {}", spec.address))?;
    let w = parse(spec)?;
    let Some(cluster) = source.running(w.cluster, progress).await? else {
        // The cluster is gone, and its objects with it.
        return Ok(());
    };
    let on_cluster = read_record(&cluster, &record_name(source.stack(), w.name))
        .await?
        .unwrap_or_default();
    let in_state: Inventory = spec
        .attrs
        .get("inventory")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let inventory = union(&on_cluster, &in_state);
    delete_inventory(&cluster, &inventory, w.timeout, progress).await?;
    delete_record(&cluster, &record_name(source.stack(), w.name)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_named_per_stack_and_stay_valid_names() {
        let a = record_name("demo", "guestbook");
        assert!(
            a.starts_with("fedstack-workload-guestbook-") && a.len() == 38,
            "{a}"
        );
        assert_eq!(a, record_name("demo", "guestbook"));
        // Neither another stack nor a split that reads the same may share it.
        assert_ne!(record_name("a", "b-c"), record_name("a-b", "c"));
        assert_ne!(a, record_name("prod", "guestbook"));
        assert!(record_name(&"s".repeat(63), &"w".repeat(63)).len() <= 253);
    }
}
