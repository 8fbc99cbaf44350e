//! `apply` and `destroy`: lock, refresh, plan, confirm, execute, compact.

use std::io::{BufRead, IsTerminal};
use std::sync::{Arc, Mutex};

use fedstack_core::plan::{Plan, PlanMode};
use fedstack_core::stack::DesiredStack;
use fedstack_core::state::StateChange;
use fedstack_core::value::Known;
use fedstack_engine::events::Event;
use fedstack_engine::{apply, ApplyReport, EventSink, StateSink, StopSignal};
use fedstack_state::StateWriter;
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::args::{ApplyArgs, DestroyArgs, RunArgs};
use crate::context::Context;
use crate::error::CliError;
use crate::render::plan::{render_plan, value};
use crate::render::progress::{ClosedOutput, HumanProgress, JsonProgress};
use crate::terminal::{out, outln};

pub fn run_apply(ctx: &Context, a: ApplyArgs) -> Result<u8, CliError> {
    let saved = match &a.plan_file {
        Some(p) => Some(super::plan::load(p)?),
        None => None,
    };
    execute(
        ctx,
        &a.run,
        |rt, stack, writer, providers, settings| match saved {
            Some(plan) => {
                check_saved(&plan, stack, writer)?;
                Ok((plan, true))
            }
            None => {
                let opts = super::plan::options(&a.opts.selection, &a.opts.replace, false);
                let plan = super::plan::compute(
                    rt,
                    stack,
                    writer.snapshot(),
                    providers,
                    settings,
                    &opts,
                    a.opts.refresh,
                )?;
                Ok((plan, false))
            }
        },
    )
}

pub fn run_destroy(ctx: &Context, a: DestroyArgs) -> Result<u8, CliError> {
    execute(ctx, &a.run, |rt, stack, writer, providers, settings| {
        let opts = super::plan::options(&a.selection, &[], true);
        let plan = super::plan::compute(
            rt,
            stack,
            writer.snapshot(),
            providers,
            settings,
            &opts,
            a.refresh,
        )?;
        Ok((plan, false))
    })
}

/// A saved plan applies only to the state it was made against.
fn check_saved(plan: &Plan, stack: &DesiredStack, writer: &StateWriter) -> Result<(), CliError> {
    let state = writer.snapshot();
    if plan.stack != stack.name {
        return Err(CliError::new(format!(
            "the plan is for stack `{}`, not `{}`",
            plan.stack, stack.name
        ))
        .hint("pass the stack it was made for with -f"));
    }
    if plan.state.serial != state.serial {
        return Err(CliError::new(format!(
            "the plan was made against state serial {}, but the state is now at serial {}: it changed since",
            plan.state.serial, state.serial
        ))
        .hint("make a new plan with `fedstack plan --out FILE` and review it"));
    }
    if plan.state.lineage != state.lineage && !(plan.state.serial == 0 && state.serial == 0) {
        return Err(
            CliError::new("the plan was made against a different state (lineage differs)")
                .hint("make a new plan with `fedstack plan --out FILE`"),
        );
    }
    Ok(())
}

/// The common path of apply and destroy.
fn execute(
    ctx: &Context,
    run: &RunArgs,
    make_plan: impl FnOnce(
        &tokio::runtime::Runtime,
        &DesiredStack,
        &StateWriter,
        &fedstack_engine::Providers,
        &fedstack_engine::EngineSettings,
    ) -> Result<(Plan, bool), CliError>,
) -> Result<u8, CliError> {
    execute_stack(ctx, ctx.stack()?, run, make_plan)
}

/// An apply of `stack` (read and changed by the caller, e.g. `serve --webhook`) to
/// what `selection` selects, confirmed by `run`.
pub(crate) fn apply_stack(
    ctx: &Context,
    stack: DesiredStack,
    selection: &crate::args::Selection,
    run: &RunArgs,
) -> Result<u8, CliError> {
    execute_stack(ctx, stack, run, |rt, stack, writer, providers, settings| {
        let opts = super::plan::options(selection, &[], false);
        let plan = super::plan::compute(
            rt,
            stack,
            writer.snapshot(),
            providers,
            settings,
            &opts,
            true,
        )?;
        Ok((plan, false))
    })
}

fn execute_stack(
    ctx: &Context,
    stack: DesiredStack,
    run: &RunArgs,
    make_plan: impl FnOnce(
        &tokio::runtime::Runtime,
        &DesiredStack,
        &StateWriter,
        &fedstack_engine::Providers,
        &fedstack_engine::EngineSettings,
    ) -> Result<(Plan, bool), CliError>,
) -> Result<u8, CliError> {
    let rt = super::runtime()?;
    let backend = ctx.backend(&stack)?;
    let lock = ctx.lock(backend.as_ref(), "apply", run.lock.lock_timeout)?;
    for note in &lock.notes {
        ctx.warn(note);
    }
    let (mut writer, warnings) = backend.open_writer(&lock)?;
    for w in &warnings {
        ctx.warn(w);
    }
    let providers = ctx.providers(&stack, writer.snapshot(), false)?;
    let settings = ctx.engine_settings(&stack, run.parallelism as usize);
    let (plan, from_file) = make_plan(&rt, &stack, &writer, &providers, &settings)?;

    if !ctx.json {
        out!("{}", render_plan(&plan, ctx.style))?;
    }
    if !plan.has_changes() {
        if ctx.json {
            outln!(
                "{}",
                fedstack_engine::events::to_json_line(&Event::ApplyDone {
                    counts: Default::default(),
                    failed: 0,
                    skipped: 0,
                    not_started: 0,
                    abandoned: 0,
                    elapsed_ms: 0,
                    interrupted: false,
                })
            )?;
        } else if plan.mode == PlanMode::Apply {
            print_outputs(ctx, &plan, writer.snapshot())?;
        }
        if plan.mode == PlanMode::Apply {
            drop_stale_overrides(&stack, &mut writer)?;
        }
        finish(&rt, &providers)?;
        return Ok(0);
    }
    if !run.auto_approve && !from_file {
        confirm(plan.mode)?;
    }

    let stop = StopSignal::default();
    let on_closed = ClosedOutput::new(stop.clone());
    let events: Arc<dyn EventSink> = if ctx.json {
        Arc::new(JsonProgress {
            on_closed: on_closed.clone(),
        })
    } else {
        Arc::new(HumanProgress {
            style: ctx.style,
            on_closed: on_closed.clone(),
        })
    };
    if !ctx.json {
        outln!()?;
    }
    let writer = Arc::new(Mutex::new(writer));
    let sink = Box::new(SharedWriter(writer.clone()));
    let report = rt.block_on(async {
        let interrupts = signal(SignalKind::interrupt())
            .map_err(|e| CliError::new(format!("cannot listen for Ctrl-C: {e}")))?;
        let watcher = tokio::spawn(watch_interrupts(interrupts, stop.clone(), events.clone()));
        let snapshot = writer
            .lock()
            .map(|w| w.snapshot().clone())
            .unwrap_or_else(|p| p.into_inner().snapshot().clone());
        let (report, _sink) = apply(
            &plan,
            &snapshot,
            sink,
            &providers,
            &settings,
            events.clone(),
            &stop,
        )
        .await;
        watcher.abort();
        Ok::<_, CliError>(report)
    })?;
    let finished = finish(&rt, &providers);
    let mut writer = writer.lock().unwrap_or_else(|p| p.into_inner());
    if report.ok() && plan.mode == PlanMode::Apply {
        drop_stale_overrides(&stack, &mut writer)?;
    }
    writer.compact()?;
    finished?;
    if on_closed.closed() {
        // The reader went away: everything is recorded; end as a closed pipe.
        drop(writer);
        lock.release()?;
        return Err(CliError::closed_pipe());
    }
    print_report(ctx, &plan, &report)?;
    if report.ok() && plan.mode == PlanMode::Apply && !ctx.json {
        print_outputs(ctx, &plan, writer.snapshot())?;
    }
    drop(writer);
    lock.release()?;
    Ok(if report.interrupted && report.failures.is_empty() {
        130
    } else if report.ok() {
        0
    } else {
        1
    })
}

/// Forgets the overrides (`fedstack shift`) that the stack has moved past, so that
/// the stack going back to those values later is not overridden again.
fn drop_stale_overrides(stack: &DesiredStack, writer: &mut StateWriter) -> Result<(), CliError> {
    let stale = fedstack_core::plan::stale_overrides(stack, writer.snapshot());
    if !stale.is_empty() {
        writer.append(
            stale
                .into_iter()
                .map(|(address, attr)| StateChange::Override {
                    address,
                    attr,
                    value: None,
                })
                .collect(),
        )?;
    }
    Ok(())
}

/// Lets every provider persist what it keeps (the sim's world).
fn finish(
    rt: &tokio::runtime::Runtime,
    providers: &fedstack_engine::Providers,
) -> Result<(), CliError> {
    rt.block_on(async {
        for p in providers.values() {
            p.finish().await?;
        }
        Ok::<(), fedstack_provider::ProviderError>(())
    })?;
    Ok(())
}

/// Ctrl-C once: graceful; twice: immediate.
/// `interrupts` is one listener for the whole run, installed before the first call
/// starts: a Ctrl-C that arrives while the previous one is handled is kept, not lost
/// between two `ctrl_c()` futures.
async fn watch_interrupts(mut interrupts: Signal, stop: StopSignal, events: Arc<dyn EventSink>) {
    loop {
        if interrupts.recv().await.is_none() {
            return;
        }
        if stop.escalate() == fedstack_engine::Stop::Graceful {
            events.emit(Event::Interrupt { level: "graceful" });
        }
    }
}

/// Asks for "yes" on a terminal; refuses without one.
fn confirm(mode: PlanMode) -> Result<(), CliError> {
    let verb = if mode == PlanMode::Destroy {
        "destroy these resources"
    } else {
        "perform these actions"
    };
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(format!(
            "refusing to {verb} without confirmation: no terminal to ask on"
        ))
        .hint("review the plan above, then re-run with --auto-approve"));
    }
    out!("\nDo you want to {verb}? Only 'yes' will be accepted: ")?;
    crate::terminal::flush()?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::new(format!("cannot read the answer: {e}")))?;
    if answer.trim() != "yes" {
        return Err(CliError::new(format!(
            "cancelled: nothing was changed ({} not approved)",
            if mode == PlanMode::Destroy {
                "destroy"
            } else {
                "apply"
            }
        )));
    }
    Ok(())
}

fn print_report(ctx: &Context, plan: &Plan, r: &ApplyReport) -> Result<(), CliError> {
    if ctx.json {
        return Ok(());
    }
    let s = &ctx.style;
    let c = &r.counts;
    let mut counts = if plan.mode == PlanMode::Destroy {
        format!("{} destroyed", c.destroyed)
    } else {
        format!(
            "{} added, {} changed, {} destroyed",
            c.added, c.changed, c.destroyed
        )
    };
    if c.adopted > 0 {
        counts.push_str(&format!(", {} adopted", c.adopted));
    }
    if c.forgotten > 0 {
        counts.push_str(&format!(", {} forgotten", c.forgotten));
    }
    outln!()?;
    if !r.failures.is_empty() {
        outln!(
            "{}",
            s.red(&s.bold(&format!("{} failed:", plural(r.failures.len(), "resource"))))
        )?;
        for f in &r.failures {
            outln!("  {}: {}", f.address, f.error)?;
        }
    }
    if !r.skipped.is_empty() {
        outln!(
            "{}",
            s.yellow(&format!(
                "{} not changed because something they depend on failed.",
                plural(r.skipped.len(), "resource")
            ))
        )?;
    }
    if r.interrupted {
        outln!(
            "{}",
            s.yellow(&format!(
                "Interrupted: {} not started, {} stopped in flight. Every finished result is recorded; run the same command again to continue.",
                plural(r.not_started.len(), "change"),
                r.abandoned.len()
            ))
        )?;
    }
    let verb = if plan.mode == PlanMode::Destroy {
        "Destroy"
    } else {
        "Apply"
    };
    let line = if r.ok() {
        s.green(&s.bold(&format!("{verb} complete! Resources: {counts}.")))
    } else {
        s.red(&s.bold(&format!(
            "{verb} incomplete. Resources: {counts}; {} failed, {} skipped.",
            r.failures.len(),
            r.skipped.len()
        )))
    };
    outln!(
        "{line} {}",
        s.dim(&format!(
            "({})",
            crate::render::elapsed(r.elapsed.as_millis() as u64)
        ))
    )?;
    Ok(())
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `Outputs:` after a successful apply.
fn print_outputs(
    ctx: &Context,
    plan: &Plan,
    state: &fedstack_core::state::StateSnapshot,
) -> Result<(), CliError> {
    if plan.outputs.is_empty() {
        return Ok(());
    }
    outln!("\nOutputs:\n")?;
    for (name, o) in &plan.outputs {
        let shown = if o.sensitive {
            "<sensitive>".to_string()
        } else {
            match super::output::resolve(&o.value, state) {
                Known::Value(v) => value(&v),
                Known::Unknown => ctx.style.dim("(not known yet)"),
            }
        };
        outln!("{name} = {shown}")?;
    }
    Ok(())
}

/// The state writer, shared between the engine's writer thread and the command.
struct SharedWriter(Arc<Mutex<StateWriter>>);

impl StateSink for SharedWriter {
    fn append(&mut self, changes: Vec<StateChange>) -> Result<u64, String> {
        let mut w = self
            .0
            .lock()
            .map_err(|_| "the state writer lock is poisoned".to_string())?;
        w.append(changes).map_err(|e| e.to_string())
    }
}
