use std::io::Write;

use fedstack_core::observe::Observations;
use fedstack_core::plan::{make_plan, Plan, PlanOptions};
use fedstack_core::stack::DesiredStack;
use fedstack_core::state::StateSnapshot;
use fedstack_engine::events::NoEvents;
use fedstack_engine::{refresh, EngineSettings, Providers};

use crate::args::{PlanArgs, Selection};
use crate::context::Context;
use crate::error::CliError;
use crate::render::plan::render_plan;
use crate::terminal::{out, outln};

/// What to plan, from any command's flags.
pub(crate) fn options(selection: &Selection, replace: &[String], destroy: bool) -> PlanOptions {
    PlanOptions {
        destroy,
        targets: selection.targets.clone(),
        excludes: selection.excludes.clone(),
        replace: replace.to_vec(),
    }
}

/// Refreshes (unless told not to) and plans.
pub(crate) fn compute(
    rt: &tokio::runtime::Runtime,
    stack: &DesiredStack,
    state: &StateSnapshot,
    providers: &Providers,
    settings: &EngineSettings,
    options: &PlanOptions,
    refresh_first: bool,
) -> Result<Plan, CliError> {
    let observed = if refresh_first {
        rt.block_on(refresh(state, providers, settings, &NoEvents))?
    } else {
        Observations::new()
    };
    Ok(make_plan(stack, state, &observed, options)?)
}

pub fn run(ctx: &Context, a: PlanArgs) -> Result<u8, CliError> {
    let rt = super::runtime()?;
    let stack = ctx.stack()?;
    let state = ctx.read_state(&stack)?;
    let providers = ctx.providers(&stack, &state, true)?;
    let settings = ctx.engine_settings(&stack, 10);
    let plan = compute(
        &rt,
        &stack,
        &state,
        &providers,
        &settings,
        &options(&a.opts.selection, &a.opts.replace, a.destroy),
        a.opts.refresh,
    )?;
    if let Some(out) = &a.out {
        save(out, &plan)?;
    }
    if ctx.json {
        outln!(
            "{}",
            serde_json::to_string(&plan)
                .map_err(|e| CliError::new(format!("cannot encode the plan: {e}")))?
        )?;
    } else {
        out!("{}", render_plan(&plan, ctx.style))?;
        if let Some(out) = &a.out {
            outln!(
                "\nSaved the plan to {}. To apply exactly these changes: fedstack apply {}",
                out.display(),
                out.display()
            )?;
        }
        if !a.opts.refresh {
            outln!(
                "{}",
                ctx.style
                    .dim("(--refresh=false: compared with the recorded state only)")
            )?;
        }
    }
    let code = match (a.detailed_exitcode, plan.has_changes()) {
        (true, true) => 2,
        _ => 0,
    };
    super::leak_at_exit((stack, state, plan));
    Ok(code)
}

/// Writes a plan file atomically, readable by the owner only (it describes infrastructure).
pub(crate) fn save(path: &std::path::Path, plan: &Plan) -> Result<(), CliError> {
    let text = serde_json::to_vec_pretty(plan)
        .map_err(|e| CliError::new(format!("cannot encode the plan: {e}")))?;
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut f = open_private(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| CliError::new(format!("cannot write the plan to {}: {e}", path.display())))
}

fn open_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Reads a saved plan, checking its format version.
pub(crate) fn load(path: &std::path::Path) -> Result<Plan, CliError> {
    let text = std::fs::read(path).map_err(|e| {
        CliError::new(format!(
            "cannot read plan file {}: {}",
            path.display(),
            crate::context::io_reason(&e)
        ))
    })?;
    let plan: Plan = serde_json::from_slice(&text).map_err(|e| {
        CliError::new(format!(
            "{}:{}:{}: not a fedstack plan: {}",
            path.display(),
            e.line(),
            e.column(),
            first_clause(&e.to_string())
        ))
        .hint("make one with `fedstack plan --out FILE`")
    })?;
    if plan.format_version != fedstack_core::plan::PLAN_FORMAT_VERSION {
        return Err(CliError::new(format!(
            "{}: plan format version {} is not supported (this fedstack reads version {})",
            path.display(),
            plan.format_version,
            fedstack_core::plan::PLAN_FORMAT_VERSION
        )));
    }
    Ok(plan)
}

fn first_clause(s: &str) -> String {
    s.split(" at line ").next().unwrap_or(s).to_string()
}
