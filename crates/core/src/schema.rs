//! What each resource kind lets change in place and what forces a replacement.
//!
//! The planner consults this table and, per resource, what its cloud's description
//! adds (`DesiredResource::replace_on`); providers follow both (an attribute listed
//! there is one their cloud cannot change on a live object).

use crate::address::ResourceKind;

/// Attributes whose change forces delete-then-create, per kind.
pub fn replace_attributes(kind: ResourceKind) -> &'static [&'static str] {
    match kind {
        // What no cloud moves: a cluster to another region, a pool to another cluster
        // or machine type. Each cloud's description adds its own (EKS: subnets, roles).
        ResourceKind::Cluster => &["region", "flavor"],
        ResourceKind::NodePool => &["cluster", "cluster_id", "machine_type"],
        ResourceKind::FederationHost => &["cluster", "cluster_id", "namespace", "scope"],
        ResourceKind::FederationMember => {
            &["cluster", "cluster_id", "host", "host_id", "namespace"]
        }
        ResourceKind::DnsZone => &["zone"],
        ResourceKind::HealthCheck => &["type", "interval"],
        ResourceKind::DnsRecord => &["zone", "zone_id", "fqdn", "type", "set_id", "routing"],
        ResourceKind::Data => &["replace_triggers"],
        // Only clouds make these; their descriptions say what replaces them.
        ResourceKind::Network | ResourceKind::IamRole => &[],
        // Objects in another namespace are other objects: the old ones are deleted.
        ResourceKind::Workload => &["cluster", "workload", "namespace"],
        // Another destination tag (a promotion) is copied in place: the previous tag
        // stays in the registry, forgotten, since what runs may still use it by digest.
        ResourceKind::Image => &[],
    }
}

pub fn forces_replacement(kind: ResourceKind, attr: &str) -> bool {
    replace_attributes(kind).contains(&attr)
}

/// Outputs that an in-place update changes, so that references to them are known only
/// after apply when their resource is updated: an image copied again has a new digest,
/// and what deploys it by that digest must roll out too.
pub fn outputs_changed_by_update(kind: ResourceKind, output: &str) -> bool {
    matches!((kind, output), (ResourceKind::Image, "digest" | "ref"))
}
