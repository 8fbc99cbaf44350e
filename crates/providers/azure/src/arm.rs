//! Azure Resource Manager over azure_core's pipeline: one bearer-token policy (tokens
//! from [`crate::credentials`]), no retries of the pipeline's own (the one retry loop is
//! [`crate::errors::with_retries`]), and our reqwest client as its transport, trusting
//! the system roots plus `SSL_CERT_FILE` and the cloud's `ca_file` (as curl and the
//! SDKs do), on rustls with ring.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{
    ClientOptions, Context, Method, Pipeline, Request, RetryOptions, Transport, Url,
};
use fedstack_provider::{ErrorClass, ProviderError};
use serde_json::Value;

use crate::config::AzureSettings;
use crate::credentials::credential;

/// One answer of ARM, any status.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    /// Lowercased names.
    pub headers: BTreeMap<String, String>,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

pub(crate) struct Arm {
    pipeline: Pipeline,
    root: String,
}

fn tls_error(what: String) -> ProviderError {
    ProviderError::new(ErrorClass::Invalid, what)
}

/// The PEM certificates of `path` (`what` names the setting for the message).
fn certificates(path: &Path, what: &str) -> Result<Vec<reqwest::Certificate>, ProviderError> {
    let pem = std::fs::read(path)
        .map_err(|e| tls_error(format!("cannot read {what} {}: {e}", path.display())))?;
    reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| {
        tls_error(format!(
            "{what} {} holds no PEM certificates (hint: give a file with -----BEGIN CERTIFICATE----- blocks)",
            path.display()
        ))
    })
}

/// The HTTP client of one cloud: ARM calls and token requests alike.
pub(crate) fn http_client(settings: &AzureSettings) -> Result<reqwest::Client, ProviderError> {
    // The same crypto provider as kube-rs and the Google clients; installing it twice is
    // fine (the first one stays).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut extra = Vec::new();
    if let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
        extra.extend(certificates(Path::new(&file), "SSL_CERT_FILE")?);
    }
    if let Some(file) = &settings.ca_file {
        extra.extend(certificates(file, "the cloud's ca_file")?);
    }
    reqwest::Client::builder()
        .tls_certs_merge(extra)
        .connect_timeout(std::time::Duration::from_secs(30))
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(|e| tls_error(format!("cannot set up HTTPS: {e}")))
}

impl Arm {
    pub fn new(settings: &AzureSettings) -> Result<Arm, ProviderError> {
        let client = http_client(settings)?;
        let options = ClientOptions {
            transport: Some(Transport::new(Arc::new(client))),
            retry: RetryOptions::none(),
            ..Default::default()
        };
        let credential = credential(settings.tenant_id.as_deref(), &options)?;
        let auth = BearerTokenAuthorizationPolicy::new(credential, [settings.scope()]);
        let pipeline = Pipeline::new(
            option_env!("CARGO_PKG_NAME"),
            option_env!("CARGO_PKG_VERSION"),
            options,
            Vec::new(),
            vec![Arc::new(auth)],
            None,
        );
        Ok(Arm {
            pipeline,
            root: settings.endpoint_url.clone(),
        })
    }

    /// `path_and_query` under the ARM root, or an absolute URL ARM gave us (an
    /// operation to poll), which must be on the same host.
    fn url(&self, target: &str) -> Result<Url, ProviderError> {
        let full = if target.starts_with("https://") || target.starts_with("http://") {
            target.to_string()
        } else {
            format!("{}{target}", self.root)
        };
        let url = Url::parse(&full).map_err(|_| {
            ProviderError::new(
                ErrorClass::Permanent,
                format!("ARM gave a URL that does not parse: {full}"),
            )
        })?;
        let root = Url::parse(&self.root).ok();
        if root.as_ref().and_then(|r| r.host_str()) != url.host_str() {
            // Our bearer token goes only to the endpoint it is for.
            return Err(ProviderError::new(
                ErrorClass::Permanent,
                format!(
                    "ARM asked to poll {}, which is not the cloud's endpoint {}",
                    url.host_str().unwrap_or("?"),
                    self.root
                ),
            ));
        }
        Ok(url)
    }

    /// One call; any HTTP status is a [`Reply`] (callers decide what each means), a
    /// failure to get an answer at all is an error.
    pub async fn send(
        &self,
        op: &str,
        method: Method,
        target: &str,
        body: Option<&Value>,
    ) -> Result<Reply, ProviderError> {
        let mut req = Request::new(self.url(target)?, method);
        req.insert_header("accept", "application/json");
        if let Some(b) = body {
            req.insert_header("content-type", "application/json");
            req.set_body(b.to_string());
        }
        let raw = self
            .pipeline
            .send(
                &Context::new(),
                &mut req,
                Some(azure_core::http::PipelineSendOptions {
                    skip_checks: true,
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| transport_error(op, &e))?;
        let (status, headers, body) = raw.deconstruct();
        let headers = headers
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.as_str().to_string()))
            .collect();
        let text = body.into_string().unwrap_or_default();
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Reply {
            status: u16::from(status),
            headers,
            body,
        })
    }
}

/// No answer: the connection, TLS, or the credential (azure_identity's errors come
/// through the pipeline too).
fn transport_error(op: &str, e: &azure_core::Error) -> ProviderError {
    use azure_core::error::ErrorKind;
    let text = e.to_string();
    let first = text.lines().next().unwrap_or(&text);
    match e.kind() {
        ErrorKind::Credential => ProviderError::new(
            ErrorClass::Denied,
            format!("{op}: could not get an Azure token: {first} (hint: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service principal, or run `az login`)"),
        ),
        ErrorKind::Connection => {
            let mut chain = String::new();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                chain = s.to_string();
                source = s.source();
            }
            let refused = chain.contains("refused") || text.contains("refused");
            if chain.to_ascii_lowercase().contains("certificate") {
                ProviderError::new(
                    ErrorClass::Permanent,
                    format!("{op}: the endpoint's TLS certificate is not trusted: {chain} (hint: set the cloud's `ca_file`, or SSL_CERT_FILE, to its CA)"),
                )
            } else if refused {
                ProviderError::new(ErrorClass::Unreachable, format!("{op}: the endpoint refused the connection"))
            } else {
                ProviderError::new(ErrorClass::Transient, format!("{op}: {first}: {chain}"))
            }
        }
        _ => ProviderError::new(ErrorClass::Transient, format!("{op}: {first}")),
    }
}
