//! Snapshot, journal, compaction and recovery of the local backend.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fedstack_core::address::{Address, ResourceKind};
use fedstack_core::state::{Intent, IntentOperation, ResourceState, StateChange, StateSnapshot};
use fedstack_state::{
    LocalBackend, StateError, StateWriter, BACKUP_FILE, JOURNAL_FILE, SNAPSHOT_FILE,
};

fn addr(name: &str) -> Address {
    Address::new(ResourceKind::Cluster, name)
}

fn put(name: &str) -> StateChange {
    StateChange::Put(Box::new(ResourceState {
        address: addr(name),
        cloud: Some("gcp".into()),
        cloud_name: name.into(),
        attrs: [("node_count".to_string(), serde_json::json!(3))]
            .into_iter()
            .collect(),
        outputs: [(
            "endpoint".to_string(),
            serde_json::json!(format!("https://{name}")),
        )]
        .into_iter()
        .collect(),
        sensitive: Default::default(),
        depends_on: vec![Address::new(ResourceKind::DnsZone, "example.com")],
    }))
}

fn intent(name: &str) -> StateChange {
    StateChange::Intent(Intent {
        address: addr(name),
        operation: IntentOperation::Create,
        cloud: Some("gcp".into()),
        cloud_name: name.into(),
        attrs: Default::default(),
        depends_on: vec![],
        started_at: 1_700_000_000,
    })
}

struct Fixture {
    _tmp: tempfile::TempDir,
    state_dir: PathBuf,
    backend: LocalBackend,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state_dir = tmp.path().join("state");
    let backend = LocalBackend::new(&state_dir, "multicloud");
    Fixture {
        _tmp: tmp,
        state_dir,
        backend,
    }
}

/// Opens a writer (under a fresh lock), runs `f`, and leaves without compacting.
fn with_writer<T>(
    backend: &LocalBackend,
    f: impl FnOnce(&mut StateWriter) -> T,
) -> (T, Vec<String>) {
    let lock = backend.lock("apply", Duration::ZERO).expect("lock");
    let (mut writer, warnings) = backend.open_writer(&lock).expect("open writer");
    let out = f(&mut writer);
    drop(writer);
    lock.release().expect("release");
    (out, warnings)
}

fn journal(dir: &Path) -> String {
    fs::read_to_string(dir.join(JOURNAL_FILE)).expect("journal readable")
}

fn snapshot_on_disk(dir: &Path, file: &str) -> StateSnapshot {
    let bytes = fs::read(dir.join(file)).expect("snapshot readable");
    serde_json::from_slice(&bytes).expect("snapshot parses")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn a_missing_stack_loads_as_new_without_touching_the_disk() {
    let fx = fixture();
    let loaded = fx.backend.load().expect("loads");
    assert!(loaded.is_new);
    assert_eq!(loaded.snapshot.serial, 0);
    assert_eq!(loaded.snapshot.stack, "multicloud");
    assert!(uuid::Uuid::parse_str(&loaded.snapshot.lineage).is_ok());
    assert!(loaded.warnings.is_empty());
    assert!(!fx.state_dir.exists(), "a read must not create anything");
    assert_eq!(
        LocalBackend::list_stacks(&fx.state_dir).expect("lists"),
        Vec::<String>::new()
    );
}

#[test]
fn round_trip_through_journal_and_snapshot() {
    let fx = fixture();
    let ((), _) = with_writer(&fx.backend, |w| {
        assert_eq!(w.serial(), 0);
        w.append(vec![intent("a")]).expect("append");
        w.append(vec![put("a"), put("b")]).expect("append");
        w.compact().expect("compact");
    });
    let loaded = fx.backend.load().expect("loads");
    assert!(!loaded.is_new);
    assert!(loaded.warnings.is_empty());
    let s = &loaded.snapshot;
    assert_eq!(s.serial, 3);
    assert!(s.intents.is_empty(), "put clears the intent");
    assert_eq!(s.resources.len(), 2);
    assert_eq!(
        s.resources[&addr("b")].outputs["endpoint"],
        serde_json::json!("https://b")
    );
    assert_eq!(&snapshot_on_disk(fx.backend.dir(), SNAPSHOT_FILE), s);
    assert_eq!(
        journal(fx.backend.dir()),
        "",
        "compaction empties the journal"
    );
    assert_eq!(
        LocalBackend::list_stacks(&fx.state_dir).expect("lists"),
        vec!["multicloud".to_string()]
    );

    // The lineage is fixed by the first writer and kept afterwards.
    let lineage = s.lineage.clone();
    with_writer(&fx.backend, |w| {
        w.append(vec![StateChange::Remove { address: addr("a") }])
            .expect("append");
        w.compact().expect("compact");
    });
    let again = fx.backend.load().expect("loads").snapshot;
    assert_eq!(again.lineage, lineage);
    assert_eq!(again.serial, 4);
    assert!(!again.resources.contains_key(&addr("a")));
}

#[test]
fn serials_are_consecutive_and_batches_share_one_append() {
    let fx = fixture();
    let (serials, _) = with_writer(&fx.backend, |w| {
        let first = w
            .append(vec![intent("a"), intent("b"), intent("c")])
            .expect("append");
        let second = w.append(vec![put("a")]).expect("append");
        let empty = w.append(vec![]).expect("empty append");
        assert_eq!(w.snapshot().serial, 4);
        (first, second, empty)
    });
    assert_eq!(serials, (3, 4, 4));
    let text = journal(fx.backend.dir());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    for (i, line) in lines.iter().enumerate() {
        let (crc, json) = line.split_once(' ').expect("crc prefix");
        assert_eq!(crc, format!("{:08x}", crc32fast_hash(json)));
        let v: serde_json::Value = serde_json::from_str(json).expect("json");
        assert_eq!(v["serial"], serde_json::json!(i + 1));
    }
    assert!(text.ends_with('\n'));
}

fn crc32fast_hash(s: &str) -> u32 {
    // Reference CRC-32 (IEEE), bitwise, independent of the implementation under test.
    let mut crc = 0xffff_ffffu32;
    for &b in s.as_bytes() {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn a_crash_before_compaction_is_replayed() {
    let fx = fixture();
    with_writer(&fx.backend, |w| {
        w.append(vec![intent("a")]).expect("append");
        w.append(vec![put("a")]).expect("append");
        w.append(vec![intent("b")]).expect("append");
        // "Crash": the writer is dropped without compact.
    });
    let dir = fx.backend.dir();
    assert_eq!(
        snapshot_on_disk(dir, SNAPSHOT_FILE).serial,
        0,
        "nothing compacted yet"
    );
    assert_eq!(journal(dir).lines().count(), 3);

    let loaded = fx.backend.load().expect("loads");
    assert!(loaded.warnings.is_empty());
    assert_eq!(loaded.snapshot.serial, 3);
    assert!(loaded.snapshot.resources.contains_key(&addr("a")));
    assert!(
        loaded.snapshot.intents.contains_key(&addr("b")),
        "the pending intent survives"
    );
    assert_eq!(journal(dir).lines().count(), 3, "load changes nothing");

    // Opening a writer compacts what the crash left.
    let (serial, _) = with_writer(&fx.backend, |w| w.serial());
    assert_eq!(serial, 3);
    assert_eq!(snapshot_on_disk(dir, SNAPSHOT_FILE), loaded.snapshot);
    assert_eq!(journal(dir), "");
}

#[test]
fn entries_left_by_an_interrupted_compaction_are_skipped() {
    let fx = fixture();
    with_writer(&fx.backend, |w| {
        w.append(vec![put("a"), put("b")]).expect("append");
    });
    let dir = fx.backend.dir().to_path_buf();
    let leftover = journal(&dir);
    // Compact, then put the old journal back: as if the truncation never hit the disk.
    with_writer(&fx.backend, |_| {});
    assert_eq!(snapshot_on_disk(&dir, SNAPSHOT_FILE).serial, 2);
    fs::write(dir.join(JOURNAL_FILE), &leftover).expect("restore journal");
    let loaded = fx.backend.load().expect("loads");
    assert_eq!(loaded.snapshot.serial, 2);
    assert!(loaded.warnings.is_empty());
    let (serial, _) = with_writer(&fx.backend, |w| w.append(vec![put("c")]).expect("append"));
    assert_eq!(serial, 3);
}

fn torn_fixture(damage: impl FnOnce(&mut Vec<u8>)) -> (Fixture, Vec<u8>) {
    let fx = fixture();
    with_writer(&fx.backend, |w| {
        w.append(vec![put("a")]).expect("append");
        w.append(vec![put("b")]).expect("append");
    });
    let path = fx.backend.dir().join(JOURNAL_FILE);
    let mut bytes = fs::read(&path).expect("journal");
    let good = bytes.clone();
    damage(&mut bytes);
    fs::write(&path, &bytes).expect("write damaged journal");
    let first_line_len = good.iter().position(|&b| b == b'\n').expect("newline") + 1;
    (fx, good[..first_line_len].to_vec())
}

fn check_torn_repair(fx: &Fixture, intact_prefix: &[u8], reason_part: &str) {
    let dir = fx.backend.dir();
    let damaged = fs::read(dir.join(JOURNAL_FILE)).expect("journal");

    // Read-only: a warning, the intact part applied, nothing changed.
    let loaded = fx.backend.load().expect("a torn tail is not an error");
    assert_eq!(loaded.snapshot.serial, 1);
    assert!(loaded.snapshot.resources.contains_key(&addr("a")));
    assert!(!loaded.snapshot.resources.contains_key(&addr("b")));
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(
        loaded.warnings[0].contains("line 2"),
        "{}",
        loaded.warnings[0]
    );
    assert!(
        loaded.warnings[0].contains(reason_part),
        "{}",
        loaded.warnings[0]
    );
    assert_eq!(
        fs::read(dir.join(JOURNAL_FILE)).expect("journal"),
        damaged,
        "load must not repair"
    );

    // Writing: the torn bytes are moved aside and the journal is cut back.
    let lock = fx.backend.lock("apply", Duration::ZERO).expect("lock");
    let (writer, warnings) = fx.backend.open_writer(&lock).expect("opens");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("journal.torn-"), "{}", warnings[0]);
    assert_eq!(writer.serial(), 1);
    let torn_files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("journal.torn-"))
        })
        .collect();
    assert_eq!(torn_files.len(), 1);
    assert_eq!(
        fs::read(&torn_files[0]).expect("torn file"),
        &damaged[intact_prefix.len()..],
        "exactly the damaged bytes are kept"
    );
    assert_eq!(mode(&torn_files[0]), 0o600);
    drop(writer);
    drop(lock);

    // Repaired and compacted: no more warnings.
    let again = fx.backend.load().expect("loads");
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
    assert_eq!(again.snapshot.serial, 1);
    assert_eq!(snapshot_on_disk(dir, SNAPSHOT_FILE).serial, 1);
}

#[test]
fn a_torn_last_line_is_reported_and_moved_aside() {
    let (fx, prefix) = torn_fixture(|bytes| {
        let len = bytes.len();
        bytes.truncate(len - 20);
    });
    check_torn_repair(&fx, &prefix, "incomplete");
}

#[test]
fn a_bad_checksum_on_the_last_line_is_a_torn_tail() {
    let (fx, prefix) = torn_fixture(|bytes| {
        // Flip a character inside the JSON of the last line, keeping its newline.
        let at = bytes.len() - 10;
        bytes[at] = if bytes[at] == b'x' { b'y' } else { b'x' };
    });
    check_torn_repair(&fx, &prefix, "checksum mismatch");
}

#[test]
fn an_unparsable_last_line_is_a_torn_tail() {
    let (fx, prefix) = torn_fixture(|bytes| {
        let first = bytes.iter().position(|&b| b == b'\n').expect("newline") + 1;
        bytes.truncate(first);
        let json = br#"{"serial":2,"op":"teleport"}"#;
        bytes.extend_from_slice(
            format!(
                "{:08x} ",
                crc32fast_hash(std::str::from_utf8(json).expect("utf-8"))
            )
            .as_bytes(),
        );
        bytes.extend_from_slice(json);
        bytes.push(b'\n');
    });
    check_torn_repair(&fx, &prefix, "cannot be parsed");
}

#[test]
fn damage_followed_by_intact_lines_is_corruption_with_a_line_number() {
    let fx = fixture();
    with_writer(&fx.backend, |w| {
        for name in ["a", "b", "c"] {
            w.append(vec![put(name)]).expect("append");
        }
    });
    let path = fx.backend.dir().join(JOURNAL_FILE);
    let mut text = fs::read_to_string(&path).expect("journal");
    // Break line 2's checksum.
    let second = text.find('\n').expect("newline") + 1;
    text.replace_range(second..second + 8, "deadbeef");
    fs::write(&path, &text).expect("write");

    for result in [
        fx.backend.load().map(|_| ()),
        fx.backend
            .lock("apply", Duration::ZERO)
            .and_then(|lock| fx.backend.open_writer(&lock).map(|_| ())),
    ] {
        let err = result.expect_err("corruption is an error");
        match &err {
            StateError::JournalCorrupt { line, path: p, .. } => {
                assert_eq!(*line, 2);
                assert_eq!(p, &path);
            }
            other => panic!("unexpected error {other:?}"),
        }
        let msg = err.to_string();
        assert!(!msg.contains('\n'));
        assert!(msg.contains("journal.log is corrupt at line 2"), "{msg}");
        assert!(msg.contains("snapshot.json.backup"), "{msg}");
    }
    assert_eq!(
        fs::read_to_string(&path).expect("journal"),
        text,
        "nothing was changed"
    );
}

#[test]
fn a_journal_that_does_not_continue_the_snapshot_is_refused() {
    let fx = fixture();
    with_writer(&fx.backend, |w| {
        w.append(vec![put("a"), put("b"), put("c")])
            .expect("append");
    });
    let path = fx.backend.dir().join(JOURNAL_FILE);
    let text = fs::read_to_string(&path).expect("journal");
    let without_first: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    fs::write(&path, without_first).expect("write");
    match fx.backend.load() {
        Err(StateError::JournalCorrupt {
            line: 1, reason, ..
        }) => assert!(reason.contains("serial 2"), "{reason}"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn the_previous_snapshot_is_kept_as_backup() {
    let fx = fixture();
    let dir = fx.backend.dir().to_path_buf();
    with_writer(&fx.backend, |w| {
        w.append(vec![put("a")]).expect("append");
        w.compact().expect("compact");
        assert_eq!(snapshot_on_disk(&dir, BACKUP_FILE).serial, 0);
        w.append(vec![put("b")]).expect("append");
        w.compact().expect("compact");
    });
    let backup = snapshot_on_disk(&dir, BACKUP_FILE);
    assert_eq!(backup.serial, 1);
    assert!(backup.resources.contains_key(&addr("a")));
    assert!(!backup.resources.contains_key(&addr("b")));
    assert_eq!(snapshot_on_disk(&dir, SNAPSHOT_FILE).serial, 2);
    let leftovers: Vec<String> = fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn compaction_with_nothing_new_rewrites_nothing() {
    let fx = fixture();
    let dir = fx.backend.dir().to_path_buf();
    with_writer(&fx.backend, |w| {
        w.append(vec![put("a")]).expect("append");
        w.compact().expect("compact");
    });
    let inode = fs::metadata(dir.join(SNAPSHOT_FILE)).expect("meta").ino();
    let backup_inode = fs::metadata(dir.join(BACKUP_FILE)).expect("meta").ino();
    with_writer(&fx.backend, |w| {
        w.compact().expect("compact");
        w.compact().expect("compact");
        assert_eq!(w.serial(), 1);
    });
    assert_eq!(
        fs::metadata(dir.join(SNAPSHOT_FILE)).expect("meta").ino(),
        inode
    );
    assert_eq!(
        fs::metadata(dir.join(BACKUP_FILE)).expect("meta").ino(),
        backup_inode
    );
    assert_eq!(fx.backend.load().expect("loads").snapshot.serial, 1);
}

#[test]
fn files_are_0600_and_the_stack_dir_0700() {
    let fx = fixture();
    let dir = fx.backend.dir().to_path_buf();
    let lock = fx.backend.lock("apply", Duration::ZERO).expect("lock");
    assert_eq!(mode(&dir.join("lock.json")), 0o600);
    let (mut w, _) = fx.backend.open_writer(&lock).expect("open");
    w.append(vec![put("a")]).expect("append");
    assert_eq!(mode(&dir.join(JOURNAL_FILE)), 0o600);
    w.compact().expect("compact");
    assert_eq!(mode(&dir), 0o700);
    for f in [SNAPSHOT_FILE, BACKUP_FILE, JOURNAL_FILE] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
}

#[test]
fn newer_formats_and_other_stacks_are_refused() {
    let fx = fixture();
    with_writer(&fx.backend, |w| {
        w.append(vec![put("a")]).expect("append");
        w.compact().expect("compact");
    });
    let path = fx.backend.dir().join(SNAPSHOT_FILE);
    let original: serde_json::Value =
        serde_json::from_slice(&fs::read(&path).expect("read")).expect("json");

    let mut newer = original.clone();
    newer["format_version"] = serde_json::json!(99);
    newer["resources"] = serde_json::json!("a shape this version does not know");
    fs::write(&path, serde_json::to_vec(&newer).expect("json")).expect("write");
    let err = fx.backend.load().expect_err("too new");
    assert!(
        matches!(
            err,
            StateError::FormatTooNew {
                found: 99,
                supported: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade fedstack"), "{err}");

    let mut other = original.clone();
    other["stack"] = serde_json::json!("someone-else");
    fs::write(&path, serde_json::to_vec(&other).expect("json")).expect("write");
    let err = fx.backend.load().expect_err("other stack");
    assert!(matches!(err, StateError::StackMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("\"someone-else\""), "{err}");

    fs::write(&path, b"{ not json").expect("write");
    let err = fx.backend.load().expect_err("garbage");
    assert!(matches!(err, StateError::SnapshotInvalid { .. }), "{err:?}");
    assert!(err.to_string().contains("snapshot.json.backup"), "{err}");
}

#[test]
fn a_missing_snapshot_next_to_a_journal_is_an_error() {
    let fx = fixture();
    with_writer(&fx.backend, |w| {
        w.append(vec![put("a")]).expect("append");
    });
    fs::remove_file(fx.backend.dir().join(SNAPSHOT_FILE)).expect("remove");
    let err = fx.backend.load().expect_err("missing snapshot");
    assert!(matches!(err, StateError::SnapshotMissing { .. }), "{err:?}");
}

#[test]
fn unusable_stack_names_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for name in ["", "..", ".hidden", "a/b", "a\\b", "tab\there"] {
        let backend = LocalBackend::new(tmp.path(), name);
        let err = backend.load().expect_err(name);
        assert!(
            matches!(err, StateError::InvalidStackName { .. }),
            "{name}: {err:?}"
        );
        assert!(backend.lock("apply", Duration::ZERO).is_err());
    }
    assert!(
        fs::read_dir(tmp.path()).expect("dir").next().is_none(),
        "nothing created"
    );
}

#[test]
fn the_writer_is_send() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<StateWriter>();
    assert_send::<fedstack_state::LockGuard>();
    assert_send::<StateError>();
}

#[test]
fn a_writer_can_move_to_another_thread() {
    let fx = fixture();
    let lock = fx.backend.lock("apply", Duration::ZERO).expect("lock");
    let (mut writer, _) = fx.backend.open_writer(&lock).expect("open");
    let serial = std::thread::spawn(move || {
        let s = writer.append(vec![put("a")]).expect("append");
        writer.compact().expect("compact");
        s
    })
    .join()
    .expect("thread");
    assert_eq!(serial, 1);
    assert_eq!(fx.backend.load().expect("loads").snapshot.serial, 1);
}

#[test]
fn a_thousand_resources_load_fast() {
    let fx = fixture();
    let dir = fx.backend.dir().to_path_buf();
    with_writer(&fx.backend, |w| {
        let changes: Vec<StateChange> = (0..1000).map(|i| put(&format!("r{i}"))).collect();
        w.append(changes).expect("append");
        w.compact().expect("compact");
        // And a journal on top: 1,000 single-change appends.
        let started = Instant::now();
        for i in 0..1000 {
            w.append(vec![put(&format!("r{i}"))]).expect("append");
        }
        eprintln!("1,000 appends: {:?}", started.elapsed());
    });
    assert_eq!(journal(&dir).lines().count(), 1000);
    let started = Instant::now();
    let loaded = fx.backend.load().expect("loads");
    let elapsed = started.elapsed();
    eprintln!("load of 1,000 resources + 1,000 journal lines: {elapsed:?}");
    assert_eq!(loaded.snapshot.resources.len(), 1000);
    assert_eq!(loaded.snapshot.serial, 2000);
    // A few ms in release builds; generous for unoptimized test builds.
    assert!(
        elapsed < Duration::from_millis(500),
        "load took {elapsed:?}"
    );
}

#[test]
fn the_torn_tail_is_cut_off_even_if_the_following_compaction_fails() {
    let (fx, prefix) = torn_fixture(|bytes| {
        let len = bytes.len();
        bytes.truncate(len - 20);
    });
    let dir = fx.backend.dir();
    // Make the compaction fail: its temporary file name is taken by a directory.
    fs::create_dir(dir.join("snapshot.json.tmp")).expect("mkdir");
    let lock = fx.backend.lock("apply", Duration::ZERO).expect("lock");
    let err = fx.backend.open_writer(&lock).expect_err("compaction fails");
    assert!(matches!(err, StateError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("snapshot.json.tmp"), "{err}");
    assert_eq!(
        fs::read(dir.join(JOURNAL_FILE)).expect("journal"),
        prefix,
        "cut back to the intact line"
    );
    fs::remove_dir(dir.join("snapshot.json.tmp")).expect("rmdir");
    let (mut writer, warnings) = fx.backend.open_writer(&lock).expect("opens now");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(writer.append(vec![put("c")]).expect("append"), 2);
}
