//! Resource addresses: stable, documented names such as `cluster.gke-sydney`.
//!
//! | kind                | address                                   |
//! |---------------------|-------------------------------------------|
//! | cluster             | `cluster.<cluster>`                        |
//! | node pool           | `node_pool.<cluster>.<pool>`               |
//! | federation host     | `federation_host.<cluster>`                |
//! | federation member   | `federation_member.<cluster>`              |
//! | DNS zone            | `dns_zone.<zone>`                          |
//! | health check        | `health_check.<name>`                      |
//! | DNS record          | `dns_record.<fqdn>/<set-id>` (`dns_record.<fqdn>` for simple routing) |
//! | generic data        | `data.<name>`                              |
//! | network (AWS VPC)   | `network.<cluster>`                        |
//! | IAM role            | `iam_role.<name>`                          |
//! | workload            | `workload.<cluster>.<workload>`            |
//! | image (one copy)    | `image.<image>.<registry>`                 |

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The kinds of resources fedstack manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceKind {
    Cluster,
    NodePool,
    FederationHost,
    FederationMember,
    DnsZone,
    HealthCheck,
    DnsRecord,
    Data,
    /// A cluster's network made by fedstack: on AWS a VPC with two subnets in two
    /// zones, an internet gateway and a route table, as one resource.
    Network,
    /// An IAM role (an EKS cluster's or its nodes').
    IamRole,
    /// A `workloads:` entry's manifests applied to one federation member.
    Workload,
    /// An `images:` entry copied to one of its destination registries.
    Image,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 12] = [
        ResourceKind::Cluster,
        ResourceKind::NodePool,
        ResourceKind::FederationHost,
        ResourceKind::FederationMember,
        ResourceKind::DnsZone,
        ResourceKind::HealthCheck,
        ResourceKind::DnsRecord,
        ResourceKind::Data,
        ResourceKind::Network,
        ResourceKind::IamRole,
        ResourceKind::Workload,
        ResourceKind::Image,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Cluster => "cluster",
            ResourceKind::NodePool => "node_pool",
            ResourceKind::FederationHost => "federation_host",
            ResourceKind::FederationMember => "federation_member",
            ResourceKind::DnsZone => "dns_zone",
            ResourceKind::HealthCheck => "health_check",
            ResourceKind::DnsRecord => "dns_record",
            ResourceKind::Data => "data",
            ResourceKind::Network => "network",
            ResourceKind::IamRole => "iam_role",
            ResourceKind::Workload => "workload",
            ResourceKind::Image => "image",
        }
    }

    pub fn parse(s: &str) -> Option<ResourceKind> {
        ResourceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource address: its kind and the name within that kind.
///
/// The name is also the resource's name in its cloud (see [`Address::cloud_name`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub kind: ResourceKind,
    pub name: String,
}

impl Address {
    pub fn new(kind: ResourceKind, name: impl Into<String>) -> Address {
        Address {
            kind,
            name: name.into(),
        }
    }

    /// The name fedstack gives the resource in its cloud. Deterministic, so that a
    /// resource whose create was interrupted can be found again by name and adopted.
    pub fn cloud_name(&self) -> &str {
        &self.name
    }

    /// Whether this address matches a pattern: an exact address, or one with `*`
    /// wildcards (`cluster.*`, `dns_record.*/sydney`, `*`).
    pub fn matches(&self, pattern: &str) -> bool {
        glob_match(pattern.as_bytes(), self.to_string().as_bytes())
    }
}

fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative wildcard match with single-star backtracking: linear in practice.
    let (mut p, mut t) = (0, 0);
    let (mut star, mut star_t) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            star_t = t;
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some(s) = star {
            p = s + 1;
            star_t += 1;
            t = star_t;
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind.as_str(), self.name)
    }
}

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("`{0}` is not an address; expected KIND.NAME, e.g. cluster.gke-sydney")]
    Malformed(String),
    #[error("`{0}` is not a resource kind; kinds are cluster, node_pool, federation_host, federation_member, dns_zone, health_check, dns_record, data, network, iam_role, workload, image")]
    UnknownKind(String),
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Address, AddressError> {
        let (kind, name) = s
            .split_once('.')
            .ok_or_else(|| AddressError::Malformed(s.to_string()))?;
        if name.is_empty() {
            return Err(AddressError::Malformed(s.to_string()));
        }
        let kind =
            ResourceKind::parse(kind).ok_or_else(|| AddressError::UnknownKind(kind.to_string()))?;
        Ok(Address::new(kind, name))
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        for s in [
            "cluster.gke-sydney",
            "node_pool.gke-sydney.default",
            "dns_record.app.example.com/sydney",
            "data.layer-1-7",
            "workload.eks-saopaulo.guestbook",
        ] {
            let a: Address = s.parse().expect("valid address");
            assert_eq!(a.to_string(), s);
        }
    }

    #[test]
    fn rejects_malformed_and_unknown_kinds() {
        assert_eq!(
            "cluster".parse::<Address>(),
            Err(AddressError::Malformed("cluster".into()))
        );
        assert_eq!(
            "clusters.a".parse::<Address>(),
            Err(AddressError::UnknownKind("clusters".into()))
        );
    }

    #[test]
    fn glob_patterns() {
        let a: Address = "dns_record.app.example.com/sydney".parse().expect("valid");
        assert!(a.matches("dns_record.*"));
        assert!(a.matches("dns_record.*/sydney"));
        assert!(a.matches("*"));
        assert!(!a.matches("dns_record.*/toronto"));
        assert!(!a.matches("cluster.*"));
        assert!(a.matches("dns_record.app.example.com/sydney"));
    }
}
