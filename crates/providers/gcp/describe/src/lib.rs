//! What the stack file says about `provider: gcp` clouds (GKE). Pure: no SDK, no I/O,
//! so that the loader and the sim (`emulates: gcp`) share it with the provider.
//!
//! ```yaml
//! clusters:
//!   gke-sydney:
//!     cloud: gcp
//!     region: australia-southeast1   # a region (regional cluster) or a zone (zonal)
//!     kubernetes_version: "1.31"     # the newest 1.31 patch GKE offers
//!     release_channel: regular       # rapid | regular | stable | extended; in place
//!     network: default               # VPC network (changing it replaces the cluster)
//!     subnetwork: default            # its subnetwork (the same)
//!     ingress_address: 203.0.113.7   # what DNS records and health checks point at
//! ```

mod rules;

pub use rules::GkeRules;

use fedstack_core::address::ResourceKind;
use fedstack_core::stack::describe::{
    ApiRules, CloudDescription, ClusterInput, ClusterLowering, Cx, Field, FieldKind, Setting,
    SettingKind,
};

/// The description of gcp clouds, registered with the loader.
pub static GCP: Gcp = Gcp;

/// `provider: gcp`: GKE clusters and node pools.
pub struct Gcp;

const SETTINGS: &[Setting] = &[
    Setting::required("project", SettingKind::Str),
    Setting::optional("region", SettingKind::Str),
    Setting::optional("credentials_file", SettingKind::Str),
    Setting::optional("endpoint_url", SettingKind::Str),
    Setting::optional("max_parallel", SettingKind::MaxParallel),
    Setting::optional("timeouts", SettingKind::Timeouts),
];

/// `release_channel` values, as the stack spells them (GKE: `RAPID`, ...).
pub const RELEASE_CHANNELS: &[&str] = &["rapid", "regular", "stable", "extended"];

const CLUSTER_FIELDS: &[Field] = &[
    Field {
        name: "release_channel",
        kind: FieldKind::Enum {
            allowed: RELEASE_CHANNELS,
            default: None,
        },
    },
    Field {
        name: "network",
        kind: FieldKind::Str,
    },
    Field {
        name: "subnetwork",
        kind: FieldKind::Str,
    },
    Field {
        name: "ingress_address",
        kind: FieldKind::Ipv4 {
            why: "the address of the load balancer in front of the cluster's ingress",
        },
    },
];

impl CloudDescription for Gcp {
    fn provider(&self) -> &'static str {
        "gcp"
    }

    fn flavor(&self) -> Option<&'static str> {
        Some("gke")
    }

    fn emulated(&self) -> bool {
        true
    }

    /// GCP regions are a word, a hyphen, a word ending in digits:
    /// `australia-southeast1`, `us-central1`.
    fn claims_region(&self, region: &str) -> bool {
        let Some((area, place)) = region.split_once('-') else {
            return false;
        };
        let digits = place.bytes().rev().take_while(u8::is_ascii_digit).count();
        !area.is_empty()
            && area.bytes().all(|c| c.is_ascii_lowercase())
            && digits > 0
            && digits < place.len()
            && place
                .bytes()
                .take(place.len() - digits)
                .all(|c| c.is_ascii_lowercase())
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn cluster_fields(&self) -> &'static [Field] {
        CLUSTER_FIELDS
    }

    /// GKE cannot move a cluster to another network (Terraform's google provider
    /// replaces on these too); a node pool's autoscaling and size change in place.
    fn replace_on(&self, kind: ResourceKind) -> &'static [&'static str] {
        match kind {
            ResourceKind::Cluster => &["network", "subnetwork"],
            _ => &[],
        }
    }

    fn lower_cluster(&self, _cx: &mut Cx, cluster: &ClusterInput) -> ClusterLowering {
        ClusterLowering {
            no_ingress_address: cluster.obj.get("ingress_address").is_none(),
            ..ClusterLowering::default()
        }
    }

    fn api_rules(&self) -> Option<&'static dyn ApiRules> {
        Some(&GkeRules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcp_regions_are_recognised_by_their_spelling() {
        assert!(GCP.claims_region("australia-southeast1"));
        assert!(GCP.claims_region("us-central1"));
        assert!(!GCP.claims_region("sa-east-1"));
        assert!(!GCP.claims_region("canadacentral"));
        assert!(!GCP.claims_region("us-central1-a-b"));
    }
}
