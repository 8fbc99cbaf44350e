//! Authentication and TLS: an htpasswd registry (Basic), Bearer tokens from a
//! token endpoint (the test proxy plays it), an https registry with a test CA.
//! Credentials never show in errors or Debug output.

mod support;

use std::collections::HashSet;

use fedstack_registry::{Copier, Credentials, Error, Registry, Secret};
use support::images::{push_image, push_index, Flavor};
use support::proxy::Proxy;
use support::raw::Raw;
use support::registry::{Opts, RegistryProc, TestCa};
use support::{quick_opts, r};

const PASSWORD: &str = "pw-7d1c0b9e-never-printed";

fn basic(password: &str) -> Credentials {
    Credentials::Basic {
        username: "ci".into(),
        password: Secret::new(password),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_copies_and_a_wrong_password_is_a_clear_error_without_it() {
    let src = RegistryProc::start(Opts::default()).await;
    let dst = RegistryProc::start(Opts {
        basic: Some(("ci".into(), PASSWORD.into())),
        ..Opts::default()
    })
    .await;
    let proxy = Proxy::start(&dst.base()).await;
    let img = push_image(
        &Raw::new(&src.base()),
        "app",
        Some("v1"),
        Flavor::Oci,
        3,
        4096,
        &[],
        ("linux", "amd64"),
    )
    .await;
    let from = r(&format!("{}/app:v1", src.host()));
    let to = r(&format!("{}/app:v1", proxy.host()));

    let regs = |pw: &str| {
        [
            Registry::new(src.host()).insecure_http(),
            Registry::new(proxy.host())
                .insecure_http()
                .with_credentials(basic(pw)),
        ]
    };
    let c = Copier::new(regs(PASSWORD), quick_opts()).expect("copier");
    c.copy(&from, &to).await.expect("copy");
    Raw::new(&dst.base())
        .with_basic("ci", PASSWORD)
        .verify_tree("app", "v1", &img.digest)
        .await;
    // Basic goes with the first request: an up-to-date copy is still one HEAD.
    proxy.state.reset();
    assert!(c.copy(&from, &to).await.expect("re-copy").up_to_date);
    assert_eq!(proxy.state.requests().len(), 1);

    let bad = Copier::new(regs("wrong-password"), quick_opts()).expect("copier");
    let e = bad
        .copy(&from, &r(&format!("{}/other:v1", proxy.host())))
        .await
        .expect_err("an error");
    assert!(matches!(e, Error::Status { status: 401, .. }), "{e}");
    let shown = format!("{e} {e:?} {:?}", regs(PASSWORD));
    assert!(shown.contains("hint: check the credentials"), "{shown}");
    assert!(
        !shown.contains(PASSWORD) && !shown.contains("wrong-password"),
        "{shown}"
    );
    // No credentials at all: refused the same way.
    let anon =
        Copier::new([Registry::new(proxy.host()).insecure_http()], quick_opts()).expect("copier");
    assert!(matches!(
        anon.resolve(&to).await,
        Err(Error::Status { status: 401, .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_come_from_the_challenge_once_per_scope() {
    let src = RegistryProc::start(Opts::default()).await;
    let dst = RegistryProc::start(Opts::default()).await;
    let proxy = Proxy::start(&dst.base()).await;
    proxy
        .state
        .bearer
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let idx = push_index(
        &Raw::new(&src.base()),
        "team/app",
        "v1",
        Flavor::Oci,
        &[("linux", "amd64", None), ("linux", "arm64", None)],
        6,
        4096,
    )
    .await;
    let c = Copier::new(
        [
            Registry::new(src.host()).insecure_http(),
            Registry::new(proxy.host())
                .insecure_http()
                .with_credentials(basic(PASSWORD)),
        ],
        quick_opts(),
    )
    .expect("copier");
    let from = r(&format!("{}/team/app:v1", src.host()));
    let to = r(&format!("{}/prod/app:v1", proxy.host()));
    c.copy(&from, &to).await.expect("copy");
    Raw::new(&dst.base())
        .verify_tree("prod/app", "v1", &idx.digest)
        .await;
    let scopes = proxy.state.token_requests.lock().expect("tokens").clone();
    let distinct: HashSet<&String> = scopes.iter().collect();
    assert_eq!(
        distinct.len(),
        scopes.len(),
        "a scope's token was fetched twice: {scopes:?}"
    );
    assert!(
        distinct.contains(&"repository:prod/app:pull".to_string()),
        "{scopes:?}"
    );
    assert!(
        distinct.contains(&"repository:prod/app:pull,push".to_string()),
        "{scopes:?}"
    );
    // Cached: the no-op re-copy fetches no token and sends one HEAD.
    proxy.state.reset();
    assert!(c.copy(&from, &to).await.expect("re-copy").up_to_date);
    assert_eq!(proxy.state.requests().len(), 1);
    assert_eq!(
        proxy.state.token_requests.lock().expect("tokens").len(),
        scopes.len()
    );

    // A static token that the registry refuses: 401, the token not printed.
    let refused = Copier::new(
        [Registry::new(proxy.host())
            .insecure_http()
            .with_credentials(Credentials::Token(Secret::new("static-token-9f8e")))],
        quick_opts(),
    )
    .expect("copier");
    let e = refused.resolve(&to).await.expect_err("an error");
    assert!(matches!(e, Error::Status { status: 401, .. }), "{e}");
    assert!(!format!("{e} {e:?}").contains("static-token-9f8e"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_custom_ca() {
    let ca = TestCa::new();
    let src = RegistryProc::start(Opts::default()).await;
    let dst = RegistryProc::start(Opts {
        tls: Some((ca.cert_pem.clone(), ca.key_pem.clone())),
        ..Opts::default()
    })
    .await;
    let img = push_image(
        &Raw::new(&src.base()),
        "app",
        Some("v1"),
        Flavor::Oci,
        2,
        4096,
        &[],
        ("linux", "amd64"),
    )
    .await;
    let from = r(&format!("{}/app:v1", src.host()));
    let to = r(&format!("{}/app:v1", dst.host()));

    // A certificate error is the same on every attempt: reported after the first.
    let untrusted = Copier::new(
        [
            Registry::new(src.host()).insecure_http(),
            Registry::new(dst.host()),
        ],
        quick_opts(),
    )
    .expect("copier");
    let e = untrusted.copy(&from, &to).await.expect_err("untrusted CA");
    assert!(matches!(e, Error::Transport { attempts: 1, .. }), "{e}");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");

    let trusted = Copier::new(
        [
            Registry::new(src.host()).insecure_http(),
            Registry::new(dst.host()).with_ca_pem(ca.ca_pem.clone()),
        ],
        quick_opts(),
    )
    .expect("copier");
    let report = trusted.copy(&from, &to).await.expect("copy over https");
    assert_eq!(report.destination_digest.as_str(), img.digest);
    Raw::new(&dst.base())
        .verify_tree("app", "v1", &img.digest)
        .await;

    // Plain http to an https registry is refused, not silently upgraded.
    let plain = Copier::new([Registry::new(dst.host()).insecure_http()], {
        let mut o = quick_opts();
        o.retry.max_attempts = 1;
        o
    })
    .expect("copier");
    assert!(plain.resolve(&to).await.is_err());

    let bad = Copier::new(
        [Registry::new(dst.host()).with_ca_pem("not a certificate")],
        quick_opts(),
    );
    assert!(matches!(bad, Err(Error::Config { .. })));
}
