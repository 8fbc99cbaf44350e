//! What EKS's API accepts: cluster and node group names, regions, instance types and
//! tags, as AWS documents them. The sim answers with these rules when it emulates aws
//! (its tests: `providers/sim/src/validate.rs`).

use fedstack_core::stack::describe::{check_tags, lower_alnum, small_number, ApiRules};

/// EKS's rules.
pub struct EksRules;

/// AWS regions: EKS clusters, and the `region` of latency-routed records.
pub const AWS_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-east-1",
    "me-south-1",
    "af-south-1",
];

impl ApiRules for EksRules {
    fn product(&self) -> &'static str {
        "EKS"
    }

    fn regions(&self) -> &'static [&'static str] {
        AWS_REGIONS
    }

    fn check_cluster_name(&self, name: &str) -> Result<(), String> {
        eks_name("cluster", name, 100)
    }

    fn check_pool_name(&self, name: &str) -> Result<(), String> {
        eks_name("node group", name, 63)
    }

    fn check_machine_type(&self, t: &str) -> Result<(), String> {
        if eks_machine(t) {
            Ok(())
        } else {
            Err(format!(
                "machine_type `{t}` is not a valid machine type on EKS (e.g. m5.large)"
            ))
        }
    }

    /// Tags: keys 1-128, values up to 256 characters.
    fn check_labels(&self, labels: &[(&str, &str)]) -> Result<(), String> {
        check_tags("EKS", labels)
    }
}

/// EKS clusters: 1-100, node groups 1-63: letters, digits, hyphens and underscores,
/// starting with a letter or digit.
fn eks_name(what: &str, name: &str, max: usize) -> Result<(), String> {
    let b = name.as_bytes();
    let ok = (1..=max).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid EKS {what} name: 1-{max} letters, digits, hyphens and underscores, starting with a letter or digit"
        ))
    }
}

fn eks_machine(t: &str) -> bool {
    let Some((family, size)) = t.split_once('.') else {
        return false;
    };
    let fam_ok = family.len() >= 2
        && family.as_bytes()[0].is_ascii_lowercase()
        && family.bytes().any(|b| b.is_ascii_digit())
        && family.bytes().all(|b| lower_alnum(b) || b == b'-');
    let size_ok = matches!(
        size,
        "nano" | "micro" | "small" | "medium" | "large" | "xlarge" | "metal"
    ) || size
        .strip_suffix("xlarge")
        .is_some_and(|n| small_number(n, 112))
        || size
            .strip_prefix("metal-")
            .is_some_and(|n| n.ends_with("xl"));
    fam_ok && size_ok
}
