//! Executing one step: resolve references, call the provider (with retries and
//! progress), record the result durably.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use fedstack_core::address::Address;
use fedstack_core::plan::{Change, Plan};
use fedstack_core::state::{
    fingerprint, Intent, IntentOperation, ResourceState, StateChange, StateSnapshot,
};
use fedstack_core::value::{changed_attributes, Known, Values};
use fedstack_provider::{
    ErrorClass, Observed, Progress, ProviderError, ResourceSpec, SharedProvider,
};
use serde_json::Value;

use crate::builtin::BuiltinProvider;
use crate::events::{Counts, Event, EventSink, StepAction};
use crate::journal::Journal;
use crate::settings::{EngineSettings, Providers};

pub(crate) enum Outcome {
    Done,
    Failed(String),
}

/// What every step shares.
pub(crate) struct StepContext {
    changes: Vec<Change>,
    /// Recorded resources at the start (for deletes and for references to what the
    /// plan does not touch).
    recorded: BTreeMap<Address, ResourceState>,
    intents: BTreeMap<Address, Intent>,
    /// Values produced during this run (outputs, attributes, secrets) for references.
    produced: Mutex<HashMap<Address, Values>>,
    providers: Providers,
    builtin: SharedProvider,
    settings: EngineSettings,
    events: Arc<dyn EventSink>,
    journal: Journal,
}

impl StepContext {
    pub(crate) fn new(
        plan: &Plan,
        state: &StateSnapshot,
        providers: &Providers,
        settings: &EngineSettings,
        events: Arc<dyn EventSink>,
        journal: Journal,
    ) -> StepContext {
        StepContext {
            changes: plan.changes.clone(),
            recorded: state.resources.clone(),
            intents: state.intents.clone(),
            produced: Mutex::new(HashMap::new()),
            providers: providers.clone(),
            builtin: Arc::new(BuiltinProvider),
            settings: settings.clone(),
            events,
            journal,
        }
    }

    /// The cloud a step works in. A delete (also the first half of a replace) goes to
    /// the cloud the resource was recorded in: a resource moving clouds leaves the old one.
    pub(crate) fn cloud_of(&self, change: usize, action: StepAction) -> Option<String> {
        self.step_cloud(&self.changes[change], action)
    }

    fn step_cloud(&self, change: &Change, action: StepAction) -> Option<String> {
        match action {
            StepAction::Delete => self
                .recorded
                .get(&change.address)
                .map(|r| r.cloud.clone())
                .or_else(|| self.intents.get(&change.address).map(|i| i.cloud.clone()))
                .unwrap_or_else(|| change.cloud.clone()),
            _ => change.cloud.clone(),
        }
    }

    /// The step's batch key (`Provider::batch_key`), asked with the attributes known
    /// before it runs. `None` for built-in resources and forgets.
    pub(crate) fn batch_key(&self, change: usize, action: StepAction) -> Option<String> {
        let c = &self.changes[change];
        let provider = self.providers.get(&self.step_cloud(c, action)?)?;
        let spec = match action {
            StepAction::Forget => return None,
            StepAction::Delete => self.recorded_spec(c),
            StepAction::Create | StepAction::Update | StepAction::Adopt => {
                let mut attrs = Values::new();
                for (k, e) in &c.attrs {
                    let mut lookup = |a: &Address, output: &str| {
                        self.recorded.get(a).and_then(|r| r.output(output).cloned())
                    };
                    if let Known::Value(v) = e.resolve(&mut lookup) {
                        attrs.insert(k.clone(), v);
                    }
                }
                ResourceSpec {
                    address: c.address.clone(),
                    cloud_name: c.cloud_name.clone(),
                    attrs,
                }
            }
        };
        provider.batch_key(&spec)
    }

    /// At least 1, as in refresh: a limit of 0 would park the cloud's steps for good.
    pub(crate) fn cloud_limit(&self, cloud: &str) -> Option<usize> {
        self.settings
            .cloud_limits
            .get(cloud)
            .copied()
            .or_else(|| self.providers.get(cloud).and_then(|p| p.max_parallel()))
            .map(|n| n.max(1))
    }

    pub(crate) fn count(&self, action: StepAction, counts: &mut Counts) {
        match action {
            StepAction::Create => counts.added += 1,
            StepAction::Update => counts.changed += 1,
            StepAction::Delete => counts.destroyed += 1,
            StepAction::Adopt => counts.adopted += 1,
            StepAction::Forget => counts.forgotten += 1,
        }
    }

    fn provider(&self, change: &Change, action: StepAction) -> Result<SharedProvider, String> {
        match &self.step_cloud(change, action) {
            None => Ok(self.builtin.clone()),
            Some(cloud) => self.providers.get(cloud).cloned().ok_or_else(|| {
                format!("cloud `{cloud}` is not configured (hint: declare it under `clouds:` in the stack)")
            }),
        }
    }

    /// Runs one step and reports it.
    pub(crate) async fn run(&self, index: usize, action: StepAction) -> Outcome {
        let change = &self.changes[index];
        let address = &change.address;
        let started = Instant::now();
        self.events.emit(Event::StepStart {
            address: address.clone(),
            action,
        });
        let progress = StepProgress {
            address: address.clone(),
            action,
            started,
            last: Mutex::new(None),
            events: self.events.clone(),
        };
        let work = self.execute(change, action, &progress);
        let result = {
            tokio::pin!(work);
            // tokio's interval refuses a zero period.
            let every = self
                .settings
                .progress_interval
                .max(std::time::Duration::from_millis(1));
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tokio::select! {
                    r = &mut work => break r,
                    _ = ticker.tick() => progress.tick(),
                }
            }
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(id) => {
                self.events.emit(Event::StepDone {
                    address: address.clone(),
                    action,
                    elapsed_ms,
                    id,
                });
                Outcome::Done
            }
            Err(error) => {
                self.events.emit(Event::StepFailed {
                    address: address.clone(),
                    action,
                    elapsed_ms,
                    error: error.clone(),
                });
                Outcome::Failed(error)
            }
        }
    }

    /// Does the work; `Ok` carries the cloud id for the "complete" line.
    async fn execute(
        &self,
        change: &Change,
        action: StepAction,
        progress: &StepProgress,
    ) -> Result<Option<String>, String> {
        let address = &change.address;
        let provider = self.provider(change, action)?;
        let retry = |_: &'static str| {
            let events = self.events.clone();
            let address = address.clone();
            move |attempt: u32, e: &ProviderError, d: std::time::Duration| {
                events.emit(Event::StepRetry {
                    address: address.clone(),
                    action,
                    attempt,
                    delay_ms: d.as_millis() as u64,
                    error: e.message.clone(),
                });
            }
        };
        match action {
            StepAction::Create => {
                let spec = self.desired_spec(change)?;
                self.record(vec![StateChange::Intent(Intent {
                    address: address.clone(),
                    operation: IntentOperation::Create,
                    cloud: change.cloud.clone(),
                    cloud_name: spec.cloud_name.clone(),
                    attrs: spec.attrs.clone(),
                    depends_on: change.depends_on.clone(),
                    started_at: now_secs(),
                })])
                .await?;
                let created = self
                    .settings
                    .retry
                    .run(|| provider.create(&spec, progress), retry("create"))
                    .await;
                match created {
                    Ok(o) => self.put(change, &spec, o).await,
                    Err(e) => {
                        // Leave the intent only if something was left behind.
                        if let Ok(None) = provider.read(&spec).await {
                            let _ = self
                                .record(vec![StateChange::ClearIntent {
                                    address: address.clone(),
                                }])
                                .await;
                        }
                        Err(describe(
                            &e,
                            address,
                            change.cloud.as_deref(),
                            &change.cloud_name,
                        ))
                    }
                }
            }
            StepAction::Update => {
                let spec = self.desired_spec(change)?;
                let changed = changed_attributes(&spec.attrs, change.before.as_ref());
                let o = self
                    .settings
                    .retry
                    .run(
                        || provider.update(&spec, &changed, progress),
                        retry("update"),
                    )
                    .await
                    .map_err(|e| {
                        describe(&e, address, change.cloud.as_deref(), &change.cloud_name)
                    })?;
                self.put(change, &spec, o).await
            }
            StepAction::Adopt => {
                let spec = self.desired_spec(change)?;
                let mut o = self
                    .settings
                    .retry
                    .run(|| provider.wait_ready(&spec, progress), retry("adopt"))
                    .await
                    .map_err(|e| {
                        describe(&e, address, change.cloud.as_deref(), &change.cloud_name)
                    })?;
                let changed = changed_attributes(&spec.attrs, Some(&o.attrs));
                if !changed.is_empty() {
                    o = self
                        .settings
                        .retry
                        .run(
                            || provider.update(&spec, &changed, progress),
                            retry("update"),
                        )
                        .await
                        .map_err(|e| {
                            describe(&e, address, change.cloud.as_deref(), &change.cloud_name)
                        })?;
                }
                self.put(change, &spec, o).await
            }
            StepAction::Delete => {
                let spec = self.recorded_spec(change);
                self.settings
                    .retry
                    .run(|| provider.delete(&spec, progress), retry("delete"))
                    .await
                    .map_err(|e| {
                        describe(&e, address, change.cloud.as_deref(), &change.cloud_name)
                    })?;
                self.record(vec![StateChange::Remove {
                    address: address.clone(),
                }])
                .await?;
                Ok(None)
            }
            StepAction::Forget => {
                self.record(vec![StateChange::Remove {
                    address: address.clone(),
                }])
                .await?;
                Ok(None)
            }
        }
    }

    async fn record(&self, changes: Vec<StateChange>) -> Result<u64, String> {
        self.journal
            .record(changes)
            .await
            .map_err(|e| format!("cannot record the result in the state: {e}"))
    }

    /// Records the resource as it now is, then makes its values visible to dependents.
    async fn put(
        &self,
        change: &Change,
        spec: &ResourceSpec,
        o: Observed,
    ) -> Result<Option<String>, String> {
        let id = o
            .outputs
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string);
        let resource = ResourceState {
            address: change.address.clone(),
            cloud: change.cloud.clone(),
            cloud_name: spec.cloud_name.clone(),
            attrs: o.attrs.clone(),
            outputs: o.outputs.clone(),
            sensitive: o
                .secrets
                .iter()
                .map(|(k, v)| (k.clone(), fingerprint(v)))
                .collect(),
            depends_on: change.depends_on.clone(),
        };
        self.record(vec![StateChange::Put(Box::new(resource))])
            .await?;
        let mut values = o.attrs;
        values.extend(o.outputs);
        values.extend(o.secrets.into_iter().map(|(k, v)| (k, Value::String(v))));
        if let Ok(mut p) = self.produced.lock() {
            p.insert(change.address.clone(), values);
        }
        Ok(id)
    }

    /// The desired attributes with every reference resolved.
    fn desired_spec(&self, change: &Change) -> Result<ResourceSpec, String> {
        let produced = self
            .produced
            .lock()
            .map_err(|_| "internal error: poisoned lock".to_string())?;
        let mut missing: Option<String> = None;
        let mut attrs = Values::new();
        for (k, e) in &change.attrs {
            let mut lookup = |a: &Address, output: &str| -> Option<Value> {
                let v = produced
                    .get(a)
                    .and_then(|m| m.get(output).cloned())
                    .or_else(|| self.recorded.get(a).and_then(|r| r.output(output).cloned()));
                if v.is_none() && missing.is_none() {
                    missing = Some(format!("${{{a}.{output}}}"));
                }
                v
            };
            match e.resolve(&mut lookup) {
                Known::Value(v) => {
                    attrs.insert(k.clone(), v);
                }
                Known::Unknown => {
                    return Err(format!(
                        "attribute `{k}` refers to {}, which has no value (hint: is the referenced resource in the state? `fedstack state show` tells)",
                        missing.unwrap_or_else(|| "a value".into())
                    ))
                }
            }
        }
        Ok(ResourceSpec {
            address: change.address.clone(),
            cloud_name: change.cloud_name.clone(),
            attrs,
        })
    }

    /// What the state knows of a resource being deleted.
    fn recorded_spec(&self, change: &Change) -> ResourceSpec {
        let attrs = self
            .recorded
            .get(&change.address)
            .map(|r| r.attrs.clone())
            .or_else(|| self.intents.get(&change.address).map(|i| i.attrs.clone()))
            .or_else(|| change.before.clone())
            .unwrap_or_default();
        ResourceSpec {
            address: change.address.clone(),
            cloud_name: change.cloud_name.clone(),
            attrs,
        }
    }
}

/// An error as the user reads it: the provider's message and a hint where the class
/// says what to do.
pub(crate) fn describe(
    e: &ProviderError,
    address: &Address,
    cloud: Option<&str>,
    cloud_name: &str,
) -> String {
    let cloud = cloud.unwrap_or("-");
    match e.class {
        ErrorClass::AlreadyExists => format!(
            "{} (hint: it exists in cloud `{cloud}` but not in the state; `fedstack import {address} {cloud_name}` adopts it)",
            e.message,
        ),
        ErrorClass::Denied => format!("{} (hint: check the credentials of cloud `{cloud}`)", e.message),
        ErrorClass::Unreachable => format!(
            "{} (hint: check `endpoint_url` of cloud `{cloud}`, and that the service there is running)",
            e.message,
        ),
        _ => e.message.clone(),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Progress from inside a step: provider statuses and the periodic "Still creating".
struct StepProgress {
    address: Address,
    action: StepAction,
    started: Instant,
    last: Mutex<Option<String>>,
    events: Arc<dyn EventSink>,
}

impl StepProgress {
    fn tick(&self) {
        let status = self.last.lock().ok().and_then(|l| l.clone());
        self.events.emit(Event::StepProgress {
            address: self.address.clone(),
            action: self.action,
            elapsed_ms: self.started.elapsed().as_millis() as u64,
            status,
        });
    }
}

impl Progress for StepProgress {
    fn status(&self, message: &str) {
        if let Ok(mut l) = self.last.lock() {
            if l.as_deref() != Some(message) {
                *l = Some(message.to_string());
            }
        }
    }

    fn note(&self, message: &str) {
        self.status(message);
        self.tick();
    }
}
