//! Following ARM's asynchronous operations to a terminal state: the
//! `Azure-AsyncOperation` URL when ARM gives one (its `status`), else `Location` (202
//! until done), else the resource's own `provisioningState`; waiting what ARM's
//! `Retry-After` says between polls.

use std::time::Duration;

use azure_core::http::Method;
use fedstack_provider::attrs::shown;
use fedstack_provider::{ErrorClass, Progress, ProviderError};
use tokio::time::Instant;

use crate::arm::{Arm, Reply};
use crate::config::AzureOptions;
use crate::errors::{classify, code_and_message, retry_after, with_retries};

/// What to poll after a mutation.
enum Target {
    AsyncOperation(String),
    Location(String),
    /// The resource itself (a PUT answered with no operation headers).
    Resource(String),
}

/// How a resource's `provisioningState` reads: done, still going, or failed.
pub(crate) enum State {
    Done,
    Going(String),
    Failed(String),
}

pub(crate) fn provisioning_state(body: &serde_json::Value) -> State {
    let s = body["properties"]["provisioningState"]
        .as_str()
        .unwrap_or("Succeeded");
    match s {
        "Succeeded" | "Completed" => State::Done,
        "Failed" | "Canceled" => State::Failed(s.to_string()),
        other => State::Going(other.to_string()),
    }
}

/// Waits for the operation `started` (the answer of a PUT or DELETE on `resource`)
/// began. An operation that ends Failed or Canceled is an error with ARM's code and
/// message.
pub(crate) async fn follow(
    arm: &Arm,
    options: &AzureOptions,
    started: &Reply,
    resource: &str,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<(), ProviderError> {
    let target = if let Some(u) = started.header("azure-asyncoperation") {
        Target::AsyncOperation(u.to_string())
    } else if let Some(u) = started.header("location") {
        Target::Location(u.to_string())
    } else if started.status == 204 || started.body.is_null() {
        return Ok(());
    } else {
        match provisioning_state(&started.body) {
            State::Done => return Ok(()),
            State::Failed(s) => return Err(failed(&s, &started.body)),
            State::Going(_) => Target::Resource(resource.to_string()),
        }
    };
    let began = Instant::now();
    let mut wait = pause(options, started);
    loop {
        if began.elapsed() > timeout {
            return Err(ProviderError::new(
                ErrorClass::Permanent,
                format!(
                    "the operation is still running after {} (hint: it goes on in Azure and the next apply waits for it again; to wait longer, set `timeouts` on the cloud, e.g. timeouts: {{ create: 90m }})",
                    shown(timeout)
                ),
            ));
        }
        tokio::time::sleep(wait).await;
        let (url, op) = match &target {
            Target::AsyncOperation(u) => (u.as_str(), "GET operation"),
            Target::Location(u) => (u.as_str(), "GET operation result"),
            Target::Resource(p) => (p.as_str(), "GET"),
        };
        let reply = with_retries(options, || async {
            let r = arm.send(op, Method::Get, url, None).await?;
            // A poll that ARM throttles or that hits a 5xx is retried, not the end.
            if r.status == 429 || r.status >= 500 {
                return Err(classify(op, &r));
            }
            Ok(r)
        })
        .await?;
        wait = pause(options, &reply);
        match &target {
            Target::AsyncOperation(_) => {
                if !(200..300).contains(&reply.status) {
                    return Err(classify(op, &reply));
                }
                let status = reply.body["status"].as_str().unwrap_or("InProgress");
                match status {
                    "Succeeded" | "Completed" => return Ok(()),
                    "Failed" | "Canceled" => return Err(failed(status, &reply.body)),
                    other => progress.status(other),
                }
            }
            Target::Location(_) => match reply.status {
                202 => progress.status("InProgress"),
                200..=299 => return Ok(()),
                _ => return Err(classify(op, &reply)),
            },
            Target::Resource(_) => match reply.status {
                404 => return Ok(()),
                200..=299 => match provisioning_state(&reply.body) {
                    State::Done => return Ok(()),
                    State::Failed(s) => return Err(failed(&s, &reply.body)),
                    State::Going(s) => progress.status(&s),
                },
                _ => return Err(classify(op, &reply)),
            },
        }
    }
}

/// Until the next poll: what ARM asked (at most the configured cap), else the default.
fn pause(options: &AzureOptions, reply: &Reply) -> Duration {
    retry_after(reply).map_or(options.poll_interval, |d| d.min(options.max_poll_interval))
}

/// An operation that ended `status`: its `error`, with hints for quotas and versions.
fn failed(status: &str, body: &serde_json::Value) -> ProviderError {
    let reply = Reply {
        status: 200,
        headers: Default::default(),
        body: body.clone(),
    };
    let (code, message) = code_and_message(&reply);
    let (code, message) = if code.is_empty() {
        (
            status.to_string(),
            body["properties"]["statusMessage"]
                .as_str()
                .unwrap_or("no error given")
                .to_string(),
        )
    } else {
        (code, message)
    };
    let hint = if code.contains("Quota") || message.to_ascii_lowercase().contains("quota") {
        " (hint: raise the quota in the Azure portal, Subscriptions > Usage + quotas, or ask for fewer or smaller nodes)"
    } else if code.contains("Version") {
        " (hint: `az aks get-versions --location LOCATION` lists the versions AKS offers there)"
    } else {
        ""
    };
    ProviderError::new(
        ErrorClass::Permanent,
        format!("the operation ended {status}: {code}: {message}{hint}"),
    )
}
