//! Local Kubernetes control planes: `provider: local` in a stack.
//!
//! A local *cluster* is a real control plane: etcd, kube-apiserver, kube-controller-manager
//! and kube-scheduler on 127.0.0.1 (free ports, fixed for the cluster's life), plus one
//! kwok process that plays the kubelets of its node pools' nodes (see `node_pool.rs`), with
//! its own certificates made in Rust (rcgen) and an admin kubeconfig, all under
//! `<state_dir>/.local/<cluster>/` (directories 0700, keys 0600; see `cluster.rs`). The
//! processes are started detached (own process group, output to `logs/`) and outlive
//! fedstack; `pids.json` records them with their `/proc` start time, so a reused pid is
//! never taken for theirs.
//!
//! - `read`: the recorded processes alive and `/readyz` ok -> `running: true`; otherwise
//!   `running: false` (status stays `Ready`): the plan shows the drift as an update
//!   (`running: false -> true`) and apply starts what is down again, reusing the etcd data
//!   and the certificates, so every object survives.
//! - `delete`: SIGTERM (SIGKILL after 10 s) to kwok, kube-scheduler and
//!   kube-controller-manager, then kube-apiserver, then etcd, then the directory goes.
//! - The binaries come from the cloud's `bin_dir`, else `FEDSTACK_KUBE_BIN_DIR`, else the
//!   cache of `scripts/kube-testenv build` (all of [`BINARIES`]); their version must match
//!   the cluster's `kubernetes_version` (same minor; same patch when one is given).
//!   `FEDSTACK_LOCAL_CONTROLLERS` overrides the controllers kube-controller-manager runs
//!   (default: [`DEFAULT_CONTROLLERS`]); `FEDSTACK_LOCAL_APISERVER_ARGS` adds
//!   kube-apiserver flags (e.g. an authenticating webhook), read at each start.
//! - Outputs: `id`, `endpoint`, `ca_certificate` (base64 PEM), `status`
//!   (`RUNNING`/`STOPPED`), `region`, `kubernetes_version`, `ingress_address` (127.0.0.1).
//!   The admin credentials never leave the cluster directory except through
//!   [`Provider::cluster_access`](fedstack_provider::Provider::cluster_access)
//!   (`fedstack output kubeconfig`).
//! - Node pools are real Nodes on the cluster (`<cluster>-<pool>-<i>`, the pool's labels
//!   plus `fedstack.dev/node-pool: <pool>`, capacity [`NODE_CAPACITY`]), managed by the
//!   cluster's kwok (annotation `kwok.x-k8s.io/node: fake`), which marks them Ready and
//!   runs the pods the scheduler binds to them (Running, Ready, with pod IPs; nothing is
//!   executed). Scaling a pool adds or deletes nodes; deleting it deletes them. DNS and
//!   data resources are not supported.
//!
//! `federation_host` and `federation_member` resources whose host is a local cluster are
//! made on the real API servers with [`fedstack_kube`] (a kubefed-compatible join). A
//! member's `credentials` attribute reads `in sync`, or what is wrong (a deleted or stale
//! host Secret, an edited role, a KubeFedCluster pointing elsewhere); together with
//! `api_endpoint` and `ca_bundle` read from the KubeFedCluster, drift shows in the plan and
//! apply repairs it.
//!
//! # Errors
//! | class | when |
//! |---|---|
//! | `Invalid` | binaries missing or of another version, a bad name or setting, DNS or data resources |
//! | `NotFound` | an update of a cluster that is gone; a join whose cluster does not exist |
//! | `AlreadyExists` | create of an existing cluster (adopt it) |
//! | `Transient` | a component not healthy in time, a port taken, API server errors 5xx, a token not filled in time, nodes not Ready in time |
//! | `Permanent` | a process that exited at start (with its last log line), file errors, an object of someone else's in the way, a member joined to another host |

mod binaries;
mod cluster;
mod config;
mod errors;
mod federation;
mod files;
mod node_pool;
mod pki;
mod ports;
mod process;
mod provider;

pub use config::{
    check_binaries, testenv_bin_dir, BINARIES, DEFAULT_CONTROLLERS, ENV_APISERVER_ARGS,
    ENV_BIN_DIR, ENV_CONTROLLERS, TESTENV_ETCD, TESTENV_KUBERNETES, TESTENV_KWOK,
};
pub use node_pool::{NODE_CAPACITY, POOL_LABEL};
pub use provider::LocalProvider;
