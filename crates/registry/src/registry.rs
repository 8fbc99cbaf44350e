//! How to reach one registry: resolved values only (the caller reads env vars and
//! files; this crate does no lookups of its own). Secrets are in [`Secret`], whose
//! Debug and Display print `<redacted>`, so a `{:?}` of any settings struct is safe
//! to log.

use std::fmt;

/// A credential string that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The value, for the Authorization header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    #[default]
    Anonymous,
    /// Sent as HTTP Basic to a registry that challenges Basic, and to the token
    /// endpoint of one that challenges Bearer.
    Basic { username: String, password: Secret },
    /// A ready bearer token (e.g. a cloud's short-lived registry token), sent as is.
    Token(Secret),
}

impl fmt::Debug for Credentials {
    // By hand so that a change of Secret's Debug cannot leak a password here.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => {
                write!(
                    f,
                    "Basic {{ username: {username:?}, password: <redacted> }}"
                )
            }
            Credentials::Token(_) => f.write_str("Token(<redacted>)"),
        }
    }
}

/// One registry's settings. `host` is the `host[:port]` of the image references
/// that go to it (`127.0.0.1:5000` in `127.0.0.1:5000/app:v1`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registry {
    pub host: String,
    pub credentials: Credentials,
    /// PEM certificates trusted for this registry in addition to the system roots.
    pub ca_pem: Option<String>,
    /// Plain http instead of https. Never automatic, not even for localhost: a
    /// registry that should be https but falls back to http would send credentials in
    /// the clear, so http is a setting someone wrote down.
    pub insecure_http: bool,
}

impl Registry {
    /// An anonymous https registry.
    pub fn new(host: impl Into<String>) -> Registry {
        Registry {
            host: host.into(),
            ..Registry::default()
        }
    }

    pub fn with_credentials(mut self, c: Credentials) -> Registry {
        self.credentials = c;
        self
    }

    pub fn with_ca_pem(mut self, pem: impl Into<String>) -> Registry {
        self.ca_pem = Some(pem.into());
        self
    }

    pub fn insecure_http(mut self) -> Registry {
        self.insecure_http = true;
        self
    }

    pub(crate) fn base_url(&self) -> String {
        let scheme = if self.insecure_http { "http" } else { "https" };
        format!("{scheme}://{}", self.host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts() {
        let r = Registry::new("r.example").with_credentials(Credentials::Basic {
            username: "ci".into(),
            password: Secret::new("hunter2"),
        });
        let s = format!(
            "{r:?} {:?} {}",
            Credentials::Token(Secret::new("tok123")),
            Secret::new("x1")
        );
        assert!(
            !s.contains("hunter2") && !s.contains("tok123") && !s.contains("x1"),
            "{s}"
        );
        assert!(s.contains("ci"));
    }
}
