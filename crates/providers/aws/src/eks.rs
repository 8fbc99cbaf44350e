//! EKS: `cluster.NAME` and `node_pool.CLUSTER.POOL` (managed node groups).
//!
//! Cluster attributes: `flavor` (`eks`), `region`, `kubernetes_version` (MAJOR.MINOR),
//! `labels` (tags), `role_arn`, `subnet_ids`, `security_group_ids`, `endpoint_access`
//! (`public`, `private`, `public_and_private`), `logging` (enabled control plane log
//! types), `ingress_address` (fedstack's own: what DNS points at). In place: version
//! (one minor at a time, EKS's rule), logging, endpoint access, labels. Role, subnets
//! and security groups force a replacement. Outputs: `id` (ARN), `endpoint`,
//! `ca_certificate` (base64 PEM, as EKS gives it), `status`, `region`,
//! `kubernetes_version`, `ingress_address`, `vpc_id`, `cluster_security_group_id`.
//!
//! Node group attributes: `cluster`, `cluster_id`, `machine_type` (one instance type),
//! `node_count`, `min_count`, `max_count`, `labels` (Kubernetes node labels),
//! `node_role_arn`, `subnet_ids`. Scaling and labels change in place; the rest forces a
//! replacement. Outputs: `id` (ARN), `status`, `node_count`.
//!
//! Every create, update and delete waits for the end state (`ACTIVE`, gone), showing
//! the cloud's status as progress.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use aws_sdk_eks::types::{
    ClusterStatus, LogSetup, LogType, Logging, NodegroupScalingConfig, NodegroupStatus,
    UpdateLabelsPayload, UpdateStatus, VpcConfigRequest,
};
use base64::Engine as _;
use fedstack_core::value::Values;
use fedstack_provider::{
    ClusterAccess, ClusterCredentials, ErrorClass, Observed, Progress, ProviderError, ResourceSpec,
    ResourceStatus,
};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::clients::Clients;
use crate::config::AwsOptions;
use crate::errors::{classify, invalid, not_found, permanent, with_retries};

/// Tag fedstack puts on what it makes (not shown as a label).
pub const STACK_TAG: &str = "fedstack:stack";

use fedstack_describe_aws::LOG_TYPES;

pub(crate) struct Eks {
    clients: Arc<Clients>,
    options: AwsOptions,
    stack: String,
}

fn str_attr<'a>(spec: &'a ResourceSpec, k: &str) -> Option<&'a str> {
    spec.attrs.get(k).and_then(Value::as_str)
}

fn str_list(spec: &ResourceSpec, k: &str) -> Vec<String> {
    spec.attrs
        .get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// `got` in the order of `wanted` when they hold the same items (the cloud may sort).
fn in_wanted_order(got: Vec<String>, wanted: &[String]) -> Vec<String> {
    let mut a = got.clone();
    let mut b = wanted.to_vec();
    a.sort();
    b.sort();
    if a == b {
        wanted.to_vec()
    } else {
        got
    }
}

fn endpoint_flags(access: &str) -> (bool, bool) {
    match access {
        "private" => (false, true),
        "public_and_private" => (true, true),
        _ => (true, false),
    }
}

fn endpoint_access(public: bool, private: bool) -> &'static str {
    match (public, private) {
        (false, true) => "private",
        (true, true) => "public_and_private",
        _ => "public",
    }
}

/// The region of a node group: that of its cluster's ARN
/// (`arn:aws:eks:REGION:ACCOUNT:cluster/NAME`).
fn region_of_arn(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// `cluster.pool` -> (`cluster`, `pool`).
fn split_pool(name: &str) -> Result<(&str, &str), ProviderError> {
    name.split_once('.')
        .ok_or_else(|| invalid(format!("node pool name `{name}` is not CLUSTER.POOL")))
}

impl Eks {
    pub(crate) fn new(clients: Arc<Clients>, options: AwsOptions, stack: &str) -> Eks {
        Eks {
            clients,
            options,
            stack: stack.to_string(),
        }
    }

    async fn region(&self, spec: &ResourceSpec) -> Result<String, ProviderError> {
        match str_attr(spec, "region") {
            Some(r) => Ok(r.to_string()),
            None => self.clients.default_region().await,
        }
    }

    async fn describe(
        &self,
        client: &aws_sdk_eks::Client,
        name: &str,
    ) -> Result<Option<aws_sdk_eks::types::Cluster>, ProviderError> {
        let r = with_retries(&self.options.retry, || async {
            client
                .describe_cluster()
                .name(name)
                .send()
                .await
                .map_err(|e| classify("DescribeCluster", e))
        })
        .await;
        match r {
            Ok(out) => Ok(out.cluster().cloned()),
            Err(e) if e.class == ErrorClass::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn observe_cluster(
        &self,
        spec: &ResourceSpec,
        region: &str,
        c: &aws_sdk_eks::types::Cluster,
    ) -> Observed {
        let vpc = c.resources_vpc_config();
        let mut labels: BTreeMap<String, String> = c
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        labels.retain(|k, _| !k.starts_with("fedstack:"));
        let enabled: Vec<String> = c
            .logging()
            .map(|l| {
                l.cluster_logging()
                    .iter()
                    .filter(|s| s.enabled() == Some(true))
                    .flat_map(|s| s.types().iter().map(|t| t.as_str().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let mut enabled_sorted: Vec<String> = LOG_TYPES
            .iter()
            .filter(|t| enabled.iter().any(|e| e == *t))
            .map(|t| t.to_string())
            .collect();
        enabled_sorted = in_wanted_order(enabled_sorted, &str_list(spec, "logging"));
        let subnets = vpc.map(|v| v.subnet_ids().to_vec()).unwrap_or_default();
        let groups = vpc
            .map(|v| v.security_group_ids().to_vec())
            .unwrap_or_default();
        let mut attrs = Values::new();
        attrs.insert("flavor".into(), json!("eks"));
        attrs.insert("region".into(), json!(region));
        attrs.insert(
            "kubernetes_version".into(),
            c.version().map_or(Value::Null, |v| json!(v)),
        );
        attrs.insert("labels".into(), json!(labels));
        attrs.insert(
            "role_arn".into(),
            c.role_arn().map_or(Value::Null, |v| json!(v)),
        );
        attrs.insert(
            "subnet_ids".into(),
            json!(in_wanted_order(subnets, &str_list(spec, "subnet_ids"))),
        );
        attrs.insert(
            "security_group_ids".into(),
            json!(in_wanted_order(
                groups,
                &str_list(spec, "security_group_ids")
            )),
        );
        attrs.insert(
            "endpoint_access".into(),
            json!(endpoint_access(
                vpc.is_none_or(|v| v.endpoint_public_access()),
                vpc.is_some_and(|v| v.endpoint_private_access())
            )),
        );
        attrs.insert("logging".into(), json!(enabled_sorted));
        // fedstack's own (ingress_address) and anything else stays as the stack says.
        for (k, v) in &spec.attrs {
            attrs.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let status = c.status().cloned().unwrap_or(ClusterStatus::Active);
        let mut outputs = Values::new();
        outputs.insert("id".into(), c.arn().map_or(Value::Null, |v| json!(v)));
        outputs.insert(
            "endpoint".into(),
            c.endpoint().map_or(Value::Null, |v| json!(v)),
        );
        outputs.insert(
            "ca_certificate".into(),
            c.certificate_authority()
                .and_then(|a| a.data())
                .map_or(Value::Null, |v| json!(v)),
        );
        outputs.insert("status".into(), json!(status.as_str()));
        outputs.insert("region".into(), json!(region));
        outputs.insert(
            "kubernetes_version".into(),
            c.version().map_or(Value::Null, |v| json!(v)),
        );
        outputs.insert(
            "ingress_address".into(),
            spec.attrs
                .get("ingress_address")
                .cloned()
                .unwrap_or(Value::Null),
        );
        outputs.insert(
            "vpc_id".into(),
            vpc.and_then(|v| v.vpc_id())
                .map_or(Value::Null, |v| json!(v)),
        );
        outputs.insert(
            "cluster_security_group_id".into(),
            vpc.and_then(|v| v.cluster_security_group_id())
                .map_or(Value::Null, |v| json!(v)),
        );
        Observed {
            attrs,
            outputs,
            secrets: Default::default(),
            status: match status {
                ClusterStatus::Active => ResourceStatus::Ready,
                ClusterStatus::Deleting => ResourceStatus::Deleting,
                ClusterStatus::Failed => ResourceStatus::Failed("FAILED".into()),
                other => ResourceStatus::Pending(other.as_str().to_string()),
            },
        }
    }

    pub(crate) async fn cluster_read(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = self.region(spec).await?;
        let client = self.clients.eks(&region).await?;
        Ok(self
            .describe(&client, &spec.cloud_name)
            .await?
            .map(|c| self.observe_cluster(spec, &region, &c)))
    }

    /// Polls until the cluster is ACTIVE; FAILED is an error.
    pub(crate) async fn cluster_wait(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let region = self.region(spec).await?;
        let client = self.clients.eks(&region).await?;
        let started = Instant::now();
        loop {
            let c = self
                .describe(&client, &spec.cloud_name)
                .await?
                .ok_or_else(|| not_found(format!("{} does not exist", spec.address)))?;
            let o = self.observe_cluster(spec, &region, &c);
            match &o.status {
                ResourceStatus::Ready => return Ok(o),
                ResourceStatus::Failed(_) => {
                    let issues: Vec<String> = c
                        .health()
                        .map(|h| {
                            h.issues()
                                .iter()
                                .filter_map(|i| i.message().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    return Err(permanent(format!(
                        "EKS cluster {} is FAILED{}",
                        spec.cloud_name,
                        if issues.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", issues.join("; "))
                        }
                    )));
                }
                ResourceStatus::Deleting => {
                    return Err(not_found(format!("{} is being deleted", spec.address)))
                }
                ResourceStatus::Pending(s) => progress.status(s),
            }
            if started.elapsed() > self.options.wait_timeout {
                return Err(permanent(format!(
                    "EKS cluster {} is not ACTIVE after {:?}",
                    spec.cloud_name, self.options.wait_timeout
                )));
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }

    fn logging(types: &[String]) -> Logging {
        let (on, off): (Vec<&str>, Vec<&str>) = LOG_TYPES
            .iter()
            .partition(|t| types.iter().any(|w| w == *t));
        let mut setups = Vec::new();
        if !on.is_empty() {
            setups.push(
                LogSetup::builder()
                    .set_types(Some(on.iter().map(|t| LogType::from(*t)).collect()))
                    .enabled(true)
                    .build(),
            );
        }
        if !off.is_empty() {
            setups.push(
                LogSetup::builder()
                    .set_types(Some(off.iter().map(|t| LogType::from(*t)).collect()))
                    .enabled(false)
                    .build(),
            );
        }
        Logging::builder().set_cluster_logging(Some(setups)).build()
    }

    pub(crate) async fn cluster_create(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let region = self.region(spec).await?;
        let client = self.clients.eks(&region).await?;
        let role = str_attr(spec, "role_arn")
            .ok_or_else(|| invalid(format!("{}: `role_arn` is required", spec.address)))?;
        let subnets = str_list(spec, "subnet_ids");
        if subnets.len() < 2 {
            return Err(invalid(format!(
                "{}: EKS needs at least two subnets, in two availability zones (got {})",
                spec.address,
                subnets.len()
            )));
        }
        let (public, private) =
            endpoint_flags(str_attr(spec, "endpoint_access").unwrap_or("public"));
        let vpc = VpcConfigRequest::builder()
            .set_subnet_ids(Some(subnets))
            .set_security_group_ids(Some(str_list(spec, "security_group_ids")))
            .endpoint_public_access(public)
            .endpoint_private_access(private)
            .build();
        let mut tags: HashMap<String, String> =
            string_map(spec.attrs.get("labels")).into_iter().collect();
        tags.insert(STACK_TAG.into(), self.stack.clone());
        with_retries(&self.options.retry, || async {
            client
                .create_cluster()
                .name(&spec.cloud_name)
                .set_version(str_attr(spec, "kubernetes_version").map(str::to_string))
                .role_arn(role)
                .resources_vpc_config(vpc.clone())
                .logging(Eks::logging(&str_list(spec, "logging")))
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map_err(|e| classify("CreateCluster", e))
        })
        .await?;
        progress.status("CREATING");
        self.cluster_wait(spec, progress).await
    }

    /// Waits for an update EKS reports by id, when it gave one; then for ACTIVE.
    async fn wait_update(
        &self,
        client: &aws_sdk_eks::Client,
        spec: &ResourceSpec,
        nodegroup: Option<&str>,
        update: Option<&aws_sdk_eks::types::Update>,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let (cluster, what) = match nodegroup {
            Some(_) => (split_pool(&spec.cloud_name)?.0.to_string(), "node group"),
            None => (spec.cloud_name.clone(), "cluster"),
        };
        let Some(update) = update else { return Ok(()) };
        let Some(id) = update.id() else { return Ok(()) };
        let mut status = update.status().cloned().unwrap_or(UpdateStatus::InProgress);
        let mut errors: Vec<String> = Vec::new();
        let started = Instant::now();
        while status == UpdateStatus::InProgress {
            progress.status(&format!("UPDATING (update {id})"));
            if started.elapsed() > self.options.wait_timeout {
                return Err(permanent(format!(
                    "{what} update {id} of {cluster} is still in progress after {:?}",
                    self.options.wait_timeout
                )));
            }
            tokio::time::sleep(self.options.poll_interval).await;
            let out = with_retries(&self.options.retry, || async {
                client
                    .describe_update()
                    .name(&cluster)
                    .set_nodegroup_name(nodegroup.map(str::to_string))
                    .update_id(id)
                    .send()
                    .await
                    .map_err(|e| classify("DescribeUpdate", e))
            })
            .await?;
            if let Some(u) = out.update() {
                status = u.status().cloned().unwrap_or(UpdateStatus::Successful);
                errors = u
                    .errors()
                    .iter()
                    .filter_map(|e| e.error_message().map(str::to_string))
                    .collect();
            } else {
                break;
            }
        }
        match status {
            UpdateStatus::Failed | UpdateStatus::Cancelled => Err(permanent(format!(
                "EKS {what} update {id} of {} is {}{}",
                spec.cloud_name,
                status.as_str(),
                if errors.is_empty() {
                    String::new()
                } else {
                    format!(": {}", errors.join("; "))
                }
            ))),
            _ => Ok(()),
        }
    }

    pub(crate) async fn cluster_update(
        &self,
        spec: &ResourceSpec,
        changed: &[String],
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let region = self.region(spec).await?;
        let client = self.clients.eks(&region).await?;
        let current = self
            .describe(&client, &spec.cloud_name)
            .await?
            .ok_or_else(|| not_found(format!("{} does not exist", spec.address)))?;
        let now = self.observe_cluster(spec, &region, &current);
        let differs = |k: &str| changed.is_empty() || changed.iter().any(|c| c == k);
        let name = spec.cloud_name.as_str();
        // EKS runs one update at a time: each waits for the cluster to be ACTIVE again.
        if differs("kubernetes_version")
            && now.attrs.get("kubernetes_version") != spec.attrs.get("kubernetes_version")
        {
            let version = str_attr(spec, "kubernetes_version").ok_or_else(|| {
                invalid(format!(
                    "{}: `kubernetes_version` is required",
                    spec.address
                ))
            })?;
            let out = with_retries(&self.options.retry, || async {
                client
                    .update_cluster_version()
                    .name(name)
                    .version(version)
                    .send()
                    .await
                    .map_err(|e| classify("UpdateClusterVersion", e))
            })
            .await?;
            self.wait_update(&client, spec, None, out.update(), progress)
                .await?;
            self.cluster_wait(spec, progress).await?;
        }
        if differs("logging") && now.attrs.get("logging") != spec.attrs.get("logging") {
            let out = with_retries(&self.options.retry, || async {
                client
                    .update_cluster_config()
                    .name(name)
                    .logging(Eks::logging(&str_list(spec, "logging")))
                    .send()
                    .await
                    .map_err(|e| classify("UpdateClusterConfig", e))
            })
            .await?;
            self.wait_update(&client, spec, None, out.update(), progress)
                .await?;
            self.cluster_wait(spec, progress).await?;
        }
        if differs("endpoint_access")
            && now.attrs.get("endpoint_access") != spec.attrs.get("endpoint_access")
        {
            let (public, private) =
                endpoint_flags(str_attr(spec, "endpoint_access").unwrap_or("public"));
            let out = with_retries(&self.options.retry, || async {
                client
                    .update_cluster_config()
                    .name(name)
                    .resources_vpc_config(
                        VpcConfigRequest::builder()
                            .endpoint_public_access(public)
                            .endpoint_private_access(private)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| classify("UpdateClusterConfig", e))
            })
            .await?;
            self.wait_update(&client, spec, None, out.update(), progress)
                .await?;
            self.cluster_wait(spec, progress).await?;
        }
        if differs("labels") && now.attrs.get("labels") != spec.attrs.get("labels") {
            let want = string_map(spec.attrs.get("labels"));
            let have = string_map(now.attrs.get("labels"));
            let arn = current
                .arn()
                .ok_or_else(|| permanent(format!("{}: EKS gave no ARN", spec.address)))?;
            let gone: Vec<String> = have
                .keys()
                .filter(|k| !want.contains_key(*k))
                .cloned()
                .collect();
            if !gone.is_empty() {
                with_retries(&self.options.retry, || async {
                    client
                        .untag_resource()
                        .resource_arn(arn)
                        .set_tag_keys(Some(gone.clone()))
                        .send()
                        .await
                        .map_err(|e| classify("UntagResource", e))
                })
                .await?;
            }
            if !want.is_empty() {
                with_retries(&self.options.retry, || async {
                    client
                        .tag_resource()
                        .resource_arn(arn)
                        .set_tags(Some(want.clone().into_iter().collect()))
                        .send()
                        .await
                        .map_err(|e| classify("TagResource", e))
                })
                .await?;
            }
        }
        self.cluster_wait(spec, progress).await
    }

    pub(crate) async fn cluster_delete(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let region = self.region(spec).await?;
        let client = self.clients.eks(&region).await?;
        let r = with_retries(&self.options.retry, || async {
            client
                .delete_cluster()
                .name(&spec.cloud_name)
                .send()
                .await
                .map_err(|e| classify("DeleteCluster", e))
        })
        .await;
        match r {
            Ok(_) => {}
            Err(e) if e.class == ErrorClass::NotFound => return Ok(()),
            // On a delete, "in use" means node groups (or Fargate profiles) are left.
            Err(mut e) if e.class == ErrorClass::AlreadyExists => {
                e.class = ErrorClass::Permanent;
                e.message.push_str(" (hint: the cluster still has node groups fedstack does not manage; delete them first)");
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        self.wait_gone(|| self.describe(&client, &spec.cloud_name), spec, progress)
            .await
    }

    /// Polls `describe` until it finds nothing.
    async fn wait_gone<T, F, Fut>(
        &self,
        describe: F,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, ProviderError>>,
    {
        let started = Instant::now();
        loop {
            if describe().await?.is_none() {
                return Ok(());
            }
            progress.status("DELETING");
            if started.elapsed() > self.options.wait_timeout {
                return Err(permanent(format!(
                    "{} is still being deleted after {:?}",
                    spec.address, self.options.wait_timeout
                )));
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }

    /// Endpoint, CA and a fresh token of the cluster: for kubeconfigs and fedstack's
    /// own calls to its Kubernetes API. The token lives 60 s; nothing of it is stored.
    pub(crate) async fn cluster_access(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<ClusterAccess>, ProviderError> {
        let region = self.region(spec).await?;
        let client = self.clients.eks(&region).await?;
        let Some(c) = self.describe(&client, &spec.cloud_name).await? else {
            return Ok(None);
        };
        let endpoint = c.endpoint().ok_or_else(|| {
            permanent(format!(
                "EKS cluster {} has no endpoint yet",
                spec.cloud_name
            ))
        })?;
        let ca_pem = match c.certificate_authority().and_then(|a| a.data()) {
            None => None,
            Some(data) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data.trim())
                    .map_err(|e| {
                        permanent(format!(
                            "EKS cluster {}: its CA is not base64: {e}",
                            spec.cloud_name
                        ))
                    })?;
                Some(String::from_utf8(bytes).map_err(|_| {
                    permanent(format!(
                        "EKS cluster {}: its CA is not a PEM certificate",
                        spec.cloud_name
                    ))
                })?)
            }
        };
        let credentials = self.clients.credentials().await?;
        let token =
            crate::token::eks_token(&credentials, &region, &spec.cloud_name, SystemTime::now())?;
        Ok(Some(ClusterAccess {
            server: endpoint.to_string(),
            ca_pem,
            credentials: ClusterCredentials::BearerToken(token),
        }))
    }

    // ----- node groups -------------------------------------------------------------

    async fn pool_region(&self, spec: &ResourceSpec) -> Result<String, ProviderError> {
        match str_attr(spec, "cluster_id").and_then(region_of_arn) {
            Some(r) => Ok(r.to_string()),
            None => self.region(spec).await,
        }
    }

    async fn describe_pool(
        &self,
        client: &aws_sdk_eks::Client,
        cluster: &str,
        pool: &str,
    ) -> Result<Option<aws_sdk_eks::types::Nodegroup>, ProviderError> {
        let r = with_retries(&self.options.retry, || async {
            client
                .describe_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(pool)
                .send()
                .await
                .map_err(|e| classify("DescribeNodegroup", e))
        })
        .await;
        match r {
            Ok(out) => Ok(out.nodegroup().cloned()),
            Err(e) if e.class == ErrorClass::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// (min, max, desired) for the spec: min and max default to the node count (max at
    /// least 1, as EKS wants).
    fn scaling(spec: &ResourceSpec) -> Result<(i32, i32, i32), ProviderError> {
        let int = |k: &str| {
            spec.attrs
                .get(k)
                .and_then(Value::as_i64)
                .map(|n| i32::try_from(n).unwrap_or(i32::MAX))
        };
        let desired = int("node_count")
            .ok_or_else(|| invalid(format!("{}: `node_count` is required", spec.address)))?;
        let min = int("min_count").unwrap_or(desired);
        let max = int("max_count").unwrap_or(desired.max(1));
        if min > desired || desired > max || max < 1 {
            return Err(invalid(format!(
                "{}: EKS needs min_count <= node_count <= max_count and max_count >= 1 (got {min}, {desired}, {max})",
                spec.address
            )));
        }
        Ok((min, max, desired))
    }

    fn observe_pool(spec: &ResourceSpec, n: &aws_sdk_eks::types::Nodegroup) -> Observed {
        let scaling = n.scaling_config();
        let desired = scaling.and_then(|s| s.desired_size());
        let min = scaling.and_then(|s| s.min_size());
        let max = scaling.and_then(|s| s.max_size());
        let spec_int = |k: &str| spec.attrs.get(k).and_then(Value::as_i64);
        // A bound the stack leaves out reads back as left out while it is the default.
        let min_out = match (spec_int("min_count"), min, desired) {
            (None, Some(m), Some(d)) if m == d => Value::Null,
            (_, m, _) => m.map_or(Value::Null, |m| json!(m)),
        };
        let max_out = match (spec_int("max_count"), max, desired) {
            (None, Some(m), Some(d)) if m == d.max(1) => Value::Null,
            (_, m, _) => m.map_or(Value::Null, |m| json!(m)),
        };
        let labels: BTreeMap<String, String> = n
            .labels()
            .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let mut attrs = Values::new();
        attrs.insert(
            "cluster".into(),
            n.cluster_name().map_or(Value::Null, |c| json!(c)),
        );
        attrs.insert(
            "machine_type".into(),
            n.instance_types().first().map_or(Value::Null, |t| json!(t)),
        );
        attrs.insert(
            "node_count".into(),
            desired.map_or(Value::Null, |d| json!(d)),
        );
        attrs.insert("min_count".into(), min_out);
        attrs.insert("max_count".into(), max_out);
        attrs.insert("labels".into(), json!(labels));
        attrs.insert(
            "node_role_arn".into(),
            n.node_role().map_or(Value::Null, |r| json!(r)),
        );
        attrs.insert(
            "subnet_ids".into(),
            json!(in_wanted_order(
                n.subnets().to_vec(),
                &str_list(spec, "subnet_ids")
            )),
        );
        for (k, v) in &spec.attrs {
            attrs.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let status = n.status().cloned().unwrap_or(NodegroupStatus::Active);
        let mut outputs = Values::new();
        outputs.insert(
            "id".into(),
            n.nodegroup_arn().map_or(Value::Null, |a| json!(a)),
        );
        outputs.insert("status".into(), json!(status.as_str()));
        outputs.insert(
            "node_count".into(),
            desired.map_or(Value::Null, |d| json!(d)),
        );
        Observed {
            attrs,
            outputs,
            secrets: Default::default(),
            status: match status {
                NodegroupStatus::Active | NodegroupStatus::Degraded => ResourceStatus::Ready,
                NodegroupStatus::Deleting => ResourceStatus::Deleting,
                NodegroupStatus::CreateFailed | NodegroupStatus::DeleteFailed => {
                    ResourceStatus::Failed(status.as_str().to_string())
                }
                other => ResourceStatus::Pending(other.as_str().to_string()),
            },
        }
    }

    pub(crate) async fn pool_read(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<Observed>, ProviderError> {
        let (cluster, pool) = split_pool(&spec.cloud_name)?;
        let client = self.clients.eks(&self.pool_region(spec).await?).await?;
        Ok(self
            .describe_pool(&client, cluster, pool)
            .await?
            .map(|n| Eks::observe_pool(spec, &n)))
    }

    pub(crate) async fn pool_wait(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let (cluster, pool) = split_pool(&spec.cloud_name)?;
        let client = self.clients.eks(&self.pool_region(spec).await?).await?;
        let started = Instant::now();
        loop {
            let n = self
                .describe_pool(&client, cluster, pool)
                .await?
                .ok_or_else(|| not_found(format!("{} does not exist", spec.address)))?;
            let o = Eks::observe_pool(spec, &n);
            match &o.status {
                ResourceStatus::Ready => return Ok(o),
                ResourceStatus::Failed(s) => {
                    let issues: Vec<String> = n
                        .health()
                        .map(|h| {
                            h.issues()
                                .iter()
                                .filter_map(|i| i.message().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    return Err(permanent(format!(
                        "EKS node group {pool} of {cluster} is {s}{}",
                        if issues.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", issues.join("; "))
                        }
                    )));
                }
                ResourceStatus::Deleting => {
                    return Err(not_found(format!("{} is being deleted", spec.address)))
                }
                ResourceStatus::Pending(s) => progress.status(s),
            }
            if started.elapsed() > self.options.wait_timeout {
                return Err(permanent(format!(
                    "EKS node group {pool} of {cluster} is not ACTIVE after {:?}",
                    self.options.wait_timeout
                )));
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }

    pub(crate) async fn pool_create(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let (cluster, pool) = split_pool(&spec.cloud_name)?;
        let client = self.clients.eks(&self.pool_region(spec).await?).await?;
        let (min, max, desired) = Eks::scaling(spec)?;
        let role = str_attr(spec, "node_role_arn")
            .ok_or_else(|| invalid(format!("{}: `node_role_arn` is required", spec.address)))?;
        let machine = str_attr(spec, "machine_type")
            .ok_or_else(|| invalid(format!("{}: `machine_type` is required", spec.address)))?;
        let labels: HashMap<String, String> =
            string_map(spec.attrs.get("labels")).into_iter().collect();
        with_retries(&self.options.retry, || async {
            client
                .create_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(pool)
                .scaling_config(
                    NodegroupScalingConfig::builder()
                        .min_size(min)
                        .max_size(max)
                        .desired_size(desired)
                        .build(),
                )
                .instance_types(machine)
                .set_subnets(Some(str_list(spec, "subnet_ids")))
                .node_role(role)
                .set_labels((!labels.is_empty()).then(|| labels.clone()))
                .tags(STACK_TAG, &self.stack)
                .send()
                .await
                .map_err(|e| classify("CreateNodegroup", e))
        })
        .await?;
        progress.status("CREATING");
        self.pool_wait(spec, progress).await
    }

    pub(crate) async fn pool_update(
        &self,
        spec: &ResourceSpec,
        changed: &[String],
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let (cluster, pool) = split_pool(&spec.cloud_name)?;
        let client = self.clients.eks(&self.pool_region(spec).await?).await?;
        let current = self
            .describe_pool(&client, cluster, pool)
            .await?
            .ok_or_else(|| not_found(format!("{} does not exist", spec.address)))?;
        let now = Eks::observe_pool(spec, &current);
        let differs = |k: &str| {
            (changed.is_empty() || changed.iter().any(|c| c == k))
                && now.attrs.get(k) != spec.attrs.get(k)
        };
        let scale = differs("node_count") || differs("min_count") || differs("max_count");
        let relabel = differs("labels");
        if !scale && !relabel {
            return self.pool_wait(spec, progress).await;
        }
        let mut req = client
            .update_nodegroup_config()
            .cluster_name(cluster)
            .nodegroup_name(pool);
        if scale {
            let (min, max, desired) = Eks::scaling(spec)?;
            req = req.scaling_config(
                NodegroupScalingConfig::builder()
                    .min_size(min)
                    .max_size(max)
                    .desired_size(desired)
                    .build(),
            );
        }
        if relabel {
            let want = string_map(spec.attrs.get("labels"));
            let have = string_map(now.attrs.get("labels"));
            let gone: Vec<String> = have
                .keys()
                .filter(|k| !want.contains_key(*k))
                .cloned()
                .collect();
            req = req.labels(
                UpdateLabelsPayload::builder()
                    .set_add_or_update_labels(
                        (!want.is_empty()).then(|| want.into_iter().collect()),
                    )
                    .set_remove_labels((!gone.is_empty()).then_some(gone))
                    .build(),
            );
        }
        let out = with_retries(&self.options.retry, || {
            let req = req.clone();
            async move {
                req.send()
                    .await
                    .map_err(|e| classify("UpdateNodegroupConfig", e))
            }
        })
        .await?;
        self.wait_update(&client, spec, Some(pool), out.update(), progress)
            .await?;
        self.pool_wait(spec, progress).await
    }

    pub(crate) async fn pool_delete(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let (cluster, pool) = split_pool(&spec.cloud_name)?;
        let client = self.clients.eks(&self.pool_region(spec).await?).await?;
        let r = with_retries(&self.options.retry, || async {
            client
                .delete_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(pool)
                .send()
                .await
                .map_err(|e| classify("DeleteNodegroup", e))
        })
        .await;
        match r {
            Ok(_) => {}
            Err(e) if e.class == ErrorClass::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
        self.wait_gone(
            || self.describe_pool(&client, cluster, pool),
            spec,
            progress,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(
            region_of_arn("arn:aws:eks:sa-east-1:123456789012:cluster/a"),
            Some("sa-east-1")
        );
        assert_eq!(region_of_arn("nope"), None);
        assert_eq!(endpoint_access(true, false), "public");
        assert_eq!(endpoint_flags("public_and_private"), (true, true));
        assert_eq!(
            in_wanted_order(vec!["b".into(), "a".into()], &["a".into(), "b".into()]),
            vec!["a".to_string(), "b".to_string()]
        );
        assert_eq!(split_pool("c.p").expect("split"), ("c", "p"));
    }
}
