//! The snapshot's bytes: compact JSON plus a newline, the same in every backend.

use std::path::Path;

use fedstack_core::state::{StateSnapshot, STATE_FORMAT_VERSION};
use serde::Deserialize;

use crate::error::StateError;

/// Encodes a snapshot for storage.
pub fn encode(snapshot: &StateSnapshot, stack: &str) -> Result<Vec<u8>, StateError> {
    let mut bytes = serde_json::to_vec(snapshot).map_err(|source| StateError::Serialize {
        stack: stack.to_string(),
        source,
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Just the fields needed to explain why a snapshot does not parse.
#[derive(Deserialize)]
struct SnapshotHeader {
    format_version: u32,
}

/// Parses the snapshot stored at `path` (a file, or an object named like one) and
/// checks that it is `stack`'s, in a format this build reads.
pub fn parse(path: &Path, bytes: &[u8], stack: &str) -> Result<StateSnapshot, StateError> {
    let too_new = |found: u32| StateError::FormatTooNew {
        path: path.to_path_buf(),
        found,
        supported: STATE_FORMAT_VERSION,
    };
    let snapshot: StateSnapshot = match serde_json::from_slice(bytes) {
        Ok(s) => s,
        Err(e) => {
            if let Ok(header) = serde_json::from_slice::<SnapshotHeader>(bytes) {
                if header.format_version > STATE_FORMAT_VERSION {
                    return Err(too_new(header.format_version));
                }
            }
            return Err(StateError::SnapshotInvalid {
                path: path.to_path_buf(),
                message: e.to_string(),
            });
        }
    };
    if snapshot.format_version > STATE_FORMAT_VERSION {
        return Err(too_new(snapshot.format_version));
    }
    if snapshot.stack != stack {
        return Err(StateError::StackMismatch {
            path: path.to_path_buf(),
            expected: stack.to_string(),
            found: snapshot.stack,
        });
    }
    Ok(snapshot)
}

/// A stack name must be usable as one directory name and one object key segment.
pub fn validate_stack_name(name: &str) -> Result<(), StateError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 200 {
        Some("it is longer than 200 bytes")
    } else if name.starts_with('.') {
        Some("it starts with a dot")
    } else if name.contains(['/', '\\']) {
        Some("it contains a path separator")
    } else if name.chars().any(char::is_control) {
        Some("it contains control characters")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StateError::InvalidStackName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}
