//! The certificates of a local control plane, generated in Rust with rcgen (ECDSA P-256).
//!
//! | file | what |
//! |---|---|
//! | `ca.crt`, `ca.key` | the cluster CA: signs the serving certificates and client certificates (`--client-ca-file`) |
//! | `apiserver.crt`, `.key` | kube-apiserver serving: IP SANs 127.0.0.1 and 10.0.0.1 (the `kubernetes` service), DNS localhost and `kubernetes.default.svc...` |
//! | `controller-manager.crt`, `.key` | kube-controller-manager serving (127.0.0.1), so its `/healthz` verifies against the CA |
//! | `scheduler.crt`, `.key` | kube-scheduler serving (127.0.0.1), likewise (clusters made before it use the controller manager's) |
//! | `admin.crt`, `.key` | client `CN=fedstack-admin, O=system:masters` |
//! | `front-proxy-ca.crt`, `.key`, `front-proxy-client.crt`, `.key` | request-header authentication, as kubeadm sets it up |
//! | `sa.key`, `sa.pub` | service-account token signing (ES256) |
//!
//! Keys are PKCS#8 PEM, written 0600; certificates 0644; the directory 0700.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use crate::files::write_file;

/// The files of a cluster's PKI: name, contents, whether it is a secret.
pub(crate) struct Pki {
    pub files: Vec<(&'static str, String, bool)>,
}

impl Pki {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, c, _)| c.as_str())
    }

    /// Writes every file into `dir` (which must exist, mode 0700).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        for (name, contents, secret) in &self.files {
            write_file(
                &dir.join(name),
                contents.as_bytes(),
                if *secret { 0o600 } else { 0o644 },
            )?;
        }
        Ok(())
    }
}

/// One CA: its certificate and a way to sign with it.
struct Ca {
    cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn dn(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    if let Some(o) = organization {
        dn.push(DnType::OrganizationName, o);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

/// Not before one day ago (clock skew), not after ten years from now.
fn validity(params: &mut CertificateParams) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let day = |secs: u64| {
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        rcgen::date_time_ymd(y as i32, m as u8, d as u8)
    };
    params.not_before = day(now.saturating_sub(86_400));
    params.not_after = day(now + 10 * 365 * 86_400);
}

/// Days since 1970-01-01 -> (year, month, day), proleptic Gregorian (H. Hinnant).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn new_ca(common_name: &str) -> Result<Ca, rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(common_name, None);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    validity(&mut params);
    let cert = params.self_signed(&key)?;
    let key_pem = key.serialize_pem();
    Ok(Ca {
        cert_pem: cert.pem(),
        key_pem,
        issuer: Issuer::new(params, key),
    })
}

/// A leaf certificate signed by `ca`: (certificate PEM, key PEM).
fn leaf(
    ca: &Ca,
    common_name: &str,
    organization: Option<&str>,
    sans: &[SanType],
    usage: ExtendedKeyUsagePurpose,
) -> Result<(String, String), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(common_name, organization);
    params.subject_alt_names = sans.to_vec();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params);
    let cert = params.signed_by(&key, &ca.issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn ip(s: [u8; 4]) -> SanType {
    SanType::IpAddress(std::net::IpAddr::from(s))
}

fn dns(s: &str) -> Result<SanType, rcgen::Error> {
    Ok(SanType::DnsName(s.try_into()?))
}

/// Generates every certificate and key of the cluster `cluster`.
pub(crate) fn generate(cluster: &str) -> Result<Pki, rcgen::Error> {
    let ca = new_ca(&format!("fedstack-{cluster}-ca"))?;
    let mut apiserver_sans = vec![ip([127, 0, 0, 1]), ip([10, 0, 0, 1]), dns("localhost")?];
    for name in [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ] {
        apiserver_sans.push(dns(name)?);
    }
    let (apiserver_crt, apiserver_key) = leaf(
        &ca,
        "kube-apiserver",
        None,
        &apiserver_sans,
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    let (kcm_crt, kcm_key) = leaf(
        &ca,
        "kube-controller-manager",
        None,
        &[ip([127, 0, 0, 1]), dns("localhost")?],
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    let (scheduler_crt, scheduler_key) = leaf(
        &ca,
        "kube-scheduler",
        None,
        &[ip([127, 0, 0, 1]), dns("localhost")?],
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    let (admin_crt, admin_key) = leaf(
        &ca,
        "fedstack-admin",
        Some("system:masters"),
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    let fp_ca = new_ca(&format!("fedstack-{cluster}-front-proxy-ca"))?;
    let (fp_crt, fp_key) = leaf(
        &fp_ca,
        "front-proxy-client",
        None,
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    let sa = KeyPair::generate()?;
    Ok(Pki {
        files: vec![
            ("ca.crt", ca.cert_pem.clone(), false),
            ("ca.key", ca.key_pem.clone(), true),
            ("apiserver.crt", apiserver_crt, false),
            ("apiserver.key", apiserver_key, true),
            ("controller-manager.crt", kcm_crt, false),
            ("controller-manager.key", kcm_key, true),
            ("scheduler.crt", scheduler_crt, false),
            ("scheduler.key", scheduler_key, true),
            ("admin.crt", admin_crt, false),
            ("admin.key", admin_key, true),
            ("front-proxy-ca.crt", fp_ca.cert_pem.clone(), false),
            ("front-proxy-ca.key", fp_ca.key_pem.clone(), true),
            ("front-proxy-client.crt", fp_crt, false),
            ("front-proxy-client.key", fp_key, true),
            ("sa.key", sa.serialize_pem(), true),
            ("sa.pub", sa.public_key_pem(), false),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_147), (2025, 2, 28));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn generates_a_full_pki() {
        let pki = generate("local-a").expect("generates");
        let names: Vec<&str> = pki.files.iter().map(|(n, _, _)| *n).collect();
        assert_eq!(names.len(), 16);
        for (name, contents, secret) in &pki.files {
            if name.ends_with(".crt") {
                assert!(
                    contents.starts_with("-----BEGIN CERTIFICATE-----"),
                    "{name}"
                );
                assert!(!secret, "{name}");
            } else if name.ends_with(".key") {
                assert!(
                    contents.starts_with("-----BEGIN PRIVATE KEY-----"),
                    "{name}"
                );
                assert!(secret, "{name}");
            }
        }
        assert!(pki
            .get("sa.pub")
            .is_some_and(|p| p.starts_with("-----BEGIN PUBLIC KEY-----")));
        // Every certificate is new: two clusters never share a CA.
        let other = generate("local-a").expect("generates");
        assert_ne!(pki.get("ca.crt"), other.get("ca.crt"));
    }

    #[test]
    fn writes_keys_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let pki = generate("x").expect("generates");
        pki.write(dir.path()).expect("writes");
        let mode = |n: &str| {
            std::fs::metadata(dir.path().join(n))
                .expect("exists")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("admin.key"), 0o600);
        assert_eq!(mode("sa.key"), 0o600);
        assert_eq!(mode("ca.crt"), 0o644);
    }
}
