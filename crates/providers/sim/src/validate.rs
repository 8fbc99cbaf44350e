//! Validation of attributes, per kind and flavor, with the real clouds' rules.
//!
//! Shape checks (this module) need no world; checks against other objects live in the
//! provider. Every error is one line.

use std::net::{Ipv4Addr, Ipv6Addr};

use fedstack_core::address::ResourceKind;
use fedstack_core::value::Values;
use serde_json::Value;

use fedstack_core::stack::describe::{did_you_mean, ApiRules};
use fedstack_describe_aws::{EksRules, AWS_REGIONS};
use fedstack_describe_azure::AksRules;
use fedstack_describe_gcp::GkeRules;

use crate::config::Emulates;
use crate::object::Flavor;

/// Supported Kubernetes minor versions (1.29 to 1.33).
pub(crate) const K8S_MINORS: std::ops::RangeInclusive<u64> = 29..=33;

type Check = Result<(), String>;

// ---- attribute access ---------------------------------------------------------------

fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(57).collect::<String>())
    } else {
        s
    }
}

fn present<'a>(attrs: &'a Values, key: &str) -> Option<&'a Value> {
    attrs.get(key).filter(|v| !v.is_null())
}

pub(crate) fn opt_str<'a>(attrs: &'a Values, key: &str) -> Result<Option<&'a str>, String> {
    match present(attrs, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(format!("`{key}` must be a string, got {}", show(v))),
    }
}

pub(crate) fn req_str<'a>(attrs: &'a Values, key: &str) -> Result<&'a str, String> {
    opt_str(attrs, key)?.ok_or_else(|| format!("`{key}` is required"))
}

pub(crate) fn opt_int(attrs: &Values, key: &str) -> Result<Option<i64>, String> {
    match present(attrs, key) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("`{key}` must be an integer, got {n}")),
        Some(v) => Err(format!("`{key}` must be an integer, got {}", show(v))),
    }
}

fn int_in(attrs: &Values, key: &str, lo: i64, hi: i64) -> Result<Option<i64>, String> {
    match opt_int(attrs, key)? {
        Some(n) if n < lo || n > hi => {
            Err(format!("`{key}` must be between {lo} and {hi}, got {n}"))
        }
        n => Ok(n),
    }
}

fn one_of<'a>(attrs: &'a Values, key: &str, allowed: &[&str]) -> Result<Option<&'a str>, String> {
    match opt_str(attrs, key)? {
        Some(s) if !allowed.contains(&s) => Err(format!(
            "`{key}` must be one of {}, got `{s}`",
            allowed.join(", ")
        )),
        s => Ok(s),
    }
}

/// `key` must be absent or null.
fn absent(attrs: &Values, key: &str, why: &str) -> Check {
    match present(attrs, key) {
        Some(v) => Err(format!("`{key}` is not allowed {why}, got {}", show(v))),
        None => Ok(()),
    }
}

// ---- names --------------------------------------------------------------------------

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Splits a node pool's name `<cluster>.<pool>`.
pub(crate) fn split_pool_name(name: &str) -> Result<(&str, &str), String> {
    match name.split_once('.') {
        Some((c, p)) if !c.is_empty() && !p.is_empty() => Ok((c, p)),
        _ => Err(format!("node pool name `{name}` must be <cluster>.<pool>")),
    }
}

// ---- regions, versions, machine types ------------------------------------------------

/// The minor version of a supported `kubernetes_version` (`1.31`, `1.31.2`, `1.31.2-gke.1146000`).
pub(crate) fn k8s_minor(v: &Value, flavor: Flavor) -> Result<u64, String> {
    let s = match v {
        Value::String(s) => s.as_str(),
        Value::Number(n) => {
            return Err(format!(
                "`kubernetes_version` must be a string such as \"1.31\", not the number {n} (quote it: 1.30 reads as 1.3)"
            ))
        }
        other => return Err(format!("`kubernetes_version` must be a string, got {}", show(other))),
    };
    let core = s.split_once('-').map_or(s, |(c, _)| c);
    let parts: Vec<&str> = core.split('.').collect();
    let num = |p: &str| {
        (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u64>().ok())
            .flatten()
    };
    let minor = match parts.as_slice() {
        [major, minor] | [major, minor, _] if *major == "1" => num(minor),
        _ => None,
    };
    let patch_ok = parts.get(2).is_none_or(|p| num(p).is_some());
    match minor {
        Some(m) if patch_ok && K8S_MINORS.contains(&m) => Ok(m),
        Some(m) if patch_ok => Err(format!(
            "kubernetes_version `{s}` is not supported by {}: supported versions are 1.{} to 1.{} (1.{m} is {})",
            flavor.product(),
            K8S_MINORS.start(),
            K8S_MINORS.end(),
            if m < *K8S_MINORS.start() { "past end of support" } else { "not released yet" }
        )),
        _ => Err(format!("kubernetes_version `{s}` is not a version such as \"1.31\"")),
    }
}

/// The emulated cloud's own rules (from its description).
pub(crate) fn rules(flavor: Flavor) -> &'static dyn ApiRules {
    match flavor {
        Flavor::Eks => &EksRules,
        Flavor::Aks => &AksRules,
        _ => &GkeRules,
    }
}

pub(crate) fn cluster_name(flavor: Flavor, name: &str) -> Check {
    rules(flavor).check_cluster_name(name)
}

fn labels(flavor: Flavor, attrs: &Values) -> Check {
    let map = match present(attrs, "labels") {
        None => return Ok(()),
        Some(Value::Object(m)) => m,
        Some(v) => {
            return Err(format!(
                "`labels` must be a map of strings, got {}",
                show(v)
            ))
        }
    };
    let mut pairs = Vec::with_capacity(map.len());
    for (k, v) in map {
        let Value::String(v) = v else {
            return Err(format!("label `{k}` must be a string, got {}", show(v)));
        };
        pairs.push((k.as_str(), v.as_str()));
    }
    rules(flavor).check_labels(&pairs)
}

// ---- DNS ----------------------------------------------------------------------------

/// Lowercase, without the trailing dot.
pub(crate) fn normalize_domain(s: &str) -> String {
    s.trim_end_matches('.').to_ascii_lowercase()
}

fn domain(what: &str, s: &str, wildcard: bool) -> Check {
    let d = s.trim_end_matches('.');
    let labels: Vec<&str> = d.split('.').collect();
    let label_ok = |(i, l): (usize, &&str)| {
        let b = l.as_bytes();
        (wildcard && i == 0 && *l == "*")
            || ((1..=63).contains(&b.len())
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-')
    };
    if d.len() <= 253 && labels.len() >= 2 && labels.iter().enumerate().all(label_ok) {
        Ok(())
    } else {
        Err(format!("{what} `{s}` is not a valid domain name"))
    }
}

fn in_zone(fqdn: &str, zone: &str) -> bool {
    let (f, z) = (normalize_domain(fqdn), normalize_domain(zone));
    f == z || f.ends_with(&format!(".{z}"))
}

const CONTINENTS: &[&str] = &["AF", "AN", "AS", "EU", "OC", "NA", "SA"];

fn location(v: &Value) -> Check {
    match v {
        Value::String(s) if s == "*" => Ok(()),
        Value::Object(m) => {
            for k in m.keys() {
                if !["continent", "country", "subdivision"].contains(&k.as_str()) {
                    return Err(format!(
                        "`location` key `{k}` must be continent, country or subdivision"
                    ));
                }
            }
            let get = |k: &str| m.get(k).filter(|v| !v.is_null());
            let s = |k: &str| -> Result<Option<&str>, String> {
                match get(k) {
                    None => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s)),
                    Some(v) => Err(format!("`location.{k}` must be a string, got {}", show(v))),
                }
            };
            let (continent, country, subdivision) =
                (s("continent")?, s("country")?, s("subdivision")?);
            match (continent, country, subdivision) {
                (Some(c), None, None) if CONTINENTS.contains(&c) => Ok(()),
                (Some(c), None, None) => Err(format!(
                    "`location.continent` `{c}` must be one of {}",
                    CONTINENTS.join(", ")
                )),
                (Some(_), Some(_), _) => {
                    Err("`location` takes a continent or a country, not both".into())
                }
                (None, Some(c), sub) => {
                    if !(c == "*" || (c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))) {
                        return Err(format!(
                            "`location.country` `{c}` is not a two-letter country code"
                        ));
                    }
                    match sub {
                        Some(sub)
                            if sub.is_empty()
                                || sub.len() > 3
                                || !sub.bytes().all(|b| b.is_ascii_alphanumeric()) =>
                        {
                            Err(format!(
                                "`location.subdivision` `{sub}` is not a subdivision code"
                            ))
                        }
                        _ => Ok(()),
                    }
                }
                (_, None, Some(_)) => Err("`location.subdivision` needs `location.country`".into()),
                (None, None, None) => Err("`location` needs a continent or a country".into()),
            }
        }
        other => Err(format!(
            "`location` must be \"*\" or a map with continent, country, subdivision; got {}",
            show(other)
        )),
    }
}

const RECORD_TYPES: &[&str] = &["A", "AAAA", "CNAME", "TXT"];
const ROUTINGS: &[&str] = &[
    "simple",
    "weighted",
    "latency",
    "geolocation",
    "failover",
    "multivalue",
];

/// What a record's name and attributes say about it.
pub(crate) struct RecordShape<'a> {
    pub zone: &'a str,
    pub fqdn: String,
    pub rtype: &'a str,
    pub routing: &'a str,
}

pub(crate) fn record<'a>(name: &'a str, attrs: &'a Values) -> Result<RecordShape<'a>, String> {
    let (name_fqdn, name_set) = match name.split_once('/') {
        Some((f, s)) => (f, Some(s)),
        None => (name, None),
    };
    let zone = req_str(attrs, "zone")?;
    domain("zone", zone, false)?;
    let fqdn = opt_str(attrs, "fqdn")?.unwrap_or(name_fqdn);
    domain("fqdn", fqdn, true)?;
    if normalize_domain(fqdn) != normalize_domain(name_fqdn) {
        return Err(format!(
            "`fqdn` `{fqdn}` does not match the record's name `{name}`"
        ));
    }
    if !in_zone(fqdn, zone) {
        return Err(format!(
            "InvalidChangeBatch: RRSet with DNS name {fqdn} is not permitted in zone {zone}"
        ));
    }
    let rtype = one_of(attrs, "type", RECORD_TYPES)?.ok_or("`type` is required")?;
    let routing = one_of(attrs, "routing", ROUTINGS)?.unwrap_or("simple");
    int_in(attrs, "ttl", 0, 2_147_483_647)?;
    let set_id = opt_str(attrs, "set_id")?;
    let set_id = match (set_id, name_set) {
        (Some(a), Some(n)) if a != n => {
            return Err(format!(
                "`set_id` `{a}` does not match the record's name `{name}`"
            ))
        }
        (a, n) => a.or(n),
    };
    match (routing, set_id) {
        ("simple", Some(s)) => {
            return Err(format!("`set_id` `{s}` is not allowed with simple routing"))
        }
        ("simple", None) => {}
        (r, None) => return Err(format!("`set_id` is required with {r} routing")),
        (_, Some(s)) if s.is_empty() || s.len() > 128 => {
            return Err(format!("`set_id` `{s}` must be 1-128 characters"))
        }
        _ => {}
    }
    let why = format!("with {routing} routing");
    if routing == "weighted" {
        int_in(attrs, "weight", 0, 255)?
            .ok_or("`weight` (0-255) is required with weighted routing")?;
    } else {
        absent(attrs, "weight", &why)?;
    }
    if routing == "latency" {
        let r = req_str(attrs, "region")
            .map_err(|_| "`region` is required with latency routing".to_string())?;
        if !AWS_REGIONS.contains(&r) {
            return Err(format!(
                "`region` `{r}` is not an AWS region{}",
                did_you_mean(r, AWS_REGIONS)
            ));
        }
    } else {
        absent(attrs, "region", &why)?;
    }
    match (routing, present(attrs, "location")) {
        ("geolocation", Some(l)) => location(l)?,
        ("geolocation", None) => {
            return Err("`location` is required with geolocation routing".into())
        }
        (_, Some(_)) => absent(attrs, "location", &why)?,
        _ => {}
    }
    if routing == "failover" {
        one_of(attrs, "failover", &["PRIMARY", "SECONDARY"])?
            .ok_or("`failover` (PRIMARY or SECONDARY) is required with failover routing")?;
    } else {
        absent(attrs, "failover", &why)?;
    }
    opt_str(attrs, "health_check_id")?;
    opt_str(attrs, "zone_id")?;

    // An alias record (a load balancer answers for it) has no values and no TTL.
    if let Some(alias) = present(attrs, "alias") {
        let Value::Object(m) = alias else {
            return Err(format!("`alias` must be a map, got {}", show(alias)));
        };
        let s = |k: &str| m.get(k).and_then(Value::as_str);
        domain(
            "alias dns_name",
            s("dns_name").ok_or("`alias.dns_name` is required")?,
            false,
        )?;
        s("hosted_zone_id").ok_or("`alias.hosted_zone_id` is required")?;
        if !matches!(rtype, "A" | "AAAA") {
            return Err(format!(
                "InvalidChangeBatch: an alias record must be of type A or AAAA, not {rtype}"
            ));
        }
        if routing == "multivalue" {
            return Err(
                "InvalidChangeBatch: multivalue answer records can't be alias records".into(),
            );
        }
        absent(attrs, "values", "in an alias record")?;
        absent(attrs, "ttl", "in an alias record")?;
        return Ok(RecordShape {
            zone,
            fqdn: normalize_domain(fqdn),
            rtype,
            routing,
        });
    }

    let values = match present(attrs, "values") {
        Some(Value::Array(v)) if !v.is_empty() => v,
        Some(Value::Array(_)) | None => return Err("`values` must list at least one value".into()),
        Some(v) => {
            return Err(format!(
                "`values` must be a list of strings, got {}",
                show(v)
            ))
        }
    };
    for v in values {
        let Value::String(s) = v else {
            return Err(format!("`values` must be strings, got {}", show(v)));
        };
        match rtype {
            "A" if s.parse::<Ipv4Addr>().is_err() => {
                return Err(format!("`{s}` is not an IPv4 address (type A)"))
            }
            "AAAA" if s.parse::<Ipv6Addr>().is_err() => {
                return Err(format!("`{s}` is not an IPv6 address (type AAAA)"))
            }
            "CNAME" => domain("CNAME target", s, false)?,
            "TXT" if s.len() > 255 => return Err("TXT values are at most 255 characters".into()),
            _ => {}
        }
    }
    if rtype == "CNAME" {
        if values.len() != 1 {
            return Err("a CNAME record has exactly one value".into());
        }
        if normalize_domain(fqdn) == normalize_domain(zone) {
            return Err(format!(
                "InvalidChangeBatch: RRSet of type CNAME with DNS name {fqdn} is not permitted at apex in zone {zone}"
            ));
        }
    }
    Ok(RecordShape {
        zone,
        fqdn: normalize_domain(fqdn),
        rtype,
        routing,
    })
}

fn health_check(attrs: &Values) -> Check {
    const TYPES: &[&str] = &["HTTP", "HTTPS", "TCP", "HTTP_STR_MATCH", "HTTPS_STR_MATCH"];
    let t = one_of(attrs, "type", TYPES)?.ok_or("`type` is required")?;
    let addr = req_str(attrs, "address")?;
    addr.parse::<Ipv4Addr>()
        .map_err(|_| format!("`address` `{addr}` is not an IPv4 address"))?;
    let port = int_in(attrs, "port", 1, 65_535)?;
    if t == "TCP" {
        port.ok_or("`port` is required for TCP health checks")?;
        absent(attrs, "path", "for TCP health checks")?;
        absent(attrs, "search_string", "for TCP health checks")?;
    } else if let Some(p) = opt_str(attrs, "path")? {
        if !p.starts_with('/') || p.len() > 255 {
            return Err(format!(
                "`path` `{p}` must start with `/` and be at most 255 characters"
            ));
        }
    }
    if let Some(s) = opt_str(attrs, "search_string")? {
        if !t.ends_with("STR_MATCH") {
            return Err(format!(
                "`search_string` is only for *_STR_MATCH health checks, not {t}"
            ));
        }
        if s.len() > 255 {
            return Err("`search_string` is at most 255 characters".into());
        }
    }
    match opt_int(attrs, "interval")? {
        None | Some(10) | Some(30) => {}
        Some(n) => return Err(format!("`interval` must be 10 or 30 (seconds), got {n}")),
    }
    int_in(attrs, "failure_threshold", 1, 10)?;
    Ok(())
}

fn dns_label(what: &str, s: &str) -> Check {
    let b = s.as_bytes();
    let ok = (1..=63).contains(&b.len())
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        && is_lower_alnum(b[0])
        && is_lower_alnum(b[b.len() - 1]);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} `{s}` is not a valid Kubernetes name (DNS-1123 label)"
        ))
    }
}

fn same_as_name(attrs: &Values, key: &str, name: &str) -> Check {
    match opt_str(attrs, key)? {
        Some(v) if v != name => Err(format!("`{key}` `{v}` does not match the name `{name}`")),
        _ => Ok(()),
    }
}

// ---- per kind -----------------------------------------------------------------------

/// The flavor of a cluster: its `flavor` attribute, or what its cloud emulates.
pub(crate) fn cluster_flavor(attrs: &Values, emulates: Option<Emulates>) -> Result<Flavor, String> {
    let from_attr = match opt_str(attrs, "flavor")? {
        None => None,
        Some("gke") => Some(Flavor::Gke),
        Some("eks") => Some(Flavor::Eks),
        Some("aks") => Some(Flavor::Aks),
        Some(other) => {
            return Err(format!(
                "`flavor` must be one of gke, eks, aks, got `{other}`"
            ))
        }
    };
    match (from_attr, emulates) {
        (Some(f), Some(e)) if f != e.cluster_flavor() => Err(format!(
            "`flavor` `{}` does not match this cloud, which emulates {} ({} clusters)",
            f.as_str(),
            e.as_str(),
            e.cluster_flavor().as_str()
        )),
        (Some(f), _) => Ok(f),
        (None, Some(e)) => Ok(e.cluster_flavor()),
        (None, None) => Err(
            "`flavor` (gke, eks or aks) is required when the sim cloud does not set `emulates`"
                .into(),
        ),
    }
}

/// `<cluster>.<workload>` -> (cluster, workload).
pub(crate) fn split_workload_name(name: &str) -> Result<(&str, &str), String> {
    match name.split_once('.') {
        Some((c, w)) if !c.is_empty() && !w.is_empty() => Ok((c, w)),
        _ => Err(format!(
            "workload name `{name}` is not `<cluster>.<workload>`"
        )),
    }
}

/// Checks the attributes of an object on their own. `flavor` is the cluster's for
/// clusters, pools and federation objects.
pub(crate) fn shape(kind: ResourceKind, name: &str, attrs: &Values, flavor: Flavor) -> Check {
    match kind {
        ResourceKind::Cluster => {
            cluster_name(flavor, name)?;
            rules(flavor).check_region(req_str(attrs, "region")?)?;
            if let Some(v) = present(attrs, "kubernetes_version") {
                k8s_minor(v, flavor)?;
            }
            labels(flavor, attrs)
        }
        ResourceKind::NodePool => {
            let (cluster, pool) = split_pool_name(name)?;
            same_as_name(attrs, "cluster", cluster)?;
            rules(flavor).check_pool_name(pool)?;
            opt_str(attrs, "cluster_id")?;
            if let Some(t) = opt_str(attrs, "machine_type")? {
                rules(flavor).check_machine_type(t)?;
            }
            let count = int_in(attrs, "node_count", 0, 1000)?;
            let min = int_in(attrs, "min_count", 0, 1000)?;
            let max = int_in(attrs, "max_count", 0, 1000)?;
            if let (Some(lo), Some(hi)) = (min, max) {
                if lo > hi {
                    return Err(format!(
                        "`min_count` ({lo}) is larger than `max_count` ({hi})"
                    ));
                }
            }
            if let (Some(n), Some(lo)) = (count, min) {
                if n < lo {
                    return Err(format!("`node_count` ({n}) is below `min_count` ({lo})"));
                }
            }
            if let (Some(n), Some(hi)) = (count, max) {
                if n > hi {
                    return Err(format!("`node_count` ({n}) is above `max_count` ({hi})"));
                }
            }
            labels(flavor, attrs)
        }
        ResourceKind::FederationHost => {
            same_as_name(attrs, "cluster", name)?;
            opt_str(attrs, "cluster_id")?;
            if let Some(ns) = opt_str(attrs, "namespace")? {
                dns_label("namespace", ns)?;
            }
            one_of(attrs, "scope", &["Cluster", "Namespaced"])?;
            Ok(())
        }
        ResourceKind::Workload => {
            let (cluster, workload) = split_workload_name(name)?;
            same_as_name(attrs, "cluster", cluster)?;
            same_as_name(attrs, "workload", workload)?;
            if let Some(ns) = opt_str(attrs, "namespace")? {
                dns_label("namespace", ns)?;
            }
            for k in ["wait", "adopt"] {
                if let Some(v) = attrs.get(k) {
                    if !v.is_boolean() {
                        return Err(format!("`{k}` must be true or false, found {v}"));
                    }
                }
            }
            Ok(())
        }
        ResourceKind::FederationMember => {
            same_as_name(attrs, "cluster", name)?;
            dns_label("host", req_str(attrs, "host")?)?;
            for k in ["cluster_id", "host_id", "ca_bundle"] {
                opt_str(attrs, k)?;
            }
            if let Some(ns) = opt_str(attrs, "namespace")? {
                dns_label("namespace", ns)?;
            }
            if let Some(e) = opt_str(attrs, "api_endpoint")? {
                if !e.starts_with("https://") || e.len() <= "https://".len() {
                    return Err(format!("`api_endpoint` `{e}` must be an https:// URL"));
                }
            }
            Ok(())
        }
        ResourceKind::DnsZone => {
            domain("zone", name, false)?;
            if let Some(z) = opt_str(attrs, "zone")? {
                if normalize_domain(z) != normalize_domain(name) {
                    return Err(format!("`zone` `{z}` does not match the name `{name}`"));
                }
            }
            match opt_str(attrs, "comment")? {
                Some(c) if c.len() > 256 => Err("`comment` is at most 256 characters".into()),
                _ => Ok(()),
            }
        }
        ResourceKind::HealthCheck => {
            if name.is_empty() || name.len() > 64 {
                return Err(format!(
                    "health check name `{name}` must be 1-64 characters"
                ));
            }
            health_check(attrs)
        }
        ResourceKind::DnsRecord => record(name, attrs).map(|_| ()),
        ResourceKind::Data => Ok(()),
        ResourceKind::Network | ResourceKind::IamRole => Err(format!(
            "sim clouds have no {kind} resources; only clouds with provider aws make them"
        )),
        ResourceKind::Image => Err(format!(
            "sim clouds have no {kind} resources; images are copied by the built-in registry provider"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Values {
        match v {
            Value::Object(m) => m.into_iter().collect(),
            _ => Values::new(),
        }
    }

    fn err(kind: ResourceKind, name: &str, v: Value, flavor: Flavor) -> String {
        shape(kind, name, &attrs(v.clone()), flavor)
            .expect_err(&format!("{kind} {name} {v} must be invalid"))
    }

    fn ok(kind: ResourceKind, name: &str, v: Value, flavor: Flavor) {
        if let Err(e) = shape(kind, name, &attrs(v.clone()), flavor) {
            panic!("{kind} {name} {v}: {e}");
        }
    }

    #[test]
    fn cluster_names_per_flavor() {
        let c = |f| json!({"region": match f { Flavor::Eks => "sa-east-1", Flavor::Aks => "canadacentral", _ => "us-central1" }});
        ok(
            ResourceKind::Cluster,
            "gke-sydney",
            c(Flavor::Gke),
            Flavor::Gke,
        );
        for bad in ["Gke", "1gke", "gke-", "gke_sydney", &"a".repeat(41), ""] {
            assert!(err(ResourceKind::Cluster, bad, c(Flavor::Gke), Flavor::Gke)
                .contains("GKE cluster name"));
        }
        ok(
            ResourceKind::Cluster,
            "EKS_Sao-Paulo1",
            c(Flavor::Eks),
            Flavor::Eks,
        );
        ok(
            ResourceKind::Cluster,
            &"e".repeat(100),
            c(Flavor::Eks),
            Flavor::Eks,
        );
        for bad in ["-eks", "_eks", "eks.x", &"e".repeat(101)] {
            assert!(err(ResourceKind::Cluster, bad, c(Flavor::Eks), Flavor::Eks)
                .contains("EKS cluster name"));
        }
        ok(
            ResourceKind::Cluster,
            "AKS_toronto-1",
            c(Flavor::Aks),
            Flavor::Aks,
        );
        for bad in ["aks-", "_aks", &"a".repeat(64)] {
            assert!(err(ResourceKind::Cluster, bad, c(Flavor::Aks), Flavor::Aks)
                .contains("AKS cluster name"));
        }
    }

    #[test]
    fn regions_and_versions() {
        ok(
            ResourceKind::Cluster,
            "c",
            json!({"region": "us-central1-a"}),
            Flavor::Gke,
        );
        let e = err(
            ResourceKind::Cluster,
            "c",
            json!({"region": "austalia-southeast1"}),
            Flavor::Gke,
        );
        assert!(e.contains("did you mean `australia-southeast1`"), "{e}");
        let e = err(
            ResourceKind::Cluster,
            "c",
            json!({"region": "us-central1"}),
            Flavor::Eks,
        );
        assert!(e.contains("not a known EKS region"), "{e}");
        err(
            ResourceKind::Cluster,
            "c",
            json!({"region": "eastus"}),
            Flavor::Gke,
        );
        err(ResourceKind::Cluster, "c", json!({}), Flavor::Gke);
        for v in ["1.29", "1.33", "1.31.2", "1.31.1-gke.1146000"] {
            ok(
                ResourceKind::Cluster,
                "c",
                json!({"region": "us-east1", "kubernetes_version": v}),
                Flavor::Gke,
            );
        }
        for v in [
            json!("1.28"),
            json!("1.34"),
            json!("2.31"),
            json!("1.x"),
            json!("1.31.a"),
            json!(1.3),
        ] {
            err(
                ResourceKind::Cluster,
                "c",
                json!({"region": "us-east1", "kubernetes_version": v}),
                Flavor::Gke,
            );
        }
        let e = err(
            ResourceKind::Cluster,
            "c",
            json!({"region": "us-east1", "kubernetes_version": 1.3}),
            Flavor::Gke,
        );
        assert!(e.contains("quote it"), "{e}");
    }

    #[test]
    fn machine_types_per_flavor() {
        for t in [
            "e2-standard-4",
            "e2-medium",
            "n2-highmem-16",
            "c3-highcpu-88",
            "n2-custom-4-16384",
            "custom-2-4096",
        ] {
            assert!(rules(Flavor::Gke).check_machine_type(t).is_ok(), "{t}");
        }
        for t in [
            "e2-standard",
            "m5.large",
            "e2-standard-04",
            "x9-standard-4",
            "Standard_D4s_v5",
        ] {
            assert!(rules(Flavor::Gke).check_machine_type(t).is_err(), "{t}");
        }
        for t in [
            "m5.large",
            "m6i.2xlarge",
            "t3a.micro",
            "c6gn.16xlarge",
            "m5.metal",
        ] {
            assert!(rules(Flavor::Eks).check_machine_type(t).is_ok(), "{t}");
        }
        for t in ["m5", "m5.huge", "M5.large", "e2-standard-4", ".large"] {
            assert!(rules(Flavor::Eks).check_machine_type(t).is_err(), "{t}");
        }
        for t in [
            "Standard_D4s_v5",
            "Standard_B2s",
            "Standard_DS2_v2",
            "Standard_E8as_v5",
            "Standard_NC6s_v3",
            "Standard_E4-2ds_v4",
        ] {
            assert!(rules(Flavor::Aks).check_machine_type(t).is_ok(), "{t}");
        }
        for t in [
            "Standard_",
            "D4s_v5",
            "Standard_d4s_v5",
            "Standard_D4S_v5",
            "Standard_D4s_5",
            "m5.large",
        ] {
            assert!(rules(Flavor::Aks).check_machine_type(t).is_err(), "{t}");
        }
    }

    #[test]
    fn node_pools() {
        let p = |v: Value| v;
        ok(
            ResourceKind::NodePool,
            "c.default",
            p(
                json!({"cluster": "c", "machine_type": "e2-standard-4", "node_count": 3, "min_count": null, "max_count": null}),
            ),
            Flavor::Gke,
        );
        err(ResourceKind::NodePool, "nodot", json!({}), Flavor::Gke);
        err(
            ResourceKind::NodePool,
            "c.default",
            json!({"cluster": "other"}),
            Flavor::Gke,
        );
        err(
            ResourceKind::NodePool,
            "c.default",
            json!({"node_count": 1001}),
            Flavor::Gke,
        );
        err(
            ResourceKind::NodePool,
            "c.default",
            json!({"node_count": -1}),
            Flavor::Gke,
        );
        err(
            ResourceKind::NodePool,
            "c.default",
            json!({"node_count": "3"}),
            Flavor::Gke,
        );
        err(
            ResourceKind::NodePool,
            "c.default",
            json!({"node_count": 3, "min_count": 4}),
            Flavor::Gke,
        );
        err(
            ResourceKind::NodePool,
            "c.default",
            json!({"node_count": 5, "max_count": 4}),
            Flavor::Gke,
        );
        err(
            ResourceKind::NodePool,
            "c.default",
            json!({"min_count": 5, "max_count": 4}),
            Flavor::Gke,
        );
        err(
            ResourceKind::NodePool,
            "c.default",
            json!({"machine_type": "m5.large"}),
            Flavor::Gke,
        );
        ok(
            ResourceKind::NodePool,
            "c.default",
            json!({"machine_type": "m5.large"}),
            Flavor::Eks,
        );
        ok(
            ResourceKind::NodePool,
            "c.default",
            json!({"machine_type": "Standard_D4s_v5"}),
            Flavor::Aks,
        );
        let e = err(
            ResourceKind::NodePool,
            "c.system-pool",
            json!({}),
            Flavor::Aks,
        );
        assert!(e.contains("AKS node pool name"), "{e}");
        err(
            ResourceKind::NodePool,
            "c.default",
            json!({"labels": {"Team": "x"}}),
            Flavor::Gke,
        );
        ok(
            ResourceKind::NodePool,
            "c.default",
            json!({"labels": {"Team": "X Y"}}),
            Flavor::Eks,
        );
        err(
            ResourceKind::NodePool,
            "c.default",
            json!({"labels": ["x"]}),
            Flavor::Eks,
        );
    }

    #[test]
    fn federation() {
        ok(
            ResourceKind::FederationHost,
            "h",
            json!({"cluster": "h", "namespace": "kube-federation-system", "scope": "Cluster"}),
            Flavor::Gke,
        );
        err(
            ResourceKind::FederationHost,
            "h",
            json!({"scope": "Global"}),
            Flavor::Gke,
        );
        err(
            ResourceKind::FederationHost,
            "h",
            json!({"namespace": "Kube_Fed"}),
            Flavor::Gke,
        );
        err(
            ResourceKind::FederationHost,
            "h",
            json!({"cluster": "other"}),
            Flavor::Gke,
        );
        ok(
            ResourceKind::FederationMember,
            "m",
            json!({"cluster": "m", "host": "h", "api_endpoint": "https://192.0.2.1", "ca_bundle": "LS0t"}),
            Flavor::Eks,
        );
        err(ResourceKind::FederationMember, "m", json!({}), Flavor::Eks);
        err(
            ResourceKind::FederationMember,
            "m",
            json!({"host": "h", "api_endpoint": "http://x"}),
            Flavor::Eks,
        );
    }

    #[test]
    fn zones_and_health_checks() {
        ok(
            ResourceKind::DnsZone,
            "example.com",
            json!({"zone": "example.com.", "comment": "x"}),
            Flavor::Route53,
        );
        err(ResourceKind::DnsZone, "com", json!({}), Flavor::Route53);
        err(
            ResourceKind::DnsZone,
            "ex ample.com",
            json!({}),
            Flavor::Route53,
        );
        err(
            ResourceKind::DnsZone,
            "example.com",
            json!({"zone": "example.org"}),
            Flavor::Route53,
        );

        let hc = |extra: Value| {
            let mut a = attrs(
                json!({"type": "HTTPS", "address": "203.0.113.7", "port": 443, "path": "/healthz", "interval": 30, "failure_threshold": 3}),
            );
            a.extend(attrs(extra));
            a
        };
        assert_eq!(
            shape(
                ResourceKind::HealthCheck,
                "hc",
                &hc(json!({})),
                Flavor::Route53
            ),
            Ok(())
        );
        for bad in [
            json!({"type": "ICMP"}),
            json!({"address": "example.com"}),
            json!({"address": "::1"}),
            json!({"port": 0}),
            json!({"port": 70000}),
            json!({"path": "healthz"}),
            json!({"interval": 15}),
            json!({"failure_threshold": 0}),
            json!({"failure_threshold": 11}),
            json!({"type": "TCP"}),
            json!({"search_string": "ok"}),
        ] {
            assert!(
                shape(
                    ResourceKind::HealthCheck,
                    "hc",
                    &hc(bad.clone()),
                    Flavor::Route53
                )
                .is_err(),
                "{bad}"
            );
        }
        assert_eq!(
            shape(
                ResourceKind::HealthCheck,
                "hc",
                &hc(json!({"type": "TCP", "path": null})),
                Flavor::Route53
            ),
            Ok(())
        );
    }

    #[test]
    fn records() {
        let base = |extra: Value| {
            let mut a = attrs(
                json!({"zone": "example.com", "fqdn": "app.example.com", "type": "A", "ttl": 60, "routing": "simple", "values": ["203.0.113.1"]}),
            );
            a.extend(attrs(extra));
            a
        };
        let check = |name: &str, extra: Value| {
            shape(ResourceKind::DnsRecord, name, &base(extra), Flavor::Route53)
        };
        assert_eq!(check("app.example.com", json!({})), Ok(()));
        assert_eq!(
            check(
                "app.example.com/blue",
                json!({"routing": "weighted", "set_id": "blue", "weight": 0})
            ),
            Ok(())
        );
        assert_eq!(
            check(
                "app.example.com/syd",
                json!({"routing": "latency", "region": "ap-southeast-2"})
            ),
            Ok(())
        );
        assert_eq!(
            check(
                "app.example.com/p",
                json!({"routing": "failover", "failover": "PRIMARY", "health_check_id": "x"})
            ),
            Ok(())
        );
        assert_eq!(
            check(
                "app.example.com/eu",
                json!({"routing": "geolocation", "location": {"continent": "EU"}})
            ),
            Ok(())
        );
        assert_eq!(
            check(
                "app.example.com/d",
                json!({"routing": "geolocation", "location": "*"})
            ),
            Ok(())
        );
        assert_eq!(
            check(
                "app.example.com/ca",
                json!({"routing": "geolocation", "location": {"country": "US", "subdivision": "CA"}})
            ),
            Ok(())
        );
        assert_eq!(
            check(
                "app.example.com",
                json!({"type": "AAAA", "values": ["2001:db8::1"]})
            ),
            Ok(())
        );
        assert_eq!(
            check(
                "app.example.com",
                json!({"type": "TXT", "values": ["hello"]})
            ),
            Ok(())
        );
        assert_eq!(
            check(
                "app.example.com",
                json!({"type": "CNAME", "values": ["lb.example.net"]})
            ),
            Ok(())
        );

        for (name, bad) in [
            ("app.example.com", json!({"values": ["300.0.0.1"]})),
            ("app.example.com", json!({"type": "AAAA"})),
            ("app.example.com", json!({"values": []})),
            ("app.example.com", json!({"values": [1]})),
            ("app.example.com", json!({"ttl": -1})),
            ("app.example.com", json!({"ttl": 2_147_483_648u64})),
            ("app.example.com", json!({"type": "MX"})),
            ("app.example.com", json!({"routing": "random"})),
            ("app.example.com", json!({"set_id": "x"})),
            ("app.example.com", json!({"weight": 10})),
            ("app.example.com/b", json!({"routing": "weighted"})),
            (
                "app.example.com/b",
                json!({"routing": "weighted", "weight": 256}),
            ),
            (
                "app.example.com/b",
                json!({"routing": "weighted", "weight": 1, "set_id": "c"}),
            ),
            (
                "app.example.com/b",
                json!({"routing": "latency", "region": "australia-southeast1"}),
            ),
            (
                "app.example.com/b",
                json!({"routing": "failover", "failover": "TERTIARY"}),
            ),
            (
                "app.example.com/b",
                json!({"routing": "geolocation", "location": {"continent": "XX"}}),
            ),
            (
                "app.example.com/b",
                json!({"routing": "geolocation", "location": {"continent": "EU", "country": "FR"}}),
            ),
            (
                "app.example.com/b",
                json!({"routing": "geolocation", "location": {"subdivision": "CA"}}),
            ),
            ("app.example.com", json!({"fqdn": "app.example.org"})),
            ("app.example.org", json!({"fqdn": "app.example.org"})),
            (
                "example.com",
                json!({"fqdn": "example.com", "type": "CNAME", "values": ["x.example.net"]}),
            ),
            (
                "app.example.com",
                json!({"type": "CNAME", "values": ["a.example.net", "b.example.net"]}),
            ),
        ] {
            assert!(check(name, bad.clone()).is_err(), "{name} {bad}");
        }
        let e =
            check("app.example.org", json!({"fqdn": "app.example.org"})).expect_err("outside zone");
        assert!(e.contains("not permitted in zone"), "{e}");
    }

    #[test]
    fn flavors_from_attrs_or_emulation() {
        let a = attrs(json!({"flavor": "eks"}));
        assert_eq!(cluster_flavor(&a, None), Ok(Flavor::Eks));
        assert_eq!(cluster_flavor(&a, Some(Emulates::Aws)), Ok(Flavor::Eks));
        assert!(cluster_flavor(&a, Some(Emulates::Gcp)).is_err());
        assert_eq!(
            cluster_flavor(&Values::new(), Some(Emulates::Azure)),
            Ok(Flavor::Aks)
        );
        assert!(cluster_flavor(&Values::new(), None).is_err());
        assert!(cluster_flavor(&attrs(json!({"flavor": "openshift"})), None).is_err());
    }

    #[test]
    fn alias_records() {
        let alias = json!({"dns_name": "lb-1.elb.us-east-1.amazonaws.com", "hosted_zone_id": "Z35SXDOTRQ7X7K", "evaluate_target_health": true});
        let a = |extra: Value| {
            let mut a = attrs(
                json!({"zone": "example.com", "fqdn": "lb.example.com", "type": "A",
                                      "ttl": null, "routing": "simple", "values": null, "alias": alias}),
            );
            a.extend(attrs(extra));
            shape(
                ResourceKind::DnsRecord,
                "lb.example.com",
                &a,
                Flavor::Route53,
            )
        };
        assert_eq!(a(json!({})), Ok(()));
        assert_eq!(
            a(json!({"values": ["203.0.113.1"]})),
            Err("`values` is not allowed in an alias record, got [\"203.0.113.1\"]".to_string())
        );
        assert_eq!(
            a(json!({"type": "TXT"})),
            Err(
                "InvalidChangeBatch: an alias record must be of type A or AAAA, not TXT"
                    .to_string()
            )
        );
        assert!(a(json!({"alias": {"hosted_zone_id": "Z1"}})).is_err());
    }
}
