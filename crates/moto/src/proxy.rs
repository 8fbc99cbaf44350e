//! The recording proxy in front of moto: HTTP/1.1, one request at a time per client
//! connection, each forwarded to moto on a fresh connection.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::ops::operation_of_request;
use crate::{Call, DropPoint, Fault, Rule, Shared};

/// Accepts connections until the runtime ends.
pub(crate) async fn run(listener: TcpListener, moto: SocketAddr, shared: Arc<Mutex<Shared>>) {
    // S3 writes go to moto one at a time: moto checks a condition (If-None-Match,
    // If-Match) and then writes, without a lock between; S3 does both atomically.
    let s3_writes = Arc::new(tokio::sync::Mutex::new(()));
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            continue;
        };
        let _ = conn.set_nodelay(true);
        let shared = shared.clone();
        let s3_writes = s3_writes.clone();
        tokio::spawn(async move {
            let _ = serve(conn, moto, shared, s3_writes).await;
        });
    }
}

pub(crate) struct Request {
    pub(crate) method: String,
    /// Path and query, as sent.
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, String)>,
    /// The body; de-chunked when it came with `Transfer-Encoding: chunked`.
    pub(crate) body: Vec<u8>,
    /// It came chunked: it goes to moto with a `Content-Length` instead.
    pub(crate) dechunked: bool,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    fn query(&self) -> &str {
        self.target.split_once('?').map(|(_, q)| q).unwrap_or("")
    }
}

/// Reads more of the connection into `buf`; false at its end.
async fn fill(conn: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut chunk = [0u8; 16384];
    let n = conn.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

/// The end of the CRLF-terminated line starting at `from`, reading more as needed.
async fn line_end(
    conn: &mut TcpStream,
    buf: &mut Vec<u8>,
    from: usize,
) -> std::io::Result<Option<usize>> {
    loop {
        if let Some(i) = find(&buf[from..], b"\r\n") {
            return Ok(Some(from + i));
        }
        if !fill(conn, buf).await? {
            return Ok(None);
        }
    }
}

/// The length of the chunked body at the start of `buf` (chunks, last chunk, trailers,
/// final CRLF), reading more as needed; `None` when the connection ends first.
async fn chunked_len(conn: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    let mut pos = 0;
    loop {
        let Some(end) = line_end(conn, buf, pos).await? else {
            return Ok(None);
        };
        let line = String::from_utf8_lossy(&buf[pos..end]).to_string();
        let size = usize::from_str_radix(line.split(';').next().unwrap_or_default().trim(), 16)
            .map_err(|_| invalid("bad chunk size"))?;
        pos = end + 2;
        if size == 0 {
            // Trailers (`x-amz-checksum-crc32: ...`), up to an empty line.
            loop {
                let Some(end) = line_end(conn, buf, pos).await? else {
                    return Ok(None);
                };
                let empty = end == pos;
                pos = end + 2;
                if empty {
                    return Ok(Some(pos));
                }
            }
        }
        pos += size + 2;
        while buf.len() < pos {
            if !fill(conn, buf).await? {
                return Ok(None);
            }
        }
    }
}

/// Reads one HTTP/1.1 request; `None` at the end of the connection. Bodies are framed
/// by `Content-Length` or `Transfer-Encoding: chunked`; a chunked one is de-chunked
/// here (its HTTP trailers dropped), as moto's server (werkzeug's) reads no chunk
/// extensions. Content encodings (S3's `aws-chunked`, whose trailers are in the body)
/// are left as they are. `Expect: 100-continue` is answered here.
pub(crate) async fn read_request(
    conn: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Request>> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        if !fill(conn, buf).await? {
            return Ok(None);
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    buf.drain(..head_end + 4);
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut req = Request {
        method,
        target,
        headers,
        body: Vec::new(),
        dechunked: false,
    };
    let len: usize = req
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if (chunked || len > 0)
        && req
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    let total = if chunked {
        match chunked_len(conn, buf).await? {
            Some(n) => n,
            None => return Ok(None),
        }
    } else {
        while buf.len() < len {
            if !fill(conn, buf).await? {
                return Ok(None);
            }
        }
        len
    };
    let raw: Vec<u8> = buf.drain(..total).collect();
    if chunked {
        req.body = dechunk(&raw);
        req.dechunked = true;
    } else {
        req.body = raw;
    }
    Ok(Some(req))
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
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

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(crate) fn error_response(
    service: &str,
    method: &str,
    status: u16,
    code: &str,
    message: &str,
) -> Vec<u8> {
    let (ctype, body) = if service == "eks" {
        (
            "application/json",
            serde_json::json!({ "message": message }).to_string(),
        )
    } else if service == "route53" {
        (
            "text/xml",
            format!(
                "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>fedstack-moto</RequestId></ErrorResponse>",
                xml_escape(code),
                xml_escape(message)
            ),
        )
    } else if service == "s3" {
        (
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>fedstack-moto</RequestId></Error>",
                xml_escape(code),
                xml_escape(message)
            ),
        )
    } else {
        (
            "text/xml",
            format!(
                "<?xml version=\"1.0\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>fedstack-moto</RequestID></Response>",
                xml_escape(code),
                xml_escape(message)
            ),
        )
    };
    let mut out = format!(
        "HTTP/1.1 {status} Error\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if service == "eks" {
        out.push_str(&format!("x-amzn-ErrorType: {code}\r\n"));
    }
    if service == "s3" {
        out.push_str("x-amz-request-id: fedstack-moto\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    // A HEAD answer has no body (S3 clients read the error from the status alone).
    if method != "HEAD" {
        bytes.extend_from_slice(body.as_bytes());
    }
    bytes
}

/// moto's answer.
struct Response {
    /// `HTTP/1.1 200 OK`
    status_line: String,
    status: u16,
    /// Header lines, without `Connection` and `Transfer-Encoding`; `Content-Length` is
    /// kept only in an answer to HEAD (the size of what a GET would return).
    headers: Vec<String>,
    /// De-chunked.
    body: Vec<u8>,
}

impl Response {
    fn to_bytes(&self, head_request: bool) -> Vec<u8> {
        let mut head = format!("{}\r\n", self.status_line);
        for h in &self.headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        if !head_request {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

/// Decodes a complete chunked body (extensions and trailers dropped).
fn dechunk(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(i) = find(&raw[pos..], b"\r\n") {
        let line = String::from_utf8_lossy(&raw[pos..pos + i]).to_string();
        let Ok(size) = usize::from_str_radix(line.split(';').next().unwrap_or_default().trim(), 16)
        else {
            break;
        };
        pos += i + 2;
        if size == 0 || pos + size > raw.len() {
            break;
        }
        out.extend_from_slice(&raw[pos..pos + size]);
        pos += size + 2;
    }
    out
}

/// Reads moto's answer: up to the end of its `Content-Length` when it has one (waiting
/// for moto to close the connection costs about 10 ms a call), else to the close.
async fn read_response(up: &mut TcpStream, head_request: bool) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(end) = find(&raw, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length = head.split("\r\n").find_map(|l| {
                l.strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse::<usize>().ok())
            });
            let status_no_body = head
                .split(' ')
                .nth(1)
                .is_some_and(|s| s == "204" || s == "304" || s.starts_with('1'));
            let want = match length {
                _ if head_request || status_no_body => Some(0),
                Some(n) => Some(n),
                None => None,
            };
            if let Some(n) = want {
                if raw.len() >= end + 4 + n {
                    raw.truncate(end + 4 + n);
                    return Ok(raw);
                }
            }
        }
        let n = up.read(&mut buf).await?;
        if n == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

/// Sends `req` to moto on a fresh connection.
async fn forward(req: &Request, moto: SocketAddr) -> std::io::Result<Response> {
    let mut up = TcpStream::connect(moto).await?;
    // One write, no Nagle: a head and a body sent apart wait for a delayed ACK.
    up.set_nodelay(true)?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (k, v) in &req.headers {
        let k_lower = k.to_ascii_lowercase();
        // The body is all here: moto need not be asked to continue.
        let skip = match k_lower.as_str() {
            "connection" | "expect" => true,
            "transfer-encoding" | "content-length" => req.dechunked,
            _ => false,
        };
        if !skip {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    if req.dechunked {
        head.push_str(&format!("Content-Length: {}\r\n", req.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(&req.body);
    up.write_all(&request).await?;
    let raw = read_response(&mut up, req.method == "HEAD").await?;
    let end = find(&raw, b"\r\n\r\n").unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let body = raw.get(end + 4..).unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_string();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(502);
    let mut chunked = false;
    let head_request = req.method == "HEAD";
    let headers: Vec<String> = lines
        .filter(|l| {
            let (k, v) = l.split_once(':').unwrap_or((l, ""));
            let k = k.trim().to_ascii_lowercase();
            if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            }
            match k.as_str() {
                "connection" | "transfer-encoding" => false,
                "content-length" => head_request,
                _ => true,
            }
        })
        .map(str::to_string)
        .collect();
    let body = if head_request {
        Vec::new()
    } else if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Ok(Response {
        status_line: if status_line.is_empty() {
            "HTTP/1.1 502 Bad Gateway".into()
        } else {
            status_line
        },
        status,
        headers,
        body,
    })
}

/// The first rule that takes this call of `operation`, if any.
fn fault_for(shared: &Mutex<Shared>, operation: &str) -> Option<Fault> {
    let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
    s.rules.iter_mut().find_map(|r| match r {
        Rule::Fault {
            operation: op,
            times,
            fault,
        } if op == operation && *times > 0 => {
            *times -= 1;
            Some(fault.clone())
        }
        _ => None,
    })
}

/// Whether health check `id` now reports failure.
fn health_check_fails(shared: &Mutex<Shared>, id: &str) -> bool {
    let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
    let mut fail = false;
    for r in s.rules.iter_mut() {
        if let Rule::Unhealthy { id: rid, ok } = r {
            if rid == id {
                if *ok == 0 {
                    fail = true;
                } else {
                    *ok -= 1;
                }
            }
        }
    }
    fail
}

async fn serve(
    mut conn: TcpStream,
    moto: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    s3_writes: Arc<tokio::sync::Mutex<()>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    while let Some(req) = read_request(&mut conn, &mut buf).await? {
        let service = service_of(&req);
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let operation =
            operation_of_request(&service, &req.method, &req.target, &headers, &req.body);
        let mut call = Call {
            changes: if operation == "ChangeResourceRecordSets" {
                String::from_utf8_lossy(&req.body)
                    .matches("<Change>")
                    .count()
            } else {
                0
            },
            service: service.clone(),
            operation,
            status: 0,
            path: req.path().to_string(),
            query: req.query().to_string(),
            if_match: req.header("if-match").map(str::to_string),
            if_none_match: req.header("if-none-match").map(str::to_string),
        };
        let record = |call: Call| {
            shared
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .calls
                .push(call);
        };
        let fault = fault_for(&shared, &call.operation);
        let out = match fault {
            Some(Fault::Error {
                status,
                code,
                message,
            }) => {
                call.status = status;
                error_response(&service, &req.method, status, &code, &message)
            }
            Some(Fault::Drop(DropPoint::BeforeMoto)) => {
                record(call);
                return Ok(());
            }
            Some(Fault::Drop(DropPoint::AfterMoto)) => {
                let _lock = if service == "s3" && call.is_write() {
                    Some(s3_writes.lock().await)
                } else {
                    None
                };
                let _ = forward(&req, moto).await;
                record(call);
                return Ok(());
            }
            None => {
                let lock = if service == "s3" && call.is_write() {
                    Some(s3_writes.lock().await)
                } else {
                    None
                };
                let mut resp = forward(&req, moto).await?;
                drop(lock);
                if call.operation == "GetHealthCheckStatus"
                    && resp.status == 200
                    && health_check_fails(&shared, req.path().split('/').nth(3).unwrap_or(""))
                {
                    resp.body = String::from_utf8_lossy(&resp.body)
                        .replace(
                            "Success: HTTP Status Code: 200",
                            "Failure: HTTP Status Code: 503",
                        )
                        .into_bytes();
                }
                if call.operation == "GetBucketVersioning" && resp.status == 200 {
                    // moto 5.2.5 names the root after the operation; S3 (and the
                    // SDK, which checks it) says `VersioningConfiguration`.
                    resp.body = String::from_utf8_lossy(&resp.body)
                        .replace("GetBucketVersioningResponse", "VersioningConfiguration")
                        .into_bytes();
                }
                call.status = resp.status;
                resp.to_bytes(req.method == "HEAD")
            }
        };
        record(call);
        conn.write_all(&out).await?;
        if req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_decode() {
        assert_eq!(
            dechunk(b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-amz-checksum-crc32: AAAA\r\n\r\n"),
            b"hello world"
        );
        assert_eq!(dechunk(b"0\r\n\r\n"), b"");
    }
}
