//! Reality changed behind fedstack's back: plan shows it, apply repairs it.

use crate::common::Env;

#[test]
fn changed_attribute_is_shown_and_repaired() {
    let env = Env::multicloud(0.0);
    env.apply();
    env.run(&[
        "sim",
        "set",
        "node_pool.eks-saopaulo.default",
        "node_count=7",
    ])
    .success();
    let plan = env.run(&["plan", "--detailed-exitcode"]).code(2);
    assert!(
        plan.stdout.contains(
            "# node_pool.eks-saopaulo.default will be updated in place (changed outside fedstack)"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("~ node_count = 7 -> 3"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    // Without refresh the state alone says nothing changed.
    env.run(&["plan", "--detailed-exitcode", "--refresh=false"])
        .code(0);
    env.apply();
    env.run(&["plan", "--detailed-exitcode"]).code(0);
}

#[test]
fn deleted_resource_is_recreated() {
    let env = Env::multicloud(0.0);
    env.apply();
    env.run(&[
        "sim",
        "delete",
        "dns_record.shop.fedstack.example.com/green",
    ])
    .success();
    let plan = env.run(&["plan", "--detailed-exitcode"]).code(2);
    assert!(plan.stdout.contains("# dns_record.shop.fedstack.example.com/green will be created (was deleted outside fedstack)"), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    env.apply();
    env.run(&["plan", "--detailed-exitcode"]).code(0);
}

#[test]
fn failed_cluster_is_replaced_with_its_dependents() {
    let env = Env::multicloud(0.0);
    env.apply();
    env.run(&["sim", "set", "cluster.aks-toronto", "status=failed"])
        .success();
    let plan = env.run(&["plan"]).success();
    assert!(
        plan.stdout
            .contains("# cluster.aks-toronto must be replaced (is in a failed state"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("# node_pool.aks-toronto.default must be replaced (refers to cluster.aks-toronto, which is replaced)"), "{}", plan.stdout);
    let r = env.apply();
    assert!(r.stdout.contains("Apply complete!"), "{}", r.stdout);
    env.run(&["plan", "--detailed-exitcode"]).code(0);
    assert_eq!(env.sim_addresses(), env.state_addresses());
}

#[test]
fn a_stack_change_updates_in_place_or_replaces() {
    let env = Env::multicloud(0.0);
    env.apply();
    let stack = env.read_stack();
    env.write_stack(&stack.replace(
        "blue: { cluster: gke-sydney, weight: 100",
        "blue: { cluster: gke-sydney, weight: 90",
    ));
    let plan = env.run(&["plan"]).success();
    assert!(
        plan.stdout.contains("~ weight = 100 -> 90"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    env.apply();
    env.write_stack(
        &env.read_stack()
            .replace("machine_type: m5.large", "machine_type: m5.xlarge"),
    );
    let plan = env.run(&["plan"]).success();
    assert!(
        plan.stdout
            .contains("~ machine_type = \"m5.large\" -> \"m5.xlarge\" # forces replacement"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 1 to add, 0 to change, 1 to destroy."),
        "{}",
        plan.stdout
    );
    env.apply();
    env.run(&["plan", "--detailed-exitcode"]).code(0);
}
