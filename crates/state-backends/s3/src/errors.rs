//! What can go wrong talking to the bucket, each one line naming the object and what
//! to do; and the classification the retry loop runs on.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use fedstack_state::StateError;

/// Errors of the S3 backend. They reach the user through
/// [`StateError::Backend`].
#[derive(Debug, thiserror::Error)]
pub enum S3StateError {
    #[error("the state bucket {bucket:?} does not exist (or is in another region than {region}); create it with versioning enabled, e.g. `aws s3api create-bucket --bucket {bucket}` and `aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled`, or fix `state.bucket`")]
    NoSuchBucket { bucket: String, region: String },

    #[error("the state bucket {bucket:?} has versioning {status}; fedstack needs it enabled so that every earlier state stays recoverable: `aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled`")]
    VersioningOff { bucket: String, status: String },

    #[error("access denied to {action} {location}: {reason}; the credentials fedstack found need s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on it, and s3:GetBucketVersioning on the bucket")]
    AccessDenied {
        action: &'static str,
        location: String,
        reason: String,
    },

    #[error("cannot {action} {location}: {reason}{}", if *.gave_up { " (gave up after retrying)" } else { "" })]
    Failed {
        action: &'static str,
        location: String,
        reason: String,
        gave_up: bool,
    },

    /// Another writer changed the state under us: a lost race, never overwritten.
    #[error("another writer changed {location} while this run held the lock ({other}); nothing of theirs was overwritten and this run stops writing: check who else runs against this state, then run again")]
    Conflict { location: String, other: String },

    #[error("{location} is not a valid fedstack lock ({reason}); if no fedstack run works on this stack, delete the object")]
    LockUnreadable { location: String, reason: String },
}

impl From<S3StateError> for StateError {
    fn from(e: S3StateError) -> StateError {
        StateError::Backend(Box::new(e))
    }
}

/// How a failed call is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Class {
    /// 412: a conditional write or delete lost (or our own retried write already won).
    Precondition,
    /// 404 for the object (not the bucket).
    Missing,
    NoSuchBucket,
    AccessDenied(String),
    /// Worth another attempt: 5xx, SlowDown, 409 ConditionalRequestConflict, a dropped
    /// connection, a timeout.
    Transient(String),
    Permanent(String),
}

pub(crate) fn classify<E>(e: &SdkError<E, HttpResponse>) -> Class
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let code = err.code().unwrap_or_default();
            let status = service.raw().status().as_u16();
            let message = err.message().unwrap_or(code).to_string();
            let described = if code.is_empty() {
                format!("HTTP {status}: {}", source_chain(e))
            } else {
                format!("{code}: {message}")
            };
            match (status, code) {
                (_, "NoSuchBucket") => Class::NoSuchBucket,
                (412, _) | (_, "PreconditionFailed") => Class::Precondition,
                (404, _) | (_, "NoSuchKey") | (_, "NotFound") => Class::Missing,
                (403, _) | (_, "AccessDenied") => Class::AccessDenied(described),
                (409, _) | (_, "SlowDown") | (_, "RequestTimeout") | (_, "InternalError") => {
                    Class::Transient(described)
                }
                (500..=599, _) => Class::Transient(described),
                _ => Class::Permanent(described),
            }
        }
        SdkError::TimeoutError(_) => Class::Transient("the request timed out".into()),
        SdkError::DispatchFailure(_) => Class::Transient(format!(
            "could not reach the endpoint ({})",
            source_chain(e)
        )),
        SdkError::ResponseError(_) => Class::Transient(format!(
            "the connection failed while reading the answer ({})",
            source_chain(e)
        )),
        other => Class::Permanent(source_chain(other)),
    }
}

/// An error and its causes on one line (the SDK's own Display is just "dispatch failure").
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}
