//! The apply boundary: plans made by the planner from small stacks, run against a fake
//! provider on tokio's paused clock, with a sink that records every durable batch.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use fedstack_core::observe::Observations;
use fedstack_core::plan::{make_plan, Plan, PlanOptions};
use fedstack_core::stack::{load_stack, DesiredStack};
use fedstack_core::state::{JournalEntry, StateChange, StateSnapshot};
use fedstack_core::value::Values;
use fedstack_engine::events::NoEvents;
use fedstack_engine::retry::RetryPolicy;
use fedstack_engine::{
    apply, ApplyReport, EngineSettings, Event, EventSink, StateSink, StopSignal,
};
use fedstack_provider::{
    ErrorClass, Observed, Progress, Provider, ProviderError, ResourceSpec, ResourceStatus,
    SharedProvider,
};
use serde_json::{json, Value};
use tokio::time::Instant;

// ----- a shared, ordered log of what happened --------------------------------------

/// Everything the provider and the sink saw, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    /// A provider call started: (address, op).
    Start(String, &'static str),
    /// A provider call returned: (address, op, ok).
    End(String, &'static str, bool),
    /// The sink made a batch durable.
    Batch(Vec<StateChange>),
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// One provider call on the paused clock, in milliseconds since the fake was made.
#[derive(Debug, Clone, PartialEq)]
struct Call {
    address: String,
    op: &'static str,
    start: u64,
    end: u64,
    cloud: String,
    attrs: Values,
}

// ----- keeping the paused clock honest ------------------------------------------------

/// The journal writer is a plain thread, invisible to tokio's paused clock: while a
/// step waits for its result to become durable the runtime looks idle and the clock
/// would jump to the next timer. The gate holds the clock (a `spawn_blocking` task
/// inhibits auto-advance) whenever some step is in engine code rather than sleeping
/// in the provider or in a retry backoff, so timelines are exact.
#[derive(Default)]
struct Gate {
    /// Steps in flight by address: `true` while in engine code.
    busy: Mutex<HashMap<String, bool>>,
    idle: Condvar,
}

impl Gate {
    fn set(self: &Arc<Gate>, address: &str, in_engine: Option<bool>) {
        let mut busy = self.busy.lock().expect("lock");
        let before = busy.values().any(|b| *b);
        match in_engine {
            Some(b) => {
                busy.insert(address.to_string(), b);
            }
            None => {
                busy.remove(address);
            }
        }
        let after = busy.values().any(|b| *b);
        if after && !before {
            let gate = self.clone();
            drop(tokio::task::spawn_blocking(move || {
                let mut busy = gate.busy.lock().expect("lock");
                while busy.values().any(|b| *b) {
                    busy = gate.idle.wait(busy).expect("lock");
                }
            }));
        } else if before && !after {
            self.idle.notify_all();
        }
    }

    /// Forgets every step (after an immediate stop abandoned some).
    fn clear(&self) {
        self.busy.lock().expect("lock").clear();
        self.idle.notify_all();
    }
}

// ----- the fake provider ------------------------------------------------------------

struct Fake {
    cloud: String,
    t0: Instant,
    log: Log,
    latency: HashMap<String, Duration>,
    default_latency: Duration,
    /// Calls for these addresses fail with this class (every op but read).
    fail: HashMap<String, ErrorClass>,
    /// Remaining `Throttled` answers per address.
    throttle: Mutex<HashMap<String, u32>>,
    calls: Mutex<Vec<Call>>,
    /// Attempts per (address, op), throttled ones included.
    attempts: Mutex<HashMap<(String, &'static str), u32>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Fake {
    fn new(cloud: &str, log: &Log) -> Fake {
        Fake {
            cloud: cloud.to_string(),
            t0: Instant::now(),
            log: log.clone(),
            latency: HashMap::new(),
            default_latency: Duration::from_secs(1),
            fail: HashMap::new(),
            throttle: Mutex::new(HashMap::new()),
            calls: Mutex::new(Vec::new()),
            attempts: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    fn latency(mut self, address: &str, secs: u64) -> Fake {
        self.latency
            .insert(address.to_string(), Duration::from_secs(secs));
        self
    }

    fn failing(mut self, address: &str, class: ErrorClass) -> Fake {
        self.fail.insert(address.to_string(), class);
        self
    }

    fn throttled(self, address: &str, times: u32) -> Fake {
        self.throttle
            .lock()
            .expect("lock")
            .insert(address.to_string(), times);
        self
    }

    fn ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }

    fn attempts(&self, address: &str, op: &'static str) -> u32 {
        self.attempts
            .lock()
            .expect("lock")
            .get(&(address.to_string(), op))
            .copied()
            .unwrap_or(0)
    }

    /// One call: count it, maybe throttle or fail at once, else take the latency.
    async fn call(&self, spec: &ResourceSpec, op: &'static str) -> Result<Observed, ProviderError> {
        let address = spec.address.to_string();
        *self
            .attempts
            .lock()
            .expect("lock")
            .entry((address.clone(), op))
            .or_default() += 1;
        {
            let mut t = self.throttle.lock().expect("lock");
            if let Some(n) = t.get_mut(&address).filter(|n| **n > 0) {
                *n -= 1;
                return Err(ProviderError::new(ErrorClass::Throttled, "Rate exceeded"));
            }
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let start = self.ms();
        self.log
            .lock()
            .expect("lock")
            .push(Seen::Start(address.clone(), op));
        let latency = self
            .latency
            .get(&address)
            .copied()
            .unwrap_or(self.default_latency);
        tokio::time::sleep(latency).await;
        let end = self.ms();
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let failed = self.fail.get(&address).copied();
        self.log
            .lock()
            .expect("lock")
            .push(Seen::End(address.clone(), op, failed.is_none()));
        self.calls.lock().expect("lock").push(Call {
            address: address.clone(),
            op,
            start,
            end,
            cloud: self.cloud.clone(),
            attrs: spec.attrs.clone(),
        });
        if let Some(class) = failed {
            return Err(ProviderError::new(class, format!("{op} {address} failed")));
        }
        let mut outputs = Values::new();
        outputs.insert("id".into(), json!(format!("{}-id", spec.cloud_name)));
        Ok(Observed {
            attrs: spec.attrs.clone(),
            outputs,
            secrets: BTreeMap::new(),
            status: ResourceStatus::Ready,
        })
    }
}

/// The provider as the engine holds it: a shared handle to the test's fake.
struct Handle(Arc<Fake>);

#[async_trait]
impl Provider for Handle {
    fn provider_type(&self) -> &'static str {
        "fake"
    }

    async fn read(&self, _: &ResourceSpec) -> Result<Option<Observed>, ProviderError> {
        // Only asked after a failed create: nothing was left behind.
        Ok(None)
    }

    async fn create(
        &self,
        spec: &ResourceSpec,
        _: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.0.call(spec, "create").await
    }

    async fn update(
        &self,
        spec: &ResourceSpec,
        _: &[String],
        _: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.0.call(spec, "update").await
    }

    async fn delete(&self, spec: &ResourceSpec, _: &dyn Progress) -> Result<(), ProviderError> {
        self.0.call(spec, "delete").await.map(|_| ())
    }

    async fn wait_ready(
        &self,
        spec: &ResourceSpec,
        _: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.0.call(spec, "wait_ready").await
    }
}

// ----- the fake sink ----------------------------------------------------------------

/// Records every batch (in the shared log and on its own) and keeps a snapshot.
struct Sink {
    log: Log,
    batches: Arc<Mutex<Vec<Vec<StateChange>>>>,
    state: Arc<Mutex<StateSnapshot>>,
}

impl StateSink for Sink {
    fn append(&mut self, changes: Vec<StateChange>) -> Result<u64, String> {
        let mut state = self.state.lock().map_err(|e| e.to_string())?;
        for c in &changes {
            let serial = state.serial + 1;
            state.apply(&JournalEntry {
                serial,
                change: c.clone(),
            });
        }
        self.log
            .lock()
            .map_err(|e| e.to_string())?
            .push(Seen::Batch(changes.clone()));
        self.batches
            .lock()
            .map_err(|e| e.to_string())?
            .push(changes);
        Ok(state.serial)
    }
}

/// Collects events.
#[derive(Default)]
struct Events(Mutex<Vec<Event>>);

impl EventSink for Events {
    fn emit(&self, event: Event) {
        self.0.lock().expect("lock").push(event);
    }
}

// ----- running a plan ---------------------------------------------------------------

fn stack(yaml: &str) -> DesiredStack {
    match load_stack("test.yaml", yaml) {
        Ok(s) => s,
        Err(e) => panic!("the test stack should load:\n{e}"),
    }
}

fn plan(desired: &DesiredStack, state: &StateSnapshot, opts: &PlanOptions) -> Plan {
    make_plan(desired, state, &Observations::new(), opts).expect("plans")
}

fn settings() -> EngineSettings {
    EngineSettings {
        parallelism: 10,
        cloud_limits: HashMap::new(),
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
        },
        progress_interval: Duration::from_secs(3600),
    }
}

struct Run {
    report: ApplyReport,
    log: Vec<Seen>,
    batches: Vec<Vec<StateChange>>,
    state: StateSnapshot,
}

async fn run_with(
    plan: &Plan,
    state: &StateSnapshot,
    providers: &HashMap<String, Arc<Fake>>,
    log: &Log,
    settings: &EngineSettings,
    events: Arc<dyn EventSink>,
    stop: &StopSignal,
) -> Run {
    let batches = Arc::new(Mutex::new(Vec::new()));
    let after = Arc::new(Mutex::new(state.clone()));
    let sink = Box::new(Sink {
        log: log.clone(),
        batches: batches.clone(),
        state: after.clone(),
    });
    let shared: HashMap<String, SharedProvider> = providers
        .iter()
        .map(|(k, f)| (k.clone(), Arc::new(Handle(f.clone())) as SharedProvider))
        .collect();
    let (report, _sink) = apply(plan, state, sink, &shared, settings, events, stop).await;
    let log = log.lock().expect("lock").clone();
    let batches = batches.lock().expect("lock").clone();
    let state = after.lock().expect("lock").clone();
    Run {
        report,
        log,
        batches,
        state,
    }
}

async fn run(plan: &Plan, state: &StateSnapshot, fake: &Arc<Fake>, log: &Log) -> Run {
    let providers = HashMap::from([("fake".to_string(), fake.clone())]);
    run_with(
        plan,
        state,
        &providers,
        log,
        &settings(),
        Arc::new(NoEvents),
        &StopSignal::default(),
    )
    .await
}

fn timeline(calls: &[Call]) -> Vec<(String, &'static str, u64, u64)> {
    let mut t: Vec<_> = calls
        .iter()
        .map(|c| (c.address.clone(), c.op, c.start, c.end))
        .collect();
    t.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
    t
}

fn row(a: &str, op: &'static str, start: u64, end: u64) -> (String, &'static str, u64, u64) {
    (a.to_string(), op, start, end)
}

const FOUR: &str = "
name: t
clouds:
  fake: { provider: sim }
data:
  a: { cloud: fake }
  b: { cloud: fake }
  c: { cloud: fake, depends_on: [data.a] }
  d: { cloud: fake, depends_on: [data.b] }
";

#[tokio::test(start_paused = true)]
async fn each_step_starts_when_its_own_dependencies_finish() {
    let log = Log::default();
    let fake = Arc::new(
        Fake::new("fake", &log)
            .latency("data.a", 1)
            .latency("data.b", 5)
            .latency("data.c", 1)
            .latency("data.d", 1),
    );
    let desired = stack(FOUR);
    let state = StateSnapshot::new("t", "l".into());
    let p = plan(&desired, &state, &PlanOptions::default());
    let r = run(&p, &state, &fake, &log).await;
    assert!(r.report.ok(), "{:?}", r.report);
    assert_eq!(
        timeline(&fake.calls()),
        vec![
            row("data.a", "create", 0, 1000),
            row("data.b", "create", 0, 5000),
            row("data.c", "create", 1000, 2000),
            row("data.d", "create", 5000, 6000),
        ]
    );
}

#[allow(dead_code)]
fn unused(_: Value) {}
