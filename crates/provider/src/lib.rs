//! The provider boundary: the engine sees clouds only through [`Provider`].
//!
//! Each provider lives in its own crate under `crates/providers/<name>/` with the same
//! shape: `config.rs` (its cloud settings), `provider.rs` (the trait impl), one file per
//! resource family, and `errors.rs` (mapping its API's errors onto [`ErrorClass`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fedstack_core::address::Address;
use fedstack_core::value::Values;

pub mod attrs;
mod retry;
pub use retry::{backoff, with_retries};

/// A resource as the provider is asked to handle it: attributes fully resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSpec {
    pub address: Address,
    /// The name of the resource in its cloud.
    pub cloud_name: String,
    pub attrs: Values,
}

/// What a provider reads back from its cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The same attributes the stack sets, as the cloud has them now (drift shows here).
    pub attrs: Values,
    /// Values the cloud computed: ids, endpoints, addresses.
    pub outputs: Values,
    /// Secret outputs. Held in memory only; the state keeps fingerprints.
    pub secrets: BTreeMap<String, String>,
    pub status: ResourceStatus,
}

/// Provisioning state of a cloud object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceStatus {
    Ready,
    /// Still being created or changed (`PROVISIONING`, `CREATING`, `PENDING`...).
    Pending(String),
    /// Being deleted.
    Deleting,
    /// The cloud gave up on it (`ERROR`, `FAILED`).
    Failed(String),
}

/// Live progress from inside a long provider call ("PROVISIONING", "waiting for INSYNC").
pub trait Progress: Send + Sync {
    fn status(&self, message: &str);

    /// Something the user should see even when the call ends before the next periodic
    /// progress line (a delete the cloud refused and that was only forgotten): shown
    /// at once. By default a status.
    fn note(&self, message: &str) {
        self.status(message);
    }
}

/// A progress sink that drops everything.
pub struct NoProgress;

impl Progress for NoProgress {
    fn status(&self, _message: &str) {}
}

/// How the engine should treat an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Rate limited: retry after a backoff.
    Throttled,
    /// A passing failure (5xx, connection reset, operation in progress): retry.
    Transient,
    /// Nothing answers at the endpoint (connection refused): retried only briefly
    /// ([`UNREACHABLE_ATTEMPTS`]), because a wrong `endpoint_url` or a stopped emulator
    /// does not fix itself while we back off.
    Unreachable,
    /// The object already exists (a create raced or a crash left it).
    AlreadyExists,
    /// The object does not exist.
    NotFound,
    /// The request is invalid; retrying will not help.
    Invalid,
    /// Credentials or permissions are missing.
    Denied,
    /// Anything else that will not go away by itself.
    Permanent,
}

/// Attempts in all for an [`ErrorClass::Unreachable`] error, whatever a retry policy allows.
pub const UNREACHABLE_ATTEMPTS: u32 = 3;

impl ErrorClass {
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorClass::Throttled | ErrorClass::Transient | ErrorClass::Unreachable
        )
    }

    /// Attempts in all that a retry loop allowing `max_attempts` gives this class.
    pub fn attempts_allowed(self, max_attempts: u32) -> u32 {
        match self {
            ErrorClass::Unreachable => max_attempts.min(UNREACHABLE_ATTEMPTS),
            _ if self.is_retryable() => max_attempts,
            _ => 1,
        }
    }
}

/// A classified provider error. The message must never contain secrets.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub class: ErrorClass,
    pub message: String,
    /// What the cloud asked us to wait before retrying, if it said.
    pub retry_after: Option<Duration>,
    /// Set by the retry loop that gave up on this error: how many attempts it made.
    /// Such an error is not retried again by an outer loop (the engine's), so a call
    /// is never retried in two layers and the message says "gave up" once.
    pub gave_up_after: Option<u32>,
}

impl ProviderError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> ProviderError {
        ProviderError {
            class,
            message: message.into(),
            retry_after: None,
            gave_up_after: None,
        }
    }

    /// Whether a retry loop may try again: a retryable class no loop has given up on.
    pub fn is_retryable(&self) -> bool {
        self.class.is_retryable() && self.gave_up_after.is_none()
    }

    /// Marks the error as given up after `attempts` (once; later calls keep the first).
    pub fn gave_up(mut self, attempts: u32) -> ProviderError {
        if self.gave_up_after.is_none() {
            self.gave_up_after = Some(attempts);
            self.message = format!("{} (gave up after {attempts} attempts)", self.message);
        }
        self
    }
}

/// One cloud API, as the engine uses it. All calls are idempotent from the engine's
/// point of view: `create` returns once the object is ready, `delete` once it is gone
/// (and succeeds when it was already gone).
#[async_trait]
pub trait Provider: Send + Sync {
    /// The provider type, as written in a stack (`sim`, `aws`, ...).
    fn provider_type(&self) -> &'static str;

    /// Reads the object by its cloud name; `None` when it does not exist.
    async fn read(&self, spec: &ResourceSpec) -> Result<Option<Observed>, ProviderError>;

    /// Creates the object and waits until it is ready.
    async fn create(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError>;

    /// Changes the attributes named in `changed` in place and waits until ready.
    async fn update(
        &self,
        spec: &ResourceSpec,
        changed: &[String],
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError>;

    /// Deletes the object and waits until it is gone. Already gone is success.
    async fn delete(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError>;

    /// Waits until an object found half-made (after a crash) is ready, then reads it.
    async fn wait_ready(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError>;

    /// At most this many calls at once against this cloud, whatever `--parallelism` says.
    fn max_parallel(&self) -> Option<usize> {
        None
    }

    /// Steps whose calls this provider merges into one API request (Route 53 takes up
    /// to 1,000 record changes in one `ChangeResourceRecordSets`) return the same key,
    /// e.g. `route53:example.com`. The engine then runs a group of such steps as *one*
    /// operation: the first ready step of a key takes one `--parallelism` slot (and one
    /// of the cloud's `max_parallel`), and every further ready step of that key starts
    /// at once without a slot of its own, until the group has no step in flight. The
    /// provider must merge concurrent calls with the same key (e.g. wait a few
    /// milliseconds for more to arrive) and answer each call for its own resource.
    ///
    /// Called before a step starts, with the attributes known at plan time (references
    /// to what is not created yet are left out) or, for a delete, as recorded.
    /// `None` (the default): each step is its own operation.
    fn batch_key(&self, _spec: &ResourceSpec) -> Option<String> {
        None
    }

    /// Anything to persist or close at the end of a run.
    async fn finish(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    /// How to reach the Kubernetes API of the cluster `spec` (a `cluster.*` resource, as
    /// recorded) as an administrator: for `fedstack output kubeconfig`. `None` when this
    /// provider has no credentials to give (the default; simulated clusters).
    async fn cluster_access(
        &self,
        _spec: &ResourceSpec,
    ) -> Result<Option<ClusterAccess>, ProviderError> {
        Ok(None)
    }
}

/// Where a cluster's Kubernetes API is and how to authenticate to it. Holds secrets:
/// `Debug` redacts them, and nothing of it may be written to state, plans or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterAccess {
    /// `https://HOST:PORT`.
    pub server: String,
    /// The CA certificate(s) that sign the server's certificate, PEM; `None`: the system roots.
    pub ca_pem: Option<String>,
    pub credentials: ClusterCredentials,
}

/// How a client proves who it is.
#[derive(Clone, PartialEq, Eq)]
pub enum ClusterCredentials {
    /// A TLS client certificate and its private key, both PEM.
    ClientCertificate { cert_pem: String, key_pem: String },
    /// A bearer token (service account token, OIDC id token...).
    BearerToken(String),
}

impl fmt::Debug for ClusterCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClusterCredentials::ClientCertificate { .. } => "ClientCertificate(<redacted>)",
            ClusterCredentials::BearerToken(_) => "BearerToken(<redacted>)",
        })
    }
}

impl fmt::Debug for ClusterAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterAccess")
            .field("server", &self.server)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "<PEM>"))
            .field("credentials", &self.credentials)
            .finish()
    }
}

/// What every provider constructor gets besides its cloud's settings.
#[derive(Debug, Clone)]
pub struct ProviderContext {
    /// The stack's name.
    pub stack: String,
    /// The state directory (`--state-dir`); providers that keep local files put them here.
    pub state_dir: PathBuf,
    /// Whether the run only reads (plan, refresh without writes): no locks on cloud data.
    pub read_only: bool,
}

/// A configured provider for one named cloud of the stack.
pub type SharedProvider = Arc<dyn Provider>;

impl fmt::Debug for dyn Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Provider({})", self.provider_type())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn giving_up_is_said_once_and_stops_outer_retries() {
        let e = ProviderError::new(ErrorClass::Transient, "CreateRole: timed out");
        assert!(e.is_retryable());
        let e = e.gave_up(8).gave_up(8);
        assert_eq!(
            e.message,
            "CreateRole: timed out (gave up after 8 attempts)"
        );
        assert_eq!(e.gave_up_after, Some(8));
        assert!(!e.is_retryable());
    }

    #[test]
    fn unreachable_endpoints_get_few_attempts() {
        assert_eq!(
            ErrorClass::Unreachable.attempts_allowed(8),
            UNREACHABLE_ATTEMPTS
        );
        assert_eq!(ErrorClass::Unreachable.attempts_allowed(2), 2);
        assert_eq!(ErrorClass::Throttled.attempts_allowed(8), 8);
        assert_eq!(ErrorClass::Invalid.attempts_allowed(8), 1);
    }
}
