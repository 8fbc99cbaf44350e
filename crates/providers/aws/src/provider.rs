//! [`AwsProvider`]: the [`Provider`] of `provider: aws` clouds.

use std::sync::Arc;

use async_trait::async_trait;
use fedstack_core::address::ResourceKind;
use fedstack_core::value::Values;
use fedstack_provider::{
    ClusterAccess, ErrorClass, Observed, Progress, Provider, ProviderContext, ProviderError,
    ResourceSpec, ResourceStatus,
};
use serde_json::Value;

use crate::clients::Clients;
use crate::config::{parse_settings, AwsOptions, Settings};
use crate::eks::Eks;
use crate::iam::Iam;
use crate::network::Network;
use crate::route53::{self, Route53};

/// One `provider: aws` cloud of a stack.
pub struct AwsProvider {
    cloud: String,
    settings: Settings,
    read_only: bool,
    eks: Eks,
    network: Network,
    iam: Iam,
    route53: Route53,
}

impl std::fmt::Debug for AwsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsProvider")
            .field("cloud", &self.cloud)
            .field("settings", &self.settings)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl AwsProvider {
    /// The cloud `cloud_name` with its stack `settings`; options from the environment
    /// ([`AwsOptions::from_env`]). No call is made until the first operation.
    pub fn new(
        cloud_name: &str,
        settings: &Values,
        ctx: &ProviderContext,
    ) -> Result<AwsProvider, ProviderError> {
        AwsProvider::with_options(cloud_name, settings, ctx, AwsOptions::from_env()?)
    }

    pub fn with_options(
        cloud_name: &str,
        settings: &Values,
        ctx: &ProviderContext,
        options: AwsOptions,
    ) -> Result<AwsProvider, ProviderError> {
        let settings = parse_settings(cloud_name, settings)?;
        let clients = Arc::new(Clients::new(settings.clone(), options.clone()));
        Ok(AwsProvider {
            cloud: cloud_name.to_string(),
            read_only: ctx.read_only,
            eks: Eks::new(clients.clone(), options.clone(), &ctx.stack),
            network: Network::new(clients.clone(), options.clone(), &ctx.stack),
            iam: Iam::new(clients.clone(), options.clone(), &ctx.stack),
            route53: Route53::new(clients, options, &ctx.stack),
            settings,
        })
    }

    fn writable(&self, spec: &ResourceSpec, what: &str) -> Result<(), ProviderError> {
        if self.read_only {
            return Err(ProviderError::new(
                ErrorClass::Permanent,
                format!(
                    "aws cloud `{}` was opened read-only; cannot {what} {}",
                    self.cloud, spec.address
                ),
            ));
        }
        Ok(())
    }

    fn unsupported(&self, spec: &ResourceSpec) -> ProviderError {
        ProviderError::new(
            ErrorClass::Invalid,
            format!(
                "{}: provider aws does not run kubefed; put the federation on a cluster whose cloud does (e.g. `local` or `sim`)",
                spec.address
            ),
        )
    }

    /// Whether health check `spec` is healthy now, as Route 53 sees it, with a word on why.
    pub async fn health(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<(bool, String)>, ProviderError> {
        match self.route53.health_check_read(spec).await? {
            None => Ok(None),
            Some(o) => Ok(Some((
                o.outputs
                    .get("healthy")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                o.outputs
                    .get("health")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            ))),
        }
    }
}

/// `data` on an aws cloud is only recorded, like built-in data.
fn data(spec: &ResourceSpec) -> Observed {
    let mut outputs = Values::new();
    outputs.insert("id".into(), Value::String(spec.cloud_name.clone()));
    Observed {
        attrs: spec.attrs.clone(),
        outputs,
        secrets: Default::default(),
        status: ResourceStatus::Ready,
    }
}

#[async_trait]
impl Provider for AwsProvider {
    fn provider_type(&self) -> &'static str {
        "aws"
    }

    async fn read(&self, spec: &ResourceSpec) -> Result<Option<Observed>, ProviderError> {
        match spec.address.kind {
            ResourceKind::Cluster => self.eks.cluster_read(spec).await,
            ResourceKind::NodePool => self.eks.pool_read(spec).await,
            ResourceKind::Network => self.network.read(spec).await,
            ResourceKind::IamRole => self.iam.read(spec).await,
            ResourceKind::DnsZone => self.route53.zone_read(spec).await,
            ResourceKind::HealthCheck => self.route53.health_check_read(spec).await,
            ResourceKind::DnsRecord => self.route53.record_read(spec).await,
            ResourceKind::Data => Ok(Some(data(spec))),
            ResourceKind::FederationHost
            | ResourceKind::FederationMember
            | ResourceKind::Workload
            | ResourceKind::Image => Ok(None),
        }
    }

    async fn create(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.writable(spec, "create")?;
        match spec.address.kind {
            ResourceKind::Cluster => self.eks.cluster_create(spec, progress).await,
            ResourceKind::NodePool => self.eks.pool_create(spec, progress).await,
            ResourceKind::Network => self.network.ensure(spec, progress).await,
            ResourceKind::IamRole => self.iam.create(spec).await,
            ResourceKind::DnsZone => self.route53.zone_create(spec, progress).await,
            ResourceKind::HealthCheck => self.route53.health_check_create(spec).await,
            ResourceKind::DnsRecord => {
                self.route53
                    .record_change(route53::Action::Create, spec, progress)
                    .await
            }
            ResourceKind::Data => Ok(data(spec)),
            ResourceKind::FederationHost
            | ResourceKind::FederationMember
            | ResourceKind::Workload
            | ResourceKind::Image => Err(self.unsupported(spec)),
        }
    }

    async fn update(
        &self,
        spec: &ResourceSpec,
        changed: &[String],
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.writable(spec, "update")?;
        match spec.address.kind {
            ResourceKind::Cluster => self.eks.cluster_update(spec, changed, progress).await,
            ResourceKind::NodePool => self.eks.pool_update(spec, changed, progress).await,
            ResourceKind::Network => self.network.ensure(spec, progress).await,
            ResourceKind::IamRole => self.iam.update(spec).await,
            ResourceKind::DnsZone => self.route53.zone_update(spec, changed).await,
            ResourceKind::HealthCheck => self.route53.health_check_update(spec).await,
            ResourceKind::DnsRecord => {
                self.route53
                    .record_change(route53::Action::Upsert, spec, progress)
                    .await
            }
            ResourceKind::Data => Ok(data(spec)),
            ResourceKind::FederationHost
            | ResourceKind::FederationMember
            | ResourceKind::Workload
            | ResourceKind::Image => Err(self.unsupported(spec)),
        }
    }

    async fn delete(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        self.writable(spec, "delete")?;
        match spec.address.kind {
            ResourceKind::Cluster => self.eks.cluster_delete(spec, progress).await,
            ResourceKind::NodePool => self.eks.pool_delete(spec, progress).await,
            ResourceKind::Network => self.network.delete(spec, progress).await,
            ResourceKind::IamRole => self.iam.delete(spec).await,
            ResourceKind::DnsZone => self.route53.zone_delete(spec).await,
            ResourceKind::HealthCheck => self.route53.health_check_delete(spec).await,
            ResourceKind::DnsRecord => self.route53.record_delete(spec, progress).await,
            ResourceKind::Data => Ok(()),
            ResourceKind::FederationHost
            | ResourceKind::FederationMember
            | ResourceKind::Workload
            | ResourceKind::Image => Ok(()),
        }
    }

    async fn wait_ready(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let missing = || {
            ProviderError::new(
                ErrorClass::NotFound,
                format!("{} does not exist", spec.address),
            )
        };
        match spec.address.kind {
            ResourceKind::Cluster => self.eks.cluster_wait(spec, progress).await,
            ResourceKind::NodePool => self.eks.pool_wait(spec, progress).await,
            // A half-made network is finished (every step of its create is idempotent).
            ResourceKind::Network => {
                self.writable(spec, "finish")?;
                self.network.ensure(spec, progress).await
            }
            ResourceKind::FederationHost
            | ResourceKind::FederationMember
            | ResourceKind::Workload
            | ResourceKind::Image => Err(self.unsupported(spec)),
            _ => self.read(spec).await?.ok_or_else(missing),
        }
    }

    fn max_parallel(&self) -> Option<usize> {
        self.settings.max_parallel
    }

    /// Records are batched per zone: one `ChangeResourceRecordSets` for all the record
    /// changes of a zone that are ready together.
    fn batch_key(&self, spec: &ResourceSpec) -> Option<String> {
        match spec.address.kind {
            ResourceKind::DnsRecord => route53::batch_key(spec),
            _ => None,
        }
    }

    async fn cluster_access(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<ClusterAccess>, ProviderError> {
        match spec.address.kind {
            ResourceKind::Cluster => self.eks.cluster_access(spec).await,
            _ => Ok(None),
        }
    }
}
