//! The world: every object of every sim cloud of one state directory.
//!
//! Kept in memory, persisted in `<state_dir>/.sim/world.jsonl` (see the crate docs for
//! the format), guarded by an advisory lock on `<state_dir>/.sim/lock`: exclusive for a
//! writer, shared for a read-only open, held as long as the world is open in this
//! process. All sim clouds of a process share one [`World`] through a registry keyed by
//! the canonical world directory.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use fedstack_core::address::{Address, ResourceKind};
use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::errors::SimError;
use crate::naming::{AddressPool, ENDPOINT_POOL, INGRESS_POOL};
use crate::object::{Key, Phase, SimObject};

/// Version of the world file format.
pub(crate) const WORLD_FORMAT_VERSION: u32 = 1;
const WORLD_FILE: &str = "world.jsonl";
const LOCK_FILE: &str = "lock";
const SEED_FILE: &str = "seed";

#[derive(Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum OpOut<'a> {
    Format { version: u32 },
    Put { obj: &'a SimObject },
    Del { key: String },
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum OpIn {
    Format { version: u32 },
    Put { obj: Box<SimObject> },
    Del { key: String },
}

pub(crate) fn key_address(key: &Key) -> String {
    format!("{}.{}", key.0, key.1)
}

#[cfg(unix)]
fn private_file() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = OpenOptions::new();
    o.mode(0o600);
    o
}

#[cfg(not(unix))]
fn private_file() -> OpenOptions {
    OpenOptions::new()
}

/// Mode 0600 for a file made by someone else (or an older fedstack).
#[cfg(unix)]
fn make_private_file(f: &File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if f.metadata()?.permissions().mode() & 0o777 != 0o600 {
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private_file(_: &File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let perms = fs::metadata(dir)?.permissions();
    if perms.mode() & 0o777 != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    ReadOnly,
    Writer,
}

/// What reading a world file found.
#[derive(Default)]
struct Loaded {
    objects: BTreeMap<Key, SimObject>,
    ops: usize,
    /// Bytes up to the end of the last complete line; a torn tail starts there.
    good_len: u64,
    total_len: u64,
    /// The last op parsed but had no newline (a hand-edited file).
    needs_newline: bool,
}

fn load(path: &Path) -> Result<Loaded, SimError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) => return Err(SimError::io("read", path, &e)),
    };
    let corrupt = |line: usize, reason: String| SimError::Corrupt {
        path: path.display().to_string(),
        line,
        reason,
    };
    let mut out = Loaded {
        total_len: bytes.len() as u64,
        ..Loaded::default()
    };
    let (mut pos, mut line_no) = (0usize, 0usize);
    while pos < bytes.len() {
        line_no += 1;
        let newline = bytes[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| pos + i);
        let (line, next) = match newline {
            Some(e) => (&bytes[pos..e], e + 1),
            None => (&bytes[pos..], bytes.len()),
        };
        let is_last = next >= bytes.len();
        let line = line.trim_ascii();
        if line.is_empty() {
            pos = next;
            if newline.is_some() {
                out.good_len = next as u64;
            }
            continue;
        }
        let op = match serde_json::from_slice::<OpIn>(line) {
            Ok(op) => op,
            // A write cut short (the sim was killed mid-write): ignore the tail.
            Err(_) if is_last => break,
            Err(e) => return Err(corrupt(line_no, e.to_string())),
        };
        match op {
            OpIn::Format { version } if version > WORLD_FORMAT_VERSION => {
                return Err(corrupt(
                    line_no,
                    format!("format version {version} is newer than this fedstack's ({WORLD_FORMAT_VERSION})"),
                ))
            }
            OpIn::Format { .. } => {}
            OpIn::Put { obj } => {
                out.objects.insert(obj.key(), *obj);
                out.ops += 1;
            }
            OpIn::Del { key } => {
                let a: Address = key
                    .parse()
                    .map_err(|e: fedstack_core::address::AddressError| corrupt(line_no, e.to_string()))?;
                out.objects.remove(&(a.kind, a.name));
                out.ops += 1;
            }
        }
        out.good_len = next as u64;
        out.needs_newline = newline.is_none();
        pos = next;
    }
    Ok(out)
}

/// Takes the lock, waiting up to `timeout` for another process to let go.
fn acquire(file: &File, exclusive: bool, timeout: Duration, dir: &Path) -> Result<(), SimError> {
    let start = Instant::now();
    loop {
        let r = if exclusive {
            file.try_lock()
        } else {
            file.try_lock_shared()
        };
        match r {
            Ok(()) => return Ok(()),
            Err(fs::TryLockError::WouldBlock) if start.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(SimError::Locked {
                    path: dir.display().to_string(),
                    holder: holder(file),
                })
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(SimError::io("lock", &dir.join(LOCK_FILE), &e))
            }
        }
    }
}

/// " (pid N)" when the lock file names a live process.
fn holder(mut file: &File) -> String {
    let mut s = String::new();
    if file.read_to_string(&mut s).is_err() {
        return String::new();
    }
    match s.trim().parse::<u32>() {
        Ok(pid) if Path::new("/proc").join(pid.to_string()).exists() => format!(" (pid {pid})"),
        _ => String::new(),
    }
}

fn ensure_seed(dir: &Path) -> Result<String, SimError> {
    let path = dir.join(SEED_FILE);
    let read = |path: &Path| -> Result<Option<String>, SimError> {
        match fs::read_to_string(path) {
            Ok(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Ok(_) => Err(SimError::Io(format!(
                "{} is empty; delete it to start a new seed (secrets will change)",
                path.display()
            ))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SimError::io("read", path, &e)),
        }
    };
    if let Some(seed) = read(&path)? {
        return Ok(seed);
    }
    // Written whole to a temporary file, then linked into place: never half a seed, and
    // of two processes racing the first one wins.
    let seed = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let tmp = dir.join(format!("seed.{}.tmp", uuid::Uuid::new_v4().simple()));
    let write = || -> std::io::Result<()> {
        let mut f = private_file().write(true).create_new(true).open(&tmp)?;
        f.write_all(seed.as_bytes())?;
        f.write_all(b"\n")
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(SimError::io("write", &tmp, &e));
    }
    let linked = match fs::hard_link(&tmp, &path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        // Filesystems without hard links.
        Err(_) => fs::rename(&tmp, &path),
    };
    let _ = fs::remove_file(&tmp);
    linked.map_err(|e| SimError::io("write", &path, &e))?;
    read(&path)?.ok_or_else(|| SimError::Io(format!("{} vanished", path.display())))
}

/// The in-memory world with its log file.
pub(crate) struct World {
    dir: PathBuf,
    path: PathBuf,
    mode: Mode,
    objects: BTreeMap<Key, SimObject>,
    seed: String,
    /// The append handle of `world.jsonl` (writer only).
    log: Option<File>,
    log_len: u64,
    /// Put and del ops in the log file, to decide when to compact.
    log_ops: usize,
    /// Held for the life of the world; released when the file closes.
    lock: Option<File>,
    buf: Vec<u8>,
    ingress_used: HashSet<Ipv4Addr>,
    endpoint_used: HashSet<Ipv4Addr>,
}

impl World {
    /// Opens the world in `dir` (`<state_dir>/.sim`).
    fn open(dir: &Path, writer: bool, lock_timeout: Duration) -> Result<World, SimError> {
        let path = dir.join(WORLD_FILE);
        let mut world = World {
            dir: dir.to_path_buf(),
            path: path.clone(),
            mode: Mode::ReadOnly,
            objects: BTreeMap::new(),
            seed: String::new(),
            log: None,
            log_len: 0,
            log_ops: 0,
            lock: None,
            buf: Vec::with_capacity(1024),
            ingress_used: HashSet::new(),
            endpoint_used: HashSet::new(),
        };
        if !writer && !dir.is_dir() {
            // Nothing simulated yet; a read-only open creates nothing.
            world.seed = uuid::Uuid::new_v4().simple().to_string();
            return Ok(world);
        }
        make_private_dir(dir).map_err(|e| SimError::io("create", dir, &e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = private_file()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| SimError::io("open", &lock_path, &e))?;
        acquire(&lock, writer, lock_timeout, dir)?;
        if writer {
            let mut l = &lock;
            let pid = format!("{}\n", std::process::id());
            lock.set_len(0)
                .and_then(|()| l.write_all(pid.as_bytes()))
                .map_err(|e| SimError::io("write", &lock_path, &e))?;
        }
        world.lock = Some(lock);
        world.seed = ensure_seed(dir)?;
        let loaded = load(&path)?;
        world.objects = loaded.objects;
        world.log_ops = loaded.ops;
        world.log_len = loaded.good_len;
        world.rebuild_indexes();
        if writer {
            let mut log = private_file()
                .append(true)
                .create(true)
                .open(&path)
                .map_err(|e| SimError::io("open", &path, &e))?;
            make_private_file(&log).map_err(|e| SimError::io("protect", &path, &e))?;
            if loaded.good_len < loaded.total_len {
                // Drop a torn tail so the next op starts on a fresh line.
                log.set_len(loaded.good_len)
                    .map_err(|e| SimError::io("truncate", &path, &e))?;
            } else if loaded.needs_newline {
                log.write_all(b"\n")
                    .map_err(|e| SimError::io("append to", &path, &e))?;
                world.log_len += 1;
            }
            if loaded.total_len == 0 {
                let mut line = serde_json::to_vec(&OpOut::Format {
                    version: WORLD_FORMAT_VERSION,
                })
                .map_err(|e| SimError::Io(e.to_string()))?;
                line.push(b'\n');
                log.write_all(&line)
                    .map_err(|e| SimError::io("write", &path, &e))?;
                world.log_len += line.len() as u64;
            }
            world.log = Some(log);
            world.mode = Mode::Writer;
            world.purge_all_gone(now_ms())?;
            world.maybe_compact()?;
        }
        Ok(world)
    }

    /// Turns a read-only world into a writer: takes the exclusive lock and reloads.
    fn upgrade(&mut self, lock_timeout: Duration) -> Result<(), SimError> {
        self.lock = None;
        *self = World::open(&self.dir, true, lock_timeout)?;
        Ok(())
    }

    pub(crate) fn is_writer(&self) -> bool {
        self.mode == Mode::Writer
    }

    pub(crate) fn seed(&self) -> &str {
        &self.seed
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn rebuild_indexes(&mut self) {
        self.ingress_used.clear();
        self.endpoint_used.clear();
        let objects = std::mem::take(&mut self.objects);
        for o in objects.values() {
            self.index(o, true);
        }
        self.objects = objects;
    }

    fn index(&mut self, o: &SimObject, add: bool) {
        if o.kind != ResourceKind::Cluster {
            return;
        }
        let ip = |k: &str| {
            o.outputs
                .get(k)
                .and_then(|v| v.as_str())
                .map(|s| s.trim_start_matches("https://"))
                .and_then(|s| s.parse::<Ipv4Addr>().ok())
        };
        for (set, ip) in [
            (&mut self.ingress_used, ip("ingress_address")),
            (&mut self.endpoint_used, ip("endpoint")),
        ] {
            if let Some(ip) = ip {
                if add {
                    set.insert(ip);
                } else {
                    set.remove(&ip);
                }
            }
        }
    }

    /// A free address of `pool`, starting the search at a slot picked from `start`.
    fn allocate(pool: &AddressPool, used: &HashSet<Ipv4Addr>, start: u64) -> Ipv4Addr {
        (0..pool.size())
            .map(|i| pool.nth(start.wrapping_add(i)))
            .find(|ip| !used.contains(ip))
            .unwrap_or_else(|| pool.nth(start))
    }

    pub(crate) fn allocate_ingress(&self, start: u64) -> Ipv4Addr {
        World::allocate(&INGRESS_POOL, &self.ingress_used, start)
    }

    pub(crate) fn allocate_endpoint(&self, start: u64) -> Ipv4Addr {
        World::allocate(&ENDPOINT_POOL, &self.endpoint_used, start)
    }

    /// The object under `key`, unless deleted (`delete_at` passed).
    pub(crate) fn live(&self, key: &Key, now: u64) -> Option<&SimObject> {
        self.objects.get(key).filter(|o| o.exists(now))
    }

    pub(crate) fn get(&self, kind: ResourceKind, name: &str, now: u64) -> Option<&SimObject> {
        self.live(&(kind, name.to_string()), now)
    }

    /// Live objects of one kind, by name.
    pub(crate) fn of_kind(&self, kind: ResourceKind, now: u64) -> impl Iterator<Item = &SimObject> {
        self.objects
            .range((kind, String::new())..)
            .take_while(move |((k, _), _)| *k == kind)
            .map(|(_, o)| o)
            .filter(move |o| o.exists(now))
    }

    /// Live DNS records named `fqdn` or `fqdn/<set-id>`.
    pub(crate) fn records_named<'a>(
        &'a self,
        fqdn: &'a str,
        now: u64,
    ) -> impl Iterator<Item = &'a SimObject> {
        self.objects
            .range((ResourceKind::DnsRecord, fqdn.to_string())..)
            .take_while(move |((k, n), _)| *k == ResourceKind::DnsRecord && n.starts_with(fqdn))
            .filter(move |((_, n), _)| n.len() == fqdn.len() || n[fqdn.len()..].starts_with('/'))
            .map(|(_, o)| o)
            .filter(move |o| o.exists(now))
    }

    /// Every object, deleted ones included until purged.
    pub(crate) fn all(&self) -> impl Iterator<Item = &SimObject> {
        self.objects.values()
    }

    fn append(&mut self, op: &OpOut<'_>) -> Result<(), SimError> {
        let Some(log) = self.log.as_mut() else {
            return Err(SimError::ReadOnly);
        };
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, op)
            .map_err(|e| SimError::Io(format!("cannot encode an op: {e}")))?;
        self.buf.push(b'\n');
        // One write() per op: a kill between two ops never leaves half of one behind.
        if let Err(e) = log.write_all(&self.buf) {
            // Never leave a partial line in the middle of the log.
            let _ = log.set_len(self.log_len);
            return Err(SimError::io("append to", &self.path, &e));
        }
        self.log_len += self.buf.len() as u64;
        self.log_ops += 1;
        Ok(())
    }

    /// Stores an object (new or changed), log first.
    pub(crate) fn put(&mut self, obj: SimObject) -> Result<(), SimError> {
        self.append(&OpOut::Put { obj: &obj })?;
        if let Some(old) = self.objects.get(&obj.key()).cloned() {
            self.index(&old, false);
        }
        self.index(&obj, true);
        self.objects.insert(obj.key(), obj);
        Ok(())
    }

    /// Removes an object for good, log first.
    pub(crate) fn remove(&mut self, key: &Key) -> Result<Option<SimObject>, SimError> {
        if !self.objects.contains_key(key) {
            return Ok(None);
        }
        self.append(&OpOut::Del {
            key: key_address(key),
        })?;
        let old = self.objects.remove(key);
        if let Some(o) = &old {
            self.index(o, false);
        }
        Ok(old)
    }

    /// Drops the object under `key` if its deletion has completed (lazily, on access).
    pub(crate) fn purge_if_gone(&mut self, key: &Key, now: u64) -> Result<(), SimError> {
        if self
            .objects
            .get(key)
            .is_some_and(|o| o.phase(now) == Phase::Gone)
        {
            if self.is_writer() {
                self.remove(key)?;
            } else if let Some(o) = self.objects.remove(key) {
                self.index(&o, false);
            }
        }
        Ok(())
    }

    fn purge_all_gone(&mut self, now: u64) -> Result<(), SimError> {
        let gone: Vec<Key> = self
            .objects
            .iter()
            .filter(|(_, o)| o.phase(now) == Phase::Gone)
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            self.purge_if_gone(&k, now)?;
        }
        Ok(())
    }

    fn needs_compaction(&self) -> bool {
        self.log_ops > 2 * self.objects.len() + 256
    }

    /// Compacts the log when it is much larger than the live set (writer only).
    pub(crate) fn maybe_compact(&mut self) -> Result<(), SimError> {
        if self.is_writer() && self.needs_compaction() {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites the log as one put per live object: temporary file, then rename.
    pub(crate) fn compact(&mut self) -> Result<(), SimError> {
        if !self.is_writer() {
            return Err(SimError::ReadOnly);
        }
        let now = now_ms();
        self.objects.retain(|_, o| o.exists(now));
        let mut out = Vec::with_capacity(256 * (self.objects.len() + 1));
        let encode = |out: &mut Vec<u8>, op: &OpOut<'_>| -> Result<(), SimError> {
            serde_json::to_writer(&mut *out, op)
                .map_err(|e| SimError::Io(format!("cannot encode an op: {e}")))?;
            out.push(b'\n');
            Ok(())
        };
        encode(
            &mut out,
            &OpOut::Format {
                version: WORLD_FORMAT_VERSION,
            },
        )?;
        for obj in self.objects.values() {
            encode(&mut out, &OpOut::Put { obj })?;
        }
        let tmp = self.dir.join(format!("{WORLD_FILE}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = private_file()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all(&out)?;
            f.sync_data()
        };
        write().map_err(|e| SimError::io("write", &tmp, &e))?;
        fs::rename(&tmp, &self.path).map_err(|e| SimError::io("replace", &self.path, &e))?;
        let log = private_file()
            .append(true)
            .open(&self.path)
            .map_err(|e| SimError::io("open", &self.path, &e))?;
        self.log = Some(log);
        self.log_len = out.len() as u64;
        self.log_ops = self.objects.len();
        self.rebuild_indexes();
        Ok(())
    }

    /// Ops in the log file (for tests of compaction).
    #[cfg(test)]
    pub(crate) fn log_ops(&self) -> usize {
        self.log_ops
    }
}

/// A world shared by every sim cloud of a process.
pub(crate) type SharedWorld = Arc<Mutex<World>>;

/// Locks the in-memory world. Held briefly, never across an `.await`.
pub(crate) fn lock(world: &Mutex<World>) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(PoisonError::into_inner)
}

static REGISTRY: Mutex<Vec<(PathBuf, Weak<Mutex<World>>)>> = Mutex::new(Vec::new());

/// `<state_dir>/.sim`, canonical when the state directory exists.
pub(crate) fn world_dir(state_dir: &Path) -> PathBuf {
    fs::canonicalize(state_dir)
        .or_else(|_| std::path::absolute(state_dir))
        .unwrap_or_else(|_| state_dir.to_path_buf())
        .join(".sim")
}

/// The world of `state_dir`, shared with every other user in this process; opened (and
/// locked) on first use, closed when the last user drops it.
pub(crate) fn open_shared(
    state_dir: &Path,
    writer: bool,
    lock_timeout: Duration,
) -> Result<SharedWorld, SimError> {
    let dir = world_dir(state_dir);
    let mut registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    registry.retain(|(_, w)| w.strong_count() > 0);
    if let Some(world) = registry
        .iter()
        .find(|(p, _)| *p == dir)
        .and_then(|(_, w)| w.upgrade())
    {
        if writer {
            let mut w = lock(&world);
            if !w.is_writer() {
                w.upgrade(lock_timeout)?;
            }
        }
        return Ok(world);
    }
    let world = Arc::new(Mutex::new(World::open(&dir, writer, lock_timeout)?));
    registry.push((dir, Arc::downgrade(&world)));
    Ok(world)
}

/// The objects of the world of `state_dir`, without taking its lock: from this
/// process's open world if any, else read from the file. Safe while another process
/// writes: the log is append-only, one write per op, and compaction renames.
pub(crate) fn snapshot(state_dir: &Path) -> Result<(Vec<SimObject>, u64), SimError> {
    let dir = world_dir(state_dir);
    let open = {
        let registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
        registry
            .iter()
            .find(|(p, _)| *p == dir)
            .and_then(|(_, w)| w.upgrade())
    };
    if let Some(world) = open {
        let w = lock(&world);
        return Ok((w.all().cloned().collect(), now_ms()));
    }
    let loaded = load(&dir.join(WORLD_FILE))?;
    Ok((loaded.objects.into_values().collect(), now_ms()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Flavor, PendingOp};
    use fedstack_core::value::Values;

    fn data(name: &str, ready_at: u64) -> SimObject {
        SimObject {
            kind: ResourceKind::Data,
            name: name.into(),
            account: "a".into(),
            flavor: Flavor::Sim,
            attrs: Values::new(),
            outputs: Values::new(),
            created_at: 0,
            ready_at,
            delete_at: None,
            pending_op: PendingOp::Create,
            failed: None,
            generation: 1,
            token_generation: 0,
        }
    }

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn log_replays_puts_and_dels_and_ignores_a_torn_tail() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join(".sim");
        {
            let mut w = World::open(&dir, true, T).expect("opens");
            w.put(data("a", 0)).expect("put");
            w.put(data("b", 0)).expect("put");
            w.remove(&(ResourceKind::Data, "a".into())).expect("del");
        }
        let path = dir.join(WORLD_FILE);
        let text = fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], r#"{"op":"format","version":1}"#);
        assert!(
            lines[1].starts_with(r#"{"op":"put","obj":{"kind":"data","name":"a""#),
            "{}",
            lines[1]
        );
        assert_eq!(lines[3], r#"{"op":"del","key":"data.a"}"#);

        // A kill in the middle of a write leaves a torn last line.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(br#"{"op":"put","obj":{"kind":"da"#)
            .expect("write");
        drop(f);
        let mut w = World::open(&dir, true, T).expect("reopens");
        assert!(w.get(ResourceKind::Data, "b", 0).is_some());
        assert!(w.get(ResourceKind::Data, "a", 0).is_none());
        w.put(data("c", 0)).expect("put");
        drop(w);
        let w = World::open(&dir, false, T).expect("reopens");
        assert_eq!(w.all().count(), 2, "torn line dropped, then appended after");
    }

    #[test]
    fn corrupt_middle_line_is_an_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join(".sim");
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(
            dir.join(WORLD_FILE),
            "{\"op\":\"format\",\"version\":1}\nnot json\n{\"op\":\"del\",\"key\":\"data.a\"}\n",
        )
        .expect("write");
        let err = World::open(&dir, true, T).err().expect("corrupt");
        assert!(matches!(err, SimError::Corrupt { line: 2, .. }), "{err}");
        fs::write(dir.join(WORLD_FILE), "{\"op\":\"format\",\"version\":9}\n").expect("write");
        let err = World::open(&dir, true, T).err().expect("too new");
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[test]
    fn compaction_keeps_the_live_set() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join(".sim");
        let mut w = World::open(&dir, true, T).expect("opens");
        for i in 0..300 {
            w.put(data(&format!("d{i}"), 0)).expect("put");
            w.put(data(&format!("d{i}"), 1)).expect("put");
        }
        for i in 0..290 {
            w.remove(&(ResourceKind::Data, format!("d{i}")))
                .expect("del");
        }
        assert_eq!(w.log_ops(), 890);
        w.maybe_compact().expect("compacts");
        assert_eq!(w.log_ops(), 10);
        w.put(data("after", 0)).expect("put after compaction");
        drop(w);
        let text = fs::read_to_string(dir.join(WORLD_FILE)).expect("read");
        assert_eq!(text.lines().count(), 12, "format + 10 + 1");
        let w = World::open(&dir, false, T).expect("reopens");
        assert_eq!(w.all().count(), 11);
        assert!(!dir.join("world.jsonl.tmp").exists());
    }

    #[test]
    fn deleted_objects_are_purged_at_open() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join(".sim");
        let mut w = World::open(&dir, true, T).expect("opens");
        let mut o = data("gone", 0);
        o.delete_at = Some(1);
        w.put(o).expect("put");
        w.put(data("kept", 0)).expect("put");
        drop(w);
        let w = World::open(&dir, true, T).expect("opens");
        assert_eq!(w.all().count(), 1);
        drop(w);
        let text = fs::read_to_string(dir.join(WORLD_FILE)).expect("read");
        assert!(
            text.ends_with("{\"op\":\"del\",\"key\":\"data.gone\"}\n"),
            "{text}"
        );
    }

    #[test]
    fn writers_exclude_each_other_and_readers() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join(".sim");
        let w = World::open(&dir, true, T).expect("opens");
        let short = Duration::from_millis(50);
        let err = World::open(&dir, true, short).err().expect("locked");
        assert!(matches!(err, SimError::Locked { .. }), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(
            World::open(&dir, false, short).is_err(),
            "a reader waits for the writer"
        );
        drop(w);
        let r1 = World::open(&dir, false, short).expect("reader");
        let _r2 = World::open(&dir, false, short).expect("readers share");
        assert!(
            World::open(&dir, true, short).is_err(),
            "a writer waits for readers"
        );
        drop(r1);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join(".sim");
        let mut w = World::open(&dir, true, T).expect("opens");
        w.put(data("a", 0)).expect("put");
        let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(WORLD_FILE)), 0o600);
        assert_eq!(mode(&dir.join(SEED_FILE)), 0o600);
        assert_eq!(w.seed().len(), 64);
        let seed = w.seed().to_string();
        drop(w);
        let w = World::open(&dir, false, T).expect("reopens");
        assert_eq!(w.seed(), seed, "the seed persists");
        drop(w);
        // A world file made readable by someone else is made private again.
        fs::set_permissions(dir.join(WORLD_FILE), fs::Permissions::from_mode(0o644))
            .expect("chmod");
        let _w = World::open(&dir, true, T).expect("reopens");
        assert_eq!(mode(&dir.join(WORLD_FILE)), 0o600);
    }

    #[test]
    fn read_only_open_of_nothing_creates_nothing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join(".sim");
        let mut w = World::open(&dir, false, T).expect("opens");
        assert!(!dir.exists());
        assert_eq!(w.put(data("a", 0)), Err(SimError::ReadOnly));
    }

    #[test]
    fn records_by_fqdn() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join(".sim");
        let mut w = World::open(&dir, true, T).expect("opens");
        for name in [
            "app.x.com",
            "app.x.com/a",
            "app.x.com/b",
            "app.x.community",
            "api.x.com",
        ] {
            let mut o = data(name, 0);
            o.kind = ResourceKind::DnsRecord;
            w.put(o).expect("put");
        }
        let names: Vec<&str> = w
            .records_named("app.x.com", 0)
            .map(|o| o.name.as_str())
            .collect();
        assert_eq!(names, ["app.x.com", "app.x.com/a", "app.x.com/b"]);
    }
}
