//! Free ports on 127.0.0.1 for a new control plane. A cluster keeps its ports for life
//! (its endpoint is an output others reference), so they are picked below the kernel's
//! ephemeral range (outgoing connections never take them), never twice in one process,
//! and never one that another local cluster of the state directory has recorded (a
//! stopped cluster gets its ports back when it restarts).

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The four ports of a control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ports {
    pub etcd: u16,
    pub etcd_peer: u16,
    pub apiserver: u16,
    pub controller_manager: u16,
}

impl Ports {
    pub fn all(&self) -> [u16; 4] {
        [
            self.etcd,
            self.etcd_peer,
            self.apiserver,
            self.controller_manager,
        ]
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

/// Picks four distinct free ports, none in `reserved`.
pub(crate) fn allocate(reserved: &BTreeSet<u16>) -> Result<Ports, String> {
    let (lo, hi) = candidate_range();
    let mut handed = HANDED_OUT
        .lock()
        .map_err(|_| "the port allocator is poisoned".to_string())?;
    let mut picked: Vec<u16> = Vec::with_capacity(4);
    // Listeners stay open until all four are picked, so none is picked twice.
    let mut held: Vec<TcpListener> = Vec::with_capacity(4);
    for _ in 0..2000 {
        if picked.len() == 4 {
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
    if picked.len() < 4 {
        return Err(format!(
            "cannot find 4 free ports on 127.0.0.1 between {lo} and {hi}"
        ));
    }
    handed.extend(picked.iter().copied());
    Ok(Ports {
        etcd: picked[0],
        etcd_peer: picked[1],
        apiserver: picked[2],
        controller_manager: picked[3],
    })
}

/// Whether something listens on 127.0.0.1:`port` (or it cannot be bound).
pub(crate) fn in_use(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_distinct_free_ports_outside_the_reserved_ones() {
        let a = allocate(&BTreeSet::new()).expect("ports");
        let reserved: BTreeSet<u16> = a.all().into_iter().collect();
        assert_eq!(reserved.len(), 4);
        let b = allocate(&reserved).expect("ports");
        for p in b.all() {
            assert!(!reserved.contains(&p));
            assert!(!in_use(p));
        }
        let (lo, hi) = candidate_range();
        assert!(lo < hi);
    }
}
