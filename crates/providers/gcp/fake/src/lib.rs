//! The GKE contract fake, for tests: starts `gke_fake.py` (next to this crate) on a free
//! port and reads its control endpoints.
//!
//! The fake needs Python 3 and Google's GKE v1 discovery document, which
//! `scripts/test-peers` installs (pinned `google-api-python-client`, in `.venv-gcp/`).
//! A test whose fake cannot start fails with how to get it; it never skips.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The OAuth client of the `authorized_user` credentials the fake accepts.
pub const CLIENT_ID: &str = "fedstack-test-client.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "fedstack-test-secret";
pub const REFRESH_TOKEN: &str = "fedstack-test-refresh-token";

pub const NOT_INSTALLED: &str = "the GKE contract fake needs .venv-gcp/ (Python with Google's GKE discovery document) (hint: `make test` installs it first; or `make peers`)";

/// One API call the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: String,
    pub path: String,
}

/// A running fake; stopped when dropped.
pub struct GkeFake {
    child: Child,
    url: String,
}

fn repo_root() -> PathBuf {
    // crates/providers/gcp/fake -> the repository
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../..")
}

/// The Python of `.venv-gcp/` and the discovery document in it.
fn installed() -> Option<(PathBuf, PathBuf)> {
    let venv = repo_root().join(".venv-gcp");
    let python = venv.join("bin/python");
    let doc = std::fs::read_to_string(venv.join("discovery-path")).ok()?;
    let doc = PathBuf::from(doc.trim());
    (python.is_file() && doc.is_file()).then_some((python, doc))
}

impl GkeFake {
    /// Starts a fresh fake.
    pub fn start() -> Result<GkeFake, String> {
        let (python, doc) = installed().ok_or_else(|| NOT_INSTALLED.to_string())?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("gke_fake.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .arg("--discovery")
            .arg(&doc)
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
        let Some(url) = line.trim().strip_prefix("gke_fake listening on ") else {
            let _ = child.kill();
            return Err(format!("the GKE fake did not start: {line:?}"));
        };
        Ok(GkeFake {
            url: url.to_string(),
            child,
        })
    }

    /// The API root, for a gcp cloud's `endpoint_url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Writes an `authorized_user` credentials file whose `token_uri` is the fake's.
    pub fn write_credentials(&self, path: &Path) -> std::io::Result<()> {
        let creds = serde_json::json!({
            "type": "authorized_user",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
            "token_uri": format!("{}/token", self.url),
        });
        std::fs::write(path, creds.to_string())
    }

    /// Every API call answered so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        let v = self.control("GET", "/_fake/calls", None);
        v.as_array()
            .map(|calls| {
                calls
                    .iter()
                    .map(|c| Call {
                        method: c["method"].as_str().unwrap_or_default().to_string(),
                        path: c["path"].as_str().unwrap_or_default().to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Requests that did not follow the published schema (each was answered 400).
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

    /// The fake's clusters (with their node pools) and operations.
    pub fn state(&self) -> Value {
        self.control("GET", "/_fake/state", None)
    }

    /// The next `times` calls `method` on a path matching `path_regex` get an error.
    pub fn fault(&self, method: &str, path_regex: &str, status: &str, message: &str, times: u32) {
        let body = serde_json::json!({
            "method": method, "path": path_regex, "status": status,
            "message": message, "times": times,
        });
        self.control("POST", "/_fake/faults", Some(body));
    }

    /// Changes how operations progress or fail (see gke_fake.py: `polls_per_step`,
    /// `slow`, `fail`, `versions`).
    pub fn configure(&self, config: Value) {
        self.control("POST", "/_fake/config", Some(config));
    }

    /// Backs the next cluster that finishes creating with a real control plane: its
    /// `endpoint` becomes `server` (`https://` stripped, as GKE gives an address) and its
    /// CA `ca_base64` (base64 PEM). Start that apiserver with
    /// [`GkeFake::write_webhook_config`] so it accepts the fake's tokens.
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
            "clusters": [{"name": "gke-fake", "cluster": {"server": format!("{}/authenticate", self.url)}}],
            "users": [{"name": "kube-apiserver", "user": {}}],
            "contexts": [{"name": "webhook", "context": {"cluster": "gke-fake", "user": "kube-apiserver"}}],
            "current-context": "webhook",
        });
        std::fs::write(path, config.to_string())
    }

    /// A bearer token from the fake's token endpoint, as the credentials flow gets one.
    pub fn token(&self) -> String {
        let form = format!(
            "grant_type=refresh_token&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&refresh_token={REFRESH_TOKEN}"
        );
        let (status, body) = self.request(
            "POST",
            "/token",
            "application/x-www-form-urlencoded",
            None,
            &form,
        );
        assert_eq!(status, 200, "token endpoint: {body}");
        body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// One API call with `token`, for the fake's own tests: (HTTP status, JSON body).
    pub fn api(&self, method: &str, path: &str, body: Option<Value>, token: &str) -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.request(method, path, "application/json", Some(token), &body)
    }

    fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.request(method, path, "application/json", None, &body)
            .1
    }

    /// One HTTP/1.1 request; panics (this is a test harness) when the fake is gone.
    fn request(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        token: Option<&str>,
        body: &str,
    ) -> (u16, Value) {
        let addr = self.url.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("GKE fake at {addr}: {e}"));
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).expect("write to the GKE fake");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read from the GKE fake");
        let status = out
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let json = out.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (status, serde_json::from_str(json).unwrap_or(Value::Null))
    }
}

impl Drop for GkeFake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
