//! `provider: gcp` end to end against the GKE contract fake (crates/providers/gcp/fake):
//! the real binary creates a cluster and a node pool with live progress, re-plans as a
//! no-op, resizes the pool and upgrades the version in place, and destroys, leaving the
//! fake empty. The fake checks every request against Google's published discovery
//! document; no test ends with a request it refused. Credentials go the real way: an
//! `authorized_user` file in GOOGLE_APPLICATION_CREDENTIALS whose `token_uri` is the
//! fake's token endpoint.

use fedstack_gke_fake::{Call, GkeFake};
use serde_json::json;

use crate::common::{Env, Stream};

fn fake() -> GkeFake {
    GkeFake::start().unwrap_or_else(|e| panic!("cannot start the GKE fake: {e}"))
}

const STACK: &str = "\
name: g
clouds:
  gcp: { provider: gcp, project: fedstack-test, endpoint_url: URL }
clusters:
  gke-a:
    cloud: gcp
    region: us-central1
    kubernetes_version: \"1.31\"
    labels: { team: platform }
    node_pools:
      np: { machine_type: e2-standard-4, node_count: 2 }
";

fn env(fake: &GkeFake, stack: &str) -> Env {
    let mut env = Env::with_stack(&stack.replace("URL", fake.url()));
    let creds = env.path().join("adc.json");
    fake.write_credentials(&creds).expect("credentials file");
    env.var(
        "GOOGLE_APPLICATION_CREDENTIALS",
        &creds.display().to_string(),
    )
    .var("FEDSTACK_GCP_POLL_INTERVAL", "1ms")
    .var("FEDSTACK_RETRY_BASE_DELAY", "1ms");
    env
}

fn count(calls: &[Call], method: &str, path_end: &str) -> usize {
    calls
        .iter()
        .filter(|c| c.method == method && c.path.ends_with(path_end))
        .count()
}

#[track_caller]
fn no_rejections(fake: &GkeFake) {
    let r = fake.rejections();
    assert!(r.is_empty(), "the fake refused requests: {r:#?}");
}

#[test]
fn a_gke_cluster_and_pool_apply_replan_resize_upgrade_and_destroy() {
    let fake = fake();
    let env = env(&fake, STACK);
    let r = env.run(&["apply", "--auto-approve"]).success();
    assert!(
        r.stdout.contains("Apply complete! Resources: 2 added"),
        "{}",
        r.stdout
    );
    no_rejections(&fake);
    let calls = fake.calls();
    assert_eq!(
        count(&calls, "POST", "/locations/us-central1/clusters"),
        1,
        "{calls:?}"
    );
    assert_eq!(count(&calls, "POST", "/clusters/gke-a/nodePools"), 1);
    // The bootstrap pool GKE needs at create time is gone; the stack's pool is there.
    let state = fake.state();
    let cluster = &state["clusters"]["projects/fedstack-test/locations/us-central1/clusters/gke-a"];
    let pools: Vec<&str> = cluster["nodePools"]
        .as_array()
        .map(|p| p.iter().filter_map(|p| p["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(pools, ["np"]);
    assert_eq!(cluster["resourceLabels"], json!({"team": "platform"}));
    assert_eq!(cluster["currentMasterVersion"], "1.31.13-gke.1023000");
    let create_calls = calls.len();

    // Nothing changed: a no-op plan, reads only.
    env.run(&["plan", "--detailed-exitcode"]).code(0);
    let reads = &fake.calls()[create_calls..];
    assert!(reads.iter().all(|c| c.method == "GET"), "{reads:?}");
    println!(
        "one create: {create_calls} calls; one no-op plan: {} calls",
        reads.len()
    );

    // A bigger pool and a newer version: both in place.
    let bigger = STACK
        .replace("node_count: 2", "node_count: 3")
        .replace("\"1.31\"", "\"1.32\"");
    env.write_stack(&bigger.replace("URL", fake.url()));
    let plan = env.run(&["plan"]).success();
    assert!(
        plan.stdout.contains("~ node_pool.gke-a.np"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("~ cluster.gke-a"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("replace"), "{}", plan.stdout);
    // Someone else's operation runs on the cluster (held by the fake): GKE refuses
    // ours with FAILED_PRECONDITION; apply waits that operation out, then goes on.
    fake.configure(json!({"slow": {"gke-a": 1_000_000_000u64}}));
    let token = fake.token();
    let pool = "/v1/projects/fedstack-test/locations/us-central1/clusters/gke-a/nodePools/np";
    let (status, theirs) = fake.api(
        "POST",
        &format!("{pool}:setSize"),
        Some(json!({"nodeCount": 2})),
        &token,
    );
    assert_eq!(status, 200, "{theirs}");
    let theirs = theirs["name"].as_str().unwrap_or_default().to_string();
    let mut run = env.start(&["apply", "--auto-approve"]);
    // Its progress names the operation it waits for.
    run.wait_line(Stream::Out, &theirs);
    fake.configure(json!({"slow": {"gke-a": 1}}));
    let r = run.finish();
    assert_eq!(r.code, 0, "{r:#?}");
    let state = fake.state();
    assert_eq!(
        state["sizes"]["projects/fedstack-test/locations/us-central1/clusters/gke-a/nodePools/np"],
        3
    );
    assert_eq!(
        state["clusters"]["projects/fedstack-test/locations/us-central1/clusters/gke-a"]
            ["currentMasterVersion"],
        "1.32.9-gke.1130000"
    );
    env.run(&["plan", "--detailed-exitcode"]).code(0);

    env.run(&["destroy", "--auto-approve"]).success();
    assert_eq!(fake.state()["clusters"], json!({}));
    no_rejections(&fake);
}

#[test]
fn an_apply_killed_while_the_create_is_pending_converges_with_one_create() {
    let fake = fake();
    // The create operation stays RUNNING until the test lets it go.
    fake.configure(json!({"slow": {"gke-a": 1_000_000_000u64}}));
    let env = env(&fake, STACK);
    let mut run = env.start(&["apply", "--auto-approve"]);
    run.wait_line(Stream::Out, "cluster.gke-a");
    // Event, not time: the create call has reached the fake.
    while count(&fake.calls(), "POST", "/locations/us-central1/clusters") == 0 {
        if run.child.try_wait().expect("try_wait").is_some() {
            panic!(
                "apply ended before its create reached the fake: {:#?}",
                run.finish()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(5)); // pacing, not a bound
    }
    run.kill9();
    fake.configure(json!({"slow": {"gke-a": 1}}));
    let r = env.run(&["apply", "--auto-approve"]).success();
    assert!(r.stdout.contains("Apply complete!"), "{}", r.stdout);
    let calls = fake.calls();
    assert_eq!(
        count(&calls, "POST", "/locations/us-central1/clusters"),
        1,
        "{calls:?}"
    );
    env.run(&["plan", "--detailed-exitcode"]).code(0);
    no_rejections(&fake);
}

#[test]
fn a_failed_create_is_one_line_naming_the_cluster_and_the_quota() {
    let fake = fake();
    fake.configure(json!({"fail": {"gke-a": {"status": "RESOURCE_EXHAUSTED",
        "message": "Insufficient regional quota to satisfy request: resource \"CPUS\": request requires '8.0' and is short '4.0'"}}}));
    // Throttled once first: retried, not reported.
    fake.fault(
        "POST",
        "/clusters$",
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Write requests'",
        1,
    );
    let env = env(&fake, STACK);
    let r = env.run(&["apply", "--auto-approve"]);
    assert_ne!(r.code, 0);
    let line = r
        .stderr
        .lines()
        .chain(r.stdout.lines())
        .find(|l| l.contains("Insufficient regional quota"))
        .unwrap_or_else(|| panic!("no quota error:\n{}\n{}", r.stdout, r.stderr));
    assert!(line.contains("cluster.gke-a"), "{line}");
    assert!(line.contains("hint: raise the quota"), "{line}");
    no_rejections(&fake);
}

#[test]
fn an_operation_past_the_clouds_timeout_is_one_line_and_the_next_apply_waits_for_it() {
    let fake = fake();
    // The create runs until the test lets it go; the cloud waits 5 ms at most.
    fake.configure(json!({"slow": {"gke-a": 1_000_000_000u64}}));
    let impatient = STACK.replace(
        "endpoint_url: URL }",
        "endpoint_url: URL, timeouts: { create: 5ms } }",
    );
    let env = env(&fake, &impatient);
    let r = env.run(&["apply", "--auto-approve"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stdout
            .contains("is still PENDING after 5ms (hint: it goes on in GKE"),
        "{}",
        r.stdout
    );
    fake.configure(json!({"slow": {"gke-a": 1}}));
    env.write_stack(&STACK.replace("URL", fake.url()));
    env.run(&["apply", "--auto-approve"]).success();
    let calls = fake.calls();
    assert_eq!(
        count(&calls, "POST", "/locations/us-central1/clusters"),
        1,
        "{calls:?}"
    );
    env.run(&["plan", "--detailed-exitcode"]).code(0);
    no_rejections(&fake);
}

#[test]
fn an_unsupported_version_is_one_line_with_where_to_look() {
    let fake = fake();
    let env = env(&fake, &STACK.replace("\"1.31\"", "\"1.20\""));
    let r = env.run(&["apply", "--auto-approve"]);
    assert_ne!(r.code, 0);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("is unsupported"))
        .unwrap_or_else(|| panic!("no version error:\n{}\n{}", r.stdout, r.stderr));
    assert!(line.contains("cluster.gke-a"), "{line}");
    assert!(line.contains("get-server-config"), "{line}");
    no_rejections(&fake);
}
