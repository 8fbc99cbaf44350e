//! What each resource kind lets change in place and what forces a replacement.
//!
//! The planner consults this table; providers follow it (an attribute listed here
//! is one their cloud cannot change on a live object).

use crate::address::ResourceKind;

/// Attributes whose change forces delete-then-create, per kind.
pub fn replace_attributes(kind: ResourceKind) -> &'static [&'static str] {
    match kind {
        ResourceKind::Cluster => &["region", "flavor", "network"],
        ResourceKind::NodePool => &["cluster", "cluster_id", "machine_type", "disk_size_gb"],
        ResourceKind::FederationHost => &["cluster", "cluster_id", "namespace", "scope"],
        ResourceKind::FederationMember => {
            &["cluster", "cluster_id", "host", "host_id", "namespace"]
        }
        ResourceKind::DnsZone => &["zone"],
        ResourceKind::HealthCheck => &["type", "interval"],
        ResourceKind::DnsRecord => &["zone", "zone_id", "fqdn", "type", "set_id", "routing"],
        ResourceKind::Data => &["replace_triggers"],
    }
}

pub fn forces_replacement(kind: ResourceKind, attr: &str) -> bool {
    replace_attributes(kind).contains(&attr)
}
