//! EKS bearer tokens, minted by fedstack itself (no `aws eks get-token`, no aws CLI):
//! `k8s-aws-v1.` + base64url (no padding) of a presigned STS `GetCallerIdentity` URL
//! whose signature covers the header `x-k8s-aws-id: <cluster name>`, valid for 60 s.
//! The cluster's authenticator calls that URL to learn who the caller is.
//!
//! A token is a secret: it is handed out through `Provider::cluster_access` only,
//! never put in outputs, state, plans or logs.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;
use fedstack_provider::{ErrorClass, ProviderError};

/// How long a token is valid (what EKS accepts at most).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// The token for `cluster`, signed with `credentials` for STS in `region` at `now`.
pub fn eks_token(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    now: SystemTime,
) -> Result<String, ProviderError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        ProviderError::new(
            ErrorClass::Permanent,
            format!("cannot sign the EKS token for cluster {cluster}: {what}: {e}"),
        )
    };
    let host = format!("sts.{region}.amazonaws.com");
    let url = format!("https://{host}/?Action=GetCallerIdentity&Version=2011-06-15");
    let identity: Identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let params: aws_sigv4::http_request::SigningParams = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| fail("parameters", &e))?
        .into();
    let headers = [("host", host.as_str()), ("x-k8s-aws-id", cluster)];
    let signable = SignableRequest::new(
        "GET",
        url.as_str(),
        headers.into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| fail("request", &e))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| fail("signature", &e))?
        .into_parts();
    let mut request = http::Request::builder()
        .method("GET")
        .uri(&url)
        .body(())
        .map_err(|e| fail("request", &e))?;
    instructions.apply_to_request_http1x(&mut request);
    let presigned = request.uri().to_string();
    Ok(format!(
        "k8s-aws-v1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(presigned)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(token: &str) -> String {
        let b64 = token.strip_prefix("k8s-aws-v1.").expect("prefix");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .expect("base64url without padding");
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn token_is_a_presigned_get_caller_identity_url() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = eks_token(&creds, "us-west-2", "eks-a", now).expect("signs");
        assert!(!token.contains('='), "no padding: {token}");
        let url = decode(&token);
        assert!(
            url.starts_with(
                "https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
            ),
            "{url}"
        );
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Fus-west-2%2Fsts%2Faws4_request",
            "X-Amz-Date=20231114T221320Z",
            "X-Amz-Expires=60",
            "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id",
            "X-Amz-Signature=",
        ] {
            assert!(url.contains(part), "{part} missing in {url}");
        }
        // The secret never appears; the same inputs give the same token.
        assert!(!url.contains("secret"));
        assert_eq!(
            eks_token(&creds, "us-west-2", "eks-a", now).expect("signs"),
            token
        );
        // Another cluster name is another signature.
        assert_ne!(
            eks_token(&creds, "us-west-2", "eks-b", now).expect("signs"),
            token
        );
    }

    #[test]
    fn session_tokens_are_signed_in() {
        let creds = Credentials::new("AKID", "secret", Some("SESSION".into()), None, "test");
        let url = decode(&eks_token(&creds, "eu-west-1", "c", SystemTime::now()).expect("signs"));
        assert!(url.contains("X-Amz-Security-Token=SESSION"), "{url}");
    }
}
