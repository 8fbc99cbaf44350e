//! Manifest media types and what the engine reads from a manifest: the blobs of an
//! image (config, layers) and the children of an index (with their platforms).
//! Manifests are only *read* here; what is pushed is always the bytes fetched, except
//! for an index a platform filter cut down ([`filtered_index`]).

use serde_json::Value;

use crate::digest::Digest;
use crate::error::Error;
use crate::platform::Platform;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The Accept header of every manifest request: all four kinds, so that a registry
/// never converts a manifest (which would change its digest).
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// One entry of a manifest: a blob, or a child manifest of an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    pub platform: Option<Platform>,
    /// Foreign (non-distributable) layers live at their `urls`, not in registries;
    /// they are not copied (as skopeo does by default).
    pub foreign: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Manifest {
    Image {
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
    Index {
        manifests: Vec<Descriptor>,
    },
}

impl Manifest {
    /// The blobs an image needs at the destination (an index has none of its own).
    pub fn blobs(&self) -> Vec<&Descriptor> {
        match self {
            Manifest::Image { config, layers } => std::iter::once(config)
                .chain(layers.iter().filter(|l| !l.foreign))
                .collect(),
            Manifest::Index { .. } => Vec::new(),
        }
    }
}

/// Parses `bytes`; the media type is the manifest's own `mediaType` field, else the
/// response's Content-Type, else guessed from the shape (OCI allows omitting it).
/// Returns the media type to push it with.
pub fn parse(
    what: &str,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<(String, Manifest), Error> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::invalid_manifest(what, format!("not JSON: {e}")))?;
    let declared = v.get("mediaType").and_then(Value::as_str);
    let header = content_type
        .map(|c| c.split(';').next().unwrap_or(c).trim())
        .filter(|c| !c.is_empty() && *c != "application/json" && *c != "application/octet-stream");
    let media_type = match declared.or(header) {
        Some(m) => m.to_string(),
        None if v.get("manifests").is_some() => OCI_INDEX.to_string(),
        None if v.get("layers").is_some() => OCI_MANIFEST.to_string(),
        None => {
            return Err(Error::invalid_manifest(
                what,
                "no mediaType, no layers, no manifests",
            ))
        }
    };
    let manifest = match media_type.as_str() {
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let config = descriptor(
                what,
                v.get("config")
                    .ok_or_else(|| Error::invalid_manifest(what, "no config"))?,
            )?;
            let layers = v
                .get("layers")
                .and_then(Value::as_array)
                .ok_or_else(|| Error::invalid_manifest(what, "no layers array"))?
                .iter()
                .map(|l| descriptor(what, l))
                .collect::<Result<_, _>>()?;
            Manifest::Image { config, layers }
        }
        OCI_INDEX | DOCKER_LIST => {
            let manifests = v
                .get("manifests")
                .and_then(Value::as_array)
                .ok_or_else(|| Error::invalid_manifest(what, "no manifests array"))?
                .iter()
                .map(|m| descriptor(what, m))
                .collect::<Result<_, _>>()?;
            Manifest::Index { manifests }
        }
        other => {
            return Err(Error::UnsupportedMediaType {
                what: what.to_string(),
                media_type: other.to_string(),
            })
        }
    };
    Ok((media_type, manifest))
}

fn descriptor(what: &str, v: &Value) -> Result<Descriptor, Error> {
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    let digest =
        s("digest").ok_or_else(|| Error::invalid_manifest(what, "a descriptor has no digest"))?;
    let digest = Digest::parse(digest)
        .map_err(|r| Error::invalid_manifest(what, format!("descriptor digest {digest:?}: {r}")))?;
    let size = v
        .get("size")
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::invalid_manifest(what, format!("descriptor {digest} has no size")))?;
    let media_type = s("mediaType").unwrap_or_default().to_string();
    let platform = v.get("platform").and_then(|p| {
        Some(Platform {
            os: p.get("os")?.as_str()?.to_string(),
            architecture: p.get("architecture")?.as_str()?.to_string(),
            variant: p.get("variant").and_then(Value::as_str).map(str::to_string),
        })
    });
    let foreign = media_type.contains("foreign") || media_type.contains("nondistributable");
    Ok(Descriptor {
        media_type,
        digest,
        size,
        platform,
        foreign,
    })
}

/// The index `bytes` with only the manifests in `keep`, every other field as it was
/// (serde_json keeps the field order). Its digest differs from the source's.
pub fn filtered_index(what: &str, bytes: &[u8], keep: &[Digest]) -> Result<Vec<u8>, Error> {
    let mut v: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::invalid_manifest(what, format!("not JSON: {e}")))?;
    let list = v
        .get_mut("manifests")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| Error::invalid_manifest(what, "no manifests array"))?;
    list.retain(|m| {
        m.get("digest")
            .and_then(Value::as_str)
            .is_some_and(|d| keep.iter().any(|k| k.as_str() == d))
    });
    serde_json::to_vec(&v).map_err(|e| Error::invalid_manifest(what, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_images_and_indexes() {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let img = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"x","digest":"{}","size":3}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"{}","size":4,"urls":["http://x"]}},{{"digest":"{}","size":5}}]}}"#,
            d('a'),
            d('b'),
            d('c')
        );
        let (mt, m) = parse("img", Some("application/json"), img.as_bytes()).expect("a value");
        assert_eq!(mt, DOCKER_MANIFEST);
        assert_eq!(m.blobs().len(), 2, "the foreign layer is not copied");
        let idx = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":1,"platform":{{"os":"linux","architecture":"arm","variant":"v7"}}}},{{"digest":"{}","size":2}}]}}"#,
            d('a'),
            d('b')
        );
        let (mt, m) = parse("idx", None, idx.as_bytes()).expect("a value");
        assert_eq!(mt, OCI_INDEX);
        let Manifest::Index { manifests } = m else {
            panic!()
        };
        assert_eq!(
            manifests[0].platform.as_ref().expect("a value").to_string(),
            "linux/arm/v7"
        );
        assert_eq!(manifests[1].platform, None);
        let cut = filtered_index(
            "idx",
            idx.as_bytes(),
            &[Digest::parse(&d('b')).expect("a value")],
        )
        .expect("a value");
        let (_, m) = parse("cut", None, &cut).expect("a value");
        assert!(matches!(m, Manifest::Index { manifests } if manifests.len() == 1));
        let e = parse(
            "v1",
            Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
            b"{}",
        )
        .expect_err("an error");
        assert!(e.to_string().contains("unsupported"), "{e}");
    }
}
