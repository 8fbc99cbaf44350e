//! AKS managed clusters and agent pools, and the resource group they live in.
//!
//! A cluster is made with its system pool (the stack's first node pool, at one node;
//! the pool's own resource then sizes it), a system-assigned identity, the version asked
//! (`1.31` -> the newest 1.31 patch AKS offers in the location) and the stack's labels as
//! tags. Every PUT and DELETE is followed to a terminal state ([`crate::operation`]);
//! a cluster or pool found mid-operation (a crash) is followed by its
//! `provisioningState`, never created again.

use std::collections::{BTreeMap, HashMap};

use azure_core::http::Method;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use fedstack_core::value::Values;
use fedstack_describe_azure::{SYSTEM_POOL, SYSTEM_POOL_MACHINE_TYPE};
use fedstack_provider::attrs::{labels as labels_of, str_attr as attr_str, version_as_asked};
use fedstack_provider::{
    ClusterAccess, ErrorClass, Observed, Progress, ProviderError, ResourceSpec, ResourceStatus,
};
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::arm::{Arm, Reply};
use crate::config::{AzureOptions, AzureSettings, Op, AKS_API_VERSION, RESOURCES_API_VERSION};
use crate::errors::{classify, with_retries};
use crate::operation::{follow, provisioning_state, State};

/// Tags on a resource group fedstack made, so destroy removes only what it made.
const MANAGED_BY: &str = "managed-by";
const STACK_TAG: &str = "fedstack-stack";

fn invalid(message: String) -> ProviderError {
    ProviderError::new(ErrorClass::Invalid, message)
}

/// `cluster.pool` -> (`cluster`, `pool`).
fn split_pool(name: &str) -> Result<(&str, &str), ProviderError> {
    name.split_once('.')
        .ok_or_else(|| invalid(format!("node pool name `{name}` is not CLUSTER.POOL")))
}

/// `a.b.c` versions compared as numbers.
fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// The newest patch of `asked` (`1.31`) among `offered`, or `asked` itself when it is a
/// full version on offer.
pub(crate) fn pick_version(asked: &str, offered: &[String]) -> Option<String> {
    if asked.matches('.').count() >= 2 {
        return offered.iter().find(|v| *v == asked).cloned();
    }
    offered
        .iter()
        .filter(|v| v.starts_with(&format!("{asked}.")))
        .max_by_key(|v| version_key(v))
        .cloned()
}

/// A call that starts an asynchronous ARM operation.
struct Change<'a> {
    op: &'a str,
    method: Method,
    path: &'a str,
    body: Option<&'a Value>,
    /// The cluster whose other operations must be waited out (409 OperationNotAllowed).
    cluster: Option<&'a str>,
    kind: Op,
}

pub(crate) struct Aks {
    arm: Arm,
    settings: AzureSettings,
    options: AzureOptions,
    stack: String,
    /// Patch versions on offer, per location (asked once per run).
    versions: Mutex<HashMap<String, Vec<String>>>,
}

impl Aks {
    pub fn new(arm: Arm, settings: AzureSettings, options: AzureOptions, stack: &str) -> Aks {
        Aks {
            arm,
            settings,
            options,
            stack: stack.to_string(),
            versions: Mutex::new(HashMap::new()),
        }
    }

    fn group_path(&self) -> String {
        format!(
            "/subscriptions/{}/resourcegroups/{}",
            self.settings.subscription_id, self.settings.resource_group
        )
    }

    fn cluster_path(&self, name: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerService/managedClusters/{name}",
            self.settings.subscription_id, self.settings.resource_group
        )
    }

    fn pool_path(&self, cluster: &str, pool: &str) -> String {
        format!("{}/agentPools/{pool}", self.cluster_path(cluster))
    }

    fn q(path: &str) -> String {
        format!("{path}?api-version={AKS_API_VERSION}")
    }

    /// A GET, retried when throttled or failing; `None` on 404.
    async fn get(&self, op: &str, target: &str) -> Result<Option<Value>, ProviderError> {
        with_retries(&self.options, || async {
            let r = self.arm.send(op, Method::Get, target, None).await?;
            match r.status {
                200 => Ok(Some(r.body)),
                404 => Ok(None),
                _ => Err(classify(op, &r)),
            }
        })
        .await
    }

    /// A PUT/POST/DELETE, retried while throttled or failing. Refused because another
    /// operation runs on `cluster` (409 `OperationNotAllowed`): that operation is waited
    /// out (the cluster and its pools read back settled), then the call is made again,
    /// for as long as `timeout` allows.
    #[allow(clippy::too_many_arguments)]
    async fn mutate(
        &self,
        op: &str,
        method: Method,
        target: &str,
        body: Option<&Value>,
        cluster: Option<&str>,
        timeout: std::time::Duration,
        progress: &dyn Progress,
    ) -> Result<Reply, ProviderError> {
        let began = tokio::time::Instant::now();
        loop {
            let answer = with_retries(&self.options, || async {
                let r = self.arm.send(op, method, target, body).await?;
                if (200..300).contains(&r.status) || (r.status == 404 && method == Method::Delete) {
                    return Ok(Ok(r));
                }
                let e = classify(op, &r);
                if r.status == 409 && e.class == ErrorClass::Transient && cluster.is_some() {
                    return Ok(Err(e));
                }
                Err(e)
            })
            .await?;
            let busy = match answer {
                Ok(reply) => return Ok(reply),
                Err(busy) => busy,
            };
            let Some(cluster) = cluster else {
                return Err(busy);
            };
            if began.elapsed() > timeout {
                return Err(ProviderError::new(ErrorClass::Permanent, busy.message));
            }
            progress.status("waiting for another operation on the cluster");
            self.wait_idle(cluster, timeout, progress).await?;
        }
    }

    /// Until cluster `name` and every pool of it read back settled (or it is gone).
    async fn wait_idle(
        &self,
        name: &str,
        timeout: std::time::Duration,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let began = tokio::time::Instant::now();
        loop {
            let Some(c) = self.get_cluster(name).await? else {
                return Ok(());
            };
            let busy: Vec<String> = std::iter::once(("cluster", &c["properties"]))
                .chain(
                    c["properties"]["agentPoolProfiles"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| ("pool", p)),
                )
                .filter_map(|(what, p)| {
                    let s = p["provisioningState"].as_str().unwrap_or("Succeeded");
                    let settled = matches!(s, "Succeeded" | "Failed" | "Canceled");
                    (!settled).then(|| {
                        let who = p["name"]
                            .as_str()
                            .map_or(String::new(), |n| format!(" {n}"));
                        format!("{what}{who} {s}")
                    })
                })
                .collect();
            if busy.is_empty() {
                return Ok(());
            }
            if began.elapsed() > timeout {
                return Err(ProviderError::new(
                    ErrorClass::Permanent,
                    format!(
                        "cluster {name} is still busy ({}) after waiting for it",
                        busy.join(", ")
                    ),
                ));
            }
            progress.status(&format!(
                "waiting for another operation on the cluster: {}",
                busy.join(", ")
            ));
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }

    /// One change ARM makes asynchronously: the call (see [`Aks::mutate`]), then its
    /// operation followed to a terminal state. A DELETE of what is gone (204, 404) is done.
    async fn change(&self, c: Change<'_>, progress: &dyn Progress) -> Result<(), ProviderError> {
        let timeout = self.options.timeout(c.kind);
        let r = self
            .mutate(c.op, c.method, c.path, c.body, c.cluster, timeout, progress)
            .await?;
        if c.method == Method::Delete && (r.status == 204 || r.status == 404) {
            return Ok(());
        }
        follow(&self.arm, &self.options, &r, c.path, timeout, progress).await
    }

    /// A resource found mid-operation (after a crash: no operation URL) is followed by
    /// its `provisioningState` to the end.
    async fn follow_found(
        &self,
        found: Value,
        path: &str,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        if let State::Going(_) = provisioning_state(&found) {
            let now = Reply {
                status: 200,
                headers: Default::default(),
                body: found,
            };
            let timeout = self.options.timeout(Op::Create);
            follow(&self.arm, &self.options, &now, path, timeout, progress).await?;
        }
        Ok(())
    }

    // ----- resource group -----------------------------------------------------------

    /// Makes the cloud's resource group when it is missing (tagged as fedstack's).
    async fn ensure_group(
        &self,
        location: &str,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let path = format!("{}?api-version={RESOURCES_API_VERSION}", self.group_path());
        if self.get("GET resourceGroup", &path).await?.is_some() {
            return Ok(());
        }
        progress.status(&format!(
            "creating resource group {}",
            self.settings.resource_group
        ));
        let body = json!({
            "location": location,
            "tags": {MANAGED_BY: "fedstack", STACK_TAG: self.stack},
        });
        self.change(
            Change {
                op: "PUT resourceGroup",
                method: Method::Put,
                path: &path,
                body: Some(&body),
                cluster: None,
                kind: Op::Create,
            },
            progress,
        )
        .await
    }

    /// Removes the resource group once it is empty, if fedstack made it for this stack.
    async fn remove_group_if_ours(&self, progress: &dyn Progress) -> Result<(), ProviderError> {
        let path = format!("{}?api-version={RESOURCES_API_VERSION}", self.group_path());
        let Some(group) = self.get("GET resourceGroup", &path).await? else {
            return Ok(());
        };
        let tags = &group["tags"];
        if tags[MANAGED_BY] != "fedstack" || tags[STACK_TAG] != self.stack.as_str() {
            return Ok(());
        }
        let resources = format!(
            "/subscriptions/{}/resourceGroups/{}/resources?api-version={RESOURCES_API_VERSION}",
            self.settings.subscription_id, self.settings.resource_group
        );
        let listed = self.get("GET resources", &resources).await?;
        let left = listed
            .as_ref()
            .and_then(|l| l["value"].as_array())
            .map_or(0, Vec::len);
        if left > 0 {
            progress.status(&format!(
                "keeping resource group {}: {left} resource(s) of others are in it",
                self.settings.resource_group
            ));
            return Ok(());
        }
        progress.status(&format!(
            "deleting resource group {}",
            self.settings.resource_group
        ));
        self.change(
            Change {
                op: "DELETE resourceGroup",
                method: Method::Delete,
                path: &path,
                body: None,
                cluster: None,
                kind: Op::Delete,
            },
            progress,
        )
        .await?;
        Ok(())
    }

    // ----- versions -----------------------------------------------------------------

    async fn offered(&self, location: &str) -> Result<Vec<String>, ProviderError> {
        let mut cache = self.versions.lock().await;
        if let Some(v) = cache.get(location) {
            return Ok(v.clone());
        }
        let path = Self::q(&format!(
            "/subscriptions/{}/providers/Microsoft.ContainerService/locations/{location}/kubernetesVersions",
            self.settings.subscription_id
        ));
        let listed = self
            .get("GET kubernetesVersions", &path)
            .await?
            .unwrap_or(Value::Null);
        let mut out = Vec::new();
        for minor in listed["values"].as_array().into_iter().flatten() {
            if let Some(patches) = minor["patchVersions"].as_object() {
                out.extend(patches.keys().cloned());
            }
        }
        cache.insert(location.to_string(), out.clone());
        Ok(out)
    }

    async fn resolve_version(
        &self,
        spec: &ResourceSpec,
        location: &str,
    ) -> Result<Option<String>, ProviderError> {
        let Some(asked) = attr_str(&spec.attrs, "kubernetes_version") else {
            return Ok(None);
        };
        let offered = self.offered(location).await?;
        pick_version(asked, &offered).map(Some).ok_or_else(|| {
            let mut minors: Vec<String> = offered
                .iter()
                .map(|v| v.rsplit_once('.').map_or(v.as_str(), |x| x.0).to_string())
                .collect();
            minors.sort_by_key(|v| version_key(v));
            minors.dedup();
            invalid(format!(
                "{}: AKS offers no Kubernetes {asked} in {location} (it offers {}) (hint: `az aks get-versions --location {location}`)",
                spec.address,
                if minors.is_empty() { "none".to_string() } else { minors.join(", ") }
            ))
        })
    }

    // ----- clusters -------------------------------------------------------------------

    fn region(spec: &ResourceSpec) -> Result<&str, ProviderError> {
        attr_str(&spec.attrs, "region").ok_or_else(|| {
            invalid(format!(
                "{}: `region` (an Azure location) is required",
                spec.address
            ))
        })
    }

    /// The cluster's PUT body; `pools`: the agent pool profiles to send (the system
    /// pool at create; the current ones on an update, so the PUT changes none of them).
    fn cluster_body(
        spec: &ResourceSpec,
        location: &str,
        version: Option<&str>,
        pools: Value,
    ) -> Value {
        let mut properties = json!({
            "dnsPrefix": attr_str(&spec.attrs, "dns_prefix").unwrap_or(&spec.cloud_name),
            "agentPoolProfiles": pools,
        });
        if let Some(v) = version {
            properties["kubernetesVersion"] = json!(v);
        }
        if let Some(p) = attr_str(&spec.attrs, "network_plugin") {
            properties["networkProfile"] = json!({"networkPlugin": p});
        }
        json!({
            "location": location,
            "tags": labels_of(&spec.attrs),
            "identity": {"type": "SystemAssigned"},
            "properties": properties,
        })
    }

    /// The cluster's user credentials (its kubeconfig), when it runs.
    async fn credentials(
        &self,
        name: &str,
        what: &str,
    ) -> Result<Option<ClusterAccess>, ProviderError> {
        let path = Self::q(&format!(
            "{}/listClusterUserCredential",
            self.cluster_path(name)
        ));
        let op = "POST listClusterUserCredential";
        let r = with_retries(&self.options, || async {
            let r = self.arm.send(op, Method::Post, &path, None).await?;
            match r.status {
                200 => Ok(Some(r)),
                404 => Ok(None),
                _ => Err(classify(op, &r)),
            }
        })
        .await?;
        let Some(r) = r else { return Ok(None) };
        let encoded = r.body["kubeconfigs"][0]["value"].as_str().ok_or_else(|| {
            ProviderError::new(
                ErrorClass::Permanent,
                format!("{what}: AKS returned no kubeconfig"),
            )
        })?;
        let text = B64
            .decode(encoded)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorClass::Permanent,
                    format!("{what}: AKS's kubeconfig is not base64"),
                )
            })?;
        Ok(Some(fedstack_kube::access_from_kubeconfig(&text, what)?))
    }

    async fn observe_cluster(
        &self,
        spec: &ResourceSpec,
        c: &Value,
    ) -> Result<Observed, ProviderError> {
        let p = &c["properties"];
        let location = c["location"].as_str().unwrap_or_default();
        let current = p["currentKubernetesVersion"]
            .as_str()
            .or_else(|| p["kubernetesVersion"].as_str())
            .unwrap_or_default();
        let mut attrs = Values::new();
        attrs.insert("flavor".into(), json!("aks"));
        attrs.insert("region".into(), json!(location));
        attrs.insert(
            "kubernetes_version".into(),
            json!(version_as_asked(
                attr_str(&spec.attrs, "kubernetes_version"),
                current
            )),
        );
        let tags: BTreeMap<String, String> = c["tags"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        attrs.insert("labels".into(), json!(tags));
        attrs.insert("dns_prefix".into(), p["dnsPrefix"].clone());
        attrs.insert(
            "network_plugin".into(),
            match attr_str(&spec.attrs, "network_plugin") {
                None => Value::Null,
                Some(_) => p["networkProfile"]["networkPlugin"].clone(),
            },
        );
        // The system pool: the stack's when it is one of the cluster's System pools.
        let pools = p["agentPoolProfiles"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let system: Vec<&Value> = pools.iter().filter(|x| x["mode"] == "System").collect();
        let wanted = attr_str(&spec.attrs, SYSTEM_POOL);
        let chosen = system
            .iter()
            .find(|x| x["name"].as_str() == wanted)
            .or_else(|| system.first());
        attrs.insert(
            SYSTEM_POOL.into(),
            chosen.map_or(Value::Null, |x| x["name"].clone()),
        );
        attrs.insert(
            SYSTEM_POOL_MACHINE_TYPE.into(),
            chosen.map_or(Value::Null, |x| x["vmSize"].clone()),
        );
        for (k, v) in &spec.attrs {
            attrs.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let state = p["provisioningState"].as_str().unwrap_or("Succeeded");
        let status = match provisioning_state(c) {
            State::Done => ResourceStatus::Ready,
            State::Failed(s) => ResourceStatus::Failed(format!(
                "{s}: {}",
                p["statusMessage"]
                    .as_str()
                    .unwrap_or("AKS gives no reason; see the activity log")
            )),
            State::Going(s) if s == "Deleting" => ResourceStatus::Deleting,
            State::Going(s) => ResourceStatus::Pending(s),
        };
        let mut outputs = Values::new();
        outputs.insert("id".into(), c["id"].clone());
        outputs.insert("status".into(), json!(state));
        outputs.insert("region".into(), json!(location));
        outputs.insert("kubernetes_version".into(), json!(current));
        outputs.insert(
            "ingress_address".into(),
            spec.attrs
                .get("ingress_address")
                .cloned()
                .unwrap_or(Value::Null),
        );
        let (endpoint, ca) = if status == ResourceStatus::Ready {
            match self
                .credentials(&spec.cloud_name, &spec.address.to_string())
                .await?
            {
                Some(a) => (
                    json!(a.server),
                    a.ca_pem.map_or(Value::Null, |pem| json!(B64.encode(pem))),
                ),
                None => (Value::Null, Value::Null),
            }
        } else {
            (Value::Null, Value::Null)
        };
        outputs.insert("endpoint".into(), endpoint);
        outputs.insert("ca_certificate".into(), ca);
        Ok(Observed {
            attrs,
            outputs,
            secrets: Default::default(),
            status,
        })
    }

    async fn get_cluster(&self, name: &str) -> Result<Option<Value>, ProviderError> {
        self.get("GET managedCluster", &Self::q(&self.cluster_path(name)))
            .await
    }

    pub async fn cluster_read(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<Observed>, ProviderError> {
        match self.get_cluster(&spec.cloud_name).await? {
            None => Ok(None),
            Some(c) => Ok(Some(self.observe_cluster(spec, &c).await?)),
        }
    }

    pub async fn cluster_create(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let location = Self::region(spec)?;
        let system_pool = attr_str(&spec.attrs, SYSTEM_POOL).ok_or_else(|| {
            invalid(format!(
                "{}: an AKS cluster needs a node pool (its system pool)",
                spec.address
            ))
        })?;
        // ARM's PUT creates or updates: a cluster already there (a create that raced, or
        // one a crash left before its intent was read back) is adopted -- followed to
        // the end of whatever runs on it -- never PUT over.
        if self.get_cluster(&spec.cloud_name).await?.is_some() {
            progress.status("the cluster exists already: adopting it");
            return self.cluster_wait(spec, progress).await;
        }
        let version = self.resolve_version(spec, location).await?;
        self.ensure_group(location, progress).await?;
        let pool = json!([{
            "name": system_pool,
            "count": 1,
            "vmSize": attr_str(&spec.attrs, SYSTEM_POOL_MACHINE_TYPE),
            "mode": "System",
            "type": "VirtualMachineScaleSets",
            "osType": "Linux",
        }]);
        let body = Self::cluster_body(spec, location, version.as_deref(), pool);
        let path = Self::q(&self.cluster_path(&spec.cloud_name));
        self.change(
            Change {
                op: "PUT managedCluster",
                method: Method::Put,
                path: &path,
                body: Some(&body),
                cluster: Some(&spec.cloud_name),
                kind: Op::Create,
            },
            progress,
        )
        .await?;
        self.cluster_settled(spec).await
    }

    /// The cluster, read after its operation: it must be there and not Failed.
    async fn cluster_settled(&self, spec: &ResourceSpec) -> Result<Observed, ProviderError> {
        let found = self.cluster_read(spec).await?;
        settled(spec, found)
    }

    /// Follows a cluster found mid-operation (after a crash) to its end: the adopt path.
    pub async fn cluster_wait(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let path = Self::q(&self.cluster_path(&spec.cloud_name));
        let c = self
            .get_cluster(&spec.cloud_name)
            .await?
            .ok_or_else(|| missing(spec))?;
        self.follow_found(c, &path, progress).await?;
        self.cluster_settled(spec).await
    }

    /// Version and tags in place: one PUT with what the stack says and the pools as
    /// they are (so it changes none of them).
    pub async fn cluster_update(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let location = Self::region(spec)?;
        let current = self
            .get_cluster(&spec.cloud_name)
            .await?
            .ok_or_else(|| missing(spec))?;
        let version = self.resolve_version(spec, location).await?;
        let pools: Vec<Value> = current["properties"]["agentPoolProfiles"]
            .as_array()
            .into_iter()
            .flatten()
            .map(writable_pool_profile)
            .collect();
        let body = Self::cluster_body(spec, location, version.as_deref(), Value::Array(pools));
        let path = Self::q(&self.cluster_path(&spec.cloud_name));
        self.change(
            Change {
                op: "PUT managedCluster",
                method: Method::Put,
                path: &path,
                body: Some(&body),
                cluster: Some(&spec.cloud_name),
                kind: Op::Update,
            },
            progress,
        )
        .await?;
        self.cluster_settled(spec).await
    }

    pub async fn cluster_delete(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let path = Self::q(&self.cluster_path(&spec.cloud_name));
        self.change(
            Change {
                op: "DELETE managedCluster",
                method: Method::Delete,
                path: &path,
                body: None,
                cluster: Some(&spec.cloud_name),
                kind: Op::Delete,
            },
            progress,
        )
        .await?;
        self.remove_group_if_ours(progress).await
    }

    pub async fn cluster_access(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<ClusterAccess>, ProviderError> {
        self.credentials(&spec.cloud_name, &spec.address.to_string())
            .await
    }

    // ----- agent pools ------------------------------------------------------------------

    fn observe_pool(spec: &ResourceSpec, p: &Value) -> Observed {
        let props = &p["properties"];
        let mut attrs = Values::new();
        for k in ["cluster", "cluster_id", SYSTEM_POOL] {
            attrs.insert(k.into(), spec.attrs.get(k).cloned().unwrap_or(Value::Null));
        }
        attrs.insert("machine_type".into(), props["vmSize"].clone());
        attrs.insert("node_count".into(), props["count"].clone());
        let scaling = props["enableAutoScaling"].as_bool().unwrap_or(false);
        for (k, field) in [("min_count", "minCount"), ("max_count", "maxCount")] {
            attrs.insert(
                k.into(),
                if scaling {
                    props[field].clone()
                } else {
                    Value::Null
                },
            );
        }
        attrs.insert(
            "labels".into(),
            props["nodeLabels"]
                .as_object()
                .map_or(json!({}), |m| Value::Object(m.clone())),
        );
        for (k, v) in &spec.attrs {
            attrs.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let status = match provisioning_state(p) {
            State::Done => ResourceStatus::Ready,
            State::Failed(s) => ResourceStatus::Failed(s),
            State::Going(s) if s == "Deleting" => ResourceStatus::Deleting,
            State::Going(s) => ResourceStatus::Pending(s),
        };
        let mut outputs = Values::new();
        outputs.insert("id".into(), p["id"].clone());
        outputs.insert("status".into(), props["provisioningState"].clone());
        outputs.insert("node_count".into(), props["count"].clone());
        outputs.insert("mode".into(), props["mode"].clone());
        Observed {
            attrs,
            outputs,
            secrets: Default::default(),
            status,
        }
    }

    fn pool_body(spec: &ResourceSpec, pool: &str) -> Value {
        let n = |k: &str| spec.attrs.get(k).and_then(Value::as_i64);
        let mode = if attr_str(&spec.attrs, SYSTEM_POOL) == Some(pool) {
            "System"
        } else {
            "User"
        };
        let mut props = json!({
            "count": n("node_count").unwrap_or(1),
            "vmSize": attr_str(&spec.attrs, "machine_type"),
            "mode": mode,
            "type": "VirtualMachineScaleSets",
            "osType": "Linux",
            "nodeLabels": labels_of(&spec.attrs),
        });
        match (n("min_count"), n("max_count")) {
            (None, None) => props["enableAutoScaling"] = json!(false),
            (min, max) => {
                props["enableAutoScaling"] = json!(true);
                props["minCount"] = json!(min.or(n("node_count")).unwrap_or(1));
                props["maxCount"] = json!(max.or(n("node_count")).unwrap_or(1));
            }
        }
        json!({"properties": props})
    }

    async fn put_pool(
        &self,
        spec: &ResourceSpec,
        op: Op,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let (cluster, pool) = split_pool(&spec.cloud_name)?;
        let path = Self::q(&self.pool_path(cluster, pool));
        let body = Self::pool_body(spec, pool);
        self.change(
            Change {
                op: "PUT agentPool",
                method: Method::Put,
                path: &path,
                body: Some(&body),
                cluster: Some(cluster),
                kind: op,
            },
            progress,
        )
        .await?;
        self.pool_settled(spec).await
    }

    async fn pool_settled(&self, spec: &ResourceSpec) -> Result<Observed, ProviderError> {
        let found = self.pool_read(spec).await?;
        settled(spec, found)
    }

    pub async fn pool_read(&self, spec: &ResourceSpec) -> Result<Option<Observed>, ProviderError> {
        let (cluster, pool) = split_pool(&spec.cloud_name)?;
        let got = self
            .get("GET agentPool", &Self::q(&self.pool_path(cluster, pool)))
            .await?;
        Ok(got.map(|p| Self::observe_pool(spec, &p)))
    }

    /// Create and update alike: a PUT with the stack's size, autoscaling and labels (the
    /// system pool, made with its cluster at one node, is sized here).
    pub async fn pool_create(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.put_pool(spec, Op::Create, progress).await
    }

    pub async fn pool_update(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.put_pool(spec, Op::Update, progress).await
    }

    pub async fn pool_wait(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let (cluster, pool) = split_pool(&spec.cloud_name)?;
        let path = Self::q(&self.pool_path(cluster, pool));
        let p = self
            .get("GET agentPool", &path)
            .await?
            .ok_or_else(|| missing(spec))?;
        self.follow_found(p, &path, progress).await?;
        self.pool_settled(spec).await
    }

    /// AKS removes a cluster's last system pool only with the cluster: that one is left
    /// to the cluster's delete (which follows, or a replacement of the cluster does).
    pub async fn pool_delete(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let (cluster, pool) = split_pool(&spec.cloud_name)?;
        if let Some(c) = self.get_cluster(cluster).await? {
            let pools = c["properties"]["agentPoolProfiles"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let system: Vec<&str> = pools
                .iter()
                .filter(|p| p["mode"] == "System")
                .filter_map(|p| p["name"].as_str())
                .collect();
            if system == [pool] {
                progress.status(&format!(
                    "leaving {pool} to cluster {cluster}: AKS deletes a cluster's last system pool only with the cluster"
                ));
                return Ok(());
            }
        } else {
            return Ok(());
        }
        let path = Self::q(&self.pool_path(cluster, pool));
        self.change(
            Change {
                op: "DELETE agentPool",
                method: Method::Delete,
                path: &path,
                body: None,
                cluster: Some(cluster),
                kind: Op::Delete,
            },
            progress,
        )
        .await?;
        Ok(())
    }
}

fn missing(spec: &ResourceSpec) -> ProviderError {
    ProviderError::new(
        ErrorClass::NotFound,
        format!("{} does not exist", spec.address),
    )
}

/// A resource read after its operation ended: it must be there and not Failed.
fn settled(spec: &ResourceSpec, found: Option<Observed>) -> Result<Observed, ProviderError> {
    let o = found.ok_or_else(|| missing(spec))?;
    if let ResourceStatus::Failed(why) = &o.status {
        return Err(ProviderError::new(ErrorClass::Permanent, why.clone()));
    }
    Ok(o)
}

/// The fields of an agent pool profile a PUT may carry (ARM refuses read-only ones).
fn writable_pool_profile(p: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for k in [
        "name",
        "count",
        "vmSize",
        "mode",
        "type",
        "osType",
        "enableAutoScaling",
        "minCount",
        "maxCount",
        "nodeLabels",
        "orchestratorVersion",
    ] {
        if let Some(v) = p.get(k).filter(|v| !v.is_null()) {
            out.insert(k.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minor_picks_the_newest_patch_on_offer() {
        let offered: Vec<String> = ["1.31.8", "1.31.10", "1.31.9", "1.32.5"]
            .map(String::from)
            .to_vec();
        assert_eq!(pick_version("1.31", &offered).as_deref(), Some("1.31.10"));
        assert_eq!(pick_version("1.31.9", &offered).as_deref(), Some("1.31.9"));
        assert_eq!(pick_version("1.30", &offered), None);
        assert_eq!(pick_version("1.31.2", &offered), None);
        assert_eq!(version_as_asked(Some("1.31"), "1.31.10"), "1.31");
        assert_eq!(version_as_asked(Some("1.32"), "1.31.10"), "1.31.10");
    }

    #[test]
    fn an_update_sends_only_writable_pool_fields() {
        let p = json!({"name": "system", "count": 3, "vmSize": "Standard_D4s_v5", "mode": "System",
                       "provisioningState": "Succeeded", "powerState": {"code": "Running"},
                       "nodeImageVersion": "x", "minCount": null});
        let w = writable_pool_profile(&p);
        assert_eq!(
            w,
            json!({"name": "system", "count": 3, "vmSize": "Standard_D4s_v5", "mode": "System"})
        );
    }
}
