//! `network.CLUSTER`: the minimal network of an EKS cluster as one resource -- a VPC
//! (DNS hostnames on), two public subnets in two availability zones (halves of the
//! VPC's block), an internet gateway, and a route table sending `0.0.0.0/0` to it,
//! associated with both subnets.
//!
//! Every part is tagged `fedstack:stack=<stack>`, `fedstack:network=<name>` and found
//! by those tags, so a create interrupted anywhere is finished by the next one (a
//! half-made network reads as `Pending("INCOMPLETE: ...")`, which the planner adopts
//! and `wait_ready` completes). Attributes: `region`, `cidr` (both force a
//! replacement). Outputs: `id` and `vpc_id`, `subnet_ids`, `availability_zones`.
//! A delete takes the parts down in reverse order; `DependencyViolation` (network
//! interfaces EKS leaves behind for a while) is retried.

use std::net::Ipv4Addr;
use std::sync::Arc;

use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, ResourceType, Tag, TagSpecification};
use fedstack_core::value::Values;
use fedstack_provider::{
    ErrorClass, Observed, Progress, ProviderError, ResourceSpec, ResourceStatus,
};
use serde_json::{json, Value};

use crate::clients::Clients;
use crate::config::{AwsOptions, CallRetry};
use crate::errors::{classify, invalid, permanent, with_retries};

pub(crate) struct Network {
    clients: Arc<Clients>,
    options: AwsOptions,
    stack: String,
}

/// What exists of a network.
#[derive(Default, Debug)]
struct Parts {
    vpc_id: Option<String>,
    cidr: Option<String>,
    /// (availability zone, subnet id), sorted by zone.
    subnets: Vec<(String, String)>,
    /// The blocks of those subnets.
    subnet_blocks: Vec<String>,
    igw_id: Option<String>,
    igw_attached: bool,
    route_table_id: Option<String>,
    default_route: bool,
    /// Subnets associated with the route table.
    associated: Vec<String>,
    /// Association ids of the route table (for the delete).
    associations: Vec<String>,
}

impl Parts {
    fn missing(&self) -> Option<&'static str> {
        if self.vpc_id.is_none() {
            Some("no VPC")
        } else if self.subnets.len() < 2 {
            Some("fewer than two subnets")
        } else if !self.igw_attached {
            Some("no internet gateway")
        } else if !self.default_route {
            Some("no default route")
        } else if self
            .subnets
            .iter()
            .any(|(_, s)| !self.associated.contains(s))
        {
            Some("a subnet without the route table")
        } else {
            None
        }
    }
}

/// The two halves of a block: `10.0.0.0/16` -> `10.0.0.0/17`, `10.0.128.0/17`.
pub(crate) fn halves(cidr: &str) -> Result<[String; 2], String> {
    let (ip, prefix) = cidr
        .split_once('/')
        .ok_or_else(|| format!("`{cidr}` is not a CIDR block"))?;
    let ip: Ipv4Addr = ip
        .parse()
        .map_err(|_| format!("`{cidr}` is not a CIDR block"))?;
    let prefix: u32 = prefix
        .parse()
        .map_err(|_| format!("`{cidr}` is not a CIDR block"))?;
    if !(16..=27).contains(&prefix) {
        return Err(format!("`{cidr}`: the VPC block must be /16 to /27"));
    }
    let base = u32::from(ip);
    let half = 1u32 << (32 - prefix - 1);
    Ok([
        format!("{}/{}", Ipv4Addr::from(base), prefix + 1),
        format!("{}/{}", Ipv4Addr::from(base + half), prefix + 1),
    ])
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

impl Network {
    pub(crate) fn new(clients: Arc<Clients>, options: AwsOptions, stack: &str) -> Network {
        Network {
            clients,
            options,
            stack: stack.to_string(),
        }
    }

    fn filters(&self, name: &str) -> Vec<Filter> {
        vec![
            Filter::builder()
                .name("tag:fedstack:stack")
                .values(&self.stack)
                .build(),
            Filter::builder()
                .name("tag:fedstack:network")
                .values(name)
                .build(),
        ]
    }

    fn tags(&self, name: &str, kind: ResourceType, suffix: &str) -> TagSpecification {
        let mut b = TagSpecification::builder()
            .resource_type(kind.clone())
            .tags(tag(
                "Name",
                &format!("fedstack-{}-{name}{suffix}", self.stack),
            ))
            .tags(tag("fedstack:stack", &self.stack))
            .tags(tag("fedstack:network", name));
        if kind == ResourceType::Subnet {
            // Where EKS puts internet-facing load balancers.
            b = b.tags(tag("kubernetes.io/role/elb", "1"));
        }
        b.build()
    }

    async fn region(&self, spec: &ResourceSpec) -> Result<String, ProviderError> {
        match spec.attrs.get("region").and_then(Value::as_str) {
            Some(r) => Ok(r.to_string()),
            None => self.clients.default_region().await,
        }
    }

    async fn parts(
        &self,
        client: &aws_sdk_ec2::Client,
        name: &str,
    ) -> Result<Parts, ProviderError> {
        let r = &self.options.retry;
        let mut p = Parts::default();
        let vpcs = with_retries(r, || async {
            client
                .describe_vpcs()
                .set_filters(Some(self.filters(name)))
                .send()
                .await
                .map_err(|e| classify("DescribeVpcs", e))
        })
        .await?;
        let Some(vpc) = vpcs.vpcs().first() else {
            return Ok(p);
        };
        if vpcs.vpcs().len() > 1 {
            return Err(permanent(format!(
                "{} VPCs are tagged fedstack:network={name} for stack {}; fedstack can't tell which is its own",
                vpcs.vpcs().len(),
                self.stack
            )));
        }
        let vpc_id = vpc.vpc_id().unwrap_or_default().to_string();
        p.cidr = vpc.cidr_block().map(str::to_string);
        let by_vpc = || Filter::builder().name("vpc-id").values(&vpc_id).build();
        let subnets = with_retries(r, || async {
            client
                .describe_subnets()
                .filters(by_vpc())
                .send()
                .await
                .map_err(|e| classify("DescribeSubnets", e))
        })
        .await?;
        p.subnets = subnets
            .subnets()
            .iter()
            .filter_map(|s| {
                Some((
                    s.availability_zone()?.to_string(),
                    s.subnet_id()?.to_string(),
                ))
            })
            .collect();
        p.subnets.sort();
        p.subnet_blocks = subnets
            .subnets()
            .iter()
            .filter_map(|s| s.cidr_block().map(str::to_string))
            .collect();
        let igws = with_retries(r, || async {
            client
                .describe_internet_gateways()
                .filters(
                    Filter::builder()
                        .name("attachment.vpc-id")
                        .values(&vpc_id)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| classify("DescribeInternetGateways", e))
        })
        .await?;
        if let Some(g) = igws.internet_gateways().first() {
            p.igw_id = g.internet_gateway_id().map(str::to_string);
            p.igw_attached = true;
        } else {
            // Made but not attached yet (an interrupted create).
            let tagged = with_retries(r, || async {
                client
                    .describe_internet_gateways()
                    .set_filters(Some(self.filters(name)))
                    .send()
                    .await
                    .map_err(|e| classify("DescribeInternetGateways", e))
            })
            .await?;
            p.igw_id = tagged
                .internet_gateways()
                .first()
                .and_then(|g| g.internet_gateway_id())
                .map(str::to_string);
        }
        let tables = with_retries(r, || async {
            let mut f = self.filters(name);
            f.push(by_vpc());
            client
                .describe_route_tables()
                .set_filters(Some(f))
                .send()
                .await
                .map_err(|e| classify("DescribeRouteTables", e))
        })
        .await?;
        if let Some(t) = tables.route_tables().first() {
            p.route_table_id = t.route_table_id().map(str::to_string);
            p.default_route = t.routes().iter().any(|r| {
                r.destination_cidr_block() == Some("0.0.0.0/0")
                    && r.gateway_id().is_some()
                    && r.gateway_id() == p.igw_id.as_deref()
            });
            for a in t.associations() {
                if a.main() == Some(true) {
                    continue;
                }
                if let Some(s) = a.subnet_id() {
                    p.associated.push(s.to_string());
                }
                if let Some(id) = a.route_table_association_id() {
                    p.associations.push(id.to_string());
                }
            }
        }
        p.vpc_id = Some(vpc_id);
        Ok(p)
    }

    fn observe(spec: &ResourceSpec, region: &str, p: &Parts) -> Observed {
        let mut attrs = Values::new();
        attrs.insert("region".into(), json!(region));
        attrs.insert(
            "cidr".into(),
            p.cidr.as_ref().map_or(Value::Null, |c| json!(c)),
        );
        for (k, v) in &spec.attrs {
            attrs.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let mut outputs = Values::new();
        outputs.insert(
            "id".into(),
            p.vpc_id.as_ref().map_or(Value::Null, |v| json!(v)),
        );
        outputs.insert(
            "vpc_id".into(),
            p.vpc_id.as_ref().map_or(Value::Null, |v| json!(v)),
        );
        outputs.insert(
            "subnet_ids".into(),
            json!(p.subnets.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>()),
        );
        outputs.insert(
            "availability_zones".into(),
            json!(p.subnets.iter().map(|(z, _)| z.clone()).collect::<Vec<_>>()),
        );
        Observed {
            attrs,
            outputs,
            secrets: Default::default(),
            status: match p.missing() {
                None => ResourceStatus::Ready,
                Some(m) => ResourceStatus::Pending(format!("INCOMPLETE: {m}")),
            },
        }
    }

    pub(crate) async fn read(
        &self,
        spec: &ResourceSpec,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = self.region(spec).await?;
        let client = self.clients.ec2(&region).await?;
        let p = self.parts(&client, &spec.cloud_name).await?;
        if p.vpc_id.is_none() && p.igw_id.is_none() {
            return Ok(None);
        }
        Ok(Some(Network::observe(spec, &region, &p)))
    }

    /// Makes whatever part is missing; safe to run again at any point.
    pub(crate) async fn ensure(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        let region = self.region(spec).await?;
        let client = self.clients.ec2(&region).await?;
        let name = spec.cloud_name.as_str();
        let cidr = spec
            .attrs
            .get("cidr")
            .and_then(Value::as_str)
            .unwrap_or(fedstack_describe_aws::DEFAULT_VPC_CIDR)
            .to_string();
        let blocks = halves(&cidr).map_err(|m| invalid(format!("{}: {m}", spec.address)))?;
        let r = &self.options.retry;
        let mut p = self.parts(&client, name).await?;
        if let (Some(have), Some(_)) = (&p.cidr, &p.vpc_id) {
            if *have != cidr {
                return Err(ProviderError::new(
                    ErrorClass::AlreadyExists,
                    format!(
                        "{}: its VPC exists with block {have}, not {cidr}",
                        spec.address
                    ),
                ));
            }
        }
        let vpc_id = match p.vpc_id.clone() {
            Some(v) => v,
            None => {
                progress.status("creating the VPC");
                let out = with_retries(r, || async {
                    client
                        .create_vpc()
                        .cidr_block(&cidr)
                        .tag_specifications(self.tags(name, ResourceType::Vpc, ""))
                        .send()
                        .await
                        .map_err(|e| classify("CreateVpc", e))
                })
                .await?;
                let id = out
                    .vpc()
                    .and_then(|v| v.vpc_id())
                    .ok_or_else(|| permanent("CreateVpc: no VPC id in the answer"))?
                    .to_string();
                // EKS nodes need DNS names.
                with_retries(r, || async {
                    client
                        .modify_vpc_attribute()
                        .vpc_id(&id)
                        .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
                        .send()
                        .await
                        .map_err(|e| classify("ModifyVpcAttribute", e))
                })
                .await?;
                id
            }
        };
        if p.subnets.len() < 2 {
            progress.status("creating subnets");
            let zones = with_retries(r, || async {
                client
                    .describe_availability_zones()
                    .filters(Filter::builder().name("state").values("available").build())
                    .send()
                    .await
                    .map_err(|e| classify("DescribeAvailabilityZones", e))
            })
            .await?;
            let mut names: Vec<String> = zones
                .availability_zones()
                .iter()
                .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
                .filter_map(|z| z.zone_name().map(str::to_string))
                .collect();
            names.sort();
            if names.len() < 2 {
                return Err(invalid(format!(
                    "{}: region {region} has fewer than two availability zones; EKS needs two",
                    spec.address
                )));
            }
            let used: Vec<String> = p.subnets.iter().map(|(z, _)| z.clone()).collect();
            let free_blocks: Vec<&String> = blocks
                .iter()
                .filter(|b| !p.subnet_blocks.contains(b))
                .collect();
            let free_zones = names.iter().filter(|z| !used.contains(z));
            for (zone, block) in free_zones
                .zip(free_blocks)
                .take(2usize.saturating_sub(p.subnets.len()))
            {
                let out = with_retries(r, || async {
                    client
                        .create_subnet()
                        .vpc_id(&vpc_id)
                        .cidr_block(block.as_str())
                        .availability_zone(zone)
                        .tag_specifications(self.tags(
                            name,
                            ResourceType::Subnet,
                            &format!("-{zone}"),
                        ))
                        .send()
                        .await
                        .map_err(|e| classify("CreateSubnet", e))
                })
                .await?;
                if let Some(id) = out.subnet().and_then(|s| s.subnet_id()) {
                    with_retries(r, || async {
                        client
                            .modify_subnet_attribute()
                            .subnet_id(id)
                            .map_public_ip_on_launch(
                                AttributeBooleanValue::builder().value(true).build(),
                            )
                            .send()
                            .await
                            .map_err(|e| classify("ModifySubnetAttribute", e))
                    })
                    .await?;
                }
            }
        }
        if !p.igw_attached {
            progress.status("creating the internet gateway");
            let igw = match p.igw_id.clone() {
                Some(id) => id,
                None => with_retries(r, || async {
                    client
                        .create_internet_gateway()
                        .tag_specifications(self.tags(name, ResourceType::InternetGateway, ""))
                        .send()
                        .await
                        .map_err(|e| classify("CreateInternetGateway", e))
                })
                .await?
                .internet_gateway()
                .and_then(|g| g.internet_gateway_id())
                .ok_or_else(|| permanent("CreateInternetGateway: no id in the answer"))?
                .to_string(),
            };
            with_retries(r, || async {
                client
                    .attach_internet_gateway()
                    .internet_gateway_id(&igw)
                    .vpc_id(&vpc_id)
                    .send()
                    .await
                    .map_err(|e| classify("AttachInternetGateway", e))
            })
            .await?;
        }
        p = self.parts(&client, name).await?;
        let igw = p
            .igw_id
            .clone()
            .ok_or_else(|| permanent(format!("{}: the internet gateway is gone", spec.address)))?;
        let table = match p.route_table_id.clone() {
            Some(t) => t,
            None => {
                progress.status("creating the route table");
                with_retries(r, || async {
                    client
                        .create_route_table()
                        .vpc_id(&vpc_id)
                        .tag_specifications(self.tags(name, ResourceType::RouteTable, ""))
                        .send()
                        .await
                        .map_err(|e| classify("CreateRouteTable", e))
                })
                .await?
                .route_table()
                .and_then(|t| t.route_table_id())
                .ok_or_else(|| permanent("CreateRouteTable: no id in the answer"))?
                .to_string()
            }
        };
        if !p.default_route {
            with_retries(r, || async {
                client
                    .create_route()
                    .route_table_id(&table)
                    .destination_cidr_block("0.0.0.0/0")
                    .gateway_id(&igw)
                    .send()
                    .await
                    .map_err(|e| classify("CreateRoute", e))
            })
            .await?;
        }
        for (_, subnet) in &p.subnets {
            if p.associated.contains(subnet) {
                continue;
            }
            with_retries(r, || async {
                client
                    .associate_route_table()
                    .route_table_id(&table)
                    .subnet_id(subnet)
                    .send()
                    .await
                    .map_err(|e| classify("AssociateRouteTable", e))
            })
            .await?;
        }
        let p = self.parts(&client, name).await?;
        let o = Network::observe(spec, &region, &p);
        match &o.status {
            ResourceStatus::Ready => Ok(o),
            ResourceStatus::Pending(m) => Err(ProviderError::new(
                ErrorClass::Transient,
                format!("{}: still {m} after creating it", spec.address),
            )),
            _ => Ok(o),
        }
    }

    pub(crate) async fn delete(
        &self,
        spec: &ResourceSpec,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let region = self.region(spec).await?;
        let client = self.clients.ec2(&region).await?;
        let p = self.parts(&client, &spec.cloud_name).await?;
        // ENIs of a cluster just deleted linger for minutes: retry for longer.
        let r = CallRetry {
            max_attempts: self.options.retry.max_attempts.max(12),
            ..self.options.retry.clone()
        };
        let gone_ok = |res: Result<(), ProviderError>| match res {
            Err(e) if e.class == ErrorClass::NotFound => Ok(()),
            other => other,
        };
        progress.status("DELETING");
        for a in &p.associations {
            gone_ok(
                with_retries(&r, || async {
                    client
                        .disassociate_route_table()
                        .association_id(a)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| classify("DisassociateRouteTable", e))
                })
                .await,
            )?;
        }
        if let Some(t) = &p.route_table_id {
            gone_ok(
                with_retries(&r, || async {
                    client
                        .delete_route_table()
                        .route_table_id(t)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| classify("DeleteRouteTable", e))
                })
                .await,
            )?;
        }
        if let Some(g) = &p.igw_id {
            if let (true, Some(v)) = (p.igw_attached, &p.vpc_id) {
                gone_ok(
                    with_retries(&r, || async {
                        client
                            .detach_internet_gateway()
                            .internet_gateway_id(g)
                            .vpc_id(v)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| classify("DetachInternetGateway", e))
                    })
                    .await,
                )?;
            }
            gone_ok(
                with_retries(&r, || async {
                    client
                        .delete_internet_gateway()
                        .internet_gateway_id(g)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| classify("DeleteInternetGateway", e))
                })
                .await,
            )?;
        }
        for (_, s) in &p.subnets {
            gone_ok(
                with_retries(&r, || async {
                    client
                        .delete_subnet()
                        .subnet_id(s)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| classify("DeleteSubnet", e))
                })
                .await,
            )?;
        }
        if let Some(v) = &p.vpc_id {
            gone_ok(
                with_retries(&r, || async {
                    client
                        .delete_vpc()
                        .vpc_id(v)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| classify("DeleteVpc", e))
                })
                .await,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_are_the_halves_of_the_block() {
        assert_eq!(
            halves("10.0.0.0/16").expect("valid"),
            ["10.0.0.0/17".to_string(), "10.0.128.0/17".to_string()]
        );
        assert_eq!(
            halves("10.20.1.0/24").expect("valid"),
            ["10.20.1.0/25".to_string(), "10.20.1.128/25".to_string()]
        );
        assert!(halves("10.0.0.0/8").is_err());
    }
}
