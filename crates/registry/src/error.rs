//! The errors of the copy engine. Every message is one line that names what failed
//! (registry host, URL path without its query, HTTP status) and, where there is one,
//! a hint. None carries a credential: requests are named by their path only, and
//! registry error bodies are cut to their `code`/`message` fields.

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    /// An image reference that does not parse.
    #[error("invalid image reference {input:?}: {reason} (hint: {hint})")]
    InvalidReference {
        input: String,
        reason: String,
        hint: &'static str,
    },

    /// A platform filter that does not parse.
    #[error("invalid platform filter {input:?}: {reason} (hint: `all` or a list like linux/amd64,linux/arm64/v8)")]
    InvalidPlatform { input: String, reason: String },

    /// A registry's settings are unusable (CA bundle, URL).
    #[error("registry {registry}: {reason}")]
    Config { registry: String, reason: String },

    /// The registry answered with a status we do not retry, or retries ran out on one.
    #[error("{method} {registry}{path}: HTTP {status}{detail}")]
    Status {
        method: String,
        /// `http(s)://host[:port]`: the scheme shows whether insecure_http was set.
        registry: String,
        path: String,
        status: u16,
        /// ` after N attempts` and/or `: CODE: message` from the registry's error body.
        detail: String,
    },

    /// The connection failed (refused, reset, TLS, timeout) and retries ran out.
    #[error("{method} {registry}{path}: {reason} (after {attempts} attempts)")]
    Transport {
        method: String,
        /// `http(s)://host[:port]`.
        registry: String,
        path: String,
        reason: String,
        attempts: u32,
    },

    /// Authentication failed: the token endpoint refused us, or no challenge we support.
    #[error("registry {registry}: authentication failed: {reason}")]
    Auth { registry: String, reason: String },

    /// The manifest or blob does not exist.
    #[error("{registry}{path}: not found")]
    NotFound { registry: String, path: String },

    /// Bytes whose sha256 is not the digest they were asked for (or announced with).
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    /// A manifest of a media type this engine does not copy.
    #[error("{what}: unsupported manifest media type {media_type:?} (hint: OCI image manifests and indexes, Docker v2 schema2 manifests and manifest lists are supported)")]
    UnsupportedMediaType { what: String, media_type: String },

    /// A manifest whose JSON does not have the shape of its media type.
    #[error("{what}: invalid manifest: {reason}")]
    InvalidManifest { what: String, reason: String },

    /// The platform filter keeps none of an index's manifests.
    #[error(
        "{what}: no manifest matches the platform filter {filter} (the index has: {available})"
    )]
    NoMatchingPlatform {
        what: String,
        filter: String,
        available: String,
    },
}

impl Error {
    pub(crate) fn invalid_manifest(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::InvalidManifest {
            what: what.into(),
            reason: reason.into(),
        }
    }
}
