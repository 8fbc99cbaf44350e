//! The `workloads:` section: Kubernetes manifests applied to federation members, one
//! `workload.<cluster>.<workload>` resource per placed cluster. The manifests are not
//! read here (the core does no I/O): the resource carries their path, its share of
//! the replicas and its patches, and whoever applies it reads and checks them.

use std::collections::BTreeMap;

use serde_json::{Map as JsonMap, Value};

use super::cx::{
    as_str, clip, found, list_hint, one_of, parse_int, to_json, Field, Fmt, FxMap, Obj, Sp,
};
use super::load::Loader;
use super::names;
use super::yaml::{Node, Scalar};
use super::Span;
use crate::address::{Address, ResourceKind};
use crate::value::{Attrs, Expr};

const FIELDS: &[&str] = &[
    "manifests",
    "namespace",
    "placement",
    "replicas",
    "overrides",
    "wait",
    "timeout",
    "adopt",
];
const PLACEMENT_FIELDS: &[&str] = &["clusters", "selector"];
const REPLICAS_FIELDS: &[&str] = &["total", "weights"];
const PATCH_FIELDS: &[&str] = &["kind", "name", "op", "path", "value", "from"];

/// The RFC 6902 operations a patch in `overrides` may use.
pub const PATCH_OPS: &[&str] = &["add", "remove", "replace", "test", "copy", "move"];
/// Operations that need `value`, and those that need `from`.
const VALUE_OPS: &[&str] = &["add", "replace", "test"];
const FROM_OPS: &[&str] = &["copy", "move"];

/// `timeout` when not set: 5 minutes, in milliseconds.
pub const DEFAULT_WORKLOAD_TIMEOUT_MS: u64 = 300_000;
/// `timeout` bounds, in milliseconds (1s..=1h).
const MIN_TIMEOUT_MS: u64 = 1_000;
const MAX_TIMEOUT_MS: u64 = 3_600_000;

const MANIFESTS_HINT: &str = "`manifests` is the YAML file or directory of the workload's objects, relative to the stack file, e.g. `manifests: ../examples/guestbook/`";
const TOTAL_HINT: &str =
    "`total` is how many replicas each Deployment and StatefulSet has across the placed clusters, e.g. `total: 9`";
const WEIGHT_HINT: &str = "a weight is a whole number, at least 1, e.g. `weights: { a: 2, b: 1 }`; a cluster that should run none does not belong in the placement";
const PATCH_HINT: &str = "a patch selects an object by `kind` and `name` and changes it with `op` and `path`, e.g. `{ kind: Deployment, name: web, op: replace, path: /spec/replicas, value: 2 }`";

/// Upper bounds of `replicas.total` and of a weight.
const MAX_TOTAL: i64 = 1_000_000;
const MAX_WEIGHT: i64 = 1_000_000;

/// The federation's members as far as the workloads can tell: `None` when the stack
/// has no federation or its members could not be read (reported), so that
/// membership is not checked.
type Members = Option<Vec<String>>;

impl Loader<'_> {
    pub(super) fn workloads(&mut self, key: &Scalar, entries: &[(Scalar, Node)]) {
        if entries.is_empty() {
            return;
        }
        if self.federation.is_none() {
            self.cx.error(
                key.span,
                "`workloads` needs a `federation`: workloads are placed on its members",
                Some(
                    "add a `federation` section with the clusters as `members`, one of them the `host`"
                        .to_string(),
                ),
            );
        }
        let members: Members = self
            .federation
            .as_ref()
            .filter(|f| !f.unreadable)
            .map(|f| f.members.clone());
        for (k, v) in entries {
            self.workload(&members, k, v);
        }
    }

    fn workload(&mut self, members: &Members, key: &Scalar, node: &Node) {
        let name = key.text.to_string();
        let mut ok = true;
        if !names::workload_name_ok(&name) {
            self.cx.error(
                key.span,
                format!("invalid workload name `{}`", clip(&name)),
                Some(names::WORKLOAD_NAME_HINT.to_string()),
            );
            ok = false;
        }
        let what = format!("workload `{}`", clip(&name));
        let Some(obj) = Obj::new(&mut self.cx, node, what.clone(), key.span) else {
            return;
        };
        obj.check_fields(&mut self.cx, FIELDS);

        let manifests = self
            .str_req_hint(&obj, "manifests", MANIFESTS_HINT)
            .filter(|m| {
                let empty = m.v.trim().is_empty();
                if empty {
                    self.not_empty(m, &Field("manifests", &what).to_string());
                }
                !empty
            });
        let namespace = match obj.str_opt(&mut self.cx, "namespace") {
            None => Some(name.clone()),
            Some(n) if names::namespace_ok(&n.v) => Some(n.v),
            Some(n) => {
                self.cx.error(
                    n.span,
                    format!("invalid namespace `{}` in {what}", clip(&n.v)),
                    Some(names::NAMESPACE_HINT.to_string()),
                );
                None
            }
        };
        let placed = self.placement(members, &obj, &what);
        let replicas = self.replicas(&obj, &what, placed.as_deref());
        let overrides = self.overrides(&obj, &what, placed.as_deref());
        let wait = match obj.get("wait") {
            None => Some(true),
            Some(_) => obj.bool_opt(&mut self.cx, "wait").map(|w| w.v),
        };
        let adopt = match obj.get("adopt") {
            None => Some(false),
            Some(_) => obj.bool_opt(&mut self.cx, "adopt").map(|a| a.v),
        };
        let timeout = match obj.get("timeout") {
            None => Some(DEFAULT_WORKLOAD_TIMEOUT_MS),
            Some((_, Node::Scalar(s))) => self.workload_timeout(s, &what),
            Some((_, n)) => {
                self.cx.error(
                    n.span(),
                    format!(
                        "expected a duration for {}, found {}",
                        Field("timeout", &what),
                        found(n)
                    ),
                    Some(names::DURATION_HINT.to_string()),
                );
                None
            }
        };

        let (
            true,
            Some(manifests),
            Some(namespace),
            Some(placed),
            Some(replicas),
            Some(mut overrides),
            Some(wait),
            Some(adopt),
            Some(timeout),
        ) = (
            ok, manifests, namespace, placed, replicas, overrides, wait, adopt, timeout,
        )
        else {
            return;
        };
        let Some(federation) = &self.federation else {
            return;
        };
        let cloud = federation.cloud.clone();
        let manifests = manifests_path(self.cx.file, &manifests.v);
        for cluster in placed {
            let mut attrs = Attrs::new();
            attrs.insert("cluster".into(), Expr::lit(cluster.clone()));
            attrs.insert("workload".into(), Expr::lit(name.clone()));
            attrs.insert("manifests".into(), Expr::lit(manifests.clone()));
            attrs.insert("namespace".into(), Expr::lit(namespace.clone()));
            if let Some(share) = replicas.as_ref().and_then(|r| r.get(&cluster)) {
                attrs.insert("replicas".into(), Expr::lit(*share));
            }
            if let Some(patches) = overrides.remove(&cluster) {
                attrs.insert("overrides".into(), Expr::lit(Value::Array(patches)));
            }
            attrs.insert("wait".into(), Expr::lit(wait));
            attrs.insert("timeout".into(), Expr::lit(timeout));
            attrs.insert("adopt".into(), Expr::lit(adopt));
            // After the join, and after the cluster's node pools: pods need nodes to run.
            let mut deps = vec![Address::new(
                ResourceKind::FederationMember,
                cluster.clone(),
            )];
            if let Some(info) = self.clusters.get(&cluster) {
                deps.extend(info.pools.iter().cloned());
            }
            let address = Address::new(ResourceKind::Workload, format!("{cluster}.{name}"));
            self.push(address, cloud.clone(), attrs, deps, key.span);
        }
    }

    /// The clusters the workload goes to, sorted by name; `None` when they can't be
    /// told (reported, or the federation is unknown).
    fn placement(&mut self, members: &Members, obj: &Obj, what: &str) -> Option<Vec<String>> {
        let Some((pkey, pnode)) = obj.get("placement") else {
            let mut all = members.clone()?;
            if all.is_empty() {
                self.cx.error(
                    obj.at,
                    format!("{what} has no cluster to go to: the federation has no members"),
                    Some("add clusters to `federation.members`, or set `placement`".to_string()),
                );
                return None;
            }
            all.sort_unstable();
            return Some(all);
        };
        let label = format!("`placement` of {what}");
        let pobj = Obj::new(&mut self.cx, pnode, label.clone(), pkey.span)?;
        pobj.check_fields(&mut self.cx, PLACEMENT_FIELDS);
        match (pobj.get("clusters"), pobj.get("selector")) {
            (Some(_), Some((skey, _))) => {
                self.cx.error(
                    skey.span,
                    format!("{label} sets both `clusters` and `selector`"),
                    Some("keep one of them".to_string()),
                );
                None
            }
            (None, None) => {
                self.cx.error(
                    pkey.span,
                    format!("{label} needs `clusters` or `selector`"),
                    Some(
                        "e.g. `placement: { clusters: [a, b] }`, or leave `placement` out to place it on every federation member"
                            .to_string(),
                    ),
                );
                None
            }
            (Some((ckey, _)), None) => self.placement_clusters(members, &pobj, ckey.span, &label),
            (None, Some((skey, _))) => self.placement_selector(members, &pobj, skey.span, &label),
        }
    }

    fn placement_clusters(
        &mut self,
        members: &Members,
        pobj: &Obj,
        at: Span,
        label: &str,
    ) -> Option<Vec<String>> {
        let items = pobj.list_opt(&mut self.cx, "clusters")?;
        if items.is_empty() {
            self.cx.error(
                at,
                format!("`clusters` in {label} is empty"),
                Some(
                    "name at least one federation member, or leave `placement` out to place it on all of them"
                        .to_string(),
                ),
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        let mut first_seen: FxMap<String, Span> = FxMap::default();
        for item in items {
            let Some(c) = as_str(
                &mut self.cx,
                item,
                Fmt(|f| write!(f, "an entry of `clusters` in {label}")),
            ) else {
                ok = false;
                continue;
            };
            if let Some(first) = first_seen.get(&c.v) {
                self.cx.error(
                    c.span,
                    format!("cluster `{}` is listed twice in {label}", clip(&c.v)),
                    Some(format!(
                        "it is first listed at line {}, column {}",
                        first.line, first.column
                    )),
                );
                ok = false;
                continue;
            }
            first_seen.insert(c.v.clone(), c.span);
            if !self.known_cluster(&c, label) {
                ok = false;
                continue;
            }
            if let Some(m) = members {
                if !m.contains(&c.v) {
                    self.cx.error(
                        c.span,
                        format!(
                            "cluster `{}` in {label} is not a federation member",
                            clip(&c.v)
                        ),
                        Some(format!("add `{}` to `federation.members`", clip(&c.v))),
                    );
                    ok = false;
                    continue;
                }
            }
            out.push(c.v);
        }
        out.sort_unstable();
        (ok && members.is_some()).then_some(out)
    }

    fn placement_selector(
        &mut self,
        members: &Members,
        pobj: &Obj,
        at: Span,
        label: &str,
    ) -> Option<Vec<String>> {
        let entries = pobj.map_opt(&mut self.cx, "selector")?;
        if entries.is_empty() {
            self.cx.error(
                at,
                format!("`selector` in {label} is empty"),
                Some(
                    "name at least one cluster label, e.g. `selector: { env: prod }`, or leave `placement` out to place it on every federation member"
                        .to_string(),
                ),
            );
            return None;
        }
        let mut selector: Vec<(String, String)> = Vec::new();
        let mut ok = true;
        for (k, v) in entries {
            let value = match v {
                Node::Scalar(s) if s.is_null() => Some(String::new()),
                n => as_str(
                    &mut self.cx,
                    n,
                    Fmt(|f| write!(f, "label `{}` in `selector` of {label}", clip(&k.text))),
                )
                .map(|s| s.v),
            };
            match value {
                Some(value) => selector.push((k.text.to_string(), value)),
                None => ok = false,
            }
        }
        let members = members.as_ref()?;
        if !ok {
            return None;
        }
        let mut out: Vec<String> = members
            .iter()
            .filter(|m| {
                self.clusters.get(*m).is_some_and(|info| {
                    selector
                        .iter()
                        .all(|(k, v)| info.labels.get(k).and_then(Value::as_str) == Some(v))
                })
            })
            .cloned()
            .collect();
        if out.is_empty() {
            let hint =
                list_hint("federation members", members.iter().map(String::as_str)).map(|list| {
                    format!("no member has all of these labels; set them in `labels` of the clusters that should run it; {list}")
                });
            self.cx.error(
                at,
                format!("`selector` in {label} matches no federation member"),
                hint,
            );
            return None;
        }
        out.sort_unstable();
        Some(out)
    }

    /// `replicas`: each placed cluster's share of `total`. `Some(None)` when absent;
    /// `None` when wrong (reported) or the placement is unknown.
    fn replicas(
        &mut self,
        obj: &Obj,
        what: &str,
        placed: Option<&[String]>,
    ) -> Option<Option<BTreeMap<String, u64>>> {
        let Some((rkey, rnode)) = obj.get("replicas") else {
            return Some(None);
        };
        let label = format!("`replicas` of {what}");
        let robj = Obj::new(&mut self.cx, rnode, label.clone(), rkey.span)?;
        robj.check_fields(&mut self.cx, REPLICAS_FIELDS);
        let total = robj.req(&mut self.cx, "total").and_then(|(_, v)| {
            self.positive_int(v, &format!("`total` in {label}"), MAX_TOTAL, TOTAL_HINT)
        });

        let mut ok = true;
        let mut weights: BTreeMap<String, u64> = BTreeMap::new();
        let weights_key = robj.get("weights").map(|(k, _)| k.span);
        if let Some(entries) = robj.map_opt(&mut self.cx, "weights") {
            let wlabel = format!("`replicas.weights` of {what}");
            for (k, v) in entries {
                let c = Sp {
                    v: k.text.to_string(),
                    span: k.span,
                };
                let weight = self.positive_int(
                    v,
                    &format!("the weight of `{}` in {label}", clip(&c.v)),
                    MAX_WEIGHT,
                    WEIGHT_HINT,
                );
                if !self.known_cluster(&c, &wlabel) {
                    ok = false;
                    continue;
                }
                if let Some(placed) = placed {
                    if !placed.contains(&c.v) {
                        self.cx.error(
                            c.span,
                            format!(
                                "weight for cluster `{}` in {label}, which is not placed on it",
                                clip(&c.v)
                            ),
                            Some(format!(
                                "place the workload on `{}` too, or remove its weight",
                                clip(&c.v)
                            )),
                        );
                        ok = false;
                        continue;
                    }
                }
                match weight {
                    Some(w) => {
                        weights.insert(c.v, w.v);
                    }
                    None => ok = false,
                }
            }
        } else if robj.get("weights").is_some() {
            ok = false;
        }
        let (Some(placed), Some(total), true) = (placed, total, ok) else {
            return None;
        };
        match weights_key {
            Some(at) => {
                let missing: Vec<&str> = placed
                    .iter()
                    .filter(|c| !weights.contains_key(*c))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    self.cx.error(
                        at,
                        if missing.len() == 1 {
                            format!(
                                "cluster {} is placed but has no weight in {label}",
                                names_list(&missing)
                            )
                        } else {
                            format!(
                                "clusters {} are placed but have no weight in {label}",
                                names_list(&missing)
                            )
                        },
                        Some(
                            "give every placed cluster a weight, or leave `weights` out for equal ones"
                                .to_string(),
                        ),
                    );
                    return None;
                }
            }
            None => {
                weights = placed.iter().map(|c| (c.clone(), 1)).collect();
            }
        }
        let shares = apportion(total.v, &weights);
        let zero: Vec<&str> = shares
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(c, _)| c.as_str())
            .collect();
        if !zero.is_empty() {
            let would = "would get no replicas";
            let n = weights.len();
            if total.v < n as u64 {
                self.cx.error(
                    total.span,
                    format!(
                        "`total` ({}) in {label} is smaller than the number of clusters it is divided over ({n}): {} {would}",
                        total.v,
                        names_list(&zero)
                    ),
                    Some(format!(
                        "raise `total` to at least {n}, or place the workload on fewer clusters"
                    )),
                );
            } else {
                self.cx.error(
                    total.span,
                    format!(
                        "`total` ({}) in {label} is too small for its weights: {} {would}",
                        total.v,
                        names_list(&zero)
                    ),
                    Some("raise `total`, or bring the weights closer together".to_string()),
                );
            }
            return None;
        }
        Some(Some(shares))
    }

    /// A positive integer at most `max`.
    fn positive_int(&mut self, node: &Node, label: &str, max: i64, why: &str) -> Option<Sp<u64>> {
        let parsed = match node {
            Node::Scalar(s) => parse_int(s).map(|v| (v, s.span)),
            _ => None,
        };
        let Some((v, span)) = parsed else {
            let hint = match node {
                Node::Scalar(s)
                    if !s.plain
                        && !s.text.is_empty()
                        && s.text.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    Some("remove the quotes".to_string())
                }
                _ => Some(why.to_string()),
            };
            self.cx.error(
                node.span(),
                format!(
                    "expected a positive integer for {label}, found {}",
                    found(node)
                ),
                hint,
            );
            return None;
        };
        if v < 1 {
            self.cx.error(
                span,
                format!("{label} must be a positive integer, found {v}"),
                Some(why.to_string()),
            );
            return None;
        }
        if v > max {
            self.cx.error(
                span,
                format!("{label} must be at most {max}, found {v}"),
                Some(why.to_string()),
            );
            return None;
        }
        Some(Sp {
            v: v.unsigned_abs(),
            span,
        })
    }

    /// `overrides`: each cluster's patches, as RFC 6902 operations with `kind` and
    /// `name`. `None` when any is wrong (reported).
    fn overrides(
        &mut self,
        obj: &Obj,
        what: &str,
        placed: Option<&[String]>,
    ) -> Option<BTreeMap<String, Vec<Value>>> {
        let mut out = BTreeMap::new();
        if obj.raw("overrides").is_none() {
            return Some(out);
        }
        let entries = obj.map_opt(&mut self.cx, "overrides")?;
        let label = format!("`overrides` of {what}");
        let mut ok = true;
        for (k, v) in entries {
            let c = Sp {
                v: k.text.to_string(),
                span: k.span,
            };
            if !self.known_cluster(&c, &label) {
                ok = false;
                continue;
            }
            if let Some(placed) = placed {
                if !placed.contains(&c.v) {
                    self.cx.error(
                        c.span,
                        format!(
                            "overrides for cluster `{}` in {what}, which is not placed on it",
                            clip(&c.v)
                        ),
                        Some(format!(
                            "place the workload on `{}` too, or remove its overrides",
                            clip(&c.v)
                        )),
                    );
                    ok = false;
                    continue;
                }
            }
            let items: &[Node] = match v {
                Node::Seq { items, .. } => items,
                n if n.is_null() => &[],
                n => {
                    self.cx.error(
                        n.span(),
                        format!(
                            "expected a list of patches for cluster `{}` in {label}, found {}",
                            clip(&c.v),
                            found(n)
                        ),
                        Some(
                            "e.g. `- { kind: Deployment, name: web, op: replace, path: /spec/replicas, value: 2 }`"
                                .to_string(),
                        ),
                    );
                    ok = false;
                    continue;
                }
            };
            let mut patches = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let pwhat = format!("patch {} for cluster `{}` in {label}", i + 1, clip(&c.v));
                match self.patch(item, pwhat) {
                    Some(p) => patches.push(p),
                    None => ok = false,
                }
            }
            if !patches.is_empty() {
                out.insert(c.v, patches);
            }
        }
        ok.then_some(out)
    }

    /// One RFC 6902 operation with the `kind` and `name` of the object it patches.
    fn patch(&mut self, node: &Node, what: String) -> Option<Value> {
        let obj = Obj::new(&mut self.cx, node, what.clone(), node.span())?;
        obj.check_fields(&mut self.cx, PATCH_FIELDS);
        let mut ok = true;
        let text = |l: &mut Self, key: &str| {
            let s = l.str_req_hint(&obj, key, PATCH_HINT);
            match s {
                Some(s) if !s.v.trim().is_empty() => Some(s.v),
                Some(s) => {
                    l.not_empty(&s, &Field(key, &what).to_string());
                    None
                }
                None => None,
            }
        };
        let kind = text(self, "kind");
        let name = text(self, "name");
        let op = self
            .str_req_hint(&obj, "op", PATCH_HINT)
            .and_then(|o| one_of(&mut self.cx, &o, Field("op", &what), PATCH_OPS))
            .map(|o| o.v);
        let path = self
            .str_req_hint(&obj, "path", PATCH_HINT)
            .and_then(|p| self.pointer(p, "path", &what));

        let mut m = JsonMap::new();
        if let Some(op) = op {
            match obj.raw("value") {
                Some((_, v)) if VALUE_OPS.contains(&op) => {
                    m.insert("value".into(), to_json(v));
                }
                None if VALUE_OPS.contains(&op) => {
                    self.cx.error(
                        obj.at,
                        format!("missing field `value` in {what}"),
                        Some(format!("op `{op}` needs a `value`")),
                    );
                    ok = false;
                }
                Some((k, _)) => {
                    self.cx.error(
                        k.span,
                        format!("`value` is not used by op `{op}` in {what}"),
                        Some(format!(
                            "only {} take a `value`; remove it",
                            VALUE_OPS.join(", ")
                        )),
                    );
                    ok = false;
                }
                None => {}
            }
            let from = obj.raw("from");
            if FROM_OPS.contains(&op) {
                let hint = format!("op `{op}` needs a `from`: a JSON pointer to the value to {op}");
                match self.str_req_hint(&obj, "from", &hint) {
                    Some(f) => match self.pointer(f, "from", &what) {
                        Some(f) => {
                            m.insert("from".into(), Value::String(f));
                        }
                        None => ok = false,
                    },
                    None => ok = false,
                }
            } else if let Some((k, _)) = from {
                self.cx.error(
                    k.span,
                    format!("`from` is not used by op `{op}` in {what}"),
                    Some(format!(
                        "only {} take a `from`; remove it",
                        FROM_OPS.join(" and ")
                    )),
                );
                ok = false;
            }
        }
        let (Some(kind), Some(name), Some(op), Some(path), true) = (kind, name, op, path, ok)
        else {
            return None;
        };
        m.insert("op".into(), Value::from(op));
        m.insert("path".into(), Value::String(path));
        m.insert("kind".into(), Value::String(kind));
        m.insert("name".into(), Value::String(name));
        Some(Value::Object(m))
    }

    /// A required string field whose absence is reported with `hint`.
    fn str_req_hint(&mut self, obj: &Obj, key: &str, hint: &str) -> Option<Sp<String>> {
        match obj.raw(key) {
            None => {
                self.cx.error(
                    obj.at,
                    format!("missing field `{key}` in {}", obj.what),
                    Some(hint.to_string()),
                );
                None
            }
            Some((k, v)) if v.is_null() => {
                self.cx.error(
                    k.span,
                    format!("missing value for `{key}` in {}", obj.what),
                    Some(hint.to_string()),
                );
                None
            }
            Some((_, v)) => as_str(&mut self.cx, v, Field(key, &obj.what)),
        }
    }

    /// A JSON pointer (RFC 6901) other than the whole document: `/` then tokens,
    /// `~` only as `~0` or `~1`.
    fn pointer(&mut self, p: Sp<String>, field: &str, what: &str) -> Option<String> {
        let problem = if !p.v.starts_with('/') {
            Some("it must start with `/`")
        } else {
            let b = p.v.as_bytes();
            let bad_tilde = b
                .iter()
                .enumerate()
                .any(|(i, c)| *c == b'~' && !matches!(b.get(i + 1), Some(b'0' | b'1')));
            bad_tilde.then_some("`~` must be followed by 0 or 1")
        };
        match problem {
            None => Some(p.v),
            Some(why) => {
                self.cx.error(
                    p.span,
                    format!(
                        "`{field}` in {what} is not a JSON pointer: {why}, found `{}`",
                        clip(&p.v)
                    ),
                    Some(
                        "e.g. /spec/template/spec/containers/0/image; inside a key write `~1` for `/` and `~0` for `~`"
                            .to_string(),
                    ),
                );
                None
            }
        }
    }

    fn workload_timeout(&mut self, s: &Scalar, what: &str) -> Option<u64> {
        let label = Field("timeout", what).to_string();
        let ms = self.duration(s, &label)?;
        if (MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&ms) {
            return Some(ms);
        }
        self.cx.error(
            s.span,
            format!(
                "{label} must be between 1s and 1h, found `{}`",
                clip(&s.text)
            ),
            Some("it bounds the wait for rollouts and for deletion".to_string()),
        );
        None
    }
}

/// "a", "`a` and `b`", "`a`, `b` and `c`".
fn names_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{}`", clip(n))).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, init)) => format!("{} and {last}", init.join(", ")),
    }
}

/// Divides `total` over `weights` by largest remainders (Hamilton): each gets the
/// whole part of its quota `total * weight / sum`, and what is left goes one by one
/// to the largest fractional parts, ties to the lexically smaller name.
pub fn apportion(total: u64, weights: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let sum: u128 = weights.values().map(|w| u128::from(*w)).sum();
    if sum == 0 {
        return weights.keys().map(|k| (k.clone(), 0)).collect();
    }
    let mut out = BTreeMap::new();
    // (remainder, name) in name order; a stable sort by remainder keeps names ordered.
    let mut rest: Vec<(u128, &String)> = Vec::with_capacity(weights.len());
    let mut given: u128 = 0;
    for (name, w) in weights {
        let quota = u128::from(total) * u128::from(*w);
        let whole = quota / sum;
        given += whole;
        out.insert(name.clone(), whole);
        rest.push((quota % sum, name));
    }
    rest.sort_by_key(|r| std::cmp::Reverse(r.0));
    let left = u128::from(total).saturating_sub(given);
    for (_, name) in rest
        .iter()
        .take(usize::try_from(left).unwrap_or(usize::MAX))
    {
        if let Some(n) = out.get_mut(*name) {
            *n += 1;
        }
    }
    // Each share is at most `total`, so it fits.
    out.into_iter()
        .map(|(k, v)| (k, u64::try_from(v).unwrap_or(u64::MAX)))
        .collect()
}

/// `manifests` joined onto the directory of the stack file (`stack_file` as given to
/// [`super::load_stack`]) and normalised lexically, without touching the file system:
/// `stacks/multicloud-sim.yaml` + `../examples/guestbook/` -> `examples/guestbook`.
/// An absolute `manifests` is only normalised.
pub fn manifests_path(stack_file: &str, manifests: &str) -> String {
    let joined = if manifests.starts_with('/') {
        manifests.to_string()
    } else {
        match stack_file.rfind('/') {
            Some(i) => format!("{}/{manifests}", &stack_file[..i]),
            None => manifests.to_string(),
        }
    };
    let absolute = joined.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                // Above the root is the root.
                _ if absolute => {}
                _ => parts.push(".."),
            },
            p => parts.push(p),
        }
    }
    let body = parts.join("/");
    if absolute {
        format!("/{body}")
    } else if body.is_empty() {
        ".".to_string()
    } else {
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(total: u64, weights: &[(&str, u64)]) -> Vec<(String, u64)> {
        let w: BTreeMap<String, u64> = weights.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        apportion(total, &w).into_iter().collect()
    }

    #[test]
    fn largest_remainder_apportionment() {
        assert_eq!(
            shares(9, &[("a", 2), ("b", 1)]),
            [("a".into(), 6), ("b".into(), 3)]
        );
        assert_eq!(
            shares(10, &[("c", 1), ("a", 1), ("b", 1)]),
            [("a".into(), 4), ("b".into(), 3), ("c".into(), 3)]
        );
        // 7 * 3/6 = 3.5, 7 * 2/6 = 2.33, 7 * 1/6 = 1.17: the half goes first.
        assert_eq!(
            shares(7, &[("x", 3), ("y", 2), ("z", 1)]),
            [("x".into(), 4), ("y".into(), 2), ("z".into(), 1)]
        );
        assert_eq!(
            shares(3, &[("a", 100), ("b", 1), ("c", 1)]),
            [("a".into(), 3), ("b".into(), 0), ("c".into(), 0)]
        );
        assert_eq!(
            shares(1_000_000, &[("a", 1_000_000), ("b", 1)])
                .iter()
                .map(|(_, n)| n)
                .sum::<u64>(),
            1_000_000
        );
    }

    #[test]
    fn manifests_paths_are_joined_and_normalised_lexically() {
        let cases = [
            (
                "stacks/multicloud-sim.yaml",
                "../examples/guestbook/",
                "examples/guestbook",
            ),
            ("t.yaml", "m/", "m"),
            ("t.yaml", "./", "."),
            ("t.yaml", "../x.yaml", "../x.yaml"),
            ("a/b/t.yaml", "../../../x", "../x"),
            (
                "/srv/stacks/t.yaml",
                "../apps/./web.yaml",
                "/srv/apps/web.yaml",
            ),
            ("stacks/t.yaml", "/abs//dir/", "/abs/dir"),
            ("/t.yaml", "../../m", "/m"),
        ];
        for (file, m, want) in cases {
            assert_eq!(manifests_path(file, m), want, "{file} + {m}");
        }
    }
}
