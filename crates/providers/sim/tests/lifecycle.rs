//! Create -> read -> update -> delete for every kind, outputs, and the cross-object
//! rules of the real clouds.

mod common;

use common::*;
use fedstack_provider::{ErrorClass, NoProgress, Provider, ResourceStatus};
use serde_json::{json, Value};

const P: NoProgress = NoProgress;

#[tokio::test]
async fn every_kind_creates_reads_updates_and_deletes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (gcp, aws, azure) = fast_clouds(tmp.path());
    let made = build_demo(&gcp, &aws, &azure).await;
    assert_eq!(made.len(), 3 * 2 + 1 + 3 + 1 + 3 + 8);

    // Reads give back what was created, ready.
    for s in &made {
        let o = aws
            .read(s)
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("{} exists", s.address));
        assert_eq!(o.status, ResourceStatus::Ready, "{}", s.address);
        assert_eq!(o.attrs, s.attrs, "{}", s.address);
        assert!(o.outputs.contains_key("id"), "{} has an id", s.address);
    }

    // Updates in place, one per kind.
    let find = |prefix: &str| {
        made.iter()
            .find(|s| s.address.to_string().starts_with(prefix))
            .expect("made")
            .clone()
    };
    let mut updates = vec![
        ("cluster.gke-sydney", "kubernetes_version", json!("1.32")),
        ("node_pool.eks-saopaulo.default", "node_count", json!(5)),
        (
            "federation_member.aks-toronto",
            "api_endpoint",
            json!("https://192.0.2.200"),
        ),
        ("dns_zone.fedstack.example.com", "comment", json!("changed")),
        ("health_check.sydney-https", "failure_threshold", json!(5)),
        (
            "dns_record.shop.fedstack.example.com/green",
            "weight",
            json!(50),
        ),
    ];
    for (addr, key, value) in updates.drain(..) {
        let mut s = find(addr);
        s.attrs.insert(key.to_string(), value.clone());
        let o = gcp
            .update(&s, &[key.to_string()], &P)
            .await
            .expect("update");
        assert_eq!(o.attrs[key], value, "{addr}");
        assert_eq!(o.status, ResourceStatus::Ready);
        let again = gcp.read(&s).await.expect("read").expect("exists");
        assert_eq!(
            again.attrs[key], value,
            "{addr}: the update persisted in the world"
        );
    }
    let mut fh = find("federation_host.");
    fh.attrs.insert("labels".into(), json!({"a": "b"}));
    gcp.update(&fh, &["labels".to_string()], &P)
        .await
        .expect("host update");

    // Delete in reverse order: everything goes.
    for s in made.iter().rev() {
        aws.delete(s, &P)
            .await
            .unwrap_or_else(|e| panic!("delete {}: {e}", s.address));
        assert_eq!(aws.read(s).await.expect("read"), None, "{}", s.address);
        aws.delete(s, &P)
            .await
            .expect("deleting what is gone is fine");
    }
}

#[tokio::test]
async fn data_objects_store_anything() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = sim(tmp.path(), "local", json!({"latency": "0"}));
    let s = spec(
        "data.layer-1-7",
        json!({"values": {"a": [1, 2]}, "anything": null}),
    );
    let o = p.create(&s, &P).await.expect("create");
    assert_eq!(o.attrs, s.attrs);
    assert!(o.outputs["id"].as_str().expect("id").starts_with("data-"));
    let mut s2 = s.clone();
    s2.attrs.insert("anything".into(), json!("now"));
    let o = p
        .update(&s2, &["anything".into()], &P)
        .await
        .expect("update");
    assert_eq!(o.attrs["anything"], "now");
    p.delete(&s2, &P).await.expect("delete");
    assert_eq!(p.read(&s2).await.expect("read"), None);
}

#[tokio::test]
async fn outputs_look_like_the_real_clouds() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let gcp = sim(
        tmp.path(),
        "gcp",
        json!({"emulates": "gcp", "account": "fedstack-demo", "latency": 0}),
    );
    let aws = sim(
        tmp.path(),
        "aws",
        json!({"emulates": "aws", "account": "123456789012", "latency": 0}),
    );
    let azure = sim(
        tmp.path(),
        "azure",
        json!({"emulates": "azure", "latency": 0}),
    );
    let made = build_demo(&gcp, &aws, &azure).await;
    let read = |i: usize| {
        let s = made[i].clone();
        let p = &aws;
        async move { p.read(&s).await.expect("read").expect("exists") }
    };
    let gke = read(0).await;
    assert_eq!(
        gke.outputs["id"],
        "projects/fedstack-demo/locations/australia-southeast1/clusters/gke-sydney"
    );
    assert_eq!(gke.outputs["status"], "RUNNING");
    let eks = read(2).await;
    assert_eq!(
        eks.outputs["id"],
        "arn:aws:eks:sa-east-1:123456789012:cluster/eks-saopaulo"
    );
    assert_eq!(eks.outputs["status"], "ACTIVE");
    let aks = read(4).await;
    let aks_id = aks.outputs["id"].as_str().expect("id");
    assert!(aks_id.starts_with("/subscriptions/"), "{aks_id}");
    assert!(
        aks_id.ends_with("/resourceGroups/azure/providers/Microsoft.ContainerService/managedClusters/aks-toronto"),
        "{aks_id}"
    );
    assert_eq!(aks.outputs["status"], "Succeeded");

    let mut ingress = Vec::new();
    for c in [&gke, &eks, &aks] {
        let ip: std::net::Ipv4Addr = c.outputs["ingress_address"]
            .as_str()
            .expect("ip")
            .parse()
            .expect("ipv4");
        let o = ip.octets();
        assert!(o[..3] == [203, 0, 113] || o[..3] == [198, 51, 100], "{ip}");
        ingress.push(ip);
        let endpoint = c.outputs["endpoint"].as_str().expect("endpoint");
        assert!(endpoint.starts_with("https://"), "{endpoint}");
        endpoint["https://".len()..]
            .parse::<std::net::Ipv4Addr>()
            .expect("endpoint is an IP");
        let ca = c.outputs["ca_certificate"].as_str().expect("ca");
        assert!(
            ca.starts_with("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"),
            "base64 of a PEM: {ca}"
        );
        assert_eq!(c.secrets["admin_token"].len(), 64);
        assert!(
            !c.outputs.contains_key("admin_token"),
            "secrets are not outputs"
        );
    }
    ingress.sort();
    ingress.dedup();
    assert_eq!(ingress.len(), 3, "ingress addresses are unique");

    let gke_pool = read(1).await;
    assert_eq!(
        gke_pool.outputs["id"],
        "projects/fedstack-demo/locations/australia-southeast1/clusters/gke-sydney/nodePools/default"
    );
    assert_eq!(gke_pool.outputs["status"], "RUNNING");
    let eks_pool = read(3).await;
    assert!(eks_pool.outputs["id"]
        .as_str()
        .expect("id")
        .starts_with("arn:aws:eks:sa-east-1:123456789012:nodegroup/eks-saopaulo/default/"));
    let aks_pool = read(5).await;
    assert_eq!(
        aks_pool.outputs["id"],
        format!("{aks_id}/agentPools/default")
    );

    let m = read(8).await;
    assert_eq!(m.outputs["id"], "kube-federation-system/eks-saopaulo");
    assert_eq!(m.outputs["service_account"], "eks-saopaulo-gke-sydney");
    assert!(m.outputs["secret_name"]
        .as_str()
        .expect("s")
        .starts_with("eks-saopaulo-gke-sydney-token-"));
    assert_eq!(m.secrets["token"].len(), 64);

    let z = read(10).await;
    let zid = z.outputs["id"].as_str().expect("id");
    assert!(
        zid.starts_with("/hostedzone/Z") && zid.len() == "/hostedzone/".len() + 14,
        "{zid}"
    );
    assert_eq!(z.outputs["name_servers"].as_array().expect("ns").len(), 4);

    let hc = read(11).await;
    uuid::Uuid::parse_str(hc.outputs["id"].as_str().expect("id")).expect("uuid-like");
    assert_eq!(hc.outputs["healthy"], true);

    let r = read(14).await;
    let short = zid.trim_start_matches("/hostedzone/");
    assert_eq!(
        r.outputs["id"],
        format!("{short}_app.fedstack.example.com_A_sydney")
    );

    // Deterministic: a second world computes the same values.
    let tmp2 = tempfile::tempdir().expect("tempdir");
    let gcp2 = sim(
        tmp2.path(),
        "gcp",
        json!({"emulates": "gcp", "account": "fedstack-demo", "latency": 0}),
    );
    let again = gcp2.create(&made[0], &P).await.expect("create");
    assert_eq!(again.outputs, gke.outputs);
}

#[tokio::test]
async fn creating_what_exists_is_already_exists() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (gcp, _aws, _azure) = fast_clouds(tmp.path());
    let c = cluster("gke-sydney", "australia-southeast1");
    gcp.create(&c, &P).await.expect("create");
    let e = err(gcp.create(&c, &P).await);
    assert_eq!(e.class, ErrorClass::AlreadyExists);
    assert!(
        e.message.contains("cluster.gke-sydney already exists"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn clusters_with_node_pools_cannot_be_deleted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_gcp, aws, _azure) = fast_clouds(tmp.path());
    let c = cluster("eks-saopaulo", "sa-east-1");
    let o = aws.create(&c, &P).await.expect("cluster");
    let np = pool("eks-saopaulo", "default", "m5.large", &o.outputs["id"]);
    aws.create(&np, &P).await.expect("pool");
    let e = err(aws.delete(&c, &P).await);
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message.contains("ResourceInUseException"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("node_pool.eks-saopaulo.default"),
        "{}",
        e.message
    );
    assert!(
        aws.read(&c).await.expect("read").is_some(),
        "refused: still there"
    );
    aws.delete(&np, &P).await.expect("pool first");
    aws.delete(&c, &P).await.expect("then the cluster");
}

#[tokio::test(start_paused = true)]
async fn a_cluster_whose_pools_are_being_deleted_can_be_retried() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let gcp = sim(
        tmp.path(),
        "gcp",
        json!({"emulates": "gcp", "latency": {"create": 0, "delete": "5s"}}),
    );
    let c = cluster("gke-sydney", "australia-southeast1");
    let o = gcp.create(&c, &P).await.expect("cluster");
    let np = pool("gke-sydney", "default", "e2-standard-4", &o.outputs["id"]);
    gcp.create(&np, &P).await.expect("pool");
    let pool_delete = tokio::spawn({
        let gcp = std::sync::Arc::new(sim(
            tmp.path(),
            "gcp2",
            json!({"emulates": "gcp", "latency": {"delete": "5s"}}),
        ));
        let np = np.clone();
        async move { gcp.delete(&np, &NoProgress).await }
    });
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let e = err(gcp.delete(&c, &P).await);
    assert_eq!(e.class, ErrorClass::Transient, "{}", e.message);
    assert!(
        e.retry_after
            .is_some_and(|d| d <= std::time::Duration::from_secs(4)),
        "{e:?}"
    );
    pool_delete.await.expect("joined").expect("pool deleted");
    gcp.delete(&c, &P).await.expect("now it goes");
}

#[tokio::test]
async fn zones_with_records_and_health_checks_in_use_cannot_be_deleted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let aws = sim(tmp.path(), "aws", json!({"emulates": "aws", "latency": 0}));
    let z = zone("fedstack.example.com");
    let zo = aws.create(&z, &P).await.expect("zone");
    let hc = health_check("hc", &json!("203.0.113.10"));
    let hco = aws.create(&hc, &P).await.expect("hc");
    let r = record(
        "api.fedstack.example.com/primary",
        &zo.outputs["id"],
        &json!("203.0.113.10"),
        json!({"routing": "failover", "set_id": "primary", "failover": "PRIMARY", "health_check_id": hco.outputs["id"]}),
    );
    aws.create(&r, &P).await.expect("record");

    let e = err(aws.delete(&z, &P).await);
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("HostedZoneNotEmpty"), "{}", e.message);
    let e = err(aws.delete(&hc, &P).await);
    assert!(e.message.contains("HealthCheckInUse"), "{}", e.message);
    assert!(
        e.message
            .contains("dns_record.api.fedstack.example.com/primary"),
        "{}",
        e.message
    );

    aws.delete(&r, &P).await.expect("record");
    aws.delete(&hc, &P).await.expect("hc");
    aws.delete(&z, &P).await.expect("zone");
}

#[tokio::test]
async fn federation_rules() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (gcp, aws, _azure) = fast_clouds(tmp.path());
    let host_cluster = gcp
        .create(&cluster("gke-sydney", "australia-southeast1"), &P)
        .await
        .expect("c");
    let other_host_cluster = gcp
        .create(&cluster("gke-iowa", "us-central1"), &P)
        .await
        .expect("c");
    let eks = aws
        .create(&cluster("eks-saopaulo", "sa-east-1"), &P)
        .await
        .expect("c");

    // A member needs its host.
    let m = member(&eks, "eks-saopaulo", "gke-sydney", &Value::Null);
    let e = err(aws.create(&m, &P).await);
    assert_eq!(e.class, ErrorClass::NotFound);
    assert!(
        e.message
            .contains("federation_host.gke-sydney does not exist"),
        "{}",
        e.message
    );
    // A host needs its cluster (any account: the host is in another cloud here).
    let e = err(gcp.create(&host("eks-nowhere", &Value::Null), &P).await);
    assert_eq!(e.class, ErrorClass::NotFound);

    let h = host("gke-sydney", &host_cluster.outputs["id"]);
    let ho = gcp.create(&h, &P).await.expect("host");
    let h2 = host("gke-iowa", &other_host_cluster.outputs["id"]);
    let h2o = gcp.create(&h2, &P).await.expect("second host");
    let mut wrong_id = m.clone();
    wrong_id
        .attrs
        .insert("host_id".into(), json!("kubefed:elsewhere"));
    assert_eq!(class(aws.create(&wrong_id, &P).await), ErrorClass::Invalid);
    let mut wrong_ns = m.clone();
    wrong_ns.attrs.insert("namespace".into(), json!("kubefed"));
    assert_eq!(class(aws.create(&wrong_ns, &P).await), ErrorClass::Invalid);

    let m = member(&eks, "eks-saopaulo", "gke-sydney", &ho.outputs["id"]);
    aws.create(&m, &P).await.expect("joined");
    assert_eq!(class(aws.create(&m, &P).await), ErrorClass::AlreadyExists);
    // Joining the same cluster to another host is refused.
    let m2 = member(&eks, "eks-saopaulo", "gke-iowa", &h2o.outputs["id"]);
    let e = err(aws.create(&m2, &P).await);
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message
            .contains("already joined to kubefed host gke-sydney"),
        "{}",
        e.message
    );

    // The host cannot go while members are joined.
    let e = err(gcp.delete(&h, &P).await);
    assert!(
        e.message.contains("still has member clusters joined"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("federation_member.eks-saopaulo"),
        "{}",
        e.message
    );
    aws.delete(&m, &P).await.expect("unjoin");
    gcp.delete(&h, &P).await.expect("host goes");
    aws.create(&m2, &P).await.expect("joins the other host now");
}

#[tokio::test]
async fn dependencies_must_exist_and_be_ready() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let aws = sim(
        tmp.path(),
        "aws",
        json!({"emulates": "aws", "latency": {"create": "1h", "read": 0}}),
    );
    let fast = sim(tmp.path(), "aws2", json!({"emulates": "aws", "latency": 0}));
    // No cluster.
    let e = err(fast
        .create(&pool("eks-x", "default", "m5.large", &Value::Null), &P)
        .await);
    assert_eq!(e.class, ErrorClass::NotFound);
    assert!(
        e.message.contains("cluster.eks-x does not exist"),
        "{}",
        e.message
    );

    // A cluster still provisioning: retry later.
    let c = cluster("eks-x", "us-east-1");
    let slow = tokio::time::timeout(std::time::Duration::from_millis(50), aws.create(&c, &P)).await;
    assert!(slow.is_err(), "still provisioning");
    let e = err(fast
        .create(&pool("eks-x", "default", "m5.large", &Value::Null), &P)
        .await);
    assert_eq!(e.class, ErrorClass::Transient);
    assert!(
        e.message.contains("operation in progress") && e.message.contains("PROVISIONING"),
        "{}",
        e.message
    );
    assert!(e.retry_after.is_some());

    // Records need their zone, their zone id and their health check.
    let r = record(
        "www.fedstack.example.com",
        &Value::Null,
        &json!("203.0.113.1"),
        json!({}),
    );
    let e = err(fast.create(&r, &P).await);
    assert_eq!(e.class, ErrorClass::NotFound);
    assert!(e.message.contains("NoSuchHostedZone"), "{}", e.message);
    fast.create(&zone("fedstack.example.com"), &P)
        .await
        .expect("zone");
    let mut bad_zone_id = r.clone();
    bad_zone_id
        .attrs
        .insert("zone_id".into(), json!("/hostedzone/ZNOTTHEZONE12"));
    assert_eq!(
        class(fast.create(&bad_zone_id, &P).await),
        ErrorClass::Invalid
    );
    let mut bad_hc = r.clone();
    bad_hc.attrs.insert(
        "health_check_id".into(),
        json!("00000000-0000-4000-8000-000000000000"),
    );
    let e = err(fast.create(&bad_hc, &P).await);
    assert_eq!(e.class, ErrorClass::NotFound);
    assert!(e.message.contains("NoSuchHealthCheck"), "{}", e.message);
    fast.create(&r, &P).await.expect("record");

    // Route 53 record-set consistency.
    let cname = record(
        "www.fedstack.example.com/x",
        &Value::Null,
        &json!("lb.example.net"),
        json!({"type": "CNAME", "routing": "weighted", "set_id": "x", "weight": 1}),
    );
    let e = err(fast.create(&cname, &P).await);
    assert!(
        e.message.contains("conflicting RRSet of type A"),
        "{}",
        e.message
    );
    let weighted = record(
        "www.fedstack.example.com/w",
        &Value::Null,
        &json!("203.0.113.2"),
        json!({"routing": "weighted", "set_id": "w", "weight": 1}),
    );
    let e = err(fast.create(&weighted, &P).await);
    assert!(e.message.contains("uses simple routing"), "{}", e.message);
}

#[tokio::test]
async fn updates_follow_the_clouds_rules() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (gcp, _aws, _azure) = fast_clouds(tmp.path());
    let c = cluster("gke-sydney", "australia-southeast1");
    let before = gcp.create(&c, &P).await.expect("create");

    let mut moved = c.clone();
    moved.attrs.insert("region".into(), json!("us-central1"));
    let e = err(gcp.update(&moved, &["region".into()], &P).await);
    assert_eq!(e.class, ErrorClass::Invalid);
    assert!(e.message.contains("forces a replacement"), "{}", e.message);

    let mut skip = c.clone();
    skip.attrs
        .insert("kubernetes_version".into(), json!("1.33"));
    let e = err(gcp.update(&skip, &["kubernetes_version".into()], &P).await);
    assert!(
        e.message.contains("one minor version at a time"),
        "{}",
        e.message
    );
    let mut down = c.clone();
    down.attrs
        .insert("kubernetes_version".into(), json!("1.30"));
    let e = err(gcp.update(&down, &["kubernetes_version".into()], &P).await);
    assert!(e.message.contains("cannot downgrade"), "{}", e.message);
    let mut bad = c.clone();
    bad.attrs.insert("labels".into(), json!({"Team": "x"}));
    assert_eq!(
        class(gcp.update(&bad, &["labels".into()], &P).await),
        ErrorClass::Invalid
    );

    let mut up = c.clone();
    up.attrs.insert("kubernetes_version".into(), json!("1.32"));
    let after = gcp
        .update(&up, &["kubernetes_version".into()], &P)
        .await
        .expect("upgrade");
    assert_eq!(after.attrs["kubernetes_version"], "1.32");
    assert_eq!(after.outputs["id"], before.outputs["id"]);
    assert_ne!(
        after.secrets["admin_token"], before.secrets["admin_token"],
        "a new generation"
    );

    // Only the changed attributes are applied: drift elsewhere stays.
    let mut partial = up.clone();
    partial
        .attrs
        .insert("labels".into(), json!({"team": "sre"}));
    partial
        .attrs
        .insert("kubernetes_version".into(), json!("1.31"));
    let o = gcp
        .update(&partial, &["labels".into()], &P)
        .await
        .expect("labels");
    assert_eq!(o.attrs["labels"], json!({"team": "sre"}));
    assert_eq!(o.attrs["kubernetes_version"], "1.32");

    let missing = cluster("gke-nowhere", "us-central1");
    assert_eq!(
        class(gcp.update(&missing, &[], &P).await),
        ErrorClass::NotFound
    );
}

#[tokio::test(start_paused = true)]
async fn busy_objects_answer_operation_in_progress() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let gcp = std::sync::Arc::new(sim(
        tmp.path(),
        "gcp",
        json!({"emulates": "gcp", "latency": {"create": "10s", "delete": "10s", "update": "10s", "read": 0}}),
    ));
    let c = cluster("gke-sydney", "australia-southeast1");
    let creating = tokio::spawn({
        let (gcp, c) = (gcp.clone(), c.clone());
        async move { gcp.create(&c, &NoProgress).await }
    });
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let e = err(gcp.update(&c, &[], &P).await);
    assert_eq!(e.class, ErrorClass::Transient);
    assert_eq!(e.retry_after, Some(std::time::Duration::from_secs(8)));
    creating.await.expect("joined").expect("created");

    let deleting = tokio::spawn({
        let (gcp, c) = (gcp.clone(), c.clone());
        async move { gcp.delete(&c, &NoProgress).await }
    });
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        gcp.read(&c).await.expect("read").expect("exists").status,
        ResourceStatus::Deleting
    );
    let e = err(gcp.create(&c, &P).await);
    assert_eq!(e.class, ErrorClass::Transient);
    assert!(e.message.contains("still being deleted"), "{}", e.message);
    assert!(e.class.is_retryable());
    // A second delete just waits for the first.
    let start = tokio::time::Instant::now();
    gcp.delete(&c, &P).await.expect("second delete");
    assert_eq!(start.elapsed(), std::time::Duration::from_secs(7));
    deleting.await.expect("joined").expect("deleted");
    gcp.create(&c, &P)
        .await
        .expect("a retry succeeds once it is gone");
}
