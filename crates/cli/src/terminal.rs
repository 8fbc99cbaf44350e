//! Writing to standard output and standard error.
//!
//! A reader that goes away (`fedstack plan | head -1`) is not an error: [`out`] turns
//! the broken pipe into [`CliError::closed_pipe`], which every command passes up with
//! `?`, and `main_entry` exits quietly with 141 -- what a shell reports for a program
//! that SIGPIPE stopped, as `git log | head -1` or `kubectl get | head -1` do. Standard
//! error is best effort: when it is gone there is no one left to tell.

use std::fmt;
use std::io::{self, Write};

use crate::error::CliError;

/// Writes to standard output.
pub(crate) fn write_out(args: fmt::Arguments<'_>) -> Result<(), CliError> {
    io::stdout().lock().write_fmt(args).map_err(write_error)
}

/// Writes bytes to standard output (completions, kubeconfigs).
pub(crate) fn out_bytes(bytes: &[u8]) -> Result<(), CliError> {
    io::stdout().lock().write_all(bytes).map_err(write_error)
}

/// Flushes standard output (before a prompt).
pub(crate) fn flush() -> Result<(), CliError> {
    io::stdout().lock().flush().map_err(write_error)
}

/// Writes a line to standard error; a closed standard error is ignored.
pub(crate) fn err(args: fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{args}");
}

/// Whether an error of a write means that the reader went away.
pub(crate) fn is_closed_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

fn write_error(e: io::Error) -> CliError {
    if is_closed_pipe(&e) {
        CliError::closed_pipe()
    } else {
        CliError::new(format!("cannot write to standard output: {e}"))
    }
}

/// `outln!("...", args)?`: a line on standard output.
macro_rules! outln {
    () => {
        $crate::terminal::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::terminal::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `out!("...", args)?`: text on standard output, no newline added.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::terminal::write_out(format_args!($($arg)*))
    };
}

/// `errln!("...", args)`: a line on standard error, best effort.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::terminal::err(format_args!($($arg)*))
    };
}

pub(crate) use {errln, out, outln};
