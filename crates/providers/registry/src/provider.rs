//! [`RegistryProvider`]: `image.*` resources over [`Copier`].

use async_trait::async_trait;
use fedstack_core::address::ResourceKind;
use fedstack_provider::{
    ErrorClass, Observed, Progress, Provider, ProviderError, ResourceSpec, ResourceStatus,
};
use fedstack_registry::{
    Copier, CopyOptions, CopyReport, DeleteOutcome, Digest, Error as RegistryError, ImageRef,
    PlatformFilter,
};
use serde_json::{json, Value};

use crate::config::{ConfigError, Environment, ImageSpec, ProcessEnv};
use crate::errors::{denied, from_registry, invalid};

/// The provider of the built-in `registry` cloud. Holds no credentials: each call
/// resolves them from the image's attributes (env vars, docker config).
pub struct RegistryProvider {
    read_only: bool,
    env: Box<dyn Environment + Send + Sync>,
}

impl Default for RegistryProvider {
    fn default() -> RegistryProvider {
        RegistryProvider::new(false)
    }
}

impl RegistryProvider {
    pub fn new(read_only: bool) -> RegistryProvider {
        RegistryProvider {
            read_only,
            env: Box::new(ProcessEnv),
        }
    }

    fn image(&self, spec: &ResourceSpec) -> Result<ImageSpec, ProviderError> {
        if spec.address.kind != ResourceKind::Image {
            return Err(invalid(format!(
                "{} is not an image; the registry cloud only copies images",
                spec.address
            )));
        }
        ImageSpec::from_attrs(&spec.attrs).map_err(|e| config_error(spec, e))
    }

    /// A copier that knows both registries, credentials resolved now.
    fn copier(&self, spec: &ResourceSpec, image: &ImageSpec) -> Result<Copier, ProviderError> {
        let src = image
            .source_registry
            .resolve(self.env.as_ref())
            .map_err(|e| config_error(spec, e))?;
        let dst = image
            .destination_registry
            .resolve(self.env.as_ref())
            .map_err(|e| config_error(spec, e))?;
        let opts = CopyOptions {
            platforms: image.platforms.clone(),
            ..CopyOptions::default()
        };
        Copier::new([src, dst], opts).map_err(from_registry)
    }

    fn writable(&self, spec: &ResourceSpec, what: &str) -> Result<(), ProviderError> {
        if self.read_only {
            return Err(ProviderError::new(
                ErrorClass::Invalid,
                format!("{}: cannot {what} in a read-only run", spec.address),
            ));
        }
        Ok(())
    }

    async fn copy(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let image = self.image(spec)?;
        let copier = self.copier(spec, &image)?;
        progress.status(&format!(
            "reading {} and {}",
            image.source, image.destination
        ));
        let plan = copier
            .plan_copy(&image.source, &image.destination)
            .await
            .map_err(from_registry)?;
        if !plan.up_to_date {
            let missing = plan.missing_blobs().count();
            progress.status(&format!(
                "sending {missing} of {} blobs ({} bytes) and {} manifests",
                plan.blobs.len(),
                plan.missing_bytes(),
                plan.manifests.iter().filter(|m| !m.present).count() + 1
            ));
        }
        let report = copier.execute(plan).await.map_err(from_registry)?;
        progress.status(&summary(&report));
        Ok(observed(
            spec,
            &image.destination,
            &report.destination_digest,
            true,
        ))
    }
}

/// "copied 7 blobs (12345 bytes), 0 mounted, 2 present; 3 manifests; sha256:..."
fn summary(r: &CopyReport) -> String {
    if r.up_to_date {
        return format!("up to date at {}", r.destination_digest);
    }
    let mut s = format!(
        "copied {} blobs ({} bytes), mounted {}, skipped {} present; pushed {} manifests; {}",
        r.blobs_copied,
        r.bytes_copied,
        r.blobs_mounted,
        r.blobs_present,
        r.manifests_pushed,
        r.destination_digest
    );
    if let Some(rw) = &r.rewritten {
        s.push_str(&format!(
            " (a new index of {} platforms; the source's is {})",
            rw.kept.len(),
            rw.source_digest
        ));
    }
    s
}

fn config_error(spec: &ResourceSpec, e: ConfigError) -> ProviderError {
    let message = format!("{}: {e}", spec.address);
    match e {
        ConfigError::EnvMissing { .. }
        | ConfigError::DockerConfigEntry { .. }
        | ConfigError::DockerConfig { .. } => denied(message),
        ConfigError::File { .. } | ConfigError::Attribute(_) | ConfigError::Reference(_) => {
            invalid(message)
        }
    }
}

/// What is at the destination: the spec's attributes, `in_sync` as found.
fn observed(spec: &ResourceSpec, dst: &ImageRef, digest: &Digest, in_sync: bool) -> Observed {
    let mut attrs = spec.attrs.clone();
    attrs.insert("in_sync".into(), json!(in_sync));
    let pinned = format!("{}/{}@{digest}", dst.registry, dst.repository);
    let mut outputs = fedstack_core::value::Values::new();
    outputs.insert("id".into(), Value::String(pinned.clone()));
    outputs.insert("digest".into(), Value::String(digest.to_string()));
    outputs.insert("ref".into(), Value::String(pinned));
    Observed {
        attrs,
        outputs,
        secrets: Default::default(),
        status: ResourceStatus::Ready,
    }
}

fn is_not_found(e: &RegistryError) -> bool {
    matches!(
        e,
        RegistryError::NotFound { .. } | RegistryError::Status { status: 404, .. }
    )
}

#[async_trait]
impl Provider for RegistryProvider {
    fn provider_type(&self) -> &'static str {
        "registry"
    }

    async fn read(&self, spec: &ResourceSpec) -> Result<Option<Observed>, ProviderError> {
        let image = self.image(spec)?;
        let copier = self.copier(spec, &image)?;
        let dst_digest = match copier.resolve(&image.destination).await {
            Ok(d) => d,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(from_registry(e)),
        };
        // In sync when a copy now would change nothing. With every platform that is the
        // source's digest (one HEAD); a filter pushes a new index, so ask the planner.
        let in_sync = match &image.platforms {
            PlatformFilter::All => match copier.resolve(&image.source).await {
                Ok(src) => src == dst_digest,
                // The source is gone: what the destination has can't be the source's now.
                Err(e) if is_not_found(&e) => false,
                Err(e) => return Err(from_registry(e)),
            },
            PlatformFilter::Only(_) => {
                match copier.plan_copy(&image.source, &image.destination).await {
                    Ok(plan) => plan.up_to_date,
                    Err(e) if is_not_found(&e) => false,
                    Err(e) => return Err(from_registry(e)),
                }
            }
        };
        Ok(Some(observed(
            spec,
            &image.destination,
            &dst_digest,
            in_sync,
        )))
    }

    async fn create(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        self.writable(spec, "copy")?;
        self.copy(spec, progress).await
    }

    async fn update(
        &self,
        spec: &ResourceSpec,
        _changed: &[String],
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        // Whatever changed (a moved tag, other platforms), copying again is the update:
        // blobs and manifests already there are skipped.
        self.writable(spec, "copy")?;
        self.copy(spec, progress).await
    }

    async fn delete(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        self.writable(spec, "delete")?;
        let image = self.image(spec)?;
        let copier = self.copier(spec, &image)?;
        match copier
            .delete(&image.destination)
            .await
            .map_err(from_registry)?
        {
            DeleteOutcome::Deleted(d) => {
                progress.status(&format!("deleted {} ({d})", image.destination));
            }
            DeleteOutcome::NotFound => {}
            DeleteOutcome::NotAllowed { status, .. } => {
                progress.note(&format!(
                    "warning: registry {} does not allow deletes (HTTP {status}): forgot {}, which stays in the registry",
                    image.destination.registry, image.destination
                ));
            }
        }
        Ok(())
    }

    async fn wait_ready(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        // A copy interrupted half-way left whole blobs and manifests; copying again
        // sends only the rest.
        match self.read(spec).await? {
            Some(o) if o.attrs.get("in_sync") == Some(&json!(true)) => Ok(o),
            _ => {
                self.writable(spec, "finish the copy")?;
                self.copy(spec, progress).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fedstack_core::address::Address;

    #[test]
    fn foreign_kinds_are_refused() {
        let p = RegistryProvider::default();
        let spec = ResourceSpec {
            address: Address::new(ResourceKind::Cluster, "c"),
            cloud_name: "c".into(),
            attrs: Default::default(),
        };
        let e = p.image(&spec).expect_err("not an image");
        assert_eq!(e.class, ErrorClass::Invalid);
        assert_eq!(
            e.message,
            "cluster.c is not an image; the registry cloud only copies images"
        );
    }
}
