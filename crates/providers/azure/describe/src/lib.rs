//! What the stack file says about `provider: azure` clouds (AKS). Pure: no SDK, no
//! I/O, so that the loader and the sim (`emulates: azure`) share it with the provider.

mod rules;

pub use rules::AksRules;

use fedstack_core::stack::describe::{ApiRules, CloudDescription, Setting, SettingKind};

/// The description of azure clouds, registered with the loader.
pub static AZURE: Azure = Azure;

/// `provider: azure`: AKS clusters and agent pools.
pub struct Azure;

const SETTINGS: &[Setting] = &[
    Setting::required("subscription_id", SettingKind::Str),
    Setting::required("resource_group", SettingKind::Str),
    Setting::optional("tenant_id", SettingKind::Str),
    Setting::optional("endpoint_url", SettingKind::Str),
    Setting::optional("max_parallel", SettingKind::MaxParallel),
];

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

    fn api_rules(&self) -> Option<&'static dyn ApiRules> {
        Some(&AksRules)
    }
}
