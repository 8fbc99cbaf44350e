//! `sim list | delete | set`: the simulated clouds, changed behind fedstack's back.

use crate::args::SimCommand;
use crate::context::Context;
use crate::error::CliError;
use crate::terminal::outln;

pub fn run(ctx: &Context, c: SimCommand) -> Result<u8, CliError> {
    match c {
        SimCommand::List => {
            let objects = fedstack_provider_sim::list(&ctx.state_dir)?;
            if ctx.json {
                let list: Vec<_> = objects
                    .iter()
                    .map(|o| serde_json::json!({"address": o.address, "account": o.account, "flavor": o.flavor, "status": o.status, "attrs": o.attrs}))
                    .collect();
                outln!("{}", serde_json::Value::Array(list))?;
                return Ok(0);
            }
            if objects.is_empty() {
                outln!(
                    "The simulated clouds under {} are empty.",
                    ctx.state_dir.display()
                )?;
                return Ok(0);
            }
            let w = objects.iter().map(|o| o.address.len()).max().unwrap_or(0);
            for o in &objects {
                outln!(
                    "{:w$}  {:10} {:6} {}",
                    o.address,
                    o.account,
                    o.flavor,
                    o.status
                )?;
            }
            Ok(0)
        }
        SimCommand::Delete { address } => {
            fedstack_provider_sim::delete(&ctx.state_dir, &address)?;
            outln!("Deleted {address} from the simulated cloud.")?;
            Ok(0)
        }
        SimCommand::Set {
            address,
            assignment,
        } => {
            let Some((key, value)) = assignment.split_once('=') else {
                return Err(CliError::new(format!("`{assignment}` is not KEY=VALUE"))
                    .hint("e.g. fedstack sim set cluster.a kubernetes_version=1.30"));
            };
            fedstack_provider_sim::set(&ctx.state_dir, &address, key, value)?;
            outln!("Set {key} on {address} in the simulated cloud.")?;
            Ok(0)
        }
    }
}
