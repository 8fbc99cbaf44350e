//! The settings of a `provider: gcp` cloud, and the knobs tests turn.

use std::path::PathBuf;
use std::time::Duration;

use fedstack_core::value::Values;
use fedstack_provider::{ErrorClass, ProviderError};

/// Checked settings of one gcp cloud (the loader already checked their types).
#[derive(Debug, Clone)]
pub struct GcpSettings {
    pub project: String,
    /// The API root (`https://container.googleapis.com` when unset).
    pub endpoint_url: Option<String>,
    /// A credentials file instead of Application Default Credentials.
    pub credentials_file: Option<PathBuf>,
    pub max_parallel: Option<usize>,
    /// `timeouts: { create: 60m }`: how long an operation may run, overriding the
    /// defaults (clusters 40 min, node pools 20 min).
    pub timeouts: Timeouts,
}

/// Per-operation timeouts a cloud sets; `None`: the default.
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

impl Timeouts {
    fn get(&self, op: Op) -> Option<Duration> {
        match op {
            Op::Create => self.create,
            Op::Update => self.update,
            Op::Delete => self.delete,
        }
    }
}

impl GcpSettings {
    pub fn from_values(cloud: &str, settings: &Values) -> Result<GcpSettings, ProviderError> {
        let s = |k: &str| settings.get(k).and_then(|v| v.as_str()).map(String::from);
        let project = s("project").ok_or_else(|| {
            ProviderError::new(
                ErrorClass::Invalid,
                format!("cloud `{cloud}` needs `project` (the GCP project id)"),
            )
        })?;
        Ok(GcpSettings {
            project,
            endpoint_url: s("endpoint_url").map(|u| u.trim_end_matches('/').to_string()),
            credentials_file: s("credentials_file").map(PathBuf::from),
            max_parallel: settings
                .get("max_parallel")
                .and_then(|v| v.as_u64())
                .map(|n| n as usize),
            timeouts: {
                // The loader stored milliseconds per operation.
                let t = settings.get("timeouts");
                let ms = |op: &str| {
                    t.and_then(|t| t.get(op))
                        .and_then(|v| v.as_u64())
                        .map(Duration::from_millis)
                };
                Timeouts {
                    create: ms("create"),
                    update: ms("update"),
                    delete: ms("delete"),
                }
            },
        })
    }
}

/// How often operations are polled, and how long they may take.
#[derive(Debug, Clone)]
pub struct GcpOptions {
    pub poll_interval: Duration,
    pub cluster_timeout: Duration,
    pub pool_timeout: Duration,
    /// First delay between retries of a throttled or failed call (doubles each time).
    pub retry_base_delay: Duration,
    pub max_attempts: u32,
    /// The cloud's own `timeouts`, over the two defaults above.
    pub timeouts: Timeouts,
}

impl Default for GcpOptions {
    fn default() -> GcpOptions {
        GcpOptions {
            poll_interval: Duration::from_secs(5),
            // GKE's own guidance: cluster operations can take 30+ minutes.
            cluster_timeout: Duration::from_secs(40 * 60),
            pool_timeout: Duration::from_secs(20 * 60),
            retry_base_delay: Duration::from_secs(1),
            max_attempts: 8,
            timeouts: Timeouts::default(),
        }
    }
}

impl GcpOptions {
    pub fn for_cluster(&self, op: Op) -> Duration {
        self.timeouts.get(op).unwrap_or(self.cluster_timeout)
    }

    pub fn for_pool(&self, op: Op) -> Duration {
        self.timeouts.get(op).unwrap_or(self.pool_timeout)
    }

    /// The defaults, with `FEDSTACK_GCP_POLL_INTERVAL` and `FEDSTACK_RETRY_BASE_DELAY`
    /// (durations: `5ms`, `2s`) for tests.
    pub fn from_env() -> GcpOptions {
        let mut o = GcpOptions::default();
        let ms = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| fedstack_core::stack::duration_ms(&v))
                .map(Duration::from_millis)
        };
        if let Some(d) = ms("FEDSTACK_GCP_POLL_INTERVAL") {
            o.poll_interval = d;
        }
        if let Some(d) = ms("FEDSTACK_RETRY_BASE_DELAY") {
            o.retry_base_delay = d;
        }
        o
    }
}
