//! CLI tests: every test runs the real `fedstack` binary in its own temp dir.
//! One test binary for all of them (fast to link, shared helpers).

#![allow(dead_code)]

mod common;

mod aws;
mod azure;
mod crash;
mod drift;
mod errors;
mod flow;
mod gcp;
mod images;
mod lock;
mod pipe;
mod plan_output;
mod s3_state;
mod shift;
mod workloads;
