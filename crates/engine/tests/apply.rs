//! The apply boundary: plans made by the planner from small stacks, run against a fake
//! provider on tokio's paused clock, with a sink that records every durable batch.
//!
//! Times in timelines are milliseconds of the paused clock since the test started.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use fedstack_core::address::Address;
use fedstack_core::observe::{Condition, Observation, Observations, ObservedResource};
use fedstack_core::plan::{make_plan, Action, Plan, PlanOptions};
use fedstack_core::stack::{load_stack, DesiredStack};
use fedstack_core::state::{
    Intent, IntentOperation, JournalEntry, ResourceState, StateChange, StateSnapshot,
};
use fedstack_core::value::Values;
use fedstack_engine::events::{Counts, StepAction};
use fedstack_engine::retry::RetryPolicy;
use fedstack_engine::{
    apply, ApplyReport, EngineSettings, Event, EventSink, StateSink, StepFailure, StopSignal,
};
use fedstack_provider::{
    ErrorClass, Observed, Progress, Provider, ProviderError, ResourceSpec, ResourceStatus,
    SharedProvider,
};
use serde_json::{json, Value};
use tokio::time::Instant;

/// Sim clouds, and the clouds they emulate (their clusters take those flavors).
static CLOUDS: [&dyn fedstack_core::stack::CloudDescription; 4] = [
    &fedstack_describe_gcp::GCP,
    &fedstack_describe_aws::AWS,
    &fedstack_describe_azure::AZURE,
    &fedstack_describe_sim::SIM,
];

// ----- keeping the paused clock honest ----------------------------------------------

/// The journal writer is a plain thread, invisible to tokio's paused clock: while a
/// step waits for its result to become durable the runtime looks idle, and the clock
/// would jump to the next timer. The gate holds the clock (a `spawn_blocking` task
/// inhibits auto-advance) whenever some step is in engine code rather than sleeping in
/// the provider or in a retry backoff, so timelines are exact.
#[derive(Default)]
struct Gate {
    /// Steps in flight by address: `true` while in engine code.
    busy: Mutex<HashMap<String, bool>>,
    idle: Condvar,
}

impl Gate {
    /// `Some(true)`: the step runs engine code; `Some(false)`: it sleeps; `None`: done.
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

    /// Forgets every step (an immediate stop abandons some).
    fn clear(&self) {
        self.busy.lock().expect("lock").clear();
        self.idle.notify_all();
    }
}

// ----- one ordered log of what the provider and the sink saw ------------------------

#[derive(Debug, Clone, PartialEq)]
enum Seen {
    /// A provider call started: (address, op).
    Start(String, &'static str),
    /// A provider call returned.
    End(String, &'static str),
    /// The sink made a batch durable.
    Batch(Vec<StateChange>),
}

/// What a test shares between its fakes, its sink and its events.
#[derive(Clone)]
struct World {
    t0: Instant,
    log: Arc<Mutex<Vec<Seen>>>,
    gate: Arc<Gate>,
}

impl World {
    fn new() -> World {
        World {
            t0: Instant::now(),
            log: Arc::default(),
            gate: Arc::default(),
        }
    }

    fn ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    fn seen(&self, s: Seen) {
        self.log.lock().expect("lock").push(s);
    }
}

// ----- the fake provider ------------------------------------------------------------

/// One provider call that returned (throttled attempts are only counted).
#[derive(Debug, Clone, PartialEq)]
struct Call {
    address: String,
    op: &'static str,
    start: u64,
    end: u64,
    attrs: Values,
}

struct Fake {
    cloud: String,
    world: World,
    /// Marks the ids it hands out (`a@1`), to tell runs apart.
    tag: String,
    latency: HashMap<String, Duration>,
    /// Calls for these addresses fail with this class (every op but read).
    fail: HashMap<String, ErrorClass>,
    /// Failed creates of these addresses leave an object behind (read finds it).
    leaves: Vec<String>,
    /// Remaining `Throttled` answers per address (each asks to wait 10ms).
    throttle: Mutex<HashMap<String, u32>>,
    calls: Mutex<Vec<Call>>,
    /// Attempts per (address, op), throttled ones included.
    attempts: Mutex<HashMap<(String, &'static str), u32>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Fake {
    fn new(cloud: &str, world: &World) -> Fake {
        Fake {
            cloud: cloud.to_string(),
            world: world.clone(),
            tag: "1".into(),
            latency: HashMap::new(),
            fail: HashMap::new(),
            leaves: Vec::new(),
            throttle: Mutex::new(HashMap::new()),
            calls: Mutex::new(Vec::new()),
            attempts: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    fn tag(mut self, tag: &str) -> Fake {
        self.tag = tag.to_string();
        self
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

    fn leaving_behind(mut self, address: &str) -> Fake {
        self.leaves.push(address.to_string());
        self
    }

    fn throttled(self, address: &str, times: u32) -> Fake {
        self.throttle
            .lock()
            .expect("lock")
            .insert(address.to_string(), times);
        self
    }

    fn shared(self) -> Arc<Fake> {
        Arc::new(self)
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

    fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    fn observed(&self, spec: &ResourceSpec) -> Observed {
        let mut outputs = Values::new();
        outputs.insert(
            "id".into(),
            json!(format!("{}@{}", spec.cloud_name, self.tag)),
        );
        Observed {
            attrs: spec.attrs.clone(),
            outputs,
            secrets: BTreeMap::new(),
            status: ResourceStatus::Ready,
        }
    }

    /// One call: count it, maybe throttle at once, else take the latency (1s unless
    /// set), then succeed or fail.
    async fn call(&self, spec: &ResourceSpec, op: &'static str) -> Result<Observed, ProviderError> {
        let address = spec.address.to_string();
        *self
            .attempts
            .lock()
            .expect("lock")
            .entry((address.clone(), op))
            .or_default() += 1;
        self.world.gate.set(&address, Some(false));
        let throttled = {
            let mut t = self.throttle.lock().expect("lock");
            match t.get_mut(&address).filter(|n| **n > 0) {
                Some(n) => {
                    *n -= 1;
                    true
                }
                None => false,
            }
        };
        if throttled {
            self.world.gate.set(&address, Some(true));
            let mut e = ProviderError::new(ErrorClass::Throttled, "Rate exceeded");
            e.retry_after = Some(Duration::from_millis(10));
            return Err(e);
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let start = self.world.ms();
        self.world.seen(Seen::Start(address.clone(), op));
        let latency = self
            .latency
            .get(&address)
            .copied()
            .unwrap_or(Duration::from_secs(1));
        tokio::time::sleep(latency).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.world.seen(Seen::End(address.clone(), op));
        self.calls.lock().expect("lock").push(Call {
            address: address.clone(),
            op,
            start,
            end: self.world.ms(),
            attrs: spec.attrs.clone(),
        });
        self.world.gate.set(&address, Some(true));
        match self.fail.get(&address) {
            Some(class) => Err(ProviderError::new(*class, format!("{op} {address} failed"))),
            None => Ok(self.observed(spec)),
        }
    }
}

/// The provider as the engine holds it: a handle on the test's fake.
struct Handle(Arc<Fake>);

#[async_trait]
impl Provider for Handle {
    fn provider_type(&self) -> &'static str {
        "fake"
    }

    /// Only asked after a failed create: did it leave something behind?
    async fn read(&self, spec: &ResourceSpec) -> Result<Option<Observed>, ProviderError> {
        let left = self.0.leaves.contains(&spec.address.to_string());
        Ok(left.then(|| self.0.observed(spec)))
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

// ----- the fake sink and events -----------------------------------------------------

/// Records every batch (in the world's log and on its own) onto a snapshot.
struct Sink {
    world: World,
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
        self.world.seen(Seen::Batch(changes.clone()));
        self.batches
            .lock()
            .map_err(|e| e.to_string())?
            .push(changes);
        Ok(state.serial)
    }
}

/// Collects events and tells the gate where each step is.
struct Events {
    world: World,
    events: Mutex<Vec<Event>>,
}

impl EventSink for Events {
    fn emit(&self, event: Event) {
        match &event {
            Event::StepStart { address, .. } => {
                self.world.gate.set(&address.to_string(), Some(true))
            }
            Event::StepRetry { address, .. } => {
                self.world.gate.set(&address.to_string(), Some(false))
            }
            Event::StepDone { address, .. } | Event::StepFailed { address, .. } => {
                self.world.gate.set(&address.to_string(), None)
            }
            _ => {}
        }
        self.events.lock().expect("lock").push(event);
    }
}

// ----- plans and runs ---------------------------------------------------------------

fn stack(yaml: &str) -> DesiredStack {
    match load_stack(
        "test.yaml",
        yaml,
        fedstack_core::stack::Clouds::new(&CLOUDS),
    ) {
        Ok(s) => s,
        Err(e) => panic!("the test stack should load:\n{e}"),
    }
}

fn plan_with(desired: &DesiredStack, state: &StateSnapshot, opts: &PlanOptions) -> Plan {
    make_plan(desired, state, &Observations::new(), opts).expect("plans")
}

fn plan(desired: &DesiredStack, state: &StateSnapshot) -> Plan {
    plan_with(desired, state, &PlanOptions::default())
}

fn empty() -> StateSnapshot {
    StateSnapshot::new("t", "lineage".into())
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

fn addr(s: &str) -> Address {
    s.parse().expect("valid address")
}

struct Run {
    report: ApplyReport,
    log: Vec<Seen>,
    batches: Vec<Vec<StateChange>>,
    state: StateSnapshot,
    events: Vec<Event>,
}

impl Run {
    /// The log as short lines: `intent data.a`, `start data.a create`, `put data.a`...
    fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.log {
            match s {
                Seen::Start(a, op) => out.push(format!("start {a} {op}")),
                Seen::End(a, op) => out.push(format!("end {a} {op}")),
                Seen::Batch(b) => out.extend(b.iter().map(change_line)),
            }
        }
        out
    }

    fn position(&self, line: &str) -> usize {
        let lines = self.lines();
        lines
            .iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("`{line}` not in {lines:#?}"))
    }
}

fn change_line(c: &StateChange) -> String {
    match c {
        StateChange::Put(r) => format!("put {}", r.address),
        StateChange::Remove { address } => format!("remove {address}"),
        StateChange::Intent(i) => format!("intent {}", i.address),
        StateChange::ClearIntent { address } => format!("clear {address}"),
        other => format!("other {}", other.address()),
    }
}

async fn run_with(
    world: &World,
    plan: &Plan,
    state: &StateSnapshot,
    fakes: &[&Arc<Fake>],
    settings: &EngineSettings,
    stop: &StopSignal,
) -> Run {
    let batches = Arc::new(Mutex::new(Vec::new()));
    let after = Arc::new(Mutex::new(state.clone()));
    let sink = Box::new(Sink {
        world: world.clone(),
        batches: batches.clone(),
        state: after.clone(),
    });
    let events = Arc::new(Events {
        world: world.clone(),
        events: Mutex::new(Vec::new()),
    });
    let providers: HashMap<String, SharedProvider> = fakes
        .iter()
        .map(|f| {
            (
                f.cloud.clone(),
                Arc::new(Handle((*f).clone())) as SharedProvider,
            )
        })
        .collect();
    let (report, _sink) = apply(
        plan,
        state,
        sink,
        &providers,
        settings,
        events.clone(),
        stop,
    )
    .await;
    world.gate.clear();
    let log = world.log.lock().expect("lock").clone();
    let batches = batches.lock().expect("lock").clone();
    let state = after.lock().expect("lock").clone();
    let events = events.events.lock().expect("lock").clone();
    Run {
        report,
        log,
        batches,
        state,
        events,
    }
}

async fn run(world: &World, plan: &Plan, state: &StateSnapshot, fake: &Arc<Fake>) -> Run {
    run_with(
        world,
        plan,
        state,
        &[fake],
        &settings(),
        &StopSignal::default(),
    )
    .await
}

/// Applies a stack from scratch on a fake cloud `fake` (ids tagged `1`) and returns
/// the state it leaves.
async fn converge(yaml: &str) -> StateSnapshot {
    let world = World::new();
    let fake = Fake::new("fake", &world).shared();
    let r = run(&world, &plan(&stack(yaml), &empty()), &empty(), &fake).await;
    assert!(r.report.ok(), "{:?}", r.report);
    r.state
}

type Row = (String, &'static str, u64, u64);

/// Calls sorted by start time, then address.
fn timeline(calls: &[Call]) -> Vec<Row> {
    let mut t: Vec<Row> = calls
        .iter()
        .map(|c| (c.address.clone(), c.op, c.start, c.end))
        .collect();
    t.sort_by(|a, b| (a.2, &a.0, a.3).cmp(&(b.2, &b.0, b.3)));
    t
}

fn row(a: &str, op: &'static str, start: u64, end: u64) -> Row {
    (a.to_string(), op, start, end)
}

/// Every provider create comes after a durable intent for it.
#[track_caller]
fn assert_intent_before_each_create(r: &Run) {
    let lines = r.lines();
    for (i, l) in lines.iter().enumerate() {
        if let Some(a) = l
            .strip_prefix("start ")
            .and_then(|l| l.strip_suffix(" create"))
        {
            let intent = format!("intent {a}");
            assert!(
                lines[..i].contains(&intent),
                "{l} without a durable intent before it: {lines:#?}"
            );
        }
    }
}

fn attrs_of(calls: &[Call], address: &str, op: &str) -> Values {
    calls
        .iter()
        .find(|c| c.address == address && c.op == op)
        .map(|c| c.attrs.clone())
        .unwrap_or_else(|| panic!("no {op} of {address} in {calls:#?}"))
}

fn values(v: Value) -> Values {
    match v {
        Value::Object(m) => m.into_iter().collect(),
        other => panic!("not an object: {other}"),
    }
}

// ----- scheduling -------------------------------------------------------------------

const TWO_CHAINS: &str = "
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
async fn a_step_starts_when_its_own_dependencies_finish_not_its_level() {
    let world = World::new();
    let fake = Fake::new("fake", &world).latency("data.b", 5).shared();
    let p = plan(&stack(TWO_CHAINS), &empty());
    let r = run(&world, &p, &empty(), &fake).await;
    assert!(r.report.ok(), "{:?}", r.report);
    assert_eq!(
        timeline(&fake.calls()),
        vec![
            row("data.a", "create", 0, 1000),
            row("data.b", "create", 0, 5000),
            // Right after a, not after the slowest of its level.
            row("data.c", "create", 1000, 2000),
            row("data.d", "create", 5000, 6000),
        ]
    );
    assert_eq!(
        r.report.counts,
        Counts {
            added: 4,
            ..Counts::default()
        }
    );
    assert_eq!(r.state.resources.len(), 4);
    assert!(r.state.intents.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_diamond_runs_each_branch_at_its_own_pace() {
    let yaml = "
name: t
clouds:
  fake: { provider: sim }
data:
  a: { cloud: fake }
  b: { cloud: fake, depends_on: [data.a] }
  c: { cloud: fake, depends_on: [data.a] }
  d: { cloud: fake, depends_on: [data.b, data.c] }
  e: { cloud: fake, depends_on: [data.b] }
";
    let world = World::new();
    let fake = Fake::new("fake", &world).latency("data.c", 3).shared();
    let r = run(&world, &plan(&stack(yaml), &empty()), &empty(), &fake).await;
    assert!(r.report.ok(), "{:?}", r.report);
    assert_eq!(
        timeline(&fake.calls()),
        vec![
            row("data.a", "create", 0, 1000),
            row("data.b", "create", 1000, 2000),
            row("data.c", "create", 1000, 4000),
            row("data.e", "create", 2000, 3000),
            row("data.d", "create", 4000, 5000),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn parallelism_caps_the_calls_in_flight() {
    let yaml = "
name: t
clouds:
  fake: { provider: sim }
data:
  a: { cloud: fake }
  b: { cloud: fake }
  c: { cloud: fake }
  d: { cloud: fake }
  e: { cloud: fake }
";
    let world = World::new();
    let fake = Fake::new("fake", &world).shared();
    let p = plan(&stack(yaml), &empty());
    let s = EngineSettings {
        parallelism: 2,
        ..settings()
    };
    let r = run_with(&world, &p, &empty(), &[&fake], &s, &StopSignal::default()).await;
    assert!(r.report.ok(), "{:?}", r.report);
    assert_eq!(fake.max_in_flight(), 2);
    // Equal heights run in plan order.
    let order: Vec<String> = p.changes.iter().map(|c| c.address.to_string()).collect();
    let mut want = vec![
        row(&order[0], "create", 0, 1000),
        row(&order[1], "create", 0, 1000),
        row(&order[2], "create", 1000, 2000),
        row(&order[3], "create", 1000, 2000),
        row(&order[4], "create", 2000, 3000),
    ];
    want.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
    assert_eq!(timeline(&fake.calls()), want);
}

#[tokio::test(start_paused = true)]
async fn the_longest_chain_starts_first() {
    let yaml = "
name: t
clouds:
  fake: { provider: sim }
data:
  x: { cloud: fake }
  a: { cloud: fake }
  b: { cloud: fake, depends_on: [data.a] }
  c: { cloud: fake, depends_on: [data.b] }
";
    let world = World::new();
    let fake = Fake::new("fake", &world).shared();
    let s = EngineSettings {
        parallelism: 1,
        ..settings()
    };
    let p = plan(&stack(yaml), &empty());
    let r = run_with(&world, &p, &empty(), &[&fake], &s, &StopSignal::default()).await;
    assert!(r.report.ok(), "{:?}", r.report);
    // a heads a chain of three and goes first although x is declared first; then b
    // (height 1) before x (height 0).
    let pos = |a: &str| p.changes.iter().position(|c| c.address.to_string() == a);
    let (first, second) = if pos("data.c") < pos("data.x") {
        ("data.c", "data.x")
    } else {
        ("data.x", "data.c")
    };
    assert_eq!(
        timeline(&fake.calls()),
        vec![
            row("data.a", "create", 0, 1000),
            row("data.b", "create", 1000, 2000),
            row(first, "create", 2000, 3000),
            row(second, "create", 3000, 4000),
        ]
    );
    assert_eq!(fake.max_in_flight(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_cloud_limit_parks_only_that_clouds_steps() {
    let yaml = "
name: t
clouds:
  slow: { provider: sim }
  quick: { provider: sim }
data:
  s1: { cloud: slow }
  s2: { cloud: slow }
  s3: { cloud: slow }
  q1: { cloud: quick }
  q2: { cloud: quick }
  q3: { cloud: quick }
";
    let world = World::new();
    let slow = Fake::new("slow", &world).shared();
    let quick = Fake::new("quick", &world).shared();
    let s = EngineSettings {
        cloud_limits: HashMap::from([("slow".to_string(), 1)]),
        ..settings()
    };
    let p = plan(&stack(yaml), &empty());
    let r = run_with(
        &world,
        &p,
        &empty(),
        &[&slow, &quick],
        &s,
        &StopSignal::default(),
    )
    .await;
    assert!(r.report.ok(), "{:?}", r.report);
    assert_eq!(
        timeline(&quick.calls()),
        vec![
            row("data.q1", "create", 0, 1000),
            row("data.q2", "create", 0, 1000),
            row("data.q3", "create", 0, 1000),
        ]
    );
    assert_eq!(slow.max_in_flight(), 1);
    let slow_order: Vec<String> = p
        .changes
        .iter()
        .filter(|c| c.cloud.as_deref() == Some("slow"))
        .map(|c| c.address.to_string())
        .collect();
    assert_eq!(
        timeline(&slow.calls()),
        vec![
            row(&slow_order[0], "create", 0, 1000),
            row(&slow_order[1], "create", 1000, 2000),
            row(&slow_order[2], "create", 2000, 3000),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_cloud_limit_of_zero_runs_one_at_a_time() {
    let world = World::new();
    let fake = Fake::new("fake", &world).shared();
    let s = EngineSettings {
        cloud_limits: HashMap::from([("fake".to_string(), 0)]),
        ..settings()
    };
    let p = plan(&stack(TWO_CHAINS), &empty());
    let r = run_with(&world, &p, &empty(), &[&fake], &s, &StopSignal::default()).await;
    assert!(r.report.ok(), "{:?}", r.report);
    assert!(r.report.not_started.is_empty(), "{:?}", r.report);
    assert_eq!(fake.max_in_flight(), 1);
    let ends: Vec<u64> = timeline(&fake.calls()).iter().map(|r| r.3).collect();
    assert_eq!(ends, vec![1000, 2000, 3000, 4000]);
}

// ----- durability -------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn intent_is_durable_before_create_and_put_before_dependents() {
    let yaml = r#"
name: t
clouds:
  fake: { provider: sim }
data:
  a: { cloud: fake, values: { x: hello } }
  b: { cloud: fake, values: { v: "${data.a.id}", w: "pre-${data.a.x}" } }
"#;
    let world = World::new();
    let fake = Fake::new("fake", &world).shared();
    let r = run(&world, &plan(&stack(yaml), &empty()), &empty(), &fake).await;
    assert!(r.report.ok(), "{:?}", r.report);
    assert_eq!(
        r.lines(),
        vec![
            "intent data.a",
            "start data.a create",
            "end data.a create",
            "put data.a",
            "intent data.b",
            "start data.b create",
            "end data.b create",
            "put data.b",
        ]
    );
    assert_eq!(r.batches.len(), 4, "one durable write per result");
    // The intent names the cloud-side name and carries the resolved attributes.
    let StateChange::Intent(Intent {
        operation,
        cloud,
        cloud_name,
        attrs,
        depends_on,
        ..
    }) = &r.batches[2][0]
    else {
        panic!("expected an intent, got {:?}", r.batches[2]);
    };
    assert_eq!(*operation, IntentOperation::Create);
    assert_eq!(cloud.as_deref(), Some("fake"));
    assert_eq!(cloud_name, "b");
    assert_eq!(*attrs, values(json!({"v": "a@1", "w": "pre-hello"})));
    assert_eq!(*depends_on, vec![addr("data.a")]);
    // b saw a's id as produced earlier in this run.
    assert_eq!(
        attrs_of(&fake.calls(), "data.b", "create"),
        values(json!({"v": "a@1", "w": "pre-hello"}))
    );
    let b = &r.state.resources[&addr("data.b")];
    assert_eq!(
        *b,
        ResourceState {
            address: addr("data.b"),
            cloud: Some("fake".into()),
            cloud_name: "b".into(),
            attrs: values(json!({"v": "a@1", "w": "pre-hello"})),
            outputs: values(json!({"id": "b@1"})),
            sensitive: BTreeMap::new(),
            depends_on: vec![addr("data.a")],
        }
    );
}

#[tokio::test(start_paused = true)]
async fn parallel_creates_each_have_their_intent_first() {
    let world = World::new();
    let fake = Fake::new("fake", &world).latency("data.b", 2).shared();
    let r = run(&world, &plan(&stack(TWO_CHAINS), &empty()), &empty(), &fake).await;
    assert!(r.report.ok(), "{:?}", r.report);
    assert_intent_before_each_create(&r);
    assert!(r.position("put data.a") < r.position("start data.c create"));
    assert!(r.position("put data.b") < r.position("start data.d create"));
    assert!(r.position("start data.c create") < r.position("end data.b create"));
}

// ----- failures and retries ---------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_failure_stops_only_its_dependents() {
    let yaml = "
name: t
clouds:
  fake: { provider: sim }
data:
  a: { cloud: fake }
  b: { cloud: fake, depends_on: [data.a] }
  c: { cloud: fake, depends_on: [data.b] }
  x: { cloud: fake }
  y: { cloud: fake, depends_on: [data.x] }
";
    let world = World::new();
    let fake = Fake::new("fake", &world)
        .failing("data.a", ErrorClass::Permanent)
        .shared();
    let r = run(&world, &plan(&stack(yaml), &empty()), &empty(), &fake).await;
    assert!(!r.report.ok());
    assert_eq!(
        r.report.failures,
        vec![StepFailure {
            address: addr("data.a"),
            action: StepAction::Create,
            error: "create data.a failed".into(),
        }]
    );
    assert_eq!(
        r.report.skipped,
        vec![
            (addr("data.b"), addr("data.a")),
            (addr("data.c"), addr("data.a")),
        ]
    );
    assert!(r.report.not_started.is_empty());
    assert!(!r.report.interrupted);
    assert_eq!(
        r.report.counts,
        Counts {
            added: 2,
            ..Counts::default()
        }
    );
    assert_eq!(
        timeline(&fake.calls()),
        vec![
            row("data.a", "create", 0, 1000),
            row("data.x", "create", 0, 1000),
            row("data.y", "create", 1000, 2000),
        ]
    );
    // Nothing was left behind, so the intent is cleared.
    let a: Vec<String> = r
        .lines()
        .into_iter()
        .filter(|l| l.ends_with(" data.a") || l.contains(" data.a "))
        .collect();
    assert_eq!(
        a,
        vec![
            "intent data.a",
            "start data.a create",
            "end data.a create",
            "clear data.a",
        ]
    );
    assert_eq!(
        r.state.resources.keys().cloned().collect::<Vec<_>>(),
        vec![addr("data.x"), addr("data.y")]
    );
    assert!(r.state.intents.is_empty());
    let skipped: Vec<(Address, Address)> = r
        .events
        .iter()
        .filter_map(|e| match e {
            Event::StepSkipped {
                address,
                blocked_by,
                ..
            } => Some((address.clone(), blocked_by.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(skipped, r.report.skipped);
}

#[tokio::test(start_paused = true)]
async fn a_failed_create_that_left_something_keeps_its_intent() {
    let world = World::new();
    let fake = Fake::new("fake", &world)
        .failing("data.a", ErrorClass::Transient)
        .leaving_behind("data.a")
        .shared();
    let p = plan(&stack(TWO_CHAINS), &empty());
    let s = EngineSettings {
        retry: RetryPolicy {
            max_attempts: 1,
            ..settings().retry
        },
        ..settings()
    };
    let r = run_with(&world, &p, &empty(), &[&fake], &s, &StopSignal::default()).await;
    assert_eq!(
        r.report.failures,
        vec![StepFailure {
            address: addr("data.a"),
            action: StepAction::Create,
            error: "create data.a failed (gave up after 1 attempts)".into(),
        }]
    );
    assert_eq!(r.report.skipped, vec![(addr("data.c"), addr("data.a"))]);
    assert!(!r.lines().contains(&"clear data.a".to_string()));
    // The next plan finds it by name and adopts it.
    assert_eq!(
        r.state.intents.keys().cloned().collect::<Vec<_>>(),
        vec![addr("data.a")]
    );
    assert!(!r.state.resources.contains_key(&addr("data.a")));
}

#[tokio::test(start_paused = true)]
async fn throttling_is_retried_and_permanent_errors_are_not() {
    let yaml = "
name: t
clouds:
  fake: { provider: sim }
data:
  a: { cloud: fake }
  b: { cloud: fake }
  c: { cloud: fake }
";
    let world = World::new();
    let fake = Fake::new("fake", &world)
        .throttled("data.a", 2)
        .failing("data.b", ErrorClass::Invalid)
        .throttled("data.c", 100)
        .shared();
    let r = run(&world, &plan(&stack(yaml), &empty()), &empty(), &fake).await;
    assert_eq!(fake.attempts("data.a", "create"), 3);
    assert_eq!(fake.attempts("data.b", "create"), 1);
    assert_eq!(fake.attempts("data.c", "create"), 4, "max_attempts");
    // Two waits of the 10ms the cloud asked for, then the real call.
    assert_eq!(
        timeline(&fake.calls()),
        vec![
            row("data.b", "create", 0, 1000),
            row("data.a", "create", 20, 1020),
        ]
    );
    let mut failures = r.report.failures.clone();
    failures.sort_by(|x, y| x.address.cmp(&y.address));
    assert_eq!(
        failures,
        vec![
            StepFailure {
                address: addr("data.b"),
                action: StepAction::Create,
                error: "create data.b failed".into(),
            },
            StepFailure {
                address: addr("data.c"),
                action: StepAction::Create,
                error: "Rate exceeded (gave up after 4 attempts)".into(),
            },
        ]
    );
    let retries: Vec<(String, u32, u64)> = r
        .events
        .iter()
        .filter_map(|e| match e {
            Event::StepRetry {
                address,
                attempt,
                delay_ms,
                ..
            } => Some((address.to_string(), *attempt, *delay_ms)),
            _ => None,
        })
        .filter(|(a, ..)| a == "data.a")
        .collect();
    assert_eq!(
        retries,
        vec![("data.a".to_string(), 1, 10), ("data.a".to_string(), 2, 10)]
    );
    assert_eq!(
        r.state.resources.keys().cloned().collect::<Vec<_>>(),
        vec![addr("data.a")]
    );
}

// ----- replace, delete, update ordering ---------------------------------------------

const REPLACE_V1: &str = r#"
name: t
clouds:
  fake: { provider: sim }
data:
  a: { cloud: fake, values: { replace_triggers: 1 } }
  b: { cloud: fake, values: { ref: "${data.a.id}" } }
  c: { cloud: fake, depends_on: [data.a] }
"#;

#[tokio::test(start_paused = true)]
async fn replace_deletes_dependents_first_and_creates_them_after() {
    let state = converge(REPLACE_V1).await;
    let v2 = REPLACE_V1.replace("replace_triggers: 1", "replace_triggers: 2");
    let p = plan(&stack(&v2), &state);
    let actions: Vec<(String, Action)> = p
        .changes
        .iter()
        .map(|c| (c.address.to_string(), c.action))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("data.a".to_string(), Action::Replace),
            ("data.b".to_string(), Action::Replace),
            ("data.c".to_string(), Action::NoOp),
        ]
    );
    let world = World::new();
    let fake = Fake::new("fake", &world).tag("2").shared();
    let r = run(&world, &p, &state, &fake).await;
    assert!(r.report.ok(), "{:?}", r.report);
    assert_eq!(
        timeline(&fake.calls()),
        vec![
            row("data.b", "delete", 0, 1000),
            row("data.a", "delete", 1000, 2000),
            row("data.a", "create", 2000, 3000),
            row("data.b", "create", 3000, 4000),
        ]
    );
    assert_eq!(
        r.lines(),
        vec![
            "start data.b delete",
            "end data.b delete",
            "remove data.b",
            "start data.a delete",
            "end data.a delete",
            "remove data.a",
            "intent data.a",
            "start data.a create",
            "end data.a create",
            "put data.a",
            "intent data.b",
            "start data.b create",
            "end data.b create",
            "put data.b",
        ]
    );
    // The delete sees what the state recorded; the create the new id of a.
    assert_eq!(
        attrs_of(&fake.calls(), "data.b", "delete"),
        values(json!({"ref": "a@1"}))
    );
    assert_eq!(
        attrs_of(&fake.calls(), "data.b", "create"),
        values(json!({"ref": "a@2"}))
    );
    assert_eq!(
        r.report.counts,
        Counts {
            added: 2,
            destroyed: 2,
            ..Counts::default()
        }
    );
    assert_eq!(
        r.state.resources[&addr("data.b")].attrs,
        values(json!({"ref": "a@2"}))
    );
}

#[tokio::test(start_paused = true)]
async fn destroy_deletes_dependents_first() {
    let yaml = "
name: t
clouds:
  fake: { provider: sim }
data:
  a: { cloud: fake }
  b: { cloud: fake, depends_on: [data.a] }
  c: { cloud: fake, depends_on: [data.b] }
  x: { cloud: fake }
";
    let state = converge(yaml).await;
    let p = plan_with(
        &stack(yaml),
        &state,
        &PlanOptions {
            destroy: true,
            ..PlanOptions::default()
        },
    );
    let world = World::new();
    let fake = Fake::new("fake", &world).shared();
    let r = run(&world, &p, &state, &fake).await;
    assert!(r.report.ok(), "{:?}", r.report);
    assert_eq!(
        timeline(&fake.calls()),
        vec![
            row("data.c", "delete", 0, 1000),
            row("data.x", "delete", 0, 1000),
            row("data.b", "delete", 1000, 2000),
            row("data.a", "delete", 2000, 3000),
        ]
    );
    assert!(r.position("remove data.c") < r.position("start data.b delete"));
    assert!(r.position("remove data.b") < r.position("start data.a delete"));
    assert_eq!(
        r.report.counts,
        Counts {
            destroyed: 4,
            ..Counts::default()
        }
    );
    assert!(r.state.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_update_that_drops_a_dependency_runs_before_that_delete() {
    let v1 = r#"
name: t
clouds:
  fake: { provider: sim }
data:
  x: { cloud: fake }
  b: { cloud: fake, values: { v: "${data.x.id}" } }
"#;
    let v2 = r#"
name: t
clouds:
  fake: { provider: sim }
data:
  b: { cloud: fake, values: { v: fixed } }
"#;
    let state = converge(v1).await;
    let p = plan(&stack(v2), &state);
    let actions: Vec<(String, Action)> = p
        .changes
        .iter()
        .map(|c| (c.address.to_string(), c.action))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("data.b".to_string(), Action::Update),
            ("data.x".to_string(), Action::Delete),
        ]
    );
    let world = World::new();
    let fake = Fake::new("fake", &world).shared();
    let r = run(&world, &p, &state, &fake).await;
    assert!(r.report.ok(), "{:?}", r.report);
    assert_eq!(
        timeline(&fake.calls()),
        vec![
            row("data.b", "update", 0, 1000),
            row("data.x", "delete", 1000, 2000),
        ]
    );
    assert!(r.position("put data.b") < r.position("start data.x delete"));
    assert_eq!(
        r.report.counts,
        Counts {
            changed: 1,
            destroyed: 1,
            ..Counts::default()
        }
    );
    assert_eq!(
        r.state.resources.keys().cloned().collect::<Vec<_>>(),
        vec![addr("data.b")]
    );
    assert!(r.state.resources[&addr("data.b")].depends_on.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_update_that_must_wait_for_a_replacement_does_not_deadlock_its_delete() {
    // a stops referring to d but now waits for e, which refers to d, which is replaced:
    // a's update cannot run before d's delete, so d's delete must not wait for it.
    let v1 = r#"
name: t
clouds:
  fake: { provider: sim }
data:
  d: { cloud: fake, values: { replace_triggers: 1 } }
  e: { cloud: fake, values: { x: 1 } }
  a: { cloud: fake, values: { v: "${data.d.id}" } }
"#;
    let v2 = r#"
name: t
clouds:
  fake: { provider: sim }
data:
  d: { cloud: fake, values: { replace_triggers: 2 } }
  e: { cloud: fake, values: { r: "${data.d.id}" } }
  a: { cloud: fake, depends_on: [data.e], values: { v: fixed } }
"#;
    let state = converge(v1).await;
    let p = plan(&stack(v2), &state);
    let mut actions: Vec<(String, Action)> = p
        .changes
        .iter()
        .map(|c| (c.address.to_string(), c.action))
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        vec![
            ("data.a".to_string(), Action::Update),
            ("data.d".to_string(), Action::Replace),
            ("data.e".to_string(), Action::Replace),
        ]
    );
    let world = World::new();
    let fake = Fake::new("fake", &world).tag("2").shared();
    let r = run(&world, &p, &state, &fake).await;
    assert!(r.report.ok(), "{:?}", r.report);
    assert!(r.report.not_started.is_empty());
    assert_eq!(
        timeline(&fake.calls()),
        vec![
            row("data.d", "delete", 0, 1000),
            row("data.e", "delete", 0, 1000),
            row("data.d", "create", 1000, 2000),
            row("data.e", "create", 2000, 3000),
            row("data.a", "update", 3000, 4000),
        ]
    );
    assert_eq!(
        attrs_of(&fake.calls(), "data.e", "create"),
        values(json!({"r": "d@2"}))
    );
}

#[tokio::test(start_paused = true)]
async fn references_to_untouched_resources_take_the_recorded_value() {
    let v1 = "
name: t
clouds:
  fake: { provider: sim }
data:
  a: { cloud: fake, values: { x: hello } }
";
    let v2 = r#"
name: t
clouds:
  fake: { provider: sim }
data:
  a: { cloud: fake, values: { x: hello } }
  b: { cloud: fake, values: { r: "${data.a.id}", w: "${data.a.x}!" } }
"#;
    let state = converge(v1).await;
    let p = plan(&stack(v2), &state);
    assert_eq!(p.changes[0].action, Action::NoOp);
    assert_eq!(p.changes[1].action, Action::Create);
    let world = World::new();
    let fake = Fake::new("fake", &world).tag("2").shared();
    let r = run(&world, &p, &state, &fake).await;
    assert!(r.report.ok(), "{:?}", r.report);
    assert_eq!(
        timeline(&fake.calls()),
        vec![row("data.b", "create", 0, 1000)]
    );
    assert_eq!(
        attrs_of(&fake.calls(), "data.b", "create"),
        values(json!({"r": "a@1", "w": "hello!"}))
    );
}

#[tokio::test(start_paused = true)]
async fn a_resource_moving_clouds_is_deleted_from_the_old_one() {
    let v1 = "
name: t
clouds:
  fake: { provider: sim }
  other: { provider: sim }
data:
  a: { cloud: fake }
";
    let state = converge(v1).await;
    let v2 = v1.replace("a: { cloud: fake }", "a: { cloud: other }");
    let p = plan(&stack(&v2), &state);
    assert_eq!(p.changes[0].action, Action::Replace);
    assert_eq!(p.changes[0].reasons, vec!["moves from cloud fake to other"]);
    let world = World::new();
    let old = Fake::new("fake", &world).shared();
    let new = Fake::new("other", &world).shared();
    let r = run_with(
        &world,
        &p,
        &state,
        &[&old, &new],
        &settings(),
        &StopSignal::default(),
    )
    .await;
    assert!(r.report.ok(), "{:?}", r.report);
    assert_eq!(
        timeline(&old.calls()),
        vec![row("data.a", "delete", 0, 1000)]
    );
    assert_eq!(
        timeline(&new.calls()),
        vec![row("data.a", "create", 1000, 2000)]
    );
    assert_eq!(
        r.state.resources[&addr("data.a")].cloud.as_deref(),
        Some("other")
    );
}

// ----- adopt and forget -------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn adopt_waits_for_the_object_and_forget_calls_nothing() {
    let yaml = "
name: t
clouds:
  fake: { provider: sim }
data:
  a: { cloud: fake, values: { v: 1 } }
";
    let mut state = empty();
    state.serial = 2;
    state.intents.insert(
        addr("data.a"),
        Intent {
            address: addr("data.a"),
            operation: IntentOperation::Create,
            cloud: Some("fake".into()),
            cloud_name: "a".into(),
            attrs: values(json!({"v": 1})),
            depends_on: vec![],
            started_at: 0,
        },
    );
    state.resources.insert(
        addr("data.gone"),
        ResourceState {
            address: addr("data.gone"),
            cloud: Some("fake".into()),
            cloud_name: "gone".into(),
            attrs: Values::new(),
            outputs: Values::new(),
            sensitive: BTreeMap::new(),
            depends_on: vec![],
        },
    );
    let observed: Observations = [
        (
            addr("data.a"),
            Observation::Present(ObservedResource {
                attrs: values(json!({"v": 1})),
                outputs: values(json!({"id": "a@0"})),
                sensitive: BTreeMap::new(),
                condition: Condition::Pending("PROVISIONING".into()),
            }),
        ),
        (addr("data.gone"), Observation::Absent),
    ]
    .into();
    let p = make_plan(&stack(yaml), &state, &observed, &PlanOptions::default()).expect("plans");
    let actions: Vec<(String, Action)> = p
        .changes
        .iter()
        .map(|c| (c.address.to_string(), c.action))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("data.a".to_string(), Action::Adopt),
            ("data.gone".to_string(), Action::Forget),
        ]
    );
    let world = World::new();
    let fake = Fake::new("fake", &world).shared();
    let r = run(&world, &p, &state, &fake).await;
    assert!(r.report.ok(), "{:?}", r.report);
    // Attributes already match: no update after the wait.
    assert_eq!(
        timeline(&fake.calls()),
        vec![row("data.a", "wait_ready", 0, 1000)]
    );
    let mut lines = r.lines();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "end data.a wait_ready",
            "put data.a",
            "remove data.gone",
            "start data.a wait_ready",
        ]
    );
    assert_eq!(
        r.report.counts,
        Counts {
            adopted: 1,
            forgotten: 1,
            ..Counts::default()
        }
    );
    assert!(r.state.intents.is_empty());
    assert_eq!(
        r.state.resources.keys().cloned().collect::<Vec<_>>(),
        vec![addr("data.a")]
    );
}

// ----- interruption -----------------------------------------------------------------

const STOPPABLE: &str = "
name: t
clouds:
  fake: { provider: sim }
data:
  a: { cloud: fake }
  b: { cloud: fake }
  c: { cloud: fake, depends_on: [data.a] }
";

#[tokio::test(start_paused = true)]
async fn graceful_stop_lets_calls_in_flight_finish_and_starts_nothing() {
    let world = World::new();
    let fake = Fake::new("fake", &world).latency("data.b", 3).shared();
    let p = plan(&stack(STOPPABLE), &empty());
    let stop = StopSignal::default();
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            stop.escalate()
        })
    };
    let r = run_with(&world, &p, &empty(), &[&fake], &settings(), &stop).await;
    assert_eq!(
        stopper.await.expect("stopper"),
        fedstack_engine::Stop::Graceful
    );
    assert_eq!(
        timeline(&fake.calls()),
        vec![
            row("data.a", "create", 0, 1000),
            row("data.b", "create", 0, 3000),
        ]
    );
    assert!(r.report.interrupted);
    assert!(!r.report.ok());
    assert!(r.report.failures.is_empty());
    assert!(r.report.skipped.is_empty());
    assert_eq!(r.report.not_started, vec![addr("data.c")]);
    assert_eq!(
        r.report.counts,
        Counts {
            added: 2,
            ..Counts::default()
        }
    );
    assert_eq!(
        r.state.resources.keys().cloned().collect::<Vec<_>>(),
        vec![addr("data.a"), addr("data.b")]
    );
    assert!(r.events.iter().any(|e| matches!(
        e,
        Event::StepNotStarted { address, action: StepAction::Create } if *address == addr("data.c")
    )));
}

#[tokio::test(start_paused = true)]
async fn graceful_stop_before_the_run_starts_nothing() {
    let world = World::new();
    let fake = Fake::new("fake", &world).shared();
    let p = plan(&stack(STOPPABLE), &empty());
    let stop = StopSignal::default();
    stop.escalate();
    let r = run_with(&world, &p, &empty(), &[&fake], &settings(), &stop).await;
    assert!(fake.calls().is_empty());
    assert!(r.batches.is_empty());
    assert!(r.report.interrupted);
    let mut not_started = r.report.not_started.clone();
    not_started.sort();
    assert_eq!(
        not_started,
        vec![addr("data.a"), addr("data.b"), addr("data.c")]
    );
}

#[tokio::test(start_paused = true)]
async fn immediate_stop_returns_at_once() {
    let world = World::new();
    let fake = Fake::new("fake", &world)
        .latency("data.a", 60)
        .latency("data.b", 60)
        .shared();
    let p = plan(&stack(STOPPABLE), &empty());
    let stop = StopSignal::default();
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            stop.escalate();
            tokio::time::sleep(Duration::from_millis(500)).await;
            stop.escalate();
        });
    }
    let r = run_with(&world, &p, &empty(), &[&fake], &settings(), &stop).await;
    assert_eq!(world.ms(), 1000, "returned when asked, not after the calls");
    assert!(fake.calls().is_empty(), "no call returned");
    assert!(r.report.interrupted);
    assert!(r.report.failures.is_empty());
    // The creates in flight keep their durable intents.
    let mut lines = r.lines();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "intent data.a",
            "intent data.b",
            "start data.a create",
            "start data.b create",
        ]
    );
    assert_eq!(
        r.state.intents.keys().cloned().collect::<Vec<_>>(),
        vec![addr("data.a"), addr("data.b")]
    );
    let mut abandoned = r.report.abandoned.clone();
    abandoned.sort();
    assert_eq!(abandoned, vec![addr("data.a"), addr("data.b")]);
    assert_eq!(r.report.not_started, vec![addr("data.c")]);
    assert!(r
        .events
        .iter()
        .any(|e| matches!(e, Event::Interrupt { level: "immediate" })));
}
