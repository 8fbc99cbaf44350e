//! Apply: run a plan's steps in parallel, each as soon as what it waits for is done.
//!
//! At most `--parallelism` operations run at once (and a cloud's `max_parallel`). Steps
//! whose provider gives the same [`batch_key`](fedstack_provider::Provider::batch_key)
//! count as *one* operation: the first ready step of a key takes the slot, and while
//! that group has a step in flight every further ready step of the key starts at once,
//! so the provider can merge their calls (1,000 Route 53 records in one request).

mod exec;

pub(crate) use exec::describe;
mod steps;

use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fedstack_core::address::Address;
use fedstack_core::plan::{Plan, PlanMode};
use fedstack_core::state::StateSnapshot;
use tokio::task::JoinSet;

use crate::events::{Counts, Event, EventSink, StepAction};
use crate::journal::{Journal, StateSink};
use crate::settings::{EngineSettings, Providers, Stop, StopSignal};
use exec::{Outcome, StepContext};
use steps::StepGraph;

/// One step that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure {
    pub address: Address,
    pub action: StepAction,
    pub error: String,
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub counts: Counts,
    pub failures: Vec<StepFailure>,
    /// Steps not run because something they wait for failed: (address, the failure).
    pub skipped: Vec<(Address, Address)>,
    /// Steps not started because the run was interrupted.
    pub not_started: Vec<Address>,
    /// Steps abandoned in flight by an immediate stop (their intents are recorded).
    pub abandoned: Vec<Address>,
    pub interrupted: bool,
    pub elapsed: Duration,
}

impl ApplyReport {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
            && self.skipped.is_empty()
            && self.not_started.is_empty()
            && self.abandoned.is_empty()
            && !self.interrupted
    }
}

enum Finished {
    Done,
    Failed(String),
}

/// Runs `plan` against the providers, recording every result in `sink` before it
/// counts. Returns the report and the sink (for compaction).
pub async fn apply(
    plan: &Plan,
    state: &StateSnapshot,
    sink: Box<dyn StateSink>,
    providers: &Providers,
    settings: &EngineSettings,
    events: Arc<dyn EventSink>,
    stop: &StopSignal,
) -> (ApplyReport, Box<dyn StateSink>) {
    let started = Instant::now();
    let (journal, writer) = Journal::start(sink);
    let mut graph = StepGraph::build(plan, state);
    let work = graph.steps.iter().filter(|s| s.action.is_some()).count();
    events.emit(Event::ApplyStart {
        mode: match plan.mode {
            PlanMode::Apply => "apply",
            PlanMode::Destroy => "destroy",
        },
        steps: work,
    });

    let ctx = Arc::new(StepContext::new(
        plan,
        state,
        providers,
        settings,
        events.clone(),
        journal,
    ));
    let mut report = ApplyReport::default();
    let mut ready = graph.initial_ready();
    // Steps whose cloud is at its limit wait here, per cloud.
    let mut parked: HashMap<String, VecDeque<usize>> = HashMap::new();
    let mut cloud_busy: HashMap<String, usize> = HashMap::new();
    let mut busy = 0usize;
    let mut tasks: JoinSet<(usize, Finished)> = JoinSet::new();
    let mut task_steps: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut blocked_by: Vec<Option<Address>> = vec![None; graph.steps.len()];
    let mut finished = vec![false; graph.steps.len()];
    let mut running = vec![false; graph.steps.len()];
    let parallelism = settings.parallelism.max(1);
    // Batching (`Provider::batch_key`): a group of steps with the same key is one
    // operation. Its first step takes the slot; while it has steps in flight, further
    // ready steps of the key join at once. Steps in flight per open group:
    let mut groups: HashMap<String, usize> = HashMap::new();
    // Ready steps with a key whose group is not open (started when it opens), and
    // steps to start at once because their group is open.
    let mut keyed_ready: HashMap<String, Vec<usize>> = HashMap::new();
    let mut joiners: VecDeque<usize> = VecDeque::new();
    let keys: Vec<Option<String>> = graph
        .steps
        .iter()
        .map(|s| s.action.and_then(|a| ctx.batch_key(s.change, a)))
        .collect();
    for (_, std::cmp::Reverse(i)) in ready.iter() {
        if let Some(k) = &keys[*i] {
            keyed_ready.entry(k.clone()).or_default().push(*i);
        }
    }
    let spawn = |tasks: &mut JoinSet<(usize, Finished)>, i: usize, change: usize, action| {
        let ctx = ctx.clone();
        tasks.spawn(async move {
            let r = match ctx.run(change, action).await {
                Outcome::Done => Finished::Done,
                Outcome::Failed(e) => Finished::Failed(e),
            };
            (i, r)
        })
    };

    loop {
        let stopping = stop.current() != Stop::Run;
        // Steps joining an open group start whatever the parallelism.
        while let Some(i) = joiners.pop_front().filter(|_| !stopping) {
            let (Some(action), Some(k)) = (graph.steps[i].action, &keys[i]) else {
                continue;
            };
            if running[i] || finished[i] || !groups.contains_key(k) {
                continue;
            }
            if let Some(n) = groups.get_mut(k) {
                *n += 1;
            }
            let handle = spawn(&mut tasks, i, graph.steps[i].change, action);
            task_steps.insert(handle.id(), i);
            running[i] = true;
        }
        // Start what can start.
        while !stopping && busy < parallelism {
            let Some((_, std::cmp::Reverse(i))) = ready.pop() else {
                break;
            };
            if running[i] {
                // Already started with its batch group.
                continue;
            }
            let step = &graph.steps[i];
            let Some(action) = step.action else {
                // A no-op only orders: done at once.
                finished[i] = true;
                for d in release(&mut graph, i, &mut ready) {
                    route_keyed(d, &keys, &groups, &mut keyed_ready, &mut joiners);
                }
                continue;
            };
            if let Some(n) = keys[i].as_ref().and_then(|k| groups.get_mut(k)) {
                *n += 1;
                let handle = spawn(&mut tasks, i, step.change, action);
                task_steps.insert(handle.id(), i);
                running[i] = true;
                continue;
            }
            let cloud = ctx.cloud_of(step.change, action);
            if let Some(cloud) = &cloud {
                let limit = ctx.cloud_limit(cloud);
                let n = cloud_busy.entry(cloud.clone()).or_default();
                if limit.is_some_and(|l| *n >= l) {
                    parked.entry(cloud.clone()).or_default().push_back(i);
                    continue;
                }
                *n += 1;
            }
            busy += 1;
            if let Some(k) = &keys[i] {
                groups.insert(k.clone(), 1);
                joiners.extend(keyed_ready.remove(k).unwrap_or_default());
            }
            let handle = spawn(&mut tasks, i, step.change, action);
            task_steps.insert(handle.id(), i);
            running[i] = true;
        }
        if !joiners.is_empty() && !stopping {
            continue;
        }
        if tasks.is_empty() {
            break;
        }
        let joined = tokio::select! {
            j = tasks.join_next() => j,
            _ = stop.reached(Stop::Immediate) => {
                events.emit(Event::Interrupt { level: "immediate" });
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                break;
            }
        };
        let Some(joined) = joined else { break };
        let (i, result) = match joined {
            Ok(r) => r,
            // A panicking step is a bug: report it as that step's failure rather than lose the run.
            Err(e) => match task_steps.get(&e.id()) {
                Some(&i) => (i, Finished::Failed(format!("internal error: {e}"))),
                None => continue,
            },
        };
        finished[i] = true;
        let change = graph.steps[i].change;
        let action = graph.steps[i].action.unwrap_or(StepAction::Update);
        // A batch group gives its slot back when its last step in flight is done.
        let frees_slot = match &keys[i] {
            Some(k) => match groups.get_mut(k) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    false
                }
                _ => {
                    groups.remove(k);
                    true
                }
            },
            None => true,
        };
        if frees_slot {
            busy -= 1;
            if let Some(cloud) = ctx.cloud_of(change, action) {
                if let Some(n) = cloud_busy.get_mut(&cloud) {
                    *n -= 1;
                }
                // (Skipping parked steps that have started with their batch group.)
                if let Some(q) = parked.get_mut(&cloud) {
                    while let Some(i) = q.pop_front() {
                        if !running[i] {
                            ready.push((graph.steps[i].height, std::cmp::Reverse(i)));
                            break;
                        }
                    }
                }
            }
        }
        match result {
            Finished::Done => {
                ctx.count(action, &mut report.counts);
                for d in release(&mut graph, i, &mut ready) {
                    route_keyed(d, &keys, &groups, &mut keyed_ready, &mut joiners);
                }
            }
            Finished::Failed(error) => {
                let address = plan.changes[change].address.clone();
                report.failures.push(StepFailure {
                    address: address.clone(),
                    action,
                    error,
                });
                block_dependents(&graph, i, &address, &mut blocked_by);
            }
        }
    }

    // Whatever did not run: blocked by a failure, or never started.
    for (i, s) in graph.steps.iter().enumerate() {
        if finished[i] {
            continue;
        }
        let Some(action) = s.action else { continue };
        let address = plan.changes[s.change].address.clone();
        match &blocked_by[i] {
            Some(by) => {
                events.emit(Event::StepSkipped {
                    address: address.clone(),
                    action,
                    blocked_by: by.clone(),
                });
                report.skipped.push((address, by.clone()));
            }
            None if running[i] => {
                events.emit(Event::StepAbandoned {
                    address: address.clone(),
                    action,
                });
                report.abandoned.push(address);
            }
            None => {
                events.emit(Event::StepNotStarted {
                    address: address.clone(),
                    action,
                });
                report.not_started.push(address);
            }
        }
    }
    report.interrupted = stop.current() != Stop::Run;
    report.elapsed = started.elapsed();
    drop(ctx);
    let sink = match writer.join() {
        Ok(s) => s,
        Err(_) => {
            report.failures.push(StepFailure {
                address: Address::new(fedstack_core::address::ResourceKind::Data, "state"),
                action: StepAction::Update,
                error: "the state writer crashed; run `fedstack plan` to check the state".into(),
            });
            Box::new(NullSink)
        }
    };
    events.emit(Event::ApplyDone {
        counts: report.counts.clone(),
        failed: report.failures.len(),
        skipped: report.skipped.len(),
        not_started: report.not_started.len(),
        abandoned: report.abandoned.len(),
        elapsed_ms: report.elapsed.as_millis() as u64,
        interrupted: report.interrupted,
    });
    (report, sink)
}

struct NullSink;

impl StateSink for NullSink {
    fn append(&mut self, _: Vec<fedstack_core::state::StateChange>) -> Result<u64, String> {
        Err("no state writer".into())
    }
}

/// Marks step `i` done for its dependents; returns those that became ready (already
/// pushed on `ready`).
fn release(
    graph: &mut StepGraph,
    i: usize,
    ready: &mut BinaryHeap<(usize, std::cmp::Reverse<usize>)>,
) -> Vec<usize> {
    let dependents = std::mem::take(&mut graph.steps[i].dependents);
    let mut now_ready = Vec::new();
    for &d in &dependents {
        let s = &mut graph.steps[d];
        s.waits -= 1;
        if s.waits == 0 {
            ready.push((s.height, std::cmp::Reverse(d)));
            now_ready.push(d);
        }
    }
    graph.steps[i].dependents = dependents;
    now_ready
}

/// A step that became ready with a batch key joins its group at once when the group
/// is open, else waits (on `ready` as well) for the group to open.
fn route_keyed(
    d: usize,
    keys: &[Option<String>],
    groups: &HashMap<String, usize>,
    keyed_ready: &mut HashMap<String, Vec<usize>>,
    joiners: &mut VecDeque<usize>,
) {
    if let Some(k) = &keys[d] {
        if groups.contains_key(k) {
            joiners.push_back(d);
        } else {
            keyed_ready.entry(k.clone()).or_default().push(d);
        }
    }
}

fn block_dependents(
    graph: &StepGraph,
    failed: usize,
    by: &Address,
    blocked: &mut [Option<Address>],
) {
    let mut stack = graph.steps[failed].dependents.clone();
    while let Some(d) = stack.pop() {
        if blocked[d].is_none() {
            blocked[d] = Some(by.clone());
            stack.extend(graph.steps[d].dependents.iter().copied());
        }
    }
}
