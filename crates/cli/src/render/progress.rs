//! Live progress: the engine's events as terminal lines or as JSON lines.

use std::io::Write;

use fedstack_engine::events::{to_json_line, Event};
use fedstack_engine::EventSink;

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

/// Prints events for people.
pub struct HumanProgress {
    pub style: Style,
}

impl EventSink for HumanProgress {
    fn emit(&self, event: Event) {
        if let Some(line) = human_line(&event, self.style) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
    }
}

/// Prints one JSON event per line.
pub struct JsonProgress;

impl EventSink for JsonProgress {
    fn emit(&self, event: Event) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", to_json_line(&event));
    }
}
