//! Settings of a sim cloud (`emulates`, `account`, `latency`) and process-wide options
//! (fault injection, latency scaling) normally read from the environment.

use std::fmt;
use std::time::Duration;

use fedstack_core::address::Address;
use fedstack_core::value::Values;
use fedstack_provider::ProviderError;
use serde_json::Value;

use crate::errors::invalid;
use crate::object::Flavor;

/// The operations of the provider, as named by fault injection and `latency` maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimOperation {
    Create,
    Read,
    Update,
    Delete,
}

impl SimOperation {
    pub const ALL: [SimOperation; 4] = [
        SimOperation::Create,
        SimOperation::Read,
        SimOperation::Update,
        SimOperation::Delete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SimOperation::Create => "create",
            SimOperation::Read => "read",
            SimOperation::Update => "update",
            SimOperation::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<SimOperation> {
        SimOperation::ALL.into_iter().find(|o| o.as_str() == s)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for SimOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `FEDSTACK_SIM_FAIL`: calls on addresses matching `pattern` (with `*`
/// wildcards) fail, all of them or only those of `operation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailRule {
    pub pattern: String,
    pub operation: Option<SimOperation>,
}

impl FailRule {
    pub fn matches(&self, address: &Address, operation: SimOperation) -> bool {
        self.operation.is_none_or(|o| o == operation) && address.matches(&self.pattern)
    }
}

/// Process-wide knobs of the sim. [`SimOptions::from_env`] reads them from:
///
/// | variable | meaning |
/// |---|---|
/// | `FEDSTACK_SIM_FAIL` | comma-separated address patterns (`*` wildcards), each with an optional `:create`, `:read`, `:update` or `:delete` suffix: matching calls fail with a permanent "injected failure" |
/// | `FEDSTACK_SIM_HOLD` | patterns as for `FEDSTACK_SIM_FAIL`: a matching call, once the cloud has accepted it, creates `<state_dir>/.sim/held/<op>-<address>` and waits until that file is removed (tests hold calls in flight; see `hold.rs`) |
/// | `FEDSTACK_SIM_THROTTLE` | fraction 0..1 of create/update/delete calls that fail with `Throttled` ("Rate exceeded") before doing anything |
/// | `FEDSTACK_SIM_EXTRA_LATENCY` | a duration (`250ms`, `2s`, or seconds) added to every call |
/// | `FEDSTACK_SIM_LATENCY_SCALE` | a factor applied to every latency (`0.01` runs realistic defaults 100x faster) |
/// | `FEDSTACK_SIM_LOCK_TIMEOUT` | how long to wait for a world locked by another process (default 10s) |
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    pub fail: Vec<FailRule>,
    /// `FEDSTACK_SIM_HOLD`: the same address rules, for calls to hold in flight.
    pub hold: Vec<FailRule>,
    pub throttle: f64,
    pub extra_latency: Duration,
    pub latency_scale: f64,
    pub lock_timeout: Duration,
}

impl Default for SimOptions {
    fn default() -> SimOptions {
        SimOptions {
            fail: Vec::new(),
            hold: Vec::new(),
            throttle: 0.0,
            extra_latency: Duration::ZERO,
            latency_scale: 1.0,
            lock_timeout: Duration::from_secs(10),
        }
    }
}

impl SimOptions {
    pub const ENV_FAIL: &'static str = "FEDSTACK_SIM_FAIL";
    pub const ENV_HOLD: &'static str = "FEDSTACK_SIM_HOLD";
    pub const ENV_THROTTLE: &'static str = "FEDSTACK_SIM_THROTTLE";
    pub const ENV_EXTRA_LATENCY: &'static str = "FEDSTACK_SIM_EXTRA_LATENCY";
    pub const ENV_LATENCY_SCALE: &'static str = "FEDSTACK_SIM_LATENCY_SCALE";
    pub const ENV_LOCK_TIMEOUT: &'static str = "FEDSTACK_SIM_LOCK_TIMEOUT";

    /// Reads the options from the process environment. An unparsable value is an error
    /// (class `Invalid`), not silently ignored.
    pub fn from_env() -> Result<SimOptions, ProviderError> {
        SimOptions::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the options through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<SimOptions, ProviderError> {
        let mut o = SimOptions::default();
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if let Some(v) = get(Self::ENV_FAIL) {
            o.fail =
                parse_fail_rules(&v).map_err(|e| invalid(format!("{}: {e}", Self::ENV_FAIL)))?;
        }
        if let Some(v) = get(Self::ENV_HOLD) {
            o.hold =
                parse_fail_rules(&v).map_err(|e| invalid(format!("{}: {e}", Self::ENV_HOLD)))?;
        }
        if let Some(v) = get(Self::ENV_THROTTLE) {
            o.throttle = match v.parse::<f64>() {
                Ok(f) if (0.0..=1.0).contains(&f) => f,
                _ => {
                    return Err(invalid(format!(
                        "{}={v} is not a fraction between 0 and 1",
                        Self::ENV_THROTTLE
                    )))
                }
            };
        }
        if let Some(v) = get(Self::ENV_EXTRA_LATENCY) {
            o.extra_latency = parse_duration(&Value::String(v.clone()))
                .map_err(|e| invalid(format!("{}={v}: {e}", Self::ENV_EXTRA_LATENCY)))?;
        }
        if let Some(v) = get(Self::ENV_LATENCY_SCALE) {
            o.latency_scale = match v.parse::<f64>() {
                Ok(f) if f.is_finite() && f >= 0.0 => f,
                _ => {
                    return Err(invalid(format!(
                        "{}={v} is not a non-negative number",
                        Self::ENV_LATENCY_SCALE
                    )))
                }
            };
        }
        if let Some(v) = get(Self::ENV_LOCK_TIMEOUT) {
            o.lock_timeout = parse_duration(&Value::String(v.clone()))
                .map_err(|e| invalid(format!("{}={v}: {e}", Self::ENV_LOCK_TIMEOUT)))?;
        }
        Ok(o)
    }
}

/// Parses `FEDSTACK_SIM_FAIL`: `pattern[:op],pattern[:op],...`.
pub(crate) fn parse_fail_rules(s: &str) -> Result<Vec<FailRule>, String> {
    let mut rules = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (pattern, operation) = match item.rsplit_once(':') {
            Some((p, op)) => match SimOperation::parse(op) {
                Some(op) => (p, Some(op)),
                None => {
                    return Err(format!(
                        "`{item}`: `{op}` is not an operation; use create, read, update or delete"
                    ))
                }
            },
            None => (item, None),
        };
        if pattern.is_empty() {
            return Err(format!("`{item}` has no address pattern"));
        }
        rules.push(FailRule {
            pattern: pattern.to_string(),
            operation,
        });
    }
    Ok(rules)
}

/// A duration setting. A JSON number is **milliseconds** (fedstack's core normalizes
/// `latency: 250ms` or `latency: 2` to `250` and `2000`); a string is a duration as
/// written in a stack: `0`, `250ms`, `2s`, `1m`, or a bare number of seconds (`1.5`).
pub(crate) fn parse_duration(v: &Value) -> Result<Duration, String> {
    const HINT: &str = "write e.g. 0, 250ms, 2s or a number of seconds";
    let from_secs = |f: f64| {
        if (0.0..1e9).contains(&f) {
            Ok(Duration::from_secs_f64(f))
        } else {
            Err(format!("`{f}` is not a duration; {HINT}"))
        }
    };
    match v {
        Value::Number(n) => from_secs(n.as_f64().unwrap_or(f64::NAN) / 1000.0),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(f) = s.parse::<f64>() {
                return from_secs(f);
            }
            humantime::parse_duration(s).map_err(|_| format!("`{s}` is not a duration; {HINT}"))
        }
        other => Err(format!("`{other}` is not a duration; {HINT}")),
    }
}

/// Which cloud a sim cloud pretends to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Emulates {
    Gcp,
    Aws,
    Azure,
}

impl Emulates {
    pub(crate) fn cluster_flavor(self) -> Flavor {
        match self {
            Emulates::Gcp => Flavor::Gke,
            Emulates::Aws => Flavor::Eks,
            Emulates::Azure => Flavor::Aks,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Emulates::Gcp => "gcp",
            Emulates::Aws => "aws",
            Emulates::Azure => "azure",
        }
    }
}

/// The `latency` setting: per operation, `None` meaning the realistic default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LatencySetting {
    pub per_op: [Option<Duration>; 4],
}

/// A sim cloud's settings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    pub emulates: Option<Emulates>,
    pub account: String,
    pub latency: LatencySetting,
}

pub(crate) fn parse_settings(cloud: &str, settings: &Values) -> Result<Settings, ProviderError> {
    let bad = |key: &str, msg: String| invalid(format!("cloud `{cloud}`: `{key}`: {msg}"));
    let emulates = match settings.get("emulates") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "gcp" => Emulates::Gcp,
            "aws" => Emulates::Aws,
            "azure" => Emulates::Azure,
            other => {
                return Err(bad(
                    "emulates",
                    format!("`{other}` is not one of gcp, aws, azure"),
                ))
            }
        }),
        Some(other) => {
            return Err(bad(
                "emulates",
                format!("`{other}` is not one of gcp, aws, azure"),
            ))
        }
    };
    let account = match settings.get("account") {
        None | Some(Value::Null) => cloud.to_string(),
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(other) => {
            return Err(bad(
                "account",
                format!("`{other}` is not a non-empty string"),
            ))
        }
    };
    let mut latency = LatencySetting::default();
    match settings.get("latency") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let op = SimOperation::parse(k).ok_or_else(|| {
                    bad(
                        "latency",
                        format!("`{k}` is not an operation; use create, read, update or delete"),
                    )
                })?;
                latency.per_op[op.index()] =
                    Some(parse_duration(v).map_err(|e| bad("latency", e))?);
            }
        }
        Some(v) => {
            let d = parse_duration(v).map_err(|e| bad("latency", e))?;
            latency.per_op = [Some(d); 4];
        }
    }
    Ok(Settings {
        emulates,
        account,
        latency,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fedstack_core::address::ResourceKind;
    use serde_json::json;

    fn values(v: Value) -> Values {
        match v {
            Value::Object(m) => m.into_iter().collect(),
            _ => Values::new(),
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration(&json!(0)), Ok(Duration::ZERO));
        assert_eq!(parse_duration(&json!("0")), Ok(Duration::ZERO));
        assert_eq!(
            parse_duration(&json!("250ms")),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(parse_duration(&json!("2s")), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration(&json!("1m")), Ok(Duration::from_secs(60)));
        // Numbers are milliseconds, as the core normalizes them; bare strings are seconds.
        assert_eq!(
            parse_duration(&json!(1500)),
            Ok(Duration::from_millis(1500))
        );
        assert_eq!(parse_duration(&json!(2.5)), Ok(Duration::from_micros(2500)));
        assert_eq!(
            parse_duration(&json!("1.5")),
            Ok(Duration::from_millis(1500))
        );
        assert!(parse_duration(&json!(-1)).is_err());
        assert!(parse_duration(&json!("soon")).is_err());
        assert!(parse_duration(&json!(true)).is_err());
    }

    #[test]
    fn settings_defaults_and_forms() {
        let s = parse_settings("gcp", &Values::new()).expect("valid");
        assert_eq!(s.account, "gcp");
        assert_eq!(s.emulates, None);
        assert_eq!(s.latency, LatencySetting::default());

        let s = parse_settings(
            "aws",
            &values(json!({"emulates": "aws", "account": "123456789012", "latency": "250ms"})),
        )
        .expect("valid");
        assert_eq!(s.emulates, Some(Emulates::Aws));
        assert_eq!(s.account, "123456789012");
        assert_eq!(s.latency.per_op, [Some(Duration::from_millis(250)); 4]);

        let s = parse_settings(
            "x",
            &values(json!({"latency": {"create": 2000, "read": "0"}})),
        )
        .expect("valid");
        assert_eq!(
            s.latency.per_op[SimOperation::Create.index()],
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            s.latency.per_op[SimOperation::Read.index()],
            Some(Duration::ZERO)
        );
        assert_eq!(s.latency.per_op[SimOperation::Update.index()], None);
    }

    #[test]
    fn bad_settings_are_invalid() {
        for bad in [
            json!({"emulates": "ibm"}),
            json!({"account": ""}),
            json!({"latency": {"destroy": "1s"}}),
            json!({"latency": "fast"}),
        ] {
            let err = parse_settings("c", &values(bad.clone())).expect_err("invalid");
            assert_eq!(err.class, fedstack_provider::ErrorClass::Invalid, "{bad}");
            assert!(err.message.starts_with("cloud `c`"), "{}", err.message);
        }
    }

    #[test]
    fn env_options() {
        let env = |k: &str| match k {
            "FEDSTACK_SIM_FAIL" => Some("cluster.eks-*:create, dns_record.*".to_string()),
            "FEDSTACK_SIM_THROTTLE" => Some("0.25".to_string()),
            "FEDSTACK_SIM_HOLD" => Some("cluster.*:create".to_string()),
            "FEDSTACK_SIM_EXTRA_LATENCY" => Some("100ms".to_string()),
            "FEDSTACK_SIM_LATENCY_SCALE" => Some("0.01".to_string()),
            _ => None,
        };
        let o = SimOptions::from_lookup(env).expect("valid");
        assert_eq!(
            o.fail,
            vec![
                FailRule {
                    pattern: "cluster.eks-*".into(),
                    operation: Some(SimOperation::Create)
                },
                FailRule {
                    pattern: "dns_record.*".into(),
                    operation: None
                },
            ]
        );
        assert_eq!(
            o.hold,
            vec![FailRule {
                pattern: "cluster.*".into(),
                operation: Some(SimOperation::Create)
            }]
        );
        assert_eq!(o.throttle, 0.25);
        assert_eq!(o.extra_latency, Duration::from_millis(100));
        assert_eq!(o.latency_scale, 0.01);

        let eks = Address::new(ResourceKind::Cluster, "eks-saopaulo");
        assert!(o.fail[0].matches(&eks, SimOperation::Create));
        assert!(!o.fail[0].matches(&eks, SimOperation::Delete));
        assert!(o.fail[1].matches(
            &Address::new(ResourceKind::DnsRecord, "a.b/c"),
            SimOperation::Read
        ));

        assert_eq!(
            SimOptions::from_lookup(|_| None).expect("valid"),
            SimOptions::default()
        );
        for (k, v) in [
            ("FEDSTACK_SIM_THROTTLE", "2"),
            ("FEDSTACK_SIM_THROTTLE", "lots"),
            ("FEDSTACK_SIM_FAIL", "cluster.a:explode"),
            ("FEDSTACK_SIM_FAIL", ":create"),
            ("FEDSTACK_SIM_HOLD", "cluster.a:wait"),
            ("FEDSTACK_SIM_LATENCY_SCALE", "-1"),
            ("FEDSTACK_SIM_EXTRA_LATENCY", "later"),
        ] {
            let err = SimOptions::from_lookup(|key| (key == k).then(|| v.to_string()))
                .expect_err("invalid");
            assert!(err.message.contains(k), "{}", err.message);
        }
    }
}
