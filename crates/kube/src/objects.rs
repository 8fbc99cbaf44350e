//! The objects of a kubefed-compatible federation, built as JSON (pure: no I/O).
//!
//! Names follow kubefed so that `kubefedctl` and fedstack see the same objects, with one
//! deterministic change: the host's copy of the token is the Secret
//! `<member>-<host>-credentials` (kubefed picks `<member>-` plus a random suffix). A
//! deterministic name lets a re-run after a crash find it; it cannot be `<member>-<host>`
//! because, when the host joins itself, that is the member's own token Secret in the
//! same namespace of the same cluster.

use serde_json::{json, Value};

use crate::errors::{KubeError, Result};

/// The namespace of kubefed when none is given.
pub const DEFAULT_NAMESPACE: &str = "kube-federation-system";
/// The field manager of fedstack's server-side applies.
pub const FIELD_MANAGER: &str = "fedstack";
/// Marks every object fedstack makes.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "fedstack";
/// On the member's ServiceAccount (and the other join objects): the host it joined.
pub const HOST_LABEL: &str = "fedstack.io/federation-host";
/// On the join objects: the member cluster's name.
pub const MEMBER_LABEL: &str = "fedstack.io/federation-member";
/// `core.kubefed.io/v1beta1`.
pub const KUBEFED_GROUP: &str = "core.kubefed.io";
pub const KUBEFED_VERSION: &str = "v1beta1";
/// The name of the `KubeFedConfig` kubefed reads.
pub const KUBEFED_CONFIG_NAME: &str = "kubefed";
/// The `credentials` value of a join whose objects all agree.
pub const IN_SYNC: &str = "in sync";

/// Where kubefed's controller may act: the whole member cluster, or only its namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Cluster,
    Namespaced,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Cluster => "Cluster",
            Scope::Namespaced => "Namespaced",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "Cluster" => Some(Scope::Cluster),
            "Namespaced" => Some(Scope::Namespaced),
            _ => None,
        }
    }
}

/// Checks that `name` can name Kubernetes objects and label values: 1-63 of `a-z 0-9 -`,
/// starting and ending with a letter or digit.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(KubeError::Invalid(format!(
            "{what} `{name}` cannot name Kubernetes objects: use 1-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit"
        )))
    }
}

/// One member joined to one host: who, and what to write in the host's `KubeFedCluster`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    /// The member cluster's name (`KubeFedCluster` name, first half of the SA name).
    pub member: String,
    /// The host cluster's name (second half of the SA name).
    pub host: String,
    /// The federation namespace, the same on host and member.
    pub namespace: String,
    /// The member's API server URL as the host's controller should reach it.
    pub api_endpoint: String,
    /// The member's CA bundle, base64 of PEM (`KubeFedCluster.spec.caBundle`). `None`:
    /// take `ca.crt` of the member's token Secret.
    pub ca_bundle: Option<String>,
}

impl Join {
    /// Checks the names.
    pub fn check(&self) -> Result<()> {
        check_name("member cluster name", &self.member)?;
        check_name("host cluster name", &self.host)?;
        check_name("federation namespace", &self.namespace)?;
        if self.api_endpoint.trim().is_empty() {
            return Err(KubeError::Invalid(format!(
                "member `{}` has no API endpoint",
                self.member
            )));
        }
        Ok(())
    }

    pub fn names(&self) -> JoinNames {
        JoinNames::new(&self.member, &self.host, &self.namespace)
    }
}

/// The names of every object of one join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinNames {
    pub namespace: String,
    /// `<member>-<host>`, in the member.
    pub service_account: String,
    /// `<member>-<host>`, type `kubernetes.io/service-account-token`, in the member.
    pub token_secret: String,
    /// `kubefed-controller-manager:<member>-<host>`: ClusterRole + binding (Cluster scope)
    /// or Role + binding in the namespace (Namespaced scope), in the member.
    pub role: String,
    /// `kubefed-controller-manager:<namespace>:healthcheck-<member>-<host>` (Namespaced scope).
    pub health_role: String,
    /// `<member>-<host>-credentials`, in the host: the token.
    pub host_secret: String,
    /// `<member>`, in the host.
    pub kubefed_cluster: String,
}

impl JoinNames {
    pub fn new(member: &str, host: &str, namespace: &str) -> JoinNames {
        let sa = format!("{member}-{host}");
        JoinNames {
            namespace: namespace.to_string(),
            role: format!("kubefed-controller-manager:{sa}"),
            health_role: format!("kubefed-controller-manager:{namespace}:healthcheck-{sa}"),
            host_secret: format!("{sa}-credentials"),
            token_secret: sa.clone(),
            service_account: sa,
            kubefed_cluster: member.to_string(),
        }
    }
}

fn labels(join: Option<(&str, &str)>) -> Value {
    let mut l = serde_json::Map::new();
    l.insert(MANAGED_BY_LABEL.into(), json!(MANAGED_BY));
    if let Some((member, host)) = join {
        l.insert(MEMBER_LABEL.into(), json!(member));
        l.insert(HOST_LABEL.into(), json!(host));
    }
    Value::Object(l)
}

fn join_labels(j: &Join) -> Value {
    labels(Some((&j.member, &j.host)))
}

/// Whether an object's labels say fedstack made it.
pub fn is_managed(labels: Option<&std::collections::BTreeMap<String, String>>) -> bool {
    labels
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .is_some_and(|v| v == MANAGED_BY)
}

pub fn namespace(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels(None)},
    })
}

pub fn service_account(j: &Join) -> Value {
    let n = j.names();
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": n.service_account, "namespace": j.namespace, "labels": join_labels(j)},
        "automountServiceAccountToken": false,
    })
}

/// The member's token Secret: the token controller fills `data.token` and `data.ca.crt`.
pub fn token_secret(j: &Join) -> Value {
    let n = j.names();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": {
            "name": n.token_secret,
            "namespace": j.namespace,
            "labels": join_labels(j),
            "annotations": {"kubernetes.io/service-account.name": n.service_account},
        },
    })
}

fn role_ref(kind: &str, name: &str) -> Value {
    json!({"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name})
}

fn sa_subject(j: &Join) -> Value {
    json!([{"kind": "ServiceAccount", "name": j.names().service_account, "namespace": j.namespace}])
}

/// The RBAC objects of the member for `scope`, in apply order (roles before bindings).
pub fn rbac(j: &Join, scope: Scope) -> Vec<Value> {
    let n = j.names();
    let all = json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]});
    match scope {
        Scope::Cluster => vec![
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": n.role, "labels": join_labels(j)},
                "rules": [all, {"nonResourceURLs": ["*"], "verbs": ["get"]}],
            }),
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": n.role, "labels": join_labels(j)},
                "roleRef": role_ref("ClusterRole", &n.role),
                "subjects": sa_subject(j),
            }),
        ],
        Scope::Namespaced => vec![
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": n.role, "namespace": j.namespace, "labels": join_labels(j)},
                "rules": [all],
            }),
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": n.role, "namespace": j.namespace, "labels": join_labels(j)},
                "roleRef": role_ref("Role", &n.role),
                "subjects": sa_subject(j),
            }),
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": n.health_role, "labels": join_labels(j)},
                // kubefed wrote the verb `Get`, which RBAC never matches.
                "rules": [
                    {"nonResourceURLs": ["/healthz"], "verbs": ["get"]},
                    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]},
                ],
            }),
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": n.health_role, "labels": join_labels(j)},
                "roleRef": role_ref("ClusterRole", &n.health_role),
                "subjects": sa_subject(j),
            }),
        ],
    }
}

/// The host's copy of the token. `token_b64` is the token, base64 (as Secret data is):
/// the returned value holds a secret.
pub fn host_secret(j: &Join, token_b64: &str) -> Value {
    let n = j.names();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": n.host_secret, "namespace": j.namespace, "labels": join_labels(j)},
        "data": {"token": token_b64},
    })
}

/// The host's `KubeFedCluster` for the member.
pub fn kubefed_cluster(j: &Join, ca_bundle: &str) -> Value {
    let n = j.names();
    json!({
        "apiVersion": format!("{KUBEFED_GROUP}/{KUBEFED_VERSION}"),
        "kind": "KubeFedCluster",
        "metadata": {"name": n.kubefed_cluster, "namespace": j.namespace, "labels": join_labels(j)},
        "spec": {
            "apiEndpoint": j.api_endpoint,
            "caBundle": ca_bundle,
            "secretRef": {"name": n.host_secret},
        },
    })
}

/// The host's `KubeFedConfig` `kubefed`.
pub fn kubefed_config(namespace: &str, scope: Scope) -> Value {
    json!({
        "apiVersion": format!("{KUBEFED_GROUP}/{KUBEFED_VERSION}"),
        "kind": "KubeFedConfig",
        "metadata": {"name": KUBEFED_CONFIG_NAME, "namespace": namespace, "labels": labels(None)},
        "spec": {"scope": scope.as_str()},
    })
}

/// The CRDs fedstack installs on a host when they are missing: `KubeFedCluster` and
/// `KubeFedConfig`, with minimal structural schemas (the fields kubefed's join writes and
/// its controller reads; the rest of a real kubefed's `KubeFedConfig.spec` is kept as is).
pub fn crds() -> Vec<Value> {
    let crd = |kind: &str, plural: &str, short: &str, version: Value| {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.{KUBEFED_GROUP}"), "labels": labels(None)},
            "spec": {
                "group": KUBEFED_GROUP,
                "scope": "Namespaced",
                "names": {
                    "kind": kind,
                    "listKind": format!("{kind}List"),
                    "plural": plural,
                    "singular": kind.to_ascii_lowercase(),
                    "shortNames": [short],
                },
                "versions": [version],
            },
        })
    };
    let status = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    vec![
        crd(
            "KubeFedCluster",
            "kubefedclusters",
            "kfc",
            json!({
                "name": KUBEFED_VERSION,
                "served": true,
                "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Ready')].status"},
                    {"name": "API-Endpoint", "type": "string", "jsonPath": ".spec.apiEndpoint", "priority": 1},
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "KubeFedCluster configures KubeFed to be aware of a Kubernetes cluster and how to talk to it.",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["apiEndpoint", "secretRef"],
                            "properties": {
                                "apiEndpoint": {"type": "string", "description": "The API endpoint of the member cluster (https://host:port)."},
                                "caBundle": {"type": "string", "format": "byte", "description": "PEM CA bundle of the member's API server, base64."},
                                "secretRef": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {"name": {"type": "string"}},
                                },
                                "disabledTLSValidations": {"type": "array", "items": {"type": "string", "enum": ["*", "SubjectName", "ValidityPeriod"]}},
                                "proxyURL": {"type": "string"},
                            },
                        },
                        "status": status,
                    },
                }},
            }),
        ),
        crd(
            "KubeFedConfig",
            "kubefedconfigs",
            "kfcfg",
            json!({
                "name": KUBEFED_VERSION,
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "KubeFedConfig holds the settings of a KubeFed control plane.",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["scope"],
                            "x-kubernetes-preserve-unknown-fields": true,
                            "properties": {
                                "scope": {"type": "string", "enum": ["Cluster", "Namespaced"]},
                            },
                        },
                        "status": status,
                    },
                }},
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join() -> Join {
        Join {
            member: "local-b".into(),
            host: "local-a".into(),
            namespace: DEFAULT_NAMESPACE.into(),
            api_endpoint: "https://127.0.0.1:20001".into(),
            ca_bundle: Some("Q0E=".into()),
        }
    }

    #[test]
    fn names_follow_kubefed() {
        let n = join().names();
        assert_eq!(n.service_account, "local-b-local-a");
        assert_eq!(n.token_secret, "local-b-local-a");
        assert_eq!(n.role, "kubefed-controller-manager:local-b-local-a");
        assert_eq!(
            n.health_role,
            "kubefed-controller-manager:kube-federation-system:healthcheck-local-b-local-a"
        );
        assert_eq!(n.host_secret, "local-b-local-a-credentials");
        assert_eq!(n.kubefed_cluster, "local-b");
        // The host joining itself: its token Secret and the host's copy never collide.
        let own = JoinNames::new("a", "a", DEFAULT_NAMESPACE);
        assert_ne!(own.token_secret, own.host_secret);
    }

    #[test]
    fn member_objects() {
        let j = join();
        let sa = service_account(&j);
        assert_eq!(sa["automountServiceAccountToken"], false);
        assert_eq!(sa["metadata"]["labels"][HOST_LABEL], "local-a");
        assert_eq!(sa["metadata"]["labels"][MEMBER_LABEL], "local-b");
        assert_eq!(sa["metadata"]["labels"][MANAGED_BY_LABEL], "fedstack");
        let s = token_secret(&j);
        assert_eq!(s["type"], "kubernetes.io/service-account-token");
        assert_eq!(
            s["metadata"]["annotations"]["kubernetes.io/service-account.name"],
            "local-b-local-a"
        );
        assert!(s.get("data").is_none());
    }

    #[test]
    fn rbac_per_scope() {
        let j = join();
        let cluster = rbac(&j, Scope::Cluster);
        let kinds: Vec<&str> = cluster
            .iter()
            .map(|o| o["kind"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(kinds, ["ClusterRole", "ClusterRoleBinding"]);
        assert_eq!(
            cluster[0]["rules"],
            json!([
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["get"]},
            ])
        );
        assert_eq!(
            cluster[1]["roleRef"]["name"],
            "kubefed-controller-manager:local-b-local-a"
        );
        assert_eq!(
            cluster[1]["subjects"],
            json!([{"kind": "ServiceAccount", "name": "local-b-local-a", "namespace": "kube-federation-system"}])
        );
        let ns = rbac(&j, Scope::Namespaced);
        let kinds: Vec<&str> = ns
            .iter()
            .map(|o| o["kind"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            kinds,
            ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"]
        );
        assert_eq!(ns[0]["metadata"]["namespace"], "kube-federation-system");
        assert_eq!(ns[2]["rules"][0]["verbs"], json!(["get"]));
    }

    #[test]
    fn host_objects() {
        let j = join();
        let kfc = kubefed_cluster(&j, "Q0E=");
        assert_eq!(kfc["apiVersion"], "core.kubefed.io/v1beta1");
        assert_eq!(kfc["metadata"]["name"], "local-b");
        assert_eq!(
            kfc["spec"],
            json!({"apiEndpoint": "https://127.0.0.1:20001", "caBundle": "Q0E=", "secretRef": {"name": "local-b-local-a-credentials"}})
        );
        let s = host_secret(&j, "dG9r");
        assert_eq!(s["data"]["token"], "dG9r");
        assert_eq!(s["metadata"]["name"], "local-b-local-a-credentials");
        assert_eq!(
            kubefed_config("ns", Scope::Namespaced)["spec"]["scope"],
            "Namespaced"
        );
        let crds = crds();
        assert_eq!(
            crds[0]["metadata"]["name"],
            "kubefedclusters.core.kubefed.io"
        );
        assert_eq!(
            crds[1]["metadata"]["name"],
            "kubefedconfigs.core.kubefed.io"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("x", "local-a").is_ok());
        for bad in [
            "",
            "Local",
            "a_b",
            "-a",
            "a-",
            "admin@kind",
            &"a".repeat(64),
        ] {
            let e = check_name("host cluster name", bad).expect_err(bad);
            assert!(e.to_string().starts_with("host cluster name `"), "{e}");
        }
        let mut j = join();
        j.host = "kind-Foo".into();
        assert!(j.check().is_err());
    }
}
