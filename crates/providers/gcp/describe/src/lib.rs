//! What the stack file says about `provider: gcp` clouds (GKE). Pure: no SDK, no I/O,
//! so that the loader and the sim (`emulates: gcp`) share it with the provider.

mod rules;

pub use rules::GkeRules;

use fedstack_core::stack::describe::{ApiRules, CloudDescription, Setting, SettingKind};

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
