//! kill -9 at random moments, then re-apply: exactly one of each resource in the
//! (simulated) cloud, the state matches it, and a further plan shows no changes.

use std::time::Duration;

use crate::common::{Env, Run, Stream};

/// Starts `args`, kills it with SIGKILL after `after`, returns whether it was still running.
pub(crate) fn kill_after(env: &Env, args: &[&str], after: Duration) -> bool {
    let mut child = env.spawn(args);
    std::thread::sleep(after);
    let running = child.try_wait().expect("try_wait").is_none();
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    running
}

fn check_converged(env: &Env, declared: &[String]) {
    let r = env.run(&["apply", "--auto-approve"]);
    let r: Run = r.success();
    assert!(!r.stdout.contains("Error"), "{}", r.stdout);
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

#[test]
fn kill_9_during_apply_and_destroy_never_orphans_or_duplicates() {
    // Latencies scaled so a whole apply takes about 2.5 s.
    let env = Env::multicloud(0.05);
    let declared = env.declared_addresses();
    let seed = std::env::var("FEDSTACK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("crash test seed: {seed} (FEDSTACK_CRASH_SEED={seed} replays it)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut kills = 0;
    for round in 0..6 {
        // Start each round with work to do: from nothing, or from a destroy that was
        // itself killed half-way.
        if round > 0 {
            if round % 2 == 1 {
                let after = Duration::from_millis(rng.u64(20..1200));
                if kill_after(
                    &env,
                    &["destroy", "--auto-approve", "--lock-timeout", "10s"],
                    after,
                ) {
                    kills += 1;
                }
                let plan = env.run(&["plan"]).success();
                assert!(!plan.stdout.contains("Error"), "{}", plan.stdout);
            } else {
                env.run(&["destroy", "--auto-approve"]).success();
            }
        }
        // Several kills in a row, each resuming the previous half-done run.
        for _ in 0..3 {
            let after = Duration::from_millis(rng.u64(20..1500));
            if kill_after(
                &env,
                &["apply", "--auto-approve", "--lock-timeout", "10s"],
                after,
            ) {
                kills += 1;
            }
        }
        check_converged(&env, &declared);
    }
    assert!(
        kills >= 8,
        "only {kills} kills landed while fedstack was running"
    );
    let d = env.run(&["destroy", "--auto-approve"]).success();
    assert!(d.stdout.contains("Destroy complete!"), "{}", d.stdout);
    assert!(env.sim_addresses().is_empty());
    assert!(env.state_addresses().is_empty());
}

#[test]
fn ctrl_c_finishes_calls_in_flight_and_records_them() {
    let mut env = Env::multicloud(0.06);
    let declared = env.declared_addresses();
    // The cluster creates are held in flight until this test lets them go.
    env.var("FEDSTACK_SIM_HOLD", "cluster.*:create");
    let mut run = env.start(&["apply", "--auto-approve"]);
    env.wait_held(&mut run, "create-cluster.");
    run.interrupt();
    run.wait_line(Stream::Out, "Interrupt received");
    // Only now do the calls in flight return: the run waited for them.
    let r = env.release_until_exit(run).code(130).clean();
    assert!(
        r.stdout.contains("not started (interrupted)"),
        "{}",
        r.stdout
    );
    assert!(
        !env.path().join("state/multicloud-sim/lock.json").exists(),
        "the lock is released"
    );
    // Everything that finished is recorded; nothing is pending; the rest follows.
    assert!(env.state_pending().is_empty(), "{:?}", env.state_pending());
    let sim = env.sim_addresses();
    assert!(sim.iter().any(|a| a.starts_with("cluster.")), "{sim:?}");
    assert_eq!(sim, env.state_addresses());
    env.unset("FEDSTACK_SIM_HOLD");
    check_converged(&env, &declared);
}

#[test]
fn second_ctrl_c_stops_at_once_and_the_next_run_adopts_what_was_in_flight() {
    let mut env = Env::multicloud(0.2);
    let declared = env.declared_addresses();
    env.var("FEDSTACK_SIM_HOLD", "cluster.*:create");
    let mut run = env.start(&["apply", "--auto-approve"]);
    let held = env.wait_held(&mut run, "create-cluster.");
    run.interrupt();
    run.wait_line(Stream::Out, "Interrupt received");
    run.interrupt();
    // The held call has not returned (its marker is still there), yet the run ends:
    // the second Ctrl-C does not wait for calls in flight.
    let r = run.finish().code(130).clean();
    assert!(
        env.held().contains(&held),
        "the held call must still be in flight: {:?}",
        env.held()
    );
    assert!(r.stdout.contains("Second interrupt"), "{}", r.stdout);
    // The clusters were being created: their intents are recorded, and refresh adopts them.
    let pending = env.state_pending();
    assert!(
        pending.iter().any(|a| a.starts_with("cluster.")),
        "{pending:?}"
    );
    env.unset("FEDSTACK_SIM_HOLD");
    let refreshed = env.run(&["refresh"]).success();
    assert!(
        refreshed.stdout.contains("adopted from an interrupted run"),
        "{}",
        refreshed.stdout
    );
    assert!(env.state_pending().is_empty());
    check_converged(&env, &declared);
}
