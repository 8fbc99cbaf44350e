use crate::context::Context;
use crate::error::CliError;

pub fn run(ctx: &Context) -> Result<u8, CliError> {
    let stack = ctx.stack()?;
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({"v": 1, "valid": true, "stack": stack.name, "resources": stack.resources.len()})
        );
    } else {
        println!(
            "{} {} declares {} resources in {} clouds.",
            ctx.style.green("Valid:"),
            stack.name,
            stack.resources.len(),
            stack.clouds.len()
        );
    }
    Ok(0)
}
