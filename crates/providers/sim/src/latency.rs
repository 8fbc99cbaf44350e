//! Realistic default latencies, by kind, flavor and operation.
//!
//! Scaled so that the reference demo (three clusters with a pool each, a federation of
//! three and a zone with eight records and three health checks) applies in well under
//! a minute with enough parallelism: the critical path is the EKS cluster (24 s) then
//! its node pool (8 s).
//!
//! | kind / flavor          | create | update | delete | read  |
//! |------------------------|--------|--------|--------|-------|
//! | cluster gke            | 12 s   | 8 s    | 10 s   | 40 ms |
//! | cluster eks            | 24 s   | 16 s   | 20 s   | 50 ms |
//! | cluster aks            | 14 s   | 9.5 s  | 12 s   | 45 ms |
//! | node_pool gke          | 6 s    | 4 s    | 5 s    | 30 ms |
//! | node_pool eks          | 8 s    | 5.5 s  | 7 s    | 35 ms |
//! | node_pool aks          | 7 s    | 4.5 s  | 6 s    | 35 ms |
//! | federation_host        | 3 s    | 2 s    | 2.5 s  | 25 ms |
//! | federation_member      | 2 s    | 1.3 s  | 1.5 s  | 25 ms |
//! | dns_zone               | 2 s    | 1.3 s  | 1.8 s  | 30 ms |
//! | health_check           | 1 s    | 0.7 s  | 0.8 s  | 20 ms |
//! | dns_record (INSYNC)    | 1.5 s  | 1 s    | 1.5 s  | 20 ms |
//! | data                   | 50 ms  | 35 ms  | 40 ms  | 20 ms |

use std::time::Duration;

use fedstack_core::address::ResourceKind;

use crate::config::SimOperation;
use crate::object::Flavor;

/// Milliseconds: create, read, update, delete.
fn table(kind: ResourceKind, flavor: Flavor) -> [u64; 4] {
    use Flavor::*;
    use ResourceKind::*;
    match (kind, flavor) {
        (Cluster, Eks) => [24_000, 50, 16_000, 20_000],
        (Cluster, Aks) => [14_000, 45, 9_500, 12_000],
        (Cluster, _) => [12_000, 40, 8_000, 10_000],
        (NodePool, Eks) => [8_000, 35, 5_500, 7_000],
        (NodePool, Aks) => [7_000, 35, 4_500, 6_000],
        (NodePool, _) => [6_000, 30, 4_000, 5_000],
        (FederationHost, _) => [3_000, 25, 2_000, 2_500],
        (FederationMember, _) => [2_000, 25, 1_300, 1_500],
        (DnsZone, _) => [2_000, 30, 1_300, 1_800],
        (HealthCheck, _) => [1_000, 20, 700, 800],
        (DnsRecord, _) => [1_500, 20, 1_000, 1_500],
        (Data, _) => [50, 20, 35, 40],
    }
}

pub(crate) fn default_ms(kind: ResourceKind, flavor: Flavor, op: SimOperation) -> u64 {
    table(kind, flavor)[op.index()]
}

/// The realistic default latency of `op` on `kind`. `flavor` (`gke`, `eks`, `aks`)
/// matters for clusters and node pools; anything else means GKE's.
pub fn default_latency(kind: ResourceKind, flavor: &str, op: SimOperation) -> Duration {
    let flavor = Flavor::parse(flavor).unwrap_or(Flavor::Gke);
    Duration::from_millis(default_ms(kind, flavor, op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_realistic() {
        for kind in ResourceKind::ALL {
            for flavor in [Flavor::Gke, Flavor::Eks, Flavor::Aks] {
                let [c, r, u, d] = table(kind, flavor);
                assert!(u < c && d <= c, "{kind} {flavor:?}: update and delete are not slower than create");
                assert!((20..=50).contains(&r), "{kind} {flavor:?}: reads take 20-50 ms");
            }
        }
        assert_eq!(
            default_latency(ResourceKind::Cluster, "eks", SimOperation::Create),
            Duration::from_secs(24)
        );
        assert_eq!(
            default_latency(ResourceKind::DnsRecord, "route53", SimOperation::Create),
            Duration::from_millis(1500)
        );
    }
}
