//! Snapshot tests of plan output (refresh with `INSTA_UPDATE=always cargo test`).

use crate::common::Env;

#[test]
fn plan_of_the_reference_stack_from_scratch() {
    let env = Env::multicloud(0.0);
    let r = env.run(&["plan"]).success();
    insta::assert_snapshot!("multicloud_sim_plan", r.stdout);
}

#[test]
fn plan_after_drift_and_a_stack_change() {
    let env = Env::multicloud(0.0);
    env.apply();
    env.run(&[
        "sim",
        "set",
        "cluster.gke-sydney",
        "kubernetes_version=\"1.30\"",
    ])
    .success();
    env.run(&["sim", "delete", "health_check.toronto-https"])
        .success();
    env.write_stack(
        &env.read_stack()
            .replace(
                "members: [gke-sydney, eks-saopaulo, aks-toronto]",
                "members: [gke-sydney, eks-saopaulo]",
            )
            .replace(", aks-toronto: 1 }", " }")
            .replace("ttl: 30", "ttl: 20"),
    );
    let r = env.run(&["plan"]).success();
    insta::assert_snapshot!("multicloud_sim_drift_plan", r.stdout);
}

#[test]
fn plan_json_is_versioned() {
    let env = Env::multicloud(0.0);
    let r = env.run(&["--json", "plan"]).success();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["summary"]["add"], 24);
    assert_eq!(v["changes"][0]["action"], "create");
}
