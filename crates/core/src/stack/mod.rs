//! The stack file: YAML with locations -> typed model -> validation -> desired resources.
//!
//! Entry point: [`load_stack`]. Everything here is pure: the caller reads the file.
//! The file format is documented in `crates/core/STACK_FILE.md`.

mod cx;
pub mod describe;
mod desired;
mod diagnostic;
mod dns;
mod graph;
mod images;
mod load;
mod names;
mod oci_names;
mod state_section;
mod workloads;
mod yaml;

pub use cx::MAX_DIAGNOSTICS;
pub use describe::{CloudDescription, Clouds, KUBERNETES_CLOUD, REGISTRY_CLOUD};
pub use desired::{CloudConfig, DesiredResource, DesiredStack, OutputDef};
pub use diagnostic::{Diagnostic, Diagnostics, Span};
pub use load::load_stack;
pub use names::{duration_ms, s3_bucket_problem};
pub use state_section::{
    normalize_key_prefix, S3StateConfig, StateBackendConfig, StateSection, DEFAULT_LOCK_TTL,
};
pub use workloads::{apportion, manifests_path, DEFAULT_WORKLOAD_TIMEOUT_MS, PATCH_OPS};
