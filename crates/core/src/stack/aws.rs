//! Fields of clusters on `provider: aws` clouds (EKS) and the resources they lower to.
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

use serde_json::Value;

use super::cx::{as_str, clip, Cx, Obj, Sp};
use super::load::{lit_opt, Loader};
use super::yaml::Node;
use super::{names, Span};
use crate::address::{Address, ResourceKind};
use crate::value::{Attrs, Expr};

/// Cluster fields that only clusters on aws clouds have.
pub(super) const AWS_CLUSTER_FIELDS: &[&str] = &[
    "network",
    "role_arn",
    "node_role_arn",
    "endpoint_access",
    "logging",
    "ingress_address",
];

const ENDPOINT_ACCESS: &[&str] = &["public", "private", "public_and_private"];
const LOG_TYPES: &[&str] = &[
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

/// What the EKS fields add to the cluster and to each of its node pools.
pub(super) struct AwsCluster {
    pub cluster_attrs: Attrs,
    pub pool_attrs: Attrs,
    pub has_ingress_address: bool,
}

/// EKS takes `MAJOR.MINOR` only.
pub(super) fn check_eks_version(cx: &mut Cx, v: &Sp<String>, what: &str) {
    if names::version_ok(&v.v) && v.v.split('.').count() == 3 {
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

impl Loader<'_> {
    /// Reads the EKS fields of cluster `name` and pushes the network and roles it
    /// creates. `region` is the cluster's (a created network lives there).
    pub(super) fn aws_cluster(
        &mut self,
        name: &str,
        obj: &Obj,
        cloud: Option<String>,
        region: Option<&Sp<String>>,
        at: Span,
    ) -> AwsCluster {
        let what = format!("cluster `{}`", clip(name));
        let network = self.aws_network(obj, &what);
        let role = self.aws_role(obj, "role_arn", &what);
        let node_role = self.aws_role(obj, "node_role_arn", &what);
        let has_pools = matches!(obj.get("node_pools"), Some((_, Node::Map { entries, .. })) if !entries.is_empty());
        let endpoint_access = obj
            .enum_opt(&mut self.cx, "endpoint_access", ENDPOINT_ACCESS)
            .map_or("public", |e| e.v);
        let logging = self.aws_logging(obj, &what);
        let ingress = obj.str_opt(&mut self.cx, "ingress_address").filter(|a| {
            let ok = names::ipv4_ok(&a.v);
            if !ok {
                self.cx.error(
                    a.span,
                    format!(
                        "`ingress_address` in {what} must be an IPv4 address, found `{}`",
                        clip(&a.v)
                    ),
                    Some(
                        "the address of the load balancer in front of the cluster's ingress"
                            .to_string(),
                    ),
                );
            }
            ok
        });
        let has_ingress_address = ingress.is_some() || obj.get("ingress_address").is_some();
        let region_value = lit_opt(region.map(|r| r.v.clone()));
        let span_of = |field: &str| obj.raw(field).map_or(at, |(k, _)| k.span);

        let mut cluster_attrs = Attrs::new();
        let mut pool_attrs = Attrs::new();
        let (subnets, groups) = match network {
            Some(Network::Create { cidr }) => {
                let address = Address::new(ResourceKind::Network, name);
                let mut attrs = Attrs::new();
                attrs.insert("region".into(), region_value.clone());
                attrs.insert("cidr".into(), Expr::lit(cidr));
                self.push(
                    address.clone(),
                    cloud.clone(),
                    attrs,
                    Vec::new(),
                    span_of("network"),
                );
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
        let role_expr = |l: &mut Self,
                         role: Option<Role>,
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
                    l.push(
                        address.clone(),
                        cloud.clone(),
                        attrs,
                        Vec::new(),
                        span_of(field),
                    );
                    Expr::reference(address, "arn")
                }
                Some(Role::Existing(arn)) => Expr::lit(arn),
                None => Expr::Literal(Value::Null),
            }
        };
        let role = role_expr(
            self,
            role,
            "cluster",
            CLUSTER_ROLE_POLICIES,
            "eks.amazonaws.com",
            "role_arn",
        );
        cluster_attrs.insert("role_arn".into(), role);
        cluster_attrs.insert("subnet_ids".into(), subnets.clone());
        cluster_attrs.insert("security_group_ids".into(), groups);
        cluster_attrs.insert("endpoint_access".into(), Expr::lit(endpoint_access));
        cluster_attrs.insert("logging".into(), Expr::lit(Value::from(logging)));
        cluster_attrs.insert("ingress_address".into(), lit_opt(ingress.map(|i| i.v)));
        if has_pools {
            let node_role = role_expr(
                self,
                node_role,
                "node",
                NODE_ROLE_POLICIES,
                "ec2.amazonaws.com",
                "node_role_arn",
            );
            pool_attrs.insert("node_role_arn".into(), node_role);
            pool_attrs.insert("subnet_ids".into(), subnets);
        }
        AwsCluster {
            cluster_attrs,
            pool_attrs,
            has_ingress_address,
        }
    }

    /// `network`: `create` (the default), `{cidr}`, or `{subnet_ids, security_group_ids}`.
    /// `None` when it is invalid (reported).
    fn aws_network(&mut self, obj: &Obj, what: &str) -> Option<Network> {
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
                let net = Obj::new(&mut self.cx, node, label.clone(), key.span)?;
                net.check_fields(&mut self.cx, &["cidr", "subnet_ids", "security_group_ids"]);
                let cidr = net.str_opt(&mut self.cx, "cidr");
                let has_subnets = net.get("subnet_ids").is_some();
                if let (Some(c), true) = (&cidr, has_subnets) {
                    self.cx.error(
                        c.span,
                        format!("{label} sets both `cidr` and `subnet_ids`"),
                        Some(
                            "`cidr` makes a new network; `subnet_ids` uses an existing one"
                                .to_string(),
                        ),
                    );
                    return None;
                }
                if let Some(c) = cidr {
                    if !vpc_cidr_ok(&c.v) {
                        self.cx.error(
                            c.span,
                            format!("`cidr` in {label} must be an IPv4 block from /16 to /24, found `{}`", clip(&c.v)),
                            Some("e.g. 10.0.0.0/16".to_string()),
                        );
                        return None;
                    }
                    if net.get("security_group_ids").is_some() {
                        if let Some((k, _)) = net.raw("security_group_ids") {
                            self.cx.error(
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
                    self.cx.error(
                        net.at,
                        format!("{label} needs `subnet_ids` or `cidr`"),
                        Some(hint.to_string()),
                    );
                    return None;
                }
                let subnets = self.id_list(&net, "subnet_ids", "subnet-", &label)?;
                if subnets.v.len() < 2 {
                    self.cx.error(
                        subnets.span,
                        format!("`subnet_ids` in {label} lists {} subnet(s); EKS needs at least two, in two availability zones", subnets.v.len()),
                        None,
                    );
                    return None;
                }
                let groups = match net.get("security_group_ids") {
                    Some(_) => self.id_list(&net, "security_group_ids", "sg-", &label)?.v,
                    None => Vec::new(),
                };
                Some(Network::Existing {
                    subnets: subnets.v,
                    groups,
                })
            }
            n => {
                self.cx.error(
                    n.span(),
                    format!(
                        "expected `create` or a mapping for `network` in {what}, found {}",
                        super::cx::found(n)
                    ),
                    Some(hint.to_string()),
                );
                None
            }
        }
    }

    /// A list of AWS ids with `prefix`, each once.
    fn id_list(
        &mut self,
        obj: &Obj,
        key: &str,
        prefix: &str,
        what: &str,
    ) -> Option<Sp<Vec<String>>> {
        let span = obj.raw(key).map_or(obj.at, |(k, _)| k.span);
        let items = obj.list_opt(&mut self.cx, key)?;
        let mut out: Vec<String> = Vec::new();
        let mut ok = true;
        for item in items {
            let label = format!("an entry of `{key}` in {what}");
            let Some(s) = as_str(&mut self.cx, item, &label) else {
                ok = false;
                continue;
            };
            if !aws_id_ok(&s.v, prefix) {
                self.cx.error(
                    s.span,
                    format!(
                        "`{}` in `{key}` of {what} is not an id like {prefix}0123abcd",
                        clip(&s.v)
                    ),
                    None,
                );
                ok = false;
            } else if out.contains(&s.v) {
                self.cx.error(
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
    fn aws_role(&mut self, obj: &Obj, key: &str, what: &str) -> Option<Role> {
        let Some(s) = obj.str_opt(&mut self.cx, key) else {
            // Absent: created. Present but not a string: reported.
            return obj.get(key).is_none().then_some(Role::Create);
        };
        if s.v == "create" {
            return Some(Role::Create);
        }
        if role_arn_ok(&s.v) {
            return Some(Role::Existing(s.v));
        }
        self.cx.error(
            s.span,
            format!(
                "`{key}` in {what} must be an IAM role ARN or `create`, found `{}`",
                clip(&s.v)
            ),
            Some("e.g. arn:aws:iam::123456789012:role/eks-cluster".to_string()),
        );
        None
    }

    /// `logging`: control plane log types, each once.
    fn aws_logging(&mut self, obj: &Obj, what: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let Some(items) = obj.list_opt(&mut self.cx, "logging") else {
            return out;
        };
        for item in items {
            let label = format!("an entry of `logging` in {what}");
            let Some(s) = as_str(&mut self.cx, item, &label) else {
                continue;
            };
            if !LOG_TYPES.contains(&s.v.as_str()) {
                let hint = self
                    .cx
                    .suggest(&s.v, LOG_TYPES.iter().copied(), "log types");
                self.cx.error(
                    s.span,
                    format!("unknown log type `{}` in `logging` of {what}", clip(&s.v)),
                    hint,
                );
            } else if out.contains(&s.v) {
                self.cx.error(
                    s.span,
                    format!("log type `{}` is listed twice in `logging` of {what}", s.v),
                    None,
                );
            } else {
                out.push(s.v);
            }
        }
        out
    }
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
