//! The Distribution spec requests the engine makes, one function each, over
//! [`Endpoint`]. Manifests travel as bytes and are checked against their digest on
//! the way in (GET) and out (PUT's Docker-Content-Digest).

use bytes::Bytes;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, Response, StatusCode};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::http::{hv, Endpoint, Req};
use crate::media::MANIFEST_ACCEPT;

pub(crate) fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

pub(crate) fn push_scope(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

/// A mount needs push on the destination and pull on the source repository.
pub(crate) fn mount_scope(repo: &str, from: &str) -> String {
    format!("{} {}", push_scope(repo), pull_scope(from))
}

/// Manifests larger than this are refused (distribution's own limit is 4 MiB), so a
/// broken registry cannot make us buffer without bound.
const MAX_MANIFEST: usize = 4 << 20;

const DIGEST_HEADER: &str = "docker-content-digest";

fn header_digest(resp: &Response) -> Option<Digest> {
    resp.headers()
        .get(DIGEST_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Digest::parse(v.trim()).ok())
}

fn content_type(resp: &Response) -> Option<String> {
    resp.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A manifest as a registry holds it.
pub(crate) struct Fetched {
    pub bytes: Bytes,
    pub content_type: Option<String>,
    pub digest: Digest,
}

/// What a mount request did.
pub(crate) enum Mount {
    Mounted,
    /// The registry could not mount (e.g. the source repository lacks the blob) and
    /// opened an upload instead (distribution does this).
    Upload(String),
    /// Refused outright: upload as if we had not asked.
    Refused,
}

/// What HEAD of a manifest says.
pub(crate) struct Head {
    pub digest: Digest,
    pub content_type: Option<String>,
}

impl Endpoint {
    async fn expect(&self, req: &Req, resp: Response, ok: &[StatusCode]) -> Result<Response> {
        if ok.contains(&resp.status()) {
            Ok(resp)
        } else if resp.status() == StatusCode::NOT_FOUND {
            Err(Error::NotFound {
                registry: self.host().to_string(),
                path: Endpoint::path_of(&req.target),
            })
        } else {
            Err(self.status_error(&req.method, &req.target, resp, 1).await)
        }
    }

    /// HEAD `/v2/<repo>/manifests/<reference>`; `None` if there is no such manifest.
    /// A registry that sends no Docker-Content-Digest costs a GET instead.
    pub async fn head_manifest(&self, repo: &str, reference: &str) -> Result<Option<Head>> {
        let req = Req::new(
            Method::HEAD,
            format!("/v2/{repo}/manifests/{reference}"),
            pull_scope(repo),
        )
        .header(ACCEPT, MANIFEST_ACCEPT);
        let resp = self.send(&req).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = self.expect(&req, resp, &[StatusCode::OK]).await?;
        match header_digest(&resp) {
            Some(digest) => Ok(Some(Head {
                digest,
                content_type: content_type(&resp),
            })),
            None => Ok(Some(self.get_manifest(repo, reference).await.map(|f| {
                Head {
                    digest: f.digest,
                    content_type: f.content_type,
                }
            })?)),
        }
    }

    /// GET a manifest's bytes; their sha256 must match the reference if it is a
    /// digest, and the registry's Docker-Content-Digest if it sends one.
    pub async fn get_manifest(&self, repo: &str, reference: &str) -> Result<Fetched> {
        let req = Req::new(
            Method::GET,
            format!("/v2/{repo}/manifests/{reference}"),
            pull_scope(repo),
        )
        .header(ACCEPT, MANIFEST_ACCEPT);
        let resp = self.send(&req).await?;
        let resp = self.expect(&req, resp, &[StatusCode::OK]).await?;
        let announced = header_digest(&resp);
        let ct = content_type(&resp);
        let what = format!("manifest {}/{repo}:{reference}", self.host());
        let mut resp = resp;
        let mut buf = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.transport_error(&req.method, &req.target, &e, 1))?
        {
            buf.extend_from_slice(&chunk);
            if buf.len() > MAX_MANIFEST {
                return Err(Error::invalid_manifest(what, "larger than 4 MiB"));
            }
        }
        let bytes = Bytes::from(buf);
        let digest = Digest::of(&bytes);
        for expected in [Digest::parse(reference).ok(), announced]
            .into_iter()
            .flatten()
        {
            if expected != digest {
                return Err(Error::DigestMismatch {
                    what,
                    expected: expected.to_string(),
                    actual: digest.to_string(),
                });
            }
        }
        Ok(Fetched {
            bytes,
            content_type: ct,
            digest,
        })
    }

    /// PUT manifest bytes as they are; returns their digest after checking that the
    /// registry computed the same.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<Digest> {
        let digest = Digest::of(&bytes);
        let req = Req::new(
            Method::PUT,
            format!("/v2/{repo}/manifests/{reference}"),
            push_scope(repo),
        )
        .header(CONTENT_TYPE, media_type)
        .body(bytes);
        let resp = self.send(&req).await?;
        let resp = self
            .expect(&req, resp, &[StatusCode::CREATED, StatusCode::OK])
            .await?;
        if let Some(d) = header_digest(&resp) {
            if d != digest {
                return Err(Error::DigestMismatch {
                    what: format!("manifest pushed to {}/{repo}:{reference}", self.host()),
                    expected: digest.to_string(),
                    actual: d.to_string(),
                });
            }
        }
        Ok(digest)
    }

    /// HEAD a blob: does the repository have it?
    pub async fn has_blob(&self, repo: &str, digest: &Digest) -> Result<bool> {
        let req = Req::new(
            Method::HEAD,
            format!("/v2/{repo}/blobs/{digest}"),
            pull_scope(repo),
        );
        let resp = self.send(&req).await?;
        match resp.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.status_error(&req.method, &req.target, resp, 1).await),
        }
    }

    /// GET a blob: the response, to stream its body.
    pub async fn get_blob(&self, repo: &str, digest: &Digest) -> Result<Response> {
        let req = Req::new(
            Method::GET,
            format!("/v2/{repo}/blobs/{digest}"),
            pull_scope(repo),
        );
        let resp = self.send(&req).await?;
        self.expect(&req, resp, &[StatusCode::OK]).await
    }

    /// POST a cross-repository mount.
    pub async fn mount_blob(&self, repo: &str, digest: &Digest, from: &str) -> Result<Mount> {
        let scope = mount_scope(repo, from);
        let req = Req::new(
            Method::POST,
            format!("/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"),
            scope,
        )
        .header(CONTENT_LENGTH, "0");
        let resp = self.send(&req).await?;
        match resp.status() {
            StatusCode::CREATED => Ok(Mount::Mounted),
            StatusCode::ACCEPTED => Ok(Mount::Upload(self.location(&req, &resp)?)),
            // Registries that do not do mounts, or not between these repositories
            // (403 or 404 or 405 from some clouds' registries), still take uploads.
            _ => Ok(Mount::Refused),
        }
    }

    /// POST an upload session; its Location.
    pub async fn start_upload(&self, repo: &str) -> Result<String> {
        let req = Req::new(
            Method::POST,
            format!("/v2/{repo}/blobs/uploads/"),
            push_scope(repo),
        )
        .header(CONTENT_LENGTH, "0");
        let resp = self.send(&req).await?;
        let resp = self.expect(&req, resp, &[StatusCode::ACCEPTED]).await?;
        self.location(&req, &resp)
    }

    fn location(&self, req: &Req, resp: &Response) -> Result<String> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::Status {
                method: req.method.to_string(),
                registry: self.host().to_string(),
                path: Endpoint::path_of(&req.target),
                status: resp.status().as_u16(),
                detail: ": no Location header for the upload".into(),
            })?;
        Ok(self.url(loc))
    }

    /// PUT the whole blob to an upload `location` (a monolithic upload: one request,
    /// the body streamed); Content-Length is the descriptor's size.
    pub async fn finish_upload(
        &self,
        scope: &str,
        location: &str,
        digest: &Digest,
        size: u64,
        body: reqwest::Body,
    ) -> Result<()> {
        let sep = if location.contains('?') { '&' } else { '?' };
        let target = format!("{location}{sep}digest={digest}");
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/octet-stream"),
        );
        if let Some(v) = hv(&size.to_string()) {
            headers.insert(CONTENT_LENGTH, v);
        }
        let resp = self
            .send_once(Method::PUT, &target, scope, headers, body)
            .await?;
        if resp.status() == StatusCode::CREATED {
            return Ok(());
        }
        Err(self.status_error(&Method::PUT, &target, resp, 1).await)
    }

    /// Best effort: tell the registry to drop a failed upload session (it would
    /// expire anyway).
    pub async fn cancel_upload(&self, repo: &str, location: &str) {
        let req = Req::new(Method::DELETE, location.to_string(), push_scope(repo));
        let _ = self.send(&req).await;
    }

    /// DELETE `/v2/<repo>/manifests/<digest>`: the status and registry error code.
    pub async fn delete_manifest(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<(StatusCode, Option<String>)> {
        let req = Req::new(
            Method::DELETE,
            format!("/v2/{repo}/manifests/{digest}"),
            format!("repository:{repo}:delete"),
        );
        let resp = self.send(&req).await?;
        let status = resp.status();
        if status.is_success() {
            return Ok((status, None));
        }
        let body = resp.bytes().await.unwrap_or_default();
        let code = serde_json::from_slice::<serde_json::Value>(&body[..body.len().min(4096)])
            .ok()
            .and_then(|v| {
                v.get("errors")?
                    .get(0)?
                    .get("code")?
                    .as_str()
                    .map(str::to_string)
            });
        Ok((status, code))
    }
}
