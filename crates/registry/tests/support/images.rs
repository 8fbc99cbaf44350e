//! Generated images: random layers, a config, a manifest; multi-platform indexes
//! whose images share one layer. Pushed with the raw client.

use serde_json::json;

use super::raw::{sha256, Raw};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flavor {
    Oci,
    Docker,
}

impl Flavor {
    pub fn manifest_type(self) -> &'static str {
        match self {
            Flavor::Oci => "application/vnd.oci.image.manifest.v1+json",
            Flavor::Docker => "application/vnd.docker.distribution.manifest.v2+json",
        }
    }
    pub fn index_type(self) -> &'static str {
        match self {
            Flavor::Oci => "application/vnd.oci.image.index.v1+json",
            Flavor::Docker => "application/vnd.docker.distribution.manifest.list.v2+json",
        }
    }
    fn config_type(self) -> &'static str {
        match self {
            Flavor::Oci => "application/vnd.oci.image.config.v1+json",
            Flavor::Docker => "application/vnd.docker.container.image.v1+json",
        }
    }
    fn layer_type(self) -> &'static str {
        match self {
            Flavor::Oci => "application/vnd.oci.image.layer.v1.tar+gzip",
            Flavor::Docker => "application/vnd.docker.image.rootfs.diff.tar.gzip",
        }
    }
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    fastrand::fill(&mut v);
    v
}

/// What was pushed: the top digest, its distinct blobs, its child manifests.
#[derive(Clone, Debug)]
pub struct Pushed {
    pub digest: String,
    pub media_type: String,
    pub blobs: Vec<String>,
    pub children: Vec<String>,
    pub bytes: Vec<u8>,
}

/// An image of `layers` random layers of `size` bytes (plus `shared` layers first).
// Positional on purpose: every call site reads as one line of the image's shape.
#[allow(clippy::too_many_arguments)]
pub async fn push_image(
    raw: &Raw,
    repo: &str,
    reference: Option<&str>,
    flavor: Flavor,
    layers: usize,
    size: usize,
    shared: &[Vec<u8>],
    platform: (&str, &str),
) -> Pushed {
    let mut descs = Vec::new();
    let mut blobs = Vec::new();
    let contents: Vec<Vec<u8>> = shared
        .iter()
        .cloned()
        .chain((0..layers).map(|_| random_bytes(size)))
        .collect();
    for l in &contents {
        let d = raw.push_blob(repo, l).await;
        descs.push(json!({"mediaType": flavor.layer_type(), "digest": d, "size": l.len()}));
        blobs.push(d);
    }
    let config = serde_json::to_vec(&json!({
        "architecture": platform.1,
        "os": platform.0,
        "rootfs": {"type": "layers", "diff_ids": blobs},
        "config": {"Labels": {"fedstack.test/nonce": fastrand::u64(..).to_string()}},
    }))
    .expect("config");
    let cd = raw.push_blob(repo, &config).await;
    blobs.push(cd.clone());
    let manifest = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": flavor.manifest_type(),
        "config": {"mediaType": flavor.config_type(), "digest": cd, "size": config.len()},
        "layers": descs,
    }))
    .expect("manifest");
    let digest = sha256(&manifest);
    raw.push_manifest(
        repo,
        reference.unwrap_or(&digest),
        flavor.manifest_type(),
        &manifest,
    )
    .await;
    blobs.sort();
    blobs.dedup();
    Pushed {
        digest,
        media_type: flavor.manifest_type().into(),
        blobs,
        children: Vec::new(),
        bytes: manifest,
    }
}

/// An index of one image per platform; every image has `shared` first, then
/// `layers` layers of its own.
pub async fn push_index(
    raw: &Raw,
    repo: &str,
    tag: &str,
    flavor: Flavor,
    platforms: &[(&str, &str, Option<&str>)],
    layers: usize,
    size: usize,
) -> Pushed {
    let shared = vec![random_bytes(size)];
    let mut entries = Vec::new();
    let mut blobs = Vec::new();
    let mut children = Vec::new();
    for (os, arch, variant) in platforms {
        let img = push_image(raw, repo, None, flavor, layers, size, &shared, (os, arch)).await;
        let mut platform = json!({"os": os, "architecture": arch});
        if let Some(v) = variant {
            platform["variant"] = json!(v);
        }
        entries.push(json!({
            "mediaType": flavor.manifest_type(),
            "digest": img.digest,
            "size": img.bytes.len(),
            "platform": platform,
        }));
        blobs.extend(img.blobs);
        children.push(img.digest);
    }
    // Pretty-printed with an annotation: a re-serializing copier would change it.
    let mut index = json!({
        "schemaVersion": 2,
        "mediaType": flavor.index_type(),
        "manifests": entries,
    });
    if flavor == Flavor::Oci {
        index["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    }
    let index = serde_json::to_vec_pretty(&index).expect("index");
    let digest = raw
        .push_manifest(repo, tag, flavor.index_type(), &index)
        .await;
    blobs.sort();
    blobs.dedup();
    Pushed {
        digest,
        media_type: flavor.index_type().into(),
        blobs,
        children,
        bytes: index,
    }
}
