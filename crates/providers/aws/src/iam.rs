//! `iam_role.NAME`: an IAM role a service may assume, with managed policies attached.
//! The role's name is the address's name. Attributes: `service` (who may assume it,
//! e.g. `eks.amazonaws.com`; forces a replacement) and `policies` (managed policy ARNs,
//! attached and detached in place). Outputs: `id` (the role id), `arn`, `name`.

use std::sync::Arc;

use aws_sdk_iam::types::Tag;
use fedstack_core::value::Values;
use fedstack_provider::{ErrorClass, Observed, ProviderError, ResourceSpec, ResourceStatus};
use serde_json::{json, Value};

use crate::clients::Clients;
use crate::config::{AwsOptions, CallRetry};
use crate::errors::{classify, invalid, not_found, permanent, with_retries};

pub(crate) struct Iam {
    clients: Arc<Clients>,
    options: AwsOptions,
    stack: String,
}

/// The trust policy letting `service` assume the role.
pub(crate) fn trust_policy(service: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": service },
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

/// `%XX` decoding (IAM returns policy documents URL-encoded).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(n) = u8::from_str_radix(hex, 16) {
                out.push(n);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The service principal of a trust policy (plain or URL-encoded JSON).
pub(crate) fn trusted_service(document: &str) -> Option<String> {
    let text = if document.trim_start().starts_with('{') {
        document.to_string()
    } else {
        percent_decode(document)
    };
    let v: Value = serde_json::from_str(&text).ok()?;
    let statements = match v.get("Statement")? {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    statements
        .iter()
        .find_map(|st| match st.get("Principal")?.get("Service")? {
            Value::String(s) => Some(s.clone()),
            Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_string),
            _ => None,
        })
}

fn policies_of(spec: &ResourceSpec) -> Vec<String> {
    spec.attrs
        .get("policies")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Iam {
    pub(crate) fn new(clients: Arc<Clients>, options: AwsOptions, stack: &str) -> Iam {
        Iam {
            clients,
            options,
            stack: stack.to_string(),
        }
    }

    async fn attached(&self, name: &str) -> Result<Vec<String>, ProviderError> {
        let client = self.clients.iam().await?;
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            let page = with_retries(&self.options.retry, || async {
                client
                    .list_attached_role_policies()
                    .role_name(name)
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .map_err(|e| classify("ListAttachedRolePolicies", e))
            })
            .await?;
            out.extend(
                page.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_string)),
            );
            match page.marker().filter(|_| page.is_truncated()) {
                Some(m) if seen.insert(m.to_string()) => marker = Some(m.to_string()),
                Some(m) => {
                    return Err(permanent(format!(
                        "ListAttachedRolePolicies returned marker {m} twice; stopping"
                    )))
                }
                None => return Ok(out),
            }
        }
    }

    pub(crate) async fn read(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<Observed>, ProviderError> {
        let client = self.clients.iam().await?;
        let r = with_retries(&self.options.retry, || async {
            client
                .get_role()
                .role_name(&spec.cloud_name)
                .send()
                .await
                .map_err(|e| classify("GetRole", e))
        })
        .await;
        let role = match r {
            Ok(out) => match out.role() {
                Some(r) => r.clone(),
                None => return Ok(None),
            },
            Err(e) if e.class == ErrorClass::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut policies = self.attached(&spec.cloud_name).await?;
        let wanted = policies_of(spec);
        let (mut a, mut b) = (policies.clone(), wanted.clone());
        a.sort();
        b.sort();
        if a == b {
            policies = wanted;
        } else {
            policies.sort();
        }
        let mut attrs = Values::new();
        attrs.insert(
            "service".into(),
            role.assume_role_policy_document()
                .and_then(trusted_service)
                .map_or(Value::Null, |s| json!(s)),
        );
        attrs.insert("policies".into(), json!(policies));
        for (k, v) in &spec.attrs {
            attrs.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let mut outputs = Values::new();
        outputs.insert("id".into(), json!(role.role_id()));
        outputs.insert("arn".into(), json!(role.arn()));
        outputs.insert("name".into(), json!(role.role_name()));
        Ok(Some(Observed {
            attrs,
            outputs,
            secrets: Default::default(),
            status: ResourceStatus::Ready,
        }))
    }

    pub(crate) async fn create(&self, spec: &ResourceSpec) -> Result<Observed, ProviderError> {
        let client = self.clients.iam().await?;
        let service = spec
            .attrs
            .get("service")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("{}: `service` is required", spec.address)))?;
        let tag = Tag::builder()
            .key("fedstack:stack")
            .value(&self.stack)
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        with_retries(&self.options.retry, || async {
            client
                .create_role()
                .role_name(&spec.cloud_name)
                .assume_role_policy_document(trust_policy(service))
                .description(format!("fedstack {}: {}", self.stack, spec.address))
                .tags(tag.clone())
                .send()
                .await
                .map_err(|e| classify("CreateRole", e))
        })
        .await?;
        for p in policies_of(spec) {
            self.attach(&spec.cloud_name, &p).await?;
        }
        self.read(spec)
            .await?
            .ok_or_else(|| not_found(format!("{} is gone right after its creation", spec.address)))
    }

    async fn attach(&self, role: &str, policy: &str) -> Result<(), ProviderError> {
        let client = self.clients.iam().await?;
        with_retries(&self.options.retry, || async {
            client
                .attach_role_policy()
                .role_name(role)
                .policy_arn(policy)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify("AttachRolePolicy", e))
        })
        .await
    }

    async fn detach(&self, role: &str, policy: &str) -> Result<(), ProviderError> {
        let client = self.clients.iam().await?;
        let r = with_retries(&self.options.retry, || async {
            client
                .detach_role_policy()
                .role_name(role)
                .policy_arn(policy)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify("DetachRolePolicy", e))
        })
        .await;
        match r {
            Err(e) if e.class == ErrorClass::NotFound => Ok(()),
            other => other,
        }
    }

    pub(crate) async fn update(&self, spec: &ResourceSpec) -> Result<Observed, ProviderError> {
        let now = self
            .read(spec)
            .await?
            .ok_or_else(|| not_found(format!("{} does not exist", spec.address)))?;
        let have: Vec<String> = now
            .attrs
            .get("policies")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let want = policies_of(spec);
        for p in want.iter().filter(|p| !have.contains(p)) {
            self.attach(&spec.cloud_name, p).await?;
        }
        for p in have.iter().filter(|p| !want.contains(p)) {
            self.detach(&spec.cloud_name, p).await?;
        }
        self.read(spec)
            .await?
            .ok_or_else(|| not_found(format!("{} does not exist", spec.address)))
    }

    pub(crate) async fn delete(&self, spec: &ResourceSpec) -> Result<(), ProviderError> {
        let client = self.clients.iam().await?;
        let name = spec.cloud_name.as_str();
        let attached = match self.attached(name).await {
            Ok(a) => a,
            Err(e) if e.class == ErrorClass::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for p in attached {
            self.detach(name, &p).await?;
        }
        let inline = with_retries(&self.options.retry, || async {
            client
                .list_role_policies()
                .role_name(name)
                .send()
                .await
                .map_err(|e| classify("ListRolePolicies", e))
        })
        .await?;
        for p in inline.policy_names() {
            with_retries(&self.options.retry, || async {
                client
                    .delete_role_policy()
                    .role_name(name)
                    .policy_name(p)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify("DeleteRolePolicy", e))
            })
            .await?;
        }
        let profiles = with_retries(&self.options.retry, || async {
            client
                .list_instance_profiles_for_role()
                .role_name(name)
                .send()
                .await
                .map_err(|e| classify("ListInstanceProfilesForRole", e))
        })
        .await?;
        for p in profiles.instance_profiles() {
            with_retries(&self.options.retry, || async {
                client
                    .remove_role_from_instance_profile()
                    .instance_profile_name(p.instance_profile_name())
                    .role_name(name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify("RemoveRoleFromInstanceProfile", e))
            })
            .await?;
        }
        // A role still used by a node group that is going away: retry a while.
        let retry = CallRetry {
            max_attempts: self.options.retry.max_attempts.max(10),
            ..self.options.retry.clone()
        };
        let r = with_retries(&retry, || async {
            client
                .delete_role()
                .role_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    let mut e = classify("DeleteRole", e);
                    if e.message.contains("DeleteConflict") {
                        e.class = ErrorClass::Transient;
                    }
                    e
                })
        })
        .await;
        match r {
            Err(e) if e.class == ErrorClass::NotFound => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_policies_round_trip() {
        let doc = trust_policy("eks.amazonaws.com");
        assert_eq!(trusted_service(&doc).as_deref(), Some("eks.amazonaws.com"));
        let encoded = doc
            .replace('%', "%25")
            .replace('{', "%7B")
            .replace('}', "%7D")
            .replace('"', "%22")
            .replace(':', "%3A");
        assert_eq!(
            trusted_service(&encoded).as_deref(),
            Some("eks.amazonaws.com")
        );
        assert_eq!(percent_decode("a%20b+c"), "a b c");
    }
}
