use std::collections::BTreeMap;

use fedstack_core::graph::DependencyGraph;

use crate::context::Context;
use crate::error::CliError;
use crate::terminal::out;

pub fn run(ctx: &Context) -> Result<u8, CliError> {
    let stack = ctx.stack()?;
    let graph = DependencyGraph::new(
        stack
            .resources
            .iter()
            .map(|r| (&r.address, r.depends_on.as_slice())),
    );
    let labels: BTreeMap<_, _> = stack
        .resources
        .iter()
        .map(|r| {
            (
                r.address.clone(),
                r.cloud.clone().unwrap_or_else(|| "built-in".into()),
            )
        })
        .collect();
    out!("{}", graph.to_dot(&labels))?;
    Ok(0)
}
