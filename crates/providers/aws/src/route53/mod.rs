//! Route 53: the hosted zone (found or created by name), health checks and records.
//!
//! - Zones and health checks carry a `CallerReference` of the form
//!   `fedstack-<16 hex of sha256(stack/kind/name)>-<unix ms>`: unique per create (Route
//!   53 wants that), and recognisable, so that a create interrupted by a crash is found
//!   again by its name. A zone with the stack's name that fedstack did not make is
//!   adopted when it is the only public zone of that name.
//! - Record changes are batched per zone (see `records.rs`); reads come from one paged
//!   listing of the zone shared by every read within `listing_ttl`.
//! - Every listing is paged to the end; a page cursor seen twice is an error, never a
//!   loop (moto hands out the same cursor again for sets sharing name and type).

mod health;
mod records;
pub(crate) mod rrset;
mod zone;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use aws_sdk_route53::types::ChangeStatus;
use fedstack_provider::ProviderError;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::batch::Coalescer;
use crate::clients::Clients;
use crate::config::AwsOptions;
use crate::errors::{classify, with_retries};
use records::RecordOp;
use rrset::{Rr, RrKey};

pub(crate) use records::{batch_key, Action};

type Listing = Arc<HashMap<RrKey, Rr>>;
type CachedListing = Arc<tokio::sync::Mutex<Option<(Instant, Listing)>>>;

pub(crate) struct Route53 {
    clients: Arc<Clients>,
    options: AwsOptions,
    stack: String,
    /// Zone ids by zone name, as found or made in this run.
    zone_ids: Mutex<HashMap<String, String>>,
    /// Record listings by zone id.
    listings: Mutex<HashMap<String, CachedListing>>,
    /// The account's health checks.
    health_checks:
        tokio::sync::Mutex<Option<(Instant, Arc<Vec<aws_sdk_route53::types::HealthCheck>>)>>,
    /// Health check ids known to exist (made or read in this run).
    known_health_checks: Mutex<HashSet<String>>,
    batcher: Coalescer<RecordOp, Result<Option<fedstack_provider::Observed>, ProviderError>>,
}

impl Route53 {
    pub(crate) fn new(clients: Arc<Clients>, options: AwsOptions, stack: &str) -> Route53 {
        let batcher = Coalescer::new(options.batch_window, options.batch_max_wait);
        Route53 {
            clients,
            options,
            stack: stack.to_string(),
            zone_ids: Mutex::new(HashMap::new()),
            listings: Mutex::new(HashMap::new()),
            health_checks: tokio::sync::Mutex::new(None),
            known_health_checks: Mutex::new(HashSet::new()),
            batcher,
        }
    }

    /// The recognisable start of the `CallerReference` of what fedstack makes.
    fn caller_prefix(&self, kind: &str, name: &str) -> String {
        let digest = Sha256::digest(format!("{}/{kind}/{name}", self.stack).as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("fedstack-{hex}-")
    }

    fn caller_reference(&self, kind: &str, name: &str) -> String {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        format!("{}{ms}", self.caller_prefix(kind, name))
    }

    /// Waits until a change is INSYNC, reporting progress.
    async fn wait_insync(
        &self,
        change_id: &str,
        mut status: ChangeStatus,
        report: &(dyn Fn(&str) + Sync),
    ) -> Result<(), ProviderError> {
        let client = self.clients.route53().await?;
        let started = Instant::now();
        let short = change_id.trim_start_matches("/change/");
        while status != ChangeStatus::Insync {
            if started.elapsed() > self.options.wait_timeout {
                return Err(crate::errors::permanent(format!(
                    "change {short} is still {} after {:?}",
                    status.as_str(),
                    self.options.wait_timeout
                )));
            }
            report(&format!(
                "{}: waiting for INSYNC (change {short})",
                status.as_str()
            ));
            tokio::time::sleep(self.options.insync_poll_interval).await;
            let out = with_retries(&self.options.retry, || async {
                client
                    .get_change()
                    .id(change_id)
                    .send()
                    .await
                    .map_err(|e| classify("GetChange", e))
            })
            .await?;
            status = out
                .change_info()
                .map_or(ChangeStatus::Insync, |c| c.status().clone());
        }
        Ok(())
    }
}

/// The id without its `/hostedzone/` prefix.
pub(crate) fn bare_zone_id(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_string()
}
