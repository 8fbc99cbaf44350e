//! Server-side apply of a [`ManifestSet`] in [`apply_order`], field manager `fedstack`,
//! without force: discovery for each kind, the namespace made when missing, a CRD's
//! Established condition awaited (on watch events, bounded) before its custom resources.
//!
//! Ownership: an object that exists and has no managed-fields entry of `fedstack` is
//! someone else's: [`WorkloadError::NotOurs`] naming its field managers, unless `adopt`
//! (then fedstack takes it over, forcing its fields). A field conflict with another
//! *applier* (a managed-fields entry with operation `Apply`: another declarative tool) is
//! [`WorkloadError::FieldConflict`] naming it and the fields. A conflict only with
//! imperative edits (operation `Update`: `kubectl edit`, `kubectl scale`, a patch) is
//! drift made behind fedstack's back: the manifests are the source of truth, so fedstack
//! applies again taking those fields back.
//!
//! Every applied object carries the label `app.kubernetes.io/managed-by: fedstack` (unless
//! its manifest sets that label itself): besides saying who manages it, it gives fedstack
//! a field of its own even when a manifest sets nothing but a name, and without one the
//! API server records no managed-fields entry for `fedstack`.
//!
//! A namespace fedstack had to create is in the returned inventory (before the first
//! object in it), so deleting the workload removes it; one that existed before is left
//! alone.

use std::collections::HashSet;
use std::time::Duration;

use fedstack_provider::Progress;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::discovery::{Resolver, Served};
use super::errors::{Result, WorkloadError};
use super::manifests::{set_namespace, Manifest, ManifestSet, ObjectScope};
use super::object::{Inventory, InventoryEntry, ObjectRef};
use super::order::apply_order;
use super::watch::{wait_object, Waited};
use crate::federation::Cluster;
use crate::objects::{FIELD_MANAGER, MANAGED_BY, MANAGED_BY_LABEL};

/// How long a CRD gets to become established, unless told otherwise.
pub const CRD_ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(60);

/// How to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Take over objects that exist and were not made by fedstack.
    pub adopt: bool,
    /// How long each CRD of the manifests gets to become established.
    pub crd_timeout: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            adopt: false,
            crd_timeout: CRD_ESTABLISHED_TIMEOUT,
        }
    }
}

/// Applies `set` to `cluster`; returns what is there now, in apply order.
pub async fn apply(
    cluster: &Cluster,
    set: &ManifestSet,
    options: &ApplyOptions,
    progress: &dyn Progress,
) -> Result<Inventory> {
    let mut resolver = Resolver::new(cluster);
    let mut inventory: Inventory = Vec::new();
    let mut namespaces: HashSet<String> = HashSet::new();
    let mut established: HashSet<String> = HashSet::new();
    for m in apply_order(&set.objects) {
        if let Some(crd) = set.crd_for(&m.object.group, &m.object.kind) {
            if established.insert(crd.object.name.clone()) {
                progress.status(&format!(
                    "waiting for CustomResourceDefinition {} to be established",
                    crd.object.name
                ));
                wait_established(cluster, &crd.object.name, options.crd_timeout).await?;
                resolver.forget(&m.object.group);
            }
        }
        let served = resolver.require(&m.object).await.map_err(|e| at(m, e))?;
        let mut m = m.clone();
        if served.namespaced {
            if m.object.namespace.is_none() {
                set_namespace(&mut m, &set.default_namespace);
            }
        } else if m.object.namespace.is_some() && m.scope == ObjectScope::Unknown {
            return Err(WorkloadError::Invalid(format!(
                "{}: {} {} is cluster-scoped but sets metadata.namespace (hint: remove metadata.namespace)",
                m.source, m.object.kind, m.object.name
            )));
        }
        if let Some(ns) = m.object.namespace.clone() {
            if namespaces.insert(ns.clone()) {
                if let Some(entry) = ensure_namespace(cluster, &ns, progress).await? {
                    if !inventory
                        .iter()
                        .any(|e| e.object.same_object(&entry.object))
                    {
                        inventory.push(entry);
                    }
                }
            }
        }
        progress.status(&format!("applying {}", m.object));
        let entry = apply_one(cluster, &served, &m, options.adopt).await?;
        if m.object.group.is_empty() && m.object.kind == "Namespace" {
            namespaces.insert(m.object.name.clone());
        }
        if let Some((group, _)) = m.crd_defines() {
            resolver.forget(group);
        }
        inventory.retain(|e| !e.object.same_object(&entry.object));
        inventory.push(entry);
    }
    Ok(inventory)
}

fn at(m: &Manifest, e: WorkloadError) -> WorkloadError {
    match e {
        WorkloadError::Invalid(msg) => WorkloadError::Invalid(format!("{}: {msg}", m.source)),
        other => other,
    }
}

/// The distinct field managers of `o`, with whether any of their entries is an `Apply`.
pub(crate) fn managers_of(o: &DynamicObject) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    for f in o.metadata.managed_fields.iter().flatten() {
        let Some(name) = f.manager.clone() else {
            continue;
        };
        let applies = f.operation.as_deref() == Some("Apply");
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 |= applies,
            None => out.push((name, applies)),
        }
    }
    out
}

/// Whether fedstack manages fields of `o`.
pub(crate) fn is_ours(o: &DynamicObject) -> bool {
    managers_of(o).iter().any(|(m, _)| m == FIELD_MANAGER)
}

fn entry_of(object: &ObjectRef, o: &DynamicObject) -> InventoryEntry {
    InventoryEntry {
        object: object.clone(),
        uid: o.metadata.uid.clone().unwrap_or_default(),
    }
}

/// A conflict of server-side apply: (managers, fields).
fn conflict_of(e: &kube::Error) -> Option<(Vec<String>, Vec<String>)> {
    let kube::Error::Api(s) = e else {
        return None;
    };
    if s.code != 409 {
        return None;
    }
    let causes = s
        .details
        .as_ref()
        .map(|d| d.causes.as_slice())
        .unwrap_or(&[]);
    let mut managers = Vec::new();
    let mut fields = Vec::new();
    for c in causes.iter().filter(|c| c.reason == "FieldManagerConflict") {
        // `conflict with "kubectl-edit" using v1`
        if let Some(m) = c.message.split('"').nth(1) {
            if !managers.iter().any(|x: &String| x == m) {
                managers.push(m.to_string());
            }
        }
        if !c.field.is_empty() && !fields.contains(&c.field) {
            fields.push(c.field.clone());
        }
    }
    if managers.is_empty() && fields.is_empty() {
        None
    } else {
        Some((managers, fields))
    }
}

async fn apply_one(
    cluster: &Cluster,
    served: &Served,
    m: &Manifest,
    adopt: bool,
) -> Result<InventoryEntry> {
    let api = served.api(cluster, m.object.namespace.as_deref());
    let name = m.object.name.as_str();
    let shown = format!("{}: {}", m.source, m.object);
    let context = |verb: &str| {
        format!(
            "{}: {verb} {} in cluster {}",
            m.source, m.object, cluster.name
        )
    };
    let live = api
        .get_opt(name)
        .await
        .map_err(|e| WorkloadError::from_kube(&cluster.name, context("read"), e))?;
    let mut force = false;
    if let Some(live) = &live {
        if !is_ours(live) {
            if !adopt {
                return Err(WorkloadError::NotOurs {
                    object: shown,
                    managers: managers_of(live).into_iter().map(|(n, _)| n).collect(),
                });
            }
            force = true;
        }
    }
    let body = labelled(&m.body);
    let patch = |force: bool| {
        let mut params = PatchParams::apply(FIELD_MANAGER);
        if force {
            params = params.force();
        }
        let api = api.clone();
        let body = body.clone();
        async move { api.patch(name, &params, &Patch::Apply(&body)).await }
    };
    match patch(force).await {
        Ok(o) => Ok(entry_of(&m.object, &o)),
        Err(e) => {
            let Some((managers, fields)) = conflict_of(&e) else {
                return Err(WorkloadError::from_kube(&cluster.name, context("apply"), e));
            };
            // Conflicts with imperative edits only: fedstack's fields were changed behind
            // its back; take them back. Another applier's fields: report.
            let live = api
                .get_opt(name)
                .await
                .map_err(|e| WorkloadError::from_kube(&cluster.name, context("read"), e))?;
            let appliers: Vec<String> = live
                .as_ref()
                .map(managers_of)
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, applies)| *applies)
                .map(|(n, _)| n)
                .collect();
            let by_appliers: Vec<String> = managers
                .iter()
                .filter(|m| appliers.contains(m))
                .cloned()
                .collect();
            if !by_appliers.is_empty() || managers.is_empty() {
                return Err(WorkloadError::FieldConflict {
                    object: shown,
                    managers: if by_appliers.is_empty() {
                        managers
                    } else {
                        by_appliers
                    },
                    fields,
                });
            }
            patch(true)
                .await
                .map(|o| entry_of(&m.object, &o))
                .map_err(|e| WorkloadError::from_kube(&cluster.name, context("apply"), e))
        }
    }
}

/// `body` with fedstack's managed-by label, unless it sets that label itself.
fn labelled(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        let labels = meta
            .entry("labels")
            .or_insert_with(|| Value::Object(Default::default()));
        if labels.is_null() {
            *labels = Value::Object(Default::default());
        }
        if let Some(labels) = labels.as_object_mut() {
            labels
                .entry(MANAGED_BY_LABEL)
                .or_insert_with(|| Value::String(MANAGED_BY.to_string()));
        }
    }
    body
}

fn namespace_ref(name: &str) -> ObjectRef {
    ObjectRef {
        group: String::new(),
        version: "v1".into(),
        kind: "Namespace".into(),
        namespace: None,
        name: name.to_string(),
    }
}

/// Makes namespace `name` exist. Returns its inventory entry when it is fedstack's (made
/// now, or by an earlier apply); `None` for someone else's (`default`, ...).
async fn ensure_namespace(
    cluster: &Cluster,
    name: &str,
    progress: &dyn Progress,
) -> Result<Option<InventoryEntry>> {
    let gvk = GroupVersionKind::gvk("", "v1", "Namespace");
    let api: Api<DynamicObject> = Api::all_with(
        cluster.client.clone(),
        &ApiResource::from_gvk_with_plural(&gvk, "namespaces"),
    );
    let object = namespace_ref(name);
    let context = |verb: &str| format!("{verb} Namespace {name} in cluster {}", cluster.name);
    match api
        .get_opt(name)
        .await
        .map_err(|e| WorkloadError::from_kube(&cluster.name, context("read"), e))?
    {
        Some(ns) if ns.metadata.deletion_timestamp.is_some() => Err(WorkloadError::Api {
            context: format!("Namespace {name} in cluster {}", cluster.name),
            code: 409,
            reason: "NamespaceTerminating".into(),
            message: "it is being deleted; apply again once it is gone".into(),
        }),
        Some(ns) => Ok(is_ours(&ns).then(|| entry_of(&object, &ns))),
        None => {
            progress.status(&format!("creating Namespace {name}"));
            let body = labelled(
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
            );
            let ns = api
                .patch(
                    name,
                    &PatchParams::apply(FIELD_MANAGER),
                    &Patch::Apply(&body),
                )
                .await
                .map_err(|e| WorkloadError::from_kube(&cluster.name, context("create"), e))?;
            Ok(Some(entry_of(&object, &ns)))
        }
    }
}

fn condition<'a>(o: &'a DynamicObject, kind: &str) -> Option<&'a Value> {
    o.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// Waits until CRD `name` is Established (or its names are refused).
pub(crate) async fn wait_established(
    cluster: &Cluster,
    name: &str,
    timeout: Duration,
) -> Result<()> {
    let gvk = GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition");
    let api: Api<DynamicObject> = Api::all_with(
        cluster.client.clone(),
        &ApiResource::from_gvk_with_plural(&gvk, "customresourcedefinitions"),
    );
    let refused =
        |o: &DynamicObject| condition(o, "NamesAccepted").is_some_and(|c| c["status"] == "False");
    let established =
        |o: &DynamicObject| condition(o, "Established").is_some_and(|c| c["status"] == "True");
    let waited = wait_object(&api, name, Instant::now() + timeout, |o| {
        o.is_some_and(|o| established(o) || refused(o))
    })
    .await
    .map_err(|e| {
        WorkloadError::from_kube(
            &cluster.name,
            format!(
                "watch CustomResourceDefinition {name} in cluster {}",
                cluster.name
            ),
            e,
        )
    })?;
    match waited {
        Waited::Done(Some(o)) if refused(&o) => Err(WorkloadError::Invalid(format!(
            "CustomResourceDefinition {name} in cluster {}: its names are not accepted: {}",
            cluster.name,
            condition(&o, "NamesAccepted")
                .and_then(|c| c["message"].as_str())
                .unwrap_or("(no message)")
        ))),
        Waited::Done(_) => Ok(()),
        Waited::TimedOut(o) => Err(WorkloadError::Timeout(format!(
            "CustomResourceDefinition {name} in cluster {} is not established after {}{}",
            cluster.name,
            super::errors::human(timeout),
            if o.is_none() {
                " (it does not exist)"
            } else {
                ""
            }
        ))),
    }
}
