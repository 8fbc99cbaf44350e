//! [`WorkloadError`]: what can go wrong applying, pruning, deleting or reading workloads,
//! one line each, classified for the engine. Secret values never appear in them.

use std::time::Duration;

use fedstack_provider::{ErrorClass, ProviderError};

use crate::errors::KubeError;

/// An error of a workload operation on one cluster.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkloadError {
    /// The cluster's API server could not be reached: only this cluster's resource fails.
    #[error("cluster {cluster} is unreachable: {message}")]
    Unreachable { cluster: String, message: String },
    /// The object exists and fedstack did not make it (no field manager `fedstack`).
    #[error("{object} already exists and was not made by fedstack (field managers: {}) (hint: set adopt: true to take it over, or rename or remove it)", list(.managers))]
    NotOurs {
        object: String,
        managers: Vec<String>,
    },
    /// Server-side apply refused: other appliers own fields the manifest sets to other values.
    #[error("{object}: field conflict with {}: {} (hint: these fields are applied by another tool too; remove them from one of the two)", list(.managers), list(.fields))]
    FieldConflict {
        object: String,
        managers: Vec<String>,
        fields: Vec<String>,
    },
    /// The API server answered with an error status.
    #[error("{context}: {message}")]
    Api {
        context: String,
        code: u16,
        reason: String,
        message: String,
    },
    /// A deleted object did not go away in time.
    #[error("{object} is still there after {}: {}", human(*.after), stuck_reason(.finalizers))]
    Stuck {
        object: String,
        after: Duration,
        finalizers: Vec<String>,
    },
    /// Something else did not happen in time (a CRD becoming established, a rollout).
    #[error("{0}")]
    Timeout(String),
    /// A manifest or an argument that cannot work (a kind the cluster does not serve).
    #[error("{0}")]
    Invalid(String),
}

impl WorkloadError {
    pub fn class(&self) -> ErrorClass {
        match self {
            WorkloadError::Unreachable { .. } => ErrorClass::Unreachable,
            // The bound is the user's (`timeout`): waiting it out again would multiply it.
            WorkloadError::Timeout(_) | WorkloadError::Stuck { .. } => ErrorClass::Permanent,
            WorkloadError::NotOurs { .. } | WorkloadError::FieldConflict { .. } => {
                ErrorClass::Permanent
            }
            WorkloadError::Invalid(_) => ErrorClass::Invalid,
            WorkloadError::Api {
                code,
                reason,
                message,
                context,
            } => KubeError::Api {
                context: context.clone(),
                code: *code,
                reason: reason.clone(),
                message: message.clone(),
            }
            .class(),
        }
    }

    /// Whether the cluster could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, WorkloadError::Unreachable { .. })
    }

    /// A kube-rs error of `context` (`apply ConfigMap a/b`) on `cluster`.
    pub(crate) fn from_kube(cluster: &str, context: impl Into<String>, e: kube::Error) -> Self {
        match KubeError::from_kube(context, e) {
            KubeError::Api {
                context,
                code,
                reason,
                message,
            } => WorkloadError::Api {
                context,
                code,
                reason,
                message,
            },
            KubeError::Unreachable { context, message } => WorkloadError::Unreachable {
                cluster: cluster.to_string(),
                message: format!("{context}: {message}"),
            },
            KubeError::Invalid(m) | KubeError::Conflict(m) => WorkloadError::Invalid(m),
            // A request that timed out: the cluster did not answer, not a rollout's bound.
            KubeError::Timeout(m) => WorkloadError::Unreachable {
                cluster: cluster.to_string(),
                message: m,
            },
        }
    }
}

impl From<WorkloadError> for ProviderError {
    fn from(e: WorkloadError) -> ProviderError {
        ProviderError::new(e.class(), e.to_string())
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none recorded)".to_string()
    } else {
        items.join(", ")
    }
}

fn stuck_reason(finalizers: &[String]) -> String {
    match finalizers {
        [] => "it has no finalizers left and is still terminating".to_string(),
        [f] if f == super::delete::FOREGROUND_FINALIZER => format!(
            "finalizer {f} has not been removed (its dependents are still being deleted, or the garbage collector is not running)"
        ),
        [f] => format!("finalizer {f} has not been removed"),
        fs => format!("finalizers {} have not been removed", fs.join(", ")),
    }
}

/// `5m`, `2s`, `1m30s`, `250ms`.
pub(crate) fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

pub type Result<T> = std::result::Result<T, WorkloadError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuck_names_the_object_and_its_finalizers() {
        let e = WorkloadError::Stuck {
            object: "ConfigMap guestbook/settings".into(),
            after: Duration::from_secs(300),
            finalizers: vec!["example.com/hold".into()],
        };
        assert_eq!(
            e.to_string(),
            "ConfigMap guestbook/settings is still there after 5m: finalizer example.com/hold has not been removed"
        );
        assert_eq!(human(Duration::from_millis(1500)), "1s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_secs(90)), "1m30s");
    }
}
