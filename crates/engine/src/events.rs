//! The event stream: what the engine reports while it works.
//!
//! Versioned and documented: with `--json`, the CLI prints one event per line as
//! `{"v":1,"ts":"2026-11-21T01:02:03.456Z","type":"step_done",...}`. Consumers must
//! ignore fields and event types they do not know.
//!
//! | type            | fields                                                        |
//! |-----------------|---------------------------------------------------------------|
//! | refresh_start   | resources                                                     |
//! | refresh_done    | resources, elapsed_ms                                         |
//! | apply_start     | mode, steps                                                   |
//! | step_start      | address, action                                               |
//! | step_progress   | address, action, elapsed_ms, status?                          |
//! | step_retry      | address, action, attempt, delay_ms, error                     |
//! | step_done       | address, action, elapsed_ms, id?                              |
//! | step_failed     | address, action, elapsed_ms, error                            |
//! | step_skipped    | address, action, blocked_by                                   |
//! | step_not_started| address, action (the run was interrupted first)               |
//! | step_abandoned  | address, action (stopped in flight by a second interrupt)     |
//! | interrupt       | level (`graceful` or `immediate`)                             |
//! | apply_done      | summary counts, failed, skipped, not_started, abandoned, elapsed_ms, interrupted |

use serde::Serialize;

use fedstack_core::address::Address;

pub const EVENT_FORMAT_VERSION: u32 = 1;

/// What a step does to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepAction {
    Create,
    Update,
    Delete,
    Adopt,
    Forget,
}

impl StepAction {
    /// "Creating", "Modifying", ... as Terraform users know them.
    pub fn progressive(self) -> &'static str {
        match self {
            StepAction::Create => "Creating",
            StepAction::Update => "Modifying",
            StepAction::Delete => "Destroying",
            StepAction::Adopt => "Adopting",
            StepAction::Forget => "Forgetting",
        }
    }

    pub fn still(self) -> &'static str {
        match self {
            StepAction::Create => "Still creating",
            StepAction::Update => "Still modifying",
            StepAction::Delete => "Still destroying",
            StepAction::Adopt => "Still adopting",
            StepAction::Forget => "Still forgetting",
        }
    }

    pub fn complete(self) -> &'static str {
        match self {
            StepAction::Create => "Creation complete",
            StepAction::Update => "Modifications complete",
            StepAction::Delete => "Destruction complete",
            StepAction::Adopt => "Adoption complete",
            StepAction::Forget => "Forgotten",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    pub adopted: usize,
    pub forgotten: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    RefreshStart {
        resources: usize,
    },
    RefreshDone {
        resources: usize,
        elapsed_ms: u64,
    },
    ApplyStart {
        mode: &'static str,
        steps: usize,
    },
    StepStart {
        address: Address,
        action: StepAction,
    },
    StepProgress {
        address: Address,
        action: StepAction,
        elapsed_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<String>,
    },
    StepRetry {
        address: Address,
        action: StepAction,
        attempt: u32,
        delay_ms: u64,
        error: String,
    },
    StepDone {
        address: Address,
        action: StepAction,
        elapsed_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    StepFailed {
        address: Address,
        action: StepAction,
        elapsed_ms: u64,
        error: String,
    },
    StepSkipped {
        address: Address,
        action: StepAction,
        blocked_by: Address,
    },
    StepNotStarted {
        address: Address,
        action: StepAction,
    },
    StepAbandoned {
        address: Address,
        action: StepAction,
    },
    Interrupt {
        level: &'static str,
    },
    ApplyDone {
        #[serde(flatten)]
        counts: Counts,
        failed: usize,
        skipped: usize,
        not_started: usize,
        abandoned: usize,
        elapsed_ms: u64,
        interrupted: bool,
    },
}

/// Where events go (the terminal, a JSON stream, a test's vector).
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);
}

/// Drops every event.
pub struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _: Event) {}
}

/// One JSON line for an event, in the documented envelope.
pub fn to_json_line(event: &Event) -> String {
    #[derive(Serialize)]
    struct Envelope<'a> {
        v: u32,
        ts: String,
        #[serde(flatten)]
        event: &'a Event,
    }
    let ts = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    serde_json::to_string(&Envelope {
        v: EVENT_FORMAT_VERSION,
        ts,
        event,
    })
    .unwrap_or_else(|e| {
        format!("{{\"v\":1,\"type\":\"error\",\"error\":\"cannot encode event: {e}\"}}")
    })
}
