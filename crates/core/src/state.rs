//! The recorded state: what fedstack created, as a versioned, documented value.
//!
//! Storage (journal, snapshots, locks) lives in `fedstack-state`; this module only
//! defines the data and how a journal entry changes it.
//!
//! Format (version 1), as JSON:
//! ```json
//! { "format_version": 1, "lineage": "uuid", "serial": 42, "stack": "multicloud",
//!   "resources": { "cluster.gke-sydney": { ...ResourceState } },
//!   "intents":   { "cluster.eks-saopaulo": { ...Intent } },
//!   "overrides": { "dns_record.app.example.com/blue": { "weight": { ...Override } } } }
//! ```
//! `overrides` is left out when empty (states written before it existed read the same).
//! Sensitive outputs are never stored: only `sha256:` fingerprints of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::address::Address;
use crate::value::Values;

pub const STATE_FORMAT_VERSION: u32 = 1;

/// One stack's recorded state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateSnapshot {
    pub format_version: u32,
    /// Identity of this state for its whole life; a plan or backup from another
    /// lineage is never applied to it.
    pub lineage: String,
    /// Bumped by every recorded change; a saved plan names the serial it was made at.
    pub serial: u64,
    pub stack: String,
    #[serde(default)]
    pub resources: BTreeMap<Address, ResourceState>,
    /// Creates and deletes that were started but whose result is not recorded yet.
    #[serde(default)]
    pub intents: BTreeMap<Address, Intent>,
    /// Attribute values set on live resources by operational commands (`fedstack shift`)
    /// that stand in for the stack's values; see [`Override`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<Address, BTreeMap<String, Override>>,
}

impl StateSnapshot {
    pub fn new(stack: &str, lineage: String) -> StateSnapshot {
        StateSnapshot {
            format_version: STATE_FORMAT_VERSION,
            lineage,
            serial: 0,
            stack: stack.to_string(),
            resources: BTreeMap::new(),
            intents: BTreeMap::new(),
            overrides: BTreeMap::new(),
        }
    }

    /// Applies one journal entry. Entries carry the serial they produce, so replaying
    /// a journal onto a snapshot that already contains some of it is harmless.
    pub fn apply(&mut self, entry: &JournalEntry) {
        if entry.serial <= self.serial {
            return;
        }
        self.serial = entry.serial;
        match &entry.change {
            StateChange::Put(r) => {
                self.intents.remove(&r.address);
                self.resources.insert(r.address.clone(), (**r).clone());
            }
            StateChange::Remove { address: a } => {
                self.intents.remove(a);
                self.resources.remove(a);
                self.overrides.remove(a);
            }
            StateChange::Intent(i) => {
                self.intents.insert(i.address.clone(), i.clone());
            }
            StateChange::ClearIntent { address: a } => {
                self.intents.remove(a);
            }
            StateChange::Override {
                address,
                attr,
                value,
            } => match value {
                Some(o) => {
                    self.overrides
                        .entry(address.clone())
                        .or_default()
                        .insert(attr.clone(), o.clone());
                }
                None => {
                    if let Some(m) = self.overrides.get_mut(address) {
                        m.remove(attr);
                        if m.is_empty() {
                            self.overrides.remove(address);
                        }
                    }
                }
            },
        }
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.intents.is_empty()
    }
}

/// One managed resource as last recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceState {
    pub address: Address,
    /// The stack's cloud (named provider configuration) it lives in; `None` for
    /// built-in resources such as `data` without a cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<String>,
    /// Its name in the cloud.
    pub cloud_name: String,
    /// Attribute values as applied.
    #[serde(default)]
    pub attrs: Values,
    /// Values the cloud computed (endpoint, id, ...). Never secrets.
    #[serde(default)]
    pub outputs: Values,
    /// Fingerprints (`sha256:...`) of sensitive outputs, to see rotation without storing them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sensitive: BTreeMap<String, String>,
    /// What it depended on when applied: destroy order for resources that left the stack.
    #[serde(default)]
    pub depends_on: Vec<Address>,
}

impl ResourceState {
    /// An output, or an attribute of the same name (`data.x.values` expose attributes).
    pub fn output(&self, name: &str) -> Option<&Value> {
        self.outputs.get(name).or_else(|| self.attrs.get(name))
    }
}

/// A value an operational command set on a live resource in place of the stack's
/// value, e.g. the weights `fedstack shift` moves step by step.
///
/// The stack stays the source of truth: the override stands in for the stack's value
/// only while the stack still says `base` (what it said when the override was set). The
/// planner then plans `value` instead, so a shifted record shows no drift. Once the
/// stack says anything else, the stack wins: the planner ignores the override and
/// `apply` drops it from the state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Override {
    /// The value the resource has in the cloud.
    pub value: Value,
    /// The stack's value it stands in for.
    pub base: Value,
    /// What set it, for people reading the state (`fedstack shift ... --to green`).
    #[serde(default)]
    pub by: String,
    /// Seconds since the Unix epoch.
    #[serde(default)]
    pub at: u64,
    /// Overrides set together (the weights of one shifted record) stand or fall
    /// together: once the stack changes one of their values, none applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// A create or delete that was started: written (durably) before the cloud call so a
/// crash can never leave a cloud resource nobody knows about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub address: Address,
    pub operation: IntentOperation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<String>,
    pub cloud_name: String,
    /// The attributes the create was started with.
    #[serde(default)]
    pub attrs: Values,
    #[serde(default)]
    pub depends_on: Vec<Address>,
    /// Seconds since the Unix epoch.
    pub started_at: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentOperation {
    Create,
    Delete,
}

/// One durable change to the state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub serial: u64,
    #[serde(flatten)]
    pub change: StateChange,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum StateChange {
    /// The resource exists with these values (created, updated or adopted).
    Put(Box<ResourceState>),
    /// The resource is gone (deleted, forgotten or `state rm`).
    Remove { address: Address },
    /// A create or delete is about to start.
    Intent(Intent),
    /// A started create turned out not to have happened.
    ClearIntent { address: Address },
    /// Sets (`Some`) or drops (`None`) the override of one attribute.
    Override {
        address: Address,
        attr: String,
        value: Option<Override>,
    },
}

impl StateChange {
    pub fn address(&self) -> &Address {
        match self {
            StateChange::Put(r) => &r.address,
            StateChange::Remove { address }
            | StateChange::ClearIntent { address }
            | StateChange::Override { address, .. } => address,
            StateChange::Intent(i) => &i.address,
        }
    }
}

/// `sha256:<hex>` of a secret, so the state can tell it changed without holding it.
pub fn fingerprint(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(secret.as_bytes());
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::ResourceKind;

    fn put(serial: u64, name: &str) -> JournalEntry {
        JournalEntry {
            serial,
            change: StateChange::Put(Box::new(ResourceState {
                address: Address::new(ResourceKind::Data, name),
                cloud: None,
                cloud_name: name.into(),
                attrs: Values::new(),
                outputs: Values::new(),
                sensitive: BTreeMap::new(),
                depends_on: vec![],
            })),
        }
    }

    #[test]
    fn replaying_old_entries_is_harmless() {
        let mut s = StateSnapshot::new("x", "l".into());
        s.apply(&put(1, "a"));
        s.apply(&JournalEntry {
            serial: 2,
            change: StateChange::Remove {
                address: Address::new(ResourceKind::Data, "a"),
            },
        });
        s.apply(&put(1, "a"));
        assert!(s.resources.is_empty());
        assert_eq!(s.serial, 2);
    }

    #[test]
    fn journal_entries_serialize_flat() {
        let json = serde_json::to_string(&put(3, "a")).expect("serializes");
        assert!(json.starts_with(r#"{"serial":3,"op":"put""#), "{json}");
        let back: JournalEntry = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, put(3, "a"));
    }

    #[test]
    fn overrides_apply_while_the_stack_says_base_and_go_with_the_resource() {
        let a = Address::new(ResourceKind::DnsRecord, "app.example.com/blue");
        let mut s = StateSnapshot::new("x", "l".into());
        s.apply(&put(1, "a"));
        s.apply(&JournalEntry {
            serial: 2,
            change: StateChange::Override {
                address: a.clone(),
                attr: "weight".into(),
                value: Some(Override {
                    value: Value::from(0),
                    base: Value::from(100),
                    by: "fedstack shift".into(),
                    at: 0,
                    group: None,
                }),
            },
        });
        assert_eq!(s.overrides[&a]["weight"].value, Value::from(0));
        let json = serde_json::to_string(&s).expect("serializes");
        assert!(
            json.contains(r#""overrides":{"dns_record.app.example.com/blue":{"weight":"#),
            "{json}"
        );
        let back: StateSnapshot = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, s);
        s.apply(&JournalEntry {
            serial: 3,
            change: StateChange::Remove { address: a.clone() },
        });
        assert!(s.overrides.is_empty());
        // A state without overrides does not mention them.
        assert!(!serde_json::to_string(&s)
            .expect("serializes")
            .contains("overrides"));
    }

    #[test]
    fn fingerprints_hide_the_secret() {
        let f = fingerprint("token-123");
        assert!(f.starts_with("sha256:"));
        assert!(!f.contains("token-123"));
        assert_eq!(f.len(), 7 + 64);
    }
}
