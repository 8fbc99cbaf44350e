//! `provider: aws` end to end against moto's server: `stacks/aws-local.yaml` applied,
//! re-applied, changed, shifted, shrunk and destroyed by the real binary, every step
//! checked by reading the emulator back and by counting the API calls that went to it.
//!
//! Each test starts its own moto (`fedstack_moto`), on a free port; without moto
//! installed they fail saying how to get it (`make test` installs it first).

use fedstack_moto::{Inventory, Moto};

use crate::common::{repo, Env};

/// moto's server; the test fails, saying how to get it, when it is not installed.
fn moto() -> Moto {
    Moto::start().unwrap_or_else(|e| panic!("cannot start moto: {e}"))
}

/// `stacks/aws-local.yaml` pointed at `moto`, with `edit` applied to its text.
fn env(moto: &Moto, edit: impl Fn(String) -> String) -> Env {
    env_at(&moto.endpoint(), edit)
}

/// `stacks/aws-local.yaml` pointed at `endpoint`, with `edit` applied to its text.
fn env_at(endpoint: &str, edit: impl Fn(String) -> String) -> Env {
    let text =
        std::fs::read_to_string(repo().join("stacks/aws-local.yaml")).expect("aws-local.yaml");
    assert!(text.contains("http://127.0.0.1:5000"));
    let text = edit(text.replace("http://127.0.0.1:5000", endpoint));
    let mut env = Env::with_stack(&text);
    let home = env.path().join("home");
    env.var("AWS_ACCESS_KEY_ID", "test")
        .var("AWS_SECRET_ACCESS_KEY", "test")
        .var(
            "AWS_CONFIG_FILE",
            &home.join("config").display().to_string(),
        )
        .var(
            "AWS_SHARED_CREDENTIALS_FILE",
            &home.join("credentials").display().to_string(),
        )
        .var("AWS_EC2_METADATA_DISABLED", "true")
        .var("FEDSTACK_AWS_POLL_INTERVAL", "20ms")
        .var("FEDSTACK_AWS_INSYNC_POLL_INTERVAL", "20ms")
        .var("FEDSTACK_AWS_RETRY_BASE_DELAY", "10ms");
    env
}

fn inventory(moto: &Moto) -> Inventory {
    moto.inventory("us-east-1").expect("read moto back")
}

const ZONE: &str = "local.fedstack.example.com";

/// The record sets `aws-local.yaml` makes, as the inventory shows them.
fn all_records() -> Vec<String> {
    let mut v: Vec<String> = [
        "api.{Z} A [api-primary]: 198.51.100.10",
        "api.{Z} A [api-secondary]: 198.51.100.20",
        "app.{Z} A [app-use1]: 198.51.100.10",
        "app.{Z} A [app-usw2]: 198.51.100.20",
        "geo.{Z} A [geo-default]: 198.51.100.10",
        "geo.{Z} A [geo-eu]: 198.51.100.20",
        "geo.{Z} A [geo-us-ca]: 198.51.100.20",
        "lb.{Z} A: -> fedstack-nlb-0123456789abcdef.elb.us-east-1.amazonaws.com",
        "mv.{Z} A [mv-blue]: 198.51.100.10",
        "mv.{Z} A [mv-green]: 198.51.100.20",
        "shop.{Z} A [shop-blue] w=100: 198.51.100.10",
        "shop.{Z} A [shop-green] w=0: 198.51.100.20",
        "www.{Z} A: 198.51.100.10,198.51.100.11",
        "{Z} TXT: \"v=spf1 -all\"",
    ]
    .iter()
    .map(|s| s.replace("{Z}", ZONE))
    .collect();
    v.sort();
    v
}

#[test]
fn aws_local_applies_reapplies_changes_shifts_and_destroys() {
    let moto = moto();
    let env = env(&moto, |t| t);

    // ----- apply: everything, read back from the emulator ------------------------
    let r = env.apply();
    assert!(
        r.stdout.contains("Apply complete! Resources: 29 added"),
        "{}",
        r.stdout
    );
    let inv = inventory(&moto);
    let want = all_records();
    assert_eq!(inv.zones.keys().collect::<Vec<_>>(), vec![ZONE]);
    assert_eq!(inv.records(), want);
    assert_eq!(inv.health_checks.len(), 4, "{:?}", inv.health_checks);
    assert!(inv
        .health_checks
        .iter()
        .any(|h| h.ends_with("198.51.100.20:443 TCP ")));
    assert!(inv
        .health_checks
        .iter()
        .any(|h| h.ends_with("198.51.100.10:8080 HTTP /ready")));
    assert_eq!(inv.clusters, ["eks-blue", "eks-green"]);
    assert_eq!(
        inv.nodegroups,
        [
            "eks-blue/default: m5.large, 2",
            "eks-green/default: m5.large, 2"
        ]
    );
    assert_eq!(inv.vpcs.len(), 2);
    assert_eq!(inv.subnets.len(), 4);
    assert_eq!(inv.internet_gateways.len(), 2);
    assert_eq!(
        inv.roles,
        [
            "eks-blue-cluster",
            "eks-blue-node",
            "eks-green-cluster",
            "eks-green-node"
        ]
    );
    // Records that are ready together go in together: a handful of calls for 14 records.
    let batches = moto.count("ChangeResourceRecordSets");
    assert!(
        (1..=6).contains(&batches),
        "{batches} ChangeResourceRecordSets calls"
    );

    // ----- re-apply: nothing to do, not one write call ---------------------------
    moto.clear_calls();
    let r = env.apply();
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
    assert_eq!(moto.writes(), vec![], "a no-op apply wrote");
    env.run(&["plan", "--detailed-exitcode"]).code(0);

    // ----- one weight: exactly that record, in one batch --------------------------
    env.write_stack(&env.read_stack().replace(
        "shop-green: { cluster: eks-green, weight: 0,",
        "shop-green: { cluster: eks-green, weight: 10,",
    ));
    moto.clear_calls();
    let r = env.apply();
    assert!(
        r.stdout.contains("0 added, 1 changed, 0 destroyed"),
        "{}",
        r.stdout
    );
    let writes = moto.writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].operation, "ChangeResourceRecordSets");
    assert_eq!(writes[0].changes, 1);
    let records = inventory(&moto).records();
    let changed: Vec<&String> = records.iter().filter(|l| !want.contains(l)).collect();
    assert_eq!(
        changed,
        vec![&format!("shop.{ZONE} A [shop-green] w=10: 198.51.100.20")]
    );
    env.write_stack(&env.read_stack().replace("weight: 10,", "weight: 0,"));
    env.apply();
    assert_eq!(inventory(&moto).records(), want);

    // ----- shift 100/0 -> 0/100 in ten steps --------------------------------------
    moto.clear_calls();
    let r = env
        .run(&["shift", "shop", "--to", "shop-green", "--interval", "0s"])
        .success();
    assert!(r.stdout.contains("step 10"), "{}", r.stdout);
    assert!(r.stdout.contains("Shift complete"), "{}", r.stdout);
    // Both weights of a step change together: one call per step.
    assert_eq!(moto.count("ChangeResourceRecordSets"), 10);
    assert!(moto
        .calls()
        .iter()
        .filter(|c| c.operation == "ChangeResourceRecordSets")
        .all(|c| c.changes == 2));
    let records = inventory(&moto).records();
    assert!(
        records.contains(&format!("shop.{ZONE} A [shop-blue] w=0: 198.51.100.10")),
        "{records:#?}"
    );
    assert!(
        records.contains(&format!("shop.{ZONE} A [shop-green] w=100: 198.51.100.20")),
        "{records:#?}"
    );
    // The stack still says 100/0: the shift is no drift.
    env.run(&["plan", "--detailed-exitcode"]).code(0);

    // ----- shift back; the target turns unhealthy: back to where it started ------
    let hc = env
        .run(&["--json", "state", "show", "health_check.blue-https"])
        .success();
    let hc: serde_json::Value = serde_json::from_str(&hc.stdout).expect("state show");
    let hc_id = hc["outputs"]["id"]
        .as_str()
        .expect("health check id")
        .to_string();
    moto.unhealthy_after(&hc_id, 3);
    let r = env
        .run(&[
            "shift",
            "shop",
            "--to",
            "eks-blue",
            "--interval",
            "0s",
            "--step",
            "20",
        ])
        .code(1);
    assert!(r.stdout.contains("step 3 "), "{}", r.stdout);
    assert!(!r.stdout.contains("step 4 "), "{}", r.stdout);
    assert!(r.stdout.contains("rollback"), "{}", r.stdout);
    assert!(r.stderr.contains("before step 4"), "{}", r.stderr);
    assert!(
        r.stderr.contains("Failure: HTTP Status Code: 503"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("rolled back to shop-blue: 0, shop-green: 100"),
        "{}",
        r.stderr
    );
    let records = inventory(&moto).records();
    assert!(
        records.contains(&format!("shop.{ZONE} A [shop-blue] w=0: 198.51.100.10")),
        "{records:#?}"
    );
    assert!(
        records.contains(&format!("shop.{ZONE} A [shop-green] w=100: 198.51.100.20")),
        "{records:#?}"
    );
    env.run(&["plan", "--detailed-exitcode"]).code(0);

    // ----- the stack's weights change: the stack wins again ----------------------
    env.write_stack(&env.read_stack().replace(
        "shop-blue: { cluster: eks-blue, weight: 100,",
        "shop-blue: { cluster: eks-blue, weight: 50,",
    ));
    let r = env.apply();
    assert!(r.stdout.contains("0 added, 2 changed"), "{}", r.stdout);
    let records = inventory(&moto).records();
    assert!(
        records.contains(&format!("shop.{ZONE} A [shop-blue] w=50: 198.51.100.10")),
        "{records:#?}"
    );
    assert!(
        records.contains(&format!("shop.{ZONE} A [shop-green] w=0: 198.51.100.20")),
        "{records:#?}"
    );
    env.run(&["plan", "--detailed-exitcode"]).code(0);

    // ----- destroy: the emulator is empty again -----------------------------------
    let r = env.run(&["destroy", "--auto-approve"]).success();
    assert!(
        r.stdout
            .contains("Destroy complete! Resources: 29 destroyed"),
        "{}",
        r.stdout
    );
    let inv = inventory(&moto);
    assert!(inv.is_empty(), "left in the emulator: {inv:#?}");
    assert!(env.state_addresses().is_empty());
}

/// The stack without cluster `eks-green` and everything that points at it.
fn without_green(text: String) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.starts_with("  eks-green:") {
            skipping = true;
            continue;
        }
        if skipping {
            if line.starts_with("    ") || line.is_empty() {
                continue;
            }
            skipping = false;
        }
        if line.contains("eks-green") || line.contains("green-https") || line.contains("green-tcp")
        {
            continue;
        }
        out.push(line);
    }
    out.join("\n") + "\n"
}

#[test]
fn removing_a_cluster_deletes_its_node_groups_then_the_cluster_and_its_dns() {
    let moto = moto();
    let env = env(&moto, |t| t);
    env.apply();
    env.write_stack(&without_green(env.read_stack()));
    env.run(&["validate"]).success();
    let r = env.run(&["--json", "apply", "--auto-approve"]).success();
    // The order things were deleted in, from the event stream.
    let done: Vec<String> = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["type"] == "step_done" && e["action"] == "delete")
        .filter_map(|e| e["address"].as_str().map(str::to_string))
        .collect();
    let at = |a: &str| {
        done.iter()
            .position(|d| d == a)
            .unwrap_or_else(|| panic!("{a} not deleted: {done:#?}"))
    };
    let green_records = [
        "dns_record.shop.local.fedstack.example.com/shop-green",
        "dns_record.app.local.fedstack.example.com/app-usw2",
        "dns_record.geo.local.fedstack.example.com/geo-eu",
        "dns_record.geo.local.fedstack.example.com/geo-us-ca",
        "dns_record.api.local.fedstack.example.com/api-secondary",
        "dns_record.mv.local.fedstack.example.com/mv-green",
    ];
    // 6 records, 2 health checks, the node group, the cluster, its network, 2 roles.
    assert_eq!(done.len(), 13, "{done:#?}");
    assert!(at("node_pool.eks-green.default") < at("cluster.eks-green"));
    assert!(at("cluster.eks-green") < at("network.eks-green"));
    assert!(at("cluster.eks-green") < at("iam_role.eks-green-cluster"));
    assert!(at("node_pool.eks-green.default") < at("iam_role.eks-green-node"));
    for rec in green_records {
        // Traffic stops before the checks and the cluster behind it go.
        assert!(at(rec) < at("cluster.eks-green"), "{rec}");
        assert!(
            at(rec) < at("health_check.green-https").max(at("health_check.green-tcp")),
            "{rec}"
        );
    }
    for rec in &green_records[..2] {
        assert!(at(rec) < at("health_check.green-https"), "{rec}");
    }
    let inv = inventory(&moto);
    assert_eq!(inv.clusters, ["eks-blue"]);
    assert_eq!(inv.nodegroups, ["eks-blue/default: m5.large, 2"]);
    assert_eq!(inv.roles, ["eks-blue-cluster", "eks-blue-node"]);
    assert_eq!(inv.vpcs.len(), 1);
    assert_eq!(inv.health_checks.len(), 2, "{:?}", inv.health_checks);
    let records = inv.records();
    assert!(
        records.iter().all(|l| !l.contains("198.51.100.20")),
        "{records:#?}"
    );
    assert_eq!(records.len(), all_records().len() - 6);
    env.run(&["plan", "--detailed-exitcode"]).code(0);
}

#[test]
fn an_endpoint_that_refuses_connections_fails_after_few_attempts_and_says_so_once() {
    // A port nothing listens on (a typo in endpoint_url, a stopped emulator).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let env = env_at(&format!("http://127.0.0.1:{port}"), |t| t);
    let r = env.run(&["apply", "--auto-approve"]).code(1).clean();
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains(
            "the endpoint refused the connection (gave up after 3 attempts) (hint: check `endpoint_url` of cloud `aws`, and that the service there is running)"
        ),
        "{all}"
    );
    for line in all.lines() {
        assert!(
            line.matches("gave up after").count() <= 1,
            "said twice: {line}"
        );
    }
}
