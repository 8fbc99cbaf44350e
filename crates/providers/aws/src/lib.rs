//! `provider: aws`: EKS clusters and managed node groups, the VPC and IAM roles they
//! need, and Route 53 hosted zones, health checks and records -- through the official
//! AWS SDK for Rust.
//!
//! # Configuration
//! Credentials and region come the usual AWS way (environment, `~/.aws` profiles, SSO,
//! container and instance roles) via `aws-config`; the cloud's `profile`, `region` and
//! `endpoint_url` settings (and `AWS_ENDPOINT_URL`) override them. Route 53 and IAM are
//! global and use the cloud's region (default `us-east-1`); EKS and EC2 calls go to
//! each cluster's `region`. The SDK runs on hyper + rustls (ring), without its own
//! retries: every call is retried here ([`errors`]) so that attempts are counted and
//! tested. Knobs for tests and slow clouds: [`AwsOptions`] (`FEDSTACK_AWS_*`).
//!
//! # Resources
//! | kind | what | file |
//! |---|---|---|
//! | `network.CLUSTER` | VPC, two subnets in two zones, internet gateway, route table | `network.rs` |
//! | `iam_role.NAME` | a role a service assumes, with managed policies | `iam.rs` |
//! | `cluster.NAME` | an EKS cluster | `eks.rs` |
//! | `node_pool.CLUSTER.POOL` | an EKS managed node group | `eks.rs` |
//! | `dns_zone.ZONE` | a public hosted zone, found or created by name | `route53/zone.rs` |
//! | `health_check.NAME` | a Route 53 health check | `route53/health.rs` |
//! | `dns_record.*` | record sets of every routing policy, alias records; batched | `route53/records.rs` |
//!
//! Cloud-side names are the address names (an EKS cluster `eks-a`, an IAM role
//! `eks-a-cluster`); what has no name in AWS is found by tags (the VPC) or by the
//! prefix of its `CallerReference` (zones, health checks), so that a create cut short
//! by a crash is found and adopted by the next run.
//!
//! # Batching
//! Record changes are merged per zone ([`Provider::batch_key`](fedstack_provider::Provider::batch_key)
//! returns `route53:<zone>`): the engine starts every ready record step of a zone at
//! once and the provider coalesces their calls (`batch.rs`) into as few
//! `ChangeResourceRecordSets` calls as Route 53's limits allow, then waits for INSYNC.
//!
//! # Secrets
//! EKS tokens are minted here ([`token`]) and given out only through
//! `Provider::cluster_access`; outputs and state never hold one.

mod batch;
mod clients;
mod config;
mod eks;
pub mod errors;
mod iam;
mod network;
mod provider;
mod route53;
pub mod token;

pub use clients::DEFAULT_REGION;
pub use config::{AwsOptions, CallRetry, Settings};
pub use provider::AwsProvider;
pub use route53::rrset::{Rr, RrKey};
