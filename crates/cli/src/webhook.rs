//! The promotion webhook's requests, checked before anything runs (no I/O but the
//! replay record): an HMAC-SHA256 signature over `TIMESTAMP.BODY` with the shared
//! secret (`X-Fedstack-Signature: sha256=HEX`, `X-Fedstack-Timestamp: UNIX_SECONDS`), a
//! timestamp within `max_age` of now, a delivery `id` not seen before, and a JSON body
//! naming an image and a tag: `{"id": "...", "image": "shop", "tag": "1.4.3"}`.
//!
//! The signature covers the timestamp, so an old request cannot be replayed with a new
//! one; within `max_age` the delivery id is what tells a replay, and ids are kept (in the
//! state directory) for `max_age`, after which the timestamp alone refuses them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-fedstack-signature";
/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "x-fedstack-timestamp";
/// The largest body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// A request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Promotion {
    /// The sender's delivery id (unique per request; retries of a failed one may reuse it).
    pub id: String,
    /// An image of the stack's `images:`.
    pub image: String,
    /// The source tag to promote.
    pub tag: String,
}

/// Why a request is refused: an HTTP status and a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub message: String,
}

fn reject(status: u16, message: impl Into<String>) -> Rejection {
    Rejection {
        status,
        message: message.into(),
    }
}

/// Checks signatures and timestamps with one secret.
pub struct Verifier {
    secret: Vec<u8>,
    max_age: Duration,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Verifier(<secret>, max_age {:?})", self.max_age)
    }
}

impl Verifier {
    pub fn new(secret: &[u8], max_age: Duration) -> Verifier {
        Verifier {
            secret: secret.to_vec(),
            max_age,
        }
    }

    /// `sha256=HEX` of `timestamp.body`: what a sender puts in the signature header.
    #[cfg(test)]
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        let bytes = mac.finalize().into_bytes();
        format!(
            "sha256={}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"))
    }

    /// The promotion a request asks for, or why it is refused. `now` is in Unix seconds.
    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: u64,
    ) -> Result<Promotion, Rejection> {
        let Some(timestamp) = timestamp else {
            return Err(reject(401, format!("no {TIMESTAMP_HEADER} header")));
        };
        let Some(signature) = signature else {
            return Err(reject(401, format!("no {SIGNATURE_HEADER} header")));
        };
        let given = signature
            .strip_prefix("sha256=")
            .and_then(from_hex)
            .ok_or_else(|| reject(401, "the signature is not sha256=HEX"))?;
        let mut mac = self.mac();
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        // Constant time: the comparison tells nothing about how much of it matched.
        mac.verify_slice(&given)
            .map_err(|_| reject(401, "the signature does not match (hint: sign TIMESTAMP.BODY with the shared secret, HMAC-SHA256)"))?;
        let sent: u64 = timestamp
            .trim()
            .parse()
            .map_err(|_| reject(401, "the timestamp is not Unix seconds"))?;
        let age = now.abs_diff(sent);
        if age > self.max_age.as_secs() {
            return Err(reject(
                401,
                format!(
                    "the request was signed {age}s {} now, more than the {}s allowed",
                    if sent <= now { "before" } else { "after" },
                    self.max_age.as_secs()
                ),
            ));
        }
        let p: Promotion = serde_json::from_slice(body).map_err(|e| {
            reject(
                400,
                format!("the body is not {{\"id\", \"image\", \"tag\"}}: {e}"),
            )
        })?;
        if p.id.is_empty() || p.id.len() > 200 {
            return Err(reject(400, "`id` must be 1-200 characters"));
        }
        if !tag_ok(&p.tag) {
            return Err(reject(
                400,
                format!(
                    "`{}` is not an image tag (hint: [A-Za-z0-9_][A-Za-z0-9._-]{{0,127}})",
                    clip(&p.tag)
                ),
            ));
        }
        Ok(p)
    }
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

/// An OCI tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn tag_ok(tag: &str) -> bool {
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Delivery ids already acted on, with their timestamps: kept in a file so that a
/// restart of the server does not open a replay window.
#[derive(Debug)]
pub struct Deliveries {
    path: PathBuf,
    seen: BTreeMap<String, u64>,
}

#[derive(Serialize, Deserialize)]
struct DeliveriesFile {
    v: u32,
    seen: BTreeMap<String, u64>,
}

impl Deliveries {
    /// Reads the record at `path` (none yet: empty).
    pub fn load(path: &Path) -> Result<Deliveries, String> {
        let seen = match std::fs::read_to_string(path) {
            Ok(text) => {
                serde_json::from_str::<DeliveriesFile>(&text)
                    .map_err(|e| format!("{}: not a delivery record: {e}", path.display()))?
                    .seen
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Ok(Deliveries {
            path: path.to_path_buf(),
            seen,
        })
    }

    pub fn seen(&self, id: &str) -> bool {
        self.seen.contains_key(id)
    }

    /// Records `id` (forgetting ids older than `max_age`) and writes the record
    /// durably (a temp file renamed over it).
    pub fn record(&mut self, id: &str, now: u64, max_age: Duration) -> Result<(), String> {
        let horizon = now.saturating_sub(max_age.as_secs());
        self.seen.retain(|_, t| *t >= horizon);
        self.seen.insert(id.to_string(), now);
        let text = serde_json::to_string(&DeliveriesFile {
            v: 1,
            seen: self.seen.clone(),
        })
        .map_err(|e| e.to_string())?;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let tmp = self.path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id": "d-1", "image": "shop", "tag": "1.4.3"}"#;

    fn verifier() -> Verifier {
        Verifier::new(b"s3cret", Duration::from_secs(300))
    }

    #[test]
    fn a_signed_fresh_request_passes() {
        let v = verifier();
        let sig = v.sign("1000", BODY);
        let p = v
            .verify(Some("1000"), Some(&sig), BODY, 1010)
            .expect("valid");
        assert_eq!(
            (p.image.as_str(), p.tag.as_str(), p.id.as_str()),
            ("shop", "1.4.3", "d-1")
        );
    }

    #[test]
    fn bad_signatures_old_requests_and_bad_bodies_are_refused() {
        let v = verifier();
        let sig = v.sign("1000", BODY);
        let other = Verifier::new(b"other", Duration::from_secs(300)).sign("1000", BODY);
        let e = v
            .verify(Some("1000"), Some(&other), BODY, 1000)
            .expect_err("wrong key");
        assert_eq!(e.status, 401);
        assert!(
            e.message.starts_with("the signature does not match"),
            "{}",
            e.message
        );
        // The timestamp is signed: changing it breaks the signature.
        let e = v
            .verify(Some("2000"), Some(&sig), BODY, 2000)
            .expect_err("moved");
        assert_eq!(e.status, 401);
        let e = v
            .verify(Some("1000"), Some(&sig), BODY, 1400)
            .expect_err("stale");
        assert_eq!(
            e.message,
            "the request was signed 400s before now, more than the 300s allowed"
        );
        let e = v
            .verify(Some("1000"), None, BODY, 1000)
            .expect_err("unsigned");
        assert_eq!(e.message, "no x-fedstack-signature header");
        let body = br#"{"id": "d-2", "image": "shop", "tag": "bad tag"}"#;
        let e = v
            .verify(Some("1000"), Some(&v.sign("1000", body)), body, 1000)
            .expect_err("tag");
        assert_eq!(e.status, 400);
        let body = br#"{"image": "shop", "tag": "1"}"#;
        let e = v
            .verify(Some("1000"), Some(&v.sign("1000", body)), body, 1000)
            .expect_err("no id");
        assert_eq!(e.status, 400);
        assert!(format!("{v:?}").contains("<secret>") && !format!("{v:?}").contains("s3cret"));
    }

    #[test]
    fn deliveries_survive_a_restart_and_old_ones_are_forgotten() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("deliveries.json");
        let mut d = Deliveries::load(&path).expect("empty");
        d.record("a", 1000, Duration::from_secs(300))
            .expect("record");
        let mut d = Deliveries::load(&path).expect("load");
        assert!(d.seen("a"));
        d.record("b", 1400, Duration::from_secs(300))
            .expect("record");
        let d = Deliveries::load(&path).expect("load");
        assert!(!d.seen("a") && d.seen("b"));
    }
}
