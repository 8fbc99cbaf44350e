//! Free ports on 127.0.0.1 for a new control plane. A cluster keeps its ports for life
//! (its endpoint is an output others reference), so they are picked below the kernel's
//! ephemeral range (outgoing connections never take them), never twice in one process,
//! and never one that another local cluster of the state directory has recorded (a
//! stopped cluster gets its ports back when it restarts).

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The ports of a local cluster. `scheduler` and `kwok` are 0 in clusters recorded
/// before they ran those (see [`fill_missing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ports {
    pub etcd: u16,
    pub etcd_peer: u16,
    pub apiserver: u16,
    pub controller_manager: u16,
    /// kube-scheduler's `/healthz` (HTTPS).
    #[serde(default)]
    pub scheduler: u16,
    /// kwok's server (`/healthz`, plain HTTP).
    #[serde(default)]
    pub kwok: u16,
}

impl Ports {
    /// The ports in use (not 0).
    pub fn all(&self) -> Vec<u16> {
        [
            self.etcd,
            self.etcd_peer,
            self.apiserver,
            self.controller_manager,
            self.scheduler,
            self.kwok,
        ]
        .into_iter()
        .filter(|p| *p != 0)
        .collect()
    }
}

/// Ports handed out by this process.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// The range to pick from: below the ephemeral range when there is room, else above it.
fn candidate_range() -> (u16, u16) {
    let (lo, hi) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|n| n.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999));
    if lo >= 15_000 {
        (10_000, lo - 1)
    } else if hi <= 60_000 {
        (hi + 1, 65_000)
    } else {
        (20_000, 30_000)
    }
}

/// Picks `n` distinct free ports, none in `reserved`.
fn pick(n: usize, reserved: &BTreeSet<u16>) -> Result<Vec<u16>, String> {
    let (lo, hi) = candidate_range();
    let mut handed = HANDED_OUT
        .lock()
        .map_err(|_| "the port allocator is poisoned".to_string())?;
    let mut picked: Vec<u16> = Vec::with_capacity(n);
    // Listeners stay open until all are picked, so none is picked twice.
    let mut held: Vec<TcpListener> = Vec::with_capacity(n);
    for _ in 0..2000 {
        if picked.len() == n {
            break;
        }
        let port = fastrand::u16(lo..=hi);
        if reserved.contains(&port) || handed.contains(&port) || picked.contains(&port) {
            continue;
        }
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
            picked.push(port);
            held.push(l);
        }
    }
    if picked.len() < n {
        return Err(format!(
            "cannot find {n} free ports on 127.0.0.1 between {lo} and {hi}"
        ));
    }
    handed.extend(picked.iter().copied());
    Ok(picked)
}

/// Picks the six distinct free ports of a new cluster, none in `reserved`.
pub(crate) fn allocate(reserved: &BTreeSet<u16>) -> Result<Ports, String> {
    let p = pick(6, reserved)?;
    Ok(Ports {
        etcd: p[0],
        etcd_peer: p[1],
        apiserver: p[2],
        controller_manager: p[3],
        scheduler: p[4],
        kwok: p[5],
    })
}

/// Gives a cluster recorded before kube-scheduler and kwok ran ports for them. Returns
/// whether anything changed (then the caller records the ports).
pub(crate) fn fill_missing(ports: &mut Ports, reserved: &BTreeSet<u16>) -> Result<bool, String> {
    let mut reserved = reserved.clone();
    reserved.extend(ports.all());
    let missing = [ports.scheduler, ports.kwok]
        .iter()
        .filter(|p| **p == 0)
        .count();
    if missing == 0 {
        return Ok(false);
    }
    let mut new = pick(missing, &reserved)?.into_iter();
    for p in [&mut ports.scheduler, &mut ports.kwok] {
        if *p == 0 {
            *p = new.next().unwrap_or(0);
        }
    }
    Ok(true)
}

/// Whether something listens on 127.0.0.1:`port` (or it cannot be bound).
pub(crate) fn in_use(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_free_ports_outside_the_reserved_ones() {
        let a = allocate(&BTreeSet::new()).expect("ports");
        let reserved: BTreeSet<u16> = a.all().into_iter().collect();
        assert_eq!(reserved.len(), 6);
        let b = allocate(&reserved).expect("ports");
        for p in b.all() {
            assert!(!reserved.contains(&p));
            assert!(!in_use(p));
        }
        let (lo, hi) = candidate_range();
        assert!(lo < hi);
    }

    #[test]
    fn clusters_recorded_with_four_ports_get_the_others() {
        let old: Ports = serde_json::from_str(
            r#"{"etcd": 21001, "etcd_peer": 21002, "apiserver": 21003, "controller_manager": 21004}"#,
        )
        .expect("old format reads");
        assert_eq!((old.scheduler, old.kwok), (0, 0));
        assert_eq!(old.all(), [21001, 21002, 21003, 21004]);
        let mut p = old;
        assert!(fill_missing(&mut p, &BTreeSet::new()).expect("ports"));
        assert_ne!(p.scheduler, 0);
        assert_ne!(p.kwok, 0);
        assert_ne!(p.scheduler, p.kwok);
        assert!(!old.all().contains(&p.scheduler) && !old.all().contains(&p.kwok));
        assert!(!fill_missing(&mut p, &BTreeSet::new()).expect("ports"));
    }
}
