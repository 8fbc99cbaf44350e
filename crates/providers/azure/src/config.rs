//! The settings of a `provider: azure` cloud, and the knobs tests turn.

use std::path::PathBuf;
use std::time::Duration;

use fedstack_core::value::Values;
use fedstack_provider::{ErrorClass, ProviderError};

/// The public Azure Resource Manager endpoint.
pub const PUBLIC_ARM: &str = "https://management.azure.com";

/// The AKS api-version every managed cluster and agent pool call uses: the newest GA
/// version whose official models (`azure-mgmt-containerservice` 41.8.0, generated from
/// the published spec) the contract fake checks requests against.
pub const AKS_API_VERSION: &str = "2026-08-01";
/// Microsoft.Resources (resource groups).
pub const RESOURCES_API_VERSION: &str = "2025-04-01";

/// Checked settings of one azure cloud (the loader already checked their types).
#[derive(Debug, Clone)]
pub struct AzureSettings {
    pub subscription_id: String,
    pub resource_group: String,
    /// The Entra tenant; else `AZURE_TENANT_ID`.
    pub tenant_id: Option<String>,
    /// The ARM root, without a trailing slash.
    pub endpoint_url: String,
    /// Extra CA certificates (PEM) to trust, besides the system roots and SSL_CERT_FILE.
    pub ca_file: Option<PathBuf>,
    pub max_parallel: Option<usize>,
    pub timeouts: Timeouts,
}

/// Per-operation timeouts a cloud sets; `None`: the default (60 min).
#[derive(Debug, Clone, Copy, Default)]
pub struct Timeouts {
    pub create: Option<Duration>,
    pub update: Option<Duration>,
    pub delete: Option<Duration>,
}

/// The kind of a change, for its timeout.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    Create,
    Update,
    Delete,
}

impl AzureSettings {
    pub fn from_values(cloud: &str, settings: &Values) -> Result<AzureSettings, ProviderError> {
        let s = |k: &str| settings.get(k).and_then(|v| v.as_str()).map(String::from);
        let required = |k: &str, what: &str| {
            s(k).filter(|v| !v.is_empty()).ok_or_else(|| {
                ProviderError::new(
                    ErrorClass::Invalid,
                    format!("cloud `{cloud}` needs `{k}` ({what})"),
                )
            })
        };
        let ms = |op: &str| {
            settings
                .get("timeouts")
                .and_then(|t| t.get(op))
                .and_then(|v| v.as_u64())
                .map(Duration::from_millis)
        };
        Ok(AzureSettings {
            subscription_id: required("subscription_id", "the Azure subscription id")?,
            resource_group: required("resource_group", "the resource group of its clusters")?,
            tenant_id: s("tenant_id"),
            endpoint_url: s("endpoint_url")
                .unwrap_or_else(|| PUBLIC_ARM.to_string())
                .trim_end_matches('/')
                .to_string(),
            ca_file: s("ca_file").map(PathBuf::from),
            max_parallel: settings
                .get("max_parallel")
                .and_then(|v| v.as_u64())
                .map(|n| n as usize),
            timeouts: Timeouts {
                create: ms("create"),
                update: ms("update"),
                delete: ms("delete"),
            },
        })
    }

    /// The token audience of the ARM endpoint: the sovereign clouds have their own.
    pub fn scope(&self) -> String {
        let host = url::Url::parse(&self.endpoint_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let audience = if host.ends_with(".usgovcloudapi.net") {
            "https://management.usgovcloudapi.net"
        } else if host.ends_with(".chinacloudapi.cn") {
            "https://management.chinacloudapi.cn"
        } else {
            PUBLIC_ARM
        };
        format!("{audience}/.default")
    }
}

/// How long to wait between polls and retries, and for how long.
#[derive(Debug, Clone)]
pub struct AzureOptions {
    /// Between polls when ARM sends no Retry-After.
    pub poll_interval: Duration,
    /// The most a Retry-After may make us wait (tests set it to a millisecond).
    pub max_poll_interval: Duration,
    pub default_timeout: Duration,
    pub retry_base_delay: Duration,
    pub max_attempts: u32,
    pub timeouts: Timeouts,
}

impl Default for AzureOptions {
    fn default() -> AzureOptions {
        AzureOptions {
            poll_interval: Duration::from_secs(10),
            max_poll_interval: Duration::from_secs(60),
            default_timeout: Duration::from_secs(60 * 60),
            retry_base_delay: Duration::from_secs(2),
            max_attempts: 8,
            timeouts: Timeouts::default(),
        }
    }
}

impl AzureOptions {
    /// The defaults, with `FEDSTACK_AZURE_POLL_INTERVAL` (also the cap on Retry-After)
    /// and `FEDSTACK_RETRY_BASE_DELAY` from the environment (`5ms`, `2s`).
    pub fn from_env() -> AzureOptions {
        let mut o = AzureOptions::default();
        if let Some(d) = env_duration("FEDSTACK_AZURE_POLL_INTERVAL") {
            o.poll_interval = d;
            o.max_poll_interval = d;
        }
        if let Some(d) = env_duration("FEDSTACK_RETRY_BASE_DELAY") {
            o.retry_base_delay = d;
        }
        o
    }

    pub fn timeout(&self, op: Op) -> Duration {
        match op {
            Op::Create => self.timeouts.create,
            Op::Update => self.timeouts.update,
            Op::Delete => self.timeouts.delete,
        }
        .unwrap_or(self.default_timeout)
    }
}

fn env_duration(key: &str) -> Option<Duration> {
    let v = std::env::var(key).ok()?;
    let v = v.trim();
    let (n, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = n.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_default_to_the_public_cloud() {
        let v: Values = serde_json::from_value(json!({
            "subscription_id": "s", "resource_group": "rg", "timeouts": {"create": 90000}
        }))
        .expect("values");
        let s = AzureSettings::from_values("az", &v).expect("settings");
        assert_eq!(s.endpoint_url, PUBLIC_ARM);
        assert_eq!(s.scope(), "https://management.azure.com/.default");
        assert_eq!(s.timeouts.create, Some(Duration::from_secs(90)));
        let gov: Values = serde_json::from_value(json!({
            "subscription_id": "s", "resource_group": "rg",
            "endpoint_url": "https://management.usgovcloudapi.net/"
        }))
        .expect("values");
        let s = AzureSettings::from_values("az", &gov).expect("settings");
        assert_eq!(s.scope(), "https://management.usgovcloudapi.net/.default");
        let missing: Values = serde_json::from_value(json!({"subscription_id": "s"})).expect("v");
        let e = AzureSettings::from_values("az", &missing).expect_err("no group");
        assert!(e.message.contains("resource_group"), "{e}");
    }
}
