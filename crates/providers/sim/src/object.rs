//! One object of the world, its lazily computed status and its derived secrets.

use std::collections::BTreeMap;

use fedstack_core::address::{Address, ResourceKind};
use fedstack_core::value::Values;
use fedstack_provider::{Observed, ResourceStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Key of an object in the world: its kind and cloud name.
pub(crate) type Key = (ResourceKind, String);

/// Which real service an object imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Flavor {
    Gke,
    Eks,
    Aks,
    Route53,
    Sim,
}

impl Flavor {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Flavor::Gke => "gke",
            Flavor::Eks => "eks",
            Flavor::Aks => "aks",
            Flavor::Route53 => "route53",
            Flavor::Sim => "sim",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Flavor> {
        [
            Flavor::Gke,
            Flavor::Eks,
            Flavor::Aks,
            Flavor::Route53,
            Flavor::Sim,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }

    /// The product name, for messages.
    pub(crate) fn product(self) -> &'static str {
        match self {
            Flavor::Gke => "GKE",
            Flavor::Eks => "EKS",
            Flavor::Aks => "AKS",
            Flavor::Route53 => "Route 53",
            Flavor::Sim => "sim",
        }
    }

    /// The word the cloud shows for a state (GKE `RUNNING`, EKS `ACTIVE`, AKS `Succeeded`...).
    fn word(self, state: Word) -> &'static str {
        use Word::*;
        match (self, state) {
            (Flavor::Gke, Ready) => "RUNNING",
            (Flavor::Gke, Creating) => "PROVISIONING",
            (Flavor::Gke, Updating) => "RECONCILING",
            (Flavor::Gke, Deleting) => "STOPPING",
            (Flavor::Gke, Failed) => "ERROR",
            (Flavor::Aks, Ready) => "Succeeded",
            (Flavor::Aks, Creating) => "Creating",
            (Flavor::Aks, Updating) => "Updating",
            (Flavor::Aks, Deleting) => "Deleting",
            (Flavor::Aks, Failed) => "Failed",
            (_, Ready) => "ACTIVE",
            (_, Creating) => "CREATING",
            (_, Updating) => "UPDATING",
            (_, Deleting) => "DELETING",
            (_, Failed) => "FAILED",
        }
    }

    pub(crate) fn failed_word(self) -> &'static str {
        self.word(Word::Failed)
    }
}

#[derive(Clone, Copy)]
enum Word {
    Ready,
    Creating,
    Updating,
    Deleting,
    Failed,
}

/// What the object is waiting for while `ready_at` is in the future.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PendingOp {
    #[default]
    Create,
    Update,
}

/// Where an object is in its life, at a given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    Ready,
    Pending {
        op: PendingOp,
        until: u64,
    },
    Failed(String),
    Deleting {
        until: u64,
    },
    /// Deleted: `delete_at` has passed. Reads see nothing.
    Gone,
}

mod kind_serde {
    use fedstack_core::address::ResourceKind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(k: &ResourceKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(k.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ResourceKind, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ResourceKind::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown kind `{s}`")))
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One object of the world, as stored in `world.jsonl`. No secrets in here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SimObject {
    #[serde(with = "kind_serde")]
    pub kind: ResourceKind,
    pub name: String,
    pub account: String,
    pub flavor: Flavor,
    #[serde(default)]
    pub attrs: Values,
    #[serde(default)]
    pub outputs: Values,
    /// Unix milliseconds.
    pub created_at: u64,
    pub ready_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_at: Option<u64>,
    #[serde(default, skip_serializing_if = "is_default_op")]
    pub pending_op: PendingOp,
    /// Set by `sim set ADDR status=failed`: the message of the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// Bumped by every change of the attributes; cluster credentials derive from it.
    pub generation: u64,
    /// Bumped by `sim set federation_member.X token=rotate`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub token_generation: u64,
}

fn is_default_op(op: &PendingOp) -> bool {
    *op == PendingOp::Create
}

impl SimObject {
    pub(crate) fn key(&self) -> Key {
        (self.kind, self.name.clone())
    }

    pub(crate) fn address(&self) -> Address {
        Address::new(self.kind, self.name.clone())
    }

    pub(crate) fn phase(&self, now: u64) -> Phase {
        if let Some(until) = self.delete_at {
            return if now >= until {
                Phase::Gone
            } else {
                Phase::Deleting { until }
            };
        }
        if let Some(f) = &self.failed {
            return Phase::Failed(f.clone());
        }
        if now < self.ready_at {
            return Phase::Pending {
                op: self.pending_op,
                until: self.ready_at,
            };
        }
        Phase::Ready
    }

    /// Whether the object still exists at `now` (possibly pending, failed or deleting).
    pub(crate) fn exists(&self, now: u64) -> bool {
        self.phase(now) != Phase::Gone
    }

    pub(crate) fn status(&self, now: u64) -> Option<ResourceStatus> {
        Some(match self.phase(now) {
            Phase::Ready => ResourceStatus::Ready,
            Phase::Pending { op, .. } => ResourceStatus::Pending(self.pending_word(op).to_string()),
            Phase::Failed(m) => ResourceStatus::Failed(m),
            Phase::Deleting { .. } => ResourceStatus::Deleting,
            Phase::Gone => return None,
        })
    }

    /// The status word of a pending object: `PROVISIONING` while created, `RECONCILING`
    /// (GKE) or `UPDATING` while updated.
    pub(crate) fn pending_word(&self, op: PendingOp) -> &'static str {
        match (op, self.flavor) {
            (PendingOp::Create, _) => "PROVISIONING",
            (PendingOp::Update, Flavor::Gke) => "RECONCILING",
            (PendingOp::Update, _) => "UPDATING",
        }
    }

    /// The cloud's own word for the state (the `status` output of clusters and pools).
    pub(crate) fn cloud_status_word(&self, now: u64) -> &'static str {
        let w = match self.phase(now) {
            Phase::Ready => Word::Ready,
            Phase::Pending {
                op: PendingOp::Create,
                ..
            } => Word::Creating,
            Phase::Pending {
                op: PendingOp::Update,
                ..
            } => Word::Updating,
            Phase::Failed(_) => Word::Failed,
            Phase::Deleting { .. } | Phase::Gone => Word::Deleting,
        };
        self.flavor.word(w)
    }

    /// Secret outputs, derived from the world seed: never stored.
    pub(crate) fn secrets(&self, seed: &str) -> BTreeMap<String, String> {
        let mut s = BTreeMap::new();
        match self.kind {
            ResourceKind::Cluster => {
                s.insert(
                    "admin_token".to_string(),
                    derive_secret(seed, self.kind, &self.name, self.generation),
                );
            }
            ResourceKind::FederationMember => {
                s.insert(
                    "token".to_string(),
                    derive_secret(seed, self.kind, &self.name, self.token_generation),
                );
            }
            _ => {}
        }
        s
    }

    /// Outputs as read: the stored ones plus the live `status` of clusters and pools.
    pub(crate) fn live_outputs(&self, now: u64) -> Values {
        let mut outputs = self.outputs.clone();
        if matches!(self.kind, ResourceKind::Cluster | ResourceKind::NodePool) {
            outputs.insert(
                "status".to_string(),
                Value::String(self.cloud_status_word(now).to_string()),
            );
        }
        outputs
    }

    /// What a read returns; `None` once deleted.
    pub(crate) fn observe(&self, now: u64, seed: &str) -> Option<Observed> {
        let status = self.status(now)?;
        Some(Observed {
            attrs: self.attrs.clone(),
            outputs: self.live_outputs(now),
            secrets: self.secrets(seed),
            status,
        })
    }
}

/// `hex(sha256(seed, kind, name, generation))`.
pub(crate) fn derive_secret(seed: &str, kind: ResourceKind, name: &str, generation: u64) -> String {
    let mut h = Sha256::new();
    for part in [seed, kind.as_str(), name, &generation.to_string()] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    crate::naming::hex(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(kind: ResourceKind, flavor: Flavor) -> SimObject {
        SimObject {
            kind,
            name: "a".into(),
            account: "acct".into(),
            flavor,
            attrs: Values::new(),
            outputs: Values::new(),
            created_at: 100,
            ready_at: 200,
            delete_at: None,
            pending_op: PendingOp::Create,
            failed: None,
            generation: 1,
            token_generation: 0,
        }
    }

    #[test]
    fn phases_follow_the_timestamps() {
        let mut o = obj(ResourceKind::Cluster, Flavor::Eks);
        assert_eq!(
            o.status(150),
            Some(ResourceStatus::Pending("PROVISIONING".into()))
        );
        assert_eq!(o.cloud_status_word(150), "CREATING");
        assert_eq!(o.status(200), Some(ResourceStatus::Ready));
        assert_eq!(o.cloud_status_word(200), "ACTIVE");
        o.pending_op = PendingOp::Update;
        o.ready_at = 300;
        assert_eq!(
            o.status(250),
            Some(ResourceStatus::Pending("UPDATING".into()))
        );
        o.failed = Some("FAILED".into());
        assert_eq!(o.status(400), Some(ResourceStatus::Failed("FAILED".into())));
        o.delete_at = Some(500);
        assert_eq!(o.status(450), Some(ResourceStatus::Deleting));
        assert_eq!(o.status(500), None);
        assert!(!o.exists(500));

        let mut g = obj(ResourceKind::Cluster, Flavor::Gke);
        g.pending_op = PendingOp::Update;
        assert_eq!(
            g.status(150),
            Some(ResourceStatus::Pending("RECONCILING".into()))
        );
        assert_eq!(g.live_outputs(150)["status"], "RECONCILING");
        assert_eq!(g.live_outputs(250)["status"], "RUNNING");
    }

    #[test]
    fn secrets_rotate_with_generations() {
        let mut c = obj(ResourceKind::Cluster, Flavor::Gke);
        let a = c.secrets("seed")["admin_token"].clone();
        assert_eq!(a.len(), 64);
        assert_eq!(c.secrets("seed")["admin_token"], a, "deterministic");
        assert_ne!(c.secrets("other-seed")["admin_token"], a);
        c.generation += 1;
        assert_ne!(c.secrets("seed")["admin_token"], a);

        let mut m = obj(ResourceKind::FederationMember, Flavor::Gke);
        let t = m.secrets("seed")["token"].clone();
        m.token_generation += 1;
        assert_ne!(m.secrets("seed")["token"], t);
        assert!(obj(ResourceKind::DnsZone, Flavor::Route53)
            .secrets("seed")
            .is_empty());
    }

    #[test]
    fn serializes_without_defaults() {
        let o = obj(ResourceKind::NodePool, Flavor::Aks);
        let json = serde_json::to_string(&o).expect("serializes");
        assert!(
            json.starts_with(r#"{"kind":"node_pool","name":"a","account":"acct","flavor":"aks""#),
            "{json}"
        );
        assert!(
            !json.contains("delete_at") && !json.contains("token_generation"),
            "{json}"
        );
        let back: SimObject = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, o);
    }
}
