//! A fault-injecting HTTP proxy in front of one registry: it logs every request
//! (method, path), records the blob uploads the registry accepted, and on demand
//! cuts a blob upload mid-way, answers 429 with Retry-After, stalls uploads after
//! N (for kill -9 tests), or plays a Bearer token server in front of an anonymous
//! registry.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use http_body_util::{combinators::BoxBody, BodyExt, BodyStream, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use tokio::sync::watch;

type Body = BoxBody<Bytes, std::io::Error>;

pub struct Proxy {
    pub addr: SocketAddr,
    pub state: Arc<State>,
}

pub struct State {
    upstream: String,
    own: Mutex<String>,
    http: reqwest::Client,
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
    /// Flip the first byte of GET answers whose path contains this (e.g. `/blobs/`).
    pub corrupt: Mutex<Option<String>>,
    /// Answer mount requests 405, as registries without cross-repository mounts do.
    pub refuse_mounts: AtomicBool,
    /// Require Bearer tokens from our own /token endpoint.
    pub bearer: AtomicBool,
    /// Scopes of the token requests served.
    pub token_requests: Mutex<Vec<String>>,
}

impl Proxy {
    pub async fn start(upstream_base: &str) -> Proxy {
        super::init_crypto();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let (tx, _) = watch::channel(0);
        let state = Arc::new(State {
            upstream: upstream_base.to_string(),
            own: Mutex::new(format!("http://{addr}")),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
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
                    let svc = hyper::service::service_fn(move |req| handle(st.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
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

fn full(status: u16, headers: &[(&str, String)], body: impl Into<Bytes>) -> Response<Body> {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    b.body(
        Full::new(body.into())
            .map_err(|e: Infallible| match e {})
            .boxed(),
    )
    .expect("response")
}

async fn handle(st: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, std::io::Error> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let own = st.own.lock().expect("own").clone();

    if path == "/token" {
        let q = query.unwrap_or_default();
        let scopes: Vec<String> = q
            .split('&')
            .filter_map(|kv| kv.strip_prefix("scope="))
            .map(|s| {
                s.replace("%3A", ":")
                    .replace("%2C", ",")
                    .replace("%2F", "/")
            })
            .collect();
        st.token_requests
            .lock()
            .expect("tokens")
            .push(scopes.join(" "));
        return Ok(full(
            200,
            &[("content-type", "application/json".into())],
            format!(r#"{{"token":"tok-{}"}}"#, fastrand::u64(..)),
        ));
    }
    st.log
        .lock()
        .expect("log")
        .push((method.clone(), path.clone()));

    if st.bearer.load(Ordering::SeqCst) {
        let ok = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer tok-"));
        if !ok {
            let challenge = format!(
                r#"Bearer realm="{own}/token",service="fedstack-test",scope="repository:x:pull""#
            );
            return Ok(full(
                401,
                &[("www-authenticate", challenge)],
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"token please"}]}"#,
            ));
        }
    }
    if st
        .throttle
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        st.throttled.fetch_add(1, Ordering::SeqCst);
        return Ok(full(
            429,
            &[("retry-after", "1".into())],
            r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#,
        ));
    }
    if st.refuse_mounts.load(Ordering::SeqCst)
        && method == "POST"
        && query.as_deref().is_some_and(|q| q.contains("mount="))
    {
        return Ok(full(
            405,
            &[],
            r#"{"errors":[{"code":"UNSUPPORTED","message":"no mounts here"}]}"#,
        ));
    }
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
            let len: usize = req
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(0);
            let mut body = BodyStream::new(req.into_body());
            let mut seen = 0;
            while seen < len / 2 {
                match body.next().await {
                    Some(Ok(f)) => seen += f.data_ref().map_or(0, |d| d.len()),
                    _ => break,
                }
            }
            return Err(std::io::Error::other("fault injected: upload cut mid-way"));
        }
    }

    // Forward, streaming both ways; the registry's absolute Locations are made to
    // point back at us.
    let url = format!(
        "{}{}{}",
        st.upstream,
        path,
        query.as_ref().map(|q| format!("?{q}")).unwrap_or_default()
    );
    let mut rb = st.http.request(req.method().clone(), url);
    for (k, v) in req.headers() {
        if k == "host" || (st.bearer.load(Ordering::SeqCst) && k == "authorization") {
            continue;
        }
        rb = rb.header(k, v);
    }
    let body = BodyStream::new(req.into_body())
        .try_filter_map(|f| async move { Ok(f.into_data().ok()) })
        .map_err(std::io::Error::other);
    let resp = match rb.body(reqwest::Body::wrap_stream(body)).send().await {
        Ok(r) => r,
        Err(e) => return Err(std::io::Error::other(e)),
    };
    let status = resp.status().as_u16();
    if is_upload_put && status == 201 {
        let digest = query
            .as_deref()
            .unwrap_or("")
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
    let mut b = Response::builder().status(status);
    for (k, v) in resp.headers() {
        if k == "location" {
            let l = v.to_str().unwrap_or("").replace(&st.upstream, &own);
            b = b.header(k, l);
        } else if k != "transfer-encoding" && k != "connection" {
            b = b.header(k, v);
        }
    }
    let corrupt = method == "GET"
        && st
            .corrupt
            .lock()
            .expect("corrupt")
            .as_deref()
            .is_some_and(|part| path.contains(part));
    let mut first = corrupt;
    let stream = resp
        .bytes_stream()
        .map_ok(move |chunk| {
            if std::mem::take(&mut first) && !chunk.is_empty() {
                let mut v = chunk.to_vec();
                v[0] ^= 0xff;
                return Frame::data(Bytes::from(v));
            }
            Frame::data(chunk)
        })
        .map_err(std::io::Error::other);
    Ok(b.body(BodyExt::boxed(StreamBody::new(stream)))
        .expect("response"))
}
