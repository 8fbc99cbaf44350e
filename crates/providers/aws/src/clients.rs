//! The SDK clients of one cloud: made on first use (loading the shared config is
//! async), Route 53 and IAM once (global services), EKS and EC2 once per region.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use fedstack_provider::ProviderError;
use tokio::sync::OnceCell;

use crate::config::{AwsOptions, Settings};

/// Where Route 53, IAM and STS calls are signed when nothing else says.
pub const DEFAULT_REGION: &str = "us-east-1";

pub(crate) struct Clients {
    settings: Settings,
    options: AwsOptions,
    base: OnceCell<SdkConfig>,
    route53: OnceCell<aws_sdk_route53::Client>,
    iam: OnceCell<aws_sdk_iam::Client>,
    eks: Mutex<HashMap<String, aws_sdk_eks::Client>>,
    ec2: Mutex<HashMap<String, aws_sdk_ec2::Client>>,
}

/// hyper + rustls with ring (no aws-lc): the same TLS stack as the rest of fedstack.
fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

impl Clients {
    pub(crate) fn new(settings: Settings, options: AwsOptions) -> Clients {
        Clients {
            settings,
            options,
            base: OnceCell::new(),
            route53: OnceCell::new(),
            iam: OnceCell::new(),
            eks: Mutex::new(HashMap::new()),
            ec2: Mutex::new(HashMap::new()),
        }
    }

    /// The shared configuration: credentials and region the usual AWS way (environment,
    /// profile, SSO, IMDS...), the cloud's `profile`, `region` and `endpoint_url` on top.
    pub(crate) async fn base(&self) -> Result<&SdkConfig, ProviderError> {
        self.base
            .get_or_try_init(|| async {
                let http = self
                    .options
                    .http_client
                    .clone()
                    .unwrap_or_else(https_client);
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .http_client(http)
                    // Every attempt is ours (errors.rs), so that it can be counted and tested.
                    .retry_config(RetryConfig::disabled())
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(Duration::from_secs(10))
                            .operation_attempt_timeout(Duration::from_secs(90))
                            .build(),
                    );
                if let Some(p) = &self.settings.profile {
                    loader = loader.profile_name(p);
                }
                if let Some(r) = &self.settings.region {
                    loader = loader.region(Region::new(r.clone()));
                }
                if let Some(u) = &self.settings.endpoint_url {
                    loader = loader.endpoint_url(u);
                }
                if let Some(c) = &self.options.credentials {
                    loader = loader.credentials_provider(c.clone());
                }
                let config = loader.load().await;
                Ok(match config.region() {
                    Some(_) => config,
                    None => config
                        .into_builder()
                        .region(Region::new(DEFAULT_REGION))
                        .build(),
                })
            })
            .await
    }

    /// The region of calls that have none of their own.
    pub(crate) async fn default_region(&self) -> Result<String, ProviderError> {
        Ok(self
            .base()
            .await?
            .region()
            .map_or_else(|| DEFAULT_REGION.to_string(), |r| r.to_string()))
    }

    pub(crate) async fn route53(&self) -> Result<&aws_sdk_route53::Client, ProviderError> {
        let base = self.base().await?;
        self.route53
            .get_or_try_init(|| async {
                Ok(aws_sdk_route53::Client::from_conf(
                    aws_sdk_route53::config::Builder::from(base).build(),
                ))
            })
            .await
    }

    pub(crate) async fn iam(&self) -> Result<&aws_sdk_iam::Client, ProviderError> {
        let base = self.base().await?;
        self.iam
            .get_or_try_init(|| async {
                Ok(aws_sdk_iam::Client::from_conf(
                    aws_sdk_iam::config::Builder::from(base).build(),
                ))
            })
            .await
    }

    pub(crate) async fn eks(&self, region: &str) -> Result<aws_sdk_eks::Client, ProviderError> {
        let base = self.base().await?;
        let mut m = self.eks.lock().unwrap_or_else(|p| p.into_inner());
        Ok(m.entry(region.to_string())
            .or_insert_with(|| {
                aws_sdk_eks::Client::from_conf(
                    aws_sdk_eks::config::Builder::from(base)
                        .region(Region::new(region.to_string()))
                        .build(),
                )
            })
            .clone())
    }

    pub(crate) async fn ec2(&self, region: &str) -> Result<aws_sdk_ec2::Client, ProviderError> {
        let base = self.base().await?;
        let mut m = self.ec2.lock().unwrap_or_else(|p| p.into_inner());
        Ok(m.entry(region.to_string())
            .or_insert_with(|| {
                aws_sdk_ec2::Client::from_conf(
                    aws_sdk_ec2::config::Builder::from(base)
                        .region(Region::new(region.to_string()))
                        .build(),
                )
            })
            .clone())
    }

    /// Credentials for presigning (the EKS token), from the same chain as every call.
    pub(crate) async fn credentials(
        &self,
    ) -> Result<aws_credential_types::Credentials, ProviderError> {
        use aws_credential_types::provider::ProvideCredentials;
        let base = self.base().await?;
        let provider = base.credentials_provider().ok_or_else(|| {
            ProviderError::new(
                fedstack_provider::ErrorClass::Denied,
                "no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the cloud's `profile`",
            )
        })?;
        provider.provide_credentials().await.map_err(|e| {
            ProviderError::new(
                fedstack_provider::ErrorClass::Denied,
                format!("cannot load AWS credentials: {e}"),
            )
        })
    }
}
