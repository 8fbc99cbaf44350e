//! `health_check.NAME`: a Route 53 health check of an IPv4 address. Attributes `type`
//! (HTTP, HTTPS, TCP, HTTP_STR_MATCH, HTTPS_STR_MATCH; fixed at creation), `address`,
//! `port`, `path` (not for TCP), `interval` (10 or 30; fixed), `failure_threshold`.
//! Outputs `id`, `address` and `healthy`: whether more than 18% of Route 53's checkers
//! report success (Route 53's own rule), from `GetHealthCheckStatus`.

use std::sync::Arc;

use aws_sdk_route53::types::{
    HealthCheck, HealthCheckConfig, HealthCheckType, Tag, TagResourceType,
};
use fedstack_core::value::Values;
use fedstack_provider::{ErrorClass, Observed, ProviderError, ResourceSpec, ResourceStatus};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::Route53;
use crate::errors::{classify, invalid, not_found, permanent, with_retries};

const TYPES: &[&str] = &["HTTP", "HTTPS", "TCP", "HTTP_STR_MATCH", "HTTPS_STR_MATCH"];

/// The wanted configuration, checked the way Route 53 would.
struct Wanted {
    kind: String,
    address: String,
    port: Option<i32>,
    path: Option<String>,
    interval: i32,
    failure_threshold: i32,
}

fn wanted(spec: &ResourceSpec) -> Result<Wanted, ProviderError> {
    let a = &spec.attrs;
    let s = |k: &str| a.get(k).and_then(Value::as_str);
    let i = |k: &str| a.get(k).and_then(Value::as_i64);
    let kind = s("type").unwrap_or("HTTPS");
    if !TYPES.contains(&kind) {
        return Err(invalid(format!(
            "{}: health check type `{kind}` is not one of {}",
            spec.address,
            TYPES.join(", ")
        )));
    }
    let address =
        s("address").ok_or_else(|| invalid(format!("{}: `address` is required", spec.address)))?;
    if address.parse::<std::net::Ipv4Addr>().is_err() {
        return Err(invalid(format!(
            "{}: `address` `{address}` is not an IPv4 address",
            spec.address
        )));
    }
    let port = i("port")
        .map(|p| i32::try_from(p).ok().filter(|p| (1..=65535).contains(p)))
        .map(|p| p.ok_or_else(|| invalid(format!("{}: `port` must be 1-65535", spec.address))))
        .transpose()?;
    let path = s("path").map(str::to_string);
    if kind == "TCP" {
        if port.is_none() {
            return Err(invalid(format!(
                "{}: a TCP health check needs `port`",
                spec.address
            )));
        }
        if path.is_some() {
            return Err(invalid(format!(
                "{}: a TCP health check has no `path`",
                spec.address
            )));
        }
    }
    let interval = i32::try_from(i("interval").unwrap_or(30)).unwrap_or(30);
    if interval != 10 && interval != 30 {
        return Err(invalid(format!(
            "{}: `interval` must be 10 or 30",
            spec.address
        )));
    }
    let failure_threshold = i32::try_from(i("failure_threshold").unwrap_or(3)).unwrap_or(3);
    if !(1..=10).contains(&failure_threshold) {
        return Err(invalid(format!(
            "{}: `failure_threshold` must be 1-10",
            spec.address
        )));
    }
    Ok(Wanted {
        kind: kind.to_string(),
        address: address.to_string(),
        port,
        path,
        interval,
        failure_threshold,
    })
}

impl Route53 {
    /// Every health check of the account, paged to the end; reused for `listing_ttl`.
    async fn health_checks(&self, fresh: bool) -> Result<Arc<Vec<HealthCheck>>, ProviderError> {
        let mut cache = self.health_checks.lock().await;
        if let Some((at, list)) = cache.as_ref() {
            if !fresh && at.elapsed() < self.options.listing_ttl {
                return Ok(list.clone());
            }
        }
        let client = self.clients.route53().await?;
        let mut all: Vec<HealthCheck> = Vec::new();
        let mut marker: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            let out = with_retries(&self.options.retry, || async {
                client
                    .list_health_checks()
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .map_err(|e| classify("ListHealthChecks", e))
            })
            .await?;
            all.extend(out.health_checks().iter().cloned());
            match out.next_marker().filter(|_| out.is_truncated()) {
                Some(next) => {
                    if !seen.insert(next.to_string()) {
                        return Err(permanent(format!(
                            "ListHealthChecks returned marker {next} twice; stopping"
                        )));
                    }
                    marker = Some(next.to_string());
                }
                None => break,
            }
        }
        let list = Arc::new(all);
        *cache = Some((Instant::now(), list.clone()));
        Ok(list)
    }

    async fn forget_health_checks(&self) {
        *self.health_checks.lock().await = None;
    }

    /// The health check fedstack made for `name` in this stack.
    async fn find_health_check(
        &self,
        name: &str,
        fresh: bool,
    ) -> Result<Option<HealthCheck>, ProviderError> {
        let prefix = self.caller_prefix("health_check", name);
        let list = self.health_checks(fresh).await?;
        let mine: Vec<&HealthCheck> = list
            .iter()
            .filter(|h| h.caller_reference().starts_with(&prefix))
            .collect();
        // Two means a create was repeated after a crash: use the newest, which is the
        // one a retry would have recorded.
        let found = mine
            .into_iter()
            .max_by_key(|h| h.caller_reference().to_string())
            .cloned();
        if let Some(h) = &found {
            self.remember_health_check(h.id());
        }
        Ok(found)
    }

    pub(crate) fn remember_health_check(&self, id: &str) {
        self.known_health_checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string());
    }

    /// Whether health check `id` exists (Route 53 rejects records naming one that does
    /// not; moto does not, so fedstack checks).
    pub(crate) async fn health_check_exists(&self, id: &str) -> Result<bool, ProviderError> {
        if self
            .known_health_checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
        {
            return Ok(true);
        }
        let client = self.clients.route53().await?;
        let r = with_retries(&self.options.retry, || async {
            client
                .get_health_check()
                .health_check_id(id)
                .send()
                .await
                .map_err(|e| classify("GetHealthCheck", e))
        })
        .await;
        match r {
            Ok(_) => {
                self.remember_health_check(id);
                Ok(true)
            }
            Err(e) if e.class == ErrorClass::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Healthy as Route 53 decides it: more than 18% of the checkers report success.
    pub(crate) async fn health_status(&self, id: &str) -> Result<(bool, String), ProviderError> {
        let client = self.clients.route53().await?;
        let out = with_retries(&self.options.retry, || async {
            client
                .get_health_check_status()
                .health_check_id(id)
                .send()
                .await
                .map_err(|e| classify("GetHealthCheckStatus", e))
        })
        .await?;
        let reports: Vec<&str> = out
            .health_check_observations()
            .iter()
            .filter_map(|o| o.status_report().and_then(|r| r.status()))
            .collect();
        let ok = reports.iter().filter(|s| s.starts_with("Success")).count();
        let healthy = !reports.is_empty() && ok * 100 > reports.len() * 18;
        let detail = match reports.iter().find(|s| !s.starts_with("Success")) {
            _ if reports.is_empty() => "no observations yet".to_string(),
            Some(failure) if !healthy => {
                format!("{ok}/{} checkers healthy: {failure}", reports.len())
            }
            _ => format!("{ok}/{} checkers healthy", reports.len()),
        };
        Ok((healthy, detail))
    }

    async fn observe_health_check(
        &self,
        spec: &ResourceSpec,
        h: &HealthCheck,
    ) -> Result<Observed, ProviderError> {
        let config = h
            .health_check_config()
            .ok_or_else(|| permanent(format!("health check {} has no configuration", h.id())))?;
        let mut attrs = Values::new();
        attrs.insert("type".into(), json!(config.r#type().as_str()));
        attrs.insert(
            "address".into(),
            config.ip_address().map_or(Value::Null, |a| json!(a)),
        );
        attrs.insert(
            "port".into(),
            config.port().map_or(Value::Null, |p| json!(p)),
        );
        attrs.insert(
            "path".into(),
            config.resource_path().map_or(Value::Null, |p| json!(p)),
        );
        attrs.insert(
            "interval".into(),
            json!(config.request_interval().unwrap_or(30)),
        );
        attrs.insert(
            "failure_threshold".into(),
            json!(config.failure_threshold().unwrap_or(3)),
        );
        for (k, v) in &spec.attrs {
            attrs.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let (healthy, detail) = self.health_status(h.id()).await?;
        let mut outputs = Values::new();
        outputs.insert("id".into(), json!(h.id()));
        outputs.insert(
            "address".into(),
            attrs.get("address").cloned().unwrap_or(Value::Null),
        );
        outputs.insert("healthy".into(), json!(healthy));
        outputs.insert("health".into(), json!(detail));
        Ok(Observed {
            attrs,
            outputs,
            secrets: Default::default(),
            status: ResourceStatus::Ready,
        })
    }

    pub(crate) async fn health_check_read(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<Observed>, ProviderError> {
        match self.find_health_check(&spec.cloud_name, false).await? {
            Some(h) => Ok(Some(self.observe_health_check(spec, &h).await?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn health_check_create(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Observed, ProviderError> {
        let w = wanted(spec)?;
        if let Some(h) = self.find_health_check(&spec.cloud_name, true).await? {
            return Err(ProviderError::new(
                ErrorClass::AlreadyExists,
                format!("{} already exists (health check {})", spec.address, h.id()),
            ));
        }
        let client = self.clients.route53().await?;
        let config = HealthCheckConfig::builder()
            .r#type(HealthCheckType::from(w.kind.as_str()))
            .ip_address(&w.address)
            .set_port(w.port)
            .set_resource_path(w.path.clone())
            .request_interval(w.interval)
            .failure_threshold(w.failure_threshold)
            .build()
            .map_err(|e| invalid(format!("{}: {e}", spec.address)))?;
        let reference = self.caller_reference("health_check", &spec.cloud_name);
        let out = with_retries(&self.options.retry, || async {
            client
                .create_health_check()
                .caller_reference(&reference)
                .health_check_config(config.clone())
                .send()
                .await
                .map_err(|e| classify("CreateHealthCheck", e))
        })
        .await?;
        self.forget_health_checks().await;
        let h = out
            .health_check()
            .cloned()
            .ok_or_else(|| permanent("CreateHealthCheck: no health check in the answer"))?;
        self.remember_health_check(h.id());
        // Health checks have no name of their own: the console shows the Name tag.
        let tag = Tag::builder()
            .key("Name")
            .value(format!("{}/{}", self.stack, spec.cloud_name))
            .build();
        with_retries(&self.options.retry, || async {
            client
                .change_tags_for_resource()
                .resource_type(TagResourceType::Healthcheck)
                .resource_id(h.id())
                .add_tags(tag.clone())
                .send()
                .await
                .map_err(|e| classify("ChangeTagsForResource", e))
        })
        .await?;
        self.observe_health_check(spec, &h).await
    }

    pub(crate) async fn health_check_update(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Observed, ProviderError> {
        let w = wanted(spec)?;
        let h = self
            .find_health_check(&spec.cloud_name, true)
            .await?
            .ok_or_else(|| not_found(format!("{} does not exist", spec.address)))?;
        let client = self.clients.route53().await?;
        let out = with_retries(&self.options.retry, || async {
            client
                .update_health_check()
                .health_check_id(h.id())
                .health_check_version(h.health_check_version())
                .ip_address(&w.address)
                .set_port(w.port)
                .set_resource_path(w.path.clone())
                .failure_threshold(w.failure_threshold)
                .send()
                .await
                .map_err(|e| classify("UpdateHealthCheck", e))
        })
        .await?;
        self.forget_health_checks().await;
        let h = out.health_check().cloned().unwrap_or(h);
        self.observe_health_check(spec, &h).await
    }

    pub(crate) async fn health_check_delete(
        &self,
        spec: &ResourceSpec,
    ) -> Result<(), ProviderError> {
        let Some(h) = self.find_health_check(&spec.cloud_name, true).await? else {
            return Ok(());
        };
        let client = self.clients.route53().await?;
        let r = with_retries(&self.options.retry, || async {
            client
                .delete_health_check()
                .health_check_id(h.id())
                .send()
                .await
                .map_err(|e| classify("DeleteHealthCheck", e))
        })
        .await;
        self.forget_health_checks().await;
        self.known_health_checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(h.id());
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.class == ErrorClass::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}
