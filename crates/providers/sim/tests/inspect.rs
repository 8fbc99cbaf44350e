//! `fedstack sim list | delete | set`: looking at and changing the world behind
//! fedstack's back.

mod common;

use std::fs::File;
use std::time::Duration;

use common::*;
use fedstack_provider::{ErrorClass, NoProgress, Provider, ResourceStatus};
use fedstack_provider_sim::{delete, list, set, SimError};
use serde_json::json;

const P: NoProgress = NoProgress;

#[tokio::test]
async fn list_shows_every_object_in_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    assert_eq!(list(tmp.path()).expect("empty world"), vec![]);
    let (gcp, aws, azure) = fast_clouds(tmp.path());
    let made = build_demo(&gcp, &aws, &azure).await;
    let views = list(tmp.path()).expect("list");
    assert_eq!(views.len(), made.len());
    let addresses: Vec<&str> = views.iter().map(|v| v.address.as_str()).collect();
    assert_eq!(
        &addresses[..4],
        [
            "cluster.aks-toronto",
            "cluster.eks-saopaulo",
            "cluster.gke-sydney",
            "node_pool.aks-toronto.default"
        ]
    );
    assert_eq!(
        addresses.last(),
        Some(&"dns_record.www.fedstack.example.com")
    );
    let eks = &views[1];
    assert_eq!(
        (
            eks.account.as_str(),
            eks.flavor.as_str(),
            eks.status.as_str()
        ),
        ("aws", "eks", "READY")
    );
    assert_eq!(eks.attrs["region"], "sa-east-1");
    assert_eq!(eks.outputs["status"], "ACTIVE");
    assert!(views
        .iter()
        .all(|v| !v.outputs.contains_key("admin_token") && !v.outputs.contains_key("token")));
    let hc = views
        .iter()
        .find(|v| v.address.starts_with("health_check."))
        .expect("hc");
    assert_eq!(hc.flavor, "route53");
}

#[tokio::test]
async fn list_works_while_another_process_holds_the_world() {
    let tmp = tempfile::tempdir().expect("tempdir");
    {
        let gcp = sim(tmp.path(), "gcp", json!({"emulates": "gcp", "latency": 0}));
        gcp.create(&cluster("gke-sydney", "australia-southeast1"), &P)
            .await
            .expect("create");
    }
    // Stand-in for another fedstack process in the middle of an apply.
    let lock = File::options()
        .read(true)
        .write(true)
        .open(tmp.path().join(".sim/lock"))
        .expect("lock file");
    lock.lock().expect("exclusive lock");
    let views = list(tmp.path()).expect("list without the lock");
    assert_eq!(views.len(), 1);
    drop(lock);
}

#[tokio::test]
async fn delete_removes_at_once_with_what_lived_inside() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (gcp, aws, azure) = fast_clouds(tmp.path());
    let made = build_demo(&gcp, &aws, &azure).await;
    let removed = delete(tmp.path(), "cluster.gke-sydney").expect("delete");
    assert_eq!(
        removed,
        [
            "federation_member.aks-toronto",
            "federation_member.eks-saopaulo",
            "federation_member.gke-sydney",
            "federation_host.gke-sydney",
            "node_pool.gke-sydney.default",
            "cluster.gke-sydney",
        ]
    );
    for s in &made {
        let gone = removed.contains(&s.address.to_string());
        assert_eq!(
            gcp.read(s).await.expect("read").is_none(),
            gone,
            "{}",
            s.address
        );
    }
    assert_eq!(
        delete(tmp.path(), "cluster.gke-sydney"),
        Err(SimError::NotFound("cluster.gke-sydney".into()))
    );
    assert!(matches!(
        delete(tmp.path(), "clusters.x"),
        Err(SimError::BadAddress(_))
    ));
    // fedstack's own delete of what vanished is fine, and it can be created again.
    gcp.delete(&made[0], &P)
        .await
        .expect("already gone is success");
    gcp.create(&made[0], &P).await.expect("recreate");
    let tmp2 = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        delete(tmp2.path(), "cluster.x"),
        Err(SimError::NotFound(_))
    ));
    assert!(!tmp2.path().join(".sim").exists());
}

#[tokio::test]
async fn set_drifts_attributes_and_rotates_secrets() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (gcp, aws, azure) = fast_clouds(tmp.path());
    let made = build_demo(&gcp, &aws, &azure).await;
    let pool = &made[1];
    let before = gcp.read(pool).await.expect("read").expect("exists");
    let v = set(
        tmp.path(),
        "node_pool.gke-sydney.default",
        "node_count",
        "5",
    )
    .expect("set");
    assert_eq!(v.attrs["node_count"], 5);
    let after = gcp.read(pool).await.expect("read").expect("exists");
    assert_eq!(after.attrs["node_count"], 5, "drift shows in reads");
    assert_eq!(after.outputs, before.outputs);

    let c = &made[0];
    let token = gcp.read(c).await.expect("read").expect("exists").secrets["admin_token"].clone();
    set(
        tmp.path(),
        "cluster.gke-sydney",
        "kubernetes_version",
        "1.32",
    )
    .expect("set");
    let o = gcp.read(c).await.expect("read").expect("exists");
    assert_eq!(o.attrs["kubernetes_version"], "1.32", "kept as a string");
    assert_ne!(
        o.secrets["admin_token"], token,
        "a changed attribute rotates credentials"
    );
    let token = o.secrets["admin_token"].clone();
    set(tmp.path(), "cluster.gke-sydney", "admin_token", "rotate").expect("rotate");
    assert_ne!(
        gcp.read(c).await.expect("read").expect("exists").secrets["admin_token"],
        token
    );

    let m = &made[8];
    let t = aws.read(m).await.expect("read").expect("exists").secrets["token"].clone();
    set(
        tmp.path(),
        "federation_member.eks-saopaulo",
        "token",
        "rotate",
    )
    .expect("rotate");
    assert_ne!(
        aws.read(m).await.expect("read").expect("exists").secrets["token"],
        t
    );

    // Refused: invalid values, outputs, replacement attributes, unknown objects.
    for (addr, key, value) in [
        ("node_pool.gke-sydney.default", "node_count", "-1"),
        ("node_pool.gke-sydney.default", "machine_type", "m5.large"),
        ("cluster.gke-sydney", "region", "us-central1"),
        ("cluster.gke-sydney", "endpoint", "https://1.2.3.4"),
        ("cluster.gke-sydney", "status", "sleepy"),
        ("cluster.gke-sydney", "healthy", "false"),
        ("federation_member.eks-saopaulo", "token", "hunter2"),
        ("health_check.sydney-https", "healthy", "maybe"),
    ] {
        let e = set(tmp.path(), addr, key, value).expect_err(&format!("{addr} {key}={value}"));
        assert!(matches!(e, SimError::Invalid(_)), "{e}");
        assert!(!e.to_string().contains('\n'), "one line: {e}");
    }
    assert!(matches!(
        set(tmp.path(), "cluster.nope", "status", "failed"),
        Err(SimError::NotFound(_))
    ));
}

#[tokio::test]
async fn set_health_and_status() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (gcp, aws, azure) = fast_clouds(tmp.path());
    let made = build_demo(&gcp, &aws, &azure).await;
    let hc = &made[11];
    set(tmp.path(), "health_check.sydney-https", "healthy", "false").expect("unhealthy");
    assert_eq!(
        aws.read(hc).await.expect("read").expect("exists").outputs["healthy"],
        false
    );
    set(tmp.path(), "health_check.sydney-https", "healthy", "true").expect("healthy");
    assert_eq!(
        aws.read(hc).await.expect("read").expect("exists").outputs["healthy"],
        true
    );

    let c = &made[2];
    let v = set(tmp.path(), "cluster.eks-saopaulo", "status", "failed").expect("fail it");
    assert_eq!(v.status, "FAILED: FAILED");
    let o = aws.read(c).await.expect("read").expect("exists");
    assert_eq!(o.status, ResourceStatus::Failed("FAILED".into()));
    assert_eq!(o.outputs["status"], "FAILED");
    let e = err(aws.update(c, &[], &P).await);
    assert_eq!(e.class, ErrorClass::Permanent);
    assert_eq!(class(aws.wait_ready(c, &P).await), ErrorClass::Permanent);
    set(
        tmp.path(),
        "cluster.eks-saopaulo",
        "status",
        "failed:quota exceeded",
    )
    .expect("fail it");
    assert_eq!(
        aws.read(c).await.expect("read").expect("exists").status,
        ResourceStatus::Failed("FAILED: quota exceeded".into())
    );
    set(tmp.path(), "cluster.eks-saopaulo", "status", "ready").expect("heal");
    assert_eq!(
        aws.read(c).await.expect("read").expect("exists").status,
        ResourceStatus::Ready
    );
}

#[tokio::test(start_paused = true)]
async fn a_failure_while_creating_fails_the_create() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let gcp = std::sync::Arc::new(sim(tmp.path(), "gcp", json!({"emulates": "gcp"})));
    let c = cluster("gke-sydney", "australia-southeast1");
    let creating = tokio::spawn({
        let (gcp, c) = (gcp.clone(), c.clone());
        async move { gcp.create(&c, &NoProgress).await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let v = list(tmp.path()).expect("list");
    assert_eq!(v[0].status, "PROVISIONING");
    set(tmp.path(), "cluster.gke-sydney", "status", "failed").expect("fail");
    // The waiting create notices when it next wakes.
    let e = creating.await.expect("joined").expect_err("failed");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message.contains("cluster.gke-sydney failed: ERROR"),
        "{}",
        e.message
    );
    gcp.delete(&c, &P)
        .await
        .expect("a failed cluster can be deleted");
}
