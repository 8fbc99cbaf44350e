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
//!   throttling, S3's `SlowDown`), lost connections ([`Moto::drop_next`]: before moto
//!   sees the request, or after it applied it), and failing health checks
//!   ([`Moto::unhealthy_after`]: moto reports every health check as healthy).
//! - [`Moto::inventory`] reads the emulator back with the AWS SDK (directly, not
//!   through the proxy) to check what fedstack left there; for S3,
//!   [`Moto::s3_objects`], and [`Moto::create_bucket`] and [`Moto::put_s3_object`] to
//!   set the scene (a bucket; a concurrent writer).
//!
//! S3 is addressed path-style (`http://proxy/bucket/key`: [`Moto::s3_config`]). The
//! proxy sends S3 writes to moto one at a time, so that a conditional write
//! (`If-None-Match: *`, `If-Match`) is atomic as on S3: moto checks the condition, then
//! writes, with no lock between. It also puts right what moto 5.2.5 answers wrongly for
//! aws-sdk-s3: the root element of `GetBucketVersioning` (`VersioningConfiguration`,
//! not `GetBucketVersioningResponse`). Request bodies pass as sent (aws-sdk-s3's
//! `aws-chunked` streaming bodies, trailing checksum included); only an HTTP
//! `Transfer-Encoding: chunked` one is re-framed with a `Content-Length` for moto.
//!
//! The server is killed when the [`Moto`] is dropped.

mod inventory;
mod ops;
mod proxy;
mod s3;

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;

pub use inventory::Inventory;
pub use ops::{operation_of, operation_of_request};

/// One request that went through the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `route53`, `eks`, `ec2`, `iam`, `sts`, `s3`...
    pub service: String,
    /// `ChangeResourceRecordSets`, `DescribeCluster`, ...
    pub operation: String,
    /// The HTTP status sent back; 0 when the proxy dropped the connection instead
    /// ([`Moto::drop_next`]).
    pub status: u16,
    /// For `ChangeResourceRecordSets`: how many changes the batch carried.
    pub changes: usize,
    /// The request path, without the query, as sent (percent-encoded): for S3
    /// `/bucket/key`.
    pub path: String,
    /// The query string, without `?` (empty when none), as sent.
    pub query: String,
    /// The `If-Match` header sent (S3: a conditional write or delete), as sent (quoted).
    pub if_match: Option<String>,
    /// The `If-None-Match` header sent (S3: `*` for create-only).
    pub if_none_match: Option<String>,
}

impl Call {
    /// Whether the operation changes something (by its name).
    pub fn is_write(&self) -> bool {
        const READS: &[&str] = &["Describe", "Get", "List", "Head"];
        !READS.iter().any(|p| self.operation.starts_with(p))
    }
}

/// Where [`Moto::drop_next`] loses a request: the proxy reads the whole request, then
/// closes the client's connection without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropPoint {
    /// Without sending it to moto: nothing happened.
    BeforeMoto,
    /// After moto has applied it: it happened, but the client never hears so (a
    /// conditional PUT that succeeded although the client saw an error).
    AfterMoto,
}

#[derive(Debug, Clone)]
enum Fault {
    Error {
        status: u16,
        code: String,
        message: String,
    },
    Drop(DropPoint),
}

#[derive(Debug, Clone)]
enum Rule {
    /// The next `times` calls of `operation` meet this fault.
    Fault {
        operation: String,
        times: usize,
        fault: Fault,
    },
    /// `GetHealthCheckStatus` of `id` reports failure once it has answered `ok` times.
    Unhealthy { id: String, ok: usize },
}

/// The HTTP status AWS answers an error `code` with: 503 for `SlowDown` and
/// `ServiceUnavailable`, 500 for `InternalError`, 403 for `AccessDenied`, 412 for
/// `PreconditionFailed`, 404 for `NoSuchKey`/`NoSuchBucket`, 409 for S3's conflicts;
/// 400 otherwise (`Throttling`, `PriorRequestNotComplete`...).
pub fn status_of_code(code: &str) -> u16 {
    match code {
        "SlowDown" | "ServiceUnavailable" | "ServiceUnavailableException" => 503,
        "InternalError" | "InternalFailure" | "InternalServerError" | "ServerException" => 500,
        "AccessDenied" | "AccessDeniedException" => 403,
        "PreconditionFailed" => 412,
        "NoSuchKey" | "NoSuchBucket" | "NotFound" | "ResourceNotFoundException" => 404,
        "ConditionalRequestConflict" | "OperationAborted" | "BucketNotEmpty" => 409,
        _ => 400,
    }
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
                if let Ok(listener) = TcpListener::from_std(listener) {
                    proxy::run(listener, moto, shared).await;
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

    fn push_rule(&self, rule: Rule) {
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .rules
            .push(rule);
    }

    /// Answers the next `times` calls of `operation` with error `code`, in the
    /// service's error shape (S3: `<Error><Code>SlowDown</Code>...`), with the HTTP
    /// status AWS gives that code ([`status_of_code`]: `Throttling` 400, `SlowDown`
    /// 503, `PreconditionFailed` 412...). moto does not see these calls.
    pub fn fail_next(&self, operation: &str, times: usize, code: &str, message: &str) {
        self.fail_next_with_status(operation, times, status_of_code(code), code, message);
    }

    /// [`Moto::fail_next`] with a chosen HTTP status.
    pub fn fail_next_with_status(
        &self,
        operation: &str,
        times: usize,
        status: u16,
        code: &str,
        message: &str,
    ) {
        self.push_rule(Rule::Fault {
            operation: operation.into(),
            times,
            fault: Fault::Error {
                status,
                code: code.into(),
                message: message.into(),
            },
        });
    }

    /// Loses the next `times` calls of `operation`: the proxy reads the request, then
    /// closes the client's connection without answering, [`DropPoint::BeforeMoto`]
    /// (moto never sees it) or [`DropPoint::AfterMoto`] (moto applied it; its answer
    /// is thrown away). The client sees an I/O error (the AWS SDK: a dispatch
    /// failure, which it retries). Recorded with status 0.
    ///
    /// Rules ([`Moto::fail_next`], `drop_next`) apply in the order they were set; a
    /// call meets the first one of its operation with calls left.
    pub fn drop_next(&self, operation: &str, times: usize, when: DropPoint) {
        self.push_rule(Rule::Fault {
            operation: operation.into(),
            times,
            fault: Fault::Drop(when),
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
        run(async move { inventory::inventory(&endpoint, &region).await })
    }

    /// An S3 client configuration through the proxy (recorded, faults injected):
    /// path-style addressing, static test credentials, plain HTTP; the SDK's defaults
    /// otherwise (retries, CRC32 request checksums). Adjust and `build()` it:
    /// `aws_sdk_s3::Client::from_conf(moto.s3_config("eu-west-1").build())`.
    pub fn s3_config(&self, region: &str) -> aws_sdk_s3::config::Builder {
        s3::config(&self.endpoint(), region)
    }

    /// Creates `bucket` in `region` (directly), versioned or not.
    pub fn create_bucket(
        &self,
        bucket: &str,
        region: &str,
        versioning: bool,
    ) -> Result<(), String> {
        let (endpoint, bucket, region) =
            (self.moto_endpoint(), bucket.to_string(), region.to_string());
        run(async move { s3::create_bucket(&endpoint, &bucket, &region, versioning).await })
    }

    /// The current objects of `bucket` under `prefix` (directly), sorted by key.
    pub fn s3_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
        let (endpoint, bucket, prefix) =
            (self.moto_endpoint(), bucket.to_string(), prefix.to_string());
        run(async move { s3::objects(&endpoint, &bucket, &prefix).await })
    }

    /// Writes an object unconditionally (directly: the forged concurrent writer of a
    /// test); its ETag, quoted as S3 sends it (moto: the MD5 of the bytes).
    pub fn put_s3_object(&self, bucket: &str, key: &str, bytes: &[u8]) -> Result<String, String> {
        let (endpoint, bucket, key, bytes) = (
            self.moto_endpoint(),
            bucket.to_string(),
            key.to_string(),
            bytes.to_vec(),
        );
        run(async move { s3::put_object(&endpoint, &bucket, &key, bytes).await })
    }
}

/// Runs `fut` to completion on a runtime of its own, on a thread of its own: the
/// helpers are synchronous, and callable from within a test's runtime too.
fn run<T: Send + 'static>(
    fut: impl Future<Output = Result<T, String>> + Send + 'static,
) -> Result<T, String> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?
            .block_on(fut)
    })
    .join()
    .map_err(|_| "the helper thread panicked".to_string())?
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(service: &str, operation: &str) -> Call {
        Call {
            service: service.into(),
            operation: operation.into(),
            status: 200,
            changes: 0,
            path: "/".into(),
            query: String::new(),
            if_match: None,
            if_none_match: None,
        }
    }

    #[test]
    fn reads_are_not_writes() {
        for read in [
            "ListResourceRecordSets",
            "DescribeCluster",
            "GetObject",
            "HeadObject",
            "HeadBucket",
            "ListObjectsV2",
            "ListObjectVersions",
            "GetBucketVersioning",
        ] {
            assert!(!call("s3", read).is_write(), "{read}");
        }
        for write in ["PutObject", "DeleteObjects", "CopyObject", "CreateBucket"] {
            assert!(call("s3", write).is_write(), "{write}");
        }
    }

    #[test]
    fn error_codes_have_their_status() {
        assert_eq!(status_of_code("SlowDown"), 503);
        assert_eq!(status_of_code("ServiceUnavailable"), 503);
        assert_eq!(status_of_code("InternalError"), 500);
        assert_eq!(status_of_code("AccessDenied"), 403);
        assert_eq!(status_of_code("PreconditionFailed"), 412);
        assert_eq!(status_of_code("Throttling"), 400);
        assert_eq!(status_of_code("PriorRequestNotComplete"), 400);
    }
}
