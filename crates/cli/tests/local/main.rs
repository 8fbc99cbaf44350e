//! `provider: local` against real control planes (etcd, kube-apiserver,
//! kube-controller-manager from `scripts/kube-testenv build`), driven through the real
//! `fedstack` binary in a temp dir and checked with kube-rs.
//!
//! When the binaries are absent these tests fail with one line saying how to build them
//! (`make test` builds them before it runs the suite); they never skip.

#![allow(dead_code)]

#[path = "../cli/common.rs"]
mod common;
mod gke;
mod guestbook;
mod three_clouds;
mod workloads;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use common::{Env, Run};
use fedstack_provider::{ClusterAccess, ClusterCredentials};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use kube::Client;
use serde_json::{json, Value};

const NS: &str = "kube-federation-system";
const HOST: &str = "local-a";

/// The test bed's binaries. Missing binaries fail the test, saying how to get them.
fn testenv() -> PathBuf {
    let dir = std::env::var("FEDSTACK_KUBE_BIN_DIR")
        .ok()
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(fedstack_provider_local::testenv_bin_dir)
        .unwrap_or_else(|| {
            panic!("HOME is not set: cannot find the test bed (hint: set FEDSTACK_KUBE_BIN_DIR)")
        });
    if let Err(missing) = fedstack_provider_local::check_binaries(&dir) {
        panic!(
            "no Kubernetes binaries for the local control-plane tests: {} has no {missing} (hint: `make test` builds them first; or run scripts/kube-testenv build)",
            dir.display()
        );
    }
    fedstack_moto::record_peer_use("kube-apiserver");
    dir
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// `stacks/multicluster-local.yaml` as a federation only: without its node pools and its
/// workloads (the guestbook test covers those), so these tests see only the joins.
fn stack_text() -> String {
    let full = common::reference_stack("multicluster-local.yaml");
    let text = full.replace(
        "    node_pools:\n      default: { machine_type: local-standard, node_count: 3 }\n",
        "",
    );
    let start = text
        .find("\n# The guestbook on every member")
        .expect("the stack's workloads");
    let end = text.find("\noutputs:").expect("the stack's outputs");
    let text = format!("{}{}", &text[..start], &text[end..]);
    assert!(
        !text.contains("node_pools") && !text.contains("workloads:"),
        "{text}"
    );
    text
}

fn timed(env: &Env, args: &[&str]) -> (Run, Duration) {
    let t = Instant::now();
    let r = env.run(args);
    (r, t.elapsed())
}

/// `plan --json`: address -> (action, names of the changed attributes).
fn plan_changes(env: &Env) -> BTreeMap<String, (String, Vec<String>)> {
    let r = env.run(&["--json", "plan"]).success();
    let v: Value = serde_json::from_str(&r.stdout).expect("plan --json");
    v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] != "no_op")
        .map(|c| {
            let diffs = c["diffs"]
                .as_array()
                .map(|d| {
                    d.iter()
                        .map(|x| x["name"].as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default();
            (
                c["address"].as_str().unwrap_or("").to_string(),
                (c["action"].as_str().unwrap_or("").to_string(), diffs),
            )
        })
        .collect()
}

fn assert_no_changes(env: &Env) {
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "expected no changes:\n{}{}", r.stdout, r.stderr);
}

async fn client(kc: &Path, context: &str) -> Client {
    fedstack_kube::client_from_kubeconfig(kc, Some(context))
        .await
        .expect("client")
        .0
}

fn kubefed_clusters(c: &Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("core.kubefed.io", "v1beta1", "KubeFedCluster");
    Api::namespaced_with(
        c.clone(),
        NS,
        &ApiResource::from_gvk_with_plural(&gvk, "kubefedclusters"),
    )
}

fn kubefed_configs(c: &Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("core.kubefed.io", "v1beta1", "KubeFedConfig");
    Api::namespaced_with(
        c.clone(),
        NS,
        &ApiResource::from_gvk_with_plural(&gvk, "kubefedconfigs"),
    )
}

async fn kfc_names(host: &Client) -> Vec<String> {
    let mut names: Vec<String> = kubefed_clusters(host)
        .list(&ListParams::default())
        .await
        .expect("list kubefedclusters")
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    names.sort();
    names
}

fn token_of(s: &Secret) -> Option<String> {
    s.data
        .as_ref()
        .and_then(|d| d.get("token"))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
}

async fn check_joined(kc: &Path, members: &[&str]) -> BTreeMap<String, String> {
    check_joined_to(kc, HOST, members).await
}

/// Checks every object of the join of each of `members` into `host_name`, and that the
/// token the host holds works against the member with what the role grants. Returns
/// each member's ServiceAccount uid.
async fn check_joined_to(kc: &Path, host_name: &str, members: &[&str]) -> BTreeMap<String, String> {
    let host = client(kc, host_name).await;
    let mut want: Vec<String> = members.iter().map(|m| m.to_string()).collect();
    want.sort();
    assert_eq!(kfc_names(&host).await, want, "KubeFedClusters on the host");
    let cfg = kubefed_configs(&host)
        .get("kubefed")
        .await
        .expect("KubeFedConfig");
    assert_eq!(cfg.data["spec"]["scope"], "Cluster");
    let mut uids = BTreeMap::new();
    for m in members {
        let sa_name = format!("{m}-{host_name}");
        let (_, target) = fedstack_kube::load_kubeconfig(kc, Some(m)).expect("context");
        let ca_pem = target.ca_pem.clone().expect("ca in kubeconfig");
        // Host side: KubeFedCluster and the Secret it points to.
        let kfc = kubefed_clusters(&host)
            .get(m)
            .await
            .expect("KubeFedCluster");
        assert_eq!(kfc.data["spec"]["apiEndpoint"], json!(target.server), "{m}");
        assert_eq!(
            kfc.data["spec"]["caBundle"],
            json!(B64.encode(&ca_pem)),
            "{m}"
        );
        let host_secret_name = format!("{sa_name}-credentials");
        assert_eq!(
            kfc.data["spec"]["secretRef"]["name"],
            json!(host_secret_name)
        );
        let host_secret = Api::<Secret>::namespaced(host.clone(), NS)
            .get(&host_secret_name)
            .await
            .expect("host secret");
        let token = token_of(&host_secret).expect("host secret has a token");
        // Member side.
        let member = client(kc, m).await;
        let sa = Api::<ServiceAccount>::namespaced(member.clone(), NS)
            .get(&sa_name)
            .await
            .expect("ServiceAccount");
        assert_eq!(sa.automount_service_account_token, Some(false));
        let labels = sa.metadata.labels.clone().unwrap_or_default();
        assert_eq!(
            labels
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some("fedstack")
        );
        assert_eq!(
            labels
                .get("fedstack.io/federation-host")
                .map(String::as_str),
            Some(host_name)
        );
        assert_eq!(
            labels
                .get("fedstack.io/federation-member")
                .map(String::as_str),
            Some(*m)
        );
        uids.insert(m.to_string(), sa.metadata.uid.clone().unwrap_or_default());
        let secret = Api::<Secret>::namespaced(member.clone(), NS)
            .get(&sa_name)
            .await
            .expect("token Secret");
        assert_eq!(
            secret.type_.as_deref(),
            Some("kubernetes.io/service-account-token")
        );
        assert_eq!(
            secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name")),
            Some(&sa_name)
        );
        assert_eq!(
            token_of(&secret).as_ref(),
            Some(&token),
            "host holds the member's token"
        );
        let role_name = format!("kubefed-controller-manager:{sa_name}");
        let role = Api::<ClusterRole>::all(member.clone())
            .get(&role_name)
            .await
            .expect("ClusterRole");
        assert_eq!(
            serde_json::to_value(&role.rules).expect("json"),
            json!([
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["get"]},
            ])
        );
        let binding = Api::<ClusterRoleBinding>::all(member.clone())
            .get(&role_name)
            .await
            .expect("ClusterRoleBinding");
        assert_eq!(binding.role_ref.name, role_name);
        assert_eq!(
            serde_json::to_value(&binding.subjects).expect("json"),
            json!([{"kind": "ServiceAccount", "name": sa_name, "namespace": NS}])
        );
        // The token authenticates as the ServiceAccount and may do what the role grants.
        let as_sa = fedstack_kube::client_for(
            m,
            &ClusterAccess {
                server: target.server.clone(),
                ca_pem: Some(ca_pem),
                credentials: ClusterCredentials::BearerToken(token),
            },
        )
        .await
        .expect("token client");
        let review = Api::<SelfSubjectReview>::all(as_sa.clone())
            .create(&PostParams::default(), &SelfSubjectReview::default())
            .await
            .expect("SelfSubjectReview with the host's token");
        assert_eq!(
            review
                .status
                .and_then(|s| s.user_info)
                .and_then(|u| u.username),
            Some(format!("system:serviceaccount:{NS}:{sa_name}"))
        );
        let access = Api::<SelfSubjectAccessReview>::all(as_sa.clone())
            .create(
                &PostParams::default(),
                &SelfSubjectAccessReview {
                    spec: SelfSubjectAccessReviewSpec {
                        resource_attributes: Some(ResourceAttributes {
                            verb: Some("*".into()),
                            group: Some("*".into()),
                            resource: Some("*".into()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
            .await
            .expect("SelfSubjectAccessReview");
        assert!(
            access.status.is_some_and(|s| s.allowed),
            "the role grants everything"
        );
        Api::<Namespace>::all(as_sa)
            .list(&ListParams::default())
            .await
            .expect("the token may list namespaces");
    }
    uids
}

async fn names_with_label<K>(api: Api<K>) -> Vec<String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let lp = ListParams::default().labels("app.kubernetes.io/managed-by=fedstack");
    let mut names: Vec<String> = api
        .list(&lp)
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|o| o.meta().name.clone())
        .collect();
    names.sort();
    names
}

async fn check_exact(kc: &Path, members: &[&str]) {
    check_exact_to(kc, HOST, members).await
}

/// Exactly the objects of the joins of `members` (and nothing else of fedstack's) exist.
async fn check_exact_to(kc: &Path, host_name: &str, members: &[&str]) {
    let host = client(kc, host_name).await;
    let mut host_secrets: Vec<String> = members
        .iter()
        .map(|m| format!("{m}-{host_name}-credentials"))
        .collect();
    if members.contains(&host_name) {
        host_secrets.push(format!("{host_name}-{host_name}"));
    }
    host_secrets.sort();
    assert_eq!(
        names_with_label(Api::<Secret>::namespaced(host.clone(), NS)).await,
        host_secrets
    );
    for m in members {
        let c = client(kc, m).await;
        let sa = format!("{m}-{host_name}");
        assert_eq!(
            names_with_label(Api::<ServiceAccount>::namespaced(c.clone(), NS)).await,
            [sa.as_str()]
        );
        if *m != host_name {
            assert_eq!(
                names_with_label(Api::<Secret>::namespaced(c.clone(), NS)).await,
                [sa.as_str()]
            );
        }
        let role = format!("kubefed-controller-manager:{sa}");
        assert_eq!(
            names_with_label(Api::<ClusterRole>::all(c.clone())).await,
            [role.as_str()]
        );
        assert_eq!(
            names_with_label(Api::<ClusterRoleBinding>::all(c)).await,
            [role]
        );
    }
}

fn recorded_pids(state: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir(state.join(".local")) else {
        return pids;
    };
    for e in entries.flatten() {
        let text = std::fs::read_to_string(e.path().join("pids.json")).unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        for p in v.as_array().into_iter().flatten() {
            if let Some(pid) = p["pid"].as_u64() {
                pids.push(pid as u32);
            }
        }
    }
    pids
}

fn pid_of(state: &Path, cluster: &str, component: &str) -> u32 {
    let text = std::fs::read_to_string(state.join(".local").join(cluster).join("pids.json"))
        .expect("pids.json");
    let v: Value = serde_json::from_str(&text).expect("json");
    v.as_array()
        .expect("array")
        .iter()
        .find(|p| p["name"] == component)
        .and_then(|p| p["pid"].as_u64())
        .expect("recorded") as u32
}

/// Running (not zombie) processes whose command line mentions `needle`.
fn running_with(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmd).contains(needle) {
            continue;
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next().map(str::to_string));
        if state.as_deref().is_some_and(|s| s != "Z" && s != "X") {
            found.push(pid);
        }
    }
    found
}

fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .is_some_and(|s| s != "Z" && s != "X")
}

/// Stops whatever a failed test left running (best effort), so no control plane outlives it.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let needle = format!("{}/", self.0.join(".local").display());
        for pid in running_with(&needle) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

#[test]
fn multicluster_local_end_to_end() {
    testenv();
    let env = Env::with_stack(&stack_text());
    let state = env.path().join("state");
    let _cleanup = Cleanup(state.canonicalize().unwrap_or(state.clone()));
    let kc = env.path().join("fed.kubeconfig");
    let rt = rt();

    // make create-cluster, then make configure-cluster.
    let (r, create) = timed(
        &env,
        &[
            "apply",
            "--auto-approve",
            "--target",
            "cluster.*",
            "--target",
            "node_pool.*",
        ],
    );
    r.success().clean();
    let (r, configure) = timed(&env, &["apply", "--auto-approve"]);
    let r = r.success().clean();
    assert!(r.stdout.contains("4 added"), "{}", r.stdout);
    eprintln!(
        "local: create-cluster (3 control planes) {:.1}s, configure-cluster (host + 3 joins) {:.1}s",
        create.as_secs_f64(),
        configure.as_secs_f64()
    );
    assert_no_changes(&env);

    // The kubeconfig: one context per cluster, the host current, private.
    env.run(&["output", "kubeconfig", "-o", "fed.kubeconfig"])
        .success();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kc)
            .expect("kubeconfig")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&kc).expect("kubeconfig");
    let parsed = kube::config::Kubeconfig::from_yaml(&text).expect("a kubeconfig");
    let contexts: Vec<&str> = parsed.contexts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(contexts, ["local-a", "local-b", "local-c"]);
    assert_eq!(parsed.current_context.as_deref(), Some(HOST));
    let one = env.run(&["output", "kubeconfig", "local-b"]).success();
    assert!(one.stdout.contains("name: \"local-b\"") && !one.stdout.contains("\"local-c\""));

    let uids = rt.block_on(check_joined(&kc, &["local-a", "local-b", "local-c"]));
    rt.block_on(check_exact(&kc, &["local-a", "local-b", "local-c"]));

    // Drift and half-done joins: a host Secret deleted, a KubeFedCluster edited, a member
    // token rotated, a stale token on the host, a binding gone.
    rt.block_on(async {
        let host = client(&kc, HOST).await;
        let secrets = Api::<Secret>::namespaced(host.clone(), NS);
        secrets
            .delete("local-c-local-a-credentials", &DeleteParams::default())
            .await
            .expect("delete host secret");
        secrets
            .patch(
                "local-a-local-a-credentials",
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"token": B64.encode("stale")}})),
            )
            .await
            .expect("stale token");
        kubefed_clusters(&host)
            .patch(
                "local-b",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"apiEndpoint": "https://127.0.0.1:1"}})),
            )
            .await
            .expect("edit KubeFedCluster");
        Api::<ClusterRoleBinding>::all(host.clone())
            .delete(
                "kubefed-controller-manager:local-a-local-a",
                &DeleteParams::default(),
            )
            .await
            .expect("delete binding");
        let b = client(&kc, "local-b").await;
        Api::<Secret>::namespaced(b, NS)
            .delete("local-b-local-a", &DeleteParams::default())
            .await
            .expect("delete member token");
    });
    let before = env
        .run(&["state", "show", "federation_member.local-b"])
        .success();
    let changes = plan_changes(&env);
    let updates: Vec<(&str, &str)> = changes
        .iter()
        .map(|(a, (action, _))| (a.as_str(), action.as_str()))
        .collect();
    assert_eq!(
        updates,
        [
            ("federation_member.local-a", "update"),
            ("federation_member.local-b", "update"),
            ("federation_member.local-c", "update"),
        ],
        "{changes:?}"
    );
    assert_eq!(
        changes["federation_member.local-b"].1,
        ["api_endpoint", "credentials"]
    );
    assert_eq!(changes["federation_member.local-c"].1, ["credentials"]);
    let text_plan = env.run(&["plan"]).success();
    assert!(
        text_plan
            .stdout
            .contains("local-c-local-a-credentials in local-a is missing"),
        "{}",
        text_plan.stdout
    );
    env.run(&["apply", "--auto-approve"]).success().clean();
    assert_no_changes(&env);
    let repaired = rt.block_on(check_joined(&kc, &["local-a", "local-b", "local-c"]));
    assert_eq!(repaired, uids, "repairs keep the ServiceAccounts");
    let after = env
        .run(&["state", "show", "federation_member.local-b"])
        .success();
    let fingerprint = |r: &Run| {
        let v: Value = serde_json::from_str(&r.stdout).expect("state show");
        v["sensitive"]["token"].as_str().unwrap_or("").to_string()
    };
    assert_ne!(
        fingerprint(&before),
        fingerprint(&after),
        "the rotated token is recorded"
    );
    assert!(fingerprint(&after).starts_with("sha256:"));
    for r in [&before, &after] {
        assert!(!r.stdout.contains("eyJ"), "no token in the state");
    }

    // A control plane killed behind fedstack's back is drift; apply starts it again and
    // every object survives (same etcd).
    let apiserver = pid_of(&state, "local-b", "kube-apiserver");
    std::process::Command::new("kill")
        .args(["-9", &apiserver.to_string()])
        .status()
        .expect("kill");
    let changes = plan_changes(&env);
    assert_eq!(
        changes["cluster.local-b"],
        ("update".to_string(), vec!["running".to_string()])
    );
    assert_eq!(changes["federation_member.local-b"].1, ["credentials"]);
    assert_eq!(changes.len(), 2, "{changes:?}");
    let (r, restart) = timed(&env, &["apply", "--auto-approve"]);
    r.success().clean();
    eprintln!(
        "local: restart of a killed kube-apiserver {:.1}s",
        restart.as_secs_f64()
    );
    assert_no_changes(&env);
    assert_ne!(pid_of(&state, "local-b", "kube-apiserver"), apiserver);
    let survived = rt.block_on(check_joined(&kc, &["local-a", "local-b", "local-c"]));
    assert_eq!(survived, uids, "objects survive the restart");

    // A node pool on a member is a node of that cluster; removed from the stack, it goes
    // (workloads.rs checks pools in depth).
    env.write_stack(&stack_text().replace(
        "  local-b:\n    cloud: local\n    region: local\n    kubernetes_version: \"1.36\"\n",
        "  local-b:\n    cloud: local\n    region: local\n    kubernetes_version: \"1.36\"\n    node_pools:\n      p: { machine_type: none, node_count: 1 }\n",
    ));
    env.run(&["apply", "--auto-approve"]).success().clean();
    assert_no_changes(&env);
    let nodes = || {
        rt.block_on(async {
            let c = client(&kc, "local-b").await;
            Api::<k8s_openapi::api::core::v1::Node>::all(c)
                .list(&ListParams::default())
                .await
                .expect("nodes")
                .items
                .into_iter()
                .filter_map(|n| n.metadata.name)
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(nodes(), ["local-b-p-0"]);
    env.write_stack(&stack_text());
    env.run(&["apply", "--auto-approve"]).success().clean();
    assert!(nodes().is_empty());
    assert_no_changes(&env);

    // A member removed from the stack is unjoined, and only it.
    env.write_stack(&stack_text().replace(
        "members: [local-a, local-b, local-c]",
        "members: [local-a, local-b]",
    ));
    let changes = plan_changes(&env);
    assert_eq!(
        changes.keys().collect::<Vec<_>>(),
        ["federation_member.local-c"],
        "{changes:?}"
    );
    assert_eq!(changes["federation_member.local-c"].0, "delete");
    env.run(&["apply", "--auto-approve"]).success().clean();
    let kept = rt.block_on(check_joined(&kc, &["local-a", "local-b"]));
    rt.block_on(check_exact(&kc, &["local-a", "local-b"]));
    assert_eq!(kept["local-a"], uids["local-a"]);
    assert_eq!(kept["local-b"], uids["local-b"]);
    // Back in the stack at once: the join waits for its old namespace to finish terminating.
    env.write_stack(&stack_text());
    env.run(&["apply", "--auto-approve"]).success().clean();
    rt.block_on(check_joined(&kc, &["local-a", "local-b", "local-c"]));
    env.write_stack(&stack_text().replace(
        "members: [local-a, local-b, local-c]",
        "members: [local-a, local-b]",
    ));
    env.run(&["apply", "--auto-approve"]).success().clean();
    rt.block_on(async {
        let c = client(&kc, "local-c").await;
        let sa = Api::<ServiceAccount>::namespaced(c.clone(), NS)
            .get_opt("local-c-local-a")
            .await
            .expect("get");
        assert!(sa.is_none(), "local-c's ServiceAccount is gone");
        assert!(Api::<ClusterRole>::all(c.clone())
            .get_opt("kubefed-controller-manager:local-c-local-a")
            .await
            .expect("get")
            .is_none());
        // Its namespace goes too (the namespace controller finishes the deletion).
        // Waits on the event itself, with no time limit.
        while Api::<Namespace>::all(c.clone())
            .get_opt(NS)
            .await
            .expect("get")
            .is_some()
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let host = client(&kc, HOST).await;
        assert!(Api::<Secret>::namespaced(host.clone(), NS)
            .get_opt("local-c-local-a-credentials")
            .await
            .expect("get")
            .is_none());
        // The host's own namespace stays (local-a is a member and the host).
        assert!(Api::<Namespace>::all(host)
            .get_opt(NS)
            .await
            .expect("get")
            .is_some());
    });
    assert_no_changes(&env);

    // The imperative twins, on a cluster the stack no longer joins.
    let kcs = kc.display().to_string();
    let join = |verb: &str, member: &str, host: &str| {
        env.run(&[
            verb,
            member,
            "--host-kubeconfig",
            &kcs,
            "--host-context",
            host,
            "--member-kubeconfig",
            &kcs,
            "--member-context",
            member,
        ])
    };
    let r = join("join", "local-c", HOST).success();
    assert!(
        r.stdout
            .starts_with("Joined local-c to kubefed host local-a"),
        "{}",
        r.stdout
    );
    rt.block_on(check_joined(&kc, &["local-a", "local-b", "local-c"]));
    join("join", "local-c", HOST).success();
    let r = join("join", "local-b", "local-c").code(1).clean();
    assert!(
        r.stderr
            .contains("local-b is already joined to kubefed host local-a"),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1
    );
    join("unjoin", "local-c", HOST).success();
    rt.block_on(async {
        let host = client(&kc, HOST).await;
        assert_eq!(kfc_names(&host).await, ["local-a", "local-b"]);
    });

    // make destroy-cluster: no process, no file left.
    let pids = recorded_pids(&state);
    assert_eq!(pids.len(), 15, "five processes per cluster");
    let (r, destroy) = timed(&env, &["destroy", "--auto-approve"]);
    r.success().clean();
    eprintln!("local: destroy {:.1}s", destroy.as_secs_f64());
    for pid in pids {
        assert!(!alive(pid), "process {pid} survived destroy");
    }
    let local = state.canonicalize().expect("state").join(".local");
    assert!(running_with(&format!("{}/", local.display())).is_empty());
    let left: Vec<_> = std::fs::read_dir(&local)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "files left behind: {left:?}");
    assert!(env.state_addresses().is_empty());
}

#[test]
fn create_cluster_targets_work_without_node_pools() {
    // `make create-cluster` targets clusters and node pools; this stack has no pools.
    let env = Env::with_stack(&stack_text());
    let r = env
        .run(&[
            "--json",
            "plan",
            "--target",
            "cluster.*",
            "--target",
            "node_pool.*",
        ])
        .success();
    let v: Value = serde_json::from_str(&r.stdout).expect("plan --json");
    let addresses: Vec<&str> = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["address"].as_str())
        .collect();
    assert_eq!(
        addresses,
        ["cluster.local-a", "cluster.local-b", "cluster.local-c"]
    );
    // A wildcard alone that matches nothing is still an error.
    let r = env
        .run(&["plan", "--target", "node_pool.*"])
        .code(1)
        .clean();
    assert!(
        r.stderr
            .contains("--target node_pool.* matches no resource"),
        "{}",
        r.stderr
    );
}

#[test]
fn missing_binaries_are_one_clear_error() {
    let mut env = Env::with_stack(&stack_text());
    env.var("FEDSTACK_KUBE_BIN_DIR", "/nonexistent/kube-bin");
    let r = env
        .run(&["apply", "--auto-approve", "--target", "cluster.local-a"])
        .code(1)
        .clean();
    assert!(
        r.stdout.contains(
            "local Kubernetes binaries not found: /nonexistent/kube-bin has no executable etcd (FEDSTACK_KUBE_BIN_DIR) (hint: run scripts/kube-testenv build, or set bin_dir / FEDSTACK_KUBE_BIN_DIR)"
        ) || r.stderr.contains("scripts/kube-testenv build"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    // Planning needs no binaries.
    env.run(&["plan"]).success();
}

#[test]
fn kubernetes_version_must_match_the_binaries() {
    testenv();
    let env = Env::with_stack(
        "name: t\nclouds:\n  l: { provider: local }\nclusters:\n  a:\n    cloud: l\n    region: local\n    kubernetes_version: \"1.31\"\n",
    );
    let r = env.run(&["apply", "--auto-approve"]).code(1).clean();
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("cluster `a` asks for Kubernetes 1.31, but the local binaries in"),
        "{all}"
    );
    assert!(!env.path().join("state/.local/a/cluster.json").exists());
}

#[test]
fn killed_mid_create_is_adopted_without_duplicates() {
    testenv();
    let env = Env::with_stack(
        "name: solo\nclouds:\n  l: { provider: local }\nclusters:\n  solo:\n    cloud: l\n    region: local\n    kubernetes_version: \"1.36\"\n",
    );
    let state = env.path().join("state");
    let _cleanup = Cleanup(state.clone());
    let pids = state.join(".local/solo/pids.json");
    let mut child = env.spawn(&["apply", "--auto-approve"]);
    // Kill fedstack once etcd runs and before the control plane is ready.
    loop {
        let text = std::fs::read_to_string(&pids).unwrap_or_default();
        if text.contains("\"etcd\"") && !text.contains("kube-controller-manager") {
            break;
        }
        assert!(
            child.try_wait().expect("wait").is_none(),
            "apply ended early"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("kill -9 fedstack");
    child.wait().expect("reap");
    assert_eq!(env.state_pending(), ["cluster.solo"]);
    let r = env.run(&["plan"]).success();
    assert!(
        r.stdout
            .contains("found in the cloud from an interrupted run"),
        "{}",
        r.stdout
    );
    env.run(&["apply", "--auto-approve"]).success().clean();
    assert_no_changes(&env);
    let dir = state.canonicalize().expect("state").join(".local/solo");
    let running = running_with(&format!("{}/", dir.display()));
    assert_eq!(
        running.len(),
        5,
        "one etcd, apiserver, controller-manager, scheduler and kwok"
    );

    // The same cluster hosts a Namespaced federation and joins it.
    env.write_stack(&format!(
        "{}federation:\n  host: solo\n  members: [solo]\n  scope: Namespaced\n",
        env.read_stack()
    ));
    env.run(&["apply", "--auto-approve"]).success().clean();
    assert_no_changes(&env);
    env.run(&["output", "kubeconfig", "-o", "solo.kubeconfig"])
        .success();
    let kc = env.path().join("solo.kubeconfig");
    rt().block_on(async {
        let c = client(&kc, "solo").await;
        let cfg = kubefed_configs(&c).get("kubefed").await.expect("config");
        assert_eq!(cfg.data["spec"]["scope"], "Namespaced");
        let role = "kubefed-controller-manager:solo-solo";
        let health = format!("kubefed-controller-manager:{NS}:healthcheck-solo-solo");
        use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
        Api::<Role>::namespaced(c.clone(), NS)
            .get(role)
            .await
            .expect("Role");
        Api::<RoleBinding>::namespaced(c.clone(), NS)
            .get(role)
            .await
            .expect("RoleBinding");
        Api::<ClusterRole>::all(c.clone())
            .get(&health)
            .await
            .expect("health ClusterRole");
        Api::<ClusterRoleBinding>::all(c.clone())
            .get(&health)
            .await
            .expect("health ClusterRoleBinding");
        assert!(Api::<ClusterRole>::all(c.clone())
            .get_opt(role)
            .await
            .expect("get")
            .is_none());
        let secret = Api::<Secret>::namespaced(c.clone(), NS)
            .get("solo-solo-credentials")
            .await
            .expect("host secret");
        let (_, target) = fedstack_kube::load_kubeconfig(&kc, Some("solo")).expect("context");
        let as_sa = fedstack_kube::client_for(
            "solo",
            &ClusterAccess {
                server: target.server,
                ca_pem: target.ca_pem,
                credentials: ClusterCredentials::BearerToken(token_of(&secret).expect("token")),
            },
        )
        .await
        .expect("client");
        Api::<Secret>::namespaced(as_sa.clone(), NS)
            .list(&ListParams::default())
            .await
            .expect("the namespace is the SA's");
        assert!(
            Api::<Namespace>::all(as_sa.clone())
                .list(&ListParams::default())
                .await
                .is_err(),
            "nothing cluster-wide but the health check"
        );
        assert_eq!(
            fedstack_kube::get_text(&as_sa, "/healthz")
                .await
                .expect("healthz"),
            "ok"
        );
        Api::<k8s_openapi::api::core::v1::Node>::all(as_sa)
            .list(&ListParams::default())
            .await
            .expect("list nodes");
    });
    env.run(&["destroy", "--auto-approve"]).success();
    assert!(running_with(&format!("{}/", dir.display())).is_empty());
    assert!(!dir.exists());
}
