//! `state migrate`: copy a stack's state to another backend, lineage and serial
//! included, under both backends' locks; never over a different state.

use fedstack_core::stack::{
    normalize_key_prefix, s3_bucket_problem, DesiredStack, S3StateConfig, StateBackendConfig,
    DEFAULT_LOCK_TTL,
};

use crate::args::{BackendKind, MigrateArgs};
use crate::context::{backend_for, Context};
use crate::error::CliError;
use crate::terminal::outln;

pub fn run(ctx: &Context, stack: &DesiredStack, a: MigrateArgs) -> Result<u8, CliError> {
    let (config, dir) = destination(ctx, &a)?;
    let source = ctx.backend(stack)?;
    let target = backend_for(&config, &dir, &stack.name)?;
    if source.location() == target.location() {
        return Err(CliError::new(format!(
            "the state of stack {:?} is already in {}",
            stack.name,
            target.location()
        ))
        .hint("name another destination"));
    }
    let source_lock = ctx.lock(source.as_ref(), "state migrate", a.lock.lock_timeout)?;
    let target_lock = ctx.lock(target.as_ref(), "state migrate", a.lock.lock_timeout)?;
    let from = source.load()?;
    for w in &from.warnings {
        ctx.warn(w);
    }
    if from.is_new {
        return Err(CliError::new(format!(
            "stack {:?} has no state in {} to migrate",
            stack.name,
            source.location()
        ))
        .hint("check -f and the stack's `state:` section (or --state-dir)"));
    }
    let from = from.snapshot;
    let there = target.load()?;
    if !there.is_new {
        let there = there.snapshot;
        if there.lineage != from.lineage {
            return Err(CliError::new(format!(
                "{} already holds another state of stack {:?} (lineage {}, serial {}; this one is lineage {}); refusing to overwrite it",
                target.location(), stack.name, there.lineage, there.serial, from.lineage
            ))
            .hint("migrate to another key prefix or directory, or remove that state first if it is not needed"));
        }
        if there.serial > from.serial {
            return Err(CliError::new(format!(
                "{} holds a newer copy of this state (serial {} > {}); refusing to go back",
                target.location(),
                there.serial,
                from.serial
            ))
            .hint("point the stack's `state:` section at it instead"));
        }
        if there == from {
            outln!(
                "{} already holds this state (lineage {}, serial {}): nothing to copy.",
                target.location(),
                from.lineage,
                from.serial
            )?;
            return Ok(0);
        }
    }
    let (mut writer, warnings) = target.open_writer(&target_lock)?;
    for w in &warnings {
        ctx.warn(w);
    }
    writer.replace(from.clone())?;
    drop(writer);
    target_lock.release()?;
    source_lock.release()?;
    outln!(
        "Copied the state of stack {:?} (lineage {}, serial {}, {} resources) from {} to {}; the original is left as it was.",
        stack.name,
        from.lineage,
        from.serial,
        from.resources.len(),
        source.location(),
        target.location()
    )?;
    outln!("Next: {}", next_step(&config))?;
    Ok(0)
}

/// The destination backend and the local directory (for `--to-backend local`).
fn destination(
    ctx: &Context,
    a: &MigrateArgs,
) -> Result<(StateBackendConfig, std::path::PathBuf), CliError> {
    let dir = a
        .to_state_dir
        .clone()
        .unwrap_or_else(|| ctx.state_dir.clone());
    match a.to_backend {
        BackendKind::Local => {
            if a.bucket.is_some() || a.endpoint_url.is_some() || a.region.is_some() {
                return Err(CliError::new(
                    "--bucket, --region and --endpoint-url are for --to-backend s3",
                )
                .hint("for a local copy give --to-state-dir DIR"));
            }
            Ok((StateBackendConfig::Local, dir))
        }
        BackendKind::S3 => {
            let Some(bucket) = a.bucket.clone() else {
                return Err(CliError::new("--to-backend s3 needs --bucket")
                    .hint("e.g. --bucket acme-fedstack-state --region eu-west-1"));
            };
            if let Some(problem) = s3_bucket_problem(&bucket) {
                return Err(CliError::new(format!("--bucket {bucket:?}: {problem}")));
            }
            let key_prefix = normalize_key_prefix(&a.key_prefix).map_err(|problem| {
                CliError::new(format!("--key-prefix {:?}: {problem}", a.key_prefix))
            })?;
            if let Some(url) = &a.endpoint_url {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(CliError::new(format!(
                        "--endpoint-url {url:?} is not an http:// or https:// URL"
                    )));
                }
            }
            Ok((
                StateBackendConfig::S3(S3StateConfig {
                    bucket,
                    key_prefix,
                    region: a.region.clone(),
                    endpoint_url: a.endpoint_url.clone(),
                    profile: a.profile.clone(),
                    lock_ttl: DEFAULT_LOCK_TTL,
                }),
                dir,
            ))
        }
    }
}

/// What to write in the stack file so that it uses the copy.
fn next_step(config: &StateBackendConfig) -> String {
    match config {
        StateBackendConfig::Local => {
            "remove the stack's `state:` section (or write `state: { backend: local }`) and pass the same --state-dir".to_string()
        }
        StateBackendConfig::S3(s3) => {
            let mut fields = vec!["backend: s3".to_string(), format!("bucket: {}", s3.bucket)];
            if !s3.key_prefix.is_empty() {
                fields.push(format!("key_prefix: {}", s3.key_prefix));
            }
            if let Some(r) = &s3.region {
                fields.push(format!("region: {r}"));
            }
            if let Some(u) = &s3.endpoint_url {
                fields.push(format!("endpoint_url: {u}"));
            }
            if let Some(p) = &s3.profile {
                fields.push(format!("profile: {p}"));
            }
            format!("set `state: {{ {} }}` in the stack file", fields.join(", "))
        }
    }
}
