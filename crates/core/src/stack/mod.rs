//! The stack file: YAML with locations -> typed model -> validation -> desired resources.
//!
//! Entry point: [`load_stack`]. Everything here is pure: the caller reads the file.

mod desired;
mod diagnostic;

pub use desired::{CloudConfig, DesiredResource, DesiredStack, OutputDef, ProviderType};
pub use diagnostic::{Diagnostic, Diagnostics, Span};
