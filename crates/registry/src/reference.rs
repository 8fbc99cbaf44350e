//! Image references: `registry/repository:tag`, `registry/repository@sha256:...`, or
//! both (`:tag@sha256:...`, the digest pins what the tag must point at).
//!
//! Deliberately stricter than Docker's: the registry host is always written (no
//! implicit docker.io -- a promotion names both cluster registries) and so is the tag
//! or digest (no implicit `latest`, which would promote whatever was pushed last).

use std::fmt;

use crate::digest::Digest;
use crate::error::Error;

const HINT: &str = "write registry/repository:tag or registry/repository@sha256:<hex>, e.g. 127.0.0.1:5000/team/app:v1";

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// `host[:port]`, as in the URL of the registry.
    pub registry: String,
    /// `team/app`: lowercase path components.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl ImageRef {
    pub fn parse(input: &str) -> Result<ImageRef, Error> {
        let bad = |reason: String| Error::InvalidReference {
            input: input.to_string(),
            reason,
            hint: HINT,
        };
        if input.trim() != input || input.is_empty() {
            return Err(bad("empty or surrounded by spaces".into()));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, d)) => (rest, Some(Digest::parse(d).map_err(bad)?)),
            None => (input, None),
        };
        let Some((registry, path)) = rest.split_once('/') else {
            return Err(bad("no registry host (the part before the first /)".into()));
        };
        if !(registry.contains('.') || registry.contains(':') || registry == "localhost") {
            return Err(bad(format!(
                "{registry:?} is not a registry host (a host has a dot or a port, or is localhost)"
            )));
        }
        if !valid_host(registry) {
            return Err(bad(format!("{registry:?} is not a valid host[:port]")));
        }
        // The tag is after the last ':' of the path (the host's port is not in it).
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) => (repo, Some(tag)),
            None => (path, None),
        };
        if let Some(tag) = tag {
            if !valid_tag(tag) {
                return Err(bad(format!(
                    "tag {tag:?} is not valid (letters, digits, _ . -, at most 128, not starting with . or -)"
                )));
            }
        }
        if repository.is_empty() || !repository.split('/').all(valid_component) {
            return Err(bad(format!(
                "repository {repository:?} is not valid (lowercase letters and digits, separated by . _ __ - or /)"
            )));
        }
        if tag.is_none() && digest.is_none() {
            return Err(bad("no tag or digest (there is no implicit :latest)".into()));
        }
        Ok(ImageRef {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// What `/v2/<name>/manifests/<reference>` takes: the digest if there is one.
    pub fn reference(&self) -> &str {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.as_str(),
            (None, Some(t)) => t,
            // parse() refuses references without either; a hand-built one gets the
            // registry's own error for an empty reference.
            (None, None) => "",
        }
    }

    /// Where a copy writes: the tag if there is one (a `:tag@digest` destination is
    /// pushed by tag, the digest being what the tag must end up at), else the digest.
    pub fn push_reference(&self) -> &str {
        match (&self.tag, &self.digest) {
            (Some(t), _) => t,
            (None, Some(d)) => d.as_str(),
            (None, None) => "",
        }
    }

    /// The same repository at `digest` (no tag).
    pub fn with_digest(&self, digest: &Digest) -> ImageRef {
        ImageRef {
            tag: None,
            digest: Some(digest.clone()),
            ..self.clone()
        }
    }
}

impl std::str::FromStr for ImageRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<ImageRef, Error> {
        ImageRef::parse(s)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageRef({self})")
    }
}

fn valid_host(h: &str) -> bool {
    let (name, port) = match h.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (h, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && !name.starts_with(['.', '-']);
    port_ok && name_ok
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && !t.starts_with(['.', '-'])
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// One path component: `[a-z0-9]+` runs separated by `.`, `_`, `__` or `-`s.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_and_digests() {
        let r = ImageRef::parse("127.0.0.1:5000/team/app:v1.2").expect("a value");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "team/app");
        assert_eq!(r.tag.as_deref(), Some("v1.2"));
        assert_eq!(r.reference(), "v1.2");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("reg.example.com/app@{d}")).expect("a value");
        assert_eq!(r.reference(), d);
        assert_eq!(r.to_string(), format!("reg.example.com/app@{d}"));
        let r = ImageRef::parse(&format!("localhost/a-b__c.d:t@{d}")).expect("a value");
        assert_eq!(r.tag.as_deref(), Some("t"));
        assert_eq!(r.reference(), d);
        assert_eq!(r.push_reference(), "t");
    }

    #[test]
    fn bad_references_are_one_line_errors() {
        for bad in [
            "",
            "app:v1",
            "docker/app:v1",
            "reg.io/App:v1",
            "reg.io/app",
            "reg.io/app:",
            "reg.io/app:-x",
            "reg.io/app@sha256:xyz",
            "reg.io/app@md5:00",
            "reg.io//app:v1",
            "reg.io:99999999/app:v1",
            " reg.io/app:v1",
        ] {
            let e = ImageRef::parse(bad).expect_err("an error").to_string();
            assert!(e.contains("hint:") && !e.contains('\n'), "{bad}: {e}");
        }
    }

    #[test]
    fn arbitrary_input_never_panics() {
        // Pieces of real references mixed with bytes that break naive slicing.
        let parts = [
            "reg.io",
            "127.0.0.1:5000",
            "/",
            ":",
            "@",
            "sha256:",
            "a",
            "é",
            "__",
            "-",
            ".",
            "",
            "\u{0}",
            "9",
        ];
        let mut rng = fastrand::Rng::with_seed(12);
        for _ in 0..20_000 {
            let s: String = (0..rng.usize(0..10))
                .map(|_| parts[rng.usize(..parts.len())])
                .collect();
            if let Err(e) = ImageRef::parse(&s) {
                assert!(!e.to_string().contains('\n'));
            }
        }
    }
}
