//! Errors of the sim: [`SimError`] for the world and the inspection API, and helpers
//! that build classified [`ProviderError`]s for the provider calls.

use std::time::Duration;

use fedstack_provider::{ErrorClass, ProviderError};

/// An error of the sim world or of the inspection API. One line, no secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// Reading or writing a file of the world failed.
    #[error("sim world: {0}")]
    Io(String),
    /// Another process holds the world.
    #[error("sim world {path} is in use by another fedstack process{holder}; try again when it finishes")]
    Locked { path: String, holder: String },
    /// The world file cannot be read back.
    #[error("sim world {path} is corrupt at line {line}: {reason}")]
    Corrupt {
        path: String,
        line: usize,
        reason: String,
    },
    /// A mutation through a world opened for reading only.
    #[error("the sim world was opened read-only (plan); it cannot change")]
    ReadOnly,
    /// Not an address.
    #[error("{0}")]
    BadAddress(String),
    /// No such object in the world.
    #[error("{0} does not exist in the sim world")]
    NotFound(String),
    /// The change is not allowed (bad key, bad value, object being deleted...).
    #[error("{0}")]
    Invalid(String),
}

impl SimError {
    pub(crate) fn io(what: &str, path: &std::path::Path, err: &std::io::Error) -> SimError {
        SimError::Io(format!("cannot {what} {}: {err}", path.display()))
    }

    fn class(&self) -> ErrorClass {
        match self {
            SimError::Io(_) | SimError::Corrupt { .. } | SimError::ReadOnly => {
                ErrorClass::Permanent
            }
            SimError::Locked { .. } => ErrorClass::Transient,
            SimError::BadAddress(_) | SimError::Invalid(_) => ErrorClass::Invalid,
            SimError::NotFound(_) => ErrorClass::NotFound,
        }
    }
}

impl From<SimError> for ProviderError {
    fn from(e: SimError) -> ProviderError {
        ProviderError::new(e.class(), e.to_string())
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::Invalid, message)
}

pub(crate) fn not_found(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::NotFound, message)
}

pub(crate) fn permanent(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::Permanent, message)
}

/// A retryable "operation in progress", with how long until it should be over.
pub(crate) fn in_progress(message: impl Into<String>, remaining_ms: u64) -> ProviderError {
    let mut e = ProviderError::new(ErrorClass::Transient, message);
    e.retry_after = Some(Duration::from_millis(remaining_ms.max(1)));
    e
}
