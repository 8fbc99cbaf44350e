//! The manifests of the stack's workloads, read when the stack is: each
//! `workload.<cluster>.<name>` gets the objects its cluster will get (its share of the
//! replicas, its overrides) as the `objects` attribute, in the recorded form (Secret
//! data as a fingerprint), so plans show per object what changes. The core does no
//! I/O; this is the edge that reads the files for it.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use fedstack_core::address::{Address, ResourceKind};
use fedstack_core::stack::DesiredStack;
use fedstack_core::value::Expr;
use fedstack_kube::workload_resource::REF_PREFIX;
use fedstack_kube::workloads::{
    image_references, load_manifests, recorded, render, ManifestError, ManifestSet,
};
use serde_json::Value;

use crate::error::CliError;

fn literal<'a>(attrs: &'a fedstack_core::value::Attrs, key: &str) -> Option<&'a Value> {
    match attrs.get(key) {
        Some(Expr::Literal(v)) => Some(v),
        _ => None,
    }
}

/// Adds `objects` to every workload resource of `stack` (declared in `stack_file`).
/// Every problem is reported, one per line: the manifests' own at their file:line:column,
/// an override that does not apply at the workload in the stack file.
pub fn render_objects(stack: &mut DesiredStack, stack_file: &str) -> Result<(), CliError> {
    let mut loaded: HashMap<(String, String), Result<ManifestSet, String>> = HashMap::new();
    let mut problems: Vec<String> = Vec::new();
    let images: BTreeSet<Address> = stack
        .resources
        .iter()
        .filter(|r| r.address.kind == ResourceKind::Image)
        .map(|r| r.address.clone())
        .collect();
    for res in &mut stack.resources {
        if res.address.kind != ResourceKind::Workload {
            continue;
        }
        let text = |k: &str| {
            literal(&res.attrs, k)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let (Some(path), Some(namespace)) = (text("manifests"), text("namespace")) else {
            continue;
        };
        let workload = res
            .address
            .name
            .split_once('.')
            .map_or("?", |(_, w)| w)
            .to_string();
        let span = res.span;
        let set = loaded
            .entry((path.clone(), namespace.clone()))
            .or_insert_with(|| {
                load_manifests(Path::new(&path), &namespace).map_err(|errors| {
                    let lines: Vec<String> = errors
                        .0
                        .iter()
                        .map(|e| match e {
                            // Where the stack names the files: the stack's location.
                            ManifestError::Io { path, message } => format!(
                                "{stack_file}:{}:{}: workload `{workload}`: manifests {path}: {message} (hint: `manifests` is a YAML file or directory relative to the stack file's directory)",
                                span.line, span.column
                            ),
                            other => other.to_string(),
                        })
                        .collect();
                    lines.join("\n")
                })
            });
        let set = match set {
            Ok(s) => s,
            Err(e) => {
                if !problems.contains(e) {
                    problems.push(e.clone());
                }
                continue;
            }
        };
        let replicas = literal(&res.attrs, "replicas").and_then(Value::as_u64);
        let overrides = literal(&res.attrs, "overrides")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        match render(set, replicas, &overrides) {
            Ok(out) => {
                let objects = recorded(&out);
                // Deployed by digest: each `${image.NAME.REGISTRY.ref}` becomes a
                // reference the engine resolves once the image is copied (after it).
                for r in image_references(&objects) {
                    let parts: Vec<&str> = r.split('.').collect();
                    let known = match parts.as_slice() {
                        ["image", name, registry, output @ ("ref" | "digest")] => {
                            let a = Address::new(ResourceKind::Image, format!("{name}.{registry}"));
                            images.contains(&a).then_some((a, *output))
                        }
                        _ => None,
                    };
                    let Some((address, output)) = known else {
                        let mut declared: Vec<String> =
                            images.iter().map(|a| format!("${{{a}.ref}}")).collect();
                        declared.sort();
                        let hint = if declared.is_empty() {
                            "the stack declares no images: add them under `images:`".to_string()
                        } else {
                            format!("the stack's images: {}", declared.join(", "))
                        };
                        problems.push(format!(
                            "{stack_file}:{}:{}: workload `{workload}` on cluster `{}` refers to ${{{r}}}, which is not an image of the stack (hint: {hint})",
                            span.line,
                            span.column,
                            res.address.name.split_once('.').map_or("?", |(c, _)| c)
                        ));
                        continue;
                    };
                    res.attrs.insert(
                        format!("{REF_PREFIX}{r}"),
                        Expr::reference(address.clone(), output),
                    );
                    if !res.depends_on.contains(&address) {
                        res.depends_on.push(address);
                        res.depends_on.sort();
                    }
                }
                res.attrs.insert("objects".into(), Expr::lit(objects));
            }
            Err(e) => {
                let (cluster, workload) = res.address.name.split_once('.').unwrap_or(("?", "?"));
                problems.push(format!(
                    "{stack_file}:{}:{}: workload `{workload}`, override {} of cluster `{cluster}`: {} (hint: {})",
                    res.span.line,
                    res.span.column,
                    e.patch + 1,
                    e.message,
                    e.hint
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(problems.join("\n")))
    }
}
