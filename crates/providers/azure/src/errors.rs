//! ARM's error answers onto [`ErrorClass`], and the one retry loop of this provider.

use std::future::Future;
use std::time::Duration;

use fedstack_provider::{ErrorClass, ProviderError};

use crate::arm::Reply;
use crate::config::AzureOptions;

/// ARM's `error.code` and `error.message` (also under `odata.error` in older services).
pub(crate) fn code_and_message(reply: &Reply) -> (String, String) {
    let e = &reply.body["error"];
    let code = e["code"].as_str().unwrap_or_default().to_string();
    let message = e["message"]
        .as_str()
        .map(str::to_string)
        .or_else(|| reply.body.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("HTTP {}", reply.status));
    (code, message.lines().next().unwrap_or_default().to_string())
}

/// What ARM asks us to wait: `retry-after-ms`, `x-ms-retry-after-ms`, then
/// `Retry-After` (seconds), in azure_core's order.
pub(crate) fn retry_after(reply: &Reply) -> Option<Duration> {
    for (name, ms) in [
        ("retry-after-ms", true),
        ("x-ms-retry-after-ms", true),
        ("retry-after", false),
    ] {
        if let Some(n) = reply
            .header(name)
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            return Some(if ms {
                Duration::from_millis(n)
            } else {
                Duration::from_secs(n)
            });
        }
    }
    None
}

/// Another operation runs on the cluster: wait it out and try again.
pub(crate) fn is_busy(code: &str) -> bool {
    matches!(
        code,
        "OperationNotAllowed" | "AnotherOperationInProgress" | "EtagMismatch" | "Conflict"
    )
}

/// Classifies a non-2xx answer of call `op`.
pub(crate) fn classify(op: &str, reply: &Reply) -> ProviderError {
    let (code, message) = code_and_message(reply);
    let (class, hint) = match (reply.status, code.as_str()) {
        (429, _) => (ErrorClass::Throttled, None),
        (409, c) if is_busy(c) => (ErrorClass::Transient, None),
        (_, "QuotaExceeded" | "ErrCode_InsufficientVCPUQuota" | "InsufficientVCPUQuota") => (
            ErrorClass::Permanent,
            Some("raise the quota (Azure portal > Subscriptions > Usage + quotas) or ask for fewer or smaller nodes"),
        ),
        (401 | 403, _) | (_, "AuthorizationFailed" | "InvalidAuthenticationToken") => (
            ErrorClass::Denied,
            Some("the service principal needs the Contributor role (or Azure Kubernetes Service Contributor plus resource group rights) on the subscription or resource group"),
        ),
        (_, c) if c.contains("VersionNotSupported") || c.contains("K8sVersion") => (
            ErrorClass::Invalid,
            Some("`az aks get-versions --location LOCATION` lists the versions AKS offers there"),
        ),
        (_, "PropertyChangeNotAllowed" | "ChangingPropertyNotAllowed") => (
            ErrorClass::Invalid,
            Some("AKS cannot change this on a live object; `fedstack apply --replace ADDRESS` makes it again"),
        ),
        (404, _) => (ErrorClass::NotFound, None),
        (500..=599, _) => (ErrorClass::Transient, None),
        (400, _) => (ErrorClass::Invalid, None),
        _ => (ErrorClass::Permanent, None),
    };
    let mut text = if code.is_empty() {
        format!("{op}: {message}")
    } else {
        format!("{op}: {code}: {message}")
    };
    if let Some(h) = hint {
        text.push_str(&format!(" (hint: {h})"));
    }
    let mut e = ProviderError::new(class, text);
    e.retry_after = retry_after(reply);
    e
}

/// One call in the shared retry loop: waits what ARM asked (capped), else backs off.
pub(crate) async fn with_retries<T, F, Fut>(
    options: &AzureOptions,
    call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let (base, cap) = (options.retry_base_delay, options.max_poll_interval);
    fedstack_provider::with_retries(
        options.max_attempts,
        |attempt, e| {
            e.retry_after
                .map_or_else(|| fedstack_provider::backoff(base, attempt), |d| d.min(cap))
        },
        call,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(status: u16, headers: &[(&str, &str)], body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body,
        }
    }

    #[test]
    fn arm_errors_are_classified_with_a_hint() {
        let busy = reply(
            409,
            &[("retry-after", "7")],
            json!({"error": {"code": "OperationNotAllowed", "message": "Operation is not allowed because there's an in progress create managed cluster operation."}}),
        );
        let e = classify("PUT managedClusters/c", &busy);
        assert_eq!(e.class, ErrorClass::Transient);
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
        let quota = reply(
            400,
            &[],
            json!({"error": {"code": "QuotaExceeded", "message": "Operation could not be completed as it results in exceeding approved Total Regional Cores quota."}}),
        );
        let e = classify("PUT", &quota);
        assert_eq!(e.class, ErrorClass::Permanent);
        assert!(e.message.contains("Usage + quotas"), "{e}");
        let denied = reply(
            403,
            &[],
            json!({"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization"}}),
        );
        assert_eq!(classify("GET", &denied).class, ErrorClass::Denied);
        let throttled = reply(
            429,
            &[("retry-after-ms", "250"), ("retry-after", "9")],
            json!({}),
        );
        let e = classify("GET", &throttled);
        assert_eq!(e.class, ErrorClass::Throttled);
        assert_eq!(e.retry_after, Some(Duration::from_millis(250)));
        let taken = reply(
            409,
            &[],
            json!({"error": {"code": "ResourceGroupBeingDeleted", "message": "x"}}),
        );
        assert_eq!(classify("PUT", &taken).class, ErrorClass::Permanent);
    }
}
