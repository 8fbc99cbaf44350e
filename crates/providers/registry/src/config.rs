//! An image resource's attributes, read back into typed settings, and a registry's
//! credentials resolved from where the stack says they are (env vars, a docker
//! config file) at call time. Nothing resolved here is ever stored: the values go
//! into [`fedstack_registry::Registry`] (whose secrets never print) and nowhere else.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use fedstack_core::value::Values;
use fedstack_registry::{Credentials, ImageRef, PlatformFilter, Registry, Secret};
use serde_json::Value;

/// Why an image's settings or credentials cannot be used. No variant holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("attribute `{0}` is missing or not what the stack lowers")]
    Attribute(&'static str),
    #[error("{0}")]
    Reference(fedstack_registry::Error),
    #[error("registry {host}: env var {var} (`{field}` in its credentials) is not set")]
    EnvMissing {
        host: String,
        field: &'static str,
        var: String,
    },
    #[error("registry {host}: cannot read {what} {path}: {reason}")]
    File {
        host: String,
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("registry {host}: docker config {path} has no usable entry for it in `auths` (hint: `docker login {host}` writes one; `auth` or `identitytoken`)")]
    DockerConfigEntry { host: String, path: String },
    #[error("registry {host}: docker config {path}: {reason}")]
    DockerConfig {
        host: String,
        path: String,
        reason: String,
    },
}

/// Where a registry's credentials are to be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    Anonymous,
    Basic {
        username_env: String,
        password_env: String,
    },
    Token {
        token_env: String,
    },
    /// `~/` is the home directory of whoever runs fedstack.
    DockerConfig {
        path: String,
    },
}

/// One registry of an image, as its attributes say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySettings {
    pub host: String,
    pub insecure_http: bool,
    /// Already joined onto the stack file's directory by the core.
    pub ca_file: Option<String>,
    pub credentials: CredentialSource,
}

/// An `image.*` resource's attributes.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub source: ImageRef,
    pub destination: ImageRef,
    pub platforms: PlatformFilter,
    pub source_registry: RegistrySettings,
    pub destination_registry: RegistrySettings,
}

impl ImageSpec {
    pub fn from_attrs(attrs: &Values) -> Result<ImageSpec, ConfigError> {
        let text = |k: &'static str| {
            attrs
                .get(k)
                .and_then(Value::as_str)
                .ok_or(ConfigError::Attribute(k))
        };
        let parse = |k: &'static str| ImageRef::parse(text(k)?).map_err(ConfigError::Reference);
        let platforms = match attrs.get("platforms") {
            None => PlatformFilter::All,
            Some(Value::String(s)) if s == "all" => PlatformFilter::All,
            Some(Value::Array(items)) => {
                let list: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                let list = list.ok_or(ConfigError::Attribute("platforms"))?;
                PlatformFilter::parse(&list.join(",")).map_err(ConfigError::Reference)?
            }
            Some(_) => return Err(ConfigError::Attribute("platforms")),
        };
        Ok(ImageSpec {
            source: parse("source")?,
            destination: parse("destination")?,
            platforms,
            source_registry: registry_settings(attrs, "source_registry")?,
            destination_registry: registry_settings(attrs, "destination_registry")?,
        })
    }
}

fn registry_settings(attrs: &Values, key: &'static str) -> Result<RegistrySettings, ConfigError> {
    let bad = || ConfigError::Attribute(key);
    let r = attrs.get(key).and_then(Value::as_object).ok_or_else(bad)?;
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let obj = Value::Object(r.clone());
    let c = r.get("credentials").ok_or_else(bad)?;
    let credentials = match c.get("kind").and_then(Value::as_str) {
        Some("anonymous") => CredentialSource::Anonymous,
        Some("basic") => CredentialSource::Basic {
            username_env: s(c, "username_env").ok_or_else(bad)?,
            password_env: s(c, "password_env").ok_or_else(bad)?,
        },
        Some("token") => CredentialSource::Token {
            token_env: s(c, "token_env").ok_or_else(bad)?,
        },
        Some("docker_config") => CredentialSource::DockerConfig {
            path: s(c, "path").ok_or_else(bad)?,
        },
        _ => return Err(bad()),
    };
    Ok(RegistrySettings {
        host: s(&obj, "host").ok_or_else(bad)?,
        insecure_http: r
            .get("insecure_http")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        ca_file: s(&obj, "ca_file"),
        credentials,
    })
}

/// Where env vars and `~` come from (the process's in the provider, a map in tests).
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
    fn home(&self) -> Option<PathBuf>;
}

/// The process environment.
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
    fn home(&self) -> Option<PathBuf> {
        std::env::var_os("HOME").map(PathBuf::from)
    }
}

impl RegistrySettings {
    /// The client settings, credentials and CA read now.
    pub fn resolve(&self, env: &dyn Environment) -> Result<Registry, ConfigError> {
        let mut r = Registry::new(self.host.clone());
        r.insecure_http = self.insecure_http;
        if let Some(ca) = &self.ca_file {
            let pem = std::fs::read_to_string(ca).map_err(|e| ConfigError::File {
                host: self.host.clone(),
                what: "ca_file",
                path: ca.clone(),
                reason: e.to_string(),
            })?;
            r.ca_pem = Some(pem);
        }
        let var = |field: &'static str, name: &str| {
            env.var(name).ok_or_else(|| ConfigError::EnvMissing {
                host: self.host.clone(),
                field,
                var: name.to_string(),
            })
        };
        r.credentials = match &self.credentials {
            CredentialSource::Anonymous => Credentials::Anonymous,
            CredentialSource::Basic {
                username_env,
                password_env,
            } => Credentials::Basic {
                username: var("username_env", username_env)?,
                password: Secret::new(var("password_env", password_env)?),
            },
            CredentialSource::Token { token_env } => {
                Credentials::Token(Secret::new(var("token_env", token_env)?))
            }
            CredentialSource::DockerConfig { path } => self.docker_config(path, env)?,
        };
        Ok(r)
    }

    fn docker_config(&self, path: &str, env: &dyn Environment) -> Result<Credentials, ConfigError> {
        let file = match path.strip_prefix("~/") {
            Some(rest) => match env.home() {
                Some(h) => h.join(rest),
                None => Path::new(path).to_path_buf(),
            },
            None => Path::new(path).to_path_buf(),
        };
        let shown = file.display().to_string();
        let text = std::fs::read_to_string(&file).map_err(|e| ConfigError::File {
            host: self.host.clone(),
            what: "docker config",
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        docker_credentials(&text, &self.host).map_err(|reason| match reason {
            None => ConfigError::DockerConfigEntry {
                host: self.host.clone(),
                path: shown.clone(),
            },
            Some(reason) => ConfigError::DockerConfig {
                host: self.host.clone(),
                path: shown.clone(),
                reason,
            },
        })
    }
}

/// The credentials of `host` in a docker config's `auths`: `auth` (base64
/// `user:password`) or `identitytoken` / `registrytoken` (sent as a bearer token).
/// `Err(None)`: no entry for the host; `Err(Some(reason))`: the file is malformed
/// (the reason never quotes a value).
pub fn docker_credentials(text: &str, host: &str) -> Result<Credentials, Option<String>> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| Some(format!("not JSON (line {})", e.line())))?;
    let auths = doc.get("auths").and_then(Value::as_object).ok_or(None)?;
    // Keys are written as `host`, `https://host` or `https://host/v1/` (docker login).
    let entry = auths
        .iter()
        .find(|(k, _)| {
            let k = k
                .strip_prefix("https://")
                .or_else(|| k.strip_prefix("http://"))
                .unwrap_or(k);
            k.split('/').next() == Some(host)
        })
        .map(|(_, v)| v)
        .ok_or(None)?;
    for key in ["identitytoken", "registrytoken"] {
        if let Some(t) = entry
            .get(key)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            return Ok(Credentials::Token(Secret::new(t)));
        }
    }
    let Some(auth) = entry
        .get("auth")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
    else {
        return Err(None);
    };
    let decoded = B64
        .decode(auth.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            Some(format!(
                "`auths.{host}.auth` is not base64 of user:password"
            ))
        })?;
    let (user, pass) = decoded.split_once(':').ok_or_else(|| {
        Some(format!(
            "`auths.{host}.auth` is not base64 of user:password"
        ))
    })?;
    Ok(Credentials::Basic {
        username: user.to_string(),
        password: Secret::new(pass),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, &'static str>, Option<PathBuf>);
    impl Environment for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| v.to_string())
        }
        fn home(&self) -> Option<PathBuf> {
            self.1.clone()
        }
    }

    fn settings(c: CredentialSource) -> RegistrySettings {
        RegistrySettings {
            host: "r.example.com".into(),
            insecure_http: false,
            ca_file: None,
            credentials: c,
        }
    }

    #[test]
    fn env_credentials_resolve_and_a_missing_var_is_named_not_shown() {
        let env = MapEnv(HashMap::from([("U", "ci"), ("P", "hunter2")]), None);
        let r = settings(CredentialSource::Basic {
            username_env: "U".into(),
            password_env: "P".into(),
        })
        .resolve(&env)
        .expect("resolves");
        assert_eq!(
            r.credentials,
            Credentials::Basic {
                username: "ci".into(),
                password: Secret::new("hunter2")
            }
        );
        let e = settings(CredentialSource::Token {
            token_env: "NOPE".into(),
        })
        .resolve(&env)
        .expect_err("missing");
        assert_eq!(
            e.to_string(),
            "registry r.example.com: env var NOPE (`token_env` in its credentials) is not set"
        );
    }

    #[test]
    fn docker_config_auth_and_identity_tokens_under_any_key_spelling() {
        let auth = B64.encode("ci:hunter2");
        let text = format!(
            r#"{{"auths": {{"https://r.example.com/v1/": {{"auth": "{auth}"}}, "t.example.com": {{"identitytoken": "tok"}}}}}}"#
        );
        assert_eq!(
            docker_credentials(&text, "r.example.com"),
            Ok(Credentials::Basic {
                username: "ci".into(),
                password: Secret::new("hunter2")
            })
        );
        assert_eq!(
            docker_credentials(&text, "t.example.com"),
            Ok(Credentials::Token(Secret::new("tok")))
        );
        assert_eq!(docker_credentials(&text, "other.example.com"), Err(None));
        let bad = r#"{"auths": {"r.example.com": {"auth": "hunter2!!"}}}"#;
        let e = docker_credentials(bad, "r.example.com").expect_err("bad");
        assert!(!format!("{e:?}").contains("hunter2"), "{e:?}");
    }

    #[test]
    fn docker_config_path_expands_home() {
        let dir = tempfile::tempdir().expect("tempdir");
        let auth = B64.encode("u:p");
        std::fs::create_dir_all(dir.path().join(".docker")).expect("mkdir");
        std::fs::write(
            dir.path().join(".docker/config.json"),
            format!(r#"{{"auths": {{"r.example.com": {{"auth": "{auth}"}}}}}}"#),
        )
        .expect("write");
        let env = MapEnv(HashMap::new(), Some(dir.path().to_path_buf()));
        let r = settings(CredentialSource::DockerConfig {
            path: "~/.docker/config.json".into(),
        })
        .resolve(&env)
        .expect("resolves");
        assert!(
            matches!(r.credentials, Credentials::Basic { ref username, .. } if username == "u")
        );
    }
}
