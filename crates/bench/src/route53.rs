//! `fedstack-bench-route53`: 1,000 Route 53 records applied by the real binary against
//! moto's server, counting the `ChangeResourceRecordSets` calls that reach it (target:
//! 2 or fewer) and timing apply, the no-op re-apply and destroy.
//!
//! ```text
//! fedstack-bench-route53 [--fedstack target/release/fedstack] [--records 1000]
//! ```
//! Needs moto (`.ci/run` installs it into .venv-moto/); says so and exits 0 without.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use fedstack_moto::Moto;

fn stack(endpoint: &str, records: usize) -> String {
    let mut s = String::with_capacity(records * 64);
    let _ = write!(
        s,
        "name: bench-route53\nclouds:\n  aws: {{ provider: aws, region: us-east-1, endpoint_url: \"{endpoint}\" }}\ndns:\n  zone: bench.fedstack.example.com\n  cloud: aws\n  records:\n"
    );
    for i in 0..records {
        let _ = writeln!(
            s,
            "    r{i:05}: {{ targets: {{ a: {{ address: 198.18.{}.{} }} }} }}",
            i / 250,
            i % 250 + 1
        );
    }
    s
}

struct Step {
    name: &'static str,
    secs: f64,
    changes: usize,
    writes: usize,
    calls: usize,
}

fn fedstack(bin: &Path, dir: &Path, args: &[&str]) -> Result<(f64, String), String> {
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
        .env("FEDSTACK_AWS_INSYNC_POLL_INTERVAL", "100ms")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let secs = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
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
    Ok((secs, stdout))
}

fn run() -> Result<(), String> {
    let mut bin = PathBuf::from("target/release/fedstack");
    let mut records = 1000usize;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--fedstack" => bin = it.next().ok_or("--fedstack needs a path")?.into(),
            "--records" => {
                records = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--records needs a number")?
            }
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
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(
        dir.path().join("stack.yaml"),
        stack(&moto.endpoint(), records),
    )
    .map_err(|e| e.to_string())?;

    let mut steps = Vec::new();
    for (name, args) in [
        ("apply", &["apply", "--auto-approve"][..]),
        ("re-apply (no-op)", &["apply", "--auto-approve"][..]),
        ("destroy", &["destroy", "--auto-approve"][..]),
    ] {
        moto.clear_calls();
        let (secs, out) = fedstack(&bin, dir.path(), args)?;
        let calls = moto.calls();
        steps.push(Step {
            name,
            secs,
            changes: moto.count("ChangeResourceRecordSets"),
            writes: calls.iter().filter(|c| c.is_write()).count(),
            calls: calls.len(),
        });
        if name == "apply" {
            let inv = moto.inventory("us-east-1")?;
            let found = inv.records().len();
            if found != records {
                return Err(format!(
                    "moto holds {found} records after apply, not {records}"
                ));
            }
        }
        if name.starts_with("re-apply") && !out.contains("No changes.") {
            return Err("the re-apply was not a no-op".into());
        }
    }
    if !moto.inventory("us-east-1")?.is_empty() {
        return Err("destroy left something in moto".into());
    }
    println!(
        "\nRoute 53: {records} records against moto ({})",
        moto.endpoint()
    );
    println!(
        "{:<18} {:>8} {:>26} {:>12} {:>10}",
        "", "wall", "ChangeResourceRecordSets", "write calls", "all calls"
    );
    for s in &steps {
        println!(
            "{:<18} {:>7.2}s {:>26} {:>12} {:>10}",
            s.name, s.secs, s.changes, s.writes, s.calls
        );
    }
    // Route 53 takes 1,000 values a call: 1,000 records fit one (target: 2 or fewer).
    let target = records.div_ceil(1000).max(2);
    let apply = &steps[0];
    if apply.changes > target {
        return Err(format!(
            "{} ChangeResourceRecordSets calls for {records} records (target: {target} or fewer)",
            apply.changes
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
