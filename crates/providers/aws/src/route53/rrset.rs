//! Record sets: fedstack's attributes <-> Route 53's `ResourceRecordSet`, and the
//! validation fedstack does itself before any call (Route 53 rejects what moto takes:
//! a weight without a set identifier, a weight with failover, ...).
//!
//! Attributes of a `dns_record` (see the stack lowering): `zone`, `zone_id`, `fqdn`,
//! `type`, `ttl`, `routing`, `set_id`, `values`, `weight`, `region`, `location`
//! (`"*"`, `{continent}`, `{country, subdivision?}`), `failover`, `health_check_id`,
//! and `alias` (`{dns_name, hosted_zone_id, evaluate_target_health}`) for alias targets.

use aws_sdk_route53::types::{
    AliasTarget, GeoLocation, ResourceRecord, ResourceRecordSet, ResourceRecordSetFailover,
    ResourceRecordSetRegion, RrType,
};
use fedstack_core::value::Values;
use serde_json::{json, Map, Value};

/// Identity of a record set in a zone: name, type, set identifier.
pub type RrKey = (String, String, Option<String>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Geo {
    /// `*`: everyone no other location matches.
    Default,
    Continent(String),
    Country(String, Option<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub dns_name: String,
    pub zone_id: String,
    pub evaluate: bool,
}

/// A record set, normalized so that two of them compare equal when Route 53 would
/// serve the same thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rr {
    /// Lowercase, no trailing dot, `*` unescaped.
    pub name: String,
    pub rtype: String,
    pub set_id: Option<String>,
    pub weight: Option<i64>,
    pub region: Option<String>,
    pub geo: Option<Geo>,
    pub failover: Option<String>,
    pub multivalue: bool,
    pub ttl: Option<i64>,
    /// As Route 53 has them (TXT values quoted).
    pub values: Vec<String>,
    pub health_check_id: Option<String>,
    pub alias: Option<Alias>,
}

pub(crate) fn normalize_name(s: &str) -> String {
    decode_octal(s.trim_end_matches('.')).to_ascii_lowercase()
}

/// Route 53 writes some characters of names as `\ddd` (octal): `\052` is `*`.
fn decode_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let digits = &b[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let digits = std::str::from_utf8(digits).unwrap_or("");
                if let Ok(n) = u8::from_str_radix(digits, 8) {
                    out.push(char::from(n));
                    i += 4;
                    continue;
                }
            }
        }
        if let Some(c) = s[i..].chars().next() {
            out.push(c);
            i += c.len_utf8();
        } else {
            break;
        }
    }
    out
}

/// A TXT value on the wire: quoted strings of at most 255 bytes, `"` and `\` escaped.
pub(crate) fn txt_encode(s: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut len = 0;
    for c in s.chars() {
        if len + c.len_utf8() > 255 {
            parts.push(std::mem::take(&mut cur));
            len = 0;
        }
        if c == '"' || c == '\\' {
            cur.push('\\');
        }
        cur.push(c);
        len += c.len_utf8();
    }
    parts.push(cur);
    parts
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text of a TXT value from the wire (its quoted strings joined).
pub(crate) fn txt_decode(s: &str) -> String {
    let t = s.trim();
    if !t.starts_with('"') {
        return t.to_string();
    }
    let mut out = String::new();
    let mut in_quotes = false;
    let mut chars = t.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_quotes = !in_quotes,
            '\\' if in_quotes => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            c if in_quotes => out.push(c),
            _ => {}
        }
    }
    out
}

fn s<'a>(attrs: &'a Values, k: &str) -> Option<&'a str> {
    attrs.get(k).and_then(Value::as_str)
}

fn present<'a>(attrs: &'a Values, k: &str) -> Option<&'a Value> {
    attrs.get(k).filter(|v| !v.is_null())
}

const ROUTINGS: &[&str] = &[
    "simple",
    "weighted",
    "latency",
    "geolocation",
    "failover",
    "multivalue",
];

impl Rr {
    pub fn key(&self) -> RrKey {
        (self.name.clone(), self.rtype.clone(), self.set_id.clone())
    }

    /// The record set the attributes describe, after the checks Route 53 would make
    /// (and moto does not). Errors are one line.
    pub fn from_attrs(attrs: &Values) -> Result<Rr, String> {
        let name = s(attrs, "fqdn").ok_or("`fqdn` is required")?;
        let rtype = s(attrs, "type").ok_or("`type` is required")?.to_string();
        if !["A", "AAAA", "CNAME", "TXT"].contains(&rtype.as_str()) {
            return Err(format!(
                "record type `{rtype}` is not one of A, AAAA, CNAME, TXT"
            ));
        }
        let routing = s(attrs, "routing").unwrap_or("simple");
        if !ROUTINGS.contains(&routing) {
            return Err(format!(
                "`routing` `{routing}` is not one of {}",
                ROUTINGS.join(", ")
            ));
        }
        let set_id = s(attrs, "set_id").map(str::to_string);
        let policy_field = |field: &str, policy: &str| -> Result<Option<&Value>, String> {
            let v = present(attrs, field);
            match (v, routing == policy) {
                (None, true) => Err(format!("`{field}` is required with routing: {policy}")),
                (Some(_), false) => Err(format!(
                    "`{field}` is only valid with routing: {policy}; this record uses {routing}"
                )),
                (v, _) => Ok(v),
            }
        };
        let weight = policy_field("weight", "weighted")?
            .map(|w| {
                w.as_i64()
                    .filter(|w| (0..=255).contains(w))
                    .ok_or_else(|| format!("`weight` must be 0-255, got {w}"))
            })
            .transpose()?;
        let region = policy_field("region", "latency")?
            .map(|r| {
                r.as_str()
                    .map(str::to_string)
                    .ok_or("`region` must be a string")
            })
            .transpose()?;
        let geo = policy_field("location", "geolocation")?
            .map(geo_from_json)
            .transpose()?;
        let failover = policy_field("failover", "failover")?
            .map(|f| match f.as_str() {
                Some(v @ ("PRIMARY" | "SECONDARY")) => Ok(v.to_string()),
                _ => Err(format!("`failover` must be PRIMARY or SECONDARY, got {f}")),
            })
            .transpose()?;
        match (routing, &set_id) {
            ("simple", Some(id)) => {
                return Err(format!(
                    "a simple record has no set identifier (`set_id` `{id}`)"
                ))
            }
            ("simple", None) => {}
            (r, None) => return Err(format!("routing: {r} needs a set identifier (`set_id`)")),
            (_, Some(id)) if id.is_empty() || id.len() > 128 => {
                return Err(format!("set identifier `{id}` must be 1-128 characters"))
            }
            _ => {}
        }
        let health_check_id = s(attrs, "health_check_id").map(str::to_string);
        if routing == "simple" && health_check_id.is_some() {
            return Err("a simple record can't have a health check".into());
        }
        let alias = match present(attrs, "alias") {
            None => None,
            Some(Value::Object(m)) => {
                let get = |k: &str| m.get(k).and_then(Value::as_str);
                let dns_name = get("dns_name").ok_or("`alias.dns_name` is required")?;
                let zone_id = get("hosted_zone_id").ok_or("`alias.hosted_zone_id` is required")?;
                Some(Alias {
                    dns_name: normalize_name(dns_name),
                    zone_id: zone_id.to_string(),
                    evaluate: m
                        .get("evaluate_target_health")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                })
            }
            Some(v) => return Err(format!("`alias` must be a map, got {v}")),
        };
        let values: Vec<String> = match present(attrs, "values") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(|t| {
                            if rtype == "TXT" {
                                txt_encode(t)
                            } else {
                                t.to_string()
                            }
                        })
                        .ok_or_else(|| format!("record values must be strings, got {v}"))
                })
                .collect::<Result<_, _>>()?,
            Some(v) => return Err(format!("`values` must be a list, got {v}")),
        };
        let ttl = present(attrs, "ttl")
            .map(|t| {
                t.as_i64()
                    .filter(|t| (0..=2_147_483_647).contains(t))
                    .ok_or_else(|| format!("`ttl` must be 0-2147483647, got {t}"))
            })
            .transpose()?;
        if alias.is_some() {
            if !values.is_empty() || ttl.is_some() {
                return Err("an alias record has no `values` and no `ttl`".into());
            }
            if rtype != "A" && rtype != "AAAA" {
                return Err(format!("an alias record is of type A or AAAA, not {rtype}"));
            }
            if routing == "multivalue" {
                return Err("a multivalue record can't be an alias".into());
            }
        } else {
            if values.is_empty() {
                return Err("a record needs at least one value (or an alias)".into());
            }
            if ttl.is_none() {
                return Err("`ttl` is required for a record with values".into());
            }
            if rtype == "CNAME" && values.len() != 1 {
                return Err("a CNAME record has exactly one value".into());
            }
        }
        Ok(Rr {
            name: normalize_name(name),
            rtype,
            set_id,
            weight,
            region,
            geo,
            failover,
            multivalue: routing == "multivalue",
            ttl,
            values,
            health_check_id,
            alias,
        })
    }

    pub fn routing(&self) -> &'static str {
        if self.weight.is_some() {
            "weighted"
        } else if self.region.is_some() {
            "latency"
        } else if self.geo.is_some() {
            "geolocation"
        } else if self.failover.is_some() {
            "failover"
        } else if self.multivalue {
            "multivalue"
        } else {
            "simple"
        }
    }

    pub fn from_sdk(rr: &ResourceRecordSet) -> Rr {
        let geo = rr.geo_location().map(|g| {
            match (g.continent_code(), g.country_code(), g.subdivision_code()) {
                (Some(c), _, _) => Geo::Continent(c.to_string()),
                (None, Some("*"), _) => Geo::Default,
                (None, Some(c), sub) => Geo::Country(c.to_string(), sub.map(str::to_string)),
                (None, None, _) => Geo::Default,
            }
        });
        Rr {
            name: normalize_name(rr.name()),
            rtype: rr.r#type().as_str().to_string(),
            set_id: rr.set_identifier().map(str::to_string),
            weight: rr.weight(),
            region: rr.region().map(|r| r.as_str().to_string()),
            geo,
            failover: rr.failover().map(|f| f.as_str().to_string()),
            multivalue: rr.multi_value_answer().unwrap_or(false),
            // An alias answers with its target's TTL: it has none of its own.
            ttl: if rr.alias_target().is_some() {
                None
            } else {
                rr.ttl()
            },
            values: rr
                .resource_records()
                .iter()
                .map(|v| v.value().to_string())
                .collect(),
            health_check_id: rr.health_check_id().map(str::to_string),
            alias: rr.alias_target().map(|a| Alias {
                dns_name: normalize_name(a.dns_name()),
                zone_id: a.hosted_zone_id().to_string(),
                evaluate: a.evaluate_target_health(),
            }),
        }
    }

    pub fn to_sdk(&self) -> Result<ResourceRecordSet, String> {
        let fail =
            |e: &dyn std::fmt::Display| format!("cannot build record set {}: {e}", self.name);
        let mut b = ResourceRecordSet::builder()
            .name(format!("{}.", self.name))
            .r#type(RrType::from(self.rtype.as_str()))
            .set_set_identifier(self.set_id.clone())
            .set_weight(self.weight)
            .set_region(self.region.as_deref().map(ResourceRecordSetRegion::from))
            .set_failover(
                self.failover
                    .as_deref()
                    .map(ResourceRecordSetFailover::from),
            )
            .set_health_check_id(self.health_check_id.clone())
            .set_ttl(self.ttl);
        if self.multivalue {
            b = b.multi_value_answer(true);
        }
        if let Some(g) = &self.geo {
            b = b.geo_location(match g {
                Geo::Default => GeoLocation::builder().country_code("*").build(),
                Geo::Continent(c) => GeoLocation::builder().continent_code(c).build(),
                Geo::Country(c, sub) => GeoLocation::builder()
                    .country_code(c)
                    .set_subdivision_code(sub.clone())
                    .build(),
            });
        }
        if let Some(a) = &self.alias {
            b = b.alias_target(
                AliasTarget::builder()
                    .dns_name(&a.dns_name)
                    .hosted_zone_id(&a.zone_id)
                    .evaluate_target_health(a.evaluate)
                    .build()
                    .map_err(|e| fail(&e))?,
            );
        }
        for v in &self.values {
            b = b.resource_records(
                ResourceRecord::builder()
                    .value(v)
                    .build()
                    .map_err(|e| fail(&e))?,
            );
        }
        b.build().map_err(|e| fail(&e))
    }

    /// Whether Route 53 would serve the same: everything equal, values as a set.
    pub fn same(&self, other: &Rr) -> bool {
        let mut a = self.values.clone();
        let mut b = other.values.clone();
        a.sort();
        b.sort();
        a == b
            && Rr {
                values: Vec::new(),
                ..self.clone()
            } == Rr {
                values: Vec::new(),
                ..other.clone()
            }
    }

    /// Values counted against the 1,000 per `ChangeResourceRecordSets`.
    pub fn value_count(&self) -> usize {
        self.values.len()
    }

    /// Characters counted against the 32,000 per `ChangeResourceRecordSets`.
    pub fn value_chars(&self) -> usize {
        self.values.iter().map(String::len).sum()
    }

    /// The record's attributes as fedstack records them: what the cloud has, in the
    /// form of `spec` (the stack's values where they mean the same, e.g. value order).
    pub fn attrs(&self, spec: &Values, zone_id: &str) -> Values {
        let mut out = Values::new();
        let mut put = |k: &str, v: Value| {
            out.insert(k.to_string(), v);
        };
        put("zone", spec.get("zone").cloned().unwrap_or(Value::Null));
        put("zone_id", json!(zone_id));
        put("fqdn", json!(self.name));
        put("type", json!(self.rtype));
        put("ttl", self.ttl.map_or(Value::Null, Value::from));
        put("routing", json!(self.routing()));
        put(
            "set_id",
            self.set_id.clone().map_or(Value::Null, Value::from),
        );
        let decoded: Vec<String> = self
            .values
            .iter()
            .map(|v| {
                if self.rtype == "TXT" {
                    txt_decode(v)
                } else {
                    v.clone()
                }
            })
            .collect();
        let values = if self.alias.is_some() {
            Value::Null
        } else {
            // Route 53 may give them back in another order.
            let wanted: Option<Vec<String>> =
                spec.get("values").and_then(Value::as_array).map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                });
            match wanted {
                Some(w) if same_set(&w, &decoded) => json!(w),
                _ => json!(decoded),
            }
        };
        put("values", values);
        put("weight", self.weight.map_or(Value::Null, Value::from));
        put(
            "region",
            self.region.clone().map_or(Value::Null, Value::from),
        );
        put(
            "location",
            self.geo.as_ref().map_or(Value::Null, geo_to_json),
        );
        put(
            "failover",
            self.failover.clone().map_or(Value::Null, Value::from),
        );
        put(
            "health_check_id",
            self.health_check_id
                .clone()
                .map_or(Value::Null, Value::from),
        );
        if let Some(a) = &self.alias {
            put(
                "alias",
                json!({"dns_name": a.dns_name, "hosted_zone_id": a.zone_id, "evaluate_target_health": a.evaluate}),
            );
        } else if spec.contains_key("alias") {
            put("alias", Value::Null);
        }
        // Attributes the cloud does not keep stay as the stack has them.
        for (k, v) in spec {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
        out
    }
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

fn geo_from_json(v: &Value) -> Result<Geo, String> {
    match v {
        Value::String(s) if s == "*" => Ok(Geo::Default),
        Value::Object(m) => {
            let get = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
            match (get("continent"), get("country")) {
                (Some(c), None) => Ok(Geo::Continent(c)),
                (None, Some(c)) if c == "*" => Ok(Geo::Default),
                (None, Some(c)) => Ok(Geo::Country(c, get("subdivision"))),
                _ => Err(format!(
                    "`location` needs a continent or a country, got {v}"
                )),
            }
        }
        _ => Err(format!("`location` must be \"*\" or a map, got {v}")),
    }
}

fn geo_to_json(g: &Geo) -> Value {
    match g {
        Geo::Default => json!("*"),
        Geo::Continent(c) => json!({ "continent": c }),
        Geo::Country(c, sub) => {
            let mut m = Map::new();
            m.insert("country".into(), json!(c));
            if let Some(s) = sub {
                m.insert("subdivision".into(), json!(s));
            }
            Value::Object(m)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(v: Value) -> Values {
        match v {
            Value::Object(m) => m.into_iter().collect(),
            _ => Values::new(),
        }
    }

    fn weighted(weight: Value) -> Values {
        attrs(json!({
            "zone": "example.com", "zone_id": "Z1", "fqdn": "app.example.com", "type": "A",
            "ttl": 60, "routing": "weighted", "set_id": "blue", "values": ["192.0.2.1"],
            "weight": weight, "region": null, "location": null, "failover": null,
            "health_check_id": "hc-1"
        }))
    }

    #[test]
    fn round_trip_through_the_sdk_type() {
        for a in [
            weighted(json!(100)),
            attrs(
                json!({"fqdn": "*.example.com", "type": "A", "ttl": 30, "routing": "simple",
                         "values": ["192.0.2.1", "192.0.2.2"]}),
            ),
            attrs(
                json!({"fqdn": "geo.example.com", "type": "A", "ttl": 60, "routing": "geolocation",
                         "set_id": "d", "location": "*", "values": ["192.0.2.1"]}),
            ),
            attrs(
                json!({"fqdn": "geo.example.com", "type": "A", "ttl": 60, "routing": "geolocation",
                         "set_id": "ca", "location": {"country": "US", "subdivision": "CA"}, "values": ["192.0.2.1"]}),
            ),
            attrs(
                json!({"fqdn": "api.example.com", "type": "A", "ttl": 60, "routing": "failover",
                         "set_id": "p", "failover": "PRIMARY", "health_check_id": "hc", "values": ["192.0.2.1"]}),
            ),
            attrs(
                json!({"fqdn": "mv.example.com", "type": "A", "ttl": 60, "routing": "multivalue",
                         "set_id": "a", "values": ["192.0.2.1"]}),
            ),
            attrs(
                json!({"fqdn": "lat.example.com", "type": "A", "ttl": 60, "routing": "latency",
                         "set_id": "a", "region": "ap-southeast-2", "values": ["192.0.2.1"]}),
            ),
            attrs(
                json!({"fqdn": "lb.example.com", "type": "A", "routing": "simple",
                         "alias": {"dns_name": "x.elb.amazonaws.com", "hosted_zone_id": "Z35", "evaluate_target_health": true}}),
            ),
            attrs(
                json!({"fqdn": "example.com", "type": "TXT", "ttl": 60, "routing": "simple",
                         "values": ["v=spf1 -all", "say \"hi\""]}),
            ),
        ] {
            let rr = Rr::from_attrs(&a).expect("valid");
            let back = Rr::from_sdk(&rr.to_sdk().expect("builds"));
            assert_eq!(back, rr);
            let again = back.attrs(&a, "Z1");
            for (k, v) in &a {
                if k != "zone_id" {
                    assert_eq!(again.get(k), Some(v), "{k} of {a:?}");
                }
            }
        }
    }

    #[test]
    fn fedstack_rejects_what_route53_would() {
        let err = |a: Values| Rr::from_attrs(&a).expect_err("invalid");
        let mut a = weighted(json!(10));
        a.remove("set_id");
        assert_eq!(
            err(a),
            "routing: weighted needs a set identifier (`set_id`)"
        );
        let mut a = weighted(json!(10));
        a.insert("failover".into(), json!("PRIMARY"));
        assert_eq!(
            err(a),
            "`failover` is only valid with routing: failover; this record uses weighted"
        );
        assert_eq!(err(weighted(json!(256))), "`weight` must be 0-255, got 256");
        assert_eq!(
            err(weighted(Value::Null)),
            "`weight` is required with routing: weighted"
        );
        let mut a = weighted(json!(1));
        a.insert(
            "alias".into(),
            json!({"dns_name": "x.elb.amazonaws.com", "hosted_zone_id": "Z"}),
        );
        assert_eq!(err(a), "an alias record has no `values` and no `ttl`");
    }

    #[test]
    fn names_and_txt_values() {
        assert_eq!(normalize_name("\\052.Example.COM."), "*.example.com");
        assert_eq!(txt_encode("a\"b"), "\"a\\\"b\"");
        assert_eq!(txt_decode("\"a\\\"b\""), "a\"b");
        let long = "x".repeat(300);
        let wire = txt_encode(&long);
        assert!(wire.starts_with(&format!("\"{}\" \"", "x".repeat(255))));
        assert_eq!(txt_decode(&wire), long);
    }

    #[test]
    fn same_ignores_value_order() {
        let a = Rr::from_attrs(&attrs(
            json!({"fqdn": "a.example.com", "type": "A", "ttl": 60,
            "values": ["192.0.2.1", "192.0.2.2"]}),
        ))
        .expect("valid");
        let mut b = a.clone();
        b.values.reverse();
        assert!(a.same(&b));
        b.ttl = Some(30);
        assert!(!a.same(&b));
    }
}
