//! The [`Provider`] for `provider: gcp` clouds.

use async_trait::async_trait;
use base64::Engine as _;
use fedstack_core::address::ResourceKind;
use fedstack_core::value::Values;
use fedstack_provider::{
    ClusterAccess, ClusterCredentials, ErrorClass, Observed, Progress, Provider, ProviderContext,
    ProviderError, ResourceSpec,
};
use google_cloud_auth::credentials::{AccessTokenCredentials, Credentials};
use google_cloud_container_v1::client::ClusterManager;
use google_cloud_gax::retry_policy::NeverRetry;
use tokio::sync::OnceCell;

use crate::config::{GcpOptions, GcpSettings};
use crate::credentials::access_token_credentials;
use crate::gke::Gke;

/// GKE clusters and node pools of one gcp cloud.
pub struct GcpProvider {
    cloud: String,
    settings: GcpSettings,
    options: GcpOptions,
    read_only: bool,
    /// Built on first use (building the client is async; constructors are not).
    gke: OnceCell<(Gke, AccessTokenCredentials)>,
}

impl GcpProvider {
    pub fn new(
        cloud: &str,
        settings: &Values,
        ctx: &ProviderContext,
    ) -> Result<GcpProvider, ProviderError> {
        GcpProvider::with_options(cloud, settings, ctx, GcpOptions::from_env())
    }

    pub fn with_options(
        cloud: &str,
        settings: &Values,
        ctx: &ProviderContext,
        options: GcpOptions,
    ) -> Result<GcpProvider, ProviderError> {
        let settings = GcpSettings::from_values(cloud, settings)?;
        let options = GcpOptions {
            timeouts: settings.timeouts,
            ..options
        };
        Ok(GcpProvider {
            cloud: cloud.to_string(),
            settings,
            options,
            read_only: ctx.read_only,
            gke: OnceCell::new(),
        })
    }

    async fn gke(&self) -> Result<&(Gke, AccessTokenCredentials), ProviderError> {
        self.gke
            .get_or_try_init(|| async {
                // The clients' TLS: rustls with ring, as kube and the AWS SDK here
                // (installed once per process; a second install is a no-op error).
                let _ = rustls::crypto::ring::default_provider().install_default();
                let tokens = access_token_credentials(
                    &self.cloud,
                    self.settings.credentials_file.as_deref(),
                )?;
                let mut builder = ClusterManager::builder()
                    .with_credentials(Credentials::from(tokens.clone()))
                    // One retry layer: ours (errors.rs), which knows GKE's operations.
                    .with_retry_policy(NeverRetry);
                if let Some(url) = &self.settings.endpoint_url {
                    builder = builder.with_endpoint(url.clone());
                }
                let client = builder.build().await.map_err(|e| {
                    ProviderError::new(
                        ErrorClass::Invalid,
                        format!(
                            "cloud `{}`: could not set up the GKE client: {e}",
                            self.cloud
                        ),
                    )
                })?;
                let gke = Gke {
                    client,
                    project: self.settings.project.clone(),
                    options: self.options.clone(),
                };
                Ok((gke, tokens))
            })
            .await
    }

    fn writable(&self, spec: &ResourceSpec) -> Result<(), ProviderError> {
        if self.read_only {
            return Err(ProviderError::new(
                ErrorClass::Invalid,
                format!("{}: this run only reads", spec.address),
            ));
        }
        Ok(())
    }

    fn unsupported(&self, spec: &ResourceSpec) -> ProviderError {
        ProviderError::new(
            ErrorClass::Invalid,
            format!(
                "{}: gcp clouds make GKE clusters and node pools; put {} resources on another cloud",
                spec.address, spec.address.kind
            ),
        )
    }
}

#[async_trait]
impl Provider for GcpProvider {
    fn provider_type(&self) -> &'static str {
        "gcp"
    }

    fn max_parallel(&self) -> Option<usize> {
        self.settings.max_parallel
    }

    async fn read(&self, spec: &ResourceSpec) -> Result<Option<Observed>, ProviderError> {
        match spec.address.kind {
            ResourceKind::Cluster => self.gke().await?.0.cluster_read(spec).await,
            ResourceKind::NodePool => self.gke().await?.0.pool_read(spec).await,
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
            ResourceKind::Cluster => self.gke().await?.0.cluster_create(spec, progress).await,
            ResourceKind::NodePool => self.gke().await?.0.pool_create(spec, progress).await,
            _ => Err(self.unsupported(spec)),
        }
    }

    async fn update(
        &self,
        spec: &ResourceSpec,
        changed: &[String],
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.writable(spec)?;
        match spec.address.kind {
            ResourceKind::Cluster => {
                self.gke()
                    .await?
                    .0
                    .cluster_update(spec, changed, progress)
                    .await
            }
            ResourceKind::NodePool => {
                self.gke()
                    .await?
                    .0
                    .pool_update(spec, changed, progress)
                    .await
            }
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
            ResourceKind::Cluster => self.gke().await?.0.cluster_delete(spec, progress).await,
            ResourceKind::NodePool => self.gke().await?.0.pool_delete(spec, progress).await,
            _ => Err(self.unsupported(spec)),
        }
    }

    async fn wait_ready(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        match spec.address.kind {
            ResourceKind::Cluster => self.gke().await?.0.cluster_wait(spec, progress).await,
            ResourceKind::NodePool => self.gke().await?.0.pool_wait(spec, progress).await,
            _ => Err(self.unsupported(spec)),
        }
    }

    /// The cluster's endpoint and CA, and a bearer token from the same Google
    /// credentials (what gke-gcloud-auth-plugin would get; no plugin needed).
    async fn cluster_access(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<ClusterAccess>, ProviderError> {
        if spec.address.kind != ResourceKind::Cluster {
            return Ok(None);
        }
        let (gke, tokens) = self.gke().await?;
        let Some(observed) = gke.cluster_read(spec).await? else {
            return Ok(None);
        };
        let what = spec.address.to_string();
        let server = observed
            .outputs
            .get("endpoint")
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorClass::Transient,
                    format!("{what}: GKE reports no endpoint yet"),
                )
            })?;
        let ca_pem = observed
            .outputs
            .get("ca_certificate")
            .and_then(|v| v.as_str())
            .map(|b64| {
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .ok()
                    .and_then(|pem| String::from_utf8(pem).ok())
                    .ok_or_else(|| {
                        ProviderError::new(
                            ErrorClass::Permanent,
                            format!("{what}: GKE's clusterCaCertificate is not base64 PEM"),
                        )
                    })
            })
            .transpose()?;
        let token = tokens.access_token().await.map_err(|e| {
            ProviderError::new(
                ErrorClass::Denied,
                format!("{what}: could not get a Google access token: {e}"),
            )
        })?;
        Ok(Some(ClusterAccess {
            server: server.to_string(),
            ca_pem,
            credentials: ClusterCredentials::BearerToken(token.token),
        }))
    }
}
