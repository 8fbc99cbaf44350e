//! Waiting on GKE `Operation`s: the client has no poller, so this polls
//! `projects.locations.operations.get` until DONE and reads its `error`.

use std::time::Duration;

use fedstack_provider::attrs::shown;
use fedstack_provider::{ErrorClass, Progress, ProviderError};
use google_cloud_container_v1::client::ClusterManager;
use google_cloud_container_v1::model::operation::Status;
use google_cloud_container_v1::model::Operation;
use tokio::time::Instant;

use crate::config::GcpOptions;
use crate::errors::{classify, with_retries};

/// Polls operation `op` (as a mutation returned it) in `location` until it is DONE.
/// An operation that ends with an error is that error, naming `what`.
pub(crate) async fn wait(
    client: &ClusterManager,
    options: &GcpOptions,
    location: &str,
    op: Operation,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<(), ProviderError> {
    let name = format!("{location}/operations/{}", op.name);
    let started = Instant::now();
    let mut op = op;
    loop {
        if op.status == Status::Done {
            return match &op.error {
                Some(e) if e.code != 0 => Err(failed(&op, &e.message)),
                _ => Ok(()),
            };
        }
        progress.status(&format!(
            "{}: {} {}",
            op.status.name().unwrap_or("PENDING"),
            op.operation_type.name().unwrap_or("operation"),
            op.name
        ));
        if started.elapsed() > timeout {
            return Err(ProviderError::new(
                ErrorClass::Permanent,
                format!(
                    "operation {} is still {} after {} (hint: it goes on in GKE and the next apply waits for it again; to wait longer, set `timeouts` on the cloud, e.g. timeouts: {{ create: 60m }})",
                    op.name,
                    op.status.name().unwrap_or("running"),
                    shown(timeout)
                ),
            ));
        }
        tokio::time::sleep(options.poll_interval).await;
        op = with_retries(options, || async {
            client
                .get_operation()
                .set_name(&name)
                .send()
                .await
                .map_err(|e| classify("GetOperation", &e))
        })
        .await?;
    }
}

/// An operation that finished with an error: quota and versions get a hint.
fn failed(op: &Operation, message: &str) -> ProviderError {
    let op_type = op.operation_type.name().unwrap_or("operation");
    let lower = message.to_ascii_lowercase();
    let hint = if lower.contains("quota") {
        " (hint: raise the quota in the Google Cloud console, IAM & Admin > Quotas, or ask for fewer or smaller nodes)"
    } else if lower.contains("version") {
        " (hint: `gcloud container get-server-config` lists the versions GKE offers here)"
    } else {
        ""
    };
    ProviderError::new(
        // RESOURCE_EXHAUSTED in an operation is a quota, not a rate: it stays until fixed.
        ErrorClass::Permanent,
        format!("{op_type} failed: {message}{hint}"),
    )
}
