//! The settings of a `provider: aws` cloud, and the knobs of the provider itself
//! (polling, batching, retries), normally from the environment.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use fedstack_core::value::Values;
use fedstack_provider::{ErrorClass, ProviderError};
use serde_json::Value;

/// A cloud's settings from the stack (`clouds.NAME`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// AWS shared-config profile (`~/.aws/config`); otherwise the usual chain.
    pub profile: Option<String>,
    /// Region for API calls that have no region of their own (Route 53, IAM, STS);
    /// clusters use their own `region`. Default: the profile's or `AWS_REGION`, else
    /// `us-east-1`.
    pub region: Option<String>,
    /// One endpoint for every service (an emulator such as moto). `AWS_ENDPOINT_URL`
    /// does the same from the environment.
    pub endpoint_url: Option<String>,
    pub max_parallel: Option<usize>,
}

pub(crate) fn parse_settings(cloud: &str, values: &Values) -> Result<Settings, ProviderError> {
    let invalid = |m: String| ProviderError::new(ErrorClass::Invalid, m);
    let text = |k: &str| -> Result<Option<String>, ProviderError> {
        match values.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Some(v) => Err(invalid(format!(
                "cloud `{cloud}`: `{k}` must be a non-empty string, got {v}"
            ))),
        }
    };
    let mut s = Settings {
        profile: text("profile")?,
        region: text("region")?,
        endpoint_url: text("endpoint_url")?,
        max_parallel: None,
    };
    if let Some(v) = values.get("max_parallel").filter(|v| !v.is_null()) {
        let n = v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
            invalid(format!(
                "cloud `{cloud}`: `max_parallel` must be a positive integer, got {v}"
            ))
        })?;
        s.max_parallel = Some(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if let Some(url) = &s.endpoint_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid(format!(
                "cloud `{cloud}`: `endpoint_url` `{url}` must start with http:// or https://"
            )));
        }
    }
    for k in values.keys() {
        if !["profile", "region", "endpoint_url", "max_parallel"].contains(&k.as_str()) {
            return Err(invalid(format!(
                "cloud `{cloud}`: unknown aws setting `{k}`"
            )));
        }
    }
    Ok(s)
}

/// Retries of single API calls: throttling and passing failures, with "full jitter"
/// exponential backoff. (The SDK's own retries are off, so that every attempt is ours
/// and counted.)
#[derive(Debug, Clone)]
pub struct CallRetry {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for CallRetry {
    fn default() -> CallRetry {
        CallRetry {
            max_attempts: 8,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl CallRetry {
    /// The delay before retry number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        exp.min(self.max_delay).mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

/// How the provider behaves; [`AwsOptions::from_env`] reads the environment.
#[derive(Clone)]
pub struct AwsOptions {
    /// Between two reads of a cluster or node group being created, updated or deleted
    /// (`FEDSTACK_AWS_POLL_INTERVAL`, default 10s).
    pub poll_interval: Duration,
    /// Between two `GetChange` calls while Route 53 is PENDING
    /// (`FEDSTACK_AWS_INSYNC_POLL_INTERVAL`, default 5s).
    pub insync_poll_interval: Duration,
    /// How long to wait for a cluster, node group or change before giving up
    /// (`FEDSTACK_AWS_WAIT_TIMEOUT`, default 45m).
    pub wait_timeout: Duration,
    /// Record changes of one zone arriving within this much of each other go into the
    /// same `ChangeResourceRecordSets` (`FEDSTACK_AWS_BATCH_WINDOW`, default 100ms)...
    pub batch_window: Duration,
    /// ...but the first one waits at most this long (`FEDSTACK_AWS_BATCH_MAX_WAIT`, 2s).
    pub batch_max_wait: Duration,
    /// A zone's or the account's health check listing is reused for this long by reads
    /// (a refresh of 1,000 records lists the zone once).
    pub listing_ttl: Duration,
    pub retry: CallRetry,
    /// Credentials to use instead of the usual chain (tests against an emulator).
    pub credentials: Option<Credentials>,
    /// The HTTP client to use instead of hyper + rustls (tests replaying traffic).
    pub http_client: Option<SharedHttpClient>,
}

impl std::fmt::Debug for AwsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsOptions")
            .field("poll_interval", &self.poll_interval)
            .field("insync_poll_interval", &self.insync_poll_interval)
            .field("wait_timeout", &self.wait_timeout)
            .field("batch_window", &self.batch_window)
            .field("batch_max_wait", &self.batch_max_wait)
            .field("retry", &self.retry)
            .field("credentials", &self.credentials.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

impl Default for AwsOptions {
    fn default() -> AwsOptions {
        AwsOptions {
            poll_interval: Duration::from_secs(10),
            insync_poll_interval: Duration::from_secs(5),
            wait_timeout: Duration::from_secs(45 * 60),
            batch_window: Duration::from_millis(100),
            batch_max_wait: Duration::from_secs(2),
            listing_ttl: Duration::from_secs(5),
            retry: CallRetry::default(),
            credentials: None,
            http_client: None,
        }
    }
}

impl AwsOptions {
    /// The defaults, with what the environment overrides.
    pub fn from_env() -> Result<AwsOptions, ProviderError> {
        let mut o = AwsOptions::default();
        let duration = |name: &str| -> Result<Option<Duration>, ProviderError> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => {
                    parse_duration(v.trim()).map(Some).ok_or_else(|| {
                        ProviderError::new(
                            ErrorClass::Invalid,
                            format!("{name}=`{v}` is not a duration like 10s or 250ms"),
                        )
                    })
                }
                _ => Ok(None),
            }
        };
        if let Some(d) = duration("FEDSTACK_AWS_POLL_INTERVAL")? {
            o.poll_interval = d;
        }
        if let Some(d) = duration("FEDSTACK_AWS_INSYNC_POLL_INTERVAL")? {
            o.insync_poll_interval = d;
        }
        if let Some(d) = duration("FEDSTACK_AWS_WAIT_TIMEOUT")? {
            o.wait_timeout = d;
        }
        if let Some(d) = duration("FEDSTACK_AWS_BATCH_WINDOW")? {
            o.batch_window = d;
        }
        if let Some(d) = duration("FEDSTACK_AWS_BATCH_MAX_WAIT")? {
            o.batch_max_wait = d;
        }
        if let Some(d) = duration("FEDSTACK_AWS_RETRY_BASE_DELAY")? {
            o.retry.base_delay = d;
        }
        Ok(o)
    }
}

/// `250ms`, `2s`, `1m`, `1h`, or a plain number of seconds: the stack file's own syntax.
fn parse_duration(s: &str) -> Option<Duration> {
    fedstack_core::stack::duration_ms(s).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(v: Value) -> Values {
        match v {
            Value::Object(m) => m.into_iter().collect(),
            _ => Values::new(),
        }
    }

    #[test]
    fn settings() {
        let s = parse_settings(
            "aws",
            &values(json!({"region": "eu-west-1", "endpoint_url": "http://127.0.0.1:5000", "max_parallel": 4})),
        )
        .expect("valid");
        assert_eq!(s.region.as_deref(), Some("eu-west-1"));
        assert_eq!(s.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(s.max_parallel, Some(4));
        let e = parse_settings("aws", &values(json!({"endpoint_url": "localhost:5000"})))
            .expect_err("no scheme");
        assert!(e.message.contains("must start with http://"), "{e}");
        assert!(parse_settings("aws", &values(json!({"project": "x"}))).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("x"), None);
    }
}
