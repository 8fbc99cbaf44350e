//! The S3 backend against moto's server (through the recording, fault-injecting
//! proxy of fedstack-moto): conditional writes, the leased lock, retries.

use std::sync::Once;
use std::time::Duration;

use fedstack_core::address::Address;
use fedstack_core::state::{ResourceState, StateChange};
use fedstack_moto::{DropPoint, Moto};
use fedstack_state::{Backend, StateError};
use fedstack_state_s3::{S3Backend, S3Settings};

const REGION: &str = "eu-west-1";

/// Static test credentials for the SDK's default chain, set once for the process
/// (every test sets the same values).
fn credentials() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::remove_var("AWS_PROFILE");
    });
}

fn moto() -> Moto {
    credentials();
    fedstack_moto::record_peer_use("moto");
    match Moto::start() {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    }
}

fn settings(moto: &Moto, bucket: &str, ttl: Duration) -> S3Settings {
    S3Settings {
        bucket: bucket.to_string(),
        key_prefix: "prod/".into(),
        region: Some(REGION.into()),
        endpoint_url: Some(moto.endpoint()),
        profile: None,
        lock_ttl: ttl,
    }
}

fn backend(moto: &Moto, bucket: &str, ttl: Duration) -> S3Backend {
    S3Backend::new(&settings(moto, bucket, ttl), "multicloud").expect("backend")
}

fn bucket(moto: &Moto, name: &str) {
    moto.create_bucket(name, REGION, true).expect("bucket");
}

fn put(name: &str) -> StateChange {
    let address: Address = format!("cluster.{name}").parse().expect("address");
    StateChange::Put(Box::new(ResourceState {
        address,
        cloud: Some("gcp".into()),
        cloud_name: name.to_string(),
        attrs: Default::default(),
        outputs: Default::default(),
        sensitive: Default::default(),
        depends_on: Vec::new(),
    }))
}

fn keys(moto: &Moto, bucket: &str) -> Vec<String> {
    moto.s3_objects(bucket, "")
        .expect("objects")
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

fn journal_keys(moto: &Moto, bucket: &str) -> Vec<String> {
    keys(moto, bucket)
        .into_iter()
        .filter(|k| k.contains("/journal/"))
        .collect()
}

/// Waits until `f` holds, looking every 50 ms: an event the backend causes (a
/// renewal, a lost lease), not a deadline. A bounded number of looks only guards
/// against a hang.
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..2_400 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} never happened");
}

#[test]
fn batches_are_one_conditional_put_each_and_compaction_leaves_one_snapshot() {
    let moto = moto();
    bucket(&moto, "state-a");
    let b = backend(&moto, "state-a", Duration::from_secs(30));
    assert!(b.load().expect("load").is_new);
    let lock = b.lock("apply", Duration::ZERO, &mut |_| {}).expect("lock");
    let (mut w, warnings) = b.open_writer(&lock).expect("writer");
    assert!(warnings.is_empty());
    moto.clear_calls();
    w.append(vec![put("a")]).expect("append");
    w.append(vec![put("b"), put("c")]).expect("append");
    let puts: Vec<_> = moto
        .calls()
        .into_iter()
        .filter(|c| c.operation == "PutObject")
        .collect();
    assert_eq!(puts.len(), 2, "{puts:?}");
    assert!(puts.iter().all(|c| c.if_none_match.as_deref() == Some("*")));
    assert_eq!(
        journal_keys(&moto, "state-a"),
        vec![
            "prod/multicloud/journal/00000000000000000001-00000000000000000001.log",
            "prod/multicloud/journal/00000000000000000002-00000000000000000003.log",
        ]
    );

    // A reader (another machine) sees every committed batch, without a lock.
    let other = backend(&moto, "state-a", Duration::from_secs(30));
    let seen = other.load().expect("load");
    assert_eq!(seen.snapshot.serial, 3);
    assert_eq!(seen.snapshot.resources.len(), 3);
    assert_eq!(seen.snapshot.lineage, w.snapshot().lineage);

    w.compact().expect("compact");
    assert_eq!(
        keys(&moto, "state-a"),
        vec!["prod/multicloud/lock.json", "prod/multicloud/snapshot.json"]
    );
    let snapshot_put = moto
        .calls()
        .into_iter()
        .rfind(|c| c.operation == "PutObject" && c.path.ends_with("snapshot.json"))
        .expect("snapshot written");
    assert!(snapshot_put.if_match.is_some(), "{snapshot_put:?}");
    drop(w);
    lock.release().expect("release");
    assert_eq!(
        keys(&moto, "state-a"),
        vec!["prod/multicloud/snapshot.json"]
    );
    assert_eq!(other.load().expect("load").snapshot.serial, 3);
}

#[test]
fn a_second_writer_is_refused_at_once_naming_the_holder() {
    let moto = moto();
    bucket(&moto, "state-b");
    let a = backend(&moto, "state-b", Duration::from_secs(30));
    let lock = a.lock("apply", Duration::ZERO, &mut |_| {}).expect("lock");
    let b = backend(&moto, "state-b", Duration::from_secs(30));
    let err = b
        .lock("destroy", Duration::ZERO, &mut |_| {})
        .expect_err("locked");
    let text = err.to_string();
    assert!(matches!(err, StateError::Locked { .. }), "{text}");
    assert!(
        text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    assert!(text.contains(&lock.info.id), "{text}");
    assert!(text.contains("lease until"), "{text}");
    assert_eq!(
        b.current_lock().expect("read").expect("held").id,
        lock.info.id
    );
}

#[test]
fn the_holder_renews_its_lease_and_a_waiting_run_gets_the_lock_on_release() {
    let moto = moto();
    bucket(&moto, "state-c");
    let a = backend(&moto, "state-c", Duration::from_secs(3));
    let lock = a.lock("apply", Duration::ZERO, &mut |_| {}).expect("lock");
    let first = a.current_lock().expect("read").expect("held");
    // Renewed (every second): the expiry moves on, the lock stays ours.
    wait_until("two renewals", || {
        moto.calls()
            .iter()
            .filter(|c| {
                c.operation == "PutObject" && c.path.ends_with("lock.json") && c.if_match.is_some()
            })
            .count()
            >= 2
    });
    let now = a.current_lock().expect("read").expect("held");
    assert_eq!(now.id, first.id);
    assert_ne!(now.expires, first.expires);
    // Still valid for writing after more than one TTL.
    let (mut w, _) = a.open_writer(&lock).expect("writer");
    w.append(vec![put("a")]).expect("append");

    let released = std::thread::spawn(move || {
        drop(w);
        lock.release()
    });
    let b = backend(&moto, "state-c", Duration::from_secs(3));
    let mut waited = false;
    let got = b
        .lock("apply", Duration::from_secs(60), &mut |_| waited = true)
        .expect("lock after release");
    released.join().expect("thread").expect("released");
    assert!(got.notes.is_empty(), "{:?}", got.notes);
    let _ = waited;
}

#[test]
fn a_lock_whose_lease_ran_out_is_taken_over_without_a_manual_step() {
    let moto = moto();
    bucket(&moto, "state-d");
    // A run on another host that died: its lease ended in the past.
    let dead = serde_json::json!({
        "id": "6f1e0000-0000-4000-8000-0000000000aa", "pid": 4242, "pid_start_time": 1,
        "host": "ci-runner-7", "user": "ci", "operation": "apply",
        "since": "2026-01-01T00:00:00Z", "expires": "2026-01-01T00:01:00Z"
    });
    moto.put_s3_object(
        "state-d",
        "prod/multicloud/lock.json",
        dead.to_string().as_bytes(),
    )
    .expect("forge");
    let b = backend(&moto, "state-d", Duration::from_secs(30));
    let got = b
        .lock("apply", Duration::ZERO, &mut |_| {})
        .expect("taken over");
    assert_eq!(got.notes.len(), 1, "{:?}", got.notes);
    assert!(got.notes[0].contains("ci-runner-7"), "{:?}", got.notes);
    assert!(got.notes[0].contains("lease ran out"), "{:?}", got.notes);
    assert_eq!(
        b.current_lock().expect("read").expect("held").id,
        got.info.id
    );
}

#[test]
fn a_run_that_lost_its_lock_stops_writing() {
    let moto = moto();
    bucket(&moto, "state-e");
    let a = backend(&moto, "state-e", Duration::from_secs(3));
    let lock = a.lock("apply", Duration::ZERO, &mut |_| {}).expect("lock");
    let (mut w, _) = a.open_writer(&lock).expect("writer");
    w.append(vec![put("a")]).expect("append");
    // Someone runs `state unlock` on it; its next renewal finds out.
    let b = backend(&moto, "state-e", Duration::from_secs(3));
    b.unlock(&lock.info.id).expect("unlock");
    wait_until("the holder to notice", || lock.lease().check().is_err());
    let err = w.append(vec![put("b")]).expect_err("refused");
    assert!(matches!(err, StateError::LockLost { .. }), "{err}");
    assert_eq!(b.load().expect("load").snapshot.serial, 1);
}

#[test]
fn a_forged_concurrent_snapshot_is_detected_not_overwritten() {
    let moto = moto();
    bucket(&moto, "state-f");
    let a = backend(&moto, "state-f", Duration::from_secs(30));
    let lock = a.lock("apply", Duration::ZERO, &mut |_| {}).expect("lock");
    let (mut w, _) = a.open_writer(&lock).expect("writer");
    w.append(vec![put("a")]).expect("append");
    let key = "prod/multicloud/snapshot.json";
    let forged = {
        let mut s = w.snapshot().clone();
        s.serial = 99;
        serde_json::to_vec(&s).expect("json")
    };
    moto.put_s3_object("state-f", key, &forged).expect("forge");
    let err = w.compact().expect_err("conflict");
    let text = err.to_string();
    assert!(text.contains("another writer changed"), "{text}");
    assert!(text.contains("something other than fedstack"), "{text}");
    let stored = moto.s3_objects("state-f", key).expect("read");
    assert_eq!(stored[0].1, forged, "the other writer's snapshot is intact");
    // And the writer is done: nothing more is written.
    assert!(matches!(
        w.append(vec![put("b")]),
        Err(StateError::WriterPoisoned { .. })
    ));
}

#[test]
fn a_segment_another_writer_committed_first_is_a_conflict_naming_it() {
    let moto = moto();
    bucket(&moto, "state-g");
    let a = backend(&moto, "state-g", Duration::from_secs(30));
    let lock = a.lock("apply", Duration::ZERO, &mut |_| {}).expect("lock");
    let (mut w, _) = a.open_writer(&lock).expect("writer");
    moto.put_s3_object(
        "state-g",
        "prod/multicloud/journal/00000000000000000001-00000000000000000001.log",
        b"not ours\n",
    )
    .expect("forge");
    let err = w.append(vec![put("a")]).expect_err("conflict");
    assert!(err.to_string().contains("another writer changed"), "{err}");
}

#[test]
fn slow_down_answers_and_dropped_connections_are_retried_without_damage() {
    let moto = moto();
    bucket(&moto, "state-h");
    let a = backend(&moto, "state-h", Duration::from_secs(30));
    let lock = a.lock("apply", Duration::ZERO, &mut |_| {}).expect("lock");
    let (mut w, _) = a.open_writer(&lock).expect("writer");

    moto.fail_next(
        "PutObject",
        2,
        "SlowDown",
        "Please reduce your request rate.",
    );
    w.append(vec![put("a")]).expect("append after SlowDown");
    // The request reached S3 but its answer was lost: the retry finds its own segment.
    moto.drop_next("PutObject", 1, DropPoint::AfterMoto);
    w.append(vec![put("b")])
        .expect("append after a lost answer");
    moto.drop_next("PutObject", 1, DropPoint::BeforeMoto);
    w.append(vec![put("c")])
        .expect("append after a dropped request");
    // The compaction's snapshot write, too.
    moto.drop_next("PutObject", 1, DropPoint::AfterMoto);
    w.compact().expect("compact after a lost answer");
    moto.fail_next(
        "DeleteObjects",
        1,
        "InternalError",
        "We encountered an internal error.",
    );
    w.append(vec![put("d")]).expect("append");
    w.compact().expect("compact after a 500");

    let statuses: Vec<u16> = moto.calls().iter().map(|c| c.status).collect();
    assert!(statuses.contains(&503) && statuses.contains(&0) && statuses.contains(&500));
    let seen = backend(&moto, "state-h", Duration::from_secs(30))
        .load()
        .expect("load");
    assert_eq!(seen.snapshot.serial, 4);
    assert_eq!(seen.snapshot.resources.len(), 4);
    assert!(journal_keys(&moto, "state-h").is_empty());
}

#[test]
fn a_missing_bucket_and_versioning_off_are_one_line_each_with_what_to_do() {
    let moto = moto();
    let missing = backend(&moto, "no-such-bucket", Duration::from_secs(30));
    let err = missing
        .lock("apply", Duration::ZERO, &mut |_| {})
        .expect_err("missing");
    let text = err.to_string();
    assert!(text.contains("\"no-such-bucket\" does not exist"), "{text}");
    assert!(text.contains("put-bucket-versioning"), "{text}");
    assert!(!text.contains('\n'), "{text}");
    let err = missing.load().expect_err("missing");
    assert!(err.to_string().contains("does not exist"), "{err}");

    moto.create_bucket("unversioned", REGION, false)
        .expect("bucket");
    let off = backend(&moto, "unversioned", Duration::from_secs(30));
    let err = off
        .lock("apply", Duration::ZERO, &mut |_| {})
        .expect_err("versioning off");
    let text = err.to_string();
    assert!(text.contains("versioning never enabled"), "{text}");
    assert!(text.contains("Status=Enabled"), "{text}");
    assert!(keys(&moto, "unversioned").is_empty(), "nothing written");
}

#[test]
fn no_permission_is_one_line_naming_what_the_credentials_need() {
    let moto = moto();
    bucket(&moto, "state-i");
    moto.fail_next("GetBucketVersioning", 1, "AccessDenied", "Access Denied");
    let b = backend(&moto, "state-i", Duration::from_secs(30));
    let err = b
        .lock("apply", Duration::ZERO, &mut |_| {})
        .expect_err("denied");
    let text = err.to_string();
    assert!(
        text.starts_with("access denied to check the versioning of s3://state-i/"),
        "{text}"
    );
    assert!(text.contains("s3:PutObject"), "{text}");
    assert!(!text.contains('\n'), "{text}");
    assert!(keys(&moto, "state-i").is_empty(), "nothing written");
}
