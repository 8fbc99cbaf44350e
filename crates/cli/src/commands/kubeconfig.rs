//! `fedstack output kubeconfig [CLUSTER]`: one kubeconfig with a context per cluster of
//! the stack whose provider can give credentials (local clusters: the admin client
//! certificate). Clusters without credentials (simulated ones) are skipped with a note.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use fedstack_core::address::ResourceKind;
use fedstack_core::stack::DesiredStack;
use fedstack_provider::ResourceSpec;

use crate::context::{io_reason, Context};
use crate::error::CliError;
use crate::terminal::{errln, out};

pub fn run(
    ctx: &Context,
    stack: &DesiredStack,
    only: Option<&str>,
    out: Option<&Path>,
) -> Result<u8, CliError> {
    let state = ctx.read_state(stack)?;
    let clusters: Vec<_> = state
        .resources
        .values()
        .filter(|r| r.address.kind == ResourceKind::Cluster)
        .filter(|r| only.is_none_or(|o| r.address.name.as_str() == o))
        .collect();
    if let Some(o) = only {
        if clusters.is_empty() {
            let names: Vec<&str> = state
                .resources
                .keys()
                .filter(|a| a.kind == ResourceKind::Cluster)
                .map(|a| a.name.as_str())
                .collect();
            return Err(
                CliError::new(format!("no cluster `{o}` in the state of {}", stack.name)).hint(
                    if names.is_empty() {
                        "run `fedstack apply` first".to_string()
                    } else {
                        format!("clusters are: {}", names.join(", "))
                    },
                ),
            );
        }
    }
    let providers = ctx.providers(stack, &state, true)?;
    let mut entries = Vec::new();
    super::runtime()?.block_on(async {
        for r in &clusters {
            let Some(provider) = r.cloud.as_ref().and_then(|c| providers.get(c)) else {
                ctx.warn(&format!(
                    "skipping cluster {}: its cloud is not in the stack",
                    r.address.name.as_str()
                ));
                continue;
            };
            let spec = ResourceSpec {
                address: r.address.clone(),
                cloud_name: r.cloud_name.clone(),
                attrs: r.attrs.clone(),
            };
            match provider.cluster_access(&spec).await {
                Ok(Some(access)) => entries.push((r.address.name.as_str().to_string(), access)),
                Ok(None) => ctx.warn(&format!(
                    "skipping cluster {}: provider `{}` gives no credentials for it",
                    r.address.name.as_str(),
                    provider.provider_type()
                )),
                // Asked for one cluster: its error is the answer.
                Err(e) if only.is_some() => return Err(e.into()),
                // Every cluster: one that cannot be reached does not keep the others'.
                Err(e) => ctx.warn(&format!(
                    "skipping cluster {}: {e}",
                    r.address.name.as_str()
                )),
            }
        }
        Ok::<(), CliError>(())
    })?;
    if entries.is_empty() {
        return Err(
            CliError::new("no cluster of the stack has credentials for a kubeconfig")
                .hint("local clusters have them once applied; simulated clusters have none"),
        );
    }
    let host = stack
        .resources
        .iter()
        .find(|r| r.address.kind == ResourceKind::FederationHost)
        .map(|r| r.address.name.as_str().to_string());
    let text = fedstack_kube::render_kubeconfig(&entries, host.as_deref());
    match out {
        None => out!("{text}")?,
        Some(path) => {
            write_private(path, &text).map_err(|e| {
                CliError::new(format!(
                    "cannot write {}: {}",
                    path.display(),
                    io_reason(&e)
                ))
            })?;
            if !ctx.json {
                errln!(
                    "Wrote a kubeconfig with {} context(s) to {} (contexts: {}).",
                    entries.len(),
                    path.display(),
                    entries
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
    Ok(0)
}

/// Writes `text` to `path` with mode 0600 (also when the file existed).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}
