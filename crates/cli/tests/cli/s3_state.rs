//! `state: { backend: s3 }` against moto's server: the sim three-cloud stack applied
//! and destroyed with its state in a bucket, two hosts racing for the lock, kill -9
//! of the holder then a takeover from another host, and `state migrate` both ways.

use std::time::Duration;

use fedstack_moto::Moto;

use crate::common::{Env, Run};
use crate::crash::kill_after;

const REGION: &str = "us-east-1";
const PREFIX: &str = "team/multicloud-sim/";

fn moto() -> Moto {
    fedstack_moto::record_peer_use("moto");
    Moto::start().unwrap_or_else(|e| panic!("{e}"))
}

/// The stack's `state:` section for `bucket` behind `moto`'s proxy.
fn state_section(moto: &Moto, bucket: &str, ttl: &str) -> String {
    format!(
        "state:\n  backend: s3\n  bucket: {bucket}\n  key_prefix: team\n  region: {REGION}\n  endpoint_url: {}\n  lock_ttl: {ttl}\n\n",
        moto.endpoint()
    )
}

fn with_state_in_s3(env: &mut Env, moto: &Moto, bucket: &str, ttl: &str) {
    moto.create_bucket(bucket, REGION, true).expect("bucket");
    let text = env.read_stack().replacen(
        "\nclouds:",
        &format!("\n{}clouds:", state_section(moto, bucket, ttl)),
        1,
    );
    env.write_stack(&text);
    env.var("AWS_ACCESS_KEY_ID", "testing")
        .var("AWS_SECRET_ACCESS_KEY", "testing")
        .var("FEDSTACK_HOSTNAME", "laptop-a");
}

fn host(env: &mut Env, name: &str) {
    env.unset("FEDSTACK_HOSTNAME")
        .var("FEDSTACK_HOSTNAME", name);
}

fn objects(moto: &Moto, bucket: &str) -> Vec<String> {
    moto.s3_objects(bucket, "")
        .expect("objects")
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

fn local_stack_dirs(env: &Env) -> Vec<String> {
    std::fs::read_dir(env.path().join("state"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_sim_stack_applies_and_destroys_with_its_state_in_s3() {
    let moto = moto();
    let mut env = Env::multicloud(0.0);
    with_state_in_s3(&mut env, &moto, "acme-state", "60s");
    let declared = env.declared_addresses();

    // As `make create-cluster`, then `make configure-cluster`.
    let created = env
        .run(&[
            "apply",
            "--auto-approve",
            "--parallelism",
            "20",
            "--target",
            "cluster.*",
            "--target",
            "node_pool.*",
        ])
        .success()
        .clean();
    assert!(
        created.stdout.contains("Apply complete!"),
        "{}",
        created.stdout
    );
    moto.clear_calls();
    env.run(&["apply", "--auto-approve", "--parallelism", "20"])
        .success();
    let segments = moto
        .calls()
        .iter()
        .filter(|c| c.operation == "PutObject" && c.path.contains("/journal/"))
        .count();
    assert!(segments > 0);
    assert_eq!(env.state_addresses(), declared);
    assert!(env.state_pending().is_empty());
    env.run(&["plan", "--detailed-exitcode"]).code(0);
    // Compacted: just the snapshot (the lock is gone), and nothing local.
    assert_eq!(
        objects(&moto, "acme-state"),
        vec![format!("{PREFIX}snapshot.json")]
    );
    assert!(
        local_stack_dirs(&env).is_empty(),
        "{:?}",
        local_stack_dirs(&env)
    );
    let pulled: serde_json::Value =
        serde_json::from_str(&env.run(&["state", "pull"]).success().stdout).expect("json");
    assert_eq!(pulled["stack"], "multicloud-sim");

    let destroyed = env.run(&["destroy", "--auto-approve"]).success();
    assert!(
        destroyed.stdout.contains("Destroy complete!"),
        "{}",
        destroyed.stdout
    );
    assert!(env.state_addresses().is_empty());
    assert!(env.sim_addresses().is_empty());
}

#[test]
fn a_second_host_is_refused_at_once_naming_the_first() {
    let moto = moto();
    let mut env = Env::multicloud(0.05);
    with_state_in_s3(&mut env, &moto, "race-state", "60s");
    env.var("FEDSTACK_SIM_HOLD", "cluster.*:create");
    let mut first = env.start(&["apply", "--auto-approve"]);
    env.wait_held(&mut first, "create-cluster.");
    let pid = first.child.id().to_string();
    env.unset("FEDSTACK_SIM_HOLD");
    host(&mut env, "laptop-b");
    let second = env.run(&["apply", "--auto-approve"]).code(1).clean();
    assert!(
        second.stderr.contains(&format!(
            "is locked by pid {pid} on host laptop-a (apply since "
        )),
        "{}",
        second.stderr
    );
    assert!(second.stderr.contains("lease until"), "{}", second.stderr);
    assert_eq!(second.stderr.trim().lines().count(), 1, "{}", second.stderr);
    env.release_until_exit(first).success();
    env.run(&["plan", "--detailed-exitcode"]).code(0);
}

#[test]
fn kill_9_of_the_holder_then_another_host_takes_over_after_the_lease_and_converges() {
    let moto = moto();
    // About 2.5 s an apply; a 2 s lease.
    let mut env = Env::multicloud(0.05);
    with_state_in_s3(&mut env, &moto, "crash-state", "2s");
    let declared = env.declared_addresses();
    let seed = std::env::var("FEDSTACK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("crash test seed: {seed} (FEDSTACK_CRASH_SEED={seed} replays it)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut kills = 0;
    let mut takeovers = 0;
    for round in 0..4 {
        let (dead, other) = if round % 2 == 0 {
            ("laptop-a", "laptop-b")
        } else {
            ("laptop-b", "laptop-a")
        };
        // Each round starts with work to do: an apply from nothing, or a destroy of
        // everything.
        let args: &[&str] = if round % 2 == 1 {
            &["destroy", "--auto-approve"]
        } else {
            if round > 0 {
                env.run(&["destroy", "--auto-approve"]).success();
            }
            &["apply", "--auto-approve"]
        };
        host(&mut env, dead);
        if kill_after(&env, args, Duration::from_millis(rng.u64(100..1500))) {
            kills += 1;
        }
        // The other host waits for the dead run's lease, takes the lock over, repairs.
        host(&mut env, other);
        let r: Run = env
            .run(&["apply", "--auto-approve", "--lock-timeout", "1m"])
            .success()
            .clean();
        if r.stderr.contains("took over the lock") {
            assert!(
                r.stderr.contains(&format!("on host {dead}")),
                "{}",
                r.stderr
            );
            takeovers += 1;
        }
        env.run(&["plan", "--detailed-exitcode"]).code(0);
        let sim = env.sim_addresses();
        let mut unique = sim.clone();
        unique.dedup();
        assert_eq!(sim, unique, "duplicates in the cloud");
        assert_eq!(sim, declared, "the cloud holds exactly the stack");
        assert_eq!(
            env.state_addresses(),
            declared,
            "the state matches the cloud"
        );
        assert!(env.state_pending().is_empty(), "no pending intents left");
    }
    assert!(
        kills >= 3,
        "only {kills} kills landed while fedstack was running"
    );
    assert!(takeovers >= 3, "only {takeovers} takeovers");
    env.run(&["destroy", "--auto-approve"]).success();
    assert!(env.sim_addresses().is_empty());
    assert_eq!(
        objects(&moto, "crash-state"),
        vec![format!("{PREFIX}snapshot.json")]
    );
}

#[test]
fn migrate_local_to_s3_and_back_round_trips_the_state_exactly() {
    let moto = moto();
    moto.create_bucket("migrate-state", REGION, true)
        .expect("bucket");
    let mut env = Env::multicloud(0.0);
    env.var("AWS_ACCESS_KEY_ID", "testing")
        .var("AWS_SECRET_ACCESS_KEY", "testing");
    env.apply().success();
    let original = std::fs::read(env.path().join("state/multicloud-sim/snapshot.json"))
        .expect("local snapshot");
    let endpoint = moto.endpoint();
    let to_s3 = [
        "state",
        "migrate",
        "--to-backend",
        "s3",
        "--bucket",
        "migrate-state",
        "--key-prefix",
        "team",
        "--region",
        REGION,
        "--endpoint-url",
        endpoint.as_str(),
    ];
    let r = env.run(&to_s3).success().clean();
    assert!(
        r.stdout
            .contains("Copied the state of stack \"multicloud-sim\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("backend: s3, bucket: migrate-state"),
        "{}",
        r.stdout
    );
    let stored = moto
        .s3_objects("migrate-state", &format!("{PREFIX}snapshot.json"))
        .expect("read");
    assert_eq!(
        stored[0].1, original,
        "the copy in S3 is byte for byte the same"
    );
    // Again: nothing to do.
    let again = env.run(&to_s3).success();
    assert!(again.stdout.contains("nothing to copy"), "{}", again.stdout);

    // The stack now points at the bucket: same state, nothing to change.
    let local_text = env.read_stack();
    let s3_text = local_text.replacen(
        "\nclouds:",
        &format!("\n{}clouds:", state_section(&moto, "migrate-state", "60s")),
        1,
    );
    env.write_stack(&s3_text);
    env.run(&["plan", "--detailed-exitcode"]).code(0);

    // And back, into a fresh directory.
    let r = env
        .run(&[
            "state",
            "migrate",
            "--to-backend",
            "local",
            "--to-state-dir",
            "back",
        ])
        .success();
    assert!(
        r.stdout.contains("remove the stack's `state:` section"),
        "{}",
        r.stdout
    );
    let back =
        std::fs::read(env.path().join("back/multicloud-sim/snapshot.json")).expect("copied back");
    assert_eq!(
        back, original,
        "local -> s3 -> local is byte for byte the same"
    );

    // A different state (another lineage) is never overwritten.
    let mut other = Env::multicloud(0.0);
    other
        .var("AWS_ACCESS_KEY_ID", "testing")
        .var("AWS_SECRET_ACCESS_KEY", "testing");
    other.apply().success();
    let refused = other.run(&to_s3).code(1).clean();
    assert!(
        refused
            .stderr
            .contains("already holds another state of stack \"multicloud-sim\""),
        "{}",
        refused.stderr
    );
    let still = moto
        .s3_objects("migrate-state", &format!("{PREFIX}snapshot.json"))
        .expect("read");
    assert_eq!(still[0].1, original);
}

#[test]
fn a_missing_bucket_is_one_line_with_what_to_do() {
    let moto = moto();
    let mut env = Env::multicloud(0.0);
    let text = env.read_stack().replacen(
        "\nclouds:",
        &format!("\n{}clouds:", state_section(&moto, "nowhere", "60s")),
        1,
    );
    env.write_stack(&text);
    env.var("AWS_ACCESS_KEY_ID", "testing")
        .var("AWS_SECRET_ACCESS_KEY", "testing");
    let r = env.run(&["apply", "--auto-approve"]).code(1).clean();
    assert!(
        r.stderr
            .contains("the state bucket \"nowhere\" does not exist"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(env.sim_addresses().is_empty(), "nothing was created");
}
