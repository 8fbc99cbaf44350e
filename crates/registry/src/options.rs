//! What a copy may do: which platforms, how many blobs at once, how hard to retry.

use crate::platform::PlatformFilter;
use crate::retry::RetryPolicy;

#[derive(Clone, Debug)]
pub struct CopyOptions {
    pub platforms: PlatformFilter,
    /// Blobs (across all layers and platforms) and child manifests in flight at once.
    pub concurrency: usize,
    pub retry: RetryPolicy,
}

impl Default for CopyOptions {
    fn default() -> CopyOptions {
        CopyOptions {
            platforms: PlatformFilter::All,
            // Enough to hide per-request latency, few enough not to trip a registry's
            // rate limit; skopeo uses 6 per image.
            concurrency: 8,
            retry: RetryPolicy::default(),
        }
    }
}
