//! `provider: azure` end to end against the AKS contract fake
//! (crates/providers/azure/fake): the real binary makes a resource group, a cluster with
//! its system pool and a second agent pool with live progress, re-plans as a no-op,
//! scales a pool and upgrades the version in place, and destroys, removing the resource
//! group only when it made it. The fake checks every request body against Microsoft's
//! published models; no test ends with a request it refused. Credentials go the real
//! way: a service principal's secret from the environment, exchanged at the fake's
//! Entra ID token endpoint (AZURE_AUTHORITY_HOST), over TLS trusted through the cloud's
//! `ca_file`.

use fedstack_aks_fake::{AksFake, Call, SUBSCRIPTION_ID};
use serde_json::json;

use crate::common::{Env, Stream};

fn fake() -> AksFake {
    AksFake::start().unwrap_or_else(|e| panic!("cannot start the AKS fake: {e}"))
}

const STACK: &str = "\
name: z
clouds:
  azure: { provider: azure, subscription_id: SUB, resource_group: fedstack-z, endpoint_url: URL, ca_file: CA }
clusters:
  aks-a:
    cloud: azure
    region: canadacentral
    kubernetes_version: \"1.31\"
    labels: { team: platform }
    node_pools:
      system: { machine_type: Standard_D4s_v5, node_count: 2 }
      user: { machine_type: Standard_D8s_v5, node_count: 1, min_count: 1, max_count: 3 }
";

fn stack_for(fake: &AksFake, text: &str) -> String {
    text.replace("SUB", SUBSCRIPTION_ID)
        .replace("URL", fake.url())
        .replace("CA", &fake.ca_file().display().to_string())
}

fn env(fake: &AksFake, text: &str) -> Env {
    let mut env = Env::with_stack(&stack_for(fake, text));
    for (k, v) in fake.credentials_env() {
        env.var(k, &v);
    }
    env.var("FEDSTACK_AZURE_POLL_INTERVAL", "1ms")
        .var("FEDSTACK_RETRY_BASE_DELAY", "1ms")
        .var("FEDSTACK_PROGRESS_INTERVAL", "5ms");
    env
}

fn count(calls: &[Call], method: &str, path_end: &str) -> usize {
    calls
        .iter()
        .filter(|c| {
            c.method == method
                && c.path
                    .to_ascii_lowercase()
                    .ends_with(&path_end.to_ascii_lowercase())
        })
        .count()
}

#[track_caller]
fn no_rejections(fake: &AksFake) {
    let r = fake.rejections();
    assert!(r.is_empty(), "the fake refused requests: {r:#?}");
}

const CLUSTER: &str = "fedstack-z/aks-a";

#[test]
fn an_aks_cluster_and_pools_apply_replan_scale_upgrade_and_destroy() {
    let fake = fake();
    let env = env(&fake, STACK);
    let r = env.run(&["apply", "--auto-approve"]).success();
    assert!(
        r.stdout.contains("Apply complete! Resources: 3 added"),
        "{}",
        r.stdout
    );
    no_rejections(&fake);
    let calls = fake.calls();
    assert_eq!(
        count(&calls, "PUT", "/managedClusters/aks-a"),
        1,
        "{calls:#?}"
    );
    let state = fake.state();
    let group = &state["resource_groups"]["fedstack-z"];
    assert_eq!(group["tags"]["managed-by"], "fedstack", "{state:#}");
    let cluster = &state["clusters"][CLUSTER];
    assert_eq!(
        cluster["properties"]["kubernetesVersion"], "1.31.9",
        "{cluster:#}"
    );
    assert_eq!(cluster["tags"], json!({"team": "platform"}));
    assert_eq!(cluster["identity"]["type"], "SystemAssigned");
    let pools = cluster["properties"]["agentPoolProfiles"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let by_name = |n: &str| {
        pools
            .iter()
            .find(|p| p["name"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("no pool {n}: {pools:#?}"))
    };
    assert_eq!(by_name("system")["mode"], "System");
    assert_eq!(by_name("system")["count"], 2);
    assert_eq!(by_name("user")["mode"], "User");
    assert_eq!(by_name("user")["enableAutoScaling"], true);
    assert_eq!(by_name("user")["maxCount"], 3);
    let create_calls = calls.len();

    // Nothing changed: a no-op plan, reads only.
    env.run(&["plan", "--detailed-exitcode"]).code(0);
    let reads = &fake.calls()[create_calls..];
    assert!(
        reads
            .iter()
            .all(|c| c.method == "GET" || c.path.ends_with("/listClusterUserCredential")),
        "{reads:#?}"
    );
    println!(
        "one create: {create_calls} calls; one no-op plan: {} calls",
        reads.len()
    );

    // A bigger pool and a newer version: both in place.
    let changed = STACK
        .replace("node_count: 2", "node_count: 3")
        .replace("\"1.31\"", "\"1.32\"");
    env.write_stack(&stack_for(&fake, &changed));
    let plan = env.run(&["plan"]).success();
    assert!(
        plan.stdout.contains("~ node_pool.aks-a.system"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("~ cluster.aks-a"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("replace"), "{}", plan.stdout);
    // Another operation runs on the cluster (held by the fake): AKS answers 409
    // OperationNotAllowed; apply waits it out, then goes on.
    fake.configure(json!({"slow": {"aks-a": 1_000_000_000u64}}));
    let token = fake.token();
    let pool_path = format!(
        "/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/fedstack-z/providers/Microsoft.ContainerService/managedClusters/aks-a/agentPools/user?api-version=2026-08-01"
    );
    let (status, _, theirs) = fake.api(
        "PUT",
        &pool_path,
        Some(
            json!({"properties": {"count": 1, "vmSize": "Standard_D8s_v5", "mode": "User",
            "enableAutoScaling": true, "minCount": 1, "maxCount": 2}}),
        ),
        &token,
    );
    assert!(status == 200 || status == 201, "{status} {theirs}");
    let mut run = env.start(&["apply", "--auto-approve"]);
    run.wait_line(Stream::Out, "waiting for another operation on the cluster");
    fake.configure(json!({"slow": {"aks-a": 1}}));
    let r = run.finish();
    assert_eq!(r.code, 0, "{r:#?}");
    let state = fake.state();
    let cluster = &state["clusters"][CLUSTER];
    assert_eq!(cluster["properties"]["kubernetesVersion"], "1.32.5");
    let profiles = cluster["properties"]["agentPoolProfiles"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let pool = |n: &str| {
        profiles
            .iter()
            .find(|p| p["name"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("no pool {n}"))
    };
    assert_eq!(pool("system")["count"], 3);
    // Their change to the user pool (maxCount 2) was drift from the stack's 3: the
    // pool was adopted once their operation ended, and set back as the stack says.
    assert_eq!(pool("user")["maxCount"], 3);
    env.run(&["plan", "--detailed-exitcode"]).code(0);

    env.run(&["destroy", "--auto-approve"]).success();
    let state = fake.state();
    assert_eq!(state["clusters"], json!({}), "{state:#}");
    assert_eq!(
        state["resource_groups"],
        json!({}),
        "fedstack made the group, so destroy removes it"
    );
    no_rejections(&fake);
}

#[test]
fn a_resource_group_someone_else_made_stays_after_destroy() {
    let fake = fake();
    let token = fake.token();
    let (status, _, body) = fake.api(
        "PUT",
        &format!(
            "/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/fedstack-z?api-version=2025-04-01"
        ),
        Some(json!({"location": "canadacentral", "tags": {"owner": "platform-team"}})),
        &token,
    );
    assert_eq!(status, 201, "{body}");
    let env = env(&fake, STACK);
    env.run(&["apply", "--auto-approve"]).success();
    env.run(&["destroy", "--auto-approve"]).success();
    let state = fake.state();
    assert_eq!(state["clusters"], json!({}));
    assert_eq!(
        state["resource_groups"]["fedstack-z"]["tags"]["owner"], "platform-team",
        "{state:#}"
    );
    no_rejections(&fake);
}

#[test]
fn an_apply_killed_while_the_put_is_pending_converges_with_one_create() {
    let fake = fake();
    // The create operation stays InProgress until the test lets it go.
    fake.configure(json!({"slow": {"aks-a": 1_000_000_000u64}}));
    let env = env(&fake, STACK);
    let mut run = env.start(&["apply", "--auto-approve"]);
    run.wait_line(Stream::Out, "cluster.aks-a");
    // Event, not time: the PUT has reached the fake.
    while count(&fake.calls(), "PUT", "/managedClusters/aks-a") == 0 {
        if run.child.try_wait().expect("try_wait").is_some() {
            panic!(
                "apply ended before its create reached the fake: {:#?}",
                run.finish()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(5)); // pacing, not a bound
    }
    run.kill9();
    fake.configure(json!({"slow": {"aks-a": 1}}));
    let r = env.run(&["apply", "--auto-approve"]).success();
    assert!(r.stdout.contains("Apply complete!"), "{}", r.stdout);
    let calls = fake.calls();
    assert_eq!(
        count(&calls, "PUT", "/managedClusters/aks-a"),
        1,
        "{calls:#?}"
    );
    env.run(&["plan", "--detailed-exitcode"]).code(0);
    no_rejections(&fake);
}

#[test]
fn a_failed_create_is_one_line_with_the_quota_and_a_hint() {
    let fake = fake();
    fake.configure(json!({"fail": {"aks-a": {"code": "QuotaExceeded",
        "message": "Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota."}}}));
    // Throttled once first: waited as Retry-After says, not reported.
    fake.fault(
        "PUT",
        "/managedClusters/aks-a$",
        429,
        "TooManyRequests",
        "Too many requests",
        1,
        Some(0),
    );
    let env = env(&fake, STACK);
    let r = env.run(&["apply", "--auto-approve"]);
    assert_ne!(r.code, 0);
    let line = r
        .stderr
        .lines()
        .chain(r.stdout.lines())
        .find(|l| l.contains("exceeding approved"))
        .unwrap_or_else(|| panic!("no quota error:\n{}\n{}", r.stdout, r.stderr));
    assert!(line.contains("cluster.aks-a"), "{line}");
    assert!(line.contains("QuotaExceeded"), "{line}");
    assert!(line.contains("hint: raise the quota"), "{line}");
    no_rejections(&fake);
}

#[test]
fn a_version_aks_does_not_offer_is_one_line_with_what_it_offers() {
    let fake = fake();
    let env = env(&fake, &STACK.replace("\"1.31\"", "\"1.20\""));
    let r = env.run(&["apply", "--auto-approve"]);
    assert_ne!(r.code, 0);
    let line = r
        .stdout
        .lines()
        .chain(r.stderr.lines())
        .find(|l| l.contains("AKS offers no Kubernetes 1.20"))
        .unwrap_or_else(|| panic!("no version error:\n{}\n{}", r.stdout, r.stderr));
    assert!(line.contains("1.31, 1.32, 1.33"), "{line}");
    assert!(line.contains("az aks get-versions"), "{line}");
    assert_eq!(count(&fake.calls(), "PUT", "/managedClusters/aks-a"), 0);
    no_rejections(&fake);
}

#[test]
fn a_wrong_secret_is_one_line_naming_what_to_set() {
    let fake = fake();
    let mut env = env(&fake, STACK);
    env.var("AZURE_CLIENT_SECRET", "not-the-secret");
    let r = env.run(&["apply", "--auto-approve"]);
    assert_ne!(r.code, 0);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("AADSTS7000215"), "{all}");
    assert!(all.contains("AZURE_CLIENT_SECRET"), "{all}");
    assert!(
        !all.contains("not-the-secret"),
        "the secret must never be printed: {all}"
    );
}

#[test]
fn a_cluster_already_there_is_adopted_not_put_over() {
    let fake = fake();
    let token = fake.token();
    let group = format!(
        "/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/fedstack-z?api-version=2025-04-01"
    );
    let (status, _, body) = fake.api(
        "PUT",
        &group,
        Some(json!({"location": "canadacentral"})),
        &token,
    );
    assert_eq!(status, 201, "{body}");
    let cluster = format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/fedstack-z/providers/Microsoft.ContainerService/managedClusters/aks-a?api-version=2026-08-01");
    let (status, _, body) = fake.api(
        "PUT",
        &cluster,
        Some(json!({"location": "canadacentral", "tags": {"team": "someone-else"},
            "identity": {"type": "SystemAssigned"},
            "properties": {"kubernetesVersion": "1.31", "dnsPrefix": "aks-a",
                "agentPoolProfiles": [{"name": "system", "mode": "System", "count": 2, "vmSize": "Standard_D4s_v5"}]}})),
        &token,
    );
    assert_eq!(status, 201, "{body}");
    let before = fake.calls().len();
    let env = env(&fake, STACK);
    let r = env.run(&["apply", "--auto-approve"]).success();
    assert!(r.stdout.contains("Apply complete!"), "{}", r.stdout);
    let ours = &fake.calls()[before..];
    assert_eq!(count(ours, "PUT", "/managedClusters/aks-a"), 0, "{ours:#?}");
    // What differs from the stack shows in the next plan, for apply to change.
    let plan = env.run(&["plan"]).success();
    assert!(plan.stdout.contains("~ cluster.aks-a"), "{}", plan.stdout);
    assert!(plan.stdout.contains("someone-else"), "{}", plan.stdout);
    no_rejections(&fake);
}
