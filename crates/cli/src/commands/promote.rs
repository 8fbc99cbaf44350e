//! `fedstack promote SRC DST`: one image copy, now, as `skopeo copy` does -- the
//! imperative twin of a stack's `images:`. The same engine (`fedstack-registry`) and
//! the same credential lookups as the `registry` provider; no stack, no state.

use fedstack_provider_registry::config::{CredentialSource, ProcessEnv, RegistrySettings};
use fedstack_registry::{Copier, CopyOptions, CopyReport, ImageRef, PlatformFilter};
use serde_json::json;

use crate::args::PromoteArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::terminal::outln;

/// One side's flags, whichever side.
struct Side<'a> {
    flag: &'static str,
    creds_env: Option<&'a str>,
    username_env: Option<&'a str>,
    password_env: Option<&'a str>,
    token_env: Option<&'a str>,
    docker_config: Option<&'a str>,
    insecure: bool,
    ca_file: Option<&'a str>,
}

pub fn run(ctx: &Context, a: PromoteArgs) -> Result<u8, CliError> {
    let src_side = Side {
        flag: "src",
        creds_env: a.src.src_creds_env.as_deref(),
        username_env: a.src.src_username_env.as_deref(),
        password_env: a.src.src_password_env.as_deref(),
        token_env: a.src.src_token_env.as_deref(),
        docker_config: a.src.src_docker_config.as_deref(),
        insecure: a.src.src_insecure,
        ca_file: a.src.src_ca_file.as_deref(),
    };
    let dest_side = Side {
        flag: "dest",
        creds_env: a.dest.dest_creds_env.as_deref(),
        username_env: a.dest.dest_username_env.as_deref(),
        password_env: a.dest.dest_password_env.as_deref(),
        token_env: a.dest.dest_token_env.as_deref(),
        docker_config: a.dest.dest_docker_config.as_deref(),
        insecure: a.dest.dest_insecure,
        ca_file: a.dest.dest_ca_file.as_deref(),
    };
    let (src, src_http) = reference(&a.source, "SRC")?;
    let (dst, dst_http) = reference(&a.destination, "DST")?;
    let src_reg = settings(&src, src_http, &src_side)?;
    let dst_reg = settings(&dst, dst_http, &dest_side)?;
    let platforms = if a.platforms.is_empty() {
        PlatformFilter::All
    } else {
        PlatformFilter::parse(&a.platforms.join(",")).map_err(|e| CliError::new(e.to_string()))?
    };
    let mut registries = vec![src_reg.resolve(&ProcessEnv).map_err(one_line)?];
    // Both ends on one registry: the source's settings serve both (a copy within a
    // registry mounts blobs instead of sending them).
    if dst_reg.host != src_reg.host {
        registries.push(dst_reg.resolve(&ProcessEnv).map_err(one_line)?);
    }
    let opts = CopyOptions {
        platforms,
        ..CopyOptions::default()
    };
    let copier = Copier::new(registries, opts).map_err(|e| CliError::new(e.to_string()))?;
    let report = super::runtime()?
        .block_on(copier.copy(&src, &dst))
        .map_err(|e| CliError::new(e.to_string()))?;
    render(ctx, &src, &dst, &report)?;
    Ok(0)
}

fn one_line(e: fedstack_provider_registry::config::ConfigError) -> CliError {
    CliError::new(e.to_string())
}

/// `[http://|https://]HOST/REPO:TAG`; whether it said plain http.
fn reference(input: &str, what: &str) -> Result<(ImageRef, bool), CliError> {
    let (rest, http) = match input.strip_prefix("http://") {
        Some(r) => (r, true),
        None => (input.strip_prefix("https://").unwrap_or(input), false),
    };
    let r = ImageRef::parse(rest).map_err(|e| CliError::new(format!("{what}: {e}")))?;
    Ok((r, http))
}

fn settings(r: &ImageRef, http: bool, s: &Side) -> Result<RegistrySettings, CliError> {
    let f = s.flag;
    let mut kinds = Vec::new();
    if let Some(pair) = s.creds_env {
        let Some((u, p)) = pair.split_once(':') else {
            return Err(CliError::new(format!(
                "--{f}-creds-env `{pair}` is not USER_ENV:PASS_ENV"
            ))
            .hint(format!("e.g. --{f}-creds-env BUILD_USER:BUILD_TOKEN: the names of two env vars, not their values")));
        };
        kinds.push(CredentialSource::Basic {
            username_env: u.to_string(),
            password_env: p.to_string(),
        });
    }
    if let (Some(u), Some(p)) = (s.username_env, s.password_env) {
        kinds.push(CredentialSource::Basic {
            username_env: u.to_string(),
            password_env: p.to_string(),
        });
    }
    if let Some(t) = s.token_env {
        kinds.push(CredentialSource::Token {
            token_env: t.to_string(),
        });
    }
    if let Some(d) = s.docker_config {
        kinds.push(CredentialSource::DockerConfig {
            path: d.to_string(),
        });
    }
    if kinds.len() > 1 {
        return Err(CliError::new(format!(
            "more than one kind of credentials for the {}",
            if f == "src" { "source" } else { "destination" }
        ))
        .hint(format!("keep one of --{f}-creds-env, --{f}-username-env/--{f}-password-env, --{f}-token-env, --{f}-docker-config")));
    }
    Ok(RegistrySettings {
        host: r.registry.clone(),
        insecure_http: http || s.insecure,
        ca_file: s.ca_file.map(str::to_string),
        credentials: kinds.pop().unwrap_or(CredentialSource::Anonymous),
    })
}

fn render(ctx: &Context, src: &ImageRef, dst: &ImageRef, r: &CopyReport) -> Result<(), CliError> {
    if ctx.json {
        let rewritten = r.rewritten.as_ref().map(|rw| {
            json!({"source_digest": rw.source_digest.to_string(), "kept": rw.kept, "dropped": rw.dropped})
        });
        outln!(
            "{}",
            json!({
                "v": 1,
                "source": src.to_string(),
                "destination": dst.to_string(),
                "source_digest": r.source_digest.to_string(),
                "digest": r.destination_digest.to_string(),
                "media_type": r.media_type,
                "up_to_date": r.up_to_date,
                "blobs_copied": r.blobs_copied,
                "bytes_copied": r.bytes_copied,
                "blobs_mounted": r.blobs_mounted,
                "blobs_skipped": r.blobs_present,
                "manifests_pushed": r.manifests_pushed,
                "manifests_present": r.manifests_present,
                "rewritten": rewritten,
            })
        )?;
        return Ok(());
    }
    if r.up_to_date {
        outln!(
            "{} {dst} already is {}",
            ctx.style.green("Up to date:"),
            r.destination_digest
        )?;
        return Ok(());
    }
    outln!("{} {src} -> {dst}", ctx.style.green("Copied:"))?;
    outln!("  digest:    {}", r.destination_digest)?;
    outln!(
        "  blobs:     {} sent ({} bytes), {} mounted, {} skipped (already there)",
        r.blobs_copied,
        r.bytes_copied,
        r.blobs_mounted,
        r.blobs_present
    )?;
    outln!(
        "  manifests: {} pushed, {} already there",
        r.manifests_pushed,
        r.manifests_present
    )?;
    if let Some(rw) = &r.rewritten {
        outln!(
            "  rewritten: a new index of {} (dropped {}); the source's is {}",
            rw.kept.join(", "),
            rw.dropped.join(", "),
            rw.source_digest
        )?;
    }
    Ok(())
}
