//! The guestbook across three local clusters with kwok node pools, through the real
//! binary: weighted replicas and an override, `status`, a no-op re-plan, drift shown and
//! repaired, a ClusterRoleBinding and a CRD with a custom resource, a cluster removed
//! from the placement, a finalizer that never clears reported by name, a hung member
//! failing only its own resource, and undeploy leaving nothing behind.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::Client;
use serde_json::{json, Value};

use super::common::Env;
use super::{assert_no_changes, client, pid_of, plan_changes, rt, testenv, timed, Cleanup};

const CLUSTERS: [&str; 3] = ["local-a", "local-b", "local-c"];
const V6: &str = "us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v6";

/// The extras every cluster-scoped and custom kind needs: a CRD and one of its objects,
/// cluster RBAC, a ConfigMap a test holds with a finalizer, and a Secret.
const EXTRAS: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: gear}
spec: {teeth: 12}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: widget-reader}
rules:
  - apiGroups: [example.com]
    resources: [widgets]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: widget-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: widget-reader}
subjects:
  - {kind: ServiceAccount, name: default, namespace: extras}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: held}
data: {a: b}
---
apiVersion: v1
kind: Secret
metadata: {name: auth}
stringData: {password: correct-horse-battery-staple}
";

/// A Deployment no node can take (its nodeSelector matches none), with a short progress
/// deadline: its rollout fails for real.
const BROKEN: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck}
spec:
  replicas: 1
  progressDeadlineSeconds: 1
  selector: {matchLabels: {app: stuck}}
  template:
    metadata: {labels: {app: stuck}}
    spec:
      nodeSelector: {fedstack.dev/no-such-pool: x}
      containers: [{name: c, image: registry.invalid/stuck:1}]
";

fn stack(placement: &[&str], weights: &[(&str, u32)], total: u32, override_c: bool) -> String {
    let clusters: String = CLUSTERS
        .iter()
        .map(|c| {
            format!(
                "  {c}:\n    cloud: local\n    region: local\n    kubernetes_version: \"1.36\"\n    node_pools:\n      default: {{ machine_type: local-standard, node_count: 2 }}\n"
            )
        })
        .collect();
    let weights: Vec<String> = weights.iter().map(|(c, w)| format!("{c}: {w}")).collect();
    let overrides = if override_c {
        format!(
            "    overrides:\n      local-c:\n        - {{ kind: Deployment, name: frontend, op: replace, path: /spec/template/spec/containers/0/image, value: \"{V6}\" }}\n"
        )
    } else {
        String::new()
    };
    format!(
        "name: guestbook-local
clouds:
  local: {{ provider: local }}
clusters:
{clusters}federation:
  host: local-a
  members: [local-a, local-b, local-c]
workloads:
  guestbook:
    manifests: examples/guestbook/
    namespace: guestbook
    placement: {{ clusters: [{}] }}
    replicas: {{ total: {total}, weights: {{ {} }} }}
{overrides}  extras:
    manifests: extras/
    placement: {{ clusters: [local-b] }}
    timeout: 10s
",
        placement.join(", "),
        weights.join(", ")
    )
}

fn status(env: &Env) -> Vec<Value> {
    let r = env.run(&["--json", "status"]);
    serde_json::from_str::<Value>(&r.stdout)
        .unwrap_or_else(|e| panic!("status --json: {e}\n{}{}", r.stdout, r.stderr))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn deployment(c: &Client, name: &str) -> Option<Deployment> {
    Api::<Deployment>::namespaced(c.clone(), "guestbook")
        .get_opt(name)
        .await
        .expect("get deployment")
}

fn widgets(c: &Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("example.com", "v1", "Widget");
    Api::namespaced_with(
        c.clone(),
        "extras",
        &ApiResource::from_gvk_with_plural(&gvk, "widgets"),
    )
}

async fn clients(kc: &Path) -> BTreeMap<&'static str, Client> {
    let mut out = BTreeMap::new();
    for c in CLUSTERS {
        out.insert(c, client(kc, c).await);
    }
    out
}

#[test]
fn the_guestbook_across_three_local_clusters() {
    let bin = testenv();
    // The reference stack of the same (stacks/multicluster-local.yaml) plans what this
    // test applies: 3 clusters, pools, host, members, and the guestbook on each.
    let reference = Env::with_stack(&super::common::reference_stack("multicluster-local.yaml"));
    let r = reference.run(&["plan"]).success();
    assert!(
        r.stdout
            .contains("Plan: 13 to add, 0 to change, 0 to destroy."),
        "{}",
        r.stdout
    );
    let all = [("local-a", 2), ("local-b", 1), ("local-c", 1)];
    let mut env = Env::with_stack(&stack(&CLUSTERS, &all, 4, true));
    env.var("FEDSTACK_KUBE_BIN_DIR", &bin.display().to_string());
    std::fs::create_dir(env.path().join("extras")).expect("extras dir");
    std::fs::write(env.path().join("extras/extras.yaml"), EXTRAS).expect("extras");
    let state = env.path().join("state");
    let _cleanup = Cleanup(env.path().canonicalize().expect("temp dir").join("state"));
    let kc = env.path().join("g.kubeconfig");
    let rt = rt();

    // The clusters and the federation first, then the workloads alone: the time of the
    // deploy itself.
    let (r, took) = timed(
        &env,
        &[
            "apply",
            "--auto-approve",
            "--target",
            "federation_member.*",
            "--target",
            "node_pool.*",
        ],
    );
    r.success().clean();
    eprintln!(
        "guestbook: 3 clusters with 2 kwok nodes each, federated {:.1}s",
        took.as_secs_f64()
    );
    let (r, took) = timed(&env, &["apply", "--auto-approve"]);
    let r = r.success().clean();
    assert!(r.stdout.contains("4 added"), "{}", r.stdout);
    eprintln!(
        "guestbook: deploy to 3 clusters (+ extras on one), rollouts complete {:.1}s",
        took.as_secs_f64()
    );

    // status: every rollout complete, replicas as weighted (3 Deployments each).
    let rows = status(&env);
    assert_eq!(rows.len(), 4, "{rows:?}");
    let want = BTreeMap::from([
        (("guestbook", "local-a"), 6),
        (("guestbook", "local-b"), 3),
        (("guestbook", "local-c"), 3),
        (("extras", "local-b"), 0),
    ]);
    for row in &rows {
        let key = (
            row["workload"].as_str().unwrap_or(""),
            row["cluster"].as_str().unwrap_or(""),
        );
        assert_eq!(row["rollout"], "complete", "{row}");
        assert_eq!(row["error"], Value::Null, "{row}");
        assert_eq!(row["desired"].as_i64(), want.get(&key).copied(), "{row}");
        assert_eq!(row["ready"], row["desired"], "{row}");
    }
    let table = env.run(&["status", "guestbook"]).success();
    assert!(
        table
            .stdout
            .starts_with("WORKLOAD   CLUSTER  READY  ROLLOUT"),
        "{}",
        table.stdout
    );
    assert_eq!(table.stdout.lines().count(), 4, "{}", table.stdout);
    assert_no_changes(&env);

    // A rollout that fails (no node fits, progress deadline exceeded) fails its own
    // resource with the reason; the rest of the stack stays as it is.
    std::fs::create_dir(env.path().join("broken")).expect("broken dir");
    std::fs::write(env.path().join("broken/stuck.yaml"), BROKEN).expect("broken");
    let good = env.read_stack();
    env.write_stack(&format!(
        "{good}  broken:\n    manifests: broken/\n    placement: {{ clusters: [local-a] }}\n"
    ));
    let r = env.run(&["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("workload.local-a.broken: Deployment broken/stuck in cluster local-a failed to roll out: ProgressDeadlineExceeded"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("1 failed"), "{}", r.stdout);
    let rows = status(&env);
    let broken = rows
        .iter()
        .find(|r| r["workload"] == "broken")
        .expect("a row for broken");
    assert!(
        broken["rollout"]
            .as_str()
            .is_some_and(|s| s.starts_with("failed: Deployment broken/stuck")),
        "{broken}"
    );
    assert_ne!(
        env.run(&["status"]).code,
        0,
        "status is not 0 with a failed rollout"
    );
    env.write_stack(&good);
    env.run(&["apply", "--auto-approve"]).success().clean();
    assert_no_changes(&env);

    env.run(&["output", "kubeconfig", "-o", &kc.display().to_string()])
        .success();
    let uids = rt.block_on(async {
        let cs = clients(&kc).await;
        let mut uids = BTreeMap::new();
        for (name, c) in &cs {
            let f = deployment(c, "frontend").await.expect("frontend");
            let spec = f.spec.clone().expect("spec");
            let want = if *name == "local-a" { 2 } else { 1 };
            assert_eq!(spec.replicas, Some(want), "{name}");
            let image = spec.template.spec.expect("pod spec").containers[0]
                .image
                .clone();
            let v5 = "us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5";
            let want = if *name == "local-c" { V6 } else { v5 };
            assert_eq!(image.as_deref(), Some(want), "{name}");
            uids.insert(*name, f.metadata.uid.clone().expect("uid"));
        }
        // The CRD's object and the cluster RBAC are on local-b only.
        let b = &cs["local-b"];
        assert!(widgets(b).get_opt("gear").await.expect("widget").is_some());
        let crb = Api::<ClusterRoleBinding>::all(b.clone());
        assert!(crb.get_opt("widget-reader").await.expect("crb").is_some());
        let a = &cs["local-a"];
        assert!(Api::<ClusterRoleBinding>::all(a.clone())
            .get_opt("widget-reader")
            .await
            .expect("crb")
            .is_none());
        uids
    });

    // The Secret's value is nowhere at rest or in a plan.
    let plan = env.run(&["--json", "plan"]).success();
    for text in [plan.stdout.clone(), read_dir_text(&state)] {
        assert!(!text.contains("correct-horse"), "secret value leaked");
        assert!(
            !text.contains("Y29ycmVjdC1ob3JzZ"),
            "secret value (base64) leaked"
        );
    }

    // Drift: someone scales local-b's frontend by hand. The plan shows it per object;
    // apply puts it back.
    rt.block_on(async {
        let b = client(&kc, "local-b").await;
        Api::<Deployment>::namespaced(b, "guestbook")
            .patch(
                "frontend",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": 3}})),
            )
            .await
            .expect("scale by hand");
    });
    let changes = plan_changes(&env);
    assert_eq!(
        changes.keys().collect::<Vec<_>>(),
        ["workload.local-b.guestbook"],
        "{changes:?}"
    );
    let text = env.run(&["plan"]).success();
    assert!(
        text.stdout
            .contains("~ Deployment guestbook/frontend: spec.replicas 3 -> 1"),
        "{}",
        text.stdout
    );
    env.run(&["apply", "--auto-approve"]).success().clean();
    assert_no_changes(&env);
    rt.block_on(async {
        let b = client(&kc, "local-b").await;
        let f = deployment(&b, "frontend").await.expect("frontend");
        assert_eq!(f.spec.and_then(|s| s.replicas), Some(1));
    });

    // local-c leaves the placement: its guestbook goes, the others stay as they are.
    let two = [("local-a", 2), ("local-b", 1)];
    env.write_stack(&stack(&["local-a", "local-b"], &two, 3, false));
    let changes = plan_changes(&env);
    assert_eq!(
        changes,
        BTreeMap::from([(
            "workload.local-c.guestbook".to_string(),
            ("delete".to_string(), Vec::new())
        )]),
    );
    env.run(&["apply", "--auto-approve"]).success().clean();
    assert_no_changes(&env);
    rt.block_on(async {
        let cs = clients(&kc).await;
        let c = &cs["local-c"];
        assert!(deployment(c, "frontend").await.is_none());
        let ns = Api::<Namespace>::all(c.clone())
            .get_opt("guestbook")
            .await
            .expect("namespace");
        assert!(ns.is_none(), "namespace guestbook left on local-c");
        for name in ["local-a", "local-b"] {
            let f = deployment(&cs[name], "frontend").await.expect("frontend");
            assert_eq!(f.metadata.uid.as_ref(), Some(&uids[name]), "{name}");
        }
    });

    // A finalizer nobody removes: the destroy of extras stops after its timeout (10s)
    // and names the object and the finalizer; the rest is deleted.
    rt.block_on(async {
        let b = client(&kc, "local-b").await;
        Api::<ConfigMap>::namespaced(b, "extras")
            .patch(
                "held",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": ["example.com/hold"]}})),
            )
            .await
            .expect("hold");
    });
    let r = env.run(&[
        "destroy",
        "--auto-approve",
        "--target",
        "workload.local-b.extras",
    ]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let all_out = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all_out.contains("ConfigMap extras/held is still there after 10s: finalizer example.com/hold has not been removed"),
        "{all_out}"
    );
    rt.block_on(async {
        let b = client(&kc, "local-b").await;
        Api::<ConfigMap>::namespaced(b, "extras")
            .patch(
                "held",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await
            .expect("release");
    });
    env.run(&[
        "destroy",
        "--auto-approve",
        "--target",
        "workload.local-b.extras",
    ])
    .success()
    .clean();
    rt.block_on(async {
        let b = client(&kc, "local-b").await;
        assert!(Api::<ClusterRoleBinding>::all(b.clone())
            .get_opt("widget-reader")
            .await
            .expect("crb")
            .is_none());
        let crds = Api::<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>::all(b.clone());
        assert!(crds
            .get_opt("widgets.example.com")
            .await
            .expect("crd")
            .is_none());
    });
    // Put extras back for the rest.
    env.run(&["apply", "--auto-approve"]).success().clean();

    // A member whose API server hangs (SIGSTOP): a change to every cluster fails there
    // only, and the next apply, once it answers again, finishes the job.
    let apiserver = pid_of(&state, "local-b", "kube-apiserver");
    signal("STOP", apiserver);
    let even = [("local-a", 1), ("local-b", 1)];
    env.write_stack(&stack(&["local-a", "local-b"], &even, 6, false));
    let r = env.run(&["apply", "--auto-approve"]);
    signal("CONT", apiserver);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(out.contains("workload.local-b.guestbook"), "{out}");
    assert!(!out.contains("workload.local-a.guestbook: failed"), "{out}");
    rt.block_on(async {
        let a = client(&kc, "local-a").await;
        let f = deployment(&a, "frontend").await.expect("frontend");
        assert_eq!(
            f.spec.and_then(|s| s.replicas),
            Some(3),
            "local-a was applied"
        );
    });
    env.run(&["apply", "--auto-approve"]).success().clean();
    assert_no_changes(&env);

    // undeploy: the workloads only, and nothing of them left.
    let (r, took) = timed(
        &env,
        &["destroy", "--auto-approve", "--target", "workload.*"],
    );
    r.success().clean();
    eprintln!(
        "guestbook: undeploy from 2 clusters {:.1}s",
        took.as_secs_f64()
    );
    rt.block_on(async {
        let cs = clients(&kc).await;
        for (name, c) in &cs {
            for ns in ["guestbook", "extras"] {
                let left = Api::<Namespace>::all(c.clone())
                    .get_opt(ns)
                    .await
                    .expect("namespace");
                assert!(left.is_none(), "namespace {ns} left on {name}");
            }
            let records = Api::<ConfigMap>::namespaced(c.clone(), "kube-system")
                .list(
                    &kube::api::ListParams::default()
                        .labels("app.kubernetes.io/managed-by=fedstack"),
                )
                .await
                .expect("records");
            assert!(records.items.is_empty(), "inventory records left on {name}");
        }
    });
    let left: Vec<String> = env
        .state_addresses()
        .into_iter()
        .filter(|a| a.starts_with("workload."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    env.run(&["destroy", "--auto-approve"]).success().clean();
}

fn signal(sig: &str, pid: u32) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill -{sig} {pid}");
}

/// Every file under `dir`, as text (the state and the local clusters' records).
fn read_dir_text(dir: &Path) -> String {
    let mut out = String::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            // The clusters' own data (etcd) holds the Secret, as any cluster does.
            if p.file_name().is_some_and(|n| n == ".local") {
                continue;
            }
            out.push_str(&read_dir_text(&p));
        } else if let Ok(t) = std::fs::read_to_string(&p) {
            out.push_str(&t);
        }
    }
    out
}
