//! [`LocalProvider`]: the [`Provider`] of `provider: local` clouds. Clusters here; node
//! pools in `node_pool.rs`; federation objects in `federation.rs`.

use std::path::PathBuf;

use async_trait::async_trait;
use fedstack_core::address::ResourceKind;
use fedstack_core::schema::replace_attributes;
use fedstack_core::value::Values;
use fedstack_kube::resources;
use fedstack_provider::{
    ClusterAccess, ErrorClass, Observed, Progress, Provider, ProviderContext, ProviderError,
    ResourceSpec, ResourceStatus,
};
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::binaries::Binaries;
use crate::cluster::{local_root, recorded_ports, ClusterDir, ClusterMeta};
use crate::config::{parse_settings, Settings};
use crate::errors::{invalid, not_found, permanent};
use crate::node_pool;

/// The attribute that says whether a cluster's control plane runs. The stack lowers
/// `running: true` for local clusters; a read of a stopped one says `false`, so the plan
/// shows the drift as an update and apply starts it again.
pub(crate) const RUNNING: &str = "running";

/// A local cloud: clusters are control planes on this machine, under
/// `<state_dir>/.local/`; federation objects are made on them with kube-rs.
pub struct LocalProvider {
    pub(crate) cloud: String,
    pub(crate) settings: Settings,
    pub(crate) state_dir: PathBuf,
    pub(crate) read_only: bool,
    /// The stack these clusters are of (names what it records on them).
    pub(crate) stack: String,
    binaries: Mutex<Option<Binaries>>,
}

impl std::fmt::Debug for LocalProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalProvider")
            .field("cloud", &self.cloud)
            .field("state_dir", &self.state_dir)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl LocalProvider {
    /// A local cloud named `cloud_name` with its `settings` (`bin_dir`,
    /// `kubernetes_version`). Nothing is started or checked until a call needs it: a plan
    /// of a stack whose binaries are missing still works.
    pub fn new(
        cloud_name: &str,
        settings: &Values,
        ctx: &ProviderContext,
    ) -> Result<LocalProvider, ProviderError> {
        Ok(LocalProvider {
            cloud: cloud_name.to_string(),
            settings: parse_settings(cloud_name, settings)?,
            state_dir: ctx.state_dir.clone(),
            read_only: ctx.read_only,
            stack: ctx.stack.clone(),
            binaries: Mutex::new(None),
        })
    }

    /// Where this state directory's local clusters live.
    pub fn root(&self) -> PathBuf {
        local_root(&self.state_dir)
    }

    pub(crate) fn cluster_dir(&self, name: &str) -> ClusterDir {
        ClusterDir::new(&self.state_dir, name)
    }

    /// The binaries, located (and version-checked) once.
    pub(crate) async fn binaries(&self) -> Result<Binaries, ProviderError> {
        let mut cached = self.binaries.lock().await;
        if let Some(b) = cached.as_ref() {
            return Ok(b.clone());
        }
        let b = Binaries::locate(&self.cloud, &self.settings).await?;
        *cached = Some(b.clone());
        Ok(b)
    }

    pub(crate) fn writable(&self, what: &str) -> Result<(), ProviderError> {
        if self.read_only {
            return Err(permanent(format!(
                "local cloud `{}` was opened read-only; cannot {what}",
                self.cloud
            )));
        }
        Ok(())
    }

    /// Starts the control plane of `cd` if anything of it is down.
    pub(crate) async fn ensure_running(
        &self,
        cd: &ClusterDir,
        meta: &mut ClusterMeta,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        self.writable(&format!("start local cluster {}", cd.name))?;
        let bins = self.binaries().await?;
        if let Some(v) = meta.attrs.get("kubernetes_version").and_then(Value::as_str) {
            bins.check(v, &format!("cluster `{}`", cd.name))?;
        }
        cd.ensure_running(meta, &bins.dir, &bins.version, progress)
            .await
    }

    // ----- clusters -------------------------------------------------------------------

    async fn observe_cluster(
        &self,
        cd: &ClusterDir,
        meta: &ClusterMeta,
    ) -> Result<Observed, ProviderError> {
        let running = cd.is_running(meta).await;
        let mut attrs = meta.attrs.clone();
        attrs.insert(RUNNING.into(), json!(running));
        let mut outputs = Values::new();
        outputs.insert("id".into(), json!(meta.id));
        outputs.insert("endpoint".into(), json!(meta.endpoint()));
        outputs.insert("ca_certificate".into(), json!(cd.ca_certificate()?));
        outputs.insert(
            "status".into(),
            json!(if running { "RUNNING" } else { "STOPPED" }),
        );
        outputs.insert(
            "region".into(),
            meta.attrs.get("region").cloned().unwrap_or(Value::Null),
        );
        let version = if meta.version.is_empty() {
            meta.attrs
                .get("kubernetes_version")
                .cloned()
                .unwrap_or(Value::Null)
        } else {
            json!(meta.version)
        };
        outputs.insert("kubernetes_version".into(), version);
        outputs.insert("ingress_address".into(), json!("127.0.0.1"));
        outputs.insert(
            "kubeconfig_path".into(),
            json!(cd.kubeconfig_path().display().to_string()),
        );
        Ok(Observed {
            attrs,
            outputs,
            secrets: Default::default(),
            status: ResourceStatus::Ready,
        })
    }

    /// The attributes recorded for a cluster: the spec's, without `running`.
    fn cluster_attrs(spec: &ResourceSpec) -> Result<Values, ProviderError> {
        let mut attrs = spec.attrs.clone();
        attrs.remove(RUNNING);
        match attrs.get("flavor") {
            None | Some(Value::Null) => {}
            Some(Value::String(f)) if f == "local" => {}
            Some(other) => {
                return Err(invalid(format!(
                    "{}: a local cloud runs local clusters, not `{other}` ones",
                    spec.address
                )))
            }
        }
        if !attrs
            .get("kubernetes_version")
            .is_some_and(Value::is_string)
        {
            return Err(invalid(format!(
                "{}: kubernetes_version is required",
                spec.address
            )));
        }
        fedstack_kube::objects::check_name("local cluster name", &spec.cloud_name)
            .map_err(ProviderError::from)?;
        Ok(attrs)
    }

    fn wants_running(spec: &ResourceSpec) -> bool {
        spec.attrs.get(RUNNING) != Some(&Value::Bool(false))
    }

    async fn create_cluster(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.writable(&format!("create {}", spec.address))?;
        let attrs = LocalProvider::cluster_attrs(spec)?;
        let bins = self.binaries().await?;
        if let Some(v) = attrs.get("kubernetes_version").and_then(Value::as_str) {
            bins.check(v, &format!("cluster `{}`", spec.cloud_name))?;
        }
        let cd = self.cluster_dir(&spec.cloud_name);
        if cd.load_meta()?.is_some() {
            return Err(ProviderError::new(
                ErrorClass::AlreadyExists,
                format!(
                    "{} already exists (local cluster in {})",
                    spec.address,
                    cd.dir.display()
                ),
            ));
        }
        progress.status("generating certificates");
        let root = self.root();
        crate::files::private_dir(&root).map_err(|e| crate::errors::io("create", &root, &e))?;
        // The directory may have been created just now: name it as the processes will.
        let cd = self.cluster_dir(&spec.cloud_name);
        let mut meta = cd.provision(attrs, &recorded_ports(&self.root())).await?;
        if LocalProvider::wants_running(spec) {
            cd.ensure_running(&mut meta, &bins.dir, &bins.version, progress)
                .await?;
        }
        self.observe_cluster(&cd, &meta).await
    }

    async fn update_cluster(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.writable(&format!("update {}", spec.address))?;
        let cd = self.cluster_dir(&spec.cloud_name);
        let Some(mut meta) = cd.load_meta()? else {
            return Err(not_found(format!("{} does not exist", spec.address)));
        };
        let attrs = LocalProvider::cluster_attrs(spec)?;
        for k in replace_attributes(ResourceKind::Cluster) {
            if meta.attrs.get(*k) != attrs.get(*k) {
                return Err(invalid(format!(
                    "`{k}` of {} cannot change in place: it forces a replacement",
                    spec.address
                )));
            }
        }
        if attrs != meta.attrs {
            meta.attrs = attrs;
            cd.save_meta(&meta)?;
        }
        if LocalProvider::wants_running(spec) {
            self.ensure_running(&cd, &mut meta, progress).await?;
        } else {
            progress.status("stopping");
            cd.stop_all().await?;
        }
        self.observe_cluster(&cd, &meta).await
    }
}

fn unsupported(spec: &ResourceSpec) -> ProviderError {
    invalid(format!(
        "{}: a local cloud manages clusters, their node pools and their kubefed federation only; put {} kinds on another cloud",
        spec.address,
        spec.address.kind
    ))
}

#[async_trait]
impl Provider for LocalProvider {
    fn provider_type(&self) -> &'static str {
        "local"
    }

    async fn read(&self, spec: &ResourceSpec) -> Result<Option<Observed>, ProviderError> {
        match spec.address.kind {
            ResourceKind::Cluster => {
                let cd = self.cluster_dir(&spec.cloud_name);
                match cd.load_meta()? {
                    None => Ok(None),
                    Some(meta) => Ok(Some(self.observe_cluster(&cd, &meta).await?)),
                }
            }
            ResourceKind::NodePool => node_pool::read(self, spec).await,
            k if resources::handles(k) => resources::read(self, spec).await,
            _ => Err(unsupported(spec)),
        }
    }

    async fn create(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        match spec.address.kind {
            ResourceKind::Cluster => self.create_cluster(spec, progress).await,
            ResourceKind::NodePool => node_pool::create(self, spec, progress).await,
            k if resources::handles(k) => resources::ensure(self, spec, progress).await,
            _ => Err(unsupported(spec)),
        }
    }

    async fn update(
        &self,
        spec: &ResourceSpec,
        _changed: &[String],
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        match spec.address.kind {
            ResourceKind::Cluster => self.update_cluster(spec, progress).await,
            ResourceKind::NodePool => node_pool::ensure(self, spec, progress).await,
            k if resources::handles(k) => resources::ensure(self, spec, progress).await,
            _ => Err(unsupported(spec)),
        }
    }

    async fn delete(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        match spec.address.kind {
            ResourceKind::Cluster => {
                self.writable(&format!("delete {}", spec.address))?;
                progress.status("stopping the control plane");
                self.cluster_dir(&spec.cloud_name).destroy().await
            }
            ResourceKind::NodePool => node_pool::delete(self, spec, progress).await,
            k if resources::handles(k) => resources::remove(self, spec, progress).await,
            _ => Err(unsupported(spec)),
        }
    }

    async fn wait_ready(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        match spec.address.kind {
            ResourceKind::Cluster => {
                let cd = self.cluster_dir(&spec.cloud_name);
                let Some(mut meta) = cd.load_meta()? else {
                    return Err(not_found(format!("{} does not exist", spec.address)));
                };
                self.ensure_running(&cd, &mut meta, progress).await?;
                self.observe_cluster(&cd, &meta).await
            }
            ResourceKind::NodePool => node_pool::ensure(self, spec, progress).await,
            k if resources::handles(k) => resources::ensure(self, spec, progress).await,
            _ => Err(unsupported(spec)),
        }
    }

    async fn cluster_access(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<ClusterAccess>, ProviderError> {
        if spec.address.kind != ResourceKind::Cluster {
            return Ok(None);
        }
        let cd = self.cluster_dir(&spec.cloud_name);
        match cd.load_meta()? {
            None => Ok(None),
            Some(meta) => Ok(Some(cd.access(&meta)?)),
        }
    }
}
