//! Rollout status of Deployments, StatefulSets, DaemonSets and Jobs, from the live
//! object (as `kubectl rollout status` judges it) and the pods its selector matches:
//!
//! - not yet observed (`status.observedGeneration < metadata.generation`): progressing;
//! - Deployment: `Progressing=False` with reason `ProgressDeadlineExceeded` fails; else
//!   complete once updated = available = desired and no old replicas are left;
//! - StatefulSet: ready and updated (above the partition) replicas vs desired, and the
//!   update revision current (rolling updates);
//! - DaemonSet: updated and available vs desired scheduled;
//! - Job: condition `Complete` completes, `Failed` fails; else succeeded vs completions;
//! - any of them: a matched pod with a container in `CrashLoopBackOff` fails.
//!
//! Other kinds have no rollout: they are complete once applied.

use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::Value;
use tokio::time::Instant;

use super::discovery::Resolver;
use super::errors::{human, Result, WorkloadError};
use super::object::ObjectRef;
use crate::federation::Cluster;

/// How often [`wait_rollout`] looks again.
const POLL: Duration = Duration::from_secs(1);

/// Where a rollout is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    Progressing {
        ready: i64,
        desired: i64,
        message: String,
    },
    Complete,
    Failed {
        reason: String,
    },
}

/// Whether objects of this kind have a rollout to wait for.
pub fn has_rollout(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet") | ("batch", "Job")
    )
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64()
}

fn condition<'a>(o: &'a Value, kind: &str) -> Option<&'a Value> {
    o["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

fn progressing(ready: i64, desired: i64, message: impl Into<String>) -> Rollout {
    Rollout::Progressing {
        ready,
        desired,
        message: message.into(),
    }
}

/// The rollout of `object` (a live object of `kind`) given the pods its selector matches.
pub fn rollout_of(kind: &str, object: &Value, pods: &[Value]) -> Rollout {
    if let Some(reason) = crash_looping(pods) {
        return Rollout::Failed { reason };
    }
    let status = &object["status"];
    let generation = int(&object["metadata"]["generation"]).unwrap_or(0);
    let observed = int(&status["observedGeneration"]).unwrap_or(0);
    let desired_default = |path: &Value| int(path).unwrap_or(1);
    match kind {
        "Deployment" => {
            let desired = desired_default(&object["spec"]["replicas"]);
            let available = int(&status["availableReplicas"]).unwrap_or(0);
            if observed < generation {
                return progressing(
                    available,
                    desired,
                    "waiting for the new generation to be observed",
                );
            }
            if let Some(c) = condition(object, "Progressing") {
                if c["status"] == "False" && c["reason"] == "ProgressDeadlineExceeded" {
                    return Rollout::Failed {
                        reason: format!(
                            "ProgressDeadlineExceeded: {}",
                            c["message"]
                                .as_str()
                                .unwrap_or("the rollout made no progress in time")
                        ),
                    };
                }
            }
            let updated = int(&status["updatedReplicas"]).unwrap_or(0);
            let replicas = int(&status["replicas"]).unwrap_or(0);
            if updated < desired {
                progressing(
                    available,
                    desired,
                    format!("{updated} of {desired} replicas updated"),
                )
            } else if replicas > updated {
                progressing(
                    available,
                    desired,
                    format!("{} old replicas pending termination", replicas - updated),
                )
            } else if available < updated {
                progressing(
                    available,
                    desired,
                    format!("{available} of {updated} updated replicas available"),
                )
            } else {
                Rollout::Complete
            }
        }
        "StatefulSet" => {
            let desired = desired_default(&object["spec"]["replicas"]);
            let ready = int(&status["readyReplicas"]).unwrap_or(0);
            if observed < generation {
                return progressing(
                    ready,
                    desired,
                    "waiting for the new generation to be observed",
                );
            }
            if ready < desired {
                return progressing(
                    ready,
                    desired,
                    format!("{ready} of {desired} replicas ready"),
                );
            }
            let strategy = &object["spec"]["updateStrategy"];
            if strategy["type"] == "OnDelete" {
                return Rollout::Complete;
            }
            let partition = int(&strategy["rollingUpdate"]["partition"]).unwrap_or(0);
            let updated = int(&status["updatedReplicas"]).unwrap_or(0);
            if partition > 0 {
                let want = (desired - partition).max(0);
                return if updated < want {
                    progressing(
                        ready,
                        desired,
                        format!("{updated} of {want} replicas above the partition updated"),
                    )
                } else {
                    Rollout::Complete
                };
            }
            if status["updateRevision"] != status["currentRevision"] {
                progressing(
                    ready,
                    desired,
                    format!("{updated} of {desired} replicas updated"),
                )
            } else {
                Rollout::Complete
            }
        }
        "DaemonSet" => {
            let desired = int(&status["desiredNumberScheduled"]).unwrap_or(0);
            let available = int(&status["numberAvailable"]).unwrap_or(0);
            if observed < generation {
                return progressing(
                    available,
                    desired,
                    "waiting for the new generation to be observed",
                );
            }
            let updated = int(&status["updatedNumberScheduled"]).unwrap_or(0);
            if updated < desired {
                progressing(
                    available,
                    desired,
                    format!("{updated} of {desired} pods updated"),
                )
            } else if available < desired {
                progressing(
                    available,
                    desired,
                    format!("{available} of {desired} pods available"),
                )
            } else {
                Rollout::Complete
            }
        }
        "Job" => {
            if let Some(c) = condition(object, "Failed").filter(|c| c["status"] == "True") {
                return Rollout::Failed {
                    reason: format!(
                        "{}: {}",
                        c["reason"].as_str().unwrap_or("Failed"),
                        c["message"].as_str().unwrap_or("the job failed")
                    ),
                };
            }
            let desired = desired_default(&object["spec"]["completions"]);
            let succeeded = int(&status["succeeded"]).unwrap_or(0);
            if condition(object, "Complete").is_some_and(|c| c["status"] == "True") {
                return Rollout::Complete;
            }
            let active = int(&status["active"]).unwrap_or(0);
            progressing(
                succeeded,
                desired,
                format!("{succeeded} of {desired} completions, {active} active"),
            )
        }
        _ => Rollout::Complete,
    }
}

/// `pod p container c is in CrashLoopBackOff: ...` for the first such container.
fn crash_looping(pods: &[Value]) -> Option<String> {
    for pod in pods {
        let name = pod["metadata"]["name"].as_str().unwrap_or("?");
        for list in ["initContainerStatuses", "containerStatuses"] {
            for c in pod["status"][list].as_array().into_iter().flatten() {
                let waiting = &c["state"]["waiting"];
                if waiting["reason"] == "CrashLoopBackOff" {
                    let last = &c["lastState"]["terminated"];
                    let detail = match (last["reason"].as_str(), int(&last["exitCode"])) {
                        (Some(r), Some(code)) => format!(" (last exit: {r}, code {code})"),
                        _ => String::new(),
                    };
                    return Some(format!(
                        "pod {name} container {} is in CrashLoopBackOff{detail}",
                        c["name"].as_str().unwrap_or("?")
                    ));
                }
            }
        }
    }
    None
}

/// The label selector of `spec.selector` (`matchLabels` and `matchExpressions`).
pub(crate) fn selector_of(object: &Value) -> Option<String> {
    let sel = &object["spec"]["selector"];
    let mut parts: Vec<String> = Vec::new();
    for (k, v) in sel["matchLabels"].as_object().into_iter().flatten() {
        parts.push(format!("{k}={}", v.as_str()?));
    }
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let key = e["key"].as_str()?;
        let values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match e["operator"].as_str()? {
            "In" => parts.push(format!("{key} in ({})", values.join(","))),
            "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
            "Exists" => parts.push(key.to_string()),
            "DoesNotExist" => parts.push(format!("!{key}")),
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

/// The rollout of `object` on `cluster` as it is now (one read of it and its pods).
pub async fn read_rollout(cluster: &Cluster, object: &ObjectRef) -> Result<Rollout> {
    if !has_rollout(&object.group, &object.kind) {
        return Ok(Rollout::Complete);
    }
    let mut resolver = Resolver::new(cluster);
    let served = resolver.require(object).await?;
    Reader::new(
        cluster,
        object,
        served.api(cluster, object.namespace.as_deref()),
    )
    .read()
    .await
}

/// Reads one object's rollout: the object and the pods its selector matches.
struct Reader<'a> {
    cluster: &'a Cluster,
    object: &'a ObjectRef,
    api: Api<DynamicObject>,
    pods: Option<Api<DynamicObject>>,
}

impl<'a> Reader<'a> {
    fn new(cluster: &'a Cluster, object: &'a ObjectRef, api: Api<DynamicObject>) -> Self {
        let pods = object.namespace.as_deref().map(|ns| {
            let gvk = GroupVersionKind::gvk("", "v1", "Pod");
            Api::namespaced_with(
                cluster.client.clone(),
                ns,
                &ApiResource::from_gvk_with_plural(&gvk, "pods"),
            )
        });
        Reader {
            cluster,
            object,
            api,
            pods,
        }
    }

    async fn read(&self) -> Result<Rollout> {
        let (cluster, object) = (self.cluster, self.object);
        let context = |what: &str| format!("read {what} in cluster {}", cluster.name);
        let live = self
            .api
            .get_opt(&object.name)
            .await
            .map_err(|e| WorkloadError::from_kube(&cluster.name, context(&object.to_string()), e))?
            .ok_or_else(|| WorkloadError::Api {
                context: format!("{object} in cluster {}", cluster.name),
                code: 404,
                reason: "NotFound".into(),
                message: "it does not exist".into(),
            })?;
        let live = serde_json::to_value(&live)
            .map_err(|e| WorkloadError::Invalid(format!("{object}: cannot read it: {e}")))?;
        let pods = match (&self.pods, selector_of(&live)) {
            (Some(pods), Some(selector)) => pods
                .list(&ListParams::default().labels(&selector))
                .await
                .map_err(|e| {
                    WorkloadError::from_kube(
                        &cluster.name,
                        context(&format!("pods of {object}")),
                        e,
                    )
                })?
                .items
                .into_iter()
                .filter_map(|p| serde_json::to_value(p).ok())
                .collect(),
            _ => Vec::new(),
        };
        Ok(rollout_of(&object.kind, &live, &pods))
    }
}

/// Follows the rollout of `object` on `cluster`, calling `on_progress` whenever it
/// changes, until it completes or fails (returned) or `timeout` passes (an error naming
/// the object and where it was).
pub async fn wait_rollout(
    cluster: &Cluster,
    object: &ObjectRef,
    mut on_progress: impl FnMut(&Rollout),
    timeout: Duration,
) -> Result<Rollout> {
    if !has_rollout(&object.group, &object.kind) {
        return Ok(Rollout::Complete);
    }
    let mut resolver = Resolver::new(cluster);
    let served = resolver.require(object).await?;
    let reader = Reader::new(
        cluster,
        object,
        served.api(cluster, object.namespace.as_deref()),
    );
    let deadline = Instant::now() + timeout;
    let mut last: Option<Rollout> = None;
    loop {
        let now = reader.read().await?;
        if last.as_ref() != Some(&now) {
            on_progress(&now);
        }
        match now {
            Rollout::Complete | Rollout::Failed { .. } => return Ok(now),
            Rollout::Progressing { .. } => {}
        }
        last = Some(now);
        if Instant::now() + POLL > deadline {
            let at = match &last {
                Some(Rollout::Progressing {
                    ready,
                    desired,
                    message,
                }) => format!("{ready}/{desired} ready, {message}"),
                _ => String::new(),
            };
            return Err(WorkloadError::Timeout(format!(
                "{object} in cluster {} has not rolled out after {}: {at}",
                cluster.name,
                human(timeout)
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(status: Value) -> Value {
        json!({"metadata": {"generation": 2}, "spec": {"replicas": 3,
               "selector": {"matchLabels": {"app": "web"}}}, "status": status})
    }

    #[test]
    fn deployments() {
        let d = deployment(json!({"observedGeneration": 1}));
        assert!(
            matches!(rollout_of("Deployment", &d, &[]), Rollout::Progressing { message, .. } if message.contains("observed"))
        );
        let d = deployment(
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 1}),
        );
        assert_eq!(
            rollout_of("Deployment", &d, &[]),
            Rollout::Progressing {
                ready: 1,
                desired: 3,
                message: "1 of 3 updated replicas available".into()
            }
        );
        let d = deployment(
            json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3}),
        );
        assert!(
            matches!(rollout_of("Deployment", &d, &[]), Rollout::Progressing { message, .. } if message.contains("old replicas"))
        );
        let d = deployment(
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}),
        );
        assert_eq!(rollout_of("Deployment", &d, &[]), Rollout::Complete);
        let d = deployment(json!({"observedGeneration": 2, "conditions": [
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
             "message": "ReplicaSet \"web-1\" has timed out progressing."}]}));
        assert_eq!(
            rollout_of("Deployment", &d, &[]),
            Rollout::Failed {
                reason: "ProgressDeadlineExceeded: ReplicaSet \"web-1\" has timed out progressing."
                    .into()
            }
        );
        let pod = json!({"metadata": {"name": "web-1-abc"}, "status": {"containerStatuses": [
            {"name": "web", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
             "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]}});
        assert_eq!(
            rollout_of("Deployment", &deployment(json!({})), &[pod]),
            Rollout::Failed {
                reason:
                    "pod web-1-abc container web is in CrashLoopBackOff (last exit: Error, code 1)"
                        .into()
            }
        );
        assert_eq!(
            selector_of(&deployment(json!({}))).as_deref(),
            Some("app=web")
        );
    }

    #[test]
    fn statefulsets_daemonsets_and_jobs() {
        let s = json!({"metadata": {"generation": 1}, "spec": {"replicas": 2},
                       "status": {"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 2,
                                  "currentRevision": "a", "updateRevision": "b"}});
        assert!(matches!(
            rollout_of("StatefulSet", &s, &[]),
            Rollout::Progressing { .. }
        ));
        let s = json!({"metadata": {"generation": 1}, "spec": {"replicas": 2},
                       "status": {"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 2,
                                  "currentRevision": "b", "updateRevision": "b"}});
        assert_eq!(rollout_of("StatefulSet", &s, &[]), Rollout::Complete);
        let d = json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1,
                       "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2}});
        assert_eq!(
            rollout_of("DaemonSet", &d, &[]),
            Rollout::Progressing {
                ready: 2,
                desired: 3,
                message: "2 of 3 pods available".into()
            }
        );
        let j = json!({"spec": {"completions": 2}, "status": {"succeeded": 1, "active": 1}});
        assert_eq!(
            rollout_of("Job", &j, &[]),
            Rollout::Progressing {
                ready: 1,
                desired: 2,
                message: "1 of 2 completions, 1 active".into()
            }
        );
        let j = json!({"status": {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1}});
        assert_eq!(rollout_of("Job", &j, &[]), Rollout::Complete);
        let j = json!({"status": {"conditions": [{"type": "Failed", "status": "True",
                       "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}});
        assert_eq!(
            rollout_of("Job", &j, &[]),
            Rollout::Failed {
                reason: "BackoffLimitExceeded: Job has reached the specified backoff limit".into()
            }
        );
        assert_eq!(rollout_of("ConfigMap", &json!({}), &[]), Rollout::Complete);
        assert!(!has_rollout("", "ConfigMap"));
    }
}
