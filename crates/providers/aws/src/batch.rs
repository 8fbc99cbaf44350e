//! Merging concurrent calls into batches (the provider half of `Provider::batch_key`).
//!
//! Every caller [`Coalescer::submit`]s one request under a key (a Route 53 zone) and
//! waits for its own response. The first caller of an idle key becomes the *leader*:
//! it waits until no new request has arrived for `window` (or `max_wait` has passed
//! since it came), takes everything queued for the key and hands it to the
//! [`Flush`] as one batch, then gives each caller its response. Requests that arrive
//! while a batch is being flushed queue up; when the flush is done the first of them
//! leads the next batch. So one key has at most one flush at a time, and a flush
//! carries everything that was ready when it started.
//!
//! While a batch is in flight the flush may report a status ("PENDING: waiting for
//! INSYNC"); every caller of the batch forwards it to its own progress.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use fedstack_provider::Progress;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// What a leader hands a batch to.
pub(crate) trait Flush<Req, Resp>: Send + Sync {
    /// Handles `batch` (in arrival order) and returns one response per request, in
    /// the same order. `status` tells every caller of the batch how it goes.
    fn flush<'a>(
        &'a self,
        key: &'a str,
        batch: Vec<Req>,
        status: &'a BatchStatus,
    ) -> Pin<Box<dyn Future<Output = Vec<Resp>> + Send + 'a>>;
}

/// Status lines of the batch in flight, shown by each of its callers.
pub(crate) struct BatchStatus {
    tx: watch::Sender<Option<String>>,
}

impl BatchStatus {
    pub(crate) fn set(&self, message: impl Into<String>) {
        self.tx.send_replace(Some(message.into()));
    }
}

enum Msg<Resp> {
    Done(Resp),
    /// You lead the next batch of this key.
    Lead,
}

struct Entry<Req, Resp> {
    req: Req,
    reply: oneshot::Sender<Msg<Resp>>,
}

struct Queue<Req, Resp> {
    pending: Vec<Entry<Req, Resp>>,
    /// Someone leads this key (collecting or flushing).
    led: bool,
    last_arrival: Instant,
    status: watch::Sender<Option<String>>,
}

pub(crate) struct Coalescer<Req, Resp> {
    window: Duration,
    max_wait: Duration,
    queues: Mutex<HashMap<String, Queue<Req, Resp>>>,
}

impl<Req: Send, Resp: Send> Coalescer<Req, Resp> {
    pub(crate) fn new(window: Duration, max_wait: Duration) -> Coalescer<Req, Resp> {
        Coalescer {
            window,
            max_wait,
            queues: Mutex::new(HashMap::new()),
        }
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<String, Queue<Req, Resp>>> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `req` under `key` and waits for its response; leads a batch when it is
    /// the caller's turn. `progress` hears the batch's status.
    pub(crate) async fn submit(
        &self,
        key: &str,
        req: Req,
        flusher: &dyn Flush<Req, Resp>,
        progress: &dyn Progress,
        lost: impl Fn() -> Resp,
    ) -> Resp {
        let (reply, mut rx) = oneshot::channel();
        let (lead, mut status) = {
            let mut qs = self.queues();
            let q = qs.entry(key.to_string()).or_insert_with(|| Queue {
                pending: Vec::new(),
                led: false,
                last_arrival: Instant::now(),
                status: watch::channel(None).0,
            });
            q.pending.push(Entry { req, reply });
            q.last_arrival = Instant::now();
            let lead = !q.led;
            q.led = true;
            (lead, q.status.subscribe())
        };
        if lead {
            self.lead(key, flusher, progress).await;
            // The leader showed the batch's status itself.
            status.borrow_and_update();
        }
        loop {
            tokio::select! {
                msg = &mut rx => match msg {
                    Ok(Msg::Done(r)) => return r,
                    Ok(Msg::Lead) => {
                        // Our request is queued for the next batch, which we lead.
                        let (tx2, rx2) = oneshot::channel();
                        if self.requeue_reply(key, tx2) {
                            rx = rx2;
                            status = self.subscribe(key);
                            self.lead(key, flusher, progress).await;
                            status.borrow_and_update();
                        } else {
                            return lost();
                        }
                    }
                    // The leader was dropped with our request (an aborted run).
                    Err(_) => return lost(),
                },
                changed = status.changed() => {
                    if changed.is_ok() {
                        if let Some(s) = status.borrow_and_update().clone() {
                            progress.status(&s);
                        }
                    }
                }
            }
        }
    }

    fn subscribe(&self, key: &str) -> watch::Receiver<Option<String>> {
        let qs = self.queues();
        match qs.get(key) {
            Some(q) => q.status.subscribe(),
            None => watch::channel(None).1,
        }
    }

    /// After being told to lead, our entry is still pending but its reply channel was
    /// consumed by the `Lead` message: give it a fresh one. The entry to update is the
    /// first pending one (that is who gets `Lead`).
    fn requeue_reply(&self, key: &str, tx: oneshot::Sender<Msg<Resp>>) -> bool {
        let mut qs = self.queues();
        match qs.get_mut(key).and_then(|q| q.pending.first_mut()) {
            Some(e) => {
                e.reply = tx;
                true
            }
            None => false,
        }
    }

    /// Collects, flushes and answers one batch of `key`; then passes the lead on.
    async fn lead(&self, key: &str, flusher: &dyn Flush<Req, Resp>, progress: &dyn Progress) {
        let mut guard = LeadGuard {
            coalescer: self,
            key,
            done: false,
        };
        let started = Instant::now();
        loop {
            let wake = {
                let qs = self.queues();
                let last = qs.get(key).map_or(started, |q| q.last_arrival);
                (last + self.window).min(started + self.max_wait)
            };
            if Instant::now() >= wake {
                break;
            }
            tokio::time::sleep_until(wake).await;
        }
        let (batch, status_tx) = {
            let mut qs = self.queues();
            match qs.get_mut(key) {
                Some(q) => (std::mem::take(&mut q.pending), q.status.clone()),
                None => (Vec::new(), watch::channel(None).0),
            }
        };
        let (reqs, replies): (Vec<Req>, Vec<oneshot::Sender<Msg<Resp>>>) =
            batch.into_iter().map(|e| (e.req, e.reply)).unzip();
        status_tx.send_replace(None);
        let status = BatchStatus { tx: status_tx };
        let mut watch = status.tx.subscribe();
        let flush = flusher.flush(key, reqs, &status);
        tokio::pin!(flush);
        let responses = loop {
            tokio::select! {
                r = &mut flush => break r,
                changed = watch.changed() => {
                    if changed.is_ok() {
                        if let Some(s) = watch.borrow_and_update().clone() {
                            progress.status(&s);
                        }
                    }
                }
            }
        };
        for (reply, resp) in replies.into_iter().zip(responses) {
            let _ = reply.send(Msg::Done(resp));
        }
        guard.done = true;
        self.pass_lead(key);
    }

    /// The next batch's leader is the first queued caller; with none, the key is idle.
    fn pass_lead(&self, key: &str) {
        let mut qs = self.queues();
        let Some(q) = qs.get_mut(key) else { return };
        loop {
            if q.pending.is_empty() {
                q.led = false;
                qs.remove(key);
                return;
            }
            // Tell the first waiting caller to lead; a caller that went away loses its turn.
            let (tx, _) = oneshot::channel();
            let first = std::mem::replace(&mut q.pending[0].reply, tx);
            if first.send(Msg::Lead).is_ok() {
                return;
            }
            q.pending.remove(0);
        }
    }
}

/// Passes the lead on even when the leader is dropped mid-batch (an aborted step), so
/// that the key does not stay led by nobody.
struct LeadGuard<'c, Req: Send, Resp: Send> {
    coalescer: &'c Coalescer<Req, Resp>,
    key: &'c str,
    done: bool,
}

impl<Req: Send, Resp: Send> Drop for LeadGuard<'_, Req, Resp> {
    fn drop(&mut self) {
        if !self.done {
            self.coalescer.pass_lead(self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct Summer {
        calls: AtomicUsize,
        sizes: Mutex<Vec<usize>>,
        delay: Duration,
    }

    impl Flush<u32, u32> for Summer {
        fn flush<'a>(
            &'a self,
            _key: &'a str,
            batch: Vec<u32>,
            status: &'a BatchStatus,
        ) -> Pin<Box<dyn Future<Output = Vec<u32>> + Send + 'a>> {
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                self.sizes.lock().expect("lock").push(batch.len());
                status.set(format!("flushing {}", batch.len()));
                tokio::time::sleep(self.delay).await;
                batch.iter().map(|x| x * 10).collect()
            })
        }
    }

    struct Seen(Mutex<Vec<String>>);

    impl Progress for Seen {
        fn status(&self, message: &str) {
            self.0.lock().expect("lock").push(message.to_string());
        }
    }

    fn summer(delay_ms: u64) -> Arc<Summer> {
        Arc::new(Summer {
            calls: AtomicUsize::new(0),
            sizes: Mutex::new(Vec::new()),
            delay: Duration::from_millis(delay_ms),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_calls_become_one_batch_and_each_gets_its_answer() {
        let c = Arc::new(Coalescer::<u32, u32>::new(
            Duration::from_millis(50),
            Duration::from_secs(1),
        ));
        let f = summer(100);
        let mut tasks = Vec::new();
        for i in 0..200u32 {
            let (c, f) = (c.clone(), f.clone());
            tasks.push(tokio::spawn(async move {
                let seen = Seen(Mutex::new(Vec::new()));
                let r = c.submit("zone", i, f.as_ref(), &seen, || 0).await;
                (i, r, seen.0.into_inner().expect("lock"))
            }));
        }
        for t in tasks {
            let (i, r, seen) = t.await.expect("task");
            assert_eq!(r, i * 10);
            assert_eq!(
                seen,
                vec!["flushing 200".to_string()],
                "every caller sees the status"
            );
        }
        assert_eq!(f.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn calls_during_a_flush_make_the_next_batch() {
        let c = Arc::new(Coalescer::<u32, u32>::new(
            Duration::from_millis(10),
            Duration::from_secs(1),
        ));
        let f = summer(500);
        let mut tasks = Vec::new();
        for i in 0..3u32 {
            let (c, f) = (c.clone(), f.clone());
            tasks.push(tokio::spawn(async move {
                c.submit("zone", i, f.as_ref(), &fedstack_provider::NoProgress, || 0)
                    .await
            }));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        for i in 3..8u32 {
            let (c, f) = (c.clone(), f.clone());
            tasks.push(tokio::spawn(async move {
                c.submit("zone", i, f.as_ref(), &fedstack_provider::NoProgress, || 0)
                    .await
            }));
        }
        let results: Vec<u32> = {
            let mut v = Vec::new();
            for t in tasks {
                v.push(t.await.expect("task"));
            }
            v
        };
        assert_eq!(results, vec![0, 10, 20, 30, 40, 50, 60, 70]);
        assert_eq!(*f.sizes.lock().expect("lock"), vec![3, 5]);
        // The key is idle again: a new call leads a new batch at once.
        let r = c
            .submit("zone", 9, f.as_ref(), &fedstack_provider::NoProgress, || 0)
            .await;
        assert_eq!(r, 90);
        assert_eq!(*f.sizes.lock().expect("lock"), vec![3, 5, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn keys_are_independent() {
        let c = Arc::new(Coalescer::<u32, u32>::new(
            Duration::from_millis(10),
            Duration::from_secs(1),
        ));
        let f = summer(10);
        let a = {
            let (c, f) = (c.clone(), f.clone());
            tokio::spawn(async move {
                c.submit("a", 1, f.as_ref(), &fedstack_provider::NoProgress, || 0)
                    .await
            })
        };
        let b = {
            let (c, f) = (c.clone(), f.clone());
            tokio::spawn(async move {
                c.submit("b", 2, f.as_ref(), &fedstack_provider::NoProgress, || 0)
                    .await
            })
        };
        assert_eq!(a.await.expect("a"), 10);
        assert_eq!(b.await.expect("b"), 20);
        assert_eq!(f.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn an_aborted_leader_passes_the_lead_on() {
        let c = Arc::new(Coalescer::<u32, u32>::new(
            Duration::from_millis(10),
            Duration::from_secs(1),
        ));
        let f = summer(1000);
        let leader = {
            let (c, f) = (c.clone(), f.clone());
            tokio::spawn(async move {
                c.submit("z", 1, f.as_ref(), &fedstack_provider::NoProgress, || 0)
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Queued behind the flush in flight.
        let follower = {
            let (c, f) = (c.clone(), f.clone());
            tokio::spawn(async move {
                c.submit("z", 2, f.as_ref(), &fedstack_provider::NoProgress, || 0)
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        leader.abort();
        assert_eq!(follower.await.expect("follower"), 20);
    }
}
