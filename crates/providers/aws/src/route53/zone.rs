//! `dns_zone.NAME`: a public hosted zone. Attributes `zone`, `comment`; outputs `id`
//! (without `/hostedzone/`), `name_servers`, `zone`.

use aws_sdk_route53::types::{HostedZone, HostedZoneConfig};
use fedstack_core::value::Values;
use fedstack_provider::{
    ErrorClass, Observed, Progress, ProviderError, ResourceSpec, ResourceStatus,
};
use serde_json::{json, Value};

use super::{bare_zone_id, Route53};
use crate::errors::{classify, permanent, with_retries};

pub(crate) fn zone_name(spec: &ResourceSpec) -> String {
    spec.attrs
        .get("zone")
        .and_then(Value::as_str)
        .unwrap_or(&spec.cloud_name)
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

impl Route53 {
    /// The public hosted zone named `name`: the one fedstack made for this stack, else
    /// the only public zone of that name. `None` when there is none.
    pub(crate) async fn find_zone(&self, name: &str) -> Result<Option<HostedZone>, ProviderError> {
        let client = self.clients.route53().await?;
        let wanted = format!("{name}.");
        let prefix = self.caller_prefix("dns_zone", name);
        let mut found: Vec<HostedZone> = Vec::new();
        let mut cursor: Option<(String, Option<String>)> = Some((wanted.clone(), None));
        let mut seen = std::collections::HashSet::new();
        while let Some((dns, id)) = cursor.take() {
            if !seen.insert((dns.clone(), id.clone())) {
                return Err(permanent(format!(
                    "ListHostedZonesByName returned the page at {dns} twice; stopping"
                )));
            }
            let out = with_retries(&self.options.retry, || async {
                client
                    .list_hosted_zones_by_name()
                    .dns_name(&dns)
                    .set_hosted_zone_id(id.clone())
                    .send()
                    .await
                    .map_err(|e| classify("ListHostedZonesByName", e))
            })
            .await?;
            let mut past = false;
            for z in out.hosted_zones() {
                if z.name().eq_ignore_ascii_case(&wanted) {
                    if !z.config().is_some_and(|c| c.private_zone()) {
                        found.push(z.clone());
                    }
                } else {
                    past = true;
                }
            }
            if out.is_truncated() && !past {
                if let Some(next) = out.next_dns_name() {
                    cursor = Some((
                        next.to_string(),
                        out.next_hosted_zone_id().map(str::to_string),
                    ));
                }
            }
        }
        let ours: Vec<&HostedZone> = found
            .iter()
            .filter(|z| z.caller_reference().starts_with(&prefix))
            .collect();
        let zone = match (ours.as_slice(), found.as_slice()) {
            ([z], _) => Some((*z).clone()),
            ([], []) => None,
            ([], [z]) => Some(z.clone()),
            _ => {
                return Err(ProviderError::new(
                    ErrorClass::Permanent,
                    format!(
                        "{} public hosted zones are named {name}; fedstack can't tell which is the stack's (hint: delete the extra ones, or keep one)",
                        found.len()
                    ),
                ))
            }
        };
        if let Some(z) = &zone {
            self.remember_zone(name, &bare_zone_id(z.id()));
        }
        Ok(zone)
    }

    pub(crate) fn remember_zone(&self, name: &str, id: &str) {
        self.zone_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), id.to_string());
    }

    /// The id of the zone named `name`, from this run or looked up.
    pub(crate) async fn zone_id(&self, name: &str) -> Result<Option<String>, ProviderError> {
        if let Some(id) = self
            .zone_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Ok(Some(id.clone()));
        }
        Ok(self.find_zone(name).await?.map(|z| bare_zone_id(z.id())))
    }

    async fn observe_zone(&self, name: &str, zone: &HostedZone) -> Result<Observed, ProviderError> {
        let client = self.clients.route53().await?;
        let id = bare_zone_id(zone.id());
        let out = with_retries(&self.options.retry, || async {
            client
                .get_hosted_zone()
                .id(&id)
                .send()
                .await
                .map_err(|e| classify("GetHostedZone", e))
        })
        .await?;
        let name_servers: Vec<String> = out
            .delegation_set()
            .map(|d| d.name_servers().to_vec())
            .unwrap_or_default();
        let mut attrs = Values::new();
        attrs.insert("zone".into(), json!(name));
        attrs.insert(
            "comment".into(),
            zone.config()
                .and_then(|c| c.comment())
                .filter(|c| !c.is_empty())
                .map_or(Value::Null, |c| json!(c)),
        );
        let mut outputs = Values::new();
        outputs.insert("id".into(), json!(id));
        outputs.insert("name_servers".into(), json!(name_servers));
        outputs.insert("zone".into(), json!(name));
        Ok(Observed {
            attrs,
            outputs,
            secrets: Default::default(),
            status: ResourceStatus::Ready,
        })
    }

    pub(crate) async fn zone_read(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<Observed>, ProviderError> {
        let name = zone_name(spec);
        match self.find_zone(&name).await? {
            Some(z) => Ok(Some(self.observe_zone(&name, &z).await?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn zone_create(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let name = zone_name(spec);
        if let Some(z) = self.find_zone(&name).await? {
            // Found or adopted by name ("find or create").
            return self.observe_zone(&name, &z).await;
        }
        let client = self.clients.route53().await?;
        let comment = spec
            .attrs
            .get("comment")
            .and_then(Value::as_str)
            .map(str::to_string);
        let reference = self.caller_reference("dns_zone", &name);
        let out = with_retries(&self.options.retry, || async {
            client
                .create_hosted_zone()
                .name(&name)
                .caller_reference(&reference)
                .set_hosted_zone_config(
                    comment
                        .clone()
                        .map(|c| HostedZoneConfig::builder().comment(c).build()),
                )
                .send()
                .await
                .map_err(|e| classify("CreateHostedZone", e))
        })
        .await?;
        let zone = out
            .hosted_zone()
            .cloned()
            .ok_or_else(|| permanent("CreateHostedZone: no hosted zone in the answer"))?;
        self.remember_zone(&name, &bare_zone_id(zone.id()));
        if let Some(c) = out.change_info() {
            self.wait_insync(c.id(), c.status().clone(), &|s| progress.status(s))
                .await?;
        }
        self.observe_zone(&name, &zone).await
    }

    pub(crate) async fn zone_update(
        &self,
        spec: &ResourceSpec,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let name = zone_name(spec);
        let zone = self.find_zone(&name).await?.ok_or_else(|| {
            ProviderError::new(ErrorClass::NotFound, format!("no hosted zone {name}"))
        })?;
        if changed.iter().any(|c| c == "comment") {
            let client = self.clients.route53().await?;
            let comment = spec
                .attrs
                .get("comment")
                .and_then(Value::as_str)
                .unwrap_or("");
            let id = bare_zone_id(zone.id());
            with_retries(&self.options.retry, || async {
                client
                    .update_hosted_zone_comment()
                    .id(&id)
                    .comment(comment)
                    .send()
                    .await
                    .map_err(|e| classify("UpdateHostedZoneComment", e))
            })
            .await?;
        }
        let zone = self.find_zone(&name).await?.unwrap_or(zone);
        self.observe_zone(&name, &zone).await
    }

    pub(crate) async fn zone_delete(&self, spec: &ResourceSpec) -> Result<(), ProviderError> {
        let name = zone_name(spec);
        let Some(zone) = self.find_zone(&name).await? else {
            return Ok(());
        };
        let client = self.clients.route53().await?;
        let id = bare_zone_id(zone.id());
        let r = with_retries(&self.options.retry, || async {
            client
                .delete_hosted_zone()
                .id(&id)
                .send()
                .await
                .map_err(|e| classify("DeleteHostedZone", e))
        })
        .await;
        match r {
            Ok(_) => {}
            Err(e) if e.class == ErrorClass::NotFound => {}
            Err(mut e) => {
                if e.message.contains("HostedZoneNotEmpty") {
                    e.message.push_str(" (hint: the zone holds records fedstack does not manage; delete them, or keep the zone with `fedstack state rm`)");
                }
                return Err(e);
            }
        }
        self.zone_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&name);
        Ok(())
    }
}
