//! The provider against moto's server (see `fedstack_moto`): every resource kind made,
//! read back, changed and deleted, checked by reading the emulator back and by
//! counting the calls that reached it. Fails with one line saying how to get moto when it is missing.

use std::time::Duration;

use fedstack_core::value::Values;
use fedstack_moto::Moto;
use fedstack_provider::{
    ErrorClass, NoProgress, Observed, Provider, ProviderContext, ResourceSpec,
};
use fedstack_provider_aws::{AwsOptions, AwsProvider};
use serde_json::{json, Value};

/// moto's server; the test fails, saying how to get it, when it is not installed.
fn moto() -> Moto {
    Moto::start().unwrap_or_else(|e| panic!("cannot start moto: {e}"))
}

fn provider(moto: &Moto) -> AwsProvider {
    let options = AwsOptions {
        credentials: Some(aws_credential_types::Credentials::new(
            "test", "test", None, None, "moto",
        )),
        poll_interval: Duration::from_millis(10),
        insync_poll_interval: Duration::from_millis(10),
        batch_window: Duration::from_millis(50),
        retry: fedstack_provider_aws::CallRetry {
            base_delay: Duration::from_millis(5),
            ..Default::default()
        },
        ..AwsOptions::default()
    };
    let mut settings = Values::new();
    settings.insert("endpoint_url".into(), json!(moto.endpoint()));
    settings.insert("region".into(), json!("us-east-1"));
    let ctx = ProviderContext {
        stack: "t".into(),
        state_dir: std::env::temp_dir(),
        read_only: false,
    };
    AwsProvider::with_options("aws", &settings, &ctx, options).expect("provider")
}

fn spec(address: &str, attrs: Value) -> ResourceSpec {
    let address: fedstack_core::address::Address = address.parse().expect("address");
    ResourceSpec {
        cloud_name: address.name.clone(),
        address,
        attrs: match attrs {
            Value::Object(m) => m.into_iter().collect(),
            _ => Values::new(),
        },
    }
}

fn zone_spec() -> ResourceSpec {
    spec(
        "dns_zone.example.com",
        json!({"zone": "example.com", "comment": null}),
    )
}

async fn zone(p: &AwsProvider) -> String {
    let z = p.create(&zone_spec(), &NoProgress).await.expect("zone");
    z.outputs["id"].as_str().expect("id").to_string()
}

fn record(zone_id: &str, name: &str, value: &str) -> ResourceSpec {
    spec(
        &format!("dns_record.{name}.example.com"),
        json!({"zone": "example.com", "zone_id": zone_id, "fqdn": format!("{name}.example.com"),
               "type": "A", "ttl": 60, "routing": "simple", "set_id": null, "values": [value],
               "weight": null, "region": null, "location": null, "failover": null,
               "health_check_id": null}),
    )
}

fn weighted(zone_id: &str, name: &str, set: &str, weight: i64, hc: Option<&str>) -> ResourceSpec {
    spec(
        &format!("dns_record.{name}.example.com/{set}"),
        json!({"zone": "example.com", "zone_id": zone_id, "fqdn": format!("{name}.example.com"),
               "type": "A", "ttl": 60, "routing": "weighted", "set_id": set, "values": ["192.0.2.1"],
               "weight": weight, "region": null, "location": null, "failover": null,
               "health_check_id": hc}),
    )
}

/// Creates all `specs` at once, as the engine does with a batch group.
async fn create_all(
    p: &AwsProvider,
    specs: &[ResourceSpec],
) -> Vec<Result<Observed, fedstack_provider::ProviderError>> {
    let futures = specs.iter().map(|s| p.create(s, &NoProgress));
    futures_join_all(futures).await
}

/// A tiny join_all (no futures crate): polls every future on this task.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

#[tokio::test]
async fn records_created_together_go_in_one_call_and_read_back() {
    let moto = moto();
    let p = provider(&moto);
    let z = zone(&p).await;
    let specs: Vec<ResourceSpec> = (0..700)
        .map(|i| {
            record(
                &z,
                &format!("r{i:04}"),
                &format!("198.51.{}.{}", i / 250, i % 250),
            )
        })
        .collect();
    moto.clear_calls();
    let results = create_all(&p, &specs).await;
    assert!(
        results.iter().all(Result::is_ok),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    assert_eq!(moto.count("ChangeResourceRecordSets"), 1);
    // Reading them back shares one paged listing (700 sets: three pages).
    moto.clear_calls();
    for s in &specs {
        let o = p.read(s).await.expect("read").expect("found");
        assert_eq!(o.attrs["values"], s.attrs["values"]);
    }
    assert_eq!(moto.count("ListResourceRecordSets"), 3);
    assert_eq!(
        moto.inventory("us-east-1")
            .expect("inventory")
            .records()
            .len(),
        700
    );
    // And deleted together, in one call.
    moto.clear_calls();
    let deletes = specs.iter().map(|s| p.delete(s, &NoProgress));
    let r = futures_join_all(deletes).await;
    assert!(r.iter().all(Result::is_ok));
    assert_eq!(moto.count("ChangeResourceRecordSets"), 1);
    assert!(moto
        .inventory("us-east-1")
        .expect("inventory")
        .records()
        .is_empty());
}

#[tokio::test]
async fn creates_are_idempotent_and_never_overwrite_other_values() {
    let moto = moto();
    let p = provider(&moto);
    let z = zone(&p).await;
    p.create(&record(&z, "www", "192.0.2.1"), &NoProgress)
        .await
        .expect("created");
    // The same again (a retry, or an adoption after a crash): nothing to do.
    moto.clear_calls();
    p.create(&record(&z, "www", "192.0.2.1"), &NoProgress)
        .await
        .expect("adopted");
    assert_eq!(moto.count("ChangeResourceRecordSets"), 0);
    // Other values: moto would take a second CREATE; fedstack refuses it.
    let e = p
        .create(&record(&z, "www", "192.0.2.9"), &NoProgress)
        .await
        .expect_err("refused");
    assert_eq!(e.class, ErrorClass::AlreadyExists);
    assert!(
        e.message
            .contains("already exists in zone example.com with other values"),
        "{e}"
    );
    assert_eq!(moto.count("ChangeResourceRecordSets"), 0);
    // An update changes it in place.
    let o = p
        .update(
            &record(&z, "www", "192.0.2.9"),
            &["values".into()],
            &NoProgress,
        )
        .await
        .expect("updated");
    assert_eq!(o.attrs["values"], json!(["192.0.2.9"]));
    assert_eq!(
        moto.inventory("us-east-1").expect("inventory").records(),
        ["www.example.com A: 192.0.2.9"]
    );
}

#[tokio::test]
async fn fedstack_refuses_what_route53_would_and_moto_does_not() {
    let moto = moto();
    let p = provider(&moto);
    let z = zone(&p).await;
    moto.clear_calls();
    // A health check that does not exist.
    let e = p
        .create(
            &weighted(&z, "app", "blue", 10, Some("no-such-check")),
            &NoProgress,
        )
        .await
        .expect_err("refused");
    assert_eq!(e.class, ErrorClass::Invalid);
    assert!(
        e.message
            .contains("health check no-such-check does not exist"),
        "{e}"
    );
    // A weight without a set identifier.
    let mut s = weighted(&z, "app", "blue", 10, None);
    s.attrs.insert("set_id".into(), Value::Null);
    let e = p.create(&s, &NoProgress).await.expect_err("refused");
    assert!(e.message.contains("needs a set identifier"), "{e}");
    // A weight with failover.
    let mut s = weighted(&z, "app", "blue", 10, None);
    s.attrs.insert("failover".into(), json!("PRIMARY"));
    let e = p.create(&s, &NoProgress).await.expect_err("refused");
    assert!(
        e.message
            .contains("`failover` is only valid with routing: failover"),
        "{e}"
    );
    assert_eq!(moto.count("ChangeResourceRecordSets"), 0);
}

#[tokio::test]
async fn a_repeated_page_cursor_is_an_error_not_a_loop() {
    let moto = moto();
    let p = provider(&moto);
    let z = zone(&p).await;
    // 301 weighted sets of one name and type: moto hands out the same cursor again.
    let specs: Vec<ResourceSpec> = (0..301)
        .map(|i| weighted(&z, "app", &format!("s{i:03}"), 1, None))
        .collect();
    let r = create_all(&p, &specs).await;
    assert!(r.iter().all(Result::is_ok));
    let before = moto.count("ListResourceRecordSets");
    let e = p.read(&specs[0]).await.expect_err("stops");
    assert!(
        e.message
            .contains("returned the cursor (app.example.com., A, -) twice"),
        "{e}"
    );
    // Stopped at the repeated page: two pages asked for, not a loop of them.
    let pages = moto.count("ListResourceRecordSets") - before;
    assert!(pages <= 2, "{pages} pages were asked for");
}

#[tokio::test]
async fn throttled_batches_are_retried_whole() {
    let moto = moto();
    let p = provider(&moto);
    let z = zone(&p).await;
    moto.clear_calls();
    moto.fail_next("ChangeResourceRecordSets", 2, "Throttling", "Rate exceeded");
    let specs: Vec<ResourceSpec> = (0..20)
        .map(|i| record(&z, &format!("t{i}"), "192.0.2.1"))
        .collect();
    let r = create_all(&p, &specs).await;
    assert!(r.iter().all(Result::is_ok), "{r:?}");
    let calls: Vec<u16> = moto
        .calls()
        .iter()
        .filter(|c| c.operation == "ChangeResourceRecordSets")
        .map(|c| c.status)
        .collect();
    assert_eq!(calls, [400, 400, 200]);
    assert_eq!(
        moto.inventory("us-east-1")
            .expect("inventory")
            .records()
            .len(),
        20
    );
}

#[tokio::test]
async fn what_fedstack_made_is_found_again_by_name() {
    let moto = moto();
    let p = provider(&moto);
    let z = zone(&p).await;
    let hc = spec(
        "health_check.web",
        json!({"type": "TCP", "address": "192.0.2.7", "port": 5432, "path": null, "interval": 10, "failure_threshold": 2}),
    );
    let made = p.create(&hc, &NoProgress).await.expect("health check");
    let net = spec(
        "network.e",
        json!({"region": "us-east-1", "cidr": "10.9.0.0/16"}),
    );
    let made_net = p.create(&net, &NoProgress).await.expect("network");
    // A new process (fresh caches) finds each by its name.
    let q = provider(&moto);
    let z2 = q.read(&zone_spec()).await.expect("read").expect("zone");
    assert_eq!(z2.outputs["id"], json!(z));
    let hc2 = q.read(&hc).await.expect("read").expect("health check");
    assert_eq!(hc2.outputs["id"], made.outputs["id"]);
    assert_eq!(hc2.attrs["port"], json!(5432));
    assert_eq!(hc2.outputs["healthy"], json!(true));
    let net2 = q.read(&net).await.expect("read").expect("network");
    assert_eq!(net2.outputs["subnet_ids"], made_net.outputs["subnet_ids"]);
    assert_eq!(net2.status, fedstack_provider::ResourceStatus::Ready);
    // Creating them again: the zone is found ("find or create"), the check refused.
    assert_eq!(
        q.create(&zone_spec(), &NoProgress)
            .await
            .expect("zone")
            .outputs["id"],
        json!(z)
    );
    assert_eq!(
        q.create(&hc, &NoProgress).await.expect_err("exists").class,
        ErrorClass::AlreadyExists
    );
    // Deletes are idempotent.
    q.delete(&hc, &NoProgress).await.expect("deleted");
    q.delete(&hc, &NoProgress).await.expect("already gone");
    q.delete(&net, &NoProgress).await.expect("deleted");
    q.delete(&zone_spec(), &NoProgress).await.expect("deleted");
    let inv = moto.inventory("us-east-1").expect("inventory");
    assert!(inv.is_empty(), "{inv:#?}");
}

#[tokio::test]
async fn eks_changes_in_place_what_eks_allows() {
    let moto = moto();
    let p = provider(&moto);
    let net = p
        .create(
            &spec(
                "network.c",
                json!({"region": "us-east-1", "cidr": "10.0.0.0/16"}),
            ),
            &NoProgress,
        )
        .await
        .expect("network");
    let role = p
        .create(
            &spec(
                "iam_role.c-cluster",
                json!({"service": "eks.amazonaws.com", "policies": ["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]}),
            ),
            &NoProgress,
        )
        .await
        .expect("role");
    let subnets = net.outputs["subnet_ids"].clone();
    let arn = role.outputs["arn"].clone();
    let mut cluster = spec(
        "cluster.c",
        json!({"flavor": "eks", "region": "us-east-1", "kubernetes_version": "1.31", "labels": {"a": "1"},
               "role_arn": arn, "subnet_ids": subnets, "security_group_ids": [],
               "endpoint_access": "public", "logging": [], "ingress_address": null}),
    );
    let c = p.create(&cluster, &NoProgress).await.expect("cluster");
    assert_eq!(c.outputs["status"], json!("ACTIVE"));
    assert_eq!(c.attrs["subnet_ids"], subnets);
    let mut pool = spec(
        "node_pool.c.ng",
        json!({"cluster": "c", "cluster_id": c.outputs["id"], "machine_type": "m5.large", "node_count": 2,
               "min_count": null, "max_count": null, "labels": {}, "node_role_arn": arn, "subnet_ids": subnets}),
    );
    let n = p.create(&pool, &NoProgress).await.expect("node group");
    assert_eq!(n.attrs["min_count"], Value::Null);
    assert_eq!(n.attrs["node_count"], json!(2));
    // Scale in place, with labels.
    pool.attrs.insert("node_count".into(), json!(5));
    pool.attrs.insert("max_count".into(), json!(8));
    pool.attrs.insert("labels".into(), json!({"tier": "web"}));
    let n = p
        .update(
            &pool,
            &["node_count".into(), "max_count".into(), "labels".into()],
            &NoProgress,
        )
        .await
        .expect("scaled");
    assert_eq!(n.attrs["node_count"], json!(5));
    assert_eq!(n.attrs["max_count"], json!(8));
    assert_eq!(n.attrs["labels"], json!({"tier": "web"}));
    assert_eq!(
        moto.inventory("us-east-1").expect("inventory").nodegroups,
        ["c/ng: m5.large, 5"]
    );
    // Logging, endpoint access and labels of the cluster, in place.
    cluster
        .attrs
        .insert("logging".into(), json!(["api", "audit"]));
    cluster
        .attrs
        .insert("endpoint_access".into(), json!("public_and_private"));
    cluster.attrs.insert("labels".into(), json!({"b": "2"}));
    let c = p
        .update(
            &cluster,
            &["logging".into(), "endpoint_access".into(), "labels".into()],
            &NoProgress,
        )
        .await
        .expect("updated");
    assert_eq!(c.attrs["logging"], json!(["api", "audit"]));
    assert_eq!(c.attrs["endpoint_access"], json!("public_and_private"));
    assert_eq!(c.attrs["labels"], json!({"b": "2"}));
    // The cluster can't go while it has node groups (EKS's rule): the engine deletes
    // the pool first, as it does here.
    let e = p.delete(&cluster, &NoProgress).await.expect_err("in use");
    assert_eq!(e.class, ErrorClass::Permanent);
    p.delete(&pool, &NoProgress).await.expect("pool deleted");
    p.delete(&cluster, &NoProgress)
        .await
        .expect("cluster deleted");
    p.delete(&spec("iam_role.c-cluster", json!({})), &NoProgress)
        .await
        .expect("role deleted");
    p.delete(
        &spec("network.c", json!({"region": "us-east-1"})),
        &NoProgress,
    )
    .await
    .expect("network deleted");
    let inv = moto.inventory("us-east-1").expect("inventory");
    assert!(inv.is_empty(), "{inv:#?}");
}
