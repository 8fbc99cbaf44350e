//! Helpers for CLI tests: each test runs the real binary in its own temp dir.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;

pub const BIN: &str = env!("CARGO_BIN_EXE_fedstack");

/// The repository root (for the reference stacks).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A reference stack of `stacks/`, for a test's temp dir: its workloads' manifests are
/// the copy of `examples/` every [`Env`] has (so plans show no machine's paths).
pub fn reference_stack(file: &str) -> String {
    std::fs::read_to_string(repo().join("stacks").join(file))
        .unwrap_or_else(|e| panic!("stacks/{file}: {e}"))
        .replace("manifests: ../examples/", "manifests: examples/")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    /// Extra environment for every command.
    pub vars: Vec<(String, String)>,
}

impl Env {
    pub fn new() -> Env {
        let env = Env {
            dir: tempfile::tempdir().expect("temp dir"),
            vars: Vec::new(),
        };
        copy_tree(&repo().join("examples"), &env.path().join("examples"));
        env
    }

    /// A temp dir holding `stack.yaml` with this text.
    pub fn with_stack(text: &str) -> Env {
        let env = Env::new();
        env.write_stack(text);
        env
    }

    /// The reference sim stack, with latencies scaled by `scale` (0 = instant).
    pub fn multicloud(scale: f64) -> Env {
        let text = reference_stack("multicloud-sim.yaml");
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
            .env_remove("FEDSTACK_SIM_HOLD")
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

    /// Starts `fedstack args` with its output read line by line as it comes.
    pub fn start(&self, args: &[&str]) -> Started {
        let mut child = self.spawn(args);
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        let tx_out = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx_out.send((Stream::Out, line));
            }
        });
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send((Stream::Err, line));
            }
        });
        Started {
            child,
            lines,
            stdout: String::new(),
            stderr: String::new(),
            args: args.join(" "),
        }
    }

    /// Drops a variable set with [`Env::var`].
    pub fn unset(&mut self, k: &str) -> &mut Env {
        self.vars.retain(|(key, _)| key != k);
        self
    }

    /// Where the sim's held calls announce themselves (`FEDSTACK_SIM_HOLD`).
    pub fn held_dir(&self) -> PathBuf {
        self.path().join("state/.sim/held")
    }

    /// The calls held in flight now (marker names, e.g. `create-cluster.gke-sydney`).
    pub fn held(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.held_dir())
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Waits until a call whose marker starts with `prefix` is held by `run`. No time
    /// limit: the process exiting first is the failure.
    pub fn wait_held(&self, run: &mut Started, prefix: &str) -> String {
        loop {
            if let Some(h) = self.held().into_iter().find(|h| h.starts_with(prefix)) {
                return h;
            }
            run.drain();
            if let Ok(Some(status)) = run.child.try_wait() {
                run.drain();
                panic!(
                    "`fedstack {}` exited ({status}) before holding a `{prefix}` call\nstdout:\n{}\nstderr:\n{}",
                    run.args, run.stdout, run.stderr
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Lets every held call go, and any held later, until `run` exits.
    pub fn release_until_exit(&self, run: Started) -> Run {
        let mut run = run;
        loop {
            for h in self.held() {
                let _ = std::fs::remove_file(self.held_dir().join(h));
            }
            if let Ok(Some(_)) = run.child.try_wait() {
                return run.finish();
            }
            run.drain();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

/// A running `fedstack`, its output collected as it comes ([`Env::start`]).
pub struct Started {
    pub child: Child,
    lines: mpsc::Receiver<(Stream, String)>,
    pub stdout: String,
    pub stderr: String,
    pub args: String,
}

impl Started {
    fn take(&mut self, (stream, line): (Stream, String)) -> String {
        let buf = match stream {
            Stream::Out => &mut self.stdout,
            Stream::Err => &mut self.stderr,
        };
        buf.push_str(&line);
        buf.push('\n');
        line
    }

    /// Collects what has arrived so far.
    pub fn drain(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            self.take(l);
        }
    }

    /// Waits until a line of `stream` contains `needle`; returns it. No time limit:
    /// the process closing its output first is the failure.
    pub fn wait_line(&mut self, stream: Stream, needle: &str) -> String {
        loop {
            match self.lines.recv() {
                Ok(l) => {
                    let s = l.0;
                    let line = self.take(l);
                    if s == stream && line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "`fedstack {}` ended without printing `{needle}`\nstdout:\n{}\nstderr:\n{}",
                    self.args, self.stdout, self.stderr
                ),
            }
        }
    }

    /// Sends SIGINT (Ctrl-C).
    pub fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill -INT");
        assert!(status.success());
    }

    /// Kills the process with SIGKILL (no chance to record anything) and reaps it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the exit and the rest of the output.
    pub fn finish(mut self) -> Run {
        let status = self.child.wait().expect("wait");
        // The reader threads end when the pipes close.
        while let Ok(l) = self.lines.recv() {
            self.take(l);
        }
        Run {
            code: status.code().unwrap_or(-1),
            stdout: self.stdout,
            stderr: self.stderr,
            args: self.args,
        }
    }
}
