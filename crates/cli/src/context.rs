//! Stage two of the arguments: read the stack, open the state, build providers.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use fedstack_core::address::ResourceKind;
use fedstack_core::stack::StateBackendConfig;
use fedstack_core::stack::{load_stack, DesiredStack, KUBERNETES_CLOUD, REGISTRY_CLOUD};
use fedstack_core::state::StateSnapshot;
use fedstack_core::value::{Expr, Values};
use fedstack_engine::{EngineSettings, Providers};
use fedstack_provider::{ProviderContext, ResourceSpec, SharedProvider};
use fedstack_provider_kubernetes::{ClusterDirectory, KubernetesProvider};
use fedstack_state::{Backend, LocalBackend};
use fedstack_state_s3::S3Backend;

use crate::args::Global;
use crate::error::CliError;
use crate::render::style::Style;
use crate::terminal::errln;

/// What every command works with.
pub struct Context {
    pub file: PathBuf,
    pub state_dir: PathBuf,
    pub json: bool,
    pub style: Style,
}

impl Context {
    pub fn new(g: &Global) -> Context {
        let color = !g.no_color
            && !g.json
            && std::env::var_os("NO_COLOR").is_none()
            && std::io::stdout().is_terminal();
        Context {
            file: g.file.clone(),
            state_dir: g.state_dir.clone(),
            json: g.json,
            style: Style { color },
        }
    }

    /// Reads and validates the stack file, and the manifests of its workloads.
    pub fn stack(&self) -> Result<DesiredStack, CliError> {
        let shown = self.file.display().to_string();
        let text = std::fs::read_to_string(&self.file).map_err(|e| {
            let err = CliError::new(format!("cannot read stack file {shown}: {}", io_reason(&e)));
            if e.kind() == std::io::ErrorKind::NotFound {
                err.hint("pass the stack with -f, e.g. -f stacks/multicloud-sim.yaml")
            } else {
                err
            }
        })?;
        let mut stack = load_stack(&shown, &text, crate::clouds::CLOUDS)
            .map_err(|d| CliError::new(d.to_string()))?;
        crate::workloads::render_objects(&mut stack, &shown)?;
        Ok(stack)
    }

    /// Where the stack's state lives: its `state:` section, else `--state-dir`.
    pub fn backend(&self, stack: &DesiredStack) -> Result<Box<dyn Backend>, CliError> {
        backend_for(&stack.state.backend, &self.state_dir, &stack.name)
    }

    /// Takes the stack's lock for `operation`; says so on standard error when it has
    /// to wait for another run, so a waiting command never looks hung.
    pub fn lock(
        &self,
        backend: &dyn Backend,
        operation: &str,
        timeout: std::time::Duration,
    ) -> Result<fedstack_state::LockGuard, CliError> {
        let mut tell = |holder: &fedstack_state::LockInfo| {
            self.note(&format!(
                "waiting up to {} for the state lock, held by {holder}",
                humantime::format_duration(timeout)
            ))
        };
        Ok(backend.lock(operation, timeout, &mut tell)?)
    }

    /// The recorded state, read-only (no lock).
    pub fn read_state(&self, stack: &DesiredStack) -> Result<StateSnapshot, CliError> {
        let loaded = self.backend(stack)?.load()?;
        for w in &loaded.warnings {
            self.warn(w);
        }
        Ok(loaded.snapshot)
    }

    /// A line for the user on standard error that is not a warning.
    pub fn note(&self, message: &str) {
        self.tell("note", message, "");
    }

    pub fn warn(&self, message: &str) {
        self.tell("warning", message, &self.style.yellow("warning: "));
    }

    /// One line on standard error: a JSON object of `kind` with `--json`, else `prefix`
    /// and the message.
    fn tell(&self, kind: &str, message: &str, prefix: &str) {
        if self.json {
            errln!(
                "{}",
                serde_json::json!({"v": 1, "type": kind, "message": message})
            );
        } else {
            errln!("{prefix}{message}");
        }
    }

    /// Providers for every cloud that the stack or the state uses.
    pub fn providers(
        &self,
        stack: &DesiredStack,
        state: &StateSnapshot,
        read_only: bool,
    ) -> Result<Providers, CliError> {
        let mut used: BTreeSet<&str> = stack
            .resources
            .iter()
            .filter_map(|r| r.cloud.as_deref())
            .collect();
        used.extend(state.resources.values().filter_map(|r| r.cloud.as_deref()));
        used.extend(state.intents.values().filter_map(|i| i.cloud.as_deref()));
        // Federations across clouds: joined through every cluster's own cloud, so those
        // clouds are needed too.
        let kubernetes = used.contains(KUBERNETES_CLOUD);
        let registry = used.contains(REGISTRY_CLOUD);
        if kubernetes {
            used.extend(
                stack
                    .resources
                    .iter()
                    .filter(|r| r.address.kind == ResourceKind::Cluster)
                    .filter_map(|r| r.cloud.as_deref()),
            );
            used.extend(
                state
                    .resources
                    .values()
                    .filter(|r| r.address.kind == ResourceKind::Cluster)
                    .filter_map(|r| r.cloud.as_deref()),
            );
        }
        let ctx = ProviderContext {
            stack: stack.name.clone(),
            state_dir: self.state_dir.clone(),
            read_only,
        };
        let mut providers = Providers::new();
        // In the order the stack declares them, so the first problem reported is the first in the file.
        let mut clouds: Vec<_> = used
            .into_iter()
            .filter_map(|n| stack.clouds.get(n).map(|c| (n, c)))
            .collect();
        clouds.sort_by_key(|(_, c)| c.span);
        for (name, cloud) in clouds {
            let Some(make) = crate::clouds::maker(&cloud.provider) else {
                return Err(CliError::new(format!(
                    "{}:{}:{}: cloud `{name}` uses provider `{}`, which this build of fedstack does not include yet",
                    stack.file, cloud.span.line, cloud.span.column, cloud.provider
                ))
                .hint("run the same stack on simulated clouds with `provider: sim` (see stacks/multicloud-sim.yaml)"));
            };
            let provider: SharedProvider = make(name, &cloud.settings, &ctx)?;
            providers.insert(name.to_string(), provider);
        }
        // Images: copied between the stack's registries, whose settings travel in each
        // image's attributes (so a destroy after `registries` left the stack still works).
        if registry {
            providers.insert(
                REGISTRY_CLOUD.to_string(),
                Arc::new(fedstack_provider_registry::RegistryProvider::new(read_only)),
            );
        }
        if kubernetes {
            let clusters = cluster_directory(stack, state, &providers);
            providers.insert(
                KUBERNETES_CLOUD.to_string(),
                Arc::new(KubernetesProvider::new(clusters, read_only, &stack.name)),
            );
        }
        Ok(providers)
    }

    pub fn engine_settings(&self, stack: &DesiredStack, parallelism: usize) -> EngineSettings {
        let mut s = EngineSettings {
            parallelism,
            ..EngineSettings::default()
        };
        for (name, c) in &stack.clouds {
            if let Some(n) = c.settings.get("max_parallel").and_then(|v| v.as_u64()) {
                s.cloud_limits.insert(name.clone(), n as usize);
            }
        }
        if let Some(ms) = std::env::var("FEDSTACK_PROGRESS_INTERVAL")
            .ok()
            .and_then(|v| crate::args::parse_duration(&v).ok())
        {
            if !ms.is_zero() {
                s.progress_interval = ms;
            }
        }
        if let Some(ms) = std::env::var("FEDSTACK_RETRY_BASE_DELAY")
            .ok()
            .and_then(|v| crate::args::parse_duration(&v).ok())
        {
            s.retry.base_delay = ms;
        }
        s
    }
}

/// The backend `config` names for `stack` (`state_dir` is the local backend's).
pub fn backend_for(
    config: &StateBackendConfig,
    state_dir: &std::path::Path,
    stack: &str,
) -> Result<Box<dyn Backend>, CliError> {
    Ok(match config {
        StateBackendConfig::Local => Box::new(LocalBackend::new(state_dir, stack)),
        StateBackendConfig::S3(s3) => Box::new(S3Backend::new(s3, stack)?),
    })
}

/// An I/O error's reason without Rust's debug noise.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Every cluster of the state and the stack with its cloud's provider, for the
/// kubernetes provider's joins: the recorded spec (all resolved) where there is one, else
/// the stack's literal attributes (a cluster this run creates; its provider finds it by
/// name and location).
fn cluster_directory(
    stack: &DesiredStack,
    state: &StateSnapshot,
    providers: &Providers,
) -> ClusterDirectory {
    let mut clusters = ClusterDirectory::new();
    for r in state.resources.values() {
        if r.address.kind != ResourceKind::Cluster {
            continue;
        }
        if let Some(p) = r.cloud.as_ref().and_then(|c| providers.get(c)) {
            let spec = ResourceSpec {
                address: r.address.clone(),
                cloud_name: r.cloud_name.clone(),
                attrs: r.attrs.clone(),
            };
            clusters.add(r.address.name.as_str(), p.clone(), spec);
        }
    }
    for r in &stack.resources {
        if r.address.kind != ResourceKind::Cluster {
            continue;
        }
        if let Some(p) = r.cloud.as_ref().and_then(|c| providers.get(c)) {
            let attrs: Values = r
                .attrs
                .iter()
                .filter_map(|(k, e)| match e {
                    Expr::Literal(v) => Some((k.clone(), v.clone())),
                    _ => None,
                })
                .collect();
            let spec = ResourceSpec {
                address: r.address.clone(),
                cloud_name: r.address.cloud_name().to_string(),
                attrs,
            };
            clusters.add(r.address.name.as_str(), p.clone(), spec);
        }
    }
    clusters
}
