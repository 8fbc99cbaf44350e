//! `SimProvider::new` reads the fault-injection environment once, at construction.
//! (Alone in its test binary: it changes the process environment.)

mod common;

use common::*;
use fedstack_provider::{ErrorClass, NoProgress, Provider};
use fedstack_provider_sim::SimProvider;
use serde_json::json;

#[tokio::test]
async fn the_environment_configures_faults_and_latency() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let settings = values(json!({"emulates": "gcp", "latency": 0}));

    std::env::set_var("FEDSTACK_SIM_THROTTLE", "two");
    let e = SimProvider::new("gcp", &settings, &ctx(tmp.path(), false)).expect_err("bad variable");
    assert_eq!(e.class, ErrorClass::Invalid);
    assert!(e.message.contains("FEDSTACK_SIM_THROTTLE"), "{}", e.message);
    std::env::remove_var("FEDSTACK_SIM_THROTTLE");

    std::env::set_var("FEDSTACK_SIM_FAIL", "cluster.gke-*:create");
    let p = SimProvider::new("gcp", &settings, &ctx(tmp.path(), false)).expect("provider");
    std::env::remove_var("FEDSTACK_SIM_FAIL");
    let c = cluster("gke-sydney", "australia-southeast1");
    let e = err(p.create(&c, &NoProgress).await);
    assert!(
        e.message.contains("injected failure"),
        "read once, at construction: {}",
        e.message
    );
    let p = SimProvider::new("gcp", &settings, &ctx(tmp.path(), false)).expect("provider");
    p.create(&c, &NoProgress)
        .await
        .expect("no failure configured any more");
}
