//! Workloads against a real kube-apiserver (the test bed of `scripts/kube-testenv build`,
//! started as a local control plane through the local provider): apply, no-op re-apply,
//! drift and repair, ownership conflicts and adoption, prune, bounded delete, rollouts.
//!
//! A missing test bed fails, saying how to build it; nothing skips.

use std::path::PathBuf;
use std::time::Duration;

use fedstack_core::address::{Address, ResourceKind};
use fedstack_core::value::Values;
use fedstack_kube::workloads::{
    apply, delete_inventory, load_manifests, manifests_from_str, prune, read_drift, wait_rollout,
    ApplyOptions, Inventory, InventoryEntry, ManifestSet, ObjectRef, Rollout, WorkloadError,
};
use fedstack_kube::Cluster;
use fedstack_provider::{NoProgress, Provider, ProviderContext, ResourceSpec};
use fedstack_provider_local::LocalProvider;
use kube::api::{Api, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams};
use kube::discovery;
use serde_json::json;

const NS: &str = "guestbook";

/// The test bed's binaries; a missing one fails the test with the way to get it.
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
            "no Kubernetes binaries for the workload tests: {} has no {missing} (hint: run scripts/kube-testenv build; `make test` does it first)",
            dir.display()
        );
    }
    record_peer_use();
    dir
}

/// The line `make test` counts tests on real peers by (as `fedstack_moto::record_peer_use`).
fn record_peer_use() {
    use std::io::Write as _;
    let Some(path) = std::env::var_os("FEDSTACK_PEER_LOG") else {
        return;
    };
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let test = std::thread::current().name().unwrap_or("?").to_string();
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(format!("kube-apiserver {exe} {test}\n").as_bytes());
    }
}

/// A local control plane for one test, stopped and removed on drop.
struct Bed {
    provider: Option<LocalProvider>,
    spec: ResourceSpec,
    cluster: Cluster,
    access: fedstack_provider::ClusterAccess,
    dir: Option<tempfile::TempDir>,
}

impl Bed {
    async fn start(name: &str) -> Bed {
        let bin = testenv();
        // The garbage collector removes the `foregroundDeletion` finalizer of foreground
        // deletions; the namespace controller empties deleted namespaces.
        std::env::set_var(
            fedstack_provider_local::ENV_CONTROLLERS,
            format!(
                "{},garbage-collector-controller",
                fedstack_provider_local::DEFAULT_CONTROLLERS
            ),
        );
        std::env::set_var(fedstack_provider_local::ENV_BIN_DIR, &bin);
        let dir = tempfile::tempdir().expect("temp dir");
        let ctx = ProviderContext {
            stack: "workloads".into(),
            state_dir: dir.path().to_path_buf(),
            read_only: false,
        };
        let provider = LocalProvider::new("local", &Values::new(), &ctx).expect("provider");
        let mut attrs = Values::new();
        attrs.insert(
            "kubernetes_version".into(),
            json!(fedstack_provider_local::TESTENV_KUBERNETES),
        );
        attrs.insert("region".into(), json!("local"));
        let spec = ResourceSpec {
            address: Address::new(ResourceKind::Cluster, name),
            cloud_name: name.into(),
            attrs,
        };
        provider
            .create(&spec, &NoProgress)
            .await
            .expect("start a local control plane");
        let access = provider
            .cluster_access(&spec)
            .await
            .expect("cluster access")
            .expect("the cluster exists");
        let client = fedstack_kube::client_for(name, &access)
            .await
            .expect("client");
        Bed {
            provider: Some(provider),
            spec,
            cluster: Cluster {
                name: name.into(),
                client,
            },
            access,
            dir: Some(dir),
        }
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        let (Some(provider), spec) = (self.provider.take(), self.spec.clone()) else {
            return;
        };
        let dir = self.dir.take();
        // Stop the processes even when the test failed (they are detached).
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = rt.block_on(provider.delete(&spec, &NoProgress));
            }
            drop(dir);
        })
        .join();
    }
}

const CRD: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer}
";

const APP: &str = "\
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1}
spec: {size: 3}
---
apiVersion: v1
kind: Namespace
metadata: {name: guestbook}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: guestbook-reader}
rules:
  - apiGroups: [\"\"]
    resources: [configmaps]
    verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: guestbook-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: guestbook-reader}
subjects:
  - {kind: ServiceAccount, name: app, namespace: guestbook}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: app}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {color: blue, size: \"3\"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: hunter2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: app
      containers:
        - name: web
          image: nginx:1.27
";

const FOREIGN: &str = "\
---
apiVersion: v1
kind: ConfigMap
metadata: {name: foreign}
data: {owner: fedstack}
";

const HELD: &str = "\
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: held
  finalizers: [example.com/hold]
data: {a: b}
";

fn set(text: &str) -> ManifestSet {
    manifests_from_str("app.yaml", &format!("{CRD}---\n{text}"), NS).expect("valid manifests")
}

async fn api_for(cluster: &Cluster, o: &ObjectRef) -> Option<Api<DynamicObject>> {
    let gvk = GroupVersionKind::gvk(&o.group, &o.version, &o.kind);
    let (ar, caps) = discovery::pinned_kind(&cluster.client, &gvk).await.ok()?;
    Some(match (&o.namespace, caps.scope) {
        (Some(ns), discovery::Scope::Namespaced) => {
            Api::namespaced_with(cluster.client.clone(), ns, &ar)
        }
        _ => Api::all_with(cluster.client.clone(), &ar),
    })
}

async fn live(cluster: &Cluster, o: &ObjectRef) -> Option<DynamicObject> {
    api_for(cluster, o)
        .await?
        .get_opt(&o.name)
        .await
        .expect("get")
}

/// What fedstack's own writes change on each object: the time of its managed-fields
/// entry (the API server moves it only when fedstack's apply changed something) and the
/// generation. Not the resourceVersion: controllers write status (a Deployment's) at
/// their own pace, and a test must not race them.
async fn versions(cluster: &Cluster, inventory: &Inventory) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in inventory {
        let o = live(cluster, &e.object).await.expect("object exists");
        let ours = o
            .metadata
            .managed_fields
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.manager.as_deref() == Some("fedstack"))
            .map(|m| format!("{:?}", m.time))
            .collect::<Vec<_>>()
            .join(",");
        out.push((
            e.object.to_string(),
            format!("{ours} generation {:?}", o.metadata.generation),
        ));
    }
    out
}

fn config_map(name: &str) -> ObjectRef {
    ObjectRef {
        group: String::new(),
        version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some(NS.into()),
        name: name.into(),
    }
}

fn config_maps(cluster: &Cluster) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("", "v1", "ConfigMap");
    Api::namespaced_with(
        cluster.client.clone(),
        NS,
        &kube::api::ApiResource::from_gvk_with_plural(&gvk, "configmaps"),
    )
}

fn entry<'a>(inventory: &'a Inventory, kind: &str, name: &str) -> &'a InventoryEntry {
    inventory
        .iter()
        .find(|e| e.object.kind == kind && e.object.name == name)
        .unwrap_or_else(|| panic!("{kind} {name} is in the inventory: {inventory:?}"))
}

#[tokio::test(flavor = "current_thread")]
async fn workloads_on_a_real_apiserver() {
    let bed = Bed::start("wl-a").await;
    let c = &bed.cluster;
    let opts = ApplyOptions::default();

    // Apply a set read from a directory: CRD + custom resource + Namespace + RBAC +
    // ServiceAccount + ConfigMap + Secret + Deployment.
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("00-crd.yaml"), CRD).expect("write");
    std::fs::write(dir.path().join("10-app.yml"), APP).expect("write");
    let v1 = load_manifests(dir.path(), NS).expect("valid manifests");
    assert_eq!(v1.objects.len(), 9);
    let inventory = apply(c, &v1, &opts, &NoProgress).await.expect("apply");
    let kinds: Vec<&str> = inventory.iter().map(|e| e.object.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "CustomResourceDefinition",
            "Namespace",
            "ClusterRole",
            "ClusterRoleBinding",
            "ServiceAccount",
            "ConfigMap",
            "Secret",
            "Deployment",
            "Widget"
        ]
    );
    assert!(inventory.iter().all(|e| !e.uid.is_empty()), "{inventory:?}");
    assert_eq!(
        entry(&inventory, "Widget", "w1")
            .object
            .namespace
            .as_deref(),
        Some(NS)
    );
    let secret = live(c, &entry(&inventory, "Secret", "creds").object)
        .await
        .expect("secret");
    assert_eq!(secret.data["data"]["password"], "aHVudGVyMg==");

    // Re-apply is a no-op: same objects, no resourceVersion changes.
    let before = versions(c, &inventory).await;
    let again = apply(c, &v1, &opts, &NoProgress).await.expect("re-apply");
    assert_eq!(again, inventory);
    assert_eq!(versions(c, &inventory).await, before);
    assert_eq!(read_drift(c, &v1).await.expect("drift"), []);

    // Edits behind fedstack's back: drift shows the manifest's fields only (not the
    // replicas someone scaled, which the manifest does not set), never a Secret's value.
    let edit = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..PatchParams::default()
    };
    config_maps(c)
        .patch(
            "settings",
            &edit,
            &Patch::Merge(json!({"data": {"color": "red"}})),
        )
        .await
        .expect("edit the ConfigMap");
    let secrets = api_for(c, &entry(&inventory, "Secret", "creds").object)
        .await
        .expect("secrets api");
    secrets
        .patch(
            "creds",
            &edit,
            &Patch::Merge(json!({"data": {"password": "c3dvcmRmaXNo"}})),
        )
        .await
        .expect("edit the Secret");
    let deployments = api_for(c, &entry(&inventory, "Deployment", "web").object)
        .await
        .expect("deployments api");
    deployments
        .patch(
            "web",
            &edit,
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("scale the Deployment");
    let drift = read_drift(c, &v1).await.expect("drift");
    let shown: Vec<String> = drift.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "ConfigMap guestbook/settings: data.color: live \"red\", manifest \"blue\"",
            "Secret guestbook/creds: data.password: live \"(sensitive)\", manifest \"(sensitive)\"",
        ]
    );
    assert!(!format!("{drift:?}").contains("c3dvcmRmaXNo"));
    // Re-apply repairs it.
    apply(c, &v1, &opts, &NoProgress).await.expect("repair");
    assert_eq!(read_drift(c, &v1).await.expect("drift"), []);
    let settings = live(c, &config_map("settings")).await.expect("settings");
    assert_eq!(settings.data["data"]["color"], "blue");

    // Another applier that takes a field: a conflict naming it and the field.
    let other = PatchParams::apply("other-tool").force();
    let theirs = json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "settings", "namespace": NS},
                        "data": {"color": "green"}});
    config_maps(c)
        .patch("settings", &other, &Patch::Apply(&theirs))
        .await
        .expect("another applier");
    match apply(c, &v1, &opts, &NoProgress).await {
        Err(WorkloadError::FieldConflict {
            object,
            managers,
            fields,
        }) => {
            assert!(
                object.ends_with("10-app.yml:29:1: ConfigMap guestbook/settings"),
                "{object}"
            );
            assert_eq!(managers, ["other-tool"]);
            assert_eq!(fields, [".data.color"]);
        }
        other => panic!("expected a field conflict, got {other:?}"),
    }
    // The other tool lets go of the field; fedstack's apply sets it again.
    let nothing = json!({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": "settings", "namespace": NS}});
    config_maps(c)
        .patch(
            "settings",
            &PatchParams::apply("other-tool"),
            &Patch::Apply(&nothing),
        )
        .await
        .expect("the other applier lets go");
    apply(c, &v1, &opts, &NoProgress)
        .await
        .expect("apply after the conflict");
    assert_eq!(read_drift(c, &v1).await.expect("drift"), []);

    // Someone else's object: a conflict naming its manager; adopt takes it.
    let foreign: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "foreign", "namespace": NS}, "data": {"owner": "someone"}}))
    .expect("object");
    config_maps(c)
        .create(
            &PostParams {
                field_manager: Some("someone-else".into()),
                ..PostParams::default()
            },
            &foreign,
        )
        .await
        .expect("someone else's ConfigMap");
    let v2 = set(&format!("{APP}{FOREIGN}"));
    let err = apply(c, &v2, &opts, &NoProgress)
        .await
        .expect_err("someone else's object");
    assert!(matches!(err, WorkloadError::NotOurs { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("ConfigMap guestbook/foreign already exists and was not made by fedstack (field managers: someone-else)"),
        "{msg}"
    );
    let adopt = ApplyOptions {
        adopt: true,
        ..ApplyOptions::default()
    };
    let inventory2 = apply(c, &v2, &adopt, &NoProgress).await.expect("adopt");
    let foreign_live = live(c, &config_map("foreign")).await.expect("foreign");
    assert_eq!(foreign_live.data["data"]["owner"], "fedstack");
    assert_eq!(
        foreign_live.metadata.uid.as_deref(),
        Some(entry(&inventory2, "ConfigMap", "foreign").uid.as_str()),
        "adopted, not recreated"
    );
    // Adopted: a plain apply now works.
    apply(c, &v2, &opts, &NoProgress)
        .await
        .expect("apply adopted");

    // Prune: dropping it from the manifests deletes it.
    let inventory3 = apply(c, &v1, &opts, &NoProgress).await.expect("apply v1");
    let pruned = prune(
        c,
        &inventory2,
        &inventory3,
        Duration::from_secs(60),
        &NoProgress,
    )
    .await
    .expect("prune");
    let pruned: Vec<String> = pruned.iter().map(ToString::to_string).collect();
    assert_eq!(pruned, ["ConfigMap guestbook/foreign"]);
    assert!(live(c, &config_map("foreign")).await.is_none());
    assert!(live(c, &config_map("settings")).await.is_some());

    // A finalizer that never clears: delete names the object and the finalizer.
    let v4 = set(&format!("{APP}{HELD}"));
    let inventory4 = apply(c, &v4, &opts, &NoProgress).await.expect("apply held");
    let held = entry(&inventory4, "ConfigMap", "held").clone();
    let err = delete_inventory(
        c,
        std::slice::from_ref(&held),
        Duration::from_secs(2),
        &NoProgress,
    )
    .await
    .expect_err("held by its finalizer");
    assert_eq!(
        err.to_string(),
        "ConfigMap guestbook/held is still there after 2s: finalizer example.com/hold has not been removed"
    );
    assert!(matches!(err, WorkloadError::Stuck { .. }));

    // Rollouts (5 replicas: the scale above stays, the manifest sets none): followed
    // until complete when the cluster has nodes; without nodes (the
    // test bed has none) the Deployment keeps progressing and the bound says so.
    let web = entry(&inventory4, "Deployment", "web").object.clone();
    let nodes = api_for(
        c,
        &ObjectRef {
            group: String::new(),
            version: "v1".into(),
            kind: "Node".into(),
            namespace: None,
            name: String::new(),
        },
    )
    .await
    .expect("nodes api")
    .list(&ListParams::default())
    .await
    .expect("nodes")
    .items
    .len();
    let mut seen: Vec<Rollout> = Vec::new();
    let rolled = wait_rollout(c, &web, |r| seen.push(r.clone()), Duration::from_secs(2)).await;
    if nodes > 0 {
        assert!(rolled.is_ok(), "{rolled:?}");
    } else {
        let err = rolled.expect_err("no nodes: no rollout");
        assert!(
            err.to_string().starts_with(
                "Deployment guestbook/web in cluster wl-a has not rolled out after 2s: "
            ),
            "{err}"
        );
        assert!(
            matches!(seen.first(), Some(Rollout::Progressing { desired: 5, .. })),
            "{seen:?}"
        );
    }

    // Once the finalizer is removed, deleting everything leaves nothing.
    config_maps(c)
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("remove the finalizer");
    delete_inventory(c, &inventory4, Duration::from_secs(120), &NoProgress)
        .await
        .expect("delete");
    for e in &inventory4 {
        assert!(live(c, &e.object).await.is_none(), "{} is gone", e.object);
    }
    // Deleting again is fine (already gone).
    delete_inventory(c, &inventory4, Duration::from_secs(10), &NoProgress)
        .await
        .expect("delete again");

    // An unreachable cluster is an error of its own kind.
    let mut access = bed.access.clone();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    access.server = format!("https://127.0.0.1:{port}");
    let down = Cluster {
        name: "wl-down".into(),
        client: fedstack_kube::client_for("wl-down", &access)
            .await
            .expect("client"),
    };
    let err = apply(&down, &v1, &opts, &NoProgress)
        .await
        .expect_err("unreachable");
    assert!(err.is_unreachable(), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("cluster wl-down is unreachable: "),
        "{err}"
    );
    let err = delete_inventory(&down, &inventory4, Duration::from_secs(2), &NoProgress)
        .await
        .expect_err("unreachable");
    assert!(err.is_unreachable(), "{err:?}");
}
