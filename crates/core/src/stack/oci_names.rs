//! The spelling of what `registries:` and `images:` name: registry hosts, repositories,
//! tags, digests, platforms and env var names. The same rules as the Distribution spec
//! (and `fedstack-registry`, which checks them again when it copies), so that a stack
//! that loads never fails on a reference at apply time.

/// `host[:port]`: dot-separated labels of letters, digits and `-`, with a dot or a port
/// or `localhost` (what tells a registry host from a repository component).
pub fn registry_host_ok(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let labels_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    port_ok && labels_ok && (host.contains('.') || port.is_some() || host == "localhost")
}

pub const HOST_HINT: &str = "write the registry's host[:port] without a scheme, e.g. `registry.example.com` or `127.0.0.1:5000`; for plain http set `insecure_http: true`";

/// A repository: `/`-separated components of lowercase letters and digits, joined
/// inside a component by `.`, `_`, `__` or any number of `-`.
pub fn repository_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.split('/').all(component_ok)
}

fn component_ok(c: &str) -> bool {
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

/// A tag: 1-128 of letters, digits, `_`, `.`, `-`, not starting with `.` or `-`.
pub fn tag_ok(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        && !s.starts_with('.')
        && !s.starts_with('-')
}

/// `sha256:` and 64 lowercase hex digits.
pub fn digest_ok(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// `os/arch` or `os/arch/variant`, each part letters, digits and `_`.
pub fn platform_ok(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

pub const PLATFORM_HINT: &str =
    "write os/arch or os/arch/variant, e.g. `linux/amd64` or `linux/arm64/v8`, or `platforms: all`";

/// An environment variable name as a shell takes it: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn env_name_ok(s: &str) -> bool {
    s.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub const ENV_HINT: &str =
    "an env var name is letters, digits and `_`, not starting with a digit, e.g. `BUILD_TOKEN`";

/// `repository:tag` or `repository@sha256:...` (after the registry's name): the
/// repository, and the tag or the digest. `Err` says what is wrong.
pub fn split_reference(rest: &str) -> Result<(String, Reference), String> {
    if let Some((repo, digest)) = rest.split_once('@') {
        if !digest_ok(digest) {
            return Err(format!(
                "`{}` is not a digest (sha256: and 64 lowercase hex digits)",
                super::cx::clip(digest)
            ));
        }
        check_repository(repo)?;
        return Ok((repo.to_string(), Reference::Digest(digest.to_string())));
    }
    let Some((repo, tag)) = rest.rsplit_once(':') else {
        return Err("it has no tag (there is no implicit `latest`)".to_string());
    };
    check_repository(repo)?;
    if !tag_ok(tag) {
        return Err(format!(
            "tag `{}` is not valid (1-128 letters, digits, `_`, `.`, `-`, not starting with `.` or `-`)",
            super::cx::clip(tag)
        ));
    }
    Ok((repo.to_string(), Reference::Tag(tag.to_string())))
}

fn check_repository(repo: &str) -> Result<(), String> {
    if repository_ok(repo) {
        Ok(())
    } else {
        Err(format!(
            "repository `{}` is not valid (lowercase letters and digits, separated by `.`, `_`, `__`, `-` or `/`)",
            super::cx::clip(repo)
        ))
    }
}

/// What a reference points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(String),
}

impl Reference {
    /// `:tag` or `@sha256:...`, to follow a repository.
    pub fn suffix(&self) -> String {
        match self {
            Reference::Tag(t) => format!(":{t}"),
            Reference::Digest(d) => format!("@{d}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for ok in [
            "registry.example.com",
            "127.0.0.1:5000",
            "localhost",
            "r:443",
        ] {
            assert!(registry_host_ok(ok), "{ok}");
        }
        for bad in [
            "https://r.example",
            "shop",
            "r.example:",
            "r.example:x",
            "-a.b",
            "a b.c",
        ] {
            assert!(!registry_host_ok(bad), "{bad}");
        }
    }

    #[test]
    fn repositories_tags_digests() {
        for ok in ["shop", "team/shop", "a.b_c__d---e/f"] {
            assert!(repository_ok(ok), "{ok}");
        }
        for bad in ["Shop", "team//shop", "a..b", "-a", "a_", "a___b"] {
            assert!(!repository_ok(bad), "{bad}");
        }
        assert!(tag_ok("1.4.2") && tag_ok("_x") && !tag_ok(".x") && !tag_ok(""));
        assert!(digest_ok(&format!("sha256:{}", "a".repeat(64))));
        assert!(!digest_ok(&format!("sha256:{}", "A".repeat(64))));
        assert!(!digest_ok("sha256:abc"));
    }

    #[test]
    fn references_split() {
        assert_eq!(
            split_reference("team/shop:1.4.2"),
            Ok(("team/shop".into(), Reference::Tag("1.4.2".into())))
        );
        assert!(split_reference("shop").is_err());
        assert!(split_reference("shop@sha256:12").is_err());
    }

    #[test]
    fn platforms_and_env_names() {
        assert!(platform_ok("linux/amd64") && platform_ok("linux/arm64/v8"));
        assert!(!platform_ok("linux") && !platform_ok("linux/") && !platform_ok("a/b/c/d"));
        assert!(env_name_ok("BUILD_TOKEN") && env_name_ok("_x1"));
        assert!(!env_name_ok("1X") && !env_name_ok("A-B") && !env_name_ok(""));
    }
}
