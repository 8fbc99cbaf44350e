//! The plan: what `apply` will do, as a versioned value that can be saved
//! (`plan --out`), shown, and applied later (`apply FILE`).
//!
//! JSON format, version 1 (`fedstack plan --json` prints it; `--out` saves it):
//! ```json
//! { "format_version": 1, "stack": "multicloud", "mode": "apply",
//!   "state": { "lineage": "...", "serial": 12 },
//!   "changes": [ { "address": "cluster.gke-sydney", "action": "create", "cloud": "gcp",
//!                  "cloud_name": "gke-sydney", "reasons": [], "attrs": {...},
//!                  "before": null, "diffs": [ { "name": "region", "before": null,
//!                  "after": "australia-southeast1", "after_unknown": false,
//!                  "forces_replacement": false } ], "depends_on": [] } ],
//!   "outputs": { "host_endpoint": { "value": {...}, "sensitive": false } },
//!   "summary": { "add": 1, "change": 0, "replace": 0, "destroy": 0, "adopt": 0, "forget": 0 } }
//! ```
//! `changes` lists every selected resource, no-ops included, dependencies first.

mod diff;

pub use diff::{active_overrides, make_plan, stale_overrides, PlanError, PlanOptions};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::address::Address;
use crate::value::{Attrs, Expr, Values};

pub const PLAN_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    /// Make reality match the stack.
    Apply,
    /// Delete everything (or the selection) the state knows.
    Destroy,
}

/// What will happen to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    /// Delete, then create.
    Replace,
    Delete,
    /// Found in the cloud from an interrupted run (or mid-change): wait until it is
    /// ready and record it; then update it if the stack wants other values.
    Adopt,
    /// Recorded but already gone from the cloud: drop it from the state.
    Forget,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Adopt => "<=",
            Action::Forget => "x",
        }
    }

    pub fn is_change(self) -> bool {
        self != Action::NoOp
    }
}

/// The state a plan was made against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateVersion {
    pub lineage: String,
    pub serial: u64,
}

/// One attribute that changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttrDiff {
    pub name: String,
    pub before: Option<Value>,
    /// `None` together with `after_unknown` when known only after apply.
    pub after: Option<Value>,
    #[serde(default)]
    pub after_unknown: bool,
    #[serde(default)]
    pub forces_replacement: bool,
}

/// One resource's planned change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
    pub action: Action,
    pub cloud: Option<String>,
    pub cloud_name: String,
    /// Why, in words: drift, a forced replacement, an interrupted run.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The desired attributes (references unresolved); empty for delete and forget.
    #[serde(default)]
    pub attrs: Attrs,
    /// The values it has now (observed, else recorded); `None` when it does not exist.
    pub before: Option<Values>,
    #[serde(default)]
    pub diffs: Vec<AttrDiff>,
    /// What it waits for (desired dependencies; recorded ones for deletes).
    #[serde(default)]
    pub depends_on: Vec<Address>,
}

/// An output value to compute after apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputPlan {
    pub value: Expr,
    pub sensitive: bool,
}

/// Counts for "Plan: 3 to add, 1 to change, 0 to destroy".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
    pub adopt: usize,
    pub forget: usize,
}

impl Summary {
    pub fn has_changes(&self) -> bool {
        self.add + self.change + self.replace + self.destroy + self.adopt + self.forget > 0
    }
}

/// A plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub stack: String,
    pub mode: PlanMode,
    pub state: StateVersion,
    pub changes: Vec<Change>,
    #[serde(default)]
    pub outputs: BTreeMap<String, OutputPlan>,
    pub summary: Summary,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.summary.has_changes()
    }

    pub(crate) fn summarize(changes: &[Change]) -> Summary {
        let mut s = Summary::default();
        for c in changes {
            match c.action {
                Action::NoOp => {}
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.destroy += 1,
                Action::Adopt => s.adopt += 1,
                Action::Forget => s.forget += 1,
            }
        }
        s
    }
}
