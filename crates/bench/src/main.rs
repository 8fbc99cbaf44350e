//! `fedstack-bench`: times the real binary on generated stacks.
//!
//! ```text
//! fedstack-bench run [--fedstack target/release/fedstack] [--sizes 1000,10000]
//! fedstack-bench workloads [--fedstack PATH]   # only the guestbook to 1 and 50 clusters
//! fedstack-bench gen fleet|dag N [LATENCY]     # print a stack
//! ```

mod gen;
mod measure;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("gen") => generate(&args[1..]),
        Some("run") | None => run(&args[args.len().min(1)..]),
        Some("workloads") => binary(&args[1..]).and_then(|b| measure::workloads(&b)),
        Some(other) => Err(format!(
            "unknown command `{other}` (hint: fedstack-bench run | workloads | gen fleet|dag N [LATENCY])"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(args: &[String]) -> Result<(), String> {
    let n: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .ok_or("expected a size, e.g. gen fleet 1000")?;
    let latency = args.get(2).map(String::as_str).unwrap_or("0");
    match args.first().map(String::as_str) {
        Some("fleet") => print!("{}", gen::fleet(n, latency)),
        Some("dag") => print!("{}", gen::dag(n, 10, latency)),
        _ => return Err("expected `fleet` or `dag`".into()),
    }
    Ok(())
}

/// `--fedstack PATH` (default target/release/fedstack), made absolute.
fn binary(args: &[String]) -> Result<PathBuf, String> {
    let path = match args {
        [flag, p] if flag == "--fedstack" => PathBuf::from(p),
        [] => PathBuf::from("target/release/fedstack"),
        _ => return Err("expected [--fedstack PATH]".into()),
    };
    path.canonicalize().map_err(|e| {
        format!(
            "{}: {e} (hint: cargo build --release -p fedstack-cli)",
            path.display()
        )
    })
}

fn run(args: &[String]) -> Result<(), String> {
    let mut fedstack = PathBuf::from("target/release/fedstack");
    let mut sizes = vec![1000usize, 10_000];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--fedstack" => fedstack = it.next().ok_or("--fedstack needs a path")?.into(),
            "--sizes" => {
                sizes = it
                    .next()
                    .ok_or("--sizes needs a list")?
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|_| format!("`{s}` is not a size")))
                    .collect::<Result<_, _>>()?
            }
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    if !fedstack.exists() {
        return Err(format!(
            "{} not found (hint: cargo build --release -p fedstack-cli)",
            fedstack.display()
        ));
    }
    // The benchmark runs it from temp dirs: make the path absolute.
    let fedstack = fedstack
        .canonicalize()
        .map_err(|e| format!("{}: {e}", fedstack.display()))?;
    measure::run_all(&fedstack, &sizes)
}
