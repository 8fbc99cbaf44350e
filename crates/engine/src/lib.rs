//! The engine: reads clouds (refresh) and executes plans (apply) through the
//! [`Provider`](fedstack_provider::Provider) trait.
//!
//! Invariants:
//! - a step starts as soon as every step it waits for has finished and been recorded;
//!   there are no level-by-level barriers;
//! - a result is durable (the [`StateSink`] returned) before any dependent starts and
//!   before the step is reported done;
//! - a create is preceded by a durable intent naming the cloud-side name;
//! - a failure stops only what depends on it.

pub mod apply;
mod builtin;
pub mod events;
mod journal;
pub mod refresh;
pub mod retry;
pub mod rollout;
mod settings;

pub use apply::{apply, ApplyReport, StepFailure};
pub use builtin::BuiltinProvider;
pub use events::{Event, EventSink, EVENT_FORMAT_VERSION};
pub use journal::StateSink;
pub use refresh::{refresh, RefreshError};
pub use settings::{EngineSettings, Providers, Stop, StopSignal};
