//! Refresh: read every recorded resource (and every pending create) back from its
//! cloud, in parallel, into [`Observations`] for the planner.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use fedstack_core::address::Address;
use fedstack_core::observe::{Condition, Observation, Observations, ObservedResource};
use fedstack_core::state::{fingerprint, StateSnapshot};
use fedstack_provider::{Observed, ProviderError, ResourceSpec, ResourceStatus, SharedProvider};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::events::{Event, EventSink};
use crate::settings::{EngineSettings, Providers};

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("{address} lives in cloud `{cloud}`, which the stack no longer declares (hint: put the cloud back to manage or destroy it, or `fedstack state rm {address}` to forget it)")]
    MissingCloud { address: Address, cloud: String },
    #[error("cannot read {count} resource(s) back: {first}")]
    ReadFailed { count: usize, first: String },
}

/// Converts a provider's view into the planner's (secrets become fingerprints).
pub fn to_observation(o: Observed) -> ObservedResource {
    ObservedResource {
        sensitive: o
            .secrets
            .iter()
            .map(|(k, v)| (k.clone(), fingerprint(v)))
            .collect(),
        attrs: o.attrs,
        outputs: o.outputs,
        condition: match o.status {
            ResourceStatus::Ready => Condition::Ready,
            ResourceStatus::Pending(s) => Condition::Pending(s),
            ResourceStatus::Deleting => Condition::Deleting,
            ResourceStatus::Failed(s) => Condition::Failed(s),
        },
    }
}

/// Reads back every recorded resource and pending intent that lives in a cloud.
/// Built-in resources (no cloud) are not read: the state is their only reality.
pub async fn refresh(
    state: &StateSnapshot,
    providers: &Providers,
    settings: &EngineSettings,
    events: &dyn EventSink,
) -> Result<Observations, RefreshError> {
    let started = Instant::now();
    let mut specs: BTreeMap<Address, (String, ResourceSpec)> = BTreeMap::new();
    for (a, r) in &state.resources {
        if let Some(cloud) = &r.cloud {
            specs.insert(
                a.clone(),
                (
                    cloud.clone(),
                    ResourceSpec {
                        address: a.clone(),
                        cloud_name: r.cloud_name.clone(),
                        attrs: r.attrs.clone(),
                    },
                ),
            );
        }
    }
    for (a, i) in &state.intents {
        if let (Some(cloud), false) = (&i.cloud, specs.contains_key(a)) {
            specs.insert(
                a.clone(),
                (
                    cloud.clone(),
                    ResourceSpec {
                        address: a.clone(),
                        cloud_name: i.cloud_name.clone(),
                        attrs: i.attrs.clone(),
                    },
                ),
            );
        }
    }
    events.emit(Event::RefreshStart {
        resources: specs.len(),
    });

    let global = Arc::new(Semaphore::new(settings.parallelism.max(1)));
    let mut per_cloud: HashMap<String, Arc<Semaphore>> = HashMap::new();
    type Read = (Address, String, Result<Option<Observed>, ProviderError>);
    let mut tasks: JoinSet<Read> = JoinSet::new();
    let count = specs.len();
    for (address, (cloud, spec)) in specs {
        let provider: SharedProvider =
            providers
                .get(&cloud)
                .cloned()
                .ok_or_else(|| RefreshError::MissingCloud {
                    address: address.clone(),
                    cloud: cloud.clone(),
                })?;
        let limit = settings
            .cloud_limits
            .get(&cloud)
            .copied()
            .or_else(|| provider.max_parallel());
        let cloud_sem = limit.map(|n| {
            per_cloud
                .entry(cloud.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(n.max(1))))
                .clone()
        });
        let global = global.clone();
        let retry = settings.retry.clone();
        tasks.spawn(async move {
            let _g = global.acquire_owned().await;
            let _c = match cloud_sem {
                Some(s) => Some(s.acquire_owned().await),
                None => None,
            };
            let r = retry.run(|| provider.read(&spec), |_, _, _| {}).await;
            (address, cloud, r)
        });
    }

    let mut observations = Observations::new();
    let mut failures = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((a, _, Ok(Some(o)))) => {
                observations.insert(a, Observation::Present(to_observation(o)));
            }
            Ok((a, _, Ok(None))) => {
                observations.insert(a, Observation::Absent);
            }
            Ok((a, cloud, Err(e))) => failures.push(format!(
                "{a}: {}",
                crate::apply::describe(&e, &a, Some(&cloud), &a.name)
            )),
            Err(e) => failures.push(format!("a read task failed: {e}")),
        }
    }
    failures.sort();
    if let Some(first) = failures.first() {
        return Err(RefreshError::ReadFailed {
            count: failures.len(),
            first: first.clone(),
        });
    }
    events.emit(Event::RefreshDone {
        resources: count,
        elapsed_ms: started.elapsed().as_millis() as u64,
    });
    Ok(observations)
}
