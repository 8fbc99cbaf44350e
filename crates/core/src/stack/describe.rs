//! How a provider describes its cloud to the stack loader.
//!
//! The loader knows no cloud. Each provider hands it a [`CloudDescription`]: the
//! settings of its `clouds:` entries, the fields only its clusters and node pools
//! have (types, allowed values, defaults), the attributes whose change replaces, the
//! extra resources a cluster lowers to (EKS: `network.*`, `iam_role.*`). Everything
//! here is pure: no I/O, no async, no clock.
//!
//! Descriptions report problems through the same [`Cx`] as the loader, with the
//! located YAML ([`Obj`], [`Node`]), so their errors carry file:line:column, "did you
//! mean" and a hint exactly like the loader's own.

use crate::address::{Address, ResourceKind};
use crate::value::{Attrs, Values};

pub use super::cx::{as_int, as_str, clip, found, one_of, Cx, Obj, Sp};
pub use super::names::{aws_region_ok, ipv4_ok, version_ok, DURATION_HINT, VERSION_HINT};
pub use super::yaml::{Node, Scalar};
pub use super::Span;

/// The type of a setting of a `clouds:` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    /// Any string.
    Str,
    /// A Kubernetes version, `MAJOR.MINOR[.PATCH]`.
    Version,
    /// The name of a cloud the sim can emulate (a description with [`CloudDescription::emulated`]).
    Emulates,
    /// A duration, or a mapping of `create`/`read`/`update`/`delete` durations; stored
    /// in milliseconds.
    Latency,
    /// How many calls run at once against this cloud (1-100000).
    MaxParallel,
    /// A mapping of `create`/`update`/`delete` durations: how long an operation may
    /// run before fedstack stops waiting; stored in milliseconds.
    Timeouts,
}

/// A setting of a `clouds:` entry.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub name: &'static str,
    pub kind: SettingKind,
    pub required: bool,
}

impl Setting {
    pub const fn optional(name: &'static str, kind: SettingKind) -> Setting {
        Setting {
            name,
            kind,
            required: false,
        }
    }
    pub const fn required(name: &'static str, kind: SettingKind) -> Setting {
        Setting {
            name,
            kind,
            required: true,
        }
    }
}

/// The type of a cloud-specific field of a cluster or node pool. The loader reads
/// every kind but [`FieldKind::Custom`] itself and stores the value (or the default)
/// under the field's name.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    /// A non-empty string; absent is null.
    Str,
    /// One of `allowed`; absent is `default` (null when none).
    Enum {
        allowed: &'static [&'static str],
        default: Option<&'static str>,
    },
    /// A list of values from `allowed`, each once; absent is `[]`. `noun` names one
    /// value in messages ("log type").
    EnumList {
        allowed: &'static [&'static str],
        noun: &'static str,
    },
    /// An IPv4 address; absent is null. `why` is the hint when it is not one.
    Ipv4 { why: &'static str },
    /// An integer in `min..=max`; absent is `default` (null when none).
    Int {
        min: i64,
        max: i64,
        default: Option<i64>,
    },
    /// Read by the description's [`CloudDescription::lower_cluster`] (a union such as
    /// EKS `network: create | {cidr} | {subnet_ids}`).
    Custom,
}

/// A field that only this cloud's clusters (or node pools) have.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: FieldKind,
}

/// What the loader already read of a cluster, for [`CloudDescription::lower_cluster`].
pub struct ClusterInput<'a, 'n> {
    /// The cluster's name (the key under `clusters:`).
    pub name: &'a str,
    /// "cluster `name`", for messages.
    pub what: &'a str,
    /// The cluster's mapping, for [`FieldKind::Custom`] fields.
    pub obj: &'a Obj<'n>,
    /// Where the cluster is declared (its key).
    pub at: Span,
    /// `region`, when it is a string.
    pub region: Option<&'a Sp<String>>,
    /// `kubernetes_version`, when it is a valid version.
    pub version: Option<&'a Sp<String>>,
    /// Whether the cluster declares node pools.
    pub has_pools: bool,
    /// The typed fields the loader read (every [`Field`] that is not custom).
    pub fields: &'a Values,
}

impl ClusterInput<'_, '_> {
    /// Where `field` is written, or the cluster's key when it is absent.
    pub fn span_of(&self, field: &str) -> Span {
        self.obj.raw(field).map_or(self.at, |(k, _)| k.span)
    }
}

/// A resource a cluster lowers to besides itself and its pools (on the cluster's cloud).
pub struct ExtraResource {
    pub address: Address,
    pub attrs: Attrs,
    /// Where the field that asked for it is written.
    pub span: Span,
}

/// What a cloud adds to a cluster and its node pools.
#[derive(Default)]
pub struct ClusterLowering {
    /// Attributes of the cluster, besides the typed fields.
    pub cluster_attrs: Attrs,
    /// Attributes every node pool of the cluster gets.
    pub pool_attrs: Attrs,
    /// Resources the cluster needs (made before it: the cluster refers to them).
    pub resources: Vec<ExtraResource>,
    /// DNS cannot point at this cluster by `cluster:` (it has no ingress address).
    pub no_ingress_address: bool,
}

/// The cloud of federation resources joined by the built-in Kubernetes provider (a
/// reserved name: no `clouds:` entry may take it).
pub const KUBERNETES_CLOUD: &str = "kubernetes";

/// The cloud of `image.*` resources, copied between the stack's `registries` by the
/// built-in registry provider (a reserved name like [`KUBERNETES_CLOUD`]).
pub const REGISTRY_CLOUD: &str = "registry";

/// A provider's description of its cloud. One static value per provider, registered
/// with the loader through [`Clouds`].
pub trait CloudDescription: Sync {
    /// The `provider:` value of its clouds, e.g. `aws`.
    fn provider(&self) -> &'static str;

    /// The `flavor` attribute of its clusters (`eks`); `None` for the sim, whose
    /// clusters take the flavor of the cloud it emulates.
    fn flavor(&self) -> Option<&'static str>;

    /// Whether a sim cloud can emulate it (`emulates: aws`).
    fn emulated(&self) -> bool {
        false
    }

    /// Whether `region` is spelled like one of this cloud's (for sim clouds without
    /// `emulates`, which take the flavor their region suggests).
    fn claims_region(&self, _region: &str) -> bool {
        false
    }

    /// The settings of its `clouds:` entries (besides `provider`).
    fn settings(&self) -> &'static [Setting];

    /// Fields only its clusters have.
    fn cluster_fields(&self) -> &'static [Field] {
        &[]
    }

    /// Fields only its node pools have.
    fn pool_fields(&self) -> &'static [Field] {
        &[]
    }

    /// Attributes of `kind` (besides the core's own list) whose change replaces the
    /// object: what this cloud cannot change on a live one.
    fn replace_on(&self, _kind: ResourceKind) -> &'static [&'static str] {
        &[]
    }

    /// Whether this cloud's provider runs federations of its own clusters itself (sim:
    /// simulated joins; local: its control planes, started when down). Otherwise the
    /// built-in Kubernetes provider ([`KUBERNETES_CLOUD`]) joins them through
    /// `cluster_access`.
    fn runs_federation(&self) -> bool {
        false
    }

    /// Attributes every federation member gets when this cloud runs its federation.
    fn member_attrs(&self) -> Attrs {
        Attrs::new()
    }

    /// Checks `kubernetes_version` of a cluster (already `MAJOR.MINOR[.PATCH]`).
    fn check_version(&self, _cx: &mut Cx, _version: &Sp<String>, _what: &str) {}

    /// Reads the custom fields of a cluster and says what it lowers to.
    fn lower_cluster(&self, _cx: &mut Cx, _cluster: &ClusterInput) -> ClusterLowering {
        ClusterLowering::default()
    }

    /// The rules this cloud's API applies to clusters and node pools, for a sim that
    /// emulates it; `None` for clouds that are not emulated.
    fn api_rules(&self) -> Option<&'static dyn ApiRules> {
        None
    }
}

/// What a cloud's API accepts as a cluster's or node pool's name, region, machine
/// type and labels: its documented rules, so that a sim cloud that emulates it
/// refuses what the real one would (one line each, naming the product).
pub trait ApiRules: Sync {
    /// The product name in messages: `GKE`.
    fn product(&self) -> &'static str;
    /// The regions it has (for the sim's world, and "did you mean").
    fn regions(&self) -> &'static [&'static str];
    /// A cluster's location: by default one of [`ApiRules::regions`].
    fn check_region(&self, region: &str) -> Result<(), String> {
        if self.regions().contains(&region) {
            return Ok(());
        }
        Err(format!(
            "region `{region}` is not a known {} region{}",
            self.product(),
            did_you_mean(region, self.regions())
        ))
    }
    fn check_cluster_name(&self, name: &str) -> Result<(), String>;
    fn check_pool_name(&self, name: &str) -> Result<(), String>;
    fn check_machine_type(&self, machine_type: &str) -> Result<(), String>;
    /// Labels (tags) of a cluster or pool, already known to be strings.
    fn check_labels(&self, labels: &[(&str, &str)]) -> Result<(), String>;
}

/// ` (did you mean `x`?)` when a known word is within 3 edits of `word`, else "".
pub fn did_you_mean(word: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Tags as AWS and Azure take them: keys 1-128, values up to 256 characters.
pub fn check_tags(product: &str, labels: &[(&str, &str)]) -> Result<(), String> {
    for (k, v) in labels {
        if k.is_empty() || k.len() > 128 || v.len() > 256 {
            return Err(format!(
                "tag `{k}` is too long for {product}: keys 1-128, values up to 256 characters"
            ));
        }
    }
    Ok(())
}

/// A lowercase ASCII letter or a digit.
pub fn lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// A decimal number without leading zeros, at most `max`: `4`, `16`, not `04`.
pub fn small_number(s: &str, max: u32) -> bool {
    !s.is_empty()
        && !s.starts_with('0')
        && s.bytes().all(|b| b.is_ascii_digit())
        && s.parse::<u32>().is_ok_and(|n| n <= max)
}

/// The descriptions the loader knows, in registration order.
#[derive(Clone, Copy)]
pub struct Clouds {
    all: &'static [&'static dyn CloudDescription],
}

impl Clouds {
    pub const fn new(all: &'static [&'static dyn CloudDescription]) -> Clouds {
        Clouds { all }
    }

    pub fn get(&self, provider: &str) -> Option<&'static dyn CloudDescription> {
        self.all.iter().copied().find(|d| d.provider() == provider)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + Clone + '_ {
        self.all.iter().map(|d| d.provider())
    }

    /// The clouds a sim can emulate.
    pub fn emulated(&self) -> impl Iterator<Item = &'static dyn CloudDescription> + Clone + '_ {
        self.all.iter().copied().filter(|d| d.emulated())
    }

    /// The emulated cloud whose region spelling `region` has (the last one when none
    /// claims it, so that a sim cluster always has a flavor).
    pub fn for_region(&self, region: &str) -> Option<&'static dyn CloudDescription> {
        self.emulated()
            .find(|d| d.claims_region(region))
            .or_else(|| self.emulated().last())
    }
}
