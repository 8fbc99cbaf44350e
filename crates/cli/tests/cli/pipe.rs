//! A reader that goes away is not an error: `fedstack plan | head -1` and every other
//! command with long output stop quietly (exit 141, what a shell reports for a program
//! that SIGPIPE stopped), with nothing on stderr.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::common::Env;

/// A stack whose listings are far longer than a pipe's buffer (64 KiB), so the writer
/// is still writing when its reader goes away.
fn big_stack() -> String {
    let mut s = String::from("name: big\nclouds:\n  sim: { provider: sim, latency: 0 }\ndata:\n");
    for i in 0..1500 {
        s.push_str(&format!(
            "  item-{i:04}:\n    cloud: sim\n    values: {{ text: \"a value long enough to fill a pipe quickly\", index: {i} }}\n"
        ));
    }
    s.push_str("outputs:\n");
    for i in 0..1500 {
        s.push_str(&format!(
            "  out_{i:04}:\n    value: ${{data.item-{i:04}.text}}\n"
        ));
    }
    s
}

/// Runs `fedstack args`, reads one line of its output and closes the pipe.
fn read_one_line_then_close(env: &Env, args: &[&str]) -> (i32, String, String) {
    let mut child = env
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fedstack");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    reader.read_line(&mut first).expect("first line");
    drop(reader);
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        first,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn listing_commands_stop_quietly_when_the_reader_goes_away() {
    let env = Env::with_stack(&big_stack());
    let (code, first, stderr) = read_one_line_then_close(&env, &["plan"]);
    assert!(!first.is_empty());
    assert_eq!(code, 141, "plan: {stderr}");
    assert_eq!(stderr, "", "plan");
    env.apply();
    for args in [
        &["plan", "--refresh=false", "--replace", "data.item-0001"][..],
        &["graph"],
        &["state", "list"],
        &["sim", "list"],
        &["--json", "sim", "list"],
        &["output"],
    ] {
        let (code, first, stderr) = read_one_line_then_close(&env, args);
        assert!(!first.is_empty(), "{args:?} printed nothing");
        // Output that fits the pipe whole may be written before the reader goes: 0.
        assert!(code == 141 || code == 0, "{args:?}: exit {code}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
    let (code, _, stderr) = read_one_line_then_close(&env, &["completions", "bash"]);
    assert!(
        code == 141 || code == 0,
        "completions: exit {code}: {stderr}"
    );
    assert_eq!(stderr, "", "completions");
}

#[test]
fn apply_whose_reader_goes_away_stops_like_ctrl_c_and_records_what_it_did() {
    let env = Env::with_stack(&big_stack());
    // `--json`: one event a line from the first step on (no plan printed before).
    let (code, _, stderr) = read_one_line_then_close(
        &env,
        &["--json", "apply", "--auto-approve", "--parallelism", "1"],
    );
    assert_eq!(code, 141, "apply: {stderr}");
    assert_eq!(stderr, "", "apply");
    // It stopped early, recorded whatever it made, left nothing pending; the next run
    // finishes the rest.
    let made = env.state_addresses().len();
    assert!(made < 1500, "it did not stop: {made} made");
    assert!(env.state_pending().is_empty(), "{:?}", env.state_pending());
    assert_eq!(env.sim_addresses(), env.state_addresses());
    let r = env.apply();
    assert!(r.stdout.contains("Apply complete!"), "{}", r.stdout);
    env.run(&["plan", "--detailed-exitcode"]).code(0);
}
