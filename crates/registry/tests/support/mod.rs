//! Test support: real registries, a fault proxy, generated images, raw reads.
#![allow(dead_code)]

pub mod images;
pub mod proxy;
pub mod raw;
pub mod registry;

use fedstack_registry::{Copier, CopyOptions, ImageRef, Registry, RetryPolicy};

pub fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn r(s: &str) -> ImageRef {
    ImageRef::parse(s).expect("reference")
}

/// Options with quick retries (the defaults back off for seconds).
pub fn quick_opts() -> CopyOptions {
    CopyOptions {
        retry: RetryPolicy {
            max_attempts: 5,
            base_delay: std::time::Duration::from_millis(20),
            max_delay: std::time::Duration::from_millis(200),
            max_retry_after: std::time::Duration::from_secs(2),
        },
        ..CopyOptions::default()
    }
}

/// A copier for plain-http loopback registries.
pub fn copier(hosts: &[String], opts: CopyOptions) -> Copier {
    Copier::new(
        hosts
            .iter()
            .map(|h| Registry::new(h.clone()).insecure_http()),
        opts,
    )
    .expect("copier")
}
