//! The copy engine: plan (read the source, ask the destination what it has), then
//! send what is missing -- blobs first (in parallel, each distinct blob once), then
//! child manifests (deepest first), then the top manifest, then a HEAD of the
//! destination to check that it points at the expected digest.
//!
//! Requests per copy, with the default `PlatformFilter::All`:
//! - up to date: one HEAD at the destination, and one HEAD at the source to learn the
//!   tag's digest (none when the source reference is a digest);
//! - otherwise: the source manifests (GET each), one HEAD per child manifest and per
//!   distinct blob at the destination, and for each missing blob either one mount
//!   POST (same registry) or POST + streamed PUT plus the source GET; a PUT per
//!   missing manifest and a final HEAD.
//!
//! With a platform filter that drops manifests of an index, the index pushed is a
//! new one (the source's JSON without the dropped entries; see
//! [`crate::media::filtered_index`]): it cannot be the source's bytes, since those
//! name manifests that would not be at the destination. Its digest therefore
//! differs, and the report says so in `rewritten`. A filter that keeps every entry
//! copies the index byte for byte. Checking that such a copy is up to date needs the
//! source index (a GET instead of a HEAD at the source).
//!
//! Resuming: a copy killed half-way left whole blobs (an upload is committed only by
//! its final PUT, whose digest the registry checks) and whole manifests; the re-run's
//! HEADs find them, and it sends only the rest. A blob upload that fails mid-way is
//! abandoned (DELETE of its session, best effort) and restarted from byte 0 in a new
//! session.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::api::{mount_scope, push_scope, Fetched, Mount};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::http::{Endpoint, RequestCounts};
use crate::media::{self, Descriptor, Manifest};
use crate::options::CopyOptions;
use crate::platform::PlatformFilter;
use crate::reference::ImageRef;
use crate::registry::Registry;
use crate::report::{CopyPlan, CopyReport, PlannedBlob, PlannedManifest, RewrittenIndex};
use crate::retry::retryable_status;
use crate::stream::Verifying;

/// What `delete` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The manifest is gone -- with every tag that pointed at it.
    Deleted(Digest),
    NotFound,
    /// The registry does not allow deletes (distribution answers 405 UNSUPPORTED
    /// unless `storage.delete.enabled`); not an error: the caller decides.
    NotAllowed {
        status: u16,
        code: Option<String>,
    },
}

/// Copies images between the registries it knows. Reuse one for many copies: it
/// keeps connections and bearer tokens per registry.
pub struct Copier {
    endpoints: Mutex<HashMap<String, Arc<Endpoint>>>,
    opts: CopyOptions,
}

/// One image copy between two registries.
pub async fn copy(
    src: &ImageRef,
    dst: &ImageRef,
    registries: &[Registry],
    opts: &CopyOptions,
) -> Result<CopyReport> {
    Copier::new(registries.iter().cloned(), opts.clone())?
        .copy(src, dst)
        .await
}

impl Copier {
    /// `registries`: settings by host; a host not listed is anonymous https.
    pub fn new(
        registries: impl IntoIterator<Item = Registry>,
        opts: CopyOptions,
    ) -> Result<Copier> {
        let mut endpoints = HashMap::new();
        for r in registries {
            let host = r.host.clone();
            endpoints.insert(host, Arc::new(Endpoint::new(r, opts.retry.clone())?));
        }
        Ok(Copier {
            endpoints: Mutex::new(endpoints),
            opts,
        })
    }

    fn endpoint(&self, host: &str) -> Result<Arc<Endpoint>> {
        let mut map = self.endpoints.lock().map_err(|_| Error::Config {
            registry: host.to_string(),
            reason: "internal: endpoint table poisoned".into(),
        })?;
        if let Some(e) = map.get(host) {
            return Ok(e.clone());
        }
        let e = Arc::new(Endpoint::new(Registry::new(host), self.opts.retry.clone())?);
        map.insert(host.to_string(), e.clone());
        Ok(e)
    }

    /// Requests sent so far to `host` (by this copier).
    pub fn request_counts(&self, host: &str) -> Result<Arc<RequestCounts>> {
        Ok(self.endpoint(host)?.counts.clone())
    }

    /// The digest `r` points at (one HEAD, all four manifest media types accepted).
    pub async fn resolve(&self, r: &ImageRef) -> Result<Digest> {
        let ep = self.endpoint(&r.registry)?;
        match ep.head_manifest(&r.repository, r.reference()).await? {
            Some(h) => Ok(h.digest),
            None => Err(not_found(r)),
        }
    }

    /// Deletes the manifest `r` points at (by digest, as the spec requires).
    pub async fn delete(&self, r: &ImageRef) -> Result<DeleteOutcome> {
        let ep = self.endpoint(&r.registry)?;
        let digest = match &r.digest {
            Some(d) => d.clone(),
            None => match ep.head_manifest(&r.repository, r.reference()).await? {
                Some(h) => h.digest,
                None => return Ok(DeleteOutcome::NotFound),
            },
        };
        let (status, code) = ep.delete_manifest(&r.repository, &digest).await?;
        Ok(match status.as_u16() {
            200..=299 => DeleteOutcome::Deleted(digest),
            404 if code.as_deref() != Some("UNSUPPORTED") => DeleteOutcome::NotFound,
            s if s == 405 || code.as_deref() == Some("UNSUPPORTED") => {
                DeleteOutcome::NotAllowed { status: s, code }
            }
            s => {
                return Err(Error::Status {
                    method: "DELETE".into(),
                    registry: ep.base().to_string(),
                    path: format!("/v2/{}/manifests/{digest}", r.repository),
                    status: s,
                    detail: code.map(|c| format!(": {c}")).unwrap_or_default(),
                })
            }
        })
    }

    /// What `copy` would send, without writing anything.
    pub async fn plan_copy(&self, src: &ImageRef, dst: &ImageRef) -> Result<CopyPlan> {
        let sep = self.endpoint(&src.registry)?;
        let dep = self.endpoint(&dst.registry)?;
        let filter = &self.opts.platforms;

        // The source digest: given, or one HEAD.
        let (src_digest, src_type) = match &src.digest {
            Some(d) => (d.clone(), None),
            None => match sep.head_manifest(&src.repository, src.reference()).await? {
                Some(h) => (h.digest, h.content_type),
                None => return Err(not_found(src)),
            },
        };
        let is_image = |t: &Option<String>| {
            t.as_deref()
                .map(|t| t.split(';').next().unwrap_or(t).trim())
                .is_some_and(|t| t == media::OCI_MANIFEST || t == media::DOCKER_MANIFEST)
        };
        let mut plan = CopyPlan {
            source: src.clone(),
            destination: dst.clone(),
            source_digest: src_digest.clone(),
            destination_digest: src_digest.clone(),
            media_type: src_type.clone().unwrap_or_default(),
            up_to_date: false,
            rewritten: None,
            manifests: Vec::new(),
            blobs: Vec::new(),
            same_registry: src.registry == dst.registry,
            top_bytes: None,
            child_bytes: Vec::new(),
        };

        // The no-op check, before reading the source, whenever the destination
        // digest is the source's: every filter keeps an image as it is.
        let mut dst_checked = false;
        if *filter == PlatformFilter::All || is_image(&src_type) {
            dst_checked = true;
            check_pin(dst, &src_digest)?;
            if self.dst_at(&dep, dst, &src_digest).await? {
                plan.up_to_date = true;
                return Ok(plan);
            }
        }

        let top = sep
            .get_manifest(&src.repository, src_digest.as_str())
            .await?;
        let what = format!("{src}");
        let (media_type, manifest) = media::parse(&what, top.content_type.as_deref(), &top.bytes)?;
        plan.media_type = media_type.clone();

        let mut top_bytes = top.bytes.clone();
        let children: Vec<Descriptor> = match &manifest {
            Manifest::Image { .. } => Vec::new(),
            Manifest::Index { manifests } => {
                let (kept, dropped): (Vec<&Descriptor>, Vec<&Descriptor>) = manifests
                    .iter()
                    .partition(|m| filter.matches(m.platform.as_ref()));
                if kept.is_empty() {
                    return Err(Error::NoMatchingPlatform {
                        what,
                        filter: filter.to_string(),
                        available: manifests.iter().map(label).collect::<Vec<_>>().join(", "),
                    });
                }
                if !dropped.is_empty() {
                    let keep: Vec<Digest> = kept.iter().map(|m| m.digest.clone()).collect();
                    top_bytes = Bytes::from(media::filtered_index(&what, &top.bytes, &keep)?);
                    plan.destination_digest = Digest::of(&top_bytes);
                    plan.rewritten = Some(RewrittenIndex {
                        source_digest: src_digest.clone(),
                        kept: kept.iter().map(|m| label(m)).collect(),
                        dropped: dropped.iter().map(|m| label(m)).collect(),
                    });
                }
                kept.into_iter().cloned().collect()
            }
        };
        check_pin(dst, &plan.destination_digest)?;
        if !dst_checked && self.dst_at(&dep, dst, &plan.destination_digest).await? {
            plan.up_to_date = true;
            return Ok(plan);
        }

        // Child manifests, level by level (an index of indexes is rare but legal).
        let mut images: Vec<Manifest> = Vec::new();
        if let Manifest::Image { .. } = manifest {
            images.push(manifest);
        }
        let mut level = children;
        let mut depth_lists: Vec<Vec<(PlannedManifest, Bytes, Manifest)>> = Vec::new();
        let mut seen: HashSet<Digest> = HashSet::new();
        while !level.is_empty() {
            level.retain(|d| seen.insert(d.digest.clone()));
            let fetched: Vec<(Descriptor, Fetched, bool)> =
                stream::iter(level.into_iter().map(|d| {
                    let (sep, dep) = (sep.clone(), dep.clone());
                    async move {
                        let f = sep.get_manifest(&src.repository, d.digest.as_str()).await?;
                        let present = dep
                            .head_manifest(&dst.repository, d.digest.as_str())
                            .await?
                            .is_some();
                        Ok::<_, Error>((d, f, present))
                    }
                }))
                .buffered(self.opts.concurrency.max(1))
                .try_collect()
                .await?;
            let mut next = Vec::new();
            let mut this_level = Vec::new();
            for (d, f, present) in fetched {
                let cwhat = format!("{}/{}@{}", src.registry, src.repository, d.digest);
                let (mt, m) = media::parse(&cwhat, f.content_type.as_deref(), &f.bytes)?;
                if let Manifest::Index { manifests } = &m {
                    // A nested index is copied whole: the filter names platforms of the top.
                    if !present {
                        next.extend(manifests.iter().cloned());
                    }
                }
                let pm = PlannedManifest {
                    digest: d.digest.clone(),
                    media_type: mt,
                    size: f.bytes.len() as u64,
                    present,
                };
                this_level.push((pm, f.bytes, m));
            }
            depth_lists.push(this_level);
            level = next;
        }
        // Deepest first, so that every manifest is pushed after what it names.
        for list in depth_lists.into_iter().rev() {
            for (pm, bytes, m) in list {
                if !pm.present {
                    images.push(m);
                }
                plan.manifests.push(pm);
                plan.child_bytes.push(bytes);
            }
        }

        // Distinct blobs of the manifests the destination lacks; one HEAD each.
        let mut blobs: BTreeMap<Digest, u64> = BTreeMap::new();
        for m in &images {
            for b in m.blobs() {
                blobs.insert(b.digest.clone(), b.size);
            }
        }
        plan.blobs = stream::iter(blobs.into_iter().map(|(digest, size)| {
            let dep = dep.clone();
            async move {
                let present = dep.has_blob(&dst.repository, &digest).await?;
                Ok::<_, Error>(PlannedBlob {
                    digest,
                    size,
                    present,
                })
            }
        }))
        .buffer_unordered(self.opts.concurrency.max(1))
        .try_collect()
        .await?;
        plan.top_bytes = Some(top_bytes);
        Ok(plan)
    }

    /// Does `dst` point at `digest` already? (One HEAD.)
    async fn dst_at(&self, dep: &Endpoint, dst: &ImageRef, digest: &Digest) -> Result<bool> {
        Ok(dep
            .head_manifest(&dst.repository, dst.push_reference())
            .await?
            .is_some_and(|h| h.digest == *digest))
    }

    /// Copies `src` to `dst`: see the module documentation for what is sent.
    pub async fn copy(&self, src: &ImageRef, dst: &ImageRef) -> Result<CopyReport> {
        let plan = self.plan_copy(src, dst).await?;
        self.execute(plan).await
    }

    /// Sends what `plan` found missing.
    pub async fn execute(&self, plan: CopyPlan) -> Result<CopyReport> {
        let mut report = CopyReport {
            source_digest: plan.source_digest.clone(),
            destination_digest: plan.destination_digest.clone(),
            media_type: plan.media_type.clone(),
            up_to_date: plan.up_to_date,
            rewritten: plan.rewritten.clone(),
            manifests_pushed: 0,
            manifests_present: plan.manifests.iter().filter(|m| m.present).count(),
            blobs_copied: 0,
            bytes_copied: 0,
            blobs_mounted: 0,
            blobs_present: plan.blobs.iter().filter(|b| b.present).count(),
            blob_retries: 0,
        };
        let Some(top_bytes) = plan.top_bytes.clone() else {
            return Ok(report); // up to date
        };
        let (src, dst) = (&plan.source, &plan.destination);
        let sep = self.endpoint(&src.registry)?;
        let dep = self.endpoint(&dst.registry)?;

        let tally = Mutex::new((0usize, 0u64, 0usize, 0usize)); // copied, bytes, mounted, retries
        stream::iter(plan.missing_blobs().map(Ok::<_, Error>))
            .try_for_each_concurrent(self.opts.concurrency.max(1), |b| {
                let (sep, dep, tally) = (sep.clone(), dep.clone(), &tally);
                async move {
                    let (outcome, retries) = self
                        .transfer_blob(&sep, &dep, src, dst, b, plan.same_registry)
                        .await?;
                    if let Ok(mut t) = tally.lock() {
                        match outcome {
                            Sent::Mounted => t.2 += 1,
                            Sent::Copied(n) => {
                                t.0 += 1;
                                t.1 += n;
                            }
                        }
                        t.3 += retries;
                    }
                    Ok(())
                }
            })
            .await?;
        if let Ok(t) = tally.lock() {
            (
                report.blobs_copied,
                report.bytes_copied,
                report.blobs_mounted,
                report.blob_retries,
            ) = *t;
        }

        // Child manifests, deepest level first (plan order); within the list,
        // pushing in order keeps the invariant without tracking levels.
        for (pm, bytes) in plan.manifests.iter().zip(&plan.child_bytes) {
            if pm.present {
                continue;
            }
            dep.put_manifest(
                &dst.repository,
                pm.digest.as_str(),
                &pm.media_type,
                bytes.clone(),
            )
            .await?;
            report.manifests_pushed += 1;
        }

        let pushed = dep
            .put_manifest(
                &dst.repository,
                dst.push_reference(),
                &plan.media_type,
                top_bytes,
            )
            .await?;
        report.manifests_pushed += 1;
        // The invariant, checked at the destination itself.
        let at_dst = dep
            .head_manifest(&dst.repository, dst.push_reference())
            .await?
            .map(|h| h.digest);
        if at_dst.as_ref() != Some(&plan.destination_digest) || pushed != plan.destination_digest {
            return Err(Error::DigestMismatch {
                what: format!("{dst} after the push"),
                expected: plan.destination_digest.to_string(),
                actual: at_dst.map_or_else(|| "no manifest".to_string(), |d| d.to_string()),
            });
        }
        Ok(report)
    }

    /// One missing blob to the destination: a mount on the same registry, else a
    /// streamed GET -> PUT, restarted in a new upload session after a failure.
    async fn transfer_blob(
        &self,
        sep: &Endpoint,
        dep: &Endpoint,
        src: &ImageRef,
        dst: &ImageRef,
        blob: &PlannedBlob,
        same_registry: bool,
    ) -> Result<(Sent, usize)> {
        let mut location = None;
        if same_registry && src.repository != dst.repository {
            match dep
                .mount_blob(&dst.repository, &blob.digest, &src.repository)
                .await?
            {
                Mount::Mounted => return Ok((Sent::Mounted, 0)),
                // The registry opened an upload instead; it is used with the token of
                // the mount's scope (which includes push on the destination).
                Mount::Upload(loc) => {
                    location = Some((loc, mount_scope(&dst.repository, &src.repository)))
                }
                Mount::Refused => {}
            }
        }
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let (loc, scope) = match location.take() {
                Some(l) => l,
                None => (
                    dep.start_upload(&dst.repository).await?,
                    push_scope(&dst.repository),
                ),
            };
            let resp = sep.get_blob(&src.repository, &blob.digest).await?;
            let (body, verdict) = Verifying::new(
                Box::pin(resp.bytes_stream()),
                blob.digest.clone(),
                blob.size,
            );
            let result = dep
                .finish_upload(
                    &scope,
                    &loc,
                    &blob.digest,
                    blob.size,
                    reqwest::Body::wrap_stream(body),
                )
                .await;
            let err = match result {
                Ok(()) => return Ok((Sent::Copied(blob.size), (attempt - 1) as usize)),
                Err(e) => e,
            };
            let bad_content = verdict.lock().ok().and_then(|mut v| v.take());
            dep.cancel_upload(&dst.repository, &loc).await;
            if let Some(actual) = bad_content {
                return Err(Error::DigestMismatch {
                    what: format!(
                        "blob {} of {}/{}",
                        blob.digest, src.registry, src.repository
                    ),
                    expected: format!("{} ({} bytes)", blob.digest, blob.size),
                    actual,
                });
            }
            // A 401 on the streamed PUT: the token expired since the POST (which
            // renews it on the next attempt); once only.
            let expired = attempt == 1 && matches!(err, Error::Status { status: 401, .. });
            if attempt >= self.opts.retry.max_attempts || !(worth_retrying(&err) || expired) {
                return Err(err);
            }
            tokio::time::sleep(self.opts.retry.delay(attempt, None)).await;
        }
    }
}

enum Sent {
    Mounted,
    Copied(u64),
}

fn worth_retrying(e: &Error) -> bool {
    match e {
        Error::Transport { .. } => true,
        Error::Status { status, .. } => retryable_status(*status),
        _ => false,
    }
}

/// A `:tag@digest` destination: what we would push must be that digest.
fn check_pin(dst: &ImageRef, will_push: &Digest) -> Result<()> {
    match &dst.digest {
        Some(want) if want != will_push => Err(Error::DigestMismatch {
            what: format!("destination {dst}"),
            expected: want.to_string(),
            actual: will_push.to_string(),
        }),
        _ => Ok(()),
    }
}

fn not_found(r: &ImageRef) -> Error {
    Error::NotFound {
        registry: r.registry.clone(),
        path: format!("/v2/{}/manifests/{}", r.repository, r.reference()),
    }
}

fn label(d: &Descriptor) -> String {
    d.platform
        .as_ref()
        .map_or_else(|| d.digest.to_string(), ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Callers (a `promote` command, a webhook) spawn copies on tokio's pool.
    #[test]
    fn copies_are_send() {
        fn is_send<T: Send>(_: &T) {}
        fn is_sync<T: Sync>() {}
        is_sync::<Copier>();
        let c = Copier::new([], CopyOptions::default()).expect("copier");
        let a = ImageRef::parse("a.io/x:v1").expect("ref");
        let f = c.copy(&a, &a);
        is_send(&f);
        let p = c.plan_copy(&a, &a);
        is_send(&p);
    }
}
