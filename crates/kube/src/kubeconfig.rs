//! Kubeconfigs: rendering one for clusters fedstack knows ([`render_kubeconfig`]) and
//! reading the ones users hand to `fedstack join` ([`load_kubeconfig`]).
//!
//! A rendered kubeconfig has, per cluster `NAME`, a cluster `NAME`, a user `NAME-admin`
//! and a context `NAME` joining them; credentials are embedded as base64 data, so the
//! file stands alone. It is written as YAML (JSON-quoted strings, which YAML reads as
//! the same strings).

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use fedstack_provider::{ClusterAccess, ClusterCredentials};
use kube::config::Kubeconfig;
use serde_json::{json, Map, Value};

use crate::errors::{KubeError, Result};

/// The kubeconfig document for `entries` (cluster name, access), as JSON.
/// `current` becomes `current-context` (default: the first entry).
pub fn kubeconfig_document(entries: &[(String, ClusterAccess)], current: Option<&str>) -> Value {
    let mut clusters = Vec::new();
    let mut users = Vec::new();
    let mut contexts = Vec::new();
    for (name, access) in entries {
        let mut cluster = Map::new();
        cluster.insert("server".into(), json!(access.server));
        if let Some(ca) = &access.ca_pem {
            cluster.insert(
                "certificate-authority-data".into(),
                json!(B64.encode(ca.as_bytes())),
            );
        }
        clusters.push(json!({"name": name, "cluster": cluster}));
        let user_name = format!("{name}-admin");
        let user = match &access.credentials {
            ClusterCredentials::ClientCertificate { cert_pem, key_pem } => json!({
                "client-certificate-data": B64.encode(cert_pem.as_bytes()),
                "client-key-data": B64.encode(key_pem.as_bytes()),
            }),
            ClusterCredentials::BearerToken(token) => json!({ "token": token }),
        };
        users.push(json!({"name": user_name, "user": user}));
        contexts.push(json!({"name": name, "context": {"cluster": name, "user": user_name}}));
    }
    let mut doc = Map::new();
    doc.insert("apiVersion".into(), json!("v1"));
    doc.insert("kind".into(), json!("Config"));
    doc.insert("clusters".into(), Value::Array(clusters));
    doc.insert("users".into(), Value::Array(users));
    doc.insert("contexts".into(), Value::Array(contexts));
    let current = current
        .filter(|c| entries.iter().any(|(n, _)| n == c))
        .or_else(|| entries.first().map(|(n, _)| n.as_str()));
    if let Some(c) = current {
        doc.insert("current-context".into(), json!(c));
    }
    Value::Object(doc)
}

/// The kubeconfig for `entries` as YAML text.
pub fn render_kubeconfig(entries: &[(String, ClusterAccess)], current: Option<&str>) -> String {
    to_yaml(&kubeconfig_document(entries, current))
}

/// A kube-rs [`Kubeconfig`] for one cluster (for building a client).
pub(crate) fn kubeconfig_for(name: &str, access: &ClusterAccess) -> Result<Kubeconfig> {
    let doc = kubeconfig_document(&[(name.to_string(), access.clone())], Some(name));
    serde_json::from_value(doc)
        .map_err(|e| KubeError::Invalid(format!("cannot build a kubeconfig for {name}: {e}")))
}

/// Block-style YAML for a JSON value: mappings and sequences nested by indentation,
/// strings double-quoted with JSON escapes (a subset of YAML's double-quoted style).
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => yaml_map(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => yaml_seq(a, 0, &mut out),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        // serde_json never fails on a Value.
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && !k.starts_with(['-', '.']);
    if plain {
        k.to_string()
    } else {
        scalar(&Value::String(k.to_string()))
    }
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn yaml_map(m: &Map<String, Value>, indent: usize, out: &mut String) {
    for (k, v) in m {
        out.push_str(&" ".repeat(indent));
        out.push_str(&key(k));
        out.push(':');
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                yaml_map(inner, indent + 2, out);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                yaml_seq(items, indent, out);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn yaml_seq(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Value::Object(m) if !m.is_empty() => {
                // The first key goes on the dash's line, the rest under it.
                let mut first = true;
                for (k, v) in m {
                    let mut one = Map::new();
                    one.insert(k.clone(), v.clone());
                    let mut text = String::new();
                    yaml_map(&one, indent + 2, &mut text);
                    if first {
                        out.push(' ');
                        out.push_str(text.trim_start());
                        first = false;
                    } else {
                        out.push_str(&text);
                    }
                }
            }
            other if is_block(other) => {
                out.push('\n');
                if let Value::Array(inner) = other {
                    yaml_seq(inner, indent + 2, out);
                }
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

/// What a kubeconfig's chosen context points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeconfigTarget {
    /// The context used (`--context`, else `current-context`).
    pub context: String,
    /// The name of the context's cluster entry.
    pub cluster: String,
    /// The API server URL.
    pub server: String,
    /// The CA bundle (PEM) the kubeconfig trusts for this cluster, if it names one.
    pub ca_pem: Option<String>,
}

/// Reads `path` and resolves `context` (else its `current-context`).
pub fn load_kubeconfig(
    path: &Path,
    context: Option<&str>,
) -> Result<(Kubeconfig, KubeconfigTarget)> {
    let shown = path.display();
    if let Err(e) = std::fs::metadata(path) {
        return Err(KubeError::Invalid(format!(
            "cannot read kubeconfig {shown}: {}",
            match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                _ => e.to_string(),
            }
        )));
    }
    let kc = Kubeconfig::read_from(path)
        .map_err(|e| KubeError::Invalid(format!("cannot read kubeconfig {shown}: {e}")))?;
    let context_name = match context {
        Some(c) => c.to_string(),
        None => kc.current_context.clone().ok_or_else(|| {
            KubeError::Invalid(format!(
                "kubeconfig {shown} has no current-context; pass a context"
            ))
        })?,
    };
    let ctx = kc
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.as_ref())
        .ok_or_else(|| {
            let names: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
            KubeError::Invalid(format!(
                "kubeconfig {shown} has no context `{context_name}` (contexts: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ))
        })?;
    let cluster_name = ctx.cluster.clone();
    let cluster = kc
        .clusters
        .iter()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster.as_ref())
        .ok_or_else(|| {
            KubeError::Invalid(format!(
                "kubeconfig {shown}: context `{context_name}` names cluster `{cluster_name}`, which it does not define"
            ))
        })?;
    let server = cluster.server.clone().ok_or_else(|| {
        KubeError::Invalid(format!(
            "kubeconfig {shown}: cluster `{cluster_name}` has no server"
        ))
    })?;
    let ca_pem = match (
        &cluster.certificate_authority_data,
        &cluster.certificate_authority,
    ) {
        (Some(data), _) => {
            let bytes = B64.decode(data.trim()).map_err(|_| {
                KubeError::Invalid(format!(
                    "kubeconfig {shown}: certificate-authority-data of cluster `{cluster_name}` is not base64"
                ))
            })?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        (None, Some(file)) => {
            let file_path = Path::new(file);
            let file_path = if file_path.is_relative() {
                path.parent().unwrap_or(Path::new(".")).join(file_path)
            } else {
                file_path.to_path_buf()
            };
            Some(std::fs::read_to_string(&file_path).map_err(|e| {
                KubeError::Invalid(format!(
                    "kubeconfig {shown}: cannot read certificate-authority {}: {e}",
                    file_path.display()
                ))
            })?)
        }
        (None, None) => None,
    };
    Ok((
        kc,
        KubeconfigTarget {
            context: context_name,
            cluster: cluster_name,
            server,
            ca_pem,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(server: &str, token: bool) -> ClusterAccess {
        ClusterAccess {
            server: server.into(),
            ca_pem: Some("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into()),
            credentials: if token {
                ClusterCredentials::BearerToken("tok\"en".into())
            } else {
                ClusterCredentials::ClientCertificate {
                    cert_pem: "CERT".into(),
                    key_pem: "KEY".into(),
                }
            },
        }
    }

    #[test]
    fn renders_yaml_that_kube_reads_back() {
        let entries = vec![
            (
                "local-a".to_string(),
                access("https://127.0.0.1:6443", false),
            ),
            ("b".to_string(), access("https://10.0.0.1", true)),
        ];
        let text = render_kubeconfig(&entries, Some("b"));
        assert!(text.starts_with("apiVersion: \"v1\"\nkind: \"Config\"\nclusters:\n- name: \"local-a\"\n  cluster:\n    server: \"https://127.0.0.1:6443\"\n"), "{text}");
        let kc = Kubeconfig::from_yaml(&text).expect("parses");
        assert_eq!(kc.current_context.as_deref(), Some("b"));
        assert_eq!(kc.clusters.len(), 2);
        assert_eq!(kc.contexts[0].name, "local-a");
        let ctx = kc.contexts[0].context.as_ref().expect("context");
        assert_eq!(ctx.cluster, "local-a");
        assert_eq!(ctx.user.as_deref(), Some("local-a-admin"));
        let user = kc.auth_infos[0].auth_info.as_ref().expect("user");
        assert_eq!(
            user.client_certificate_data.as_deref(),
            Some(B64.encode("CERT").as_str())
        );
        let cluster = kc.clusters[1].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.server.as_deref(), Some("https://10.0.0.1"));
        let ca = B64
            .decode(cluster.certificate_authority_data.as_deref().unwrap_or(""))
            .expect("base64");
        assert!(String::from_utf8_lossy(&ca).contains("BEGIN CERTIFICATE"));
        // The token survives quoting.
        let doc: Value = serde_json::to_value(&kc).expect("json");
        assert_eq!(doc["users"][1]["user"]["token"], "tok\"en");
    }

    #[test]
    fn access_debug_hides_credentials() {
        for token in [false, true] {
            let shown = format!("{:?}", access("https://h", token));
            assert!(shown.contains("https://h"), "{shown}");
            for secret in ["KEY", "CERT", "tok", "AAAA"] {
                assert!(!shown.contains(secret), "{shown}");
            }
        }
    }

    #[test]
    fn current_context_defaults_to_the_first() {
        let entries = vec![("x".to_string(), access("https://h", true))];
        let doc = kubeconfig_document(&entries, Some("absent"));
        assert_eq!(doc["current-context"], "x");
        let empty = kubeconfig_document(&[], None);
        assert!(empty.get("current-context").is_none());
        assert_eq!(
            to_yaml(&empty),
            "apiVersion: \"v1\"\nkind: \"Config\"\nclusters: []\nusers: []\ncontexts: []\n"
        );
    }

    #[test]
    fn yaml_of_nested_values() {
        let v = json!({"a": [[1, 2], {"b": {}}, "s"], "odd key": null});
        assert_eq!(
            to_yaml(&v),
            "a:\n-\n  - 1\n  - 2\n- b: {}\n- \"s\"\n\"odd key\": null\n"
        );
    }

    #[test]
    fn loads_a_kubeconfig_with_a_relative_ca_file() {
        let dir = std::env::temp_dir().join(format!("fedstack-kube-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("ca.crt"), "PEM").expect("ca");
        let text = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://1.2.3.4\n    certificate-authority: ca.crt\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: ctx\n  context:\n    cluster: c\n    user: u\ncurrent-context: ctx\n";
        std::fs::write(dir.join("config"), text).expect("config");
        let (_, target) = load_kubeconfig(&dir.join("config"), None).expect("loads");
        assert_eq!(
            target,
            KubeconfigTarget {
                context: "ctx".into(),
                cluster: "c".into(),
                server: "https://1.2.3.4".into(),
                ca_pem: Some("PEM".into()),
            }
        );
        let err = load_kubeconfig(&dir.join("config"), Some("nope")).expect_err("no context");
        assert_eq!(
            err.to_string(),
            format!(
                "kubeconfig {} has no context `nope` (contexts: ctx)",
                dir.join("config").display()
            )
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The access a kubeconfig handed over by a cloud API gives (AKS's
/// `listClusterUserCredential`): its current context's server, CA, and embedded token or
/// client certificate. Errors name `what` and never quote the document (it holds secrets).
pub fn access_from_kubeconfig(text: &str, what: &str) -> Result<ClusterAccess> {
    use secrecy::ExposeSecret as _;
    let bad = |why: &str| KubeError::Invalid(format!("{what}: the kubeconfig {why}"));
    let kc = Kubeconfig::from_yaml(text).map_err(|_| bad("is not valid YAML"))?;
    let context_name = kc
        .current_context
        .clone()
        .or_else(|| kc.contexts.first().map(|c| c.name.clone()))
        .ok_or_else(|| bad("has no context"))?;
    let ctx = kc
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.as_ref())
        .ok_or_else(|| bad("names a context it does not define"))?;
    let cluster = kc
        .clusters
        .iter()
        .find(|c| c.name == ctx.cluster)
        .and_then(|c| c.cluster.as_ref())
        .ok_or_else(|| bad("names a cluster it does not define"))?;
    let server = cluster.server.clone().ok_or_else(|| bad("has no server"))?;
    let ca_pem = match &cluster.certificate_authority_data {
        None => None,
        Some(data) => Some(
            B64.decode(data.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| bad("has a certificate-authority-data that is not base64 PEM"))?,
        ),
    };
    let user = ctx
        .user
        .as_ref()
        .and_then(|u| kc.auth_infos.iter().find(|a| &a.name == u))
        .and_then(|a| a.auth_info.as_ref())
        .ok_or_else(|| bad("has no user for its context"))?;
    let decode = |data: &str, field: &str| {
        B64.decode(data.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| bad(&format!("has a {field} that is not base64 PEM")))
    };
    let credentials = match (
        &user.token,
        &user.client_certificate_data,
        &user.client_key_data,
    ) {
        (Some(token), _, _) => ClusterCredentials::BearerToken(token.expose_secret().to_string()),
        (None, Some(cert), Some(key)) => ClusterCredentials::ClientCertificate {
            cert_pem: decode(cert, "client-certificate-data")?,
            key_pem: decode(key.expose_secret(), "client-key-data")?,
        },
        _ => {
            return Err(bad(
                "has neither a token nor a client certificate (an exec plugin such as kubelogin is not supported; use a cluster with local accounts)",
            ))
        }
    };
    Ok(ClusterAccess {
        server,
        ca_pem,
        credentials,
    })
}

#[cfg(test)]
mod handed_over {
    use super::*;

    #[test]
    fn a_cloud_kubeconfig_gives_its_server_ca_and_token() {
        let ca = B64.encode("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://c.hcp.example:443\n    certificate-authority-data: {ca}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: sekret\n"
        );
        let a = access_from_kubeconfig(&text, "cluster.c").expect("parses");
        assert_eq!(a.server, "https://c.hcp.example:443");
        assert!(a.ca_pem.is_some_and(|p| p.starts_with("-----BEGIN")));
        assert_eq!(
            a.credentials,
            ClusterCredentials::BearerToken("sekret".into())
        );
        let e = access_from_kubeconfig("users: [", "cluster.c").expect_err("not yaml");
        assert!(!e.to_string().contains("sekret"));
        let no_user = text.replace(
            "    token: sekret\n",
            "    exec: {command: kubelogin, apiVersion: client.authentication.k8s.io/v1beta1}\n",
        );
        let e = access_from_kubeconfig(&no_user, "cluster.c").expect_err("exec");
        assert!(e.to_string().contains("kubelogin"), "{e}");
    }
}
