//! Apply: run a plan's steps in parallel, each as soon as what it waits for is done.

mod exec;
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
        self.failures.is_empty() && self.skipped.is_empty() && !self.interrupted
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

    loop {
        let stopping = stop.current() != Stop::Run;
        // Start what can start.
        while !stopping && busy < parallelism {
            let Some((_, std::cmp::Reverse(i))) = ready.pop() else {
                break;
            };
            let step = &graph.steps[i];
            let Some(action) = step.action else {
                // A no-op only orders: done at once.
                finished[i] = true;
                release(&mut graph, i, &mut ready);
                continue;
            };
            let cloud = ctx.cloud_of(step.change);
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
            let ctx = ctx.clone();
            let change = step.change;
            let handle = tasks.spawn(async move {
                let r = match ctx.run(change, action).await {
                    Outcome::Done => Finished::Done,
                    Outcome::Failed(e) => Finished::Failed(e),
                };
                (i, r)
            });
            task_steps.insert(handle.id(), i);
            running[i] = true;
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
        busy -= 1;
        finished[i] = true;
        let change = graph.steps[i].change;
        let action = graph.steps[i].action.unwrap_or(StepAction::Update);
        if let Some(cloud) = ctx.cloud_of(change) {
            if let Some(n) = cloud_busy.get_mut(&cloud) {
                *n -= 1;
            }
            if let Some(i) = parked.get_mut(&cloud).and_then(VecDeque::pop_front) {
                ready.push((graph.steps[i].height, std::cmp::Reverse(i)));
            }
        }
        match result {
            Finished::Done => {
                ctx.count(action, &mut report.counts);
                release(&mut graph, i, &mut ready);
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

fn release(
    graph: &mut StepGraph,
    i: usize,
    ready: &mut BinaryHeap<(usize, std::cmp::Reverse<usize>)>,
) {
    let dependents = std::mem::take(&mut graph.steps[i].dependents);
    for &d in &dependents {
        let s = &mut graph.steps[d];
        s.waits -= 1;
        if s.waits == 0 {
            ready.push((s.height, std::cmp::Reverse(d)));
        }
    }
    graph.steps[i].dependents = dependents;
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
