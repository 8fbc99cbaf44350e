//! GKE clusters that are real where they can be: the GKE contract fake creates the
//! clusters (every request checked against Google's discovery document), and each one
//! it creates is backed by a real local control plane whose kube-apiserver accepts the
//! fake's Google tokens through an authenticating webhook. A stack with two GKE
//! clusters and a federation then joins them on real apiservers, through the
//! `kubernetes` provider and the gcp provider's `cluster_access` (a Google token, no
//! gcloud plugin), and the kubefed objects are checked there.

use fedstack_gke_fake::GkeFake;
use serde_json::json;

use super::common::Env;
use super::{check_exact_to, check_joined_to, client, rt, testenv};

const BACKING: &str = "\
name: gke-backing
clouds:
  local: { provider: local }
clusters:
  backing-a: { cloud: local, region: local, kubernetes_version: \"1.36\" }
  backing-b: { cloud: local, region: local, kubernetes_version: \"1.36\" }
outputs:
  a_endpoint: { value: \"${cluster.backing-a.endpoint}\" }
  a_ca: { value: \"${cluster.backing-a.ca_certificate}\" }
  b_endpoint: { value: \"${cluster.backing-b.endpoint}\" }
  b_ca: { value: \"${cluster.backing-b.ca_certificate}\" }
";

const GKE: &str = "\
name: gke-fed
clouds:
  gcp: { provider: gcp, project: fedstack-test, endpoint_url: URL }
clusters:
  gke-a:
    cloud: gcp
    region: australia-southeast1
    kubernetes_version: \"1.31\"
    node_pools:
      default: { machine_type: e2-standard-4, node_count: 1 }
  gke-b:
    cloud: gcp
    region: us-central1-a
    kubernetes_version: \"1.31\"
    node_pools:
      default: { machine_type: e2-standard-4, node_count: 1 }
federation:
  host: gke-a
  members: [gke-a, gke-b]
";

fn output(env: &Env, name: &str) -> String {
    env.run(&["output", "--raw", name])
        .success()
        .stdout
        .trim()
        .to_string()
}

fn clusters_in(fake: &GkeFake) -> Vec<String> {
    let state = fake.state();
    let mut names: Vec<String> = state["clusters"]
        .as_object()
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn gke_clusters_on_real_apiservers_join_a_federation_and_leave_it() {
    let bin = testenv();
    let fake = GkeFake::start().unwrap_or_else(|e| panic!("cannot start the GKE fake: {e}"));

    // Two real control planes that take the fake's tokens (as GKE's take Google's).
    let mut backing = Env::with_stack(BACKING);
    let webhook = backing.path().join("webhook.kubeconfig");
    fake.write_webhook_config(&webhook)
        .expect("webhook kubeconfig");
    backing
        .var("FEDSTACK_KUBE_BIN_DIR", &bin.display().to_string())
        .var(
            "FEDSTACK_LOCAL_APISERVER_ARGS",
            &format!(
                "--authentication-token-webhook-config-file={} --authentication-token-webhook-version=v1",
                webhook.display()
            ),
        );
    backing.run(&["apply", "--auto-approve"]).success();
    for c in ["a", "b"] {
        fake.back_next_cluster(
            &output(&backing, &format!("{c}_endpoint")),
            &output(&backing, &format!("{c}_ca")),
        );
    }

    let mut gke = Env::with_stack(&GKE.replace("URL", fake.url()));
    let creds = gke.path().join("adc.json");
    fake.write_credentials(&creds).expect("credentials file");
    gke.var(
        "GOOGLE_APPLICATION_CREDENTIALS",
        &creds.display().to_string(),
    )
    .var("FEDSTACK_GCP_POLL_INTERVAL", "1ms")
    .var("FEDSTACK_RETRY_BASE_DELAY", "1ms");

    let plan = gke.run(&["plan"]).success();
    assert!(
        plan.stdout.contains("+ federation_member.gke-b"),
        "{}",
        plan.stdout
    );
    let r = gke.run(&["apply", "--auto-approve"]).success();
    assert!(
        r.stdout.contains("Apply complete! Resources: 7 added"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let rejected = fake.rejections();
    assert!(rejected.is_empty(), "the fake refused: {rejected:#?}");
    let state = fake.state();
    assert_eq!(
        state["backing_left"], 0,
        "both clusters are real: {state:#}"
    );
    assert!(
        state["reviews"].as_u64().unwrap_or(0) > 0,
        "the apiservers asked the fake about its tokens"
    );

    // The join, checked on the real apiservers with the kubeconfig fedstack writes for
    // the GKE clusters (the fake's bearer tokens, accepted through the webhook).
    let kc = gke.path().join("gke.kubeconfig");
    gke.run(&["output", "kubeconfig", "--out", &kc.display().to_string()])
        .success();
    let rt = rt();
    rt.block_on(check_joined_to(&kc, "gke-a", &["gke-a", "gke-b"]));
    rt.block_on(check_exact_to(&kc, "gke-a", &["gke-a", "gke-b"]));

    // Nothing changed: the members read `in sync`, the plan is empty.
    let r = gke.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "expected no changes:\n{}{}", r.stdout, r.stderr);

    // A member's host Secret deleted behind fedstack's back shows in the plan and
    // apply repairs it.
    rt.block_on(async {
        let host = client(&kc, "gke-a").await;
        kube::Api::<k8s_openapi::api::core::v1::Secret>::namespaced(host, "kube-federation-system")
            .delete("gke-b-gke-a-credentials", &Default::default())
            .await
            .expect("delete the host secret");
    });
    let plan = gke.run(&["plan"]).success();
    assert!(
        plan.stdout.contains("~ federation_member.gke-b"),
        "{}",
        plan.stdout
    );
    gke.run(&["apply", "--auto-approve"]).success();
    rt.block_on(check_joined_to(&kc, "gke-a", &["gke-a", "gke-b"]));

    // Destroy: the joins are undone on the real apiservers before GKE deletes the
    // clusters, and the fake is left empty.
    let admin = backing.path().join("admin.kubeconfig");
    backing
        .run(&[
            "output",
            "kubeconfig",
            "--out",
            &admin.display().to_string(),
        ])
        .success();
    let host_backing = host_backing_context(&fake, &backing);
    gke.run(&["destroy", "--auto-approve"]).success();
    assert_eq!(clusters_in(&fake), Vec::<String>::new());
    let rejected = fake.rejections();
    assert!(rejected.is_empty(), "the fake refused: {rejected:#?}");
    rt.block_on(async {
        let host = client(&admin, &host_backing).await;
        let ns = kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(host)
            .get_opt("kube-federation-system")
            .await
            .expect("read namespace");
        assert!(
            ns.is_none_or(|n| n.metadata.deletion_timestamp.is_some()),
            "the host's federation namespace goes with the host"
        );
    });
    backing.run(&["destroy", "--auto-approve"]).success();
}

/// Which backing control plane the fake gave GKE cluster gke-a (creates finish in
/// either order).
fn host_backing_context(fake: &GkeFake, backing: &Env) -> String {
    let state = fake.state();
    let endpoint = state["clusters"]
        ["projects/fedstack-test/locations/australia-southeast1/clusters/gke-a"]["endpoint"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for c in ["a", "b"] {
        if output(backing, &format!("{c}_endpoint")).trim_start_matches("https://") == endpoint {
            return format!("backing-{c}");
        }
    }
    panic!(
        "gke-a's endpoint {endpoint} is none of the backing clusters': {:#}",
        json!(state)
    );
}
