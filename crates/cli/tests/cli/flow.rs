//! The main flows: apply, re-apply, targets, removing a member, saved plans, destroy.

use std::os::unix::fs::PermissionsExt;

use crate::common::Env;

#[test]
fn apply_then_no_changes_then_destroy_leaves_nothing() {
    let env = Env::multicloud(0.0);
    let declared = env.declared_addresses();
    assert_eq!(
        declared.len(),
        3 + 3 + 1 + 3 + 1 + 3 + 7 + 3,
        "{declared:?}"
    );

    let r = env.apply();
    assert!(
        r.stdout
            .contains("Plan: 24 to add, 0 to change, 0 to destroy."),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("cluster.eks-saopaulo: Creating..."),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("cluster.eks-saopaulo: Creation complete after"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Apply complete! Resources: 24 added, 0 changed, 0 destroyed."),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("host_endpoint = \"https://"),
        "{}",
        r.stdout
    );
    assert_eq!(env.state_addresses(), declared);
    assert_eq!(env.sim_addresses(), declared);

    let again = env.run(&["apply", "--auto-approve"]).success();
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    env.run(&["plan", "--detailed-exitcode"]).code(0);

    let d = env.run(&["destroy", "--auto-approve"]).success();
    assert!(
        d.stdout
            .contains("Destroy complete! Resources: 24 destroyed."),
        "{}",
        d.stdout
    );
    assert!(env.state_addresses().is_empty());
    assert!(env.sim_addresses().is_empty());
    let again = env.run(&["destroy", "--auto-approve"]).success();
    assert!(
        again.stdout.contains("No changes. Nothing to destroy."),
        "{}",
        again.stdout
    );
}

#[test]
fn create_cluster_then_configure_cluster_like_the_makefile() {
    let env = Env::multicloud(0.0);
    let r = env
        .run(&[
            "apply",
            "--auto-approve",
            "--target",
            "cluster.*",
            "--target",
            "node_pool.*",
        ])
        .success();
    assert!(
        r.stdout.contains("Apply complete! Resources: 6 added"),
        "{}",
        r.stdout
    );
    let state = env.state_addresses();
    assert!(
        state
            .iter()
            .all(|a| a.starts_with("cluster.") || a.starts_with("node_pool.")),
        "{state:?}"
    );
    let r = env.apply();
    assert!(
        r.stdout
            .contains("Apply complete! Resources: 18 added, 0 changed, 0 destroyed."),
        "{}",
        r.stdout
    );
    // make remove-federation-members
    let r = env
        .run(&[
            "destroy",
            "--auto-approve",
            "--target",
            "federation_member.*",
        ])
        .success();
    assert!(
        r.stdout
            .contains("Destroy complete! Resources: 6 destroyed."),
        "{}",
        r.stdout
    );
    assert!(!env
        .sim_addresses()
        .iter()
        .any(|a| a.starts_with("federation_member.")));
    assert!(env
        .sim_addresses()
        .contains(&"federation_host.gke-sydney".to_string()));
}

#[test]
fn removing_a_member_plans_exactly_its_unjoin() {
    let env = Env::multicloud(0.0);
    env.apply();
    // The member goes, and with it its share of the guestbook (its weight too: the
    // others' shares grow).
    let stack = env
        .read_stack()
        .replace(
            "members: [gke-sydney, eks-saopaulo, aks-toronto]",
            "members: [gke-sydney, eks-saopaulo]",
        )
        .replace(", aks-toronto: 1 }", " }");
    env.write_stack(&stack);
    let plan = env.run(&["plan", "--detailed-exitcode"]).code(2);
    assert!(
        plan.stdout
            .contains("# federation_member.aks-toronto will be destroyed (no longer in the stack)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(
            "# workload.aks-toronto.guestbook will be destroyed (no longer in the stack)"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 2 to change, 2 to destroy."),
        "{}",
        plan.stdout
    );
    let r = env.apply();
    assert!(
        r.stdout
            .contains("Apply complete! Resources: 0 added, 2 changed, 2 destroyed."),
        "{}",
        r.stdout
    );
    assert!(!env
        .sim_addresses()
        .contains(&"federation_member.aks-toronto".to_string()));
    assert!(env
        .sim_addresses()
        .contains(&"cluster.aks-toronto".to_string()));
    // And the lines back bring it back.
    env.write_stack(
        &stack
            .replace(
                "members: [gke-sydney, eks-saopaulo]",
                "members: [gke-sydney, eks-saopaulo, aks-toronto]",
            )
            .replace("eks-saopaulo: 1 }", "eks-saopaulo: 1, aks-toronto: 1 }"),
    );
    let r = env.apply();
    assert!(
        r.stdout
            .contains("Apply complete! Resources: 2 added, 2 changed, 0 destroyed."),
        "{}",
        r.stdout
    );
}

#[test]
fn saved_plan_applies_once_and_a_stale_one_is_refused() {
    let env = Env::multicloud(0.0);
    env.run(&["plan", "--out", "first.plan"]).success();
    let mode = std::fs::metadata(env.path().join("first.plan"))
        .expect("plan file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let r = env.run(&["apply", "first.plan"]).success();
    assert!(
        r.stdout.contains("Apply complete! Resources: 24 added"),
        "{}",
        r.stdout
    );
    let r = env.run(&["apply", "first.plan"]).code(1).clean();
    assert!(
        r.stderr.contains("the plan was made against state serial"),
        "{}",
        r.stderr
    );
}

#[test]
fn one_injected_failure_stops_only_its_dependents() {
    let mut env = Env::multicloud(0.0);
    env.var("FEDSTACK_SIM_FAIL", "cluster.eks-saopaulo:create");
    let r = env.run(&["apply", "--auto-approve"]).code(1);
    assert!(r.stdout.contains("1 resource failed:"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("  cluster.eks-saopaulo: injected failure"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "node_pool.eks-saopaulo.default: skipped because cluster.eks-saopaulo failed"
        ),
        "{}",
        r.stdout
    );
    let sim = env.sim_addresses();
    for independent in [
        "cluster.gke-sydney",
        "cluster.aks-toronto",
        "federation_member.aks-toronto",
        "dns_record.app.fedstack.example.com/sydney",
    ] {
        assert!(
            sim.contains(&independent.to_string()),
            "{independent} missing from {sim:?}"
        );
    }
    for blocked in [
        "cluster.eks-saopaulo",
        "node_pool.eks-saopaulo.default",
        "federation_member.eks-saopaulo",
        "dns_record.api.fedstack.example.com/primary",
    ] {
        assert!(
            !sim.contains(&blocked.to_string()),
            "{blocked} should not exist"
        );
    }
    assert_eq!(
        env.state_addresses(),
        sim,
        "the state records exactly what exists"
    );
    env.vars.clear();
    env.var("FEDSTACK_SIM_LATENCY_SCALE", "0");
    let r = env.apply();
    assert!(r.stdout.contains("Apply complete!"), "{}", r.stdout);
    env.run(&["plan", "--detailed-exitcode"]).code(0);
}

#[test]
fn throttling_is_retried_until_it_succeeds() {
    let mut env = Env::multicloud(0.0);
    env.var("FEDSTACK_SIM_THROTTLE", "0.3")
        .var("FEDSTACK_RETRY_BASE_DELAY", "1ms");
    let r = env.apply();
    assert!(
        r.stdout.contains("Rate exceeded (attempt 1; retrying in"),
        "{}",
        r.stdout
    );
    env.vars.retain(|(k, _)| k != "FEDSTACK_SIM_THROTTLE");
    env.run(&["plan", "--detailed-exitcode"]).code(0);
}

#[test]
fn json_progress_is_one_versioned_event_per_line() {
    let env = Env::multicloud(0.0);
    let r = env.run(&["--json", "apply", "--auto-approve"]).success();
    let mut types = Vec::new();
    for line in r.stdout.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"));
        assert_eq!(v["v"], 1, "{line}");
        types.push(v["type"].as_str().unwrap_or("").to_string());
    }
    assert_eq!(types.first().map(String::as_str), Some("apply_start"));
    assert_eq!(types.last().map(String::as_str), Some("apply_done"));
    assert_eq!(types.iter().filter(|t| *t == "step_done").count(), 24);
}

#[test]
fn state_files_are_private_and_hold_no_secrets() {
    let env = Env::multicloud(0.0);
    env.apply();
    let dir = env.path().join("state/multicloud-sim");
    for entry in std::fs::read_dir(&dir).expect("state dir") {
        let entry = entry.expect("entry");
        let mode = entry.metadata().expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", entry.path().display());
    }
    let snapshot = std::fs::read_to_string(dir.join("snapshot.json")).expect("snapshot");
    let v: serde_json::Value = serde_json::from_str(&snapshot).expect("json");
    let member = &v["resources"]["federation_member.eks-saopaulo"];
    let token = member["sensitive"]["token"]
        .as_str()
        .expect("token fingerprint");
    assert!(token.starts_with("sha256:"), "{token}");
    assert!(member["outputs"].get("token").is_none());
}

#[test]
fn outputs_are_printed_from_the_state() {
    let env = Env::multicloud(0.0);
    env.apply();
    let r = env.run(&["output", "host_endpoint", "--raw"]).success();
    assert!(r.stdout.starts_with("https://"), "{}", r.stdout);
    let r = env.run(&["output", "nope"]).code(1).clean();
    assert!(
        r.stderr
            .contains("no output named `nope` (hint: outputs are: app_fqdn, host_endpoint)"),
        "{}",
        r.stderr
    );
}

#[test]
fn state_rm_forgets_and_import_adopts_again() {
    let env = Env::multicloud(0.0);
    env.apply();
    env.run(&["state", "rm", "dns_zone.fedstack.example.com"])
        .success();
    assert!(!env
        .state_addresses()
        .contains(&"dns_zone.fedstack.example.com".to_string()));
    env.run(&["import", "dns_zone.fedstack.example.com"])
        .success();
    env.run(&["plan", "--detailed-exitcode"]).code(0);
}

#[test]
fn graph_prints_dot() {
    let env = Env::multicloud(0.0);
    let r = env.run(&["graph"]).success();
    assert!(r.stdout.starts_with("digraph fedstack {"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("\"node_pool.gke-sydney.default\" -> \"cluster.gke-sydney\";"),
        "{}",
        r.stdout
    );
}
