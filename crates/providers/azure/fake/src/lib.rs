//! The AKS contract fake, for tests: makes a test CA and a certificate for 127.0.0.1,
//! starts `aks_fake.py` (next to this crate) on free ports, and reads its control
//! endpoints.
//!
//! The fake serves Azure Resource Manager and Entra ID's token endpoint over HTTPS on one
//! port ([`AksFake::url`], trusted through [`AksFake::ca_file`]) and its control
//! endpoints and the kube-apiserver webhook over plain HTTP on another. It needs Python 3
//! with Microsoft's generated models, which `scripts/test-peers` installs (pinned
//! `azure-mgmt-containerservice` and `azure-mgmt-resource`, in `.venv-azure/`). A test
//! whose fake cannot start fails with how to get it; it never skips.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;

/// The test service principal the fake's token endpoint accepts (client credentials).
pub const TENANT_ID: &str = "72f988bf-0000-4000-8000-00000000fed5";
pub const CLIENT_ID: &str = "5a3c1b2d-0000-4000-8000-00000000fed5";
pub const CLIENT_SECRET: &str = "fedstack-test-client-secret";
/// The one subscription the fake has (others: 404 `SubscriptionNotFound`).
pub const SUBSCRIPTION_ID: &str = "00000000-0000-4000-8000-00000000fed5";
/// The api-version of Microsoft.ContainerService the fake takes (that of the pinned
/// `azure-mgmt-containerservice`).
pub const API_VERSION: &str = "2026-08-01";
/// The api-version of Microsoft.Resources (resource groups) it takes (that of the
/// pinned `azure-mgmt-resource`).
pub const RESOURCES_API_VERSION: &str = "2025-04-01";
/// The scope a token for ARM is asked with.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";

pub const NOT_INSTALLED: &str = "the AKS contract fake needs .venv-azure/ (Python with Microsoft's azure-mgmt-containerservice and azure-mgmt-resource models) (hint: `make test` installs it first; or `make peers`)";

/// One ARM call the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
}

/// A running fake; stopped when dropped.
pub struct AksFake {
    child: Child,
    url: String,
    control: String,
    ca_file: PathBuf,
    ca_pem: String,
    tls: Arc<rustls::ClientConfig>,
    _dir: tempfile::TempDir,
}

fn repo_root() -> PathBuf {
    // crates/providers/azure/fake -> the repository
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../..")
}

/// The Python of `.venv-azure/`, when scripts/test-peers finished installing it.
fn installed() -> Option<PathBuf> {
    let venv = repo_root().join(".venv-azure");
    let python = venv.join("bin/python");
    (python.is_file() && venv.join("fedstack-installed").is_file()).then_some(python)
}

/// A test CA and a serving certificate for 127.0.0.1 / localhost signed by it:
/// (CA PEM, CA DER, certificate PEM, key PEM).
fn certificates() -> Result<(String, CertificateDer<'static>, String, String), rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, "fedstack AKS fake test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    leaf.subject_alt_names = vec![
        SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
        SanType::DnsName("localhost".try_into()?),
    ];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let cert = leaf.signed_by(&key, &issuer)?;
    Ok((
        ca_cert.pem(),
        ca_cert.der().clone(),
        cert.pem(),
        key.serialize_pem(),
    ))
}

/// A rustls client (ring) that trusts the test CA only.
fn client_config(ca: CertificateDer<'static>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca)
        .map_err(|e| format!("the test CA is not usable: {e}"))?;
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("rustls: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// One parsed HTTP/1.1 response: (status, headers lowercased, JSON body or `Null`).
fn parse_response(raw: &[u8]) -> (u16, BTreeMap<String, String>, Value) {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (
        status,
        headers,
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

/// Reads a whole `Connection: close` response; an end of stream without TLS
/// close_notify is an end all the same.
fn read_all(stream: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof && !out.is_empty() => return Ok(out),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

impl AksFake {
    /// Starts a fresh fake.
    pub fn start() -> Result<AksFake, String> {
        let python = installed().ok_or_else(|| NOT_INSTALLED.to_string())?;
        let (ca_pem, ca_der, cert_pem, key_pem) =
            certificates().map_err(|e| format!("making the test certificates: {e}"))?;
        let dir = tempfile::Builder::new()
            .prefix("aks-fake-")
            .tempdir()
            .map_err(|e| format!("a temporary directory for the AKS fake: {e}"))?;
        let ca_file = dir.path().join("ca.pem");
        let cert_file = dir.path().join("server.pem");
        let key_file = dir.path().join("server.key");
        for (path, contents) in [
            (&ca_file, &ca_pem),
            (&cert_file, &cert_pem),
            (&key_file, &key_pem),
        ] {
            std::fs::write(path, contents)
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
        }
        let tls = Arc::new(client_config(ca_der)?);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("aks_fake.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .arg("--cert")
            .arg(&cert_file)
            .arg("--key")
            .arg(&key_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                format!(
                    "could not start {}: {e} ({NOT_INSTALLED})",
                    python.display()
                )
            })?;
        let stdout = child.stdout.take().ok_or("no stdout from the fake")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("reading the fake's first line: {e}"))?;
        let parsed = line
            .trim()
            .strip_prefix("aks_fake listening on ")
            .and_then(|rest| rest.split_once(" control "));
        let Some((url, control)) = parsed else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the AKS fake did not start: {line:?}"));
        };
        Ok(AksFake {
            url: url.to_string(),
            control: control.to_string(),
            child,
            ca_file,
            ca_pem,
            tls,
            _dir: dir,
        })
    }

    /// `https://127.0.0.1:PORT`: the ARM endpoint, and the Entra ID authority host
    /// (`AZURE_AUTHORITY_HOST`) too.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `http://127.0.0.1:PORT`: the control endpoints and `/authenticate`.
    pub fn control_url(&self) -> &str {
        &self.control
    }

    /// The test CA (PEM file) that signed the fake's certificate.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The test CA, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The environment of azure_identity's service-principal credentials pointing at
    /// the fake: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
    /// AZURE_AUTHORITY_HOST.
    pub fn credentials_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_TENANT_ID", TENANT_ID.to_string()),
            ("AZURE_CLIENT_ID", CLIENT_ID.to_string()),
            ("AZURE_CLIENT_SECRET", CLIENT_SECRET.to_string()),
            ("AZURE_AUTHORITY_HOST", self.url.clone()),
        ]
    }

    /// Every ARM call answered so far, in order (token requests are not ARM calls).
    pub fn calls(&self) -> Vec<Call> {
        let v = self.control("GET", "/_fake/calls", None);
        let text = |c: &Value, k: &str| c[k].as_str().unwrap_or_default().to_string();
        v.as_array()
            .map(|calls| {
                calls
                    .iter()
                    .map(|c| Call {
                        method: text(c, "method"),
                        path: text(c, "path"),
                        query: text(c, "query"),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Requests outside the published contract (unknown paths, wrong api-versions or
    /// query parameters, bodies the models do not allow), and the fake's own errors.
    pub fn rejections(&self) -> Vec<String> {
        let v = self.control("GET", "/_fake/rejections", None);
        v.as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The fake's resource groups, clusters (`"rg/name"`, as GET shows them, pools in
    /// `properties.agentPoolProfiles`), operations, `reviews` (TokenReviews answered),
    /// `backing_left`, `tokens_issued`, `api_versions`.
    pub fn state(&self) -> Value {
        self.control("GET", "/_fake/state", None)
    }

    /// The next `times` calls `method` on a path matching `path_regex` (searched,
    /// case-insensitively) get `http_status` with `{"error":{"code","message"}}`, and
    /// `Retry-After` when given.
    #[allow(clippy::too_many_arguments)]
    pub fn fault(
        &self,
        method: &str,
        path_regex: &str,
        http_status: u16,
        code: &str,
        message: &str,
        times: u32,
        retry_after: Option<u32>,
    ) {
        let body = serde_json::json!({
            "method": method, "path": path_regex, "status": http_status, "code": code,
            "message": message, "times": times, "retry_after": retry_after,
        });
        self.control("POST", "/_fake/faults", Some(body));
    }

    /// Changes how operations progress or fail (see aks_fake.py: `polls_per_step`,
    /// `slow` {name: polls per step}, `fail` {cluster or "cluster/pool": {code, message,
    /// on?}}, `versions` [patch versions offered], `retry_after`, `backing`).
    pub fn configure(&self, config: Value) {
        self.control("POST", "/_fake/config", Some(config));
    }

    /// Backs the next cluster that finishes creating with a real control plane: its
    /// kubeconfig's server becomes `server` (`https://` added when missing; `fqdn`
    /// becomes its host:port) and its CA `ca_base64` (base64 PEM). Start that apiserver
    /// with [`AksFake::write_webhook_config`] so it accepts the fake's tokens.
    pub fn back_next_cluster(&self, server: &str, ca_base64: &str) {
        let endpoint = server.trim_start_matches("https://");
        self.configure(serde_json::json!({"backing": [{"endpoint": endpoint, "ca": ca_base64}]}));
    }

    /// Writes the kubeconfig of a kube-apiserver authenticating webhook
    /// (`--authentication-token-webhook-config-file`) that asks this fake about tokens.
    pub fn write_webhook_config(&self, path: &Path) -> std::io::Result<()> {
        let config = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "aks-fake", "cluster": {"server": format!("{}/authenticate", self.control)}}],
            "users": [{"name": "kube-apiserver", "user": {}}],
            "contexts": [{"name": "webhook", "context": {"cluster": "aks-fake", "user": "kube-apiserver"}}],
            "current-context": "webhook",
        });
        std::fs::write(path, config.to_string())
    }

    /// Asks the webhook about `token`, as a kube-apiserver would: the TokenReview
    /// answered.
    pub fn review(&self, token: &str) -> Value {
        let review = serde_json::json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": token},
        });
        self.control("POST", "/authenticate", Some(review))
    }

    /// A bearer token for ARM from the fake's token endpoint, as the client-credentials
    /// flow gets one.
    pub fn token(&self) -> String {
        let (status, body) = self.token_request(&format!(
            "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&scope={}",
            ARM_SCOPE.replace(':', "%3A").replace('/', "%2F")
        ));
        assert_eq!(status, 200, "token endpoint: {body}");
        body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// `POST /{TENANT_ID}/oauth2/v2.0/token` with a form body: (HTTP status, JSON).
    pub fn token_request(&self, form: &str) -> (u16, Value) {
        let (status, _, body) = self.https(
            "POST",
            &format!("/{TENANT_ID}/oauth2/v2.0/token"),
            Some(("application/x-www-form-urlencoded", form)),
            None,
        );
        (status, body)
    }

    /// One ARM call with `token` (empty: no Authorization header), for the fake's own
    /// tests: (HTTP status, headers lowercased, JSON body or `Null`).
    pub fn api(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<Value>,
        token: &str,
    ) -> (u16, BTreeMap<String, String>, Value) {
        let body = body.map(|b| b.to_string());
        self.https(
            method,
            path_and_query,
            body.as_deref().map(|b| ("application/json", b)),
            (!token.is_empty()).then_some(token),
        )
    }

    /// One HTTPS request to the fake; panics (this is a test harness) when it is gone.
    fn https(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &str)>,
        token: Option<&str>,
    ) -> (u16, BTreeMap<String, String>, Value) {
        let addr = self.url.trim_start_matches("https://");
        let tcp = TcpStream::connect(addr).unwrap_or_else(|e| panic!("AKS fake at {addr}: {e}"));
        let name = ServerName::try_from("127.0.0.1").expect("an IP address is a server name");
        let conn = rustls::ClientConnection::new(self.tls.clone(), name)
            .unwrap_or_else(|e| panic!("TLS to the AKS fake: {e}"));
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let (content_type, body) = match body {
            Some((ct, b)) => (format!("Content-Type: {ct}\r\n"), b),
            None => (String::new(), ""),
        };
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{content_type}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        tls.write_all(req.as_bytes())
            .and_then(|()| tls.flush())
            .unwrap_or_else(|e| panic!("write to the AKS fake: {e}"));
        let raw = read_all(&mut tls).unwrap_or_else(|e| panic!("read from the AKS fake: {e}"));
        parse_response(&raw)
    }

    /// One plain HTTP request to the control port.
    fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let addr = self.control.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("AKS fake at {addr}: {e}"));
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes())
            .unwrap_or_else(|e| panic!("write to the AKS fake: {e}"));
        let raw = read_all(&mut s).unwrap_or_else(|e| panic!("read from the AKS fake: {e}"));
        parse_response(&raw).2
    }
}

impl Drop for AksFake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
