//! fedstack-registry: copies OCI images between registries (the Distribution spec
//! over HTTP), for promoting images between the registries of a stack's clusters.
//!
//! ```no_run
//! # async fn f() -> fedstack_registry::Result<()> {
//! use fedstack_registry::{Copier, CopyOptions, ImageRef, Registry};
//! let copier = Copier::new([Registry::new("127.0.0.1:5000").insecure_http()], CopyOptions::default())?;
//! let report = copier
//!     .copy(&ImageRef::parse("127.0.0.1:5000/app:v1")?, &ImageRef::parse("reg.example.com/app:v1")?)
//!     .await?;
//! assert_eq!(report.source_digest, report.destination_digest);
//! # Ok(()) }
//! ```
//!
//! Invariants:
//! - **Digests are identical at both ends.** Manifests are copied as the bytes the
//!   source served (never re-serialized), checked against their digest when read, and
//!   the destination is HEADed after the push. The one exception is asked for: a
//!   platform filter that drops entries of an index pushes a new index, and
//!   [`CopyReport::rewritten`] says so (see [`copy`](mod@copy)).
//! - **Blobs are verified while streamed** (sha256 and size), each distinct blob sent
//!   once, in parallel (`CopyOptions::concurrency`), never whole in memory.
//! - **Credentials never print**: settings hold them in [`Secret`], whose Debug and
//!   Display are `<redacted>`; errors name requests by host and URL path only.
//! - **No I/O in types**: parsing references, platforms and manifests is pure; the
//!   caller resolves env vars and files into [`Registry`] values.
//!
//! Map: `reference`, `digest`, `platform`, `media` (pure); `registry`, `options`,
//! `retry` (settings); `auth`, `http` (one registry's client), `api` (the spec's
//! requests), `stream` (verify-while-streaming), `copy` (the engine), `report`.

mod api;
mod auth;
pub mod copy;
mod digest;
mod error;
mod http;
pub mod media;
mod options;
mod platform;
mod reference;
mod registry;
mod report;
mod retry;
mod stream;

pub use copy::{copy, Copier, DeleteOutcome};
pub use digest::Digest;
pub use error::{Error, Result};
pub use http::RequestCounts;
pub use options::CopyOptions;
pub use platform::{Platform, PlatformFilter};
pub use reference::ImageRef;
pub use registry::{Credentials, Registry, Secret};
pub use report::{CopyPlan, CopyReport, PlannedBlob, PlannedManifest, RewrittenIndex};
pub use retry::RetryPolicy;
