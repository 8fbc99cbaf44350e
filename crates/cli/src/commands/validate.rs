use crate::context::Context;
use crate::error::CliError;
use crate::terminal::outln;

pub fn run(ctx: &Context) -> Result<u8, CliError> {
    let stack = ctx.stack()?;
    if ctx.json {
        outln!(
            "{}",
            serde_json::json!({"v": 1, "valid": true, "stack": stack.name, "resources": stack.resources.len()})
        )?;
    } else {
        outln!(
            "{} {} declares {} resources in {} clouds.",
            ctx.style.green("Valid:"),
            stack.name,
            stack.resources.len(),
            stack.clouds.len()
        )?;
    }
    Ok(0)
}
