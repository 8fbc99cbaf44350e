//! What a refresh found in the clouds, handed to the planner as a value.

use std::collections::BTreeMap;

use crate::address::Address;
use crate::value::Values;

/// One resource as read back from its cloud.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// It does not exist (deleted outside fedstack, or a create never happened).
    Absent,
    Present(ObservedResource),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedResource {
    pub attrs: Values,
    pub outputs: Values,
    /// Fingerprints of secret outputs (never the secrets).
    pub sensitive: BTreeMap<String, String>,
    pub condition: Condition,
}

/// Whether the object is usable as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Ready,
    /// Half-made or mid-change (after a crash): wait for it.
    Pending(String),
    /// Being deleted: it will be gone.
    Deleting,
    /// The cloud gave up on it: replace it.
    Failed(String),
}

/// Observations by address. An address missing from the map was not read
/// (`--refresh=false`): the recorded state stands for it.
pub type Observations = BTreeMap<Address, Observation>;
