//! One module per command.

mod apply;
mod graph;
mod import;
mod join;
mod kubeconfig;
mod migrate;
mod output;
mod plan;
mod promote;
mod refresh;
mod serve;
mod shift;
mod sim;
mod state;
mod status;
mod validate;

use clap::CommandFactory;

use crate::args::{Cli, Command};
use crate::context::Context;
use crate::error::CliError;

/// Runs a parsed command; returns the exit code.
pub fn run(cli: Cli) -> Result<u8, CliError> {
    let ctx = Context::new(&cli.global);
    match cli.command {
        Command::Validate => validate::run(&ctx),
        Command::Plan(a) => plan::run(&ctx, a),
        Command::Apply(a) => apply::run_apply(&ctx, a),
        Command::Destroy(a) => apply::run_destroy(&ctx, a),
        Command::Graph => graph::run(&ctx),
        Command::Refresh(a) => refresh::run(&ctx, a),
        Command::Import(a) => import::run(&ctx, a),
        Command::Output(a) => output::run(&ctx, a),
        Command::Join(a) => join::run_join(&ctx, a),
        Command::Unjoin(a) => join::run_unjoin(&ctx, a),
        Command::Shift(a) => shift::run(&ctx, a),
        Command::Status(a) => status::run(&ctx, a),
        Command::Serve(a) => serve::run(&ctx, a),
        Command::Promote(a) => promote::run(&ctx, *a),
        Command::State(c) => state::run(&ctx, c),
        Command::Sim(c) => sim::run(&ctx, c),
        Command::Completions { shell } => {
            // Into memory first: clap_complete panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "fedstack", &mut script);
            crate::terminal::out_bytes(&script)?;
            Ok(0)
        }
    }
}

/// A tokio runtime for one command.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the async runtime: {e}")))
}

/// Large, plain-data values a command is done with just before the process exits:
/// freeing 10,000 resources' maps costs more than the rest of a no-op plan, and the
/// OS reclaims the memory anyway. Only for values whose drop does no I/O.
pub(crate) fn leak_at_exit<T>(value: T) {
    std::mem::forget(value);
}
