//! Kinds to API resources through the cluster's discovery, one request per API
//! group/version, cached for the duration of an operation.

use std::collections::HashMap;

use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::GroupVersion;
use kube::discovery::{self, ApiCapabilities, Scope};

use super::errors::{Result, WorkloadError};
use super::object::ObjectRef;
use crate::federation::Cluster;

/// A served kind: its resource and whether it is namespaced.
#[derive(Debug, Clone)]
pub(crate) struct Served {
    pub resource: ApiResource,
    pub namespaced: bool,
}

impl Served {
    /// The API for `object` (its namespace when namespaced).
    pub fn api(&self, cluster: &Cluster, namespace: Option<&str>) -> Api<DynamicObject> {
        match (self.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(cluster.client.clone(), ns, &self.resource),
            _ => Api::all_with(cluster.client.clone(), &self.resource),
        }
    }
}

/// A discovery cache for one cluster.
pub(crate) struct Resolver<'a> {
    pub cluster: &'a Cluster,
    cache: HashMap<String, Vec<(ApiResource, ApiCapabilities)>>,
}

impl<'a> Resolver<'a> {
    pub fn new(cluster: &'a Cluster) -> Resolver<'a> {
        Resolver {
            cluster,
            cache: HashMap::new(),
        }
    }

    /// Forgets what is known of `group` (a CRD of it was just applied).
    pub fn forget(&mut self, group: &str) {
        self.cache.retain(|gv, _| {
            gv.split_once('/')
                .map_or(!group.is_empty(), |(g, _)| g != group)
        });
    }

    /// The resource of `object`'s kind, `None` when the cluster does not serve it.
    pub async fn resolve(&mut self, object: &ObjectRef) -> Result<Option<Served>> {
        let gv = object.api_version();
        if !self.cache.contains_key(&gv) {
            let resources = self.query(object).await?;
            self.cache.insert(gv.clone(), resources);
        }
        Ok(self.cache.get(&gv).and_then(|rs| {
            rs.iter()
                .find(|(ar, _)| ar.kind == object.kind)
                .map(|(ar, caps)| Served {
                    resource: ar.clone(),
                    namespaced: caps.scope == Scope::Namespaced,
                })
        }))
    }

    /// Like [`Resolver::resolve`], but a kind the cluster does not serve is an error.
    pub async fn require(&mut self, object: &ObjectRef) -> Result<Served> {
        self.resolve(object).await?.ok_or_else(|| {
            WorkloadError::Invalid(format!(
                "{object}: cluster {} serves no kind {} in {} (hint: is its CustomResourceDefinition installed, and the apiVersion right?)",
                self.cluster.name,
                object.kind,
                object.api_version()
            ))
        })
    }

    async fn query(&self, object: &ObjectRef) -> Result<Vec<(ApiResource, ApiCapabilities)>> {
        let gv = GroupVersion::gv(&object.group, &object.version);
        match discovery::pinned_group(&self.cluster.client, &gv).await {
            Ok(g) => Ok(g.versioned_resources(&object.version)),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(Vec::new()),
            Err(e) => Err(WorkloadError::from_kube(
                &self.cluster.name,
                format!(
                    "discover {} in cluster {}",
                    gv.api_version(),
                    self.cluster.name
                ),
                e,
            )),
        }
    }
}
