//! [`SimProvider`]: the [`Provider`] of `provider: sim` clouds.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use fedstack_core::address::{Address, ResourceKind};
use fedstack_core::schema::replace_attributes;
use fedstack_core::value::Values;
use fedstack_provider::{
    ErrorClass, Observed, Progress, Provider, ProviderContext, ProviderError, ResourceSpec,
};
use serde_json::{json, Value};

use crate::clock::{self, now_ms};
use crate::config::{parse_settings, Settings, SimOperation, SimOptions};
use crate::errors::{in_progress, invalid, not_found, permanent};
use crate::latency::default_ms;
use crate::naming;
use crate::object::{Flavor, Key, PendingOp, Phase, SimObject};
use crate::validate::{self, normalize_domain};
use crate::world::{self, lock, SharedWorld, World};

/// The Kubernetes namespace of kubefed when none is given.
pub(crate) const DEFAULT_FEDERATION_NAMESPACE: &str = "kube-federation-system";

/// A simulated cloud: one per `provider: sim` entry of a stack's `clouds:`, all of them
/// sharing the world of the state directory.
pub struct SimProvider {
    cloud: String,
    settings: Settings,
    options: SimOptions,
    read_only: bool,
    world: SharedWorld,
}

impl std::fmt::Debug for SimProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimProvider")
            .field("cloud", &self.cloud)
            .field("account", &self.settings.account)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// Whether a call creates (dependencies missing: `NotFound`) or updates (`Invalid`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Call {
    Create,
    Update,
}

impl SimProvider {
    /// A sim cloud named `cloud_name` with its `settings` (`emulates`, `account`,
    /// `latency`), with fault injection and latency scaling from the environment
    /// (see [`SimOptions`]). Opens (or joins, in this process) the world of
    /// `ctx.state_dir`: exclusively, or shared when `ctx.read_only`.
    pub fn new(
        cloud_name: &str,
        settings: &Values,
        ctx: &ProviderContext,
    ) -> Result<SimProvider, ProviderError> {
        SimProvider::with_options(cloud_name, settings, ctx, SimOptions::from_env()?)
    }

    /// Like [`SimProvider::new`], with explicit options instead of the environment.
    pub fn with_options(
        cloud_name: &str,
        settings: &Values,
        ctx: &ProviderContext,
        options: SimOptions,
    ) -> Result<SimProvider, ProviderError> {
        let settings = parse_settings(cloud_name, settings)?;
        let world = world::open_shared(&ctx.state_dir, !ctx.read_only, options.lock_timeout)?;
        Ok(SimProvider {
            cloud: cloud_name.to_string(),
            settings,
            options,
            read_only: ctx.read_only,
            world,
        })
    }

    /// The cloud's name in the stack.
    pub fn cloud_name(&self) -> &str {
        &self.cloud
    }

    /// The account objects are created in (the `account` setting, else the cloud name).
    pub fn account(&self) -> &str {
        &self.settings.account
    }

    /// The world file this cloud lives in.
    pub fn world_path(&self) -> PathBuf {
        lock(&self.world).path().to_path_buf()
    }

    /// The latency of `op` on an object of `kind` and `flavor`, in milliseconds: the
    /// `latency` setting or the realistic default, plus the extra latency, scaled.
    fn latency_ms(&self, kind: ResourceKind, flavor: Flavor, op: SimOperation) -> u64 {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let base = self.settings.latency.per_op[op.index()]
            .map(millis)
            .unwrap_or_else(|| default_ms(kind, flavor, op));
        let total = base.saturating_add(millis(self.options.extra_latency));
        if total == 0 {
            return 0;
        }
        (total as f64 * self.options.latency_scale).round() as u64
    }

    /// Fault injection, throttling and read-only checks, before anything happens.
    fn precheck(&self, spec: &ResourceSpec, op: SimOperation) -> Result<(), ProviderError> {
        if let Some(rule) = self
            .options
            .fail
            .iter()
            .find(|r| r.matches(&spec.address, op))
        {
            return Err(permanent(format!(
                "injected failure: {op} of {} (FEDSTACK_SIM_FAIL pattern `{}`)",
                spec.address, rule.pattern
            )));
        }
        if op == SimOperation::Read {
            return Ok(());
        }
        if self.read_only {
            return Err(permanent(format!(
                "sim cloud `{}` was opened read-only; cannot {op} {}",
                self.cloud, spec.address
            )));
        }
        if self.options.throttle > 0.0 && fastrand::f64() < self.options.throttle {
            return Err(ProviderError::new(ErrorClass::Throttled, "Rate exceeded"));
        }
        Ok(())
    }

    /// `FEDSTACK_SIM_HOLD`: waits here while a test holds this call in flight.
    async fn maybe_hold(&self, spec: &ResourceSpec, op: SimOperation) -> Result<(), ProviderError> {
        if self
            .options
            .hold
            .iter()
            .any(|r| r.matches(&spec.address, op))
        {
            let world = self.world_path();
            let dir = world.parent().unwrap_or(&world).join("held");
            crate::hold::hold(&dir, &spec.address, op).await?;
        }
        Ok(())
    }

    fn key(spec: &ResourceSpec) -> Key {
        (spec.address.kind, spec.cloud_name.clone())
    }

    /// The dependency `kind`.`name` of `who`, which must be ready.
    fn need<'w>(
        w: &'w World,
        kind: ResourceKind,
        name: &str,
        who: &Address,
        now: u64,
        call: Call,
    ) -> Result<&'w SimObject, ProviderError> {
        let missing = |m: String| match call {
            Call::Create => not_found(m),
            Call::Update => invalid(m),
        };
        let what = Address::new(kind, name);
        let Some(o) = w.get(kind, name, now) else {
            return Err(missing(format!("{what} does not exist; {who} needs it")));
        };
        match o.phase(now) {
            Phase::Ready => Ok(o),
            Phase::Pending { op, until } => Err(in_progress(
                format!(
                    "operation in progress: {what} is {}; {who} needs it ready",
                    o.pending_word(op)
                ),
                until - now,
            )),
            Phase::Failed(m) => Err(permanent(format!("{what} is in state {m}; {who} needs it"))),
            Phase::Deleting { .. } | Phase::Gone => {
                Err(missing(format!("{what} is being deleted; {who} needs it")))
            }
        }
    }

    /// The cluster a node pool or federation object belongs to.
    fn cluster_of(kind: ResourceKind, name: &str) -> Result<Option<&str>, ProviderError> {
        Ok(match kind {
            ResourceKind::NodePool => Some(validate::split_pool_name(name).map_err(invalid)?.0),
            ResourceKind::FederationHost | ResourceKind::FederationMember => Some(name),
            ResourceKind::Workload => Some(validate::split_workload_name(name).map_err(invalid)?.0),
            _ => None,
        })
    }

    /// The flavor of a new object.
    fn flavor_for(
        &self,
        w: &World,
        spec: &ResourceSpec,
        now: u64,
    ) -> Result<Flavor, ProviderError> {
        let kind = spec.address.kind;
        Ok(match kind {
            ResourceKind::Cluster => {
                validate::cluster_flavor(&spec.attrs, self.settings.emulates).map_err(invalid)?
            }
            ResourceKind::NodePool
            | ResourceKind::FederationHost
            | ResourceKind::FederationMember
            | ResourceKind::Workload => {
                let cluster = SimProvider::cluster_of(kind, &spec.cloud_name)?.unwrap_or_default();
                SimProvider::need(
                    w,
                    ResourceKind::Cluster,
                    cluster,
                    &spec.address,
                    now,
                    Call::Create,
                )?
                .flavor
            }
            ResourceKind::DnsZone | ResourceKind::HealthCheck | ResourceKind::DnsRecord => {
                Flavor::Route53
            }
            ResourceKind::Data => Flavor::Sim,
            ResourceKind::Network | ResourceKind::IamRole => {
                return Err(invalid(format!(
                    "sim clouds have no {} resources; only clouds with provider aws make them",
                    kind
                )))
            }
            ResourceKind::Image => {
                return Err(invalid(format!(
                    "sim clouds have no {kind} resources; images are copied by the built-in registry provider"
                )))
            }
        })
    }

    /// Checks against other objects; returns the parent the outputs derive from
    /// (the cluster of a pool or host, the zone of a record).
    fn check_refs(
        w: &World,
        who: &Address,
        name: &str,
        attrs: &Values,
        now: u64,
        call: Call,
    ) -> Result<Option<SimObject>, ProviderError> {
        let str_attr = |k: &str| attrs.get(k).and_then(Value::as_str);
        let must_match =
            |attr: &str, other: &SimObject, output: &str| -> Result<(), ProviderError> {
                match (
                    str_attr(attr),
                    other.outputs.get(output).and_then(Value::as_str),
                ) {
                    (Some(given), Some(actual)) if given != actual => Err(invalid(format!(
                        "`{attr}` `{given}` does not match {} (its {output} is `{actual}`)",
                        other.address()
                    ))),
                    _ => Ok(()),
                }
            };
        match who.kind {
            ResourceKind::NodePool | ResourceKind::FederationHost => {
                let cluster_name = SimProvider::cluster_of(who.kind, name)?.unwrap_or_default();
                let cluster =
                    SimProvider::need(w, ResourceKind::Cluster, cluster_name, who, now, call)?;
                must_match("cluster_id", cluster, "id")?;
                Ok(Some(cluster.clone()))
            }
            ResourceKind::Workload => {
                // Workloads run on federation members: the cluster must have joined.
                let cluster_name = SimProvider::cluster_of(who.kind, name)?.unwrap_or_default();
                let member = SimProvider::need(
                    w,
                    ResourceKind::FederationMember,
                    cluster_name,
                    who,
                    now,
                    call,
                )?;
                Ok(Some(member.clone()))
            }
            ResourceKind::FederationMember => {
                let host_name = str_attr("host").unwrap_or_default();
                let host =
                    SimProvider::need(w, ResourceKind::FederationHost, host_name, who, now, call)?;
                let cluster = SimProvider::need(w, ResourceKind::Cluster, name, who, now, call)?;
                must_match("cluster_id", cluster, "id")?;
                must_match("host_id", host, "id")?;
                let host_ns = host
                    .attrs
                    .get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(DEFAULT_FEDERATION_NAMESPACE);
                let ns = str_attr("namespace").unwrap_or(DEFAULT_FEDERATION_NAMESPACE);
                if ns != host_ns {
                    return Err(invalid(format!(
                        "`namespace` `{ns}` is not the namespace of kubefed host `{host_name}` ({host_ns})"
                    )));
                }
                Ok(Some(host.clone()))
            }
            ResourceKind::DnsRecord => {
                let shape = validate::record(name, attrs).map_err(invalid)?;
                let zone_name = normalize_domain(shape.zone);
                let zone = w
                    .get(ResourceKind::DnsZone, shape.zone, now)
                    .or_else(|| w.get(ResourceKind::DnsZone, &zone_name, now));
                let zone = match zone {
                    Some(z) => {
                        SimProvider::need(w, ResourceKind::DnsZone, &z.name, who, now, call)?
                    }
                    None => {
                        let m = format!(
                            "NoSuchHostedZone: no hosted zone {zone_name} ({who} needs it)"
                        );
                        return Err(match call {
                            Call::Create => not_found(m),
                            Call::Update => invalid(m),
                        });
                    }
                };
                if let (Some(given), Some(actual)) = (
                    str_attr("zone_id"),
                    zone.outputs.get("id").and_then(Value::as_str),
                ) {
                    let short = |s: &str| s.trim_start_matches("/hostedzone/").to_string();
                    if short(given) != short(actual) {
                        return Err(invalid(format!(
                            "NoSuchHostedZone: no hosted zone with id {given} (zone {zone_name} is {actual})"
                        )));
                    }
                }
                if let Some(hc) = str_attr("health_check_id") {
                    let found = w
                        .of_kind(ResourceKind::HealthCheck, now)
                        .find(|h| h.outputs.get("id").and_then(Value::as_str) == Some(hc));
                    match found.map(|h| h.phase(now)) {
                        None | Some(Phase::Deleting { .. }) => {
                            let m = format!("NoSuchHealthCheck: no health check with id {hc}");
                            return Err(match call {
                                Call::Create => not_found(m),
                                Call::Update => invalid(m),
                            });
                        }
                        _ => {}
                    }
                }
                for other in w.records_named(&shape.fqdn, now).filter(|o| o.name != name) {
                    let other_zone = other
                        .attrs
                        .get("zone")
                        .and_then(Value::as_str)
                        .map(normalize_domain);
                    if other_zone.as_deref() != Some(zone_name.as_str()) {
                        continue;
                    }
                    let other_type = other
                        .attrs
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let other_routing = other
                        .attrs
                        .get("routing")
                        .and_then(Value::as_str)
                        .unwrap_or("simple");
                    if (other_type == "CNAME") != (shape.rtype == "CNAME") {
                        return Err(invalid(format!(
                            "InvalidChangeBatch: RRSet of type {} with DNS name {} is not permitted because a conflicting RRSet of type {other_type} with the same DNS name already exists ({})",
                            shape.rtype,
                            shape.fqdn,
                            other.address()
                        )));
                    }
                    if other_type == shape.rtype && other_routing != shape.routing {
                        return Err(invalid(format!(
                            "InvalidChangeBatch: {} record {} cannot use {} routing: {} uses {other_routing} routing for the same name and type",
                            shape.rtype,
                            shape.fqdn,
                            shape.routing,
                            other.address()
                        )));
                    }
                }
                Ok(Some(zone.clone()))
            }
            _ => Ok(None),
        }
    }

    /// What the cloud computes for a new object.
    fn outputs(
        &self,
        w: &World,
        kind: ResourceKind,
        name: &str,
        attrs: &Values,
        flavor: Flavor,
        parent: Option<&SimObject>,
    ) -> Values {
        let account = self.account();
        let s = |k: &str| attrs.get(k).and_then(Value::as_str).unwrap_or_default();
        let mut out = Values::new();
        let mut put = |k: &str, v: Value| {
            out.insert(k.to_string(), v);
        };
        match kind {
            ResourceKind::Cluster => {
                let region = s("region");
                let id = match flavor {
                    Flavor::Eks => format!(
                        "arn:aws:eks:{region}:{}:cluster/{name}",
                        naming::aws_account_id(account)
                    ),
                    Flavor::Aks => format!(
                        "/subscriptions/{}/resourceGroups/{account}/providers/Microsoft.ContainerService/managedClusters/{name}",
                        naming::azure_subscription(account)
                    ),
                    _ => format!("projects/{account}/locations/{region}/clusters/{name}"),
                };
                let endpoint = w.allocate_endpoint(naming::pick(&["endpoint", name], 1 << 32));
                let ingress = w.allocate_ingress(naming::pick(&["ingress", name], 1 << 32));
                put("id", json!(id));
                put("endpoint", json!(format!("https://{endpoint}")));
                put("ingress_address", json!(ingress.to_string()));
                put(
                    "ca_certificate",
                    json!(naming::ca_certificate(&[account, "cluster", name])),
                );
            }
            ResourceKind::NodePool => {
                let (cluster, pool) = validate::split_pool_name(name).unwrap_or((name, name));
                let cluster_id = parent
                    .and_then(|p| p.outputs.get("id"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let id = match flavor {
                    Flavor::Eks => {
                        let region = parent
                            .and_then(|p| p.attrs.get("region"))
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        let acct = parent.map_or(account, |p| p.account.as_str());
                        format!(
                            "arn:aws:eks:{region}:{}:nodegroup/{cluster}/{pool}/{}",
                            naming::aws_account_id(acct),
                            naming::uuid_from(&["nodegroup", acct, name])
                        )
                    }
                    Flavor::Aks => format!("{cluster_id}/agentPools/{pool}"),
                    _ => format!("{cluster_id}/nodePools/{pool}"),
                };
                put("id", json!(id));
            }
            ResourceKind::FederationHost => {
                let ns = attrs
                    .get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(DEFAULT_FEDERATION_NAMESPACE);
                put("id", json!(format!("kubefed:{name}/{ns}")));
            }
            ResourceKind::Workload => {
                let (cluster, workload) = validate::split_workload_name(name).unwrap_or_default();
                let ns = attrs
                    .get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(workload);
                put("id", json!(format!("{cluster}/{ns}/{workload}")));
                // The sim runs no pods: a rollout completes after its latency, with
                // every replica of its Deployments and StatefulSets ready.
                let replicas: i64 = attrs
                    .get("objects")
                    .and_then(Value::as_array)
                    .map(|objects| {
                        objects
                            .iter()
                            .filter(|o| {
                                o["apiVersion"].as_str() == Some("apps/v1")
                                    && matches!(
                                        o["kind"].as_str(),
                                        Some("Deployment" | "StatefulSet" | "DaemonSet")
                                    )
                                    || o["kind"].as_str() == Some("Job")
                            })
                            .map(|o| o["spec"]["replicas"].as_i64().unwrap_or(1))
                            .sum()
                    })
                    .unwrap_or(0);
                put("desired", json!(replicas));
                put("ready", json!(replicas));
                put("rollout", json!("complete"));
            }
            ResourceKind::FederationMember => {
                let ns = attrs
                    .get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(DEFAULT_FEDERATION_NAMESPACE);
                let host = s("host");
                put("id", json!(format!("{ns}/{name}")));
                put("service_account", json!(format!("{name}-{host}")));
                put(
                    "secret_name",
                    json!(format!(
                        "{name}-{host}-token-{}",
                        naming::k8s_suffix(&["secret", name, host], 5)
                    )),
                );
            }
            ResourceKind::DnsZone => {
                let zone = normalize_domain(name);
                put(
                    "id",
                    json!(format!(
                        "/hostedzone/{}",
                        naming::route53_zone_id(account, &zone)
                    )),
                );
                put(
                    "name_servers",
                    json!(naming::route53_name_servers(account, &zone)),
                );
            }
            ResourceKind::HealthCheck => {
                put(
                    "id",
                    json!(naming::uuid_from(&["health-check", account, name])),
                );
                put("healthy", json!(true));
            }
            ResourceKind::DnsRecord => {
                let zone_id = parent
                    .and_then(|p| p.outputs.get("id"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim_start_matches("/hostedzone/");
                let (fqdn, set) = match name.split_once('/') {
                    Some((f, set)) => (f, Some(set)),
                    None => (name, None),
                };
                let set = attrs
                    .get("set_id")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .or(set);
                let mut id = format!("{zone_id}_{}_{}", normalize_domain(fqdn), s("type"));
                if let Some(set) = set {
                    id.push('_');
                    id.push_str(set);
                }
                put("id", json!(id));
            }
            // Image never gets here (refused when its flavor is asked for).
            ResourceKind::Network | ResourceKind::IamRole | ResourceKind::Image => {
                put("id", json!(format!("{kind}-{name}")));
            }
            ResourceKind::Data => {
                put(
                    "id",
                    json!(format!(
                        "data-{}",
                        &naming::hex(&naming::hash(&["data", account, name]))[..12]
                    )),
                );
            }
        }
        out
    }

    /// Why `obj` cannot be deleted now, if it cannot: other objects still use it.
    fn check_delete(w: &World, obj: &SimObject, now: u64) -> Result<(), ProviderError> {
        let name = obj.name.as_str();
        let attr_is =
            |o: &SimObject, k: &str, v: &str| o.attrs.get(k).and_then(Value::as_str) == Some(v);
        let (blockers, reason): (Vec<&SimObject>, String) = match obj.kind {
            ResourceKind::Cluster => {
                let prefix = format!("{name}.");
                let pools: Vec<&SimObject> = w
                    .of_kind(ResourceKind::NodePool, now)
                    .filter(|p| p.name.starts_with(&prefix))
                    .collect();
                let reason = match obj.flavor {
                    Flavor::Eks => {
                        "ResourceInUseException: Cluster has nodegroups attached".to_string()
                    }
                    Flavor::Aks => {
                        format!("OperationNotAllowed: managed cluster {name} still has agent pools")
                    }
                    _ => format!("FAILED_PRECONDITION: cluster {name} still has node pools"),
                };
                (pools, reason)
            }
            ResourceKind::DnsZone => {
                let zone = normalize_domain(name);
                let records = w
                    .of_kind(ResourceKind::DnsRecord, now)
                    .filter(|r| {
                        r.attrs
                            .get("zone")
                            .and_then(Value::as_str)
                            .map(normalize_domain)
                            .as_deref()
                            == Some(&zone)
                    })
                    .collect();
                (
                    records,
                    "HostedZoneNotEmpty: The specified hosted zone contains non-required resource record sets".to_string(),
                )
            }
            ResourceKind::HealthCheck => {
                let id = obj
                    .outputs
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let records = w
                    .of_kind(ResourceKind::DnsRecord, now)
                    .filter(|r| attr_is(r, "health_check_id", id))
                    .collect();
                (
                    records,
                    format!("HealthCheckInUse: The health check {id} is still referenced"),
                )
            }
            ResourceKind::FederationHost => {
                let members = w
                    .of_kind(ResourceKind::FederationMember, now)
                    .filter(|m| attr_is(m, "host", name))
                    .collect();
                (
                    members,
                    format!(
                        "kubefed host {name} still has member clusters joined; unjoin them first"
                    ),
                )
            }
            _ => (Vec::new(), String::new()),
        };
        if blockers.is_empty() {
            return Ok(());
        }
        let mut list: Vec<String> = blockers
            .iter()
            .take(3)
            .map(|b| b.address().to_string())
            .collect();
        if blockers.len() > 3 {
            list.push(format!("and {} more", blockers.len() - 3));
        }
        let message = format!(
            "cannot delete {}: {reason} ({})",
            obj.address(),
            list.join(", ")
        );
        // Everything in the way is already going away: a retry will succeed.
        let leaving: Option<Vec<u64>> = blockers
            .iter()
            .map(|b| match b.phase(now) {
                Phase::Deleting { until } => Some(until),
                _ => None,
            })
            .collect();
        match leaving {
            Some(untils) => Err(in_progress(
                message,
                untils.into_iter().max().unwrap_or(now) - now,
            )),
            None => Err(permanent(message)),
        }
    }

    /// Waits until the object is ready and reads it.
    async fn await_ready(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let key = SimProvider::key(spec);
        let mut reported: Option<&'static str> = None;
        loop {
            let (word, until) = {
                let mut w = lock(&self.world);
                let now = now_ms();
                w.purge_if_gone(&key, now)?;
                let Some(o) = w.live(&key, now) else {
                    return Err(not_found(format!("{} does not exist", spec.address)));
                };
                match o.phase(now) {
                    Phase::Ready => {
                        return o
                            .observe(now, w.seed())
                            .ok_or_else(|| not_found(format!("{} does not exist", spec.address)))
                    }
                    Phase::Pending { op, until } => (o.pending_word(op), until),
                    Phase::Failed(m) => {
                        return Err(permanent(format!("{} failed: {m}", spec.address)))
                    }
                    Phase::Deleting { .. } | Phase::Gone => {
                        return Err(not_found(format!("{} is being deleted", spec.address)))
                    }
                }
            };
            if reported != Some(word) {
                if spec.address.kind == ResourceKind::DnsRecord {
                    progress.status(&format!("{word}: waiting for INSYNC"));
                } else {
                    progress.status(word);
                }
                reported = Some(word);
            }
            clock::sleep_until(until).await;
        }
    }
}

/// The attributes after an in-place update: `changed` keys taken from `desired`
/// (removed when absent there); everything from `desired` when `changed` is empty.
fn patched(current: &Values, desired: &Values, changed: &[String]) -> Values {
    if changed.is_empty() {
        return desired.clone();
    }
    let mut out = current.clone();
    for k in changed {
        match desired.get(k) {
            Some(v) => out.insert(k.clone(), v.clone()),
            None => out.remove(k),
        };
    }
    out
}

#[async_trait]
impl Provider for SimProvider {
    fn provider_type(&self) -> &'static str {
        "sim"
    }

    async fn read(&self, spec: &ResourceSpec) -> Result<Option<Observed>, ProviderError> {
        self.precheck(spec, SimOperation::Read)?;
        let flavor = self
            .settings
            .emulates
            .map_or(Flavor::Gke, |e| e.cluster_flavor());
        clock::sleep_ms(self.latency_ms(spec.address.kind, flavor, SimOperation::Read)).await;
        self.maybe_hold(spec, SimOperation::Read).await?;
        let key = SimProvider::key(spec);
        let mut w = lock(&self.world);
        let now = now_ms();
        w.purge_if_gone(&key, now)?;
        Ok(w.live(&key, now).and_then(|o| o.observe(now, w.seed())))
    }

    async fn create(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.precheck(spec, SimOperation::Create)?;
        let kind = spec.address.kind;
        let key = SimProvider::key(spec);
        {
            let mut w = lock(&self.world);
            let now = now_ms();
            w.purge_if_gone(&key, now)?;
            if let Some(existing) = w.live(&key, now) {
                return Err(match existing.phase(now) {
                    Phase::Deleting { until } => in_progress(
                        format!("operation in progress: {} is still being deleted", spec.address),
                        until - now,
                    ),
                    _ if kind == ResourceKind::FederationMember
                        && existing.attrs.get("host") != spec.attrs.get("host") =>
                    {
                        permanent(format!(
                            "cluster {} is already joined to kubefed host {}; unjoin it (delete {}) first",
                            spec.cloud_name,
                            existing.attrs.get("host").and_then(Value::as_str).unwrap_or("?"),
                            spec.address
                        ))
                    }
                    _ => ProviderError::new(
                        ErrorClass::AlreadyExists,
                        format!("{} already exists (account {})", spec.address, existing.account),
                    ),
                });
            }
            let flavor = self.flavor_for(&w, spec, now)?;
            validate::shape(kind, &spec.cloud_name, &spec.attrs, flavor).map_err(invalid)?;
            let parent = SimProvider::check_refs(
                &w,
                &spec.address,
                &spec.cloud_name,
                &spec.attrs,
                now,
                Call::Create,
            )?;
            let outputs = self.outputs(
                &w,
                kind,
                &spec.cloud_name,
                &spec.attrs,
                flavor,
                parent.as_ref(),
            );
            let latency = self.latency_ms(kind, flavor, SimOperation::Create);
            w.put(SimObject {
                kind,
                name: spec.cloud_name.clone(),
                account: self.settings.account.clone(),
                flavor,
                attrs: spec.attrs.clone(),
                outputs,
                created_at: now,
                ready_at: now + latency,
                delete_at: None,
                pending_op: PendingOp::Create,
                failed: None,
                generation: 1,
                token_generation: 0,
            })?;
        }
        self.maybe_hold(spec, SimOperation::Create).await?;
        self.await_ready(spec, progress).await
    }

    async fn update(
        &self,
        spec: &ResourceSpec,
        changed: &[String],
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.precheck(spec, SimOperation::Update)?;
        let kind = spec.address.kind;
        let key = SimProvider::key(spec);
        {
            let mut w = lock(&self.world);
            let now = now_ms();
            w.purge_if_gone(&key, now)?;
            let Some(current) = w.live(&key, now) else {
                return Err(not_found(format!("{} does not exist", spec.address)));
            };
            match current.phase(now) {
                Phase::Ready => {}
                Phase::Pending { op, until } => {
                    return Err(in_progress(
                        format!(
                            "operation in progress: {} is {}",
                            spec.address,
                            current.pending_word(op)
                        ),
                        until - now,
                    ))
                }
                Phase::Failed(m) => {
                    return Err(permanent(format!(
                        "{} is in state {m}: it cannot be updated, only replaced",
                        spec.address
                    )))
                }
                Phase::Deleting { .. } | Phase::Gone => {
                    return Err(not_found(format!("{} is being deleted", spec.address)))
                }
            }
            let attrs = patched(&current.attrs, &spec.attrs, changed);
            if attrs == current.attrs {
                return current
                    .observe(now, w.seed())
                    .ok_or_else(|| not_found(format!("{} does not exist", spec.address)));
            }
            for k in replace_attributes(kind) {
                if current.attrs.get(*k) != attrs.get(*k) {
                    return Err(invalid(format!(
                        "`{k}` of {} cannot change in place: it forces a replacement",
                        spec.address
                    )));
                }
            }
            validate::shape(kind, &spec.cloud_name, &attrs, current.flavor).map_err(invalid)?;
            if kind == ResourceKind::Cluster {
                check_upgrade(current, &attrs)?;
            }
            SimProvider::check_refs(
                &w,
                &spec.address,
                &spec.cloud_name,
                &attrs,
                now,
                Call::Update,
            )?;
            let mut obj = current.clone();
            let latency = self.latency_ms(kind, obj.flavor, SimOperation::Update);
            obj.attrs = attrs;
            obj.generation += 1;
            obj.pending_op = PendingOp::Update;
            obj.ready_at = now + latency;
            w.put(obj)?;
        }
        self.maybe_hold(spec, SimOperation::Update).await?;
        self.await_ready(spec, progress).await
    }

    async fn delete(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        self.precheck(spec, SimOperation::Delete)?;
        let kind = spec.address.kind;
        let key = SimProvider::key(spec);
        let mut until = {
            let mut w = lock(&self.world);
            let now = now_ms();
            w.purge_if_gone(&key, now)?;
            let Some(current) = w.live(&key, now) else {
                return Ok(());
            };
            match current.phase(now) {
                Phase::Deleting { until } => until,
                _ => {
                    SimProvider::check_delete(&w, current, now)?;
                    let latency = self.latency_ms(kind, current.flavor, SimOperation::Delete);
                    if latency == 0 {
                        w.remove(&key)?;
                        return Ok(());
                    }
                    let mut obj = current.clone();
                    obj.delete_at = Some(now + latency);
                    w.put(obj)?;
                    now + latency
                }
            }
        };
        self.maybe_hold(spec, SimOperation::Delete).await?;
        progress.status("DELETING");
        loop {
            clock::sleep_until(until).await;
            let next = {
                let mut w = lock(&self.world);
                let now = now_ms();
                w.purge_if_gone(&key, now)?;
                match w.live(&key, now).map(|o| o.phase(now)) {
                    Some(Phase::Deleting { until }) => Some(until),
                    // Gone, or made anew by someone else meanwhile: our delete is done.
                    _ => None,
                }
            };
            match next {
                Some(u) => until = u,
                None => return Ok(()),
            }
        }
    }

    async fn wait_ready(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.precheck(spec, SimOperation::Read)?;
        self.await_ready(spec, progress).await
    }

    async fn finish(&self) -> Result<(), ProviderError> {
        lock(&self.world).maybe_compact()?;
        Ok(())
    }
}

/// Control planes move one minor version at a time, and never back.
fn check_upgrade(current: &SimObject, attrs: &Values) -> Result<(), ProviderError> {
    let (Some(old), Some(new)) = (
        current.attrs.get("kubernetes_version"),
        attrs.get("kubernetes_version"),
    ) else {
        return Ok(());
    };
    if old == new || old.is_null() || new.is_null() {
        return Ok(());
    }
    let flavor = current.flavor;
    let (Ok(from), Ok(to)) = (
        validate::k8s_minor(old, flavor),
        validate::k8s_minor(new, flavor),
    ) else {
        return Ok(());
    };
    if to < from {
        return Err(invalid(format!(
            "{} cannot downgrade cluster {} from 1.{from} to 1.{to}",
            flavor.product(),
            current.name
        )));
    }
    if to > from + 1 {
        return Err(invalid(format!(
            "{} upgrades the control plane one minor version at a time: 1.{from} to 1.{} first, not 1.{to}",
            flavor.product(),
            from + 1
        )));
    }
    Ok(())
}
