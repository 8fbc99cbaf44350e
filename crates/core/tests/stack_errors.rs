//! One test per class of stack-file error, each pinning the exact one-line message
//! (`file:line:column: message (hint: ...)`).

use std::time::Duration;

use fedstack_core::stack::{
    S3StateConfig, Span, StateBackendConfig, StateSection, DEFAULT_LOCK_TTL,
};

mod common;
use common::*;

/// 13 lines: a sim cloud and clusters `a` and `b`.
const BASE: &str = "\
name: t
clouds:
  sim:
    provider: sim
clusters:
  a:
    cloud: sim
    region: us-east-1
    kubernetes_version: \"1.31\"
  b:
    cloud: sim
    region: eu-west-1
    kubernetes_version: \"1.31\"
";

/// BASE plus a zone with health check `hc`; records start at line 21.
const DNS: &str = "\
name: t
clouds:
  sim:
    provider: sim
clusters:
  a:
    cloud: sim
    region: us-east-1
    kubernetes_version: \"1.31\"
  b:
    cloud: sim
    region: eu-west-1
    kubernetes_version: \"1.31\"
dns:
  zone: z.example.com
  cloud: sim
  health_checks:
    hc:
      cluster: a
  records:
";

fn with(base: &str, rest: &str) -> String {
    format!("{base}{rest}")
}

#[test]
fn base_stacks_load() {
    let s = ok(BASE);
    assert_eq!(s.resources.len(), 2);
    ok(&with(DNS, "    app: { targets: { x: { cluster: a } } }\n"));
}

// ----- YAML level ------------------------------------------------------------

#[test]
fn syntax_error_is_located_at_the_scanner_marker() {
    assert_eq!(
        one_error("name: t\nclouds: [a, b\nclusters: {}\n"),
        "t.yaml:3:9: invalid YAML: illegal placement of ':' indicator"
    );
}

#[test]
fn duplicate_key_is_reported_at_the_second_key() {
    let text = BASE.replace(
        "    region: us-east-1\n",
        "    region: us-east-1\n    region: us-east-2\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:9:5: duplicate key `region` (hint: it is first set at line 8, column 5)"
    );
}

#[test]
fn keys_must_be_scalars() {
    assert_eq!(
        errors("name: t\nclouds: {}\n? [a, b]\n: c\n"),
        ["t.yaml:3:3: a mapping key must be a scalar, found a list"]
    );
}

#[test]
fn empty_document() {
    assert_eq!(
        one_error(""),
        "t.yaml:1:1: the stack file is empty (hint: a stack needs at least `name` and `clouds`)"
    );
    assert_eq!(
        one_error("# nothing here\n"),
        "t.yaml:1:1: the stack file is empty (hint: a stack needs at least `name` and `clouds`)"
    );
}

#[test]
fn top_level_must_be_a_mapping() {
    assert_eq!(
        one_error("- name: t\n"),
        "t.yaml:1:1: the stack file must be a mapping, found a list (hint: start with `name:` and `clouds:`)"
    );
}

#[test]
fn two_documents_are_rejected() {
    assert_eq!(
        one_error("name: t\nclouds: {}\n---\nname: u\n"),
        "t.yaml:3:1: a stack file holds one YAML document, found a second one (hint: remove the `---` and what follows it)"
    );
}

#[test]
fn anchors_and_aliases_are_expanded() {
    let text = "\
name: t
clouds:
  sim: { provider: sim }
clusters:
  a: &c
    cloud: sim
    region: us-east-1
    kubernetes_version: 1.30
  b: *c
";
    let s = ok(text);
    assert_eq!(s.resources.len(), 2);
    // `1.30` keeps its text: it is never a float.
    assert_eq!(
        s.resources[1].attrs["kubernetes_version"],
        fedstack_core::value::Expr::lit("1.30")
    );
}

// ----- fields and types ------------------------------------------------------

#[test]
fn unknown_field_with_did_you_mean() {
    let text = BASE.replace(
        "    region: us-east-1\n",
        "    regoin: us-east-1\n    region: us-east-1\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:8:5: unknown field `regoin` in cluster `a` (hint: did you mean `region`?)"
    );
}

#[test]
fn unknown_field_without_a_close_match_lists_the_fields() {
    let text = BASE.replace(
        "    region: us-east-1\n",
        "    region: us-east-1\n    color: red\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:9:5: unknown field `color` in cluster `a` (hint: fields are: cloud, region, kubernetes_version, labels, node_pools, depends_on)"
    );
}

#[test]
fn setting_of_another_provider() {
    assert_eq!(
        one_error("name: t\nclouds:\n  g:\n    provider: aws\n    project: p\n"),
        "t.yaml:5:5: unknown field `project` in cloud `g` (hint: `project` is a setting of gcp clouds; this cloud uses provider aws)"
    );
}

#[test]
fn wrong_type_integer() {
    let text = with(
        BASE,
        "    node_pools:\n      p:\n        machine_type: m\n        node_count: abc\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:17:21: expected an integer for `node_count` in node pool `p` of cluster `b`, found `abc`"
    );
}

#[test]
fn quoted_integers_are_strings() {
    let text = with(
        BASE,
        "    node_pools:\n      p:\n        machine_type: m\n        node_count: \"3\"\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:17:21: expected an integer for `node_count` in node pool `p` of cluster `b`, found `\"3\"` (hint: remove the quotes)"
    );
}

#[test]
fn wrong_type_boolean() {
    let text = with(BASE, "outputs:\n  o:\n    value: 1\n    sensitive: yes\n");
    assert_eq!(
        one_error(&text),
        "t.yaml:17:16: expected true or false for `sensitive` in output `o`, found `yes`"
    );
}

#[test]
fn wrong_type_mapping() {
    assert_eq!(
        one_error("name: t\nclouds: [a]\n"),
        "t.yaml:2:9: expected a mapping for `clouds` in the stack, found a list"
    );
}

#[test]
fn integer_out_of_range() {
    let text = with(
        BASE,
        "    node_pools:\n      p:\n        machine_type: m\n        node_count: 5000\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:17:21: `node_count` in node pool `p` of cluster `b` must be between 0 and 1000, found 5000"
    );
}

#[test]
fn missing_required_field() {
    let text = BASE.replace("    region: us-east-1\n", "");
    assert_eq!(
        one_error(&text),
        "t.yaml:6:3: missing field `region` in cluster `a`"
    );
}

#[test]
fn missing_required_top_level_field() {
    assert_eq!(
        one_error("clouds: {}\n"),
        "t.yaml:1:1: missing field `name` in the stack"
    );
}

#[test]
fn enum_value_with_did_you_mean() {
    assert_eq!(
        one_error("name: t\nclouds:\n  g:\n    provider: gpc\n"),
        "t.yaml:4:15: `provider` in cloud `g` must be one of gcp, aws, azure, sim, local; found `gpc` (hint: did you mean `gcp`?)"
    );
}

#[test]
fn provider_required_settings() {
    assert_eq!(
        one_error("name: t\nclouds:\n  g:\n    provider: gcp\n"),
        "t.yaml:3:3: missing field `project` in cloud `g`"
    );
}

#[test]
fn invalid_stack_name() {
    assert_eq!(
        one_error("name: My Stack\nclouds: {}\n"),
        "t.yaml:1:7: invalid stack name `My Stack` (hint: use 1-63 lowercase letters, digits and hyphens, starting with a letter)"
    );
}

#[test]
fn invalid_cluster_name() {
    let text = BASE.replace("  b:\n", "  b-:\n");
    assert_eq!(
        one_error(&text),
        "t.yaml:10:3: invalid cluster name `b-` (hint: use 1-40 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen)"
    );
}

#[test]
fn invalid_kubernetes_version() {
    let text = BASE.replace("\"1.31\"\n  b:", "\"v1.31\"\n  b:");
    assert_eq!(
        one_error(&text),
        "t.yaml:9:25: invalid kubernetes_version `v1.31` in cluster `a` (hint: use MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. \"1.31\")"
    );
}

#[test]
fn unknown_cloud_in_cluster() {
    let text = BASE.replace(
        "    cloud: sim\n    region: us-east-1",
        "    cloud: sm\n    region: us-east-1",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:7:12: unknown cloud `sm` in cluster `a` (hint: did you mean `sim`?)"
    );
}

#[test]
fn node_pool_counts() {
    let text = with(
        BASE,
        "    node_pools:\n      p:\n        machine_type: m\n        node_count: 3\n        min_count: 4\n        max_count: 2\n",
    );
    assert_eq!(
        errors(&text),
        [
            "t.yaml:18:20: `min_count` (4) is greater than `node_count` (3) in node pool `p` of cluster `b`",
            "t.yaml:19:20: `max_count` (2) is less than `node_count` (3) in node pool `p` of cluster `b`",
        ]
    );
}

#[test]
fn invalid_duration() {
    assert_eq!(
        one_error("name: t\nclouds:\n  s:\n    provider: sim\n    latency: { create: 2x }\n"),
        "t.yaml:5:24: invalid duration `2x` for `create` in `latency` in cloud `s` (hint: use a number of seconds or a duration like 250ms, 2s or 1m)"
    );
}

#[test]
fn sim_settings_are_normalised() {
    let s = ok("name: t\nclouds:\n  s:\n    provider: sim\n    emulates: aws\n    latency: { create: 2s, read: 250ms, delete: 1 }\n    max_parallel: 4\n  t:\n    provider: sim\n    latency: 0.5\n");
    assert_eq!(
        serde_json::to_string(&s.clouds["s"].settings).expect("json"),
        r#"{"emulates":"aws","latency":{"create":2000,"read":250,"delete":1000},"max_parallel":4}"#
    );
    assert_eq!(
        serde_json::to_string(&s.clouds["t"].settings).expect("json"),
        r#"{"latency":500}"#
    );
}

// ----- federation ------------------------------------------------------------

#[test]
fn federation_member_listed_twice() {
    let text = with(BASE, "federation:\n  host: a\n  members: [a, b, a]\n");
    assert_eq!(
        one_error(&text),
        "t.yaml:16:19: cluster `a` is listed twice in federation members (hint: it is first listed at line 16, column 13)"
    );
}

#[test]
fn federation_host_not_a_member() {
    let text = with(BASE, "federation:\n  host: a\n  members: [b]\n");
    assert_eq!(
        one_error(&text),
        "t.yaml:15:9: federation host `a` is not one of the members (hint: add `a` to `members`)"
    );
}

#[test]
fn federation_members_without_host() {
    let text = with(BASE, "federation:\n  members: [a, b]\n");
    assert_eq!(
        one_error(&text),
        "t.yaml:15:3: federation has members but no host (hint: set `host` to one of the members)"
    );
}

#[test]
fn federation_unknown_cluster() {
    let text = with(BASE, "federation:\n  host: a\n  members: [a, c]\n");
    assert_eq!(
        one_error(&text),
        "t.yaml:16:16: unknown cluster `c` in federation members (hint: clusters are: a, b)"
    );
}

#[test]
fn federation_lowering() {
    let s = ok(&with(
        BASE,
        "    node_pools:\n      p: { machine_type: m, node_count: 1 }\nfederation:\n  host: b\n  members: [a, b]\n",
    ));
    let names: Vec<String> = s.resources.iter().map(|r| r.address.to_string()).collect();
    assert_eq!(
        names,
        [
            "cluster.a",
            "cluster.b",
            "node_pool.b.p",
            "federation_host.b",
            "federation_member.a",
            "federation_member.b",
        ]
    );
    let host = &s.resources[3];
    let deps: Vec<String> = host.depends_on.iter().map(ToString::to_string).collect();
    assert_eq!(deps, ["cluster.b", "node_pool.b.p"]);
}

// ----- references and the graph ----------------------------------------------

#[test]
fn dangling_reference_with_did_you_mean() {
    let text = with(
        BASE,
        "data:\n  d:\n    values:\n      url: https://${cluster.aa.endpoint}/\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:17:12: reference to undeclared resource `cluster.aa` in data `d` (hint: did you mean `cluster.a`?)"
    );
}

#[test]
fn dangling_depends_on() {
    let text = with(BASE, "data:\n  d:\n    depends_on: [node_pool.a.default]\n");
    assert_eq!(
        one_error(&text),
        "t.yaml:16:18: reference to undeclared resource `node_pool.a.default` in data `d` (hint: there are no node_pool addresses)"
    );
}

#[test]
fn malformed_depends_on() {
    let text = with(BASE, "data:\n  d:\n    depends_on: [clusters.a]\n");
    assert_eq!(
        one_error(&text),
        "t.yaml:16:18: invalid address `clusters.a` in `depends_on` of data `d` (hint: did you mean `cluster.a`?)"
    );
}

#[test]
fn unknown_output_of_a_kind() {
    let text = with(BASE, "outputs:\n  o:\n    value: ${cluster.a.endpiont}\n");
    assert_eq!(
        one_error(&text),
        "t.yaml:16:12: unknown output `endpiont` of `cluster.a` in output `o` (hint: did you mean `endpoint`?)"
    );
}

#[test]
fn data_outputs_are_its_value_keys() {
    let text = with(
        BASE,
        "data:\n  d:\n    values: { port: 80 }\n  e:\n    values:\n      x: ${data.d.port}\n      y: ${data.d.id}\n      z: ${data.d.prot}\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:21:10: unknown output `prot` of `data.d` in data `e` (hint: did you mean `port`?)"
    );
}

#[test]
fn malformed_template() {
    let text = with(
        BASE,
        "data:\n  d:\n    values:\n      x: \"${cluster.a}\"\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:17:10: invalid reference in `values.x` of data `d`: `${cluster.a}` is not a reference of the form ${KIND.NAME.OUTPUT} (hint: references look like ${cluster.NAME.endpoint})"
    );
}

#[test]
fn dependency_cycle_is_printed() {
    let text = with(
        BASE,
        "data:\n  x:\n    values: { v: 1 }\n  p:\n    values: { v: \"${data.q.v}\" }\n  q:\n    depends_on: [data.r]\n    values: { v: 1 }\n  r:\n    values: { v: \"${data.p.v}\" }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:17:3: dependency cycle: data.p -> data.q -> data.r -> data.p (hint: remove one of these references or `depends_on` entries)"
    );
}

#[test]
fn self_dependency_is_a_cycle() {
    let text = with(BASE, "data:\n  p:\n    depends_on: [data.p]\n");
    assert_eq!(
        one_error(&text),
        "t.yaml:15:3: dependency cycle: data.p -> data.p (hint: remove one of these references or `depends_on` entries)"
    );
}

#[test]
fn cycle_through_a_cluster() {
    let text = BASE.replace(
        "    region: eu-west-1\n",
        "    region: eu-west-1\n    depends_on: [data.d]\n",
    ) + "data:\n  d:\n    values: { e: \"${cluster.b.endpoint}\" }\n";
    assert_eq!(
        one_error(&text),
        "t.yaml:10:3: dependency cycle: cluster.b -> data.d -> cluster.b (hint: remove one of these references or `depends_on` entries)"
    );
}

#[test]
fn duplicate_address() {
    let text = with(
        DNS,
        "    app:\n      targets: { x: { address: 10.0.0.1 } }\n    app.z.example.com.:\n      targets: { x: { address: 10.0.0.2 } }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:23:5: duplicate address `dns_record.app.z.example.com` from record `app.z.example.com.` (hint: record `app` at line 21, column 5 has the same name)"
    );
}

#[test]
fn record_outside_the_zone() {
    let text = with(
        DNS,
        "    www.other.com.:\n      targets: { x: { address: 10.0.0.1 } }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:21:5: record `www.other.com.` is not inside zone `z.example.com` (hint: use a name relative to the zone, like `app`, or an absolute name ending in `.z.example.com.`)"
    );
}

// ----- DNS routing rules -----------------------------------------------------

#[test]
fn weighted_needs_weight_on_every_target() {
    let text = with(
        DNS,
        "    r:\n      routing: weighted\n      targets:\n        x: { cluster: a, weight: 1 }\n        y: { cluster: b }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:25:9: target `y` of weighted record `r` needs `weight` (hint: weights are 0-255)"
    );
}

#[test]
fn weight_out_of_range() {
    let text = with(
        DNS,
        "    r:\n      routing: weighted\n      targets:\n        x: { cluster: a, weight: 256 }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:24:34: `weight` in target `x` of record `r` must be between 0 and 255, found 256"
    );
}

#[test]
fn weight_in_a_failover_record() {
    let text = with(
        DNS,
        "    r:\n      routing: failover\n      targets:\n        x: { cluster: a, failover: PRIMARY, weight: 5 }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:24:45: `weight` is only valid with routing: weighted; this record uses failover"
    );
}

#[test]
fn failover_needs_failover_on_every_target() {
    let text = with(
        DNS,
        "    r:\n      routing: failover\n      targets:\n        x: { cluster: a, failover: PRIMARY }\n        y: { cluster: b }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:25:9: target `y` of failover record `r` needs `failover` (hint: PRIMARY or SECONDARY)"
    );
}

#[test]
fn failover_two_primary() {
    let text = with(
        DNS,
        "    r:\n      routing: failover\n      targets:\n        x: { cluster: a, failover: PRIMARY }\n        y: { cluster: b, failover: PRIMARY }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:25:36: failover record `r` has two PRIMARY targets (hint: a failover record has exactly one PRIMARY target)"
    );
}

#[test]
fn failover_two_secondary() {
    let text = with(
        DNS,
        "    r:\n      routing: failover\n      targets:\n        x: { cluster: a, failover: SECONDARY }\n        y: { cluster: b, failover: SECONDARY }\n",
    );
    assert_eq!(
        errors(&text),
        [
            "t.yaml:21:5: failover record `r` has no PRIMARY target (hint: mark one target `failover: PRIMARY`)",
            "t.yaml:25:36: failover record `r` has two SECONDARY targets (hint: a failover record has at most one SECONDARY target)",
        ]
    );
}

#[test]
fn failover_more_than_two_targets() {
    let text = with(
        DNS,
        "    r:\n      routing: failover\n      targets:\n        x: { cluster: a, failover: PRIMARY }\n        y: { cluster: b, failover: SECONDARY }\n        z: { address: 10.0.0.1, failover: SECONDARY }\n",
    );
    assert_eq!(
        errors(&text),
        [
            "t.yaml:26:9: failover record `r` has more than two targets (hint: a failover record has one PRIMARY and at most one SECONDARY target)",
            "t.yaml:26:43: failover record `r` has two SECONDARY targets (hint: a failover record has at most one SECONDARY target)",
        ]
    );
}

#[test]
fn latency_needs_a_unique_region() {
    let text = with(
        DNS,
        "    r:\n      routing: latency\n      targets:\n        x: { cluster: a, region: us-east-1 }\n        y: { cluster: b, region: us-east-1 }\n        z: { address: 10.0.0.1 }\n",
    );
    assert_eq!(
        errors(&text),
        [
            "t.yaml:25:34: region `us-east-1` is used twice in latency record `r` (hint: target `x` already serves it)",
            "t.yaml:26:9: target `z` of latency record `r` needs `region` (hint: the AWS region the target serves, e.g. us-east-1)",
        ]
    );
}

#[test]
fn latency_region_must_be_an_aws_region() {
    let text = with(
        DNS,
        "    r:\n      routing: latency\n      targets:\n        x: { cluster: a, region: australia-southeast1 }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:24:34: `region` in target `x` of record `r` must be an AWS region like us-east-1, found `australia-southeast1`"
    );
}

#[test]
fn geolocation_without_default() {
    let text = with(
        DNS,
        "    r:\n      routing: geolocation\n      targets:\n        x: { cluster: a, location: { continent: EU } }\n        y: { cluster: b, location: { country: US, subdivision: CA } }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:21:5: geolocation record `r` has no `*` default location (hint: add `*` as a default location)"
    );
}

#[test]
fn geolocation_duplicate_location() {
    let text = with(
        DNS,
        "    r:\n      routing: geolocation\n      targets:\n        x: { cluster: a, location: \"*\" }\n        y: { cluster: b, location: \"*\" }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:25:36: location `*` is used twice in geolocation record `r` (hint: target `x` already serves it)"
    );
}

#[test]
fn geolocation_needs_location() {
    let text = with(
        DNS,
        "    r:\n      routing: geolocation\n      targets:\n        x: { cluster: a, location: \"*\" }\n        y: { cluster: b }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:25:9: target `y` of geolocation record `r` needs `location` (hint: `*`, or a mapping with `continent` or `country`)"
    );
}

#[test]
fn geolocation_location_shape() {
    let text = with(
        DNS,
        "    r:\n      routing: geolocation\n      targets:\n        x: { cluster: a, location: \"*\" }\n        y: { cluster: b, location: { continent: EU, country: FR } }\n        z: { address: 10.0.0.1, location: { subdivision: CA } }\n",
    );
    assert_eq!(
        errors(&text),
        [
            "t.yaml:25:36: `location` of target `y` of record `r` sets both `continent` and `country` (hint: a location is a continent, or a country with an optional subdivision)",
            "t.yaml:26:45: `subdivision` needs `country` in `location` of target `z` of record `r`",
        ]
    );
}

#[test]
fn multivalue_at_most_eight_targets() {
    let mut text = with(DNS, "    r:\n      routing: multivalue\n      targets:\n");
    for i in 1..=9 {
        text.push_str(&format!("        t{i}: {{ address: 10.0.0.{i} }}\n"));
    }
    assert_eq!(
        one_error(&text),
        "t.yaml:32:9: multivalue record `r` has more than 8 targets (hint: Route 53 answers with at most 8 values)"
    );
}

#[test]
fn multivalue_takes_no_routing_fields() {
    let text = with(
        DNS,
        "    r:\n      routing: multivalue\n      targets:\n        x: { cluster: a, region: us-east-1, health_check: hc }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:24:26: `region` is only valid with routing: latency; this record uses multivalue"
    );
}

#[test]
fn simple_takes_no_routing_fields() {
    let text = with(
        DNS,
        "    r:\n      targets:\n        x: { cluster: a, weight: 10 }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:23:26: `weight` is only valid with routing: weighted; this record uses simple"
    );
}

#[test]
fn simple_takes_no_health_check() {
    let text = with(
        DNS,
        "    r:\n      targets:\n        x: { cluster: a, health_check: hc }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:23:26: `health_check` can't be used with routing: simple (hint: Route 53 can't health-check a simple record; use failover, weighted, latency, geolocation or multivalue)"
    );
}

#[test]
fn record_target_cluster_missing() {
    let text = with(DNS, "    r:\n      targets:\n        x: { cluster: c }\n");
    assert_eq!(
        one_error(&text),
        "t.yaml:23:23: unknown cluster `c` in target `x` of record `r` (hint: clusters are: a, b)"
    );
}

#[test]
fn record_health_check_missing() {
    let text = with(
        DNS,
        "    r:\n      routing: weighted\n      targets:\n        x: { cluster: a, weight: 1, health_check: hcc }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:24:51: unknown health check `hcc` in target `x` of record `r` (hint: did you mean `hc`?)"
    );
}

#[test]
fn cluster_target_needs_type_a() {
    let text = with(
        DNS,
        "    r:\n      type: AAAA\n      targets:\n        x: { cluster: a }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:24:23: a cluster target needs type A; record `r` has type AAAA (hint: use `address` for AAAA, CNAME and TXT records)"
    );
}

#[test]
fn a_record_address_must_be_ipv4() {
    let text = with(
        DNS,
        "    r:\n      targets:\n        x: { address: \"2001:db8::1\" }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:23:23: `address` in target `x` of record `r` must be an IPv4 address for type A, found `2001:db8::1`"
    );
}

#[test]
fn aaaa_record_address_must_be_ipv6() {
    let text = with(
        DNS,
        "    r:\n      type: AAAA\n      targets:\n        x: { address: 10.0.0.1 }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:24:23: `address` in target `x` of record `r` must be an IPv6 address for type AAAA, found `10.0.0.1`"
    );
}

#[test]
fn target_needs_exactly_one_of_cluster_or_address() {
    let text = with(
        DNS,
        "    r:\n      targets:\n        x: { cluster: a, address: 10.0.0.1 }\n        y: { }\n",
    );
    assert_eq!(
        errors(&text),
        [
            "t.yaml:23:35: target `x` of record `r` sets both `cluster` and `address` (hint: keep one of them)",
            "t.yaml:24:9: target `y` of record `r` needs `cluster` or `address`",
        ]
    );
}

#[test]
fn health_check_rules() {
    let text = DNS.replace(
        "    hc:\n      cluster: a\n",
        "    hc:\n      cluster: a\n    tcp:\n      address: 10.0.0.1\n      type: TCP\n      path: /x\n    slow:\n      cluster: b\n      interval: 20\n",
    );
    assert_eq!(
        errors(&text),
        [
            "t.yaml:20:5: missing field `port` in health check `tcp` (hint: TCP health checks have no default port)",
            "t.yaml:23:7: `path` is not allowed in TCP health check `tcp` (hint: TCP health checks only open a connection)",
            "t.yaml:26:17: `interval` in health check `slow` must be 10 or 30, found 20",
        ]
    );
}

#[test]
fn record_lowering() {
    let s = ok(&with(
        DNS,
        "    app:\n      targets: { x: { cluster: a }, y: { address: 10.0.0.9 } }\n    \"@\":\n      routing: weighted\n      ttl: 30\n      targets:\n        blue: { cluster: a, weight: 100, health_check: hc }\n        green: { cluster: b, weight: 0 }\n",
    ));
    let names: Vec<String> = s.resources.iter().map(|r| r.address.to_string()).collect();
    assert_eq!(
        names,
        [
            "cluster.a",
            "cluster.b",
            "dns_zone.z.example.com",
            "health_check.hc",
            "dns_record.app.z.example.com",
            "dns_record.z.example.com/blue",
            "dns_record.z.example.com/green",
        ]
    );
    let simple = &s.resources[4];
    assert_eq!(
        serde_json::to_string(&simple.attrs["values"]).expect("json"),
        r#"{"list":[{"ref":{"address":"cluster.a","output":"ingress_address"}},{"literal":"10.0.0.9"}]}"#
    );
    // Every record has the same attribute names.
    let keys = |i: usize| s.resources[i].attrs.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(4), keys(5));
    let deps: Vec<String> = s.resources[5]
        .depends_on
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        deps,
        ["cluster.a", "dns_zone.z.example.com", "health_check.hc"]
    );
}

// ----- collecting ------------------------------------------------------------

#[test]
fn all_errors_are_collected_sorted_and_capped() {
    let mut text = String::from("name: t\nclouds: {}\ndata:\n");
    for i in 0..60 {
        text.push_str(&format!("  d{i}:\n    valeus: {{}}\n"));
    }
    text.push_str("outputs:\n  o: { value: 1, sensitive: maybe }\n");
    let e = errors(&text);
    assert_eq!(e.len(), 50);
    assert_eq!(
        e[0],
        "t.yaml:5:5: unknown field `valeus` in data `d0` (hint: did you mean `values`?)"
    );
    assert!(e.windows(2).all(|w| {
        let pos = |s: &str| {
            let mut it = s.split(':').skip(1).map(|n| n.parse::<u32>().unwrap_or(0));
            (it.next(), it.next())
        };
        pos(&w[0]) <= pos(&w[1])
    }));
}

#[test]
fn a_missing_cluster_is_reported_once() {
    // `c` does not exist: the federation, the health check and the record each
    // name it once; nothing else is reported about it.
    let text = with(BASE, "federation:\n  host: c\n  members: [a, b]\n");
    assert_eq!(
        one_error(&text),
        "t.yaml:15:9: unknown cluster `c` in federation host (hint: clusters are: a, b)"
    );
    let text = BASE.replace("    cloud: sim\n    region: us-east-1\n", "    region: us-east-1\n")
        + "federation:\n  host: a\n  members: [a, b]\ndata:\n  d: { values: { e: \"${cluster.a.endpoint}\" } }\n";
    assert_eq!(
        one_error(&text),
        "t.yaml:6:3: missing field `cloud` in cluster `a`"
    );
}

#[test]
fn errors_of_several_sections_come_in_file_order() {
    let text = "name: t\nclouds:\n  s: { provider: sim, latency: fast }\nclusters:\n  a: { cloud: s, region: r, kubernetes_version: \"1\" }\n";
    assert_eq!(
        errors(text),
        [
            "t.yaml:3:32: invalid duration `fast` for `latency` in cloud `s` (hint: use a number of seconds or a duration like 250ms, 2s or 1m)",
            "t.yaml:5:49: invalid kubernetes_version `1` in cluster `a` (hint: use MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. \"1.31\")",
        ]
    );
}

#[test]
fn unknown_kind_in_a_reference() {
    let text = with(BASE, "outputs:\n  o:\n    value: ${clusters.a.endpoint}\n");
    assert_eq!(
        one_error(&text),
        "t.yaml:16:12: invalid reference in `value` of output `o`: `${clusters.a.endpoint}` is not a reference of the form ${KIND.NAME.OUTPUT} (hint: did you mean `cluster`?)"
    );
}

#[test]
fn unreadable_sections_do_not_cascade() {
    // `clouds` is a list: its error is the only one, not one per cluster.
    let text = BASE.replace("clouds:\n  sim:\n    provider: sim\n", "clouds: [sim]\n");
    assert_eq!(
        one_error(&text),
        "t.yaml:2:9: expected a mapping for `clouds` in the stack, found a list"
    );
    // `members` is not a list: the host is not reported as a non-member.
    let text = with(BASE, "federation:\n  host: a\n  members: a\n");
    assert_eq!(
        one_error(&text),
        "t.yaml:16:12: expected a list for `members` in federation, found `a` (hint: write a list: members: [a])"
    );
}

#[test]
fn merge_keys_share_settings() {
    let text = "\
name: t
clouds:
  sim: { provider: sim }
clusters:
  a: &defaults
    cloud: sim
    region: us-east-1
    kubernetes_version: \"1.31\"
    labels: { team: infra }
  b:
    <<: *defaults
    region: eu-west-1
";
    let s = ok(text);
    let b = &s.resources[1];
    assert_eq!(b.address.to_string(), "cluster.b");
    assert_eq!(
        b.attrs["region"],
        fedstack_core::value::Expr::lit("eu-west-1")
    );
    assert_eq!(
        b.attrs["labels"],
        fedstack_core::value::Expr::lit(serde_json::json!({"team": "infra"}))
    );
}

#[test]
fn cluster_flavors() {
    let text = "\
name: t
clouds:
  g: { provider: gcp, project: p }
  l: { provider: local }
  s: { provider: sim }
  e: { provider: sim, emulates: azure }
clusters:
  c1: { cloud: g, region: us-central1, kubernetes_version: \"1.31\" }
  c2: { cloud: l, region: here, kubernetes_version: \"1.31\" }
  c3: { cloud: s, region: sa-east-1, kubernetes_version: \"1.31\" }
  c4: { cloud: s, region: australia-southeast1, kubernetes_version: \"1.31\" }
  c5: { cloud: s, region: canadacentral, kubernetes_version: \"1.31\" }
  c6: { cloud: e, region: us-east-1, kubernetes_version: \"1.31\" }
";
    let s = ok(text);
    let flavors: Vec<String> = s
        .resources
        .iter()
        .map(|r| r.attrs["flavor"].clone())
        .map(|e| match e {
            fedstack_core::value::Expr::Literal(serde_json::Value::String(f)) => f,
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(flavors, ["gke", "local", "eks", "gke", "aks", "aks"]);
}

#[test]
fn data_and_outputs_lowering() {
    let s = ok(&with(
        BASE,
        "data:\n  d:\n    values:\n      n: 3\n      v: 1.30\n      s: \"x-${cluster.a.endpoint}\"\n      l: [1, two]\noutputs:\n  secret: { value: \"${data.d.s}\", sensitive: true }\n  lit: { value: { a: 1 } }\n",
    ));
    let d = &s.resources[2];
    assert_eq!(d.address.to_string(), "data.d");
    assert_eq!(d.cloud, None);
    assert_eq!(
        serde_json::to_string(&d.attrs).expect("json"),
        r#"{"l":{"literal":[1,"two"]},"n":{"literal":3},"s":{"template":[{"text":"x-"},{"ref":{"address":"cluster.a","output":"endpoint"}}]},"v":{"literal":1.3}}"#
    );
    assert_eq!(d.depends_on.len(), 1);
    assert!(s.outputs["secret"].sensitive);
    assert_eq!(
        s.outputs["lit"].value,
        fedstack_core::value::Expr::lit(serde_json::json!({"a": 1}))
    );
}

#[test]
fn missing_fields_of_one_object_are_one_message() {
    let text = "name: t\nclouds:\n  s: { provider: sim }\nclusters:\n  a:\n  b: { cloud: s }\n";
    assert_eq!(
        errors(text),
        [
            "t.yaml:5:3: missing fields `cloud`, `region` and `kubernetes_version` in cluster `a`",
            "t.yaml:6:3: missing fields `region` and `kubernetes_version` in cluster `b`",
        ]
    );
}

#[test]
fn byte_order_mark_is_ignored() {
    let s = ok("\u{feff}name: t\nclouds: {}\n");
    assert_eq!(s.name, "t");
}

#[test]
fn an_aks_cluster_without_node_pools_is_one_located_error() {
    let e = common::one_error(
        "name: t\nclouds:\n  az: { provider: azure, subscription_id: s, resource_group: rg }\nclusters:\n  aks-a: { cloud: az, region: canadacentral, kubernetes_version: \"1.31\" }\n",
    );
    assert!(
        e.starts_with("t.yaml:5:3: cluster `aks-a` has no node pools"),
        "{e}"
    );
    assert!(e.contains("the first is its system pool"), "{e}");
}

// ----- state -----------------------------------------------------------------

/// BASE plus `state:` at line 14 with `body` from line 15.
fn state(body: &str) -> String {
    with(BASE, &format!("state:\n{body}"))
}

fn s3_state(text: &str) -> S3StateConfig {
    match ok(text).state.backend {
        StateBackendConfig::S3(s3) => s3,
        other => panic!("expected an s3 backend, got {other:?}"),
    }
}

#[test]
fn state_is_local_when_absent_or_empty() {
    assert_eq!(ok(BASE).state, StateSection::default());
    assert_eq!(ok(BASE).state.backend, StateBackendConfig::Local);
    assert_eq!(ok(BASE).state.span, None);
    assert_eq!(ok(&with(BASE, "state:\n")).state, StateSection::default());
    assert_eq!(
        ok(&state("  backend: local\n")).state,
        StateSection {
            backend: StateBackendConfig::Local,
            span: Some(Span {
                line: 14,
                column: 1
            }),
        }
    );
}

#[test]
fn full_s3_state() {
    let s = ok(&state(
        "  backend: s3\n  bucket: acme-fedstack-state\n  key_prefix: prod/\n  region: eu-west-1\n  endpoint_url: http://127.0.0.1:5000\n  profile: prod\n  lock_ttl: 90s\n",
    ));
    assert_eq!(
        s.state,
        StateSection {
            backend: StateBackendConfig::S3(S3StateConfig {
                bucket: "acme-fedstack-state".to_string(),
                key_prefix: "prod/".to_string(),
                region: Some("eu-west-1".to_string()),
                endpoint_url: Some("http://127.0.0.1:5000".to_string()),
                profile: Some("prod".to_string()),
                lock_ttl: Duration::from_secs(90),
            }),
            span: Some(Span {
                line: 14,
                column: 1
            }),
        }
    );
    // The state section adds no resources.
    assert_eq!(s.resources.len(), 2);
}

#[test]
fn minimal_s3_state_takes_the_defaults() {
    let s3 = s3_state(&state("  backend: s3\n  bucket: acme-fedstack-state\n"));
    assert_eq!(
        s3,
        S3StateConfig {
            bucket: "acme-fedstack-state".to_string(),
            key_prefix: String::new(),
            region: None,
            endpoint_url: None,
            profile: None,
            lock_ttl: DEFAULT_LOCK_TTL,
        }
    );
    assert_eq!(DEFAULT_LOCK_TTL, Duration::from_secs(60));
}

#[test]
fn s3_key_prefix_is_normalized() {
    for (written, normalized) in [
        ("prod", "prod/"),
        ("prod/", "prod/"),
        ("teams/infra", "teams/infra/"),
        ("a..b/", "a..b/"),
        ("\"\"", ""),
        ("~", ""),
    ] {
        let text = state(&format!(
            "  backend: s3\n  bucket: b-1\n  key_prefix: {written}\n"
        ));
        assert_eq!(s3_state(&text).key_prefix, normalized, "{written}");
    }
}

#[test]
fn s3_lock_ttl_bounds_are_inclusive() {
    for (written, ttl) in [("1s", 1), ("1h", 3600), ("60m", 3600), ("30", 30)] {
        let text = state(&format!(
            "  backend: s3\n  bucket: b-1\n  lock_ttl: {written}\n"
        ));
        assert_eq!(
            s3_state(&text).lock_ttl,
            Duration::from_secs(ttl),
            "{written}"
        );
    }
}

#[test]
fn state_must_be_a_mapping() {
    assert_eq!(
        one_error(&with(BASE, "state: s3\n")),
        "t.yaml:14:8: expected a mapping for state, found `s3` (hint: write `state: { backend: s3, bucket: NAME }`)"
    );
    assert_eq!(
        one_error(&with(BASE, "state: [local]\n")),
        "t.yaml:14:8: expected a mapping for state, found a list (hint: e.g. `state: { backend: s3, bucket: NAME }`; without `state` the state stays in --state-dir)"
    );
}

#[test]
fn state_needs_a_backend() {
    assert_eq!(
        one_error(&state("  bucket: acme-fedstack-state\n")),
        "t.yaml:14:1: missing field `backend` in state (hint: `local` keeps the state in the --state-dir directory, `s3` in an S3 bucket)"
    );
    assert_eq!(
        one_error(&state("  backend:\n")),
        "t.yaml:15:3: missing value for `backend` in state (hint: `local` keeps the state in the --state-dir directory, `s3` in an S3 bucket)"
    );
}

#[test]
fn unknown_state_backend() {
    // Its fields are not reported again.
    assert_eq!(
        one_error(&state("  backend: S3\n  bucket: acme-fedstack-state\n")),
        "t.yaml:15:12: `backend` in state must be one of local, s3; found `S3` (hint: did you mean `s3`?)"
    );
    assert_eq!(
        one_error(&state("  backend: lcoal\n")),
        "t.yaml:15:12: `backend` in state must be one of local, s3; found `lcoal` (hint: did you mean `local`?)"
    );
    assert_eq!(
        one_error(&state("  backend: Local\n")),
        "t.yaml:15:12: `backend` in state must be one of local, s3; found `Local` (hint: did you mean `local`?)"
    );
    assert_eq!(
        one_error(&state("  backend: gcs\n")),
        "t.yaml:15:12: `backend` in state must be one of local, s3; found `gcs` (hint: `local` keeps the state in the --state-dir directory, `s3` in an S3 bucket)"
    );
    // Fields of no backend are still unknown.
    assert_eq!(
        errors(&state("  backend: gcs\n  color: red\n")),
        [
            "t.yaml:15:12: `backend` in state must be one of local, s3; found `gcs` (hint: `local` keeps the state in the --state-dir directory, `s3` in an S3 bucket)",
            "t.yaml:16:3: unknown field `color` in state (hint: fields are: backend, bucket, key_prefix, region, endpoint_url, profile, lock_ttl)",
        ]
    );
}

#[test]
fn unknown_s3_state_field_with_did_you_mean() {
    assert_eq!(
        one_error(&state(
            "  backend: s3\n  bucket: acme-fedstack-state\n  lock_tll: 30s\n"
        )),
        "t.yaml:17:3: unknown field `lock_tll` in state (hint: did you mean `lock_ttl`?)"
    );
    assert_eq!(
        one_error(&state(
            "  backend: s3\n  bucket: acme-fedstack-state\n  color: red\n"
        )),
        "t.yaml:17:3: unknown field `color` in state (hint: fields are: backend, bucket, key_prefix, region, endpoint_url, profile, lock_ttl)"
    );
}

#[test]
fn s3_fields_under_local_state() {
    assert_eq!(
        errors(&state(
            "  backend: local\n  bucket: acme-fedstack-state\n  lock_ttl: 30s\n"
        )),
        [
            "t.yaml:16:3: unknown field `bucket` in state (hint: `bucket` is only valid with backend: s3; this state uses backend local, in --state-dir)",
            "t.yaml:17:3: unknown field `lock_ttl` in state (hint: `lock_ttl` is only valid with backend: s3; this state uses backend local, in --state-dir)",
        ]
    );
    assert_eq!(
        one_error(&state("  backend: local\n  buckt: acme-fedstack-state\n")),
        "t.yaml:16:3: unknown field `buckt` in state (hint: did you mean `bucket`? it is only valid with backend: s3; this state uses backend local)"
    );
    assert_eq!(
        one_error(&state("  backend: local\n  backnd: local\n")),
        "t.yaml:16:3: unknown field `backnd` in state (hint: did you mean `backend`?)"
    );
    assert_eq!(
        one_error(&state("  backend: local\n  color: red\n")),
        "t.yaml:16:3: unknown field `color` in state (hint: fields are: backend)"
    );
}

#[test]
fn s3_state_needs_a_bucket() {
    assert_eq!(
        one_error(&state("  backend: s3\n  key_prefix: prod/\n")),
        "t.yaml:14:1: missing field `bucket` in state (hint: the S3 bucket that holds the state; it must exist and have versioning enabled)"
    );
    assert_eq!(
        one_error(&state("  backend: s3\n  bucket: ~\n")),
        "t.yaml:16:3: missing value for `bucket` in state (hint: the S3 bucket that holds the state; it must exist and have versioning enabled)"
    );
}

#[test]
fn invalid_s3_bucket_names() {
    const HINT: &str = "(hint: use 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)";
    let long = "a".repeat(64);
    for (bucket, why) in [
        ("ab", "it has 2 characters"),
        (long.as_str(), "it has 64 characters"),
        ("Acme-State", "it has uppercase letters"),
        ("acme_state", "`_` is not allowed"),
        ("-acme", "it does not start with a letter or digit"),
        ("acme.", "it does not end with a letter or digit"),
        ("acme..state", "it has two dots in a row"),
        ("10.0.0.1", "it is an IP address"),
    ] {
        let text = state(&format!("  backend: s3\n  bucket: {bucket}\n"));
        let shown = if bucket.len() > 60 {
            format!("{}...", &bucket[..60])
        } else {
            bucket.to_string()
        };
        assert_eq!(
            one_error(&text),
            format!("t.yaml:16:11: invalid S3 bucket name `{shown}` in state: {why} {HINT}")
        );
    }
}

#[test]
fn invalid_s3_key_prefixes() {
    let err = |prefix: &str| {
        one_error(&state(&format!(
            "  backend: s3\n  bucket: acme-fedstack-state\n  key_prefix: {prefix}\n"
        )))
    };
    assert_eq!(
        err("/prod"),
        "t.yaml:17:15: `key_prefix` in state must not start with `/`, found `/prod` (hint: S3 keys have no leading `/`: write `prod/`)"
    );
    assert_eq!(
        err("/"),
        "t.yaml:17:15: `key_prefix` in state must not start with `/`, found `/` (hint: S3 keys have no leading `/`: leave `key_prefix` out to keep the stack at the top of the bucket)"
    );
    assert_eq!(
        err("teams//infra/"),
        "t.yaml:17:15: `key_prefix` in state must not contain `//`, found `teams//infra/` (hint: S3 keeps empty segments, so `a//b/` and `a/b/` are different prefixes: write `teams/infra/`)"
    );
    assert_eq!(
        err("prod//"),
        "t.yaml:17:15: `key_prefix` in state must not contain `//`, found `prod//` (hint: S3 keeps empty segments, so `a//b/` and `a/b/` are different prefixes: write `prod/`)"
    );
    assert_eq!(
        err("prod/../staging"),
        "t.yaml:17:15: `key_prefix` in state must not have a `..` segment, found `prod/../staging` (hint: S3 keys are not paths: `..` does not go up a level, it stays in the key)"
    );
}

#[test]
fn invalid_s3_endpoint_url() {
    for url in ["127.0.0.1:5000", "ftp://minio", "\"http://\""] {
        let shown = url.trim_matches('"');
        assert_eq!(
            one_error(&state(&format!(
                "  backend: s3\n  bucket: acme-fedstack-state\n  endpoint_url: {url}\n"
            ))),
            format!("t.yaml:17:17: `endpoint_url` in state must be an http:// or https:// URL, found `{shown}` (hint: e.g. http://127.0.0.1:9000 for a local S3-compatible store; leave it out for AWS S3)")
        );
    }
}

#[test]
fn invalid_s3_lock_ttl() {
    let err = |ttl: &str| {
        one_error(&state(&format!(
            "  backend: s3\n  bucket: acme-fedstack-state\n  lock_ttl: {ttl}\n"
        )))
    };
    assert_eq!(
        err("soon"),
        "t.yaml:17:13: invalid duration `soon` for `lock_ttl` in state (hint: use a number of seconds or a duration like 250ms, 2s or 1m)"
    );
    assert_eq!(
        err("[60s]"),
        "t.yaml:17:13: expected a duration for `lock_ttl` in state, found a list (hint: use a number of seconds or a duration like 250ms, 2s or 1m)"
    );
    assert_eq!(
        err("500ms"),
        "t.yaml:17:13: `lock_ttl` in state must be between 1s and 1h, found `500ms` (hint: a shorter lease can run out on a slow network while its run is still working)"
    );
    assert_eq!(
        err("0"),
        "t.yaml:17:13: `lock_ttl` in state must be between 1s and 1h, found `0` (hint: a shorter lease can run out on a slow network while its run is still working)"
    );
    assert_eq!(
        err("61m"),
        "t.yaml:17:13: `lock_ttl` in state must be between 1s and 1h, found `61m` (hint: a longer lease keeps the lock of a run that died for too long before the next run may take it over)"
    );
}

#[test]
fn wrong_types_in_state() {
    assert_eq!(
        one_error(&state("  backend: [s3]\n")),
        "t.yaml:15:12: expected a string for `backend` in state, found a list"
    );
    assert_eq!(
        errors(&state(
            "  backend: s3\n  bucket: { name: x }\n  region: [eu-west-1]\n  profile: {}\n"
        )),
        [
            "t.yaml:16:11: expected a string for `bucket` in state, found a mapping",
            "t.yaml:17:11: expected a string for `region` in state, found a list",
            "t.yaml:18:12: expected a string for `profile` in state, found a mapping",
        ]
    );
    assert_eq!(
        one_error(&state(
            "  backend: s3\n  bucket: acme-fedstack-state\n  region: \"\"\n"
        )),
        "t.yaml:17:11: `region` in state must not be empty"
    );
}

#[test]
fn state_errors_come_with_the_others_in_file_order() {
    let text = BASE.replace(
        "    region: us-east-1\n",
        "    regoin: us-east-1\n    region: us-east-1\n",
    ) + "state:\n  backend: s3\n  bucket: Acme\n";
    assert_eq!(
        errors(&text),
        [
            "t.yaml:8:5: unknown field `regoin` in cluster `a` (hint: did you mean `region`?)",
            "t.yaml:17:11: invalid S3 bucket name `Acme` in state: it has uppercase letters (hint: use 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)",
        ]
    );
}

// ----- workloads -------------------------------------------------------------

/// BASE plus a federation of `a` and `b`; workloads start at line 18.
fn workloads(rest: &str) -> String {
    format!("{BASE}federation:\n  host: a\n  members: [a, b]\nworkloads:\n{rest}")
}

#[test]
fn workload_errors() {
    let patch =
        |p: &str| format!("  g:\n    manifests: x/\n    overrides:\n      a:\n        - {p}\n");
    let cases: Vec<(String, &str)> = vec![
        (
            "  g:\n    wait: true\n".into(),
            "t.yaml:18:3: missing field `manifests` in workload `g` (hint: `manifests` is the YAML file or directory of the workload's objects, relative to the stack file, e.g. `manifests: ../examples/guestbook/`)",
        ),
        (
            "  g: { manifests: x/, wiat: false }\n".into(),
            "t.yaml:18:23: unknown field `wiat` in workload `g` (hint: did you mean `wait`?)",
        ),
        (
            "  Guest_book: { manifests: x/ }\n".into(),
            "t.yaml:18:3: invalid workload name `Guest_book` (hint: use 1-63 lowercase letters, digits and hyphens, not starting or ending with a hyphen: a DNS-1123 label)",
        ),
        (
            "  g: { manifests: x/, placement: { clusters: [a], selector: { env: p } } }\n".into(),
            "t.yaml:18:51: `placement` of workload `g` sets both `clusters` and `selector` (hint: keep one of them)",
        ),
        (
            "  g: { manifests: x/, placement: {} }\n".into(),
            "t.yaml:18:23: `placement` of workload `g` needs `clusters` or `selector` (hint: e.g. `placement: { clusters: [a, b] }`, or leave `placement` out to place it on every federation member)",
        ),
        (
            "  g: { manifests: x/, placement: { clusters: [aa] } }\n".into(),
            "t.yaml:18:47: unknown cluster `aa` in `placement` of workload `g` (hint: clusters are: a, b)",
        ),
        (
            "  g: { manifests: x/, placement: { selector: { env: prod } } }\n".into(),
            "t.yaml:18:36: `selector` in `placement` of workload `g` matches no federation member (hint: no member has all of these labels; set them in `labels` of the clusters that should run it; federation members are: a, b)",
        ),
        (
            "  g: { manifests: x/, replicas: { total: 9, weights: { a: 2, c: 1 } } }\n".into(),
            "t.yaml:18:62: unknown cluster `c` in `replicas.weights` of workload `g` (hint: clusters are: a, b)",
        ),
        (
            "  g: { manifests: x/, placement: { clusters: [a] }, replicas: { total: 9, weights: { a: 2, b: 1 } } }\n".into(),
            "t.yaml:18:92: weight for cluster `b` in `replicas` of workload `g`, which is not placed on it (hint: place the workload on `b` too, or remove its weight)",
        ),
        (
            "  g: { manifests: x/, replicas: { total: 9, weights: { a: 0, b: 1 } } }\n".into(),
            "t.yaml:18:59: the weight of `a` in `replicas` of workload `g` must be a positive integer, found 0 (hint: a weight is a whole number, at least 1, e.g. `weights: { a: 2, b: 1 }`; a cluster that should run none does not belong in the placement)",
        ),
        (
            "  g: { manifests: x/, replicas: { total: 9, weights: { a: 1.5, b: 1 } } }\n".into(),
            "t.yaml:18:59: expected a positive integer for the weight of `a` in `replicas` of workload `g`, found `1.5` (hint: a weight is a whole number, at least 1, e.g. `weights: { a: 2, b: 1 }`; a cluster that should run none does not belong in the placement)",
        ),
        (
            "  g: { manifests: x/, replicas: { total: 5, weights: { a: 1 } } }\n".into(),
            "t.yaml:18:45: cluster `b` is placed but has no weight in `replicas` of workload `g` (hint: give every placed cluster a weight, or leave `weights` out for equal ones)",
        ),
        (
            "  g: { manifests: x/, replicas: { total: 1 } }\n".into(),
            "t.yaml:18:42: `total` (1) in `replicas` of workload `g` is smaller than the number of clusters it is divided over (2): `b` would get no replicas (hint: raise `total` to at least 2, or place the workload on fewer clusters)",
        ),
        (
            "  g: { manifests: x/, replicas: { total: 2, weights: { a: 100, b: 1 } } }\n".into(),
            "t.yaml:18:42: `total` (2) in `replicas` of workload `g` is too small for its weights: `b` would get no replicas (hint: raise `total`, or bring the weights closer together)",
        ),
        (
            "  g: { manifests: x/, replicas: { total: 0 } }\n".into(),
            "t.yaml:18:42: `total` in `replicas` of workload `g` must be a positive integer, found 0 (hint: `total` is how many replicas each Deployment and StatefulSet has across the placed clusters, e.g. `total: 9`)",
        ),
        (
            "  g: { manifests: x/, placement: { clusters: [a] }, overrides: { b: [] } }\n".into(),
            "t.yaml:18:66: overrides for cluster `b` in workload `g`, which is not placed on it (hint: place the workload on `b` too, or remove its overrides)",
        ),
        (
            patch("{ path: /x }"),
            "t.yaml:22:11: missing fields `kind`, `name` and `op` in patch 1 for cluster `a` in `overrides` of workload `g` (hint: a patch selects an object by `kind` and `name` and changes it with `op` and `path`, e.g. `{ kind: Deployment, name: web, op: replace, path: /spec/replicas, value: 2 }`)",
        ),
        (
            patch("{ kind: D, name: n, op: replac, path: /x, value: 1 }"),
            "t.yaml:22:35: `op` in patch 1 for cluster `a` in `overrides` of workload `g` must be one of add, remove, replace, test, copy, move; found `replac` (hint: did you mean `replace`?)",
        ),
        (
            patch("{ kind: D, name: n, op: add, path: spec/x, value: 1 }"),
            "t.yaml:22:46: `path` in patch 1 for cluster `a` in `overrides` of workload `g` is not a JSON pointer: it must start with `/`, found `spec/x` (hint: e.g. /spec/template/spec/containers/0/image; inside a key write `~1` for `/` and `~0` for `~`)",
        ),
        (
            patch("{ kind: D, name: n, op: test, path: /a~2b, value: 1 }"),
            "t.yaml:22:47: `path` in patch 1 for cluster `a` in `overrides` of workload `g` is not a JSON pointer: `~` must be followed by 0 or 1, found `/a~2b` (hint: e.g. /spec/template/spec/containers/0/image; inside a key write `~1` for `/` and `~0` for `~`)",
        ),
        (
            patch("{ kind: D, name: n, op: replace, path: /x }"),
            "t.yaml:22:11: missing field `value` in patch 1 for cluster `a` in `overrides` of workload `g` (hint: op `replace` needs a `value`)",
        ),
        (
            patch("{ kind: D, name: n, op: move, path: /x }"),
            "t.yaml:22:11: missing field `from` in patch 1 for cluster `a` in `overrides` of workload `g` (hint: op `move` needs a `from`: a JSON pointer to the value to move)",
        ),
        (
            patch("{ kind: D, name: n, op: copy, path: /x, from: x }"),
            "t.yaml:22:57: `from` in patch 1 for cluster `a` in `overrides` of workload `g` is not a JSON pointer: it must start with `/`, found `x` (hint: e.g. /spec/template/spec/containers/0/image; inside a key write `~1` for `/` and `~0` for `~`)",
        ),
        (
            patch("{ kind: D, name: n, op: remove, path: /x, value: 1 }"),
            "t.yaml:22:53: `value` is not used by op `remove` in patch 1 for cluster `a` in `overrides` of workload `g` (hint: only add, replace, test take a `value`; remove it)",
        ),
        (
            "  g: { manifests: x/, timeout: 10 minutes }\n".into(),
            "t.yaml:18:32: invalid duration `10 minutes` for `timeout` in workload `g` (hint: use a number of seconds or a duration like 250ms, 2s or 1m)",
        ),
        (
            "  g: { manifests: x/, timeout: 2h }\n".into(),
            "t.yaml:18:32: `timeout` in workload `g` must be between 1s and 1h, found `2h` (hint: it bounds the wait for rollouts and for deletion)",
        ),
        (
            "  g: { manifests: x/, timeout: 500ms }\n".into(),
            "t.yaml:18:32: `timeout` in workload `g` must be between 1s and 1h, found `500ms` (hint: it bounds the wait for rollouts and for deletion)",
        ),
        (
            "  g: { manifests: x/, namespace: Bad_NS }\n".into(),
            "t.yaml:18:34: invalid namespace `Bad_NS` in workload `g` (hint: use 1-63 lowercase letters, digits and hyphens, not starting or ending with a hyphen)",
        ),
    ];
    for (rest, want) in cases {
        assert_eq!(one_error(&workloads(&rest)), want, "{rest}");
    }
}

#[test]
fn workloads_need_a_federation() {
    assert_eq!(
        one_error(&with(BASE, "workloads:\n  g: { manifests: x/ }\n")),
        "t.yaml:14:1: `workloads` needs a `federation`: workloads are placed on its members (hint: add a `federation` section with the clusters as `members`, one of them the `host`)"
    );
}

#[test]
fn workload_placed_on_a_cluster_outside_the_federation() {
    let text = with(
        BASE,
        "federation:\n  host: a\n  members: [a]\nworkloads:\n  g: { manifests: x/, placement: { clusters: [b] } }\n",
    );
    assert_eq!(
        one_error(&text),
        "t.yaml:18:47: cluster `b` in `placement` of workload `g` is not a federation member (hint: add `b` to `federation.members`)"
    );
}
