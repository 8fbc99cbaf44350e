//! Desired stack + recorded state + observations -> plan. Pure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::{
    Action, AttrDiff, Change, OutputPlan, Plan, PlanMode, StateVersion, PLAN_FORMAT_VERSION,
};
use crate::address::Address;
use crate::graph::DependencyGraph;
use crate::observe::{Condition, Observation, Observations};
use crate::schema::forces_replacement;
use crate::stack::{DesiredResource, DesiredStack};
use crate::state::{IntentOperation, StateSnapshot};
use crate::value::{same_value, Expr, Known, Values};

/// What to plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub destroy: bool,
    /// `--target` patterns: only these and what they depend on (destroy: what depends on them).
    pub targets: Vec<String>,
    /// `--exclude` patterns: not these, nor what depends on them (destroy: what they depend on).
    pub excludes: Vec<String>,
    /// `--replace` patterns: force these to be replaced.
    pub replace: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("--{flag} {pattern} matches no resource in the stack or the state (hint: `fedstack state list` shows recorded addresses)")]
    NoMatch { flag: &'static str, pattern: String },
    #[error("dependency cycle among {0} (hint: check depends_on and references)")]
    Cycle(String),
}

/// The current view of one resource: what exists, as far as we know.
struct Current<'a> {
    attrs: &'a Values,
    outputs: &'a Values,
    condition: Condition,
    /// Found via a pending create intent rather than recorded.
    from_intent: bool,
}

/// Computes the plan.
pub fn make_plan(
    desired: &DesiredStack,
    state: &StateSnapshot,
    observed: &Observations,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    let desired_by_addr: HashMap<&Address, &DesiredResource> =
        desired.resources.iter().map(|r| (&r.address, r)).collect();

    // What exists now, per address: recorded resources and pending creates, corrected
    // by observations where we have them.
    let mut current: HashMap<&Address, Current<'_>> = HashMap::new();
    for (a, r) in &state.resources {
        match observed.get(a) {
            Some(Observation::Absent) => {}
            Some(Observation::Present(o)) => {
                current.insert(
                    a,
                    Current {
                        attrs: &o.attrs,
                        outputs: &o.outputs,
                        condition: o.condition.clone(),
                        from_intent: false,
                    },
                );
            }
            None => {
                current.insert(
                    a,
                    Current {
                        attrs: &r.attrs,
                        outputs: &r.outputs,
                        condition: Condition::Ready,
                        from_intent: false,
                    },
                );
            }
        }
    }
    for (a, intent) in &state.intents {
        if let Some(Observation::Present(o)) = observed.get(a) {
            let from_intent =
                intent.operation == IntentOperation::Create && !state.resources.contains_key(a);
            current.insert(
                a,
                Current {
                    attrs: &o.attrs,
                    outputs: &o.outputs,
                    condition: o.condition.clone(),
                    from_intent,
                },
            );
        }
    }

    for p in &opts.replace {
        if !desired.resources.iter().any(|r| r.address.matches(p)) {
            return Err(PlanError::NoMatch {
                flag: "replace",
                pattern: p.clone(),
            });
        }
    }

    let mut changes = if opts.destroy {
        plan_destroy(state, &current)
    } else {
        plan_apply(desired, &desired_by_addr, state, observed, &current, opts)?
    };

    select(&mut changes, desired, state, opts)?;

    let outputs = if opts.destroy {
        BTreeMap::new()
    } else {
        desired
            .outputs
            .iter()
            .map(|(k, o)| {
                (
                    k.clone(),
                    OutputPlan {
                        value: o.value.clone(),
                        sensitive: o.sensitive,
                    },
                )
            })
            .collect()
    };
    let summary = Plan::summarize(&changes);
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        stack: desired.name.clone(),
        mode: if opts.destroy {
            PlanMode::Destroy
        } else {
            PlanMode::Apply
        },
        state: StateVersion {
            lineage: state.lineage.clone(),
            serial: state.serial,
        },
        changes,
        outputs,
        summary,
    })
}

fn plan_apply(
    desired: &DesiredStack,
    desired_by_addr: &HashMap<&Address, &DesiredResource>,
    state: &StateSnapshot,
    observed: &Observations,
    current: &HashMap<&Address, Current<'_>>,
    opts: &PlanOptions,
) -> Result<Vec<Change>, PlanError> {
    let graph = DependencyGraph::new(
        desired
            .resources
            .iter()
            .map(|r| (&r.address, r.depends_on.as_slice())),
    );
    let order = graph
        .topological_order()
        .ok_or_else(|| PlanError::Cycle(desired.name.clone()))?;

    // Resolved desired attributes and actions, filled in dependency order so that
    // references see their target's plan.
    let mut resolved: HashMap<Address, BTreeMap<String, Known>> =
        HashMap::with_capacity(order.len());
    let mut actions: HashMap<Address, Action> = HashMap::with_capacity(order.len());
    let mut changes = Vec::with_capacity(order.len() + state.resources.len());
    let active = active_overrides(desired, state);

    for addr in &order {
        let Some(res) = desired_by_addr.get(addr) else {
            continue;
        };
        let mut lookup = |a: &Address, output: &str| -> Option<Value> {
            // A planned value, known or not, is what the reference gets after apply.
            match resolved.get(a).and_then(|m| m.get(output)) {
                Some(Known::Value(v)) => return Some(v.clone()),
                Some(Known::Unknown) => return None,
                None => {}
            }
            match actions.get(a) {
                Some(Action::Create) | Some(Action::Replace) => None,
                Some(Action::Update) | Some(Action::Adopt)
                    if crate::schema::outputs_changed_by_update(a.kind, output) =>
                {
                    None
                }
                _ => current.get(a).and_then(|c| {
                    c.outputs
                        .get(output)
                        .or_else(|| c.attrs.get(output))
                        .cloned()
                }),
            }
        };
        let mut after: BTreeMap<String, Known> = res
            .attrs
            .iter()
            .map(|(k, e)| (k.clone(), e.resolve(&mut lookup)))
            .collect();
        // Values set by `fedstack shift` stand in for the stack's while it still says
        // what it said then (see `state::Override`).
        let mut attrs = res.attrs.clone();
        if let Some(overrides) = state.overrides.get(addr) {
            for k in overrides.keys() {
                if let Some(v) = active.get(&(addr.clone(), k.clone())) {
                    after.insert(k.clone(), Known::Value(v.clone()));
                    attrs.insert(k.clone(), Expr::Literal(v.clone()));
                }
            }
        }

        let mut reasons = Vec::new();
        let recorded = state.resources.get(addr);
        let cur = current.get(addr);
        let (action, before, diffs) = match cur {
            None => {
                if recorded.is_some() && matches!(observed.get(addr), Some(Observation::Absent)) {
                    reasons.push("was deleted outside fedstack".to_string());
                }
                let diffs = after
                    .iter()
                    .map(|(k, v)| attr_diff(res, k, None, v))
                    .collect();
                (Action::Create, None, diffs)
            }
            Some(c) => {
                let diffs: Vec<AttrDiff> = after
                    .iter()
                    .filter_map(|(k, v)| {
                        let before = c.attrs.get(k);
                        let same = matches!(v, Known::Value(nv) if same_value(nv, before));
                        (!same).then(|| attr_diff(res, k, before.cloned(), v))
                    })
                    .collect();
                let mut replace = diffs.iter().any(|d| d.forces_replacement);
                // Unknown values come from a replaced dependency, which is reported below.
                let names: Vec<&str> = diffs
                    .iter()
                    .filter(|d| d.forces_replacement && !d.after_unknown)
                    .map(|d| d.name.as_str())
                    .collect();
                if !names.is_empty() {
                    reasons.push(format!("{} cannot change in place", names.join(", ")));
                }
                let recorded_cloud = recorded
                    .map(|r| r.cloud.clone())
                    .or_else(|| state.intents.get(addr).map(|i| i.cloud.clone()));
                if let Some(rc) = recorded_cloud {
                    if rc != res.cloud {
                        replace = true;
                        reasons.push(format!(
                            "moves from cloud {} to {}",
                            rc.as_deref().unwrap_or("(built-in)"),
                            res.cloud.as_deref().unwrap_or("(built-in)")
                        ));
                    }
                }
                if let Some(dep) = res
                    .depends_on
                    .iter()
                    .find(|d| actions.get(*d) == Some(&Action::Replace) && references(res, d))
                {
                    replace = true;
                    reasons.push(format!("refers to {dep}, which is replaced"));
                }
                if replace && reasons.is_empty() {
                    reasons.push(
                        "a value it cannot change in place is known only after apply".to_string(),
                    );
                }
                if opts.replace.iter().any(|p| addr.matches(p)) {
                    replace = true;
                    reasons.push("replacement requested with --replace".to_string());
                }
                let action = match &c.condition {
                    Condition::Failed(why) => {
                        reasons.push(format!("is in a failed state ({why})"));
                        Action::Replace
                    }
                    _ if replace => Action::Replace,
                    Condition::Pending(status) => {
                        reasons.push(if c.from_intent {
                            format!("found in the cloud ({status}) from an interrupted run")
                        } else {
                            format!("still {status} from an interrupted run")
                        });
                        Action::Adopt
                    }
                    Condition::Deleting => {
                        reasons.push("is being deleted; will be created again".to_string());
                        Action::Replace
                    }
                    Condition::Ready if c.from_intent => {
                        reasons.push("found in the cloud from an interrupted run".to_string());
                        Action::Adopt
                    }
                    Condition::Ready if diffs.is_empty() => Action::NoOp,
                    Condition::Ready => {
                        if recorded.is_some_and(|r| r.attrs != *c.attrs) {
                            reasons.push("changed outside fedstack".to_string());
                        }
                        Action::Update
                    }
                };
                (action, Some(c.attrs.clone()), diffs)
            }
        };
        actions.insert(addr.clone(), action);
        resolved.insert(addr.clone(), after);
        changes.push(Change {
            address: addr.clone(),
            action,
            cloud: res.cloud.clone(),
            cloud_name: addr.cloud_name().to_string(),
            reasons,
            attrs,
            before,
            diffs,
            depends_on: res.depends_on.clone(),
        });
    }

    // Resources that left the stack, dependents first.
    let mut leaving = deletions(state, current, |a| !desired_by_addr.contains_key(a));
    for c in &mut leaving {
        if c.action == Action::Delete {
            c.reasons.insert(0, "no longer in the stack".to_string());
        }
    }
    changes.extend(leaving);
    Ok(changes)
}

/// Whether each override still stands: its resource is in the stack and the stack
/// still says its `base`, and so do the stack's values of the rest of its group.
/// `None` when that can't be known before apply (a reference to what does not exist).
fn override_status(
    desired: &DesiredStack,
    state: &StateSnapshot,
) -> Vec<(Address, String, Option<bool>)> {
    let by_addr: HashMap<&Address, &DesiredResource> =
        desired.resources.iter().map(|r| (&r.address, r)).collect();
    let mut status: Vec<(Address, String, Option<bool>, Option<&str>)> = Vec::new();
    for (a, overrides) in &state.overrides {
        for (k, o) in overrides {
            let desired_value = by_addr.get(a).and_then(|r| r.attrs.get(k)).map(|e| {
                e.resolve(&mut |d, output| {
                    state
                        .resources
                        .get(d)
                        .and_then(|r| r.output(output).cloned())
                })
            });
            let stands = match desired_value {
                None => Some(false),
                Some(Known::Value(v)) => Some(v == o.base),
                Some(Known::Unknown) => None,
            };
            status.push((a.clone(), k.clone(), stands, o.group.as_deref()));
        }
    }
    let fallen: BTreeSet<&str> = status
        .iter()
        .filter(|s| s.2 == Some(false))
        .filter_map(|s| s.3)
        .collect();
    status
        .iter()
        .map(|(a, k, stands, group)| {
            let stands = match group {
                Some(g) if fallen.contains(g) => Some(false),
                _ => *stands,
            };
            (a.clone(), k.clone(), stands)
        })
        .collect()
}

/// The overrides in force, by (address, attribute): the values the planner plans
/// instead of the stack's.
pub fn active_overrides(
    desired: &DesiredStack,
    state: &StateSnapshot,
) -> HashMap<(Address, String), Value> {
    override_status(desired, state)
        .into_iter()
        .filter(|s| s.2 == Some(true))
        .filter_map(|(a, k, _)| {
            let v = state.overrides.get(&a)?.get(&k)?.value.clone();
            Some(((a, k), v))
        })
        .collect()
}

/// Overrides in the state that no longer apply: their resource left the stack, or the
/// stack's value is no longer the one they (or one of their group) stood in for.
/// `apply` drops them, so that a stack going back to that value later is not
/// overridden again.
pub fn stale_overrides(desired: &DesiredStack, state: &StateSnapshot) -> Vec<(Address, String)> {
    override_status(desired, state)
        .into_iter()
        .filter(|s| s.2 == Some(false))
        .map(|(a, k, _)| (a, k))
        .collect()
}

fn plan_destroy(state: &StateSnapshot, current: &HashMap<&Address, Current<'_>>) -> Vec<Change> {
    deletions(state, current, |_| true)
}

/// Deletes (or forgets) the recorded resources and pending creates that `leaving`
/// selects, in reverse dependency order.
fn deletions(
    state: &StateSnapshot,
    current: &HashMap<&Address, Current<'_>>,
    leaving: impl Fn(&Address) -> bool,
) -> Vec<Change> {
    let mut deps: BTreeMap<&Address, &[Address]> = BTreeMap::new();
    for (a, r) in &state.resources {
        if leaving(a) {
            deps.insert(a, &r.depends_on);
        }
    }
    for (a, i) in &state.intents {
        if leaving(a) && !deps.contains_key(a) {
            deps.insert(a, &i.depends_on);
        }
    }
    let graph = DependencyGraph::new(deps.iter().map(|(a, d)| (*a, *d)));
    // Recorded dependencies cannot form a cycle (they were acyclic when applied);
    // fall back to address order rather than fail if a hand-edited state has one.
    let order = graph
        .topological_order()
        .unwrap_or_else(|| deps.keys().map(|a| (*a).clone()).collect());
    let mut out = Vec::with_capacity(order.len());
    for a in order.into_iter().rev() {
        let recorded = state.resources.get(&a);
        let intent = state.intents.get(&a);
        let exists = current.get(&a);
        let action = if exists.is_some() {
            Action::Delete
        } else {
            Action::Forget
        };
        let mut reasons = Vec::new();
        if action == Action::Forget {
            reasons.push(if recorded.is_some() {
                "already gone from the cloud".to_string()
            } else {
                "an interrupted create that never happened".to_string()
            });
        } else if recorded.is_none() {
            reasons.push("found in the cloud from an interrupted run".to_string());
        }
        let cloud = recorded
            .map(|r| r.cloud.clone())
            .or_else(|| intent.map(|i| i.cloud.clone()))
            .flatten();
        let cloud_name = recorded
            .map(|r| r.cloud_name.clone())
            .or_else(|| intent.map(|i| i.cloud_name.clone()))
            .unwrap_or_else(|| a.cloud_name().to_string());
        let depends_on = deps.get(&a).map(|d| d.to_vec()).unwrap_or_default();
        out.push(Change {
            address: a.clone(),
            action,
            cloud,
            cloud_name,
            reasons,
            attrs: Default::default(),
            before: exists.map(|c| c.attrs.clone()),
            diffs: Vec::new(),
            depends_on,
        });
    }
    out
}

fn references(res: &DesiredResource, dep: &Address) -> bool {
    res.attrs.values().any(|e| {
        let mut refs = Vec::new();
        e.references(&mut refs);
        refs.contains(dep)
    })
}

fn attr_diff(res: &DesiredResource, name: &str, before: Option<Value>, after: &Known) -> AttrDiff {
    let (after, after_unknown) = match after {
        Known::Value(v) => (Some(v.clone()), false),
        Known::Unknown => (None, true),
    };
    AttrDiff {
        name: name.to_string(),
        forces_replacement: before.is_some()
            && (forces_replacement(res.address.kind, name) || res.replace_on.contains(&name)),
        before,
        after,
        after_unknown,
    }
}

/// Applies `--target` and `--exclude`: drops the changes that are not selected.
fn select(
    changes: &mut Vec<Change>,
    desired: &DesiredStack,
    state: &StateSnapshot,
    opts: &PlanOptions,
) -> Result<(), PlanError> {
    if opts.targets.is_empty() && opts.excludes.is_empty() {
        return Ok(());
    }
    // One graph over everything the plan touches: desired dependencies, and recorded
    // ones for what left the stack.
    let mut deps: BTreeMap<&Address, &[Address]> = BTreeMap::new();
    for (a, r) in &state.resources {
        deps.insert(a, &r.depends_on);
    }
    for (a, i) in &state.intents {
        deps.entry(a).or_insert(&i.depends_on);
    }
    if !opts.destroy {
        for r in &desired.resources {
            deps.insert(&r.address, &r.depends_on);
        }
    }
    let graph = DependencyGraph::new(deps.iter().map(|(a, d)| (*a, *d)));
    // What is deleted (everything when destroying, else what left the stack) is selected
    // the way deletes are ordered: a target brings what depends on it, an exclusion
    // keeps what it depends on.
    let staying: BTreeSet<&Address> = if opts.destroy {
        BTreeSet::new()
    } else {
        desired.resources.iter().map(|r| &r.address).collect()
    };
    let leaving = DependencyGraph::new(
        deps.iter()
            .filter(|(a, _)| !staying.contains(*a))
            .map(|(a, d)| (*a, *d)),
    );
    // A target's selection (`keep`), or an exclusion's.
    let closure = |seeds: BTreeSet<Address>, keep: bool| {
        let (stay, leave): (BTreeSet<Address>, BTreeSet<Address>) =
            seeds.into_iter().partition(|a| staying.contains(a));
        let mut set = if keep {
            graph.with_dependencies(&stay)
        } else {
            graph.with_dependents(&stay)
        };
        set.extend(if keep {
            leaving.with_dependents(&leave)
        } else {
            leaving.with_dependencies(&leave)
        });
        set
    };
    let matching =
        |flag: &'static str, patterns: &[String]| -> Result<BTreeSet<Address>, PlanError> {
            let mut set = BTreeSet::new();
            // A wildcard that matches nothing is fine next to patterns that match
            // (`--target 'cluster.*' --target 'node_pool.*'` on a stack without pools).
            let mut unmatched_wildcard = None;
            for p in patterns {
                let before = set.len();
                set.extend(graph.addresses().filter(|a| a.matches(p)).cloned());
                if set.len() == before && !graph.addresses().any(|a| a.matches(p)) {
                    if !p.contains('*') {
                        return Err(PlanError::NoMatch {
                            flag,
                            pattern: p.clone(),
                        });
                    }
                    unmatched_wildcard.get_or_insert(p);
                }
            }
            match unmatched_wildcard {
                Some(p) if set.is_empty() => Err(PlanError::NoMatch {
                    flag,
                    pattern: p.clone(),
                }),
                _ => Ok(set),
            }
        };
    let mut keep: Option<BTreeSet<Address>> = None;
    if !opts.targets.is_empty() {
        keep = Some(closure(matching("target", &opts.targets)?, true));
    }
    let drop = if opts.excludes.is_empty() {
        BTreeSet::new()
    } else {
        closure(matching("exclude", &opts.excludes)?, false)
    };
    changes.retain(|c| {
        keep.as_ref().is_none_or(|k| k.contains(&c.address)) && !drop.contains(&c.address)
    });
    Ok(())
}
