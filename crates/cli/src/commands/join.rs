//! `fedstack join` / `fedstack unjoin`: a kubefed-compatible join of clusters that no
//! stack manages, from two kubeconfigs (what `kubefedctl join` / `unjoin` do).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use fedstack_kube::federation::{self, Cluster};
use fedstack_kube::{client_from_kubeconfig, Join, KubeError};
use fedstack_provider::Progress;

use crate::args::JoinArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::terminal::{errln, outln};

fn kube_err(e: KubeError) -> CliError {
    CliError::new(e.to_string())
}

/// Progress lines on stderr (`join: waiting for ...`); none with `--json`.
struct StderrProgress {
    quiet: bool,
    prefix: &'static str,
}

impl Progress for StderrProgress {
    fn status(&self, message: &str) {
        if !self.quiet {
            errln!("{}: {message}", self.prefix);
        }
    }
}

/// Both clusters and the join the arguments describe.
async fn resolve(a: &JoinArgs) -> Result<(Cluster, Cluster, Join), CliError> {
    let (host, host_target) = client_from_kubeconfig(&a.host_kubeconfig, a.host_context.as_deref())
        .await
        .map_err(kube_err)?;
    let (member, member_target) =
        client_from_kubeconfig(&a.member_kubeconfig, a.member_context.as_deref())
            .await
            .map_err(kube_err)?;
    let host_name = a
        .host_name
        .clone()
        .unwrap_or_else(|| host_target.context.clone());
    let join = Join {
        member: a.name.clone(),
        host: host_name.clone(),
        namespace: a.namespace.clone(),
        api_endpoint: member_target.server.clone(),
        ca_bundle: member_target.ca_pem.as_ref().map(|pem| B64.encode(pem)),
    };
    join.check().map_err(|e| {
        let err = kube_err(e);
        if a.host_name.is_none() && fedstack_kube::objects::check_name("", &host_name).is_err() {
            err.hint("name the host with --host-name")
        } else {
            err
        }
    })?;
    Ok((
        Cluster {
            name: host_name,
            client: host,
        },
        Cluster {
            name: a.name.clone(),
            client: member,
        },
        join,
    ))
}

pub fn run_join(ctx: &Context, a: JoinArgs) -> Result<u8, CliError> {
    let progress = StderrProgress {
        quiet: ctx.json,
        prefix: "join",
    };
    super::runtime()?.block_on(async {
        let (host, member, j) = resolve(&a).await?;
        federation::ensure_host(&host, &j.namespace, None, &progress)
            .await
            .map_err(kube_err)?;
        let m = federation::join(&host, &member, &j, &progress)
            .await
            .map_err(kube_err)?;
        if !m.problems.is_empty() {
            return Err(CliError::new(format!(
                "joined {} to {}, but: {}",
                j.member,
                j.host,
                m.credentials()
            )));
        }
        let n = j.names();
        if ctx.json {
            outln!(
                "{}",
                serde_json::json!({
                    "v": 1, "type": "joined", "member": j.member, "host": j.host,
                    "namespace": j.namespace, "api_endpoint": j.api_endpoint,
                    "service_account": n.service_account, "host_secret": n.host_secret,
                    "scope": m.scope.as_str(),
                })
            )?;
        } else {
            outln!(
                "Joined {} to kubefed host {}: KubeFedCluster {}/{} -> {} (ServiceAccount {}, scope {}).",
                j.member,
                j.host,
                j.namespace,
                n.kubefed_cluster,
                j.api_endpoint,
                n.service_account,
                m.scope.as_str()
            )?;
        }
        Ok(0)
    })
}

pub fn run_unjoin(ctx: &Context, a: JoinArgs) -> Result<u8, CliError> {
    let progress = StderrProgress {
        quiet: ctx.json,
        prefix: "unjoin",
    };
    super::runtime()?.block_on(async {
        let (host, member, j) = resolve(&a).await?;
        federation::unjoin(Some(&host), Some(&member), &j, &progress)
            .await
            .map_err(kube_err)?;
        if ctx.json {
            outln!(
                "{}",
                serde_json::json!({"v": 1, "type": "unjoined", "member": j.member, "host": j.host, "namespace": j.namespace})
            )?;
        } else {
            outln!("Unjoined {} from kubefed host {}.", j.member, j.host)?;
        }
        Ok(0)
    })
}
