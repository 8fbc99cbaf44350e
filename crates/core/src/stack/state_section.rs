//! The `state:` section: where the stack's state lives, in the `--state-dir`
//! directory (`backend: local`, the default) or in an S3 bucket (`backend: s3`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cx::{as_str, clip, found, list_hint, Field, Obj, Sp};
use super::load::Loader;
use super::names;
use super::yaml::{Node, Scalar};
use super::Span;

/// How long a run's lock on the state lasts unless renewed, when `lock_ttl` is not set.
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(60);

/// `lock_ttl` bounds, in milliseconds (1s..=1h).
const MIN_LOCK_TTL_MS: u64 = 1_000;
const MAX_LOCK_TTL_MS: u64 = 3_600_000;

const WHAT: &str = "state";
const BACKENDS: &[&str] = &["local", "s3"];
const LOCAL_FIELDS: &[&str] = &["backend"];
const S3_FIELDS: &[&str] = &[
    "backend",
    "bucket",
    "key_prefix",
    "region",
    "endpoint_url",
    "profile",
    "lock_ttl",
];

/// Where the state of a stack is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "snake_case")]
pub enum StateBackendConfig {
    /// Files in the CLI's `--state-dir`.
    #[default]
    Local,
    /// Objects in an S3 (or S3-compatible) bucket.
    S3(S3StateConfig),
}

/// `state: { backend: s3, ... }`, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3StateConfig {
    pub bucket: String,
    /// Normalized: empty, or ends with exactly one '/'; never starts with '/'.
    /// The stack's objects go under `<key_prefix><stack name>/`.
    pub key_prefix: String,
    /// `None`: the usual AWS chain (`AWS_REGION`, the profile).
    pub region: Option<String>,
    /// An `http://` or `https://` URL (S3-compatible stores, tests).
    pub endpoint_url: Option<String>,
    /// AWS shared-config profile.
    pub profile: Option<String>,
    /// Lease length of the run lock, 1s..=1h ([`DEFAULT_LOCK_TTL`] when not set).
    pub lock_ttl: Duration,
}

/// The `state:` section of a stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateSection {
    #[serde(flatten)]
    pub backend: StateBackendConfig,
    /// Where the section is (its `state` key); `None` when absent.
    pub span: Option<Span>,
}

impl Loader<'_> {
    /// Reads `state:`; `self.state` is left local when anything in it is wrong.
    pub(super) fn state_section(&mut self, key: &Scalar, node: &Node) {
        if !matches!(node, Node::Map { .. }) {
            let hint = match node {
                Node::Scalar(s) if s.text == "local" => {
                    "write `state: { backend: local }`, or leave `state` out"
                }
                Node::Scalar(s) if s.text == "s3" => "write `state: { backend: s3, bucket: NAME }`",
                _ => {
                    "e.g. `state: { backend: s3, bucket: NAME }`; \
                     without `state` the state stays in --state-dir"
                }
            };
            self.cx.error(
                node.span(),
                format!("expected a mapping for {WHAT}, found {}", found(node)),
                Some(hint.to_string()),
            );
            return;
        }
        let Some(obj) = Obj::new(&mut self.cx, node, WHAT.to_string(), key.span) else {
            return;
        };
        let backend = match obj.raw("backend") {
            None => {
                self.cx.error(
                    obj.at,
                    format!("missing field `backend` in {WHAT}"),
                    Some(BACKEND_HINT.to_string()),
                );
                None
            }
            Some((k, v)) if v.is_null() => {
                self.cx.error(
                    k.span,
                    format!("missing value for `backend` in {WHAT}"),
                    Some(BACKEND_HINT.to_string()),
                );
                None
            }
            Some((_, v)) => {
                as_str(&mut self.cx, v, Field("backend", WHAT)).and_then(|b| self.backend(&b))
            }
        };
        let backend = match backend {
            // Not readable (reported): only fields no backend has are reported.
            None => {
                obj.check_fields(&mut self.cx, S3_FIELDS);
                return;
            }
            Some("s3") => match self.s3_state(&obj) {
                Some(s3) => StateBackendConfig::S3(s3),
                None => return,
            },
            Some(_) => {
                self.local_state_fields(&obj);
                StateBackendConfig::Local
            }
        };
        self.state = StateSection {
            backend,
            span: Some(key.span),
        };
    }

    fn backend(&mut self, b: &Sp<String>) -> Option<&'static str> {
        if let Some(known) = BACKENDS.iter().find(|k| **k == b.v) {
            return Some(known);
        }
        let hint = match self.cx.closest(&b.v, BACKENDS.iter().copied()) {
            Some(c) => format!("did you mean `{c}`?"),
            None => BACKEND_HINT.to_string(),
        };
        self.cx.error(
            b.span,
            format!(
                "`backend` in {WHAT} must be one of {}; found `{}`",
                BACKENDS.join(", "),
                clip(&b.v)
            ),
            Some(hint),
        );
        None
    }

    /// `backend: local` takes no other field; those of s3 are named as such.
    fn local_state_fields(&mut self, obj: &Obj) {
        for (k, _) in obj.entries {
            let field = k.text.as_ref();
            if LOCAL_FIELDS.contains(&field) {
                continue;
            }
            let s3_only = S3_FIELDS
                .iter()
                .copied()
                .filter(|f| !LOCAL_FIELDS.contains(f));
            let hint = if S3_FIELDS.contains(&field) {
                Some(format!(
                    "`{field}` is only valid with backend: s3; this state uses backend local, in --state-dir"
                ))
            } else if let Some(c) = self.cx.closest(field, LOCAL_FIELDS.iter().copied()) {
                Some(format!("did you mean `{c}`?"))
            } else if let Some(c) = self.cx.closest(field, s3_only) {
                Some(format!(
                    "did you mean `{c}`? it is only valid with backend: s3; this state uses backend local"
                ))
            } else {
                list_hint("fields", LOCAL_FIELDS.iter().copied())
            };
            self.cx.error(
                k.span,
                format!("unknown field `{}` in {WHAT}", clip(field)),
                hint,
            );
        }
    }

    /// The fields of `backend: s3`; `None` when any is wrong (reported).
    fn s3_state(&mut self, obj: &Obj) -> Option<S3StateConfig> {
        obj.check_fields(&mut self.cx, S3_FIELDS);
        let mut ok = true;

        let bucket = match obj.raw("bucket") {
            None => {
                self.cx.error(
                    obj.at,
                    format!("missing field `bucket` in {WHAT}"),
                    Some(BUCKET_HINT.to_string()),
                );
                None
            }
            Some((k, v)) if v.is_null() => {
                self.cx.error(
                    k.span,
                    format!("missing value for `bucket` in {WHAT}"),
                    Some(BUCKET_HINT.to_string()),
                );
                None
            }
            Some((_, v)) => as_str(&mut self.cx, v, Field("bucket", WHAT)).filter(|b| {
                let problem = names::s3_bucket_problem(&b.v);
                if let Some(why) = &problem {
                    self.cx.error(
                        b.span,
                        format!("invalid S3 bucket name `{}` in {WHAT}: {why}", clip(&b.v)),
                        Some(names::S3_BUCKET_HINT.to_string()),
                    );
                }
                problem.is_none()
            }),
        };

        let key_prefix = match obj.str_opt(&mut self.cx, "key_prefix") {
            None => Some(String::new()),
            Some(p) => self.key_prefix(&p),
        };

        let endpoint_url = match obj.str_opt(&mut self.cx, "endpoint_url") {
            None => Some(None),
            Some(u) if endpoint_url_ok(&u.v) => Some(Some(u.v)),
            Some(u) => {
                self.cx.error(
                    u.span,
                    format!(
                        "`endpoint_url` in {WHAT} must be an http:// or https:// URL, found `{}`",
                        clip(&u.v)
                    ),
                    Some(ENDPOINT_HINT.to_string()),
                );
                None
            }
        };

        let region = self.optional_text(obj, "region", &mut ok);
        let profile = self.optional_text(obj, "profile", &mut ok);

        let lock_ttl = match obj.get("lock_ttl") {
            None => Some(DEFAULT_LOCK_TTL),
            Some((_, Node::Scalar(s))) => self.lock_ttl(s),
            Some((_, n)) => {
                self.cx.error(
                    n.span(),
                    format!(
                        "expected a duration for {}, found {}",
                        Field("lock_ttl", WHAT),
                        found(n)
                    ),
                    Some(names::DURATION_HINT.to_string()),
                );
                None
            }
        };

        let (Some(bucket), Some(key_prefix), Some(endpoint_url), Some(lock_ttl), true) =
            (bucket, key_prefix, endpoint_url, lock_ttl, ok)
        else {
            return None;
        };
        Some(S3StateConfig {
            bucket: bucket.v,
            key_prefix,
            region,
            endpoint_url,
            profile,
            lock_ttl,
        })
    }

    /// An optional non-empty string; `ok` turns false when it is present but wrong.
    fn optional_text(&mut self, obj: &Obj, field: &str, ok: &mut bool) -> Option<String> {
        obj.get(field)?;
        let s = obj.str_opt(&mut self.cx, field);
        match s {
            Some(s) if !s.v.trim().is_empty() => Some(s.v),
            Some(s) => {
                self.not_empty(&s, &Field(field, WHAT).to_string());
                *ok = false;
                None
            }
            None => {
                *ok = false;
                None
            }
        }
    }

    /// Checks `key_prefix` and gives it its trailing `/` (`prod` -> `prod/`).
    fn key_prefix(&mut self, p: &Sp<String>) -> Option<String> {
        let v = p.v.as_str();
        match prefix_problem(v) {
            Some((message, hint)) => {
                self.cx.error(
                    p.span,
                    format!("{message}, found `{}`", clip(v)),
                    Some(hint),
                );
                None
            }
            None => Some(normalize_prefix(v)),
        }
    }

    fn lock_ttl(&mut self, s: &Scalar) -> Option<Duration> {
        let label = Field("lock_ttl", WHAT).to_string();
        let ms = self.duration(s, &label)?;
        let why = if ms < MIN_LOCK_TTL_MS {
            "a shorter lease can run out on a slow network while its run is still working"
        } else if ms > MAX_LOCK_TTL_MS {
            "a longer lease keeps the lock of a run that died for too long before the next run may take it over"
        } else {
            return Some(Duration::from_millis(ms));
        };
        self.cx.error(
            s.span,
            format!(
                "{label} must be between 1s and 1h, found `{}`",
                clip(&s.text)
            ),
            Some(why.to_string()),
        );
        None
    }
}

const BACKEND_HINT: &str =
    "`local` keeps the state in the --state-dir directory, `s3` in an S3 bucket";
const ENDPOINT_HINT: &str =
    "e.g. http://127.0.0.1:9000 for a local S3-compatible store; leave it out for AWS S3";
const BUCKET_HINT: &str =
    "the S3 bucket that holds the state; it must exist and have versioning enabled";

/// A key prefix checked and normalized as in the stack file (for `state migrate
/// --key-prefix`): `Err` says what is wrong and how to write it.
pub fn normalize_key_prefix(v: &str) -> Result<String, String> {
    match prefix_problem(v) {
        Some((message, hint)) => Err(format!("{message}; {hint}")),
        None => Ok(normalize_prefix(v)),
    }
}

/// What is wrong with a `key_prefix`, and the hint.
fn prefix_problem(v: &str) -> Option<(String, String)> {
    let label = Field("key_prefix", WHAT);
    if v.starts_with('/') {
        let fixed = normalize_prefix(v.trim_start_matches('/'));
        let fix = if fixed.is_empty() {
            "leave `key_prefix` out to keep the stack at the top of the bucket".to_string()
        } else {
            format!("write `{}`", clip(&fixed))
        };
        Some((
            format!("{label} must not start with `/`"),
            format!("S3 keys have no leading `/`: {fix}"),
        ))
    } else if v.contains("//") {
        let segments: Vec<&str> = v.split('/').filter(|s| !s.is_empty()).collect();
        let fixed = normalize_prefix(&segments.join("/"));
        Some((
            format!("{label} must not contain `//`"),
            format!(
                "S3 keeps empty segments, so `a//b/` and `a/b/` are different prefixes: write `{}`",
                clip(&fixed)
            ),
        ))
    } else if v.split('/').any(|s| s == "..") {
        Some((
            format!("{label} must not have a `..` segment"),
            "S3 keys are not paths: `..` does not go up a level, it stays in the key".to_string(),
        ))
    } else {
        None
    }
}

/// Empty, or with exactly one trailing `/`.
fn normalize_prefix(p: &str) -> String {
    let p = p.trim_end_matches('/');
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    }
}

/// `http://HOST...` or `https://HOST...`, without spaces or control characters.
fn endpoint_url_ok(u: &str) -> bool {
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty()
            && !r.starts_with('/')
            && !r.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_normalized() {
        assert_eq!(normalize_prefix(""), "");
        assert_eq!(normalize_prefix("prod"), "prod/");
        assert_eq!(normalize_prefix("prod/"), "prod/");
        assert_eq!(normalize_prefix("a/b"), "a/b/");
    }

    #[test]
    fn endpoint_urls() {
        assert!(endpoint_url_ok("http://127.0.0.1:5000"));
        assert!(endpoint_url_ok("https://s3.example.com/"));
        assert!(!endpoint_url_ok("127.0.0.1:5000"));
        assert!(!endpoint_url_ok("ftp://host"));
        assert!(!endpoint_url_ok("http://"));
        assert!(!endpoint_url_ok("http:///path"));
        assert!(!endpoint_url_ok("http://a b"));
    }

    #[test]
    fn serde_round_trip() {
        let s = StateSection {
            backend: StateBackendConfig::S3(S3StateConfig {
                bucket: "b-1".to_string(),
                key_prefix: "prod/".to_string(),
                region: None,
                endpoint_url: Some("http://127.0.0.1:5000".to_string()),
                profile: None,
                lock_ttl: Duration::from_secs(90),
            }),
            span: Some(Span { line: 3, column: 1 }),
        };
        let json = serde_json::to_string(&s).expect("json");
        assert!(
            json.starts_with(r#"{"backend":"s3","bucket":"b-1""#),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<StateSection>(&json).expect("back"),
            s
        );
        let local = serde_json::to_string(&StateSection::default()).expect("json");
        assert_eq!(local, r#"{"backend":"local","span":null}"#);
        assert_eq!(
            serde_json::from_str::<StateSection>(&local).expect("back"),
            StateSection::default()
        );
    }

    #[test]
    fn defaults_are_local() {
        let s = StateSection::default();
        assert_eq!(s.backend, StateBackendConfig::Local);
        assert_eq!(s.span, None);
        assert_eq!(DEFAULT_LOCK_TTL, Duration::from_secs(60));
    }
}
