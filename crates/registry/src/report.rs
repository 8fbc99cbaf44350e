//! What a copy would send ([`CopyPlan`]) and what it sent ([`CopyReport`]): plain
//! data, no credentials (only references and digests), for a CLI to render.

use crate::digest::Digest;
use crate::reference::ImageRef;

/// An index the platform filter cut down: pushed as a new index, whose digest is not
/// the source's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewrittenIndex {
    pub source_digest: Digest,
    /// Platforms (or digests, for entries without one) kept and dropped.
    pub kept: Vec<String>,
    pub dropped: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedManifest {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    /// Already at the destination (by digest): not pushed.
    pub present: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedBlob {
    pub digest: Digest,
    pub size: u64,
    /// Already at the destination repository: not sent (one HEAD told).
    pub present: bool,
}

#[derive(Clone, Debug)]
pub struct CopyPlan {
    pub source: ImageRef,
    pub destination: ImageRef,
    /// The digest of the source manifest (tag resolved).
    pub source_digest: Digest,
    /// The digest the destination will have: the source's, unless `rewritten`.
    pub destination_digest: Digest,
    pub media_type: String,
    /// The destination reference already points at `destination_digest`: nothing to do.
    pub up_to_date: bool,
    pub rewritten: Option<RewrittenIndex>,
    /// Child manifests (of an index), deepest first; empty for an image or when
    /// `up_to_date`. The top manifest is not in this list.
    pub manifests: Vec<PlannedManifest>,
    /// Every distinct blob (config and layers of every platform), once each; empty
    /// when `up_to_date` -- and blobs of a child manifest already at the destination
    /// are not listed (the registry holds a manifest only with all its blobs).
    pub blobs: Vec<PlannedBlob>,
    /// Whether the source and destination are on the same registry (blobs mount).
    pub same_registry: bool,
    pub(crate) top_bytes: Option<bytes::Bytes>,
    pub(crate) child_bytes: Vec<bytes::Bytes>,
}

impl CopyPlan {
    pub fn missing_blobs(&self) -> impl Iterator<Item = &PlannedBlob> {
        self.blobs.iter().filter(|b| !b.present)
    }
    pub fn missing_bytes(&self) -> u64 {
        self.missing_blobs().map(|b| b.size).sum()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyReport {
    pub source_digest: Digest,
    /// Verified by a HEAD of the destination reference after the push.
    pub destination_digest: Digest,
    pub media_type: String,
    pub up_to_date: bool,
    pub rewritten: Option<RewrittenIndex>,
    /// Manifests pushed, the top one included.
    pub manifests_pushed: usize,
    /// Child manifests found at the destination already.
    pub manifests_present: usize,
    pub blobs_copied: usize,
    pub bytes_copied: u64,
    pub blobs_mounted: usize,
    pub blobs_present: usize,
    /// Blob uploads restarted after a failure mid-way (each restart sends the blob
    /// again from its first byte).
    pub blob_retries: usize,
}
