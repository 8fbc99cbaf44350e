//! Drift: for the fields a manifest sets, how the live object differs. Only what the
//! manifest sets is compared, so fields defaulted by the API server or owned by other
//! controllers (an HPA's `spec.replicas` when the manifest sets none) never show.
//!
//! - mappings: each key the manifest sets; `status` and the server's metadata
//!   (`uid`, `resourceVersion`, `managedFields`, ...) are never compared;
//! - lists of mappings that all have a distinct `name` are matched by name
//!   (`spec.template.spec.containers[name=web].image`), other lists by position; each
//!   item compares only what the manifest's item sets; a list of scalars compares whole;
//! - numbers compare by value (`1` and `1.0` agree);
//! - a Secret's `data` values are compared decoded and never shown: both sides read
//!   `(sensitive)`. [`secret_fingerprint`] gives the state a `sha256:` of them instead.

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use fedstack_core::state::fingerprint;
use serde_json::Value;

use super::discovery::Resolver;
use super::errors::{Result, WorkloadError};
use super::manifests::{set_namespace, Manifest, ManifestSet, Source};
use super::object::ObjectRef;
use crate::federation::Cluster;

/// What Secret values show as.
pub const SENSITIVE: &str = "(sensitive)";

/// Metadata the API server sets; never compared.
const SERVER_METADATA: &[&str] = &[
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "generation",
    "managedFields",
    "resourceVersion",
    "selfLink",
    "uid",
];

/// One field that differs.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// `data.key`, `spec.template.spec.containers[name=web].image`.
    pub path: String,
    /// The live value (`None`: the live object does not set it).
    pub live: Option<Value>,
    /// What the manifest says.
    pub manifest: Value,
}

impl fmt::Display for Difference {
    /// `data.color: live "red", manifest "blue"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let live = self
            .live
            .as_ref()
            .map_or("(not set)".to_string(), Value::to_string);
        write!(f, "{}: live {live}, manifest {}", self.path, self.manifest)
    }
}

/// The differences between `manifest` (the body of an object of `kind`) and `live`.
pub fn diff(kind: &str, manifest: &Value, live: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    let Some(m) = manifest.as_object() else {
        return out;
    };
    let secret = kind == "Secret";
    for (k, mv) in m {
        let lv = live.get(k);
        match k.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                if let Some(meta) = mv.as_object() {
                    for (mk, mmv) in meta {
                        if SERVER_METADATA.contains(&mk.as_str()) {
                            continue;
                        }
                        compare(
                            &join("metadata", mk),
                            mmv,
                            lv.and_then(|l| l.get(mk)),
                            &mut out,
                        );
                    }
                }
            }
            "data" | "stringData" if secret => secret_data(k, mv, lv, &mut out),
            _ => compare(k, mv, lv, &mut out),
        }
    }
    out
}

fn secret_data(key: &str, manifest: &Value, live: Option<&Value>, out: &mut Vec<Difference>) {
    let Some(m) = manifest.as_object() else {
        return;
    };
    for (k, mv) in m {
        let lv = live.and_then(|l| l.get(k));
        let same = match (mv.as_str(), lv.and_then(Value::as_str)) {
            (Some(a), Some(b)) => decoded(a) == decoded(b),
            _ => Some(mv) == lv,
        };
        if !same {
            out.push(Difference {
                path: join(key, k),
                live: lv.map(|_| Value::String(SENSITIVE.into())),
                manifest: Value::String(SENSITIVE.into()),
            });
        }
    }
}

fn decoded(s: &str) -> Option<Vec<u8>> {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    B64.decode(compact.as_bytes()).ok()
}

fn is_ident(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn join(path: &str, key: &str) -> String {
    let seg = if is_ident(key) {
        key.to_string()
    } else {
        format!("[{}]", Value::String(key.to_string()))
    };
    if path.is_empty() {
        seg
    } else if seg.starts_with('[') {
        format!("{path}{seg}")
    } else {
        format!("{path}.{seg}")
    }
}

fn same_scalar(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn compare(path: &str, manifest: &Value, live: Option<&Value>, out: &mut Vec<Difference>) {
    match (manifest, live) {
        (Value::Object(m), Some(Value::Object(l))) => {
            for (k, mv) in m {
                compare(&join(path, k), mv, l.get(k), out);
            }
        }
        (Value::Array(m), Some(Value::Array(l))) if m.iter().all(Value::is_object) => {
            compare_object_lists(path, m, l, out)
        }
        (Value::Array(m), Some(Value::Array(l))) => {
            let same = m.len() == l.len() && m.iter().zip(l).all(|(a, b)| same_scalar(a, b));
            if !same {
                out.push(diff_at(path, manifest, live));
            }
        }
        // A manifest's null, `{}` or `[]` asks for nothing in particular.
        (Value::Null, None) => {}
        (Value::Object(m), None) if m.is_empty() => {}
        (Value::Array(m), None) if m.is_empty() => {}
        (m, Some(l)) if same_scalar(m, l) => {}
        _ => out.push(diff_at(path, manifest, live)),
    }
}

fn diff_at(path: &str, manifest: &Value, live: Option<&Value>) -> Difference {
    Difference {
        path: path.to_string(),
        live: live.cloned(),
        manifest: manifest.clone(),
    }
}

fn compare_object_lists(path: &str, m: &[Value], l: &[Value], out: &mut Vec<Difference>) {
    let names: Vec<Option<&str>> = m.iter().map(|i| i["name"].as_str()).collect();
    let distinct = names.iter().all(Option::is_some)
        && names
            .iter()
            .enumerate()
            .all(|(i, n)| !names[..i].contains(n));
    if distinct {
        for (item, name) in m.iter().zip(names.iter().flatten()) {
            let here = format!("{path}[name={name}]");
            let live = l.iter().find(|x| x["name"].as_str() == Some(name));
            compare(&here, item, live, out);
        }
    } else {
        for (i, item) in m.iter().enumerate() {
            compare(&format!("{path}[{i}]"), item, l.get(i), out);
        }
    }
}

/// `sha256:` of a Secret's `data` (keys sorted, values decoded), for the state; `None`
/// for objects without data.
pub fn secret_fingerprint(secret: &Value) -> Option<String> {
    let data = secret.get("data")?.as_object()?;
    let canonical: BTreeMap<&str, String> = data
        .iter()
        .map(|(k, v)| {
            let bytes = v.as_str().and_then(decoded).unwrap_or_default();
            (k.as_str(), B64.encode(bytes))
        })
        .collect();
    let text = serde_json::to_string(&canonical).ok()?;
    Some(fingerprint(&text))
}

/// How one object of the manifests differs on the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectDrift {
    pub object: ObjectRef,
    pub source: Source,
    /// `None`: the object does not exist. Otherwise its differences (never empty).
    pub differences: Option<Vec<Difference>>,
}

impl fmt::Display for ObjectDrift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.differences {
            None => write!(f, "{} is missing", self.object),
            Some(ds) => {
                write!(f, "{}: ", self.object)?;
                for (i, d) in ds.iter().enumerate() {
                    if i > 0 {
                        write!(f, "; ")?;
                    }
                    write!(f, "{d}")?;
                }
                Ok(())
            }
        }
    }
}

/// Reads every object of `set` from `cluster` and returns those that drifted (missing,
/// or differing in a field their manifest sets), in manifest order.
pub async fn read_drift(cluster: &Cluster, set: &ManifestSet) -> Result<Vec<ObjectDrift>> {
    let mut resolver = Resolver::new(cluster);
    let mut out = Vec::new();
    for m in &set.objects {
        let differences = match read_live(&mut resolver, m, &set.default_namespace).await? {
            None => None,
            Some(live) => {
                let ds = diff(&m.object.kind, &m.body, &live);
                if ds.is_empty() {
                    continue;
                }
                Some(ds)
            }
        };
        out.push(ObjectDrift {
            object: m.object.clone(),
            source: m.source.clone(),
            differences,
        });
    }
    Ok(out)
}

/// The live object of manifest `m` (namespaced kinds that name no namespace are looked
/// for in `default_namespace`); `None` when it, or its kind, does not exist.
pub(crate) async fn read_live(
    resolver: &mut Resolver<'_>,
    m: &Manifest,
    default_namespace: &str,
) -> Result<Option<Value>> {
    let cluster = resolver.cluster;
    let mut m: Manifest = m.clone();
    let Some(served) = resolver.resolve(&m.object).await? else {
        return Ok(None);
    };
    if served.namespaced && m.object.namespace.is_none() {
        set_namespace(&mut m, default_namespace);
    }
    let api = served.api(cluster, m.object.namespace.as_deref());
    let live = api.get_opt(&m.object.name).await.map_err(|e| {
        WorkloadError::from_kube(
            &cluster.name,
            format!("read {} in cluster {}", m.object, cluster.name),
            e,
        )
    })?;
    live.map(|l| {
        serde_json::to_value(&l)
            .map_err(|e| WorkloadError::Invalid(format!("{}: cannot read it back: {e}", m.object)))
    })
    .transpose()
}

/// The live object seen through `recorded` (an object of a workload's recorded form):
/// the same shape, each field the recorded object sets holding the live value (absent
/// where the live object has none), so equal to `recorded` exactly when nothing
/// drifted. A Secret's data is its fingerprint, as in the recorded form.
pub fn project(kind: &str, recorded: &Value, live: &Value) -> Value {
    let Some(r) = recorded.as_object() else {
        return recorded.clone();
    };
    let secret = kind == "Secret";
    let mut out = serde_json::Map::new();
    for (k, rv) in r {
        let lv = live.get(k);
        let v = match k.as_str() {
            "apiVersion" | "kind" | "status" => Some(rv.clone()),
            "metadata" => rv.as_object().map(|meta| {
                let mut m = serde_json::Map::new();
                for (mk, mrv) in meta {
                    let v = if SERVER_METADATA.contains(&mk.as_str()) {
                        Some(mrv.clone())
                    } else {
                        project_value(mrv, lv.and_then(|l| l.get(mk)))
                    };
                    if let Some(v) = v {
                        m.insert(mk.clone(), v);
                    }
                }
                Value::Object(m)
            }),
            "data" if secret => {
                secret_fingerprint(live).map(|fp| Value::String(format!("{SENSITIVE} {fp}")))
            }
            _ => project_value(rv, lv),
        };
        if let Some(v) = v {
            out.insert(k.clone(), v);
        }
    }
    Value::Object(out)
}

fn project_value(r: &Value, live: Option<&Value>) -> Option<Value> {
    match (r, live) {
        (Value::Object(m), Some(Value::Object(l))) => Some(Value::Object(
            m.iter()
                .filter_map(|(k, v)| project_value(v, l.get(k)).map(|p| (k.clone(), p)))
                .collect(),
        )),
        (Value::Array(m), Some(Value::Array(l))) if m.iter().all(Value::is_object) => {
            let names: Vec<Option<&str>> = m.iter().map(|i| i["name"].as_str()).collect();
            let distinct = names.iter().all(Option::is_some)
                && names
                    .iter()
                    .enumerate()
                    .all(|(i, n)| !names[..i].contains(n));
            let items: Vec<Value> = if distinct {
                m.iter()
                    .zip(names.iter().flatten())
                    .filter_map(|(item, name)| {
                        project_value(item, l.iter().find(|x| x["name"].as_str() == Some(name)))
                    })
                    .collect()
            } else {
                m.iter()
                    .enumerate()
                    .filter_map(|(i, item)| project_value(item, l.get(i)))
                    .collect()
            };
            Some(Value::Array(items))
        }
        (Value::Array(m), Some(Value::Array(l))) => {
            let same = m.len() == l.len() && m.iter().zip(l).all(|(a, b)| same_scalar(a, b));
            Some(if same {
                r.clone()
            } else {
                Value::Array(l.clone())
            })
        }
        // Asks for nothing in particular (as in `compare`).
        (Value::Null, None) => Some(Value::Null),
        (Value::Object(m), None) if m.is_empty() => Some(r.clone()),
        (Value::Array(m), None) if m.is_empty() => Some(r.clone()),
        (m, Some(l)) if same_scalar(m, l) => Some(m.clone()),
        (_, Some(l)) => Some(l.clone()),
        (_, None) => None,
    }
}

/// What differs between two versions of one recorded object, one `path: before -> after`
/// per changed field (`spec.replicas 3 -> 5`), in the order of `after`.
pub fn changes(before: &Value, after: &Value) -> Vec<String> {
    let mut out = Vec::new();
    change_lines("", Some(before), Some(after), &mut out);
    out
}

fn change_lines(path: &str, before: Option<&Value>, after: Option<&Value>, out: &mut Vec<String>) {
    match (before, after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            for (k, av) in a {
                change_lines(&join(path, k), b.get(k), Some(av), out);
            }
            for (k, bv) in b {
                if !a.contains_key(k) {
                    change_lines(&join(path, k), Some(bv), None, out);
                }
            }
        }
        (Some(Value::Array(b)), Some(Value::Array(a)))
            if a.iter().chain(b).all(|i| i["name"].is_string()) && !a.is_empty() =>
        {
            for item in a {
                let name = item["name"].as_str().unwrap_or_default();
                let prev = b.iter().find(|x| x["name"].as_str() == Some(name));
                change_lines(&format!("{path}[name={name}]"), prev, Some(item), out);
            }
            for item in b {
                let name = item["name"].as_str().unwrap_or_default();
                if !a.iter().any(|x| x["name"].as_str() == Some(name)) {
                    change_lines(&format!("{path}[name={name}]"), Some(item), None, out);
                }
            }
        }
        (Some(b), Some(a)) if same_scalar(b, a) => {}
        (b, a) => {
            let show = |v: Option<&Value>| v.map_or("(not set)".to_string(), short_value);
            out.push(format!("{path} {} -> {}", show(b), show(a)));
        }
    }
}

fn short_value(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(57).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(ds: &[Difference]) -> Vec<String> {
        ds.iter().map(|d| d.path.clone()).collect()
    }

    #[test]
    fn only_what_the_manifest_sets_is_compared() {
        let manifest = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "a", "labels": {"app": "web"}},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [
                    {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]},
                    {"name": "side", "image": "busybox"}
                ]}}
            }
        });
        let live = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "a", "uid": "u", "resourceVersion": "9",
                          "labels": {"app": "web", "extra": "x"}},
            "spec": {
                "replicas": 7,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [
                    {"name": "side", "image": "busybox", "imagePullPolicy": "Always"},
                    {"name": "web", "image": "nginx:1.26", "ports": [{"containerPort": 80, "protocol": "TCP"}]}
                ]}}
            },
            "status": {"replicas": 7}
        });
        let ds = diff("Deployment", &manifest, &live);
        assert_eq!(
            paths(&ds),
            ["spec.template.spec.containers[name=web].image"]
        );
        assert_eq!(ds[0].live, Some(json!("nginx:1.26")));
        assert_eq!(ds[0].manifest, json!("nginx:1.27"));
        assert_eq!(
            ds[0].to_string(),
            "spec.template.spec.containers[name=web].image: live \"nginx:1.26\", manifest \"nginx:1.27\""
        );
        assert!(diff("Deployment", &manifest, &manifest).is_empty());
    }

    #[test]
    fn missing_and_changed_fields_and_odd_keys() {
        let manifest = json!({"kind": "ConfigMap", "metadata": {"name": "c"},
                              "data": {"app.properties": "a=1", "color": "blue"}});
        let live =
            json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"color": "red"}});
        let ds = diff("ConfigMap", &manifest, &live);
        assert_eq!(paths(&ds), ["data[\"app.properties\"]", "data.color"]);
        assert_eq!(ds[0].live, None);
        assert_eq!(
            ds[0].to_string(),
            "data[\"app.properties\"]: live (not set), manifest \"a=1\""
        );
        // Numbers by value; lists of scalars whole; lists of unnamed mappings by position.
        let m = json!({"spec": {"n": 1, "args": ["a", "b"], "ports": [{"port": 80}]}});
        let l =
            json!({"spec": {"n": 1.0, "args": ["a"], "ports": [{"port": 81, "protocol": "TCP"}]}});
        assert_eq!(
            paths(&diff("Service", &m, &l)),
            ["spec.args", "spec.ports[0].port"]
        );
    }

    #[test]
    fn secret_values_never_show() {
        let manifest = json!({"kind": "Secret", "metadata": {"name": "s"},
                              "data": {"password": "aHVudGVyMg==", "same": "YQ=="}});
        let live = json!({"kind": "Secret", "metadata": {"name": "s"},
                          "data": {"password": "c2VjcmV0", "same": "YQ=="}});
        let ds = diff("Secret", &manifest, &live);
        assert_eq!(paths(&ds), ["data.password"]);
        let shown = format!("{:?} {}", ds, ds[0]);
        assert!(
            !shown.contains("aHVudGVyMg") && !shown.contains("c2VjcmV0"),
            "{shown}"
        );
        assert_eq!(
            ds[0].to_string(),
            "data.password: live \"(sensitive)\", manifest \"(sensitive)\""
        );
        let a = secret_fingerprint(&manifest).expect("data");
        assert!(a.starts_with("sha256:"));
        assert_ne!(Some(a.clone()), secret_fingerprint(&live));
        // Key order and base64 line breaks do not matter.
        let reordered = json!({"data": {"same": "YQ==", "password": "aHVu\ndGVyMg=="}});
        assert_eq!(Some(a), secret_fingerprint(&reordered));
    }
}
