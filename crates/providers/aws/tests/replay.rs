//! What moto can't show, replayed through a scripted HTTP client (`Replay`, below): each
//! call must be the expected method and path, and gets the scripted answer. Route 53 PENDING -> INSYNC, throttling then success, EKS
//! CREATING -> ACTIVE and CREATING -> FAILED, a version upgrade followed through
//! `DescribeUpdate`, and the kubeconfig credentials of a cluster.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use base64::Engine as _;
use fedstack_core::value::Values;
use fedstack_provider::{
    ClusterCredentials, ErrorClass, Progress, Provider, ProviderContext, ResourceSpec,
};
use fedstack_provider_aws::{AwsOptions, AwsProvider};
use serde_json::{json, Value};

struct Seen(Mutex<Vec<String>>);

impl Progress for Seen {
    fn status(&self, message: &str) {
        self.0.lock().expect("lock").push(message.to_string());
    }
}

fn seen() -> Seen {
    Seen(Mutex::new(Vec::new()))
}

fn provider(replay: &StaticReplayClient) -> AwsProvider {
    let options = AwsOptions {
        http_client: Some(SharedHttpClient::new(replay.clone())),
        credentials: Some(aws_credential_types::Credentials::new(
            "AKID", "secret", None, None, "test",
        )),
        poll_interval: Duration::from_millis(1),
        insync_poll_interval: Duration::from_millis(1),
        batch_window: Duration::from_millis(1),
        retry: fedstack_provider_aws::CallRetry {
            base_delay: Duration::from_millis(1),
            ..Default::default()
        },
        ..AwsOptions::default()
    };
    let mut settings = Values::new();
    settings.insert("region".into(), json!("us-east-1"));
    let ctx = ProviderContext {
        stack: "t".into(),
        state_dir: std::env::temp_dir(),
        read_only: false,
    };
    AwsProvider::with_options("aws", &settings, &ctx, options).expect("provider")
}

fn spec(address: &str, attrs: Value) -> ResourceSpec {
    let address: fedstack_core::address::Address = address.parse().expect("address");
    ResourceSpec {
        cloud_name: address.name.clone(),
        address,
        attrs: match attrs {
            Value::Object(m) => m.into_iter().collect(),
            _ => Values::new(),
        },
    }
}

/// One scripted exchange: the call expected (method and path; the query is not
/// compared) and the answer to it.
struct ReplayEvent {
    method: String,
    path: String,
    status: u16,
    body: String,
}

fn event(method: &str, uri: &str, status: u16, body: &str) -> ReplayEvent {
    ReplayEvent {
        method: method.to_string(),
        path: path_of(uri).to_string(),
        status,
        body: body.to_string(),
    }
}

fn path_of(uri: &str) -> &str {
    uri.split('?').next().unwrap_or_default()
}

/// A scripted HTTP client for the SDK: answers calls in order, records what was called.
#[derive(Clone, Debug, Default)]
struct StaticReplayClient {
    state: Arc<Mutex<ReplayState>>,
}

#[derive(Debug, Default)]
struct ReplayState {
    script: VecDeque<(String, String, u16, String)>,
    called: Vec<(String, String)>,
}

impl StaticReplayClient {
    fn new(events: Vec<ReplayEvent>) -> StaticReplayClient {
        let client = StaticReplayClient::default();
        client.lock().script = events
            .into_iter()
            .map(|e| (e.method, e.path, e.status, e.body))
            .collect();
        client
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReplayState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `METHOD path` of every call made, in order.
    fn called(&self) -> Vec<String> {
        self.lock()
            .called
            .iter()
            .map(|(m, p)| format!("{m} {p}"))
            .collect()
    }
}

impl HttpConnector for StaticReplayClient {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let method = request.method().to_string();
        let path = path_of(request.uri()).to_string();
        let mut s = self.lock();
        s.called.push((method.clone(), path.clone()));
        // A call out of script leaves the script as it is, so every retry of it
        // reports the same mismatch.
        let answer = match s.script.front() {
            None => Err(format!(
                "unexpected call {method} {path}: the script is done"
            )),
            Some((m, p, _, _)) if *m != method || *p != path => Err(format!(
                "call {method} {path} where the script expects {m} {p}"
            )),
            Some(_) => {
                let (_, _, status, body) = s.script.pop_front().unwrap_or_default();
                http::Response::builder()
                    .status(status)
                    .body(SdkBody::from(body))
                    .map_err(|e| e.to_string())
                    .and_then(|r| HttpResponse::try_from(r).map_err(|e| e.to_string()))
            }
        };
        HttpConnectorFuture::ready(answer.map_err(|e| ConnectorError::other(e.into(), None)))
    }
}

impl HttpClient for StaticReplayClient {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// The paths the provider called, in order.
fn paths(replay: &StaticReplayClient) -> Vec<String> {
    replay.called()
}

const R53: &str = "https://route53.amazonaws.com/2013-04-01";
const NS: &str = "xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"";

fn empty_listing() -> String {
    format!("<?xml version=\"1.0\"?><ListResourceRecordSetsResponse {NS}><ResourceRecordSets></ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>300</MaxItems></ListResourceRecordSetsResponse>")
}

fn change(status: &str) -> String {
    format!("<?xml version=\"1.0\"?><ChangeResourceRecordSetsResponse {NS}><ChangeInfo><Id>/change/C123</Id><Status>{status}</Status><SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>")
}

fn get_change(status: &str) -> String {
    format!("<?xml version=\"1.0\"?><GetChangeResponse {NS}><ChangeInfo><Id>/change/C123</Id><Status>{status}</Status><SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo></GetChangeResponse>")
}

fn r53_error(code: &str, message: &str) -> String {
    format!("<?xml version=\"1.0\"?><ErrorResponse {NS}><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>")
}

fn record() -> ResourceSpec {
    spec(
        "dns_record.www.example.com",
        json!({"zone": "example.com", "zone_id": "Z1", "fqdn": "www.example.com", "type": "A",
               "ttl": 60, "routing": "simple", "set_id": null, "values": ["192.0.2.1"],
               "weight": null, "region": null, "location": null, "failover": null,
               "health_check_id": null}),
    )
}

#[tokio::test]
async fn a_record_change_waits_from_pending_to_insync() {
    let replay = StaticReplayClient::new(vec![
        event(
            "GET",
            &format!("{R53}/hostedzone/Z1/rrset"),
            200,
            &empty_listing(),
        ),
        event(
            "POST",
            &format!("{R53}/hostedzone/Z1/rrset"),
            200,
            &change("PENDING"),
        ),
        event(
            "GET",
            &format!("{R53}/change/C123"),
            200,
            &get_change("PENDING"),
        ),
        event(
            "GET",
            &format!("{R53}/change/C123"),
            200,
            &get_change("INSYNC"),
        ),
    ]);
    let p = provider(&replay);
    let progress = seen();
    let o = p.create(&record(), &progress).await.expect("created");
    assert_eq!(o.outputs["id"], json!("Z1_www.example.com_A"));
    assert_eq!(
        paths(&replay),
        [
            format!("GET {R53}/hostedzone/Z1/rrset"),
            format!("POST {R53}/hostedzone/Z1/rrset"),
            format!("GET {R53}/change/C123"),
            format!("GET {R53}/change/C123"),
        ]
    );
    let statuses = progress.0.into_inner().expect("lock");
    assert!(
        statuses
            .iter()
            .any(|s| s.starts_with("PENDING: waiting for INSYNC (change C123)")),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn throttling_and_prior_request_not_complete_are_retried() {
    let replay = StaticReplayClient::new(vec![
        event(
            "GET",
            &format!("{R53}/hostedzone/Z1/rrset"),
            200,
            &empty_listing(),
        ),
        event(
            "POST",
            &format!("{R53}/hostedzone/Z1/rrset"),
            400,
            &r53_error("Throttling", "Rate exceeded"),
        ),
        event(
            "POST",
            &format!("{R53}/hostedzone/Z1/rrset"),
            400,
            &r53_error(
                "PriorRequestNotComplete",
                "The request was rejected because Route 53 was still processing a prior request.",
            ),
        ),
        event(
            "POST",
            &format!("{R53}/hostedzone/Z1/rrset"),
            200,
            &change("INSYNC"),
        ),
    ]);
    let p = provider(&replay);
    p.create(&record(), &seen())
        .await
        .expect("created after retries");
    assert_eq!(paths(&replay).len(), 4);
}

#[tokio::test]
async fn a_batch_rejected_as_invalid_is_split_until_the_bad_record_is_alone() {
    // Two records in one call; Route 53 rejects the call, then takes the good one.
    let other = spec(
        "dns_record.api.example.com",
        json!({"zone": "example.com", "zone_id": "Z1", "fqdn": "api.example.com", "type": "A",
               "ttl": 60, "routing": "simple", "values": ["192.0.2.2"]}),
    );
    let replay = StaticReplayClient::new(vec![
        event(
            "GET",
            &format!("{R53}/hostedzone/Z1/rrset"),
            200,
            &empty_listing(),
        ),
        event(
            "POST",
            &format!("{R53}/hostedzone/Z1/rrset"),
            400,
            &r53_error(
                "InvalidChangeBatch",
                "[RRSet with DNS name api.example.com. is not permitted]",
            ),
        ),
        event(
            "POST",
            &format!("{R53}/hostedzone/Z1/rrset"),
            200,
            &change("INSYNC"),
        ),
        event(
            "POST",
            &format!("{R53}/hostedzone/Z1/rrset"),
            400,
            &r53_error(
                "InvalidChangeBatch",
                "[RRSet with DNS name api.example.com. is not permitted]",
            ),
        ),
    ]);
    let p = provider(&replay);
    let (first, p1, p2) = (record(), seen(), seen());
    let (a, b) = tokio::join!(p.create(&first, &p1), p.create(&other, &p2));
    assert!(a.is_ok(), "{a:?}");
    let e = b.expect_err("the bad one fails");
    assert_eq!(e.class, ErrorClass::Invalid);
    assert!(e.message.contains("not permitted"), "{e}");
    assert_eq!(paths(&replay).len(), 4);
}

const EKS: &str = "https://eks.us-east-1.amazonaws.com";

fn pem() -> String {
    "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n".to_string()
}

fn cluster_json(status: &str, version: &str, extra: Value) -> String {
    let mut c = json!({
        "name": "c", "arn": "arn:aws:eks:us-east-1:123456789012:cluster/c", "version": version,
        "endpoint": "https://ABC.gr7.us-east-1.eks.amazonaws.com",
        "roleArn": "arn:aws:iam::123456789012:role/c-cluster",
        "resourcesVpcConfig": {"subnetIds": ["subnet-1", "subnet-2"], "securityGroupIds": [],
                                "endpointPublicAccess": true, "endpointPrivateAccess": false, "vpcId": "vpc-1"},
        "logging": {"clusterLogging": [{"types": ["api"], "enabled": true}]},
        "status": status,
        "certificateAuthority": {"data": base64::engine::general_purpose::STANDARD.encode(pem())},
        "tags": {"team": "x", "fedstack:stack": "t"}
    });
    if let (Some(m), Value::Object(e)) = (c.as_object_mut(), extra) {
        m.extend(e);
    }
    json!({ "cluster": c }).to_string()
}

fn cluster_spec(version: &str) -> ResourceSpec {
    spec(
        "cluster.c",
        json!({"flavor": "eks", "region": "us-east-1", "kubernetes_version": version,
               "labels": {"team": "x"}, "role_arn": "arn:aws:iam::123456789012:role/c-cluster",
               "subnet_ids": ["subnet-1", "subnet-2"], "security_group_ids": [],
               "endpoint_access": "public", "logging": ["api"], "ingress_address": null}),
    )
}

#[tokio::test]
async fn a_cluster_create_follows_creating_to_active() {
    let replay = StaticReplayClient::new(vec![
        event(
            "POST",
            &format!("{EKS}/clusters"),
            200,
            &cluster_json("CREATING", "1.31", json!({})),
        ),
        event(
            "GET",
            &format!("{EKS}/clusters/c"),
            200,
            &cluster_json("CREATING", "1.31", json!({})),
        ),
        event(
            "GET",
            &format!("{EKS}/clusters/c"),
            200,
            &cluster_json("CREATING", "1.31", json!({})),
        ),
        event(
            "GET",
            &format!("{EKS}/clusters/c"),
            200,
            &cluster_json("ACTIVE", "1.31", json!({})),
        ),
    ]);
    let p = provider(&replay);
    let progress = seen();
    let o = p
        .create(&cluster_spec("1.31"), &progress)
        .await
        .expect("created");
    assert_eq!(o.outputs["status"], json!("ACTIVE"));
    assert_eq!(
        o.attrs["labels"],
        json!({"team": "x"}),
        "fedstack's own tag is no label"
    );
    assert_eq!(o.attrs["logging"], json!(["api"]));
    assert!(progress
        .0
        .into_inner()
        .expect("lock")
        .iter()
        .any(|s| s == "CREATING"));
    assert_eq!(paths(&replay).len(), 4);
}

#[tokio::test]
async fn a_cluster_that_fails_to_create_is_an_error_with_its_issues() {
    let failed = cluster_json(
        "FAILED",
        "1.31",
        json!({"health": {"issues": [{"code": "Ec2SubnetInvalidConfiguration",
                                       "message": "subnet-1 has no free addresses", "resourceIds": ["subnet-1"]}]}}),
    );
    let replay = StaticReplayClient::new(vec![
        event(
            "POST",
            &format!("{EKS}/clusters"),
            200,
            &cluster_json("CREATING", "1.31", json!({})),
        ),
        event(
            "GET",
            &format!("{EKS}/clusters/c"),
            200,
            &cluster_json("ACTIVE", "1.31", json!({"status": "CREATING"})),
        ),
        event("GET", &format!("{EKS}/clusters/c"), 200, &failed),
    ]);
    let p = provider(&replay);
    let e = p
        .create(&cluster_spec("1.31"), &seen())
        .await
        .expect_err("fails");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert_eq!(
        e.message,
        "EKS cluster c is FAILED: subnet-1 has no free addresses"
    );
    // Read back, it is a failed object: the planner replaces it.
    let replay = StaticReplayClient::new(vec![event(
        "GET",
        &format!("{EKS}/clusters/c"),
        200,
        &failed,
    )]);
    let o = provider(&replay)
        .read(&cluster_spec("1.31"))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        o.status,
        fedstack_provider::ResourceStatus::Failed("FAILED".into())
    );
}

#[tokio::test]
async fn a_version_upgrade_is_followed_to_the_end() {
    let update = |status: &str| {
        json!({"update": {"id": "u-1", "status": status, "type": "VersionUpdate", "errors": []}})
            .to_string()
    };
    let replay = StaticReplayClient::new(vec![
        event(
            "GET",
            &format!("{EKS}/clusters/c"),
            200,
            &cluster_json("ACTIVE", "1.31", json!({})),
        ),
        event(
            "POST",
            &format!("{EKS}/clusters/c/updates"),
            200,
            &update("InProgress"),
        ),
        event(
            "GET",
            &format!("{EKS}/clusters/c/updates/u-1"),
            200,
            &update("InProgress"),
        ),
        event(
            "GET",
            &format!("{EKS}/clusters/c/updates/u-1"),
            200,
            &update("Successful"),
        ),
        event(
            "GET",
            &format!("{EKS}/clusters/c"),
            200,
            &cluster_json("ACTIVE", "1.32", json!({})),
        ),
        event(
            "GET",
            &format!("{EKS}/clusters/c"),
            200,
            &cluster_json("ACTIVE", "1.32", json!({})),
        ),
    ]);
    let p = provider(&replay);
    let progress = seen();
    let o = p
        .update(
            &cluster_spec("1.32"),
            &["kubernetes_version".to_string()],
            &progress,
        )
        .await
        .expect("upgraded");
    assert_eq!(o.attrs["kubernetes_version"], json!("1.32"));
    assert!(progress
        .0
        .into_inner()
        .expect("lock")
        .iter()
        .any(|s| s == "UPDATING (update u-1)"));
    assert_eq!(paths(&replay).len(), 6);
}

#[tokio::test]
async fn cluster_access_gives_the_endpoint_the_ca_and_a_fresh_token() {
    let replay = StaticReplayClient::new(vec![event(
        "GET",
        &format!("{EKS}/clusters/c"),
        200,
        &cluster_json("ACTIVE", "1.31", json!({})),
    )]);
    let access = provider(&replay)
        .cluster_access(&cluster_spec("1.31"))
        .await
        .expect("access")
        .expect("a cluster");
    assert_eq!(access.server, "https://ABC.gr7.us-east-1.eks.amazonaws.com");
    assert_eq!(access.ca_pem, Some(pem()));
    let ClusterCredentials::BearerToken(token) = &access.credentials else {
        panic!("a bearer token")
    };
    assert!(token.starts_with("k8s-aws-v1."), "{token}");
    // Debug output never shows it.
    assert!(!format!("{access:?}").contains(token.as_str()));
}
