//! One writer per stack.

use std::time::{Duration, Instant};

use crate::common::{Env, Run};

#[test]
fn second_apply_fails_at_once_naming_the_holder_then_waits_with_timeout() {
    // Slow enough that the first apply is still running when the second starts.
    let env = Env::multicloud(0.05);
    let first = env.spawn(&["apply", "--auto-approve"]);
    let lock = env.path().join("state/multicloud-sim/lock.json");
    let started = Instant::now();
    while !lock.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the first apply never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let t = Instant::now();
    let second = env.run(&["apply", "--auto-approve"]).code(1).clean();
    assert!(t.elapsed() < Duration::from_secs(5), "must fail at once");
    let pid = first.id().to_string();
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

    // With a timeout, the second waits for the first and then finds nothing to do.
    let waited = env
        .run(&["apply", "--auto-approve", "--lock-timeout", "60s"])
        .success();
    assert!(waited.stdout.contains("No changes."), "{}", waited.stdout);
    let out = first.wait_with_output().expect("first apply");
    let first = Run::from(out, &["apply"]);
    first.success();
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
