//! Inspection and manipulation of a world behind fedstack's back, for
//! `fedstack sim list | delete ADDR | set ADDR KEY=VALUE`.

use std::path::Path;

use fedstack_core::address::{Address, ResourceKind};
use fedstack_core::schema::replace_attributes;
use fedstack_core::value::Values;
use fedstack_provider::ResourceStatus;
use serde::Serialize;
use serde_json::Value;

use crate::clock::now_ms;
use crate::config::SimOptions;
use crate::errors::SimError;
use crate::object::{Key, Phase, SimObject};
use crate::validate;
use crate::world::{self, lock};

/// One object of the world, as `fedstack sim list` shows it. Never holds secrets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimObjectView {
    /// `cluster.gke-sydney`.
    pub address: String,
    pub account: String,
    /// `gke`, `eks`, `aks`, `route53` or `sim`.
    pub flavor: String,
    /// `READY`, `PROVISIONING`, `RECONCILING`, `UPDATING`, `DELETING` or `FAILED: ...`.
    pub status: String,
    pub attrs: Values,
    /// Computed values (ids, endpoints, `healthy`...); secrets are not among them.
    pub outputs: Values,
    /// Unix milliseconds.
    pub created_at: u64,
}

fn view(o: &SimObject, now: u64) -> Option<SimObjectView> {
    let status = match o.status(now)? {
        ResourceStatus::Ready => "READY".to_string(),
        ResourceStatus::Pending(w) => w,
        ResourceStatus::Deleting => "DELETING".to_string(),
        ResourceStatus::Failed(m) => format!("FAILED: {m}"),
    };
    Some(SimObjectView {
        address: o.address().to_string(),
        account: o.account.clone(),
        flavor: o.flavor.as_str().to_string(),
        status,
        attrs: o.attrs.clone(),
        outputs: o.live_outputs(now),
        created_at: o.created_at,
    })
}

fn parse_address(address: &str) -> Result<Address, SimError> {
    address
        .trim()
        .parse()
        .map_err(|e: fedstack_core::address::AddressError| SimError::BadAddress(e.to_string()))
}

fn lock_timeout() -> std::time::Duration {
    SimOptions::from_env()
        .map(|o| o.lock_timeout)
        .unwrap_or_else(|_| SimOptions::default().lock_timeout)
}

/// Every object of the world of `state_dir`, by kind then name. Works while another
/// process applies: it reads without taking the lock.
pub fn list(state_dir: &Path) -> Result<Vec<SimObjectView>, SimError> {
    let (objects, now) = world::snapshot(state_dir)?;
    let mut views: Vec<SimObjectView> = objects.iter().filter_map(|o| view(o, now)).collect();
    views.sort_by(|a, b| a.address.cmp(&b.address));
    let order = |v: &SimObjectView| {
        v.address
            .split_once('.')
            .and_then(|(k, _)| ResourceKind::parse(k))
            .map_or(usize::MAX, |k| k as usize)
    };
    views.sort_by_key(order);
    Ok(views)
}

/// Deletes an object at once, behind fedstack's back, with what lived inside it: a
/// cluster takes its node pools, its kubefed host and the members joined to that host
/// along. Returns the addresses removed. Absent is an error.
pub fn delete(state_dir: &Path, address: &str) -> Result<Vec<String>, SimError> {
    let addr = parse_address(address)?;
    if !world::world_dir(state_dir).is_dir() {
        return Err(SimError::NotFound(addr.to_string()));
    }
    let world = world::open_shared(state_dir, true, lock_timeout())?;
    let mut w = lock(&world);
    let now = now_ms();
    let key: Key = (addr.kind, addr.name.clone());
    w.purge_if_gone(&key, now)?;
    if w.live(&key, now).is_none() {
        return Err(SimError::NotFound(addr.to_string()));
    }
    let mut doomed: Vec<Key> = Vec::new();
    if addr.kind == ResourceKind::Cluster {
        let name = addr.name.as_str();
        let host = |o: &SimObject| o.attrs.get("host").and_then(Value::as_str) == Some(name);
        doomed.extend(
            w.of_kind(ResourceKind::FederationMember, now)
                .filter(|m| host(m))
                .map(SimObject::key),
        );
        doomed.extend(
            w.get(ResourceKind::FederationHost, name, now)
                .map(SimObject::key),
        );
        let prefix = format!("{name}.");
        doomed.extend(
            w.of_kind(ResourceKind::NodePool, now)
                .filter(|p| p.name.starts_with(&prefix))
                .map(SimObject::key),
        );
    }
    doomed.push(key);
    let mut removed = Vec::with_capacity(doomed.len());
    for k in doomed {
        if let Some(o) = w.remove(&k)? {
            removed.push(o.address().to_string());
        }
    }
    Ok(removed)
}

/// The value of `sim set ADDR KEY=VALUE`: JSON when it parses as JSON, else the string.
/// Replacing a string attribute keeps the raw text (`kubernetes_version=1.32` stays the
/// string "1.32") unless the value is quoted JSON.
fn parse_value(raw: &str, current: Option<&Value>) -> Value {
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::String(s)) => Value::String(s),
        Ok(v) if !matches!(current, Some(Value::String(_))) => v,
        _ => Value::String(raw.to_string()),
    }
}

/// Changes an object behind fedstack's back:
/// - `status=failed` (or `failed:REASON`) puts it in the failed state, `status=ready`
///   makes it ready now;
/// - `healthy=true|false` on a health check;
/// - `token=rotate` on a federation member, `admin_token=rotate` on a cluster;
/// - any other key sets that attribute (drift): the value must pass validation, and
///   attributes that force replacement cannot change. This bumps the generation, so
///   cluster credentials rotate.
pub fn set(
    state_dir: &Path,
    address: &str,
    key: &str,
    value: &str,
) -> Result<SimObjectView, SimError> {
    let addr = parse_address(address)?;
    let key = key.trim();
    if !world::world_dir(state_dir).is_dir() {
        return Err(SimError::NotFound(addr.to_string()));
    }
    let world = world::open_shared(state_dir, true, lock_timeout())?;
    let mut w = lock(&world);
    let now = now_ms();
    let k: Key = (addr.kind, addr.name.clone());
    w.purge_if_gone(&k, now)?;
    let Some(current) = w.live(&k, now) else {
        return Err(SimError::NotFound(addr.to_string()));
    };
    if matches!(current.phase(now), Phase::Deleting { .. }) {
        return Err(SimError::Invalid(format!("{addr} is being deleted")));
    }
    let mut obj = current.clone();
    let invalid = |m: String| SimError::Invalid(format!("{addr}: {m}"));
    let bad = |m: String| Err(invalid(m));
    let raw = value.trim();
    match (key, addr.kind) {
        ("status", _) => {
            let lower = raw.to_ascii_lowercase();
            if lower == "ready" {
                obj.failed = None;
                obj.ready_at = obj.ready_at.min(now);
            } else if lower == "failed" {
                obj.failed = Some(obj.flavor.failed_word().to_string());
            } else if let Some(reason) = lower.strip_prefix("failed:") {
                let reason = raw[raw.len() - reason.len()..].trim();
                obj.failed = Some(format!("{}: {reason}", obj.flavor.failed_word()));
            } else {
                return bad(format!(
                    "status `{raw}` must be failed, failed:REASON or ready"
                ));
            }
        }
        ("healthy", ResourceKind::HealthCheck) => match parse_value(raw, None) {
            Value::Bool(b) => {
                obj.outputs.insert("healthy".into(), Value::Bool(b));
            }
            _ => return bad(format!("healthy `{raw}` must be true or false")),
        },
        ("token", ResourceKind::FederationMember) | ("admin_token", ResourceKind::Cluster) => {
            if raw != "rotate" {
                return bad(format!("`{key}` is secret; the only value is `rotate`"));
            }
            if addr.kind == ResourceKind::Cluster {
                obj.generation += 1;
            } else {
                obj.token_generation += 1;
            }
        }
        ("healthy", _) => return bad("`healthy` applies to health checks only".into()),
        ("token", _) => return bad("`token` applies to federation members only".into()),
        ("admin_token", _) => return bad("`admin_token` applies to clusters only".into()),
        ("", _) => return bad("empty key".into()),
        (k, kind) if obj.outputs.contains_key(k) => {
            return bad(format!(
                "`{k}` is an output the cloud computes; set an attribute, status{}",
                match kind {
                    ResourceKind::HealthCheck => ", healthy",
                    ResourceKind::FederationMember => " or token",
                    ResourceKind::Cluster => " or admin_token",
                    _ => "",
                }
            ))
        }
        (k, kind) => {
            if replace_attributes(kind).contains(&k) {
                return bad(format!(
                    "`{k}` cannot change on a live {kind} (it forces a replacement); delete the object instead"
                ));
            }
            let v = parse_value(raw, obj.attrs.get(k));
            let mut attrs = obj.attrs.clone();
            attrs.insert(k.to_string(), v);
            validate::shape(kind, &obj.name, &attrs, obj.flavor).map_err(invalid)?;
            obj.attrs = attrs;
            obj.generation += 1;
        }
    }
    w.put(obj.clone())?;
    view(&obj, now).ok_or_else(|| SimError::NotFound(addr.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_parse_as_json_or_strings() {
        assert_eq!(parse_value("5", None), json!(5));
        assert_eq!(parse_value("false", None), json!(false));
        assert_eq!(parse_value("null", None), Value::Null);
        assert_eq!(parse_value("{\"a\":1}", None), json!({"a": 1}));
        assert_eq!(parse_value("hello", None), json!("hello"));
        assert_eq!(parse_value("1.32", Some(&json!("1.31"))), json!("1.32"));
        assert_eq!(parse_value("\"1.32\"", None), json!("1.32"));
        assert_eq!(parse_value("1.32", Some(&json!(1))), json!(1.32));
    }
}
