//! Helpers shared by the stack-file tests.

#![allow(dead_code)]

use fedstack_core::stack::{load_stack, CloudDescription, Clouds, DesiredStack, Diagnostics};

/// The clouds the `fedstack` binary registers (crates/cli/src/clouds.rs).
pub static CLOUDS: Clouds = Clouds::new(&ALL);
static ALL: [&dyn CloudDescription; 5] = [
    &fedstack_describe_gcp::GCP,
    &fedstack_describe_aws::AWS,
    &fedstack_describe_azure::AZURE,
    &fedstack_describe_sim::SIM,
    &fedstack_describe_local::LOCAL,
];

pub fn load(text: &str) -> Result<DesiredStack, Diagnostics> {
    load_stack("t.yaml", text, CLOUDS)
}

/// Every diagnostic as the user sees it.
pub fn errors(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => Vec::new(),
        Err(d) => d.0.iter().map(ToString::to_string).collect(),
    }
}

#[track_caller]
pub fn one_error(text: &str) -> String {
    let e = errors(text);
    assert_eq!(e.len(), 1, "expected exactly one error, got {e:#?}");
    e[0].clone()
}

#[track_caller]
pub fn ok(text: &str) -> DesiredStack {
    match load(text) {
        Ok(s) => s,
        Err(e) => panic!("expected the stack to load, got:\n{e}"),
    }
}
