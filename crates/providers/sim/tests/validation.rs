//! Validation through the provider: every rule answers `Invalid` with one line, and
//! nothing is created.

mod common;

use common::*;
use fedstack_provider::{ErrorClass, NoProgress, Provider, ResourceSpec};
use fedstack_provider_sim::SimProvider;
use serde_json::{json, Value};

fn with(mut s: ResourceSpec, key: &str, v: Value) -> ResourceSpec {
    s.attrs.insert(key.to_string(), v);
    s
}

async fn invalid(p: &SimProvider, s: &ResourceSpec, needle: &str) {
    let e = err(p.create(s, &NoProgress).await);
    assert_eq!(e.class, ErrorClass::Invalid, "{}: {}", s.address, e.message);
    assert!(
        e.message.contains(needle),
        "{}: `{}` lacks `{needle}`",
        s.address,
        e.message
    );
    assert!(!e.message.contains('\n'), "one line: {}", e.message);
    assert_eq!(
        p.read(s).await.expect("read"),
        None,
        "{} was not created",
        s.address
    );
}

#[tokio::test]
async fn clusters() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (gcp, aws, azure) = fast_clouds(tmp.path());
    let plain = sim(tmp.path(), "plain", json!({"latency": 0}));
    invalid(
        &gcp,
        &cluster("GKE-Sydney", "australia-southeast1"),
        "not a valid GKE cluster name",
    )
    .await;
    invalid(
        &gcp,
        &cluster(&"g".repeat(41), "australia-southeast1"),
        "1-40",
    )
    .await;
    invalid(
        &aws,
        &cluster("-eks", "sa-east-1"),
        "not a valid EKS cluster name",
    )
    .await;
    invalid(
        &azure,
        &cluster("aks_", "canadacentral"),
        "not a valid AKS cluster name",
    )
    .await;
    invalid(&gcp, &cluster("gke", "sa-east-1"), "not a known GKE region").await;
    invalid(
        &aws,
        &cluster("eks", "sa-east1"),
        "did you mean `sa-east-1`",
    )
    .await;
    invalid(
        &azure,
        &cluster("aks", "canada-central"),
        "did you mean `canadacentral`",
    )
    .await;
    let c = cluster("gke", "us-central1");
    invalid(
        &gcp,
        &with(c.clone(), "kubernetes_version", json!("1.27")),
        "supported versions are 1.29 to 1.33",
    )
    .await;
    invalid(
        &gcp,
        &with(c.clone(), "kubernetes_version", json!(1.3)),
        "quote it",
    )
    .await;
    invalid(
        &gcp,
        &with(c.clone(), "flavor", json!("eks")),
        "emulates gcp",
    )
    .await;
    invalid(&plain, &c, "`flavor` (gke, eks or aks) is required").await;
    invalid(
        &gcp,
        &with(c.clone(), "labels", json!({"Team": "a"})),
        "label key `Team`",
    )
    .await;
    plain
        .create(&with(c, "flavor", json!("gke")), &NoProgress)
        .await
        .expect("flavor from the attribute");
}

#[tokio::test]
async fn node_pools() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (gcp, aws, azure) = fast_clouds(tmp.path());
    let g = gcp
        .create(&cluster("gke", "us-central1"), &NoProgress)
        .await
        .expect("c");
    let e = aws
        .create(&cluster("eks", "us-east-1"), &NoProgress)
        .await
        .expect("c");
    let a = azure
        .create(&cluster("aks", "eastus"), &NoProgress)
        .await
        .expect("c");
    let gp = pool("gke", "default", "e2-standard-4", &g.outputs["id"]);
    invalid(
        &gcp,
        &with(gp.clone(), "machine_type", json!("m5.large")),
        "not a valid machine type on GKE",
    )
    .await;
    invalid(
        &aws,
        &pool("eks", "default", "e2-standard-4", &e.outputs["id"]),
        "not a valid machine type on EKS",
    )
    .await;
    invalid(
        &azure,
        &pool("aks", "default", "Standard_d4s_v5", &a.outputs["id"]),
        "not a valid machine type on AKS",
    )
    .await;
    invalid(
        &azure,
        &pool("aks", "system-pool", "Standard_D4s_v5", &a.outputs["id"]),
        "AKS node pool name",
    )
    .await;
    invalid(
        &gcp,
        &with(gp.clone(), "node_count", json!(1001)),
        "between 0 and 1000",
    )
    .await;
    invalid(
        &gcp,
        &with(
            with(gp.clone(), "min_count", json!(4)),
            "max_count",
            json!(10),
        ),
        "below `min_count`",
    )
    .await;
    invalid(
        &gcp,
        &with(
            with(gp.clone(), "min_count", json!(1)),
            "max_count",
            json!(2),
        ),
        "above `max_count`",
    )
    .await;
    invalid(
        &gcp,
        &with(
            gp.clone(),
            "cluster_id",
            json!("projects/x/locations/y/clusters/z"),
        ),
        "does not match cluster.gke",
    )
    .await;
    invalid(
        &gcp,
        &with(gp.clone(), "cluster", json!("eks")),
        "does not match the name",
    )
    .await;
    gcp.create(
        &with(with(gp, "min_count", json!(1)), "max_count", json!(5)),
        &NoProgress,
    )
    .await
    .expect("autoscaling within bounds");
}

#[tokio::test]
async fn dns() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let aws = sim(tmp.path(), "aws", json!({"emulates": "aws", "latency": 0}));
    invalid(&aws, &zone("localhost"), "not a valid domain name").await;
    let z = aws
        .create(&zone("fedstack.example.com"), &NoProgress)
        .await
        .expect("zone");
    let hc = health_check("hc", &json!("203.0.113.5"));
    invalid(
        &aws,
        &with(hc.clone(), "type", json!("ICMP")),
        "must be one of HTTP, HTTPS, TCP",
    )
    .await;
    invalid(
        &aws,
        &with(hc.clone(), "address", json!("app.example.com")),
        "not an IPv4 address",
    )
    .await;
    invalid(
        &aws,
        &with(hc.clone(), "port", json!(0)),
        "between 1 and 65535",
    )
    .await;
    invalid(&aws, &with(hc.clone(), "interval", json!(20)), "10 or 30").await;
    invalid(
        &aws,
        &with(hc.clone(), "failure_threshold", json!(11)),
        "between 1 and 10",
    )
    .await;
    invalid(
        &aws,
        &with(with(hc.clone(), "type", json!("TCP")), "path", json!("/")),
        "not allowed for TCP",
    )
    .await;
    let zid = &z.outputs["id"];
    let r = |name: &str, extra: Value| record(name, zid, &json!("203.0.113.5"), extra);
    invalid(
        &aws,
        &r("a.fedstack.example.com", json!({"values": ["203.0.113"]})),
        "not an IPv4 address",
    )
    .await;
    invalid(
        &aws,
        &r("a.fedstack.example.com", json!({"type": "AAAA"})),
        "not an IPv6 address",
    )
    .await;
    invalid(
        &aws,
        &r("a.fedstack.example.com", json!({"ttl": 2_147_483_648u64})),
        "between 0 and 2147483647",
    )
    .await;
    invalid(
        &aws,
        &r(
            "a.fedstack.example.com/w",
            json!({"routing": "weighted", "set_id": "w", "weight": 256}),
        ),
        "between 0 and 255",
    )
    .await;
    invalid(
        &aws,
        &r(
            "a.fedstack.example.com/l",
            json!({"routing": "latency", "set_id": "l", "region": "eastus"}),
        ),
        "not an AWS region",
    )
    .await;
    invalid(
        &aws,
        &r(
            "a.fedstack.example.com/g",
            json!({"routing": "geolocation", "set_id": "g", "location": {"continent": "XX"}}),
        ),
        "continent",
    )
    .await;
    invalid(
        &aws,
        &r(
            "a.fedstack.example.com/f",
            json!({"routing": "failover", "set_id": "f", "failover": "BACKUP"}),
        ),
        "PRIMARY, SECONDARY",
    )
    .await;
    invalid(
        &aws,
        &r("a.fedstack.example.com", json!({"weight": 5})),
        "not allowed with simple routing",
    )
    .await;
    invalid(
        &aws,
        &r("a.other.example.com", json!({})),
        "not permitted in zone",
    )
    .await;
    invalid(
        &aws,
        &r(
            "fedstack.example.com",
            json!({"type": "CNAME", "values": ["x.example.net"]}),
        ),
        "apex",
    )
    .await;
}

#[tokio::test]
async fn federation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (gcp, _aws, _azure) = fast_clouds(tmp.path());
    let c = gcp
        .create(&cluster("gke", "us-central1"), &NoProgress)
        .await
        .expect("c");
    let h = host("gke", &c.outputs["id"]);
    invalid(
        &gcp,
        &with(h.clone(), "scope", json!("Global")),
        "Cluster, Namespaced",
    )
    .await;
    invalid(
        &gcp,
        &with(h.clone(), "namespace", json!("Kube_Fed")),
        "DNS-1123",
    )
    .await;
    let ho = gcp.create(&h, &NoProgress).await.expect("host");
    let m = member(&c, "gke", "gke", &ho.outputs["id"]);
    invalid(
        &gcp,
        &with(m.clone(), "api_endpoint", json!("http://192.0.2.1")),
        "https:// URL",
    )
    .await;
    gcp.create(&m, &NoProgress)
        .await
        .expect("a host joins itself");
}
