//! One writer per stack: `lock.json` in the stack directory.
//!
//! The lock is taken by writing a complete temporary file and hard-linking it to
//! `lock.json` (which fails if the name exists), so a reader never sees a half-written
//! lock. A lock whose holder ran on this host and is gone (no `/proc/<pid>`, a zombie,
//! or a different process start time, i.e. the pid was reused) is stale and is taken
//! over; locks from other hosts are never judged stale automatically.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::error::{IoContext, StateError};
use crate::fsutil::{self, sync_dir, write_private_file};

pub(crate) const LOCK_FILE: &str = "lock.json";

/// How often a waiting `lock` looks again.
pub const LOCK_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The content of `lock.json`: who holds a stack's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Random UUID (v4) of this lock; `fedstack state unlock <id>` names it.
    pub id: String,
    pub pid: u32,
    /// Field 22 of `/proc/<pid>/stat` (clock ticks after boot) when the lock was
    /// taken: tells a reused pid from the holder. 0 if unknown.
    #[serde(default)]
    pub pid_start_time: u64,
    /// From `/proc/sys/kernel/hostname`.
    pub host: String,
    /// `$USER` of the holder.
    #[serde(default)]
    pub user: String,
    /// What the holder is doing: "apply", "destroy", ...
    pub operation: String,
    /// When the lock was taken, RFC 3339 UTC (`2026-11-21T01:02:03Z`).
    pub since: String,
    /// Leased locks (remote backends): when the lease ends unless the holder renews
    /// it, RFC 3339 UTC. After that any run may take the lock over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl LockInfo {
    /// A new lock for the current process (no lease: `expires` is `None`).
    pub fn for_this_process(operation: &str) -> LockInfo {
        let pid = std::process::id();
        let pid_start_time = match process_state(pid) {
            ProcState::Running { start_time } => start_time,
            _ => 0,
        };
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            pid,
            pid_start_time,
            host: hostname(),
            user: current_user(),
            operation: operation.to_string(),
            since: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            expires: None,
        }
    }

    /// Whether the holding process still runs: `Some(false)` only when that is
    /// certain (same host, and the process is gone, a zombie, or its pid was reused);
    /// `None` when it cannot be told (another host, no `/proc`).
    pub fn holder_alive(&self) -> Option<bool> {
        if self.host != hostname() || self.host == UNKNOWN {
            return None;
        }
        match process_state(self.pid) {
            ProcState::Unknown => None,
            ProcState::Zombie => Some(false),
            ProcState::Running { start_time } => Some(
                self.pid_start_time == 0 || start_time == 0 || start_time == self.pid_start_time,
            ),
            ProcState::Gone => {
                // With `hidepid`, other users' processes are invisible: absence proves
                // nothing unless the holder is us.
                if procfs_hides_processes() && self.user != current_user() {
                    None
                } else {
                    Some(false)
                }
            }
        }
    }
}

impl fmt::Display for LockInfo {
    /// `pid 4242 on host ci-7 (apply since 2026-11-21T01:02:03Z, lock ID 6f1e...)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} on host {} ({} since {}",
            self.pid, self.host, self.operation, self.since
        )?;
        if let Some(expires) = &self.expires {
            write!(f, ", lease until {expires}")?;
        }
        write!(f, ", lock ID {})", self.id)
    }
}

/// What a backend's lock is made of: checked before writing, released at the end.
pub trait Lease: Send + Sync + fmt::Debug {
    /// The location of the state it protects ([`crate::Backend::location`]).
    fn location(&self) -> String;
    /// `Ok` while its holder may still write; [`StateError::LockLost`] once the lock
    /// was removed, taken over, or (for a lease) has run out.
    fn check(&self) -> Result<(), StateError>;
    /// Gives the lock up, only if it is still this one.
    fn release(&self) -> Result<(), StateError>;
    /// For the backend that made it, to reach its own type.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// Holds a stack's lock; releases it when dropped (only if the lock still carries
/// this guard's ID, so a lock that was forcibly removed and re-taken by someone else is
/// left alone).
#[derive(Debug)]
pub struct LockGuard {
    /// The lock as written.
    pub info: LockInfo,
    /// Things worth telling the user, e.g. that a stale lock was removed.
    pub notes: Vec<String>,
    lease: Box<dyn Lease>,
    released: bool,
}

impl LockGuard {
    /// A held lock (for backends).
    pub fn new(info: LockInfo, notes: Vec<String>, lease: Box<dyn Lease>) -> LockGuard {
        LockGuard {
            info,
            notes,
            lease,
            released: false,
        }
    }

    /// The lock ID.
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// What holds the lock (for backends).
    pub fn lease(&self) -> &dyn Lease {
        self.lease.as_ref()
    }

    /// Releases the lock now, reporting errors (dropping the guard ignores them).
    pub fn release(mut self) -> Result<(), StateError> {
        self.released = true;
        self.lease.release()
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if !self.released {
            self.released = true;
            let _ = self.lease.release();
        }
    }
}

/// The local backend's lock: `lock.json` carrying this ID.
#[derive(Debug)]
pub(crate) struct LocalLease {
    pub(crate) dir: PathBuf,
    pub(crate) stack: String,
    pub(crate) id: String,
}

impl Lease for LocalLease {
    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    fn check(&self) -> Result<(), StateError> {
        match read_lock(&self.dir.join(LOCK_FILE))? {
            Some(info) if info.id == self.id => Ok(()),
            _ => Err(StateError::LockLost {
                stack: self.stack.clone(),
                id: self.id.clone(),
            }),
        }
    }

    fn release(&self) -> Result<(), StateError> {
        release(&self.dir, &self.id)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn release(dir: &Path, id: &str) -> Result<(), StateError> {
    let path = dir.join(LOCK_FILE);
    match read_lock(&path) {
        Ok(Some(info)) if info.id == id => remove_verified(dir, id).map(|_| ()),
        Ok(_) => Ok(()),
        Err(StateError::LockUnreadable { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Reads `lock.json`; `None` if there is none.
pub(crate) fn read_lock(path: &Path) -> Result<Option<LockInfo>, StateError> {
    let Some(bytes) = fsutil::read_optional(path)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StateError::LockUnreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// Takes the lock of the stack in `dir` (which must exist), waiting up to `timeout`.
/// `on_wait` is called once, with the holder, if the lock is busy and we start waiting.
pub(crate) fn acquire(
    dir: &Path,
    stack: &str,
    operation: &str,
    timeout: Duration,
    on_wait: &mut dyn FnMut(&LockInfo),
) -> Result<LockGuard, StateError> {
    let info = LockInfo::for_this_process(operation);
    let mut bytes = serde_json::to_vec_pretty(&info).map_err(|source| StateError::Serialize {
        stack: stack.to_string(),
        source,
    })?;
    bytes.push(b'\n');
    let path = dir.join(LOCK_FILE);
    // The complete lock, written once; each attempt hard-links it to `lock.json`.
    let tmp = TempFile(dir.join(format!("{LOCK_FILE}.{}.tmp", info.id)));
    write_private_file(&tmp.0, &bytes, true)?;
    let deadline = Instant::now().checked_add(timeout);
    let mut notes = Vec::new();
    let mut waiting = false;
    loop {
        if try_create(dir, &path, &tmp.0, &bytes)? {
            let lease = LocalLease {
                dir: dir.to_path_buf(),
                stack: stack.to_string(),
                id: info.id.clone(),
            };
            return Ok(LockGuard::new(info, notes, Box::new(lease)));
        }
        let holder = match read_lock(&path) {
            // Released between our attempt and the read: try again at once.
            Ok(None) => continue,
            Ok(Some(holder)) => Some(holder),
            Err(StateError::LockUnreadable { .. }) => None,
            Err(e) => return Err(e),
        };
        if let Some(holder) = &holder {
            if holder.holder_alive() == Some(false) {
                if remove_verified(dir, &holder.id)? {
                    notes.push(format!(
                        "removed a stale lock on stack {stack:?}: {holder} no longer runs"
                    ));
                }
                continue;
            }
        }
        let now = Instant::now();
        let remaining = deadline.map(|d| d.saturating_duration_since(now));
        if remaining == Some(Duration::ZERO) {
            return Err(match holder {
                Some(holder) => StateError::Locked {
                    stack: stack.to_string(),
                    holder: Box::new(holder),
                },
                // Still unreadable after waiting: report why.
                None => match read_lock(&path) {
                    Err(e) => e,
                    Ok(Some(holder)) => StateError::Locked {
                        stack: stack.to_string(),
                        holder: Box::new(holder),
                    },
                    Ok(None) => continue,
                },
            });
        }
        if !waiting {
            waiting = true;
            if let Some(holder) = &holder {
                on_wait(holder);
            }
        }
        let nap = remaining.map_or(LOCK_POLL_INTERVAL, |r| r.min(LOCK_POLL_INTERVAL));
        thread::sleep(nap);
    }
}

/// Removes its file when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// One attempt: hard-link the complete lock in `tmp` to `lock.json`.
/// `Ok(false)` if the lock exists.
fn try_create(dir: &Path, path: &Path, tmp: &Path, bytes: &[u8]) -> Result<bool, StateError> {
    match fs::hard_link(tmp, path) {
        Ok(()) => {
            sync_dir(dir)?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        // File systems without hard links: exclusive create instead. A concurrent
        // reader may briefly see the file incomplete and wait.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
            ) =>
        {
            match write_private_file(path, bytes, true) {
                Ok(()) => {
                    sync_dir(dir)?;
                    Ok(true)
                }
                Err(StateError::Io { source, .. })
                    if source.kind() == io::ErrorKind::AlreadyExists =>
                {
                    Ok(false)
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(StateError::io("create lock", path, e)),
    }
}

/// Removes `lock.json` if (and only if) it carries `id`: renames it aside, checks the
/// ID of what was moved, and puts it back if it was someone else's. Returns whether
/// the lock was removed.
pub(crate) fn remove_verified(dir: &Path, id: &str) -> Result<bool, StateError> {
    let path = dir.join(LOCK_FILE);
    let aside = dir.join(format!("{LOCK_FILE}.removing-{}", uuid::Uuid::new_v4()));
    match fs::rename(&path, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(StateError::io("move aside", &path, e)),
    }
    let moved = read_lock(&aside);
    let ours = matches!(&moved, Ok(Some(info)) if info.id == id);
    if !ours {
        // Someone took the lock in between: give it back (unless yet another
        // process already created a new one).
        match fs::hard_link(&aside, &path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StateError::io("restore", &path, e)),
        }
    }
    fs::remove_file(&aside).ctx("remove", &aside)?;
    sync_dir(dir)?;
    Ok(ours)
}

/// `unlock(id)`: remove the lock only if it carries `id`.
pub(crate) fn unlock(dir: &Path, stack: &str, id: &str) -> Result<LockInfo, StateError> {
    let path = dir.join(LOCK_FILE);
    let not_locked = || StateError::NotLocked {
        stack: stack.to_string(),
    };
    let Some(holder) = read_lock(&path)? else {
        return Err(not_locked());
    };
    if holder.id != id.trim() {
        return Err(StateError::LockIdMismatch {
            stack: stack.to_string(),
            given: id.to_string(),
            holder: Box::new(holder),
        });
    }
    if remove_verified(dir, &holder.id)? {
        Ok(holder)
    } else {
        // Released or replaced while we looked: report what is there now.
        match read_lock(&path)? {
            Some(now) => Err(StateError::LockIdMismatch {
                stack: stack.to_string(),
                given: id.to_string(),
                holder: Box::new(now),
            }),
            None => Err(not_locked()),
        }
    }
}

const UNKNOWN: &str = "unknown";

/// This machine's name in locks: `FEDSTACK_HOSTNAME` if set (CI runners in containers
/// with random host names, tests playing two hosts), else `/proc/sys/kernel/hostname`.
pub fn hostname() -> String {
    if let Some(name) = std::env::var("FEDSTACK_HOSTNAME")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        return name.trim().to_string();
    }
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| UNKNOWN.to_string())
}

fn current_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| UNKNOWN.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcState {
    /// No such process.
    Gone,
    /// Exited but not reaped: it will never release anything.
    Zombie,
    Running {
        start_time: u64,
    },
    /// No `/proc`, or it could not be read.
    Unknown,
}

/// What `/proc/<pid>/stat` says about `pid`.
pub(crate) fn process_state(pid: u32) -> ProcState {
    if !Path::new("/proc/self/stat").exists() {
        return ProcState::Unknown;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => parse_stat(&stat).unwrap_or(ProcState::Unknown),
        // ESRCH: the process exited while we read.
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(3) => {
            ProcState::Gone
        }
        Err(_) => ProcState::Unknown,
    }
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may
/// itself contain spaces and parentheses, so fields are counted after the last `)`.
fn parse_stat(stat: &str) -> Option<ProcState> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
    let state = fields.first()?;
    if *state == "Z" || *state == "X" {
        return Some(ProcState::Zombie);
    }
    let start_time = fields.get(19)?.parse().ok()?;
    Some(ProcState::Running { start_time })
}

/// `/proc` mounted with `hidepid`: other users' processes are invisible.
fn procfs_hides_processes() -> bool {
    !Path::new("/proc/1").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_survives_odd_command_names() {
        let stat = "4242 (my (weird) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(
            parse_stat(stat),
            Some(ProcState::Running { start_time: 987654 })
        );
        let zombie = "4242 (x) Z 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 0 0";
        assert_eq!(parse_stat(zombie), Some(ProcState::Zombie));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_running_with_a_start_time() {
        match process_state(std::process::id()) {
            ProcState::Running { start_time } => assert!(start_time > 0),
            other => panic!("unexpected {other:?}"),
        }
        let me = LockInfo::for_this_process("apply");
        assert_eq!(me.holder_alive(), Some(true));
        let reused = LockInfo {
            pid_start_time: me.pid_start_time + 1,
            ..me.clone()
        };
        assert_eq!(reused.holder_alive(), Some(false));
        let elsewhere = LockInfo {
            host: "some-other-host.invalid".into(),
            ..reused
        };
        assert_eq!(elsewhere.holder_alive(), None);
    }

    #[test]
    fn lock_info_display_names_the_holder() {
        let info = LockInfo {
            id: "6f1e".into(),
            pid: 4242,
            pid_start_time: 1,
            host: "ci-7".into(),
            user: "bob".into(),
            operation: "apply".into(),
            since: "2026-11-21T01:02:03Z".into(),
            expires: None,
        };
        assert_eq!(
            info.to_string(),
            "pid 4242 on host ci-7 (apply since 2026-11-21T01:02:03Z, lock ID 6f1e)"
        );
        let leased = LockInfo {
            expires: Some("2026-11-21T01:03:03Z".into()),
            ..info
        };
        assert_eq!(
            leased.to_string(),
            "pid 4242 on host ci-7 (apply since 2026-11-21T01:02:03Z, lease until 2026-11-21T01:03:03Z, lock ID 6f1e)"
        );
    }
}
