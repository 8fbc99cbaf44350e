//! Group commit: results that finish together share one durable write.

use std::sync::mpsc;
use std::thread;

use fedstack_core::state::StateChange;
use tokio::sync::oneshot;

/// Where the engine records results. `append` must return only once the changes are
/// durable (written and synced).
pub trait StateSink: Send {
    fn append(&mut self, changes: Vec<StateChange>) -> Result<u64, String>;
}

type Request = (Vec<StateChange>, oneshot::Sender<Result<u64, String>>);

/// A handle to the writer thread.
#[derive(Clone)]
pub(crate) struct Journal {
    tx: mpsc::Sender<Request>,
}

impl Journal {
    /// Starts the writer thread; it ends (returning the sink) when every handle is dropped.
    pub(crate) fn start(
        mut sink: Box<dyn StateSink>,
    ) -> (Journal, thread::JoinHandle<Box<dyn StateSink>>) {
        let (tx, rx) = mpsc::channel::<Request>();
        let handle = thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                // Everything that is already waiting goes into the same write.
                let mut batch = vec![first];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                let mut changes = Vec::new();
                let mut replies = Vec::with_capacity(batch.len());
                for (c, reply) in batch {
                    changes.extend(c);
                    replies.push(reply);
                }
                let result = sink.append(changes);
                for reply in replies {
                    let _ = reply.send(result.clone());
                }
            }
            sink
        });
        (Journal { tx }, handle)
    }

    /// Records changes; resolves once they are durable.
    pub(crate) async fn record(&self, changes: Vec<StateChange>) -> Result<u64, String> {
        let (reply, wait) = oneshot::channel();
        self.tx
            .send((changes, reply))
            .map_err(|_| "the state writer stopped".to_string())?;
        wait.await
            .map_err(|_| "the state writer stopped".to_string())?
    }
}
