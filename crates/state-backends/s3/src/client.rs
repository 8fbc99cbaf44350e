//! The S3 client and the bridge from the state's synchronous interface to the async
//! SDK: the backend owns a small runtime of its own, so it works the same from a
//! plain thread (the engine's journal writer) and from inside the CLI's runtime.

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::RequestChecksumCalculation;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use fedstack_core::stack::S3StateConfig;

/// Where a stack's state lives in S3, and how to reach it: the stack's `state:` section.
pub type S3Settings = S3StateConfig;

/// Owns the runtime the SDK runs on. Dropped without blocking, so it may be dropped
/// anywhere (a runtime dropped inside another one would panic).
pub(crate) struct Runner {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Runner")
    }
}

impl Runner {
    pub(crate) fn new() -> std::io::Result<Runner> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fedstack-s3")
            .enable_all()
            .build()?;
        Ok(Runner {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    pub(crate) fn handle(&self) -> tokio::runtime::Handle {
        self.handle.clone()
    }

    /// Runs `f` to completion. Inside another runtime (where blocking on this one is
    /// not allowed) it blocks from a scoped helper thread instead.
    pub(crate) fn block<F>(&self, f: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let handle = self.handle();
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| match s.spawn(move || handle.block_on(f)).join() {
                Ok(out) => out,
                Err(panic) => std::panic::resume_unwind(panic),
            })
        } else {
            handle.block_on(f)
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The S3 client: credentials and region the usual AWS way (environment, profile,
/// SSO, IMDS, ...), the section's `profile`, `region` and `endpoint_url` on top;
/// hyper + rustls with ring as the aws provider. Retries are ours (objects.rs), so
/// that every attempt is one we can reason about.
pub(crate) async fn make_client(s: &S3Settings) -> (aws_sdk_s3::Client, String) {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        );
    if let Some(p) = &s.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &s.region {
        loader = loader.region(Region::new(r.clone()));
    }
    let config = loader.load().await;
    let region = config
        .region()
        .map_or_else(|| "us-east-1".to_string(), |r| r.to_string());
    let mut builder =
        aws_sdk_s3::config::Builder::from(&config).region(Region::new(region.clone()));
    if let Some(url) = &s.endpoint_url {
        builder = builder.endpoint_url(url);
    }
    let custom_endpoint = s.endpoint_url.is_some()
        || ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
    if custom_endpoint {
        // S3-compatible stores (and moto) are addressed by path, and many of them do
        // not take the SDK's newer default checksums.
        builder = builder
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired);
    }
    (aws_sdk_s3::Client::from_conf(builder.build()), region)
}
