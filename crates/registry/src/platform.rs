//! Which platforms of an index to copy: `all`, or `os/arch[/variant]` entries.
//! A filter entry without a variant matches every variant (`linux/arm` takes
//! `linux/arm/v7` and `linux/arm/v6`); with one, only that variant.

use std::fmt;

use crate::error::Error;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PlatformFilter {
    /// Every manifest of an index: the index is copied byte for byte.
    #[default]
    All,
    /// Only these; if that drops any manifest, a new index is pushed (see `copy`).
    Only(Vec<Platform>),
}

impl PlatformFilter {
    pub fn parse(input: &str) -> Result<PlatformFilter, Error> {
        let bad = |reason: &str| Error::InvalidPlatform {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let s = input.trim();
        if s == "all" {
            return Ok(PlatformFilter::All);
        }
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim) {
            let fields: Vec<&str> = part.split('/').collect();
            let ok = |f: &str| {
                !f.is_empty() && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            };
            if !(2..=3).contains(&fields.len()) || !fields.iter().all(|f| ok(f)) {
                return Err(bad(&format!("{part:?} is not os/arch or os/arch/variant")));
            }
            out.push(Platform {
                os: fields[0].to_string(),
                architecture: fields[1].to_string(),
                variant: fields.get(2).map(|v| v.to_string()),
            });
        }
        Ok(PlatformFilter::Only(out))
    }

    pub fn matches(&self, p: Option<&Platform>) -> bool {
        match self {
            PlatformFilter::All => true,
            // An index entry without a platform (an attestation, an artifact) is not
            // any platform a user named.
            PlatformFilter::Only(list) => p.is_some_and(|p| {
                list.iter().any(|f| {
                    f.os == p.os
                        && f.architecture == p.architecture
                        && (f.variant.is_none() || f.variant == p.variant)
                })
            }),
        }
    }
}

impl fmt::Display for PlatformFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlatformFilter::All => f.write_str("all"),
            PlatformFilter::Only(list) => {
                let s: Vec<String> = list.iter().map(Platform::to_string).collect();
                f.write_str(&s.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        assert_eq!(
            PlatformFilter::parse("all").expect("a value"),
            PlatformFilter::All
        );
        let f = PlatformFilter::parse("linux/amd64, linux/arm").expect("a value");
        let p = |a: &str, v: Option<&str>| Platform {
            os: "linux".into(),
            architecture: a.into(),
            variant: v.map(Into::into),
        };
        assert!(f.matches(Some(&p("amd64", None))));
        assert!(f.matches(Some(&p("arm", Some("v7")))));
        assert!(!f.matches(Some(&p("s390x", None))));
        assert!(!f.matches(None));
        assert_eq!(f.to_string(), "linux/amd64,linux/arm");
        assert!(PlatformFilter::parse("linux").is_err());
        assert!(PlatformFilter::parse("linux/amd64,").is_err());
    }
}
