//! Manifests: Kubernetes objects read from a YAML file or a directory of them, each with
//! where it was written, validated with located one-line errors.
//!
//! - A directory: its `*.yaml` and `*.yml` files (not its subdirectories), sorted by name;
//!   each file may hold several documents (`---`); empty documents are skipped.
//! - Every object needs `apiVersion`, `kind` and `metadata.name`.
//! - Scope: built-in kinds are known offline (`Namespace`, `ClusterRole`, ... are
//!   cluster-scoped), and so are kinds of CRDs in the same manifests (their `spec.scope`).
//!   A namespaced object without `metadata.namespace` gets the default namespace; a
//!   cluster-scoped one gets none (and may not set one). Other kinds are
//!   [`ObjectScope::Unknown`] until apply asks the cluster (discovery).
//! - A Secret's `stringData` is folded into `data` (base64), as the API server does, so the
//!   manifest compares with what the cluster returns.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use fedstack_core::stack::{Diagnostic, Span};
use serde_json::Value;

use super::kinds::{builtin_namespaced, is_crd};
use super::object::ObjectRef;
use super::yaml::{clip, parse_documents, Node};

/// Where an object was written: the file and the line and column its document starts at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Source {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Whether an object lives in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectScope {
    Namespaced,
    Cluster,
    /// Not known offline (a kind whose CRD is not in the manifests): apply asks discovery.
    Unknown,
}

/// One object of the manifests.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub source: Source,
    /// Its name; `namespace` is set for namespaced objects (defaulted when not written),
    /// `None` for cluster-scoped ones and for [`ObjectScope::Unknown`] ones that set none.
    pub object: ObjectRef,
    pub scope: ObjectScope,
    /// The object as written (namespace defaulted, Secret `stringData` folded into `data`).
    pub body: Value,
}

impl Manifest {
    /// A CustomResourceDefinition.
    pub fn is_crd(&self) -> bool {
        is_crd(&self.object.group, &self.object.kind)
    }

    /// The (group, kind) a CRD defines.
    pub fn crd_defines(&self) -> Option<(&str, &str)> {
        if !self.is_crd() {
            return None;
        }
        let spec = &self.body["spec"];
        Some((spec["group"].as_str()?, spec["names"]["kind"].as_str()?))
    }
}

/// The objects of one workload's manifests, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestSet {
    pub objects: Vec<Manifest>,
    /// Given to namespaced objects that name no namespace.
    pub default_namespace: String,
}

impl ManifestSet {
    /// The CRD of these manifests that defines `group`/`kind`, if any.
    pub fn crd_for(&self, group: &str, kind: &str) -> Option<&Manifest> {
        self.objects
            .iter()
            .find(|m| m.crd_defines() == Some((group, kind)))
    }
}

/// A problem with the manifests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// `file:line:column: message (hint: ...)`.
    #[error("{0}")]
    Located(Diagnostic),
    /// A file or directory that cannot be read.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// A bad argument (the default namespace).
    #[error("{0}")]
    Invalid(String),
}

/// Every problem found, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ManifestErrors(pub Vec<ManifestError>);

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Reads the manifests at `path` (a YAML file, or a directory of them).
pub fn load_manifests(path: &Path, default_namespace: &str) -> Result<ManifestSet, ManifestErrors> {
    let io = |p: &Path, e: std::io::Error| {
        ManifestErrors(vec![ManifestError::Io {
            path: p.display().to_string(),
            message: format!("cannot read it: {e}"),
        }])
    };
    let meta = std::fs::metadata(path).map_err(|e| io(path, e))?;
    let files = if meta.is_dir() {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| io(path, e))? {
            let p = entry.map_err(|e| io(path, e))?.path();
            let yaml = p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e == "yaml" || e == "yml");
            if yaml && p.is_file() {
                files.push(p);
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(ManifestErrors(vec![ManifestError::Io {
                path: path.display().to_string(),
                message: "the directory holds no *.yaml or *.yml file".to_string(),
            }]));
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut texts = Vec::with_capacity(files.len());
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|e| io(f, e))?;
        texts.push((f.display().to_string(), text));
    }
    let refs: Vec<(&str, &str)> = texts
        .iter()
        .map(|(f, t)| (f.as_str(), t.as_str()))
        .collect();
    manifests_from_texts(&refs, default_namespace)
}

/// The manifests of one text (`file` names it in locations).
pub fn manifests_from_str(
    file: &str,
    text: &str,
    default_namespace: &str,
) -> Result<ManifestSet, ManifestErrors> {
    manifests_from_texts(&[(file, text)], default_namespace)
}

/// The manifests of several (file, text) pairs, in that order.
pub fn manifests_from_texts(
    texts: &[(&str, &str)],
    default_namespace: &str,
) -> Result<ManifestSet, ManifestErrors> {
    if let Err(e) = crate::objects::check_name("default namespace", default_namespace) {
        return Err(ManifestErrors(vec![ManifestError::Invalid(e.to_string())]));
    }
    let mut errors = Vec::new();
    let mut objects = Vec::new();
    for (file, text) in texts {
        let (docs, problems) = parse_documents(text);
        for p in problems {
            errors.push(located(file, p.span, p.message, p.hint));
        }
        for doc in docs {
            match object_of(file, &doc.root) {
                Ok(m) => objects.push(m),
                Err(e) => errors.push(e),
            }
        }
    }
    finish(&mut objects, default_namespace, &mut errors);
    if errors.is_empty() {
        Ok(ManifestSet {
            objects,
            default_namespace: default_namespace.to_string(),
        })
    } else {
        errors.sort_by_key(order_key);
        Err(ManifestErrors(errors))
    }
}

fn order_key(e: &ManifestError) -> (String, Span) {
    match e {
        ManifestError::Located(d) => (d.file.clone(), d.span),
        _ => (String::new(), Span::default()),
    }
}

fn located(file: &str, span: Span, message: String, hint: Option<String>) -> ManifestError {
    ManifestError::Located(Diagnostic {
        file: file.to_string(),
        span,
        message,
        hint,
    })
}

/// A required string field `key` of `map` (at `what` for messages).
fn string_field<'a>(
    file: &str,
    map: &'a Node,
    key: &str,
    what: &str,
    hint: &str,
) -> Result<&'a str, ManifestError> {
    match map.get(key) {
        None => Err(located(
            file,
            map.span(),
            format!("{what} has no {key}"),
            Some(hint.to_string()),
        )),
        Some(n) if n.is_null() => Err(located(
            file,
            n.span(),
            format!("{what} has no {key}"),
            Some(hint.to_string()),
        )),
        Some(n) => match n.as_str() {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(located(
                file,
                n.span(),
                format!("{key} must be a non-empty string, found {}", n.found()),
                Some(hint.to_string()),
            )),
        },
    }
}

/// Validates one document and makes it a [`Manifest`] (scope and namespace come later).
fn object_of(file: &str, root: &Node) -> Result<Manifest, ManifestError> {
    let span = root.span();
    if !matches!(root, Node::Map { .. }) {
        return Err(located(
            file,
            span,
            format!(
                "a manifest document must be a Kubernetes object (a mapping), found {}",
                root.found()
            ),
            Some("write one object per document, with apiVersion, kind and metadata, separated by `---`".to_string()),
        ));
    }
    let api_version = string_field(
        file,
        root,
        "apiVersion",
        "the object",
        "add e.g. `apiVersion: v1` or `apiVersion: apps/v1`",
    )?;
    let (group, version) = match api_version.split('/').collect::<Vec<_>>()[..] {
        [v] if !v.is_empty() => ("", v),
        [g, v] if !g.is_empty() && !v.is_empty() => (g, v),
        _ => {
            let n = root.get("apiVersion").map_or(span, Node::span);
            return Err(located(
                file,
                n,
                format!(
                    "apiVersion `{}` is not VERSION or GROUP/VERSION",
                    clip(api_version)
                ),
                Some("e.g. `v1`, `apps/v1`".to_string()),
            ));
        }
    };
    let kind = string_field(
        file,
        root,
        "kind",
        "the object",
        "add e.g. `kind: ConfigMap`",
    )?;
    if kind == "List" || kind.ends_with("List") && root.get("items").is_some() {
        return Err(located(
            file,
            root.get("kind").map_or(span, Node::span),
            format!("kind {kind} is a list of objects, not an object"),
            Some("write each item as a document of its own, separated by `---`".to_string()),
        ));
    }
    let what = kind.to_string();
    let Some(metadata) = root.get("metadata") else {
        return Err(located(
            file,
            span,
            format!("{what} has no metadata.name"),
            Some("add `metadata: {name: ...}`".to_string()),
        ));
    };
    if !matches!(metadata, Node::Map { .. }) {
        return Err(located(
            file,
            metadata.span(),
            format!("metadata must be a mapping, found {}", metadata.found()),
            Some("e.g. `metadata: {name: web}`".to_string()),
        ));
    }
    let name_hint = if metadata.get("generateName").is_some() {
        "generateName is not supported: fedstack finds its objects again by name; set metadata.name"
    } else {
        "add `name: ...` under metadata"
    };
    let name = string_field(file, metadata, "name", &what, name_hint).map_err(|e| match e {
        ManifestError::Located(mut d) => {
            d.message = d.message.replace("has no name", "has no metadata.name");
            ManifestError::Located(d)
        }
        other => other,
    })?;
    let namespace = match metadata.get("namespace") {
        None => None,
        Some(n) if n.is_null() => None,
        Some(n) => match n.as_str() {
            Some(s) if !s.is_empty() => Some(s.to_string()),
            _ => {
                return Err(located(
                    file,
                    n.span(),
                    format!(
                        "metadata.namespace must be a non-empty string, found {}",
                        n.found()
                    ),
                    Some("remove it to use the workload's default namespace".to_string()),
                ))
            }
        },
    };
    let mut body = root.to_json();
    if group.is_empty() && kind == "Secret" {
        fold_string_data(file, root, &mut body)?;
    }
    Ok(Manifest {
        source: Source {
            file: file.to_string(),
            line: span.line,
            column: span.column,
        },
        object: ObjectRef {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            namespace,
            name: name.to_string(),
        },
        scope: ObjectScope::Unknown,
        body,
    })
}

/// `stringData` -> base64 entries of `data` (they win, as on the API server).
fn fold_string_data(file: &str, root: &Node, body: &mut Value) -> Result<(), ManifestError> {
    let Some(node) = root.get("stringData") else {
        return Ok(());
    };
    let Node::Map { entries, .. } = node else {
        if node.is_null() {
            if let Some(o) = body.as_object_mut() {
                o.remove("stringData");
            }
            return Ok(());
        }
        return Err(located(
            file,
            node.span(),
            format!("stringData must be a mapping, found {}", node.found()),
            None,
        ));
    };
    let mut folded = BTreeMap::new();
    for e in entries {
        let Some(v) = e.value.as_str() else {
            return Err(located(
                file,
                e.value.span(),
                format!(
                    "stringData.{} must be a string, found {}",
                    clip(&e.key),
                    if matches!(e.value, Node::Scalar { .. }) {
                        "another scalar".to_string()
                    } else {
                        e.value.found()
                    }
                ),
                Some("quote the value".to_string()),
            ));
        };
        folded.insert(e.key.clone(), B64.encode(v.as_bytes()));
    }
    let Some(o) = body.as_object_mut() else {
        return Ok(());
    };
    o.remove("stringData");
    let data = o
        .entry("data")
        .or_insert_with(|| Value::Object(Default::default()));
    if data.is_null() {
        *data = Value::Object(Default::default());
    }
    if let Some(d) = data.as_object_mut() {
        for (k, v) in folded {
            d.insert(k, Value::String(v));
        }
    }
    Ok(())
}

fn diag(m: &Manifest, message: String, hint: Option<String>) -> ManifestError {
    located(
        &m.source.file,
        Span {
            line: m.source.line,
            column: m.source.column,
        },
        message,
        hint,
    )
}

/// Scopes (from the built-in table and the manifests' CRDs), default namespaces and
/// duplicate objects.
fn finish(objects: &mut [Manifest], default_namespace: &str, errors: &mut Vec<ManifestError>) {
    let mut crd_scopes: HashMap<(String, String), bool> = HashMap::new();
    for m in objects.iter().filter(|m| m.is_crd()) {
        let spec = &m.body["spec"];
        let (Some(group), Some(kind)) = (spec["group"].as_str(), spec["names"]["kind"].as_str())
        else {
            errors.push(diag(
                m,
                format!(
                    "CustomResourceDefinition {} has no spec.group or spec.names.kind",
                    m.object.name
                ),
                None,
            ));
            continue;
        };
        let namespaced = match spec["scope"].as_str() {
            Some("Namespaced") => true,
            Some("Cluster") => false,
            other => {
                errors.push(diag(
                    m,
                    format!(
                        "CustomResourceDefinition {}: spec.scope must be Namespaced or Cluster, found {}",
                        m.object.name,
                        other.map_or("nothing".to_string(), |s| format!("`{}`", clip(s)))
                    ),
                    None,
                ));
                continue;
            }
        };
        crd_scopes.insert((group.to_string(), kind.to_string()), namespaced);
    }
    for m in objects.iter_mut() {
        let known = builtin_namespaced(&m.object.group, &m.object.kind).or_else(|| {
            crd_scopes
                .get(&(m.object.group.clone(), m.object.kind.clone()))
                .copied()
        });
        match known {
            Some(true) => {
                m.scope = ObjectScope::Namespaced;
                if m.object.namespace.is_none() {
                    set_namespace(m, default_namespace);
                }
            }
            Some(false) => {
                m.scope = ObjectScope::Cluster;
                if let Some(ns) = &m.object.namespace {
                    let message = format!(
                        "{} {} is cluster-scoped but sets metadata.namespace `{}`",
                        m.object.kind,
                        m.object.name,
                        clip(ns)
                    );
                    errors.push(diag(
                        m,
                        message,
                        Some("remove metadata.namespace".to_string()),
                    ));
                }
            }
            None => m.scope = ObjectScope::Unknown,
        }
    }
    let mut seen: HashMap<(String, String, String, String), Source> = HashMap::new();
    for m in objects.iter() {
        let key = (
            m.object.group.clone(),
            m.object.kind.clone(),
            m.object.namespace.clone().unwrap_or_else(|| match m.scope {
                ObjectScope::Cluster => String::new(),
                _ => default_namespace.to_string(),
            }),
            m.object.name.clone(),
        );
        if let Some(first) = seen.get(&key) {
            errors.push(diag(
                m,
                format!("{} is written twice", m.object),
                Some(format!("it is first written at {first}")),
            ));
        } else {
            seen.insert(key, m.source.clone());
        }
    }
}

/// Sets the object's namespace in its name and its body.
pub(crate) fn set_namespace(m: &mut Manifest, namespace: &str) {
    m.object.namespace = Some(namespace.to_string());
    if let Some(meta) = m.body.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("namespace".into(), Value::String(namespace.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(text: &str) -> Result<ManifestSet, ManifestErrors> {
        manifests_from_str("app.yaml", text, "guestbook")
    }

    fn err(text: &str) -> String {
        match load(text) {
            Ok(s) => panic!("expected an error, got {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn objects_with_sources_scopes_and_default_namespaces() {
        let text = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: b}
---
apiVersion: v1
kind: Namespace
metadata:
  name: guestbook
---
# a comment
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: other}
---
apiVersion: example.com/v1
kind: Gadget
metadata: {name: g}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {kind: Gadget, plural: gadgets}
";
        let set = load(text).expect("valid");
        let o = &set.objects;
        assert_eq!(o.len(), 5);
        assert_eq!(o[0].source.to_string(), "app.yaml:1:1");
        assert_eq!(o[0].object.to_string(), "ConfigMap guestbook/settings");
        assert_eq!(o[0].body["metadata"]["namespace"], "guestbook");
        assert_eq!(o[0].scope, ObjectScope::Namespaced);
        assert_eq!(o[1].source.to_string(), "app.yaml:6:1");
        assert_eq!(o[1].scope, ObjectScope::Cluster);
        assert_eq!(o[1].object.namespace, None);
        assert!(o[1].body["metadata"].get("namespace").is_none());
        assert_eq!(o[2].source.line, 12);
        assert_eq!(o[2].scope, ObjectScope::Unknown);
        assert_eq!(o[2].object.namespace.as_deref(), Some("other"));
        assert_eq!(o[3].scope, ObjectScope::Cluster, "its CRD says Cluster");
        assert_eq!(o[3].object.namespace, None);
        assert!(set.crd_for("example.com", "Gadget").is_some());
    }

    #[test]
    fn located_errors_with_hints() {
        assert_eq!(
            err("a: [1\n"),
            "app.yaml:2:1: not YAML: while parsing a flow sequence, expected ',' or ']' (hint: check the indentation and the quoting here)"
        );
        assert_eq!(
            err("- a\n- b\n"),
            "app.yaml:1:1: a manifest document must be a Kubernetes object (a mapping), found a list (hint: write one object per document, with apiVersion, kind and metadata, separated by `---`)"
        );
        assert_eq!(
            err("kind: ConfigMap\nmetadata: {name: x}\n"),
            "app.yaml:1:1: the object has no apiVersion (hint: add e.g. `apiVersion: v1` or `apiVersion: apps/v1`)"
        );
        assert_eq!(
            err("apiVersion: v1\nmetadata: {name: x}\n"),
            "app.yaml:1:1: the object has no kind (hint: add e.g. `kind: ConfigMap`)"
        );
        assert_eq!(
            err("apiVersion: v1\nkind: ConfigMap\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  labels: {a: b}\n"),
            "app.yaml:1:1: ConfigMap has no metadata.name (hint: add `metadata: {name: ...}`)\napp.yaml:7:3: Secret has no metadata.name (hint: add `name: ...` under metadata)"
        );
        assert_eq!(
            err("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 3}\n"),
            "app.yaml:3:18: name must be a non-empty string, found the number 3 (hint: add `name: ...` under metadata)"
        );
        assert_eq!(
            err("apiVersion: v1\nkind: Namespace\nmetadata: {name: a, namespace: b}\n"),
            "app.yaml:1:1: Namespace a is cluster-scoped but sets metadata.namespace `b` (hint: remove metadata.namespace)"
        );
        assert_eq!(
            err("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: guestbook}\n"),
            "app.yaml:5:1: ConfigMap guestbook/a is written twice (hint: it is first written at app.yaml:1:1)"
        );
        assert_eq!(
            err("apiVersion: a/b/c\nkind: X\nmetadata: {name: a}\n"),
            "app.yaml:1:13: apiVersion `a/b/c` is not VERSION or GROUP/VERSION (hint: e.g. `v1`, `apps/v1`)"
        );
    }

    #[test]
    fn secret_string_data_is_folded_into_data() {
        let set = load("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: YQ==}\nstringData: {b: hello}\n")
            .expect("valid");
        assert_eq!(
            set.objects[0].body["data"],
            json!({"a": "YQ==", "b": "aGVsbG8="})
        );
        assert!(set.objects[0].body.get("stringData").is_none());
    }

    #[test]
    fn directories_are_read_in_name_order() {
        let dir = std::env::temp_dir().join(format!("fedstack-manifests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join("b.yml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
        )
        .expect("write");
        std::fs::write(
            dir.join("a.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a2}\n",
        )
        .expect("write");
        std::fs::write(dir.join("notes.txt"), "not yaml: [").expect("write");
        let set = load_manifests(&dir, "default").expect("valid");
        let names: Vec<&str> = set.objects.iter().map(|m| m.object.name.as_str()).collect();
        assert_eq!(names, ["a", "a2", "b"]);
        assert!(set.objects[1].source.file.ends_with("a.yaml"));
        assert_eq!(set.objects[1].source.line, 5);
        let missing = load_manifests(&dir.join("nope"), "default").expect_err("missing");
        assert!(missing.to_string().contains("cannot read it"), "{missing}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
