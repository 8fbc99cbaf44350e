//! One registry's HTTP client: reqwest on rustls (ring), its CA bundle, its auth
//! state, and the retry loop every replayable request goes through. Requests are
//! named in errors by method, host and URL path -- never the query (upload
//! locations carry opaque state) and never a header.
//!
//! Why reqwest and not the `oci-client` crate: oci-client 0.18 has raw manifest
//! pull/push, blob HEAD and mounts, but no retries (nor access to the Retry-After of
//! a 429), no manifest DELETE, and its errors do not give the status and path this
//! engine reports; wrapping it would mean re-implementing its requests anyway. The
//! Distribution API the engine needs is nine requests, all here and in `api.rs`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE,
};
use reqwest::{Method, Response, StatusCode};
use tokio::sync::Mutex;

use crate::auth::{self, AuthState, Challenge};
use crate::error::{Error, Result};
use crate::registry::{Credentials, Registry};
use crate::retry::{self, RetryPolicy};

/// Requests sent to one registry, by method (the benchmark prints them; tests count
/// at a proxy instead, independently of this code).
#[derive(Debug, Default)]
pub struct RequestCounts {
    pub head: AtomicU64,
    pub get: AtomicU64,
    pub put: AtomicU64,
    pub post: AtomicU64,
    pub other: AtomicU64,
}

impl RequestCounts {
    fn count(&self, m: &Method) {
        let c = match *m {
            Method::HEAD => &self.head,
            Method::GET => &self.get,
            Method::PUT => &self.put,
            Method::POST => &self.post,
            _ => &self.other,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn total(&self) -> u64 {
        [&self.head, &self.get, &self.put, &self.post, &self.other]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

pub(crate) struct Endpoint {
    pub settings: Registry,
    base: String,
    http: reqwest::Client,
    retry: RetryPolicy,
    auth: Mutex<AuthState>,
    pub counts: Arc<RequestCounts>,
}

/// A request that can be sent again (its body, if any, is in memory).
pub(crate) struct Req {
    pub method: Method,
    /// `/v2/...` (joined to the registry's base URL) or an absolute URL (an upload
    /// Location).
    pub target: String,
    /// The token scope this request needs, e.g. `repository:team/app:pull`.
    pub scope: String,
    pub headers: Vec<(HeaderName, String)>,
    pub body: Option<Bytes>,
}

impl Req {
    pub fn new(method: Method, target: impl Into<String>, scope: impl Into<String>) -> Req {
        Req {
            method,
            target: target.into(),
            scope: scope.into(),
            headers: Vec::new(),
            body: None,
        }
    }
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Req {
        self.headers.push((name, value.into()));
        self
    }
    pub fn body(mut self, b: impl Into<Bytes>) -> Req {
        self.body = Some(b.into());
        self
    }
}

impl Endpoint {
    pub fn new(settings: Registry, retry: RetryPolicy) -> Result<Endpoint> {
        // The same crypto provider as the rest of the workspace (kube-rs, the cloud
        // SDKs); installing it twice is fine, the first stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            // No overall timeout (a layer may take minutes); a stalled connection
            // fails after a minute of silence and is retried.
            .read_timeout(Duration::from_secs(60))
            .user_agent(concat!("fedstack-registry/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &settings.ca_pem {
            let no_certs = || Error::Config {
                registry: settings.host.clone(),
                reason:
                    "ca_pem holds no PEM certificates (hint: -----BEGIN CERTIFICATE----- blocks)"
                        .into(),
            };
            let certs =
                reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|_| no_certs())?;
            if certs.is_empty() {
                return Err(no_certs());
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| Error::Config {
            registry: settings.host.clone(),
            reason: format!("cannot set up the HTTP client: {e}"),
        })?;
        Ok(Endpoint {
            base: settings.base_url(),
            settings,
            http,
            retry,
            auth: Mutex::new(AuthState::default()),
            counts: Arc::default(),
        })
    }

    pub fn host(&self) -> &str {
        &self.settings.host
    }

    /// `http(s)://host[:port]`, as errors name the registry.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn url(&self, target: &str) -> String {
        if target.starts_with("http://") || target.starts_with("https://") {
            target.to_string()
        } else {
            format!("{}{target}", self.base)
        }
    }

    /// The URL path of `target` without its query, for error messages.
    pub fn path_of(target: &str) -> String {
        let no_scheme = target
            .strip_prefix("https://")
            .or_else(|| target.strip_prefix("http://"))
            .map(|rest| rest.find('/').map_or("/", |i| &rest[i..]))
            .unwrap_or(target);
        no_scheme.split('?').next().unwrap_or(no_scheme).to_string()
    }

    async fn auth_header(&self, scope: &str) -> Option<String> {
        self.auth
            .lock()
            .await
            .header(&self.settings.credentials, scope)
    }

    /// Sends `req`, answering one auth challenge and retrying 429/5xx/connection
    /// errors. Returns the response whatever its final status (the caller decides
    /// what 404 means); a retryable status that outlives the retries is an error.
    pub async fn send(&self, req: &Req) -> Result<Response> {
        let url = self.url(&req.target);
        let mut attempt = 0u32;
        let mut reauthed = false;
        loop {
            attempt += 1;
            let mut rb = self.http.request(req.method.clone(), &url);
            for (k, v) in &req.headers {
                rb = rb.header(k.clone(), v.as_str());
            }
            let sent_auth = self.auth_header(&req.scope).await;
            if let Some(h) = &sent_auth {
                rb = rb.header(AUTHORIZATION, h);
            }
            if let Some(b) = &req.body {
                rb = rb.body(b.clone());
            }
            self.counts.count(&req.method);
            let resp = match rb.send().await {
                Ok(r) => r,
                Err(e) => {
                    if attempt < self.retry.max_attempts && !is_tls_rejection(&e) {
                        tokio::time::sleep(self.retry.delay(attempt, None)).await;
                        continue;
                    }
                    return Err(self.transport_error(&req.method, &req.target, &e, attempt));
                }
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && !reauthed {
                reauthed = true;
                if self
                    .on_unauthorized(resp.headers(), &req.scope, sent_auth.as_deref())
                    .await?
                {
                    attempt -= 1; // the challenge round trip is not a failed attempt
                    continue;
                }
                return Err(self
                    .status_error(&req.method, &req.target, resp, attempt)
                    .await);
            }
            if retry::retryable_status(status.as_u16()) && attempt < self.retry.max_attempts {
                let after = resp
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(retry::parse_retry_after);
                tokio::time::sleep(self.retry.delay(attempt, after)).await;
                continue;
            }
            if retry::retryable_status(status.as_u16()) {
                return Err(self
                    .status_error(&req.method, &req.target, resp, attempt)
                    .await);
            }
            return Ok(resp);
        }
    }

    /// Sends a streamed (not replayable) body once, with the auth we already have
    /// (the upload's POST just authenticated with the same scope).
    pub async fn send_once(
        &self,
        method: Method,
        target: &str,
        scope: &str,
        headers: HeaderMap,
        body: reqwest::Body,
    ) -> Result<Response> {
        let mut rb = self
            .http
            .request(method.clone(), self.url(target))
            .headers(headers)
            .body(body);
        if let Some(h) = self.auth_header(scope).await {
            rb = rb.header(AUTHORIZATION, h);
        }
        self.counts.count(&method);
        rb.send()
            .await
            .map_err(|e| self.transport_error(&method, target, &e, 1))
    }

    /// Learns the challenge of a 401 and fetches a token if it is Bearer. `true`:
    /// worth sending the request again.
    async fn on_unauthorized(
        &self,
        headers: &HeaderMap,
        scope: &str,
        sent: Option<&str>,
    ) -> Result<bool> {
        let challenge = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(auth::parse_challenge);
        let creds = &self.settings.credentials;
        let mut state = self.auth.lock().await;
        match challenge {
            Some(Challenge::Basic) => {
                state.challenge = Some(Challenge::Basic);
                // Basic credentials were already sent (and refused) if we have any.
                Ok(false)
            }
            Some(Challenge::Bearer { realm, service }) => {
                if matches!(creds, Credentials::Token(_)) {
                    return Ok(false); // the static token was refused
                }
                state.challenge = Some(Challenge::Bearer {
                    realm: realm.clone(),
                    service: service.clone(),
                });
                // Parallel requests that were refused together fetch one token: the
                // first does (holding the lock), the others find it here.
                let now = state.header(creds, scope);
                if now.is_some() && now.as_deref() != sent {
                    return Ok(true);
                }
                let token = self.fetch_token(&realm, service.as_deref(), scope).await?;
                state.tokens.insert(scope.to_string(), token);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn fetch_token(&self, realm: &str, service: Option<&str>, scope: &str) -> Result<String> {
        let auth_err = |reason: String| Error::Auth {
            registry: self.settings.host.clone(),
            reason,
        };
        let mut url = reqwest::Url::parse(realm).map_err(|_| {
            auth_err(format!(
                "the Bearer challenge's realm {:?} is not a URL",
                Endpoint::path_of(realm)
            ))
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in scope.split(' ').filter(|s| !s.is_empty()) {
                q.append_pair("scope", s);
            }
        }
        let mut rb = self.http.get(url);
        if let Credentials::Basic { username, password } = &self.settings.credentials {
            rb = rb.header(AUTHORIZATION, auth::basic(username, password.expose()));
        }
        self.counts.count(&Method::GET);
        let realm_path = Endpoint::path_of(realm);
        let resp = rb
            .send()
            .await
            .map_err(|e| auth_err(format!("token endpoint {realm_path}: {}", short(&e))))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(auth_err(format!(
                "token endpoint {realm_path} answered HTTP {} (hint: check the credentials for this registry)",
                status.as_u16()
            )));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| auth_err(format!("token endpoint {realm_path}: {}", short(&e))))?;
        auth::token_from_json(&body)
            .ok_or_else(|| auth_err(format!("token endpoint {realm_path} gave no token")))
    }

    pub fn transport_error(
        &self,
        method: &Method,
        target: &str,
        e: &reqwest::Error,
        attempts: u32,
    ) -> Error {
        Error::Transport {
            method: method.to_string(),
            registry: self.base.clone(),
            path: Endpoint::path_of(target),
            reason: short(e),
            attempts,
        }
    }

    /// An error for a response we did not expect, with the registry's error code.
    pub async fn status_error(
        &self,
        method: &Method,
        target: &str,
        resp: Response,
        attempts: u32,
    ) -> Error {
        let status = resp.status().as_u16();
        let mut detail = String::new();
        if attempts > 1 {
            detail.push_str(&format!(" after {attempts} attempts"));
        }
        if status == 401 {
            detail.push_str(" (hint: check the credentials for this registry)");
        }
        if let Some(code) = registry_error(resp).await {
            detail.push_str(": ");
            detail.push_str(&code);
        }
        Error::Status {
            method: method.to_string(),
            registry: self.base.clone(),
            path: Endpoint::path_of(target),
            status,
            detail,
        }
    }
}

/// `CODE: message` of the first entry of a registry's `{"errors":[...]}` body (at
/// most 4 KiB read; other bodies are not echoed).
async fn registry_error(resp: Response) -> Option<String> {
    let body = resp.bytes().await.ok()?;
    let body = &body[..body.len().min(4096)];
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let e = v.get("errors")?.get(0)?;
    let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
    let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
    let mut s = format!("{code}: {msg}");
    s.truncate(200);
    Some(s)
}

/// A transport error in one line: its kind and innermost cause, no URL (ours is
/// already in the message, and reqwest's would carry the query).
fn short(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() {
        "connection failed while sending or reading a body"
    } else {
        "request failed"
    };
    let mut cause: &dyn std::error::Error = e;
    let mut deepest = None;
    while let Some(c) = cause.source() {
        cause = c;
        deepest = Some(c);
    }
    match deepest {
        Some(c) => format!("{kind}: {c}"),
        None => kind.to_string(),
    }
}

/// A certificate or TLS protocol error: the same on every attempt, so not retried
/// (a registry with an untrusted certificate should fail at once, not after backoff).
fn is_tls_rejection(e: &reqwest::Error) -> bool {
    // rustls' error arrives inside an io::Error (tokio-rustls) inside another
    // (hyper-rustls); io::Error's source() skips its payload, so look inside.
    fn is_rustls(c: &(dyn std::error::Error + 'static)) -> bool {
        if c.is::<rustls::Error>() {
            return true;
        }
        match c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => is_rustls(inner),
            None => false,
        }
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if is_rustls(c) {
            return true;
        }
        cause = c.source();
    }
    false
}

/// HeaderValue for a string we built ourselves (digests, media types).
pub(crate) fn hv(s: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(s).ok()
}
