//! Which provider joins a federation: the host's own (sim, local) when every member is
//! on that provider's clouds, else the built-in `kubernetes` provider.

mod common;

use common::{ok, one_error};
use fedstack_core::address::ResourceKind;
use fedstack_core::stack::{DesiredStack, KUBERNETES_CLOUD};
use fedstack_core::value::Expr;

fn federation_clouds(s: &DesiredStack) -> Vec<(String, Option<String>)> {
    s.resources
        .iter()
        .filter(|r| {
            matches!(
                r.address.kind,
                ResourceKind::FederationHost | ResourceKind::FederationMember
            )
        })
        .map(|r| (r.address.to_string(), r.cloud.clone()))
        .collect()
}

fn stack(clouds: &str, clusters: &str, members: &str) -> String {
    format!("name: t\nclouds:\n{clouds}clusters:\n{clusters}federation:\n  host: a\n  members: [{members}]\n")
}

#[test]
fn simulated_clouds_keep_their_federation_across_flavors() {
    let s = ok(&stack(
        "  g: { provider: sim, emulates: gcp }\n  e: { provider: sim, emulates: aws }\n",
        "  a: { cloud: g, region: us-central1, kubernetes_version: \"1.31\" }\n  b: { cloud: e, region: us-east-1, kubernetes_version: \"1.31\" }\n",
        "a, b",
    ));
    for (address, cloud) in federation_clouds(&s) {
        assert_eq!(cloud.as_deref(), Some("g"), "{address}");
    }
}

#[test]
fn local_clusters_keep_theirs() {
    let s = ok(&stack(
        "  l: { provider: local }\n",
        "  a: { cloud: l, region: local, kubernetes_version: \"1.31\" }\n  b: { cloud: l, region: local, kubernetes_version: \"1.31\" }\n",
        "a, b",
    ));
    for (address, cloud) in federation_clouds(&s) {
        assert_eq!(cloud.as_deref(), Some("l"), "{address}");
    }
}

#[test]
fn real_clouds_and_mixed_federations_go_to_the_kubernetes_provider() {
    for (clouds, clusters) in [
        (
            "  g: { provider: gcp, project: p }\n",
            "  a: { cloud: g, region: us-central1, kubernetes_version: \"1.31\" }\n  b: { cloud: g, region: europe-west1, kubernetes_version: \"1.31\" }\n",
        ),
        (
            "  g: { provider: gcp, project: p }\n  w: { provider: aws }\n",
            "  a: { cloud: g, region: us-central1, kubernetes_version: \"1.31\" }\n  b: { cloud: w, region: us-east-1, kubernetes_version: \"1.31\" }\n",
        ),
        (
            "  l: { provider: local }\n  g: { provider: gcp, project: p }\n",
            "  a: { cloud: l, region: local, kubernetes_version: \"1.31\" }\n  b: { cloud: g, region: us-central1, kubernetes_version: \"1.31\" }\n",
        ),
    ] {
        let s = ok(&stack(clouds, clusters, "a, b"));
        let routed = federation_clouds(&s);
        assert_eq!(routed.len(), 3, "{routed:?}");
        for (address, cloud) in routed {
            assert_eq!(cloud.as_deref(), Some(KUBERNETES_CLOUD), "{address}");
        }
        let member = s
            .resources
            .iter()
            .find(|r| r.address.kind == ResourceKind::FederationMember)
            .expect("a member");
        assert_eq!(
            member.attrs.get("credentials"),
            Some(&Expr::lit("in sync")),
            "the kubernetes provider reads each join's health"
        );
    }
}

#[test]
fn the_kubernetes_cloud_name_is_reserved() {
    let e = one_error("name: t\nclouds:\n  kubernetes: { provider: sim }\n");
    assert!(
        e.starts_with("t.yaml:3:3: cloud name `kubernetes` is reserved"),
        "{e}"
    );
    assert!(e.contains("call this cloud something else"), "{e}");
}
