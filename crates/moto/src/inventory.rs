//! Reading the emulator back with the AWS SDK (directly, not through the proxy).

use std::collections::HashMap;

/// What the emulator holds (default VPCs and their parts left out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Zone names (no trailing dot) and their record sets other than SOA and NS, as
    /// `name type [set id]: values` (alias records: `-> dns name`).
    pub zones: HashMap<String, Vec<String>>,
    /// Health checks: `id: ip:port type path`.
    pub health_checks: Vec<String>,
    pub clusters: Vec<String>,
    /// `cluster/nodegroup: instance type, desired`
    pub nodegroups: Vec<String>,
    /// VPCs that are not default ones.
    pub vpcs: Vec<String>,
    pub subnets: Vec<String>,
    pub internet_gateways: Vec<String>,
    pub roles: Vec<String>,
}

impl Inventory {
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
            && self.health_checks.is_empty()
            && self.clusters.is_empty()
            && self.nodegroups.is_empty()
            && self.vpcs.is_empty()
            && self.subnets.is_empty()
            && self.internet_gateways.is_empty()
            && self.roles.is_empty()
    }

    /// Record sets of every zone, sorted.
    pub fn records(&self) -> Vec<String> {
        let mut v: Vec<String> = self.zones.values().flatten().cloned().collect();
        v.sort();
        v
    }
}

pub(crate) async fn inventory(endpoint: &str, region: &str) -> Result<Inventory, String> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .load()
        .await;
    let e = |what: &str, err: &dyn std::fmt::Debug| format!("{what}: {err:?}");
    let mut inv = Inventory::default();

    let r53 = aws_sdk_route53::Client::new(&config);
    let zones = r53
        .list_hosted_zones()
        .send()
        .await
        .map_err(|x| e("ListHostedZones", &x))?;
    for z in zones.hosted_zones() {
        let mut sets = Vec::new();
        let mut all = Vec::new();
        let mut cursor: Option<(String, aws_sdk_route53::types::RrType, Option<String>)> = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut req = r53.list_resource_record_sets().hosted_zone_id(z.id());
            if let Some((n, t, i)) = &cursor {
                req = req
                    .start_record_name(n)
                    .start_record_type(t.clone())
                    .set_start_record_identifier(i.clone());
            }
            let out = req
                .send()
                .await
                .map_err(|x| e("ListResourceRecordSets", &x))?;
            all.extend(out.resource_record_sets().iter().cloned());
            match (
                out.is_truncated(),
                out.next_record_name(),
                out.next_record_type(),
            ) {
                (true, Some(n), Some(t)) => {
                    let next = (
                        n.to_string(),
                        t.clone(),
                        out.next_record_identifier().map(str::to_string),
                    );
                    if !seen.insert(format!("{next:?}")) {
                        return Err("ListResourceRecordSets repeats a cursor".into());
                    }
                    cursor = Some(next);
                }
                _ => break,
            }
        }
        let mut keys = std::collections::HashSet::new();
        all.retain(|s| {
            keys.insert((
                s.name().to_string(),
                s.r#type().clone(),
                s.set_identifier().map(str::to_string),
            ))
        });
        for s in &all {
            let t = s.r#type().as_str();
            if t == "SOA" || t == "NS" {
                continue;
            }
            let values = match s.alias_target() {
                Some(a) => format!("-> {}", a.dns_name()),
                None => s
                    .resource_records()
                    .iter()
                    .map(|r| r.value().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            };
            let mut line = format!("{} {t}", s.name().trim_end_matches('.'));
            if let Some(id) = s.set_identifier() {
                line.push_str(&format!(" [{id}]"));
            }
            if let Some(w) = s.weight() {
                line.push_str(&format!(" w={w}"));
            }
            line.push_str(&format!(": {values}"));
            sets.push(line);
        }
        sets.sort();
        inv.zones
            .insert(z.name().trim_end_matches('.').to_string(), sets);
    }
    let hcs = r53
        .list_health_checks()
        .send()
        .await
        .map_err(|x| e("ListHealthChecks", &x))?;
    for h in hcs.health_checks() {
        let c = h.health_check_config();
        inv.health_checks.push(format!(
            "{}: {}:{} {} {}",
            h.id(),
            c.and_then(|c| c.ip_address()).unwrap_or("-"),
            c.and_then(|c| c.port()).unwrap_or(0),
            c.map(|c| c.r#type().as_str().to_string())
                .unwrap_or_default(),
            c.and_then(|c| c.resource_path()).unwrap_or("")
        ));
    }

    let eks = aws_sdk_eks::Client::new(&config);
    let clusters = eks
        .list_clusters()
        .send()
        .await
        .map_err(|x| e("ListClusters", &x))?;
    for c in clusters.clusters() {
        inv.clusters.push(c.clone());
        let groups = eks
            .list_nodegroups()
            .cluster_name(c)
            .send()
            .await
            .map_err(|x| e("ListNodegroups", &x))?;
        for g in groups.nodegroups() {
            let d = eks
                .describe_nodegroup()
                .cluster_name(c)
                .nodegroup_name(g)
                .send()
                .await
                .map_err(|x| e("DescribeNodegroup", &x))?;
            let n = d.nodegroup();
            inv.nodegroups.push(format!(
                "{c}/{g}: {}, {}",
                n.and_then(|n| n.instance_types().first().cloned())
                    .unwrap_or_default(),
                n.and_then(|n| n.scaling_config())
                    .and_then(|s| s.desired_size())
                    .unwrap_or(-1)
            ));
        }
    }

    let ec2 = aws_sdk_ec2::Client::new(&config);
    let vpcs = ec2
        .describe_vpcs()
        .send()
        .await
        .map_err(|x| e("DescribeVpcs", &x))?;
    let mut default_vpcs = Vec::new();
    for v in vpcs.vpcs() {
        let id = v.vpc_id().unwrap_or_default().to_string();
        if v.is_default() == Some(true) {
            default_vpcs.push(id);
        } else {
            inv.vpcs.push(id);
        }
    }
    let subnets = ec2
        .describe_subnets()
        .send()
        .await
        .map_err(|x| e("DescribeSubnets", &x))?;
    for s in subnets.subnets() {
        if !default_vpcs.iter().any(|d| Some(d.as_str()) == s.vpc_id()) {
            inv.subnets
                .push(s.subnet_id().unwrap_or_default().to_string());
        }
    }
    let igws = ec2
        .describe_internet_gateways()
        .send()
        .await
        .map_err(|x| e("DescribeInternetGateways", &x))?;
    for g in igws.internet_gateways() {
        let on_default = g
            .attachments()
            .iter()
            .any(|a| default_vpcs.iter().any(|d| Some(d.as_str()) == a.vpc_id()));
        if !on_default {
            inv.internet_gateways
                .push(g.internet_gateway_id().unwrap_or_default().to_string());
        }
    }

    let iam = aws_sdk_iam::Client::new(&config);
    let roles = iam
        .list_roles()
        .send()
        .await
        .map_err(|x| e("ListRoles", &x))?;
    for r in roles.roles() {
        // moto's own service-linked roles live under /aws-service-role/.
        if !r.path().starts_with("/aws-service-role/") {
            inv.roles.push(r.role_name().to_string());
        }
    }
    inv.health_checks.sort();
    inv.clusters.sort();
    inv.nodegroups.sort();
    inv.roles.sort();
    Ok(inv)
}
