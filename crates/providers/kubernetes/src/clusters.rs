//! Where each cluster of the stack is: its cloud's provider and its recorded (or
//! desired) spec, enough for that provider's `cluster_access`.

use std::collections::BTreeMap;

use fedstack_provider::{ResourceSpec, SharedProvider};

/// One cluster: the provider of its cloud and the spec to ask it with.
#[derive(Clone)]
pub struct ClusterEntry {
    pub provider: SharedProvider,
    pub spec: ResourceSpec,
}

/// The clusters a federation may touch, by cluster name (the stack's and the state's).
#[derive(Clone, Default)]
pub struct ClusterDirectory {
    entries: BTreeMap<String, ClusterEntry>,
}

impl ClusterDirectory {
    pub fn new() -> ClusterDirectory {
        ClusterDirectory::default()
    }

    /// Adds cluster `name`, unless it is there already (callers add the recorded spec,
    /// which has every attribute resolved, before the desired one).
    pub fn add(&mut self, name: &str, provider: SharedProvider, spec: ResourceSpec) {
        self.entries
            .entry(name.to_string())
            .or_insert(ClusterEntry { provider, spec });
    }

    pub fn get(&self, name: &str) -> Option<&ClusterEntry> {
        self.entries.get(name)
    }
}
