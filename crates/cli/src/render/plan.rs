//! The human view of a plan, Terraform-style.

use std::fmt::Write;

use fedstack_core::plan::{Action, AttrDiff, Change, Plan, PlanMode, Summary};
use serde_json::Value;

use super::style::Style;

/// Renders the whole plan: one block per change, then the summary line.
pub fn render_plan(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    let changes: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.action.is_change())
        .collect();
    if changes.is_empty() {
        out.push_str(&style.green(&style.bold("No changes.")));
        out.push_str(match plan.mode {
            PlanMode::Apply => " The clouds match the stack.\n",
            PlanMode::Destroy => " Nothing to destroy.\n",
        });
        return out;
    }
    out.push_str("fedstack will perform these actions:\n");
    for c in changes {
        out.push('\n');
        render_change(&mut out, c, style);
    }
    out.push('\n');
    out.push_str(&style.bold(&summary_line(&plan.summary)));
    out.push('\n');
    out
}

/// "Plan: 3 to add, 1 to change, 0 to destroy." (a replacement counts as add and destroy).
pub fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "Plan: {} to add, {} to change, {} to destroy",
        s.add + s.replace,
        s.change,
        s.destroy + s.replace
    );
    if s.adopt > 0 {
        let _ = write!(line, ", {} to adopt", s.adopt);
    }
    if s.forget > 0 {
        let _ = write!(line, ", {} to forget", s.forget);
    }
    line.push('.');
    line
}

fn headline(c: &Change) -> String {
    let what = match c.action {
        Action::NoOp => "is unchanged",
        Action::Create => "will be created",
        Action::Update => "will be updated in place",
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
        Action::Adopt => "will be adopted",
        Action::Forget => "will be forgotten",
    };
    let mut h = format!("# {} {what}", c.address);
    if !c.reasons.is_empty() {
        let _ = write!(h, " ({})", c.reasons.join("; "));
    }
    h
}

fn paint_symbol(action: Action, style: Style) -> String {
    let sym = action.symbol();
    match action {
        Action::Create => style.green(sym),
        Action::Update | Action::Adopt => style.yellow(sym),
        Action::Delete | Action::Forget => style.red(sym),
        Action::Replace => format!("{}{}", style.red("-/"), style.green("+")),
        Action::NoOp => sym.to_string(),
    }
}

fn render_change(out: &mut String, c: &Change, style: Style) {
    let _ = writeln!(out, "  {}", style.bold(&headline(c)));
    let _ = writeln!(out, "{:>3} {}", paint_symbol(c.action, style), c.address);
    let diffs: Vec<&AttrDiff> = match c.action {
        Action::Create => c
            .diffs
            .iter()
            .filter(|d| d.after_unknown || d.after.as_ref().is_some_and(|v| !v.is_null()))
            .collect(),
        Action::Update | Action::Replace | Action::Adopt => c.diffs.iter().collect(),
        _ => Vec::new(),
    };
    let width = diffs.iter().map(|d| d.name.len()).max().unwrap_or(0);
    for d in diffs {
        let after = if d.after_unknown {
            style.dim("(known after apply)")
        } else {
            d.after.as_ref().map(value).unwrap_or_else(|| "null".into())
        };
        let line = match (&d.before, c.action) {
            (_, Action::Create) | (None, _) => {
                format!("{} {:width$} = {after}", style.green("+"), d.name)
            }
            (Some(b), _) if d.after.as_ref().is_none_or(Value::is_null) && !d.after_unknown => {
                format!(
                    "{} {:width$} = {} -> null",
                    style.red("-"),
                    d.name,
                    value(b)
                )
            }
            (Some(b), _) => format!(
                "{} {:width$} = {} -> {after}",
                style.yellow("~"),
                d.name,
                value(b)
            ),
        };
        let _ = write!(out, "      {line}");
        if d.forces_replacement && c.action == Action::Replace {
            let _ = write!(out, " {}", style.red("# forces replacement"));
        }
        out.push('\n');
    }
}

/// A value as users read it: strings quoted, lists and maps inline.
pub fn value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(value).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => {
            if m.is_empty() {
                "{}".into()
            } else {
                format!(
                    "{{ {} }}",
                    m.iter()
                        .map(|(k, v)| format!("{k} = {}", value(v)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        }
        other => other.to_string(),
    }
}
