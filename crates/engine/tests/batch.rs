//! Batching (`Provider::batch_key`): steps with the same key run as one operation --
//! one `--parallelism` slot and one slot of the cloud's `max_parallel` for the group,
//! every further ready step of the key joins at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use fedstack_core::observe::Observations;
use fedstack_core::plan::{make_plan, PlanOptions};
use fedstack_core::stack::load_stack;
use fedstack_core::state::{StateChange, StateSnapshot};
use fedstack_engine::events::NoEvents;
use fedstack_engine::{apply, EngineSettings, StateSink, StopSignal};
use fedstack_provider::{
    Observed, Progress, Provider, ProviderError, ResourceSpec, ResourceStatus, SharedProvider,
};
use serde_json::Value;

/// Sim clouds, and the clouds they emulate (their clusters take those flavors).
static CLOUDS: [&dyn fedstack_core::stack::CloudDescription; 4] = [
    &fedstack_describe_gcp::GCP,
    &fedstack_describe_aws::AWS,
    &fedstack_describe_azure::AZURE,
    &fedstack_describe_sim::SIM,
];

/// Calls in flight, and the most seen at once, by kind of step.
#[derive(Default)]
struct Counters {
    batched: usize,
    plain: usize,
    max_batched: usize,
    max_plain: usize,
    /// The most plain calls seen while a batched one was in flight.
    max_plain_during_batch: usize,
    /// (address, start ms, end ms)
    log: Vec<(String, u128, u128)>,
}

struct Fake {
    counters: Mutex<Counters>,
    started: std::time::Instant,
}

impl Fake {
    fn batched(spec: &ResourceSpec) -> bool {
        spec.attrs.get("batch") == Some(&Value::Bool(true))
    }

    fn latency(spec: &ResourceSpec) -> Duration {
        Duration::from_millis(spec.attrs.get("ms").and_then(Value::as_u64).unwrap_or(60))
    }

    fn enter(&self, batched: bool) {
        let mut c = self.counters.lock().expect("lock");
        if batched {
            c.batched += 1;
            c.max_batched = c.max_batched.max(c.batched);
        } else {
            c.plain += 1;
            c.max_plain = c.max_plain.max(c.plain);
        }
        if c.batched > 0 {
            c.max_plain_during_batch = c.max_plain_during_batch.max(c.plain);
        }
    }

    fn leave(&self, spec: &ResourceSpec, start: u128) {
        let mut c = self.counters.lock().expect("lock");
        if Fake::batched(spec) {
            c.batched -= 1;
        } else {
            c.plain -= 1;
        }
        let end = self.started.elapsed().as_millis();
        c.log.push((spec.address.to_string(), start, end));
    }
}

fn observed(spec: &ResourceSpec) -> Observed {
    let mut outputs = fedstack_core::value::Values::new();
    outputs.insert("id".into(), Value::String(spec.cloud_name.clone()));
    Observed {
        attrs: spec.attrs.clone(),
        outputs,
        secrets: Default::default(),
        status: ResourceStatus::Ready,
    }
}

#[async_trait]
impl Provider for Fake {
    fn provider_type(&self) -> &'static str {
        "fake"
    }

    fn batch_key(&self, spec: &ResourceSpec) -> Option<String> {
        Fake::batched(spec).then(|| "zone".to_string())
    }

    async fn read(&self, spec: &ResourceSpec) -> Result<Option<Observed>, ProviderError> {
        Ok(Some(observed(spec)))
    }

    async fn create(
        &self,
        spec: &ResourceSpec,
        _: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let start = self.started.elapsed().as_millis();
        self.enter(Fake::batched(spec));
        tokio::time::sleep(Fake::latency(spec)).await;
        self.leave(spec, start);
        Ok(observed(spec))
    }

    async fn update(
        &self,
        spec: &ResourceSpec,
        _: &[String],
        p: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.create(spec, p).await
    }

    async fn delete(&self, _: &ResourceSpec, _: &dyn Progress) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn wait_ready(
        &self,
        spec: &ResourceSpec,
        _: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        Ok(observed(spec))
    }
}

struct Memory;

impl StateSink for Memory {
    fn append(&mut self, _: Vec<StateChange>) -> Result<u64, String> {
        Ok(0)
    }
}

/// Applies `data` (YAML of the `data:` section) on the fake cloud; returns the counters.
async fn run(data: &str, parallelism: usize, cloud_limit: Option<usize>) -> Counters {
    let text = format!("name: t\nclouds:\n  fake: {{ provider: sim }}\ndata:\n{data}");
    let stack = match load_stack("t.yaml", &text, fedstack_core::stack::Clouds::new(&CLOUDS)) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let state = StateSnapshot::new("t", "l".into());
    let plan = make_plan(
        &stack,
        &state,
        &Observations::new(),
        &PlanOptions::default(),
    )
    .expect("plans");
    let fake = Arc::new(Fake {
        counters: Mutex::new(Counters::default()),
        started: std::time::Instant::now(),
    });
    let shared: SharedProvider = fake.clone();
    let providers: HashMap<String, SharedProvider> = [("fake".to_string(), shared)].into();
    let mut settings = EngineSettings {
        parallelism,
        ..EngineSettings::default()
    };
    if let Some(l) = cloud_limit {
        settings.cloud_limits.insert("fake".into(), l);
    }
    let (report, _) = apply(
        &plan,
        &state,
        Box::new(Memory),
        &providers,
        &settings,
        Arc::new(NoEvents),
        &StopSignal::default(),
    )
    .await;
    assert!(report.ok(), "{report:?}");
    drop(providers);
    match Arc::try_unwrap(fake) {
        Ok(f) => f.counters.into_inner().expect("lock"),
        Err(_) => panic!("provider still shared"),
    }
}

fn many(prefix: &str, n: usize, values: &str) -> String {
    (0..n)
        .map(|i| format!("  {prefix}{i}: {{ cloud: fake, values: {{ {values} }} }}\n"))
        .collect()
}

#[tokio::test]
async fn a_batch_group_takes_one_slot_whatever_its_size() {
    let data = format!(
        "{}{}",
        many("r", 30, "batch: true"),
        many("p", 4, "batch: false")
    );
    let c = run(&data, 2, None).await;
    assert_eq!(c.log.len(), 34);
    // All 30 batched steps at once, in one slot; the other slot for the plain steps.
    assert_eq!(c.max_batched, 30);
    assert_eq!(c.max_plain_during_batch, 1);
    assert!(c.max_plain <= 2);
}

#[tokio::test]
async fn steps_that_become_ready_join_an_open_group() {
    let data = "
  slow: { cloud: fake, values: { batch: true, ms: 400 } }
  first: { cloud: fake, values: { batch: true, ms: 50 } }
  second: { cloud: fake, values: { batch: true, ms: 50 }, depends_on: [data.first] }
";
    let c = run(data, 1, None).await;
    let at = |a: &str| {
        c.log
            .iter()
            .find(|(x, _, _)| x == a)
            .map(|(_, s, e)| (*s, *e))
            .unwrap_or_else(|| panic!("{a} not run"))
    };
    let (_, slow_end) = at("data.slow");
    let (second_start, _) = at("data.second");
    // With one slot, `second` still starts while `slow` holds the group open.
    assert!(second_start < slow_end, "{:?}", c.log);
}

#[tokio::test]
async fn the_slot_comes_back_when_the_group_is_done() {
    let data = format!(
        "{}  plain: {{ cloud: fake, values: {{ batch: false }} }}\n",
        many("r", 10, "batch: true")
    );
    // One slot, and the cloud allows one operation at a time: the group and the plain
    // step run one after the other, the ten batched steps together.
    let c = run(&data, 1, Some(1)).await;
    assert_eq!(c.max_batched, 10);
    assert_eq!(c.max_plain_during_batch, 0);
    assert_eq!(c.log.len(), 11);
}
