//! Plain Distribution-API requests, written apart from the crate under test: pushes
//! of generated images, and the independent reads that check a copy.

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

pub fn sha256(bytes: &[u8]) -> String {
    let h = Sha256::digest(bytes);
    let mut s = String::from("sha256:");
    for b in h {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

#[derive(Clone)]
pub struct Raw {
    http: reqwest::Client,
    base: String,
    auth: Option<String>,
}

impl Raw {
    pub fn new(base: &str) -> Raw {
        super::init_crypto();
        Raw {
            http: reqwest::Client::builder()
                .danger_accept_invalid_certs(true)
                .build()
                .expect("client"),
            base: base.to_string(),
            auth: None,
        }
    }

    pub fn with_basic(mut self, user: &str, pass: &str) -> Raw {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        self.auth = Some(format!("Basic {b}"));
        self
    }

    fn req(&self, m: reqwest::Method, url: String) -> reqwest::RequestBuilder {
        let rb = self.http.request(m, url);
        match &self.auth {
            Some(a) => rb.header("authorization", a),
            None => rb,
        }
    }

    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let r = self
            .req(
                reqwest::Method::POST,
                format!("{}/v2/{repo}/blobs/uploads/", self.base),
            )
            .send()
            .await
            .expect("POST upload");
        assert_eq!(r.status().as_u16(), 202, "POST upload");
        let loc = r.headers()["location"]
            .to_str()
            .expect("location")
            .to_string();
        let loc = if loc.starts_with("http") {
            loc
        } else {
            format!("{}{loc}", self.base)
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let r = self
            .req(reqwest::Method::PUT, format!("{loc}{sep}digest={digest}"))
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("PUT blob");
        assert_eq!(r.status().as_u16(), 201, "PUT blob");
        digest
    }

    pub async fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        let r = self
            .req(
                reqwest::Method::PUT,
                format!("{}/v2/{repo}/manifests/{reference}", self.base),
            )
            .header("content-type", media_type)
            .body(bytes.to_vec())
            .send()
            .await
            .expect("PUT manifest");
        let status = r.status().as_u16();
        assert_eq!(
            status,
            201,
            "PUT manifest: {}",
            r.text().await.unwrap_or_default()
        );
        sha256(bytes)
    }

    /// GET a manifest: (bytes, content type), or None on 404.
    pub async fn get_manifest(&self, repo: &str, reference: &str) -> Option<(Vec<u8>, String)> {
        let r = self
            .req(
                reqwest::Method::GET,
                format!("{}/v2/{repo}/manifests/{reference}", self.base),
            )
            .header("accept", ACCEPT)
            .send()
            .await
            .expect("GET manifest");
        if r.status().as_u16() == 404 {
            return None;
        }
        assert_eq!(r.status().as_u16(), 200, "GET manifest {repo}:{reference}");
        let ct = r.headers()["content-type"]
            .to_str()
            .expect("ct")
            .to_string();
        Some((r.bytes().await.expect("body").to_vec(), ct))
    }

    pub async fn get_blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        let r = self
            .req(
                reqwest::Method::GET,
                format!("{}/v2/{repo}/blobs/{digest}", self.base),
            )
            .send()
            .await
            .expect("GET blob");
        assert_eq!(r.status().as_u16(), 200, "GET blob {repo}@{digest}");
        r.bytes().await.expect("blob body").to_vec()
    }

    /// Reads `repo:reference` and everything it names, checking every digest and
    /// size; returns the manifest digests and the blob digests seen.
    pub async fn verify_tree(
        &self,
        repo: &str,
        reference: &str,
        expected: &str,
    ) -> (Vec<String>, Vec<String>) {
        let mut manifests = Vec::new();
        let mut blobs = Vec::new();
        let mut queue = vec![(reference.to_string(), expected.to_string())];
        while let Some((reference, expected)) = queue.pop() {
            let (bytes, ct) = self
                .get_manifest(repo, &reference)
                .await
                .unwrap_or_else(|| panic!("{repo}:{reference} is missing at the destination"));
            assert_eq!(sha256(&bytes), expected, "digest of {repo}:{reference}");
            manifests.push(expected.clone());
            let v: Value = serde_json::from_slice(&bytes).expect("manifest JSON");
            let declared = v["mediaType"].as_str().unwrap_or(&ct).to_string();
            assert_eq!(
                ct.split(';').next().unwrap_or(&ct),
                declared,
                "content type of {repo}:{reference}"
            );
            if let Some(list) = v["manifests"].as_array() {
                for m in list {
                    let d = m["digest"].as_str().expect("digest").to_string();
                    queue.push((d.clone(), d));
                }
            } else {
                let mut descs = vec![v["config"].clone()];
                descs.extend(v["layers"].as_array().expect("layers").iter().cloned());
                for d in descs {
                    let digest = d["digest"].as_str().expect("digest");
                    let body = self.get_blob(repo, digest).await;
                    assert_eq!(sha256(&body), digest, "blob {digest}");
                    assert_eq!(
                        body.len() as u64,
                        d["size"].as_u64().expect("size"),
                        "size of {digest}"
                    );
                    blobs.push(digest.to_string());
                }
            }
        }
        (manifests, blobs)
    }
}
