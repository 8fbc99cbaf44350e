//! What GKE's API accepts: cluster and node pool names, locations, machine types and
//! labels, as Google documents them. The sim answers with these rules when it
//! emulates gcp (its tests: `providers/sim/src/validate.rs`).

use fedstack_core::stack::describe::{did_you_mean, lower_alnum, small_number, ApiRules};

/// GKE's rules.
pub struct GkeRules;

pub const GKE_REGIONS: &[&str] = &[
    "asia-east1",
    "asia-east2",
    "asia-northeast1",
    "asia-northeast2",
    "asia-northeast3",
    "asia-south1",
    "asia-southeast1",
    "asia-southeast2",
    "australia-southeast1",
    "australia-southeast2",
    "europe-north1",
    "europe-west1",
    "europe-west2",
    "europe-west3",
    "europe-west4",
    "europe-west6",
    "me-west1",
    "northamerica-northeast1",
    "northamerica-northeast2",
    "southamerica-east1",
    "us-central1",
    "us-east1",
    "us-east4",
    "us-west1",
    "us-west2",
];

impl ApiRules for GkeRules {
    fn product(&self) -> &'static str {
        "GKE"
    }

    fn regions(&self) -> &'static [&'static str] {
        GKE_REGIONS
    }

    /// A region for a regional cluster, or a zone (`us-central1-a`) for a zonal one.
    fn check_region(&self, r: &str) -> Result<(), String> {
        if GKE_REGIONS.contains(&r) {
            return Ok(());
        }
        if let Some((region, zone)) = r.rsplit_once('-') {
            if GKE_REGIONS.contains(&region)
                && zone.len() == 1
                && (b'a'..=b'f').contains(&zone.as_bytes()[0])
            {
                return Ok(());
            }
        }
        Err(format!(
            "region `{r}` is not a known GKE region{}",
            did_you_mean(r, GKE_REGIONS)
        ))
    }

    fn check_cluster_name(&self, name: &str) -> Result<(), String> {
        gke_name("cluster", name)
    }

    fn check_pool_name(&self, name: &str) -> Result<(), String> {
        gke_name("node pool", name)
    }

    fn check_machine_type(&self, t: &str) -> Result<(), String> {
        if gke_machine(t) {
            Ok(())
        } else {
            Err(format!(
                "machine_type `{t}` is not a valid machine type on GKE (e.g. e2-standard-4)"
            ))
        }
    }

    /// Keys 1-63 lowercase letters, digits, `-` and `_`, starting with a letter;
    /// values up to 63 of the same.
    fn check_labels(&self, labels: &[(&str, &str)]) -> Result<(), String> {
        let ok_chars = |s: &str| s.bytes().all(|b| lower_alnum(b) || b == b'-' || b == b'_');
        for (k, v) in labels {
            if k.is_empty() || k.len() > 63 || !k.as_bytes()[0].is_ascii_lowercase() || !ok_chars(k)
            {
                return Err(format!(
                    "label key `{k}` is not valid on GKE: 1-63 lowercase letters, digits, `-` and `_`, starting with a letter"
                ));
            }
            if v.len() > 63 || !ok_chars(v) {
                return Err(format!(
                    "label `{k}` value `{v}` is not valid on GKE: up to 63 lowercase letters, digits, `-` and `_`"
                ));
            }
        }
        Ok(())
    }
}

/// GKE: 1-40 lowercase letters, digits and hyphens, starting with a letter, not ending
/// with a hyphen (the same rule for node pools).
fn gke_name(what: &str, name: &str) -> Result<(), String> {
    let b = name.as_bytes();
    let ok = (1..=40).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter().all(|&c| lower_alnum(c) || c == b'-')
        && b[b.len() - 1] != b'-';
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid GKE {what} name: 1-40 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen"
        ))
    }
}

const GKE_FAMILIES: &[&str] = &[
    "e2", "n1", "n2", "n2d", "n4", "c2", "c2d", "c3", "c3d", "c4", "c4a", "t2d", "t2a", "m1", "m2",
    "m3", "a2", "a3", "g2", "h3", "z3",
];
const GKE_CLASSES: &[&str] = &[
    "standard", "highmem", "highcpu", "megamem", "ultramem", "highgpu", "megagpu",
];

fn gke_machine(t: &str) -> bool {
    let parts: Vec<&str> = t.split('-').collect();
    match parts.as_slice() {
        ["e2", "micro" | "small" | "medium"] | ["f1", "micro"] | ["g1", "small"] => true,
        ["custom", cpus, mem] => small_number(cpus, 96) && small_number(mem, 1_000_000),
        [family, "custom", cpus, mem] => {
            GKE_FAMILIES.contains(family) && small_number(cpus, 224) && small_number(mem, 1_000_000)
        }
        [family, class, n] => {
            GKE_FAMILIES.contains(family) && GKE_CLASSES.contains(class) && small_number(n, 416)
        }
        _ => false,
    }
}
