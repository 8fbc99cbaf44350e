//! `import ADDR [CLOUD_NAME]`: adopt a resource that exists in the cloud.

use fedstack_core::address::Address;
use fedstack_core::state::{ResourceState, StateChange};
use fedstack_core::value::Known;
use fedstack_engine::refresh::to_observation;
use fedstack_provider::ResourceSpec;

use crate::args::ImportArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::terminal::outln;

pub fn run(ctx: &Context, a: ImportArgs) -> Result<u8, CliError> {
    let rt = super::runtime()?;
    let stack = ctx.stack()?;
    let address: Address = a.address.parse()?;
    let Some(res) = stack.resources.iter().find(|r| r.address == address) else {
        return Err(
            CliError::new(format!("{address} is not in the stack {}", stack.file))
                .hint("declare it in the stack first, then import it"),
        );
    };
    let Some(cloud) = &res.cloud else {
        return Err(CliError::new(format!(
            "{address} is built-in (no cloud): there is nothing to import"
        )));
    };
    let backend = ctx.backend(&stack)?;
    let lock = ctx.lock(backend.as_ref(), "import", a.lock.lock_timeout)?;
    let (mut writer, _) = backend.open_writer(&lock)?;
    if writer.snapshot().resources.contains_key(&address) {
        return Err(
            CliError::new(format!("{address} is already in the state")).hint(format!(
                "`fedstack state rm {address}` first to import it anew"
            )),
        );
    }
    let providers = ctx.providers(&stack, writer.snapshot(), false)?;
    let provider = providers
        .get(cloud)
        .ok_or_else(|| CliError::new(format!("cloud `{cloud}` is not configured")))?;
    // Read with the desired attributes (those that are known) as context.
    let mut attrs = fedstack_core::value::Values::new();
    for (k, e) in &res.attrs {
        if let Known::Value(v) = e.resolve(&mut |d, o| {
            writer
                .snapshot()
                .resources
                .get(d)
                .and_then(|r| r.output(o).cloned())
        }) {
            attrs.insert(k.clone(), v);
        }
    }
    let cloud_name = a
        .cloud_name
        .clone()
        .unwrap_or_else(|| address.cloud_name().to_string());
    let spec = ResourceSpec {
        address: address.clone(),
        cloud_name: cloud_name.clone(),
        attrs,
    };
    let found = rt.block_on(provider.read(&spec))?;
    let Some(o) = found else {
        return Err(CliError::new(format!(
            "{address}: no `{cloud_name}` in cloud `{cloud}` to import"
        ))
        .hint("check the name; `fedstack sim list` shows simulated objects"));
    };
    let o = to_observation(o);
    writer.append(vec![StateChange::Put(Box::new(ResourceState {
        address: address.clone(),
        cloud: Some(cloud.clone()),
        cloud_name,
        attrs: o.attrs,
        outputs: o.outputs,
        sensitive: o.sensitive,
        depends_on: res.depends_on.clone(),
    }))])?;
    writer.compact()?;
    lock.release()?;
    outln!("{address}: imported. Run `fedstack plan` to see how it differs from the stack.")?;
    Ok(0)
}
