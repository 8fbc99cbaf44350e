//! kube-rs clients from a [`ClusterAccess`] or a user's kubeconfig, with timeouts.

use std::path::Path;
use std::time::Duration;

use fedstack_provider::ClusterAccess;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::errors::{chain, KubeError, Result};
use crate::kubeconfig::{kubeconfig_for, load_kubeconfig, KubeconfigTarget};

/// How long to wait for a TCP + TLS connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for a response (every call fedstack makes is short).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for `access` (`name` appears in errors only).
pub async fn client_for(name: &str, access: &ClusterAccess) -> Result<Client> {
    let kc = kubeconfig_for(name, access)?;
    client_from(kc, None, name).await
}

/// A client for the context `context` (else the current one) of the kubeconfig at `path`,
/// and what that context points at.
pub async fn client_from_kubeconfig(
    path: &Path,
    context: Option<&str>,
) -> Result<(Client, KubeconfigTarget)> {
    let (kc, target) = load_kubeconfig(path, context)?;
    let shown = format!("kubeconfig {} context `{}`", path.display(), target.context);
    let client = client_from(kc, Some(&target.context), &shown).await?;
    Ok((client, target))
}

async fn client_from(kc: Kubeconfig, context: Option<&str>, shown: &str) -> Result<Client> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    let mut config = Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(|e| KubeError::Invalid(format!("{shown}: {}", chain(&e))))?;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    config.reset_reader_on_write = true;
    Client::try_from(config)
        .map_err(|e| KubeError::Invalid(format!("{shown}: cannot make a client: {}", chain(&e))))
}

/// `GET path` (`/readyz`, `/healthz`, `/version`), the body as text.
pub async fn get_text(client: &Client, path: &str) -> Result<String> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(|e| KubeError::Invalid(format!("GET {path}: {e}")))?;
    client
        .request_text(request)
        .await
        .map_err(|e| KubeError::from_kube(format!("GET {path}"), e))
}
