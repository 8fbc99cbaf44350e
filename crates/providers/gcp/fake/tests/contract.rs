//! The fake itself: it follows GKE's published contract (paths, Operations that advance
//! when polled, the error statuses fedstack must handle) and refuses what the published
//! schema does not allow. If these fail, the gcp provider's tests prove nothing.

use fedstack_gke_fake::GkeFake;
use serde_json::json;

const LOC: &str = "/v1/projects/p/locations/us-central1";

fn fake() -> GkeFake {
    GkeFake::start().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn calls_need_a_token_from_its_token_endpoint() {
    let f = fake();
    let (status, body) = f.api("GET", &format!("{LOC}/clusters/c"), None, "not-issued");
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    let (status, _) = f.api("GET", &format!("{LOC}/clusters/c"), None, &f.token());
    assert_eq!(status, 404);
}

#[test]
fn requests_outside_the_published_schema_are_refused_and_recorded() {
    let f = fake();
    let t = f.token();
    let bad = json!({"cluster": {"name": "c", "nodeCount": 3, "status": "RUNNING",
                                  "releaseChannel": {"channel": "FAST"}}});
    let (status, body) = f.api("POST", &format!("{LOC}/clusters"), Some(bad), &t);
    assert_eq!(status, 400, "{body}");
    let rejected = f.rejections();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    for problem in [
        "cluster.nodeCount: unknown field",
        "cluster.status: output-only field",
        "cluster.releaseChannel.channel: `FAST` is not one of",
    ] {
        assert!(rejected[0].contains(problem), "{problem}: {rejected:?}");
    }
    let (status, _) = f.api(
        "GET",
        &format!("{LOC}/clusters/c?notAParameter=1"),
        None,
        &t,
    );
    assert_eq!(status, 400);
    let (status, _) = f.api("POST", &format!("{LOC}/clusters/c:explode"), None, &t);
    assert_eq!(status, 404);
    assert_eq!(f.rejections().len(), 3);
}

#[test]
fn operations_advance_when_polled_and_clusters_follow_them() {
    let f = fake();
    let t = f.token();
    let create = json!({"cluster": {"name": "c", "initialClusterVersion": "1.31",
        "nodePools": [{"name": "np", "initialNodeCount": 1, "config": {"machineType": "e2-standard-4"}}]}});
    let (status, op) = f.api("POST", &format!("{LOC}/clusters"), Some(create.clone()), &t);
    assert_eq!(status, 200, "{op}");
    assert_eq!(op["status"], "PENDING");
    assert_eq!(op["operationType"], "CREATE_CLUSTER");
    // Already there (even while provisioning): 409.
    let (status, body) = f.api("POST", &format!("{LOC}/clusters"), Some(create), &t);
    assert_eq!(
        (status, body["error"]["status"].clone()),
        (409, json!("ALREADY_EXISTS"))
    );
    let (_, c) = f.api("GET", &format!("{LOC}/clusters/c"), None, &t);
    assert_eq!(c["status"], "PROVISIONING");
    assert_eq!(
        c["currentMasterVersion"], "1.31.13-gke.1023000",
        "the newest 1.31 patch"
    );
    // Another operation while one runs: FAILED_PRECONDITION.
    let (status, body) = f.api("DELETE", &format!("{LOC}/clusters/c"), None, &t);
    assert_eq!(
        (status, body["error"]["status"].clone()),
        (400, json!("FAILED_PRECONDITION"))
    );
    let op_path = format!(
        "{LOC}/operations/{}",
        op["name"].as_str().unwrap_or_default()
    );
    let (_, running) = f.api("GET", &op_path, None, &t);
    assert_eq!(running["status"], "RUNNING");
    let (_, done) = f.api("GET", &op_path, None, &t);
    assert_eq!(done["status"], "DONE");
    let (_, c) = f.api("GET", &format!("{LOC}/clusters/c"), None, &t);
    assert_eq!(c["status"], "RUNNING");
    assert!(c["masterAuth"]["clusterCaCertificate"].is_string());
    assert!(f.rejections().is_empty(), "{:?}", f.rejections());
}

#[test]
fn a_failing_operation_ends_done_with_its_error_and_injected_faults_come_first() {
    let f = fake();
    let t = f.token();
    f.configure(json!({"fail": {"c": {"status": "RESOURCE_EXHAUSTED", "message": "Insufficient regional quota to satisfy request: resource \"CPUS\""}}}));
    f.fault(
        "POST",
        "/clusters$",
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Write requests'",
        1,
    );
    let create = json!({"cluster": {"name": "c", "initialNodeCount": 1}});
    let (status, _) = f.api("POST", &format!("{LOC}/clusters"), Some(create.clone()), &t);
    assert_eq!(status, 429);
    let (status, op) = f.api("POST", &format!("{LOC}/clusters"), Some(create), &t);
    assert_eq!(status, 200);
    let op_path = format!(
        "{LOC}/operations/{}",
        op["name"].as_str().unwrap_or_default()
    );
    f.api("GET", &op_path, None, &t);
    let (_, done) = f.api("GET", &op_path, None, &t);
    assert_eq!(done["status"], "DONE");
    assert_eq!(done["error"]["code"], 8);
    let (_, c) = f.api("GET", &format!("{LOC}/clusters/c"), None, &t);
    assert_eq!(c["status"], "ERROR");
    let (status, _) = f.api("DELETE", &format!("{LOC}/clusters/gone"), None, &t);
    assert_eq!(status, 404);
    assert_eq!(f.calls().len(), 6);
}
