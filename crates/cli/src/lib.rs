//! The `fedstack` command. `main.rs` only calls [`main_entry`].

mod args;
mod commands;
mod context;
mod error;
pub mod render;

use std::process::ExitCode;

use clap::Parser;

pub use args::Cli;
pub use error::CliError;

/// Parses the command line, runs the command, prints any error as one line.
pub fn main_entry() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.json;
    let code = match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if json {
                eprintln!(
                    "{}",
                    serde_json::json!({"v": 1, "type": "error", "message": e.message, "hint": e.hint})
                );
            } else {
                eprintln!("error: {e}");
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
            eprintln!("fedstack: peak RSS {}", kb.trim());
        }
    }
}
