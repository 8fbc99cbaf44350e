//! The [`Provider`] for `provider: azure` clouds.

use async_trait::async_trait;
use fedstack_core::address::ResourceKind;
use fedstack_core::value::Values;
use fedstack_provider::{
    ClusterAccess, ErrorClass, Observed, Progress, Provider, ProviderContext, ProviderError,
    ResourceSpec,
};
use tokio::sync::OnceCell;

use crate::aks::Aks;
use crate::arm::Arm;
use crate::config::{AzureOptions, AzureSettings};

/// AKS clusters and agent pools of one azure cloud.
pub struct AzureProvider {
    cloud: String,
    stack: String,
    settings: AzureSettings,
    options: AzureOptions,
    read_only: bool,
    /// Built on first use, so a stack that only validates never builds a client.
    aks: OnceCell<Aks>,
}

impl AzureProvider {
    pub fn new(
        cloud: &str,
        settings: &Values,
        ctx: &ProviderContext,
    ) -> Result<AzureProvider, ProviderError> {
        let settings = AzureSettings::from_values(cloud, settings)?;
        let options = AzureOptions {
            timeouts: settings.timeouts,
            ..AzureOptions::from_env()
        };
        Ok(AzureProvider {
            cloud: cloud.to_string(),
            stack: ctx.stack.clone(),
            settings,
            options,
            read_only: ctx.read_only,
            aks: OnceCell::new(),
        })
    }

    async fn aks(&self) -> Result<&Aks, ProviderError> {
        self.aks
            .get_or_try_init(|| async {
                let arm = Arm::new(&self.settings)?;
                Ok(Aks::new(
                    arm,
                    self.settings.clone(),
                    self.options.clone(),
                    &self.stack,
                ))
            })
            .await
    }

    fn writable(&self, spec: &ResourceSpec) -> Result<(), ProviderError> {
        if self.read_only {
            return Err(ProviderError::new(
                ErrorClass::Permanent,
                format!(
                    "azure cloud `{}` was opened read-only; cannot change {}",
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
                "{}: azure clouds make AKS clusters and node pools; put {} resources on another cloud",
                spec.address, spec.address.kind
            ),
        )
    }
}

#[async_trait]
impl Provider for AzureProvider {
    fn provider_type(&self) -> &'static str {
        "azure"
    }

    fn max_parallel(&self) -> Option<usize> {
        self.settings.max_parallel
    }

    async fn read(&self, spec: &ResourceSpec) -> Result<Option<Observed>, ProviderError> {
        match spec.address.kind {
            ResourceKind::Cluster => self.aks().await?.cluster_read(spec).await,
            ResourceKind::NodePool => self.aks().await?.pool_read(spec).await,
            _ => Err(self.unsupported(spec)),
        }
    }

    async fn create(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.writable(spec)?;
        match spec.address.kind {
            ResourceKind::Cluster => self.aks().await?.cluster_create(spec, progress).await,
            ResourceKind::NodePool => self.aks().await?.pool_create(spec, progress).await,
            _ => Err(self.unsupported(spec)),
        }
    }

    async fn update(
        &self,
        spec: &ResourceSpec,
        _changed: &[String],
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.writable(spec)?;
        match spec.address.kind {
            ResourceKind::Cluster => self.aks().await?.cluster_update(spec, progress).await,
            ResourceKind::NodePool => self.aks().await?.pool_update(spec, progress).await,
            _ => Err(self.unsupported(spec)),
        }
    }

    async fn delete(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        self.writable(spec)?;
        match spec.address.kind {
            ResourceKind::Cluster => self.aks().await?.cluster_delete(spec, progress).await,
            ResourceKind::NodePool => self.aks().await?.pool_delete(spec, progress).await,
            _ => Err(self.unsupported(spec)),
        }
    }

    async fn wait_ready(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        match spec.address.kind {
            ResourceKind::Cluster => self.aks().await?.cluster_wait(spec, progress).await,
            ResourceKind::NodePool => self.aks().await?.pool_wait(spec, progress).await,
            _ => Err(self.unsupported(spec)),
        }
    }

    /// The cluster's user kubeconfig from `listClusterUserCredential`, parsed (nothing
    /// of it is written anywhere): `output kubeconfig` and federation joins, with no `az`.
    async fn cluster_access(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<ClusterAccess>, ProviderError> {
        if spec.address.kind != ResourceKind::Cluster {
            return Ok(None);
        }
        self.aks().await?.cluster_access(spec).await
    }
}
