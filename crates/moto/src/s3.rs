//! S3 with the AWS SDK: the client configuration, and the helpers that read and write
//! moto directly (not through the proxy: nothing recorded, no faults).

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    VersioningConfiguration,
};

/// An S3 client configuration for `endpoint`: path-style, static test credentials,
/// plain HTTP (hyper, no TLS, no aws-lc), the SDK's defaults otherwise (retries,
/// request checksums).
pub(crate) fn config(endpoint: &str, region: &str) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .force_path_style(true)
}

fn client(endpoint: &str, region: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(config(endpoint, region).build())
}

fn err(what: &str, e: impl std::fmt::Debug) -> String {
    format!("{what}: {e:?}")
}

pub(crate) async fn create_bucket(
    endpoint: &str,
    bucket: &str,
    region: &str,
    versioning: bool,
) -> Result<(), String> {
    let s3 = client(endpoint, region);
    let mut req = s3.create_bucket().bucket(bucket);
    // Outside us-east-1 S3 (and moto) wants the region said again in the body.
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    req.send().await.map_err(|e| err("CreateBucket", e))?;
    if versioning {
        s3.put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| err("PutBucketVersioning", e))?;
    }
    Ok(())
}

/// The current objects under `prefix`, sorted by key.
pub(crate) async fn objects(
    endpoint: &str,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    // Any region: moto keeps one bucket namespace (as S3 does).
    let s3 = client(endpoint, "us-east-1");
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| err("ListObjectsV2", e))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
    }
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for key in keys {
        let got = s3
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| err(&format!("GetObject {key}"), e))?;
        let bytes = got
            .body
            .collect()
            .await
            .map_err(|e| err(&format!("GetObject {key} (body)"), e))?
            .into_bytes()
            .to_vec();
        out.push((key, bytes));
    }
    Ok(out)
}

/// Writes an object unconditionally; its ETag (quoted, as S3 sends it).
pub(crate) async fn put_object(
    endpoint: &str,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
) -> Result<String, String> {
    let s3 = client(endpoint, "us-east-1");
    let out = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(bytes.into())
        .send()
        .await
        .map_err(|e| err("PutObject", e))?;
    out.e_tag()
        .map(str::to_string)
        .ok_or_else(|| "PutObject: no ETag in the answer".to_string())
}
