//! Settings of a local cloud (`bin_dir`, `kubernetes_version`) and where the Kubernetes
//! binaries are.

use std::path::{Path, PathBuf};

use fedstack_core::value::Values;
use fedstack_provider::ProviderError;
use serde_json::Value;

use crate::errors::invalid;

/// The test bed that `scripts/kube-testenv build` makes: keep in sync with the pinned
/// versions there (a unit test checks).
pub const TESTENV_KUBERNETES: &str = "v1.36.3";
pub const TESTENV_ETCD: &str = "v3.6.8";
/// The kwok (fake nodes) the test bed builds.
pub const TESTENV_KWOK: &str = "v0.8.0";

/// Overrides where the binaries are (below a cloud's `bin_dir`).
pub const ENV_BIN_DIR: &str = "FEDSTACK_KUBE_BIN_DIR";
/// The kube-controller-manager controllers to run (comma-separated, `*` for all).
pub const ENV_CONTROLLERS: &str = "FEDSTACK_LOCAL_CONTROLLERS";

/// The controllers a local control plane runs: for kubefed, token Secrets and the root
/// CA config map for service accounts, and namespace deletion (unjoin deletes the
/// member's federation namespace); for workloads on the kwok nodes, Deployments and
/// ReplicaSets, the garbage collector (cascading deletes), pod GC (pods of deleted
/// nodes), and node lifecycle with taint eviction (it lifts the `not-ready` taint the
/// API server puts on new nodes once kwok reports them Ready, and taints nodes whose
/// kwok stopped renewing their leases). `*` (all of them) also works but starts slower.
pub const DEFAULT_CONTROLLERS: &str = "serviceaccount-token,serviceaccount,root-ca-cert-publisher,namespace,deployment-controller,replicaset-controller,garbage-collector-controller,pod-garbage-collector-controller,node-lifecycle-controller,taint-eviction-controller";

/// The binaries a local cluster runs, in start order: its control plane, then kwok,
/// which plays the kubelets of its nodes.
pub const BINARIES: [&str; 5] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
];

/// A local cloud's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    /// `bin_dir`, as written.
    pub bin_dir: Option<PathBuf>,
    /// `kubernetes_version`: what the binaries must be (`1.36` or `1.36.3`).
    pub kubernetes_version: Option<String>,
}

pub(crate) fn parse_settings(cloud: &str, settings: &Values) -> Result<Settings, ProviderError> {
    let string = |key: &str| -> Result<Option<String>, ProviderError> {
        match settings.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Some(other) => Err(invalid(format!(
                "cloud `{cloud}`: `{key}`: `{other}` is not a non-empty string"
            ))),
        }
    };
    let kubernetes_version = string("kubernetes_version")?;
    if let Some(v) = &kubernetes_version {
        parse_version(v).ok_or_else(|| {
            invalid(format!(
                "cloud `{cloud}`: `kubernetes_version`: `{v}` is not MAJOR.MINOR[.PATCH]"
            ))
        })?;
    }
    Ok(Settings {
        bin_dir: string("bin_dir")?.map(PathBuf::from),
        kubernetes_version,
    })
}

/// `1.36`, `v1.36.3` -> (1, 36, Some(3)).
pub(crate) fn parse_version(v: &str) -> Option<(u32, u32, Option<u32>)> {
    let v = v.trim().trim_start_matches('v');
    let mut parts = v.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = match parts.next() {
        None => None,
        Some(p) => {
            // `3`, or `3-rc.1`, `3+abc`: the number in front, then nothing or a suffix.
            let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
            let rest = &p[digits.len()..];
            if !(rest.is_empty() || rest.starts_with(['-', '+'])) {
                return None;
            }
            Some(digits.parse().ok()?)
        }
    };
    Some((major, minor, patch))
}

/// Where `scripts/kube-testenv` caches its binaries, computed as the script does:
/// `${FEDSTACK_TESTENV_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fedstack-testenv}/<k8s>-etcd<etcd>/bin`.
pub fn testenv_bin_dir_from(lookup: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let get = |k: &str| lookup(k).filter(|v| !v.is_empty());
    let root = match get("FEDSTACK_TESTENV_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let cache = match get("XDG_CACHE_HOME") {
                Some(c) => PathBuf::from(c),
                None => PathBuf::from(get("HOME")?).join(".cache"),
            };
            cache.join("fedstack-testenv")
        }
    };
    Some(
        root.join(format!("{TESTENV_KUBERNETES}-etcd{TESTENV_ETCD}"))
            .join("bin"),
    )
}

/// The test bed's bin dir for this process's environment.
pub fn testenv_bin_dir() -> Option<PathBuf> {
    testenv_bin_dir_from(|k| std::env::var(k).ok())
}

/// Where the binaries are: the cloud's `bin_dir`, else `FEDSTACK_KUBE_BIN_DIR`, else the
/// test bed's cache. Each binary must be there and executable.
pub(crate) fn bin_dir(settings: &Settings) -> Result<PathBuf, ProviderError> {
    let (dir, from) = match (&settings.bin_dir, std::env::var(ENV_BIN_DIR).ok()) {
        (Some(d), _) => (d.clone(), "the cloud's bin_dir"),
        (None, Some(d)) if !d.is_empty() => (PathBuf::from(d), ENV_BIN_DIR),
        _ => (
            testenv_bin_dir().ok_or_else(|| {
                invalid("cannot locate the local Kubernetes binaries: HOME is not set (hint: set bin_dir or FEDSTACK_KUBE_BIN_DIR)")
            })?,
            "the test bed cache",
        ),
    };
    check_binaries(&dir).map_err(|missing| {
        invalid(format!(
            "local Kubernetes binaries not found: {} has no executable {missing} ({from}) (hint: run scripts/kube-testenv build, or set bin_dir / {ENV_BIN_DIR})",
            dir.display()
        ))
    })?;
    Ok(dir)
}

/// The first binary missing (or not executable) in `dir`.
pub fn check_binaries(dir: &Path) -> Result<(), &'static str> {
    use std::os::unix::fs::PermissionsExt;
    for b in BINARIES {
        let ok = std::fs::metadata(dir.join(b))
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false);
        if !ok {
            return Err(b);
        }
    }
    Ok(())
}

/// Extra kube-apiserver flags, whitespace-separated, after fedstack's own (a repeated
/// flag: the last wins): an authenticating webhook, feature gates, audit logging.
pub const ENV_APISERVER_ARGS: &str = "FEDSTACK_LOCAL_APISERVER_ARGS";

/// The flags of [`ENV_APISERVER_ARGS`], read at each start of a control plane.
pub(crate) fn extra_apiserver_args() -> Vec<String> {
    std::env::var(ENV_APISERVER_ARGS)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The controllers to run (`FEDSTACK_LOCAL_CONTROLLERS`, else [`DEFAULT_CONTROLLERS`]).
pub(crate) fn controllers() -> String {
    std::env::var(ENV_CONTROLLERS)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_CONTROLLERS.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(v: Value) -> Values {
        match v {
            Value::Object(m) => m.into_iter().collect(),
            _ => Values::new(),
        }
    }

    #[test]
    fn settings() {
        let s = parse_settings("l", &Values::new()).expect("valid");
        assert_eq!(s.bin_dir, None);
        let s = parse_settings(
            "l",
            &values(
                json!({"bin_dir": "/opt/k8s", "kubernetes_version": "1.36", "max_parallel": 2}),
            ),
        )
        .expect("valid");
        assert_eq!(s.bin_dir, Some(PathBuf::from("/opt/k8s")));
        assert_eq!(s.kubernetes_version.as_deref(), Some("1.36"));
        let e =
            parse_settings("l", &values(json!({"kubernetes_version": "one"}))).expect_err("bad");
        assert_eq!(
            e.message,
            "cloud `l`: `kubernetes_version`: `one` is not MAJOR.MINOR[.PATCH]"
        );
        assert!(parse_settings("l", &values(json!({"bin_dir": 3}))).is_err());
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("1.36"), Some((1, 36, None)));
        assert_eq!(parse_version("v1.36.3"), Some((1, 36, Some(3))));
        assert_eq!(parse_version("1.36.3-rc.1"), Some((1, 36, Some(3))));
        assert_eq!(parse_version("1"), None);
        assert_eq!(parse_version("1.x"), None);
        assert_eq!(parse_version("1.2.3.4"), None);
    }

    #[test]
    fn testenv_path_follows_the_script() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let name = format!("{TESTENV_KUBERNETES}-etcd{TESTENV_ETCD}");
        assert_eq!(
            testenv_bin_dir_from(env(&[("HOME", "/home/u")])),
            Some(PathBuf::from(format!(
                "/home/u/.cache/fedstack-testenv/{name}/bin"
            )))
        );
        assert_eq!(
            testenv_bin_dir_from(env(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/c")])),
            Some(PathBuf::from(format!("/c/fedstack-testenv/{name}/bin")))
        );
        assert_eq!(
            testenv_bin_dir_from(env(&[("FEDSTACK_TESTENV_DIR", "/t"), ("HOME", "/h")])),
            Some(PathBuf::from(format!("/t/{name}/bin")))
        );
        assert_eq!(testenv_bin_dir_from(env(&[])), None);
    }

    #[test]
    fn pins_match_the_testenv_script() {
        let script = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../scripts/kube-testenv"),
        )
        .expect("scripts/kube-testenv");
        assert!(
            script.contains(&format!("KUBE_VERSION=\"{TESTENV_KUBERNETES}\"")),
            "scripts/kube-testenv pins another Kubernetes than config.rs"
        );
        assert!(
            script.contains(&format!("ETCD_VERSION=\"{TESTENV_ETCD}\"")),
            "scripts/kube-testenv pins another etcd than config.rs"
        );
        assert!(
            script.contains(&format!("KWOK_VERSION=\"{TESTENV_KWOK}\"")),
            "scripts/kube-testenv pins another kwok than config.rs"
        );
        assert!(
            script.contains(&format!("binaries=({})", BINARIES.join(" "))),
            "scripts/kube-testenv builds other binaries than config.rs expects"
        );
    }
}
