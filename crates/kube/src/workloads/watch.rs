//! Waiting for one object to reach a state, on watch events (never a sleep loop):
//! list it by name for a resource version, watch from there, list again when the watch
//! ends or expires. Bounded by a deadline: past it, the last state seen is returned.

use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams, WatchEvent, WatchParams};
use tokio::time::Instant;

/// How long one watch request lasts (the server ends it); shorter than the client's read
/// timeout, so a quiet watch is never taken for a dead connection.
const WATCH_SECONDS: u32 = 20;

/// How a wait ended.
#[derive(Debug)]
pub(crate) enum Waited {
    /// `done` said yes to this state (`None`: the object does not exist).
    Done(Option<DynamicObject>),
    /// The deadline passed; the last state seen.
    TimedOut(Option<DynamicObject>),
}

/// Waits until `done(state)` for the object `name` of `api`, or `deadline`.
pub(crate) async fn wait_object(
    api: &Api<DynamicObject>,
    name: &str,
    deadline: Instant,
    done: impl Fn(Option<&DynamicObject>) -> bool,
) -> Result<Waited, kube::Error> {
    let mut last: Option<DynamicObject> = None;
    let selector = format!("metadata.name={name}");
    let run = async {
        loop {
            let list = api.list(&ListParams::default().fields(&selector)).await?;
            let version = list.metadata.resource_version.clone().unwrap_or_default();
            last = list.items.into_iter().next();
            if done(last.as_ref()) {
                return Ok::<bool, kube::Error>(true);
            }
            let params = WatchParams::default()
                .fields(&selector)
                .timeout(WATCH_SECONDS);
            let stream = api.watch(&params, &version).await?;
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => last = Some(o),
                    Ok(WatchEvent::Deleted(_)) => last = None,
                    Ok(WatchEvent::Bookmark(_)) => continue,
                    // 410 Gone (the version expired), or the stream broke: list again (a
                    // cluster that went away fails the list).
                    Ok(WatchEvent::Error(s)) if s.code == 410 => break,
                    Err(_) => break,
                    Ok(WatchEvent::Error(s)) => return Err(kube::Error::Api(s)),
                }
                if done(last.as_ref()) {
                    return Ok(true);
                }
            }
        }
    };
    let outcome = tokio::time::timeout_at(deadline, run).await;
    match outcome {
        Ok(Ok(_)) => Ok(Waited::Done(last)),
        Ok(Err(e)) => Err(e),
        Err(_) => Ok(Waited::TimedOut(last)),
    }
}
