//! Workloads on a local cluster: its node pool is real Nodes (played by the cluster's
//! kwok), kube-scheduler places a Deployment's pods on them and it becomes Available;
//! scaling the pool to 0 through the stack deletes the nodes, and a new pod stays
//! Pending, unschedulable; destroy leaves no process behind.

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::Client;
use serde_json::json;

use super::common::Env;
use super::{
    alive, assert_no_changes, client, recorded_pids, rt, running_with, testenv, timed, Cleanup,
};

const CLUSTER: &str = "local-w";
const POOL_LABEL: &str = "fedstack.dev/node-pool";

fn stack(node_count: u32) -> String {
    format!(
        "name: workloads
clouds:
  local: {{ provider: local }}
clusters:
  {CLUSTER}:
    cloud: local
    region: local
    kubernetes_version: \"1.36\"
    node_pools:
      web: {{ machine_type: local-standard, node_count: {node_count}, labels: {{ tier: web }} }}
"
    )
}

/// Polls `check` until it returns `Ok`: the condition itself ends the wait, with no
/// time limit (a wall-clock bound would be luck on a busy machine). Each new state it
/// is in is printed, so a wait that never ends says what it saw last.
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let mut seen: Option<String> = None;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) => {
                if seen.as_ref() != Some(&last) {
                    eprintln!("waiting for {what}: {last}");
                    seen = Some(last);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn pool_nodes(c: &Client) -> Vec<Node> {
    let mut nodes = Api::<Node>::all(c.clone())
        .list(&ListParams::default().labels(&format!("{POOL_LABEL}=web")))
        .await
        .expect("list nodes")
        .items;
    nodes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    nodes
}

fn name_of<K: kube::Resource>(o: &K) -> String {
    o.meta().name.clone().unwrap_or_default()
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name, "namespace": "default" },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": {
                    "nodeSelector": { POOL_LABEL: "web" },
                    "containers": [{
                        "name": "web",
                        // kwok runs nothing: the image is never pulled.
                        "image": "registry.invalid/fedstack/web:1",
                        "resources": { "requests": { "cpu": "100m", "memory": "64Mi" } }
                    }]
                }
            }
        }
    }))
    .expect("deployment")
}

fn available(d: &Deployment) -> Result<(), String> {
    let s = d.status.clone().unwrap_or_default();
    let cond = s
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Available")
        .map(|c| c.status);
    if s.ready_replicas == Some(2)
        && s.available_replicas == Some(2)
        && cond.as_deref() == Some("True")
    {
        Ok(())
    } else {
        Err(format!(
            "ready {:?}, available {:?}, Available={cond:?}",
            s.ready_replicas, s.available_replicas
        ))
    }
}

async fn kubeconfig_client(env: &Env, kc: &Path) -> Client {
    env.run(&["output", "kubeconfig", "-o", &kc.display().to_string()])
        .success();
    client(kc, CLUSTER).await
}

#[test]
fn deployments_run_on_node_pools_and_scaling_to_zero_leaves_pods_pending() {
    let bin = testenv();
    let mut env = Env::with_stack(&stack(2));
    env.var("FEDSTACK_KUBE_BIN_DIR", &bin.display().to_string());
    let state = env.path().join("state");
    let _cleanup = Cleanup(env.path().canonicalize().expect("temp dir").join("state"));
    let kc = env.path().join("w.kubeconfig");
    let rt = rt();

    let (r, took) = timed(&env, &["apply", "--auto-approve"]);
    r.success().clean();
    eprintln!(
        "workloads: apply (cluster + 2 nodes) {:.1}s",
        took.as_secs_f64()
    );
    assert_no_changes(&env);

    let node_names = rt.block_on(async {
        let c = kubeconfig_client(&env, &kc).await;
        let nodes = pool_nodes(&c).await;
        let names: Vec<String> = nodes.iter().map(name_of).collect();
        assert_eq!(names, ["local-w-web-0", "local-w-web-1"]);
        for n in &nodes {
            let labels = n.metadata.labels.clone().unwrap_or_default();
            assert_eq!(labels.get("tier").map(String::as_str), Some("web"));
            let status = n.status.clone().unwrap_or_default();
            let cap = status.allocatable.unwrap_or_default();
            assert_eq!(cap.get("pods").map(|q| q.0.as_str()), Some("110"));
            // apply waited for kwok to report the node Ready.
            assert!(
                status
                    .conditions
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True"),
                "{} is not Ready",
                name_of(n)
            );
        }

        // A Deployment of 2 replicas becomes Available on the pool's nodes.
        let t = Instant::now();
        let deployments: Api<Deployment> = Api::namespaced(c.clone(), "default");
        deployments
            .create(&PostParams::default(), &deployment("web", 2))
            .await
            .expect("create deployment");
        wait_for("Deployment web Available with 2 ready replicas", || {
            let deployments = deployments.clone();
            async move {
                let d = deployments.get("web").await.map_err(|e| e.to_string())?;
                available(&d)
            }
        })
        .await;
        eprintln!(
            "workloads: Deployment Available after {:.1}s",
            t.elapsed().as_secs_f64()
        );
        let pods = Api::<Pod>::namespaced(c.clone(), "default")
            .list(&ListParams::default().labels("app=web"))
            .await
            .expect("pods")
            .items;
        assert_eq!(pods.len(), 2, "pods of web");
        for p in &pods {
            let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
            assert!(
                node.as_ref().is_some_and(|n| names.contains(n)),
                "{} is on {node:?}",
                name_of(p)
            );
            let status = p.status.clone().unwrap_or_default();
            assert_eq!(status.phase.as_deref(), Some("Running"), "{}", name_of(p));
            assert!(status.pod_ip.is_some(), "{} has no pod IP", name_of(p));
        }
        names
    });

    // Scale the pool to 0 through the stack: the nodes go.
    env.write_stack(&stack(0));
    let (r, took) = timed(&env, &["apply", "--auto-approve"]);
    r.success().clean();
    eprintln!("workloads: scale to 0 {:.1}s", took.as_secs_f64());
    assert_no_changes(&env);
    rt.block_on(async {
        let c = client(&kc, CLUSTER).await;
        assert!(
            pool_nodes(&c).await.is_empty(),
            "nodes left after scaling to 0"
        );
        for n in &node_names {
            assert!(
                Api::<Node>::all(c.clone())
                    .get_opt(n)
                    .await
                    .expect("get node")
                    .is_none(),
                "{n} still exists"
            );
        }
        // A new pod finds no node: the scheduler says so, and it stays Pending.
        let t = Instant::now();
        let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": { "name": "after", "namespace": "default" },
            "spec": {
                "nodeSelector": { POOL_LABEL: "web" },
                "containers": [{ "name": "web", "image": "registry.invalid/fedstack/web:1" }]
            }
        }))
        .expect("pod");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
        wait_for("pod `after` unschedulable", || {
            let pods = pods.clone();
            async move {
                let p = pods.get("after").await.map_err(|e| e.to_string())?;
                let status = p.status.clone().unwrap_or_default();
                let scheduled = status
                    .conditions
                    .unwrap_or_default()
                    .into_iter()
                    .find(|c| c.type_ == "PodScheduled");
                match scheduled {
                    Some(c)
                        if c.status == "False" && c.reason.as_deref() == Some("Unschedulable") =>
                    {
                        assert_eq!(status.phase.as_deref(), Some("Pending"));
                        assert_eq!(p.spec.and_then(|s| s.node_name), None);
                        Ok(())
                    }
                    other => Err(format!("PodScheduled: {other:?}")),
                }
            }
        })
        .await;
        eprintln!(
            "workloads: pod reported unschedulable after {:.1}s",
            t.elapsed().as_secs_f64()
        );
    });

    // destroy: no process, no file left.
    let pids = recorded_pids(&state);
    assert_eq!(pids.len(), 5, "five processes per cluster");
    let (r, took) = timed(&env, &["destroy", "--auto-approve"]);
    r.success().clean();
    eprintln!("workloads: destroy {:.1}s", took.as_secs_f64());
    for pid in pids {
        assert!(!alive(pid), "process {pid} survived destroy");
    }
    let local = state.canonicalize().expect("state").join(".local");
    assert!(running_with(&format!("{}/", local.display())).is_empty());
    assert!(env.state_addresses().is_empty());
}
