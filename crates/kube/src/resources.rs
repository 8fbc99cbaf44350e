//! The `federation_host`, `federation_member` (and, in [`crate::workload_resource`],
//! `workload`) resources, on clusters found through a
//! [`ClusterSource`]: the local provider's own control planes, or any cluster whose cloud
//! gives access (the `kubernetes` provider: GKE, EKS, AKS, mixed). What a resource reads
//! and writes is the same whichever the source; only how a cluster is reached differs.

use async_trait::async_trait;
use fedstack_core::address::ResourceKind;
use fedstack_core::value::Values;
use fedstack_provider::{
    ErrorClass, Observed, Progress, ProviderError, ResourceSpec, ResourceStatus,
};
use serde_json::{json, Value};

use crate::federation::{self, Cluster};
use crate::objects::{check_name, Join, DEFAULT_NAMESPACE, IN_SYNC};
use crate::workload_resource;
use crate::Scope;

/// The member attribute that says whether the join's objects agree (`in sync`) or what
/// is wrong (the stack lowers `credentials: in sync` for every member).
pub const CREDENTIALS: &str = "credentials";

/// A cluster as a read finds it.
pub enum View {
    /// Its cloud has no such cluster.
    Missing,
    /// It exists but cannot be reached now (a stopped local control plane); what is on it
    /// cannot be seen.
    Unreachable,
    Running(Cluster),
}

/// How the federation resources reach the clusters they touch.
#[async_trait]
pub trait ClusterSource: Send + Sync {
    /// How messages name the cluster (`local cluster a`, `cluster gke-sydney`).
    fn describe(&self, name: &str) -> String;

    /// The stack whose resources these are: what is recorded on a cluster for one stack
    /// (a workload's inventory) is named after it, so two stacks never share it.
    fn stack(&self) -> &str;

    /// Where a missing cluster was looked for, for the message (` in /state/.local`).
    fn looked_in(&self) -> String {
        String::new()
    }

    /// Refuses changes from a read-only run.
    fn writable(&self, what: &str) -> Result<(), ProviderError>;

    /// The cluster as it is: a read never starts anything.
    async fn view(&self, name: &str) -> Result<View, ProviderError>;

    /// The cluster ready for a change (started when it is down and can be started);
    /// `None` when it does not exist.
    async fn running(
        &self,
        name: &str,
        progress: &dyn Progress,
    ) -> Result<Option<Cluster>, ProviderError>;

    /// The API endpoint and CA (base64 PEM) of member `name`, for a member recorded before
    /// they were known.
    async fn endpoint_and_ca(
        &self,
        name: &str,
    ) -> Result<(Option<String>, Option<String>), ProviderError>;
}

/// Whether `kind` is one of the resources of this module.
pub fn handles(kind: ResourceKind) -> bool {
    matches!(
        kind,
        ResourceKind::FederationHost | ResourceKind::FederationMember | ResourceKind::Workload
    )
}

fn not_federation(spec: &ResourceSpec) -> ProviderError {
    invalid(format!(
        "{} is not a federation host, member or workload",
        spec.address
    ))
}

/// Reads a host or a member.
pub async fn read(
    source: &dyn ClusterSource,
    spec: &ResourceSpec,
) -> Result<Option<Observed>, ProviderError> {
    match spec.address.kind {
        ResourceKind::FederationHost => read_host(source, spec).await,
        ResourceKind::FederationMember => read_member(source, spec).await,
        ResourceKind::Workload => workload_resource::read_workload(source, spec).await,
        _ => Err(not_federation(spec)),
    }
}

/// Sets up a host or joins a member: create, update, adopt alike (idempotent, and
/// repairs whatever differs).
pub async fn ensure(
    source: &dyn ClusterSource,
    spec: &ResourceSpec,
    progress: &dyn Progress,
) -> Result<Observed, ProviderError> {
    match spec.address.kind {
        ResourceKind::FederationHost => ensure_host(source, spec, progress).await,
        ResourceKind::FederationMember => join(source, spec, progress).await,
        ResourceKind::Workload => workload_resource::ensure_workload(source, spec, progress).await,
        _ => Err(not_federation(spec)),
    }
}

/// Removes a host's setup or unjoins a member.
pub async fn remove(
    source: &dyn ClusterSource,
    spec: &ResourceSpec,
    progress: &dyn Progress,
) -> Result<(), ProviderError> {
    match spec.address.kind {
        ResourceKind::FederationHost => remove_host(source, spec, progress).await,
        ResourceKind::FederationMember => unjoin(source, spec, progress).await,
        ResourceKind::Workload => workload_resource::remove_workload(source, spec, progress).await,
        _ => Err(not_federation(spec)),
    }
}

fn invalid(message: String) -> ProviderError {
    ProviderError::new(ErrorClass::Invalid, message)
}

fn str_attr<'a>(spec: &'a ResourceSpec, key: &str) -> Option<&'a str> {
    spec.attrs.get(key).and_then(Value::as_str)
}

fn namespace(spec: &ResourceSpec) -> &str {
    str_attr(spec, "namespace").unwrap_or(DEFAULT_NAMESPACE)
}

fn host_name(spec: &ResourceSpec) -> Result<&str, ProviderError> {
    str_attr(spec, "host").ok_or_else(|| invalid(format!("{} has no `host`", spec.address)))
}

fn scope(spec: &ResourceSpec) -> Result<Scope, ProviderError> {
    let s = str_attr(spec, "scope").unwrap_or("Cluster");
    Scope::parse(s).ok_or_else(|| {
        invalid(format!(
            "{}: scope `{s}` is not Cluster or Namespaced",
            spec.address
        ))
    })
}

/// The cluster, or `NotFound` naming who needed it.
pub(crate) async fn need_running(
    source: &dyn ClusterSource,
    name: &str,
    spec: &ResourceSpec,
    progress: &dyn Progress,
) -> Result<Cluster, ProviderError> {
    source.running(name, progress).await?.ok_or_else(|| {
        ProviderError::new(
            ErrorClass::NotFound,
            format!(
                "{} needs {}, which does not exist{}",
                spec.address,
                source.describe(name),
                source.looked_in()
            ),
        )
    })
}

// ----- host -------------------------------------------------------------------------

fn host_observed(spec: &ResourceSpec, scope: Option<Scope>) -> Observed {
    let mut attrs = spec.attrs.clone();
    if let Some(s) = scope {
        attrs.insert("scope".into(), json!(s.as_str()));
    }
    let mut outputs = Values::new();
    outputs.insert(
        "id".into(),
        json!(format!("kubefed:{}/{}", spec.cloud_name, namespace(spec))),
    );
    Observed {
        attrs,
        outputs,
        secrets: Default::default(),
        status: ResourceStatus::Ready,
    }
}

pub async fn read_host(
    source: &dyn ClusterSource,
    spec: &ResourceSpec,
) -> Result<Option<Observed>, ProviderError> {
    match source.view(&spec.cloud_name).await? {
        View::Missing => Ok(None),
        // What is on it cannot be seen: the recorded attributes stand.
        View::Unreachable => Ok(Some(host_observed(spec, None))),
        View::Running(host) => Ok(federation::read_host(&host, namespace(spec))
            .await?
            .map(|h| host_observed(spec, Some(h.scope)))),
    }
}

/// Creates or repairs the host's setup (idempotent: also the update).
pub async fn ensure_host(
    source: &dyn ClusterSource,
    spec: &ResourceSpec,
    progress: &dyn Progress,
) -> Result<Observed, ProviderError> {
    source.writable(&format!("set up {}", spec.address))?;
    let host = need_running(source, &spec.cloud_name, spec, progress).await?;
    let observed =
        federation::ensure_host(&host, namespace(spec), Some(scope(spec)?), progress).await?;
    Ok(host_observed(spec, Some(observed.scope)))
}

pub async fn remove_host(
    source: &dyn ClusterSource,
    spec: &ResourceSpec,
    progress: &dyn Progress,
) -> Result<(), ProviderError> {
    source.writable(&format!("delete {}", spec.address))?;
    let Some(host) = source.running(&spec.cloud_name, progress).await? else {
        return Ok(());
    };
    federation::remove_host(&host, namespace(spec), progress).await?;
    Ok(())
}

// ----- members ------------------------------------------------------------------------

/// The join a member spec describes. The endpoint and CA default to the member
/// cluster's own (a spec recorded before they were known).
async fn join_of(source: &dyn ClusterSource, spec: &ResourceSpec) -> Result<Join, ProviderError> {
    let mut endpoint = str_attr(spec, "api_endpoint").map(str::to_string);
    let mut ca_bundle = str_attr(spec, "ca_bundle").map(str::to_string);
    if endpoint.is_none() || ca_bundle.is_none() {
        let (e, c) = source.endpoint_and_ca(&spec.cloud_name).await?;
        endpoint = endpoint.or(e);
        ca_bundle = ca_bundle.or(c);
    }
    let j = Join {
        member: spec.cloud_name.clone(),
        host: host_name(spec)?.to_string(),
        namespace: namespace(spec).to_string(),
        api_endpoint: endpoint.unwrap_or_default(),
        ca_bundle,
    };
    // The names only: a join checks the rest, and a read must work without it.
    check_name("member cluster name", &j.member)?;
    check_name("host cluster name", &j.host)?;
    check_name("federation namespace", &j.namespace)?;
    Ok(j)
}

/// The recorded attributes with what the clusters show.
fn member_observed(
    spec: &ResourceSpec,
    j: &Join,
    api_endpoint: Option<Option<String>>,
    ca_bundle: Option<Option<String>>,
    credentials: String,
    token: Option<String>,
) -> Observed {
    let mut attrs = spec.attrs.clone();
    if let Some(e) = api_endpoint {
        attrs.insert("api_endpoint".into(), json!(e));
    }
    if let Some(c) = ca_bundle {
        attrs.insert("ca_bundle".into(), json!(c));
    }
    attrs.insert(CREDENTIALS.into(), json!(credentials));
    let names = j.names();
    let mut outputs = Values::new();
    outputs.insert("id".into(), json!(format!("{}/{}", j.namespace, j.member)));
    outputs.insert("service_account".into(), json!(names.service_account));
    outputs.insert("secret_name".into(), json!(names.token_secret));
    outputs.insert("host_secret_name".into(), json!(names.host_secret));
    let mut secrets = std::collections::BTreeMap::new();
    if let Some(t) = token {
        secrets.insert("token".to_string(), t);
    }
    Observed {
        attrs,
        outputs,
        secrets,
        status: ResourceStatus::Ready,
    }
}

pub async fn read_member(
    source: &dyn ClusterSource,
    spec: &ResourceSpec,
) -> Result<Option<Observed>, ProviderError> {
    let j = join_of(source, spec).await?;
    let unknown = |why: String| Ok(Some(member_observed(spec, &j, None, None, why, None)));
    let host = match source.view(&j.host).await? {
        View::Missing => return Ok(None),
        View::Unreachable => {
            return unknown(format!(
                "unknown: {} (the host) is not running",
                source.describe(&j.host)
            ))
        }
        View::Running(c) => c,
    };
    let member = match source.view(&j.member).await? {
        View::Missing => return unknown(format!("{} does not exist", source.describe(&j.member))),
        View::Unreachable => {
            return unknown(format!(
                "unknown: {} is not running",
                source.describe(&j.member)
            ))
        }
        View::Running(c) => c,
    };
    let Some(m) = federation::read_member(&host, &member, &j).await? else {
        return Ok(None);
    };
    let credentials = m.credentials();
    Ok(Some(member_observed(
        spec,
        &j,
        Some(m.api_endpoint),
        Some(m.ca_bundle),
        credentials,
        m.token,
    )))
}

/// Joins (or repairs the join of) a member; also the update.
pub async fn join(
    source: &dyn ClusterSource,
    spec: &ResourceSpec,
    progress: &dyn Progress,
) -> Result<Observed, ProviderError> {
    source.writable(&format!("join {}", spec.address))?;
    let j = join_of(source, spec).await?;
    let host = need_running(source, &j.host, spec, progress).await?;
    let member = if j.member == j.host {
        host.clone()
    } else {
        need_running(source, &j.member, spec, progress).await?
    };
    let m = federation::join(&host, &member, &j, progress).await?;
    let credentials = m.credentials();
    if credentials != IN_SYNC {
        return Err(ProviderError::new(
            ErrorClass::Transient,
            format!("{} joined, but: {credentials}", spec.address),
        ));
    }
    Ok(member_observed(
        spec,
        &j,
        Some(m.api_endpoint),
        Some(m.ca_bundle),
        credentials,
        m.token,
    ))
}

pub async fn unjoin(
    source: &dyn ClusterSource,
    spec: &ResourceSpec,
    progress: &dyn Progress,
) -> Result<(), ProviderError> {
    source.writable(&format!("unjoin {}", spec.address))?;
    let j = join_of(source, spec).await?;
    let host = source.running(&j.host, progress).await?;
    let member = if j.member == j.host {
        host.clone()
    } else {
        source.running(&j.member, progress).await?
    };
    federation::unjoin(host.as_ref(), member.as_ref(), &j, progress).await?;
    Ok(())
}
