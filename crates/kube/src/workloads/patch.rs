//! RFC 6902 JSON Patch operations on one object, for a workload's per-cluster
//! `overrides`. Small enough to keep here rather than take a crate for: the six
//! operations over RFC 6901 pointers, with errors that say which path is missing.

use serde_json::Value;

/// Why a patch did not apply (the caller adds which object and which patch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchError(pub String);

/// Applies one operation to `doc`. `value` is needed by add, replace and test; `from`
/// by copy and move.
pub fn apply_op(
    doc: &mut Value,
    op: &str,
    path: &str,
    value: Option<&Value>,
    from: Option<&str>,
) -> Result<(), PatchError> {
    let need_value = || {
        value
            .cloned()
            .ok_or_else(|| PatchError(format!("`{op}` needs a `value`")))
    };
    let need_from = || from.ok_or_else(|| PatchError(format!("`{op}` needs a `from`")));
    match op {
        "add" => add(doc, path, need_value()?),
        "remove" => remove(doc, path).map(|_| ()),
        "replace" => {
            let v = need_value()?;
            let target = get_mut(doc, path)?;
            *target = v;
            Ok(())
        }
        "test" => {
            let v = need_value()?;
            let target = get_mut(doc, path)?;
            if *target == v {
                Ok(())
            } else {
                Err(PatchError(format!(
                    "test failed: {path} is {}, not {v}",
                    short(target)
                )))
            }
        }
        "copy" => {
            let v = get_mut(doc, need_from()?)?.clone();
            add(doc, path, v)
        }
        "move" => {
            let f = need_from()?;
            if path.starts_with(&format!("{f}/")) {
                return Err(PatchError(format!("cannot move {f} into itself ({path})")));
            }
            let v = remove(doc, f)?;
            add(doc, path, v)
        }
        other => Err(PatchError(format!("unknown operation `{other}`"))),
    }
}

/// The reference tokens of an RFC 6901 pointer (`""` is the whole document).
fn tokens(path: &str) -> Result<Vec<String>, PatchError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(PatchError(format!(
            "path `{path}` is not a JSON pointer (it starts with `/`)"
        )));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn index(token: &str, len: usize, path: &str) -> Result<usize, PatchError> {
    let ok = !token.is_empty()
        && token.chars().all(|c| c.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    match token.parse::<usize>() {
        Ok(i) if ok && i < len => Ok(i),
        _ => Err(PatchError(format!(
            "path {path} does not exist (the list has {len} item{})",
            if len == 1 { "" } else { "s" }
        ))),
    }
}

fn get_mut<'a>(doc: &'a mut Value, path: &str) -> Result<&'a mut Value, PatchError> {
    let mut here = doc;
    let mut walked = String::new();
    for t in tokens(path)? {
        walked.push('/');
        walked.push_str(&t);
        here = match here {
            Value::Object(m) => m
                .get_mut(&t)
                .ok_or_else(|| PatchError(format!("path {walked} does not exist")))?,
            Value::Array(a) => {
                let i = index(&t, a.len(), &walked)?;
                &mut a[i]
            }
            other => {
                return Err(PatchError(format!(
                    "path {walked} does not exist ({} is {}, not a mapping or list)",
                    &walked[..walked.len() - t.len() - 1],
                    short(other)
                )))
            }
        };
    }
    Ok(here)
}

/// The parent of the pointer's target and the last token.
fn parent<'a>(doc: &'a mut Value, path: &str) -> Result<(&'a mut Value, String), PatchError> {
    let mut ts = tokens(path)?;
    let Some(last) = ts.pop() else {
        return Err(PatchError(
            "a patch of the whole object is not allowed (path is empty)".into(),
        ));
    };
    let parent_path: String = ts.iter().map(|t| format!("/{}", escape(t))).collect();
    let p = get_mut(doc, &parent_path)?;
    Ok((p, last))
}

fn escape(t: &str) -> String {
    t.replace('~', "~0").replace('/', "~1")
}

fn add(doc: &mut Value, path: &str, v: Value) -> Result<(), PatchError> {
    let (p, last) = parent(doc, path)?;
    match p {
        Value::Object(m) => {
            m.insert(last, v);
            Ok(())
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(v);
                return Ok(());
            }
            // Inserting at the end (index == len) is allowed.
            let i = index(&last, a.len() + 1, path)?;
            a.insert(i, v);
            Ok(())
        }
        other => Err(PatchError(format!(
            "path {path} does not exist (its parent is {}, not a mapping or list)",
            short(other)
        ))),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, PatchError> {
    let (p, last) = parent(doc, path)?;
    match p {
        Value::Object(m) => m
            .shift_remove(&last)
            .ok_or_else(|| PatchError(format!("path {path} does not exist"))),
        Value::Array(a) => {
            let i = index(&last, a.len(), path)?;
            Ok(a.remove(i))
        }
        other => Err(PatchError(format!(
            "path {path} does not exist (its parent is {})",
            short(other)
        ))),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}...", s.chars().take(37).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "web", "image": "web:1"}
        ]}}}, "metadata": {"labels": {"a/b": "x"}}})
    }

    #[test]
    fn the_six_operations() {
        let mut d = doc();
        let img = "/spec/template/spec/containers/0/image";
        apply_op(&mut d, "replace", img, Some(&json!("web:2")), None).expect("ok");
        assert_eq!(d.pointer(img), Some(&json!("web:2")));
        apply_op(&mut d, "add", "/spec/paused", Some(&json!(true)), None).expect("ok");
        apply_op(
            &mut d,
            "add",
            "/spec/template/spec/containers/-",
            Some(&json!({"name": "side"})),
            None,
        )
        .expect("ok");
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][1]["name"],
            "side"
        );
        apply_op(&mut d, "remove", "/spec/paused", None, None).expect("ok");
        assert!(d["spec"].get("paused").is_none());
        apply_op(&mut d, "test", "/spec/replicas", Some(&json!(1)), None).expect("ok");
        apply_op(&mut d, "copy", "/spec/copied", None, Some("/spec/replicas")).expect("ok");
        apply_op(&mut d, "move", "/spec/moved", None, Some("/spec/copied")).expect("ok");
        assert_eq!(d["spec"]["moved"], 1);
        assert!(d["spec"].get("copied").is_none());
        // RFC 6901 escapes: `~1` is `/`.
        apply_op(
            &mut d,
            "replace",
            "/metadata/labels/a~1b",
            Some(&json!("y")),
            None,
        )
        .expect("ok");
        assert_eq!(d["metadata"]["labels"]["a/b"], "y");
    }

    #[test]
    fn a_missing_path_is_named() {
        let mut d = doc();
        let e = apply_op(
            &mut d,
            "replace",
            "/spec/template/spec/containers/3/image",
            Some(&json!("x")),
            None,
        )
        .expect_err("an error");
        assert_eq!(
            e.0,
            "path /spec/template/spec/containers/3 does not exist (the list has 1 item)"
        );
        let e = apply_op(&mut d, "remove", "/spec/nope", None, None).expect_err("an error");
        assert_eq!(e.0, "path /spec/nope does not exist");
        let e = apply_op(&mut d, "add", "/spec/a/b", Some(&json!(1)), None).expect_err("an error");
        assert_eq!(e.0, "path /spec/a does not exist");
        let e = apply_op(&mut d, "test", "/spec/replicas", Some(&json!(2)), None)
            .expect_err("an error");
        assert_eq!(e.0, "test failed: /spec/replicas is 1, not 2");
        let e = apply_op(&mut d, "replace", "spec", Some(&json!(2)), None).expect_err("an error");
        assert!(e.0.contains("not a JSON pointer"), "{}", e.0);
        let e = apply_op(
            &mut d,
            "add",
            "/spec/template/spec/containers/01",
            Some(&json!(2)),
            None,
        )
        .expect_err("an error");
        assert!(e.0.contains("does not exist"), "{}", e.0);
    }
}
