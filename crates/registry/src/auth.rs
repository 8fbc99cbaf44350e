//! Registry authentication (the Docker token protocol the OCI Distribution spec
//! defers to): a `WWW-Authenticate` challenge says Basic or `Bearer realm=...,
//! service=...,scope=...`; for Bearer we GET the realm with our scope (and our Basic
//! credentials, if any) and keep the token per scope. Basic credentials are sent
//! up front until a registry challenges Bearer, so an htpasswd registry costs no
//! extra round trip per request.

use std::collections::HashMap;

use base64::Engine as _;

use crate::registry::Credentials;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Parses the first challenge of a `WWW-Authenticate` value we can answer.
pub(crate) fn parse_challenge(v: &str) -> Option<Challenge> {
    let v = v.trim();
    let (scheme, params) = v.split_once(' ').unwrap_or((v, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(params);
    Some(Challenge::Bearer {
        realm: params.get("realm")?.clone(),
        service: params.get("service").cloned(),
    })
}

/// `k="v",k2=v2` (quoted values may hold commas: `scope="repository:a:pull,push"`).
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, after) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.insert(key, value.to_string());
        rest = after.trim_start_matches([',', ' ']);
    }
    out
}

/// What we know of one registry: its challenge (after the first 401) and tokens.
#[derive(Default)]
pub(crate) struct AuthState {
    pub challenge: Option<Challenge>,
    /// scope -> bearer token.
    pub tokens: HashMap<String, String>,
}

impl AuthState {
    /// The Authorization header for a request needing `scope`, if we have one.
    pub fn header(&self, creds: &Credentials, scope: &str) -> Option<String> {
        match (creds, &self.challenge) {
            (Credentials::Token(t), _) => Some(format!("Bearer {}", t.expose())),
            (_, Some(Challenge::Bearer { .. })) => {
                self.tokens.get(scope).map(|t| format!("Bearer {t}"))
            }
            (Credentials::Basic { username, password }, _) => {
                Some(basic(username, password.expose()))
            }
            (Credentials::Anonymous, _) => None,
        }
    }
}

pub(crate) fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// The token of a token endpoint's JSON answer (`token`, or OAuth2's `access_token`).
pub(crate) fn token_from_json(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("token")
        .or_else(|| v.get("access_token"))
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.example/token",service="reg.example",scope="repository:a/b:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("reg.example".into())
            })
        );
        assert_eq!(
            parse_challenge("Bearer realm=http://127.0.0.1:1/t"),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/t".into(),
                service: None
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(
            token_from_json(br#"{"access_token":"x"}"#).as_deref(),
            Some("x")
        );
    }
}
