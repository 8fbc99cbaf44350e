//! A blob's bytes on their way from the source's response to the destination's
//! request, hashed as they pass. At the end of the source stream the sha256 and the
//! length must be the descriptor's; if not, the stream ends in an error, so the
//! upload is aborted before the registry could commit it, and the verdict is kept
//! for the caller to report as a digest mismatch (not as a network failure).
//! Memory: one chunk of the source response at a time (hyper's buffers).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use sha2::{Digest as _, Sha256};

use crate::digest::Digest;

type Inner = Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>;

/// Why a verified stream failed, if it did because of its content.
pub(crate) type Verdict = Arc<Mutex<Option<String>>>;

pub(crate) struct Verifying {
    inner: Inner,
    hasher: Option<Sha256>,
    seen: u64,
    expected: Digest,
    size: u64,
    verdict: Verdict,
}

impl Verifying {
    pub fn new(inner: Inner, expected: Digest, size: u64) -> (Verifying, Verdict) {
        let verdict = Verdict::default();
        let s = Verifying {
            inner,
            hasher: Some(Sha256::new()),
            seen: 0,
            expected,
            size,
            verdict: verdict.clone(),
        };
        (s, verdict)
    }

    fn fail(&self, why: String) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        if let Ok(mut v) = self.verdict.lock() {
            *v = Some(why.clone());
        }
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            why,
        ))))
    }
}

impl Stream for Verifying {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match this.inner.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                this.seen += chunk.len() as u64;
                if this.seen > this.size {
                    return this.fail(format!(
                        "more than the {} bytes of the descriptor",
                        this.size
                    ));
                }
                if let Some(h) = this.hasher.as_mut() {
                    h.update(&chunk);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(std::io::Error::other(e)))),
            Poll::Ready(None) => {
                let Some(h) = this.hasher.take() else {
                    return Poll::Ready(None);
                };
                if this.seen != this.size {
                    return this.fail(format!(
                        "{} bytes, the descriptor says {}",
                        this.seen, this.size
                    ));
                }
                let actual = Digest::from_hasher(h);
                if actual != this.expected {
                    return this.fail(actual.to_string());
                }
                Poll::Ready(None)
            }
        }
    }
}
