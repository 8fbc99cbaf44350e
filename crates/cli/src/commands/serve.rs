//! `serve --webhook`: the non-production pipeline calls production. A signed request
//! (see [`crate::webhook`]) names an image of the stack and a tag; fedstack sets that tag
//! as the image's source for this run and applies the image's copies and everything that
//! depends on them (the workloads that deploy it by digest), as `apply --auto-approve
//! --target ...` would. One apply at a time, in arrival order; the answer says how it went.
//!
//! The HTTP side (hyper, HTTP/1.1, one small JSON body per request) runs on its own
//! thread; the applies run on this one, so they are the same code path as `apply`.
//! Plain HTTP: put TLS in front (a reverse proxy or a service mesh) when it leaves the
//! machine.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{SystemTime, UNIX_EPOCH};

use fedstack_core::address::{Address, ResourceKind};
use fedstack_core::stack::DesiredStack;
use fedstack_core::value::Expr;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Request, Response};
use serde_json::{json, Value};

use crate::args::{LockArgs, RunArgs, Selection, ServeArgs};
use crate::context::Context;
use crate::error::CliError;
use crate::terminal::{errln, outln};
use crate::webhook::{
    Deliveries, Promotion, Verifier, MAX_BODY, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};

/// One request for the apply thread, and where its answer goes.
struct Job {
    timestamp: Option<String>,
    signature: Option<String>,
    body: Vec<u8>,
    reply: tokio::sync::oneshot::Sender<(u16, Value)>,
}

pub fn run(ctx: &Context, a: ServeArgs) -> Result<u8, CliError> {
    if !a.webhook {
        return Err(CliError::new("`fedstack serve` needs --webhook")
            .hint("fedstack serve --webhook --listen 127.0.0.1:8787 (the promotion webhook is what it serves)"));
    }
    let secret = std::env::var(&a.secret_env).unwrap_or_default();
    if secret.len() < 16 {
        return Err(CliError::new(format!(
            "the webhook secret ${} is {}",
            a.secret_env,
            if secret.is_empty() {
                "not set"
            } else {
                "shorter than 16 characters"
            }
        ))
        .hint(format!(
            "export {}=$(openssl rand -hex 32), and give the sender the same value",
            a.secret_env
        )));
    }
    let verifier = Verifier::new(secret.as_bytes(), a.max_age);
    // The stack must load now: a server that would refuse every request should not start.
    let stack = ctx.stack()?;
    let images = image_names(&stack);
    let record = ctx
        .state_dir
        .join(&stack.name)
        .join("webhook-deliveries.json");
    let mut deliveries = Deliveries::load(&record).map_err(CliError::new)?;

    let listener = std::net::TcpListener::bind(&a.listen).map_err(|e| {
        CliError::new(format!("cannot listen on {}: {e}", a.listen))
            .hint("pass another address with --listen, e.g. 127.0.0.1:0 for any free port")
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::new(format!("cannot read the listening address: {e}")))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| CliError::new(format!("cannot listen on {local}: {e}")))?;
    let (jobs, incoming) = mpsc::channel::<Job>();
    std::thread::spawn(move || serve_http(listener, jobs));
    outln!(
        "fedstack: webhook for stack {} listening on http://{local}/webhook (images: {})",
        stack.name,
        if images.is_empty() {
            "none".to_string()
        } else {
            images.join(", ")
        }
    )?;

    let run = RunArgs {
        auto_approve: true,
        parallelism: a.parallelism,
        lock: LockArgs {
            lock_timeout: a.lock_timeout,
        },
    };
    for job in incoming {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let answer = match verifier.verify(
            job.timestamp.as_deref(),
            job.signature.as_deref(),
            &job.body,
            now,
        ) {
            Err(r) => {
                errln!("fedstack: webhook: refused ({}): {}", r.status, r.message);
                (r.status, json!({"status": "refused", "error": r.message}))
            }
            Ok(p) if deliveries.seen(&p.id) => {
                let message = format!("delivery {} was already acted on (a replay)", p.id);
                errln!("fedstack: webhook: refused (409): {message}");
                (409, json!({"status": "refused", "error": message}))
            }
            Ok(p) => promote(ctx, &run, &p, now, a.max_age, &mut deliveries),
        };
        // The sender may have gone; the apply's outcome is in the log either way.
        let _ = job.reply.send(answer);
    }
    Ok(0)
}

/// Applies the promotion `p`; the HTTP status and body to answer with.
fn promote(
    ctx: &Context,
    run: &RunArgs,
    p: &Promotion,
    now: u64,
    max_age: std::time::Duration,
    deliveries: &mut Deliveries,
) -> (u16, Value) {
    let fail = |status: u16, message: String| {
        errln!("fedstack: webhook: {message}");
        (status, json!({"status": "failed", "error": message}))
    };
    // The stack as it is now: the file may have changed since the server started.
    let mut stack = match ctx.stack() {
        Ok(s) => s,
        Err(e) => return fail(500, format!("the stack does not load: {e}")),
    };
    let copies = match retag(&mut stack, &p.image, &p.tag) {
        Ok(c) => c,
        Err(message) => {
            errln!("fedstack: webhook: refused (404): {message}");
            return (404, json!({"status": "refused", "error": message}));
        }
    };
    let targets = with_dependents(&stack, &copies);
    errln!(
        "fedstack: webhook: delivery {}: {} -> tag {}; applying {}",
        p.id,
        p.image,
        p.tag,
        targets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let selection = Selection {
        targets: targets.iter().map(ToString::to_string).collect(),
        excludes: Vec::new(),
    };
    match super::apply::apply_stack(ctx, stack, &selection, run) {
        Ok(0) => {
            if let Err(e) = deliveries.record(&p.id, now, max_age) {
                errln!("fedstack: webhook: applied, but the delivery was not recorded: {e}");
            }
            (
                200,
                json!({
                    "status": "applied",
                    "image": p.image,
                    "tag": p.tag,
                    "applied": targets.iter().map(ToString::to_string).collect::<Vec<_>>(),
                }),
            )
        }
        Ok(code) => fail(
            500,
            format!(
                "the apply for delivery {} did not finish (exit {code}); the server's log says why",
                p.id
            ),
        ),
        Err(e) => fail(500, format!("the apply for delivery {} failed: {e}", p.id)),
    }
}

fn image_names(stack: &DesiredStack) -> Vec<String> {
    let names: BTreeSet<String> = stack
        .resources
        .iter()
        .filter(|r| r.address.kind == ResourceKind::Image)
        .filter_map(|r| r.address.name.split_once('.').map(|(n, _)| n.to_string()))
        .collect();
    names.into_iter().collect()
}

/// Sets `tag` as the source (and so the destination) tag of every copy of `image`;
/// returns their addresses.
fn retag(stack: &mut DesiredStack, image: &str, tag: &str) -> Result<Vec<Address>, String> {
    let names = image_names(stack);
    let mut copies = Vec::new();
    for r in &mut stack.resources {
        let ours = r.address.kind == ResourceKind::Image
            && r.address.name.split_once('.').map(|(n, _)| n) == Some(image);
        if !ours {
            continue;
        }
        for key in ["source", "destination"] {
            if let Some(Expr::Literal(Value::String(s))) = r.attrs.get(key) {
                let retagged = with_tag(s, tag);
                r.attrs.insert(key.to_string(), Expr::lit(retagged));
            }
        }
        copies.push(r.address.clone());
    }
    if copies.is_empty() {
        let declared = if names.is_empty() {
            "the stack declares no images".to_string()
        } else {
            format!("its images: {}", names.join(", "))
        };
        return Err(format!(
            "the stack declares no image `{image}` ({declared})"
        ));
    }
    Ok(copies)
}

/// `host/repo:tag` or `host/repo@sha256:...` with `tag` instead.
fn with_tag(reference: &str, tag: &str) -> String {
    let name_end = reference.rfind('/').map_or(0, |i| i + 1);
    let (head, tail) = reference.split_at(name_end);
    let repo = tail.split(['@', ':']).next().unwrap_or(tail);
    format!("{head}{repo}:{tag}")
}

/// `roots` and everything that depends on them, directly or not.
fn with_dependents(stack: &DesiredStack, roots: &[Address]) -> Vec<Address> {
    let mut chosen: BTreeSet<Address> = roots.iter().cloned().collect();
    loop {
        let more: Vec<Address> = stack
            .resources
            .iter()
            .filter(|r| !chosen.contains(&r.address))
            .filter(|r| r.depends_on.iter().any(|d| chosen.contains(d)))
            .map(|r| r.address.clone())
            .collect();
        if more.is_empty() {
            return chosen.into_iter().collect();
        }
        chosen.extend(more);
    }
}

/// Accepts connections and hands each request to the apply thread.
fn serve_http(listener: std::net::TcpListener, jobs: mpsc::Sender<Job>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("fedstack: webhook: cannot start the HTTP server: {e}");
            return;
        }
    };
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                errln!("fedstack: webhook: cannot listen: {e}");
                return;
            }
        };
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(_) => continue,
            };
            let jobs = jobs.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let jobs = jobs.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(req, jobs, peer).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    jobs: mpsc::Sender<Job>,
    _peer: SocketAddr,
) -> Response<Full<Bytes>> {
    if req.uri().path() != "/webhook" {
        return answer(
            404,
            json!({"status": "refused", "error": "the webhook is at /webhook"}),
        );
    }
    if req.method() != hyper::Method::POST {
        return answer(
            405,
            json!({"status": "refused", "error": "the webhook takes POST"}),
        );
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (timestamp, signature) = (header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER));
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => {
            return answer(
                413,
                json!({"status": "refused", "error": format!("the body is larger than {MAX_BODY} bytes or was cut off")}),
            )
        }
    };
    let (reply, answered) = tokio::sync::oneshot::channel();
    let job = Job {
        timestamp,
        signature,
        body,
        reply,
    };
    if jobs.send(job).is_err() {
        return answer(
            503,
            json!({"status": "failed", "error": "the server is stopping"}),
        );
    }
    match answered.await {
        Ok((status, body)) => answer(status, body),
        Err(_) => answer(
            500,
            json!({"status": "failed", "error": "the apply ended without an answer"}),
        ),
    }
}

fn answer(status: u16, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(format!("{body}\n"))));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_tag_replaces_the_old_tag_or_digest() {
        assert_eq!(
            with_tag("127.0.0.1:5000/shop:1.4.2", "1.4.3"),
            "127.0.0.1:5000/shop:1.4.3"
        );
        assert_eq!(
            with_tag("r.example/team/shop@sha256:ab", "2"),
            "r.example/team/shop:2"
        );
    }
}
