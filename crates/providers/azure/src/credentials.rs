//! Which Entra ID credential a cloud uses, in the usual order of the Azure SDKs'
//! default chain: a service principal's secret from the environment, workload identity
//! (a federated token file, as AKS and GitHub Actions provide), managed identity, then
//! the Azure CLI's login. Every token request goes through the same HTTP client as ARM
//! calls (the same trusted roots); `AZURE_AUTHORITY_HOST` moves the authority, as
//! azure_identity does.

use std::sync::{Arc, Mutex};

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::http::ClientOptions;
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use fedstack_provider::{ErrorClass, ProviderError};

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

fn failed(what: &str, e: &azure_core::Error) -> ProviderError {
    ProviderError::new(
        ErrorClass::Denied,
        format!("cannot set up the Azure {what} credential: {e}"),
    )
}

/// The credential for a cloud whose settings name `tenant_id` (else the environment's).
pub(crate) fn credential(
    tenant_id: Option<&str>,
    client: &ClientOptions,
) -> Result<Arc<dyn TokenCredential>, ProviderError> {
    let tenant = tenant_id
        .map(str::to_string)
        .or_else(|| env("AZURE_TENANT_ID"));
    if let (Some(tenant), Some(id), Some(secret)) = (
        tenant.as_deref(),
        env("AZURE_CLIENT_ID"),
        env("AZURE_CLIENT_SECRET"),
    ) {
        let options = ClientSecretCredentialOptions {
            client_options: client.clone(),
        };
        return ClientSecretCredential::new(tenant, id, Secret::new(secret), Some(options))
            .map(|c| c as Arc<dyn TokenCredential>)
            .map_err(|e| failed("client secret", &e));
    }
    if env("AZURE_FEDERATED_TOKEN_FILE").is_some() {
        let options = WorkloadIdentityCredentialOptions {
            credential_options: ClientAssertionCredentialOptions {
                client_options: client.clone(),
            },
            tenant_id: tenant.clone(),
            ..Default::default()
        };
        return WorkloadIdentityCredential::new(Some(options))
            .map(|c| c as Arc<dyn TokenCredential>)
            .map_err(|e| failed("workload identity", &e));
    }
    let managed = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
        client_options: client.clone(),
        ..Default::default()
    }))
    .map_err(|e| failed("managed identity", &e))?;
    let cli = AzureCliCredential::new(Some(AzureCliCredentialOptions {
        tenant_id: tenant,
        ..Default::default()
    }))
    .map_err(|e| failed("Azure CLI", &e))?;
    Ok(Arc::new(Chain {
        sources: vec![("managed identity", managed), ("Azure CLI", cli)],
        chosen: Mutex::new(None),
    }))
}

/// Managed identity, then the Azure CLI: the first that gives a token is kept.
#[derive(Debug)]
struct Chain {
    sources: Vec<(&'static str, Arc<dyn TokenCredential>)>,
    chosen: Mutex<Option<usize>>,
}

#[async_trait::async_trait]
impl TokenCredential for Chain {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let chosen = *self.chosen.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = chosen {
            return self.sources[i].1.get_token(scopes, options).await;
        }
        let mut why = Vec::new();
        for (i, (name, source)) in self.sources.iter().enumerate() {
            match source.get_token(scopes, options.clone()).await {
                Ok(t) => {
                    *self.chosen.lock().unwrap_or_else(|p| p.into_inner()) = Some(i);
                    return Ok(t);
                }
                Err(e) => why.push(format!("{name}: {}", first_line(&e.to_string()))),
            }
        }
        Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            format!(
                "no Azure credential found ({}); set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service principal, or run `az login`",
                why.join("; ")
            ),
        ))
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
