//! The `dns:` section: the zone, its health checks and its records with their
//! routing policies (Route 53 semantics).

use serde_json::{Map as JsonMap, Value};

use super::cx::{clip, FxMap, FxSet, Obj, Sp};
use super::load::{lit_opt, Loader};
use super::names;
use super::yaml::{Node, Scalar};
use super::Span;
use crate::address::{Address, ResourceKind};
use crate::value::{Attrs, Expr};

const HEALTH_CHECK_TYPES: &[&str] = &["HTTP", "HTTPS", "TCP", "HTTP_STR_MATCH", "HTTPS_STR_MATCH"];
const RECORD_TYPES: &[&str] = &["A", "AAAA", "CNAME", "TXT"];
const ROUTINGS: &[&str] = &[
    "simple",
    "weighted",
    "latency",
    "geolocation",
    "failover",
    "multivalue",
];
const CONTINENTS: &[&str] = &["AF", "AN", "AS", "EU", "OC", "NA", "SA"];

/// Target fields that belong to one routing policy each.
const ROUTING_FIELDS: &[(&str, &str)] = &[
    ("weight", "weighted"),
    ("region", "latency"),
    ("location", "geolocation"),
    ("failover", "failover"),
];

/// What the records need to know about the zone.
struct Zone {
    name: Option<String>,
    address: Option<Address>,
    cloud: Option<String>,
    health_checks: Vec<String>,
}

/// The declared health checks, for lookups and (in declaration order) for hints.
struct Checks<'a> {
    set: FxSet<&'a str>,
    names: &'a [String],
}

/// One parsed target of a record.
struct Target {
    set_id: String,
    span: Span,
    value: Option<Expr>,
    weight: Option<i64>,
    region: Option<Sp<String>>,
    location: Option<Sp<Location>>,
    failover: Option<Sp<&'static str>>,
    health_check: Option<String>,
    /// `alias: {dns_name, hosted_zone_id, evaluate_target_health}` instead of a value.
    alias: Option<Value>,
}

struct Location {
    json: Value,
    /// Identity for duplicate detection, e.g. `country US-CA`.
    key: String,
}

impl Loader<'_> {
    pub(super) fn dns(&mut self, key: &Scalar, node: &Node) {
        let what = "dns".to_string();
        let Some(obj) = Obj::new(&mut self.cx, node, what.clone(), key.span) else {
            return;
        };
        obj.check_fields(
            &mut self.cx,
            &["zone", "cloud", "comment", "health_checks", "records"],
        );
        let zone = obj.str_req(&mut self.cx, "zone");
        if let Some(z) = &zone {
            if !names::zone_ok(&z.v) {
                self.cx.error(
                    z.span,
                    format!("invalid DNS zone `{}`", clip(&z.v)),
                    Some(names::ZONE_HINT.to_string()),
                );
            }
        }
        let cloud = obj
            .str_req(&mut self.cx, "cloud")
            .and_then(|c| self.known_cloud(&c, &what));
        let comment = obj.str_opt(&mut self.cx, "comment");

        let zone_name = zone.as_ref().map(|z| z.v.trim_end_matches('.').to_string());
        let zone_address = zone_name
            .as_ref()
            .map(|z| Address::new(ResourceKind::DnsZone, z.clone()));
        if let (Some(z), Some(address)) = (&zone, &zone_address) {
            let mut attrs = Attrs::new();
            attrs.insert("zone".into(), Expr::lit(address.name.clone()));
            attrs.insert("comment".into(), lit_opt(comment.map(|c| c.v)));
            self.push(address.clone(), cloud.clone(), attrs, Vec::new(), z.span);
        }

        let mut ctx = Zone {
            name: zone_name,
            address: zone_address,
            cloud,
            health_checks: Vec::new(),
        };
        let checks = obj.map_opt(&mut self.cx, "health_checks");
        // Unreadable (reported): health check names in records are not checked.
        let checks_unreadable = checks.is_none() && obj.get("health_checks").is_some();
        if let Some(checks) = checks {
            ctx.health_checks = checks.iter().map(|(k, _)| k.text.to_string()).collect();
            for (k, v) in checks {
                self.health_check(&ctx, k, v);
            }
        }
        if let Some(records) = obj.map_opt(&mut self.cx, "records") {
            let known = Checks {
                set: ctx.health_checks.iter().map(String::as_str).collect(),
                names: &ctx.health_checks,
            };
            let known = (!checks_unreadable).then_some(&known);
            let mut seen: FxMap<String, (String, Span)> = FxMap::default();
            for (k, v) in records {
                self.record(&ctx, known, &mut seen, k, v);
            }
        }
    }

    /// `cluster` or `address`, exactly one. Returns the value expression when valid:
    /// the cluster's `ingress_address`, or the address itself. `check_address` says
    /// what a literal address must be when it is not one; `cluster_ok` why a cluster
    /// can't be used here.
    fn cluster_or_address(
        &mut self,
        obj: &Obj,
        what: &str,
        check_address: &dyn Fn(&str) -> Option<&'static str>,
        cluster_ok: &dyn Fn() -> Option<String>,
    ) -> Option<Expr> {
        let cluster = obj.str_opt(&mut self.cx, "cluster");
        let address = obj.str_opt(&mut self.cx, "address");
        match (cluster, address) {
            (Some(_), Some(a)) => {
                self.cx.error(
                    a.span,
                    format!("{what} sets both `cluster` and `address`"),
                    Some("keep one of them".to_string()),
                );
                None
            }
            (None, None) => {
                if obj.get("cluster").is_none() && obj.get("address").is_none() {
                    self.cx
                        .error(obj.at, format!("{what} needs `cluster` or `address`"), None);
                }
                None
            }
            (Some(c), None) => {
                if !self.known_cluster(&c, what) {
                    return None;
                }
                if let Some(provider) = self.clusters.get(&c.v).and_then(|i| i.no_ingress_address) {
                    self.cx.error(
                        c.span,
                        format!(
                            "cluster `{}` in {what} has no `ingress_address`: provider {provider} gives its clusters none",
                            clip(&c.v)
                        ),
                        Some(format!(
                            "set `ingress_address` on cluster `{}` (the IPv4 of the load balancer in front of it), or use `address` or `alias` here",
                            clip(&c.v)
                        )),
                    );
                    return None;
                }
                if let Some(msg) = cluster_ok() {
                    self.cx.error(
                        c.span,
                        msg,
                        Some("use `address` for AAAA, CNAME and TXT records".to_string()),
                    );
                    return None;
                }
                Some(Expr::reference(
                    Address::new(ResourceKind::Cluster, c.v),
                    "ingress_address",
                ))
            }
            (None, Some(a)) => {
                if let Some(kind) = check_address(&a.v) {
                    self.cx.error(
                        a.span,
                        format!("`address` in {what} must be {kind}, found `{}`", clip(&a.v)),
                        None,
                    );
                    return None;
                }
                Some(Expr::lit(a.v))
            }
        }
    }

    fn health_check(&mut self, zone: &Zone, key: &Scalar, node: &Node) {
        let name = key.text.to_string();
        if !names::simple_name_ok(&name) {
            self.cx.error(
                key.span,
                format!("invalid health check name `{}`", clip(&name)),
                Some(names::SIMPLE_NAME_HINT.to_string()),
            );
        }
        let what = format!("health check `{}`", clip(&name));
        let Some(obj) = Obj::new(&mut self.cx, node, what.clone(), key.span) else {
            return;
        };
        obj.check_fields(
            &mut self.cx,
            &[
                "cluster",
                "address",
                "type",
                "port",
                "path",
                "interval",
                "failure_threshold",
                "depends_on",
            ],
        );
        let address = self.cluster_or_address(
            &obj,
            &what,
            &|a| (!names::ipv4_ok(a)).then_some("an IPv4 address"),
            &|| None,
        );
        let kind = obj
            .enum_opt(&mut self.cx, "type", HEALTH_CHECK_TYPES)
            .map(|t| t.v)
            .or_else(|| obj.get("type").is_none().then_some("HTTPS"));
        let tcp = kind == Some("TCP");

        let port = match obj.get("port") {
            Some(_) => obj.int_opt(&mut self.cx, "port", 1, 65535).map(|p| p.v),
            None => match kind {
                Some("TCP") => {
                    self.cx.error(
                        obj.at,
                        format!("missing field `port` in {what}"),
                        Some("TCP health checks have no default port".to_string()),
                    );
                    None
                }
                Some(k) if k.starts_with("HTTPS") => Some(443),
                Some(_) => Some(80),
                None => None,
            },
        };

        let path = if tcp {
            if let Some((k, _)) = obj.raw("path") {
                self.cx.error(
                    k.span,
                    format!("`path` is not allowed in TCP {what}"),
                    Some("TCP health checks only open a connection".to_string()),
                );
            }
            None
        } else {
            match obj.str_opt(&mut self.cx, "path") {
                Some(p) if !p.v.starts_with('/') => {
                    self.cx.error(
                        p.span,
                        format!(
                            "`path` in {what} must start with `/`, found `{}`",
                            clip(&p.v)
                        ),
                        None,
                    );
                    None
                }
                Some(p) => Some(p.v),
                None => Some("/".to_string()),
            }
        };

        let interval = match obj.int_opt(&mut self.cx, "interval", i64::MIN, i64::MAX) {
            Some(i) if i.v == 10 || i.v == 30 => Some(i.v),
            Some(i) => {
                self.cx.error(
                    i.span,
                    format!("`interval` in {what} must be 10 or 30, found {}", i.v),
                    None,
                );
                None
            }
            None => Some(30),
        };
        let threshold = obj
            .int_opt(&mut self.cx, "failure_threshold", 1, 10)
            .map_or(3, |t| t.v);
        let deps = self.depends_on(&obj, &what);

        let mut attrs = Attrs::new();
        attrs.insert("type".into(), lit_opt(kind));
        attrs.insert(
            "address".into(),
            address.unwrap_or(Expr::Literal(Value::Null)),
        );
        attrs.insert("port".into(), lit_opt(port));
        attrs.insert("path".into(), lit_opt(path));
        attrs.insert("interval".into(), lit_opt(interval));
        attrs.insert("failure_threshold".into(), Expr::lit(threshold));
        let address = Address::new(ResourceKind::HealthCheck, name);
        self.push(address, zone.cloud.clone(), attrs, deps, key.span);
    }

    /// The record's fully qualified name (no trailing dot), or `None` when it is
    /// invalid (reported) or the zone is unknown.
    fn record_fqdn(&mut self, name: &str, span: Span, zone: &str) -> Option<String> {
        let (fqdn, relative) = if name == "@" {
            (zone.to_string(), None)
        } else if let Some(abs) = name.strip_suffix('.') {
            if abs == zone {
                (zone.to_string(), None)
            } else if let Some(rel) = abs
                .strip_suffix(zone)
                .and_then(|r| r.strip_suffix('.'))
                .filter(|r| !r.is_empty())
            {
                (abs.to_string(), Some(rel))
            } else {
                self.cx.error(
                    span,
                    format!("record `{}` is not inside zone `{zone}`", clip(name)),
                    Some(format!(
                        "use a name relative to the zone, like `app`, or an absolute name ending in `.{zone}.`"
                    )),
                );
                return None;
            }
        } else {
            (format!("{name}.{zone}"), Some(name))
        };
        if let Some(rel) = relative {
            if !names::record_labels_ok(rel) || fqdn.len() > 253 {
                self.cx.error(
                    span,
                    format!("invalid record name `{}`", clip(name)),
                    Some(names::RECORD_NAME_HINT.to_string()),
                );
                return None;
            }
        }
        Some(fqdn)
    }

    fn record(
        &mut self,
        zone: &Zone,
        health_checks: Option<&Checks>,
        seen: &mut FxMap<String, (String, Span)>,
        key: &Scalar,
        node: &Node,
    ) {
        let name = key.text.to_string();
        let fqdn = match &zone.name {
            Some(z) => self.record_fqdn(&name, key.span, z),
            None => None,
        };
        let what = format!("record `{}`", clip(&name));
        let Some(obj) = Obj::new(&mut self.cx, node, what.clone(), key.span) else {
            return;
        };
        obj.check_fields(
            &mut self.cx,
            &["type", "ttl", "routing", "targets", "depends_on"],
        );
        // `None` when given but invalid (reported): checks that need it are skipped.
        let rtype = match obj.get("type") {
            None => Some("A"),
            Some(_) => obj
                .enum_opt(&mut self.cx, "type", RECORD_TYPES)
                .map(|t| t.v),
        };
        let ttl = obj
            .int_opt(&mut self.cx, "ttl", 0, 2_147_483_647)
            .map_or(60, |t| t.v);
        let routing = match obj.get("routing") {
            None => Some("simple"),
            Some(_) => obj.enum_opt(&mut self.cx, "routing", ROUTINGS).map(|r| r.v),
        };
        let deps = self.depends_on(&obj, &what);

        let mut targets: Vec<Target> = Vec::new();
        let mut complete = true;
        if let Some((tkey, _)) = obj.req(&mut self.cx, "targets") {
            if let Some(entries) = obj.map_opt(&mut self.cx, "targets") {
                if entries.is_empty() {
                    self.cx.error(
                        tkey.span,
                        format!("{what} has no targets"),
                        Some("add at least one entry under `targets`".to_string()),
                    );
                }
                for (k, v) in entries {
                    match self.target(&name, rtype, routing, health_checks, k, v) {
                        Some(t) => targets.push(t),
                        None => complete = false,
                    }
                }
            }
        }

        if let Some(routing) = routing {
            self.routing_rules(&name, key.span, rtype, routing, &targets, complete);
        }
        if rtype == Some("CNAME") && zone.name.is_some() && fqdn == zone.name {
            self.cx.error(
                key.span,
                format!("{what} is a CNAME at the zone apex"),
                Some("a zone apex can't be a CNAME; use an A record".to_string()),
            );
        }

        let Some(fqdn) = fqdn else { return };
        let record_address = Address::new(ResourceKind::DnsRecord, fqdn.clone());
        if let Some((first, at)) = seen.get(&fqdn) {
            self.cx.error(
                key.span,
                format!("duplicate address `{record_address}` from {what}"),
                Some(format!(
                    "record `{}` at line {}, column {} has the same name",
                    clip(first),
                    at.line,
                    at.column
                )),
            );
            return;
        }
        seen.insert(fqdn.clone(), (name, key.span));

        let routing = routing.unwrap_or("simple");
        let mut common = Attrs::new();
        common.insert("zone".into(), lit_opt(zone.name.clone()));
        common.insert(
            "zone_id".into(),
            match &zone.address {
                Some(a) => Expr::reference(a.clone(), "id"),
                None => Expr::Literal(Value::Null),
            },
        );
        common.insert("fqdn".into(), Expr::lit(fqdn.clone()));
        common.insert("type".into(), Expr::lit(rtype.unwrap_or("A")));
        common.insert("ttl".into(), Expr::lit(ttl));
        common.insert("routing".into(), Expr::lit(routing));

        let value_of = |t: &Target| t.value.clone().unwrap_or(Expr::Literal(Value::Null));
        if routing == "simple" {
            let mut attrs = common;
            attrs.insert("set_id".into(), Expr::Literal(Value::Null));
            match targets.iter().find_map(|t| t.alias.clone()) {
                Some(alias) => {
                    // An alias has no TTL and no values of its own.
                    attrs.insert("ttl".into(), Expr::Literal(Value::Null));
                    attrs.insert("values".into(), Expr::Literal(Value::Null));
                    attrs.insert("alias".into(), Expr::Literal(alias));
                }
                None => {
                    attrs.insert(
                        "values".into(),
                        Expr::List(targets.iter().map(value_of).collect()),
                    );
                }
            }
            for f in [
                "weight",
                "region",
                "location",
                "failover",
                "health_check_id",
            ] {
                attrs.insert(f.into(), Expr::Literal(Value::Null));
            }
            self.push(record_address, zone.cloud.clone(), attrs, deps, key.span);
            return;
        }
        for t in &targets {
            let mut attrs = common.clone();
            attrs.insert("set_id".into(), Expr::lit(t.set_id.clone()));
            match &t.alias {
                Some(alias) => {
                    attrs.insert("ttl".into(), Expr::Literal(Value::Null));
                    attrs.insert("values".into(), Expr::Literal(Value::Null));
                    attrs.insert("alias".into(), Expr::Literal(alias.clone()));
                }
                None => {
                    attrs.insert("values".into(), Expr::List(vec![value_of(t)]));
                }
            }
            attrs.insert("weight".into(), lit_opt(t.weight));
            attrs.insert(
                "region".into(),
                lit_opt(t.region.as_ref().map(|r| r.v.clone())),
            );
            attrs.insert(
                "location".into(),
                Expr::Literal(
                    t.location
                        .as_ref()
                        .map_or(Value::Null, |l| l.v.json.clone()),
                ),
            );
            attrs.insert("failover".into(), lit_opt(t.failover.as_ref().map(|f| f.v)));
            attrs.insert(
                "health_check_id".into(),
                match &t.health_check {
                    Some(h) => {
                        Expr::reference(Address::new(ResourceKind::HealthCheck, h.clone()), "id")
                    }
                    None => Expr::Literal(Value::Null),
                },
            );
            let address = Address::new(ResourceKind::DnsRecord, format!("{fqdn}/{}", t.set_id));
            self.push(address, zone.cloud.clone(), attrs, deps.clone(), t.span);
        }
    }

    /// One entry of `targets`. `None` when it is not a mapping at all.
    fn target(
        &mut self,
        record: &str,
        rtype: Option<&'static str>,
        routing: Option<&'static str>,
        health_checks: Option<&Checks>,
        key: &Scalar,
        node: &Node,
    ) -> Option<Target> {
        let set_id = key.text.to_string();
        if !names::set_id_ok(&set_id) {
            self.cx.error(
                key.span,
                format!(
                    "invalid set id `{}` in record `{}`",
                    clip(&set_id),
                    clip(record)
                ),
                Some(names::SET_ID_HINT.to_string()),
            );
        }
        let what = format!("target `{}` of record `{}`", clip(&set_id), clip(record));
        let obj = Obj::new(&mut self.cx, node, what.clone(), key.span)?;
        obj.check_fields(
            &mut self.cx,
            &[
                "cluster",
                "address",
                "weight",
                "region",
                "location",
                "failover",
                "health_check",
                "alias",
            ],
        );
        let check_address = |a: &str| -> Option<&'static str> {
            match rtype {
                Some("A") if !names::ipv4_ok(a) => Some("an IPv4 address for type A"),
                Some("AAAA") if !names::ipv6_ok(a) => Some("an IPv6 address for type AAAA"),
                Some("CNAME") if !names::hostname_ok(a) => Some("a host name for type CNAME"),
                Some("TXT") if a.is_empty() => Some("a non-empty string for type TXT"),
                _ => None,
            }
        };
        let record_clip = clip(record);
        let cluster_ok = || -> Option<String> {
            match rtype {
                Some(t) if t != "A" => Some(format!(
                    "a cluster target needs type A; record `{record_clip}` has type {t}"
                )),
                _ => None,
            }
        };
        let alias = match obj.get("alias") {
            Some((k, n)) => {
                for other in ["cluster", "address"] {
                    if let Some((o, _)) = obj.raw(other) {
                        self.cx.error(
                            o.span,
                            format!("{what} sets both `alias` and `{other}`"),
                            Some("a target is one of `cluster`, `address` and `alias`".to_string()),
                        );
                    }
                }
                match rtype {
                    Some(t) if t != "A" && t != "AAAA" => {
                        self.cx.error(
                            k.span,
                            format!("`alias` in {what} needs type A or AAAA; record `{record_clip}` has type {t}"),
                            Some("an alias points at a load balancer, which answers A and AAAA queries".to_string()),
                        );
                        None
                    }
                    _ if routing == Some("multivalue") => {
                        self.cx.error(
                            k.span,
                            format!("`alias` in {what} can't be used with routing: multivalue"),
                            Some(
                                "Route 53 has no multivalue alias records; use weighted routing"
                                    .to_string(),
                            ),
                        );
                        None
                    }
                    _ => self.alias(n, k.span, &what),
                }
            }
            None => None,
        };
        let value = if obj.get("alias").is_some() {
            None
        } else {
            self.cluster_or_address(&obj, &what, &check_address, &cluster_ok)
        };

        // Fields of another routing policy.
        let mut foreign: Vec<&str> = Vec::new();
        if let Some(routing) = routing {
            for (field, policy) in ROUTING_FIELDS {
                if let Some((k, _)) = obj.raw(field) {
                    if *policy != routing {
                        self.cx.error(
                            k.span,
                            format!(
                                "`{field}` is only valid with routing: {policy}; this record uses {routing}"
                            ),
                            None,
                        );
                        foreign.push(field);
                    }
                }
            }
        }
        let weight = if foreign.contains(&"weight") {
            None
        } else {
            obj.int_opt(&mut self.cx, "weight", 0, 255).map(|w| w.v)
        };
        let region = if foreign.contains(&"region") {
            None
        } else {
            obj.str_opt(&mut self.cx, "region").filter(|r| {
                let ok = names::aws_region_ok(&r.v);
                if !ok {
                    self.cx.error(
                        r.span,
                        format!(
                            "`region` in {what} must be an AWS region like us-east-1, found `{}`",
                            clip(&r.v)
                        ),
                        None,
                    );
                }
                ok
            })
        };
        let location = if foreign.contains(&"location") {
            None
        } else {
            match obj.get("location") {
                Some((_, n)) => self.location(n, &what),
                None => None,
            }
        };
        let failover = if foreign.contains(&"failover") {
            None
        } else {
            obj.enum_opt(&mut self.cx, "failover", &["PRIMARY", "SECONDARY"])
        };
        let health_check = match obj.raw("health_check") {
            Some((k, _)) if routing == Some("simple") => {
                self.cx.error(
                    k.span,
                    "`health_check` can't be used with routing: simple".to_string(),
                    Some(
                        "Route 53 can't health-check a simple record; use failover, weighted, latency, geolocation or multivalue"
                            .to_string(),
                    ),
                );
                None
            }
            _ => match obj.str_opt(&mut self.cx, "health_check") {
                Some(h) if health_checks.is_none_or(|k| k.set.contains(h.v.as_str())) => {
                    health_checks.map(|_| h.v)
                }
                Some(h) => {
                    let names = health_checks.map_or(&[][..], |k| k.names);
                    let hint =
                        self.cx
                            .suggest(&h.v, names.iter().map(String::as_str), "health checks");
                    self.cx.error(
                        h.span,
                        format!("unknown health check `{}` in {what}", clip(&h.v)),
                        hint,
                    );
                    None
                }
                None => None,
            },
        };

        // The field the routing policy needs.
        let needed = match routing {
            Some("weighted") => Some(("weight", "weights are 0-255")),
            Some("latency") => Some(("region", "the AWS region the target serves, e.g. us-east-1")),
            Some("geolocation") => Some((
                "location",
                "`*`, or a mapping with `continent` or `country`",
            )),
            Some("failover") => Some(("failover", "PRIMARY or SECONDARY")),
            _ => None,
        };
        if let (Some((field, hint)), Some(routing)) = (needed, routing) {
            if obj.get(field).is_none() {
                self.cx.error(
                    key.span,
                    format!(
                        "target `{}` of {routing} record `{}` needs `{field}`",
                        clip(&set_id),
                        clip(record)
                    ),
                    Some(hint.to_string()),
                );
            }
        }

        Some(Target {
            set_id,
            span: key.span,
            value,
            weight,
            region,
            location,
            failover,
            health_check,
            alias,
        })
    }

    /// `alias: {dns_name, hosted_zone_id, evaluate_target_health}`: a load balancer
    /// (or another Route 53 name) answering for the record. As JSON, `None` when invalid.
    fn alias(&mut self, node: &Node, at: Span, target: &str) -> Option<Value> {
        let what = format!("`alias` of {target}");
        let obj = Obj::new(&mut self.cx, node, what.clone(), at)?;
        obj.check_fields(
            &mut self.cx,
            &["dns_name", "hosted_zone_id", "evaluate_target_health"],
        );
        let dns_name = obj.str_req(&mut self.cx, "dns_name").filter(|d| {
            let ok = names::hostname_ok(&d.v) && d.v.contains('.');
            if !ok {
                self.cx.error(
                    d.span,
                    format!(
                        "`dns_name` in {what} must be a host name, found `{}`",
                        clip(&d.v)
                    ),
                    Some("e.g. my-lb-1234567890.us-east-1.elb.amazonaws.com".to_string()),
                );
            }
            ok
        });
        let zone_id = obj.str_req(&mut self.cx, "hosted_zone_id").filter(|z| {
            let ok = (2..=32).contains(&z.v.len())
                && z.v.starts_with('Z')
                && z.v.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if !ok {
                self.cx.error(
                    z.span,
                    format!("`hosted_zone_id` in {what} must be a Route 53 zone id like Z35SXDOTRQ7X7K, found `{}`", clip(&z.v)),
                    Some("the canonical hosted zone id of the load balancer (its `CanonicalHostedZoneId`)".to_string()),
                );
            }
            ok
        });
        let evaluate = obj
            .bool_opt(&mut self.cx, "evaluate_target_health")
            .is_some_and(|b| b.v);
        let (dns_name, zone_id) = (dns_name?, zone_id?);
        let mut m = JsonMap::new();
        m.insert(
            "dns_name".into(),
            Value::from(dns_name.v.trim_end_matches('.').to_ascii_lowercase()),
        );
        m.insert("hosted_zone_id".into(), Value::from(zone_id.v));
        m.insert("evaluate_target_health".into(), Value::from(evaluate));
        Some(Value::Object(m))
    }

    /// `location`: `*`, or one of `continent` / `country` (+ `subdivision`).
    fn location(&mut self, node: &Node, target: &str) -> Option<Sp<Location>> {
        let span = node.span();
        match node {
            Node::Scalar(s) if s.text == "*" => Some(Sp {
                v: Location {
                    json: Value::from("*"),
                    key: "*".to_string(),
                },
                span,
            }),
            Node::Map { .. } => {
                let what = format!("`location` of {target}");
                let obj = Obj::new(&mut self.cx, node, what.clone(), span)?;
                obj.check_fields(&mut self.cx, &["continent", "country", "subdivision"]);
                let continent = obj.enum_opt(&mut self.cx, "continent", CONTINENTS);
                let country = obj.str_opt(&mut self.cx, "country").filter(|c| {
                    let ok = c.v.len() == 2 && c.v.bytes().all(|b| b.is_ascii_uppercase());
                    if !ok {
                        self.cx.error(
                            c.span,
                            format!(
                                "`country` in {what} must be a two-letter country code like AU, found `{}`",
                                clip(&c.v)
                            ),
                            None,
                        );
                    }
                    ok
                });
                let subdivision = obj.str_opt(&mut self.cx, "subdivision").filter(|s| {
                    let ok = (1..=3).contains(&s.v.len())
                        && s.v.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
                    if !ok {
                        self.cx.error(
                            s.span,
                            format!(
                                "`subdivision` in {what} must be a subdivision code like CA, found `{}`",
                                clip(&s.v)
                            ),
                            None,
                        );
                    }
                    ok
                });
                let has = |f: &str| obj.get(f).is_some();
                if has("continent") && has("country") {
                    self.cx.error(
                        span,
                        format!("{what} sets both `continent` and `country`"),
                        Some(
                            "a location is a continent, or a country with an optional subdivision"
                                .to_string(),
                        ),
                    );
                    return None;
                }
                if has("subdivision") && !has("country") {
                    if let Some((k, _)) = obj.get("subdivision") {
                        self.cx.error(
                            k.span,
                            format!("`subdivision` needs `country` in {what}"),
                            None,
                        );
                    }
                    return None;
                }
                if !has("continent") && !has("country") {
                    self.cx.error(
                        span,
                        format!("{what} needs `continent` or `country`"),
                        Some("use `*` for the default location".to_string()),
                    );
                    return None;
                }
                let mut json = JsonMap::new();
                let key = if let Some(c) = continent {
                    json.insert("continent".into(), Value::from(c.v));
                    format!("continent {}", c.v)
                } else {
                    let country = country?;
                    let mut key = format!("country {}", country.v);
                    json.insert("country".into(), Value::from(country.v));
                    if has("subdivision") {
                        let s = subdivision?;
                        key.push('-');
                        key.push_str(&s.v);
                        json.insert("subdivision".into(), Value::from(s.v));
                    }
                    key
                };
                Some(Sp {
                    v: Location {
                        json: Value::Object(json),
                        key,
                    },
                    span,
                })
            }
            n => {
                self.cx.error(
                    span,
                    format!(
                        "expected `*` or a mapping with `continent` or `country` for `location` in {target}, found {}",
                        super::cx::found(n)
                    ),
                    None,
                );
                None
            }
        }
    }

    /// The rules of each routing policy that span several targets.
    /// `complete`: every target could be read (else "missing" rules are skipped).
    fn routing_rules(
        &mut self,
        record: &str,
        span: Span,
        rtype: Option<&str>,
        routing: &str,
        targets: &[Target],
        complete: bool,
    ) {
        let record = clip(record);
        match routing {
            "failover" => {
                let (mut primary, mut secondary) = (0, 0);
                for (i, t) in targets.iter().enumerate() {
                    if i == 2 {
                        self.cx.error(
                            t.span,
                            format!("failover record `{record}` has more than two targets"),
                            Some("a failover record has one PRIMARY and at most one SECONDARY target".to_string()),
                        );
                    }
                    match t.failover.as_ref() {
                        Some(f) if f.v == "PRIMARY" => {
                            primary += 1;
                            if primary == 2 {
                                self.cx.error(
                                    f.span,
                                    format!("failover record `{record}` has two PRIMARY targets"),
                                    Some(
                                        "a failover record has exactly one PRIMARY target"
                                            .to_string(),
                                    ),
                                );
                            }
                        }
                        Some(f) => {
                            secondary += 1;
                            if secondary == 2 {
                                self.cx.error(
                                    f.span,
                                    format!("failover record `{record}` has two SECONDARY targets"),
                                    Some(
                                        "a failover record has at most one SECONDARY target"
                                            .to_string(),
                                    ),
                                );
                            }
                        }
                        None => {}
                    }
                }
                let all_set = complete && targets.iter().all(|t| t.failover.is_some());
                if primary == 0 && all_set && !targets.is_empty() {
                    self.cx.error(
                        span,
                        format!("failover record `{record}` has no PRIMARY target"),
                        Some("mark one target `failover: PRIMARY`".to_string()),
                    );
                }
            }
            "latency" => {
                let mut seen: FxMap<&str, &str> = FxMap::default();
                for t in targets {
                    let Some(r) = &t.region else { continue };
                    if let Some(first) = seen.get(r.v.as_str()) {
                        self.cx.error(
                            r.span,
                            format!(
                                "region `{}` is used twice in latency record `{record}`",
                                r.v
                            ),
                            Some(format!("target `{}` already serves it", clip(first))),
                        );
                    } else {
                        seen.insert(&r.v, &t.set_id);
                    }
                }
            }
            "geolocation" => {
                let mut seen: FxMap<&str, &str> = FxMap::default();
                for t in targets {
                    let Some(l) = &t.location else { continue };
                    if let Some(first) = seen.get(l.v.key.as_str()) {
                        self.cx.error(
                            l.span,
                            format!(
                                "location `{}` is used twice in geolocation record `{record}`",
                                l.v.key
                            ),
                            Some(format!("target `{}` already serves it", clip(first))),
                        );
                    } else {
                        seen.insert(&l.v.key, &t.set_id);
                    }
                }
                let all_set = complete && targets.iter().all(|t| t.location.is_some());
                if all_set && !targets.is_empty() && !seen.contains_key("*") {
                    self.cx.error(
                        span,
                        format!("geolocation record `{record}` has no `*` default location"),
                        Some("add `*` as a default location".to_string()),
                    );
                }
            }
            "multivalue" => {
                if let Some(t) = targets.get(8) {
                    self.cx.error(
                        t.span,
                        format!("multivalue record `{record}` has more than 8 targets"),
                        Some("Route 53 answers with at most 8 values".to_string()),
                    );
                }
            }
            "simple" if targets.len() > 1 && targets.iter().any(|t| t.alias.is_some()) => {
                self.cx.error(
                    span,
                    format!("simple record `{record}` has an `alias` target and {} targets", targets.len()),
                    Some("a simple alias record has exactly one target; use weighted or multivalue routing for more".to_string()),
                );
            }
            "simple" if rtype == Some("CNAME") && targets.len() > 1 => {
                self.cx.error(
                    span,
                    format!("CNAME record `{record}` has {} targets", targets.len()),
                    Some("a CNAME record has exactly one value".to_string()),
                );
            }
            _ => {}
        }
    }
}
