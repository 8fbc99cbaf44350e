//! The command's errors: one line each, with a hint, mapped to an exit code.

use std::fmt;

/// An error for the user. Display is one line (several for several stack problems).
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub hint: Option<String>,
    closed_pipe: bool,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            hint: None,
            closed_pipe: false,
        }
    }

    /// The reader of standard output went away: stop quietly (see `terminal`).
    pub fn closed_pipe() -> CliError {
        CliError {
            message: "standard output was closed".into(),
            hint: None,
            closed_pipe: true,
        }
    }

    pub fn is_closed_pipe(&self) -> bool {
        self.closed_pipe
    }

    pub fn hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

macro_rules! from_display {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> CliError {
                CliError::new(e.to_string())
            }
        }
    )*};
}

from_display!(
    fedstack_state::StateError,
    fedstack_core::plan::PlanError,
    fedstack_engine::RefreshError,
    fedstack_provider::ProviderError,
    fedstack_core::address::AddressError,
    fedstack_provider_sim::SimError
);
