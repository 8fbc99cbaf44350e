//! [`KubernetesProvider`]: the federation resources, with each cluster reached through
//! its own cloud.

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use fedstack_kube::federation::Cluster;
use fedstack_kube::resources::{self, ClusterSource, View};
use fedstack_provider::{
    ClusterAccess, ErrorClass, Observed, Progress, Provider, ProviderError, ResourceSpec,
};

use crate::clusters::ClusterDirectory;

pub struct KubernetesProvider {
    clusters: ClusterDirectory,
    read_only: bool,
    stack: String,
}

impl KubernetesProvider {
    /// The federation resources of `stack`, on the clusters of `clusters`.
    pub fn new(clusters: ClusterDirectory, read_only: bool, stack: &str) -> KubernetesProvider {
        KubernetesProvider {
            clusters,
            read_only,
            stack: stack.to_string(),
        }
    }

    /// How to reach cluster `name` now; `None` when its cloud has no such cluster (or
    /// gives no credentials for it).
    async fn access(&self, name: &str) -> Result<Option<ClusterAccess>, ProviderError> {
        match self.clusters.get(name) {
            None => Ok(None),
            Some(entry) => entry.provider.cluster_access(&entry.spec).await,
        }
    }

    async fn cluster(&self, name: &str) -> Result<Option<Cluster>, ProviderError> {
        let Some(access) = self.access(name).await? else {
            return Ok(None);
        };
        let client = fedstack_kube::client_for(name, &access).await?;
        Ok(Some(Cluster {
            name: name.to_string(),
            client,
        }))
    }
}

#[async_trait]
impl ClusterSource for KubernetesProvider {
    fn stack(&self) -> &str {
        &self.stack
    }

    fn describe(&self, name: &str) -> String {
        match self.clusters.get(name) {
            Some(e) => format!("cluster {name} ({})", e.provider.provider_type()),
            None => format!("cluster {name}"),
        }
    }

    fn looked_in(&self) -> String {
        " (or its cloud gives no credentials for it)".to_string()
    }

    fn writable(&self, what: &str) -> Result<(), ProviderError> {
        if self.read_only {
            return Err(ProviderError::new(
                ErrorClass::Permanent,
                format!("the kubernetes provider was opened read-only; cannot {what}"),
            ));
        }
        Ok(())
    }

    async fn view(&self, name: &str) -> Result<View, ProviderError> {
        Ok(match self.cluster(name).await? {
            None => View::Missing,
            Some(c) => View::Running(c),
        })
    }

    async fn running(
        &self,
        name: &str,
        _progress: &dyn Progress,
    ) -> Result<Option<Cluster>, ProviderError> {
        self.cluster(name).await
    }

    async fn endpoint_and_ca(
        &self,
        name: &str,
    ) -> Result<(Option<String>, Option<String>), ProviderError> {
        Ok(match self.access(name).await? {
            None => (None, None),
            Some(a) => (Some(a.server), a.ca_pem.map(|pem| B64.encode(pem))),
        })
    }
}

#[async_trait]
impl Provider for KubernetesProvider {
    fn provider_type(&self) -> &'static str {
        "kubernetes"
    }

    async fn read(&self, spec: &ResourceSpec) -> Result<Option<Observed>, ProviderError> {
        resources::read(self, spec).await
    }

    async fn create(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.wait_ready(spec, progress).await
    }

    /// Both are idempotent and repair whatever differs.
    async fn update(
        &self,
        spec: &ResourceSpec,
        _changed: &[String],
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.wait_ready(spec, progress).await
    }

    async fn delete(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        resources::remove(self, spec, progress).await
    }

    async fn wait_ready(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        resources::ensure(self, spec, progress).await
    }
}
