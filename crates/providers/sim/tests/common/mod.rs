//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use fedstack_core::address::Address;
use fedstack_core::value::Values;
use fedstack_provider::{
    ErrorClass, Observed, Progress, Provider, ProviderContext, ProviderError, ResourceSpec,
};
use fedstack_provider_sim::{SimOptions, SimProvider};
use serde_json::{json, Value};

pub fn values(v: Value) -> Values {
    match v {
        Value::Object(m) => m.into_iter().collect(),
        Value::Null => Values::new(),
        other => panic!("not an object: {other}"),
    }
}

pub fn ctx(dir: &Path, read_only: bool) -> ProviderContext {
    ProviderContext {
        stack: "test".into(),
        state_dir: dir.to_path_buf(),
        read_only,
    }
}

pub fn spec(address: &str, attrs: Value) -> ResourceSpec {
    let address: Address = address.parse().expect("valid address");
    ResourceSpec {
        cloud_name: address.name.clone(),
        address,
        attrs: values(attrs),
    }
}

/// A sim cloud with explicit options (never the environment: tests run in parallel).
pub fn sim_with(dir: &Path, cloud: &str, settings: Value, options: SimOptions) -> SimProvider {
    SimProvider::with_options(cloud, &values(settings), &ctx(dir, false), options)
        .expect("sim provider")
}

pub fn sim(dir: &Path, cloud: &str, settings: Value) -> SimProvider {
    sim_with(dir, cloud, settings, SimOptions::default())
}

/// The three clouds of the reference stack, with no latency.
pub fn fast_clouds(dir: &Path) -> (SimProvider, SimProvider, SimProvider) {
    (
        sim(dir, "gcp", json!({"emulates": "gcp", "latency": 0})),
        sim(dir, "aws", json!({"emulates": "aws", "latency": 0})),
        sim(dir, "azure", json!({"emulates": "azure", "latency": 0})),
    )
}

/// Records progress messages.
#[derive(Default, Clone)]
pub struct Recorder(pub Arc<Mutex<Vec<String>>>);

impl Recorder {
    pub fn messages(&self) -> Vec<String> {
        self.0.lock().expect("lock").clone()
    }
}

impl Progress for Recorder {
    fn status(&self, message: &str) {
        self.0.lock().expect("lock").push(message.to_string());
    }
}

pub fn cluster(name: &str, region: &str) -> ResourceSpec {
    spec(
        &format!("cluster.{name}"),
        json!({"region": region, "kubernetes_version": "1.31", "labels": {"team": "platform"}}),
    )
}

pub fn pool(cluster: &str, pool: &str, machine_type: &str, cluster_id: &Value) -> ResourceSpec {
    spec(
        &format!("node_pool.{cluster}.{pool}"),
        json!({"cluster": cluster, "cluster_id": cluster_id, "machine_type": machine_type, "node_count": 3,
               "min_count": null, "max_count": null, "labels": {}}),
    )
}

pub fn host(cluster: &str, cluster_id: &Value) -> ResourceSpec {
    spec(
        &format!("federation_host.{cluster}"),
        json!({"cluster": cluster, "cluster_id": cluster_id, "namespace": "kube-federation-system", "scope": "Cluster"}),
    )
}

pub fn member(cluster: &Observed, name: &str, host: &str, host_id: &Value) -> ResourceSpec {
    spec(
        &format!("federation_member.{name}"),
        json!({"cluster": name, "cluster_id": cluster.outputs["id"], "host": host, "host_id": host_id,
               "namespace": "kube-federation-system", "api_endpoint": cluster.outputs["endpoint"],
               "ca_bundle": cluster.outputs["ca_certificate"]}),
    )
}

pub fn zone(name: &str) -> ResourceSpec {
    spec(
        &format!("dns_zone.{name}"),
        json!({"zone": name, "comment": "managed by fedstack"}),
    )
}

pub fn health_check(name: &str, address: &Value) -> ResourceSpec {
    spec(
        &format!("health_check.{name}"),
        json!({"type": "HTTPS", "address": address, "port": 443, "path": "/healthz", "interval": 30, "failure_threshold": 3}),
    )
}

/// A record of zone `fedstack.example.com`; `extra` adds or overrides attributes.
pub fn record(name: &str, zone_id: &Value, value: &Value, extra: Value) -> ResourceSpec {
    let fqdn = name.split_once('/').map_or(name, |(f, _)| f);
    let mut attrs = values(
        json!({"zone": "fedstack.example.com", "zone_id": zone_id, "fqdn": fqdn, "type": "A",
        "ttl": 60, "routing": "simple", "set_id": null, "values": [value], "weight": null, "region": null,
        "location": null, "failover": null, "health_check_id": null}),
    );
    attrs.extend(values(extra));
    ResourceSpec {
        address: format!("dns_record.{name}").parse().expect("valid address"),
        cloud_name: name.to_string(),
        attrs,
    }
}

pub fn class(r: Result<impl std::fmt::Debug, ProviderError>) -> ErrorClass {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.class,
    }
}

pub fn err(r: Result<impl std::fmt::Debug, ProviderError>) -> ProviderError {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

/// The reference demo, made step by step: returns every spec created, in order.
pub async fn build_demo(
    gcp: &SimProvider,
    aws: &SimProvider,
    azure: &SimProvider,
) -> Vec<ResourceSpec> {
    let p = fedstack_provider::NoProgress;
    let mut made = Vec::new();
    let mut clusters = Vec::new();
    for (cloud, name, region, machine) in [
        (gcp, "gke-sydney", "australia-southeast1", "e2-standard-4"),
        (aws, "eks-saopaulo", "sa-east-1", "m5.large"),
        (azure, "aks-toronto", "canadacentral", "Standard_D4s_v5"),
    ] {
        let c = cluster(name, region);
        let o = cloud.create(&c, &p).await.expect("cluster");
        made.push(c);
        let np = pool(name, "default", machine, &o.outputs["id"]);
        cloud.create(&np, &p).await.expect("pool");
        made.push(np);
        clusters.push((cloud, name, o));
    }
    let h = host("gke-sydney", &clusters[0].2.outputs["id"]);
    let ho = gcp.create(&h, &p).await.expect("host");
    made.push(h);
    for (cloud, name, o) in &clusters {
        let m = member(o, name, "gke-sydney", &ho.outputs["id"]);
        cloud.create(&m, &p).await.expect("member");
        made.push(m);
    }
    let z = zone("fedstack.example.com");
    let zo = aws.create(&z, &p).await.expect("zone");
    made.push(z);
    let mut hc_ids = Vec::new();
    for (i, hc_name) in ["sydney-https", "saopaulo-https", "toronto-https"]
        .iter()
        .enumerate()
    {
        let hc = health_check(hc_name, &clusters[i].2.outputs["ingress_address"]);
        let o = aws.create(&hc, &p).await.expect("health check");
        hc_ids.push(o.outputs["id"].clone());
        made.push(hc);
    }
    let ip = |i: usize| clusters[i].2.outputs["ingress_address"].clone();
    let zid = &zo.outputs["id"];
    let records = [
        record(
            "app.fedstack.example.com/sydney",
            zid,
            &ip(0),
            json!({"routing": "latency", "set_id": "sydney", "region": "ap-southeast-2", "health_check_id": hc_ids[0]}),
        ),
        record(
            "app.fedstack.example.com/saopaulo",
            zid,
            &ip(1),
            json!({"routing": "latency", "set_id": "saopaulo", "region": "sa-east-1", "health_check_id": hc_ids[1]}),
        ),
        record(
            "app.fedstack.example.com/toronto",
            zid,
            &ip(2),
            json!({"routing": "latency", "set_id": "toronto", "region": "ca-central-1", "health_check_id": hc_ids[2]}),
        ),
        record(
            "api.fedstack.example.com/primary",
            zid,
            &ip(1),
            json!({"routing": "failover", "set_id": "primary", "failover": "PRIMARY", "health_check_id": hc_ids[1]}),
        ),
        record(
            "api.fedstack.example.com/secondary",
            zid,
            &ip(2),
            json!({"routing": "failover", "set_id": "secondary", "failover": "SECONDARY", "health_check_id": hc_ids[2]}),
        ),
        record(
            "shop.fedstack.example.com/blue",
            zid,
            &ip(0),
            json!({"routing": "weighted", "set_id": "blue", "weight": 100, "health_check_id": hc_ids[0]}),
        ),
        record(
            "shop.fedstack.example.com/green",
            zid,
            &ip(2),
            json!({"routing": "weighted", "set_id": "green", "weight": 0, "health_check_id": hc_ids[2]}),
        ),
        record("www.fedstack.example.com", zid, &ip(0), json!({})),
    ];
    for r in records {
        aws.create(&r, &p).await.expect("record");
        made.push(r);
    }
    made
}
