//! From YAML text to a [`DesiredStack`]: typed extraction, validation and lowering in
//! one pass per section, then the whole-stack checks (references, duplicate addresses,
//! dependency cycles).

use std::collections::BTreeMap;

use serde_json::{Map as JsonMap, Value};

use super::cx::{as_str, clip, clip_to, found, one_of, to_json, Cx, Fmt, FxMap, FxSet, Obj, Sp};
use super::describe::{
    CloudDescription, Clouds, ClusterInput, Field, FieldKind, Setting, SettingKind,
    KUBERNETES_CLOUD, REGISTRY_CLOUD,
};
use super::names;
use super::yaml::{self, Node, Scalar};
use super::{
    CloudConfig, DesiredResource, DesiredStack, Diagnostics, OutputDef, Span, StateSection,
};
use crate::address::{Address, AddressError, ResourceKind};
use crate::value::{parse_template, Attrs, Expr, TemplatePart, Values};

/// Loads and validates a stack file. `file_name` is only used in messages; `clouds`
/// are the providers this build knows (their settings and cluster fields).
///
/// Returns every problem found (sorted by position, at most 50) when the file is
/// not a valid stack.
pub fn load_stack(
    file_name: &str,
    text: &str,
    clouds: Clouds,
) -> Result<DesiredStack, Diagnostics> {
    let mut cx = Cx::new(file_name);
    // A byte order mark is not part of the document (yaml-rust2 would keep it).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let parsed = yaml::parse(text);
    for e in parsed.errors {
        cx.error(e.span, e.message, e.hint);
    }
    let top = Span { line: 1, column: 1 };
    let root = match parsed.root {
        Some(root @ Node::Map { .. }) => root,
        None if !cx.diags.is_empty() => return Err(Diagnostics(cx.finish())),
        None => {
            cx.error(top, "the stack file is empty", Some(EMPTY_HINT.to_string()));
            return Err(Diagnostics(cx.finish()));
        }
        Some(n) if n.is_null() => {
            cx.error(top, "the stack file is empty", Some(EMPTY_HINT.to_string()));
            return Err(Diagnostics(cx.finish()));
        }
        Some(n) => {
            cx.error(
                top,
                format!("the stack file must be a mapping, found {}", found(&n)),
                Some("start with `name:` and `clouds:`".to_string()),
            );
            return Err(Diagnostics(cx.finish()));
        }
    };

    let mut l = Loader::new(cx, clouds);
    let name = l.top(&root);
    l.finish_graph();
    if !l.cx.diags.is_empty() {
        return Err(Diagnostics(l.cx.finish()));
    }
    Ok(DesiredStack {
        name: name.unwrap_or_default(),
        file: file_name.to_string(),
        state: l.state,
        clouds: l.clouds,
        resources: l.resources,
        outputs: l.outputs,
    })
}

const EMPTY_HINT: &str = "a stack needs at least `name` and `clouds`";

/// A reference written in the stack file (a `${...}` or a `depends_on` entry),
/// checked once every resource is known.
pub(super) struct UserRef {
    pub address: Address,
    /// `None` for `depends_on`.
    pub output: Option<String>,
    pub span: Span,
    /// Where it was written, for messages: an index into `Loader::whats`.
    pub what: usize,
}

/// What `clouds:` declared, even when its settings are wrong (so that clusters using
/// it are not reported again).
pub(super) struct CloudDecl {
    pub provider: Option<&'static dyn CloudDescription>,
    /// For sim clouds: the cloud it emulates.
    pub emulates: Option<&'static dyn CloudDescription>,
}

pub(super) struct ClusterInfo {
    /// The cluster's cloud, when it names a declared one.
    pub cloud: Option<String>,
    pub pools: Vec<Address>,
    /// The provider of a cluster without `ingress_address` whose cloud gives it none
    /// (EKS, GKE): DNS can't point at it by `cluster`.
    pub no_ingress_address: Option<&'static str>,
    /// Its `labels` (for workload placement selectors).
    pub labels: JsonMap<String, Value>,
}

/// What `federation:` declared, for the sections that place things on its members.
#[derive(Default)]
pub(super) struct FederationInfo {
    /// The members that are declared clusters, in `members` order.
    pub members: Vec<String>,
    /// `members` (or the section) could not be read (reported): membership is not checked.
    pub unreadable: bool,
    /// The cloud its resources go to, once it has a valid host.
    pub cloud: Option<String>,
}

pub(super) struct Loader<'f> {
    pub cx: Cx<'f>,
    /// The providers this build knows.
    pub known: Clouds,
    pub clouds: BTreeMap<String, CloudConfig>,
    pub cloud_decls: BTreeMap<String, CloudDecl>,
    pub clusters: FxMap<String, ClusterInfo>,
    /// Cluster names in declaration order (for hints).
    pub cluster_names: Vec<String>,
    pub resources: Vec<DesiredResource>,
    /// Explicit and implicit dependencies that are not references in attributes,
    /// parallel to `resources`.
    pub explicit: Vec<Vec<Address>>,
    pub user_refs: Vec<UserRef>,
    /// Descriptions of where references were written ("data `x`"), shared by all
    /// the references of one place.
    pub whats: Vec<String>,
    pub outputs: BTreeMap<String, OutputDef>,
    /// `state:` (local when absent or wrong).
    pub state: StateSection,
    /// `clouds:` is missing or not a mapping: cloud names are not checked.
    pub clouds_unreadable: bool,
    /// `clusters:` is not a mapping: cluster names are not checked.
    pub clusters_unreadable: bool,
    /// `federation:`, when the stack has one.
    pub federation: Option<FederationInfo>,
    /// Images whose entry is wrong (reported): references to them are not reported again.
    pub broken_images: FxSet<String>,
}

/// The outputs each kind has (data also has its value keys).
pub(super) fn kind_outputs(kind: ResourceKind) -> &'static [&'static str] {
    match kind {
        ResourceKind::Cluster => &[
            "id",
            "endpoint",
            "ingress_address",
            "ca_certificate",
            "status",
            "region",
            "kubernetes_version",
        ],
        ResourceKind::NodePool => &["id", "status", "node_count"],
        ResourceKind::FederationHost => &["id"],
        ResourceKind::FederationMember => &["id", "service_account", "secret_name"],
        ResourceKind::DnsZone => &["id", "name_servers", "zone"],
        ResourceKind::HealthCheck => &["id", "address", "healthy"],
        ResourceKind::DnsRecord => &["id", "fqdn", "values"],
        ResourceKind::Data => &["id"],
        ResourceKind::Network => &["id", "vpc_id", "subnet_ids", "availability_zones"],
        ResourceKind::IamRole => &["id", "arn", "name"],
        ResourceKind::Workload => &["id"],
        ResourceKind::Image => &["id", "digest", "ref"],
    }
}

impl<'f> Loader<'f> {
    fn new(cx: Cx<'f>, known: Clouds) -> Loader<'f> {
        Loader {
            cx,
            known,
            clouds: BTreeMap::new(),
            cloud_decls: BTreeMap::new(),
            clusters: FxMap::default(),
            cluster_names: Vec::new(),
            resources: Vec::new(),
            explicit: Vec::new(),
            user_refs: Vec::new(),
            whats: Vec::new(),
            outputs: BTreeMap::new(),
            state: StateSection::default(),
            clouds_unreadable: false,
            clusters_unreadable: false,
            federation: None,
            broken_images: FxSet::default(),
        }
    }

    pub(super) fn push(
        &mut self,
        address: Address,
        cloud: Option<String>,
        attrs: Attrs,
        explicit: Vec<Address>,
        span: Span,
    ) {
        self.resources.push(DesiredResource {
            address,
            cloud,
            attrs,
            depends_on: Vec::new(),
            span,
            replace_on: &[],
        });
        self.explicit.push(explicit);
    }

    /// The top level. Returns the stack name.
    fn top(&mut self, root: &Node) -> Option<String> {
        let obj = Obj::new(&mut self.cx, root, "the stack".to_string(), root.span())?;
        obj.check_fields(
            &mut self.cx,
            &[
                "name",
                "clouds",
                "clusters",
                "federation",
                "dns",
                "data",
                "outputs",
                "state",
                "workloads",
                "registries",
                "images",
            ],
        );
        let name = obj.str_req(&mut self.cx, "name");
        if let Some(n) = &name {
            if !names::stack_name_ok(&n.v) {
                self.cx.error(
                    n.span,
                    format!("invalid stack name `{}`", clip(&n.v)),
                    Some(names::STACK_NAME_HINT.to_string()),
                );
            }
        }
        if let Some((k, v)) = obj.raw("state") {
            if !v.is_null() {
                self.state_section(k, v);
            }
        }

        // When a section can't be read at all, names that refer into it are not
        // checked (each use would only repeat the same problem).
        self.clouds_unreadable = true;
        if obj.req(&mut self.cx, "clouds").is_some() {
            if let Some(clouds) = obj.map_opt(&mut self.cx, "clouds") {
                self.clouds_unreadable = false;
                for (k, v) in clouds {
                    self.cloud(k, v);
                }
            }
        }
        let clusters = obj.map_opt(&mut self.cx, "clusters");
        self.clusters_unreadable = clusters.is_none() && obj.get("clusters").is_some();
        if let Some(clusters) = clusters {
            for (k, _) in clusters {
                self.clusters.insert(
                    k.text.to_string(),
                    ClusterInfo {
                        cloud: None,
                        pools: Vec::new(),
                        no_ingress_address: None,
                        labels: JsonMap::new(),
                    },
                );
                self.cluster_names.push(k.text.to_string());
            }
            for (k, v) in clusters {
                self.cluster(k, v);
            }
        }
        if let Some((k, v)) = obj.raw("federation") {
            if !v.is_null() {
                self.federation(k, v);
            }
        }
        if let Some((k, _)) = obj.raw("workloads") {
            if let Some(workloads) = obj.map_opt(&mut self.cx, "workloads") {
                self.workloads(k, workloads);
            }
        }
        self.registries_and_images(&obj);
        if let Some((k, v)) = obj.raw("dns") {
            if !v.is_null() {
                self.dns(k, v);
            }
        }
        if let Some(data) = obj.map_opt(&mut self.cx, "data") {
            for (k, v) in data {
                self.data(k, v);
            }
        }
        if let Some(outputs) = obj.map_opt(&mut self.cx, "outputs") {
            for (k, v) in outputs {
                self.output(k, v);
            }
        }
        name.map(|n| n.v)
    }

    // ----- clouds -------------------------------------------------------------

    fn cloud(&mut self, key: &Scalar, node: &Node) {
        let name = key.text.to_string();
        let what = format!("cloud `{}`", clip(&name));
        if name == KUBERNETES_CLOUD {
            self.cx.error(
                key.span,
                format!("cloud name `{KUBERNETES_CLOUD}` is reserved"),
                Some("fedstack runs federations across clouds under that name; call this cloud something else (e.g. after its provider or region)".to_string()),
            );
        }
        if name == REGISTRY_CLOUD {
            self.cx.error(
                key.span,
                format!("cloud name `{REGISTRY_CLOUD}` is reserved"),
                Some("fedstack copies `images` between `registries` under that name; call this cloud something else (e.g. after its provider or region)".to_string()),
            );
        }
        let mut decl = CloudDecl {
            provider: None,
            emulates: None,
        };
        let obj = Obj::new(&mut self.cx, node, what.clone(), key.span);
        let known = self.known;
        let provider = obj.as_ref().and_then(|o| {
            let p = o.str_req(&mut self.cx, "provider")?;
            let label = format!("`provider` in {what}");
            let names: Vec<&'static str> = known.names().collect();
            one_of(&mut self.cx, &p, &label, &names).and_then(|p| known.get(p.v))
        });
        let (Some(obj), Some(provider)) = (obj, provider) else {
            self.cloud_decls.insert(name, decl);
            return;
        };
        decl.provider = Some(provider);
        let spec = provider.settings();
        let mut allowed: Vec<&str> = vec!["provider"];
        allowed.extend(spec.iter().map(|s| s.name));
        obj.check_fields_with(&mut self.cx, &allowed, |field| {
            let users: Vec<&str> = known
                .names()
                .filter(|p| *p != provider.provider())
                .filter(|p| {
                    known
                        .get(p)
                        .is_some_and(|d| d.settings().iter().any(|s| s.name == field))
                })
                .collect();
            (!users.is_empty()).then(|| {
                format!(
                    "`{field}` is a setting of {} clouds; this cloud uses provider {}",
                    users.join(" and "),
                    provider.provider()
                )
            })
        });

        let mut settings = Values::new();
        let mut ok = true;
        for Setting {
            name: field,
            kind,
            required,
        } in spec
        {
            let entry = if *required {
                obj.req(&mut self.cx, field)
            } else {
                obj.get(field)
            };
            let Some((_, v)) = entry else {
                ok &= !required;
                continue;
            };
            let label = format!("`{field}` in {what}");
            let value = match kind {
                SettingKind::Str => as_str(&mut self.cx, v, &label).map(|s| Value::String(s.v)),
                SettingKind::Version => as_str(&mut self.cx, v, &label).and_then(|s| {
                    if names::version_ok(&s.v) {
                        Some(Value::String(s.v))
                    } else {
                        self.cx.error(
                            s.span,
                            format!("invalid kubernetes_version `{}` in {what}", clip(&s.v)),
                            Some(names::VERSION_HINT.to_string()),
                        );
                        None
                    }
                }),
                SettingKind::Emulates => as_str(&mut self.cx, v, &label).and_then(|s| {
                    let names: Vec<&str> = known.emulated().map(|d| d.provider()).collect();
                    let e = one_of(&mut self.cx, &s, &label, &names)?;
                    decl.emulates = known.get(e.v);
                    Some(Value::from(e.v))
                }),
                SettingKind::Latency => self.durations(
                    v,
                    &what,
                    "latency",
                    &["create", "read", "update", "delete"],
                    true,
                ),
                SettingKind::Timeouts => {
                    self.durations(v, &what, "timeouts", &["create", "update", "delete"], false)
                }
                SettingKind::MaxParallel => {
                    super::cx::as_int(&mut self.cx, v, &label, 1, 100_000).map(|i| Value::from(i.v))
                }
            };
            match value {
                Some(value) => {
                    settings.insert((*field).to_string(), value);
                }
                None => ok = false,
            }
        }
        self.cloud_decls.insert(name.clone(), decl);
        if ok {
            self.clouds.insert(
                name.clone(),
                CloudConfig {
                    name,
                    provider: provider.provider().to_string(),
                    settings,
                    span: key.span,
                },
            );
        }
    }

    /// `latency` or `timeouts`: a mapping of durations per operation (or, when
    /// `scalar_ok`, one duration for all). Normalised to milliseconds.
    fn durations(
        &mut self,
        node: &Node,
        what: &str,
        field: &str,
        ops: &[&str],
        scalar_ok: bool,
    ) -> Option<Value> {
        let label = format!("`{field}` in {what}");
        match node {
            Node::Scalar(s) if scalar_ok => self.duration(s, &label).map(Value::from),
            Node::Map { .. } => {
                let obj = Obj::new(&mut self.cx, node, label.clone(), node.span())?;
                obj.check_fields(&mut self.cx, ops);
                let mut m = JsonMap::new();
                let mut ok = true;
                for op in ops {
                    let Some((_, v)) = obj.get(op) else { continue };
                    let l = format!("`{op}` in {label}");
                    let ms = match v {
                        Node::Scalar(s) => self.duration(s, &l),
                        n => {
                            self.cx.error(
                                n.span(),
                                format!("expected a duration for {l}, found {}", found(n)),
                                Some(names::DURATION_HINT.to_string()),
                            );
                            None
                        }
                    };
                    match ms {
                        Some(ms) => {
                            m.insert(op.to_string(), Value::from(ms));
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(Value::Object(m))
            }
            n => {
                let expected = if scalar_ok {
                    "a duration or a mapping"
                } else {
                    "a mapping of durations"
                };
                self.cx.error(
                    n.span(),
                    format!("expected {expected} for {label}, found {}", found(n)),
                    Some(if scalar_ok {
                        names::DURATION_HINT.to_string()
                    } else {
                        format!("e.g. {field}: {{ create: 60m, delete: 30m }}")
                    }),
                );
                None
            }
        }
    }

    pub(super) fn duration(&mut self, s: &Scalar, label: &str) -> Option<u64> {
        let ms = names::duration_ms(&s.text);
        if ms.is_none() {
            self.cx.error(
                s.span,
                format!("invalid duration `{}` for {label}", clip(&s.text)),
                Some(names::DURATION_HINT.to_string()),
            );
        }
        ms
    }

    /// Checks that a cloud name is declared.
    pub(super) fn known_cloud(&mut self, s: &Sp<String>, what: &str) -> Option<String> {
        if self.cloud_decls.contains_key(&s.v) {
            return Some(s.v.clone());
        }
        if self.clouds_unreadable {
            return None;
        }
        let names: Vec<&str> = self.cloud_decls.keys().map(String::as_str).collect();
        let hint = self.cx.suggest(&s.v, names.iter().copied(), "clouds");
        self.cx.error(
            s.span,
            format!("unknown cloud `{}` in {what}", clip(&s.v)),
            hint,
        );
        None
    }

    /// Checks that a cluster name is declared.
    pub(super) fn known_cluster(&mut self, s: &Sp<String>, what: &str) -> bool {
        if self.clusters.contains_key(&s.v) {
            return true;
        }
        if self.clusters_unreadable {
            return false;
        }
        let hint = self.cx.suggest(
            &s.v,
            self.cluster_names.iter().map(String::as_str),
            "clusters",
        );
        self.cx.error(
            s.span,
            format!("unknown cluster `{}` in {what}", clip(&s.v)),
            hint,
        );
        false
    }

    // ----- clusters -----------------------------------------------------------

    fn cluster(&mut self, key: &Scalar, node: &Node) {
        let name = key.text.to_string();
        if !names::cluster_name_ok(&name) {
            self.cx.error(
                key.span,
                format!("invalid cluster name `{}`", clip(&name)),
                Some(names::CLUSTER_NAME_HINT.to_string()),
            );
        }
        let what = format!("cluster `{}`", clip(&name));
        let Some(obj) = Obj::new(&mut self.cx, node, what.clone(), key.span) else {
            return;
        };
        let cloud = obj
            .str_req(&mut self.cx, "cloud")
            .and_then(|c| self.known_cloud(&c, &what));
        let decl = cloud.as_ref().and_then(|c| self.cloud_decls.get(c));
        let provider = decl.and_then(|d| d.provider);
        let emulates = decl.and_then(|d| d.emulates);
        let own: &[Field] = provider.map_or(&[], |p| p.cluster_fields());
        let mut fields = vec![
            "cloud",
            "region",
            "kubernetes_version",
            "labels",
            "node_pools",
            "depends_on",
        ];
        fields.extend(own.iter().map(|f| f.name));
        if provider.is_none() {
            // The cloud itself is wrong (reported): no cloud's fields are reported again.
            for d in self.known.names().filter_map(|p| self.known.get(p)) {
                fields.extend(d.cluster_fields().iter().map(|f| f.name));
            }
        }
        let known = self.known;
        obj.check_fields_with(&mut self.cx, &fields, |field| {
            other_clouds_field(known, provider?, field, "clusters", |d| d.cluster_fields())
        });
        let region = obj.str_req(&mut self.cx, "region");
        if let Some(r) = &region {
            self.not_empty(r, &format!("`region` in {what}"));
        }
        let version = obj.str_req(&mut self.cx, "kubernetes_version").filter(|v| {
            let ok = names::version_ok(&v.v);
            if !ok {
                self.cx.error(
                    v.span,
                    format!("invalid kubernetes_version `{}` in {what}", clip(&v.v)),
                    Some(names::VERSION_HINT.to_string()),
                );
            }
            ok
        });
        if let (Some(p), Some(v)) = (provider, &version) {
            p.check_version(&mut self.cx, v, &what);
        }
        let labels = self.labels(&obj, "labels");
        let deps = self.depends_on(&obj, &what);

        // A sim cluster has the flavor of the cloud it emulates, or of its region's spelling.
        let flavor = provider.and_then(|p| {
            p.flavor().or_else(|| {
                let region = region.as_ref().map_or("", |r| r.v.as_str());
                emulates
                    .or_else(|| known.for_region(region))
                    .and_then(|e| e.flavor())
            })
        });

        let typed = self.typed_fields(&obj, own, &what);
        let has_pools = matches!(obj.get("node_pools"), Some((_, Node::Map { entries, .. })) if !entries.is_empty());
        let lowering = provider.map(|p| {
            let input = ClusterInput {
                name: &name,
                what: &what,
                obj: &obj,
                at: key.span,
                region: region.as_ref(),
                version: version.as_ref(),
                has_pools,
                fields: &typed,
            };
            p.lower_cluster(&mut self.cx, &input)
        });
        let mut lowering = lowering.unwrap_or_default();
        for extra in lowering.resources.drain(..) {
            let replace_on = provider.map_or(&[][..], |p| p.replace_on(extra.address.kind));
            self.push(
                extra.address,
                cloud.clone(),
                extra.attrs,
                Vec::new(),
                extra.span,
            );
            self.set_replace_on(replace_on);
        }

        let mut attrs = Attrs::new();
        attrs.insert(
            "flavor".into(),
            Expr::lit(flavor.map_or(Value::Null, Value::from)),
        );
        attrs.insert("region".into(), lit_opt(region.map(|r| r.v)));
        attrs.insert("kubernetes_version".into(), lit_opt(version.map(|v| v.v)));
        if let (Some(info), Value::Object(l)) = (self.clusters.get_mut(&name), &labels) {
            info.labels = l.clone();
        }
        attrs.insert("labels".into(), Expr::Literal(labels));
        attrs.extend(typed.into_iter().map(|(k, v)| (k, Expr::Literal(v))));
        attrs.extend(lowering.cluster_attrs);
        let address = Address::new(ResourceKind::Cluster, name.clone());
        self.push(address, cloud.clone(), attrs, deps, key.span);
        self.set_replace_on(provider.map_or(&[], |p| p.replace_on(ResourceKind::Cluster)));
        if let Some(info) = self.clusters.get_mut(&name) {
            info.cloud = cloud.clone();
            info.no_ingress_address = provider
                .filter(|_| lowering.no_ingress_address)
                .map(|p| p.provider());
        }

        if let Some(pools) = obj.map_opt(&mut self.cx, "node_pools") {
            for (k, v) in pools {
                self.node_pool(&name, cloud.clone(), provider, k, v, &lowering.pool_attrs);
            }
        }
    }

    /// The cloud-specific fields of `kinds` that the loader reads itself, with their
    /// defaults. A field that is wrong is reported and left out.
    fn typed_fields(&mut self, obj: &Obj, fields: &[Field], what: &str) -> Values {
        let mut out = Values::new();
        for field in fields {
            let name = field.name;
            // Absent takes the default; present but wrong is reported and left out.
            let absent = obj.get(name).is_none();
            let value = match field.kind {
                FieldKind::Custom => continue,
                FieldKind::Str => obj.str_opt(&mut self.cx, name).map(|s| {
                    self.not_empty(&s, &format!("`{name}` in {what}"));
                    Value::String(s.v)
                }),
                FieldKind::Enum { allowed, default } => obj
                    .enum_opt(&mut self.cx, name, allowed)
                    .map(|e| e.v)
                    .or(default.filter(|_| absent))
                    .map(Value::from),
                FieldKind::EnumList { allowed, noun } => {
                    Some(Value::from(self.enum_list(obj, name, allowed, noun, what)))
                }
                FieldKind::Ipv4 { why } => obj.str_opt(&mut self.cx, name).and_then(|a| {
                    if names::ipv4_ok(&a.v) {
                        return Some(Value::String(a.v));
                    }
                    self.cx.error(
                        a.span,
                        format!(
                            "`{name}` in {what} must be an IPv4 address, found `{}`",
                            clip(&a.v)
                        ),
                        Some(why.to_string()),
                    );
                    None
                }),
                FieldKind::Int { min, max, default } => obj
                    .int_opt(&mut self.cx, name, min, max)
                    .map(|i| i.v)
                    .or(default.filter(|_| absent))
                    .map(Value::from),
            };
            if let Some(v) = value {
                out.insert(name.to_string(), v);
            } else if absent {
                out.insert(name.to_string(), Value::Null);
            }
        }
        out
    }

    /// A list of values from `allowed`, each once.
    fn enum_list(
        &mut self,
        obj: &Obj,
        key: &str,
        allowed: &[&str],
        noun: &str,
        what: &str,
    ) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let Some(items) = obj.list_opt(&mut self.cx, key) else {
            return out;
        };
        for item in items {
            let label = format!("an entry of `{key}` in {what}");
            let Some(s) = as_str(&mut self.cx, item, &label) else {
                continue;
            };
            if !allowed.contains(&s.v.as_str()) {
                let hint = self
                    .cx
                    .suggest(&s.v, allowed.iter().copied(), &format!("{noun}s"));
                self.cx.error(
                    s.span,
                    format!("unknown {noun} `{}` in `{key}` of {what}", clip(&s.v)),
                    hint,
                );
            } else if out.contains(&s.v) {
                self.cx.error(
                    s.span,
                    format!("{noun} `{}` is listed twice in `{key}` of {what}", s.v),
                    None,
                );
            } else {
                out.push(s.v);
            }
        }
        out
    }

    /// Gives the resource pushed last the cloud's own replacement rules.
    fn set_replace_on(&mut self, replace_on: &'static [&'static str]) {
        if let Some(r) = self.resources.last_mut() {
            r.replace_on = replace_on;
        }
    }

    fn node_pool(
        &mut self,
        cluster: &str,
        cloud: Option<String>,
        provider: Option<&'static dyn CloudDescription>,
        key: &Scalar,
        node: &Node,
        extra: &Attrs,
    ) {
        let name = key.text.to_string();
        if !names::cluster_name_ok(&name) {
            self.cx.error(
                key.span,
                format!(
                    "invalid node pool name `{}` in cluster `{}`",
                    clip(&name),
                    clip(cluster)
                ),
                Some(names::CLUSTER_NAME_HINT.to_string()),
            );
        }
        let what = format!("node pool `{}` of cluster `{}`", clip(&name), clip(cluster));
        let Some(obj) = Obj::new(&mut self.cx, node, what.clone(), key.span) else {
            return;
        };
        let own: &[Field] = provider.map_or(&[], |p| p.pool_fields());
        let mut fields = vec![
            "machine_type",
            "node_count",
            "min_count",
            "max_count",
            "labels",
            "depends_on",
        ];
        fields.extend(own.iter().map(|f| f.name));
        let known = self.known;
        obj.check_fields_with(&mut self.cx, &fields, |field| {
            other_clouds_field(known, provider?, field, "node pools", |d| d.pool_fields())
        });
        let machine_type = obj.str_req(&mut self.cx, "machine_type");
        if let Some(m) = &machine_type {
            self.not_empty(m, &format!("`machine_type` in {what}"));
        }
        let count = obj.int_req(&mut self.cx, "node_count", 0, 1000);
        let min = obj.int_opt(&mut self.cx, "min_count", 0, 1000);
        let max = obj.int_opt(&mut self.cx, "max_count", 0, 1000);
        if let (Some(min), Some(n)) = (&min, &count) {
            if min.v > n.v {
                self.cx.error(
                    min.span,
                    format!(
                        "`min_count` ({}) is greater than `node_count` ({}) in {what}",
                        min.v, n.v
                    ),
                    None,
                );
            }
        }
        if let (Some(max), Some(n)) = (&max, &count) {
            if max.v < n.v {
                self.cx.error(
                    max.span,
                    format!(
                        "`max_count` ({}) is less than `node_count` ({}) in {what}",
                        max.v, n.v
                    ),
                    None,
                );
            }
        }
        if let (Some(min), Some(max), None) = (&min, &max, &count) {
            if max.v < min.v {
                self.cx.error(
                    max.span,
                    format!(
                        "`max_count` ({}) is less than `min_count` ({}) in {what}",
                        max.v, min.v
                    ),
                    None,
                );
            }
        }
        let labels = self.labels(&obj, "labels");
        let deps = self.depends_on(&obj, &what);
        let typed = self.typed_fields(&obj, own, &what);

        let cluster_addr = Address::new(ResourceKind::Cluster, cluster);
        let mut attrs = Attrs::new();
        attrs.insert("cluster".into(), Expr::lit(cluster));
        attrs.insert("cluster_id".into(), Expr::reference(cluster_addr, "id"));
        attrs.insert("machine_type".into(), lit_opt(machine_type.map(|m| m.v)));
        attrs.insert("node_count".into(), lit_opt(count.map(|c| c.v)));
        attrs.insert("min_count".into(), lit_opt(min.map(|c| c.v)));
        attrs.insert("max_count".into(), lit_opt(max.map(|c| c.v)));
        attrs.insert("labels".into(), Expr::Literal(labels));
        attrs.extend(typed.into_iter().map(|(k, v)| (k, Expr::Literal(v))));
        attrs.extend(extra.clone());
        let address = Address::new(ResourceKind::NodePool, format!("{cluster}.{name}"));
        if let Some(info) = self.clusters.get_mut(cluster) {
            info.pools.push(address.clone());
        }
        self.push(address, cloud, attrs, deps, key.span);
        self.set_replace_on(provider.map_or(&[], |p| p.replace_on(ResourceKind::NodePool)));
    }

    // ----- federation ---------------------------------------------------------

    fn federation(&mut self, key: &Scalar, node: &Node) {
        let what = "federation".to_string();
        self.federation = Some(FederationInfo {
            unreadable: true,
            ..FederationInfo::default()
        });
        let Some(obj) = Obj::new(&mut self.cx, node, what.clone(), key.span) else {
            return;
        };
        obj.check_fields(&mut self.cx, &["host", "members", "namespace", "scope"]);
        let namespace = obj
            .str_opt(&mut self.cx, "namespace")
            .filter(|n| {
                let ok = names::namespace_ok(&n.v);
                if !ok {
                    self.cx.error(
                        n.span,
                        format!("invalid namespace `{}` in federation", clip(&n.v)),
                        Some(
                            "use 1-63 lowercase letters, digits and hyphens, not starting or ending with a hyphen"
                                .to_string(),
                        ),
                    );
                }
                ok
            })
            .map_or_else(|| "kube-federation-system".to_string(), |n| n.v);
        let scope = obj
            .enum_opt(&mut self.cx, "scope", &["Cluster", "Namespaced"])
            .map_or("Cluster", |s| s.v);

        // Members: known clusters, each once.
        let mut members: Vec<Sp<String>> = Vec::new();
        let mut first_seen: FxMap<String, Span> = FxMap::default();
        let mut had_members = false;
        let members_key = obj.raw("members").map(|(k, _)| k.span);
        let items = obj.list_opt(&mut self.cx, "members");
        // Not a list (reported): whether the host is a member can't be told.
        let members_unreadable = items.is_none() && obj.get("members").is_some();
        if let Some(items) = items {
            had_members = !items.is_empty();
            for item in items {
                let Some(m) = as_str(&mut self.cx, item, "an entry of `members` in federation")
                else {
                    continue;
                };
                if let Some(first) = first_seen.get(&m.v) {
                    self.cx.error(
                        m.span,
                        format!(
                            "cluster `{}` is listed twice in federation members",
                            clip(&m.v)
                        ),
                        Some(format!(
                            "it is first listed at line {}, column {}",
                            first.line, first.column
                        )),
                    );
                    continue;
                }
                first_seen.insert(m.v.clone(), m.span);
                if self.known_cluster(&m, "federation members") {
                    members.push(m);
                }
            }
        }

        self.federation = Some(FederationInfo {
            members: members.iter().map(|m| m.v.clone()).collect(),
            unreadable: members_unreadable,
            cloud: None,
        });

        let host = obj.str_opt(&mut self.cx, "host");
        let host = match host {
            None => {
                if let (Some(span), true) = (members_key, had_members) {
                    self.cx.error(
                        span,
                        "federation has members but no host",
                        Some("set `host` to one of the members".to_string()),
                    );
                }
                None
            }
            Some(h) => {
                if !self.known_cluster(&h, "federation host") || members_unreadable {
                    None
                } else if !first_seen.contains_key(&h.v) {
                    self.cx.error(
                        h.span,
                        format!("federation host `{}` is not one of the members", clip(&h.v)),
                        Some(format!("add `{}` to `members`", clip(&h.v))),
                    );
                    None
                } else {
                    Some(h)
                }
            }
        };
        let Some(host) = host else { return };

        let host_cloud = self.clusters.get(&host.v).and_then(|c| c.cloud.clone());
        let host_description = host_cloud
            .as_ref()
            .and_then(|c| self.cloud_decls.get(c))
            .and_then(|d| d.provider);
        // A provider that runs federations itself (simulated or local clusters) keeps
        // them when every member is on a cloud of that provider; anything else is joined
        // by the built-in Kubernetes provider, through each cluster's cloud.
        let provider_of = |cluster: &str| {
            self.clusters
                .get(cluster)
                .and_then(|c| c.cloud.as_ref())
                .and_then(|c| self.cloud_decls.get(c))
                .and_then(|d| d.provider)
                .map(|d| d.provider())
        };
        let own_federation = host_description.is_some_and(|d| {
            d.runs_federation()
                && members
                    .iter()
                    .all(|m| provider_of(&m.v) == Some(d.provider()))
        });
        let (federation_cloud, member_attrs) = match host_description {
            Some(d) if own_federation => (host_cloud.clone(), d.member_attrs()),
            _ => {
                let mut attrs = Attrs::new();
                // The provider reads what is wrong with a join here (`in sync` when nothing).
                attrs.insert("credentials".into(), Expr::lit("in sync"));
                (Some(KUBERNETES_CLOUD.to_string()), attrs)
            }
        };
        if let Some(f) = &mut self.federation {
            f.cloud = federation_cloud.clone();
        }
        let host_pools = self
            .clusters
            .get(&host.v)
            .map(|c| c.pools.clone())
            .unwrap_or_default();
        let host_cluster = Address::new(ResourceKind::Cluster, host.v.clone());
        let host_addr = Address::new(ResourceKind::FederationHost, host.v.clone());
        let mut attrs = Attrs::new();
        attrs.insert("cluster".into(), Expr::lit(host.v.clone()));
        attrs.insert("cluster_id".into(), Expr::reference(host_cluster, "id"));
        attrs.insert("namespace".into(), Expr::lit(namespace.clone()));
        attrs.insert("scope".into(), Expr::lit(scope));
        self.push(
            host_addr.clone(),
            federation_cloud.clone(),
            attrs,
            host_pools,
            host.span,
        );

        for m in members {
            let cluster = Address::new(ResourceKind::Cluster, m.v.clone());
            let mut attrs = Attrs::new();
            attrs.insert("cluster".into(), Expr::lit(m.v.clone()));
            attrs.insert("cluster_id".into(), Expr::reference(cluster.clone(), "id"));
            attrs.insert("host".into(), Expr::lit(host.v.clone()));
            attrs.insert("host_id".into(), Expr::reference(host_addr.clone(), "id"));
            attrs.insert("namespace".into(), Expr::lit(namespace.clone()));
            attrs.insert(
                "api_endpoint".into(),
                Expr::reference(cluster.clone(), "endpoint"),
            );
            attrs.insert(
                "ca_bundle".into(),
                Expr::reference(cluster, "ca_certificate"),
            );
            attrs.extend(member_attrs.clone());
            let address = Address::new(ResourceKind::FederationMember, m.v);
            self.push(address, federation_cloud.clone(), attrs, Vec::new(), m.span);
        }
    }

    // ----- data and outputs ---------------------------------------------------

    fn data(&mut self, key: &Scalar, node: &Node) {
        let name = key.text.to_string();
        if !names::simple_name_ok(&name) {
            self.cx.error(
                key.span,
                format!("invalid data name `{}`", clip(&name)),
                Some(names::SIMPLE_NAME_HINT.to_string()),
            );
        }
        let what = format!("data `{}`", clip(&name));
        let Some(obj) = Obj::new(&mut self.cx, node, what.clone(), key.span) else {
            return;
        };
        obj.check_fields(&mut self.cx, &["values", "depends_on", "cloud"]);
        let cloud = obj
            .str_opt(&mut self.cx, "cloud")
            .and_then(|c| self.known_cloud(&c, &what));
        let mut attrs = Attrs::new();
        if let Some(values) = obj.map_opt(&mut self.cx, "values") {
            for (k, v) in values {
                if k.text == "id" {
                    self.cx.error(
                        k.span,
                        format!("`values.id` is reserved in {what}"),
                        Some(
                            "every data resource has an `id` output; pick another name".to_string(),
                        ),
                    );
                    continue;
                }
                let field = Fmt(|f| write!(f, "values.{}", k.text));
                let e = self.value_expr(v, &what, field);
                attrs.insert(k.text.to_string(), e);
            }
        }
        let deps = self.depends_on(&obj, &what);
        let address = Address::new(ResourceKind::Data, name);
        self.push(address, cloud, attrs, deps, key.span);
    }

    fn output(&mut self, key: &Scalar, node: &Node) {
        let name = key.text.to_string();
        if !names::output_name_ok(&name) {
            self.cx.error(
                key.span,
                format!("invalid output name `{}`", clip(&name)),
                Some(names::OUTPUT_NAME_HINT.to_string()),
            );
        }
        let what = format!("output `{}`", clip(&name));
        let Some(obj) = Obj::new(&mut self.cx, node, what.clone(), key.span) else {
            return;
        };
        obj.check_fields(&mut self.cx, &["value", "sensitive"]);
        let value = obj
            .req(&mut self.cx, "value")
            .map(|(_, v)| self.value_expr(v, &what, "value"));
        let sensitive = obj.bool_opt(&mut self.cx, "sensitive").is_some_and(|s| s.v);
        if let Some(value) = value {
            self.outputs.insert(
                name,
                OutputDef {
                    value,
                    sensitive,
                    span: key.span,
                },
            );
        }
    }

    /// A value that may be a `${...}` template (a scalar containing `${`) or any
    /// literal YAML.
    fn value_expr(&mut self, node: &Node, what: &str, field: impl std::fmt::Display) -> Expr {
        match node {
            Node::Scalar(s) if s.text.contains("${") => self.template(&s.text, s.span, what, field),
            n => Expr::Literal(to_json(n)),
        }
    }

    /// Parses `${KIND.NAME.OUTPUT}` references and remembers them for checking.
    pub(super) fn template(
        &mut self,
        text: &str,
        span: Span,
        what: &str,
        field: impl std::fmt::Display,
    ) -> Expr {
        match parse_template(text) {
            Ok(e) => {
                let what = self.what_id(what);
                let mut push = |address: &Address, output: &str| {
                    self.user_refs.push(UserRef {
                        address: address.clone(),
                        output: Some(output.to_string()),
                        span,
                        what,
                    });
                };
                match &e {
                    Expr::Ref { address, output } => push(address, output),
                    Expr::Template(parts) => {
                        for p in parts {
                            if let TemplatePart::Ref { address, output } = p {
                                push(address, output);
                            }
                        }
                    }
                    _ => {}
                }
                e
            }
            Err(msg) => {
                let hint = self
                    .reference_kind_hint(text)
                    .unwrap_or_else(|| "references look like ${cluster.NAME.endpoint}".to_string());
                self.cx.error(
                    span,
                    format!(
                        "invalid reference in `{field}` of {what}: {}",
                        clip_to(&msg, 160)
                    ),
                    Some(hint),
                );
                Expr::Literal(Value::Null)
            }
        }
    }

    /// "did you mean `cluster`?" for the first `${KIND...}` whose kind is unknown.
    fn reference_kind_hint(&mut self, text: &str) -> Option<String> {
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let inner = after.split('}').next().unwrap_or("").trim();
            let kind = inner.split('.').next().unwrap_or("");
            if ResourceKind::parse(kind).is_none() {
                let kinds = ResourceKind::ALL.map(ResourceKind::as_str);
                return Some(match self.cx.closest(kind, kinds) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!("kinds are: {}", kinds.join(", ")),
                });
            }
            rest = after;
        }
        None
    }

    /// The index of `what` in `whats`, reusing the last entry when it is the same.
    fn what_id(&mut self, what: &str) -> usize {
        match self.whats.last() {
            Some(last) if last == what => self.whats.len() - 1,
            _ => {
                self.whats.push(what.to_string());
                self.whats.len() - 1
            }
        }
    }

    // ----- shared field readers -----------------------------------------------

    pub(super) fn not_empty(&mut self, s: &Sp<String>, label: &str) {
        if s.v.trim().is_empty() {
            self.cx
                .error(s.span, format!("{label} must not be empty"), None);
        }
    }

    /// A mapping of strings to strings, as a JSON object (`{}` when absent).
    pub(super) fn labels(&mut self, obj: &Obj, key: &str) -> Value {
        let mut m = JsonMap::new();
        if let Some(entries) = obj.map_opt(&mut self.cx, key) {
            for (k, v) in entries {
                let label = Fmt(|f| write!(f, "label `{}` in {}", clip(&k.text), obj.what));
                let value = match v {
                    Node::Scalar(s) if s.is_null() => Some(String::new()),
                    n => as_str(&mut self.cx, n, label).map(|s| s.v),
                };
                if let Some(value) = value {
                    m.insert(k.text.to_string(), Value::String(value));
                }
            }
        }
        Value::Object(m)
    }

    /// `depends_on`: a list of addresses, remembered for checking.
    pub(super) fn depends_on(&mut self, obj: &Obj, what: &str) -> Vec<Address> {
        let mut out = Vec::new();
        let Some(items) = obj.list_opt(&mut self.cx, "depends_on") else {
            return out;
        };
        for item in items {
            let Node::Scalar(s) = item else {
                let label = Fmt(|f| write!(f, "an entry of `depends_on` in {what}"));
                as_str(&mut self.cx, item, label);
                continue;
            };
            let s = Sp {
                v: s.text.as_ref(),
                span: s.span,
            };
            match s.v.trim().parse::<Address>() {
                Ok(address) => {
                    let what = self.what_id(what);
                    self.user_refs.push(UserRef {
                        address: address.clone(),
                        output: None,
                        span: s.span,
                        what,
                    });
                    out.push(address);
                }
                Err(e) => {
                    let hint = match e {
                        AddressError::Malformed(_) => {
                            Some("expected KIND.NAME, e.g. cluster.gke-sydney".to_string())
                        }
                        AddressError::UnknownKind(kind) => {
                            let kinds = ResourceKind::ALL.map(ResourceKind::as_str);
                            match self.cx.closest(&kind, kinds) {
                                Some(k) => {
                                    let rest = s.v.trim().split_once('.').map_or("", |x| x.1);
                                    Some(format!("did you mean `{k}.{}`?", clip(rest)))
                                }
                                None => Some(format!("kinds are: {}", kinds.join(", "))),
                            }
                        }
                    };
                    self.cx.error(
                        s.span,
                        format!("invalid address `{}` in `depends_on` of {what}", clip(s.v)),
                        hint,
                    );
                }
            }
        }
        out
    }
}

/// "`x` is a field of clusters on aws clouds; this cluster uses provider gcp", when
/// `field` belongs to other clouds.
fn other_clouds_field(
    known: Clouds,
    provider: &dyn CloudDescription,
    field: &str,
    kinds: &str,
    fields_of: impl Fn(&dyn CloudDescription) -> &'static [Field],
) -> Option<String> {
    let users: Vec<&str> = known
        .names()
        .filter(|p| *p != provider.provider())
        .filter(|p| {
            known
                .get(p)
                .is_some_and(|d| fields_of(d).iter().any(|f| f.name == field))
        })
        .collect();
    (!users.is_empty()).then(|| {
        format!(
            "`{field}` is a field of {kinds} on {} clouds; this {} uses provider {}",
            users.join(" and "),
            kinds.trim_end_matches('s'),
            provider.provider()
        )
    })
}

pub(super) fn lit_opt<T: Into<Value>>(v: Option<T>) -> Expr {
    Expr::Literal(v.map_or(Value::Null, Into::into))
}
