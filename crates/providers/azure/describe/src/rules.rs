//! What AKS's API accepts: cluster and agent pool names, regions, VM sizes and tags,
//! as Azure documents them. The sim answers with these rules when it emulates azure
//! (its tests: `providers/sim/src/validate.rs`).

use fedstack_core::stack::describe::{check_tags, lower_alnum, small_number, ApiRules};

/// AKS's rules.
pub struct AksRules;

pub const AKS_REGIONS: &[&str] = &[
    "eastus",
    "eastus2",
    "westus",
    "westus2",
    "westus3",
    "centralus",
    "northcentralus",
    "southcentralus",
    "canadacentral",
    "canadaeast",
    "brazilsouth",
    "northeurope",
    "westeurope",
    "uksouth",
    "ukwest",
    "francecentral",
    "germanywestcentral",
    "switzerlandnorth",
    "norwayeast",
    "swedencentral",
    "australiaeast",
    "australiasoutheast",
    "southeastasia",
    "eastasia",
    "japaneast",
    "japanwest",
    "koreacentral",
    "centralindia",
    "southafricanorth",
    "uaenorth",
];

impl ApiRules for AksRules {
    fn product(&self) -> &'static str {
        "AKS"
    }

    fn regions(&self) -> &'static [&'static str] {
        AKS_REGIONS
    }

    fn check_cluster_name(&self, name: &str) -> Result<(), String> {
        aks_cluster_name(name)
    }

    fn check_pool_name(&self, name: &str) -> Result<(), String> {
        aks_pool_name(name)
    }

    fn check_machine_type(&self, t: &str) -> Result<(), String> {
        if aks_machine(t) {
            Ok(())
        } else {
            Err(format!(
                "machine_type `{t}` is not a valid machine type on AKS (e.g. Standard_D4s_v5)"
            ))
        }
    }

    /// Tags: keys 1-128, values up to 256 characters.
    fn check_labels(&self, labels: &[(&str, &str)]) -> Result<(), String> {
        check_tags("AKS", labels)
    }
}

/// AKS clusters: 1-63 letters, digits, hyphens and underscores, starting and ending
/// with a letter or digit.
fn aks_cluster_name(name: &str) -> Result<(), String> {
    let b = name.as_bytes();
    let ok = (1..=63).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid AKS cluster name: 1-63 letters, digits, hyphens and underscores, starting and ending with a letter or digit"
        ))
    }
}

/// AKS (Linux) agent pools: 1-12 lowercase letters and digits, starting with a letter.
fn aks_pool_name(name: &str) -> Result<(), String> {
    let b = name.as_bytes();
    let ok = (1..=12).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter().all(|&c| lower_alnum(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid AKS node pool name: 1-12 lowercase letters and digits, starting with a letter"
        ))
    }
}

fn aks_machine(t: &str) -> bool {
    let Some(rest) = t.strip_prefix("Standard_") else {
        return false;
    };
    let mut parts = rest.split('_');
    let Some(size) = parts.next() else {
        return false;
    };
    // Series (1-3 capitals), vCPUs (digits, possibly `-N` constrained), feature letters.
    let b = size.as_bytes();
    let series = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
    let digits = b[series..]
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b'-')
        .count();
    let features = &b[series + digits..];
    let size_ok = (1..=3).contains(&series)
        && digits > 0
        && b[series].is_ascii_digit()
        && features.iter().all(|c| c.is_ascii_lowercase());
    let suffix_ok =
        parts.all(|p| p.strip_prefix('v').is_some_and(|n| small_number(n, 9)) || p == "Promo");
    size_ok && suffix_ok
}
