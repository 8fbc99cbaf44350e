//! Stack generators.

use std::fmt::Write;

/// A fleet: clusters across three sim clouds, each with two node pools, a federation
/// member, a health check and a weighted record target. About 6 resources a cluster.
pub fn fleet(resources: usize, latency: &str) -> String {
    let clusters = (resources.saturating_sub(1) / 6).max(1);
    let mut s = String::with_capacity(resources * 200);
    let _ = writeln!(s, "name: bench-fleet-{resources}\nclouds:");
    for (name, emulates) in [("gcp", "gcp"), ("aws", "aws"), ("azure", "azure")] {
        let _ = writeln!(
            s,
            "  {name}:\n    provider: sim\n    emulates: {emulates}\n    latency: {latency}"
        );
    }
    let flavors = [
        ("gcp", "us-central1", "e2-standard-4"),
        ("aws", "us-east-1", "m5.large"),
        ("azure", "eastus", "Standard_D4s_v5"),
    ];
    s.push_str("clusters:\n");
    for i in 0..clusters {
        let (cloud, region, machine) = flavors[i % 3];
        let _ = writeln!(
            s,
            "  c{i:05}:\n    cloud: {cloud}\n    region: {region}\n    kubernetes_version: \"1.31\"\n    node_pools:\n      system:\n        machine_type: {machine}\n        node_count: 3\n      apps:\n        machine_type: {machine}\n        node_count: 5"
        );
    }
    let _ = writeln!(s, "federation:\n  host: c00000\n  members:");
    for i in 0..clusters {
        let _ = writeln!(s, "    - c{i:05}");
    }
    let _ = writeln!(
        s,
        "dns:\n  zone: fleet.example.com\n  cloud: aws\n  health_checks:"
    );
    for i in 0..clusters {
        let _ = writeln!(
            s,
            "    hc{i:05}:\n      cluster: c{i:05}\n      type: HTTPS\n      path: /healthz"
        );
    }
    s.push_str("  records:\n");
    for group in 0..clusters.div_ceil(10) {
        let _ = writeln!(
            s,
            "    app{group}:\n      routing: weighted\n      targets:"
        );
        for i in group * 10..((group + 1) * 10).min(clusters) {
            let _ = writeln!(
                s,
                "        c{i:05}: {{ cluster: c{i:05}, weight: 10, health_check: hc{i:05} }}"
            );
        }
    }
    s
}

/// A layered DAG of `data` resources: `layers` layers, each node depending on up to
/// three nodes of the layer before. Run by a sim cloud with the given latency.
pub fn dag(resources: usize, layers: usize, latency: &str) -> String {
    let layers = layers.max(1);
    let width = resources.div_ceil(layers);
    let mut s = String::with_capacity(resources * 120);
    let _ = writeln!(s, "name: bench-dag-{resources}\nclouds:\n  sim:\n    provider: sim\n    latency: {latency}\ndata:");
    let mut n = 0;
    for layer in 0..layers {
        for i in 0..width {
            if n == resources {
                break;
            }
            n += 1;
            let _ = write!(s, "  l{layer}-n{i}:\n    cloud: sim\n    values:\n      layer: {layer}\n      index: {i}\n");
            if layer > 0 {
                s.push_str("    depends_on: [");
                let deps: Vec<String> = [i, (i * 7 + 1) % width, (i * 13 + 5) % width]
                    .iter()
                    .map(|d| format!("data.l{}-n{d}", layer - 1))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                s.push_str(&deps.join(", "));
                s.push_str("]\n");
            }
        }
    }
    s
}

/// `clusters` sim clusters (one pool each), all federation members, and the guestbook
/// (manifests in `manifests`, relative to the stack) on every one of them with weighted
/// replicas: the workload benchmark's fleet.
pub fn guestbook_fleet(clusters: usize, latency: &str, manifests: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "name: bench-guestbook-{clusters}\nclouds:\n  gcp:\n    provider: sim\n    emulates: gcp\n    latency: {latency}\nclusters:"
    );
    for i in 0..clusters {
        let _ = writeln!(
            s,
            "  c{i:03}:\n    cloud: gcp\n    region: us-central1\n    kubernetes_version: \"1.31\"\n    node_pools:\n      default: {{ machine_type: e2-standard-4, node_count: 3 }}"
        );
    }
    let _ = writeln!(s, "federation:\n  host: c000\n  members:");
    for i in 0..clusters {
        let _ = writeln!(s, "    - c{i:03}");
    }
    let _ = writeln!(
        s,
        "workloads:\n  guestbook:\n    manifests: {manifests}\n    namespace: guestbook\n    replicas: {{ total: {} }}",
        clusters * 3
    );
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn fleet_has_about_the_asked_size() {
        let s = super::fleet(1000, "0");
        let clusters = s.matches("kubernetes_version").count();
        assert_eq!(clusters, 166);
    }

    #[test]
    fn dag_has_exactly_the_asked_size() {
        let s = super::dag(1000, 10, "0");
        assert_eq!(s.matches("    cloud: sim").count(), 1000);
    }
}
