//! Credentials: Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS,
//! gcloud's ADC file, the metadata server), or the cloud's `credentials_file`. One
//! source of access tokens serves the GKE API and the clusters' Kubernetes APIs.

use std::path::Path;

use fedstack_provider::{ErrorClass, ProviderError};
use google_cloud_auth::credentials::{self, AccessTokenCredentials};
use serde_json::Value;

const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Builds the access-token credentials of a cloud.
pub(crate) fn access_token_credentials(
    cloud: &str,
    file: Option<&Path>,
) -> Result<AccessTokenCredentials, ProviderError> {
    let built = match file {
        None => credentials::Builder::default()
            .with_scopes([SCOPE])
            .build_access_token_credentials(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                invalid(format!(
                    "cloud `{cloud}`: cannot read credentials_file {}: {e}",
                    path.display()
                ))
            })?;
            let json: Value = serde_json::from_str(&text).map_err(|e| {
                invalid(format!(
                    "cloud `{cloud}`: credentials_file {} is not JSON: {e}",
                    path.display()
                ))
            })?;
            match json.get("type").and_then(Value::as_str) {
                Some("authorized_user") => credentials::user_account::Builder::new(json)
                    .with_scopes([SCOPE])
                    .build_access_token_credentials(),
                Some("service_account") => credentials::service_account::Builder::new(json)
                    .with_access_specifier(credentials::service_account::AccessSpecifier::from_scopes([SCOPE]))
                    .build_access_token_credentials(),
                Some("external_account") => credentials::external_account::Builder::new(json)
                    .with_scopes([SCOPE])
                    .build_access_token_credentials(),
                other => {
                    return Err(invalid(format!(
                        "cloud `{cloud}`: credentials_file {} has type {}; fedstack reads authorized_user, service_account and external_account files",
                        path.display(),
                        other.map_or("none".to_string(), |t| format!("`{t}`"))
                    )))
                }
            }
        }
    };
    // The builder's message names the file or variable it looked at; never a secret.
    built.map_err(|e| {
        invalid(format!(
            "cloud `{cloud}`: no usable Google credentials: {e} (hint: set GOOGLE_APPLICATION_CREDENTIALS, run `gcloud auth application-default login`, or set `credentials_file`)"
        ))
    })
}

fn invalid(message: String) -> ProviderError {
    ProviderError::new(ErrorClass::Invalid, message)
}
