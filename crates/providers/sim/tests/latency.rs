//! Latencies: realistic defaults, settings, scaling, and a latency of 0 that costs nothing.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use fedstack_core::address::ResourceKind;
use fedstack_provider::{NoProgress, Provider, ResourceSpec, ResourceStatus};
use fedstack_provider_sim::{default_latency, SimOperation, SimOptions, SimProvider};
use serde_json::json;
use tokio::time::Instant;

const P: NoProgress = NoProgress;

async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let out = f.await;
    (out, start.elapsed())
}

#[tokio::test(start_paused = true)]
async fn realistic_defaults_per_kind_and_flavor() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    for (emulates, name, region, machine, create_s, pool_s) in [
        (
            "gcp",
            "gke-sydney",
            "australia-southeast1",
            "e2-standard-4",
            20,
            9,
        ),
        ("aws", "eks-saopaulo", "sa-east-1", "m5.large", 36, 12),
        (
            "azure",
            "aks-toronto",
            "canadacentral",
            "Standard_D4s_v5",
            24,
            10,
        ),
    ] {
        let p = sim(dir, emulates, json!({"emulates": emulates}));
        let c = cluster(name, region);
        let (o, took) = timed(p.create(&c, &P)).await;
        let o = o.expect("create");
        assert_eq!(took, Duration::from_secs(create_s), "{name} create");
        let (_, took) = timed(p.read(&c)).await;
        assert!(
            (20..=50).contains(&took.as_millis()),
            "{name} read took {took:?}"
        );
        let np = pool(name, "default", machine, &o.outputs["id"]);
        let (r, took) = timed(p.create(&np, &P)).await;
        r.expect("pool");
        assert_eq!(took, Duration::from_secs(pool_s), "{name} pool create");
        let mut up = c.clone();
        up.attrs.insert("kubernetes_version".into(), json!("1.32"));
        let (r, took) = timed(p.update(&up, &["kubernetes_version".into()], &P)).await;
        r.expect("update");
        let flavor = &name[..3];
        let expected = default_latency(ResourceKind::Cluster, flavor, SimOperation::Update);
        assert_eq!(took, expected, "{name} update");
        assert!(
            took < Duration::from_secs(create_s),
            "updates are quicker than creates"
        );
        let (r, took) = timed(p.delete(&np, &P)).await;
        r.expect("delete pool");
        assert!(took > Duration::ZERO && took <= Duration::from_secs(pool_s));
    }
}

#[tokio::test(start_paused = true)]
async fn latency_settings_and_options() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let c = |n: &str| cluster(n, "us-central1");

    let p = sim(dir, "a", json!({"emulates": "gcp", "latency": "2s"}));
    let (r, took) = timed(p.create(&c("c1"), &P)).await;
    r.expect("create");
    assert_eq!(took, Duration::from_secs(2));
    let (_, took) = timed(p.read(&c("c1"))).await;
    assert_eq!(took, Duration::from_secs(2), "one duration for every call");

    // As the core hands it over: `latency: 1.5` in a stack is 1500 ms.
    let p = sim(dir, "b", json!({"emulates": "gcp", "latency": 1500}));
    let (r, took) = timed(p.create(&c("c2"), &P)).await;
    r.expect("create");
    assert_eq!(took, Duration::from_millis(1500));

    let p = sim(
        dir,
        "c",
        json!({"emulates": "gcp", "latency": {"create": "250ms", "read": 0}}),
    );
    let (r, took) = timed(p.create(&c("c3"), &P)).await;
    r.expect("create");
    assert_eq!(took, Duration::from_millis(250));
    let (_, took) = timed(p.read(&c("c3"))).await;
    assert_eq!(took, Duration::ZERO);
    let (r, took) = timed(p.delete(&c("c3"), &P)).await;
    r.expect("delete");
    assert_eq!(
        took,
        Duration::from_secs(16),
        "unset operations keep the realistic default"
    );

    let scaled = SimOptions {
        latency_scale: 0.01,
        ..SimOptions::default()
    };
    let p = sim_with(dir, "d", json!({"emulates": "aws"}), scaled);
    let (r, took) = timed(p.create(&cluster("eks-x", "us-east-1"), &P)).await;
    r.expect("create");
    assert_eq!(took, Duration::from_millis(360), "36 s scaled by 0.01");

    let extra = SimOptions {
        extra_latency: Duration::from_millis(300),
        ..SimOptions::default()
    };
    let p = sim_with(dir, "e", json!({"emulates": "gcp", "latency": 0}), extra);
    let (r, took) = timed(p.create(&c("c5"), &P)).await;
    r.expect("create");
    assert_eq!(took, Duration::from_millis(300));
    let (_, took) = timed(p.read(&c("c5"))).await;
    assert_eq!(took, Duration::from_millis(300), "added to every call");
}

#[tokio::test(start_paused = true)]
async fn progress_reports_the_provisioning_states() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = sim(
        tmp.path(),
        "aws",
        json!({"emulates": "aws", "latency": "1s"}),
    );
    let c = cluster("eks-x", "us-east-1");
    let rec = Recorder::default();
    p.create(&c, &rec).await.expect("create");
    let mut up = c.clone();
    up.attrs.insert("labels".into(), json!({"a": "b"}));
    p.update(&up, &["labels".into()], &rec)
        .await
        .expect("update");
    p.create(&zone("example.com"), &rec).await.expect("zone");
    p.create(
        &record(
            "www.example.com",
            &serde_json::Value::Null,
            &json!("192.0.2.1"),
            json!({"zone": "example.com"}),
        ),
        &rec,
    )
    .await
    .expect("record");
    p.delete(&up, &rec).await.expect("delete");
    assert_eq!(
        rec.messages(),
        [
            "PROVISIONING",
            "UPDATING",
            "PROVISIONING",
            "PROVISIONING: waiting for INSYNC",
            "DELETING"
        ]
    );
}

/// The reference demo with realistic latencies and enough parallelism: about a minute.
#[tokio::test(start_paused = true)]
async fn the_reference_demo_applies_in_about_a_minute() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Build the specs once with no latency, then destroy, to know every spec.
    let specs: Vec<ResourceSpec> = {
        let (gcp, aws, azure) = fast_clouds(tmp.path());
        let made = build_demo(&gcp, &aws, &azure).await;
        for s in made.iter().rev() {
            aws.delete(s, &P).await.expect("delete");
        }
        made
    };
    let clouds = [
        Arc::new(sim(tmp.path(), "gcp", json!({"emulates": "gcp"}))),
        Arc::new(sim(tmp.path(), "aws", json!({"emulates": "aws"}))),
        Arc::new(sim(tmp.path(), "azure", json!({"emulates": "azure"}))),
    ];
    // Each resource goes to its cloud, as the engine would route it.
    let cloud_of = |s: &ResourceSpec| match s.address.kind {
        ResourceKind::DnsZone | ResourceKind::HealthCheck | ResourceKind::DnsRecord => {
            clouds[1].clone()
        }
        _ => clouds[["gke", "eks", "aks"]
            .iter()
            .position(|f| s.cloud_name.starts_with(f))
            .expect("flavor")]
        .clone(),
    };
    let by_prefix = |prefixes: &[&str]| -> Vec<ResourceSpec> {
        specs
            .iter()
            .filter(|s| {
                prefixes
                    .iter()
                    .any(|p| s.address.to_string().starts_with(p))
            })
            .cloned()
            .collect()
    };
    let levels = [
        by_prefix(&["cluster.", "dns_zone."]),
        by_prefix(&["node_pool.", "federation_host.", "health_check."]),
        by_prefix(&["federation_member.", "dns_record."]),
    ];
    let start = Instant::now();
    for level in levels {
        let mut set = tokio::task::JoinSet::new();
        for s in level {
            let p = cloud_of(&s);
            set.spawn(async move {
                p.create(&s, &NoProgress)
                    .await
                    .map(|o| (s.address, o.status))
            });
        }
        while let Some(r) = set.join_next().await {
            let (addr, status) = r.expect("joined").expect("created");
            assert_eq!(status, ResourceStatus::Ready, "{addr}");
        }
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(30) && took <= Duration::from_secs(75),
        "{took:?}"
    );
}

/// Latency 0: no sleeping, no timers, cheap persistence.
#[tokio::test(start_paused = true)]
async fn zero_latency_is_fast_and_registers_no_timers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = SimProvider::with_options(
        "local",
        &values(json!({"latency": 0})),
        &ctx(tmp.path(), false),
        SimOptions::default(),
    )
    .expect("provider");
    let specs: Vec<ResourceSpec> = (0..1000)
        .map(|i| spec(&format!("data.layer-{i}"), json!({"n": i, "s": "x"})))
        .collect();
    let virtual_start = Instant::now();
    for s in &specs {
        p.create(s, &P).await.expect("create");
    }
    for s in &specs {
        assert!(p.read(s).await.expect("read").is_some());
    }
    // With the clock paused, any sleep would have moved virtual time. (How fast this
    // is on a real clock is `make bench`'s business, not a test's.)
    assert_eq!(virtual_start.elapsed(), Duration::ZERO, "no timer was used");
    let lines = std::fs::read_to_string(p.world_path())
        .expect("world")
        .lines()
        .count();
    assert_eq!(lines, 1001, "one line per create");
}
