//! A kubefed-compatible federation on real API servers: host setup, join, unjoin, and
//! reads that notice drift. Every step is idempotent, so a re-run after a half-done join
//! (a crash, a killed process) converges; nothing is ever taken over from someone else.
//!
//! Host setup ([`ensure_host`]): namespace `N`, the `KubeFedCluster` and `KubeFedConfig`
//! CRDs, and `KubeFedConfig` `kubefed` with the scope -- each created only when missing, so
//! a real kubefed installation is never overwritten.
//!
//! Join ([`join`], member `M` into host `H`): read the host's scope; refuse when `M` is
//! joined to another host or an object in the way is not fedstack's; then in the member
//! namespace `N`, ServiceAccount `M-H`, its token Secret `M-H`, the RBAC of the scope
//! (server-side applied, which also repairs edits), a bounded wait for the token; then in
//! the host Secret `M-H-credentials` with the token and `KubeFedCluster` `M`.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use fedstack_provider::Progress;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use kube::Client;
use serde_json::Value;

use crate::errors::{KubeError, Result};
use crate::objects::{
    self, crds, is_managed, kubefed_cluster, kubefed_config, rbac, Join, JoinNames, Scope,
    FIELD_MANAGER, HOST_LABEL, IN_SYNC, KUBEFED_CONFIG_NAME, MEMBER_LABEL,
};

/// How long the token controller gets to fill a token Secret (kubefed: 30 s).
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long new CRDs get to become established.
const CRD_TIMEOUT: Duration = Duration::from_secs(30);

/// A cluster as the federation code talks to it: a name for messages and a client.
#[derive(Clone)]
pub struct Cluster {
    pub name: String,
    pub client: Client,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cluster({})", self.name)
    }
}

/// What a host's federation setup looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostObserved {
    pub namespace_uid: String,
    pub scope: Scope,
}

/// What a join looks like, read from both clusters.
#[derive(Clone, PartialEq, Eq)]
pub struct MemberObserved {
    pub names: JoinNames,
    pub scope: Scope,
    /// `KubeFedCluster.spec.apiEndpoint` on the host (`None`: no KubeFedCluster).
    pub api_endpoint: Option<String>,
    /// `KubeFedCluster.spec.caBundle` on the host, base64 of PEM.
    pub ca_bundle: Option<String>,
    /// What is missing or disagrees; empty when the join is whole.
    pub problems: Vec<String>,
    /// The member's current token (a secret).
    pub token: Option<String>,
}

impl MemberObserved {
    /// [`IN_SYNC`], or the problems in one line.
    pub fn credentials(&self) -> String {
        if self.problems.is_empty() {
            IN_SYNC.to_string()
        } else {
            self.problems.join("; ")
        }
    }
}

impl std::fmt::Debug for MemberObserved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberObserved")
            .field("names", &self.names)
            .field("scope", &self.scope)
            .field("api_endpoint", &self.api_endpoint)
            .field("problems", &self.problems)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

// ----- object kinds -------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Kind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
}

const NAMESPACE: Kind = Kind {
    group: "",
    version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    namespaced: false,
};
const SERVICE_ACCOUNT: Kind = Kind {
    group: "",
    version: "v1",
    kind: "ServiceAccount",
    plural: "serviceaccounts",
    namespaced: true,
};
const SECRET: Kind = Kind {
    group: "",
    version: "v1",
    kind: "Secret",
    plural: "secrets",
    namespaced: true,
};
const CLUSTER_ROLE: Kind = Kind {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRole",
    plural: "clusterroles",
    namespaced: false,
};
const CLUSTER_ROLE_BINDING: Kind = Kind {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRoleBinding",
    plural: "clusterrolebindings",
    namespaced: false,
};
const ROLE: Kind = Kind {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "Role",
    plural: "roles",
    namespaced: true,
};
const ROLE_BINDING: Kind = Kind {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "RoleBinding",
    plural: "rolebindings",
    namespaced: true,
};
const CRD: Kind = Kind {
    group: "apiextensions.k8s.io",
    version: "v1",
    kind: "CustomResourceDefinition",
    plural: "customresourcedefinitions",
    namespaced: false,
};
const KUBEFED_CLUSTER: Kind = Kind {
    group: objects::KUBEFED_GROUP,
    version: objects::KUBEFED_VERSION,
    kind: "KubeFedCluster",
    plural: "kubefedclusters",
    namespaced: true,
};
const KUBEFED_CONFIG: Kind = Kind {
    group: objects::KUBEFED_GROUP,
    version: objects::KUBEFED_VERSION,
    kind: "KubeFedConfig",
    plural: "kubefedconfigs",
    namespaced: true,
};

const ALL_KINDS: [Kind; 10] = [
    NAMESPACE,
    SERVICE_ACCOUNT,
    SECRET,
    CLUSTER_ROLE,
    CLUSTER_ROLE_BINDING,
    ROLE,
    ROLE_BINDING,
    CRD,
    KUBEFED_CLUSTER,
    KUBEFED_CONFIG,
];

impl Kind {
    fn of(body: &Value) -> Result<Kind> {
        let kind = body["kind"].as_str().unwrap_or_default();
        ALL_KINDS
            .into_iter()
            .find(|k| k.kind == kind)
            .ok_or_else(|| KubeError::Invalid(format!("fedstack does not handle kind `{kind}`")))
    }

    fn api(self, cluster: &Cluster, namespace: &str) -> Api<DynamicObject> {
        let gvk = GroupVersionKind::gvk(self.group, self.version, self.kind);
        let ar = ApiResource::from_gvk_with_plural(&gvk, self.plural);
        if self.namespaced {
            Api::namespaced_with(cluster.client.clone(), namespace, &ar)
        } else {
            Api::all_with(cluster.client.clone(), &ar)
        }
    }

    fn describe(self, cluster: &Cluster, namespace: &str, name: &str) -> String {
        if self.namespaced {
            format!("{} {namespace}/{name} in {}", self.kind, cluster.name)
        } else {
            format!("{} {name} in {}", self.kind, cluster.name)
        }
    }
}

// ----- generic calls ------------------------------------------------------------------

/// The object, or `None` when it (or its whole kind: a CRD not installed) does not exist.
async fn get(cluster: &Cluster, kind: Kind, ns: &str, name: &str) -> Result<Option<DynamicObject>> {
    match kind.api(cluster, ns).get(name).await {
        Ok(o) => Ok(Some(o)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(KubeError::from_kube(
            format!("get {}", kind.describe(cluster, ns, name)),
            e,
        )),
    }
}

fn name_of(body: &Value) -> &str {
    body["metadata"]["name"].as_str().unwrap_or_default()
}

fn namespace_of(body: &Value) -> &str {
    body["metadata"]["namespace"].as_str().unwrap_or_default()
}

/// Server-side apply with force: fedstack owns the fields it sets (and takes them back
/// after an edit); fields others set (a token controller's `data`) stay.
async fn apply(cluster: &Cluster, body: &Value) -> Result<DynamicObject> {
    let kind = Kind::of(body)?;
    let (ns, name) = (namespace_of(body), name_of(body));
    kind.api(cluster, ns)
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(body),
        )
        .await
        .map_err(|e| KubeError::from_kube(format!("apply {}", kind.describe(cluster, ns, name)), e))
}

/// Creates `body` unless an object of that name exists; returns the object either way.
async fn create_if_missing(cluster: &Cluster, body: &Value) -> Result<DynamicObject> {
    let kind = Kind::of(body)?;
    let (ns, name) = (namespace_of(body), name_of(body));
    if let Some(o) = get(cluster, kind, ns, name).await? {
        return Ok(o);
    }
    let obj: DynamicObject = serde_json::from_value(body.clone())
        .map_err(|e| KubeError::Invalid(format!("{}: {e}", kind.describe(cluster, ns, name))))?;
    match kind
        .api(cluster, ns)
        .create(&PostParams::default(), &obj)
        .await
    {
        Ok(o) => Ok(o),
        Err(kube::Error::Api(s)) if s.code == 409 && s.reason == "AlreadyExists" => {
            get(cluster, kind, ns, name)
                .await?
                .ok_or_else(|| KubeError::Api {
                    context: format!("create {}", kind.describe(cluster, ns, name)),
                    code: 409,
                    reason: "Conflict".into(),
                    message: "it was created and deleted meanwhile".into(),
                })
        }
        Err(e) => Err(KubeError::from_kube(
            format!("create {}", kind.describe(cluster, ns, name)),
            e,
        )),
    }
}

/// Deletes the object; `false` when it was already gone.
async fn delete(cluster: &Cluster, kind: Kind, ns: &str, name: &str) -> Result<bool> {
    match kind
        .api(cluster, ns)
        .delete(name, &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(KubeError::from_kube(
            format!("delete {}", kind.describe(cluster, ns, name)),
            e,
        )),
    }
}

fn label<'a>(o: &'a DynamicObject, key: &str) -> Option<&'a str> {
    o.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
}

fn managed(o: &DynamicObject) -> bool {
    is_managed(o.metadata.labels.as_ref())
}

/// Whether `o` is fedstack's object of the join `j`.
fn owned_by_join(o: &DynamicObject, j: &Join) -> bool {
    managed(o)
        && label(o, MEMBER_LABEL) == Some(j.member.as_str())
        && label(o, HOST_LABEL) == Some(j.host.as_str())
}

fn str_at<'a>(o: &'a DynamicObject, path: &[&str]) -> Option<&'a str> {
    let mut v = &o.data;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str()
}

// ----- host ---------------------------------------------------------------------------

/// How long a namespace being deleted (a recent unjoin) gets to go away before it is made
/// again.
const NAMESPACE_TERMINATING_TIMEOUT: Duration = Duration::from_secs(60);

/// Makes `namespace` exist (created with fedstack's label when missing). One still being
/// deleted is waited for, then made again; still there after a minute is a retryable error.
async fn ensure_namespace(
    cluster: &Cluster,
    namespace: &str,
    progress: &dyn Progress,
) -> Result<DynamicObject> {
    let started = Instant::now();
    let mut reported = false;
    loop {
        let ns = create_if_missing(cluster, &objects::namespace(namespace)).await?;
        if ns.metadata.deletion_timestamp.is_none() {
            return Ok(ns);
        }
        if started.elapsed() > NAMESPACE_TERMINATING_TIMEOUT {
            return Err(KubeError::Api {
                context: format!("namespace {namespace} in {}", cluster.name),
                code: 409,
                reason: "NamespaceTerminating".into(),
                message: format!(
                    "it is still being deleted after {}s (is kube-controller-manager running its namespace controller?)",
                    NAMESPACE_TERMINATING_TIMEOUT.as_secs()
                ),
            });
        }
        if !reported {
            progress.status(&format!(
                "waiting for namespace {namespace} in {} to finish terminating",
                cluster.name
            ));
            reported = true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The scope in the host's `KubeFedConfig` `kubefed` (`Cluster` when there is none).
async fn host_scope(host: &Cluster, namespace: &str) -> Result<Scope> {
    let Some(cfg) = get(host, KUBEFED_CONFIG, namespace, KUBEFED_CONFIG_NAME).await? else {
        return Ok(Scope::Cluster);
    };
    match str_at(&cfg, &["spec", "scope"]) {
        None => Ok(Scope::Cluster),
        Some(s) => Scope::parse(s).ok_or_else(|| {
            KubeError::Invalid(format!(
                "{} has scope `{s}`; kubefed knows Cluster and Namespaced",
                KUBEFED_CONFIG.describe(host, namespace, KUBEFED_CONFIG_NAME)
            ))
        }),
    }
}

/// Sets up the federation control plane's API objects on the host (see the module docs).
/// `scope`: the one the `KubeFedConfig` must have (changed when it is fedstack's);
/// `None`: keep the one there is, `Cluster` for a new one.
pub async fn ensure_host(
    host: &Cluster,
    namespace: &str,
    scope: Option<Scope>,
    progress: &dyn Progress,
) -> Result<HostObserved> {
    objects::check_name("federation namespace", namespace)?;
    ensure_namespace(host, namespace, progress).await?;
    for crd in crds() {
        create_if_missing(host, &crd).await?;
    }
    wait_established(host, progress).await?;
    let cfg = create_if_missing(
        host,
        &kubefed_config(namespace, scope.unwrap_or(Scope::Cluster)),
    )
    .await?;
    let found = str_at(&cfg, &["spec", "scope"]).and_then(Scope::parse);
    if let Some(scope) = scope.filter(|s| found != Some(*s)) {
        if !managed(&cfg) {
            return Err(KubeError::Conflict(format!(
                "{} has scope {}, not {}, and was not made by fedstack; change the stack's federation scope or the KubeFedConfig",
                KUBEFED_CONFIG.describe(host, namespace, KUBEFED_CONFIG_NAME),
                found.map_or("(none)", Scope::as_str),
                scope.as_str()
            )));
        }
        apply(host, &kubefed_config(namespace, scope)).await?;
    }
    read_host(host, namespace)
        .await?
        .ok_or_else(|| KubeError::Api {
            context: format!("federation namespace {namespace} in {}", host.name),
            code: 409,
            reason: "Conflict".into(),
            message: "it went away while being set up".into(),
        })
}

async fn wait_established(host: &Cluster, progress: &dyn Progress) -> Result<()> {
    let deadline = Instant::now() + CRD_TIMEOUT;
    let mut reported = false;
    for crd in crds() {
        let name = name_of(&crd).to_string();
        loop {
            let established = get(host, CRD, "", &name).await?.is_some_and(|o| {
                o.data["status"]["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Established" && c["status"] == "True")
                })
            });
            if established {
                break;
            }
            if Instant::now() > deadline {
                return Err(KubeError::Timeout(format!(
                    "CustomResourceDefinition {name} in {} is not established after {}s",
                    host.name,
                    CRD_TIMEOUT.as_secs()
                )));
            }
            if !reported {
                progress.status("waiting for the kubefed CRDs to be established");
                reported = true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// The host's federation setup, or `None` when any part of it is missing.
pub async fn read_host(host: &Cluster, namespace: &str) -> Result<Option<HostObserved>> {
    let Some(ns) = get(host, NAMESPACE, "", namespace).await? else {
        return Ok(None);
    };
    if ns.metadata.deletion_timestamp.is_some() {
        return Ok(None);
    }
    for crd in crds() {
        if get(host, CRD, "", name_of(&crd)).await?.is_none() {
            return Ok(None);
        }
    }
    if get(host, KUBEFED_CONFIG, namespace, KUBEFED_CONFIG_NAME)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    Ok(Some(HostObserved {
        namespace_uid: ns.metadata.uid.clone().unwrap_or_default(),
        scope: host_scope(host, namespace).await?,
    }))
}

/// The names of the `KubeFedCluster`s in the host's namespace (none when the CRD is absent).
pub async fn list_members(host: &Cluster, namespace: &str) -> Result<Vec<String>> {
    match KUBEFED_CLUSTER
        .api(host, namespace)
        .list(&ListParams::default())
        .await
    {
        Ok(list) => {
            let mut names: Vec<String> = list
                .items
                .into_iter()
                .filter_map(|o| o.metadata.name)
                .collect();
            names.sort();
            Ok(names)
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Vec::new()),
        Err(e) => Err(KubeError::from_kube(
            format!("list KubeFedClusters in {namespace} of {}", host.name),
            e,
        )),
    }
}

/// Removes what [`ensure_host`] made (only objects carrying fedstack's label). Fails while
/// members are still joined.
pub async fn remove_host(host: &Cluster, namespace: &str, _progress: &dyn Progress) -> Result<()> {
    let members = list_members(host, namespace).await?;
    if !members.is_empty() {
        return Err(KubeError::Conflict(format!(
            "kubefed host {} still has member clusters joined ({}); unjoin them first",
            host.name,
            members.join(", ")
        )));
    }
    if let Some(cfg) = get(host, KUBEFED_CONFIG, namespace, KUBEFED_CONFIG_NAME).await? {
        if managed(&cfg) {
            delete(host, KUBEFED_CONFIG, namespace, KUBEFED_CONFIG_NAME).await?;
        }
    }
    for crd in crds() {
        let name = name_of(&crd);
        if let Some(o) = get(host, CRD, "", name).await? {
            if managed(&o) {
                delete(host, CRD, "", name).await?;
            }
        }
    }
    if let Some(ns) = get(host, NAMESPACE, "", namespace).await? {
        if managed(&ns) {
            delete(host, NAMESPACE, "", namespace).await?;
        }
    }
    Ok(())
}

// ----- join ---------------------------------------------------------------------------

/// Joins `j.member` (reached through `member`) to `j.host` (through `host`); see the
/// module docs. Returns the join as read back.
pub async fn join(
    host: &Cluster,
    member: &Cluster,
    j: &Join,
    progress: &dyn Progress,
) -> Result<MemberObserved> {
    j.check()?;
    let n = j.names();
    let ns = j.namespace.as_str();
    if get(host, CRD, "", "kubefedclusters.core.kubefed.io")
        .await?
        .is_none()
    {
        return Err(KubeError::Api {
            context: format!("join {} to {}", j.member, j.host),
            code: 404,
            reason: "NotFound".into(),
            message: format!(
                "the KubeFedCluster CRD is not installed on {} (set up the federation host first)",
                host.name
            ),
        });
    }
    let scope = host_scope(host, ns).await?;
    check_not_joined_elsewhere(member, j).await?;
    if let Some(sa) = get(member, SERVICE_ACCOUNT, ns, &n.service_account).await? {
        if !owned_by_join(&sa, j) {
            return Err(KubeError::Conflict(format!(
                "{} already exists and was not made by fedstack for this join; unjoin it with the tool that made it (kubefedctl unjoin) or delete it",
                SERVICE_ACCOUNT.describe(member, ns, &n.service_account)
            )));
        }
    }
    if let Some(kfc) = get(host, KUBEFED_CLUSTER, ns, &n.kubefed_cluster).await? {
        if !managed(&kfc) {
            return Err(KubeError::Conflict(format!(
                "{} already exists and was not made by fedstack; unjoin it with the tool that made it (kubefedctl unjoin) or delete it",
                KUBEFED_CLUSTER.describe(host, ns, &n.kubefed_cluster)
            )));
        }
    }

    ensure_namespace(member, ns, progress).await?;
    apply(member, &objects::service_account(j)).await?;
    ensure_token_secret(member, j).await?;
    for obj in rbac(j, scope) {
        apply(member, &obj).await?;
    }
    let (token_b64, ca_crt_b64) = wait_token(member, j, progress).await?;

    apply(host, &objects::host_secret(j, &token_b64)).await?;
    let ca_bundle = match (&j.ca_bundle, ca_crt_b64) {
        (Some(ca), _) => ca.clone(),
        (None, Some(ca)) => ca,
        (None, None) => {
            return Err(KubeError::Invalid(format!(
                "no CA bundle for {}: the kubeconfig names none and the token Secret has no ca.crt",
                j.member
            )))
        }
    };
    apply(host, &kubefed_cluster(j, &ca_bundle)).await?;
    read_member(host, member, j)
        .await?
        .ok_or_else(|| KubeError::Api {
            context: format!("join {} to {}", j.member, j.host),
            code: 409,
            reason: "Conflict".into(),
            message: "its objects went away while it was being made".into(),
        })
}

/// Fails when fedstack joined `j.member` to another host (a ServiceAccount of fedstack's
/// for this member, labelled with another host).
async fn check_not_joined_elsewhere(member: &Cluster, j: &Join) -> Result<()> {
    let ns = j.namespace.as_str();
    let lp = ListParams::default().labels(&format!("{MEMBER_LABEL}={}", j.member));
    let list = SERVICE_ACCOUNT
        .api(member, ns)
        .list(&lp)
        .await
        .map_err(|e| {
            KubeError::from_kube(
                format!("list ServiceAccounts in {ns} of {}", member.name),
                e,
            )
        })?;
    for sa in list.items.iter().filter(|sa| managed(sa)) {
        if let Some(other) = label(sa, HOST_LABEL).filter(|h| *h != j.host) {
            return Err(KubeError::Conflict(format!(
                "cluster {} is already joined to kubefed host {other} ({}); unjoin it from {other} first",
                j.member,
                SERVICE_ACCOUNT.describe(member, ns, sa.metadata.name.as_deref().unwrap_or("?"))
            )));
        }
    }
    Ok(())
}

/// Creates the member's token Secret when missing; replaces one of fedstack's that is
/// not a token Secret of the join's ServiceAccount; refuses anyone else's.
async fn ensure_token_secret(member: &Cluster, j: &Join) -> Result<()> {
    let n = j.names();
    let ns = j.namespace.as_str();
    let body = objects::token_secret(j);
    match get(member, SECRET, ns, &n.token_secret).await? {
        None => {
            create_if_missing(member, &body).await?;
        }
        Some(s) => {
            let right_type = s.data["type"] == "kubernetes.io/service-account-token";
            let right_sa = s
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                == Some(&n.service_account);
            if !(right_type && right_sa) {
                if !owned_by_join(&s, j) {
                    return Err(KubeError::Conflict(format!(
                        "{} already exists, is not the token of ServiceAccount {} and was not made by fedstack; delete it",
                        SECRET.describe(member, ns, &n.token_secret),
                        n.service_account
                    )));
                }
                delete(member, SECRET, ns, &n.token_secret).await?;
                create_if_missing(member, &body).await?;
            }
        }
    }
    Ok(())
}

/// Waits until the token controller fills the token Secret; returns `data.token` and
/// `data.ca.crt` as stored (base64). Makes the Secret again if it disappears (the token
/// controller deletes token Secrets of a ServiceAccount that was recreated).
async fn wait_token(
    member: &Cluster,
    j: &Join,
    progress: &dyn Progress,
) -> Result<(String, Option<String>)> {
    let n = j.names();
    let ns = j.namespace.as_str();
    let started = Instant::now();
    let mut delay = Duration::from_millis(50);
    let mut reported = false;
    loop {
        match get(member, SECRET, ns, &n.token_secret).await? {
            None => {
                create_if_missing(member, &objects::token_secret(j)).await?;
            }
            Some(s) => {
                if let Some(token) = str_at(&s, &["data", "token"]).filter(|t| !t.is_empty()) {
                    let ca = str_at(&s, &["data", "ca.crt"])
                        .filter(|c| !c.is_empty())
                        .map(str::to_string);
                    return Ok((token.to_string(), ca));
                }
            }
        }
        if started.elapsed() > TOKEN_TIMEOUT {
            return Err(KubeError::Timeout(format!(
                "{} has no token after {}s (is kube-controller-manager running with its serviceaccount-token controller?)",
                SECRET.describe(member, ns, &n.token_secret),
                TOKEN_TIMEOUT.as_secs()
            )));
        }
        if !reported && started.elapsed() > Duration::from_millis(500) {
            progress.status(&format!(
                "waiting for the token controller to fill Secret {ns}/{}",
                n.token_secret
            ));
            reported = true;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

/// Reads the join from both clusters. `None` when none of its main objects exist
/// (member ServiceAccount, host Secret, host KubeFedCluster).
pub async fn read_member(
    host: &Cluster,
    member: &Cluster,
    j: &Join,
) -> Result<Option<MemberObserved>> {
    let n = j.names();
    let ns = j.namespace.as_str();
    let sa = get(member, SERVICE_ACCOUNT, ns, &n.service_account).await?;
    let host_secret = get(host, SECRET, ns, &n.host_secret).await?;
    let kfc = get(host, KUBEFED_CLUSTER, ns, &n.kubefed_cluster).await?;
    if sa.is_none() && host_secret.is_none() && kfc.is_none() {
        return Ok(None);
    }
    let scope = host_scope(host, ns).await?;
    let mut problems = Vec::new();
    match &sa {
        None => problems.push(format!(
            "{} is missing",
            SERVICE_ACCOUNT.describe(member, ns, &n.service_account)
        )),
        Some(sa) if !owned_by_join(sa, j) => problems.push(format!(
            "{} was not made by fedstack for this join",
            SERVICE_ACCOUNT.describe(member, ns, &n.service_account)
        )),
        Some(_) => {}
    }
    let member_secret = get(member, SECRET, ns, &n.token_secret).await?;
    let member_token = member_secret
        .as_ref()
        .and_then(|s| str_at(s, &["data", "token"]))
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    match (&member_secret, &member_token) {
        (None, _) => problems.push(format!(
            "token {} is missing",
            SECRET.describe(member, ns, &n.token_secret)
        )),
        (Some(_), None) => problems.push(format!(
            "token {} has no token",
            SECRET.describe(member, ns, &n.token_secret)
        )),
        _ => {}
    }
    for want in rbac(j, scope) {
        let kind = Kind::of(&want)?;
        let (wns, wname) = (namespace_of(&want), name_of(&want));
        match get(member, kind, wns, wname).await? {
            None => problems.push(format!("{} is missing", kind.describe(member, wns, wname))),
            Some(have) => {
                let fields: &[&str] = if want.get("rules").is_some() {
                    &["rules"]
                } else {
                    &["roleRef", "subjects"]
                };
                if fields.iter().any(|f| have.data.get(*f) != want.get(*f)) {
                    problems.push(format!("{} was changed", kind.describe(member, wns, wname)));
                }
            }
        }
    }
    let host_token = host_secret
        .as_ref()
        .and_then(|s| str_at(s, &["data", "token"]))
        .map(str::to_string);
    match (&host_secret, &host_token) {
        (None, _) => problems.push(format!(
            "{} is missing",
            SECRET.describe(host, ns, &n.host_secret)
        )),
        (Some(_), t) if member_token.is_some() && t != &member_token => problems.push(format!(
            "{} does not hold the member's current token",
            SECRET.describe(host, ns, &n.host_secret)
        )),
        _ => {}
    }
    let (api_endpoint, ca_bundle) = match &kfc {
        None => {
            problems.push(format!(
                "{} is missing",
                KUBEFED_CLUSTER.describe(host, ns, &n.kubefed_cluster)
            ));
            (None, None)
        }
        Some(kfc) => {
            let secret_ref = str_at(kfc, &["spec", "secretRef", "name"]);
            if secret_ref != Some(n.host_secret.as_str()) {
                problems.push(format!(
                    "{} points to Secret {}, not {}",
                    KUBEFED_CLUSTER.describe(host, ns, &n.kubefed_cluster),
                    secret_ref.unwrap_or("(none)"),
                    n.host_secret
                ));
            }
            (
                str_at(kfc, &["spec", "apiEndpoint"]).map(str::to_string),
                str_at(kfc, &["spec", "caBundle"]).map(str::to_string),
            )
        }
    };
    let token = match member_token {
        Some(t) => Some(
            B64.decode(t.as_bytes())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|_| {
                    KubeError::Invalid(format!(
                        "token {} is not base64",
                        SECRET.describe(member, ns, &n.token_secret)
                    ))
                })?,
        ),
        None => None,
    };
    Ok(Some(MemberObserved {
        names: n,
        scope,
        api_endpoint,
        ca_bundle,
        problems,
        token,
    }))
}

/// Undoes a join, objects that are already gone included. `member` or `host` may be
/// `None` when that cluster no longer exists (only the other side is cleaned). The
/// member's namespace is deleted only when it is fedstack's, is not the host's own (UIDs
/// differ) and holds no `KubeFedConfig` (the member is not itself a host).
pub async fn unjoin(
    host: Option<&Cluster>,
    member: Option<&Cluster>,
    j: &Join,
    progress: &dyn Progress,
) -> Result<()> {
    let n = j.names();
    let ns = j.namespace.as_str();
    if let Some(m) = member {
        progress.status(&format!("unjoining {} from {}", j.member, j.host));
        delete(m, CLUSTER_ROLE_BINDING, "", &n.role).await?;
        delete(m, CLUSTER_ROLE, "", &n.role).await?;
        delete(m, ROLE_BINDING, ns, &n.role).await?;
        delete(m, ROLE, ns, &n.role).await?;
        delete(m, CLUSTER_ROLE_BINDING, "", &n.health_role).await?;
        delete(m, CLUSTER_ROLE, "", &n.health_role).await?;
        delete(m, SECRET, ns, &n.token_secret).await?;
        delete(m, SERVICE_ACCOUNT, ns, &n.service_account).await?;
        if let Some(member_ns) = get(m, NAMESPACE, "", ns).await? {
            let host_uid = match host {
                Some(h) => get(h, NAMESPACE, "", ns)
                    .await?
                    .and_then(|o| o.metadata.uid),
                None => None,
            };
            let is_host = match (&host_uid, &member_ns.metadata.uid) {
                (Some(a), Some(b)) => a == b,
                // The host is gone: it was this cluster only if the names say so.
                _ => j.member == j.host,
            };
            let hosts_something = get(m, KUBEFED_CONFIG, ns, KUBEFED_CONFIG_NAME)
                .await?
                .is_some();
            if !is_host && !hosts_something && managed(&member_ns) {
                delete(m, NAMESPACE, "", ns).await?;
            }
        }
    }
    if let Some(h) = host {
        if let Some(kfc) = get(h, KUBEFED_CLUSTER, ns, &n.kubefed_cluster).await? {
            if let Some(secret_ref) =
                str_at(&kfc, &["spec", "secretRef", "name"]).filter(|r| *r != n.host_secret)
            {
                delete(h, SECRET, ns, secret_ref).await?;
            }
        }
        delete(h, SECRET, ns, &n.host_secret).await?;
        delete(h, KUBEFED_CLUSTER, ns, &n.kubefed_cluster).await?;
    }
    Ok(())
}
