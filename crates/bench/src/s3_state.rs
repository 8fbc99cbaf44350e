//! `fedstack-bench-s3-state`: a 1,000-resource DAG (10 layers, sim clouds) applied at
//! parallelism 20 by the real binary with its state on the local backend and then in
//! S3 (moto's server), side by side: wall time of apply and destroy, and the S3 writes
//! per resource applied (target: well under one -- one `PutObject` per batch of
//! results that finish together).
//!
//! ```text
//! fedstack-bench-s3-state [--fedstack target/release/fedstack] [--resources 1000] [--latency 50ms]
//! ```

#[allow(dead_code)]
mod gen;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use fedstack_moto::Moto;

const BUCKET: &str = "bench-state";
const REGION: &str = "us-east-1";

fn fedstack(bin: &Path, dir: &Path, args: &[&str]) -> Result<f64, String> {
    let started = Instant::now();
    let out = Command::new(bin)
        .current_dir(dir)
        .args(["-f", "stack.yaml", "--state-dir", "state", "--no-color"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_CONFIG_FILE", dir.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let secs = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "`fedstack {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    Ok(secs)
}

struct Figures {
    apply: f64,
    destroy: f64,
    /// PutObject of journal segments during the apply.
    segment_puts: usize,
    /// Every S3 write during the apply (segments, snapshot, lock, deletes).
    writes: usize,
}

fn measure(
    bin: &Path,
    stack: &str,
    moto: Option<&Moto>,
    parallelism: &str,
) -> Result<Figures, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(dir.path().join("stack.yaml"), stack).map_err(|e| e.to_string())?;
    if let Some(m) = moto {
        m.clear_calls();
    }
    let apply = fedstack(
        bin,
        dir.path(),
        &["apply", "--auto-approve", "--parallelism", parallelism],
    )?;
    let (segment_puts, writes) = match moto {
        Some(m) => {
            let calls = m.calls();
            if std::env::var_os("FEDSTACK_BENCH_CALLS").is_some() {
                let mut by: std::collections::BTreeMap<&str, usize> = Default::default();
                for c in &calls {
                    *by.entry(c.operation.as_str()).or_default() += 1;
                }
                eprintln!("S3 calls during the apply: {by:?}");
            }
            (
                calls
                    .iter()
                    .filter(|c| c.operation == "PutObject" && c.path.contains("/journal/"))
                    .count(),
                calls.iter().filter(|c| c.is_write()).count(),
            )
        }
        None => (0, 0),
    };
    let destroy = fedstack(
        bin,
        dir.path(),
        &["destroy", "--auto-approve", "--parallelism", parallelism],
    )?;
    Ok(Figures {
        apply,
        destroy,
        segment_puts,
        writes,
    })
}

fn run() -> Result<(), String> {
    let mut bin = PathBuf::from("target/release/fedstack");
    let mut resources = 1000usize;
    let mut latency = "50ms".to_string();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--fedstack" => bin = it.next().ok_or("--fedstack needs a path")?.into(),
            "--resources" => {
                resources = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--resources needs a number")?
            }
            "--latency" => latency = it.next().ok_or("--latency needs a duration")?.clone(),
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    let bin = bin.canonicalize().map_err(|e| {
        format!(
            "{}: {e} (hint: cargo build --release -p fedstack-cli)",
            bin.display()
        )
    })?;
    let moto = Moto::start()?;
    moto.create_bucket(BUCKET, REGION, true)?;
    let local_stack = gen::dag(resources, 10, &latency);
    let s3_stack = local_stack.replacen(
        "\nclouds:",
        &format!(
            "\nstate:\n  backend: s3\n  bucket: {BUCKET}\n  region: {REGION}\n  endpoint_url: {}\n\nclouds:",
            moto.endpoint()
        ),
        1,
    );
    println!(
        "\nState backends: a {resources}-resource DAG in 10 layers, sim latency {latency} a call, parallelism 20; S3 on moto ({})",
        moto.endpoint()
    );
    println!(
        "{:<8} {:>9} {:>9} {:>14} {:>11} {:>20}",
        "backend", "apply", "destroy", "segment PUTs", "S3 writes", "S3 writes/resource"
    );
    let local = measure(&bin, &local_stack, None, "20")?;
    println!(
        "{:<8} {:>8.2}s {:>8.2}s {:>14} {:>11} {:>20}",
        "local", local.apply, local.destroy, "-", "-", "-"
    );
    let s3 = measure(&bin, &s3_stack, Some(&moto), "20")?;
    let per_resource = s3.writes as f64 / resources as f64;
    println!(
        "{:<8} {:>8.2}s {:>8.2}s {:>14} {:>11} {:>20.3}",
        "s3", s3.apply, s3.destroy, s3.segment_puts, s3.writes, per_resource
    );
    println!(
        "S3 over local: apply {:+.2}s ({:.2}x), destroy {:+.2}s ({:.2}x)",
        s3.apply - local.apply,
        s3.apply / local.apply,
        s3.destroy - local.destroy,
        s3.destroy / local.destroy
    );
    if per_resource >= 1.0 {
        return Err(format!(
            "{per_resource:.2} S3 writes per resource applied (target: well under one)"
        ));
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
