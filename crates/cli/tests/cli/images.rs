//! `images:` against real CNCF distribution registries on loopback: the example
//! stack `examples/promotion/stack.yaml` (its URLs rewritten) promotes a generated
//! two-platform index from an htpasswd-protected build registry to two others; every
//! check reads the registries back independently (plain Distribution requests).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use base64::Engine as _;
use serde_json::Value;

use crate::common::{repo, Env};

// The registry tests' raw client and image generator, shared rather than copied.
#[path = "../../../registry/tests/support/images.rs"]
mod gen;
#[path = "../../../registry/tests/support/raw.rs"]
mod raw;
#[path = "../../../registry/tests/support/registry.rs"]
mod registry;

use gen::{push_index, Flavor, Pushed};
use raw::Raw;
use registry::{Opts, RegistryProc as Registry, TestCa};

pub fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

const BUILD_USER: &str = "ci";
const BUILD_PASSWORD: &str = "fedstack-images-pw-6d1f0c";
const SYDNEY_USER: &str = "syd";
const SYDNEY_PASSWORD: &str = "fedstack-docker-pw-93ab2e";

const PLATFORMS: &[(&str, &str, Option<&str>)] =
    &[("linux", "amd64", None), ("linux", "arm64", Some("v8"))];

/// A real distribution registry (the registry tests' harness), started and ready.
fn start(rt: &tokio::runtime::Runtime, basic: Option<(&str, &str)>, delete: bool) -> Registry {
    rt.block_on(Registry::start(Opts {
        delete,
        basic: basic.map(|(u, p)| (u.to_string(), p.to_string())),
        tls: None,
    }))
}

fn runtime() -> tokio::runtime::Runtime {
    init_crypto();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The example stack pointed at the test registries (plain http on loopback); sydney
/// keeps its docker config credentials, saopaulo becomes anonymous.
fn promotion_stack(build: &str, sydney: &str, saopaulo: &str) -> String {
    let text = std::fs::read_to_string(repo().join("examples/promotion/stack.yaml"))
        .expect("examples/promotion/stack.yaml");
    let url = |name: &str, host: &str| {
        (
            format!("    url: registry.{name}.example.com\n"),
            format!("    url: \"{host}\"\n    insecure_http: true\n"),
        )
    };
    let mut text = text;
    for (from, to) in [
        url("build", build),
        url("sydney", sydney),
        url("saopaulo", saopaulo),
        (
            "    credentials: { token_env: SAOPAULO_TOKEN }\n".to_string(),
            String::new(),
        ),
        // Every test dir has a copy of examples/.
        (
            "    manifests: shop/\n".to_string(),
            "    manifests: examples/promotion/shop/\n".to_string(),
        ),
    ] {
        assert!(text.contains(&from), "the example stack has no `{from}`");
        text = text.replace(&from, &to);
    }
    text
}

/// The image and workload changes of a plan, sorted.
fn images_and_workloads(changes: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = changes
        .iter()
        .filter(|(a, _)| a.starts_with("image.") || a.starts_with("workload."))
        .cloned()
        .collect();
    out.sort();
    out
}

/// The value a workload's image reference got when it was applied (from the state).
fn deployed(env: &Env, workload: &str, reference: &str) -> String {
    let r = env.run(&["--json", "state", "show", workload]).success();
    let v: Value = serde_json::from_str(&r.stdout).expect("state show --json");
    let key = format!("ref:{reference}");
    v["attrs"][&key]
        .as_str()
        .unwrap_or_else(|| panic!("{workload} has no {key}: {}", r.stdout))
        .to_string()
}

/// Every file under `dir`, as text (lossy).
fn all_text(dir: &std::path::Path) -> String {
    let mut out = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.push_str(&all_text(&p));
            } else if let Ok(b) = std::fs::read(&p) {
                out.push_str(&String::from_utf8_lossy(&b));
            }
        }
    }
    out
}

fn plan_changes(env: &Env) -> Vec<(String, String)> {
    let r = env.run(&["--json", "plan"]).success();
    let v: Value = serde_json::from_str(&r.stdout).expect("plan --json");
    assert!(
        !r.stdout.contains(BUILD_PASSWORD) && !r.stdout.contains(SYDNEY_PASSWORD),
        "a password in the plan"
    );
    let mut out: Vec<(String, String)> = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap_or_default().to_string(),
                c["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

async fn check_copied(dest: &Raw, pushed: &Pushed) {
    let (manifests, mut blobs) = dest.verify_tree("shop", "1.4.2", &pushed.digest).await;
    assert_eq!(
        manifests.len(),
        1 + PLATFORMS.len(),
        "index and one image per platform"
    );
    blobs.sort();
    blobs.dedup();
    assert_eq!(blobs, pushed.blobs, "every blob of every platform");
}

#[test]
fn images_promote_replan_follow_a_moved_tag_and_destroy() {
    let rt = runtime();
    let build = start(&rt, Some((BUILD_USER, BUILD_PASSWORD)), true);
    let sydney = start(&rt, Some((SYDNEY_USER, SYDNEY_PASSWORD)), true);
    // Deletes disabled (distribution's default): destroy forgets the tag there.
    let saopaulo = start(&rt, None, false);
    let build_raw = Raw::new(&build.base()).with_basic(BUILD_USER, BUILD_PASSWORD);
    let sydney_raw = Raw::new(&sydney.base()).with_basic(SYDNEY_USER, SYDNEY_PASSWORD);
    let saopaulo_raw = Raw::new(&saopaulo.base());
    let first = rt.block_on(push_index(
        &build_raw,
        "shop",
        "1.4.2",
        Flavor::Oci,
        PLATFORMS,
        2,
        256 * 1024,
    ));

    let mut env = Env::with_stack(&promotion_stack(
        &build.host(),
        &sydney.host(),
        &saopaulo.host(),
    ));
    // sydney's credentials come from ~/.docker/config.json, as `docker login` writes it.
    let home = env.path().join("home");
    std::fs::create_dir_all(home.join(".docker")).expect("mkdir");
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{SYDNEY_USER}:{SYDNEY_PASSWORD}"));
    std::fs::write(
        home.join(".docker/config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#,
            sydney.host()
        ),
    )
    .expect("docker config");
    env.var("HOME", &home.display().to_string())
        .var("BUILD_USER", BUILD_USER)
        .var("BUILD_TOKEN", BUILD_PASSWORD);

    env.var("FEDSTACK_SIM_LATENCY_SCALE", "0");

    // ----- first apply: both destinations, every platform, digests equal; the shop on
    // each cluster by the digest of its own registry's copy -----------------------------
    assert_eq!(
        images_and_workloads(&plan_changes(&env)),
        [
            ("image.shop.saopaulo".to_string(), "create".to_string()),
            ("image.shop.sydney".to_string(), "create".to_string()),
            (
                "workload.eks-saopaulo.shop".to_string(),
                "create".to_string()
            ),
            ("workload.gke-sydney.shop".to_string(), "create".to_string()),
        ]
    );
    let t = Instant::now();
    let r = env.apply().clean();
    // For the record, not asserted: the whole command, process start included.
    eprintln!(
        "first apply: 2 copies of a 2-platform index ({} blobs, 256 KiB layers): {:?}",
        first.blobs.len(),
        t.elapsed()
    );
    assert!(r.stdout.contains("image.shop.sydney"), "{}", r.stdout);
    rt.block_on(async {
        check_copied(&sydney_raw, &first).await;
        check_copied(&saopaulo_raw, &first).await;
    });
    let outputs = env.run(&["--json", "output"]).success();
    let v: Value = serde_json::from_str(&outputs.stdout).expect("output --json");
    assert_eq!(
        v["shop_sydney"]
            .as_str()
            .or_else(|| v["shop_sydney"]["value"].as_str()),
        Some(format!("{}/shop@{}", sydney.host(), first.digest).as_str()),
        "{}",
        outputs.stdout
    );

    assert_eq!(
        deployed(&env, "workload.gke-sydney.shop", "image.shop.sydney.ref"),
        format!("{}/shop@{}", sydney.host(), first.digest)
    );
    assert_eq!(
        deployed(
            &env,
            "workload.eks-saopaulo.shop",
            "image.shop.saopaulo.ref"
        ),
        format!("{}/shop@{}", saopaulo.host(), first.digest)
    );

    // ----- nothing changed: a no-op plan ------------------------------------------
    env.run(&["plan", "--detailed-exitcode"]).code(0);

    // ----- the build pushes a new image under the same tag: exactly the copies update
    let second = rt.block_on(push_index(
        &build_raw,
        "shop",
        "1.4.2",
        Flavor::Oci,
        PLATFORMS,
        2,
        256 * 1024,
    ));
    assert_ne!(first.digest, second.digest);
    // Exactly the copies and the two rollouts that deploy them by digest.
    let mut changes = plan_changes(&env);
    changes.retain(|(_, action)| action != "no_op");
    changes.sort();
    assert_eq!(
        changes,
        [
            ("image.shop.saopaulo".to_string(), "update".to_string()),
            ("image.shop.sydney".to_string(), "update".to_string()),
            (
                "workload.eks-saopaulo.shop".to_string(),
                "update".to_string()
            ),
            ("workload.gke-sydney.shop".to_string(), "update".to_string()),
        ]
    );
    env.apply().clean();
    rt.block_on(async {
        check_copied(&sydney_raw, &second).await;
        check_copied(&saopaulo_raw, &second).await;
    });
    assert_eq!(
        deployed(&env, "workload.gke-sydney.shop", "image.shop.sydney.ref"),
        format!("{}/shop@{}", sydney.host(), second.digest)
    );
    env.run(&["plan", "--detailed-exitcode"]).code(0);

    // ----- no credential anywhere fedstack wrote --------------------------------------
    let written = all_text(&env.path().join("state"));
    assert!(!written.is_empty(), "no state written");
    for secret in [BUILD_PASSWORD, SYDNEY_PASSWORD, auth.as_str()] {
        assert!(!written.contains(secret), "a credential in the state dir");
    }

    // ----- destroy: deleted where the registry allows it, forgotten where not --------
    let r = env.run(&["destroy", "--auto-approve"]).success().clean();
    assert!(
        r.stdout.contains(&format!(
            "does not allow deletes (HTTP 405): forgot {}/shop:1.4.2",
            saopaulo.host()
        )),
        "{}",
        r.stdout
    );
    rt.block_on(async {
        assert!(
            sydney_raw.get_manifest("shop", "1.4.2").await.is_none(),
            "sydney kept the tag"
        );
        assert!(
            saopaulo_raw.get_manifest("shop", "1.4.2").await.is_some(),
            "saopaulo lost it"
        );
    });
    assert_eq!(env.state_addresses(), Vec::<String>::new());
    for secret in [BUILD_PASSWORD, SYDNEY_PASSWORD] {
        assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret));
    }
}

#[test]
fn a_missing_credential_env_var_is_named_and_nothing_is_copied() {
    let rt = runtime();
    let build = start(&rt, Some((BUILD_USER, BUILD_PASSWORD)), true);
    let sydney = start(&rt, Some((SYDNEY_USER, SYDNEY_PASSWORD)), true);
    let saopaulo = start(&rt, None, false);
    let mut env = Env::with_stack(&promotion_stack(
        &build.host(),
        &sydney.host(),
        &saopaulo.host(),
    ));
    env.var("HOME", &env.path().join("nohome").display().to_string())
        .var("BUILD_USER", BUILD_USER)
        .unset("BUILD_TOKEN");
    let r = env.run(&["apply", "--auto-approve"]).clean();
    assert_ne!(r.code, 0);
    assert!(
        format!("{}{}", r.stdout, r.stderr)
            .contains("env var BUILD_TOKEN (`password_env` in its credentials) is not set"),
        "{}{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn promote_copies_now_reports_what_it_sent_and_never_prints_credentials() {
    let rt = runtime();
    let build = start(&rt, Some((BUILD_USER, BUILD_PASSWORD)), true);
    let dest = start(&rt, None, true);
    let build_raw = Raw::new(&build.base()).with_basic(BUILD_USER, BUILD_PASSWORD);
    let dest_raw = Raw::new(&dest.base());
    let pushed = rt.block_on(push_index(
        &build_raw,
        "shop",
        "1.4.2",
        Flavor::Oci,
        PLATFORMS,
        2,
        64 * 1024,
    ));
    let mut env = Env::new();
    env.var("BUILD_USER", BUILD_USER)
        .var("BUILD_TOKEN", BUILD_PASSWORD);
    let src = format!("http://{}/shop:1.4.2", build.host());
    let dst = format!("http://{}/shop:1.4.2", dest.host());
    let args = [
        "--json",
        "promote",
        &src,
        &dst,
        "--src-creds-env",
        "BUILD_USER:BUILD_TOKEN",
    ];
    let r = env.run(&args).success().clean();
    let v: Value = serde_json::from_str(&r.stdout).expect("promote --json");
    assert_eq!(v["digest"], Value::String(pushed.digest.clone()));
    assert_eq!(v["source_digest"], Value::String(pushed.digest.clone()));
    assert_eq!(v["up_to_date"], Value::Bool(false));
    assert_eq!(v["blobs_copied"].as_u64(), Some(pushed.blobs.len() as u64));
    assert_eq!(
        v["manifests_pushed"].as_u64(),
        Some(1 + PLATFORMS.len() as u64)
    );
    rt.block_on(check_copied(&dest_raw, &pushed));

    // Again: one HEAD at each end, nothing sent.
    let r = env.run(&args).success();
    let v: Value = serde_json::from_str(&r.stdout).expect("promote --json");
    assert_eq!(v["up_to_date"], Value::Bool(true));

    // One platform, by text: a new index, said so.
    let one = format!("http://{}/shop:amd64-only", dest.host());
    let r = env
        .run(&[
            "promote",
            &src,
            &one,
            "--src-creds-env",
            "BUILD_USER:BUILD_TOKEN",
            "--platform",
            "linux/amd64",
        ])
        .success()
        .clean();
    assert!(r.stdout.starts_with("Copied: "), "{}", r.stdout);
    assert!(
        r.stdout.contains("0 sent"),
        "blobs were there already: {}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("rewritten: a new index of linux/amd64 (dropped linux/arm64/v8)"),
        "{}",
        r.stdout
    );

    // Wrong or missing credentials: one line naming the registry, no secret.
    env.var("BUILD_TOKEN", "wrong-password-1b7e");
    let r = env.run(&args).clean();
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains(&build.host()), "{}", r.stderr);
    assert!(!r.stderr.contains("wrong-password-1b7e") && !r.stdout.contains("wrong-password-1b7e"));
    for out in [&r.stdout, &r.stderr] {
        assert!(!out.contains(BUILD_PASSWORD));
    }
}

#[test]
fn a_registry_with_a_private_ca_is_trusted_through_ca_file_only() {
    let rt = runtime();
    let test_ca = TestCa::new();
    let ca = test_ca.ca_pem.clone();
    let build = start(&rt, None, true);
    let secure = rt.block_on(Registry::start(Opts {
        delete: true,
        basic: None,
        tls: Some((test_ca.cert_pem.clone(), test_ca.key_pem.clone())),
    }));
    let pushed = rt.block_on(push_index(
        &Raw::new(&build.base()),
        "shop",
        "1.4.2",
        Flavor::Docker,
        PLATFORMS,
        1,
        16 * 1024,
    ));
    let stack = |ca_file: &str| {
        format!(
            "name: tls\nclouds: {{}}\nregistries:\n  build: {{ url: \"{}\", insecure_http: true }}\n  secure: {{ url: \"{}\"{ca_file} }}\nimages:\n  shop: {{ from: build/shop:1.4.2, to: secure }}\n",
            build.host(),
            secure.host()
        )
    };
    // Without it: the system roots do not know the test CA; one line, nothing copied.
    let env = Env::with_stack(&stack(""));
    let r = env.run(&["apply", "--auto-approve"]).clean();
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains(&secure.host()),
        "{}{}",
        r.stdout,
        r.stderr
    );

    // With it, relative to the stack file's directory.
    let env = Env::with_stack(&stack(", ca_file: certs/ca.pem"));
    std::fs::create_dir_all(env.path().join("certs")).expect("mkdir");
    std::fs::write(env.path().join("certs/ca.pem"), &ca).expect("ca");
    env.apply().clean();
    rt.block_on(async {
        let (manifests, _) = Raw::new(&secure.base())
            .verify_tree("shop", "1.4.2", &pushed.digest)
            .await;
        assert_eq!(manifests.len(), 1 + PLATFORMS.len());
    });
    env.run(&["plan", "--detailed-exitcode"]).code(0);
}

/// The local test bed's binaries (etcd, kube-apiserver, ..., kwok); missing ones fail the
/// test with how to build them.
fn kube_bin_dir() -> PathBuf {
    let dir = std::env::var("FEDSTACK_KUBE_BIN_DIR")
        .ok()
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(fedstack_provider_local::testenv_bin_dir)
        .expect("HOME is not set: cannot find the test bed (hint: set FEDSTACK_KUBE_BIN_DIR)");
    if let Err(missing) = fedstack_provider_local::check_binaries(&dir) {
        panic!(
            "no Kubernetes binaries: {} has no {missing} (hint: `make test` builds them first; or run scripts/kube-testenv build)",
            dir.display()
        );
    }
    fedstack_moto::record_peer_use("kube-apiserver");
    dir
}

/// A local cluster with a kwok node and a registry beside it: the shop is copied from
/// the build registry and deployed by the digest of the copy; a new image under the
/// same tag plans exactly the copy and the rollout, and the Deployment then runs it.
#[test]
fn a_local_cluster_deploys_the_promoted_image_by_digest() {
    use k8s_openapi::api::apps::v1::Deployment;
    let bin = kube_bin_dir();
    let rt = runtime();
    let build = start(&rt, None, true);
    let near = start(&rt, None, true);
    let build_raw = Raw::new(&build.base());
    let push = || {
        rt.block_on(push_index(
            &build_raw,
            "shop",
            "2.0.0",
            Flavor::Oci,
            PLATFORMS,
            1,
            64 * 1024,
        ))
    };
    let first = push();
    let stack = format!(
        "name: promote-local
clouds:
  local: {{ provider: local }}
clusters:
  local-p:
    cloud: local
    region: local
    kubernetes_version: \"1.36\"
    node_pools:
      default: {{ machine_type: local-standard, node_count: 1 }}
federation:
  host: local-p
  members: [local-p]
registries:
  build: {{ url: \"{}\", insecure_http: true }}
  near: {{ url: \"{}\", insecure_http: true }}
images:
  shop:
    from: build/shop:2.0.0
    to: [near]
workloads:
  shop:
    manifests: examples/promotion/shop/
    overrides:
      local-p:
        - {{ kind: Deployment, name: shop, op: replace, path: /spec/template/spec/containers/0/image, value: \"${{image.shop.near.ref}}\" }}
",
        build.host(),
        near.host()
    );
    let mut env = Env::with_stack(&stack);
    env.var("FEDSTACK_KUBE_BIN_DIR", &bin.display().to_string());
    let state = env.path().join("state");
    // Whatever happens, no control plane outlives the test.
    struct Stop(PathBuf);
    impl Drop for Stop {
        fn drop(&mut self) {
            let needle = format!("{}/", self.0.join(".local").display());
            let _ = Command::new("pkill")
                .args(["-KILL", "-f", &needle])
                .status();
        }
    }
    let _stop = Stop(state.canonicalize().unwrap_or(state.clone()));
    env.apply().clean();
    let kc = env.path().join("p.kubeconfig");
    env.run(&["output", "kubeconfig", "-o", &kc.display().to_string()])
        .success();
    let image_of = || {
        rt.block_on(async {
            let (c, _) = fedstack_kube::client_from_kubeconfig(&kc, Some("local-p"))
                .await
                .expect("client");
            let d = kube::Api::<Deployment>::namespaced(c, "shop")
                .get("shop")
                .await
                .expect("the shop's Deployment");
            d.spec
                .and_then(|s| s.template.spec)
                .and_then(|s| s.containers.first().and_then(|c| c.image.clone()))
                .unwrap_or_default()
        })
    };
    assert_eq!(image_of(), format!("{}/shop@{}", near.host(), first.digest));
    env.run(&["plan", "--detailed-exitcode"]).code(0);

    let second = push();
    let mut changes = plan_changes(&env);
    changes.retain(|(_, action)| action != "no_op");
    assert_eq!(
        changes,
        [
            ("image.shop.near".to_string(), "update".to_string()),
            ("workload.local-p.shop".to_string(), "update".to_string()),
        ]
    );
    env.apply().clean();
    assert_eq!(
        image_of(),
        format!("{}/shop@{}", near.host(), second.digest)
    );
    env.run(&["plan", "--detailed-exitcode"]).code(0);
    env.run(&["destroy", "--auto-approve"]).success().clean();
}

/// `sha256=HEX` of `timestamp.body` with `secret`, as a sender signs a webhook request.
fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    use hmac::Mac as _;
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(secret.as_bytes())
        .expect("any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// `serve --webhook`: a signed request promotes a new tag (the copy and the rollout that
/// deploys it by digest); a replay, a bad signature, an old request and an image the
/// stack does not declare are refused with clear answers and change nothing.
#[test]
fn the_webhook_promotes_a_tag_from_a_signed_request_and_refuses_the_rest() {
    use crate::common::Stream;
    const SECRET: &str = "webhook-secret-4b1d0e7c9a";
    let rt = runtime();
    let build = start(&rt, None, true);
    let near = start(&rt, None, true);
    let build_raw = Raw::new(&build.base());
    let near_raw = Raw::new(&near.base());
    let push = |tag: &str| {
        rt.block_on(push_index(
            &build_raw,
            "shop",
            tag,
            Flavor::Oci,
            PLATFORMS,
            1,
            64 * 1024,
        ))
    };
    let old = push("1.4.2");
    let new = push("1.4.3");
    let stack = format!(
        "name: hook
clouds:
  gcp: {{ provider: sim, emulates: gcp }}
clusters:
  gke-a: {{ cloud: gcp, region: us-central1, kubernetes_version: \"1.31\" }}
federation:
  host: gke-a
  members: [gke-a]
registries:
  build: {{ url: \"{}\", insecure_http: true }}
  near: {{ url: \"{}\", insecure_http: true }}
images:
  shop:
    from: build/shop:1.4.2
    to: [near]
workloads:
  shop:
    manifests: examples/promotion/shop/
    overrides:
      gke-a:
        - {{ kind: Deployment, name: shop, op: replace, path: /spec/template/spec/containers/0/image, value: \"${{image.shop.near.ref}}\" }}
",
        build.host(),
        near.host()
    );
    let mut env = Env::with_stack(&stack);
    env.var("FEDSTACK_SIM_LATENCY_SCALE", "0")
        .var("FEDSTACK_WEBHOOK_SECRET", SECRET);
    env.apply().clean();
    let ref_of = |digest: &str| format!("{}/shop@{digest}", near.host());
    assert_eq!(
        deployed(&env, "workload.gke-a.shop", "image.shop.near.ref"),
        ref_of(&old.digest)
    );

    let mut server = env.start(&["serve", "--webhook", "--listen", "127.0.0.1:0"]);
    let line = server.wait_line(Stream::Out, "listening on http://");
    let url = line
        .split("listening on ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("the webhook's URL")
        .to_string();
    let client = reqwest::Client::new();
    let post = |timestamp: String, signature: String, body: String| {
        let req = client
            .post(&url)
            .header("x-fedstack-timestamp", timestamp)
            .header("x-fedstack-signature", signature)
            .body(body);
        rt.block_on(async move {
            let r = req.send().await.expect("the webhook answers");
            let status = r.status().as_u16();
            let v: Value = r.json().await.expect("a JSON answer");
            (status, v)
        })
    };
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            .to_string()
    };
    let body = r#"{"id": "build-77", "image": "shop", "tag": "1.4.3"}"#.to_string();

    // A bad signature changes nothing.
    let (status, v) = post(
        now(),
        sign("not-the-secret-000", &now(), &body),
        body.clone(),
    );
    assert_eq!(status, 401, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("the signature does not match")),
        "{v}"
    );
    // A request signed long ago: refused.
    let (status, v) = post("1000".into(), sign(SECRET, "1000", &body), body.clone());
    assert_eq!(status, 401, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("more than the 300s allowed")),
        "{v}"
    );
    // An image the stack does not declare.
    let other = r#"{"id": "build-78", "image": "cart", "tag": "1"}"#.to_string();
    let t = now();
    let (status, v) = post(t.clone(), sign(SECRET, &t, &other), other);
    assert_eq!(status, 404, "{v}");
    assert_eq!(
        v["error"],
        "the stack declares no image `cart` (its images: shop)"
    );

    // The real one: the copy of 1.4.3 and the rollout that deploys it by digest.
    let t = now();
    let signature = sign(SECRET, &t, &body);
    let (status, v) = post(t.clone(), signature.clone(), body.clone());
    assert_eq!(status, 200, "{v}\n{}", {
        server.drain();
        server.stderr.clone()
    });
    assert_eq!(v["status"], "applied");
    let mut applied: Vec<&str> = v["applied"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    applied.sort_unstable();
    assert_eq!(applied, ["image.shop.near", "workload.gke-a.shop"]);
    rt.block_on(async {
        let (bytes, _) = near_raw
            .get_manifest("shop", "1.4.3")
            .await
            .expect("1.4.3 at the destination");
        use sha2::Digest as _;
        let digest = format!("sha256:{:x}", sha2::Sha256::digest(&bytes));
        assert_eq!(digest, new.digest);
        // The tag before stays: pods of the previous rollout may still pull it by digest.
        let (bytes, _) = near_raw
            .get_manifest("shop", "1.4.2")
            .await
            .expect("1.4.2 kept at the destination");
        let digest = format!("sha256:{:x}", sha2::Sha256::digest(&bytes));
        assert_eq!(digest, old.digest);
    });
    assert_eq!(
        deployed(&env, "workload.gke-a.shop", "image.shop.near.ref"),
        ref_of(&new.digest)
    );
    // The same request again is a replay.
    let (status, v) = post(t, signature, body);
    assert_eq!(status, 409, "{v}");
    assert_eq!(
        v["error"],
        "delivery build-77 was already acted on (a replay)"
    );
    server.drain();
    assert!(!server.stdout.contains(SECRET) && !server.stderr.contains(SECRET));
    let _ = server.child.kill();
    let _ = server.child.wait();
}
