//! `node_pool` resources of local clusters: real Node objects on the cluster's API
//! server, played by the cluster's kwok (which fills their conditions and makes their
//! pods Running), so kube-scheduler places pods on them.
//!
//! - A pool is `node_count` Nodes named `<cluster>-<pool>-<i>` (`i` from 0), labelled
//!   with the pool's `labels`, `fedstack.dev/node-pool: <pool>`,
//!   `app.kubernetes.io/managed-by: fedstack`, `kubernetes.io/hostname`, `kubernetes.io/os`
//!   (`linux`), `kubernetes.io/arch` (`amd64`) and `node.kubernetes.io/instance-type` (the
//!   `machine_type`), annotated `kwok.x-k8s.io/node: fake` (what the cluster's kwok
//!   manages) and `fedstack.dev/labels` (the keys of the pool labels fedstack set, so a
//!   label dropped from the stack is removed from the nodes). Each node has the capacity
//!   and allocatable of [`NODE_CAPACITY`].
//! - The pool exists while `<cluster dir>/node-pools/<pool>.json` does (written before
//!   its nodes, removed after them): a pool of 0 nodes is still a pool.
//! - create/update/adopt start the cluster when it is down, make the missing nodes,
//!   relabel the others, delete those beyond `node_count`, and wait until every node is
//!   Ready (kwok) and schedulable (the node lifecycle controller lifted the `not-ready`
//!   taint the API server gives new nodes). delete deletes the nodes (pods bound to them go Pending again once
//!   the pod garbage collector has removed them and their owners made new ones).
//! - read: the nodes as they are: `node_count` is how many there are, `labels` and
//!   `machine_type` what the first node that differs from the stack carries (drift shows
//!   and apply repairs it). A cluster that is down shows the recorded attributes (status
//!   `STOPPED`); one that is gone has no pools.
//! - `min_count`/`max_count` are recorded as given: no autoscaler runs locally.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fedstack_core::value::Values;
use fedstack_kube::KubeError;
use fedstack_provider::{Observed, Progress, ProviderError, ResourceSpec, ResourceStatus};
use k8s_openapi::api::core::v1::{Node, NodeStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::cluster::{ClusterDir, KWOK_NODE_ANNOTATION};
use crate::errors::{invalid, io, not_found, permanent, transient};
use crate::files::{private_dir, read_opt, write_file};
use crate::provider::LocalProvider;

/// The label naming a node's pool.
pub const POOL_LABEL: &str = "fedstack.dev/node-pool";
/// Nodes fedstack made carry this label (with [`MANAGED_BY_VALUE`]).
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const MANAGED_BY_VALUE: &str = "fedstack";
/// The annotation listing the pool-label keys fedstack set on a node.
const LABELS_ANNOTATION: &str = "fedstack.dev/labels";
const INSTANCE_TYPE: &str = "node.kubernetes.io/instance-type";
/// What every node of a local pool offers the scheduler: (resource, quantity).
pub const NODE_CAPACITY: [(&str, &str); 3] = [("cpu", "4"), ("memory", "16Gi"), ("pods", "110")];
/// How long kwok gets to report new nodes Ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const MARKER_FORMAT: u32 = 1;

/// `<cluster dir>/node-pools/<pool>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PoolMarker {
    format: u32,
    /// The attributes as last applied.
    attrs: Values,
}

/// A node pool as the stack asks for it.
#[derive(Debug, Clone, PartialEq)]
struct Pool {
    cluster: String,
    name: String,
    node_count: usize,
    machine_type: String,
    labels: BTreeMap<String, String>,
}

impl Pool {
    fn from_spec(spec: &ResourceSpec) -> Result<Pool, ProviderError> {
        let (from_name, name) = spec.cloud_name.split_once('.').ok_or_else(|| {
            invalid(format!(
                "{}: a node pool's name is `<cluster>.<pool>`",
                spec.address
            ))
        })?;
        let cluster = fedstack_provider::attrs::str_attr(&spec.attrs, "cluster")
            .unwrap_or(from_name)
            .to_string();
        let node_count = match spec.attrs.get("node_count") {
            Some(Value::Number(n)) => n
                .as_u64()
                .filter(|n| *n <= 1000)
                .map(|n| n as usize)
                .ok_or_else(|| {
                    invalid(format!("{}: node_count must be 0 to 1000", spec.address))
                })?,
            _ => return Err(invalid(format!("{}: node_count is required", spec.address))),
        };
        Ok(Pool {
            cluster,
            name: name.to_string(),
            node_count,
            machine_type: fedstack_provider::attrs::str_attr(&spec.attrs, "machine_type")
                .unwrap_or_default()
                .to_string(),
            labels: fedstack_provider::attrs::labels(&spec.attrs),
        })
    }

    fn node_name(&self, i: usize) -> String {
        format!("{}-{}-{i}", self.cluster, self.name)
    }

    fn selector(&self) -> String {
        format!("{POOL_LABEL}={},{MANAGED_BY}={MANAGED_BY_VALUE}", self.name)
    }

    /// Every label of node `name`: the pool's, then fedstack's (which win).
    fn node_labels(&self, name: &str) -> BTreeMap<String, String> {
        let mut labels = self.labels.clone();
        for (k, v) in [
            (POOL_LABEL, self.name.as_str()),
            (MANAGED_BY, MANAGED_BY_VALUE),
            ("kubernetes.io/hostname", name),
            ("kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", "amd64"),
            (INSTANCE_TYPE, self.machine_type.as_str()),
        ] {
            labels.insert(k.to_string(), v.to_string());
        }
        labels
    }

    fn annotations(&self) -> BTreeMap<String, String> {
        let (key, value) = KWOK_NODE_ANNOTATION;
        let keys: Vec<&str> = self.labels.keys().map(String::as_str).collect();
        BTreeMap::from([
            (key.to_string(), value.to_string()),
            (LABELS_ANNOTATION.to_string(), keys.join(",")),
        ])
    }

    fn node(&self, i: usize) -> Node {
        let name = self.node_name(i);
        Node {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(self.node_labels(&name)),
                annotations: Some(self.annotations()),
                ..Default::default()
            },
            spec: None,
            status: Some(NodeStatus {
                capacity: Some(capacity()),
                allocatable: Some(capacity()),
                ..Default::default()
            }),
        }
    }
}

fn capacity() -> BTreeMap<String, Quantity> {
    NODE_CAPACITY
        .iter()
        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
        .collect()
}

fn labels_of(n: &Node) -> BTreeMap<String, String> {
    n.metadata.labels.clone().unwrap_or_default()
}

fn annotation<'a>(n: &'a Node, key: &str) -> Option<&'a str> {
    n.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// The pool labels a node carries: its values for the keys the stack asks for and the
/// keys fedstack set on it.
fn pool_labels_of(n: &Node, asked: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let labels = labels_of(n);
    let set_before = annotation(n, LABELS_ANNOTATION).unwrap_or("");
    asked
        .keys()
        .map(String::as_str)
        .chain(set_before.split(',').filter(|k| !k.is_empty()))
        .filter_map(|k| labels.get(k).map(|v| (k.to_string(), v.clone())))
        .collect()
}

/// The taint the API server puts on every new Node, lifted by the node lifecycle
/// controller once the node is Ready.
const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";

/// Ready (kwok says so) and schedulable (the `not-ready` taint is gone).
fn is_ready(n: &Node) -> bool {
    let ready = n
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let tainted = n
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| t.iter().any(|t| t.key == NOT_READY_TAINT));
    ready && !tainted
}

fn kube_err(context: String, e: kube::Error) -> ProviderError {
    KubeError::from_kube(context, e).into()
}

fn marker_path(cd: &ClusterDir, pool: &str) -> std::path::PathBuf {
    cd.dir.join("node-pools").join(format!("{pool}.json"))
}

fn load_marker(cd: &ClusterDir, pool: &str) -> Result<Option<PoolMarker>, ProviderError> {
    let path = marker_path(cd, pool);
    let Some(text) = read_opt(&path).map_err(|e| io("read", &path, &e))? else {
        return Ok(None);
    };
    let m: PoolMarker = serde_json::from_str(&text).map_err(|e| {
        permanent(format!(
            "{} is not a node pool file of this fedstack: {e}",
            path.display()
        ))
    })?;
    if m.format != MARKER_FORMAT {
        return Err(permanent(format!(
            "{} has format {}; this fedstack reads format {MARKER_FORMAT}",
            path.display(),
            m.format
        )));
    }
    Ok(Some(m))
}

fn save_marker(cd: &ClusterDir, pool: &str, attrs: &Values) -> Result<(), ProviderError> {
    let dir = cd.dir.join("node-pools");
    private_dir(&dir).map_err(|e| io("create", &dir, &e))?;
    let path = marker_path(cd, pool);
    let m = PoolMarker {
        format: MARKER_FORMAT,
        attrs: attrs.clone(),
    };
    let text = serde_json::to_vec_pretty(&m)
        .map_err(|e| permanent(format!("cannot encode {}: {e}", path.display())))?;
    write_file(&path, &text, 0o600).map_err(|e| io("write", &path, &e))
}

async fn list_nodes(client: &Client, pool: &Pool) -> Result<Vec<Node>, ProviderError> {
    let api: Api<Node> = Api::all(client.clone());
    let mut nodes = api
        .list(&ListParams::default().labels(&pool.selector()))
        .await
        .map_err(|e| kube_err(format!("list the nodes of pool {}", pool.name), e))?
        .items;
    nodes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(nodes)
}

/// What the cluster has of the pool, as an observation.
fn observe(spec: &ResourceSpec, pool: &Pool, nodes: Option<&[Node]>) -> Observed {
    let mut attrs = spec.attrs.clone();
    let cluster_id = fedstack_provider::attrs::str_attr(&spec.attrs, "cluster_id")
        .map_or_else(|| format!("local/{}", pool.cluster), str::to_string);
    let status = match nodes {
        None => "STOPPED",
        Some(nodes) => {
            attrs.insert("node_count".into(), json!(nodes.len()));
            if let Some(other) = nodes.iter().find_map(|n| {
                let t = labels_of(n).get(INSTANCE_TYPE).cloned().unwrap_or_default();
                (t != pool.machine_type).then_some(t)
            }) {
                attrs.insert("machine_type".into(), json!(other));
            }
            if let Some(other) = nodes.iter().find_map(|n| {
                let l = pool_labels_of(n, &pool.labels);
                (l != pool.labels).then_some(l)
            }) {
                attrs.insert("labels".into(), json!(other));
            }
            if nodes.iter().all(is_ready) {
                "RUNNING"
            } else {
                "PROVISIONING"
            }
        }
    };
    let mut outputs = Values::new();
    outputs.insert(
        "id".into(),
        json!(format!("{cluster_id}/nodePools/{}", pool.name)),
    );
    outputs.insert("status".into(), json!(status));
    outputs.insert(
        "node_count".into(),
        attrs.get("node_count").cloned().unwrap_or(Value::Null),
    );
    Observed {
        attrs,
        outputs,
        secrets: Default::default(),
        status: ResourceStatus::Ready,
    }
}

/// The cluster's directory and metadata; `NotFound` when the cluster does not exist.
fn cluster_of(
    provider: &LocalProvider,
    spec: &ResourceSpec,
    pool: &Pool,
) -> Result<(ClusterDir, crate::cluster::ClusterMeta), ProviderError> {
    let cd = provider.cluster_dir(&pool.cluster);
    match cd.load_meta()? {
        Some(meta) => Ok((cd, meta)),
        None => Err(not_found(format!(
            "{}: local cluster {} does not exist",
            spec.address, pool.cluster
        ))),
    }
}

async fn running_client(
    provider: &LocalProvider,
    cd: &ClusterDir,
    meta: &mut crate::cluster::ClusterMeta,
    progress: &dyn Progress,
) -> Result<Client, ProviderError> {
    if !cd.is_running(meta).await {
        progress.status(&format!("starting local cluster {}", cd.name));
        provider.ensure_running(cd, meta, progress).await?;
    }
    Ok(fedstack_kube::client_for(&cd.name, &cd.access(meta)?).await?)
}

pub(crate) async fn read(
    provider: &LocalProvider,
    spec: &ResourceSpec,
) -> Result<Option<Observed>, ProviderError> {
    let pool = Pool::from_spec(spec)?;
    let cd = provider.cluster_dir(&pool.cluster);
    let Some(meta) = cd.load_meta()? else {
        return Ok(None);
    };
    if load_marker(&cd, &pool.name)?.is_none() {
        return Ok(None);
    }
    // A read never starts anything: a cluster that is down shows what was applied.
    if !cd.is_running(&meta).await {
        return Ok(Some(observe(spec, &pool, None)));
    }
    let client = fedstack_kube::client_for(&cd.name, &cd.access(&meta)?).await?;
    let nodes = list_nodes(&client, &pool).await?;
    Ok(Some(observe(spec, &pool, Some(&nodes))))
}

/// create: fails with `AlreadyExists` when the pool is there (the planner adopts it).
pub(crate) async fn create(
    provider: &LocalProvider,
    spec: &ResourceSpec,
    progress: &dyn Progress,
) -> Result<Observed, ProviderError> {
    let pool = Pool::from_spec(spec)?;
    let (cd, _) = cluster_of(provider, spec, &pool)?;
    if load_marker(&cd, &pool.name)?.is_some() {
        return Err(ProviderError::new(
            fedstack_provider::ErrorClass::AlreadyExists,
            format!("{} already exists", spec.address),
        ));
    }
    ensure(provider, spec, progress).await
}

/// create (after its check), update and adopt: the nodes as the stack says.
pub(crate) async fn ensure(
    provider: &LocalProvider,
    spec: &ResourceSpec,
    progress: &dyn Progress,
) -> Result<Observed, ProviderError> {
    provider.writable(&format!("change {}", spec.address))?;
    let pool = Pool::from_spec(spec)?;
    let (cd, mut meta) = cluster_of(provider, spec, &pool)?;
    let client = running_client(provider, &cd, &mut meta, progress).await?;
    save_marker(&cd, &pool.name, &spec.attrs)?;
    let api: Api<Node> = Api::all(client.clone());
    let existing = list_nodes(&client, &pool).await?;
    let wanted: Vec<String> = (0..pool.node_count).map(|i| pool.node_name(i)).collect();

    for node in &existing {
        let name = node.metadata.name.clone().unwrap_or_default();
        if !wanted.contains(&name) {
            progress.status(&format!("deleting node {name}"));
            delete_node(&api, &name).await?;
        }
    }
    for (i, name) in wanted.iter().enumerate() {
        let want = pool.node(i);
        let have = existing
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(name));
        let have = match have {
            Some(n) => Some(n.clone()),
            None => {
                progress.status(&format!("creating node {name}"));
                match api.create(&PostParams::default(), &want).await {
                    Ok(n) => Some(n),
                    // Made by an apply that died before it recorded it: bring it in line.
                    Err(kube::Error::Api(s)) if s.code == 409 => api
                        .get_opt(name)
                        .await
                        .map_err(|e| kube_err(format!("get node {name}"), e))?,
                    Err(e) => return Err(kube_err(format!("create node {name}"), e)),
                }
            }
        };
        if let Some(have) = have {
            reconcile_node(&api, &pool, &want, &have).await?;
        }
    }

    // kwok marks the nodes Ready (node-initialize stage) as soon as it sees them; the
    // node lifecycle controller then lifts their `not-ready` taint.
    let started = Instant::now();
    let mut reported = false;
    let nodes = loop {
        let nodes = list_nodes(&client, &pool).await?;
        let ready = nodes.iter().filter(|n| is_ready(n)).count();
        if ready == nodes.len() {
            break nodes;
        }
        if started.elapsed() > READY_TIMEOUT {
            return Err(transient(
                format!(
                    "{}: {ready} of {} nodes Ready and untainted after {}s (is kwok of local cluster {} running? log: {})",
                    spec.address,
                    nodes.len(),
                    READY_TIMEOUT.as_secs(),
                    cd.name,
                    cd.dir.join("logs/kwok.log").display()
                ),
                Duration::from_secs(1),
            ));
        }
        if !reported && started.elapsed() > Duration::from_millis(300) {
            progress.status(&format!("waiting for {} nodes Ready", nodes.len()));
            reported = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    Ok(observe(spec, &pool, Some(&nodes)))
}

/// Labels, annotations and capacity of an existing node as `want` has them; the pool
/// labels fedstack set before that the stack no longer has are removed.
async fn reconcile_node(
    api: &Api<Node>,
    pool: &Pool,
    want: &Node,
    have: &Node,
) -> Result<(), ProviderError> {
    let name = want.metadata.name.clone().unwrap_or_default();
    let want_labels = want.metadata.labels.clone().unwrap_or_default();
    let have_labels = labels_of(have);
    let mut labels = serde_json::Map::new();
    for (k, v) in &want_labels {
        if have_labels.get(k) != Some(v) {
            labels.insert(k.clone(), json!(v));
        }
    }
    for k in annotation(have, LABELS_ANNOTATION)
        .unwrap_or("")
        .split(',')
        .filter(|k| !k.is_empty())
    {
        if !want_labels.contains_key(k) && have_labels.contains_key(k) {
            labels.insert(k.to_string(), Value::Null);
        }
    }
    let mut annotations = serde_json::Map::new();
    for (k, v) in pool.annotations() {
        if annotation(have, &k) != Some(v.as_str()) {
            annotations.insert(k, json!(v));
        }
    }
    if !labels.is_empty() || !annotations.is_empty() {
        let patch = json!({"metadata": {"labels": labels, "annotations": annotations}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| kube_err(format!("label node {name}"), e))?;
    }
    let status = have.status.clone().unwrap_or_default();
    let want_cap = capacity();
    let fits = |q: Option<BTreeMap<String, Quantity>>| {
        let q = q.unwrap_or_default();
        want_cap.iter().all(|(k, v)| q.get(k) == Some(v))
    };
    if !fits(status.capacity) || !fits(status.allocatable) {
        let patch = json!({"status": {"capacity": want_cap, "allocatable": want_cap}});
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| kube_err(format!("set the capacity of node {name}"), e))?;
    }
    Ok(())
}

async fn delete_node(api: &Api<Node>, name: &str) -> Result<(), ProviderError> {
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(kube_err(format!("delete node {name}"), e)),
    }
}

pub(crate) async fn delete(
    provider: &LocalProvider,
    spec: &ResourceSpec,
    progress: &dyn Progress,
) -> Result<(), ProviderError> {
    provider.writable(&format!("delete {}", spec.address))?;
    let pool = Pool::from_spec(spec)?;
    let cd = provider.cluster_dir(&pool.cluster);
    // No cluster: no nodes.
    let Some(mut meta) = cd.load_meta()? else {
        return Ok(());
    };
    let client = running_client(provider, &cd, &mut meta, progress).await?;
    let api: Api<Node> = Api::all(client.clone());
    for node in list_nodes(&client, &pool).await? {
        let name = node.metadata.name.clone().unwrap_or_default();
        progress.status(&format!("deleting node {name}"));
        delete_node(&api, &name).await?;
    }
    let path = marker_path(&cd, &pool.name);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("remove", &path, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fedstack_core::address::{Address, ResourceKind};

    fn spec(attrs: Value) -> ResourceSpec {
        ResourceSpec {
            address: Address::new(ResourceKind::NodePool, "local-a.web"),
            cloud_name: "local-a.web".into(),
            attrs: match attrs {
                Value::Object(m) => m.into_iter().collect(),
                _ => Values::new(),
            },
        }
    }

    fn pool() -> Pool {
        Pool::from_spec(&spec(json!({
            "cluster": "local-a",
            "cluster_id": "local/local-a/0badf00d",
            "machine_type": "local-small",
            "node_count": 2,
            "labels": {"tier": "web"},
        })))
        .expect("valid")
    }

    #[test]
    fn nodes_of_a_pool() {
        let p = pool();
        assert_eq!(p.node_name(1), "local-a-web-1");
        assert_eq!(
            p.selector(),
            "fedstack.dev/node-pool=web,app.kubernetes.io/managed-by=fedstack"
        );
        let n = p.node(0);
        let labels = labels_of(&n);
        assert_eq!(labels["tier"], "web");
        assert_eq!(labels[POOL_LABEL], "web");
        assert_eq!(labels["kubernetes.io/hostname"], "local-a-web-0");
        assert_eq!(labels[INSTANCE_TYPE], "local-small");
        assert_eq!(annotation(&n, "kwok.x-k8s.io/node"), Some("fake"));
        assert_eq!(annotation(&n, LABELS_ANNOTATION), Some("tier"));
        let cap = n.status.expect("status").capacity.expect("capacity");
        assert_eq!(cap["pods"], Quantity("110".into()));
        assert!(Pool::from_spec(&spec(json!({"node_count": -1}))).is_err());
        assert!(Pool::from_spec(&spec(json!({}))).is_err());
    }

    #[test]
    fn reads_what_the_nodes_carry() {
        let p = pool();
        let s = spec(json!({
            "cluster": "local-a",
            "cluster_id": "local/local-a/0badf00d",
            "machine_type": "local-small",
            "node_count": 2,
            "labels": {"tier": "web"},
        }));
        // Down: what was applied.
        let o = observe(&s, &p, None);
        assert_eq!(o.attrs, s.attrs);
        assert_eq!(o.outputs["status"], "STOPPED");
        assert_eq!(o.outputs["id"], "local/local-a/0badf00d/nodePools/web");
        // One node left, relabelled by hand; a label of someone else's is not drift.
        let mut n = p.node(0);
        let labels = n.metadata.labels.as_mut().expect("labels");
        labels.insert("tier".into(), "db".into());
        labels.insert("other".into(), "x".into());
        let o = observe(&s, &p, Some(&[p.node(1), n]));
        assert_eq!(o.attrs["node_count"], 2);
        assert_eq!(o.attrs["labels"], json!({"tier": "db"}));
        assert_eq!(o.attrs["machine_type"], "local-small");
        assert_eq!(o.outputs["status"], "PROVISIONING");
        let o = observe(&s, &p, Some(&[p.node(1)]));
        assert_eq!(o.attrs["node_count"], 1);
        assert_eq!(o.attrs["labels"], json!({"tier": "web"}));
        assert_eq!(o.outputs["node_count"], 1);
    }
}
