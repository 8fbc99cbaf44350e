//! `refresh`: record what the clouds have now (adopting interrupted creates).

use fedstack_core::observe::Observation;
use fedstack_core::state::{ResourceState, StateChange};
use fedstack_engine::events::NoEvents;

use crate::args::LockArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::terminal::outln;

pub fn run(ctx: &Context, a: LockArgs) -> Result<u8, CliError> {
    let rt = super::runtime()?;
    let stack = ctx.stack()?;
    let backend = ctx.backend(&stack)?;
    let lock = ctx.lock(backend.as_ref(), "refresh", a.lock_timeout)?;
    let (mut writer, warnings) = backend.open_writer(&lock)?;
    for w in &warnings {
        ctx.warn(w);
    }
    let providers = ctx.providers(&stack, writer.snapshot(), true)?;
    let settings = ctx.engine_settings(&stack, 10);
    let observed = rt.block_on(fedstack_engine::refresh(
        writer.snapshot(),
        &providers,
        &settings,
        &NoEvents,
    ))?;
    let desired_deps: std::collections::HashMap<_, _> = stack
        .resources
        .iter()
        .map(|r| (&r.address, &r.depends_on))
        .collect();
    let state = writer.snapshot();
    let mut changes = Vec::new();
    let mut lines = Vec::new();
    for (a, obs) in &observed {
        let recorded = state.resources.get(a);
        let intent = state.intents.get(a);
        match obs {
            Observation::Absent => {
                if recorded.is_some() {
                    changes.push(StateChange::Remove { address: a.clone() });
                    lines.push(format!("{a}: gone from the cloud; forgotten"));
                } else if intent.is_some() {
                    changes.push(StateChange::ClearIntent { address: a.clone() });
                    lines.push(format!("{a}: the interrupted create never happened"));
                }
            }
            Observation::Present(o) => {
                let (cloud, cloud_name, depends_on) = match (recorded, intent) {
                    (Some(r), _) => (r.cloud.clone(), r.cloud_name.clone(), r.depends_on.clone()),
                    (None, Some(i)) => (
                        i.cloud.clone(),
                        i.cloud_name.clone(),
                        desired_deps
                            .get(a)
                            .map(|d| (*d).clone())
                            .unwrap_or_else(|| i.depends_on.clone()),
                    ),
                    (None, None) => continue,
                };
                let updated = ResourceState {
                    address: a.clone(),
                    cloud,
                    cloud_name,
                    attrs: o.attrs.clone(),
                    outputs: o.outputs.clone(),
                    sensitive: o.sensitive.clone(),
                    depends_on,
                };
                if recorded != Some(&updated) {
                    lines.push(if recorded.is_none() {
                        format!("{a}: adopted from an interrupted run")
                    } else {
                        format!("{a}: updated from the cloud")
                    });
                    changes.push(StateChange::Put(Box::new(updated)));
                }
            }
        }
    }
    let n = changes.len();
    if n > 0 {
        writer.append(changes)?;
    }
    writer.compact()?;
    for l in &lines {
        outln!("{l}")?;
    }
    outln!(
        "Refreshed {} resources; {n} recorded change{}.",
        observed.len(),
        if n == 1 { "" } else { "s" }
    )?;
    lock.release()?;
    Ok(0)
}
