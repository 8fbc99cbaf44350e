//! Runs the real binary and reports wall time and peak RSS.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::gen;

struct Sample {
    secs: f64,
    rss_mb: f64,
}

/// Runs `fedstack ARGS` in `dir`; fails unless it exits 0.
fn fedstack(
    bin: &Path,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<(Sample, String), String> {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .args(args)
        .env("FEDSTACK_REPORT_PEAK_RSS", "1")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let secs = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(format!(
            "`fedstack {}` failed: {}",
            args.join(" "),
            stderr.lines().last().unwrap_or("")
        ));
    }
    let rss_kb: f64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("fedstack: peak RSS "))
        .and_then(|l| l.trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(f64::NAN);
    Ok((
        Sample {
            secs,
            rss_mb: rss_kb / 1024.0,
        },
        stdout,
    ))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

struct Row {
    shape: &'static str,
    n: usize,
    apply: (f64, f64),
    plan: (f64, f64),
    destroy: (f64, f64),
}

fn cycle(bin: &Path, shape: &'static str, n: usize, rounds: usize) -> Result<Row, String> {
    let mut apply = Vec::new();
    let mut plan = Vec::new();
    let mut destroy = Vec::new();
    let mut rss = [0f64; 3];
    for _ in 0..rounds {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let text = match shape {
            "fleet" => gen::fleet(n, "0"),
            _ => gen::dag(n, 10, "0"),
        };
        std::fs::write(dir.path().join("stack.yaml"), text).map_err(|e| e.to_string())?;
        let common = ["-f", "stack.yaml", "--state-dir", "state"];
        let a = [
            &common[..],
            &["apply", "--auto-approve", "--parallelism", "64"],
        ]
        .concat();
        let (s, _) = fedstack(bin, dir.path(), &a, &[])?;
        apply.push(s.secs);
        rss[0] = rss[0].max(s.rss_mb);
        for _ in 0..3 {
            let p = [&common[..], &["plan", "--detailed-exitcode"]].concat();
            let (s, out) = fedstack(bin, dir.path(), &p, &[])?;
            if !out.contains("No changes.") {
                return Err(format!("the plan after apply is not empty for {shape} {n}"));
            }
            plan.push(s.secs);
            rss[1] = rss[1].max(s.rss_mb);
        }
        let d = [
            &common[..],
            &["destroy", "--auto-approve", "--parallelism", "64"],
        ]
        .concat();
        let (s, _) = fedstack(bin, dir.path(), &d, &[])?;
        destroy.push(s.secs);
        rss[2] = rss[2].max(s.rss_mb);
    }
    Ok(Row {
        shape,
        n,
        apply: (median(apply), rss[0]),
        plan: (median(plan), rss[1]),
        destroy: (median(destroy), rss[2]),
    })
}

/// Apply wall time against the critical-path bound, with latency on.
fn latency_bound(
    bin: &Path,
    n: usize,
    latency_ms: u64,
    parallelism: usize,
) -> Result<(f64, f64), String> {
    let layers = 10;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(
        dir.path().join("stack.yaml"),
        gen::dag(n, layers, &format!("{latency_ms}ms")),
    )
    .map_err(|e| e.to_string())?;
    let p = parallelism.to_string();
    let args = [
        "-f",
        "stack.yaml",
        "--state-dir",
        "state",
        "--json",
        "apply",
        "--auto-approve",
        "--parallelism",
        &p,
    ];
    // The process's own start-up (parse, load, plan) is not part of the graph's bound:
    // measure the apply phase as the binary reports it in its apply_done event.
    let (s, out) = fedstack(bin, dir.path(), &args, &[])?;
    let engine_secs = apply_phase_secs(&out).unwrap_or(s.secs);
    let per = latency_ms as f64 / 1000.0;
    let bound = (layers as f64 * per).max(n as f64 * per / parallelism as f64);
    Ok((bound, engine_secs))
}

/// The guestbook's deploy to `clusters` sim clusters: the apply of the workloads alone
/// (the clusters and their federation are applied first), whole and its apply phase;
/// the plan after it must be empty.
fn guestbook(bin: &Path, clusters: usize) -> Result<(f64, f64), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let manifests = dir.path().join("guestbook");
    std::fs::create_dir(&manifests).map_err(|e| e.to_string())?;
    for (name, text) in GUESTBOOK {
        std::fs::write(manifests.join(name), text).map_err(|e| e.to_string())?;
    }
    std::fs::write(
        dir.path().join("stack.yaml"),
        gen::guestbook_fleet(clusters, "200ms", "guestbook/"),
    )
    .map_err(|e| e.to_string())?;
    let common = ["-f", "stack.yaml", "--state-dir", "state"];
    let run = |extra: &[&str]| {
        let args = [&common[..], extra].concat();
        fedstack(
            bin,
            dir.path(),
            &args,
            &[("FEDSTACK_SIM_LATENCY_SCALE", "1")],
        )
    };
    run(&[
        "apply",
        "--auto-approve",
        "--parallelism",
        "64",
        "--target",
        "federation_member.*",
        "--target",
        "node_pool.*",
    ])?;
    // Parallelism above the fleet's size: every cluster's read and deploy at once.
    let (deploy, out) = run(&["--json", "apply", "--auto-approve", "--parallelism", "256"])?;
    let engine = apply_phase_secs(&out).unwrap_or(deploy.secs);
    let (_, out) = run(&["plan", "--detailed-exitcode"])?;
    if !out.contains("No changes.") {
        return Err(format!(
            "the plan after the guestbook's apply on {clusters} clusters is not empty"
        ));
    }
    Ok((deploy.secs, engine))
}

/// The apply phase as the binary reports it (its `apply_done` event), without the
/// process's start-up, the stack's loading and the refresh.
fn apply_phase_secs(json_lines: &str) -> Option<f64> {
    json_lines
        .lines()
        .find(|l| l.contains(r#""type":"apply_done""#))
        .and_then(|l| l.split(r#""elapsed_ms":"#).nth(1))
        .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|t| t.parse::<f64>().ok())
        .map(|ms| ms / 1000.0)
}

/// The repository's guestbook, built in: the benchmark runs from any directory.
const GUESTBOOK: [(&str, &str); 3] = [
    (
        "frontend.yaml",
        include_str!("../../../examples/guestbook/frontend.yaml"),
    ),
    (
        "redis-leader.yaml",
        include_str!("../../../examples/guestbook/redis-leader.yaml"),
    ),
    (
        "redis-follower.yaml",
        include_str!("../../../examples/guestbook/redis-follower.yaml"),
    ),
];

/// The guestbook to 1 and to 50 sim clusters (`fedstack-bench workloads`).
pub fn workloads(bin: &Path) -> Result<(), String> {
    println!("\nworkloads (the guestbook, sim clusters with 200 ms a call; clusters and federation applied first):");
    let (one, one_apply) = guestbook(bin, 1)?;
    let (fleet, fleet_apply) = guestbook(bin, 50)?;
    println!(
        "  deploy to 1 cluster {one:.3} s (apply phase {one_apply:.3} s), to 50 clusters {fleet:.3} s (apply phase {fleet_apply:.3} s); ratio {:.2}, apply phase {:.2} (target <= 1.2)",
        fleet / one,
        fleet_apply / one_apply
    );
    Ok(())
}

pub fn run_all(bin: &Path, sizes: &[usize]) -> Result<(), String> {
    println!(
        "fedstack benchmark: {} ({} cores)",
        bin.display(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("targets for 1,000 resources: apply <= 0.300 s, no-op plan <= 0.050 s, destroy <= 0.300 s, peak RSS <= 40 MB; 10,000 within 12x\n");
    println!(
        "{:<6} {:>6} | {:>9} {:>7} | {:>9} {:>7} | {:>9} {:>7}",
        "shape", "N", "apply s", "RSS MB", "plan s", "RSS MB", "destroy s", "RSS MB"
    );
    for &n in sizes {
        for shape in ["fleet", "dag"] {
            let rounds = if n <= 2000 { 3 } else { 1 };
            let r = cycle(bin, shape, n, rounds)?;
            println!(
                "{:<6} {:>6} | {:>9.3} {:>7.1} | {:>9.3} {:>7.1} | {:>9.3} {:>7.1}",
                r.shape, r.n, r.apply.0, r.apply.1, r.plan.0, r.plan.1, r.destroy.0, r.destroy.1
            );
        }
    }
    workloads(bin)?;
    println!("\nwith latency (dag of 1,000 data resources in 10 layers):");
    for (latency_ms, parallelism) in [(50u64, 1000usize), (50, 50), (500, 1000), (500, 50)] {
        let (bound, took) = latency_bound(bin, 1000, latency_ms, parallelism)?;
        println!(
            "  {latency_ms:>3} ms a call, parallelism {parallelism:>4}: critical-path bound {bound:.3} s, apply {took:.3} s, ratio {:.3} (target <= 1.05)",
            took / bound
        );
    }
    Ok(())
}
