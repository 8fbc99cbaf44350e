//! Deterministic cloud-computed values: ids, ARNs, addresses, name servers, certificates.

use std::net::Ipv4Addr;

use sha2::{Digest, Sha256};

/// `sha256` of the parts, each followed by a NUL so that `("ab","c") != ("a","bc")`.
pub(crate) fn hash(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize().into()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

fn u64_of(bytes: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(a)
}

/// A number in `0..n` from the hash of the parts.
pub(crate) fn pick(parts: &[&str], n: u64) -> u64 {
    u64_of(&hash(parts)) % n.max(1)
}

pub(crate) fn base64(bytes: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// The 12-digit AWS account id of a sim account: the account itself when it is one.
pub(crate) fn aws_account_id(account: &str) -> String {
    if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        return account.to_string();
    }
    format!("{:012}", pick(&["aws-account", account], 1_000_000_000_000))
}

/// The Azure subscription id of a sim account: the account itself when it is a UUID.
pub(crate) fn azure_subscription(account: &str) -> String {
    if let Ok(u) = uuid::Uuid::parse_str(account) {
        return u.hyphenated().to_string();
    }
    uuid_from(&["azure-subscription", account])
}

/// A UUID (v4-shaped) from the hash of the parts.
pub(crate) fn uuid_from(parts: &[&str]) -> String {
    let h = hash(parts);
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    uuid::Builder::from_random_bytes(b)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// `Z` + 13 uppercase letters and digits, like a Route 53 hosted zone id.
pub(crate) fn route53_zone_id(account: &str, zone: &str) -> String {
    const ALNUM: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let h = hash(&["route53-zone", account, zone]);
    let mut s = String::from("Z");
    for b in &h[..13] {
        s.push(ALNUM[usize::from(*b) % 36] as char);
    }
    s
}

/// The four Route 53 name servers of a zone (`ns-1536.awsdns-00.co.uk`...).
pub(crate) fn route53_name_servers(account: &str, zone: &str) -> Vec<String> {
    ["com", "net", "org", "co.uk"]
        .iter()
        .map(|tld| {
            let n = pick(&["route53-ns", account, zone, tld], 2048);
            let m = pick(&["route53-ns-group", account, zone, tld], 64);
            format!("ns-{n}.awsdns-{m:02}.{tld}")
        })
        .collect()
}

/// A short lowercase alphanumeric suffix, like the random part of Kubernetes names.
pub(crate) fn k8s_suffix(parts: &[&str], len: usize) -> String {
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash(parts)
        .iter()
        .take(len)
        .map(|b| CHARS[usize::from(*b) % CHARS.len()] as char)
        .collect()
}

/// A fake but PEM-looking CA certificate, base64-encoded as in a kubeconfig.
pub(crate) fn ca_certificate(parts: &[&str]) -> String {
    // DER certificates start with SEQUENCE (0x30 0x82 len): "MII..." in base64.
    let mut der = vec![0x30, 0x82, 0x02, 0xf0];
    let mut block = hash(parts);
    while der.len() < 756 {
        der.extend_from_slice(&block);
        block = Sha256::digest(block).into();
    }
    der.truncate(756);
    let body = base64(&der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    base64(pem.as_bytes())
}

/// A block of documentation addresses (RFC 5737) to allocate from.
pub(crate) struct AddressPool(pub &'static [[u8; 3]]);

/// Ingress addresses: 203.0.113.0/24 and 198.51.100.0/24.
pub(crate) const INGRESS_POOL: AddressPool = AddressPool(&[[203, 0, 113], [198, 51, 100]]);
/// API server endpoints: 192.0.2.0/24.
pub(crate) const ENDPOINT_POOL: AddressPool = AddressPool(&[[192, 0, 2]]);

impl AddressPool {
    pub(crate) fn size(&self) -> u64 {
        self.0.len() as u64 * 254
    }

    /// The `i`-th usable host address (`.1` to `.254` of each block).
    pub(crate) fn nth(&self, i: u64) -> Ipv4Addr {
        let i = i % self.size().max(1);
        let block = self.0[(i / 254) as usize];
        Ipv4Addr::new(block[0], block[1], block[2], (i % 254 + 1) as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn ids_are_deterministic_and_shaped() {
        assert_eq!(aws_account_id("123456789012"), "123456789012");
        let a = aws_account_id("aws");
        assert_eq!(a.len(), 12);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(aws_account_id("aws"), a);

        let s = azure_subscription("azure");
        assert!(uuid::Uuid::parse_str(&s).is_ok(), "{s}");
        assert_eq!(
            azure_subscription("00000000-0000-0000-0000-000000000001"),
            "00000000-0000-0000-0000-000000000001"
        );

        let z = route53_zone_id("aws", "example.com");
        assert_eq!(z.len(), 14);
        assert!(
            z.starts_with('Z')
                && z.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        assert_ne!(z, route53_zone_id("aws", "example.org"));

        let ns = route53_name_servers("aws", "example.com");
        assert_eq!(ns.len(), 4);
        assert!(
            ns[3].ends_with(".co.uk") && ns[0].starts_with("ns-"),
            "{ns:?}"
        );

        let ca = ca_certificate(&["x"]);
        assert!(
            ca.starts_with("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"),
            "{ca}"
        );
        assert_eq!(ca, ca_certificate(&["x"]));
        assert_ne!(ca, ca_certificate(&["y"]));
    }

    #[test]
    fn address_pools_cover_documentation_ranges() {
        assert_eq!(INGRESS_POOL.nth(0), Ipv4Addr::new(203, 0, 113, 1));
        assert_eq!(INGRESS_POOL.nth(253), Ipv4Addr::new(203, 0, 113, 254));
        assert_eq!(INGRESS_POOL.nth(254), Ipv4Addr::new(198, 51, 100, 1));
        assert_eq!(INGRESS_POOL.nth(508), Ipv4Addr::new(203, 0, 113, 1));
        assert_eq!(ENDPOINT_POOL.nth(5), Ipv4Addr::new(192, 0, 2, 6));
    }
}
