//! Bad input: one clear line, location and hint; never a panic or a debug dump.

use crate::common::{Env, Run};

#[test]
fn missing_stack_file_is_one_line_with_a_hint() {
    let env = Env::new();
    let r = env.run(&["plan"]).code(1).clean();
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("error: cannot read stack file stack.yaml: no such file (hint: "),
        "{}",
        r.stderr
    );
}

#[test]
fn unknown_field_reports_location_and_suggestion() {
    let env = Env::with_stack("name: s\nclouds:\n  sim:\n    provider: sim\nclusters:\n  a:\n    cloud: sim\n    regoin: us-central1\n    kubernetes_version: \"1.31\"\n");
    let r = env.run(&["validate"]).code(1).clean();
    assert!(r.stderr.contains("stack.yaml:8:5: "), "{}", r.stderr);
    assert!(r.stderr.contains("regoin"), "{}", r.stderr);
    assert!(r.stderr.contains("region"), "{}", r.stderr);
}

#[test]
fn yaml_syntax_error_is_located() {
    let env = Env::with_stack("name: s\nclouds: [unclosed\n");
    let r = env.run(&["plan"]).code(1).clean();
    assert!(r.stderr.starts_with("error: stack.yaml:"), "{}", r.stderr);
}

#[test]
fn the_reference_three_cloud_stack_plans_from_scratch_without_credentials() {
    // Nothing is recorded yet, so a first plan reads no cloud: every provider of
    // stacks/multicloud.yaml is in this build and only credentials stand between it and
    // an apply.
    let env = Env::with_stack(&crate::common::reference_stack("multicloud.yaml"));
    env.run(&["validate"]).success();
    let r = env.run(&["plan"]).success().clean();
    assert!(
        r.stdout
            .contains("Plan: 27 to add, 0 to change, 0 to destroy."),
        "{}",
        r.stdout
    );
}

#[test]
fn apply_without_a_terminal_refuses_without_auto_approve() {
    let env = Env::multicloud(0.0);
    let r = env.run(&["apply"]).code(1).clean();
    assert!(
        r.stderr.contains(
            "refusing to perform these actions without confirmation: no terminal to ask on"
        ),
        "{}",
        r.stderr
    );
    assert!(env.sim_addresses().is_empty(), "nothing may be created");
}

#[test]
fn unknown_target_is_an_error() {
    let env = Env::multicloud(0.0);
    let r = env
        .run(&["plan", "--target", "cluster.nope"])
        .code(1)
        .clean();
    assert!(
        r.stderr
            .contains("--target cluster.nope matches no resource"),
        "{}",
        r.stderr
    );
}

#[test]
fn corrupt_plan_file_is_refused_with_location() {
    let env = Env::multicloud(0.0);
    std::fs::write(
        env.path().join("bad.plan"),
        "{\"format_version\": 1,\n \"stack\": 3}",
    )
    .expect("write");
    let r: Run = env.run(&["apply", "bad.plan"]).code(1).clean();
    assert!(r.stderr.contains("bad.plan:2:"), "{}", r.stderr);
}

#[test]
fn bad_address_in_state_show() {
    let env = Env::multicloud(0.0);
    let r = env.run(&["state", "show", "clusterx"]).code(1).clean();
    assert!(r.stderr.contains("is not an address"), "{}", r.stderr);
}
