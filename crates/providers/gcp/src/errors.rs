//! GKE errors onto [`ErrorClass`], and the one retry loop of this provider.

use std::future::Future;

use fedstack_provider::{ErrorClass, ProviderError};
use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::error::Error;

use crate::config::GcpOptions;

/// Classifies an error of call `op` on `what` ("cluster `x`").
pub(crate) fn classify(op: &str, e: &Error) -> ProviderError {
    if e.is_connect() {
        return ProviderError::new(
            ErrorClass::Unreachable,
            format!("{op}: the endpoint refused the connection"),
        );
    }
    if e.is_authentication() {
        return ProviderError::new(
            ErrorClass::Denied,
            format!("{op}: could not get a Google access token: {e} (hint: check GOOGLE_APPLICATION_CREDENTIALS or the cloud's `credentials_file`)"),
        );
    }
    let Some(status) = e.status() else {
        let class = if e.is_timeout() || e.is_io() || e.is_transport() {
            ErrorClass::Transient
        } else {
            ErrorClass::Permanent
        };
        return ProviderError::new(class, format!("{op}: {e}"));
    };
    let message = status.message.trim_end_matches('.');
    let (class, hint) = match status.code {
        Code::NotFound => (ErrorClass::NotFound, None),
        Code::AlreadyExists => (ErrorClass::AlreadyExists, None),
        Code::ResourceExhausted => (ErrorClass::Throttled, None),
        Code::Unavailable | Code::Internal | Code::DeadlineExceeded | Code::Aborted => {
            (ErrorClass::Transient, None)
        }
        // One operation at a time per cluster: wait the other one out.
        Code::FailedPrecondition if is_incompatible_operation(message) => {
            (ErrorClass::Transient, None)
        }
        Code::PermissionDenied | Code::Unauthenticated => (
            ErrorClass::Denied,
            Some("the credentials need roles/container.admin (and roles/iam.serviceAccountUser) on the project"),
        ),
        Code::InvalidArgument if message.contains("version") => (
            ErrorClass::Invalid,
            Some("`gcloud container get-server-config` lists the versions GKE offers in this location"),
        ),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            (ErrorClass::Invalid, None)
        }
        _ => (ErrorClass::Permanent, None),
    };
    let mut text = format!("{op}: {message}");
    if let Some(h) = hint {
        text.push_str(&format!(" (hint: {h})"));
    }
    ProviderError::new(class, text)
}

/// GKE's "Cluster is running incompatible operation ..." (and its older wordings).
pub(crate) fn is_incompatible_operation(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("incompatible operation") || m.contains("operation") && m.contains("is currently")
}

/// One call in the shared retry loop, backing off from the options' base delay.
pub(crate) async fn with_retries<T, F, Fut>(
    options: &GcpOptions,
    call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let base = options.retry_base_delay;
    fedstack_provider::with_retries(
        options.max_attempts,
        |attempt, _| fedstack_provider::backoff(base, attempt),
        call,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incompatible_operations_are_recognised() {
        assert!(is_incompatible_operation(
            "Cluster is running incompatible operation operation-1-abc"
        ));
        assert!(is_incompatible_operation(
            "Operation operation-1 is currently upgrading cluster c. Please wait and try again once it is done"
        ));
        assert!(!is_incompatible_operation("Node pool version mismatch"));
    }
}
