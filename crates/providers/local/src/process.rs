//! Processes of a local control plane: started detached (own process group, stdio to a
//! log file) so they outlive fedstack, identified by pid *and* start time (from
//! `/proc/<pid>/stat`) so a reused pid is never mistaken for ours, stopped with the `kill`
//! command (no libc, no unsafe).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A process fedstack started, as recorded in the cluster's `pids.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProcessRecord {
    /// One of [`crate::config::BINARIES`].
    pub name: String,
    pub pid: u32,
    /// Field 22 of `/proc/<pid>/stat`: clock ticks after boot when it started.
    pub start_time: u64,
}

/// State letter and start time of `pid`, from `/proc/<pid>/stat`.
pub(crate) fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ...`: comm may hold spaces and parentheses; it ends at the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

impl ProcessRecord {
    /// Whether this very process is still running (not exited, not a zombie, not a new
    /// process that got the same pid).
    pub fn is_alive(&self) -> bool {
        matches!(proc_stat(self.pid), Some((state, start)) if start == self.start_time && !matches!(state, 'Z' | 'X' | 'x'))
    }
}

/// Starts `bin` with `args` (and `env` added to fedstack's environment) in `cwd`,
/// detached: a new process group (a Ctrl-C of fedstack does not reach it), stdin from
/// /dev/null, stdout and stderr appended to `log` (0600).
/// A thread reaps it if it exits while fedstack still runs; after fedstack exits it is
/// the init process's child.
pub(crate) fn spawn(
    name: &str,
    bin: &Path,
    args: &[String],
    env: &[(String, String)],
    cwd: &Path,
    log: &Path,
) -> std::io::Result<ProcessRecord> {
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(log)?;
    writeln!(
        out,
        "---- fedstack: starting {} {}",
        bin.display(),
        args.join(" ")
    )?;
    let err = out.try_clone()?;
    let mut child = Command::new(bin)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .process_group(0)
        .spawn()?;
    let pid = child.id();
    let start_time = proc_stat(pid).map(|(_, s)| s).unwrap_or(0);
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(ProcessRecord {
        name: name.to_string(),
        pid,
        start_time,
    })
}

/// Sends `signal` (`TERM`, `KILL`) with the `kill` command.
fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

async fn wait_gone(p: &ProcessRecord, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while p.is_alive() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    true
}

/// Stops `p`: SIGTERM, then SIGKILL after `grace`. Only if it is still the same process.
pub(crate) async fn stop(p: &ProcessRecord, grace: Duration) -> Result<(), String> {
    if !p.is_alive() {
        return Ok(());
    }
    signal(p.pid, "TERM");
    if wait_gone(p, grace).await {
        return Ok(());
    }
    signal(p.pid, "KILL");
    if wait_gone(p, Duration::from_secs(5)).await {
        return Ok(());
    }
    Err(format!(
        "{} (pid {}) is still running after SIGKILL",
        p.name, p.pid
    ))
}

/// Every running process of [`crate::config::BINARIES`] whose command line names a path
/// inside `dir` (a cluster directory): the processes of that cluster, even
/// ones missing from `pids.json` (a crash between spawning and recording).
pub(crate) fn processes_using(dir: &Path) -> Vec<ProcessRecord> {
    let prefix = format!("{}/", dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let Some(exe) = args.first().and_then(|a| Path::new(a).file_name()) else {
            continue;
        };
        let Some(name) = crate::config::BINARIES
            .into_iter()
            .find(|b| exe.to_str() == Some(*b))
        else {
            continue;
        };
        if !args.iter().skip(1).any(|a| a.contains(&prefix)) {
            continue;
        }
        if let Some((state, start_time)) = proc_stat(pid) {
            if !matches!(state, 'Z' | 'X' | 'x') {
                found.push(ProcessRecord {
                    name: name.to_string(),
                    pid,
                    start_time,
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_identified_by_start_time() {
        let pid = std::process::id();
        let (state, start) = proc_stat(pid).expect("stat of self");
        assert!(state != 'Z');
        let me = ProcessRecord {
            name: "test".into(),
            pid,
            start_time: start,
        };
        assert!(me.is_alive());
        let reused = ProcessRecord {
            start_time: start + 1,
            ..me.clone()
        };
        assert!(!reused.is_alive(), "same pid, other start time: not ours");
    }

    #[tokio::test]
    async fn spawns_detached_and_stops() {
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join("sleep.log");
        let p = spawn(
            "sleep",
            Path::new("/bin/sleep"),
            &["30".to_string()],
            &[],
            dir.path(),
            &log,
        )
        .expect("spawn");
        assert!(p.is_alive());
        // Its own process group.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", p.pid)).expect("stat");
        let rest = &stat[stat.rfind(')').expect("comm") + 1..];
        let pgrp: u32 = rest
            .split_whitespace()
            .nth(2)
            .expect("pgrp")
            .parse()
            .expect("num");
        assert_eq!(pgrp, p.pid);
        stop(&p, Duration::from_secs(5)).await.expect("stops");
        assert!(!p.is_alive());
        let text = std::fs::read_to_string(&log).expect("log");
        assert!(
            text.starts_with("---- fedstack: starting /bin/sleep 30"),
            "{text}"
        );
        // Stopping a stopped process is fine.
        stop(&p, Duration::from_secs(1)).await.expect("idempotent");
    }

    #[tokio::test]
    async fn sigkill_after_grace() {
        let dir = tempfile::tempdir().expect("dir");
        let p = spawn(
            "stubborn",
            Path::new("/bin/sh"),
            &[
                "-c".into(),
                "trap '' TERM; while :; do sleep 0.1; done".into(),
            ],
            &[],
            dir.path(),
            &dir.path().join("log"),
        )
        .expect("spawn");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        stop(&p, Duration::from_millis(300)).await.expect("killed");
        assert!(!p.is_alive());
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
}
