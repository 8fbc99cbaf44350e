//! A workload's manifests as one cluster gets them: its share of the replicas, then its
//! overrides (RFC 6902 patches on the objects chosen by `kind` and `name`); and the
//! recorded form of the result -- the `objects` attribute plans and state carry -- in
//! which a Secret's data shows only as a fingerprint.
//!
//! The recorded form is what makes a plan honest without secrets: the CLI renders it at
//! plan time, the provider renders again from the files at apply time and refuses when
//! the two differ (the files changed after the plan), and a refresh projects the live
//! objects onto it, so drift is a difference in `objects`.

use serde_json::{json, Value};

use super::drift::{secret_fingerprint, SENSITIVE};
use super::manifests::{manifests_from_str, Manifest, ManifestErrors, ManifestSet};
use super::patch::apply_op;

/// Kinds whose `spec.replicas` a workload's `replicas` divides.
const SCALED: &[(&str, &str)] = &[("apps", "Deployment"), ("apps", "StatefulSet")];

/// An override that does not apply. `patch` is its index in the cluster's list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RenderError {
    pub patch: usize,
    pub message: String,
    pub hint: String,
}

/// `set` with `replicas` on every Deployment and StatefulSet, then `overrides` (the
/// patches as the stack lowers them: `kind`, `name`, `op`, `path`, `value`, `from`).
pub fn render(
    set: &ManifestSet,
    replicas: Option<u64>,
    overrides: &[Value],
) -> Result<ManifestSet, RenderError> {
    let mut out = set.clone();
    if let Some(n) = replicas {
        for m in &mut out.objects {
            let scaled = SCALED
                .iter()
                .any(|(g, k)| m.object.group == *g && m.object.kind == *k);
            if let (true, Some(body)) = (scaled, m.body.as_object_mut()) {
                let spec = body.entry("spec").or_insert_with(|| json!({}));
                if let Some(spec) = spec.as_object_mut() {
                    spec.insert("replicas".into(), json!(n));
                }
            }
        }
    }
    for (i, p) in overrides.iter().enumerate() {
        let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default();
        let (kind, name, op, path) = (text("kind"), text("name"), text("op"), text("path"));
        let fail = |message: String, hint: String| RenderError {
            patch: i,
            message,
            hint,
        };
        let chosen: Vec<usize> = out
            .objects
            .iter()
            .enumerate()
            .filter(|(_, m)| m.object.kind == kind && m.object.name == name)
            .map(|(i, _)| i)
            .collect();
        if chosen.is_empty() {
            let same_kind: Vec<&str> = out
                .objects
                .iter()
                .filter(|m| m.object.kind == kind)
                .map(|m| m.object.name.as_str())
                .collect();
            let hint = if same_kind.is_empty() {
                let kinds: Vec<&str> = out.objects.iter().map(|m| m.object.kind.as_str()).collect();
                format!(
                    "the manifests have no {kind} at all; their kinds: {}",
                    dedup(kinds)
                )
            } else {
                format!("{kind} objects in the manifests: {}", dedup(same_kind))
            };
            return Err(fail(
                format!("the manifests have no {kind} named `{name}`"),
                hint,
            ));
        }
        for j in chosen {
            let m = &mut out.objects[j];
            let before = m.object.clone();
            apply_op(
                &mut m.body,
                op,
                path,
                p.get("value"),
                p.get("from").and_then(Value::as_str),
            )
            .map_err(|e| {
                fail(
                    format!("`{op} {path}` on {before} (written at {}): {}", m.source, e.0),
                    "the path is an RFC 6901 pointer into the object as written in the manifest, e.g. /spec/template/spec/containers/0/image; `add` may create the last key only".to_string(),
                )
            })?;
            let meta = &m.body["metadata"];
            let same = m.body["kind"].as_str() == Some(before.kind.as_str())
                && meta["name"].as_str() == Some(before.name.as_str())
                && meta["namespace"].as_str() == before.namespace.as_deref()
                && m.body["apiVersion"].as_str() == Some(before.api_version().as_str());
            if !same {
                return Err(fail(
                    format!("`{op} {path}` would change which object {before} is"),
                    "an override may change an object, not its apiVersion, kind, name or namespace; write another object in the manifests instead".to_string(),
                ));
            }
        }
    }
    Ok(out)
}

fn dedup(mut names: Vec<&str>) -> String {
    names.sort_unstable();
    names.dedup();
    names.join(", ")
}

/// The recorded form of `set`: its objects in order, a Secret's `data` replaced by
/// `(sensitive) sha256:...` of its values.
pub fn recorded(set: &ManifestSet) -> Value {
    Value::Array(set.objects.iter().map(recorded_object).collect())
}

fn recorded_object(m: &Manifest) -> Value {
    let mut body = m.body.clone();
    // A Secret read back from a recorded form already shows its fingerprint.
    let recorded_already = m.body["data"]
        .as_str()
        .is_some_and(|d| d.starts_with(SENSITIVE));
    if is_secret(m) && !recorded_already {
        if let Some(b) = body.as_object_mut() {
            let fp = secret_fingerprint(&m.body);
            b.shift_remove("stringData");
            match fp {
                Some(fp) => b.insert("data".into(), json!(format!("{SENSITIVE} {fp}"))),
                None => b.shift_remove("data"),
            };
        }
    }
    body
}

fn is_secret(m: &Manifest) -> bool {
    m.object.group.is_empty() && m.object.kind == "Secret"
}

/// The objects of a recorded form, read back as manifests (to compare with the live
/// objects): each one its own document, so scopes and namespaces resolve as when the
/// files were read.
pub fn from_recorded(
    objects: &Value,
    default_namespace: &str,
) -> Result<ManifestSet, ManifestErrors> {
    let docs: Vec<String> = objects
        .as_array()
        .map(|a| a.iter().map(Value::to_string).collect())
        .unwrap_or_default();
    manifests_from_str(
        "(recorded objects)",
        &docs.join("\n---\n"),
        default_namespace,
    )
}

/// The `${image.NAME.REGISTRY.ref}` (or `.digest`) references in the string values of
/// `v`, in order of appearance, each once: what a workload deploys by digest.
pub fn image_references(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_references(v, &mut out);
    out
}

fn collect_references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(i) = rest.find("${") {
                let Some(j) = rest[i..].find('}') else {
                    break;
                };
                let inner = &rest[i + 2..i + j];
                if inner.starts_with("image.") && !out.iter().any(|o| o == inner) {
                    out.push(inner.to_string());
                }
                rest = &rest[i + j + 1..];
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_references(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_references(x, out)),
        _ => {}
    }
}

/// `v` with each `${KEY}` of `values` replaced by its value.
pub fn substitute_value(v: &Value, values: &[(String, String)]) -> Value {
    match v {
        Value::String(s) if s.contains("${") => {
            let mut t = s.clone();
            for (k, val) in values {
                t = t.replace(&format!("${{{k}}}"), val);
            }
            Value::String(t)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute_value(x, values)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), substitute_value(x, values)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `set` with its references replaced by their values (see [`substitute_value`]).
pub fn substitute(set: &ManifestSet, values: &[(String, String)]) -> ManifestSet {
    let mut out = set.clone();
    for m in &mut out.objects {
        m.body = substitute_value(&m.body, values);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend}
spec:
  replicas: 3
  template:
    spec:
      containers: [{name: web, image: 'web:1'}]
---
apiVersion: v1
kind: Secret
metadata: {name: auth}
stringData: {password: hunter2}
---
apiVersion: v1
kind: Service
metadata: {name: frontend}
spec: {ports: [{port: 80}]}
";

    fn set() -> ManifestSet {
        manifests_from_str("app.yaml", APP, "guestbook").expect("ok")
    }

    fn patch(kind: &str, name: &str, op: &str, path: &str, value: Value) -> Value {
        json!({"kind": kind, "name": name, "op": op, "path": path, "value": value})
    }

    #[test]
    fn replicas_then_overrides() {
        let img = "/spec/template/spec/containers/0/image";
        let out = render(
            &set(),
            Some(5),
            &[patch(
                "Deployment",
                "frontend",
                "replace",
                img,
                json!("web:2"),
            )],
        )
        .expect("ok");
        assert_eq!(out.objects[0].body["spec"]["replicas"], 5);
        assert_eq!(out.objects[0].body.pointer(img), Some(&json!("web:2")));
        // Only Deployments and StatefulSets are scaled.
        assert!(out.objects[2].body["spec"].get("replicas").is_none());
    }

    #[test]
    fn an_override_that_misses_says_what_there_is() {
        let e = render(
            &set(),
            None,
            &[patch(
                "Deployment",
                "front",
                "replace",
                "/spec/replicas",
                json!(1),
            )],
        )
        .expect_err("an error");
        assert_eq!(e.message, "the manifests have no Deployment named `front`");
        assert_eq!(e.hint, "Deployment objects in the manifests: frontend");
        let e = render(
            &set(),
            None,
            &[
                patch(
                    "Service",
                    "frontend",
                    "add",
                    "/spec/type",
                    json!("NodePort"),
                ),
                patch(
                    "Deployment",
                    "frontend",
                    "replace",
                    "/spec/template/spec/containers/1/image",
                    json!("x"),
                ),
            ],
        )
        .expect_err("an error");
        assert_eq!(e.patch, 1);
        assert!(
            e.message.starts_with("`replace /spec/template/spec/containers/1/image` on Deployment guestbook/frontend (written at app.yaml:1:1): path /spec/template/spec/containers/1 does not exist"),
            "{}",
            e.message
        );
        let e = render(
            &set(),
            None,
            &[patch(
                "Service",
                "frontend",
                "replace",
                "/metadata/name",
                json!("x"),
            )],
        )
        .expect_err("an error");
        assert!(
            e.message.contains("would change which object"),
            "{}",
            e.message
        );
    }

    #[test]
    fn image_references_are_found_and_substituted() {
        let v = json!({"spec": {"containers": [
            {"image": "${image.shop.sydney.ref}"},
            {"image": "x", "env": [{"value": "${image.shop.sydney.ref} ${image.db.sydney.digest} ${cluster.a.endpoint}"}]}
        ]}});
        assert_eq!(
            image_references(&v),
            ["image.shop.sydney.ref", "image.db.sydney.digest"]
        );
        let values = [(
            "image.shop.sydney.ref".to_string(),
            "r.example/shop@sha256:ab".to_string(),
        )];
        let out = substitute_value(&v, &values);
        assert_eq!(
            out["spec"]["containers"][0]["image"],
            "r.example/shop@sha256:ab"
        );
    }

    #[test]
    fn secrets_are_recorded_as_a_fingerprint_and_read_back() {
        let r = recorded(&set());
        let text = r.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("aHVudGVyMg"),
            "{text}"
        );
        let data = r[1]["data"].as_str().expect("ok");
        assert!(data.starts_with("(sensitive) sha256:"), "{data}");
        let back = from_recorded(&r, "guestbook").expect("ok");
        assert_eq!(back.objects.len(), 3);
        assert_eq!(back.objects[0].object, set().objects[0].object);
        assert_eq!(recorded(&back), r);
    }
}
