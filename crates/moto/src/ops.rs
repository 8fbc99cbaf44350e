//! Naming the AWS operation of an HTTP request.

/// The AWS operation of a request: `service` from its signature scope, `target` the
/// request target (path and query), `body` the request body.
///
/// Query-protocol services (EC2, IAM, STS) name it in the body (`Action=`), the REST
/// ones (Route 53, EKS) by method and path. For S3, which also needs the query and the
/// headers, see [`operation_of_request`]; this is that function without headers.
pub fn operation_of(service: &str, method: &str, target: &str, body: &[u8]) -> String {
    operation_of_request(service, method, target, &[], body)
}

/// [`operation_of`] with the request headers, which S3 needs: `CopyObject` is a `PUT`
/// with `x-amz-copy-source`.
///
/// S3 is addressed path-style (`/bucket/key...`); the query string tells the
/// subresource (`?versioning`, `?versions`, `?list-type=2`, `?delete`, `?uploads`...).
pub fn operation_of_request(
    service: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> String {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if service == "s3" {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        };
        return s3_operation(method, path, query, header("x-amz-copy-source").is_some());
    }
    let body = String::from_utf8_lossy(body);
    if let Some(action) = body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
        return action.to_string();
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let op = match (service, method, segs.as_slice()) {
        ("route53", "POST", [_, "hostedzone", _, "rrset"]) => "ChangeResourceRecordSets",
        ("route53", "GET", [_, "hostedzone", _, "rrset"]) => "ListResourceRecordSets",
        ("route53", "POST", [_, "hostedzone"]) => "CreateHostedZone",
        ("route53", "GET", [_, "hostedzone"]) => "ListHostedZones",
        ("route53", "GET", [_, "hostedzonesbyname"]) => "ListHostedZonesByName",
        ("route53", "GET", [_, "hostedzone", _]) => "GetHostedZone",
        ("route53", "POST", [_, "hostedzone", _]) => "UpdateHostedZoneComment",
        ("route53", "DELETE", [_, "hostedzone", _]) => "DeleteHostedZone",
        ("route53", "POST", [_, "healthcheck"]) => "CreateHealthCheck",
        ("route53", "GET", [_, "healthcheck"]) => "ListHealthChecks",
        ("route53", "GET", [_, "healthcheck", _]) => "GetHealthCheck",
        ("route53", "POST", [_, "healthcheck", _]) => "UpdateHealthCheck",
        ("route53", "DELETE", [_, "healthcheck", _]) => "DeleteHealthCheck",
        ("route53", "GET", [_, "healthcheck", _, "status"]) => "GetHealthCheckStatus",
        ("route53", "GET", [_, "change", _]) => "GetChange",
        ("route53", "POST", [_, "tags", _, _]) => "ChangeTagsForResource",
        ("route53", "GET", [_, "tags", _, _]) => "ListTagsForResource",
        ("eks", "POST", ["clusters"]) => "CreateCluster",
        ("eks", "GET", ["clusters"]) => "ListClusters",
        ("eks", "GET", ["clusters", _]) => "DescribeCluster",
        ("eks", "DELETE", ["clusters", _]) => "DeleteCluster",
        ("eks", "POST", ["clusters", _, "update-config"]) => "UpdateClusterConfig",
        ("eks", "POST", ["clusters", _, "updates"]) => "UpdateClusterVersion",
        ("eks", "GET", ["clusters", _, "updates", _]) => "DescribeUpdate",
        ("eks", "POST", ["clusters", _, "node-groups"]) => "CreateNodegroup",
        ("eks", "GET", ["clusters", _, "node-groups"]) => "ListNodegroups",
        ("eks", "GET", ["clusters", _, "node-groups", _]) => "DescribeNodegroup",
        ("eks", "DELETE", ["clusters", _, "node-groups", _]) => "DeleteNodegroup",
        ("eks", "POST", ["clusters", _, "node-groups", _, "update-config"]) => {
            "UpdateNodegroupConfig"
        }
        ("eks", "POST", ["tags", ..]) => "TagResource",
        ("eks", "DELETE", ["tags", ..]) => "UntagResource",
        _ => return format!("{method} /{}", segs.first().copied().unwrap_or_default()),
    };
    op.to_string()
}

/// Bucket subresources: query key, then the operations of GET, PUT and DELETE.
const BUCKET_SUBRESOURCES: &[(&str, &str, &str, &str)] = &[
    (
        "versioning",
        "GetBucketVersioning",
        "PutBucketVersioning",
        "",
    ),
    (
        "tagging",
        "GetBucketTagging",
        "PutBucketTagging",
        "DeleteBucketTagging",
    ),
    (
        "policy",
        "GetBucketPolicy",
        "PutBucketPolicy",
        "DeleteBucketPolicy",
    ),
    (
        "lifecycle",
        "GetBucketLifecycleConfiguration",
        "PutBucketLifecycleConfiguration",
        "DeleteBucketLifecycle",
    ),
    (
        "encryption",
        "GetBucketEncryption",
        "PutBucketEncryption",
        "DeleteBucketEncryption",
    ),
    ("cors", "GetBucketCors", "PutBucketCors", "DeleteBucketCors"),
    ("acl", "GetBucketAcl", "PutBucketAcl", ""),
    (
        "ownershipControls",
        "GetBucketOwnershipControls",
        "PutBucketOwnershipControls",
        "DeleteBucketOwnershipControls",
    ),
    (
        "publicAccessBlock",
        "GetPublicAccessBlock",
        "PutPublicAccessBlock",
        "DeletePublicAccessBlock",
    ),
    (
        "notification",
        "GetBucketNotificationConfiguration",
        "PutBucketNotificationConfiguration",
        "",
    ),
    (
        "object-lock",
        "GetObjectLockConfiguration",
        "PutObjectLockConfiguration",
        "",
    ),
    ("location", "GetBucketLocation", "", ""),
];

/// Object subresources: query key, then the operations of GET, PUT and DELETE.
const OBJECT_SUBRESOURCES: &[(&str, &str, &str, &str)] = &[
    (
        "tagging",
        "GetObjectTagging",
        "PutObjectTagging",
        "DeleteObjectTagging",
    ),
    ("acl", "GetObjectAcl", "PutObjectAcl", ""),
    ("retention", "GetObjectRetention", "PutObjectRetention", ""),
    ("legal-hold", "GetObjectLegalHold", "PutObjectLegalHold", ""),
    ("attributes", "GetObjectAttributes", "", ""),
];

fn s3_operation(method: &str, path: &str, query: &str, copy_source: bool) -> String {
    let params: Vec<(&str, &str)> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .collect();
    let has = |key: &str| params.iter().any(|(k, _)| *k == key);
    let value = |key: &str| params.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let subresource = |table: &[(&'static str, &'static str, &'static str, &'static str)]| {
        table.iter().find_map(|(key, get, put, delete)| {
            if !has(key) {
                return None;
            }
            let op = match method {
                "GET" => *get,
                "PUT" => *put,
                "DELETE" => *delete,
                _ => "",
            };
            (!op.is_empty()).then_some(op)
        })
    };
    let trimmed = path.trim_start_matches('/');
    let (bucket, key) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let op = if bucket.is_empty() {
        match method {
            "GET" => "ListBuckets",
            _ => return format!("{method} /"),
        }
    } else if key.is_empty() {
        if let Some(op) = subresource(BUCKET_SUBRESOURCES) {
            op
        } else {
            match method {
                "PUT" => "CreateBucket",
                "HEAD" => "HeadBucket",
                "DELETE" => "DeleteBucket",
                "POST" if has("delete") => "DeleteObjects",
                "GET" if has("versions") => "ListObjectVersions",
                "GET" if has("uploads") => "ListMultipartUploads",
                "GET" if value("list-type") == Some("2") => "ListObjectsV2",
                "GET" => "ListObjects",
                _ => return format!("{method} /{bucket}"),
            }
        }
    } else if let Some(op) = subresource(OBJECT_SUBRESOURCES) {
        op
    } else {
        match method {
            "POST" if has("uploads") => "CreateMultipartUpload",
            "POST" if has("uploadId") => "CompleteMultipartUpload",
            "POST" if has("restore") => "RestoreObject",
            "PUT" if has("uploadId") && copy_source => "UploadPartCopy",
            "PUT" if has("uploadId") => "UploadPart",
            "GET" if has("uploadId") => "ListParts",
            "DELETE" if has("uploadId") => "AbortMultipartUpload",
            "PUT" if copy_source => "CopyObject",
            "PUT" => "PutObject",
            "GET" => "GetObject",
            "HEAD" => "HeadObject",
            "DELETE" => "DeleteObject",
            _ => return format!("{method} /{bucket}"),
        }
    };
    op.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named() {
        assert_eq!(
            operation_of("route53", "POST", "/2013-04-01/hostedzone/Z1/rrset/", b""),
            "ChangeResourceRecordSets"
        );
        assert_eq!(
            operation_of(
                "route53",
                "GET",
                "/2013-04-01/hostedzone/Z1/rrset?maxitems=300",
                b""
            ),
            "ListResourceRecordSets"
        );
        assert_eq!(
            operation_of("ec2", "POST", "/", b"Action=CreateVpc&Version=2016-11-15"),
            "CreateVpc"
        );
        assert_eq!(
            operation_of("eks", "GET", "/clusters/a", b""),
            "DescribeCluster"
        );
    }

    #[test]
    fn s3_operations_are_named() {
        let s3 = |method: &str, target: &str| operation_of("s3", method, target, b"");
        assert_eq!(s3("GET", "/"), "ListBuckets");
        assert_eq!(s3("PUT", "/bkt"), "CreateBucket");
        assert_eq!(s3("PUT", "/bkt/"), "CreateBucket");
        assert_eq!(s3("HEAD", "/bkt"), "HeadBucket");
        assert_eq!(s3("DELETE", "/bkt"), "DeleteBucket");
        assert_eq!(s3("GET", "/bkt?versioning"), "GetBucketVersioning");
        assert_eq!(s3("PUT", "/bkt?versioning"), "PutBucketVersioning");
        assert_eq!(s3("GET", "/bkt?location"), "GetBucketLocation");
        assert_eq!(
            s3("GET", "/bkt?list-type=2&prefix=state%2F"),
            "ListObjectsV2"
        );
        assert_eq!(s3("GET", "/bkt?prefix=a"), "ListObjects");
        assert_eq!(s3("GET", "/bkt?versions&prefix=a"), "ListObjectVersions");
        assert_eq!(s3("POST", "/bkt?delete"), "DeleteObjects");
        assert_eq!(s3("POST", "/bkt/?delete="), "DeleteObjects");
        assert_eq!(s3("PUT", "/bkt/state/lock?x-id=PutObject"), "PutObject");
        assert_eq!(s3("GET", "/bkt/a/b/c?x-id=GetObject"), "GetObject");
        assert_eq!(s3("HEAD", "/bkt/a"), "HeadObject");
        assert_eq!(s3("DELETE", "/bkt/a?x-id=DeleteObject"), "DeleteObject");
        assert_eq!(s3("DELETE", "/bkt/a?versionId=3"), "DeleteObject");
        assert_eq!(s3("GET", "/bkt/a?tagging"), "GetObjectTagging");
        assert_eq!(s3("POST", "/bkt/a?uploads"), "CreateMultipartUpload");
        assert_eq!(s3("PUT", "/bkt/a?partNumber=1&uploadId=u"), "UploadPart");
        assert_eq!(s3("POST", "/bkt/a?uploadId=u"), "CompleteMultipartUpload");
        assert_eq!(
            operation_of_request(
                "s3",
                "PUT",
                "/bkt/b?x-id=CopyObject",
                &[("X-Amz-Copy-Source", "bkt/a")],
                b""
            ),
            "CopyObject"
        );
        // An object body is no query-protocol form.
        assert_eq!(
            operation_of("s3", "PUT", "/bkt/form", b"Action=CreateVpc"),
            "PutObject"
        );
    }
}
