//! Classified [`ProviderError`]s of the local provider. Kubernetes API errors come from
//! [`fedstack_kube::KubeError`] (which converts itself).

use std::path::Path;
use std::time::Duration;

use fedstack_provider::{ErrorClass, ProviderError};

pub(crate) fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::Invalid, message)
}

pub(crate) fn not_found(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::NotFound, message)
}

pub(crate) fn permanent(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::Permanent, message)
}

/// Retryable: a process that is still starting, a port taken for a moment.
pub(crate) fn transient(message: impl Into<String>, retry_after: Duration) -> ProviderError {
    let mut e = ProviderError::new(ErrorClass::Transient, message);
    e.retry_after = Some(retry_after);
    e
}

/// A file operation that failed: `cannot <what> <path>: <reason>`.
pub(crate) fn io(what: &str, path: &Path, e: &std::io::Error) -> ProviderError {
    permanent(format!("cannot {what} {}: {e}", path.display()))
}
