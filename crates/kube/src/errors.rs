//! [`KubeError`]: what can go wrong talking to a Kubernetes API, one line each, classified
//! for the engine ([`ErrorClass`]). Messages never contain tokens or keys.

use fedstack_provider::{ErrorClass, ProviderError};

/// An error of a Kubernetes call or of a join/unjoin step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubeError {
    /// The API server answered with an error status.
    #[error("{context}: {message}")]
    Api {
        context: String,
        code: u16,
        reason: String,
        message: String,
    },
    /// The API server could not be reached (refused, reset, timed out, TLS failure).
    #[error("{context}: {message}")]
    Unreachable { context: String, message: String },
    /// An object fedstack would make already exists and is someone else's, or the member
    /// is joined to another host: fedstack will not take it over.
    #[error("{0}")]
    Conflict(String),
    /// A kubeconfig, a name or an argument that cannot work.
    #[error("{0}")]
    Invalid(String),
    /// Something did not happen in time (a token controller, a CRD becoming established).
    #[error("{0}")]
    Timeout(String),
}

impl KubeError {
    pub fn class(&self) -> ErrorClass {
        match self {
            KubeError::Api { code, reason, .. } => match code {
                401 | 403 => ErrorClass::Denied,
                404 => ErrorClass::NotFound,
                409 if reason == "AlreadyExists" => ErrorClass::AlreadyExists,
                // An optimistic-concurrency conflict or a namespace still terminating.
                409 => ErrorClass::Transient,
                400 | 422 => ErrorClass::Invalid,
                429 => ErrorClass::Throttled,
                500..=599 => ErrorClass::Transient,
                _ => ErrorClass::Permanent,
            },
            KubeError::Unreachable { .. } | KubeError::Timeout(_) => ErrorClass::Transient,
            KubeError::Conflict(_) => ErrorClass::Permanent,
            KubeError::Invalid(_) => ErrorClass::Invalid,
        }
    }

    /// Whether the API said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, KubeError::Api { code: 404, .. })
    }

    /// Wraps a kube-rs error with what was being done (`get ServiceAccount x/y`).
    pub fn from_kube(context: impl Into<String>, e: kube::Error) -> KubeError {
        let context = context.into();
        match e {
            kube::Error::Api(status) => KubeError::Api {
                context,
                code: status.code,
                reason: status.reason.clone(),
                message: one_line(if status.message.is_empty() {
                    status.reason.as_str()
                } else {
                    status.message.as_str()
                }),
            },
            kube::Error::InferKubeconfig(e) => KubeError::Invalid(format!("{context}: {e}")),
            kube::Error::SerdeError(e) => KubeError::Api {
                context,
                code: 0,
                reason: "BadResponse".into(),
                message: format!("cannot decode the response: {e}"),
            },
            other => KubeError::Unreachable {
                context,
                message: chain(&other),
            },
        }
    }
}

impl From<KubeError> for ProviderError {
    fn from(e: KubeError) -> ProviderError {
        ProviderError::new(e.class(), e.to_string())
    }
}

/// An error and its sources on one line, without repeats ("client error (Connect): tcp
/// connect error: Connection refused (os error 111)").
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let text = one_line(&err.to_string());
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    // Keep the most specific messages: a wrapper's text often repeats its source's.
    parts.join(": ")
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub type Result<T> = std::result::Result<T, KubeError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, reason: &str) -> KubeError {
        KubeError::Api {
            context: "get x".into(),
            code,
            reason: reason.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn classes() {
        assert_eq!(api(403, "Forbidden").class(), ErrorClass::Denied);
        assert_eq!(api(401, "Unauthorized").class(), ErrorClass::Denied);
        assert_eq!(api(404, "NotFound").class(), ErrorClass::NotFound);
        assert_eq!(api(409, "AlreadyExists").class(), ErrorClass::AlreadyExists);
        assert_eq!(api(409, "Conflict").class(), ErrorClass::Transient);
        assert_eq!(api(422, "Invalid").class(), ErrorClass::Invalid);
        assert_eq!(api(429, "TooManyRequests").class(), ErrorClass::Throttled);
        assert_eq!(
            api(503, "ServiceUnavailable").class(),
            ErrorClass::Transient
        );
        assert!(api(404, "NotFound").is_not_found());
        assert_eq!(
            KubeError::Conflict("x".into()).class(),
            ErrorClass::Permanent
        );
        let p: ProviderError = api(403, "Forbidden").into();
        assert_eq!(p.message, "get x: m");
    }

    #[test]
    fn chains_are_one_line() {
        let e = std::io::Error::other("a\nb   c");
        assert_eq!(chain(&e), "a b c");
    }
}
