//! One local cluster: its directory, its metadata, and its five processes (the control
//! plane, and kwok playing the kubelets of its nodes).
//!
//! ```text
//! <state_dir>/.local/<cluster>/         0700
//!   cluster.json        what fedstack made (ports, id, attributes); its presence = the cluster exists
//!   pids.json           the processes started: name, pid, /proc start time
//!   admin.kubeconfig    0600, credentials embedded, context <cluster>
//!   pki/                0700, see pki.rs
//!   etcd/               etcd's data (kept across restarts: objects survive)
//!   kwok/kwok.yaml      kwok's configuration: the Stages it plays (kwok-stages.yaml); also its KWOK_WORKDIR
//!   logs/               etcd.log, kube-apiserver.log, kube-controller-manager.log, kube-scheduler.log, kwok.log
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use fedstack_core::value::Values;
use fedstack_provider::{ClusterAccess, ClusterCredentials, ErrorClass, Progress, ProviderError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::{controllers, extra_apiserver_args};
use crate::errors::{io, permanent, transient};
use crate::files::{private_dir, read_opt, write_file};
use crate::ports::{self, Ports};
use crate::process::{self, ProcessRecord};

/// Where all local clusters of a state directory live.
pub(crate) const LOCAL_DIR: &str = ".local";
const META_FORMAT: u32 = 1;

/// How long each component gets to become healthy.
const ETCD_TIMEOUT: Duration = Duration::from_secs(30);
const APISERVER_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a process found running may take to answer its health check.
const RUNNING_UNRESPONSIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// One health check's answer; a hung process must not hold the loop for a whole read
/// timeout.
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(2);
const CONTROLLER_MANAGER_TIMEOUT: Duration = Duration::from_secs(60);
const SCHEDULER_TIMEOUT: Duration = Duration::from_secs(60);
const KWOK_TIMEOUT: Duration = Duration::from_secs(60);

/// The Stages kwok plays: kwok v0.8.0's defaults (see the file's header).
const KWOK_STAGES: &str = include_str!("kwok-stages.yaml");

/// The annotation that hands a Node to kwok: the one kwok documents for its own
/// deployment (`manageNodesWithAnnotationSelector: kwok.x-k8s.io/node=fake`).
pub(crate) const KWOK_NODE_ANNOTATION: (&str, &str) = ("kwok.x-k8s.io/node", "fake");
/// SIGTERM, then SIGKILL after this long.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// `cluster.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ClusterMeta {
    pub format: u32,
    pub name: String,
    /// `local/<name>/<first 8 hex of sha256(CA certificate)>`: new for every creation.
    pub id: String,
    pub ports: Ports,
    /// The attributes as last applied (flavor, region, kubernetes_version, labels).
    pub attrs: Values,
    /// `kube-apiserver --version` at the last start (`1.36.3`).
    #[serde(default)]
    pub version: String,
    pub created_at: u64,
}

impl ClusterMeta {
    pub fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}", self.ports.apiserver)
    }
}

/// The directory of one local cluster.
#[derive(Debug, Clone)]
pub(crate) struct ClusterDir {
    pub name: String,
    pub dir: PathBuf,
}

/// The root of the local clusters of `state_dir`, as an absolute path without symlinks
/// when it exists (process command lines name it, and are matched against it).
pub(crate) fn local_root(state_dir: &Path) -> PathBuf {
    let root = state_dir.join(LOCAL_DIR);
    root.canonicalize()
        .or_else(|_| std::path::absolute(&root))
        .unwrap_or(root)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl ClusterDir {
    pub fn new(state_dir: &Path, name: &str) -> ClusterDir {
        ClusterDir {
            name: name.to_string(),
            dir: local_root(state_dir).join(name),
        }
    }

    pub fn pki(&self, file: &str) -> PathBuf {
        self.dir.join("pki").join(file)
    }

    fn meta_path(&self) -> PathBuf {
        self.dir.join("cluster.json")
    }

    fn pids_path(&self) -> PathBuf {
        self.dir.join("pids.json")
    }

    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.join("admin.kubeconfig")
    }

    fn log(&self, component: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{component}.log"))
    }

    /// The cluster's metadata; `None` when it does not exist.
    pub fn load_meta(&self) -> Result<Option<ClusterMeta>, ProviderError> {
        let path = self.meta_path();
        let Some(text) = read_opt(&path).map_err(|e| io("read", &path, &e))? else {
            return Ok(None);
        };
        let meta: ClusterMeta = serde_json::from_str(&text).map_err(|e| {
            permanent(format!(
                "{} is not a cluster file of this fedstack: {e}",
                path.display()
            ))
        })?;
        if meta.format != META_FORMAT {
            return Err(permanent(format!(
                "{} has format {}; this fedstack reads format {META_FORMAT}",
                path.display(),
                meta.format
            )));
        }
        Ok(Some(meta))
    }

    pub fn save_meta(&self, meta: &ClusterMeta) -> Result<(), ProviderError> {
        let path = self.meta_path();
        let text = serde_json::to_vec_pretty(meta)
            .map_err(|e| permanent(format!("cannot encode {}: {e}", path.display())))?;
        write_file(&path, &text, 0o600).map_err(|e| io("write", &path, &e))
    }

    fn load_pids(&self) -> Vec<ProcessRecord> {
        read_opt(&self.pids_path())
            .ok()
            .flatten()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    fn save_pids(&self, pids: &[ProcessRecord]) -> Result<(), ProviderError> {
        let path = self.pids_path();
        let text = serde_json::to_vec_pretty(pids)
            .map_err(|e| permanent(format!("cannot encode {}: {e}", path.display())))?;
        write_file(&path, &text, 0o600).map_err(|e| io("write", &path, &e))
    }

    /// The running processes of this cluster: recorded ones still alive, plus any process
    /// whose command line points into this directory.
    pub fn live_processes(&self) -> Vec<ProcessRecord> {
        let mut live: Vec<ProcessRecord> = self
            .load_pids()
            .into_iter()
            .filter(ProcessRecord::is_alive)
            .collect();
        for p in process::processes_using(&self.dir) {
            if !live.iter().any(|l| l.pid == p.pid) {
                live.push(p);
            }
        }
        live
    }

    /// Administrator access: the API server, the CA, the admin client certificate.
    pub fn access(&self, meta: &ClusterMeta) -> Result<ClusterAccess, ProviderError> {
        self.access_at(meta.endpoint())
    }

    fn access_at(&self, server: String) -> Result<ClusterAccess, ProviderError> {
        let read = |file: &str| {
            let path = self.pki(file);
            std::fs::read_to_string(&path).map_err(|e| io("read", &path, &e))
        };
        Ok(ClusterAccess {
            server,
            ca_pem: Some(read("ca.crt")?),
            credentials: ClusterCredentials::ClientCertificate {
                cert_pem: read("admin.crt")?,
                key_pem: read("admin.key")?,
            },
        })
    }

    /// The CA certificate, base64 of PEM (the `ca_certificate` output).
    pub fn ca_certificate(&self) -> Result<String, ProviderError> {
        let path = self.pki("ca.crt");
        let pem = std::fs::read(&path).map_err(|e| io("read", &path, &e))?;
        Ok(B64.encode(pem))
    }

    /// Makes the directory, the certificates, the ports, the kubeconfig and, last,
    /// `cluster.json` (from then on the cluster exists). Leftovers of a create that died
    /// before that are stopped and removed first.
    pub async fn provision(
        &self,
        attrs: Values,
        reserved: &BTreeSet<u16>,
    ) -> Result<ClusterMeta, ProviderError> {
        if self.dir.exists() {
            self.stop_all().await?;
            std::fs::remove_dir_all(&self.dir).map_err(|e| io("remove", &self.dir, &e))?;
        }
        for d in [
            self.dir.clone(),
            self.dir.join("pki"),
            self.dir.join("logs"),
        ] {
            private_dir(&d).map_err(|e| io("create", &d, &e))?;
        }
        let pki = crate::pki::generate(&self.name).map_err(|e| {
            permanent(format!(
                "cannot generate certificates for {}: {e}",
                self.name
            ))
        })?;
        let pki_dir = self.dir.join("pki");
        pki.write(&pki_dir)
            .map_err(|e| io("write certificates in", &pki_dir, &e))?;
        let ca = pki.get("ca.crt").unwrap_or_default();
        let fingerprint = Sha256::digest(ca.as_bytes());
        let id = format!(
            "local/{}/{}",
            self.name,
            fingerprint
                .iter()
                .take(4)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let ports = ports::allocate(reserved).map_err(|e| transient(e, Duration::from_secs(1)))?;
        let meta = ClusterMeta {
            format: META_FORMAT,
            name: self.name.clone(),
            id,
            ports,
            attrs,
            version: String::new(),
            created_at: now_secs(),
        };
        let access = self.access(&meta)?;
        let kubeconfig =
            fedstack_kube::render_kubeconfig(&[(self.name.clone(), access)], Some(&self.name));
        let kc_path = self.kubeconfig_path();
        write_file(&kc_path, kubeconfig.as_bytes(), 0o600)
            .map_err(|e| io("write", &kc_path, &e))?;
        self.save_meta(&meta)?;
        Ok(meta)
    }

    /// Whether every process runs and the API server says it is ready.
    pub async fn is_running(&self, meta: &ClusterMeta) -> bool {
        let live = self.live_processes();
        let all = crate::config::BINARIES
            .iter()
            .all(|b| live.iter().any(|p| p.name == *b));
        if !all {
            return false;
        }
        let Ok(access) = self.access(meta) else {
            return false;
        };
        tokio::time::timeout(Duration::from_secs(5), api_ready(&self.name, &access))
            .await
            .unwrap_or(false)
    }

    /// Starts whatever of etcd, kube-apiserver, kube-controller-manager, kube-scheduler
    /// and kwok is not running, in that order, each once the previous one is healthy.
    /// Reuses the etcd data, the certificates and the ports (a cluster recorded before
    /// it ran kube-scheduler and kwok gets ports for them here).
    pub async fn ensure_running(
        &self,
        meta: &mut ClusterMeta,
        bin_dir: &Path,
        version: &str,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let mut live = self.live_processes();
        let mut ports_changed = false;
        if meta.ports.scheduler == 0 || meta.ports.kwok == 0 {
            let root = self.dir.parent().unwrap_or(&self.dir);
            ports_changed = ports::fill_missing(&mut meta.ports, &recorded_ports(root))
                .map_err(|e| transient(e, Duration::from_secs(1)))?;
            if ports_changed {
                self.save_meta(meta)?;
            }
        }
        self.write_kwok_config()?;
        let access = self.access(meta)?;
        let kcm_access = self.access_at(format!(
            "https://127.0.0.1:{}",
            meta.ports.controller_manager
        ))?;
        let scheduler_access =
            self.access_at(format!("https://127.0.0.1:{}", meta.ports.scheduler))?;
        let kwok_env = [(
            "KWOK_WORKDIR".to_string(),
            self.kwok_dir().display().to_string(),
        )];
        let mut started_any = false;
        for component in crate::config::BINARIES {
            let (record, started_now) = match live.iter().find(|p| p.name == component) {
                Some(p) => (p.clone(), false),
                None => {
                    let port = match component {
                        "etcd" => meta.ports.etcd,
                        "kube-apiserver" => meta.ports.apiserver,
                        "kube-controller-manager" => meta.ports.controller_manager,
                        "kube-scheduler" => meta.ports.scheduler,
                        _ => meta.ports.kwok,
                    };
                    if ports::in_use(port) {
                        return Err(transient(
                            format!(
                                "cannot start {component} of local cluster {}: port {port} on 127.0.0.1 is in use by another process",
                                self.name
                            ),
                            Duration::from_secs(2),
                        ));
                    }
                    progress.status(&format!("starting {component}"));
                    let args = match component {
                        "etcd" => etcd_args(&self.dir, &meta.ports, &self.name),
                        "kube-apiserver" => {
                            let mut args = apiserver_args(&self.dir, &meta.ports);
                            args.extend(extra_apiserver_args());
                            args
                        }
                        "kube-controller-manager" => {
                            controller_manager_args(&self.dir, &meta.ports, &controllers())
                        }
                        "kube-scheduler" => scheduler_args(&self.dir, &meta.ports),
                        _ => kwok_args(&self.dir, &meta.ports),
                    };
                    let env: &[(String, String)] =
                        if component == "kwok" { &kwok_env } else { &[] };
                    let log = self.log(component);
                    let p = process::spawn(
                        component,
                        &bin_dir.join(component),
                        &args,
                        env,
                        &self.dir,
                        &log,
                    )
                    .map_err(|e| {
                        permanent(format!(
                            "cannot start {}: {e}",
                            bin_dir.join(component).display()
                        ))
                    })?;
                    live.push(p.clone());
                    let recorded: Vec<ProcessRecord> = live
                        .iter()
                        .filter(|r| r.is_alive() || r.pid == p.pid)
                        .cloned()
                        .collect();
                    self.save_pids(&recorded)?;
                    started_any = true;
                    (p, true)
                }
            };
            let (timeout, what) = match component {
                "etcd" => (ETCD_TIMEOUT, "/health"),
                "kube-apiserver" => (APISERVER_TIMEOUT, "/readyz"),
                "kube-controller-manager" => (CONTROLLER_MANAGER_TIMEOUT, "/healthz"),
                "kube-scheduler" => (SCHEDULER_TIMEOUT, "/healthz"),
                _ => (KWOK_TIMEOUT, "/healthz"),
            };
            // A process that was already running and does not answer is hung (or
            // stopped): say so soon, as unreachable, rather than wait as for a start.
            let timeout = if started_now {
                timeout
            } else {
                RUNNING_UNRESPONSIVE_TIMEOUT
            };
            let started = Instant::now();
            let mut reported = false;
            loop {
                let healthy = match component {
                    "etcd" => etcd_healthy(meta.ports.etcd).await,
                    "kube-apiserver" => api_ready(&self.name, &access).await,
                    "kube-controller-manager" => serving_healthy(&self.name, &kcm_access).await,
                    "kube-scheduler" => serving_healthy(&self.name, &scheduler_access).await,
                    _ => http_ok(meta.ports.kwok, "/healthz").await,
                };
                if healthy {
                    break;
                }
                if !record.is_alive() {
                    return Err(permanent(format!(
                        "{component} of local cluster {} exited: {} (log: {})",
                        self.name,
                        last_log_line(&self.log(component)),
                        self.log(component).display()
                    )));
                }
                if started.elapsed() > timeout && !started_now {
                    return Err(ProviderError::new(
                        ErrorClass::Unreachable,
                        format!(
                            "local cluster {} does not answer: {component} (pid {}) runs but {what} has not answered for {}s (hint: a stopped process needs `kill -CONT {}`; a hung one, `kill` it and apply again to restart it)",
                            self.name,
                            record.pid,
                            timeout.as_secs(),
                            record.pid
                        ),
                    ));
                }
                if started.elapsed() > timeout {
                    return Err(transient(
                        format!(
                            "{component} of local cluster {} is not healthy ({what}) after {}s (log: {})",
                            self.name,
                            timeout.as_secs(),
                            self.log(component).display()
                        ),
                        Duration::from_secs(1),
                    ));
                }
                if !reported && started.elapsed() > Duration::from_millis(300) {
                    progress.status(&format!("waiting for {component} {what}"));
                    reported = true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        if started_any || ports_changed || meta.version != version {
            meta.version = version.to_string();
            self.save_meta(meta)?;
        }
        Ok(())
    }

    fn kwok_dir(&self) -> PathBuf {
        self.dir.join("kwok")
    }

    /// `kwok/kwok.yaml`: the Stages kwok plays, written before each start of kwok (so a
    /// new fedstack's stages take effect at the next start).
    fn write_kwok_config(&self) -> Result<(), ProviderError> {
        let dir = self.kwok_dir();
        private_dir(&dir).map_err(|e| io("create", &dir, &e))?;
        let path = dir.join("kwok.yaml");
        if read_opt(&path).ok().flatten().as_deref() == Some(KWOK_STAGES) {
            return Ok(());
        }
        write_file(&path, KWOK_STAGES.as_bytes(), 0o600).map_err(|e| io("write", &path, &e))
    }

    /// Stops every process of the cluster: kwok, kube-scheduler and
    /// kube-controller-manager, then kube-apiserver, then etcd (an apiserver whose etcd is
    /// gone hangs in its shutdown).
    pub async fn stop_all(&self) -> Result<(), ProviderError> {
        let mut live = self.live_processes();
        let rank = |name: &str| match name {
            "kube-apiserver" => 1,
            "etcd" => 2,
            _ => 0,
        };
        live.sort_by_key(|p| rank(&p.name));
        for p in &live {
            process::stop(p, STOP_GRACE)
                .await
                .map_err(|e| permanent(format!("cannot stop local cluster {}: {e}", self.name)))?;
        }
        if self.dir.exists() {
            self.save_pids(&[])?;
        }
        Ok(())
    }

    /// Stops the processes and removes the directory. Gone already is fine.
    pub async fn destroy(&self) -> Result<(), ProviderError> {
        self.stop_all().await?;
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("remove", &self.dir, &e)),
        }
    }
}

/// The ports recorded by every local cluster under `root` (reserved for their restarts).
pub(crate) fn recorded_ports(root: &Path) -> BTreeSet<u16> {
    let mut ports = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return ports;
    };
    for e in entries.flatten() {
        let meta = read_opt(&e.path().join("cluster.json"))
            .ok()
            .flatten()
            .and_then(|t| serde_json::from_str::<ClusterMeta>(&t).ok());
        if let Some(m) = meta {
            ports.extend(m.ports.all());
        }
    }
    ports
}

fn path_arg(flag: &str, path: PathBuf) -> String {
    format!("--{flag}={}", path.display())
}

/// etcd, one member, on 127.0.0.1; fsync off (a local development cluster: a `kill -9`
/// loses nothing, a power cut may).
pub(crate) fn etcd_args(dir: &Path, p: &Ports, name: &str) -> Vec<String> {
    let client = format!("http://127.0.0.1:{}", p.etcd);
    let peer = format!("http://127.0.0.1:{}", p.etcd_peer);
    vec![
        format!("--name={name}"),
        path_arg("data-dir", dir.join("etcd")),
        format!("--listen-client-urls={client}"),
        format!("--advertise-client-urls={client}"),
        format!("--listen-peer-urls={peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
        format!("--initial-cluster={name}={peer}"),
        "--initial-cluster-state=new".into(),
        "--unsafe-no-fsync=true".into(),
        "--log-level=warn".into(),
    ]
}

pub(crate) fn apiserver_args(dir: &Path, p: &Ports) -> Vec<String> {
    let pki = |f: &str| dir.join("pki").join(f);
    vec![
        format!("--etcd-servers=http://127.0.0.1:{}", p.etcd),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={}", p.apiserver),
        path_arg("cert-dir", dir.join("pki")),
        path_arg("tls-cert-file", pki("apiserver.crt")),
        path_arg("tls-private-key-file", pki("apiserver.key")),
        path_arg("client-ca-file", pki("ca.crt")),
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
        path_arg("service-account-key-file", pki("sa.pub")),
        path_arg("service-account-signing-key-file", pki("sa.key")),
        "--service-cluster-ip-range=10.0.0.0/24".into(),
        path_arg("requestheader-client-ca-file", pki("front-proxy-ca.crt")),
        "--requestheader-allowed-names=front-proxy-client".into(),
        "--requestheader-username-headers=X-Remote-User".into(),
        "--requestheader-group-headers=X-Remote-Group".into(),
        "--requestheader-extra-headers-prefix=X-Remote-Extra-".into(),
        path_arg("proxy-client-cert-file", pki("front-proxy-client.crt")),
        path_arg("proxy-client-key-file", pki("front-proxy-client.key")),
        "--authorization-mode=RBAC".into(),
        "--endpoint-reconciler-type=none".into(),
        "--allow-privileged=true".into(),
        "--profiling=false".into(),
    ]
}

pub(crate) fn controller_manager_args(dir: &Path, p: &Ports, controllers: &str) -> Vec<String> {
    let pki = |f: &str| dir.join("pki").join(f);
    let kubeconfig = dir.join("admin.kubeconfig");
    vec![
        path_arg("kubeconfig", kubeconfig.clone()),
        path_arg("authentication-kubeconfig", kubeconfig.clone()),
        path_arg("authorization-kubeconfig", kubeconfig),
        "--bind-address=127.0.0.1".into(),
        format!("--secure-port={}", p.controller_manager),
        path_arg("tls-cert-file", pki("controller-manager.crt")),
        path_arg("tls-private-key-file", pki("controller-manager.key")),
        path_arg("service-account-private-key-file", pki("sa.key")),
        path_arg("root-ca-file", pki("ca.crt")),
        path_arg("cluster-signing-cert-file", pki("ca.crt")),
        path_arg("cluster-signing-key-file", pki("ca.key")),
        format!("--controllers={controllers}"),
        "--use-service-account-credentials=true".into(),
        "--leader-elect=false".into(),
    ]
}

/// kube-scheduler: the admin kubeconfig (like kube-controller-manager), no leader
/// election (one scheduler per cluster), `/healthz` on its own port with a serving
/// certificate of the cluster CA. Clusters made before `scheduler.crt` existed use the
/// controller manager's (also 127.0.0.1, same CA).
pub(crate) fn scheduler_args(dir: &Path, p: &Ports) -> Vec<String> {
    let pki = |f: &str| dir.join("pki").join(f);
    let cert = if pki("scheduler.crt").exists() {
        "scheduler"
    } else {
        "controller-manager"
    };
    let kubeconfig = dir.join("admin.kubeconfig");
    vec![
        path_arg("kubeconfig", kubeconfig.clone()),
        path_arg("authentication-kubeconfig", kubeconfig.clone()),
        path_arg("authorization-kubeconfig", kubeconfig),
        "--bind-address=127.0.0.1".into(),
        format!("--secure-port={}", p.scheduler),
        path_arg("tls-cert-file", pki(&format!("{cert}.crt"))),
        path_arg("tls-private-key-file", pki(&format!("{cert}.key"))),
        "--leader-elect=false".into(),
        "--profiling=false".into(),
    ]
}

/// kwok, managing only the Nodes with [`KWOK_NODE_ANNOTATION`] (the node pools' nodes;
/// a Node someone else registers is left alone), playing the Stages of its `--config`
/// (kwok has no built-in ones), with node leases as kubelets keep them, pod IPs from a
/// range of their own (kwok's default would overlap the service range), and its
/// `/healthz` on 127.0.0.1 only.
pub(crate) fn kwok_args(dir: &Path, p: &Ports) -> Vec<String> {
    let (key, value) = KWOK_NODE_ANNOTATION;
    vec![
        path_arg("kubeconfig", dir.join("admin.kubeconfig")),
        path_arg("config", dir.join("kwok").join("kwok.yaml")),
        "--manage-all-nodes=false".into(),
        format!("--manage-nodes-with-annotation-selector={key}={value}"),
        "--node-lease-duration-seconds=40".into(),
        "--node-ip=127.0.0.1".into(),
        "--cidr=10.244.0.0/16".into(),
        format!("--server-address=127.0.0.1:{}", p.kwok),
    ]
}

/// etcd's `/health` over plain HTTP on 127.0.0.1.
async fn etcd_healthy(port: u16) -> bool {
    http_get(port, "/health")
        .await
        .is_some_and(|text| text.contains("\"health\":\"true\""))
}

/// Whether `GET path` on 127.0.0.1:`port` (plain HTTP) answers 200.
async fn http_ok(port: u16, path: &str) -> bool {
    http_get(port, path).await.is_some_and(|text| {
        text.lines()
            .next()
            .is_some_and(|status| status.split_whitespace().nth(1) == Some("200"))
    })
}

/// The whole response (status line, headers, body) to `GET path` on 127.0.0.1:`port`.
async fn http_get(port: u16, path: &str) -> Option<String> {
    let get = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .await
            .ok()?;
        let mut body = Vec::new();
        s.read_to_end(&mut body).await.ok()?;
        Some(String::from_utf8_lossy(&body).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(2), get)
        .await
        .ok()
        .flatten()
}

async fn api_ready(name: &str, access: &ClusterAccess) -> bool {
    match fedstack_kube::client_for(name, access).await {
        Ok(c) => tokio::time::timeout(HEALTH_CHECK_TIMEOUT, fedstack_kube::get_text(&c, "/readyz"))
            .await
            .is_ok_and(|r| r.is_ok_and(|t| t.trim() == "ok")),
        Err(_) => false,
    }
}

/// `/healthz` of kube-controller-manager or kube-scheduler (HTTPS, the cluster CA).
async fn serving_healthy(name: &str, access: &ClusterAccess) -> bool {
    match fedstack_kube::client_for(name, access).await {
        Ok(c) => tokio::time::timeout(
            HEALTH_CHECK_TIMEOUT,
            fedstack_kube::get_text(&c, "/healthz"),
        )
        .await
        .is_ok_and(|r| r.is_ok_and(|t| t.trim() == "ok")),
        Err(_) => false,
    }
}

/// The last meaningful line of a log (why a process exited), at most 300 characters.
fn last_log_line(path: &Path) -> String {
    let text = std::fs::read(path)
        .map(|b| {
            let tail = &b[b.len().saturating_sub(8192)..];
            String::from_utf8_lossy(tail).into_owned()
        })
        .unwrap_or_default();
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("---- fedstack"))
        .unwrap_or("no output");
    line.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports() -> Ports {
        Ports {
            etcd: 21001,
            etcd_peer: 21002,
            apiserver: 21003,
            controller_manager: 21004,
            scheduler: 21005,
            kwok: 21006,
        }
    }

    #[test]
    fn command_lines_point_into_the_cluster_dir() {
        let dir = Path::new("/s/.local/a");
        let e = etcd_args(dir, &ports(), "a");
        assert!(e.contains(&"--data-dir=/s/.local/a/etcd".to_string()));
        assert!(e.contains(&"--listen-client-urls=http://127.0.0.1:21001".to_string()));
        assert!(e.contains(&"--initial-cluster=a=http://127.0.0.1:21002".to_string()));
        let a = apiserver_args(dir, &ports());
        assert!(a.contains(&"--secure-port=21003".to_string()));
        assert!(a.contains(&"--etcd-servers=http://127.0.0.1:21001".to_string()));
        assert!(a.contains(&"--client-ca-file=/s/.local/a/pki/ca.crt".to_string()));
        let k = controller_manager_args(dir, &ports(), "x,y");
        assert!(k.contains(&"--controllers=x,y".to_string()));
        assert!(k.contains(&"--kubeconfig=/s/.local/a/admin.kubeconfig".to_string()));
        assert!(k.contains(&"--secure-port=21004".to_string()));
        let s = scheduler_args(dir, &ports());
        assert!(s.contains(&"--secure-port=21005".to_string()));
        assert!(s.contains(&"--leader-elect=false".to_string()));
        assert!(s.contains(&"--kubeconfig=/s/.local/a/admin.kubeconfig".to_string()));
        // No scheduler.crt in /s/.local/a: the controller manager's serving certificate.
        assert!(s.contains(&"--tls-cert-file=/s/.local/a/pki/controller-manager.crt".to_string()));
        let w = kwok_args(dir, &ports());
        assert!(w.contains(&"--config=/s/.local/a/kwok/kwok.yaml".to_string()));
        assert!(w.contains(&"--manage-all-nodes=false".to_string()));
        assert!(w.contains(
            &"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake".to_string()
        ));
        assert!(w.contains(&"--server-address=127.0.0.1:21006".to_string()));
        // The stray-process scan recognizes each by a path inside the directory.
        for args in [e, a, k, s, w] {
            assert!(args.iter().any(|x| x.contains("/s/.local/a/")));
        }
    }

    #[test]
    fn last_line_of_a_log() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("x.log");
        std::fs::write(
            &p,
            "---- fedstack: starting x\nfirst\nE1121 bind: address already in use\n\n",
        )
        .expect("write");
        assert_eq!(last_log_line(&p), "E1121 bind: address already in use");
        assert_eq!(last_log_line(&dir.path().join("none")), "no output");
    }

    #[tokio::test]
    async fn metadata_round_trip_and_recorded_ports() {
        let state = tempfile::tempdir().expect("dir");
        let cd = ClusterDir::new(state.path(), "a");
        assert_eq!(cd.load_meta().expect("reads"), None);
        private_dir(&cd.dir).expect("dir");
        let meta = ClusterMeta {
            format: META_FORMAT,
            name: "a".into(),
            id: "local/a/00000000".into(),
            ports: ports(),
            attrs: Values::new(),
            version: "1.36.3".into(),
            created_at: 1,
        };
        cd.save_meta(&meta).expect("saves");
        assert_eq!(cd.load_meta().expect("reads"), Some(meta.clone()));
        assert_eq!(meta.endpoint(), "https://127.0.0.1:21003");
        let root = local_root(state.path());
        assert_eq!(
            recorded_ports(&root),
            [21001, 21002, 21003, 21004, 21005, 21006]
                .into_iter()
                .collect()
        );
        assert!(cd.live_processes().is_empty());
        cd.destroy().await.expect("destroys");
        assert!(!cd.dir.exists());
        cd.destroy().await.expect("gone is fine");
    }
}
