//! The mission in one test: a cluster in each of the three clouds -- GKE and AKS on
//! their contract fakes, each cluster backed by a real local apiserver that accepts
//! that cloud's tokens, and EKS on moto -- one stack applies them, federates the GKE
//! and AKS members on the real apiservers (the kubefed objects are checked there), puts
//! Route 53 records in front of all three, re-plans as a no-op, and destroys everything.

use fedstack_aks_fake::{AksFake, SUBSCRIPTION_ID};
use fedstack_gke_fake::GkeFake;
use fedstack_moto::Moto;

use super::common::Env;
use super::{check_exact_to, check_joined_to, rt, testenv};

/// One real control plane whose apiserver asks `webhook` (a kubeconfig) about tokens.
fn backing(name: &str, write_webhook: impl Fn(&std::path::Path)) -> (Env, String, String) {
    let stack = format!(
        "name: {name}\nclouds:\n  local: {{ provider: local }}\nclusters:\n  {name}: {{ cloud: local, region: local, kubernetes_version: \"1.36\" }}\noutputs:\n  endpoint: {{ value: \"${{cluster.{name}.endpoint}}\" }}\n  ca: {{ value: \"${{cluster.{name}.ca_certificate}}\" }}\n"
    );
    let mut env = Env::with_stack(&stack);
    let webhook = env.path().join("webhook.kubeconfig");
    write_webhook(&webhook);
    env.var("FEDSTACK_KUBE_BIN_DIR", &testenv().display().to_string())
        .var(
            "FEDSTACK_LOCAL_APISERVER_ARGS",
            &format!(
                "--authentication-token-webhook-config-file={} --authentication-token-webhook-version=v1",
                webhook.display()
            ),
        );
    env.run(&["apply", "--auto-approve"]).success();
    let out = |o: &str| {
        env.run(&["output", "--raw", o])
            .success()
            .stdout
            .trim()
            .to_string()
    };
    let (endpoint, ca) = (out("endpoint"), out("ca"));
    (env, endpoint, ca)
}

const STACK: &str = "\
name: three
clouds:
  gcp: { provider: gcp, project: fedstack-test, endpoint_url: GKE_URL }
  azure: { provider: azure, subscription_id: SUB, resource_group: fedstack-three, endpoint_url: AKS_URL, ca_file: AKS_CA }
  aws: { provider: aws, region: us-east-1, endpoint_url: MOTO_URL }
clusters:
  gke-sydney:
    cloud: gcp
    region: australia-southeast1
    kubernetes_version: \"1.31\"
    ingress_address: 203.0.113.10
    node_pools:
      default: { machine_type: e2-standard-4, node_count: 1 }
  eks-saopaulo:
    cloud: aws
    region: us-east-1
    kubernetes_version: \"1.31\"
    ingress_address: 203.0.113.20
    node_pools:
      default: { machine_type: m5.large, node_count: 1 }
  aks-toronto:
    cloud: azure
    region: canadacentral
    kubernetes_version: \"1.31\"
    ingress_address: 203.0.113.30
    node_pools:
      system: { machine_type: Standard_D4s_v5, node_count: 1 }
federation:
  host: gke-sydney
  members: [gke-sydney, aks-toronto]
dns:
  zone: three.fedstack.example.com
  cloud: aws
  records:
    app:
      routing: weighted
      ttl: 60
      targets:
        sydney: { cluster: gke-sydney, weight: 50 }
        toronto: { cluster: aks-toronto, weight: 50 }
        saopaulo: { cluster: eks-saopaulo, weight: 0 }
";

#[test]
fn gke_aks_and_eks_in_one_stack_federate_on_real_apiservers_behind_route53() {
    let gke = GkeFake::start().unwrap_or_else(|e| panic!("cannot start the GKE fake: {e}"));
    let aks = AksFake::start().unwrap_or_else(|e| panic!("cannot start the AKS fake: {e}"));
    let moto = Moto::start().unwrap_or_else(|e| panic!("cannot start moto: {e}"));

    let (gke_backing, endpoint, ca) = backing("backing-gke", |p| {
        gke.write_webhook_config(p).expect("webhook config")
    });
    gke.back_next_cluster(&endpoint, &ca);
    let (aks_backing, endpoint, ca) = backing("backing-aks", |p| {
        aks.write_webhook_config(p).expect("webhook config")
    });
    aks.back_next_cluster(&endpoint, &ca);

    let text = STACK
        .replace("GKE_URL", gke.url())
        .replace("AKS_URL", aks.url())
        .replace("AKS_CA", &aks.ca_file().display().to_string())
        .replace("SUB", SUBSCRIPTION_ID)
        .replace("MOTO_URL", &moto.endpoint());
    let mut env = Env::with_stack(&text);
    let adc = env.path().join("adc.json");
    gke.write_credentials(&adc).expect("credentials file");
    let home = env.path().join("home");
    env.var("GOOGLE_APPLICATION_CREDENTIALS", &adc.display().to_string())
        .var("AWS_ACCESS_KEY_ID", "test")
        .var("AWS_SECRET_ACCESS_KEY", "test")
        .var(
            "AWS_CONFIG_FILE",
            &home.join("config").display().to_string(),
        )
        .var(
            "AWS_SHARED_CREDENTIALS_FILE",
            &home.join("credentials").display().to_string(),
        )
        .var("AWS_EC2_METADATA_DISABLED", "true")
        .var("FEDSTACK_GCP_POLL_INTERVAL", "1ms")
        .var("FEDSTACK_AZURE_POLL_INTERVAL", "1ms")
        .var("FEDSTACK_AWS_POLL_INTERVAL", "20ms")
        .var("FEDSTACK_AWS_INSYNC_POLL_INTERVAL", "20ms")
        .var("FEDSTACK_AWS_RETRY_BASE_DELAY", "10ms")
        .var("FEDSTACK_RETRY_BASE_DELAY", "1ms");
    for (k, v) in aks.credentials_env() {
        env.var(k, &v);
    }

    let r = env.run(&["apply", "--auto-approve"]).success();
    assert!(r.stdout.contains("Apply complete!"), "{}", r.stdout);
    assert!(
        gke.rejections().is_empty(),
        "GKE fake refused: {:#?}",
        gke.rejections()
    );
    assert!(
        aks.rejections().is_empty(),
        "AKS fake refused: {:#?}",
        aks.rejections()
    );
    assert_eq!(gke.state()["backing_left"], 0, "the GKE cluster is real");
    assert_eq!(aks.state()["backing_left"], 0, "the AKS cluster is real");

    // The federation, on the real apiservers, through the kubeconfig fedstack writes
    // (a Google token for GKE, the AKS user kubeconfig's token for AKS).
    let kc = env.path().join("all.kubeconfig");
    env.run(&["output", "kubeconfig", "--out", &kc.display().to_string()])
        .success();
    let rt = rt();
    rt.block_on(check_joined_to(
        &kc,
        "gke-sydney",
        &["gke-sydney", "aks-toronto"],
    ));
    rt.block_on(check_exact_to(
        &kc,
        "gke-sydney",
        &["gke-sydney", "aks-toronto"],
    ));

    // Route 53 in front of all three.
    let records = moto
        .inventory("us-east-1")
        .expect("moto inventory")
        .records();
    for want in [
        "app.three.fedstack.example.com A [sydney] w=50: 203.0.113.10",
        "app.three.fedstack.example.com A [toronto] w=50: 203.0.113.30",
        "app.three.fedstack.example.com A [saopaulo] w=0: 203.0.113.20",
    ] {
        assert!(
            records.iter().any(|r| r == want),
            "{want} not in {records:#?}"
        );
    }

    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "expected no changes:\n{}{}", r.stdout, r.stderr);

    env.run(&["destroy", "--auto-approve"]).success();
    assert_eq!(gke.state()["clusters"], serde_json::json!({}));
    assert_eq!(aks.state()["clusters"], serde_json::json!({}));
    assert!(
        moto.inventory("us-east-1")
            .expect("moto inventory")
            .is_empty(),
        "moto keeps something"
    );
    gke_backing.run(&["destroy", "--auto-approve"]).success();
    aks_backing.run(&["destroy", "--auto-approve"]).success();
}
