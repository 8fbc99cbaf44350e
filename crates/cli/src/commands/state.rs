//! `state list | show | rm | unlock | pull | migrate`.

use fedstack_core::address::Address;
use fedstack_core::state::StateChange;

use crate::args::StateCommand;
use crate::context::Context;
use crate::error::CliError;
use crate::terminal::outln;

pub fn run(ctx: &Context, c: StateCommand) -> Result<u8, CliError> {
    let stack = ctx.stack()?;
    match c {
        StateCommand::List { pattern } => {
            let state = ctx.read_state(&stack)?;
            let matches = |a: &Address| pattern.as_deref().is_none_or(|p| a.matches(p));
            if ctx.json {
                let list: Vec<String> = state
                    .resources
                    .keys()
                    .filter(|a| matches(a))
                    .map(|a| a.to_string())
                    .collect();
                outln!(
                    "{}",
                    serde_json::json!({"v": 1, "serial": state.serial, "resources": list, "pending": state.intents.keys().map(|a| a.to_string()).collect::<Vec<_>>()})
                )?;
                return Ok(0);
            }
            for a in state.resources.keys().filter(|a| matches(a)) {
                outln!("{a}")?;
            }
            for (a, i) in &state.intents {
                if matches(a) && !state.resources.contains_key(a) {
                    outln!(
                        "{a} {}",
                        ctx.style.yellow(
                            &format!("(pending {:?} from an interrupted run)", i.operation)
                                .to_lowercase()
                        )
                    )?;
                }
            }
            Ok(0)
        }
        StateCommand::Show { address } => {
            let address: Address = address.parse()?;
            let state = ctx.read_state(&stack)?;
            let Some(r) = state.resources.get(&address) else {
                return Err(CliError::new(format!("{address} is not in the state"))
                    .hint("`fedstack state list` shows what is"));
            };
            let text = if ctx.json {
                serde_json::to_string(r)
            } else {
                serde_json::to_string_pretty(r)
            };
            outln!("{}", text.map_err(|e| CliError::new(e.to_string()))?)?;
            Ok(0)
        }
        StateCommand::Rm { addresses, lock } => {
            let backend = ctx.backend(&stack)?;
            let guard = ctx.lock(backend.as_ref(), "state rm", lock.lock_timeout)?;
            let (mut writer, _) = backend.open_writer(&guard)?;
            let mut changes = Vec::new();
            for a in &addresses {
                let address: Address = a.parse()?;
                let s = writer.snapshot();
                if !s.resources.contains_key(&address) && !s.intents.contains_key(&address) {
                    return Err(CliError::new(format!("{address} is not in the state"))
                        .hint("nothing was removed; `fedstack state list` shows what is"));
                }
                changes.push(StateChange::Remove { address });
            }
            writer.append(changes)?;
            writer.compact()?;
            guard.release()?;
            for a in &addresses {
                outln!("Removed {a} from the state (the cloud resource, if any, is left alone).")?;
            }
            Ok(0)
        }
        StateCommand::Pull => {
            let state = ctx.read_state(&stack)?;
            let text = if ctx.json {
                serde_json::to_string(&state)
            } else {
                serde_json::to_string_pretty(&state)
            };
            outln!("{}", text.map_err(|e| CliError::new(e.to_string()))?)?;
            Ok(0)
        }
        StateCommand::Migrate(a) => super::migrate::run(ctx, &stack, a),
        StateCommand::Unlock { id } => {
            let info = ctx.backend(&stack)?.unlock(&id)?;
            outln!(
                "Removed the lock {} held by pid {} on {} ({}).",
                info.id,
                info.pid,
                info.host,
                info.operation
            )?;
            Ok(0)
        }
    }
}
