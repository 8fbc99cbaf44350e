//! Syntax checks for names and values in a stack file. Pure string functions.

use std::net::{Ipv4Addr, Ipv6Addr};

fn lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn starts_with_letter(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
}

/// The stack's `name`: 1-63 of `[a-z0-9-]`, starting with a letter.
pub fn stack_name_ok(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && starts_with_letter(s)
        && s.chars().all(|c| lower_alnum(c) || c == '-')
}
pub const STACK_NAME_HINT: &str =
    "use 1-63 lowercase letters, digits and hyphens, starting with a letter";

/// Cluster and node pool names: 1-40 of `[a-z0-9-]`, starting with a letter, not
/// ending with a hyphen.
pub fn cluster_name_ok(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && starts_with_letter(s)
        && !s.ends_with('-')
        && s.chars().all(|c| lower_alnum(c) || c == '-')
}
pub const CLUSTER_NAME_HINT: &str =
    "use 1-40 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen";

/// Data and health check names: 1-63 of `[a-z0-9_-]`, starting with a letter.
pub fn simple_name_ok(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && starts_with_letter(s)
        && s.chars().all(|c| lower_alnum(c) || c == '-' || c == '_')
}
pub const SIMPLE_NAME_HINT: &str =
    "use 1-63 lowercase letters, digits, `-` and `_`, starting with a letter";

/// Output names: 1-63 of `[A-Za-z0-9_-]`, starting with a letter.
pub fn output_name_ok(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
pub const OUTPUT_NAME_HINT: &str = "use 1-63 letters, digits, `-` and `_`, starting with a letter";

/// `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, digits only.
pub fn version_ok(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| (1..=6).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}
pub const VERSION_HINT: &str = "use MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. \"1.31\"";

/// A Kubernetes namespace (an RFC 1123 label).
pub fn namespace_ok(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.chars().all(|c| lower_alnum(c) || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

pub const NAMESPACE_HINT: &str =
    "use 1-63 lowercase letters, digits and hyphens, not starting or ending with a hyphen";

/// A workload's name: a DNS-1123 label, like a namespace (it is the default one).
pub fn workload_name_ok(s: &str) -> bool {
    namespace_ok(s)
}
pub const WORKLOAD_NAME_HINT: &str =
    "use 1-63 lowercase letters, digits and hyphens, not starting or ending with a hyphen: a DNS-1123 label";

/// One label of a zone name: 1-63 of `[a-z0-9-]`, no hyphen at either end.
fn zone_label_ok(l: &str) -> bool {
    (1..=63).contains(&l.len())
        && l.chars().all(|c| lower_alnum(c) || c == '-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

/// A hosted zone name: lowercase labels separated by dots, no trailing dot.
pub fn zone_ok(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(zone_label_ok)
}
pub const ZONE_HINT: &str = "use a lowercase domain name without a trailing dot, e.g. example.com";

/// The part of a record name in front of the zone: labels of `[a-z0-9_-]`, and `*`
/// as the leftmost label for a wildcard.
pub fn record_labels_ok(s: &str) -> bool {
    s.split('.').enumerate().all(|(i, l)| {
        (i == 0 && l == "*")
            || ((1..=63).contains(&l.len())
                && l.chars().all(|c| lower_alnum(c) || c == '-' || c == '_'))
    })
}
pub const RECORD_NAME_HINT: &str = "use lowercase letters, digits, `-` and `_` relative to the zone, `@` for the zone itself, or an absolute name ending with a dot";

/// A routing set id: 1-128 of `[A-Za-z0-9._-]`.
pub fn set_id_ok(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}
pub const SET_ID_HINT: &str = "use 1-128 letters, digits, `-`, `_` and `.`";

pub fn ipv4_ok(s: &str) -> bool {
    s.parse::<Ipv4Addr>().is_ok()
}

pub fn ipv6_ok(s: &str) -> bool {
    s.parse::<Ipv6Addr>().is_ok()
}

/// Why S3 would refuse `s` as a bucket name, if it would: 3-63 of `a-z 0-9 . -`,
/// starting and ending with a letter or digit, no `..`, not an IPv4 address.
pub fn s3_bucket_problem(s: &str) -> Option<String> {
    let len = s.chars().count();
    if !(3..=63).contains(&len) {
        return Some(format!("it has {len} characters"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(lower_alnum(*c) || *c == '.' || *c == '-'))
    {
        return Some(if s.chars().any(|c| c.is_ascii_uppercase()) {
            "it has uppercase letters".to_string()
        } else if c.is_control() {
            format!("`{}` is not allowed", c.escape_default())
        } else {
            format!("`{c}` is not allowed")
        });
    }
    if !s.starts_with(lower_alnum) {
        return Some("it does not start with a letter or digit".to_string());
    }
    if !s.ends_with(lower_alnum) {
        return Some("it does not end with a letter or digit".to_string());
    }
    if s.contains("..") {
        return Some("it has two dots in a row".to_string());
    }
    if ipv4_ok(s) {
        return Some("it is an IP address".to_string());
    }
    None
}
pub const S3_BUCKET_HINT: &str = "use 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit";

/// A host name for a CNAME: dot-separated labels of letters, digits, `-` and `_`,
/// optionally with a trailing dot.
pub fn hostname_ok(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// An AWS region name: `us-east-1`, `ap-southeast-2`, `us-gov-west-1`.
pub fn aws_region_ok(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() < 3 {
        return false;
    }
    let (first, rest) = (parts[0], &parts[1..]);
    let Some((last, middle)) = rest.split_last() else {
        return false;
    };
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
        && middle
            .iter()
            .all(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_lowercase()))
}

/// A duration in milliseconds: a number of seconds (`2`, `0.5`) or a number with a
/// unit: `250ms`, `2s`, `1.5m`, `1h`.
pub fn duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, factor) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1_000.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3_600_000.0)
    } else {
        (s, 1_000.0)
    };
    let num = num.trim_end();
    let mut dots = 0;
    let ok = !num.is_empty()
        && num.bytes().all(|b| {
            if b == b'.' {
                dots += 1;
            }
            b.is_ascii_digit() || b == b'.'
        })
        && dots <= 1
        && num.bytes().any(|b| b.is_ascii_digit());
    if !ok {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    let ms = (v * factor).round();
    // A week is more than any simulated latency needs.
    if !ms.is_finite() || ms > 604_800_000.0 {
        return None;
    }
    // In range and non-negative: the conversion is exact.
    Some(ms as u64)
}
pub const DURATION_HINT: &str = "use a number of seconds or a duration like 250ms, 2s or 1m";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(cluster_name_ok("gke-sydney"));
        assert!(!cluster_name_ok("gke-"));
        assert!(!cluster_name_ok("1gke"));
        assert!(!cluster_name_ok(&"a".repeat(41)));
        assert!(stack_name_ok("multicloud-sim"));
        assert!(!stack_name_ok("Multi"));
        assert!(version_ok("1.31") && version_ok("1.31.2"));
        assert!(!version_ok("1") && !version_ok("v1.31") && !version_ok("1.x"));
    }

    #[test]
    fn dns_names() {
        assert!(zone_ok("fedstack.example.com"));
        assert!(!zone_ok("fedstack.example.com."));
        assert!(!zone_ok("Example.com"));
        assert!(record_labels_ok("*.app"));
        assert!(record_labels_ok("_acme-challenge"));
        assert!(!record_labels_ok("app.*"));
        assert!(!record_labels_ok("a..b"));
    }

    #[test]
    fn aws_regions() {
        assert!(aws_region_ok("sa-east-1"));
        assert!(aws_region_ok("us-gov-west-1"));
        assert!(!aws_region_ok("australia-southeast1"));
    }

    #[test]
    fn s3_buckets() {
        for ok in [
            "abc",
            "acme-fedstack-state",
            "a.b-c.1",
            "1bucket",
            &"a".repeat(63),
        ] {
            assert_eq!(s3_bucket_problem(ok), None, "{ok}");
        }
        let problem = |s: &str| s3_bucket_problem(s).unwrap_or_default();
        assert_eq!(problem("ab"), "it has 2 characters");
        assert_eq!(problem(&"a".repeat(64)), "it has 64 characters");
        assert_eq!(problem("My-Bucket"), "it has uppercase letters");
        assert_eq!(problem("my_bucket"), "`_` is not allowed");
        assert_eq!(problem("bücket"), "`ü` is not allowed");
        assert_eq!(problem("a\tb"), "`\\t` is not allowed");
        assert_eq!(
            problem("-bucket"),
            "it does not start with a letter or digit"
        );
        assert_eq!(
            problem(".bucket"),
            "it does not start with a letter or digit"
        );
        assert_eq!(problem("bucket-"), "it does not end with a letter or digit");
        assert_eq!(problem("my..bucket"), "it has two dots in a row");
        assert_eq!(problem("192.168.5.4"), "it is an IP address");
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms("0"), Some(0));
        assert_eq!(duration_ms("250ms"), Some(250));
        assert_eq!(duration_ms("2s"), Some(2000));
        assert_eq!(duration_ms("1m"), Some(60_000));
        assert_eq!(duration_ms("1.5"), Some(1500));
        assert_eq!(duration_ms("-1s"), None);
        assert_eq!(duration_ms("s"), None);
        assert_eq!(duration_ms("2x"), None);
        assert_eq!(duration_ms("1e400"), None);
    }
}
