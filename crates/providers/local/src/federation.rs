//! `federation_host` and `federation_member` on local clusters, with fedstack-kube.
//!
//! The clusters are found by name in the state directory and reached with their admin
//! credentials. A change (create, update, adopt, delete) first starts any involved
//! control plane that is down. A read never starts anything: when a control plane is
//! down, what is on it cannot be seen, and the read says so (members: `credentials` is
//! `unknown: ...`, so apply re-checks the join once the cluster runs again; hosts: the
//! recorded attributes stand).

use fedstack_core::value::Values;
use fedstack_kube::federation::{self, Cluster};
use fedstack_kube::objects::{check_name, Join, DEFAULT_NAMESPACE, IN_SYNC};
use fedstack_kube::Scope;
use fedstack_provider::{Observed, Progress, ProviderError, ResourceSpec, ResourceStatus};
use serde_json::{json, Value};

use crate::errors::{invalid, not_found};
use crate::provider::LocalProvider;

/// The member attribute that says whether the join's objects agree (`in sync`) or what
/// is wrong (the stack lowers `credentials: in sync` for members of a local host).
pub(crate) const CREDENTIALS: &str = "credentials";

/// A cluster as a read finds it.
enum View {
    Missing,
    Stopped,
    Running(Cluster),
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

impl LocalProvider {
    async fn view(&self, name: &str) -> Result<View, ProviderError> {
        let cd = self.cluster_dir(name);
        let Some(meta) = cd.load_meta()? else {
            return Ok(View::Missing);
        };
        if !cd.is_running(&meta).await {
            return Ok(View::Stopped);
        }
        let client = fedstack_kube::client_for(name, &cd.access(&meta)?).await?;
        Ok(View::Running(Cluster {
            name: name.to_string(),
            client,
        }))
    }

    /// The cluster `name`, started if it is down; `None` when it does not exist.
    async fn running(
        &self,
        name: &str,
        progress: &dyn Progress,
    ) -> Result<Option<Cluster>, ProviderError> {
        let cd = self.cluster_dir(name);
        let Some(mut meta) = cd.load_meta()? else {
            return Ok(None);
        };
        if !cd.is_running(&meta).await {
            progress.status(&format!("starting local cluster {name}"));
            self.ensure_running(&cd, &mut meta, progress).await?;
        }
        let client = fedstack_kube::client_for(name, &cd.access(&meta)?).await?;
        Ok(Some(Cluster {
            name: name.to_string(),
            client,
        }))
    }

    async fn need_running(
        &self,
        name: &str,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Cluster, ProviderError> {
        self.running(name, progress).await?.ok_or_else(|| {
            not_found(format!(
                "{} needs local cluster {name}, which does not exist in {}",
                spec.address,
                self.root().display()
            ))
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

    pub(crate) async fn read_host(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<Observed>, ProviderError> {
        match self.view(&spec.cloud_name).await? {
            View::Missing => Ok(None),
            View::Stopped => Ok(Some(LocalProvider::host_observed(spec, None))),
            View::Running(host) => Ok(federation::read_host(&host, namespace(spec))
                .await?
                .map(|h| LocalProvider::host_observed(spec, Some(h.scope)))),
        }
    }

    pub(crate) async fn ensure_host(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.writable(&format!("set up {}", spec.address))?;
        let host = self.need_running(&spec.cloud_name, spec, progress).await?;
        let observed =
            federation::ensure_host(&host, namespace(spec), Some(scope(spec)?), progress).await?;
        Ok(LocalProvider::host_observed(spec, Some(observed.scope)))
    }

    pub(crate) async fn remove_host(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        self.writable(&format!("delete {}", spec.address))?;
        let Some(host) = self.running(&spec.cloud_name, progress).await? else {
            return Ok(());
        };
        federation::remove_host(&host, namespace(spec), progress).await?;
        Ok(())
    }

    // ----- members ------------------------------------------------------------------------

    /// The join a member spec describes. The endpoint and CA default to the member
    /// cluster's own (a spec recorded before they were known).
    fn join_of(&self, spec: &ResourceSpec) -> Result<Join, ProviderError> {
        let mut endpoint = str_attr(spec, "api_endpoint").map(str::to_string);
        let mut ca_bundle = str_attr(spec, "ca_bundle").map(str::to_string);
        if endpoint.is_none() || ca_bundle.is_none() {
            let cd = self.cluster_dir(&spec.cloud_name);
            if let Some(meta) = cd.load_meta()? {
                endpoint = endpoint.or_else(|| Some(meta.endpoint()));
                if ca_bundle.is_none() {
                    ca_bundle = Some(cd.ca_certificate()?);
                }
            }
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

    pub(crate) async fn read_member(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<Observed>, ProviderError> {
        let j = self.join_of(spec)?;
        let unknown = |why: String| {
            Ok(Some(LocalProvider::member_observed(
                spec, &j, None, None, why, None,
            )))
        };
        let host = match self.view(&j.host).await? {
            View::Missing => return Ok(None),
            View::Stopped => {
                return unknown(format!(
                    "unknown: local cluster {} (the host) is not running",
                    j.host
                ))
            }
            View::Running(c) => c,
        };
        let member = match self.view(&j.member).await? {
            View::Missing => return unknown(format!("local cluster {} does not exist", j.member)),
            View::Stopped => {
                return unknown(format!(
                    "unknown: local cluster {} is not running",
                    j.member
                ))
            }
            View::Running(c) => c,
        };
        let Some(m) = federation::read_member(&host, &member, &j).await? else {
            return Ok(None);
        };
        let credentials = m.credentials();
        Ok(Some(LocalProvider::member_observed(
            spec,
            &j,
            Some(m.api_endpoint),
            Some(m.ca_bundle),
            credentials,
            m.token,
        )))
    }

    pub(crate) async fn join(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.writable(&format!("join {}", spec.address))?;
        let j = self.join_of(spec)?;
        let host = self.need_running(&j.host, spec, progress).await?;
        let member = if j.member == j.host {
            host.clone()
        } else {
            self.need_running(&j.member, spec, progress).await?
        };
        let m = federation::join(&host, &member, &j, progress).await?;
        let credentials = m.credentials();
        if credentials != IN_SYNC {
            return Err(ProviderError::new(
                fedstack_provider::ErrorClass::Transient,
                format!("{} joined, but: {credentials}", spec.address),
            ));
        }
        Ok(LocalProvider::member_observed(
            spec,
            &j,
            Some(m.api_endpoint),
            Some(m.ca_bundle),
            credentials,
            m.token,
        ))
    }

    pub(crate) async fn unjoin(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        self.writable(&format!("unjoin {}", spec.address))?;
        let j = self.join_of(spec)?;
        let host = self.running(&j.host, progress).await?;
        let member = if j.member == j.host {
            host.clone()
        } else {
            self.running(&j.member, progress).await?
        };
        federation::unjoin(host.as_ref(), member.as_ref(), &j, progress).await?;
        Ok(())
    }
}
