//! Turns a plan into the graph of steps the engine runs.
//!
//! Rules (a -> b means "a waits for b"):
//! - a create/update/adopt waits for the final step of each desired dependency;
//! - the create half of a replace waits for its delete half;
//! - a delete waits for the deletes of what recorded a dependency on it, and for the
//!   updates of those that stay but no longer depend on it (move references away
//!   before the target disappears) unless such an update itself waits for the delete.

use std::collections::{BinaryHeap, HashMap};

use fedstack_core::address::Address;
use fedstack_core::plan::{Action, Plan};
use fedstack_core::state::StateSnapshot;

use crate::events::StepAction;

pub(crate) struct Step {
    pub change: usize,
    /// `None` for a no-op (ordering only).
    pub action: Option<StepAction>,
    pub waits: usize,
    pub dependents: Vec<usize>,
    /// Longest chain of steps after this one: run the critical path first.
    pub height: usize,
}

pub(crate) struct StepGraph {
    pub steps: Vec<Step>,
}

impl StepGraph {
    pub(crate) fn build(plan: &Plan, state: &StateSnapshot) -> StepGraph {
        let mut steps: Vec<Step> = Vec::with_capacity(plan.changes.len() + 8);
        let mut final_step: HashMap<&Address, usize> = HashMap::with_capacity(plan.changes.len());
        let mut delete_step: HashMap<&Address, usize> = HashMap::new();
        let push = |steps: &mut Vec<Step>, change: usize, action: Option<StepAction>| {
            steps.push(Step {
                change,
                action,
                waits: 0,
                dependents: Vec::new(),
                height: 0,
            });
            steps.len() - 1
        };
        for (i, c) in plan.changes.iter().enumerate() {
            match c.action {
                Action::NoOp => {
                    final_step.insert(&c.address, push(&mut steps, i, None));
                }
                Action::Create => {
                    final_step.insert(&c.address, push(&mut steps, i, Some(StepAction::Create)));
                }
                Action::Update => {
                    final_step.insert(&c.address, push(&mut steps, i, Some(StepAction::Update)));
                }
                Action::Adopt => {
                    final_step.insert(&c.address, push(&mut steps, i, Some(StepAction::Adopt)));
                }
                Action::Replace => {
                    delete_step.insert(&c.address, push(&mut steps, i, Some(StepAction::Delete)));
                    final_step.insert(&c.address, push(&mut steps, i, Some(StepAction::Create)));
                }
                Action::Delete => {
                    delete_step.insert(&c.address, push(&mut steps, i, Some(StepAction::Delete)));
                }
                Action::Forget => {
                    delete_step.insert(&c.address, push(&mut steps, i, Some(StepAction::Forget)));
                }
            }
        }

        let mut edges: Vec<(usize, usize)> = Vec::with_capacity(steps.len() * 2);
        // Creates and updates after their dependencies.
        for c in &plan.changes {
            let Some(&f) = final_step.get(&c.address) else {
                continue;
            };
            for d in &c.depends_on {
                if let Some(&df) = final_step.get(d) {
                    edges.push((f, df));
                }
            }
            if let Some(&del) = delete_step.get(&c.address) {
                edges.push((f, del));
            }
        }
        // Deletes after what depended on them.
        let mut recorded_dependents: HashMap<&Address, Vec<&Address>> = HashMap::new();
        for (a, r) in &state.resources {
            for d in &r.depends_on {
                recorded_dependents.entry(d).or_default().push(a);
            }
        }
        for (a, i) in &state.intents {
            for d in &i.depends_on {
                recorded_dependents.entry(d).or_default().push(a);
            }
        }
        let desired_deps: HashMap<&Address, &[Address]> = plan
            .changes
            .iter()
            .filter(|c| final_step.contains_key(&c.address))
            .map(|c| (&c.address, c.depends_on.as_slice()))
            .collect();
        // Updates that move references away from a deleted resource: ordered last.
        let mut moves: Vec<(usize, usize)> = Vec::new();
        for (a, &del) in &delete_step {
            for b in recorded_dependents
                .get(a)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                if let Some(&bdel) = delete_step.get(b) {
                    edges.push((del, bdel));
                } else if let Some(&bf) = final_step.get(b) {
                    if !desired_deps.get(b).is_some_and(|d| d.contains(a)) {
                        moves.push((del, bf));
                    }
                }
            }
        }
        edges.sort_unstable();
        edges.dedup();
        for (waiter, waited) in edges {
            if waiter != waited {
                steps[waiter].waits += 1;
                steps[waited].dependents.push(waiter);
            }
        }
        // An update that itself waits for the delete (it now depends on something that
        // is replaced because of the deleted resource) cannot go first: the delete does.
        moves.sort_unstable();
        moves.dedup();
        for (del, update) in moves {
            if !waits_for(&steps, update, del) {
                steps[del].waits += 1;
                steps[update].dependents.push(del);
            }
        }
        compute_heights(&mut steps);
        StepGraph { steps }
    }

    /// Steps with nothing to wait for, highest first.
    pub(crate) fn initial_ready(&self) -> BinaryHeap<(usize, std::cmp::Reverse<usize>)> {
        self.steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.waits == 0)
            .map(|(i, s)| (s.height, std::cmp::Reverse(i)))
            .collect()
    }
}

/// Whether step `later` waits, directly or not, for step `first`.
fn waits_for(steps: &[Step], later: usize, first: usize) -> bool {
    let mut seen = vec![false; steps.len()];
    let mut stack = vec![first];
    while let Some(i) = stack.pop() {
        if i == later {
            return true;
        }
        for &d in &steps[i].dependents {
            if !std::mem::replace(&mut seen[d], true) {
                stack.push(d);
            }
        }
    }
    false
}

/// Height = longest chain of dependents (Kahn order from the sinks).
fn compute_heights(steps: &mut [Step]) {
    let mut remaining: Vec<usize> = steps.iter().map(|s| s.dependents.len()).collect();
    let mut waits_on: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (i, s) in steps.iter().enumerate() {
        for &d in &s.dependents {
            waits_on[d].push(i);
        }
    }
    let mut queue: Vec<usize> = (0..steps.len()).filter(|&i| remaining[i] == 0).collect();
    while let Some(i) = queue.pop() {
        let h = steps[i]
            .dependents
            .iter()
            .map(|&d| steps[d].height + 1)
            .max()
            .unwrap_or(0);
        steps[i].height = h;
        for &w in &waits_on[i] {
            remaining[w] -= 1;
            if remaining[w] == 0 {
                queue.push(w);
            }
        }
    }
}
