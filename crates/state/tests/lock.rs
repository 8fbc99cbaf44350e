//! One writer per stack: `lock.json`.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fedstack_state::{LocalBackend, LockInfo, StateError, LOCK_FILE};

fn backend(tmp: &Path) -> LocalBackend {
    LocalBackend::new(&tmp.join("state"), "multicloud")
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_string()
}

fn start_time(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let rest = &stat[stat.rfind(')').expect(")") + 1..];
    rest.split_whitespace()
        .nth(19)
        .expect("field 22")
        .parse()
        .expect("number")
}

fn write_lock(backend: &LocalBackend, info: &LockInfo) {
    fs::create_dir_all(backend.dir()).expect("dir");
    fs::write(
        backend.dir().join(LOCK_FILE),
        serde_json::to_vec(info).expect("json"),
    )
    .expect("write lock");
}

fn foreign_lock(pid: u32, pid_start_time: u64, host: &str) -> LockInfo {
    LockInfo {
        id: "6f1e0000-0000-4000-8000-000000000001".into(),
        pid,
        pid_start_time,
        host: host.into(),
        user: std::env::var("USER").unwrap_or_default(),
        operation: "apply".into(),
        since: "2026-11-21T01:02:03Z".into(),
        expires: None,
    }
}

#[test]
fn the_lock_file_describes_the_holder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let b = backend(tmp.path());
    let lock = b.lock("destroy", Duration::ZERO).expect("lock");
    assert!(lock.notes.is_empty());
    let on_disk: LockInfo =
        serde_json::from_slice(&fs::read(b.dir().join(LOCK_FILE)).expect("lock file"))
            .expect("parses");
    assert_eq!(on_disk, lock.info);
    assert_eq!(on_disk.pid, std::process::id());
    assert_eq!(on_disk.pid_start_time, start_time(std::process::id()));
    assert_eq!(on_disk.host, hostname());
    assert_eq!(on_disk.operation, "destroy");
    assert_eq!(
        uuid::Uuid::parse_str(&on_disk.id)
            .expect("uuid")
            .get_version_num(),
        4
    );
    assert!(
        humantime::parse_rfc3339(&on_disk.since).is_ok(),
        "{}",
        on_disk.since
    );
    assert!(on_disk.since.ends_with('Z'));
    assert_eq!(b.current_lock().expect("reads"), Some(on_disk));
    drop(lock);
    assert!(
        !b.dir().join(LOCK_FILE).exists(),
        "dropping the guard releases"
    );
    assert_eq!(b.current_lock().expect("reads"), None);
}

#[test]
fn a_held_lock_fails_naming_the_holder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let b = backend(tmp.path());
    let held = b.lock("apply", Duration::ZERO).expect("lock");
    let started = Instant::now();
    let err = b.lock("apply", Duration::ZERO).expect_err("already locked");
    assert!(
        started.elapsed() < Duration::from_millis(90),
        "timeout 0 fails at once"
    );
    match &err {
        StateError::Locked { stack, holder } => {
            assert_eq!(stack, "multicloud");
            assert_eq!(**holder, held.info);
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    let expected = format!(
        "state for stack \"multicloud\" is locked by pid {} on host {} (apply since {}, lock ID {}); wait for it, retry with --lock-timeout, or run `fedstack state unlock {}` if that process is gone",
        held.info.pid, held.info.host, held.info.since, held.info.id, held.info.id
    );
    assert_eq!(msg, expected);

    // With a timeout it waits about that long, then fails the same way.
    let started = Instant::now();
    let mut waited_for = None;
    let err = b
        .lock_with("apply", Duration::from_millis(250), &mut |h| {
            waited_for = Some(h.id.clone())
        })
        .expect_err("still locked");
    let elapsed = started.elapsed();
    assert!(matches!(err, StateError::Locked { .. }));
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert_eq!(waited_for.as_deref(), Some(held.info.id.as_str()));
}

#[test]
fn a_waiting_lock_succeeds_when_the_holder_releases() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let b = backend(tmp.path());
    let held = b.lock("apply", Duration::ZERO).expect("lock");
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        held.release().expect("release");
    });
    let started = Instant::now();
    let lock = b
        .lock("apply", Duration::from_secs(10))
        .expect("gets the lock after the release");
    let elapsed = started.elapsed();
    releaser.join().expect("thread");
    assert!(
        elapsed >= Duration::from_millis(250),
        "it did wait: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert!(lock.notes.is_empty());
}

#[test]
fn a_lock_of_a_dead_process_on_this_host_is_taken_over() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let b = backend(tmp.path());
    let mut child = Command::new("sleep").arg("0").spawn().expect("spawn sleep");
    let pid = child.id();
    child.wait().expect("wait");
    write_lock(&b, &foreign_lock(pid, 12345, &hostname()));

    let lock = b
        .lock("apply", Duration::ZERO)
        .expect("stale lock is taken over");
    assert_ne!(lock.info.id, "6f1e0000-0000-4000-8000-000000000001");
    assert_eq!(lock.notes.len(), 1, "{:?}", lock.notes);
    assert!(lock.notes[0].contains("stale"), "{}", lock.notes[0]);
    assert!(
        lock.notes[0].contains(&format!("pid {pid}")),
        "{}",
        lock.notes[0]
    );
    assert_eq!(
        b.current_lock().expect("reads").map(|l| l.id),
        Some(lock.info.id.clone())
    );
    let leftovers: Vec<String> = fs::read_dir(b.dir())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != LOCK_FILE)
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_reused_pid_is_recognised_by_its_start_time() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let b = backend(tmp.path());
    // Our own pid, but "started" at another time: the holder is gone, the pid reused.
    let me = std::process::id();
    write_lock(&b, &foreign_lock(me, start_time(me) + 1, &hostname()));
    let lock = b.lock("apply", Duration::ZERO).expect("taken over");
    assert_eq!(lock.notes.len(), 1);
}

#[test]
fn a_live_process_and_other_hosts_are_never_stale() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let b = backend(tmp.path());

    let mut child = Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("spawn sleep");
    let pid = child.id();
    write_lock(&b, &foreign_lock(pid, start_time(pid), &hostname()));
    let alive = b.lock("apply", Duration::ZERO);
    child.kill().expect("kill");
    child.wait().expect("wait");
    assert!(matches!(alive, Err(StateError::Locked { .. })), "{alive:?}");

    // Dead now, but the lock says it was taken on another machine: we cannot know.
    write_lock(
        &b,
        &foreign_lock(pid, start_time(std::process::id()), "ci-7.elsewhere"),
    );
    let err = b.lock("apply", Duration::ZERO).expect_err("other host");
    let msg = err.to_string();
    assert!(msg.contains(&format!("locked by pid {pid} on host ci-7.elsewhere (apply since 2026-11-21T01:02:03Z, lock ID 6f1e0000-0000-4000-8000-000000000001)")), "{msg}");
    assert!(
        msg.contains("fedstack state unlock 6f1e0000-0000-4000-8000-000000000001"),
        "{msg}"
    );
}

#[test]
fn unlock_needs_the_right_id() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let b = backend(tmp.path());
    let err = b.unlock("nope").expect_err("nothing to unlock");
    assert!(matches!(err, StateError::NotLocked { .. }), "{err:?}");

    let held = b.lock("apply", Duration::ZERO).expect("lock");
    let err = b.unlock("6f1e-wrong").expect_err("wrong id");
    match &err {
        StateError::LockIdMismatch { given, holder, .. } => {
            assert_eq!(given, "6f1e-wrong");
            assert_eq!(holder.id, held.info.id);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains(&held.info.id), "{err}");
    assert!(
        b.dir().join(LOCK_FILE).exists(),
        "a refused unlock leaves the lock"
    );

    let removed = b.unlock(&held.info.id).expect("right id");
    assert_eq!(removed, held.info);
    assert!(!b.dir().join(LOCK_FILE).exists());

    // Someone else locks; dropping the old guard must not remove their lock.
    let newer = b.lock("destroy", Duration::ZERO).expect("lock again");
    drop(held);
    assert_eq!(
        b.current_lock().expect("reads").map(|l| l.id),
        Some(newer.info.id.clone())
    );
}

#[test]
fn a_writer_needs_a_lock_that_is_still_held() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let b = backend(tmp.path());
    let lock = b.lock("apply", Duration::ZERO).expect("lock");
    b.unlock(&lock.info.id).expect("forced unlock");
    let err = b.open_writer(&lock).expect_err("lock lost");
    assert!(matches!(err, StateError::LockLost { .. }), "{err:?}");

    // A guard for another stack does not open this one.
    let other = LocalBackend::new(&tmp.path().join("state"), "other");
    let other_lock = other.lock("apply", Duration::ZERO).expect("lock other");
    let err = b.open_writer(&other_lock).expect_err("wrong stack");
    assert!(matches!(err, StateError::LockLost { .. }), "{err:?}");
}

#[test]
fn an_unreadable_lock_file_is_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let b = backend(tmp.path());
    fs::create_dir_all(b.dir()).expect("dir");
    fs::write(b.dir().join(LOCK_FILE), b"{ half a lo").expect("write");
    let err = b.lock("apply", Duration::ZERO).expect_err("unreadable");
    assert!(matches!(err, StateError::LockUnreadable { .. }), "{err:?}");
    assert!(err.to_string().contains("delete the file"), "{err}");
}

#[test]
fn threads_contending_for_the_lock_never_overlap() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state_dir = tmp.path().join("state");
    let inside = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (state_dir, inside, done) = (state_dir.clone(), inside.clone(), done.clone());
            std::thread::spawn(move || {
                let b = LocalBackend::new(&state_dir, "multicloud");
                for _ in 0..3 {
                    let lock = b
                        .lock("apply", Duration::from_secs(30))
                        .expect("eventually locks");
                    assert_eq!(
                        inside.fetch_add(1, Ordering::SeqCst),
                        0,
                        "two holders at once"
                    );
                    std::thread::sleep(Duration::from_millis(5));
                    inside.fetch_sub(1, Ordering::SeqCst);
                    lock.release().expect("release");
                    done.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(done.load(Ordering::SeqCst), 18);
}
