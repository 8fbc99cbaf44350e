//! The `fedstack` command. `main.rs` only calls [`main_entry`].

mod args;
mod clouds;
mod commands;
mod context;
mod error;
pub mod render;
mod terminal;
mod webhook;
mod workloads;

use std::process::ExitCode;

use crate::terminal::errln;
use clap::Parser;

pub use args::Cli;
pub use error::CliError;

/// Parses the command line, runs the command, prints any error as one line.
pub fn main_entry() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.json;
    let code = match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        // 128 + SIGPIPE: what the shell shows for `yes | head -1`; nothing to say.
        Err(e) if e.is_closed_pipe() => ExitCode::from(141),
        Err(e) => {
            if json {
                errln!(
                    "{}",
                    serde_json::json!({"v": 1, "type": "error", "message": e.message, "hint": e.hint})
                );
            } else {
                errln!("error: {e}");
            }
            ExitCode::from(1)
        }
    };
    if std::env::var_os("FEDSTACK_REPORT_PEAK_RSS").is_some() {
        report_peak_rss();
    }
    code
}

/// For the benchmark: the peak resident set size, from the kernel's own count.
fn report_peak_rss() {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(kb) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
            errln!("fedstack: peak RSS {}", kb.trim());
        }
    }
}
