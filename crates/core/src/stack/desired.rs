//! The validated stack, lowered to the resources it wants to exist.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Span, StateSection};
use crate::address::Address;
use crate::value::{Attrs, Expr, Values};

/// A named provider configuration from `clouds:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudConfig {
    pub name: String,
    /// The `provider:` value (a registered [`super::describe::CloudDescription`]).
    pub provider: String,
    /// Provider-specific settings, already checked against the provider's known fields.
    pub settings: Values,
    pub span: Span,
}

/// One resource the stack wants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesiredResource {
    pub address: Address,
    /// The cloud (key of `clouds:`) whose provider manages it; `None` for built-in `data`.
    pub cloud: Option<String>,
    pub attrs: Attrs,
    /// Everything it must wait for: references plus explicit `depends_on`, sorted, unique.
    pub depends_on: Vec<Address>,
    /// Where it is declared.
    pub span: Span,
    /// Attributes whose change replaces it on its cloud, besides the core's list for
    /// its kind (`crate::schema`): from the cloud's description.
    #[serde(skip)]
    pub replace_on: &'static [&'static str],
}

/// An entry of `outputs:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputDef {
    pub value: Expr,
    pub sensitive: bool,
    pub span: Span,
}

/// A loaded, validated stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesiredStack {
    pub name: String,
    /// The file it came from, as given (for messages).
    pub file: String,
    /// Where the state lives (`state:`; local when the section is absent).
    #[serde(default)]
    pub state: StateSection,
    pub clouds: BTreeMap<String, CloudConfig>,
    /// In declaration order; addresses are unique.
    pub resources: Vec<DesiredResource>,
    pub outputs: BTreeMap<String, OutputDef>,
}
