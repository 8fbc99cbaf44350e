//! One writer per stack.

use crate::common::{Env, Stream};

#[test]
fn second_apply_fails_at_once_naming_the_holder_then_waits_with_timeout() {
    let mut env = Env::multicloud(0.05);
    // The first apply holds the lock for as long as its cluster creates are held.
    env.var("FEDSTACK_SIM_HOLD", "cluster.*:create");
    let mut first = env.start(&["apply", "--auto-approve"]);
    env.wait_held(&mut first, "create-cluster.");
    let pid = first.child.id().to_string();
    // No --lock-timeout: fails at once (if it waited, it would wait for a held call).
    let second = env.run(&["apply", "--auto-approve"]).code(1).clean();
    assert!(
        second
            .stderr
            .contains(&format!("is locked by pid {pid} on host ")),
        "{}",
        second.stderr
    );
    assert!(second.stderr.contains("(apply since "), "{}", second.stderr);
    assert!(
        second.stderr.contains("fedstack state unlock "),
        "{}",
        second.stderr
    );

    // With a timeout, the second says it waits, waits for the first, then has nothing to do.
    let mut waiting = env.start(&["apply", "--auto-approve", "--lock-timeout", "1h"]);
    let line = waiting.wait_line(Stream::Err, "waiting up to 1h for the state lock");
    assert!(
        line.contains(&format!("held by pid {pid} on host ")),
        "{line}"
    );
    env.release_until_exit(first).success();
    let waited = waiting.finish().success();
    assert!(waited.stdout.contains("No changes."), "{}", waited.stdout);
}

#[test]
fn a_dead_holder_is_detected() {
    let env = Env::multicloud(0.0);
    // A lock left by a process that is gone (the true binary exits at once).
    let mut gone = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let pid = gone.id();
    gone.wait().expect("wait");
    std::fs::create_dir_all(env.path().join("state/multicloud-sim")).expect("dir");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    std::fs::write(
        env.path().join("state/multicloud-sim/lock.json"),
        format!(r#"{{"id":"dead-1","pid":{pid},"pid_start_time":1,"host":"{}","user":"x","operation":"apply","since":"2026-01-01T00:00:00Z"}}"#, host.trim()),
    )
    .expect("write lock");
    let r = env.apply();
    assert!(
        r.stderr.contains("warning:"),
        "a note about the stale lock: {}",
        r.stderr
    );
}

#[test]
fn unlock_needs_the_right_id() {
    let env = Env::multicloud(0.0);
    std::fs::create_dir_all(env.path().join("state/multicloud-sim")).expect("dir");
    std::fs::write(
        env.path().join("state/multicloud-sim/lock.json"),
        r#"{"id":"abc-123","pid":1,"pid_start_time":1,"host":"elsewhere","user":"x","operation":"apply","since":"2026-01-01T00:00:00Z"}"#,
    )
    .expect("write lock");
    let r = env.run(&["apply", "--auto-approve"]).code(1).clean();
    assert!(
        r.stderr.contains("is locked by pid 1 on host elsewhere"),
        "{}",
        r.stderr
    );
    env.run(&["state", "unlock", "wrong"]).code(1).clean();
    env.run(&["state", "unlock", "abc-123"]).success();
    env.apply();
}
