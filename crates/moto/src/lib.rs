//! Test harness for `provider: aws`: moto's server (PyPI `moto[server]`) on a free port
//! of 127.0.0.1, behind a small recording proxy.
//!
//! - [`Moto::start`] finds `moto_server` (`FEDSTACK_MOTO_SERVER`, else `.venv-moto/` of
//!   the workspace, else `PATH`), starts it and waits until it answers. When it is not
//!   installed that is an error saying how to get it: tests fail, they never skip
//!   (`make test` installs it first).
//! - The proxy ([`Moto::endpoint`]) forwards every request and records its AWS
//!   operation ([`Moto::calls`], [`Moto::count`], [`Moto::writes`]): how tests and the
//!   benchmark count `ChangeResourceRecordSets` calls or prove a re-apply writes nothing.
//! - It also injects what moto can't show: error answers ([`Moto::fail_next`], e.g.
//!   throttling), and failing health checks ([`Moto::unhealthy_after`]: moto reports
//!   every health check as healthy).
//! - [`Moto::inventory`] reads the emulator back with the AWS SDK (directly, not
//!   through the proxy) to check what fedstack left there.
//!
//! The server is killed when the [`Moto`] is dropped.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request that went through the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `route53`, `eks`, `ec2`, `iam`, `sts`...
    pub service: String,
    /// `ChangeResourceRecordSets`, `DescribeCluster`, ...
    pub operation: String,
    /// The HTTP status sent back.
    pub status: u16,
    /// For `ChangeResourceRecordSets`: how many changes the batch carried.
    pub changes: usize,
}

impl Call {
    /// Whether the operation changes something (by its name).
    pub fn is_write(&self) -> bool {
        const READS: &[&str] = &["Describe", "Get", "List"];
        !READS.iter().any(|p| self.operation.starts_with(p))
    }
}

#[derive(Debug, Clone)]
enum Rule {
    /// Answer the next `times` calls of `operation` with this error.
    Fail {
        operation: String,
        times: usize,
        status: u16,
        code: String,
        message: String,
    },
    /// `GetHealthCheckStatus` of `id` reports failure once it has answered `ok` times.
    Unhealthy { id: String, ok: usize },
}

#[derive(Default)]
struct Shared {
    calls: Vec<Call>,
    rules: Vec<Rule>,
}

/// A running moto server and its proxy.
pub struct Moto {
    child: Child,
    moto: SocketAddr,
    proxy: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    _runtime: std::thread::JoinHandle<()>,
}

impl std::fmt::Debug for Moto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moto")
            .field("moto", &self.moto)
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

/// What a test that needs moto says when it is missing.
pub const NOT_INSTALLED: &str = "moto's server is not installed (hint: `make test` installs it into .venv-moto/ first; or `make peers`; or set FEDSTACK_MOTO_SERVER to a moto_server)";

/// Where `moto_server` is, if anywhere.
pub fn server_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FEDSTACK_MOTO_SERVER") {
        let p = PathBuf::from(p);
        return p.exists().then_some(p);
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = workspace.join(".venv-moto/bin/moto_server");
    if venv.exists() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("moto_server"))
            .find(|p| p.exists())
    })
}

/// Notes in `FEDSTACK_PEER_LOG` (when set; `make test` sets it) that the running test
/// uses a real peer, so the suite's closing line can count the tests that ran against
/// real peers. One line: `<peer> <test binary> <test name>` (libtest names each test's
/// thread after the test).
pub fn record_peer_use(peer: &str) {
    let Some(path) = std::env::var_os("FEDSTACK_PEER_LOG") else {
        return;
    };
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let test = std::thread::current().name().unwrap_or("?").to_string();
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        // One write of one short line: appends from parallel tests do not interleave.
        let _ = f.write_all(format!("{peer} {exe} {test}\n").as_bytes());
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(StdListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Moto {
    /// Starts moto and the proxy; an error saying how to install moto when it is missing.
    pub fn start() -> Result<Moto, String> {
        let Some(server) = server_path() else {
            return Err(NOT_INSTALLED.to_string());
        };
        record_peer_use("moto");
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let log = std::env::var_os("FEDSTACK_MOTO_LOG").and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        });
        let (out, err) = match log {
            Some(f) => match f.try_clone() {
                Ok(g) => (Stdio::from(f), Stdio::from(g)),
                Err(_) => (Stdio::null(), Stdio::null()),
            },
            None => (Stdio::null(), Stdio::null()),
        };
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ALLOW_NONEXISTENT_REGION", "true")
            // moto knows no AWS managed policy (AmazonEKSClusterPolicy...) unless told.
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", server.display()))?;
        let moto: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut m = Moto {
            child,
            moto,
            proxy: moto,
            shared: Arc::new(Mutex::new(Shared::default())),
            _runtime: std::thread::spawn(|| {}),
        };
        // Wait until moto answers (importing moto takes a second or two); no time
        // limit: moto exiting is the failure.
        loop {
            if m.raw_request("GET", "/moto-api/", "").is_ok() {
                break;
            }
            if let Ok(Some(status)) = m.child.try_wait() {
                return Err(format!(
                    "moto_server exited at start ({status}); set FEDSTACK_MOTO_LOG=FILE to see why"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // The proxy, on its own runtime thread.
        let listener = StdListener::bind("127.0.0.1:0").map_err(|e| format!("proxy: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("proxy: {e}"))?;
        m.proxy = listener.local_addr().map_err(|e| format!("proxy: {e}"))?;
        let shared = m.shared.clone();
        m._runtime = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(listener) = TcpListener::from_std(listener) else {
                    return;
                };
                loop {
                    let Ok((conn, _)) = listener.accept().await else {
                        continue;
                    };
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        let _ = serve(conn, moto, shared).await;
                    });
                }
            });
        });
        Ok(m)
    }

    /// The proxy's URL: give this to fedstack (`endpoint_url`, `AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.proxy)
    }

    /// moto itself, bypassing the proxy (nothing recorded).
    pub fn moto_endpoint(&self) -> String {
        format!("http://{}", self.moto)
    }

    fn raw_request(&self, method: &str, path: &str, body: &str) -> std::io::Result<String> {
        let mut s = StdStream::connect_timeout(&self.moto, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.moto,
            body.len()
        )?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    }

    /// Empties moto (`POST /moto-api/reset`) and forgets calls and rules.
    pub fn reset(&self) {
        let _ = self.raw_request("POST", "/moto-api/reset", "");
        let mut s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        s.calls.clear();
        s.rules.clear();
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .calls
            .clone()
    }

    pub fn clear_calls(&self) {
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .calls
            .clear();
    }

    /// How many calls of `operation` went through.
    pub fn count(&self, operation: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.operation == operation)
            .count()
    }

    /// The calls that change something.
    pub fn writes(&self) -> Vec<Call> {
        self.calls().into_iter().filter(Call::is_write).collect()
    }

    /// Answers the next `times` calls of `operation` with HTTP 400 and `code`
    /// (e.g. `Throttling`, `PriorRequestNotComplete`).
    pub fn fail_next(&self, operation: &str, times: usize, code: &str, message: &str) {
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .rules
            .push(Rule::Fail {
                operation: operation.into(),
                times,
                status: 400,
                code: code.into(),
                message: message.into(),
            });
    }

    /// `GetHealthCheckStatus` of health check `id` reports a failure from its
    /// `ok + 1`-th answer on.
    pub fn unhealthy_after(&self, id: &str, ok: usize) {
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .rules
            .push(Rule::Unhealthy { id: id.into(), ok });
    }

    /// Reads the emulator back (directly): what is there in `region` and globally.
    pub fn inventory(&self, region: &str) -> Result<Inventory, String> {
        let endpoint = self.moto_endpoint();
        let region = region.to_string();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        std::thread::spawn(move || rt.block_on(inventory(&endpoint, &region)))
            .join()
            .map_err(|_| "the inventory thread panicked".to_string())?
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ----- the proxy ---------------------------------------------------------------------

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one HTTP/1.1 request; `None` at the end of the connection.
async fn read_request(conn: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<Request>> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 8192];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let total = head_end + 4 + len;
    while buf.len() < total {
        let mut chunk = [0u8; 8192];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end + 4..total].to_vec();
    buf.drain(..total);
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
    }))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The service from the request's signature scope.
fn service_of(req: &Request) -> String {
    req.header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unknown")
        .to_string()
}

/// The AWS operation of a request.
pub fn operation_of(service: &str, method: &str, path: &str, body: &[u8]) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let body = String::from_utf8_lossy(body);
    if let Some(action) = body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
        return action.to_string();
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let op = match (service, method, segs.as_slice()) {
        ("route53", "POST", [_, "hostedzone", _, "rrset"]) => "ChangeResourceRecordSets",
        ("route53", "GET", [_, "hostedzone", _, "rrset"]) => "ListResourceRecordSets",
        ("route53", "POST", [_, "hostedzone"]) => "CreateHostedZone",
        ("route53", "GET", [_, "hostedzone"]) => "ListHostedZones",
        ("route53", "GET", [_, "hostedzonesbyname"]) => "ListHostedZonesByName",
        ("route53", "GET", [_, "hostedzone", _]) => "GetHostedZone",
        ("route53", "POST", [_, "hostedzone", _]) => "UpdateHostedZoneComment",
        ("route53", "DELETE", [_, "hostedzone", _]) => "DeleteHostedZone",
        ("route53", "POST", [_, "healthcheck"]) => "CreateHealthCheck",
        ("route53", "GET", [_, "healthcheck"]) => "ListHealthChecks",
        ("route53", "GET", [_, "healthcheck", _]) => "GetHealthCheck",
        ("route53", "POST", [_, "healthcheck", _]) => "UpdateHealthCheck",
        ("route53", "DELETE", [_, "healthcheck", _]) => "DeleteHealthCheck",
        ("route53", "GET", [_, "healthcheck", _, "status"]) => "GetHealthCheckStatus",
        ("route53", "GET", [_, "change", _]) => "GetChange",
        ("route53", "POST", [_, "tags", _, _]) => "ChangeTagsForResource",
        ("route53", "GET", [_, "tags", _, _]) => "ListTagsForResource",
        ("eks", "POST", ["clusters"]) => "CreateCluster",
        ("eks", "GET", ["clusters"]) => "ListClusters",
        ("eks", "GET", ["clusters", _]) => "DescribeCluster",
        ("eks", "DELETE", ["clusters", _]) => "DeleteCluster",
        ("eks", "POST", ["clusters", _, "update-config"]) => "UpdateClusterConfig",
        ("eks", "POST", ["clusters", _, "updates"]) => "UpdateClusterVersion",
        ("eks", "GET", ["clusters", _, "updates", _]) => "DescribeUpdate",
        ("eks", "POST", ["clusters", _, "node-groups"]) => "CreateNodegroup",
        ("eks", "GET", ["clusters", _, "node-groups"]) => "ListNodegroups",
        ("eks", "GET", ["clusters", _, "node-groups", _]) => "DescribeNodegroup",
        ("eks", "DELETE", ["clusters", _, "node-groups", _]) => "DeleteNodegroup",
        ("eks", "POST", ["clusters", _, "node-groups", _, "update-config"]) => {
            "UpdateNodegroupConfig"
        }
        ("eks", "POST", ["tags", ..]) => "TagResource",
        ("eks", "DELETE", ["tags", ..]) => "UntagResource",
        _ => return format!("{method} /{}", segs.first().copied().unwrap_or_default()),
    };
    op.to_string()
}

fn error_response(service: &str, status: u16, code: &str, message: &str) -> Vec<u8> {
    let (ctype, body) = if service == "eks" {
        (
            "application/json",
            serde_json::json!({ "message": message }).to_string(),
        )
    } else if service == "route53" {
        (
            "text/xml",
            format!("<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fedstack-moto</RequestId></ErrorResponse>"),
        )
    } else {
        (
            "text/xml",
            format!("<?xml version=\"1.0\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>fedstack-moto</RequestID></Response>"),
        )
    };
    let mut out = format!(
        "HTTP/1.1 {status} Error\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if service == "eks" {
        out.push_str(&format!("x-amzn-ErrorType: {code}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// Sends `req` to moto on a fresh connection; returns (status, head lines, body).
async fn forward(req: &Request, moto: SocketAddr) -> std::io::Result<(u16, Vec<String>, Vec<u8>)> {
    let mut up = TcpStream::connect(moto).await?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.path);
    for (k, v) in &req.headers {
        if k.eq_ignore_ascii_case("connection") {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes()).await?;
    up.write_all(&req.body).await?;
    let mut raw = Vec::new();
    up.read_to_end(&mut raw).await?;
    let end = find(&raw, b"\r\n\r\n").unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let body = raw.get(end + 4..).unwrap_or_default().to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(502);
    let headers: Vec<String> = lines
        .filter(|l| {
            let k = l
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            !matches!(
                k.as_str(),
                "connection" | "content-length" | "transfer-encoding"
            )
        })
        .map(str::to_string)
        .collect();
    Ok((status, headers, body))
}

async fn serve(
    mut conn: TcpStream,
    moto: SocketAddr,
    shared: Arc<Mutex<Shared>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    while let Some(req) = read_request(&mut conn, &mut buf).await? {
        let service = service_of(&req);
        let operation = operation_of(&service, &req.method, &req.path, &req.body);
        // An injected error?
        let injected = {
            let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
            let mut hit = None;
            for r in s.rules.iter_mut() {
                if let Rule::Fail {
                    operation: op,
                    times,
                    status,
                    code,
                    message,
                } = r
                {
                    if *op == operation && *times > 0 {
                        *times -= 1;
                        hit = Some((*status, code.clone(), message.clone()));
                        break;
                    }
                }
            }
            hit
        };
        let (status, out) = match injected {
            Some((status, code, message)) => {
                (status, error_response(&service, status, &code, &message))
            }
            None => {
                let (status, headers, mut body) = forward(&req, moto).await?;
                if operation == "GetHealthCheckStatus" && status == 200 {
                    let id = req.path.split('/').nth(3).unwrap_or_default().to_string();
                    let fail = {
                        let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
                        let mut fail = false;
                        for r in s.rules.iter_mut() {
                            if let Rule::Unhealthy { id: rid, ok } = r {
                                if *rid == id {
                                    if *ok == 0 {
                                        fail = true;
                                    } else {
                                        *ok -= 1;
                                    }
                                }
                            }
                        }
                        fail
                    };
                    if fail {
                        body = String::from_utf8_lossy(&body)
                            .replace(
                                "Success: HTTP Status Code: 200",
                                "Failure: HTTP Status Code: 503",
                            )
                            .into_bytes();
                    }
                }
                let mut head = format!("HTTP/1.1 {status} X\r\n");
                for h in headers {
                    head.push_str(&h);
                    head.push_str("\r\n");
                }
                head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                let mut out = head.into_bytes();
                out.extend_from_slice(&body);
                (status, out)
            }
        };
        shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .calls
            .push(Call {
                changes: if operation == "ChangeResourceRecordSets" {
                    String::from_utf8_lossy(&req.body)
                        .matches("<Change>")
                        .count()
                } else {
                    0
                },
                service: service.clone(),
                operation,
                status,
            });
        conn.write_all(&out).await?;
    }
    Ok(())
}

// ----- reading the emulator back -----------------------------------------------------

/// What the emulator holds (default VPCs and their parts left out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Zone names (no trailing dot) and their record sets other than SOA and NS, as
    /// `name type [set id]: values` (alias records: `-> dns name`).
    pub zones: HashMap<String, Vec<String>>,
    /// Health checks: `id: ip:port type path`.
    pub health_checks: Vec<String>,
    pub clusters: Vec<String>,
    /// `cluster/nodegroup: instance type, desired`
    pub nodegroups: Vec<String>,
    /// VPCs that are not default ones.
    pub vpcs: Vec<String>,
    pub subnets: Vec<String>,
    pub internet_gateways: Vec<String>,
    pub roles: Vec<String>,
}

impl Inventory {
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
            && self.health_checks.is_empty()
            && self.clusters.is_empty()
            && self.nodegroups.is_empty()
            && self.vpcs.is_empty()
            && self.subnets.is_empty()
            && self.internet_gateways.is_empty()
            && self.roles.is_empty()
    }

    /// Record sets of every zone, sorted.
    pub fn records(&self) -> Vec<String> {
        let mut v: Vec<String> = self.zones.values().flatten().cloned().collect();
        v.sort();
        v
    }
}

async fn inventory(endpoint: &str, region: &str) -> Result<Inventory, String> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .load()
        .await;
    let e = |what: &str, err: &dyn std::fmt::Debug| format!("{what}: {err:?}");
    let mut inv = Inventory::default();

    let r53 = aws_sdk_route53::Client::new(&config);
    let zones = r53
        .list_hosted_zones()
        .send()
        .await
        .map_err(|x| e("ListHostedZones", &x))?;
    for z in zones.hosted_zones() {
        let mut sets = Vec::new();
        let mut all = Vec::new();
        let mut cursor: Option<(String, aws_sdk_route53::types::RrType, Option<String>)> = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut req = r53.list_resource_record_sets().hosted_zone_id(z.id());
            if let Some((n, t, i)) = &cursor {
                req = req
                    .start_record_name(n)
                    .start_record_type(t.clone())
                    .set_start_record_identifier(i.clone());
            }
            let out = req
                .send()
                .await
                .map_err(|x| e("ListResourceRecordSets", &x))?;
            all.extend(out.resource_record_sets().iter().cloned());
            match (
                out.is_truncated(),
                out.next_record_name(),
                out.next_record_type(),
            ) {
                (true, Some(n), Some(t)) => {
                    let next = (
                        n.to_string(),
                        t.clone(),
                        out.next_record_identifier().map(str::to_string),
                    );
                    if !seen.insert(format!("{next:?}")) {
                        return Err("ListResourceRecordSets repeats a cursor".into());
                    }
                    cursor = Some(next);
                }
                _ => break,
            }
        }
        let mut keys = std::collections::HashSet::new();
        all.retain(|s| {
            keys.insert((
                s.name().to_string(),
                s.r#type().clone(),
                s.set_identifier().map(str::to_string),
            ))
        });
        for s in &all {
            let t = s.r#type().as_str();
            if t == "SOA" || t == "NS" {
                continue;
            }
            let values = match s.alias_target() {
                Some(a) => format!("-> {}", a.dns_name()),
                None => s
                    .resource_records()
                    .iter()
                    .map(|r| r.value().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            };
            let mut line = format!("{} {t}", s.name().trim_end_matches('.'));
            if let Some(id) = s.set_identifier() {
                line.push_str(&format!(" [{id}]"));
            }
            if let Some(w) = s.weight() {
                line.push_str(&format!(" w={w}"));
            }
            line.push_str(&format!(": {values}"));
            sets.push(line);
        }
        sets.sort();
        inv.zones
            .insert(z.name().trim_end_matches('.').to_string(), sets);
    }
    let hcs = r53
        .list_health_checks()
        .send()
        .await
        .map_err(|x| e("ListHealthChecks", &x))?;
    for h in hcs.health_checks() {
        let c = h.health_check_config();
        inv.health_checks.push(format!(
            "{}: {}:{} {} {}",
            h.id(),
            c.and_then(|c| c.ip_address()).unwrap_or("-"),
            c.and_then(|c| c.port()).unwrap_or(0),
            c.map(|c| c.r#type().as_str().to_string())
                .unwrap_or_default(),
            c.and_then(|c| c.resource_path()).unwrap_or("")
        ));
    }

    let eks = aws_sdk_eks::Client::new(&config);
    let clusters = eks
        .list_clusters()
        .send()
        .await
        .map_err(|x| e("ListClusters", &x))?;
    for c in clusters.clusters() {
        inv.clusters.push(c.clone());
        let groups = eks
            .list_nodegroups()
            .cluster_name(c)
            .send()
            .await
            .map_err(|x| e("ListNodegroups", &x))?;
        for g in groups.nodegroups() {
            let d = eks
                .describe_nodegroup()
                .cluster_name(c)
                .nodegroup_name(g)
                .send()
                .await
                .map_err(|x| e("DescribeNodegroup", &x))?;
            let n = d.nodegroup();
            inv.nodegroups.push(format!(
                "{c}/{g}: {}, {}",
                n.and_then(|n| n.instance_types().first().cloned())
                    .unwrap_or_default(),
                n.and_then(|n| n.scaling_config())
                    .and_then(|s| s.desired_size())
                    .unwrap_or(-1)
            ));
        }
    }

    let ec2 = aws_sdk_ec2::Client::new(&config);
    let vpcs = ec2
        .describe_vpcs()
        .send()
        .await
        .map_err(|x| e("DescribeVpcs", &x))?;
    let mut default_vpcs = Vec::new();
    for v in vpcs.vpcs() {
        let id = v.vpc_id().unwrap_or_default().to_string();
        if v.is_default() == Some(true) {
            default_vpcs.push(id);
        } else {
            inv.vpcs.push(id);
        }
    }
    let subnets = ec2
        .describe_subnets()
        .send()
        .await
        .map_err(|x| e("DescribeSubnets", &x))?;
    for s in subnets.subnets() {
        if !default_vpcs.iter().any(|d| Some(d.as_str()) == s.vpc_id()) {
            inv.subnets
                .push(s.subnet_id().unwrap_or_default().to_string());
        }
    }
    let igws = ec2
        .describe_internet_gateways()
        .send()
        .await
        .map_err(|x| e("DescribeInternetGateways", &x))?;
    for g in igws.internet_gateways() {
        let on_default = g
            .attachments()
            .iter()
            .any(|a| default_vpcs.iter().any(|d| Some(d.as_str()) == a.vpc_id()));
        if !on_default {
            inv.internet_gateways
                .push(g.internet_gateway_id().unwrap_or_default().to_string());
        }
    }

    let iam = aws_sdk_iam::Client::new(&config);
    let roles = iam
        .list_roles()
        .send()
        .await
        .map_err(|x| e("ListRoles", &x))?;
    for r in roles.roles() {
        // moto's own service-linked roles live under /aws-service-role/.
        if !r.path().starts_with("/aws-service-role/") {
            inv.roles.push(r.role_name().to_string());
        }
    }
    inv.health_checks.sort();
    inv.clusters.sort();
    inv.nodegroups.sort();
    inv.roles.sort();
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named() {
        assert_eq!(
            operation_of("route53", "POST", "/2013-04-01/hostedzone/Z1/rrset/", b""),
            "ChangeResourceRecordSets"
        );
        assert_eq!(
            operation_of(
                "route53",
                "GET",
                "/2013-04-01/hostedzone/Z1/rrset?maxitems=300",
                b""
            ),
            "ListResourceRecordSets"
        );
        assert_eq!(
            operation_of("ec2", "POST", "/", b"Action=CreateVpc&Version=2016-11-15"),
            "CreateVpc"
        );
        assert_eq!(
            operation_of("eks", "GET", "/clusters/a", b""),
            "DescribeCluster"
        );
        assert!(!Call {
            service: "route53".into(),
            operation: "ListResourceRecordSets".into(),
            status: 200,
            changes: 0,
        }
        .is_write());
    }
}
