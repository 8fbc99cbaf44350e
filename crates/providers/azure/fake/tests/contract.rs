//! The fake itself: it follows AKS's published contract (ARM paths matched
//! case-insensitively, api-versions, Azure-AsyncOperation/Location operations that advance
//! when polled, the errors fedstack must handle) and refuses what Microsoft's published
//! models do not allow. If these fail, the azure provider's tests prove nothing.

use std::collections::BTreeMap;

use base64::Engine as _;
use fedstack_aks_fake::{
    AksFake, API_VERSION, CLIENT_ID, RESOURCES_API_VERSION, SUBSCRIPTION_ID, TENANT_ID,
};
use serde_json::{json, Value};

fn fake() -> AksFake {
    AksFake::start().unwrap_or_else(|e| panic!("{e}"))
}

fn rg_path(rg: &str) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/{rg}?api-version={RESOURCES_API_VERSION}"
    )
}

fn cluster_url(rg: &str, name: &str) -> String {
    format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}")
}

fn cluster_path(rg: &str, name: &str) -> String {
    format!("{}?api-version={API_VERSION}", cluster_url(rg, name))
}

fn pool_path(rg: &str, name: &str, pool: &str) -> String {
    format!(
        "{}/agentPools/{pool}?api-version={API_VERSION}",
        cluster_url(rg, name)
    )
}

fn cluster_body(version: &str) -> Value {
    json!({
        "location": "westeurope",
        "tags": {"fedstack": "test"},
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "kubernetesVersion": version,
            "dnsPrefix": "c1",
            "agentPoolProfiles": [
                {"name": "system", "mode": "System", "count": 1, "vmSize": "Standard_D2s_v5"}
            ],
        },
    })
}

/// The path and query of an absolute URL the fake handed out in a header.
fn local(f: &AksFake, headers: &BTreeMap<String, String>, name: &str) -> String {
    let url = headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"));
    url.strip_prefix(f.url())
        .unwrap_or_else(|| panic!("{name} {url} is not on the fake"))
        .to_string()
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// A resource group `rg` and a cluster `c1` in it that finished creating.
fn created_cluster(f: &AksFake, t: &str) {
    let (status, _, body) = f.api(
        "PUT",
        &rg_path("rg"),
        Some(json!({"location": "westeurope"})),
        t,
    );
    assert_eq!(status, 201, "{body}");
    let (status, headers, body) = f.api(
        "PUT",
        &cluster_path("rg", "c1"),
        Some(cluster_body("1.31")),
        t,
    );
    assert_eq!(status, 201, "{body}");
    let op = local(f, &headers, "azure-asyncoperation");
    f.api("GET", &op, None, t);
    let (_, _, done) = f.api("GET", &op, None, t);
    assert_eq!(done["status"], "Succeeded", "{done}");
}

#[test]
fn calls_need_a_token_from_its_token_endpoint() {
    let f = fake();
    let (status, headers, body) = f.api("GET", &rg_path("rg"), None, "");
    assert_eq!((status, error_code(&body)), (401, "AuthenticationFailed"));
    assert!(headers.contains_key("www-authenticate"), "{headers:?}");
    let (status, _, body) = f.api("GET", &rg_path("rg"), None, "not-issued");
    assert_eq!(
        (status, error_code(&body)),
        (401, "InvalidAuthenticationToken")
    );

    let (status, body) = f.token_request(&format!(
        "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret=wrong&scope=https%3A%2F%2Fmanagement.azure.com%2F.default"
    ));
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.starts_with("AADSTS7000215: Invalid client secret provided")),
        "{body}"
    );
    assert_eq!(body["error_codes"], json!([7000215]));

    let t = f.token();
    assert!(!t.is_empty());
    let (status, _, body) = f.api("GET", &rg_path("rg"), None, &t);
    assert_eq!((status, error_code(&body)), (404, "ResourceGroupNotFound"));
    let (status, _, body) = f.api(
        "GET",
        &format!("/subscriptions/11111111-2222-3333-4444-555555555555/resourcegroups/rg?api-version={RESOURCES_API_VERSION}"),
        None,
        &t,
    );
    assert_eq!((status, error_code(&body)), (404, "SubscriptionNotFound"));
    assert!(f.rejections().is_empty(), "{:?}", f.rejections());
    let env: BTreeMap<_, _> = f.credentials_env().into_iter().collect();
    assert_eq!(env["AZURE_TENANT_ID"], TENANT_ID);
    assert_eq!(env["AZURE_AUTHORITY_HOST"], f.url());
}

#[test]
fn requests_outside_the_published_models_are_refused_and_recorded() {
    let f = fake();
    let t = f.token();
    f.api(
        "PUT",
        &rg_path("rg"),
        Some(json!({"location": "westeurope"})),
        &t,
    );
    let bad = json!({
        "location": "westeurope",
        "properties": {
            "kubernetesVersoin": "1.31",
            "provisioningState": "Succeeded",
            "agentPoolProfiles": [{"name": "system", "mode": "System", "count": "3"}],
            // An extensible enum (Union[str, Enum] in the models): any string is allowed.
            "networkProfile": {"networkPlugin": "some-future-plugin"},
        },
    });
    let (status, _, body) = f.api("PUT", &cluster_path("rg", "c1"), Some(bad), &t);
    assert_eq!((status, error_code(&body)), (400, "InvalidRequestContent"));
    let rejected = f.rejections();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    for problem in [
        "properties.kubernetesVersoin: unknown field (did you mean `kubernetesVersion`?)",
        "properties.provisioningState: read-only field sent in a request",
        "properties.agentPoolProfiles[0].count: expected an integer",
    ] {
        assert!(rejected[0].contains(problem), "{problem}: {rejected:?}");
    }
    assert!(!rejected[0].contains("networkPlugin"), "{rejected:?}");

    // A required field (location) missing; a top-level read-only one (id).
    let (status, _, _) = f.api(
        "PUT",
        &cluster_path("rg", "c1"),
        Some(json!({"id": "/x", "properties": {}})),
        &t,
    );
    assert_eq!(status, 400);
    let last = f.rejections().pop().unwrap_or_default();
    assert!(
        last.contains("ManagedCluster.location: required field missing"),
        "{last}"
    );
    assert!(
        last.contains("ManagedCluster.id: read-only field"),
        "{last}"
    );

    // api-version missing or not the published one; an unknown query parameter.
    let url = cluster_url("rg", "c1");
    let (status, _, body) = f.api("GET", &url, None, &t);
    assert_eq!(
        (status, error_code(&body)),
        (400, "MissingApiVersionParameter")
    );
    let (status, _, body) = f.api("GET", &format!("{url}?api-version=2019-01-01"), None, &t);
    assert_eq!(
        (status, error_code(&body)),
        (400, "NoRegisteredProviderFound")
    );
    let (status, _, body) = f.api(
        "GET",
        &format!("/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/rg?api-version={API_VERSION}"),
        None,
        &t,
    );
    assert_eq!(
        (status, error_code(&body)),
        (400, "InvalidApiVersionParameter")
    );
    let (status, _, _) = f.api(
        "GET",
        &format!("{url}?api-version={API_VERSION}&notAParameter=1"),
        None,
        &t,
    );
    assert_eq!(status, 400);
    // No such path; published but not a call fedstack makes.
    let (status, _, _) = f.api(
        "GET",
        &format!("{url}/noSuchThing?api-version={API_VERSION}"),
        None,
        &t,
    );
    assert_eq!(status, 404);
    let (status, _, _) = f.api(
        "POST",
        &format!("{url}/rotateClusterCertificates?api-version={API_VERSION}"),
        None,
        &t,
    );
    assert_eq!(status, 400);
    assert_eq!(f.rejections().len(), 8, "{:#?}", f.rejections());
}

#[test]
fn paths_are_matched_case_insensitively() {
    let f = fake();
    let t = f.token();
    created_cluster(&f, &t);
    let shouting = format!(
        "/SUBSCRIPTIONS/{SUBSCRIPTION_ID}/RESOURCEGROUPS/RG/PROVIDERS/microsoft.containerservice/MANAGEDCLUSTERS/C1?api-version={API_VERSION}"
    );
    let (status, _, c) = f.api("GET", &shouting, None, &t);
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["name"], "c1", "the name as created");
    let (status, _, _) = f.api(
        "GET",
        &format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/Rg?api-version={RESOURCES_API_VERSION}"),
        None,
        &t,
    );
    assert_eq!(status, 200);
    let (status, _, pool) = f.api("GET", &pool_path("RG", "C1", "SYSTEM"), None, &t);
    assert_eq!((status, pool["name"].as_str()), (200, Some("system")));
    assert!(f.rejections().is_empty(), "{:?}", f.rejections());
}

#[test]
fn a_create_is_polled_from_in_progress_to_succeeded_and_the_cluster_follows() {
    let f = fake();
    let t = f.token();
    let (status, _, group) = f.api(
        "PUT",
        &rg_path("rg"),
        Some(json!({"location": "West Europe", "tags": {"a": "b"}})),
        &t,
    );
    assert_eq!(status, 201, "{group}");
    assert_eq!(group["location"], "westeurope");
    let (status, _, _) = f.api(
        "PUT",
        &rg_path("rg"),
        Some(json!({"location": "westeurope"})),
        &t,
    );
    assert_eq!(status, 200, "exists");
    let (status, _, _) = f.api("HEAD", &rg_path("rg"), None, &t);
    assert_eq!(status, 204);

    let (status, headers, c) = f.api(
        "PUT",
        &cluster_path("rg", "c1"),
        Some(cluster_body("1.31")),
        &t,
    );
    assert_eq!(status, 201, "{c}");
    assert_eq!(headers.get("retry-after").map(String::as_str), Some("0"));
    let op = local(&f, &headers, "azure-asyncoperation");
    assert!(
        op.starts_with(&format!(
            "/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.ContainerService/locations/westeurope/operations/"
        )) && op.ends_with(&format!("?api-version={API_VERSION}")),
        "{op}"
    );
    assert_eq!(c["properties"]["provisioningState"], "Creating");
    assert_eq!(c["properties"]["kubernetesVersion"], "1.31");
    assert_eq!(
        c["properties"]["currentKubernetesVersion"], "1.31.9",
        "the newest 1.31 patch"
    );
    assert_eq!(c["identity"]["tenantId"], TENANT_ID);
    assert_eq!(
        c["properties"]["agentPoolProfiles"][0]["provisioningState"],
        "Creating"
    );

    let (status, _, running) = f.api("GET", &op, None, &t);
    assert_eq!(status, 200);
    assert_eq!(running["status"], "InProgress", "{running}");
    assert!(running["startTime"].is_string() && running.get("endTime").is_none());
    // The fake's own view does not poll; a GET of the resource would (a client that
    // lost the operation URL follows provisioningState).
    assert_eq!(
        f.state()["clusters"]["rg/c1"]["properties"]["provisioningState"],
        "Creating"
    );
    let (_, _, done) = f.api("GET", &op, None, &t);
    assert_eq!(done["status"], "Succeeded", "{done}");
    assert!(done["endTime"].is_string());
    let (_, _, c) = f.api("GET", &cluster_path("rg", "c1"), None, &t);
    assert_eq!(c["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        c["properties"]["agentPoolProfiles"][0]["provisioningState"],
        "Succeeded"
    );
    assert!(c["properties"]["fqdn"]
        .as_str()
        .is_some_and(|d| d.ends_with(".hcp.westeurope.azmk8s.io")));

    // An update: 200, Updating, then Succeeded (slowed: two polls per step).
    f.configure(json!({"slow": {"c1": 2}}));
    let mut update = cluster_body("1.32.5");
    update["tags"] = json!({"fedstack": "changed"});
    let (status, headers, c) = f.api("PUT", &cluster_path("rg", "c1"), Some(update), &t);
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["properties"]["provisioningState"], "Updating");
    assert_eq!(c["tags"]["fedstack"], "changed");
    let op = local(&f, &headers, "azure-asyncoperation");
    let statuses: Vec<Value> = (0..4)
        .map(|_| f.api("GET", &op, None, &t).2["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [
            json!("InProgress"),
            json!("InProgress"),
            json!("InProgress"),
            json!("Succeeded")
        ]
    );
    let (_, _, c) = f.api("GET", &cluster_path("rg", "c1"), None, &t);
    assert_eq!(c["properties"]["currentKubernetesVersion"], "1.32.5");
    assert_eq!(
        c["properties"]["agentPoolProfiles"][0]["currentOrchestratorVersion"],
        "1.32.5"
    );
    let state = f.state();
    assert!(
        state["clusters"]["rg/c1"].is_object(),
        "{}",
        state["clusters"]
    );
    assert_eq!(
        state["api_versions"]["azure.mgmt.containerservice"],
        API_VERSION
    );
    assert_eq!(
        state["api_versions"]["azure.mgmt.resource.resources"],
        RESOURCES_API_VERSION
    );
    assert!(f.rejections().is_empty(), "{:?}", f.rejections());
}

#[test]
fn a_second_operation_while_one_runs_is_refused_and_pools_are_async_too() {
    let f = fake();
    let t = f.token();
    f.api(
        "PUT",
        &rg_path("rg"),
        Some(json!({"location": "westeurope"})),
        &t,
    );
    f.configure(json!({"slow": {"c1": 1_000_000}}));
    let (status, headers, _) = f.api(
        "PUT",
        &cluster_path("rg", "c1"),
        Some(cluster_body("1.31")),
        &t,
    );
    assert_eq!(status, 201);
    let op = local(&f, &headers, "azure-asyncoperation");
    let (status, _, body) = f.api(
        "PUT",
        &cluster_path("rg", "c1"),
        Some(cluster_body("1.31")),
        &t,
    );
    assert_eq!((status, error_code(&body)), (409, "OperationNotAllowed"));
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(
                "Operation is not allowed because there's an in progress create managed cluster operation"
            )),
        "{body}"
    );
    let user_pool =
        json!({"properties": {"mode": "User", "count": 2, "vmSize": "Standard_D4s_v5"}});
    let (status, _, body) = f.api(
        "PUT",
        &pool_path("rg", "c1", "user1"),
        Some(user_pool.clone()),
        &t,
    );
    assert_eq!((status, error_code(&body)), (409, "OperationNotAllowed"));
    for _ in 0..10 {
        assert_eq!(f.api("GET", &op, None, &t).2["status"], "InProgress");
    }
    // Released: the next polls finish it.
    f.configure(json!({"slow": {"c1": 1}}));
    f.api("GET", &op, None, &t);
    assert_eq!(f.api("GET", &op, None, &t).2["status"], "Succeeded");

    // A pool: 201 Creating, its own operation; its pool busy meanwhile.
    let (status, headers, pool) = f.api(
        "PUT",
        &pool_path("rg", "c1", "user1"),
        Some(user_pool.clone()),
        &t,
    );
    assert_eq!(status, 201, "{pool}");
    assert_eq!(pool["properties"]["provisioningState"], "Creating");
    assert_eq!(
        pool["type"],
        "Microsoft.ContainerService/managedClusters/agentPools"
    );
    let pool_op = local(&f, &headers, "azure-asyncoperation");
    let (status, _, body) = f.api("PUT", &pool_path("rg", "c1", "user1"), Some(user_pool), &t);
    assert_eq!((status, error_code(&body)), (409, "OperationNotAllowed"));
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Another agentpool operation (user1 - Creating)")),
        "{body}"
    );
    f.api("GET", &pool_op, None, &t);
    assert_eq!(f.api("GET", &pool_op, None, &t).2["status"], "Succeeded");
    let (_, _, pool) = f.api("GET", &pool_path("rg", "c1", "user1"), None, &t);
    assert_eq!(pool["properties"]["provisioningState"], "Succeeded");
    let (_, _, c) = f.api("GET", &cluster_path("rg", "c1"), None, &t);
    assert_eq!(
        c["properties"]["agentPoolProfiles"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert!(f.rejections().is_empty(), "{:?}", f.rejections());
}

#[test]
fn a_failing_create_ends_failed_with_its_error_and_injected_faults_come_first() {
    let f = fake();
    let t = f.token();
    f.api(
        "PUT",
        &rg_path("rg"),
        Some(json!({"location": "westeurope"})),
        &t,
    );
    f.configure(json!({"fail": {"c1": {"code": "QuotaExceeded", "message": "Provisioning of resource(s) for container service c1 in resource group rg failed. Message: Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota."}}}));
    f.fault(
        "PUT",
        "/managedClusters/c1$",
        429,
        "TooManyRequests",
        "The request is being throttled.",
        1,
        Some(0),
    );
    let (status, headers, body) = f.api(
        "PUT",
        &cluster_path("rg", "c1"),
        Some(cluster_body("1.31")),
        &t,
    );
    assert_eq!((status, error_code(&body)), (429, "TooManyRequests"));
    assert_eq!(headers.get("retry-after").map(String::as_str), Some("0"));
    let (status, headers, _) = f.api(
        "PUT",
        &cluster_path("rg", "c1"),
        Some(cluster_body("1.31")),
        &t,
    );
    assert_eq!(status, 201);
    let op = local(&f, &headers, "azure-asyncoperation");
    f.api("GET", &op, None, &t);
    let (_, _, done) = f.api("GET", &op, None, &t);
    assert_eq!(done["status"], "Failed", "{done}");
    assert_eq!(done["error"]["code"], "QuotaExceeded");
    let (_, _, c) = f.api("GET", &cluster_path("rg", "c1"), None, &t);
    assert_eq!(c["properties"]["provisioningState"], "Failed");
    // Only the next create fails: a PUT again reconciles it.
    let (status, headers, _) = f.api(
        "PUT",
        &cluster_path("rg", "c1"),
        Some(cluster_body("1.31")),
        &t,
    );
    assert_eq!(status, 200);
    let op = local(&f, &headers, "azure-asyncoperation");
    f.api("GET", &op, None, &t);
    assert_eq!(f.api("GET", &op, None, &t).2["status"], "Succeeded");
    assert_eq!(f.calls().len(), 9);
    assert!(f.rejections().is_empty(), "{:?}", f.rejections());
}

#[test]
fn changes_aks_cannot_make_are_refused_with_its_errors() {
    let f = fake();
    let t = f.token();
    created_cluster(&f, &t);
    let refused = |path: &str, body: Value| {
        let (status, _, body) = f.api("PUT", path, Some(body), &t);
        (status, error_code(&body).to_string(), body)
    };
    let pool = json!({"properties": {"mode": "System", "count": 1, "vmSize": "Standard_D8s_v5"}});
    let (status, code, body) = refused(&pool_path("rg", "c1", "system"), pool);
    assert_eq!((status, code.as_str()), (400, "PropertyChangeNotAllowed"));
    assert_eq!(
        body["error"]["message"],
        "Changing property 'agentPoolProfile.vmSize' is not allowed."
    );

    let mut dns = cluster_body("1.31");
    dns["properties"]["dnsPrefix"] = json!("other");
    let (status, code, _) = refused(&cluster_path("rg", "c1"), dns);
    assert_eq!((status, code.as_str()), (400, "PropertyChangeNotAllowed"));
    let mut net = cluster_body("1.31");
    net["properties"]["networkProfile"] = json!({"serviceCidr": "10.1.0.0/16"});
    let (status, code, body) = refused(&cluster_path("rg", "c1"), net);
    assert_eq!((status, code.as_str()), (400, "PropertyChangeNotAllowed"));
    assert_eq!(body["error"]["target"], "networkProfile.serviceCidr");
    let mut moved = cluster_body("1.31");
    moved["location"] = json!("eastus");
    let (status, code, _) = refused(&cluster_path("rg", "c1"), moved);
    assert_eq!((status, code.as_str()), (409, "InvalidResourceLocation"));

    let (status, code, _) = refused(&cluster_path("rg", "c1"), cluster_body("1.30"));
    assert_eq!(
        (status, code.as_str()),
        (400, "AgentPoolK8sVersionNotSupported")
    );
    let (status, code, body) = refused(&cluster_path("rg", "c1"), cluster_body("1.33.1"));
    assert_eq!((status, code.as_str()), (400, "OperationNotAllowed"));
    assert!(
        body["error"]["message"].as_str().is_some_and(
            |m| m.starts_with("Upgrading Kubernetes version 1.31.9 to 1.33.1 is not allowed")
        ),
        "{body}"
    );
    let (status, code, _) = refused(
        &pool_path("rg", "c1", "Bad_Name"),
        json!({"properties": {}}),
    );
    assert_eq!((status, code.as_str()), (400, "InvalidParameter"));

    let (status, _, body) = f.api("DELETE", &pool_path("rg", "c1", "system"), None, &t);
    assert_eq!((status, error_code(&body)), (400, "OperationNotAllowed"));
    assert_eq!(
        body["error"]["message"],
        "There has to be at least one agent pool."
    );
    let no_system = json!({"location": "westeurope", "properties": {"agentPoolProfiles": [{"name": "user", "mode": "User"}]}});
    let (status, code, _) = refused(&cluster_path("rg", "c2"), no_system);
    assert_eq!(
        (status, code.as_str()),
        (400, "MustDefineAtLeastOneSystemPool")
    );
    // None of these broke the published contract.
    assert!(f.rejections().is_empty(), "{:?}", f.rejections());
}

#[test]
fn deletes_answer_202_with_location_then_204_or_404_when_gone() {
    let f = fake();
    let t = f.token();
    created_cluster(&f, &t);
    let (status, headers, _) = f.api("DELETE", &cluster_path("rg", "c1"), None, &t);
    assert_eq!(status, 202);
    assert!(headers.contains_key("azure-asyncoperation"), "{headers:?}");
    let result = local(&f, &headers, "location");
    assert!(result.contains("/operationresults/"), "{result}");
    assert_eq!(
        f.state()["clusters"]["rg/c1"]["properties"]["provisioningState"],
        "Deleting"
    );
    let (status, headers, _) = f.api("GET", &result, None, &t);
    assert_eq!(status, 202);
    assert!(headers.contains_key("location") && headers.contains_key("retry-after"));
    let (status, _, _) = f.api("GET", &result, None, &t);
    assert_eq!(status, 204);
    let (status, _, body) = f.api("GET", &cluster_path("rg", "c1"), None, &t);
    assert_eq!((status, error_code(&body)), (404, "ResourceNotFound"));
    let (status, _, _) = f.api("DELETE", &cluster_path("rg", "c1"), None, &t);
    assert_eq!(status, 204, "already gone");

    // A resource group's delete takes its clusters with it.
    let (status, _, _) = f.api(
        "PUT",
        &cluster_path("rg", "c2"),
        Some(cluster_body("1.31")),
        &t,
    );
    assert_eq!(status, 201);
    let (status, headers, _) = f.api("DELETE", &rg_path("rg"), None, &t);
    assert_eq!(status, 202);
    let result = local(&f, &headers, "location");
    assert!(
        result.starts_with(&format!(
            "/subscriptions/{SUBSCRIPTION_ID}/operationresults/"
        )),
        "{result}"
    );
    let (_, _, group) = f.api("GET", &rg_path("rg"), None, &t);
    assert_eq!(group["properties"]["provisioningState"], "Deleting");
    assert_eq!(f.api("GET", &result, None, &t).0, 202);
    assert_eq!(f.api("GET", &result, None, &t).0, 200);
    assert_eq!(f.api("HEAD", &rg_path("rg"), None, &t).0, 404);
    let (status, _, body) = f.api("DELETE", &rg_path("rg"), None, &t);
    assert_eq!((status, error_code(&body)), (404, "ResourceGroupNotFound"));
    assert_eq!(f.state()["clusters"], json!({}));
    assert!(f.rejections().is_empty(), "{:?}", f.rejections());
}

#[test]
fn list_cluster_user_credential_returns_a_kubeconfig_with_a_token_the_webhook_takes() {
    let f = fake();
    let t = f.token();
    f.back_next_cluster("https://127.0.0.1:6443", "Q0EgUEVN");
    created_cluster(&f, &t);
    assert_eq!(f.state()["backing_left"], 0);
    let (_, _, c) = f.api("GET", &cluster_path("rg", "c1"), None, &t);
    assert_eq!(c["properties"]["fqdn"], "127.0.0.1:6443");
    let (status, _, creds) = f.api(
        "POST",
        &format!(
            "{}/listClusterUserCredential?api-version={API_VERSION}",
            cluster_url("rg", "c1")
        ),
        None,
        &t,
    );
    assert_eq!(status, 200, "{creds}");
    assert_eq!(creds["kubeconfigs"][0]["name"], "clusterUser");
    let value = creds["kubeconfigs"][0]["value"]
        .as_str()
        .unwrap_or_default();
    let yaml = base64::engine::general_purpose::STANDARD
        .decode(value)
        .expect("base64");
    let yaml = String::from_utf8(yaml).expect("UTF-8");
    let docs = yaml_rust2::YamlLoader::load_from_str(&yaml).expect("a YAML kubeconfig");
    let kc = &docs[0];
    assert_eq!(kc["kind"].as_str(), Some("Config"));
    let cluster = &kc["clusters"][0]["cluster"];
    assert_eq!(cluster["server"].as_str(), Some("https://127.0.0.1:6443"));
    assert_eq!(
        cluster["certificate-authority-data"].as_str(),
        Some("Q0EgUEVN")
    );
    let token = kc["users"][0]["user"]["token"]
        .as_str()
        .expect("a token user")
        .to_string();
    let review = f.review(&token);
    assert_eq!(review["status"]["authenticated"], true, "{review}");
    assert_eq!(
        review["status"]["user"]["groups"],
        json!(["system:masters", "system:authenticated"])
    );
    assert_eq!(f.review("made-up")["status"]["authenticated"], false);
    // The kubeconfig's token is for the cluster, not for ARM.
    let (status, _, _) = f.api("GET", &cluster_path("rg", "c1"), None, &token);
    assert_eq!(status, 401);
    assert_eq!(f.state()["reviews"], 2);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let webhook = dir.path().join("webhook.kubeconfig");
    f.write_webhook_config(&webhook)
        .expect("webhook kubeconfig");
    let text = std::fs::read_to_string(&webhook).expect("read it back");
    assert!(
        text.contains(&format!("{}/authenticate", f.control_url())),
        "{text}"
    );
    assert!(f.rejections().is_empty(), "{:?}", f.rejections());
}

#[test]
fn kubernetes_versions_have_the_published_shape() {
    let f = fake();
    let t = f.token();
    let path = format!(
        "/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.ContainerService/locations/westeurope/kubernetesVersions?api-version={API_VERSION}"
    );
    let (status, _, body) = f.api("GET", &path, None, &t);
    assert_eq!(status, 200, "{body}");
    let values = body["values"].as_array().cloned().unwrap_or_default();
    let minors: Vec<&str> = values
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    assert_eq!(minors, ["1.31", "1.32", "1.33"]);
    let v131 = &values[0];
    assert_eq!(
        v131["patchVersions"]["1.31.8"]["upgrades"],
        json!(["1.31.9", "1.32.5"])
    );
    assert_eq!(v131["capabilities"]["supportPlan"][0], "KubernetesOfficial");
    let defaults: Vec<&str> = values
        .iter()
        .filter(|v| v["isDefault"] == true)
        .filter_map(|v| v["version"].as_str())
        .collect();
    assert_eq!(defaults, ["1.32"]);

    f.configure(json!({"versions": ["1.34.0", "1.34.2"]}));
    let (_, _, body) = f.api("GET", &path, None, &t);
    assert_eq!(
        body["values"],
        json!([{
            "version": "1.34",
            "capabilities": {"supportPlan": ["KubernetesOfficial", "AKSLongTermSupport"]},
            "patchVersions": {"1.34.0": {"upgrades": ["1.34.2"]}, "1.34.2": {"upgrades": []}},
            "isDefault": true,
        }])
    );
    assert!(f.rejections().is_empty(), "{:?}", f.rejections());
}

#[test]
fn reading_a_resource_polls_its_operation_as_its_url_does() {
    let f = fake();
    let t = f.token();
    f.api(
        "PUT",
        &rg_path("rg"),
        Some(json!({"location": "westeurope"})),
        &t,
    );
    let (status, _, _) = f.api(
        "PUT",
        &cluster_path("rg", "c1"),
        Some(cluster_body("1.31")),
        &t,
    );
    assert_eq!(status, 201);
    // queued -> running -> done: two reads of the cluster, no operation URL.
    let (_, _, c) = f.api("GET", &cluster_path("rg", "c1"), None, &t);
    assert_eq!(c["properties"]["provisioningState"], "Creating");
    let (_, _, c) = f.api("GET", &cluster_path("rg", "c1"), None, &t);
    assert_eq!(c["properties"]["provisioningState"], "Succeeded", "{c}");
}
