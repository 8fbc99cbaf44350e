//! Attribute values of desired resources: literals, or references to another
//! resource's output that are only known once that resource exists.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::address::Address;

/// One desired attribute value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// A literal value.
    Literal(Value),
    /// The output `output` of resource `address`, e.g. `cluster.gke-sydney.endpoint`.
    Ref { address: Address, output: String },
    /// A list whose items may be references (a simple record's values).
    List(Vec<Expr>),
    /// A string with `${ADDRESS.OUTPUT}` references in it.
    Template(Vec<TemplatePart>),
}

/// A piece of a [`Expr::Template`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplatePart {
    Text(String),
    Ref { address: Address, output: String },
}

/// Desired attributes by name.
pub type Attrs = BTreeMap<String, Expr>;
/// Concrete attribute values by name.
pub type Values = BTreeMap<String, Value>;

/// An attribute value as far as it is known at plan time.
#[derive(Debug, Clone, PartialEq)]
pub enum Known {
    Value(Value),
    /// Known only after apply: the referenced resource is not created yet.
    Unknown,
}

impl Expr {
    pub fn lit(v: impl Into<Value>) -> Expr {
        Expr::Literal(v.into())
    }

    pub fn reference(address: Address, output: &str) -> Expr {
        Expr::Ref {
            address,
            output: output.to_string(),
        }
    }

    /// Every address this expression refers to.
    pub fn references(&self, out: &mut Vec<Address>) {
        match self {
            Expr::Literal(_) => {}
            Expr::Ref { address, .. } => out.push(address.clone()),
            Expr::List(items) => items.iter().for_each(|i| i.references(out)),
            Expr::Template(parts) => {
                for p in parts {
                    if let TemplatePart::Ref { address, .. } = p {
                        out.push(address.clone());
                    }
                }
            }
        }
    }

    /// Resolves references with `lookup(address, output)`; `None` from the lookup
    /// makes the whole value unknown.
    pub fn resolve(&self, lookup: &mut dyn FnMut(&Address, &str) -> Option<Value>) -> Known {
        match self {
            Expr::Literal(v) => Known::Value(v.clone()),
            Expr::Ref { address, output } => match lookup(address, output) {
                Some(v) => Known::Value(v),
                None => Known::Unknown,
            },
            Expr::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    match i.resolve(lookup) {
                        Known::Value(v) => out.push(v),
                        Known::Unknown => return Known::Unknown,
                    }
                }
                Known::Value(Value::Array(out))
            }
            Expr::Template(parts) => {
                let mut s = String::new();
                for p in parts {
                    match p {
                        TemplatePart::Text(t) => s.push_str(t),
                        TemplatePart::Ref { address, output } => match lookup(address, output) {
                            Some(Value::String(v)) => s.push_str(&v),
                            Some(v) => s.push_str(&v.to_string()),
                            None => return Known::Unknown,
                        },
                    }
                }
                Known::Value(Value::String(s))
            }
        }
    }
}

/// Whether an attribute already has the wanted value; `null` counts as "not set".
pub fn same_value(wanted: &Value, actual: Option<&Value>) -> bool {
    match actual {
        Some(a) => a == wanted,
        None => wanted.is_null(),
    }
}

/// The names of the attributes of `wanted` that `actual` does not already have.
pub fn changed_attributes(wanted: &Values, actual: Option<&Values>) -> Vec<String> {
    wanted
        .iter()
        .filter(|(k, v)| !same_value(v, actual.and_then(|a| a.get(*k))))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Parses `${ADDRESS.OUTPUT}` references in a string. A string without any is a
/// literal. Returns the offending text when a reference is malformed.
pub fn parse_template(s: &str) -> Result<Expr, String> {
    if !s.contains("${") {
        return Ok(Expr::Literal(Value::String(s.to_string())));
    }
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            parts.push(TemplatePart::Text(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `${{` in `{s}`"))?;
        let inner = after[..end].trim();
        let (addr, output) = split_reference(inner).ok_or_else(|| {
            format!("`${{{inner}}}` is not a reference of the form ${{KIND.NAME.OUTPUT}}")
        })?;
        parts.push(TemplatePart::Ref {
            address: addr,
            output,
        });
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Text(rest.to_string()));
    }
    if let [TemplatePart::Ref { address, output }] = parts.as_slice() {
        return Ok(Expr::Ref {
            address: address.clone(),
            output: output.clone(),
        });
    }
    Ok(Expr::Template(parts))
}

/// Splits `KIND.NAME.OUTPUT` at its last dot into an address and an output name.
pub fn split_reference(s: &str) -> Option<(Address, String)> {
    let (addr, output) = s.rsplit_once('.')?;
    let address: Address = addr.parse().ok()?;
    if output.is_empty() {
        return None;
    }
    Some((address, output.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::ResourceKind;

    #[test]
    fn template_with_one_reference_is_a_reference() {
        let e = parse_template("${cluster.a.endpoint}").expect("valid");
        assert_eq!(
            e,
            Expr::reference(Address::new(ResourceKind::Cluster, "a"), "endpoint")
        );
    }

    #[test]
    fn template_resolves_and_unknown_propagates() {
        let e = parse_template("https://${cluster.a.endpoint}:443").expect("valid");
        let got = e.resolve(&mut |_, _| Some(Value::String("1.2.3.4".into())));
        assert_eq!(
            got,
            Known::Value(Value::String("https://1.2.3.4:443".into()))
        );
        assert_eq!(e.resolve(&mut |_, _| None), Known::Unknown);
    }

    #[test]
    fn malformed_templates_are_errors() {
        assert!(parse_template("${cluster.a").is_err());
        assert!(parse_template("${nothing}").is_err());
    }
}
