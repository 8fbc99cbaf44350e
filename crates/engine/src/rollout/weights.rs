//! The traffic of a weighted DNS record, moved between its targets: each step records
//! the weights as overrides of the stack's (the stack stays the source of truth; the
//! planner plans shifted weights until the stack's weights change) and then applies
//! them as a small plan, durable and batched like any apply. The check is the target's
//! health check, read from its cloud.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use fedstack_core::address::Address;
use fedstack_core::plan::{
    Action, AttrDiff, Change, Plan, PlanMode, StateVersion, Summary, PLAN_FORMAT_VERSION,
};
use fedstack_core::state::{Override, StateChange, StateSnapshot};
use fedstack_core::value::{Expr, Values};
use fedstack_provider::ResourceSpec;
use serde_json::{json, Value};

use super::Stepper;
use crate::events::NoEvents;
use crate::{apply, EngineSettings, Providers, StateSink, StopSignal};

/// One target of a weighted record.
#[derive(Debug, Clone)]
pub struct WeightedTarget {
    /// The record resource that carries this target's weight.
    pub address: Address,
    /// Its health check resource, if any.
    pub health_check: Option<Address>,
    /// The stack's weight (the base of an override).
    pub stack_weight: i64,
}

/// The state the rollout records through: the writer the CLI holds.
pub trait SharedState: Send + Sync {
    /// The state now, including every recorded change.
    fn snapshot(&self) -> StateSnapshot;
    /// Records `changes` durably.
    fn record(&self, changes: Vec<StateChange>) -> Result<u64, String>;
    /// A sink for the engine's journal writer, writing to the same state.
    fn sink(&self) -> Box<dyn StateSink>;
}

/// A [`Stepper`] over the weights of one record's targets, checking target `to`.
pub struct WeightShift<'a> {
    pub stack: &'a str,
    pub targets: &'a [WeightedTarget],
    /// The target receiving the traffic: its health check decides.
    pub to: usize,
    pub state: &'a dyn SharedState,
    pub providers: &'a Providers,
    pub settings: &'a EngineSettings,
    /// Who changes the weights, recorded with each override (`fedstack shift ...`).
    pub by: String,
    /// The overrides of one record stand or fall together.
    pub group: String,
}

impl WeightShift<'_> {
    fn record_overrides(&self, weights: &[i64]) -> Result<(), String> {
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let changes = self
            .targets
            .iter()
            .zip(weights)
            .map(|(t, w)| StateChange::Override {
                address: t.address.clone(),
                attr: "weight".into(),
                value: (*w != t.stack_weight).then(|| Override {
                    value: json!(w),
                    base: json!(t.stack_weight),
                    by: self.by.clone(),
                    at,
                    group: Some(self.group.clone()),
                }),
            })
            .collect();
        self.state.record(changes).map(|_| ())
    }

    /// The plan changing the weights that differ from `weights`.
    fn plan(&self, state: &StateSnapshot, weights: &[i64]) -> Result<Plan, String> {
        let mut changes = Vec::new();
        for (t, w) in self.targets.iter().zip(weights) {
            let Some(r) = state.resources.get(&t.address) else {
                return Err(format!("{} is no longer in the state", t.address));
            };
            let before = r.attrs.get("weight").cloned();
            if before.as_ref().and_then(Value::as_i64) == Some(*w) {
                continue;
            }
            let mut attrs: Values = r.attrs.clone();
            attrs.insert("weight".into(), json!(w));
            changes.push(Change {
                address: t.address.clone(),
                action: Action::Update,
                cloud: r.cloud.clone(),
                cloud_name: r.cloud_name.clone(),
                reasons: vec![self.by.clone()],
                attrs: attrs
                    .into_iter()
                    .map(|(k, v)| (k, Expr::Literal(v)))
                    .collect(),
                before: Some(r.attrs.clone()),
                diffs: vec![AttrDiff {
                    name: "weight".into(),
                    before,
                    after: Some(json!(w)),
                    after_unknown: false,
                    forces_replacement: false,
                }],
                depends_on: Vec::new(),
            });
        }
        Ok(Plan {
            format_version: PLAN_FORMAT_VERSION,
            stack: self.stack.to_string(),
            mode: PlanMode::Apply,
            state: StateVersion {
                lineage: state.lineage.clone(),
                serial: state.serial,
            },
            summary: Summary {
                change: changes.len(),
                ..Default::default()
            },
            changes,
            outputs: Default::default(),
        })
    }
}

impl Stepper for WeightShift<'_> {
    type Step = Vec<i64>;

    /// The target's health check as its cloud reads it.
    async fn check(&mut self) -> Result<(bool, String), String> {
        let Some(hc) = &self.targets[self.to].health_check else {
            return Ok((true, "no health check".into()));
        };
        let state = self.state.snapshot();
        let Some(r) = state.resources.get(hc) else {
            return Ok((false, format!("{hc} is not in the state")));
        };
        let Some(provider) = r.cloud.as_ref().and_then(|c| self.providers.get(c)) else {
            return Ok((false, format!("{hc}: its cloud is not configured")));
        };
        let spec = ResourceSpec {
            address: hc.clone(),
            cloud_name: r.cloud_name.clone(),
            attrs: r.attrs.clone(),
        };
        Ok(match provider.read(&spec).await {
            Err(e) => (false, format!("{hc}: cannot read it: {e}")),
            Ok(None) => (false, format!("{hc} is gone")),
            Ok(Some(o)) => {
                let healthy = o
                    .outputs
                    .get("healthy")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let detail = o.outputs.get("health").and_then(Value::as_str).map_or_else(
                    || if healthy { "healthy" } else { "unhealthy" }.to_string(),
                    str::to_string,
                );
                (healthy, format!("{hc}: {detail}"))
            }
        })
    }

    /// Overrides first, then the cloud.
    async fn apply(&mut self, weights: &Vec<i64>) -> Result<(), String> {
        self.record_overrides(weights)?;
        let state = self.state.snapshot();
        let plan = self.plan(&state, weights)?;
        if plan.changes.is_empty() {
            return Ok(());
        }
        let (report, _) = apply(
            &plan,
            &state,
            self.state.sink(),
            self.providers,
            self.settings,
            Arc::new(NoEvents),
            &StopSignal::default(),
        )
        .await;
        match report.failures.first() {
            None if report.ok() => Ok(()),
            Some(f) => Err(format!("{}: {}", f.address, f.error)),
            None => Err("the weight change did not complete".into()),
        }
    }
}
