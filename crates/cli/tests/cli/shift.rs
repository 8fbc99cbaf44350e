//! `fedstack shift` on the simulated clouds: steps, no drift afterwards, a health
//! check that fails stops the shift before it sends traffic. (Against moto, with a
//! check failing mid-shift and the rollback: `aws.rs`.)

use crate::common::Env;

#[test]
fn dry_run_prints_the_steps_and_changes_nothing() {
    let env = Env::multicloud(0.0);
    env.apply();
    let r = env
        .run(&["shift", "shop", "--to", "green", "--dry-run"])
        .success();
    assert!(
        r.stdout.contains("in 10 step(s), 30s apart (dry run"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("  start     blue 100  green   0"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("  step 10   blue   0  green 100"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("health_check.toronto-https must be healthy"),
        "{}",
        r.stdout
    );
    let r = env
        .run(&[
            "--json",
            "shift",
            "shop.fedstack.example.com",
            "--to",
            "aks-toronto",
            "--dry-run",
            "--step",
            "50",
        ])
        .success();
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
    assert_eq!(v["steps"], serde_json::json!([[50, 50], [0, 100]]));
    env.run(&["plan", "--detailed-exitcode"]).code(0);
}

#[test]
fn a_shift_is_no_drift_and_an_unhealthy_target_gets_no_traffic() {
    let env = Env::multicloud(0.0);
    env.apply();
    let r = env
        .run(&[
            "shift",
            "shop",
            "--to",
            "green",
            "--interval",
            "0s",
            "--step",
            "50",
        ])
        .success();
    assert!(
        r.stdout.contains("step 2    blue   0  green 100"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("The stack still says blue: 100, green: 0"),
        "{}",
        r.stdout
    );
    env.run(&["plan", "--detailed-exitcode"]).code(0);
    let state = env
        .run(&[
            "--json",
            "state",
            "show",
            "dns_record.shop.fedstack.example.com/green",
        ])
        .success();
    assert!(state.stdout.contains("\"weight\":100"), "{}", state.stdout);

    // Blue is down: shifting back does not start.
    env.run(&["sim", "set", "health_check.sydney-https", "healthy=false"])
        .success();
    let r = env
        .run(&["shift", "shop", "--to", "blue", "--interval", "0s"])
        .code(1)
        .clean();
    assert!(
        r.stderr.contains(
            "stopped before step 1: health_check.sydney-https: unhealthy; nothing changed"
        ),
        "{}",
        r.stderr
    );
    env.run(&["plan", "--detailed-exitcode"]).code(0);

    // The stack moves on (50/50): the stack wins, and the shift is forgotten.
    env.write_stack(
        &env.read_stack()
            .replace("weight: 100,", "weight: 50,")
            .replace("weight: 0,", "weight: 50,"),
    );
    let r = env.apply();
    assert!(r.stdout.contains("0 added, 2 changed"), "{}", r.stdout);
    env.run(&["plan", "--detailed-exitcode"]).code(0);
}

#[test]
fn only_weighted_records_with_a_checked_target_shift() {
    let env = Env::multicloud(0.0);
    env.apply();
    let r = env.run(&["shift", "app", "--to", "sydney"]).code(1);
    assert!(
        r.stderr
            .contains("uses latency routing; only weighted records shift"),
        "{}",
        r.stderr
    );
    let r = env.run(&["shift", "nope", "--to", "x"]).code(1);
    assert!(
        r.stderr
            .contains("weighted records: shop.fedstack.example.com"),
        "{}",
        r.stderr
    );
    let r = env.run(&["shift", "shop", "--to", "purple"]).code(1);
    assert!(
        r.stderr
            .contains("`purple` is neither a target nor a cluster"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("targets: blue, green"), "{}", r.stderr);
    let r = env.run(&["shift", "shop", "--to", "blue"]).code(1);
    assert!(
        r.stderr
            .contains("all the traffic is already on the target"),
        "{}",
        r.stderr
    );
}
