//! The world file: persistence across reopen, crash semantics, shared worlds, secrets,
//! read-only opens.

mod common;

use std::time::Duration;

use common::*;
use fedstack_provider::{ErrorClass, NoProgress, Provider, ResourceStatus};
use fedstack_provider_sim::{SimOptions, SimProvider};
use serde_json::json;

const P: NoProgress = NoProgress;

#[tokio::test]
async fn the_world_survives_reopening() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (made, before) = {
        let (gcp, aws, azure) = fast_clouds(tmp.path());
        let made = build_demo(&gcp, &aws, &azure).await;
        let mut before = Vec::new();
        for s in &made {
            before.push(gcp.read(s).await.expect("read").expect("exists"));
        }
        // Delete one so the log holds a del.
        aws.delete(&made[made.len() - 1], &P).await.expect("delete");
        gcp.finish().await.expect("finish");
        (made, before)
    };
    // Every provider dropped: the world is closed. A new one loads it from the file.
    let p = sim(tmp.path(), "later", json!({"latency": 0}));
    for (s, b) in made.iter().zip(&before).take(made.len() - 1) {
        let o = p.read(s).await.expect("read").expect("still exists");
        assert_eq!(
            &o, b,
            "{}: same attrs, outputs, secrets and status",
            s.address
        );
    }
    assert_eq!(p.read(&made[made.len() - 1]).await.expect("read"), None);
    let world = std::fs::read_to_string(p.world_path()).expect("world file");
    assert!(
        world.starts_with("{\"op\":\"format\",\"version\":1}\n"),
        "{world}"
    );
    assert!(world.contains("{\"op\":\"del\",\"key\":\"dns_record.www.fedstack.example.com\"}"));
}

#[tokio::test]
async fn clouds_of_one_process_share_one_world() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let gcp = sim(tmp.path(), "gcp", json!({"emulates": "gcp", "latency": 0}));
    let aws = sim(tmp.path(), "aws", json!({"emulates": "aws", "latency": 0}));
    assert_eq!(gcp.world_path(), aws.world_path());
    let c = cluster("gke-sydney", "australia-southeast1");
    let o = gcp.create(&c, &P).await.expect("create");
    assert_eq!(
        aws.read(&c).await.expect("read"),
        Some(o),
        "the other cloud sees it at once"
    );
    // The same state dir reached through another path is the same world.
    let other_path = tmp
        .path()
        .join(".")
        .join("..")
        .join(tmp.path().file_name().expect("name"));
    let third = sim(&other_path, "azure", json!({"latency": 0}));
    assert!(third.read(&c).await.expect("read").is_some());
    // Another state dir is another world.
    let tmp2 = tempfile::tempdir().expect("tempdir");
    let elsewhere = sim(tmp2.path(), "gcp", json!({"emulates": "gcp", "latency": 0}));
    assert_eq!(elsewhere.read(&c).await.expect("read"), None);
}

#[tokio::test(start_paused = true)]
async fn a_create_dropped_mid_wait_leaves_a_pending_object_that_becomes_ready() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let c = cluster("eks-saopaulo", "sa-east-1");
    {
        let aws = sim(tmp.path(), "aws", json!({"emulates": "aws"}));
        let r = tokio::time::timeout(Duration::from_secs(5), aws.create(&c, &P)).await;
        assert!(r.is_err(), "the create was still waiting (EKS takes 36 s)");
    }
    // "Another run": a fresh world loaded from the file.
    let aws = sim(tmp.path(), "aws", json!({"emulates": "aws"}));
    let o = aws
        .read(&c)
        .await
        .expect("read")
        .expect("the cluster exists");
    assert_eq!(o.status, ResourceStatus::Pending("PROVISIONING".into()));
    assert_eq!(o.outputs["status"], "CREATING");
    let start = tokio::time::Instant::now();
    let rec = Recorder::default();
    let o = aws.wait_ready(&c, &rec).await.expect("wait_ready");
    assert_eq!(o.status, ResourceStatus::Ready);
    // 36 s in all: 5 s before the crash, 50 ms of read, the rest now.
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(30_900) && waited <= Duration::from_millis(31_000),
        "{waited:?}"
    );
    assert_eq!(rec.messages(), ["PROVISIONING"]);
    assert_eq!(
        aws.read(&c).await.expect("read").expect("exists").outputs["status"],
        "ACTIVE"
    );
}

#[tokio::test(start_paused = true)]
async fn a_delete_dropped_mid_wait_completes_on_its_own() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let c = cluster("gke-sydney", "australia-southeast1");
    {
        let gcp = sim(
            tmp.path(),
            "gcp",
            json!({"emulates": "gcp", "latency": {"create": 0, "delete": "10s", "read": 0}}),
        );
        gcp.create(&c, &P).await.expect("create");
        let r = tokio::time::timeout(Duration::from_secs(2), gcp.delete(&c, &P)).await;
        assert!(r.is_err());
    }
    let gcp = sim(tmp.path(), "gcp", json!({"emulates": "gcp", "latency": 0}));
    assert_eq!(
        gcp.read(&c).await.expect("read").expect("exists").status,
        ResourceStatus::Deleting
    );
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        gcp.read(&c).await.expect("read"),
        None,
        "gone once delete_at passed"
    );
    let world = std::fs::read_to_string(gcp.world_path()).expect("world");
    assert!(
        world.ends_with("{\"op\":\"del\",\"key\":\"cluster.gke-sydney\"}\n"),
        "purged lazily: {world}"
    );
}

#[tokio::test]
async fn secrets_never_reach_the_world_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (gcp, aws, azure) = fast_clouds(tmp.path());
    let made = build_demo(&gcp, &aws, &azure).await;
    let mut secrets = Vec::new();
    for s in &made {
        let o = gcp.read(s).await.expect("read").expect("exists");
        secrets.extend(o.secrets.into_values());
    }
    assert_eq!(
        secrets.len(),
        3 + 3,
        "three admin tokens, three member tokens"
    );
    let world = std::fs::read_to_string(gcp.world_path()).expect("world");
    let seed = std::fs::read_to_string(tmp.path().join(".sim/seed")).expect("seed");
    assert!(world.contains("gke-sydney"), "the file is the world");
    for secret in &secrets {
        assert!(
            !world.contains(secret.as_str()),
            "a secret is in the world file"
        );
        assert!(!seed.contains(secret.as_str()));
    }
    assert!(
        !world.contains("admin_token") && !world.contains("\"token\""),
        "{world}"
    );
}

#[tokio::test]
async fn read_only_clouds_read_but_never_write() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let c = cluster("gke-sydney", "australia-southeast1");
    {
        let ro = SimProvider::with_options(
            "gcp",
            &values(json!({"emulates": "gcp", "latency": 0})),
            &ctx(tmp.path(), true),
            SimOptions::default(),
        )
        .expect("read-only provider");
        assert_eq!(ro.read(&c).await.expect("read"), None);
        assert!(
            !tmp.path().join(".sim").exists(),
            "a plan on a fresh state dir creates nothing"
        );
        let e = err(ro.create(&c, &P).await);
        assert_eq!(e.class, ErrorClass::Permanent);
        assert!(e.message.contains("read-only"), "{}", e.message);
    }
    let made = {
        let gcp = sim(tmp.path(), "gcp", json!({"emulates": "gcp", "latency": 0}));
        gcp.create(&c, &P).await.expect("create")
    };
    let ro = SimProvider::with_options(
        "gcp",
        &values(json!({"emulates": "gcp", "latency": 0})),
        &ctx(tmp.path(), true),
        SimOptions::default(),
    )
    .expect("read-only provider");
    assert_eq!(ro.read(&c).await.expect("read"), Some(made));
    assert_eq!(class(ro.delete(&c, &P).await), ErrorClass::Permanent);
    // A writer in the same process takes the world over from the reader.
    let rw = sim(tmp.path(), "gcp", json!({"emulates": "gcp", "latency": 0}));
    rw.delete(&c, &P).await.expect("delete");
    assert_eq!(
        ro.read(&c).await.expect("read"),
        None,
        "shared: the reader sees it"
    );
}

#[tokio::test]
async fn finish_compacts_a_log_much_larger_than_the_world() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = sim(tmp.path(), "local", json!({"latency": 0}));
    for i in 0..200 {
        let s = spec(&format!("data.d{i}"), json!({"i": i}));
        p.create(&s, &P).await.expect("create");
        if i >= 5 {
            p.delete(&s, &P).await.expect("delete");
        }
    }
    let lines = |p: &SimProvider| {
        std::fs::read_to_string(p.world_path())
            .expect("world")
            .lines()
            .count()
    };
    assert_eq!(lines(&p), 1 + 200 + 195);
    p.finish().await.expect("finish");
    assert_eq!(lines(&p), 1 + 5, "one put per live object");
    let s = spec("data.d1", json!({"i": 1}));
    assert!(p.read(&s).await.expect("read").is_some());
    p.create(&spec("data.after", json!({})), &P)
        .await
        .expect("appends after compaction");
    drop(p);
    let p = sim(tmp.path(), "local", json!({"latency": 0}));
    assert!(p
        .read(&spec("data.after", json!({})))
        .await
        .expect("read")
        .is_some());
    assert_eq!(lines(&p), 1 + 6);
}
