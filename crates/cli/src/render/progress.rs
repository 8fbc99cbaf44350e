//! Live progress: the engine's events as terminal lines or as JSON lines.

use std::io::Write;

use fedstack_engine::events::{to_json_line, Event};
use fedstack_engine::{EventSink, Stop, StopSignal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::elapsed;
use super::style::Style;

/// One human line per event worth seeing, e.g.
/// `cluster.eks-saopaulo: Still creating... [20s elapsed]`.
pub fn human_line(event: &Event, style: Style) -> Option<String> {
    Some(match event {
        Event::RefreshStart { .. } | Event::RefreshDone { .. } | Event::ApplyStart { .. } | Event::ApplyDone { .. } => return None,
        Event::StepStart { address, action } => format!("{}: {}...", style.bold(&address.to_string()), action.progressive()),
        Event::StepProgress { address, action, elapsed_ms, status } => {
            let mut l = format!("{}: {}... [{} elapsed]", style.bold(&address.to_string()), action.still(), elapsed(*elapsed_ms));
            if let Some(s) = status {
                l.push_str(&style.dim(&format!(" {s}")));
            }
            l
        }
        Event::StepRetry { address, attempt, delay_ms, error, .. } => format!(
            "{}: {} (attempt {attempt}; retrying in {})",
            style.bold(&address.to_string()),
            style.yellow(error),
            elapsed(*delay_ms)
        ),
        Event::StepDone { address, action, elapsed_ms, id } => {
            let mut l = format!("{}: {} after {}", style.bold(&address.to_string()), action.complete(), elapsed(*elapsed_ms));
            if let Some(id) = id {
                l.push_str(&format!(" [id={id}]"));
            }
            l
        }
        Event::StepFailed { address, action, elapsed_ms, error } => format!(
            "{}: {} {} after {}: {error}",
            style.bold(&address.to_string()),
            style.red("Error:"),
            action.progressive().to_lowercase(),
            elapsed(*elapsed_ms)
        ),
        Event::StepSkipped { address, blocked_by, .. } => {
            format!("{}: {}", style.bold(&address.to_string()), style.yellow(&format!("skipped because {blocked_by} failed")))
        }
        Event::StepAbandoned { address, action } => format!(
            "{}: {}",
            style.bold(&address.to_string()),
            style.yellow(&format!(
                "stopped while {}; the next run picks it up",
                action.progressive().to_lowercase()
            ))
        ),
        Event::StepNotStarted { address, .. } => {
            format!("{}: {}", style.bold(&address.to_string()), style.yellow("not started (interrupted)"))
        }
        Event::Interrupt { level } => match *level {
            "graceful" => style.yellow("Interrupt received: starting nothing new; waiting for calls in flight to finish and be recorded (press Ctrl-C again to stop at once)"),
            _ => style.yellow("Second interrupt: stopping now; every finished result is recorded and started creates will be adopted by the next run"),
        },
    })
}

/// Prints events for people. When the reader of standard output goes away
/// (`fedstack apply | head`), the run stops as after one Ctrl-C: nothing new starts,
/// calls in flight finish and are recorded.
pub struct HumanProgress {
    pub style: Style,
    pub on_closed: Arc<ClosedOutput>,
}

impl EventSink for HumanProgress {
    fn emit(&self, event: Event) {
        if let Some(line) = human_line(&event, self.style) {
            let r = writeln!(std::io::stdout().lock(), "{line}");
            self.on_closed.check(r);
        }
    }
}

/// Prints one JSON event per line; stops the run like [`HumanProgress`].
pub struct JsonProgress {
    pub on_closed: Arc<ClosedOutput>,
}

impl EventSink for JsonProgress {
    fn emit(&self, event: Event) {
        let r = writeln!(std::io::stdout().lock(), "{}", to_json_line(&event));
        self.on_closed.check(r);
    }
}

/// What a progress sink does when its reader has gone: ask once for a graceful stop,
/// and remember it so the command ends as a closed pipe (exit 141).
pub struct ClosedOutput {
    stop: StopSignal,
    asked: AtomicBool,
}

impl ClosedOutput {
    pub fn new(stop: StopSignal) -> Arc<ClosedOutput> {
        Arc::new(ClosedOutput {
            stop,
            asked: AtomicBool::new(false),
        })
    }

    /// Whether the reader of standard output went away during the run.
    pub fn closed(&self) -> bool {
        self.asked.load(Ordering::SeqCst)
    }

    fn check(&self, written: std::io::Result<()>) {
        if let Err(e) = written {
            if e.kind() == std::io::ErrorKind::BrokenPipe
                && !self.asked.swap(true, Ordering::SeqCst)
                && self.stop.current() == Stop::Run
            {
                self.stop.escalate();
            }
        }
    }
}
