//! Real CNCF distribution registries on loopback, one process each, killed on drop.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// The registry binary: `FEDSTACK_REGISTRY_BIN`, or a failed test saying how to get it.
pub fn registry_bin() -> PathBuf {
    let hint = "build it with `scripts/registry-testenv` and run with FEDSTACK_REGISTRY_BIN=$(scripts/registry-testenv path)/registry (make test does this)";
    let Some(p) = std::env::var_os("FEDSTACK_REGISTRY_BIN").filter(|p| !p.is_empty()) else {
        panic!("FEDSTACK_REGISTRY_BIN is not set: these tests run a real distribution registry; {hint}");
    };
    let p = PathBuf::from(p);
    assert!(
        p.is_file(),
        "FEDSTACK_REGISTRY_BIN={} does not exist; {hint}",
        p.display()
    );
    p
}

/// A test CA and a serving certificate for 127.0.0.1 signed by it.
pub struct TestCa {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCa {
    pub fn new() -> TestCa {
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca = CertificateParams::default();
        ca.distinguished_name
            .push(DnType::CommonName, "fedstack registry test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().expect("key");
        let mut leaf = CertificateParams::default();
        leaf.distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        leaf.subject_alt_names = vec![
            SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
            SanType::DnsName("localhost".try_into().expect("dns name")),
        ];
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.use_authority_key_identifier_extension = true;
        let cert = leaf.signed_by(&key, &issuer).expect("leaf cert");
        TestCa {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

#[derive(Default)]
pub struct Opts {
    /// `storage.delete.enabled`.
    pub delete: bool,
    /// htpasswd basic auth with this user and password.
    pub basic: Option<(String, String)>,
    /// Serve https with this certificate.
    pub tls: Option<(String, String)>,
}

pub struct RegistryProc {
    child: Child,
    pub port: u16,
    pub https: bool,
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl RegistryProc {
    pub async fn start(opts: Opts) -> RegistryProc {
        let bin = registry_bin();
        record_peer_use();
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: {}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: fedstack-test-secret\n",
            dir.path().join("data").display(),
            opts.delete
        );
        if let Some((cert, key)) = &opts.tls {
            std::fs::write(dir.path().join("cert.pem"), cert).expect("write cert");
            std::fs::write(dir.path().join("key.pem"), key).expect("write key");
            yaml.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.path().join("cert.pem").display(),
                dir.path().join("key.pem").display()
            ));
        }
        if let Some((user, pass)) = &opts.basic {
            // Cost 4 (bcrypt's minimum): the registry checks it on every request.
            let hash = bcrypt::hash(pass, 4).expect("bcrypt");
            std::fs::write(dir.path().join("htpasswd"), format!("{user}:{hash}\n"))
                .expect("write htpasswd");
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: fedstack-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
        }
        let config = dir.path().join("config.yml");
        std::fs::File::create(&config)
            .and_then(|mut f| f.write_all(yaml.as_bytes()))
            .expect("write config");
        let log = dir.path().join("registry.log");
        let logf = std::fs::File::create(&log).expect("log file");
        let child = Command::new(&bin)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(logf.try_clone().expect("log clone"))
            .stderr(logf)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut r = RegistryProc {
            child,
            port,
            https: opts.tls.is_some(),
            _dir: dir,
            log,
        };
        r.wait_ready(opts.tls.as_ref().map(|_| ())).await;
        r
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn base(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Polls `GET /v2/` until the registry answers (200, or 401 with auth on); each
    /// poll first checks that the process is still alive.
    async fn wait_ready(&mut self, tls: Option<()>) {
        super::init_crypto();
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(tls.is_some())
            .build()
            .expect("client");
        let url = format!("{}/v2/", self.base());
        for _ in 0..2000 {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "registry exited with {status} before it was ready; its log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if let Ok(r) = http.get(&url).send().await {
                if r.status().as_u16() == 200 || r.status().as_u16() == 401 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "registry on port {} never answered GET /v2/; its log:\n{}",
            self.port,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

impl Drop for RegistryProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A line in `FEDSTACK_PEER_LOG` (make test sets it) for the suite's count of tests
/// that ran against real peers: `registry <test binary> <test name>`.
fn record_peer_use() {
    let Some(path) = std::env::var_os("FEDSTACK_PEER_LOG") else {
        return;
    };
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let test = std::thread::current().name().unwrap_or("?").to_string();
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(format!("registry {exe} {test}\n").as_bytes());
    }
}
