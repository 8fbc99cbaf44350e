//! Realistic default latencies, by kind, flavor and operation.
//!
//! Real clouds take 5-15 minutes for a cluster; these are scaled so that the reference
//! demo (three clusters with a pool each, a federation of three and a zone with seven
//! records and three health checks) applies in about a minute with the engine's
//! parallelism. The critical path is the EKS cluster (36 s) then its node group (12 s).
//!
//! | kind / flavor          | create | update | delete | read  |
//! |------------------------|--------|--------|--------|-------|
//! | cluster gke            | 20 s   | 13 s   | 16 s   | 40 ms |
//! | cluster eks            | 36 s   | 24 s   | 30 s   | 50 ms |
//! | cluster aks            | 24 s   | 16 s   | 20 s   | 45 ms |
//! | node_pool gke          | 9 s    | 6 s    | 7.5 s  | 30 ms |
//! | node_pool eks          | 12 s   | 8 s    | 10 s   | 35 ms |
//! | node_pool aks          | 10 s   | 6.5 s  | 8 s    | 35 ms |
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
        (Cluster, Eks) => [36_000, 50, 24_000, 30_000],
        (Cluster, Aks) => [24_000, 45, 16_000, 20_000],
        (Cluster, _) => [20_000, 40, 13_000, 16_000],
        (NodePool, Eks) => [12_000, 35, 8_000, 10_000],
        (NodePool, Aks) => [10_000, 35, 6_500, 8_000],
        (NodePool, _) => [9_000, 30, 6_000, 7_500],
        (FederationHost, _) => [3_000, 25, 2_000, 2_500],
        (FederationMember, _) => [2_000, 25, 1_300, 1_500],
        (DnsZone, _) => [2_000, 30, 1_300, 1_800],
        (HealthCheck, _) => [1_000, 20, 700, 800],
        (DnsRecord, _) => [1_500, 20, 1_000, 1_500],
        (Data, _) => [50, 20, 35, 40],
        // Only aws clouds have these; a sim cloud refuses them before any latency.
        (Network, _) => [3_000, 40, 2_000, 3_000],
        (IamRole, _) => [1_000, 20, 700, 800],
        // Copied by the built-in registry provider; a sim cloud refuses them likewise.
        (Image, _) => [1_000, 20, 700, 800],
        // A rollout: applying the objects and waiting for their pods.
        (Workload, _) => [6_000, 25, 4_000, 3_000],
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
                assert!(
                    u < c && d <= c,
                    "{kind} {flavor:?}: update and delete are not slower than create"
                );
                assert!(
                    (20..=50).contains(&r),
                    "{kind} {flavor:?}: reads take 20-50 ms"
                );
            }
        }
        assert_eq!(
            default_latency(ResourceKind::Cluster, "eks", SimOperation::Create),
            Duration::from_secs(36)
        );
        assert_eq!(
            default_latency(ResourceKind::DnsRecord, "route53", SimOperation::Create),
            Duration::from_millis(1500)
        );
    }
}
