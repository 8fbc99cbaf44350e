//! A fault-injecting HTTP/1.1 proxy in front of one registry: it logs every request
//! (method, path), records the blob uploads the registry accepted, and on demand
//! cuts a blob upload mid-way, answers 429 with Retry-After, refuses mounts, stalls
//! uploads after N (for kill -9 tests), corrupts GET bodies, or plays a Bearer token
//! server in front of an anonymous registry.
//!
//! Raw tokio TCP, like fedstack-moto's proxy, not a hyper server: hyper's `server`
//! feature in a dev-dependency would make `cargo test` build hyper (and reqwest, the
//! cloud SDKs above it) a second time with other features than `cargo build`.
//! One request per connection: the upstream is asked to close after its answer,
//! which is then relayed byte for byte (its own framing) and the client's
//! connection closed; the Host header is kept, so the registry's absolute upload
//! Locations point back at the proxy.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub addr: SocketAddr,
    pub state: Arc<State>,
}

pub struct State {
    upstream: SocketAddr,
    own: String,
    log: Mutex<Vec<(String, String)>>,
    uploaded: Mutex<Vec<String>>,
    uploaded_tx: watch::Sender<usize>,
    /// Cut this many blob uploads (PUT) after half their body.
    pub fail_uploads: AtomicUsize,
    /// Answer this many of the next requests with 429 + Retry-After: 1.
    pub throttle: AtomicUsize,
    pub throttled: AtomicUsize,
    /// Let this many blob PUTs through, hold every later one (never answer it).
    pub stall_after: Mutex<Option<usize>>,
    admitted: AtomicUsize,
    /// Flip the first body byte of GET answers whose path contains this.
    pub corrupt: Mutex<Option<String>>,
    /// Answer mount requests 405, as registries without cross-repository mounts do.
    pub refuse_mounts: AtomicBool,
    /// Require Bearer tokens from our own /token endpoint.
    pub bearer: AtomicBool,
    /// Scopes of the token requests served.
    pub token_requests: Mutex<Vec<String>>,
}

impl Proxy {
    /// `upstream_base`: `http://127.0.0.1:<port>` of the registry.
    pub async fn start(upstream_base: &str) -> Proxy {
        let upstream: SocketAddr = upstream_base
            .trim_start_matches("http://")
            .parse()
            .expect("upstream address");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let (tx, _) = watch::channel(0);
        let state = Arc::new(State {
            upstream,
            own: format!("http://{addr}"),
            log: Mutex::default(),
            uploaded: Mutex::default(),
            uploaded_tx: tx,
            fail_uploads: AtomicUsize::new(0),
            throttle: AtomicUsize::new(0),
            throttled: AtomicUsize::new(0),
            stall_after: Mutex::new(None),
            admitted: AtomicUsize::new(0),
            corrupt: Mutex::new(None),
            refuse_mounts: AtomicBool::new(false),
            bearer: AtomicBool::new(false),
            token_requests: Mutex::default(),
        });
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = handle(st, stream).await;
                });
            }
        });
        Proxy { addr, state }
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

impl State {
    pub fn requests(&self) -> Vec<(String, String)> {
        self.log.lock().expect("log").clone()
    }
    pub fn reset(&self) {
        self.log.lock().expect("log").clear();
        self.uploaded.lock().expect("uploaded").clear();
        self.uploaded_tx.send_replace(0);
        self.admitted.store(0, Ordering::SeqCst);
    }
    /// Requests with this method whose path contains `part`.
    pub fn count(&self, method: &str, part: &str) -> usize {
        self.requests()
            .iter()
            .filter(|(m, p)| m == method && p.contains(part))
            .count()
    }
    /// Digests of the blob uploads the registry accepted (201) since the last reset.
    pub fn uploaded(&self) -> Vec<String> {
        self.uploaded.lock().expect("uploaded").clone()
    }
    /// Waits until `n` uploads were accepted (an event, not a timer).
    pub async fn wait_uploaded(&self, n: usize) {
        let mut rx = self.uploaded_tx.subscribe();
        rx.wait_for(|c| *c >= n).await.expect("proxy gone");
    }
}

/// A request head: method, target (path?query), headers as (lowercase name, value).
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn content_length(&self) -> usize {
        self.header("content-length")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

/// Reads up to the end of the head; returns the head bytes' parse and what was read
/// past it (the start of the body).
async fn read_head(s: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            return Ok(Some((head, buf[end + 4..].to_vec())));
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(text: &str) -> Option<Head> {
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Head {
        method,
        target,
        headers,
    })
}

async fn respond(
    s: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    body: &str,
) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    s.write_all(out.as_bytes()).await?;
    s.shutdown().await
}

async fn handle(st: Arc<State>, mut client: TcpStream) -> std::io::Result<()> {
    let Some((head_text, mut body_start)) = read_head(&mut client).await? else {
        return Ok(());
    };
    let Some(head) = parse_head(&head_text) else {
        return respond(&mut client, 400, &[], "bad request").await;
    };
    let (path, query) = match head.target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (head.target.clone(), String::new()),
    };
    let method = head.method.clone();

    if path == "/token" {
        let scopes: Vec<String> = query
            .split('&')
            .filter_map(|kv| kv.strip_prefix("scope="))
            .map(|s| {
                s.replace("%3A", ":")
                    .replace("%2C", ",")
                    .replace("%2F", "/")
                    .replace('+', " ")
            })
            .collect();
        st.token_requests
            .lock()
            .expect("tokens")
            .push(scopes.join(" "));
        let body = format!(r#"{{"token":"tok-{}"}}"#, fastrand::u64(..));
        return respond(
            &mut client,
            200,
            &[("content-type", "application/json".into())],
            &body,
        )
        .await;
    }
    st.log
        .lock()
        .expect("log")
        .push((method.clone(), path.clone()));

    let bearer = st.bearer.load(Ordering::SeqCst);
    if bearer
        && !head
            .header("authorization")
            .is_some_and(|v| v.starts_with("Bearer tok-"))
    {
        let challenge = format!(
            r#"Bearer realm="{}/token",service="fedstack-test",scope="repository:x:pull""#,
            st.own
        );
        return respond(
            &mut client,
            401,
            &[("www-authenticate", challenge)],
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"token please"}]}"#,
        )
        .await;
    }
    if st
        .throttle
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        st.throttled.fetch_add(1, Ordering::SeqCst);
        return respond(
            &mut client,
            429,
            &[("retry-after", "1".into())],
            r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#,
        )
        .await;
    }
    if st.refuse_mounts.load(Ordering::SeqCst) && method == "POST" && query.contains("mount=") {
        return respond(
            &mut client,
            405,
            &[],
            r#"{"errors":[{"code":"UNSUPPORTED","message":"no mounts here"}]}"#,
        )
        .await;
    }
    let len = head.content_length();
    let is_upload_put = method == "PUT" && path.contains("/blobs/uploads/");
    if is_upload_put {
        let stall = *st.stall_after.lock().expect("stall");
        // Counted on arrival, so that exactly n uploads can ever complete.
        if stall.is_some_and(|n| st.admitted.fetch_add(1, Ordering::SeqCst) >= n) {
            std::future::pending::<()>().await;
        }
        if st
            .fail_uploads
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            // Read half the body, then drop the connection without an answer.
            let mut seen = body_start.len();
            let mut chunk = [0u8; 8192];
            while seen < len / 2 {
                match client.read(&mut chunk).await? {
                    0 => break,
                    n => seen += n,
                }
            }
            return Ok(());
        }
    }

    // Forward: the head (Connection: close, Authorization dropped in bearer mode),
    // then exactly Content-Length bytes of body.
    let mut up = TcpStream::connect(st.upstream).await?;
    let mut out = format!("{} {} HTTP/1.1\r\n", head.method, head.target);
    for (k, v) in &head.headers {
        if k == "connection" || k == "keep-alive" || (bearer && k == "authorization") {
            continue;
        }
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("connection: close\r\n\r\n");
    up.write_all(out.as_bytes()).await?;
    body_start.truncate(len);
    up.write_all(&body_start).await?;
    let mut left = len - body_start.len();
    let mut chunk = vec![0u8; 64 * 1024];
    while left > 0 {
        let n = client.read(&mut chunk[..left.min(64 * 1024)]).await?;
        if n == 0 {
            return Ok(()); // the client gave up mid-body; so does the upstream request
        }
        up.write_all(&chunk[..n]).await?;
        left -= n;
    }

    // The answer: its head is parsed for the status (and the corrupt mode), then
    // everything is relayed until the upstream closes.
    let Some((resp_head, mut rest)) = read_head(&mut up).await? else {
        return Ok(());
    };
    let status: u16 = resp_head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let corrupt = method == "GET"
        && st
            .corrupt
            .lock()
            .expect("corrupt")
            .as_deref()
            .is_some_and(|part| path.contains(part));
    // Recorded before the answer is relayed: the copier may finish as soon as it
    // has it, and a test then reads this.
    if is_upload_put && status == 201 {
        let digest = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("digest="))
            .unwrap_or("")
            .replace("%3A", ":");
        let n = {
            let mut u = st.uploaded.lock().expect("uploaded");
            u.push(digest);
            u.len()
        };
        st.uploaded_tx.send_replace(n);
    }
    let mut flip = corrupt;
    if flip && !rest.is_empty() {
        rest[0] ^= 0xff;
        flip = false;
    }
    client.write_all(resp_head.as_bytes()).await?;
    client.write_all(b"\r\n\r\n").await?;
    client.write_all(&rest).await?;
    loop {
        let n = up.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        if std::mem::take(&mut flip) {
            chunk[0] ^= 0xff;
        }
        client.write_all(&chunk[..n]).await?;
    }
    client.shutdown().await?;
    Ok(())
}
