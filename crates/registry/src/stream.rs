//! A blob's bytes on their way from the source's response to the destination's
//! request, hashed as they pass. When the descriptor's size is reached, the sha256
//! must be the descriptor's -- checked *before* the last chunk is handed on -- and
//! the stream may not end early nor run long; if any fails, the stream ends in an
//! error, so the destination never receives a complete wrong blob (the upload is
//! aborted, never committed), and the verdict is kept for the caller to report as a
//! digest mismatch (not as a network failure).
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
                // Checked before the last chunk goes out: with a Content-Length,
                // hyper ends the request once it has the last byte and would not ask
                // this stream for its end, so a wrong blob must never be complete.
                if this.seen == this.size {
                    if let Some(h) = this.hasher.take() {
                        let actual = Digest::from_hasher(h);
                        if actual != this.expected {
                            return this.fail(actual.to_string());
                        }
                    }
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(std::io::Error::other(e)))),
            Poll::Ready(None) => {
                let Some(h) = this.hasher.take() else {
                    return Poll::Ready(None); // checked with the last chunk
                };
                if this.seen != this.size {
                    return this.fail(format!(
                        "{} bytes, the descriptor says {}",
                        this.seen, this.size
                    ));
                }
                // Only an empty blob gets here: it had no last chunk.
                let actual = Digest::from_hasher(h);
                if actual != this.expected {
                    return this.fail(actual.to_string());
                }
                Poll::Ready(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    async fn run(
        chunks: &[&'static [u8]],
        expected: Digest,
        size: u64,
    ) -> (Vec<u8>, bool, Option<String>) {
        let inner = futures_util::stream::iter(
            chunks
                .iter()
                .map(|c| Ok(Bytes::from_static(c)))
                .collect::<Vec<_>>(),
        );
        let (mut s, verdict) = Verifying::new(Box::pin(inner), expected, size);
        let mut out = Vec::new();
        let mut failed = false;
        while let Some(item) = s.next().await {
            match item {
                Ok(b) => out.extend_from_slice(&b),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        let v = verdict.lock().expect("verdict").clone();
        (out, failed, v)
    }

    #[tokio::test]
    async fn passes_good_bytes_and_withholds_the_last_chunk_of_bad_ones() {
        let good = Digest::of(b"hello world");
        let (out, failed, v) = run(&[b"hello ", b"world"], good.clone(), 11).await;
        assert_eq!(
            (out.as_slice(), failed, v),
            (&b"hello world"[..], false, None)
        );
        let (out, failed, v) = run(&[b"hello ", b"worlD"], good.clone(), 11).await;
        assert_eq!(
            out, b"hello ",
            "the last chunk of a wrong blob is not handed on"
        );
        assert!(failed && v.is_some());
        let (_, failed, v) = run(&[b"hello "], good.clone(), 11).await;
        assert!(failed && v.expect("verdict").contains("6 bytes"));
        let (_, failed, _) = run(&[b"hello world!"], good, 11).await;
        assert!(failed);
        let (out, failed, v) = run(&[], Digest::of(b""), 0).await;
        assert!(
            out.is_empty() && !failed && v.is_none(),
            "an empty blob is fine"
        );
        let (_, failed, _) = run(&[], Digest::of(b"x"), 0).await;
        assert!(failed);
    }
}
