//! GKE clusters and node pools.
//!
//! A cluster's `id` output is its resource name (`projects/P/locations/L/clusters/C`),
//! so its node pools find their location from `cluster_id` without another call.
//! GKE cannot create a cluster without nodes: like Terraform's
//! `remove_default_node_pool`, fedstack creates it with a one-node bootstrap pool and
//! removes that pool once the cluster runs (also when it adopts a cluster a crash left
//! half-made), so the stack's pools are the only ones.

use std::collections::BTreeMap;
use std::time::Duration;

use fedstack_core::value::Values;
use fedstack_provider::attrs::{labels as labels_of, str_attr as attr_str, version_as_asked};
use fedstack_provider::{
    ErrorClass, Observed, Progress, ProviderError, ResourceSpec, ResourceStatus,
};
use google_cloud_container_v1::client::ClusterManager;
use google_cloud_container_v1::model::{
    cluster, node_pool, release_channel, Cluster, ClusterUpdate, NodeConfig, NodePool,
    NodePoolAutoscaling, Operation, ReleaseChannel,
};
use serde_json::{json, Value};

use crate::config::{GcpOptions, Op};
use crate::errors::{classify, is_incompatible_operation, with_retries};
use crate::operation;
use google_cloud_gax::error::rpc::Code;

/// The pool GKE needs at create time, removed as soon as the cluster runs.
pub(crate) const BOOTSTRAP_POOL: &str = "fedstack-bootstrap";

pub(crate) struct Gke {
    pub client: ClusterManager,
    pub project: String,
    pub options: GcpOptions,
}

fn invalid(message: String) -> ProviderError {
    ProviderError::new(ErrorClass::Invalid, message)
}

fn channel_of(stack: &str) -> release_channel::Channel {
    match stack {
        "rapid" => release_channel::Channel::Rapid,
        "stable" => release_channel::Channel::Stable,
        "extended" => release_channel::Channel::Extended,
        _ => release_channel::Channel::Regular,
    }
}

fn channel_name(c: &release_channel::Channel) -> Option<&'static str> {
    match c {
        release_channel::Channel::Rapid => Some("rapid"),
        release_channel::Channel::Regular => Some("regular"),
        release_channel::Channel::Stable => Some("stable"),
        release_channel::Channel::Extended => Some("extended"),
        _ => None,
    }
}

/// What GKE says is wrong (its status conditions; `statusMessage` is deprecated).
fn conditions(list: &[google_cloud_container_v1::model::StatusCondition]) -> String {
    let all: Vec<&str> = list
        .iter()
        .map(|c| c.message.as_str())
        .filter(|m| !m.is_empty())
        .collect();
    if all.is_empty() {
        "no reason given".to_string()
    } else {
        all.join("; ")
    }
}

/// A read of something that is not there is `None`, not an error.
fn absent_is_none<T>(got: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match got {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.class == ErrorClass::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// `cluster.pool` -> (`cluster`, `pool`).
fn split_pool(name: &str) -> Result<(&str, &str), ProviderError> {
    name.split_once('.')
        .ok_or_else(|| invalid(format!("node pool name `{name}` is not CLUSTER.POOL")))
}

impl Gke {
    fn location(&self, region: &str) -> String {
        format!("projects/{}/locations/{region}", self.project)
    }

    fn cluster_region<'a>(&self, spec: &'a ResourceSpec) -> Result<&'a str, ProviderError> {
        attr_str(&spec.attrs, "region").ok_or_else(|| {
            invalid(format!(
                "{}: `region` (a GKE location) is required",
                spec.address
            ))
        })
    }

    /// The cluster's resource name: from the pool's `cluster_id` (as recorded), or
    /// from the cluster's own region.
    fn cluster_path(&self, spec: &ResourceSpec) -> Result<String, ProviderError> {
        let region = self.cluster_region(spec)?;
        Ok(format!(
            "{}/clusters/{}",
            self.location(region),
            spec.cloud_name
        ))
    }

    fn pool_paths(&self, spec: &ResourceSpec) -> Result<(String, String), ProviderError> {
        let (cluster, pool) = split_pool(&spec.cloud_name)?;
        let cluster_path = attr_str(&spec.attrs, "cluster_id")
            .filter(|id| {
                id.starts_with("projects/") && id.ends_with(&format!("/clusters/{cluster}"))
            })
            .ok_or_else(|| {
                invalid(format!(
                    "{}: `cluster_id` is not the resource name of GKE cluster `{cluster}`",
                    spec.address
                ))
            })?
            .to_string();
        Ok((format!("{cluster_path}/nodePools/{pool}"), cluster_path))
    }

    async fn get_cluster(&self, path: &str) -> Result<Option<Cluster>, ProviderError> {
        let got = with_retries(&self.options, || async {
            self.client
                .get_cluster()
                .set_name(path)
                .send()
                .await
                .map_err(|e| classify("GetCluster", &e))
        })
        .await;
        absent_is_none(got)
    }

    /// The cluster at `path`, which must be there.
    async fn existing_cluster(&self, path: &str) -> Result<Cluster, ProviderError> {
        self.get_cluster(path).await?.ok_or_else(|| {
            ProviderError::new(ErrorClass::NotFound, "the cluster is gone".to_string())
        })
    }

    /// Runs one mutation (retried while throttled or while another operation runs on
    /// the cluster) and waits for its operation.
    async fn mutate<F, Fut>(
        &self,
        op_name: &str,
        cluster: &str,
        timeout: Duration,
        progress: &dyn Progress,
        call: F,
    ) -> Result<(), ProviderError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Operation, google_cloud_gax::error::Error>>,
    {
        let location = &Gke::location_of(cluster);
        let max = self.options.max_attempts;
        let mut delay = self.options.retry_base_delay;
        let mut attempt = 1;
        let op = loop {
            let raw = match call().await {
                Ok(op) => break op,
                Err(raw) => raw,
            };
            // GKE runs one operation at a time per cluster: wait that one out, then
            // try again (however long it takes: an upgrade can take half an hour).
            let busy = raw.status().is_some_and(|s| {
                s.code == Code::FailedPrecondition && is_incompatible_operation(&s.message)
            });
            let e = classify(op_name, &raw);
            if busy && attempt < max {
                progress.status("waiting for another operation on the cluster");
                self.wait_running_operations(location, cluster, progress)
                    .await?;
            } else if e.is_retryable() && attempt < e.class.attempts_allowed(max) {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(60));
            } else if e.is_retryable() {
                return Err(e.gave_up(attempt));
            } else {
                return Err(e);
            }
            attempt += 1;
        };
        operation::wait(&self.client, &self.options, location, op, timeout, progress).await
    }

    // ----- clusters --------------------------------------------------------------------

    pub(crate) fn observe_cluster(&self, spec: &ResourceSpec, c: &Cluster) -> Observed {
        let mut attrs = Values::new();
        attrs.insert("flavor".into(), json!("gke"));
        attrs.insert("region".into(), json!(c.location));
        attrs.insert(
            "kubernetes_version".into(),
            json!(version_as_asked(
                attr_str(&spec.attrs, "kubernetes_version"),
                &c.current_master_version
            )),
        );
        let labels: BTreeMap<&String, &String> = c.resource_labels.iter().collect();
        attrs.insert("labels".into(), json!(labels));
        attrs.insert(
            "release_channel".into(),
            json!(c
                .release_channel
                .as_ref()
                .and_then(|r| channel_name(&r.channel))),
        );
        // GKE fills in `default` when the stack names none: not drift.
        for key in ["network", "subnetwork"] {
            let actual = if key == "network" {
                &c.network
            } else {
                &c.subnetwork
            };
            let v = match attr_str(&spec.attrs, key) {
                None => Value::Null,
                Some(_) => json!(actual),
            };
            attrs.insert(key.into(), v);
        }
        // fedstack's own (ingress_address) stays as the stack says.
        for (k, v) in &spec.attrs {
            attrs.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let path = format!("{}/clusters/{}", self.location(&c.location), c.name);
        let mut outputs = Values::new();
        outputs.insert("id".into(), json!(path));
        outputs.insert(
            "endpoint".into(),
            if c.endpoint.is_empty() {
                Value::Null
            } else {
                json!(format!("https://{}", c.endpoint))
            },
        );
        outputs.insert(
            "ca_certificate".into(),
            c.master_auth
                .as_ref()
                .map(|a| a.cluster_ca_certificate.clone())
                .filter(|ca| !ca.is_empty())
                .map_or(Value::Null, Value::from),
        );
        outputs.insert(
            "status".into(),
            json!(c.status.name().unwrap_or("STATUS_UNSPECIFIED")),
        );
        outputs.insert("region".into(), json!(c.location));
        outputs.insert("kubernetes_version".into(), json!(c.current_master_version));
        outputs.insert(
            "ingress_address".into(),
            spec.attrs
                .get("ingress_address")
                .cloned()
                .unwrap_or(Value::Null),
        );
        let status = match &c.status {
            cluster::Status::Running => ResourceStatus::Ready,
            cluster::Status::Stopping => ResourceStatus::Deleting,
            cluster::Status::Error | cluster::Status::Degraded => ResourceStatus::Failed(format!(
                "{}: {}",
                c.status.name().unwrap_or("ERROR"),
                conditions(&c.conditions)
            )),
            other => ResourceStatus::Pending(other.name().unwrap_or("PROVISIONING").to_string()),
        };
        Observed {
            attrs,
            outputs,
            secrets: Default::default(),
            status,
        }
    }

    pub(crate) async fn cluster_read(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<Observed>, ProviderError> {
        let path = self.cluster_path(spec)?;
        Ok(self
            .get_cluster(&path)
            .await?
            .map(|c| self.observe_cluster(spec, &c)))
    }

    pub(crate) async fn cluster_create(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let region = self.cluster_region(spec)?;
        let location = self.location(region);
        let path = self.cluster_path(spec)?;
        let mut cluster = Cluster::new()
            .set_name(&spec.cloud_name)
            .set_resource_labels(labels_of(&spec.attrs))
            .set_node_pools([NodePool::new()
                .set_name(BOOTSTRAP_POOL)
                .set_initial_node_count(1)]);
        if let Some(v) = attr_str(&spec.attrs, "kubernetes_version") {
            cluster = cluster.set_initial_cluster_version(v);
        }
        if let Some(n) = attr_str(&spec.attrs, "network") {
            cluster = cluster.set_network(n);
        }
        if let Some(n) = attr_str(&spec.attrs, "subnetwork") {
            cluster = cluster.set_subnetwork(n);
        }
        if let Some(c) = attr_str(&spec.attrs, "release_channel") {
            cluster = cluster.set_release_channel(ReleaseChannel::new().set_channel(channel_of(c)));
        }
        let cluster = &cluster;
        let created = self
            .mutate(
                "CreateCluster",
                &path,
                self.options.for_cluster(Op::Create),
                progress,
                || {
                    self.client
                        .create_cluster()
                        .set_parent(&location)
                        .set_cluster(cluster.clone())
                        .send()
                },
            )
            .await;
        match created {
            // It is there already (a create that raced, or one a crash left before its
            // intent was read back): wait for it like an adoption, never create again.
            Err(e) if e.class == ErrorClass::AlreadyExists => {}
            other => other?,
        }
        self.cluster_wait(spec, progress).await
    }

    /// Waits for whatever operation runs on the cluster, removes the bootstrap pool,
    /// and reads it: the end of a create, and the adoption of a half-made cluster.
    pub(crate) async fn cluster_wait(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let region = self.cluster_region(spec)?;
        let location = self.location(region);
        let path = self.cluster_path(spec)?;
        self.wait_running_operations(&location, &path, progress)
            .await?;
        let c = self.existing_cluster(&path).await?;
        if let ResourceStatus::Failed(why) = self.observe_cluster(spec, &c).status {
            return Err(ProviderError::new(ErrorClass::Permanent, why));
        }
        if c.node_pools.iter().any(|p| p.name == BOOTSTRAP_POOL) {
            let pool = format!("{path}/nodePools/{BOOTSTRAP_POOL}");
            let removed = self
                .mutate(
                    "DeleteNodePool",
                    &path,
                    self.options.for_cluster(Op::Create),
                    progress,
                    || self.client.delete_node_pool().set_name(&pool).send(),
                )
                .await;
            match removed {
                Err(e) if e.class != ErrorClass::NotFound => return Err(e),
                _ => {}
            }
        }
        let c = self.existing_cluster(&path).await?;
        Ok(self.observe_cluster(spec, &c))
    }

    /// Waits out every operation on the cluster `path` that is not DONE.
    async fn wait_running_operations(
        &self,
        location: &str,
        path: &str,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let listed = with_retries(&self.options, || async {
            self.client
                .list_operations()
                .set_parent(location)
                .send()
                .await
                .map_err(|e| classify("ListOperations", &e))
        })
        .await?;
        let target = format!("/{path}");
        for op in listed.operations {
            let on_it =
                op.target_link.ends_with(&target) || op.target_link.contains(&format!("{target}/"));
            if on_it && op.status != google_cloud_container_v1::model::operation::Status::Done {
                operation::wait(
                    &self.client,
                    &self.options,
                    location,
                    op,
                    self.options.for_cluster(Op::Update),
                    progress,
                )
                .await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn cluster_update(
        &self,
        spec: &ResourceSpec,
        changed: &[String],
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let path = self.cluster_path(spec)?;
        let has = |k: &str| changed.iter().any(|c| c == k);
        // GKE takes one desired change per UpdateCluster call.
        let mut updates = Vec::new();
        if has("kubernetes_version") {
            let v = attr_str(&spec.attrs, "kubernetes_version").unwrap_or("latest");
            updates.push(ClusterUpdate::new().set_desired_master_version(v));
        }
        if let (true, Some(channel)) = (
            has("release_channel"),
            attr_str(&spec.attrs, "release_channel"),
        ) {
            updates.push(ClusterUpdate::new().set_desired_release_channel(
                ReleaseChannel::new().set_channel(channel_of(channel)),
            ));
        }
        for update in updates {
            self.mutate(
                "UpdateCluster",
                &path,
                self.options.for_cluster(Op::Update),
                progress,
                || {
                    self.client
                        .update_cluster()
                        .set_name(&path)
                        .set_update(update.clone())
                        .send()
                },
            )
            .await?;
        }
        if has("labels") {
            // The fingerprint of the labels being replaced: read right before.
            let current = self.existing_cluster(&path).await?;
            let labels = labels_of(&spec.attrs);
            self.mutate(
                "SetLabels",
                &path,
                self.options.for_cluster(Op::Update),
                progress,
                || {
                    self.client
                        .set_labels()
                        .set_name(&path)
                        .set_resource_labels(labels.clone())
                        .set_label_fingerprint(current.label_fingerprint.clone())
                        .send()
                },
            )
            .await?;
        }
        let c = self.existing_cluster(&path).await?;
        Ok(self.observe_cluster(spec, &c))
    }

    pub(crate) async fn cluster_delete(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let path = self.cluster_path(spec)?;
        let deleted = self
            .mutate(
                "DeleteCluster",
                &path,
                self.options.for_cluster(Op::Delete),
                progress,
                || self.client.delete_cluster().set_name(&path).send(),
            )
            .await;
        match deleted {
            Err(e) if e.class == ErrorClass::NotFound => Ok(()),
            other => other,
        }
    }

    // ----- node pools ------------------------------------------------------------------

    fn observe_pool(spec: &ResourceSpec, p: &NodePool) -> Observed {
        let mut attrs = Values::new();
        for k in ["cluster", "cluster_id"] {
            attrs.insert(k.into(), spec.attrs.get(k).cloned().unwrap_or(Value::Null));
        }
        attrs.insert(
            "machine_type".into(),
            json!(p
                .config
                .as_ref()
                .map(|c| c.machine_type.clone())
                .unwrap_or_default()),
        );
        // GKE reports no current size (it lives in the Compute API's instance groups):
        // the size is the one fedstack set.
        attrs.insert(
            "node_count".into(),
            spec.attrs
                .get("node_count")
                .cloned()
                .unwrap_or(json!(p.initial_node_count)),
        );
        let scaling = p.autoscaling.as_ref().filter(|a| a.enabled);
        attrs.insert(
            "min_count".into(),
            scaling.map_or(Value::Null, |a| json!(a.min_node_count)),
        );
        attrs.insert(
            "max_count".into(),
            scaling.map_or(Value::Null, |a| json!(a.max_node_count)),
        );
        let labels: BTreeMap<String, String> = p
            .config
            .as_ref()
            .map(|c| {
                c.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        attrs.insert("labels".into(), json!(labels));
        for (k, v) in &spec.attrs {
            attrs.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let mut outputs = Values::new();
        outputs.insert("id".into(), json!(p.self_link));
        outputs.insert(
            "status".into(),
            json!(p.status.name().unwrap_or("STATUS_UNSPECIFIED")),
        );
        outputs.insert("node_count".into(), attrs["node_count"].clone());
        let status = match &p.status {
            node_pool::Status::Running => ResourceStatus::Ready,
            node_pool::Status::Stopping => ResourceStatus::Deleting,
            node_pool::Status::Error | node_pool::Status::RunningWithError => {
                ResourceStatus::Failed(format!(
                    "{}: {}",
                    p.status.name().unwrap_or("ERROR"),
                    conditions(&p.conditions)
                ))
            }
            other => ResourceStatus::Pending(other.name().unwrap_or("PROVISIONING").to_string()),
        };
        Observed {
            attrs,
            outputs,
            secrets: Default::default(),
            status,
        }
    }

    async fn get_pool(&self, path: &str) -> Result<Option<NodePool>, ProviderError> {
        let got = with_retries(&self.options, || async {
            self.client
                .get_node_pool()
                .set_name(path)
                .send()
                .await
                .map_err(|e| classify("GetNodePool", &e))
        })
        .await;
        absent_is_none(got)
    }

    pub(crate) async fn pool_read(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<Observed>, ProviderError> {
        let (path, _) = self.pool_paths(spec)?;
        Ok(self
            .get_pool(&path)
            .await?
            .map(|p| Gke::observe_pool(spec, &p)))
    }

    fn location_of(cluster_path: &str) -> String {
        cluster_path
            .rsplitn(3, '/')
            .nth(2)
            .unwrap_or_default()
            .to_string()
    }

    fn autoscaling(spec: &ResourceSpec) -> NodePoolAutoscaling {
        let n = |k: &str| spec.attrs.get(k).and_then(Value::as_i64).map(|v| v as i32);
        match (n("min_count"), n("max_count")) {
            (None, None) => NodePoolAutoscaling::new().set_enabled(false),
            (min, max) => NodePoolAutoscaling::new()
                .set_enabled(true)
                .set_min_node_count(min.unwrap_or(0))
                .set_max_node_count(max.or(n("node_count")).unwrap_or(1)),
        }
    }

    pub(crate) async fn pool_create(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let (path, cluster_path) = self.pool_paths(spec)?;
        let (_, pool) = split_pool(&spec.cloud_name)?;
        let mut config = NodeConfig::new().set_labels(labels_of(&spec.attrs));
        if let Some(m) = attr_str(&spec.attrs, "machine_type") {
            config = config.set_machine_type(m);
        }
        let count = spec
            .attrs
            .get("node_count")
            .and_then(Value::as_i64)
            .unwrap_or(1) as i32;
        let mut node_pool = NodePool::new()
            .set_name(pool)
            .set_initial_node_count(count)
            .set_config(config);
        let scaling = Gke::autoscaling(spec);
        if scaling.enabled {
            node_pool = node_pool.set_autoscaling(scaling);
        }
        let node_pool = &node_pool;
        let created = self
            .mutate(
                "CreateNodePool",
                &cluster_path,
                self.options.for_pool(Op::Create),
                progress,
                || {
                    self.client
                        .create_node_pool()
                        .set_parent(&cluster_path)
                        .set_node_pool(node_pool.clone())
                        .send()
                },
            )
            .await;
        match created {
            // A crash between the create and its record: adopt what is there.
            Err(e) if e.class == ErrorClass::AlreadyExists => {}
            other => other?,
        }
        self.pool_wait_path(spec, &path).await
    }

    async fn pool_wait_path(
        &self,
        spec: &ResourceSpec,
        path: &str,
    ) -> Result<Observed, ProviderError> {
        let p = self.get_pool(path).await?.ok_or_else(|| {
            ProviderError::new(ErrorClass::NotFound, "the node pool is gone".to_string())
        })?;
        Ok(Gke::observe_pool(spec, &p))
    }

    pub(crate) async fn pool_wait(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let (path, cluster_path) = self.pool_paths(spec)?;
        let location = Gke::location_of(&cluster_path);
        self.wait_running_operations(&location, &path, progress)
            .await?;
        self.pool_wait_path(spec, &path).await
    }

    pub(crate) async fn pool_update(
        &self,
        spec: &ResourceSpec,
        changed: &[String],
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let (path, cluster_path) = self.pool_paths(spec)?;
        let has = |k: &str| changed.iter().any(|c| c == k);
        if has("min_count") || has("max_count") {
            let scaling = Gke::autoscaling(spec);
            self.mutate(
                "SetNodePoolAutoscaling",
                &cluster_path,
                self.options.for_pool(Op::Update),
                progress,
                || {
                    self.client
                        .set_node_pool_autoscaling()
                        .set_name(&path)
                        .set_autoscaling(scaling.clone())
                        .send()
                },
            )
            .await?;
        }
        if has("node_count") {
            let count = spec
                .attrs
                .get("node_count")
                .and_then(Value::as_i64)
                .unwrap_or(0) as i32;
            self.mutate(
                "SetNodePoolSize",
                &cluster_path,
                self.options.for_pool(Op::Update),
                progress,
                || {
                    self.client
                        .set_node_pool_size()
                        .set_name(&path)
                        .set_node_count(count)
                        .send()
                },
            )
            .await?;
        }
        if has("labels") {
            return Err(invalid(format!(
                "changing a GKE node pool's labels in place is not supported by fedstack yet (hint: `fedstack apply --replace {}` makes the pool again with them)",
                spec.address
            )));
        }
        self.pool_wait_path(spec, &path).await
    }

    pub(crate) async fn pool_delete(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let (path, cluster_path) = self.pool_paths(spec)?;
        let deleted = self
            .mutate(
                "DeleteNodePool",
                &cluster_path,
                self.options.for_pool(Op::Delete),
                progress,
                || self.client.delete_node_pool().set_name(&path).send(),
            )
            .await;
        match deleted {
            Err(e) if e.class == ErrorClass::NotFound => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_back_as_the_stack_wrote_them() {
        assert_eq!(
            version_as_asked(Some("1.31"), "1.31.13-gke.1023000"),
            "1.31"
        );
        assert_eq!(
            version_as_asked(Some("1.31"), "1.32.9-gke.1130000"),
            "1.32.9-gke.1130000"
        );
        assert_eq!(
            version_as_asked(None, "1.33.5-gke.1080000"),
            "1.33.5-gke.1080000"
        );
        assert_eq!(version_as_asked(Some("1.3"), "1.31.1"), "1.31.1");
    }

    #[test]
    fn a_pool_finds_its_location_in_its_cluster_id() {
        assert_eq!(
            Gke::location_of("projects/p/locations/us-central1/clusters/c"),
            "projects/p/locations/us-central1"
        );
    }
}
