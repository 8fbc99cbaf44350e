//! Helpers for CLI tests: each test runs the real binary in its own temp dir.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_fedstack");

/// The repository root (for the reference stacks).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub struct Env {
    pub dir: tempfile::TempDir,
    /// Extra environment for every command.
    pub vars: Vec<(String, String)>,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
            vars: Vec::new(),
        }
    }

    /// A temp dir holding `stack.yaml` with this text.
    pub fn with_stack(text: &str) -> Env {
        let env = Env::new();
        env.write_stack(text);
        env
    }

    /// The reference sim stack, with latencies scaled by `scale` (0 = instant).
    pub fn multicloud(scale: f64) -> Env {
        let text = std::fs::read_to_string(repo().join("stacks/multicloud-sim.yaml"))
            .expect("reference stack");
        let mut env = Env::with_stack(&text);
        env.var("FEDSTACK_SIM_LATENCY_SCALE", &scale.to_string());
        env
    }

    pub fn var(&mut self, k: &str, v: &str) -> &mut Env {
        self.vars.push((k.into(), v.into()));
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write_stack(&self, text: &str) {
        std::fs::write(self.path().join("stack.yaml"), text).expect("write stack");
    }

    pub fn read_stack(&self) -> String {
        std::fs::read_to_string(self.path().join("stack.yaml")).expect("read stack")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(self.path())
            .args(["-f", "stack.yaml", "--state-dir", "state", "--no-color"])
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("FEDSTACK_SIM_FAIL")
            .env_remove("FEDSTACK_SIM_THROTTLE")
            .stdin(Stdio::null());
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("run fedstack");
        Run::from(out, args)
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn fedstack")
    }

    /// `fedstack apply --auto-approve`, which must succeed.
    pub fn apply(&self) -> Run {
        self.run(&["apply", "--auto-approve"]).success()
    }

    /// Addresses in the state (resources, not pending intents).
    pub fn state_addresses(&self) -> Vec<String> {
        let r = self.run(&["--json", "state", "list"]).success();
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("state list --json");
        let mut list: Vec<String> = v["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .map(|a| a.as_str().unwrap_or("").to_string())
            .collect();
        list.sort();
        list
    }

    /// Pending intents in the state.
    pub fn state_pending(&self) -> Vec<String> {
        let r = self.run(&["--json", "state", "list"]).success();
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("state list --json");
        v["pending"]
            .as_array()
            .expect("pending")
            .iter()
            .map(|a| a.as_str().unwrap_or("").to_string())
            .collect()
    }

    /// Addresses of the objects in the simulated clouds.
    pub fn sim_addresses(&self) -> Vec<String> {
        let r = self.run(&["--json", "sim", "list"]).success();
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("sim list --json");
        let mut list: Vec<String> = v
            .as_array()
            .expect("array")
            .iter()
            .map(|o| o["address"].as_str().unwrap_or("").to_string())
            .collect();
        list.sort();
        list
    }

    /// Every address the stack declares, from the plan of an empty state.
    pub fn declared_addresses(&self) -> Vec<String> {
        let r = self
            .run(&[
                "--json",
                "plan",
                "--refresh=false",
                "--state-dir",
                "empty-state",
            ])
            .success();
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("plan --json");
        let mut list: Vec<String> = v["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .map(|c| c["address"].as_str().unwrap_or("").to_string())
            .collect();
        list.sort();
        list
    }
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub args: String,
}

impl Run {
    pub fn from(out: Output, args: &[&str]) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
            args: args.join(" "),
        }
    }

    pub fn success(self) -> Run {
        assert_eq!(
            self.code, 0,
            "`fedstack {}` failed\nstdout:\n{}\nstderr:\n{}",
            self.args, self.stdout, self.stderr
        );
        self
    }

    pub fn code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "`fedstack {}`: exit code\nstdout:\n{}\nstderr:\n{}",
            self.args, self.stdout, self.stderr
        );
        self
    }

    /// No panic, no Rust debug dump.
    pub fn clean(self) -> Run {
        for bad in ["panicked", "RUST_BACKTRACE", "Os {", "kind: ", "Error {"] {
            assert!(
                !self.stderr.contains(bad) && !self.stdout.contains(bad),
                "debug output in `fedstack {}`:\n{}{}",
                self.args,
                self.stdout,
                self.stderr
            );
        }
        self
    }
}
