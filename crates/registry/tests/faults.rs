//! Faults between the engine and a real registry, injected by the test proxy: an
//! upload cut mid-way, 429s with Retry-After, retries running out, and a copy
//! killed with SIGKILL then resumed.

mod support;

use std::collections::HashSet;
use std::process::{Command, Stdio};

use fedstack_registry::{Error, RetryPolicy};
use support::images::{push_image, push_index, Flavor};
use support::proxy::Proxy;
use support::raw::Raw;
use support::registry::{Opts, RegistryProc};
use support::{copier, quick_opts, r};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_mid_way_is_restarted_in_a_new_session() {
    let src = RegistryProc::start(Opts::default()).await;
    let dst = RegistryProc::start(Opts::default()).await;
    let proxy = Proxy::start(&dst.base()).await;
    let img = push_image(
        &Raw::new(&src.base()),
        "app",
        Some("v1"),
        Flavor::Oci,
        4,
        256 * 1024,
        &[],
        ("linux", "amd64"),
    )
    .await;
    proxy
        .state
        .fail_uploads
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let c = copier(&[src.host(), proxy.host()], quick_opts());
    let report = c
        .copy(
            &r(&format!("{}/app:v1", src.host())),
            &r(&format!("{}/app:v1", proxy.host())),
        )
        .await
        .expect("copy");
    assert_eq!(report.blob_retries, 1);
    assert_eq!(report.blobs_copied, 5);
    // The cut session was given up (DELETE) and a new one opened: 5 + 1 POSTs.
    assert_eq!(proxy.state.count("POST", "/blobs/uploads/"), 6);
    assert_eq!(proxy.state.count("DELETE", "/blobs/uploads/"), 1);
    assert_eq!(proxy.state.uploaded().len(), 5);
    Raw::new(&dst.base())
        .verify_tree("app", "v1", &img.digest)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_with_retry_after_is_waited_out() {
    let src = RegistryProc::start(Opts::default()).await;
    let dst = RegistryProc::start(Opts::default()).await;
    let proxy = Proxy::start(&dst.base()).await;
    let img = push_image(
        &Raw::new(&src.base()),
        "app",
        Some("v1"),
        Flavor::Oci,
        3,
        1024,
        &[],
        ("linux", "amd64"),
    )
    .await;
    proxy
        .state
        .throttle
        .store(3, std::sync::atomic::Ordering::SeqCst);
    let c = copier(&[src.host(), proxy.host()], quick_opts());
    let report = c
        .copy(
            &r(&format!("{}/app:v1", src.host())),
            &r(&format!("{}/app:v1", proxy.host())),
        )
        .await
        .expect("copy");
    assert_eq!(
        proxy
            .state
            .throttled
            .load(std::sync::atomic::Ordering::SeqCst),
        3
    );
    assert_eq!(report.blobs_copied, 4);
    Raw::new(&dst.base())
        .verify_tree("app", "v1", &img.digest)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_that_run_out_name_the_path_and_status() {
    let src = RegistryProc::start(Opts::default()).await;
    let proxy = Proxy::start(&src.base()).await;
    push_image(
        &Raw::new(&src.base()),
        "app",
        Some("v1"),
        Flavor::Oci,
        1,
        1024,
        &[],
        ("linux", "amd64"),
    )
    .await;
    proxy
        .state
        .throttle
        .store(1000, std::sync::atomic::Ordering::SeqCst);
    let mut opts = quick_opts();
    opts.retry = RetryPolicy {
        max_attempts: 3,
        max_retry_after: std::time::Duration::from_millis(10),
        ..opts.retry
    };
    let c = copier(&[proxy.host()], opts);
    let e = c
        .resolve(&r(&format!("{}/app:v1", proxy.host())))
        .await
        .expect_err("an error");
    let msg = e.to_string();
    assert!(matches!(e, Error::Status { status: 429, .. }), "{msg}");
    // (A HEAD answer has no body, so no registry error code to quote.)
    assert!(
        msg.contains("HEAD http://127.0.0.1:")
            && msg.contains("/v2/app/manifests/v1: HTTP 429 after 3 attempts"),
        "{msg}"
    );
    assert_eq!(
        proxy
            .state
            .throttled
            .load(std::sync::atomic::Ordering::SeqCst),
        3
    );

    // A registry that is not there: a transport error after the same attempts.
    let c = copier(&["127.0.0.1:1".to_string()], {
        let mut o = quick_opts();
        o.retry.max_attempts = 2;
        o
    });
    let e = c
        .resolve(&r("127.0.0.1:1/app:v1"))
        .await
        .expect_err("an error");
    assert!(matches!(e, Error::Transport { attempts: 2, .. }), "{e}");
    assert!(
        e.to_string().contains("127.0.0.1:1/v2/app/manifests/v1"),
        "{e}"
    );
}

/// A `copy` process is killed with SIGKILL after 6 blob uploads were accepted (the
/// proxy holds every later upload, so the count is exact); the re-run sends only
/// the blobs the first run did not, and the result verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_killed_mid_way_resumes_sending_only_missing_blobs() {
    let src = RegistryProc::start(Opts::default()).await;
    let dst = RegistryProc::start(Opts::default()).await;
    let proxy = Proxy::start(&dst.base()).await;
    let idx = push_index(
        &Raw::new(&src.base()),
        "app",
        "v1",
        Flavor::Oci,
        &[
            ("linux", "amd64", None),
            ("linux", "arm64", None),
            ("linux", "ppc64le", None),
        ],
        5,
        64 * 1024,
    )
    .await;
    assert_eq!(idx.blobs.len(), 19);
    *proxy.state.stall_after.lock().expect("stall") = Some(6);
    let from = format!("{}/app:v1", src.host());
    let to = format!("{}/app:v1", proxy.host());
    let mut child = Command::new(env!("CARGO_BIN_EXE_fedstack-bench-registry"))
        .args([
            "copy",
            "--insecure-http",
            &src.host(),
            "--insecure-http",
            &proxy.host(),
            &from,
            &to,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn copy");
    proxy.state.wait_uploaded(6).await;
    child.kill().expect("kill -9"); // std's kill is SIGKILL
    child.wait().expect("wait");
    let first: HashSet<String> = proxy.state.uploaded().into_iter().collect();
    assert_eq!(first.len(), 6);
    assert!(
        Raw::new(&dst.base())
            .get_manifest("app", "v1")
            .await
            .is_none(),
        "the index is not there yet"
    );

    *proxy.state.stall_after.lock().expect("stall") = None;
    proxy.state.reset();
    let c = copier(&[src.host(), proxy.host()], quick_opts());
    let report = c.copy(&r(&from), &r(&to)).await.expect("re-run");
    let second: HashSet<String> = proxy.state.uploaded().into_iter().collect();
    assert!(
        first.is_disjoint(&second),
        "the re-run sent a blob again: {:?}",
        first.intersection(&second).collect::<Vec<_>>()
    );
    assert_eq!(first.len() + second.len(), 19);
    assert_eq!(report.blobs_present, 6);
    assert_eq!(report.blobs_copied, 13);
    Raw::new(&dst.base())
        .verify_tree("app", "v1", &idx.digest)
        .await;
}

/// A source whose bytes do not match their digests: the blob's upload is aborted
/// before the registry commits it, a manifest is refused when read; nothing is
/// tagged at the destination.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_source_bytes_are_caught_while_streaming() {
    let src = RegistryProc::start(Opts::default()).await;
    let dst = RegistryProc::start(Opts::default()).await;
    let proxy = Proxy::start(&src.base()).await;
    let img = push_image(
        &Raw::new(&src.base()),
        "app",
        Some("v1"),
        Flavor::Oci,
        2,
        64 * 1024,
        &[],
        ("linux", "amd64"),
    )
    .await;
    let c = copier(&[proxy.host(), dst.host()], quick_opts());
    let from = r(&format!("{}/app:v1", proxy.host()));

    *proxy.state.corrupt.lock().expect("corrupt") = Some("/blobs/".into());
    let e = c
        .copy(&from, &r(&format!("{}/app:v1", dst.host())))
        .await
        .expect_err("corrupt blobs");
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    assert!(e.to_string().contains("blob sha256:"), "{e}");
    let raw = Raw::new(&dst.base());
    assert!(raw.get_manifest("app", "v1").await.is_none());
    for b in &img.blobs {
        let status = reqwest::Client::new()
            .head(format!("{}/v2/app/blobs/{b}", dst.base()))
            .send()
            .await
            .expect("HEAD")
            .status()
            .as_u16();
        assert_eq!(status, 404, "a corrupted blob must not be committed: {b}");
    }

    *proxy.state.corrupt.lock().expect("corrupt") = Some("/manifests/".into());
    let e = c
        .copy(&from, &r(&format!("{}/app2:v1", dst.host())))
        .await
        .expect_err("corrupt manifest");
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    assert!(e.to_string().contains("manifest"), "{e}");
}
