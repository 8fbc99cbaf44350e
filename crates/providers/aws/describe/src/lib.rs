//! What the stack file says about `provider: aws` clouds: their settings, the EKS
//! fields of clusters and node pools, and the resources an EKS cluster lowers to.
//!
//! ```yaml
//! clusters:
//!   eks-a:
//!     cloud: aws
//!     region: us-east-1
//!     kubernetes_version: "1.31"
//!     network: create            # default: fedstack makes `network.eks-a` (VPC, 2 subnets, IGW)
//!     # network: { cidr: 10.20.0.0/16 }           # the same, with another CIDR
//!     # network: { subnet_ids: [subnet-1, subnet-2], security_group_ids: [sg-1] }
//!     role_arn: create           # default: `iam_role.eks-a-cluster`; or an existing role's ARN
//!     node_role_arn: create      # default (with node pools): `iam_role.eks-a-node`
//!     endpoint_access: public    # public | private | public_and_private
//!     logging: [api, audit]      # control plane log types sent to CloudWatch
//!     ingress_address: 203.0.113.7   # what DNS records and health checks point at
//! ```
//!
//! This crate is pure (no SDK, no I/O) so that the loader, the sim and the aws
//! provider share one description of what EKS accepts.

use fedstack_core::address::{Address, ResourceKind};
mod rules;

pub use rules::{EksRules, AWS_REGIONS};

use fedstack_core::stack::describe::{
    as_str, aws_region_ok, clip, found, version_ok, ApiRules, CloudDescription, ClusterInput,
    ClusterLowering, Cx, ExtraResource, Field, FieldKind, Node, Obj, Setting, SettingKind, Sp,
};
use fedstack_core::value::{Attrs, Expr};
use serde_json::Value;

/// The description of aws clouds, registered with the loader.
pub static AWS: Aws = Aws;

/// `provider: aws`: EKS clusters and node groups, their VPC and IAM roles, Route 53.
pub struct Aws;

const SETTINGS: &[Setting] = &[
    Setting::optional("profile", SettingKind::Str),
    Setting::optional("region", SettingKind::Str),
    Setting::optional("endpoint_url", SettingKind::Str),
    Setting::optional("max_parallel", SettingKind::MaxParallel),
];

const CLUSTER_FIELDS: &[Field] = &[
    Field {
        name: "network",
        kind: FieldKind::Custom,
    },
    Field {
        name: "role_arn",
        kind: FieldKind::Custom,
    },
    Field {
        name: "node_role_arn",
        kind: FieldKind::Custom,
    },
    Field {
        name: "endpoint_access",
        kind: FieldKind::Enum {
            allowed: ENDPOINT_ACCESS,
            default: Some("public"),
        },
    },
    Field {
        name: "logging",
        kind: FieldKind::EnumList {
            allowed: LOG_TYPES,
            noun: "log type",
        },
    },
    Field {
        name: "ingress_address",
        kind: FieldKind::Ipv4 {
            why: "the address of the load balancer in front of the cluster's ingress",
        },
    },
];

const ENDPOINT_ACCESS: &[&str] = &["public", "private", "public_and_private"];
/// Control plane log types, in EKS's order.
pub const LOG_TYPES: &[&str] = &[
    "api",
    "audit",
    "authenticator",
    "controllerManager",
    "scheduler",
];
/// The VPC a created network gets without `cidr`.
pub const DEFAULT_VPC_CIDR: &str = "10.0.0.0/16";
/// The managed policies of the roles fedstack creates.
pub const CLUSTER_ROLE_POLICIES: &[&str] = &["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"];
pub const NODE_ROLE_POLICIES: &[&str] = &[
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
];

impl CloudDescription for Aws {
    fn provider(&self) -> &'static str {
        "aws"
    }

    fn flavor(&self) -> Option<&'static str> {
        Some("eks")
    }

    fn emulated(&self) -> bool {
        true
    }

    fn claims_region(&self, region: &str) -> bool {
        aws_region_ok(region)
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn api_rules(&self) -> Option<&'static dyn ApiRules> {
        Some(&EksRules)
    }

    fn cluster_fields(&self) -> &'static [Field] {
        CLUSTER_FIELDS
    }

    fn replace_on(&self, kind: ResourceKind) -> &'static [&'static str] {
        match kind {
            // EKS can't move a cluster to other subnets or give it another role.
            ResourceKind::Cluster => &["role_arn", "subnet_ids", "security_group_ids"],
            ResourceKind::NodePool => &["node_role_arn", "subnet_ids"],
            ResourceKind::Network => &["region", "cidr"],
            ResourceKind::IamRole => &["service"],
            _ => &[],
        }
    }

    fn check_version(&self, cx: &mut Cx, version: &Sp<String>, what: &str) {
        check_eks_version(cx, version, what);
    }

    fn lower_cluster(&self, cx: &mut Cx, c: &ClusterInput) -> ClusterLowering {
        lower_cluster(cx, c)
    }
}

/// Reads the custom EKS fields of a cluster (network and roles) and makes the
/// network and roles it asks fedstack to create.
fn lower_cluster(cx: &mut Cx, c: &ClusterInput) -> ClusterLowering {
    let name = c.name;
    let network = network(cx, c.obj, c.what);
    let role = role(cx, c.obj, "role_arn", c.what);
    let node_role = role_opt_for_pools(cx, c);
    let region_value = c.region.map_or(Value::Null, |r| Value::String(r.v.clone()));
    let mut out = ClusterLowering {
        no_ingress_address: c.obj.get("ingress_address").is_none(),
        ..ClusterLowering::default()
    };

    let (subnets, groups) = match network {
        Some(Network::Create { cidr }) => {
            let address = Address::new(ResourceKind::Network, name);
            let mut attrs = Attrs::new();
            attrs.insert("region".into(), Expr::Literal(region_value));
            attrs.insert("cidr".into(), Expr::lit(cidr));
            out.resources.push(ExtraResource {
                address: address.clone(),
                attrs,
                span: c.span_of("network"),
            });
            (
                Expr::reference(address, "subnet_ids"),
                Expr::Literal(Value::Array(Vec::new())),
            )
        }
        Some(Network::Existing { subnets, groups }) => (
            Expr::lit(Value::from(subnets)),
            Expr::lit(Value::from(groups)),
        ),
        None => (Expr::Literal(Value::Null), Expr::Literal(Value::Null)),
    };
    let mut role_expr = |role: Option<Role>,
                         suffix: &str,
                         policies: &[&str],
                         service: &str,
                         field: &str| {
        match role {
            Some(Role::Create) => {
                let address = Address::new(ResourceKind::IamRole, format!("{name}-{suffix}"));
                let mut attrs = Attrs::new();
                attrs.insert("service".into(), Expr::lit(service));
                attrs.insert("policies".into(), Expr::lit(Value::from(policies.to_vec())));
                out.resources.push(ExtraResource {
                    address: address.clone(),
                    attrs,
                    span: c.span_of(field),
                });
                Expr::reference(address, "arn")
            }
            Some(Role::Existing(arn)) => Expr::lit(arn),
            None => Expr::Literal(Value::Null),
        }
    };
    let role = role_expr(
        role,
        "cluster",
        CLUSTER_ROLE_POLICIES,
        "eks.amazonaws.com",
        "role_arn",
    );
    let node_role = node_role.map(|r| {
        role_expr(
            r,
            "node",
            NODE_ROLE_POLICIES,
            "ec2.amazonaws.com",
            "node_role_arn",
        )
    });
    out.cluster_attrs.insert("role_arn".into(), role);
    out.cluster_attrs
        .insert("subnet_ids".into(), subnets.clone());
    out.cluster_attrs
        .insert("security_group_ids".into(), groups);
    if let Some(node_role) = node_role {
        out.pool_attrs.insert("node_role_arn".into(), node_role);
        out.pool_attrs.insert("subnet_ids".into(), subnets);
    }
    out
}

/// `node_role_arn`, read always (so that a wrong one is reported) but only made into
/// a role when the cluster has node pools.
fn role_opt_for_pools(cx: &mut Cx, c: &ClusterInput) -> Option<Option<Role>> {
    let role = role(cx, c.obj, "node_role_arn", c.what);
    c.has_pools.then_some(role)
}

/// EKS takes `MAJOR.MINOR` only.
fn check_eks_version(cx: &mut Cx, v: &Sp<String>, what: &str) {
    if version_ok(&v.v) && v.v.split('.').count() == 3 {
        let minor: Vec<&str> = v.v.split('.').take(2).collect();
        cx.error(
            v.span,
            format!(
                "EKS takes MAJOR.MINOR versions; `kubernetes_version` of {what} is `{}`",
                clip(&v.v)
            ),
            Some(format!(
                "write kubernetes_version: \"{}\"; EKS picks the patch release",
                minor.join(".")
            )),
        );
    }
}

/// `arn:aws:iam::123456789012:role/NAME` (any partition, role paths allowed).
fn role_arn_ok(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("arn:") else {
        return false;
    };
    let mut parts = rest.splitn(5, ':');
    let (Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    partition.starts_with("aws")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource
            .strip_prefix("role/")
            .is_some_and(|r| !r.is_empty() && !r.ends_with('/'))
}

/// `subnet-0123abcd`, `sg-0123abcd`: the prefix and 8 or 17 hex digits.
fn aws_id_ok(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// An IPv4 CIDR block from /16 to /24 (room for two subnets and their nodes).
fn vpc_cidr_ok(s: &str) -> bool {
    let Some((ip, prefix)) = s.split_once('/') else {
        return false;
    };
    let Ok(ip) = ip.parse::<std::net::Ipv4Addr>() else {
        return false;
    };
    let Ok(prefix) = prefix.parse::<u32>() else {
        return false;
    };
    (16..=24).contains(&prefix) && u32::from(ip) & !(u32::MAX << (32 - prefix)) == 0
}

/// How a cluster gets its network.
enum Network {
    Create {
        cidr: String,
    },
    Existing {
        subnets: Vec<String>,
        groups: Vec<String>,
    },
}

/// A role: made by fedstack, or an existing one by ARN.
enum Role {
    Create,
    Existing(String),
}

// ----- custom fields -----------------------------------------------------------
/// `network`: `create` (the default), `{cidr}`, or `{subnet_ids, security_group_ids}`.
/// `None` when it is invalid (reported).
fn network(cx: &mut Cx, obj: &Obj, what: &str) -> Option<Network> {
    let Some((key, node)) = obj.get("network") else {
        return Some(Network::Create {
            cidr: DEFAULT_VPC_CIDR.to_string(),
        });
    };
    let hint = "`network: create`, `network: { cidr: 10.0.0.0/16 }`, or `network: { subnet_ids: [...], security_group_ids: [...] }`";
    match node {
        Node::Scalar(s) if s.text == "create" => Some(Network::Create {
            cidr: DEFAULT_VPC_CIDR.to_string(),
        }),
        Node::Map { .. } => {
            let label = format!("`network` of {what}");
            let net = Obj::new(cx, node, label.clone(), key.span)?;
            net.check_fields(cx, &["cidr", "subnet_ids", "security_group_ids"]);
            let cidr = net.str_opt(cx, "cidr");
            let has_subnets = net.get("subnet_ids").is_some();
            if let (Some(c), true) = (&cidr, has_subnets) {
                cx.error(
                    c.span,
                    format!("{label} sets both `cidr` and `subnet_ids`"),
                    Some(
                        "`cidr` makes a new network; `subnet_ids` uses an existing one".to_string(),
                    ),
                );
                return None;
            }
            if let Some(c) = cidr {
                if !vpc_cidr_ok(&c.v) {
                    cx.error(
                        c.span,
                        format!(
                            "`cidr` in {label} must be an IPv4 block from /16 to /24, found `{}`",
                            clip(&c.v)
                        ),
                        Some("e.g. 10.0.0.0/16".to_string()),
                    );
                    return None;
                }
                if net.get("security_group_ids").is_some() {
                    if let Some((k, _)) = net.raw("security_group_ids") {
                        cx.error(
                            k.span,
                            format!("`security_group_ids` in {label} needs `subnet_ids`"),
                            Some(
                                "a network fedstack creates uses the security group EKS makes"
                                    .to_string(),
                            ),
                        );
                    }
                    return None;
                }
                return Some(Network::Create { cidr: c.v });
            }
            if !has_subnets {
                cx.error(
                    net.at,
                    format!("{label} needs `subnet_ids` or `cidr`"),
                    Some(hint.to_string()),
                );
                return None;
            }
            let subnets = id_list(cx, &net, "subnet_ids", "subnet-", &label)?;
            if subnets.v.len() < 2 {
                cx.error(
                    subnets.span,
                    format!("`subnet_ids` in {label} lists {} subnet(s); EKS needs at least two, in two availability zones", subnets.v.len()),
                    None,
                );
                return None;
            }
            let groups = match net.get("security_group_ids") {
                Some(_) => id_list(cx, &net, "security_group_ids", "sg-", &label)?.v,
                None => Vec::new(),
            };
            Some(Network::Existing {
                subnets: subnets.v,
                groups,
            })
        }
        n => {
            cx.error(
                n.span(),
                format!(
                    "expected `create` or a mapping for `network` in {what}, found {}",
                    found(n)
                ),
                Some(hint.to_string()),
            );
            None
        }
    }
}

/// A list of AWS ids with `prefix`, each once.
fn id_list(cx: &mut Cx, obj: &Obj, key: &str, prefix: &str, what: &str) -> Option<Sp<Vec<String>>> {
    let span = obj.raw(key).map_or(obj.at, |(k, _)| k.span);
    let items = obj.list_opt(cx, key)?;
    let mut out: Vec<String> = Vec::new();
    let mut ok = true;
    for item in items {
        let label = format!("an entry of `{key}` in {what}");
        let Some(s) = as_str(cx, item, &label) else {
            ok = false;
            continue;
        };
        if !aws_id_ok(&s.v, prefix) {
            cx.error(
                s.span,
                format!(
                    "`{}` in `{key}` of {what} is not an id like {prefix}0123abcd",
                    clip(&s.v)
                ),
                None,
            );
            ok = false;
        } else if out.contains(&s.v) {
            cx.error(
                s.span,
                format!("`{}` is listed twice in `{key}` of {what}", clip(&s.v)),
                None,
            );
            ok = false;
        } else {
            out.push(s.v);
        }
    }
    ok.then_some(Sp { v: out, span })
}

/// `role_arn` / `node_role_arn`: `create` (the default) or an IAM role ARN.
fn role(cx: &mut Cx, obj: &Obj, key: &str, what: &str) -> Option<Role> {
    let Some(s) = obj.str_opt(cx, key) else {
        // Absent: created. Present but not a string: reported.
        return obj.get(key).is_none().then_some(Role::Create);
    };
    if s.v == "create" {
        return Some(Role::Create);
    }
    if role_arn_ok(&s.v) {
        return Some(Role::Existing(s.v));
    }
    cx.error(
        s.span,
        format!(
            "`{key}` in {what} must be an IAM role ARN or `create`, found `{}`",
            clip(&s.v)
        ),
        Some("e.g. arn:aws:iam::123456789012:role/eks-cluster".to_string()),
    );
    None
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        assert!(role_arn_ok("arn:aws:iam::123456789012:role/eks"));
        assert!(role_arn_ok("arn:aws-cn:iam::123456789012:role/path/eks"));
        assert!(!role_arn_ok("arn:aws:iam::12345:role/eks"));
        assert!(!role_arn_ok("arn:aws:iam::123456789012:user/eks"));
        assert!(!role_arn_ok("arn:aws:s3:::bucket"));
        assert!(!role_arn_ok("eks"));
    }

    #[test]
    fn ids_and_cidrs() {
        assert!(aws_id_ok("subnet-0123abcd", "subnet-"));
        assert!(aws_id_ok("subnet-0123456789abcdef0", "subnet-"));
        assert!(!aws_id_ok("subnet-xyz", "subnet-"));
        assert!(!aws_id_ok("sg-0123abcd", "subnet-"));
        assert!(vpc_cidr_ok("10.0.0.0/16"));
        assert!(vpc_cidr_ok("10.20.1.0/24"));
        assert!(!vpc_cidr_ok("10.0.0.1/16"));
        assert!(!vpc_cidr_ok("10.0.0.0/8"));
        assert!(!vpc_cidr_ok("10.0.0.0"));
    }
}
