//! `workloads:` lowered to one `workload.<cluster>.<workload>` per placed cluster.

mod common;

use common::{load, ok, one_error};
use fedstack_core::address::{Address, ResourceKind};
use fedstack_core::stack::{DesiredResource, DesiredStack, KUBERNETES_CLOUD};
use fedstack_core::value::Expr;
use serde_json::{json, Value};

/// Three sim clusters with labels, all federation members; workloads follow.
const FED: &str = "\
name: t
clouds:
  sim: { provider: sim }
clusters:
  gke-sydney:   { cloud: sim, region: australia-southeast1, kubernetes_version: \"1.31\", labels: { env: prod, geo: apac } }
  eks-saopaulo: { cloud: sim, region: sa-east-1, kubernetes_version: \"1.31\", labels: { env: prod } }
  aks-toronto:  { cloud: sim, region: canadacentral, kubernetes_version: \"1.31\", labels: { env: dev } }
federation:
  host: gke-sydney
  members: [gke-sydney, eks-saopaulo, aks-toronto]
workloads:
";

fn stack(workloads: &str) -> DesiredStack {
    match load_at("stacks/multicloud-sim.yaml", &format!("{FED}{workloads}")) {
        Ok(s) => s,
        Err(e) => panic!("expected the stack to load, got:\n{e}"),
    }
}

fn load_at(file: &str, text: &str) -> Result<DesiredStack, fedstack_core::stack::Diagnostics> {
    fedstack_core::stack::load_stack(file, text, common::CLOUDS)
}

fn workloads(s: &DesiredStack) -> Vec<&DesiredResource> {
    s.resources
        .iter()
        .filter(|r| r.address.kind == ResourceKind::Workload)
        .collect()
}

fn attrs_json(r: &DesiredResource) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in &r.attrs {
        let Expr::Literal(v) = v else {
            panic!("{}: `{k}` is not a literal: {v:?}", r.address)
        };
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

fn replicas(s: &DesiredStack) -> Vec<(String, Option<u64>)> {
    workloads(s)
        .iter()
        .map(|r| {
            let n = match r.attrs.get("replicas") {
                Some(Expr::Literal(v)) => v.as_u64(),
                _ => None,
            };
            (r.address.to_string(), n)
        })
        .collect()
}

#[test]
fn full_workload_lowers_per_cluster_with_attrs_and_dependencies() {
    let s = stack(
        "  guestbook:
    manifests: ../examples/guestbook/
    namespace: guests
    placement:
      clusters: [gke-sydney, eks-saopaulo]
    replicas:
      total: 9
      weights: { gke-sydney: 2, eks-saopaulo: 1 }
    overrides:
      eks-saopaulo:
        - { kind: Deployment, name: frontend, op: replace, path: /spec/template/spec/containers/0/image, value: \"gb:v2\" }
        - { kind: Service, name: frontend, op: remove, path: /spec/ports/1 }
        - { kind: Deployment, name: redis, op: move, from: /metadata/labels/a, path: /metadata/labels/b }
    wait: false
    timeout: 10m
    adopt: true
",
    );
    let w = workloads(&s);
    let names: Vec<String> = w.iter().map(|r| r.address.to_string()).collect();
    assert_eq!(
        names,
        [
            "workload.eks-saopaulo.guestbook",
            "workload.gke-sydney.guestbook"
        ]
    );
    assert_eq!(
        attrs_json(w[0]),
        json!({
            "adopt": true,
            "cluster": "eks-saopaulo",
            "manifests": "examples/guestbook",
            "namespace": "guests",
            "overrides": [
                { "kind": "Deployment", "name": "frontend", "op": "replace",
                  "path": "/spec/template/spec/containers/0/image", "value": "gb:v2" },
                { "kind": "Service", "name": "frontend", "op": "remove", "path": "/spec/ports/1" },
                { "kind": "Deployment", "name": "redis", "op": "move",
                  "from": "/metadata/labels/a", "path": "/metadata/labels/b" },
            ],
            "replicas": 3,
            "timeout": 600_000,
            "wait": false,
            "workload": "guestbook",
        })
    );
    assert_eq!(
        attrs_json(w[1]),
        json!({
            "adopt": true,
            "cluster": "gke-sydney",
            "manifests": "examples/guestbook",
            "namespace": "guests",
            "replicas": 6,
            "timeout": 600_000,
            "wait": false,
            "workload": "guestbook",
        })
    );
    for r in &w {
        let cluster = r.address.name.split('.').next().expect("cluster");
        assert_eq!(
            r.depends_on,
            [Address::new(ResourceKind::FederationMember, cluster)],
            "{}",
            r.address
        );
        // The federation of sim clusters stays on the sim cloud, and so do its workloads.
        assert_eq!(r.cloud.as_deref(), Some("sim"), "{}", r.address);
    }
    // The address parses back (dots in the name).
    let a: Address = "workload.eks-saopaulo.guestbook".parse().expect("address");
    assert_eq!(a, w[0].address);
}

#[test]
fn defaults_place_on_every_member() {
    let s = stack("  web: { manifests: web.yaml }\n");
    let w = workloads(&s);
    let names: Vec<String> = w.iter().map(|r| r.address.to_string()).collect();
    assert_eq!(
        names,
        [
            "workload.aks-toronto.web",
            "workload.eks-saopaulo.web",
            "workload.gke-sydney.web",
        ]
    );
    assert_eq!(
        attrs_json(w[0]),
        json!({
            "adopt": false,
            "cluster": "aks-toronto",
            "manifests": "stacks/web.yaml",
            "namespace": "web",
            "timeout": 300_000,
            "wait": true,
            "workload": "web",
        })
    );
    let deps: Vec<String> = w
        .iter()
        .flat_map(|r| r.depends_on.iter().map(ToString::to_string))
        .collect();
    assert_eq!(
        deps,
        [
            "federation_member.aks-toronto",
            "federation_member.eks-saopaulo",
            "federation_member.gke-sydney",
        ]
    );
}

#[test]
fn replicas_are_apportioned_by_largest_remainder() {
    let s = stack(
        "  a: { manifests: x/, placement: { clusters: [gke-sydney, eks-saopaulo] }, replicas: { total: 9, weights: { gke-sydney: 2, eks-saopaulo: 1 } } }\n  b: { manifests: x/, replicas: { total: 10 } }\n",
    );
    assert_eq!(
        replicas(&s),
        [
            ("workload.eks-saopaulo.a".to_string(), Some(3)),
            ("workload.gke-sydney.a".to_string(), Some(6)),
            // Equal weights: the odd one goes to the lexically smallest name.
            ("workload.aks-toronto.b".to_string(), Some(4)),
            ("workload.eks-saopaulo.b".to_string(), Some(3)),
            ("workload.gke-sydney.b".to_string(), Some(3)),
        ]
    );
}

#[test]
fn selector_places_on_matching_members() {
    let s = stack(
        "  prod: { manifests: x/, placement: { selector: { env: prod } } }\n  apac: { manifests: x/, placement: { selector: { env: prod, geo: apac } } }\n",
    );
    let names: Vec<String> = workloads(&s)
        .iter()
        .map(|r| r.address.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "workload.eks-saopaulo.prod",
            "workload.gke-sydney.prod",
            "workload.gke-sydney.apac",
        ]
    );
}

#[test]
fn unknown_cluster_with_did_you_mean() {
    let e = one_error(&format!(
        "{FED}  g: {{ manifests: x/, placement: {{ clusters: [gke-sidney] }} }}\n"
    ));
    assert_eq!(
        e,
        "t.yaml:12:47: unknown cluster `gke-sidney` in `placement` of workload `g` (hint: did you mean `gke-sydney`?)"
    );
}

#[test]
fn workloads_of_a_kubernetes_federation_go_to_the_kubernetes_cloud() {
    let text = "\
name: t
clouds:
  g: { provider: gcp, project: p }
  w: { provider: aws }
clusters:
  a: { cloud: g, region: us-central1, kubernetes_version: \"1.31\" }
  b: { cloud: w, region: us-east-1, kubernetes_version: \"1.31\" }
federation:
  host: a
  members: [a, b]
workloads:
  web: { manifests: /srv/web/ }
";
    let s = ok(text);
    let w = workloads(&s);
    assert_eq!(w.len(), 2);
    for r in w {
        assert_eq!(r.cloud.as_deref(), Some(KUBERNETES_CLOUD), "{}", r.address);
        assert_eq!(r.attrs.get("manifests"), Some(&Expr::lit("/srv/web")));
    }
}

#[test]
fn empty_workloads_need_nothing() {
    let s = ok("name: t\nclouds: {}\nworkloads: {}\n");
    assert!(s.resources.is_empty());
    assert!(load("name: t\nclouds: {}\nworkloads:\n").is_ok());
}
