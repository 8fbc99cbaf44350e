//! Object calls with the retries and conditions the backend is built on. Every call
//! is retried on transient failures (5xx, SlowDown, dropped connections); a
//! conditional write that was retried may find its own first attempt already landed,
//! which the callers recognise by content.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::errors::{classify, Class, S3StateError};

/// Attempts per call before giving up on transient failures.
const MAX_ATTEMPTS: u32 = 8;
/// First retry delay, doubled per attempt up to [`MAX_DELAY`].
const BASE_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(2);

/// One bucket, reached through one client.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    pub client: aws_sdk_s3::Client,
    pub name: String,
    pub region: String,
}

/// An object as read.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub bytes: Vec<u8>,
    pub etag: String,
    pub metadata: HashMap<String, String>,
}

/// The precondition of a write.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Condition<'a> {
    /// Only if no object has the key (`If-None-Match: *`).
    Absent,
    /// Only if the object still has this ETag (`If-Match`).
    Unchanged(&'a str),
}

/// The outcome of a conditional call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome<T> {
    Done(T),
    /// 412: the condition did not hold.
    Refused,
    /// 404: no such object.
    Missing,
}

impl Bucket {
    /// `s3://bucket/key`.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.name)
    }

    pub async fn get(&self, key: &str) -> Result<Option<Object>, S3StateError> {
        let out = self
            .call("read", key, || {
                self.client.get_object().bucket(&self.name).key(key).send()
            })
            .await?;
        let Outcome::Done(out) = out else {
            return Ok(None);
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let metadata = out.metadata().cloned().unwrap_or_default();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| S3StateError::Failed {
                action: "read",
                location: self.url(key),
                reason: format!("the connection failed while reading the object ({e})"),
                gave_up: false,
            })?
            .into_bytes()
            .to_vec();
        Ok(Some(Object {
            bytes,
            etag,
            metadata,
        }))
    }

    /// Writes `bytes` under `key` if `condition` holds; returns the new ETag.
    pub async fn put(
        &self,
        key: &str,
        bytes: &[u8],
        condition: Condition<'_>,
        metadata: &[(&str, String)],
    ) -> Result<Outcome<String>, S3StateError> {
        let out = self
            .call("write", key, || {
                let mut req = self
                    .client
                    .put_object()
                    .bucket(&self.name)
                    .key(key)
                    .content_type("application/json")
                    .body(ByteStream::from(bytes.to_vec()));
                req = match condition {
                    Condition::Absent => req.if_none_match("*"),
                    Condition::Unchanged(etag) => req.if_match(etag),
                };
                for (k, v) in metadata {
                    req = req.metadata(*k, header_safe(v));
                }
                req.send()
            })
            .await?;
        Ok(match out {
            Outcome::Done(o) => Outcome::Done(o.e_tag().unwrap_or_default().to_string()),
            Outcome::Refused => Outcome::Refused,
            Outcome::Missing => Outcome::Missing,
        })
    }

    /// Deletes `key` if it still has `etag`.
    pub async fn delete_if(&self, key: &str, etag: &str) -> Result<Outcome<()>, S3StateError> {
        let out = self
            .call("delete", key, || {
                self.client
                    .delete_object()
                    .bucket(&self.name)
                    .key(key)
                    .if_match(etag)
                    .send()
            })
            .await?;
        Ok(match out {
            Outcome::Done(_) => Outcome::Done(()),
            Outcome::Refused => Outcome::Refused,
            Outcome::Missing => Outcome::Missing,
        })
    }

    /// Deletes `keys` (at most 1,000 a call). Missing ones are fine.
    pub async fn delete_all(&self, keys: &[String]) -> Result<(), S3StateError> {
        for chunk in keys.chunks(1000) {
            let objects: Vec<ObjectIdentifier> = chunk
                .iter()
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            let Ok(delete) = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
            else {
                continue;
            };
            let first = chunk.first().map(String::as_str).unwrap_or_default();
            let out = self
                .call("delete", first, || {
                    self.client
                        .delete_objects()
                        .bucket(&self.name)
                        .delete(delete.clone())
                        .send()
                })
                .await?;
            if let Outcome::Done(out) = out {
                if let Some(e) = out.errors().first() {
                    return Err(S3StateError::Failed {
                        action: "delete",
                        location: self.url(e.key().unwrap_or(first)),
                        reason: e.message().unwrap_or("refused").to_string(),
                        gave_up: false,
                    });
                }
            }
        }
        Ok(())
    }

    /// Every key under `prefix`, sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, S3StateError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .call("list", prefix, || {
                    self.client
                        .list_objects_v2()
                        .bucket(&self.name)
                        .prefix(prefix)
                        .set_continuation_token(token.clone())
                        .send()
                })
                .await?;
            let Outcome::Done(out) = out else {
                break;
            };
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// The bucket's versioning status: `Enabled`, `Suspended`, `never enabled`, or
    /// `None` when the store answered in a form the SDK cannot read (moto 5.2.5 names
    /// the answer's root element `GetBucketVersioningResponse`; S3 says
    /// `VersioningConfiguration`).
    pub async fn versioning(&self) -> Result<Option<String>, S3StateError> {
        let unreadable = std::sync::atomic::AtomicBool::new(false);
        let out = self
            .call("check the versioning of", "", || async {
                let r = self
                    .client
                    .get_bucket_versioning()
                    .bucket(&self.name)
                    .send()
                    .await;
                if let Err(SdkError::ServiceError(e)) = &r {
                    if e.raw().status().as_u16() == 200 {
                        unreadable.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                r
            })
            .await;
        if unreadable.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(None);
        }
        Ok(Some(match out? {
            Outcome::Done(o) => o
                .status()
                .map_or_else(|| "never enabled".to_string(), |s| s.as_str().to_string()),
            _ => "never enabled".to_string(),
        }))
    }

    /// Runs `send` with retries; 412 and 404 are outcomes, the rest errors.
    async fn call<T, E, F, Fut>(
        &self,
        action: &'static str,
        key: &str,
        mut send: F,
    ) -> Result<Outcome<T>, S3StateError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let mut attempt = 1;
        loop {
            let err = match send().await {
                Ok(v) => return Ok(Outcome::Done(v)),
                Err(e) => e,
            };
            match classify(&err) {
                Class::Precondition => return Ok(Outcome::Refused),
                Class::Missing => return Ok(Outcome::Missing),
                Class::NoSuchBucket => {
                    return Err(S3StateError::NoSuchBucket {
                        bucket: self.name.clone(),
                        region: self.region.clone(),
                    })
                }
                Class::AccessDenied(reason) => {
                    return Err(S3StateError::AccessDenied {
                        action,
                        location: self.url(key),
                        reason,
                    })
                }
                Class::Transient(reason) => {
                    if attempt >= MAX_ATTEMPTS {
                        return Err(S3StateError::Failed {
                            action,
                            location: self.url(key),
                            reason,
                            gave_up: true,
                        });
                    }
                    tokio::time::sleep(delay(attempt)).await;
                    attempt += 1;
                }
                Class::Permanent(reason) => {
                    return Err(S3StateError::Failed {
                        action,
                        location: self.url(key),
                        reason,
                        gave_up: false,
                    })
                }
            }
        }
    }
}

/// The wait before attempt `attempt + 1`: doubling, capped, with up to 25 % jitter so
/// that two runs retrying together do not stay in step.
fn delay(attempt: u32) -> Duration {
    let base = BASE_DELAY
        .saturating_mul(1 << attempt.saturating_sub(1).min(8))
        .min(MAX_DELAY);
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) * base.as_millis() as u64 / 1024;
    base + Duration::from_millis(jitter)
}

/// User metadata travels as an HTTP header: ASCII printable only.
fn header_safe(v: &str) -> String {
    v.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}
