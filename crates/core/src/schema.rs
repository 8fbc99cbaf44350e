//! What each resource kind lets change in place and what forces a replacement.
//!
//! The planner consults this table; providers follow it (an attribute listed here
//! is one their cloud cannot change on a live object).

use crate::address::ResourceKind;

/// Attributes whose change forces delete-then-create, per kind.
pub fn replace_attributes(kind: ResourceKind) -> &'static [&'static str] {
    match kind {
        // EKS can't move a cluster to other subnets or give it another role.
        ResourceKind::Cluster => &[
            "region",
            "flavor",
            "network",
            "role_arn",
            "subnet_ids",
            "security_group_ids",
        ],
        ResourceKind::NodePool => &[
            "cluster",
            "cluster_id",
            "machine_type",
            "disk_size_gb",
            "node_role_arn",
            "subnet_ids",
        ],
        ResourceKind::FederationHost => &["cluster", "cluster_id", "namespace", "scope"],
        ResourceKind::FederationMember => {
            &["cluster", "cluster_id", "host", "host_id", "namespace"]
        }
        ResourceKind::DnsZone => &["zone"],
        ResourceKind::HealthCheck => &["type", "interval"],
        ResourceKind::DnsRecord => &["zone", "zone_id", "fqdn", "type", "set_id", "routing"],
        ResourceKind::Data => &["replace_triggers"],
        ResourceKind::Network => &["region", "cidr"],
        ResourceKind::IamRole => &["service"],
    }
}

pub fn forces_replacement(kind: ResourceKind, attr: &str) -> bool {
    replace_attributes(kind).contains(&attr)
}
