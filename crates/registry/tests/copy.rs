//! Copies between real distribution registries, read back independently (raw HTTP:
//! the digest of every manifest, child and blob).

mod support;

use std::collections::HashSet;

use fedstack_registry::{DeleteOutcome, Error, PlatformFilter};
use support::images::{push_image, push_index, Flavor};
use support::proxy::Proxy;
use support::raw::{sha256, Raw};
use support::registry::{Opts, RegistryProc};
use support::{copier, quick_opts, r};

const PLATFORMS: &[(&str, &str, Option<&str>)] = &[
    ("linux", "amd64", None),
    ("linux", "arm64", Some("v8")),
    ("linux", "arm", Some("v7")),
    ("linux", "s390x", None),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_a_20_layer_image_byte_for_byte_and_a_recopy_is_one_head() {
    let src = RegistryProc::start(Opts::default()).await;
    let dst = RegistryProc::start(Opts::default()).await;
    let proxy = Proxy::start(&dst.base()).await;
    let img = push_image(
        &Raw::new(&src.base()),
        "team/app",
        Some("v1"),
        Flavor::Oci,
        20,
        64 * 1024,
        &[],
        ("linux", "amd64"),
    )
    .await;

    let c = copier(&[src.host(), proxy.host()], quick_opts());
    let from = r(&format!("{}/team/app:v1", src.host()));
    let to = r(&format!("{}/prod/app:v1", proxy.host()));
    let report = c.copy(&from, &to).await.expect("copy");
    assert_eq!(report.source_digest.as_str(), img.digest);
    assert_eq!(report.destination_digest.as_str(), img.digest);
    assert_eq!(report.blobs_copied, 21, "20 layers and the config");
    assert_eq!(report.manifests_pushed, 1);
    assert!(!report.up_to_date);
    let (manifests, blobs) = Raw::new(&dst.base())
        .verify_tree("prod/app", "v1", &img.digest)
        .await;
    assert_eq!(manifests, vec![img.digest.clone()]);
    assert_eq!(
        blobs.iter().collect::<HashSet<_>>(),
        img.blobs.iter().collect::<HashSet<_>>()
    );
    // Each blob: exactly one HEAD, then one upload.
    assert_eq!(proxy.state.count("HEAD", "/blobs/"), 21);
    assert_eq!(proxy.state.uploaded().len(), 21);

    proxy.state.reset();
    let again = c.copy(&from, &to).await.expect("re-copy");
    assert!(again.up_to_date);
    assert_eq!(again.blobs_copied + again.manifests_pushed, 0);
    assert_eq!(
        proxy.state.requests(),
        vec![("HEAD".to_string(), "/v2/prod/app/manifests/v1".to_string())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_a_multi_arch_index_sending_each_shared_blob_once() {
    let src = RegistryProc::start(Opts::default()).await;
    let dst = RegistryProc::start(Opts::default()).await;
    let proxy = Proxy::start(&dst.base()).await;
    let idx = push_index(
        &Raw::new(&src.base()),
        "app",
        "v2",
        Flavor::Oci,
        PLATFORMS,
        5,
        32 * 1024,
    )
    .await;
    // 4 platforms x (5 own layers + config) + 1 shared layer.
    assert_eq!(idx.blobs.len(), 25);

    let c = copier(&[src.host(), proxy.host()], quick_opts());
    let report = c
        .copy(
            &r(&format!("{}/app:v2", src.host())),
            &r(&format!("{}/app:v2", proxy.host())),
        )
        .await
        .expect("copy");
    assert_eq!(report.destination_digest.as_str(), idx.digest);
    assert_eq!(report.blobs_copied, 25);
    assert_eq!(report.manifests_pushed, 5);
    let uploaded = proxy.state.uploaded();
    assert_eq!(uploaded.len(), 25);
    assert_eq!(
        uploaded.iter().collect::<HashSet<_>>().len(),
        25,
        "no blob sent twice"
    );
    let (manifests, _) = Raw::new(&dst.base())
        .verify_tree("app", "v2", &idx.digest)
        .await;
    assert_eq!(manifests.len(), 5);
    // Children were pushed (by digest) before the index (by tag).
    let puts: Vec<String> = proxy
        .state
        .requests()
        .into_iter()
        .filter(|(m, p)| m == "PUT" && p.contains("/manifests/"))
        .map(|(_, p)| p)
        .collect();
    assert_eq!(
        puts.last().map(String::as_str),
        Some("/v2/app/manifests/v2")
    );
    assert!(puts[..4].iter().all(|p| p.contains("sha256:")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_filter_pushes_a_new_index_of_the_kept_children() {
    let src = RegistryProc::start(Opts::default()).await;
    let dst = RegistryProc::start(Opts::default()).await;
    let idx = push_index(
        &Raw::new(&src.base()),
        "app",
        "v3",
        Flavor::Oci,
        PLATFORMS,
        2,
        8 * 1024,
    )
    .await;
    let mut opts = quick_opts();
    opts.platforms = PlatformFilter::parse("linux/amd64,linux/arm64").expect("filter");
    let c = copier(&[src.host(), dst.host()], opts);
    let from = r(&format!("{}/app:v3", src.host()));
    let to = r(&format!("{}/app:v3", dst.host()));
    let report = c.copy(&from, &to).await.expect("copy");
    let rw = report.rewritten.clone().expect("rewritten");
    assert_eq!(rw.source_digest.as_str(), idx.digest);
    assert_eq!(rw.kept, vec!["linux/amd64", "linux/arm64/v8"]);
    assert_eq!(rw.dropped, vec!["linux/arm/v7", "linux/s390x"]);
    assert_ne!(report.destination_digest.as_str(), idx.digest);
    let raw = Raw::new(&dst.base());
    let (manifests, _) = raw
        .verify_tree("app", "v3", report.destination_digest.as_str())
        .await;
    // The kept children are the source's, byte for byte.
    assert_eq!(
        manifests[1..].iter().collect::<HashSet<_>>(),
        idx.children[..2].iter().collect::<HashSet<_>>()
    );
    // The rewritten index is recognised as up to date the second time.
    assert!(c.copy(&from, &to).await.expect("re-copy").up_to_date);
    // A filter that matches nothing is an error naming what the index has.
    let mut opts = quick_opts();
    opts.platforms = PlatformFilter::parse("windows/amd64").expect("filter");
    let e = copier(&[src.host(), dst.host()], opts)
        .copy(&from, &to)
        .await
        .expect_err("an error");
    assert!(matches!(e, Error::NoMatchingPlatform { .. }), "{e}");
    assert!(e.to_string().contains("linux/s390x"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_schema2_manifests_and_lists_keep_their_digests() {
    let src = RegistryProc::start(Opts::default()).await;
    let dst = RegistryProc::start(Opts::default()).await;
    let raw = Raw::new(&src.base());
    let img = push_image(
        &raw,
        "d/img",
        Some("v1"),
        Flavor::Docker,
        3,
        4096,
        &[],
        ("linux", "amd64"),
    )
    .await;
    let list = push_index(
        &raw,
        "d/list",
        "v1",
        Flavor::Docker,
        &PLATFORMS[..3],
        2,
        4096,
    )
    .await;
    let c = copier(&[src.host(), dst.host()], quick_opts());
    for (repo, pushed) in [("d/img", &img), ("d/list", &list)] {
        let report = c
            .copy(
                &r(&format!("{}/{repo}:v1", src.host())),
                &r(&format!("{}/{repo}:v1", dst.host())),
            )
            .await
            .expect("copy");
        assert_eq!(report.media_type, pushed.media_type);
        let raw_dst = Raw::new(&dst.base());
        raw_dst.verify_tree(repo, "v1", &pushed.digest).await;
        let (bytes, ct) = raw_dst.get_manifest(repo, "v1").await.expect("manifest");
        assert_eq!(bytes, pushed.bytes);
        assert_eq!(ct, pushed.media_type);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_registry_copies_mount_blobs_and_digest_references_need_no_source_head() {
    let reg = RegistryProc::start(Opts::default()).await;
    let proxy = Proxy::start(&reg.base()).await;
    let img = push_image(
        &Raw::new(&reg.base()),
        "staging/app",
        Some("v1"),
        Flavor::Oci,
        6,
        4096,
        &[],
        ("linux", "amd64"),
    )
    .await;
    let c = copier(&[proxy.host()], quick_opts());
    let from = r(&format!("{}/staging/app@{}", proxy.host(), img.digest));
    let to = r(&format!("{}/prod/app:v1", proxy.host()));
    let report = c.copy(&from, &to).await.expect("copy");
    assert_eq!(report.blobs_mounted, 7);
    assert_eq!(report.blobs_copied, 0);
    assert_eq!(proxy.state.count("POST", "/v2/prod/app/blobs/uploads/"), 7);
    assert!(proxy.state.uploaded().is_empty(), "nothing streamed");
    Raw::new(&reg.base())
        .verify_tree("prod/app", "v1", &img.digest)
        .await;
    proxy.state.reset();
    assert!(c.copy(&from, &to).await.expect("re-copy").up_to_date);
    assert_eq!(
        proxy.state.requests().len(),
        1,
        "a digest source and an up-to-date destination: one HEAD"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_refuses_mounts_gets_uploads() {
    let reg = RegistryProc::start(Opts::default()).await;
    let proxy = Proxy::start(&reg.base()).await;
    proxy
        .state
        .refuse_mounts
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let img = push_image(
        &Raw::new(&reg.base()),
        "a",
        Some("v1"),
        Flavor::Oci,
        3,
        4096,
        &[],
        ("linux", "amd64"),
    )
    .await;
    let c = copier(&[proxy.host()], quick_opts());
    let report = c
        .copy(
            &r(&format!("{}/a:v1", proxy.host())),
            &r(&format!("{}/b:v1", proxy.host())),
        )
        .await
        .expect("copy");
    assert_eq!((report.blobs_mounted, report.blobs_copied), (0, 4));
    Raw::new(&reg.base())
        .verify_tree("b", "v1", &img.digest)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_and_delete_with_and_without_deletes_enabled() {
    let yes = RegistryProc::start(Opts {
        delete: true,
        ..Opts::default()
    })
    .await;
    let no = RegistryProc::start(Opts::default()).await;
    let c = copier(&[yes.host(), no.host()], quick_opts());
    for reg in [&yes, &no] {
        push_image(
            &Raw::new(&reg.base()),
            "app",
            Some("v1"),
            Flavor::Oci,
            1,
            1024,
            &[],
            ("linux", "amd64"),
        )
        .await;
    }
    let on_yes = r(&format!("{}/app:v1", yes.host()));
    let digest = c.resolve(&on_yes).await.expect("resolve");
    let (bytes, _) = Raw::new(&yes.base())
        .get_manifest("app", "v1")
        .await
        .expect("manifest");
    assert_eq!(digest.as_str(), sha256(&bytes));
    assert_eq!(
        c.delete(&on_yes).await.expect("delete"),
        DeleteOutcome::Deleted(digest.clone())
    );
    assert!(Raw::new(&yes.base())
        .get_manifest("app", digest.as_str())
        .await
        .is_none());
    assert!(matches!(
        c.resolve(&on_yes).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        c.delete(&on_yes).await.expect("delete again"),
        DeleteOutcome::NotFound
    );

    let on_no = r(&format!("{}/app:v1", no.host()));
    match c.delete(&on_no).await.expect("delete") {
        DeleteOutcome::NotAllowed { status, .. } => assert_eq!(status, 405),
        other => panic!("expected NotAllowed, got {other:?}"),
    }
    assert!(Raw::new(&no.base())
        .get_manifest("app", "v1")
        .await
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_sources_and_plans_are_reported_without_writing() {
    let src = RegistryProc::start(Opts::default()).await;
    let dst = RegistryProc::start(Opts::default()).await;
    let proxy = Proxy::start(&dst.base()).await;
    let c = copier(&[src.host(), proxy.host()], quick_opts());
    let e = c
        .copy(
            &r(&format!("{}/nope:v1", src.host())),
            &r(&format!("{}/nope:v1", proxy.host())),
        )
        .await
        .expect_err("an error");
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    assert!(e.to_string().contains("/v2/nope/manifests/v1"), "{e}");

    let idx = push_index(
        &Raw::new(&src.base()),
        "app",
        "v1",
        Flavor::Oci,
        PLATFORMS,
        2,
        1024,
    )
    .await;
    let plan = c
        .plan_copy(
            &r(&format!("{}/app:v1", src.host())),
            &r(&format!("{}/app:v1", proxy.host())),
        )
        .await
        .expect("plan");
    assert_eq!(plan.blobs.len(), idx.blobs.len());
    assert_eq!(plan.missing_blobs().count(), idx.blobs.len());
    assert_eq!(plan.manifests.len(), 4);
    assert!(
        proxy.state.requests().iter().all(|(m, _)| m == "HEAD"),
        "a plan only asks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_tag_pinned_to_a_digest_is_pushed_by_tag_or_refused() {
    let src = RegistryProc::start(Opts::default()).await;
    let dst = RegistryProc::start(Opts::default()).await;
    let img = push_image(
        &Raw::new(&src.base()),
        "app",
        Some("v1"),
        Flavor::Oci,
        2,
        1024,
        &[],
        ("linux", "amd64"),
    )
    .await;
    let c = copier(&[src.host(), dst.host()], quick_opts());
    let from = r(&format!("{}/app:v1", src.host()));
    let wrong = format!("sha256:{}", "0".repeat(64));
    let e = c
        .copy(&from, &r(&format!("{}/app:v1@{wrong}", dst.host())))
        .await
        .expect_err("a digest the source does not have");
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    assert!(
        Raw::new(&dst.base())
            .get_manifest("app", "v1")
            .await
            .is_none(),
        "nothing pushed"
    );
    c.copy(&from, &r(&format!("{}/app:v1@{}", dst.host(), img.digest)))
        .await
        .expect("copy");
    Raw::new(&dst.base())
        .verify_tree("app", "v1", &img.digest)
        .await;
}
