//! The human view of a plan, Terraform-style.

use std::fmt::Write;

use fedstack_core::address::ResourceKind;
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
        if c.address.kind == ResourceKind::Workload && d.name == "objects" && !d.after_unknown {
            for line in object_lines(d.before.as_ref(), d.after.as_ref(), style) {
                let _ = writeln!(out, "      {line}");
            }
            continue;
        }
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

/// A workload's objects, one line each that changes (`~ Deployment guestbook/frontend:
/// spec.replicas 3 -> 5`, `+ Service guestbook/frontend`), matched by kind, namespace
/// and name.
fn object_lines(before: Option<&Value>, after: Option<&Value>, style: Style) -> Vec<String> {
    let list = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
    let (before, after) = (list(before), list(after));
    let key = |o: &Value| {
        let group = o["apiVersion"]
            .as_str()
            .and_then(|a| a.rsplit_once('/'))
            .map_or("", |(g, _)| g)
            .to_string();
        let kind = o["kind"].as_str().unwrap_or("?").to_string();
        let ns = o["metadata"]["namespace"].as_str().map(str::to_string);
        let name = o["metadata"]["name"].as_str().unwrap_or("?").to_string();
        (group, kind, ns, name)
    };
    let label = |o: &Value| {
        let (_, kind, ns, name) = key(o);
        match ns {
            Some(ns) => format!("{kind} {ns}/{name}"),
            None => format!("{kind} {name}"),
        }
    };
    let mut out = Vec::new();
    for a in &after {
        match before.iter().find(|b| key(b) == key(a)) {
            None => out.push(format!("{} {}", style.green("+"), label(a))),
            Some(b) => {
                let changes = fedstack_kube::workloads::changes(b, a);
                if !changes.is_empty() {
                    out.push(format!(
                        "{} {}: {}",
                        style.yellow("~"),
                        label(a),
                        changes.join("; ")
                    ));
                }
            }
        }
    }
    for b in &before {
        if !after.iter().any(|a| key(a) == key(b)) {
            out.push(format!("{} {}", style.red("-"), label(b)));
        }
    }
    out
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
