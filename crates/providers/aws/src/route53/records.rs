//! `dns_record.*`: record sets, changed in batches.
//!
//! Every create, update and delete of a record goes through the zone's [`Coalescer`]:
//! calls that arrive together (the engine starts all ready record steps of a zone at
//! once, see `Provider::batch_key`) become one batch. A batch:
//!
//! 1. lists the zone's record sets once (paged to the end);
//! 2. decides per record: nothing to do (already as wanted: a retried or adopted
//!    create), `CREATE` (absent), `UPSERT` (differs), `DELETE` of the set as it is live
//!    (Route 53 deletes only an exact match), or an error for that record alone
//!    (fedstack's own validation; a create over a different live set; a health check
//!    that does not exist);
//! 3. packs the changes into as few `ChangeResourceRecordSets` calls as the limits
//!    allow: 1,000 values and 32,000 characters of values per call, `UPSERT` counting
//!    twice;
//! 4. submits them, retrying throttling and `PriorRequestNotComplete` with backoff; a
//!    call rejected as invalid is split in halves and retried, so one bad record fails
//!    alone rather than its whole batch (a batch is all-or-nothing on Route 53);
//! 5. waits until each change is `INSYNC` (`GetChange`), showing the status to every
//!    step of the batch.
//!
//! [`Coalescer`]: crate::batch::Coalescer

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ChangeStatus};
use fedstack_core::value::Values;
use fedstack_provider::{
    ErrorClass, Observed, Progress, ProviderError, ResourceSpec, ResourceStatus,
};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::rrset::{normalize_name, txt_decode, Rr, RrKey};
use super::{bare_zone_id, Listing, Route53};
use crate::batch::{BatchStatus, Flush};
use crate::config::CallRetry;
use crate::errors::{classify, invalid, not_found, permanent, with_retries};

/// At most this many values per `ChangeResourceRecordSets` (`UPSERT` counts twice).
pub const MAX_VALUES_PER_CALL: usize = 1000;
/// At most this many characters of values per call (`UPSERT` counts twice).
pub const MAX_CHARS_PER_CALL: usize = 32_000;
/// And, for alias records (no values), at most this many changes.
pub const MAX_CHANGES_PER_CALL: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Create,
    Upsert,
    Delete,
}

pub(crate) struct RecordOp {
    pub action: Action,
    pub spec: ResourceSpec,
}

/// `Ok(None)` answers a delete.
type OpResult = Result<Option<Observed>, ProviderError>;

/// Records of one zone are batched together.
pub(crate) fn batch_key(spec: &ResourceSpec) -> Option<String> {
    let zone = spec.attrs.get("zone").and_then(Value::as_str)?;
    Some(format!(
        "route53:{}",
        zone.trim_end_matches('.').to_ascii_lowercase()
    ))
}

fn zone_of(spec: &ResourceSpec) -> String {
    spec.attrs
        .get("zone")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// The record set a spec names: fqdn, type and set identifier.
fn key_of(spec: &ResourceSpec) -> RrKey {
    let (name_fqdn, name_set) = match spec.cloud_name.split_once('/') {
        Some((f, s)) => (f, Some(s)),
        None => (spec.cloud_name.as_str(), None),
    };
    let a = &spec.attrs;
    let fqdn = a.get("fqdn").and_then(Value::as_str).unwrap_or(name_fqdn);
    let rtype = a.get("type").and_then(Value::as_str).unwrap_or("A");
    let set = a
        .get("set_id")
        .and_then(Value::as_str)
        .or(name_set)
        .map(str::to_string);
    (normalize_name(fqdn), rtype.to_string(), set)
}

fn outputs(rr: &Rr, zone_id: &str) -> Values {
    let mut id = format!("{zone_id}_{}_{}", rr.name, rr.rtype);
    if let Some(s) = &rr.set_id {
        id.push('_');
        id.push_str(s);
    }
    let values: Vec<String> = if rr.rtype == "TXT" {
        rr.values.iter().map(|v| txt_decode(v)).collect()
    } else {
        rr.values.clone()
    };
    let mut out = Values::new();
    out.insert("id".into(), json!(id));
    out.insert("fqdn".into(), json!(rr.name));
    out.insert("values".into(), json!(values));
    out
}

fn observe(rr: &Rr, spec: &ResourceSpec, zone_id: &str) -> Observed {
    Observed {
        attrs: rr.attrs(&spec.attrs, zone_id),
        outputs: outputs(rr, zone_id),
        secrets: Default::default(),
        status: ResourceStatus::Ready,
    }
}

/// One change to submit, for the op at `op`.
struct Planned {
    op: usize,
    action: ChangeAction,
    rr: Rr,
}

impl Planned {
    fn weight(&self) -> usize {
        if self.action == ChangeAction::Upsert {
            2
        } else {
            1
        }
    }
}

/// Groups of changes (indices into `planned`) that each fit one call.
fn chunks(planned: &[Planned]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let (mut values, mut chars) = (0, 0);
    for (i, p) in planned.iter().enumerate() {
        let v = p.rr.value_count() * p.weight();
        let c = p.rr.value_chars() * p.weight();
        if !cur.is_empty()
            && (values + v > MAX_VALUES_PER_CALL
                || chars + c > MAX_CHARS_PER_CALL
                || cur.len() >= MAX_CHANGES_PER_CALL)
        {
            out.push(std::mem::take(&mut cur));
            values = 0;
            chars = 0;
        }
        cur.push(i);
        values += v;
        chars += c;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Route53 {
    /// The zone's record sets, paged to the end. Reads share one listing for
    /// `listing_ttl`; a batch always lists afresh.
    pub(crate) async fn listing(
        &self,
        zone_id: &str,
        fresh: bool,
    ) -> Result<Listing, ProviderError> {
        let cell = self
            .listings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(zone_id.to_string())
            .or_default()
            .clone();
        let mut cached = cell.lock().await;
        if let Some((at, l)) = cached.as_ref() {
            if !fresh && at.elapsed() < self.options.listing_ttl {
                return Ok(l.clone());
            }
        }
        let l = Arc::new(self.list_record_sets(zone_id).await?);
        *cached = Some((Instant::now(), l.clone()));
        Ok(l)
    }

    fn forget_listing(&self, zone_id: &str) {
        self.listings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(zone_id);
    }

    /// `ListResourceRecordSets` to the last page. A cursor seen twice is an error.
    pub(crate) async fn list_record_sets(
        &self,
        zone_id: &str,
    ) -> Result<HashMap<RrKey, Rr>, ProviderError> {
        let client = self.clients.route53().await?;
        let mut all = HashMap::new();
        let mut cursor: Option<(String, String, Option<String>)> = None;
        let mut seen: BTreeSet<(String, String, Option<String>)> = BTreeSet::new();
        loop {
            let out = with_retries(&self.options.retry, || async {
                let mut req = client
                    .list_resource_record_sets()
                    .hosted_zone_id(zone_id)
                    .max_items(300);
                if let Some((name, rtype, id)) = &cursor {
                    req = req
                        .start_record_name(name)
                        .start_record_type(aws_sdk_route53::types::RrType::from(rtype.as_str()))
                        .set_start_record_identifier(id.clone());
                }
                req.send()
                    .await
                    .map_err(|e| classify("ListResourceRecordSets", e))
            })
            .await?;
            for set in out.resource_record_sets() {
                let rr = Rr::from_sdk(set);
                all.insert(rr.key(), rr);
            }
            if !out.is_truncated() {
                return Ok(all);
            }
            let next = (
                out.next_record_name().unwrap_or_default().to_string(),
                out.next_record_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                out.next_record_identifier().map(str::to_string),
            );
            if next.0.is_empty() || !seen.insert(next.clone()) {
                return Err(permanent(format!(
                    "ListResourceRecordSets of zone {zone_id} returned the cursor ({}, {}, {}) twice; stopping instead of looping",
                    next.0,
                    next.1,
                    next.2.as_deref().unwrap_or("-")
                )));
            }
            cursor = Some(next);
        }
    }

    /// The zone id of a record: its `zone_id` attribute, else looked up by name.
    async fn record_zone_id(&self, spec: &ResourceSpec) -> Result<Option<String>, ProviderError> {
        if let Some(id) = spec.attrs.get("zone_id").and_then(Value::as_str) {
            return Ok(Some(bare_zone_id(id)));
        }
        self.zone_id(&zone_of(spec)).await
    }

    pub(crate) async fn record_read(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(zone_id) = self.record_zone_id(spec).await? else {
            return Ok(None);
        };
        let listing = match self.listing(&zone_id, false).await {
            Ok(l) => l,
            // The zone is gone, and the record with it.
            Err(e) if e.class == ErrorClass::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(listing
            .get(&key_of(spec))
            .map(|rr| observe(rr, spec, &zone_id)))
    }

    /// Creates (`Create`) or changes (`Upsert`) one record, in the zone's next batch.
    pub(crate) async fn record_change(
        &self,
        action: Action,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let key = batch_key(spec).unwrap_or_else(|| "route53:".into());
        let op = RecordOp {
            action,
            spec: spec.clone(),
        };
        let r = self
            .batcher
            .submit(&key, op, self, progress, || {
                Err(ProviderError::new(
                    ErrorClass::Transient,
                    "the record batch was abandoned",
                ))
            })
            .await?;
        r.ok_or_else(|| permanent(format!("{}: the batch gave no result", spec.address)))
    }

    pub(crate) async fn record_delete(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let key = batch_key(spec).unwrap_or_else(|| "route53:".into());
        let op = RecordOp {
            action: Action::Delete,
            spec: spec.clone(),
        };
        self.batcher
            .submit(&key, op, self, progress, || {
                Err(ProviderError::new(
                    ErrorClass::Transient,
                    "the record batch was abandoned",
                ))
            })
            .await
            .map(|_| ())
    }

    async fn flush_batch(
        &self,
        zone: &str,
        ops: Vec<RecordOp>,
        status: &BatchStatus,
    ) -> Vec<OpResult> {
        let n = ops.len();
        let fail_all =
            |e: ProviderError| -> Vec<OpResult> { (0..n).map(|_| Err(e.clone())).collect() };
        // The zone.
        let zone_id = match ops
            .iter()
            .find_map(|o| o.spec.attrs.get("zone_id").and_then(Value::as_str))
        {
            Some(id) => Some(bare_zone_id(id)),
            None => match self.zone_id(zone).await {
                Ok(id) => id,
                Err(e) => return fail_all(e),
            },
        };
        let Some(zone_id) = zone_id else {
            // No zone: nothing to delete, nothing can be created.
            return ops
                .iter()
                .map(|o| match o.action {
                    Action::Delete => Ok(None),
                    _ => Err(not_found(format!(
                        "NoSuchHostedZone: no hosted zone {zone} ({} needs it)",
                        o.spec.address
                    ))),
                })
                .collect();
        };
        let live = match self.list_record_sets(&zone_id).await {
            Ok(l) => l,
            Err(e) if e.class == ErrorClass::NotFound => {
                return ops
                    .iter()
                    .map(|o| match o.action {
                        Action::Delete => Ok(None),
                        _ => Err(e.clone()),
                    })
                    .collect()
            }
            Err(e) => return fail_all(e),
        };

        // Health checks the records name must exist (Route 53 checks; moto does not).
        let mut hc_exists: HashMap<String, Result<bool, ProviderError>> = HashMap::new();
        for o in &ops {
            if o.action == Action::Delete {
                continue;
            }
            if let Some(id) = o.spec.attrs.get("health_check_id").and_then(Value::as_str) {
                if !hc_exists.contains_key(id) {
                    let r = self.health_check_exists(id).await;
                    hc_exists.insert(id.to_string(), r);
                }
            }
        }

        let mut results: Vec<Option<OpResult>> = (0..n).map(|_| None).collect();
        let mut planned: Vec<Planned> = Vec::new();
        for (i, o) in ops.iter().enumerate() {
            let who = &o.spec.address;
            match o.action {
                Action::Create | Action::Upsert => {
                    let want = match Rr::from_attrs(&o.spec.attrs) {
                        Ok(r) => r,
                        Err(m) => {
                            results[i] = Some(Err(invalid(format!("{who}: {m}"))));
                            continue;
                        }
                    };
                    if let Some(id) = &want.health_check_id {
                        match hc_exists.get(id) {
                            Some(Ok(true)) => {}
                            Some(Err(e)) => {
                                results[i] = Some(Err(e.clone()));
                                continue;
                            }
                            _ => {
                                results[i] = Some(Err(invalid(format!(
                                    "{who}: health check {id} does not exist (Route 53 rejects a record naming it)"
                                ))));
                                continue;
                            }
                        }
                    }
                    match live.get(&want.key()) {
                        Some(existing) if existing.same(&want) => {
                            results[i] = Some(Ok(Some(observe(&want, &o.spec, &zone_id))));
                        }
                        Some(_) if o.action == Action::Create => {
                            results[i] = Some(Err(ProviderError::new(
                                ErrorClass::AlreadyExists,
                                format!(
                                    "{who}: record set {} {}{} already exists in zone {zone} with other values",
                                    want.name,
                                    want.rtype,
                                    want.set_id.as_deref().map(|s| format!(" ({s})")).unwrap_or_default()
                                ),
                            )));
                        }
                        Some(_) => planned.push(Planned {
                            op: i,
                            action: ChangeAction::Upsert,
                            rr: want,
                        }),
                        None => planned.push(Planned {
                            op: i,
                            action: if o.action == Action::Create {
                                ChangeAction::Create
                            } else {
                                ChangeAction::Upsert
                            },
                            rr: want,
                        }),
                    }
                }
                Action::Delete => match live.get(&key_of(&o.spec)) {
                    None => results[i] = Some(Ok(None)),
                    // Delete the set as it is: Route 53 deletes only an exact match.
                    Some(existing) => planned.push(Planned {
                        op: i,
                        action: ChangeAction::Delete,
                        rr: existing.clone(),
                    }),
                },
            }
        }

        if !planned.is_empty() {
            let groups = chunks(&planned);
            status.set(format!(
                "{} record change(s) in {} ChangeResourceRecordSets call(s)",
                planned.len(),
                groups.len()
            ));
            let submitted = self.submit(&zone_id, &planned, groups, &mut results).await;
            for (group, change_id, change_status) in submitted {
                let waited = self
                    .wait_insync(&change_id, change_status, &|s| {
                        status.set(format!("{s}, {} record change(s)", group.len()))
                    })
                    .await;
                for p in group {
                    let p = &planned[p];
                    let o = &ops[p.op];
                    results[p.op] = Some(match &waited {
                        Err(e) => Err(e.clone()),
                        Ok(()) if p.action == ChangeAction::Delete => Ok(None),
                        Ok(()) => Ok(Some(observe(&p.rr, &o.spec, &zone_id))),
                    });
                }
            }
            self.forget_listing(&zone_id);
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(permanent("internal error: a record change got no result")))
            })
            .collect()
    }

    /// Submits the groups; returns those that went in with their change id and status.
    /// A group Route 53 rejects as invalid is halved and retried until the bad change
    /// is alone; its record gets the error.
    async fn submit(
        &self,
        zone_id: &str,
        planned: &[Planned],
        groups: Vec<Vec<usize>>,
        results: &mut [Option<OpResult>],
    ) -> Vec<(Vec<usize>, String, ChangeStatus)> {
        let retry = CallRetry {
            max_attempts: self.options.retry.max_attempts.max(10),
            ..self.options.retry.clone()
        };
        let mut done = Vec::new();
        let mut work: Vec<Vec<usize>> = groups.into_iter().rev().collect();
        while let Some(group) = work.pop() {
            let client = match self.clients.route53().await {
                Ok(c) => c,
                Err(e) => {
                    for p in &group {
                        results[planned[*p].op] = Some(Err(e.clone()));
                    }
                    continue;
                }
            };
            let batch = group
                .iter()
                .map(|p| {
                    let p = &planned[*p];
                    let set = p.rr.to_sdk().map_err(invalid)?;
                    Change::builder()
                        .action(p.action.clone())
                        .resource_record_set(set)
                        .build()
                        .map_err(|e| invalid(e.to_string()))
                })
                .collect::<Result<Vec<Change>, ProviderError>>()
                .and_then(|changes| {
                    ChangeBatch::builder()
                        .comment(format!(
                            "fedstack {}: {} change(s)",
                            self.stack,
                            changes.len()
                        ))
                        .set_changes(Some(changes))
                        .build()
                        .map_err(|e| invalid(e.to_string()))
                });
            let r = match batch {
                Ok(batch) => {
                    with_retries(&retry, || async {
                        client
                            .change_resource_record_sets()
                            .hosted_zone_id(zone_id)
                            .change_batch(batch.clone())
                            .send()
                            .await
                            .map_err(|e| classify("ChangeResourceRecordSets", e))
                    })
                    .await
                }
                Err(e) => Err(e),
            };
            match r {
                Ok(out) => {
                    let (id, st) = out
                        .change_info()
                        .map(|c| (c.id().to_string(), c.status().clone()))
                        .unwrap_or_else(|| (String::new(), ChangeStatus::Insync));
                    done.push((group, id, st));
                }
                Err(e) if e.class == ErrorClass::Invalid && group.len() > 1 => {
                    let (a, b) = group.split_at(group.len() / 2);
                    work.push(b.to_vec());
                    work.push(a.to_vec());
                }
                Err(e) => {
                    for p in &group {
                        let who = &planned[*p].rr.name;
                        let mut e = e.clone();
                        if group.len() == 1 {
                            e.message = format!("{} (record set {who})", e.message);
                        }
                        results[planned[*p].op] = Some(Err(e));
                    }
                }
            }
        }
        done
    }
}

impl Flush<RecordOp, OpResult> for Route53 {
    fn flush<'a>(
        &'a self,
        key: &'a str,
        batch: Vec<RecordOp>,
        status: &'a BatchStatus,
    ) -> Pin<Box<dyn Future<Output = Vec<OpResult>> + Send + 'a>> {
        let zone = key.strip_prefix("route53:").unwrap_or(key).to_string();
        Box::pin(async move { self.flush_batch(&zone, batch, status).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(action: ChangeAction, values: usize, len: usize) -> Planned {
        Planned {
            op: 0,
            action,
            rr: Rr {
                name: "a.example.com".into(),
                rtype: "TXT".into(),
                set_id: None,
                weight: None,
                region: None,
                geo: None,
                failover: None,
                multivalue: false,
                ttl: Some(60),
                values: vec!["x".repeat(len); values],
                health_check_id: None,
                alias: None,
            },
        }
    }

    #[test]
    fn a_thousand_single_value_creates_fit_one_call() {
        let p: Vec<Planned> = (0..1000)
            .map(|_| planned(ChangeAction::Create, 1, 12))
            .collect();
        assert_eq!(chunks(&p).len(), 1);
        let p: Vec<Planned> = (0..1001)
            .map(|_| planned(ChangeAction::Create, 1, 12))
            .collect();
        assert_eq!(
            chunks(&p).iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1000, 1]
        );
    }

    #[test]
    fn upserts_count_twice() {
        let p: Vec<Planned> = (0..1000)
            .map(|_| planned(ChangeAction::Upsert, 1, 12))
            .collect();
        assert_eq!(
            chunks(&p).iter().map(Vec::len).collect::<Vec<_>>(),
            vec![500, 500]
        );
    }

    #[test]
    fn characters_are_limited_too() {
        // 100 characters a value: 320 values make 32,000 characters.
        let p: Vec<Planned> = (0..400)
            .map(|_| planned(ChangeAction::Create, 1, 100))
            .collect();
        assert_eq!(
            chunks(&p).iter().map(Vec::len).collect::<Vec<_>>(),
            vec![320, 80]
        );
        let p: Vec<Planned> = (0..200)
            .map(|_| planned(ChangeAction::Upsert, 1, 100))
            .collect();
        assert_eq!(
            chunks(&p).iter().map(Vec::len).collect::<Vec<_>>(),
            vec![160, 40]
        );
    }

    #[test]
    fn record_keys_come_from_attributes_or_the_name() {
        let spec = ResourceSpec {
            address: "dns_record.app.example.com/blue".parse().expect("address"),
            cloud_name: "app.example.com/blue".into(),
            attrs: Values::new(),
        };
        assert_eq!(
            key_of(&spec),
            ("app.example.com".into(), "A".into(), Some("blue".into()))
        );
        assert_eq!(batch_key(&spec), None);
        let mut spec = spec;
        spec.attrs.insert("zone".into(), json!("Example.com."));
        assert_eq!(batch_key(&spec).as_deref(), Some("route53:example.com"));
    }
}
