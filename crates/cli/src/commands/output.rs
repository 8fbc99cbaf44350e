use fedstack_core::state::StateSnapshot;
use fedstack_core::value::{Expr, Known};
use serde_json::Value;

use crate::args::OutputArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::render::plan::value;
use crate::terminal::outln;

/// An output's value from the recorded state.
pub(crate) fn resolve(e: &Expr, state: &StateSnapshot) -> Known {
    e.resolve(&mut |a, out| state.resources.get(a).and_then(|r| r.output(out).cloned()))
}

pub fn run(ctx: &Context, a: OutputArgs) -> Result<u8, CliError> {
    let stack = ctx.stack()?;
    if a.name.as_deref() == Some("kubeconfig") && !stack.outputs.contains_key("kubeconfig") {
        return super::kubeconfig::run(ctx, &stack, a.cluster.as_deref(), a.out.as_deref());
    }
    if let Some(extra) = &a.cluster {
        return Err(CliError::new(format!("unexpected argument `{extra}`"))
            .hint("only `fedstack output kubeconfig [CLUSTER]` takes a second argument"));
    }
    if a.out.is_some() {
        return Err(CliError::new(
            "--out is only for `fedstack output kubeconfig`",
        ));
    }
    let state = ctx.read_state(&stack)?;
    let mut values = serde_json::Map::new();
    for (name, o) in &stack.outputs {
        if a.name.as_ref().is_some_and(|n| n != name) {
            continue;
        }
        let v = match resolve(&o.value, &state) {
            Known::Value(v) => v,
            Known::Unknown => Value::Null,
        };
        values.insert(
            name.clone(),
            serde_json::json!({"value": v, "sensitive": o.sensitive}),
        );
    }
    if let Some(n) = &a.name {
        let Some(entry) = values.get(n) else {
            let names: Vec<&String> = stack.outputs.keys().collect();
            return Err(CliError::new(format!("no output named `{n}`")).hint(
                if names.is_empty() {
                    "the stack declares no outputs".to_string()
                } else {
                    format!(
                        "outputs are: {}",
                        names
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            ));
        };
        let v = &entry["value"];
        if v.is_null() {
            return Err(CliError::new(format!("output `{n}` has no value yet"))
                .hint("run `fedstack apply` first"));
        }
        match (a.raw, v) {
            (true, Value::String(s)) => outln!("{s}")?,
            _ if ctx.json => outln!("{v}")?,
            _ => outln!("{}", value(v))?,
        }
        return Ok(0);
    }
    if ctx.json {
        outln!("{}", Value::Object(values))?;
    } else {
        for (name, entry) in &values {
            let shown = if entry["sensitive"].as_bool().unwrap_or(false) {
                "<sensitive>".to_string()
            } else if entry["value"].is_null() {
                ctx.style.dim("(not known yet)")
            } else {
                value(&entry["value"])
            };
            outln!("{name} = {shown}")?;
        }
    }
    Ok(0)
}
