//! What the stack file says about `provider: azure` clouds (AKS). Pure: no SDK, no
//! I/O, so that the loader and the sim (`emulates: azure`) share it with the provider.
//!
//! ```yaml
//! clouds:
//!   azure:
//!     provider: azure
//!     subscription_id: 00000000-0000-0000-0000-000000000000
//!     resource_group: fedstack-demo   # created if missing; destroy removes it only if fedstack made it
//! clusters:
//!   aks-toronto:
//!     cloud: azure
//!     region: canadacentral          # an Azure location
//!     kubernetes_version: "1.31"     # the newest 1.31 patch AKS offers
//!     dns_prefix: aks-toronto        # default: the cluster's name; changing it replaces
//!     network_plugin: azure          # azure | kubenet | none; changing it replaces
//!     node_pools:                    # the first is the cluster's system pool
//!       system: { machine_type: Standard_D4s_v5, node_count: 3 }
//! ```
//!
//! AKS makes a cluster together with its system pool and never deletes a cluster's
//! last system pool on its own, so the first pool is also described on the cluster
//! (`system_pool`, `system_pool_machine_type`): changing which pool that is, or its
//! machine type, replaces the cluster, and the plan says so.

mod rules;

pub use rules::AksRules;

use fedstack_core::address::ResourceKind;
use fedstack_core::stack::describe::{
    ApiRules, CloudDescription, ClusterInput, ClusterLowering, Cx, Field, FieldKind, Node, Setting,
    SettingKind,
};
use fedstack_core::value::Expr;

/// The description of azure clouds, registered with the loader.
pub static AZURE: Azure = Azure;

/// `provider: azure`: AKS clusters and agent pools.
pub struct Azure;

const SETTINGS: &[Setting] = &[
    Setting::required("subscription_id", SettingKind::Str),
    Setting::required("resource_group", SettingKind::Str),
    Setting::optional("tenant_id", SettingKind::Str),
    Setting::optional("endpoint_url", SettingKind::Str),
    Setting::optional("ca_file", SettingKind::Str),
    Setting::optional("max_parallel", SettingKind::MaxParallel),
    Setting::optional("timeouts", SettingKind::Timeouts),
];

/// `network_plugin` values, as AKS spells them.
pub const NETWORK_PLUGINS: &[&str] = &["azure", "kubenet", "none"];

const CLUSTER_FIELDS: &[Field] = &[
    Field {
        name: "dns_prefix",
        kind: FieldKind::Str,
    },
    Field {
        name: "network_plugin",
        kind: FieldKind::Enum {
            allowed: NETWORK_PLUGINS,
            default: None,
        },
    },
    Field {
        name: "ingress_address",
        kind: FieldKind::Ipv4 {
            why: "the address of the load balancer in front of the cluster's ingress",
        },
    },
];

/// The cluster attribute naming its system pool (the first node pool), which every
/// pool of the cluster also carries (so a pool knows its mode).
pub const SYSTEM_POOL: &str = "system_pool";
/// The system pool's VM size, which the cluster is created with.
pub const SYSTEM_POOL_MACHINE_TYPE: &str = "system_pool_machine_type";

/// The first node pool's name and `machine_type`, read from the cluster's mapping (the
/// pool itself is checked where node pools are).
fn first_pool(cluster: &ClusterInput) -> Option<(String, Option<String>)> {
    let (_, Node::Map { entries, .. }) = cluster.obj.get("node_pools")? else {
        return None;
    };
    let (key, pool) = entries.first()?;
    let machine_type = match pool {
        Node::Map { entries, .. } => entries.iter().find_map(|(k, v)| match v {
            Node::Scalar(s) if k.text == "machine_type" => Some(s.text.to_string()),
            _ => None,
        }),
        _ => None,
    };
    Some((key.text.to_string(), machine_type))
}

impl CloudDescription for Azure {
    fn provider(&self) -> &'static str {
        "azure"
    }

    fn flavor(&self) -> Option<&'static str> {
        Some("aks")
    }

    fn emulated(&self) -> bool {
        true
    }

    /// Azure regions are one lowercase word with digits at most: `canadacentral`,
    /// `westus2`.
    fn claims_region(&self, region: &str) -> bool {
        !region.is_empty()
            && region
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn cluster_fields(&self) -> &'static [Field] {
        CLUSTER_FIELDS
    }

    /// What AKS cannot change on a live cluster (Terraform's azurerm replaces on these
    /// too), and the system pool it was made with.
    fn replace_on(&self, kind: ResourceKind) -> &'static [&'static str] {
        match kind {
            ResourceKind::Cluster => &[
                "dns_prefix",
                "network_plugin",
                SYSTEM_POOL,
                SYSTEM_POOL_MACHINE_TYPE,
            ],
            _ => &[],
        }
    }

    fn lower_cluster(&self, cx: &mut Cx, cluster: &ClusterInput) -> ClusterLowering {
        let mut out = ClusterLowering {
            no_ingress_address: cluster.obj.get("ingress_address").is_none(),
            ..ClusterLowering::default()
        };
        if cluster.obj.get("dns_prefix").is_none() {
            out.cluster_attrs
                .insert("dns_prefix".into(), Expr::lit(cluster.name));
        }
        match first_pool(cluster) {
            Some((name, machine_type)) => {
                out.cluster_attrs
                    .insert(SYSTEM_POOL.into(), Expr::lit(name.clone()));
                out.cluster_attrs.insert(
                    SYSTEM_POOL_MACHINE_TYPE.into(),
                    Expr::Literal(machine_type.map_or(serde_json::Value::Null, Into::into)),
                );
                out.pool_attrs.insert(SYSTEM_POOL.into(), Expr::lit(name));
            }
            None if !cluster.has_pools => cx.error(
                cluster.at,
                format!("{} has no node pools", cluster.what),
                Some("an AKS cluster needs at least one: the first is its system pool (e.g. `node_pools: { system: { machine_type: Standard_D4s_v5, node_count: 3 } }`)".to_string()),
            ),
            None => {}
        }
        out
    }

    fn api_rules(&self) -> Option<&'static dyn ApiRules> {
        Some(&AksRules)
    }
}
