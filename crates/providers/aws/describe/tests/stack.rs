//! The loader with aws's description: EKS clusters (network, roles and the resources
//! they lower to) and Route 53 alias record targets; one test per error with its
//! exact line.

use fedstack_core::address::ResourceKind;
use fedstack_core::stack::DesiredStack;
use fedstack_core::value::Expr;
use serde_json::json;

use fedstack_core::stack::{load_stack, CloudDescription, Clouds};

static CLOUDS: [&dyn CloudDescription; 2] =
    [&fedstack_describe_aws::AWS, &fedstack_describe_sim::SIM];

#[track_caller]
fn ok(text: &str) -> DesiredStack {
    match load_stack("t.yaml", text, Clouds::new(&CLOUDS)) {
        Ok(s) => s,
        Err(e) => panic!("expected the stack to load, got:\n{e}"),
    }
}

#[track_caller]
fn one_error(text: &str) -> String {
    let e: Vec<String> = match load_stack("t.yaml", text, Clouds::new(&CLOUDS)) {
        Ok(_) => Vec::new(),
        Err(d) => d.0.iter().map(ToString::to_string).collect(),
    };
    assert_eq!(e.len(), 1, "expected exactly one error, got {e:#?}");
    e[0].clone()
}

/// An aws cloud and cluster `e` with one node pool; cluster fields go at line 9.
const EKS: &str = "\
name: t
clouds:
  aws: { provider: aws, region: us-east-1 }
clusters:
  e:
    cloud: aws
    region: us-east-1
    kubernetes_version: \"1.31\"
    node_pools:
      ng: { machine_type: m5.large, node_count: 2 }
";

fn eks(fields: &str) -> String {
    EKS.replace("    node_pools:\n", &format!("{fields}    node_pools:\n"))
}

fn attrs(s: &DesiredStack, address: &str) -> Vec<(String, String)> {
    let r = s
        .resources
        .iter()
        .find(|r| r.address.to_string() == address)
        .unwrap_or_else(|| panic!("no {address}"));
    r.attrs
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Expr::Literal(v) => v.to_string(),
                Expr::Ref { address, output } => format!("${{{address}.{output}}}"),
                other => format!("{other:?}"),
            };
            (k.clone(), v)
        })
        .collect()
}

fn attr(s: &DesiredStack, address: &str, key: &str) -> String {
    attrs(s, address)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("{address} has no {key}"))
}

#[test]
fn by_default_fedstack_makes_the_network_and_the_roles() {
    let s = ok(EKS);
    let addresses: Vec<String> = s.resources.iter().map(|r| r.address.to_string()).collect();
    assert_eq!(
        addresses,
        [
            "network.e",
            "iam_role.e-cluster",
            "iam_role.e-node",
            "cluster.e",
            "node_pool.e.ng"
        ]
    );
    assert_eq!(
        attrs(&s, "network.e"),
        [
            ("cidr".to_string(), "\"10.0.0.0/16\"".to_string()),
            ("region".to_string(), "\"us-east-1\"".to_string()),
        ]
    );
    assert_eq!(
        attr(&s, "iam_role.e-cluster", "service"),
        "\"eks.amazonaws.com\""
    );
    assert_eq!(
        attr(&s, "iam_role.e-node", "policies"),
        json!([
            "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
            "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
        ])
        .to_string()
    );
    assert_eq!(
        attr(&s, "cluster.e", "role_arn"),
        "${iam_role.e-cluster.arn}"
    );
    assert_eq!(
        attr(&s, "cluster.e", "subnet_ids"),
        "${network.e.subnet_ids}"
    );
    assert_eq!(attr(&s, "cluster.e", "security_group_ids"), "[]");
    assert_eq!(attr(&s, "cluster.e", "endpoint_access"), "\"public\"");
    assert_eq!(attr(&s, "cluster.e", "logging"), "[]");
    assert_eq!(attr(&s, "cluster.e", "ingress_address"), "null");
    assert_eq!(
        attr(&s, "node_pool.e.ng", "node_role_arn"),
        "${iam_role.e-node.arn}"
    );
    assert_eq!(
        attr(&s, "node_pool.e.ng", "subnet_ids"),
        "${network.e.subnet_ids}"
    );
    // The cluster waits for its network and role, the pool for those and the cluster.
    let deps = |a: &str| -> Vec<String> {
        s.resources
            .iter()
            .find(|r| r.address.to_string() == a)
            .map(|r| r.depends_on.iter().map(ToString::to_string).collect())
            .unwrap_or_default()
    };
    assert_eq!(deps("cluster.e"), ["network.e", "iam_role.e-cluster"]);
    assert_eq!(
        deps("node_pool.e.ng"),
        ["cluster.e", "network.e", "iam_role.e-node"]
    );
}

#[test]
fn existing_subnets_and_roles_are_used_as_given() {
    let s = ok(&eks(
        "    network: { subnet_ids: [subnet-0123abcd, subnet-4567abcd], security_group_ids: [sg-0123abcd] }
    role_arn: arn:aws:iam::123456789012:role/eks
    node_role_arn: arn:aws:iam::123456789012:role/nodes
    endpoint_access: public_and_private
    logging: [api, audit]
    ingress_address: 203.0.113.7
",
    ));
    assert!(s.resources.iter().all(|r| !matches!(
        r.address.kind,
        ResourceKind::Network | ResourceKind::IamRole
    )));
    assert_eq!(
        attr(&s, "cluster.e", "subnet_ids"),
        r#"["subnet-0123abcd","subnet-4567abcd"]"#
    );
    assert_eq!(
        attr(&s, "cluster.e", "security_group_ids"),
        r#"["sg-0123abcd"]"#
    );
    assert_eq!(
        attr(&s, "cluster.e", "role_arn"),
        "\"arn:aws:iam::123456789012:role/eks\""
    );
    assert_eq!(
        attr(&s, "node_pool.e.ng", "node_role_arn"),
        "\"arn:aws:iam::123456789012:role/nodes\""
    );
    assert_eq!(attr(&s, "cluster.e", "logging"), r#"["api","audit"]"#);
    assert_eq!(attr(&s, "cluster.e", "ingress_address"), "\"203.0.113.7\"");
}

#[test]
fn a_network_with_another_cidr() {
    let s = ok(&eks("    network: { cidr: 10.20.0.0/16 }\n"));
    assert_eq!(attr(&s, "network.e", "cidr"), "\"10.20.0.0/16\"");
}

#[test]
fn no_node_role_without_node_pools() {
    let s = ok(&EKS.replace(
        "    node_pools:\n      ng: { machine_type: m5.large, node_count: 2 }\n",
        "",
    ));
    let addresses: Vec<String> = s.resources.iter().map(|r| r.address.to_string()).collect();
    assert_eq!(addresses, ["network.e", "iam_role.e-cluster", "cluster.e"]);
}

#[test]
fn eks_versions_are_major_minor() {
    assert_eq!(
        one_error(&EKS.replace("\"1.31\"", "1.31.2")),
        "t.yaml:8:25: EKS takes MAJOR.MINOR versions; `kubernetes_version` of cluster `e` is `1.31.2` (hint: write kubernetes_version: \"1.31\"; EKS picks the patch release)"
    );
}

#[test]
fn eks_fields_on_other_clusters_are_errors() {
    let text = EKS
        .replace("{ provider: aws, region: us-east-1 }", "{ provider: sim }")
        .replace(
            "    node_pools:\n",
            "    role_arn: create\n    node_pools:\n",
        );
    assert_eq!(
        one_error(&text),
        "t.yaml:9:5: unknown field `role_arn` in cluster `e` (hint: `role_arn` is a field of clusters on aws clouds; this cluster uses provider sim)"
    );
}

#[test]
fn network_errors() {
    assert_eq!(
        one_error(&eks("    network: { subnet_ids: [subnet-0123abcd] }\n")),
        "t.yaml:9:16: `subnet_ids` in `network` of cluster `e` lists 1 subnet(s); EKS needs at least two, in two availability zones"
    );
    assert_eq!(
        one_error(&eks("    network: { subnet_ids: [subnet-0123abcd, subnet-nope] }\n")),
        "t.yaml:9:46: `subnet-nope` in `subnet_ids` of `network` of cluster `e` is not an id like subnet-0123abcd"
    );
    assert_eq!(
        one_error(&eks(
            "    network: { cidr: 10.0.0.0/16, subnet_ids: [subnet-0123abcd, subnet-4567abcd] }\n"
        )),
        "t.yaml:9:22: `network` of cluster `e` sets both `cidr` and `subnet_ids` (hint: `cidr` makes a new network; `subnet_ids` uses an existing one)"
    );
    assert_eq!(
        one_error(&eks("    network: { cidr: 10.0.0.0/8 }\n")),
        "t.yaml:9:22: `cidr` in `network` of cluster `e` must be an IPv4 block from /16 to /24, found `10.0.0.0/8` (hint: e.g. 10.0.0.0/16)"
    );
    assert_eq!(
        one_error(&eks("    network: automatic\n")),
        "t.yaml:9:14: expected `create` or a mapping for `network` in cluster `e`, found `automatic` (hint: `network: create`, `network: { cidr: 10.0.0.0/16 }`, or `network: { subnet_ids: [...], security_group_ids: [...] }`)"
    );
}

#[test]
fn role_and_logging_errors() {
    assert_eq!(
        one_error(&eks("    role_arn: eks-role\n")),
        "t.yaml:9:15: `role_arn` in cluster `e` must be an IAM role ARN or `create`, found `eks-role` (hint: e.g. arn:aws:iam::123456789012:role/eks-cluster)"
    );
    assert_eq!(
        one_error(&eks("    logging: [api, audits]\n")),
        "t.yaml:9:20: unknown log type `audits` in `logging` of cluster `e` (hint: did you mean `audit`?)"
    );
    assert_eq!(
        one_error(&eks("    endpoint_access: both\n")),
        "t.yaml:9:22: `endpoint_access` in cluster `e` must be one of public, private, public_and_private; found `both`"
    );
}

/// EKS plus a zone on the same cloud; DNS entries start at line 14.
fn with_dns(cluster_fields: &str, dns: &str) -> String {
    format!(
        "{}dns:\n  zone: example.com\n  cloud: aws\n{dns}",
        eks(cluster_fields)
    )
}

#[test]
fn dns_needs_an_ingress_address_for_eks_clusters() {
    assert_eq!(
        one_error(&with_dns(
            "",
            "  health_checks:\n    hc: { cluster: e }\n"
        )),
        "t.yaml:15:20: cluster `e` in health check `hc` has no `ingress_address`: provider aws gives its clusters none (hint: set `ingress_address` on cluster `e` (the IPv4 of the load balancer in front of it), or use `address` or `alias` here)"
    );
    let s = ok(&with_dns(
        "    ingress_address: 203.0.113.7\n",
        "  health_checks:\n    hc: { cluster: e }\n  records:\n    app: { targets: { x: { cluster: e } } }\n",
    ));
    assert_eq!(
        attr(&s, "health_check.hc", "address"),
        "${cluster.e.ingress_address}"
    );
}

#[test]
fn alias_targets_lower_to_alias_records() {
    let s = ok(&with_dns(
        "",
        "  records:
    www:
      targets:
        lb: { alias: { dns_name: My-LB-1.us-east-1.elb.amazonaws.com., hosted_zone_id: Z35SXDOTRQ7X7K } }
    app:
      routing: weighted
      targets:
        blue: { alias: { dns_name: blue.elb.amazonaws.com, hosted_zone_id: Z35SXDOTRQ7X7K, evaluate_target_health: true }, weight: 100 }
        green: { address: 192.0.2.10, weight: 0 }
",
    ));
    assert_eq!(
        attr(&s, "dns_record.www.example.com", "alias"),
        r#"{"dns_name":"my-lb-1.us-east-1.elb.amazonaws.com","hosted_zone_id":"Z35SXDOTRQ7X7K","evaluate_target_health":false}"#
    );
    assert_eq!(attr(&s, "dns_record.www.example.com", "values"), "null");
    assert_eq!(attr(&s, "dns_record.www.example.com", "ttl"), "null");
    assert_eq!(
        attr(&s, "dns_record.app.example.com/blue", "alias"),
        r#"{"dns_name":"blue.elb.amazonaws.com","hosted_zone_id":"Z35SXDOTRQ7X7K","evaluate_target_health":true}"#
    );
    // Targets with values have no alias attribute at all.
    assert!(attrs(&s, "dns_record.app.example.com/green")
        .iter()
        .all(|(k, _)| k != "alias"));
}

#[test]
fn alias_errors() {
    let rec = |target: &str, extra: &str| {
        with_dns(
            "",
            &format!("  records:\n    www:\n{extra}      targets:\n        lb: {target}\n"),
        )
    };
    assert_eq!(
        one_error(&rec(
            "{ address: 192.0.2.1, alias: { dns_name: a.elb.amazonaws.com, hosted_zone_id: Z1 } }",
            ""
        )),
        "t.yaml:17:15: target `lb` of record `www` sets both `alias` and `address` (hint: a target is one of `cluster`, `address` and `alias`)"
    );
    assert_eq!(
        one_error(&rec(
            "{ alias: { dns_name: a.elb.amazonaws.com, hosted_zone_id: Z1 } }",
            "      type: TXT\n"
        )),
        "t.yaml:18:15: `alias` in target `lb` of record `www` needs type A or AAAA; record `www` has type TXT (hint: an alias points at a load balancer, which answers A and AAAA queries)"
    );
    assert_eq!(
        one_error(&rec(
            "{ alias: { dns_name: a.elb.amazonaws.com, hosted_zone_id: z1 } }",
            ""
        )),
        "t.yaml:17:71: `hosted_zone_id` in `alias` of target `lb` of record `www` must be a Route 53 zone id like Z35SXDOTRQ7X7K, found `z1` (hint: the canonical hosted zone id of the load balancer (its `CanonicalHostedZoneId`))"
    );
    assert_eq!(
        one_error(&rec(
            "{ alias: { dns_name: a.elb.amazonaws.com, hosted_zone_id: Z1 } }",
            "      routing: multivalue\n"
        )),
        "t.yaml:18:15: `alias` in target `lb` of record `www` can't be used with routing: multivalue (hint: Route 53 has no multivalue alias records; use weighted routing)"
    );
    let two = with_dns(
        "",
        "  records:\n    www:\n      targets:\n        lb: { alias: { dns_name: a.elb.amazonaws.com, hosted_zone_id: Z1 } }\n        ip: { address: 192.0.2.1 }\n",
    );
    assert_eq!(
        one_error(&two),
        "t.yaml:15:5: simple record `www` has an `alias` target and 2 targets (hint: a simple alias record has exactly one target; use weighted or multivalue routing for more)"
    );
}
