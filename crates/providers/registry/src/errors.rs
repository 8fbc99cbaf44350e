//! `fedstack_registry` errors onto [`ErrorClass`]. The client already retried what
//! can be retried (its own loop), so such errors are marked given up: the engine must
//! not retry them again. Messages carry no credentials (the client names requests by
//! host and path only).

use fedstack_provider::{ErrorClass, ProviderError};
use fedstack_registry::Error;

pub fn from_registry(e: Error) -> ProviderError {
    let message = e.to_string();
    let (class, attempts) = match &e {
        Error::InvalidReference { .. } | Error::InvalidPlatform { .. } | Error::Config { .. } => {
            (ErrorClass::Invalid, None)
        }
        Error::Status { status, .. } => match status {
            401 | 403 => (ErrorClass::Denied, None),
            404 => (ErrorClass::NotFound, None),
            429 => (ErrorClass::Throttled, Some(1)),
            500..=599 => (ErrorClass::Transient, Some(1)),
            _ => (ErrorClass::Permanent, None),
        },
        Error::Transport { attempts, .. } => (ErrorClass::Unreachable, Some(*attempts)),
        Error::Auth { .. } => (ErrorClass::Denied, None),
        Error::NotFound { .. } => (ErrorClass::NotFound, None),
        Error::DigestMismatch { .. }
        | Error::UnsupportedMediaType { .. }
        | Error::InvalidManifest { .. } => (ErrorClass::Permanent, None),
        Error::NoMatchingPlatform { .. } => (ErrorClass::Invalid, None),
    };
    let mut pe = ProviderError::new(class, message);
    // The message already says how many attempts were made.
    pe.gave_up_after = attempts;
    pe
}

pub fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::Invalid, message)
}

pub fn denied(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::Denied, message)
}
