//! AWS errors onto [`ErrorClass`], and retries of single calls.
//!
//! | class | AWS error codes (any service) |
//! |---|---|
//! | `Throttled` | `Throttling`, `ThrottlingException`, `RequestLimitExceeded`, `TooManyRequestsException`, `PriorRequestNotComplete` (Route 53 still applying the zone's previous change), ... |
//! | `Unreachable` | connection refused: nothing listens at the endpoint (a typo in `endpoint_url`, a stopped emulator); tried 3 times, not 8 |
//! | `Transient` | HTTP 5xx, `InternalError`, `ServiceUnavailable`, `DependencyViolation` (EC2: an ENI EKS left is still going away), `HealthCheckInUse`, `ConcurrentModification`; connection failures and timeouts |
//! | `NotFound` | `*NotFound`, `*.NotFound`, `NoSuch*`, `ResourceNotFoundException` |
//! | `AlreadyExists` | `*AlreadyExists*`, `EntityAlreadyExists`, `ResourceInUseException` on a create |
//! | `Denied` | `AccessDenied*`, `UnauthorizedOperation`, `AuthFailure`, `InvalidClientTokenId`, `ExpiredToken*`, `SignatureDoesNotMatch`, `UnrecognizedClientException`; HTTP 401/403 |
//! | `Invalid` | `InvalidInput`, `InvalidParameter*`, `InvalidChangeBatch`, `Validation*`, `InvalidRequestException`, `MalformedPolicyDocument`; a request that can't be built |
//! | `Permanent` | the rest (`HostedZoneNotEmpty`, `LimitExceeded`, ...) |
//!
//! Messages are `Operation: Code: message`; they never carry credentials.

use std::future::Future;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use fedstack_provider::{ErrorClass, ProviderError};

use crate::config::CallRetry;

const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "Throttled",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "SlowDown",
    "BandwidthLimitExceeded",
];

const TRANSIENT: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServerException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServiceFailure",
    "DependencyViolation",
    "HealthCheckInUse",
    "ConcurrentModification",
    "ConcurrentModificationException",
    "IncorrectState",
];

const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedException",
    "AuthFailure",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "MissingAuthenticationToken",
    "OptInRequired",
];

const INVALID: &[&str] = &[
    "InvalidInput",
    "InvalidChangeBatch",
    "InvalidArgument",
    "InvalidDomainName",
    "InvalidRequestException",
    "InvalidRequest",
    "InvalidParameterException",
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "InvalidParameter",
    "MissingParameter",
    "ValidationError",
    "ValidationException",
    "MalformedPolicyDocument",
    "UnsupportedAvailabilityZoneException",
    "InvalidSubnet",
];

/// The class of an AWS error code (and HTTP status, when there is one).
pub fn class_of(code: &str, status: Option<u16>) -> ErrorClass {
    if THROTTLED.contains(&code) {
        ErrorClass::Throttled
    } else if TRANSIENT.contains(&code) {
        ErrorClass::Transient
    } else if DENIED.contains(&code) || code.starts_with("AccessDenied") {
        ErrorClass::Denied
    } else if code.ends_with("NotFound")
        || code.ends_with(".NotFound")
        || code.ends_with("NotFoundException")
        || code.starts_with("NoSuch")
    {
        ErrorClass::NotFound
    } else if code.contains("AlreadyExists") || code == "ResourceInUseException" {
        ErrorClass::AlreadyExists
    } else if INVALID.contains(&code)
        || code.starts_with("InvalidParameter")
        || code.starts_with("Validation")
        || (code.starts_with("Invalid") && code.ends_with(".Malformed"))
    {
        ErrorClass::Invalid
    } else {
        match status {
            Some(s) if s >= 500 => ErrorClass::Transient,
            Some(401) | Some(403) => ErrorClass::Denied,
            Some(429) => ErrorClass::Throttled,
            _ => ErrorClass::Permanent,
        }
    }
}

/// A classified error for a failed call of operation `op`.
pub fn classify<E>(op: &str, e: SdkError<E, HttpResponse>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &e {
        SdkError::ConstructionFailure(_) => ProviderError::new(
            ErrorClass::Invalid,
            format!("{op}: the request could not be built: {}", source_text(&e)),
        ),
        SdkError::TimeoutError(_) => {
            ProviderError::new(ErrorClass::Transient, format!("{op}: timed out"))
        }
        SdkError::DispatchFailure(_) if connection_refused(&e) => ProviderError::new(
            ErrorClass::Unreachable,
            format!("{op}: the endpoint refused the connection"),
        ),
        SdkError::DispatchFailure(_) => ProviderError::new(
            ErrorClass::Transient,
            format!("{op}: could not reach the endpoint: {}", source_text(&e)),
        ),
        SdkError::ResponseError(_) => ProviderError::new(
            ErrorClass::Transient,
            format!("{op}: unreadable response: {}", source_text(&e)),
        ),
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = e.code().unwrap_or("");
            let message = e.message().unwrap_or("").trim();
            let class = if code.is_empty() {
                class_of("", Some(status))
            } else {
                class_of(code, Some(status))
            };
            let text = match (code.is_empty(), message.is_empty()) {
                (true, true) => format!("{op}: HTTP {status}"),
                (true, false) => format!("{op}: HTTP {status}: {message}"),
                (false, true) => format!("{op}: {code}"),
                (false, false) => format!("{op}: {code}: {message}"),
            };
            ProviderError::new(class, text)
        }
        _ => ProviderError::new(ErrorClass::Transient, format!("{op}: {}", source_text(&e))),
    }
}

/// Whether an I/O error somewhere in the chain is a refused connection: nothing
/// listens at the endpoint.
fn connection_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// The chain of sources of an error, as one line.
fn source_text(e: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !t.is_empty() && parts.last() != Some(&t) {
            parts.push(t);
        }
        cur = s.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

/// Runs one API call in the shared retry loop, with this provider's jittered backoff.
pub async fn with_retries<T, F, Fut>(retry: &CallRetry, call: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    fedstack_provider::with_retries(retry.max_attempts, |attempt, _| retry.delay(attempt), call)
        .await
}

pub(crate) fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::Invalid, message)
}

pub(crate) fn permanent(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::Permanent, message)
}

pub(crate) fn not_found(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::NotFound, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_classes() {
        assert_eq!(class_of("Throttling", Some(400)), ErrorClass::Throttled);
        assert_eq!(
            class_of("PriorRequestNotComplete", Some(400)),
            ErrorClass::Throttled
        );
        assert_eq!(
            class_of("NoSuchHostedZone", Some(404)),
            ErrorClass::NotFound
        );
        assert_eq!(
            class_of("ResourceNotFoundException", Some(404)),
            ErrorClass::NotFound
        );
        assert_eq!(
            class_of("InvalidVpcID.NotFound", Some(400)),
            ErrorClass::NotFound
        );
        assert_eq!(class_of("NoSuchEntity", Some(404)), ErrorClass::NotFound);
        assert_eq!(
            class_of("EntityAlreadyExists", Some(409)),
            ErrorClass::AlreadyExists
        );
        assert_eq!(
            class_of("ResourceInUseException", Some(409)),
            ErrorClass::AlreadyExists
        );
        assert_eq!(
            class_of("InvalidChangeBatch", Some(400)),
            ErrorClass::Invalid
        );
        assert_eq!(
            class_of("InvalidParameterValue", Some(400)),
            ErrorClass::Invalid
        );
        assert_eq!(
            class_of("AccessDeniedException", Some(403)),
            ErrorClass::Denied
        );
        assert_eq!(
            class_of("DependencyViolation", Some(400)),
            ErrorClass::Transient
        );
        assert_eq!(
            class_of("HostedZoneNotEmpty", Some(400)),
            ErrorClass::Permanent
        );
        assert_eq!(class_of("", Some(503)), ErrorClass::Transient);
        assert_eq!(class_of("", Some(403)), ErrorClass::Denied);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried_then_succeeds() {
        let retry = CallRetry::default();
        let mut calls = 0;
        let r = with_retries(&retry, || {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(ProviderError::new(ErrorClass::Throttled, "Rate exceeded"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r, Ok(3));
    }

    #[tokio::test(start_paused = true)]
    async fn invalid_requests_are_not_retried() {
        let retry = CallRetry::default();
        let mut calls = 0;
        let r: Result<(), _> = with_retries(&retry, || {
            calls += 1;
            async { Err(invalid("InvalidInput")) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }
}
