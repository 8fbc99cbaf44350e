//! How the engine runs: parallelism, limits, retries, providers, cancellation.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fedstack_provider::SharedProvider;
use tokio::sync::watch;

use crate::retry::RetryPolicy;

/// Configured providers by cloud name (the keys of the stack's `clouds:`).
pub type Providers = HashMap<String, SharedProvider>;

#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// At most this many provider calls at once (`--parallelism`).
    pub parallelism: usize,
    /// Per-cloud limits (a cloud's `max_parallel`, or its provider's own).
    pub cloud_limits: HashMap<String, usize>,
    pub retry: RetryPolicy,
    /// How often a long step reports "Still creating... [20s elapsed]".
    pub progress_interval: Duration,
}

impl Default for EngineSettings {
    fn default() -> EngineSettings {
        EngineSettings {
            parallelism: 10,
            cloud_limits: HashMap::new(),
            retry: RetryPolicy::default(),
            progress_interval: Duration::from_secs(10),
        }
    }
}

/// Level of interruption asked for (Ctrl-C once, twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stop {
    Run,
    /// Start nothing new; let calls in flight finish and be recorded.
    Graceful,
    /// Abandon calls in flight now (their intents are durable); persist and return.
    Immediate,
}

/// A handle the caller uses to interrupt an apply.
#[derive(Clone)]
pub struct StopSignal {
    tx: Arc<watch::Sender<Stop>>,
    rx: watch::Receiver<Stop>,
}

impl Default for StopSignal {
    fn default() -> StopSignal {
        let (tx, rx) = watch::channel(Stop::Run);
        StopSignal {
            tx: Arc::new(tx),
            rx,
        }
    }
}

impl StopSignal {
    /// Escalates: the first call asks for a graceful stop, the second for an immediate one.
    pub fn escalate(&self) -> Stop {
        let mut next = Stop::Run;
        self.tx.send_modify(|s| {
            *s = match *s {
                Stop::Run => Stop::Graceful,
                _ => Stop::Immediate,
            };
            next = *s;
        });
        next
    }

    pub fn current(&self) -> Stop {
        *self.rx.borrow()
    }

    /// Resolves once the level reaches `level`.
    pub async fn reached(&self, level: Stop) {
        let mut rx = self.rx.clone();
        while *rx.borrow_and_update() < level {
            if rx.changed().await.is_err() {
                // The sender lives as long as any StopSignal clone; never reached.
                std::future::pending::<()>().await;
            }
        }
    }
}
