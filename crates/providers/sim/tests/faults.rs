//! Fault injection: failing address patterns and throttling.

mod common;

use common::*;
use fedstack_provider::{ErrorClass, NoProgress, Provider};
use fedstack_provider_sim::{FailRule, SimOperation, SimOptions};
use serde_json::json;

const P: NoProgress = NoProgress;

#[tokio::test]
async fn failing_patterns_fail_matching_calls_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let options = SimOptions {
        fail: vec![
            FailRule {
                pattern: "cluster.eks-*".into(),
                operation: Some(SimOperation::Create),
            },
            FailRule {
                pattern: "dns_record.*/green".into(),
                operation: None,
            },
        ],
        ..SimOptions::default()
    };
    let aws = sim_with(
        tmp.path(),
        "aws",
        json!({"emulates": "aws", "latency": 0}),
        options,
    );
    let eks = cluster("eks-saopaulo", "sa-east-1");
    let e = err(aws.create(&eks, &P).await);
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("injected failure"), "{}", e.message);
    assert_eq!(
        aws.read(&eks).await.expect("read fine"),
        None,
        "nothing was made"
    );

    let other = cluster("prod-eks", "sa-east-1");
    aws.create(&other, &P)
        .await
        .expect("does not match the pattern");
    aws.delete(&other, &P)
        .await
        .expect("delete is not a failing operation");

    let z = aws
        .create(&zone("fedstack.example.com"), &P)
        .await
        .expect("zone");
    let green = record(
        "shop.fedstack.example.com/green",
        &z.outputs["id"],
        &json!("203.0.113.1"),
        json!({"routing": "weighted", "set_id": "green", "weight": 0}),
    );
    assert_eq!(class(aws.create(&green, &P).await), ErrorClass::Permanent);
    assert_eq!(
        class(aws.read(&green).await),
        ErrorClass::Permanent,
        "every operation"
    );
    assert_eq!(
        class(aws.wait_ready(&green, &P).await),
        ErrorClass::Permanent
    );
    let blue = record(
        "shop.fedstack.example.com/blue",
        &z.outputs["id"],
        &json!("203.0.113.1"),
        json!({"routing": "weighted", "set_id": "blue", "weight": 100}),
    );
    aws.create(&blue, &P).await.expect("blue is fine");
}

#[tokio::test]
async fn throttling_fails_mutations_before_they_happen() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let always = SimOptions {
        throttle: 1.0,
        ..SimOptions::default()
    };
    let throttled = sim_with(
        tmp.path(),
        "gcp",
        json!({"emulates": "gcp", "latency": 0}),
        always,
    );
    let normal = sim(tmp.path(), "gcp2", json!({"emulates": "gcp", "latency": 0}));
    let c = cluster("gke-sydney", "australia-southeast1");
    let e = err(throttled.create(&c, &P).await);
    assert_eq!(e.class, ErrorClass::Throttled);
    assert_eq!(e.message, "Rate exceeded");
    assert!(e.class.is_retryable());
    assert_eq!(
        throttled.read(&c).await.expect("reads are not throttled"),
        None
    );
    normal.create(&c, &P).await.expect("create");
    assert_eq!(
        class(throttled.update(&c, &[], &P).await),
        ErrorClass::Throttled
    );
    assert_eq!(class(throttled.delete(&c, &P).await), ErrorClass::Throttled);
    assert!(
        normal.read(&c).await.expect("read").is_some(),
        "the throttled delete did nothing"
    );

    // A fraction throttles about that fraction.
    let half = SimOptions {
        throttle: 0.5,
        ..SimOptions::default()
    };
    let p = sim_with(tmp.path(), "local", json!({"latency": 0}), half);
    let mut throttled_count = 0;
    for i in 0..400 {
        match p.create(&spec(&format!("data.d{i}"), json!({})), &P).await {
            Ok(_) => {}
            Err(e) if e.class == ErrorClass::Throttled => throttled_count += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        (120..=280).contains(&throttled_count),
        "{throttled_count} of 400"
    );
}
