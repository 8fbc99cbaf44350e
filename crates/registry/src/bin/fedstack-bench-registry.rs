//! fedstack-bench-registry: the copy engine against skopeo, on two local
//! distribution registries; and `copy`, the engine as a process (for the kill -9
//! test, and for timing it the way skopeo is timed).
//!
//!   FEDSTACK_REGISTRY_BIN=.../registry fedstack-bench-registry [--runs N] [--concurrency N]
//!   fedstack-bench-registry copy [--insecure-http HOST]... [--concurrency N] [--platforms all|os/arch,...] SRC DST [SRC DST]...
//!
//! The benchmark pushes a 60-layer image (1 MiB random layers), a 4-platform
//! index (8 layers each plus one shared 2 MiB layer) and 20 small images to a source
//! registry, then times (a) the 60-layer copy and (b) the index copy (all platforms),
//! each run into a destination registry started for that run -- skopeo remembers
//! where it saw blobs (/var/lib/containers/cache) and would mount them from an
//! earlier run's repository instead of copying -- and (c) a no-op re-copy of the 20
//! images to a registry that has them. fedstack runs as `fedstack-bench-registry
//! copy` (one process, all 20 images in (c)); skopeo as `skopeo copy --all` (one
//! process per image: it copies one image per run). Registries keep their storage on
//! tmpfs when there is one (see `scratch_dir`). It prints the median, min and max of
//! each, the ratio skopeo/fedstack of the medians, and the requests the no-op sent
//! to each registry. Figures only; nothing is asserted on time.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use fedstack_registry::{Copier, CopyOptions, Digest, ImageRef, PlatformFilter, Registry};
use serde_json::json;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fedstack-bench-registry: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match args.first().map(String::as_str) {
        Some("copy") => rt.block_on(copy_cmd(&args[1..])),
        _ => rt.block_on(bench(&args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fedstack-bench-registry: error: {e}");
            ExitCode::FAILURE
        }
    }
}

// --- copy --------------------------------------------------------------------

async fn copy_cmd(args: &[String]) -> Result<(), String> {
    let mut insecure = Vec::new();
    let mut opts = CopyOptions::default();
    let mut refs = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--insecure-http" => insecure.push(value("--insecure-http")?),
            "--concurrency" => {
                opts.concurrency = value("--concurrency")?
                    .parse()
                    .map_err(|_| "--concurrency takes a number".to_string())?
            }
            "--platforms" => {
                opts.platforms =
                    PlatformFilter::parse(&value("--platforms")?).map_err(|e| e.to_string())?
            }
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            s => refs.push(ImageRef::parse(s).map_err(|e| e.to_string())?),
        }
    }
    if refs.is_empty() || refs.len() % 2 != 0 {
        return Err("usage: copy [--insecure-http HOST]... [--concurrency N] [--platforms P] SRC DST [SRC DST]...".into());
    }
    let hosts: Vec<String> = refs.iter().map(|r| r.registry.clone()).collect();
    let registries = hosts.iter().map(|h| {
        let r = Registry::new(h.clone());
        if insecure.contains(h) {
            r.insecure_http()
        } else {
            r
        }
    });
    let copier = Copier::new(registries, opts).map_err(|e| e.to_string())?;
    for pair in refs.chunks(2) {
        let rep = copier
            .copy(&pair[0], &pair[1])
            .await
            .map_err(|e| e.to_string())?;
        println!(
            "copied {} -> {} digest={} up_to_date={} blobs_copied={} bytes={} mounted={} present={} manifests_pushed={} retries={}",
            pair[0],
            pair[1],
            rep.destination_digest,
            rep.up_to_date,
            rep.blobs_copied,
            rep.bytes_copied,
            rep.blobs_mounted,
            rep.blobs_present,
            rep.manifests_pushed,
            rep.blob_retries
        );
    }
    let mut seen = Vec::new();
    for h in hosts {
        if seen.contains(&h) {
            continue;
        }
        let c = copier.request_counts(&h).map_err(|e| e.to_string())?;
        let n = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "requests {h} total={} head={} get={} put={} post={}",
            c.total(),
            n(&c.head),
            n(&c.get),
            n(&c.put),
            n(&c.post)
        );
        seen.push(h);
    }
    Ok(())
}

// --- registries ----------------------------------------------------------------

struct LocalRegistry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl LocalRegistry {
    async fn start(bin: &PathBuf) -> Result<LocalRegistry, String> {
        let dir = scratch_dir()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let config = dir.path().join("config.yml");
        let yaml = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: bench\n",
            dir.path().join("data").display()
        );
        std::fs::File::create(&config)
            .and_then(|mut f| f.write_all(yaml.as_bytes()))
            .map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut r = LocalRegistry {
            child,
            port,
            _dir: dir,
        };
        let http = reqwest::Client::new();
        for _ in 0..2000 {
            if let Ok(Some(status)) = r.child.try_wait() {
                return Err(format!("registry exited with {status}"));
            }
            if http
                .get(format!("{}/v2/", r.base()))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(r);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err("the registry never answered GET /v2/".into())
    }
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    fn dir(&self) -> &std::path::Path {
        self._dir.path().parent().unwrap_or(self._dir.path())
    }
    fn base(&self) -> String {
        format!("http://{}", self.host())
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The registries' storage: tmpfs (/dev/shm) when there is one, so that the figures
/// are the copy tools' and not the disk's (a VM disk's fsync per blob dominated,
/// and varied from run to run); else the temp dir. FEDSTACK_BENCH_DIR overrides.
fn scratch_dir() -> Result<tempfile::TempDir, String> {
    let base = std::env::var_os("FEDSTACK_BENCH_DIR")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/dev/shm")).filter(|p| p.is_dir()))
        .unwrap_or_else(std::env::temp_dir);
    tempfile::Builder::new()
        .prefix("fedstack-bench-registry.")
        .tempdir_in(&base)
        .map_err(|e| format!("cannot make a scratch dir in {}: {e}", base.display()))
}

// --- generated images ----------------------------------------------------------

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

struct Pusher {
    http: reqwest::Client,
    base: String,
}

impl Pusher {
    async fn blob(&self, repo: &str, bytes: Vec<u8>) -> Result<(String, usize), String> {
        let digest = Digest::of(&bytes).to_string();
        let size = bytes.len();
        let r = self
            .http
            .post(format!("{}/v2/{repo}/blobs/uploads/", self.base))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let loc = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or("no upload location")?
            .to_string();
        let loc = if loc.starts_with("http") {
            loc
        } else {
            format!("{}{loc}", self.base)
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let r = self
            .http
            .put(format!("{loc}{sep}digest={digest}"))
            .body(bytes)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().as_u16() != 201 {
            return Err(format!("blob upload: HTTP {}", r.status()));
        }
        Ok((digest, size))
    }

    async fn manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(String, usize), String> {
        let digest = Digest::of(&bytes).to_string();
        let size = bytes.len();
        let r = self
            .http
            .put(format!("{}/v2/{repo}/manifests/{reference}", self.base))
            .header("content-type", media_type)
            .body(bytes)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().as_u16() != 201 {
            return Err(format!("manifest push: HTTP {}", r.status()));
        }
        Ok((digest, size))
    }

    /// An image of `shared` plus `layers` random layers of `size` bytes.
    async fn image(
        &self,
        repo: &str,
        tag: Option<&str>,
        shared: &[Vec<u8>],
        layers: usize,
        size: usize,
        arch: &str,
    ) -> Result<(String, usize), String> {
        let mut descs = Vec::new();
        let mut all: Vec<Vec<u8>> = shared.to_vec();
        all.extend((0..layers).map(|_| random(size)));
        for l in all {
            let (d, s) = self.blob(repo, l).await?;
            descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s}));
        }
        let config = serde_json::to_vec(
            &json!({"architecture": arch, "os": "linux", "nonce": fastrand::u64(..)}),
        )
        .map_err(|e| e.to_string())?;
        let (cd, cs) = self.blob(repo, config).await?;
        let m = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
            "layers": descs,
        }))
        .map_err(|e| e.to_string())?;
        let digest = Digest::of(&m).to_string();
        self.manifest(repo, tag.unwrap_or(&digest), OCI_MANIFEST, m)
            .await
    }
}

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    fastrand::fill(&mut v);
    v
}

// --- the benchmark -------------------------------------------------------------

const MIB: usize = 1024 * 1024;

async fn bench(args: &[String]) -> Result<(), String> {
    let mut runs = 5usize;
    let mut concurrency: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => runs = it.next().and_then(|v| v.parse().ok()).ok_or("--runs takes a number")?,
            "--concurrency" => concurrency = Some(it.next().cloned().ok_or("--concurrency takes a number")?),
            s => return Err(format!("unknown argument {s} (usage: fedstack-bench-registry [--runs N] [--concurrency N] | copy ...)")),
        }
    }
    let bin = PathBuf::from(std::env::var_os("FEDSTACK_REGISTRY_BIN").ok_or(
        "FEDSTACK_REGISTRY_BIN is not set (hint: FEDSTACK_REGISTRY_BIN=$(scripts/registry-testenv path)/registry)",
    )?);
    let skopeo =
        which("skopeo").ok_or("skopeo not found (hint: scripts/registry-testenv skopeo)")?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let _ = rustls::crypto::ring::default_provider().install_default();

    let src = LocalRegistry::start(&bin).await?;
    let dst = LocalRegistry::start(&bin).await?;
    let p = Pusher {
        http: reqwest::Client::new(),
        base: src.base(),
    };
    eprintln!("fedstack-bench-registry: pushing a 60-layer image (60 MiB), a 4-platform index (4 x 8 MiB + a shared 2 MiB layer) and 20 small images to {}", src.host());
    p.image("bench/big", Some("v1"), &[], 60, MIB, "amd64")
        .await?;
    let shared = vec![random(2 * MIB)];
    let mut entries = Vec::new();
    for (arch, variant) in [
        ("amd64", None),
        ("arm64", Some("v8")),
        ("arm", Some("v7")),
        ("s390x", None),
    ] {
        let (d, s) = p.image("bench/multi", None, &shared, 8, MIB, arch).await?;
        let mut platform = json!({"os": "linux", "architecture": arch});
        if let Some(v) = variant {
            platform["variant"] = json!(v);
        }
        entries
            .push(json!({"mediaType": OCI_MANIFEST, "digest": d, "size": s, "platform": platform}));
    }
    let index = serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}),
    )
    .map_err(|e| e.to_string())?;
    p.manifest("bench/multi", "v1", OCI_INDEX, index).await?;
    for i in 0..20 {
        p.image(
            &format!("bench/small{i}"),
            Some("v1"),
            &[],
            2,
            256 * 1024,
            "amd64",
        )
        .await?;
    }

    let (s, d) = (src.host(), dst.host());
    let fedstack = |to_host: &str, pairs: Vec<(String, String)>| {
        let mut c = Command::new(&me);
        c.arg("copy")
            .arg("--insecure-http")
            .arg(&s)
            .arg("--insecure-http")
            .arg(to_host);
        if let Some(n) = &concurrency {
            c.arg("--concurrency").arg(n);
        }
        for (a, b) in pairs {
            c.arg(a).arg(b);
        }
        c
    };
    let skopeo_copy = |from: &str, to: &str| {
        let mut c = Command::new(&skopeo);
        c.args([
            "--insecure-policy",
            "copy",
            "--all",
            "--quiet",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ])
        .arg(format!("docker://{from}"))
        .arg(format!("docker://{to}"));
        c
    };

    // Each timed copy goes to a registry of its own, started for it: skopeo keeps a
    // cache of where it saw each blob (/var/lib/containers/cache as root) and mounts
    // from any repository of the same registry, so a second run into a fresh
    // repository of the same registry would send nothing.
    let mut rows = Vec::new();
    for (name, repo) in [
        ("60-layer image (60 MiB)", "bench/big"),
        ("4-platform index (34 MiB)", "bench/multi"),
    ] {
        let (mut f, mut k) = (Vec::new(), Vec::new());
        let from = format!("{s}/{repo}:v1");
        for _ in 0..runs {
            let to = LocalRegistry::start(&bin).await?;
            let h = to.host();
            f.push(time(fedstack(
                &h,
                vec![(from.clone(), format!("{h}/{repo}:v1"))],
            ))?);
            drop(to);
            let to = LocalRegistry::start(&bin).await?;
            k.push(time(skopeo_copy(
                &from,
                &format!("{}/{repo}:v1", to.host()),
            ))?);
        }
        rows.push((name.to_string(), f, k));
    }

    // The no-op: the 20 images are at the destination already.
    let pairs: Vec<(String, String)> = (0..20)
        .map(|i| {
            (
                format!("{s}/bench/small{i}:v1"),
                format!("{d}/noop/small{i}:v1"),
            )
        })
        .collect();
    time(fedstack(&d, pairs.clone()))?;
    let (mut f, mut k) = (Vec::new(), Vec::new());
    let mut dst_requests = String::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = fedstack(&d, pairs.clone())
            .output()
            .map_err(|e| e.to_string())?;
        f.push(t.elapsed());
        if !out.status.success() {
            return Err(format!(
                "fedstack copy failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        dst_requests = stdout
            .lines()
            .filter(|l| l.starts_with("requests "))
            .map(|l| l.trim_start_matches("requests ").to_string())
            .collect::<Vec<_>>()
            .join("; ");
        let t = Instant::now();
        for (a, b) in &pairs {
            run(skopeo_copy(a, b))?;
        }
        k.push(t.elapsed());
    }
    rows.push(("no-op re-copy of 20 images".into(), f, k));

    println!(
        "fedstack-bench-registry: {runs} runs each, median wall time; two loopback distribution registries (storage in {}), skopeo {}",
        src.dir().display(),
        skopeo_version(&skopeo)
    );
    println!(
        "load average: {} (the machine's other work shows in the spread)",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:<28} {:>22} {:>22} {:>16}",
        "copy", "fedstack [min-max]", "skopeo [min-max]", "skopeo/fedstack"
    );
    for (name, f, k) in rows {
        let (fm, km) = (median(&f), median(&k));
        println!(
            "{name:<28} {:>22} {:>22} {:>15.2}x",
            spread(fm, &f),
            spread(km, &k),
            km.as_secs_f64() / fm.as_secs_f64().max(1e-9)
        );
    }
    println!("no-op re-copy of 20 images, requests per registry (source {s}, destination {d}): {dst_requests}");
    Ok(())
}

fn time(c: Command) -> Result<Duration, String> {
    let t = Instant::now();
    run(c)?;
    Ok(t.elapsed())
}

fn run(mut c: Command) -> Result<(), String> {
    let out = c.output().map_err(|e| format!("{c:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{:?} failed: {}",
            c.get_program(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// `0.275s [0.261-0.310]`.
fn spread(median: Duration, v: &[Duration]) -> String {
    let min = v.iter().min().copied().unwrap_or_default();
    let max = v.iter().max().copied().unwrap_or_default();
    format!(
        "{:.3}s [{:.3}-{:.3}]",
        median.as_secs_f64(),
        min.as_secs_f64(),
        max.as_secs_f64()
    )
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn skopeo_version(skopeo: &PathBuf) -> String {
    Command::new(skopeo)
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .trim_start_matches("skopeo version ")
                .to_string()
        })
        .unwrap_or_default()
}
