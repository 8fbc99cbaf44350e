//! `shift RECORD --to TARGET`: blue/green. Moves a weighted record's traffic to one
//! target, `--step` percentage points at a time, checking the target's health check
//! between steps and rolling back to the starting weights when it fails.
//!
//! Each step is a small plan (an update of the record's targets whose weight changes)
//! run by the engine: durable like any apply, and batched, so the weights of one step
//! change in one Route 53 call. Before a step's change, its weights are recorded as
//! *overrides* in the state (`state::Override`, base = the stack's weight): the stack
//! stays the source of truth, and the planner plans the shifted weights -- no drift --
//! until the stack's weights change.

use std::sync::{Arc, Mutex};

use fedstack_core::address::{Address, ResourceKind};
use fedstack_core::shift::weight_steps;
use fedstack_core::stack::DesiredStack;
use fedstack_core::state::{StateChange, StateSnapshot};
use fedstack_core::value::Expr;
use fedstack_engine::rollout::weights::{SharedState, WeightShift, WeightedTarget};
use fedstack_engine::rollout::{self, Outcome, RolloutEvent};
use fedstack_engine::StateSink;
use fedstack_state::StateWriter;
use serde_json::{json, Value};

use crate::args::ShiftArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::terminal::outln;

/// One target of the weighted record.
struct Target {
    set_id: String,
    address: Address,
    /// The cluster its value comes from, if any.
    cluster: Option<String>,
    /// Its health check resource, if any.
    health_check: Option<Address>,
    /// The stack's weight.
    stack_weight: i64,
}

fn ref_address(e: Option<&Expr>) -> Option<Address> {
    match e? {
        Expr::Ref { address, .. } => Some(address.clone()),
        Expr::List(items) => items.iter().find_map(|i| ref_address(Some(i))),
        _ => None,
    }
}

/// The targets of the weighted record `name` (stack name, FQDN or address).
fn record_targets(stack: &DesiredStack, name: &str) -> Result<(String, Vec<Target>), CliError> {
    let name = name.trim_start_matches("dns_record.").trim_end_matches('.');
    let mut fqdn: Option<String> = None;
    let mut targets = Vec::new();
    for r in &stack.resources {
        if r.address.kind != ResourceKind::DnsRecord {
            continue;
        }
        let lit = |k: &str| match r.attrs.get(k) {
            Some(Expr::Literal(Value::String(s))) => Some(s.clone()),
            _ => None,
        };
        let (Some(f), Some(zone)) = (lit("fqdn"), lit("zone")) else {
            continue;
        };
        let matches = f == name || (name == "@" && f == zone) || format!("{name}.{zone}") == f;
        if !matches {
            continue;
        }
        if lit("routing").as_deref() != Some("weighted") {
            return Err(CliError::new(format!(
                "record {f} uses {} routing; only weighted records shift",
                lit("routing").unwrap_or_else(|| "simple".into())
            ))
            .hint("blue/green needs `routing: weighted` with a weight per target"));
        }
        fqdn = Some(f);
        let stack_weight = match r.attrs.get("weight") {
            Some(Expr::Literal(v)) => v.as_i64().unwrap_or(0),
            _ => 0,
        };
        targets.push(Target {
            set_id: lit("set_id").unwrap_or_default(),
            address: r.address.clone(),
            cluster: ref_address(r.attrs.get("values"))
                .filter(|a| a.kind == ResourceKind::Cluster)
                .map(|a| a.name),
            health_check: ref_address(r.attrs.get("health_check_id")),
            stack_weight,
        });
    }
    let Some(fqdn) = fqdn else {
        let weighted: Vec<String> = stack
            .resources
            .iter()
            .filter(|r| matches!(r.attrs.get("routing"), Some(Expr::Literal(Value::String(s))) if s == "weighted"))
            .filter_map(|r| match r.attrs.get("fqdn") {
                Some(Expr::Literal(Value::String(s))) => Some(s.clone()),
                _ => None,
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        return Err(
            CliError::new(format!("no record `{name}` in the stack {}", stack.file)).hint(
                if weighted.is_empty() {
                    "the stack has no weighted record".to_string()
                } else {
                    format!("weighted records: {}", weighted.join(", "))
                },
            ),
        );
    };
    if targets.len() < 2 {
        return Err(CliError::new(format!(
            "record {fqdn} has one target; there is nothing to shift between"
        )));
    }
    Ok((fqdn, targets))
}

/// The index of `to`: a set id, else the one target on cluster `to`.
fn pick(targets: &[Target], to: &str, fqdn: &str) -> Result<usize, CliError> {
    if let Some(i) = targets.iter().position(|t| t.set_id == to) {
        return Ok(i);
    }
    let on: Vec<usize> = (0..targets.len())
        .filter(|i| targets[*i].cluster.as_deref() == Some(to))
        .collect();
    match on.as_slice() {
        [i] => Ok(*i),
        [] => Err(CliError::new(format!(
            "`{to}` is neither a target nor a cluster of record {fqdn}"
        ))
        .hint(format!(
            "targets: {}",
            targets
                .iter()
                .map(|t| t.set_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        _ => Err(CliError::new(format!(
            "several targets of record {fqdn} are on cluster {to}"
        ))
        .hint("name the target by its set id")),
    }
}

fn row(targets: &[Target], weights: &[i64]) -> String {
    targets
        .iter()
        .zip(weights)
        .map(|(t, w)| format!("{} {w:>3}", t.set_id))
        .collect::<Vec<_>>()
        .join("  ")
}

fn prose(targets: &[Target], weights: &[i64]) -> String {
    targets
        .iter()
        .zip(weights)
        .map(|(t, w)| format!("{}: {w}", t.set_id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The weights the record has (recorded), checked against what the stack and its
/// overrides want: a shift starts from a record that shows no drift.
fn current_weights(
    stack: &DesiredStack,
    targets: &[Target],
    state: &StateSnapshot,
) -> Result<Vec<i64>, CliError> {
    let active = fedstack_core::plan::active_overrides(stack, state);
    let mut out = Vec::new();
    for t in targets {
        let Some(r) = state.resources.get(&t.address) else {
            return Err(CliError::new(format!("{} is not in the state", t.address))
                .hint("apply the stack first: `fedstack apply`"));
        };
        let recorded = r.attrs.get("weight").and_then(Value::as_i64).unwrap_or(0);
        let wanted = active
            .get(&(t.address.clone(), "weight".to_string()))
            .and_then(Value::as_i64)
            .unwrap_or(t.stack_weight);
        if recorded != wanted {
            return Err(CliError::new(format!(
                "{} has weight {recorded}, but the stack (with earlier shifts) wants {wanted}",
                t.address
            ))
            .hint("run `fedstack apply` first, then shift"));
        }
        out.push(recorded);
    }
    Ok(out)
}

/// The state writer shared with the engine's journal thread.
#[derive(Clone)]
struct SharedWriter(Arc<Mutex<StateWriter>>);

impl SharedWriter {
    fn writer(&self) -> std::sync::MutexGuard<'_, StateWriter> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl StateSink for SharedWriter {
    fn append(&mut self, changes: Vec<StateChange>) -> Result<u64, String> {
        self.writer().append(changes).map_err(|e| e.to_string())
    }
}

impl SharedState for SharedWriter {
    fn snapshot(&self) -> StateSnapshot {
        self.writer().snapshot().clone()
    }

    fn record(&self, changes: Vec<StateChange>) -> Result<u64, String> {
        self.writer().append(changes).map_err(|e| e.to_string())
    }

    fn sink(&self) -> Box<dyn StateSink> {
        Box::new(self.clone())
    }
}

/// A progress line. Best effort: a shift under way finishes (or rolls back) even when
/// its reader has gone; the closing line then ends the command as a closed pipe.
fn say(ctx: &Context, line: &str, event: Value) {
    let _ = if ctx.json {
        outln!("{event}")
    } else {
        outln!("{line}")
    };
}

pub fn run(ctx: &Context, a: ShiftArgs) -> Result<u8, CliError> {
    let stack = ctx.stack()?;
    let (fqdn, targets) = record_targets(&stack, &a.record)?;
    let to = pick(&targets, &a.to, &fqdn)?;
    let to_name = targets[to].set_id.clone();
    let style = ctx.style;

    if a.dry_run {
        let state = ctx.read_state(&stack)?;
        let start = current_weights(&stack, &targets, &state)?;
        let steps = weight_steps(&start, to, a.step)
            .map_err(|e| CliError::new(format!("cannot shift {fqdn} to {to_name}: {e}")))?;
        if ctx.json {
            outln!(
                "{}",
                json!({"record": fqdn, "to": to_name, "targets": targets.iter().map(|t| &t.set_id).collect::<Vec<_>>(),
                       "start": start, "steps": steps, "interval_ms": a.interval.as_millis() as u64})
            )?;
            return Ok(0);
        }
        outln!(
            "Shift of {fqdn} to {to_name} in {} step(s), {} apart (dry run: nothing changes):",
            steps.len(),
            humantime::format_duration(a.interval)
        )?;
        outln!("  start     {}", row(&targets, &start))?;
        for (i, w) in steps.iter().enumerate() {
            outln!("  step {:<4} {}", i + 1, row(&targets, w))?;
        }
        match &targets[to].health_check {
            Some(h) => outln!("Between steps: {h} must be healthy, else back to the start.")?,
            None => outln!(
                "{}",
                style.yellow(&format!(
                    "Target {to_name} has no health check: nothing would stop a bad shift."
                ))
            )?,
        }
        return Ok(0);
    }

    if targets[to].health_check.is_none() {
        return Err(CliError::new(format!(
            "target {to_name} of {fqdn} has no health check: fedstack shifts traffic only to what it can check"
        ))
        .hint(format!("add `health_check:` to target `{to_name}` in the stack, or see the steps with --dry-run")));
    }
    let rt = super::runtime()?;
    let backend = ctx.backend(&stack)?;
    let lock = ctx.lock(backend.as_ref(), "shift", a.lock.lock_timeout)?;
    let (writer, warnings) = backend.open_writer(&lock)?;
    for w in &warnings {
        ctx.warn(w);
    }
    let start = current_weights(&stack, &targets, writer.snapshot())?;
    let steps = weight_steps(&start, to, a.step)
        .map_err(|e| CliError::new(format!("cannot shift {fqdn} to {to_name}: {e}")))?;
    let providers = ctx.providers(&stack, writer.snapshot(), false)?;
    let settings = ctx.engine_settings(&stack, 10);
    let state = SharedWriter(Arc::new(Mutex::new(writer)));
    let weighted: Vec<WeightedTarget> = targets
        .iter()
        .map(|t| WeightedTarget {
            address: t.address.clone(),
            health_check: t.health_check.clone(),
            stack_weight: t.stack_weight,
        })
        .collect();
    let mut shift = WeightShift {
        stack: &stack.name,
        targets: &weighted,
        to,
        state: &state,
        providers: &providers,
        settings: &settings,
        by: format!("fedstack shift {fqdn} --to {to_name}"),
        group: format!("shift {fqdn}"),
    };
    if !ctx.json {
        outln!(
            "Shifting {fqdn} to {to_name} in {} step(s), {} apart:",
            steps.len(),
            humantime::format_duration(a.interval)
        )?;
        outln!("  start     {}", row(&targets, &start))?;
    }
    let outcome = rt.block_on(rollout::run(
        &mut shift,
        &start,
        &steps,
        a.interval,
        |event| match event {
            RolloutEvent::Stepped {
                index,
                of,
                step,
                detail,
            } => say(
                ctx,
                &format!("  step {index:<4} {}  {}", row(&targets, step), style.dim(detail)),
                json!({"type": "shift_step", "record": fqdn, "step": index, "of": of, "weights": step}),
            ),
            RolloutEvent::RolledBack { to } => say(
                ctx,
                &format!("  rollback  {}", row(&targets, to)),
                json!({"type": "shift_rollback", "record": fqdn, "weights": to}),
            ),
        },
    ));

    let result = match outcome {
        Outcome::Complete => {
            if !ctx.json {
                outln!(
                    "{}",
                    style.green(&style.bold(&format!(
                        "Shift complete: all traffic of {fqdn} on {to_name}."
                    )))
                )?;
                let stack_row: Vec<i64> = targets.iter().map(|t| t.stack_weight).collect();
                let last = steps.last().cloned().unwrap_or_default();
                if stack_row != last {
                    outln!(
                        "The stack still says {}; fedstack keeps the shifted weights in the state (no drift) until those weights change in the stack. To make them permanent, write {} there.",
                        prose(&targets, &stack_row),
                        prose(&targets, &last)
                    )?;
                }
            } else {
                outln!(
                    "{}",
                    json!({"type": "shift_done", "record": fqdn, "to": to_name})
                )?;
            }
            Ok(0)
        }
        Outcome::StoppedBeforeMoving { why } => Err(CliError::new(format!(
            "shift of {fqdn} to {to_name} stopped {why}; nothing changed"
        ))),
        Outcome::Stopped { why, rollback } => {
            let message = format!("shift of {fqdn} to {to_name} stopped {why}");
            match rollback {
                Ok(()) => Err(CliError::new(format!(
                    "{message}; rolled back to {}",
                    prose(&targets, &start)
                ))),
                Err(e) => Err(
                    CliError::new(format!("{message}; the rollback failed too: {e}")).hint(
                        "run `fedstack plan` to see where the record is, then `fedstack apply`",
                    ),
                ),
            }
        }
    };
    state.writer().compact()?;
    lock.release()?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> DesiredStack {
        let text = "
name: t
clouds:
  sim: { provider: sim, emulates: aws }
clusters:
  a: { cloud: sim, region: us-east-1, kubernetes_version: \"1.31\" }
  b: { cloud: sim, region: us-east-2, kubernetes_version: \"1.31\" }
dns:
  zone: example.com
  cloud: sim
  health_checks:
    hb: { cluster: b }
  records:
    shop:
      routing: weighted
      targets:
        blue: { cluster: a, weight: 100 }
        green: { cluster: b, weight: 0, health_check: hb }
    www: { targets: { x: { address: 192.0.2.1 } } }
";
        match fedstack_core::stack::load_stack("t.yaml", text, crate::clouds::CLOUDS) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn records_are_found_by_name_fqdn_or_address() {
        let s = stack();
        for name in [
            "shop",
            "shop.example.com",
            "dns_record.shop.example.com",
            "shop.example.com.",
        ] {
            let (fqdn, t) = record_targets(&s, name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(fqdn, "shop.example.com");
            assert_eq!(t.len(), 2);
        }
        let (fqdn, t) = record_targets(&s, "shop").expect("found");
        assert_eq!(pick(&t, "green", &fqdn).expect("set id"), 1);
        assert_eq!(pick(&t, "b", &fqdn).expect("cluster"), 1);
        assert_eq!(
            t[1].health_check
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("health_check.hb")
        );
        assert!(pick(&t, "c", &fqdn).is_err());
        let e = record_targets(&s, "www").err().expect("not weighted");
        assert!(e.to_string().contains("uses simple routing"), "{e}");
        let e = record_targets(&s, "nope").err().expect("unknown");
        assert!(
            e.to_string().contains("weighted records: shop.example.com"),
            "{e}"
        );
    }
}
