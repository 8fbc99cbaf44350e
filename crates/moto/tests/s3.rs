//! S3 through the harness, against moto's server: operations named right, faults
//! (S3-shaped errors, lost connections) as aws-sdk-s3 sees them, conditional headers
//! recorded, and request bodies (in-memory, aws-chunked streaming, HTTP chunked,
//! `Expect: 100-continue`) forwarded intact. Fails, saying how to get moto, when it
//! is missing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::RequestId;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use fedstack_moto::{Call, DropPoint, Moto};

const REGION: &str = "eu-west-1";
const BUCKET: &str = "fedstack-state";

/// moto's server; the test fails, saying how to get it, when it is not installed.
fn moto() -> Moto {
    Moto::start().unwrap_or_else(|e| panic!("cannot start moto: {e}"))
}

/// A client through the proxy: quick retries, or none.
fn client(moto: &Moto, retries: bool) -> Client {
    let retry = if retries {
        RetryConfig::standard().with_initial_backoff(Duration::from_millis(5))
    } else {
        RetryConfig::disabled()
    };
    Client::from_conf(moto.s3_config(REGION).retry_config(retry).build())
}

fn status<E>(e: &SdkError<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

fn s3_calls(moto: &Moto) -> Vec<Call> {
    moto.calls()
        .into_iter()
        .filter(|c| c.service == "s3")
        .collect()
}

fn ops(calls: &[Call]) -> Vec<(String, u16)> {
    calls
        .iter()
        .map(|c| (c.operation.clone(), c.status))
        .collect()
}

#[tokio::test]
async fn operations_are_named() {
    let moto = moto();
    let s3 = client(&moto, false);
    let loc = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
        .build();
    s3.create_bucket()
        .bucket(BUCKET)
        .create_bucket_configuration(loc)
        .send()
        .await
        .expect("CreateBucket");
    s3.head_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("HeadBucket");
    // Never set: no status (moto 5.2.5 names the root of this answer wrongly; the
    // proxy puts it right).
    let v = s3
        .get_bucket_versioning()
        .bucket(BUCKET)
        .send()
        .await
        .expect("GetBucketVersioning");
    assert_eq!(v.status(), None);
    s3.put_bucket_versioning()
        .bucket(BUCKET)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("PutBucketVersioning");
    let v = s3
        .get_bucket_versioning()
        .bucket(BUCKET)
        .send()
        .await
        .expect("GetBucketVersioning");
    assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"));
    s3.put_object()
        .bucket(BUCKET)
        .key("state/snapshot.json")
        .body(ByteStream::from_static(b"{\"serial\":1}"))
        .send()
        .await
        .expect("PutObject");
    let got = s3
        .get_object()
        .bucket(BUCKET)
        .key("state/snapshot.json")
        .send()
        .await
        .expect("GetObject");
    let body = got.body.collect().await.expect("body").into_bytes();
    assert_eq!(&body[..], b"{\"serial\":1}");
    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key("state/snapshot.json")
        .send()
        .await
        .expect("HeadObject");
    // The proxy keeps moto's Content-Length of a HEAD answer (no body comes).
    assert_eq!(head.content_length(), Some(12));
    let listed = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("state/")
        .send()
        .await
        .expect("ListObjectsV2");
    assert_eq!(listed.key_count(), Some(1));
    s3.list_object_versions()
        .bucket(BUCKET)
        .prefix("state/")
        .send()
        .await
        .expect("ListObjectVersions");
    s3.copy_object()
        .bucket(BUCKET)
        .key("state/copy.json")
        .copy_source(format!("{BUCKET}/state/snapshot.json"))
        .send()
        .await
        .expect("CopyObject");
    s3.delete_object()
        .bucket(BUCKET)
        .key("state/copy.json")
        .send()
        .await
        .expect("DeleteObject");
    s3.delete_objects()
        .bucket(BUCKET)
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("state/snapshot.json")
                        .build()
                        .expect("id"),
                )
                .build()
                .expect("delete"),
        )
        .send()
        .await
        .expect("DeleteObjects");
    let e = s3
        .head_object()
        .bucket(BUCKET)
        .key("state/snapshot.json")
        .send()
        .await
        .expect_err("deleted");
    assert_eq!(status(&e), Some(404));
    moto.create_bucket("fedstack-empty", REGION, false)
        .expect("create_bucket");
    s3.delete_bucket()
        .bucket("fedstack-empty")
        .send()
        .await
        .expect("DeleteBucket");

    let calls = s3_calls(&moto);
    let expected = [
        ("CreateBucket", 200),
        ("HeadBucket", 200),
        ("GetBucketVersioning", 200),
        ("PutBucketVersioning", 200),
        ("GetBucketVersioning", 200),
        ("PutObject", 200),
        ("GetObject", 200),
        ("HeadObject", 200),
        ("ListObjectsV2", 200),
        ("ListObjectVersions", 200),
        ("CopyObject", 200),
        ("DeleteObject", 204),
        ("DeleteObjects", 200),
        ("HeadObject", 404),
        ("DeleteBucket", 204),
    ];
    let expected: Vec<(String, u16)> = expected.iter().map(|(o, s)| (o.to_string(), *s)).collect();
    assert_eq!(ops(&calls), expected, "{calls:#?}");
    // Where the SDK names the operation itself (`?x-id=`), it agrees.
    for c in &calls {
        if let Some(id) = c.query.split('&').find_map(|kv| kv.strip_prefix("x-id=")) {
            assert_eq!(c.operation, id, "{c:?}");
        }
    }
    assert_eq!(calls[5].path, format!("/{BUCKET}/state/snapshot.json"));
    let reads: Vec<&str> = calls
        .iter()
        .filter(|c| !c.is_write())
        .map(|c| c.operation.as_str())
        .collect();
    assert_eq!(
        reads,
        [
            "HeadBucket",
            "GetBucketVersioning",
            "GetBucketVersioning",
            "GetObject",
            "HeadObject",
            "ListObjectsV2",
            "ListObjectVersions",
            "HeadObject"
        ]
    );
}

#[tokio::test]
async fn slow_down_is_a_503_the_sdk_parses() {
    let moto = moto();
    moto.create_bucket(BUCKET, REGION, true)
        .expect("create_bucket");
    let s3 = client(&moto, false);
    moto.fail_next(
        "PutObject",
        2,
        "SlowDown",
        "Please reduce your request rate.",
    );
    let e = s3
        .put_object()
        .bucket(BUCKET)
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .expect_err("SlowDown");
    assert_eq!(status(&e), Some(503), "{e:?}");
    assert_eq!(e.code(), Some("SlowDown"), "{e:?}");
    assert_eq!(e.message(), Some("Please reduce your request rate."));
    assert_eq!(e.meta().request_id(), Some("fedstack-moto"));
    // The SDK retries a SlowDown (a throttling error): the second is the last one.
    let s3 = client(&moto, true);
    s3.put_object()
        .bucket(BUCKET)
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .expect("retried");
    assert_eq!(
        ops(&s3_calls(&moto)),
        [
            ("PutObject".to_string(), 503),
            ("PutObject".to_string(), 503),
            ("PutObject".to_string(), 200)
        ]
    );
    assert_eq!(
        moto.s3_objects(BUCKET, "").expect("objects"),
        [("k".to_string(), b"v".to_vec())]
    );

    // The other codes, their status; a HEAD answer has no body to parse.
    for (op, code, want) in [
        ("GetObject", "InternalError", 500),
        ("GetObject", "AccessDenied", 403),
        ("GetObject", "ServiceUnavailable", 503),
        ("HeadObject", "PreconditionFailed", 412),
    ] {
        moto.fail_next(op, 1, code, "injected");
        let s3 = client(&moto, false);
        let e = if op == "HeadObject" {
            let e = s3
                .head_object()
                .bucket(BUCKET)
                .key("k")
                .send()
                .await
                .expect_err(code);
            (status(&e), e.code().map(str::to_string))
        } else {
            let e = s3
                .get_object()
                .bucket(BUCKET)
                .key("k")
                .send()
                .await
                .expect_err(code);
            (status(&e), e.code().map(str::to_string))
        };
        assert_eq!(e.0, Some(want), "{code}");
        if op != "HeadObject" {
            assert_eq!(e.1.as_deref(), Some(code));
        }
    }
}

#[tokio::test]
async fn a_conditional_put_lost_after_moto_applied_it() {
    let moto = moto();
    moto.create_bucket(BUCKET, REGION, false)
        .expect("create_bucket");
    let s3 = client(&moto, false);
    moto.drop_next("PutObject", 1, DropPoint::AfterMoto);
    let e = s3
        .put_object()
        .bucket(BUCKET)
        .key("lock")
        .if_none_match("*")
        .body(ByteStream::from_static(b"mine"))
        .send()
        .await
        .expect_err("the answer is lost");
    let SdkError::DispatchFailure(d) = &e else {
        panic!("not a dispatch failure: {e:?}");
    };
    // hyper's IncompleteMessage: a connector error of kind "other", transient (so
    // the SDK retries it, below).
    assert!(d.is_other(), "{d:?}");
    assert!(format!("{d:?}").contains("IncompleteMessage"), "{d:?}");
    // ...and yet it happened.
    assert_eq!(
        moto.s3_objects(BUCKET, "").expect("objects"),
        [("lock".to_string(), b"mine".to_vec())]
    );
    let calls = s3_calls(&moto);
    assert_eq!(ops(&calls), [("PutObject".to_string(), 0)]);
    assert_eq!(calls[0].if_none_match.as_deref(), Some("*"));

    // With the SDK's retries, the retry of the lost create-only PUT meets its own
    // object: 412, although the write went through.
    moto.clear_calls();
    let s3 = client(&moto, true);
    moto.drop_next("PutObject", 1, DropPoint::AfterMoto);
    let e = s3
        .put_object()
        .bucket(BUCKET)
        .key("lock2")
        .if_none_match("*")
        .body(ByteStream::from_static(b"mine"))
        .send()
        .await
        .expect_err("the retry fails its condition");
    assert_eq!(status(&e), Some(412), "{e:?}");
    assert_eq!(e.code(), Some("PreconditionFailed"));
    assert_eq!(
        ops(&s3_calls(&moto)),
        [("PutObject".to_string(), 0), ("PutObject".to_string(), 412)]
    );
    assert_eq!(moto.s3_objects(BUCKET, "lock2").expect("objects").len(), 1);
}

#[tokio::test]
async fn a_put_lost_before_moto_never_happened() {
    let moto = moto();
    moto.create_bucket(BUCKET, REGION, false)
        .expect("create_bucket");
    moto.drop_next("PutObject", 1, DropPoint::BeforeMoto);
    let e = client(&moto, false)
        .put_object()
        .bucket(BUCKET)
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .expect_err("lost");
    assert!(matches!(e, SdkError::DispatchFailure(_)), "{e:?}");
    assert_eq!(moto.s3_objects(BUCKET, "").expect("objects"), []);
    // Retried, it goes through.
    moto.drop_next("PutObject", 1, DropPoint::BeforeMoto);
    client(&moto, true)
        .put_object()
        .bucket(BUCKET)
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .expect("retried");
    assert_eq!(
        ops(&s3_calls(&moto)),
        [
            ("PutObject".to_string(), 0),
            ("PutObject".to_string(), 0),
            ("PutObject".to_string(), 200)
        ]
    );
    assert_eq!(moto.s3_objects(BUCKET, "").expect("objects").len(), 1);
}

#[tokio::test]
async fn conditional_headers_are_recorded() {
    let moto = moto();
    moto.create_bucket(BUCKET, REGION, true)
        .expect("create_bucket");
    let s3 = client(&moto, false);
    let put = s3
        .put_object()
        .bucket(BUCKET)
        .key("snapshot")
        .if_none_match("*")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .expect("create-only");
    let etag = put.e_tag().expect("etag").to_string();
    // moto's ETag: the MD5 of the content, quoted.
    assert_eq!(etag, "\"5d41402abc4b2a76b9719d911017c592\"");
    let e = s3
        .put_object()
        .bucket(BUCKET)
        .key("snapshot")
        .if_none_match("*")
        .body(ByteStream::from_static(b"again"))
        .send()
        .await
        .expect_err("exists");
    assert_eq!(
        (status(&e), e.code()),
        (Some(412), Some("PreconditionFailed"))
    );
    // A concurrent writer, behind the proxy's back.
    let theirs = moto
        .put_s3_object(BUCKET, "snapshot", b"theirs")
        .expect("put_s3_object");
    assert_ne!(theirs, etag);
    let e = s3
        .put_object()
        .bucket(BUCKET)
        .key("snapshot")
        .if_match(&etag)
        .body(ByteStream::from_static(b"next"))
        .send()
        .await
        .expect_err("stale");
    assert_eq!(
        (status(&e), e.code()),
        (Some(412), Some("PreconditionFailed"))
    );
    s3.put_object()
        .bucket(BUCKET)
        .key("snapshot")
        .if_match(&theirs)
        .body(ByteStream::from_static(b"next"))
        .send()
        .await
        .expect("compare-and-swap");
    // If-Match on a key that is not there: 404 NoSuchKey (not 412).
    let e = s3
        .put_object()
        .bucket(BUCKET)
        .key("absent")
        .if_match(&etag)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("absent");
    assert_eq!((status(&e), e.code()), (Some(404), Some("NoSuchKey")));
    let e = s3
        .delete_object()
        .bucket(BUCKET)
        .key("snapshot")
        .if_match(&etag)
        .send()
        .await
        .expect_err("stale delete");
    assert_eq!(
        (status(&e), e.code()),
        (Some(412), Some("PreconditionFailed"))
    );
    assert_eq!(
        moto.s3_objects(BUCKET, "").expect("objects"),
        [("snapshot".to_string(), b"next".to_vec())]
    );

    let calls = s3_calls(&moto);
    let seen: Vec<(&str, u16, Option<&str>, Option<&str>)> = calls
        .iter()
        .map(|c| {
            (
                c.operation.as_str(),
                c.status,
                c.if_match.as_deref(),
                c.if_none_match.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("PutObject", 200, None, Some("*")),
            ("PutObject", 412, None, Some("*")),
            ("PutObject", 412, Some(etag.as_str()), None),
            ("PutObject", 200, Some(theirs.as_str()), None),
            ("PutObject", 404, Some(etag.as_str()), None),
            ("DeleteObject", 412, Some(etag.as_str()), None),
        ]
    );
}

/// A TCP relay to `upstream` that keeps what clients sent.
fn tap(upstream: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { continue };
            let Ok(mut up) = TcpStream::connect(upstream) else {
                continue;
            };
            let (Ok(mut client_back), Ok(mut up_back)) = (client.try_clone(), up.try_clone())
            else {
                continue;
            };
            let seen = kept.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = client.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    seen.lock().expect("lock").extend_from_slice(&buf[..n]);
                    if up.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = up.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut up_back, &mut client_back);
                let _ = client_back.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (addr, seen)
}

fn proxy_addr(moto: &Moto) -> SocketAddr {
    moto.endpoint()
        .trim_start_matches("http://")
        .parse()
        .expect("proxy address")
}

/// The header block of the first request in `raw`, lower-cased names.
fn head_of(raw: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    head.split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

fn get<'a>(head: &'a [(String, String)], name: &str) -> Option<&'a str> {
    head.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn what_the_sdk_sends_for_put_object_reaches_moto_intact() {
    let moto = moto();
    moto.create_bucket(BUCKET, REGION, false)
        .expect("create_bucket");
    let (tapped, seen) = tap(proxy_addr(&moto));
    let s3 = Client::from_conf(
        moto.s3_config(REGION)
            .endpoint_url(format!("http://{tapped}"))
            .retry_config(RetryConfig::disabled())
            .build(),
    );

    // In memory: one Content-Length body, the CRC32 in a header.
    s3.put_object()
        .bucket(BUCKET)
        .key("small")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .expect("PutObject in memory");
    let raw = std::mem::take(&mut *seen.lock().expect("lock"));
    let head = head_of(&raw);
    assert_eq!(get(&head, "content-length"), Some("5"));
    assert_eq!(get(&head, "transfer-encoding"), None);
    assert_eq!(get(&head, "content-encoding"), None);
    assert_eq!(get(&head, "expect"), None);
    // CRC32 of "hello", base64.
    assert_eq!(get(&head, "x-amz-checksum-crc32"), Some("NhCmhg=="));
    assert_eq!(get(&head, "x-amz-sdk-checksum-algorithm"), Some("CRC32"));

    // Streaming (a file, 1 MiB: many 64 KiB chunks): aws-chunked, signed chunk by
    // chunk over plain HTTP, the CRC32 in a trailer; still Content-Length framed.
    let big: Vec<u8> = (0..1024 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    let file = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(file.path(), &big).expect("write");
    let put = s3
        .put_object()
        .bucket(BUCKET)
        .key("big")
        .body(ByteStream::from_path(file.path()).await.expect("from_path"))
        .send()
        .await
        .expect("PutObject streaming");
    let raw = std::mem::take(&mut *seen.lock().expect("lock"));
    let head = head_of(&raw);
    assert_eq!(get(&head, "content-encoding"), Some("aws-chunked"));
    assert_eq!(get(&head, "transfer-encoding"), None);
    assert_eq!(get(&head, "x-amz-decoded-content-length"), Some("1048576"));
    assert_eq!(get(&head, "x-amz-trailer"), Some("x-amz-checksum-crc32"));
    assert_eq!(
        get(&head, "x-amz-content-sha256"),
        Some("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
    );
    let len: usize = get(&head, "content-length")
        .expect("content-length")
        .parse()
        .expect("number");
    assert!(len > big.len(), "{len}");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("x-amz-checksum-crc32:"), "no trailer");
    assert_eq!(get(&head, "expect"), None);

    // The ETag is the MD5 of the decoded content, as for an in-memory body.
    let etag = moto
        .put_s3_object(BUCKET, "other/big", &big)
        .expect("put_s3_object");
    assert_eq!(put.e_tag(), Some(etag.as_str()));
    assert_eq!(
        moto.s3_objects(BUCKET, "").expect("objects"),
        [
            ("big".to_string(), big.clone()),
            ("other/big".to_string(), big),
            ("small".to_string(), b"hello".to_vec())
        ]
    );
}

/// Sends `head` to the proxy, then (after its `100 Continue` when `expect`) `body`;
/// the status of the answer.
fn raw_put(moto: &Moto, head: &str, body: &[u8], expect: bool) -> u16 {
    let mut s = TcpStream::connect(proxy_addr(moto)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s.write_all(head.as_bytes()).expect("head");
    if expect {
        let mut got = [0u8; 25];
        s.read_exact(&mut got).expect("100 Continue");
        assert_eq!(&got, b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    s.write_all(body).expect("body");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("answer");
    out.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

const AUTH: &str = "Authorization: AWS4-HMAC-SHA256 Credential=test/20250101/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=0\r\n";

#[test]
fn chunked_and_expect_continue_requests_are_forwarded_intact() {
    let moto = moto();
    moto.create_bucket(BUCKET, REGION, false)
        .expect("create_bucket");
    // HTTP chunked (an extension, a trailer), after a 100 Continue.
    let head = format!(
        "PUT /{BUCKET}/chunked HTTP/1.1\r\nHost: 127.0.0.1\r\n{AUTH}Transfer-Encoding: chunked\r\nExpect: 100-continue\r\nIf-None-Match: *\r\nConnection: close\r\n\r\n"
    );
    let status = raw_put(
        &moto,
        &head,
        b"6\r\nhello \r\n5;ext=1\r\nworld\r\n0\r\nx-amz-checksum-crc32: DUoRhQ==\r\n\r\n",
        true,
    );
    assert_eq!(status, 200);
    // aws-chunked (unsigned, a trailing checksum) inside HTTP chunked.
    let aws = "b\r\nhello again\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
    let body = format!("{:x}\r\n{aws}\r\n0\r\n\r\n", aws.len());
    let head = format!(
        "PUT /{BUCKET}/aws-chunked HTTP/1.1\r\nHost: 127.0.0.1\r\n{AUTH}Transfer-Encoding: chunked\r\nContent-Encoding: aws-chunked\r\nx-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER\r\nx-amz-decoded-content-length: 11\r\nx-amz-trailer: x-amz-checksum-crc32\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw_put(&moto, &head, body.as_bytes(), false), 200);
    // Content-Length, after a 100 Continue.
    let head = format!(
        "PUT /{BUCKET}/sized HTTP/1.1\r\nHost: 127.0.0.1\r\n{AUTH}Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw_put(&moto, &head, b"sized", true), 200);
    assert_eq!(
        moto.s3_objects(BUCKET, "").expect("objects"),
        [
            ("aws-chunked".to_string(), b"hello again".to_vec()),
            ("chunked".to_string(), b"hello world".to_vec()),
            ("sized".to_string(), b"sized".to_vec()),
        ]
    );
    let calls = moto.calls();
    assert_eq!(
        ops(&calls),
        [
            ("PutObject".to_string(), 200),
            ("PutObject".to_string(), 200),
            ("PutObject".to_string(), 200)
        ]
    );
    assert_eq!(calls[0].if_none_match.as_deref(), Some("*"));
}
