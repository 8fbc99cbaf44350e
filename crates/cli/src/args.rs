//! Command-line arguments (stage one: flags only, no syscalls).

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  fedstack plan -f stacks/multicloud-sim.yaml
  fedstack apply -f stacks/multicloud-sim.yaml --auto-approve
  fedstack apply -f stacks/multicloud-sim.yaml --target 'cluster.*' --auto-approve
  fedstack plan --out tonight.plan && fedstack apply tonight.plan
  fedstack destroy -f stacks/multicloud-sim.yaml --auto-approve
  fedstack state list
  fedstack sim set cluster.eks-saopaulo kubernetes_version=1.30   # drift, for demos";

/// Multi-cloud Kubernetes clusters, federation and global DNS from one stack file.
#[derive(Debug, Parser)]
#[command(name = "fedstack", version, after_help = EXAMPLES, propagate_version = true, args_override_self = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The stack file.
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        env = "FEDSTACK_FILE",
        default_value = "fedstack.yaml"
    )]
    pub file: PathBuf,
    /// Where states (and the simulated clouds) live.
    #[arg(
        long,
        global = true,
        env = "FEDSTACK_STATE_DIR",
        default_value = "state"
    )]
    pub state_dir: PathBuf,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// No colors (also when NO_COLOR is set or the output is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the stack file and report every problem with its location.
    Validate,
    /// Show what apply would change.
    Plan(PlanArgs),
    /// Make the clouds match the stack (or apply a saved plan).
    Apply(ApplyArgs),
    /// Delete everything the state knows, dependents first.
    Destroy(DestroyArgs),
    /// Print the resource graph in DOT.
    Graph,
    /// Read every resource back and record what the clouds have now.
    Refresh(LockArgs),
    /// Adopt an existing cloud resource into the state.
    Import(ImportArgs),
    /// Print the stack's outputs (`output kubeconfig`: a kubeconfig for its clusters).
    Output(OutputArgs),
    /// Join a cluster no stack manages to a kubefed host, as `kubefedctl join` does.
    Join(JoinArgs),
    /// Undo `fedstack join` (or `kubefedctl join`) of a cluster no stack manages.
    Unjoin(JoinArgs),
    /// Move a weighted record's traffic to one target step by step (blue/green).
    Shift(ShiftArgs),
    /// Show each workload on each cluster, read live: replicas, rollout, last error.
    Status(StatusArgs),
    /// Serve the promotion webhook: a signed request sets an image's tag and applies it.
    Serve(ServeArgs),
    /// Copy an image between registries now, as `skopeo copy` does (no stack, no state).
    Promote(Box<PromoteArgs>),
    /// Inspect or edit the state.
    #[command(subcommand)]
    State(StateCommand),
    /// Inspect or change the simulated clouds behind fedstack's back.
    #[command(subcommand)]
    Sim(SimCommand),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args, Clone, Default)]
pub struct Selection {
    /// Only this resource (pattern, `*` allowed) and what it depends on. Repeatable.
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Not this resource, nor what depends on it. Repeatable.
    #[arg(long = "exclude", value_name = "ADDR")]
    pub excludes: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct LockArgs {
    /// Wait this long for the state lock (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,
}

#[derive(Debug, Args, Clone)]
pub struct PlanOpts {
    #[command(flatten)]
    pub selection: Selection,
    /// Force these resources to be replaced. Repeatable.
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<String>,
    /// Read resources back from the clouds first (`--refresh=false` trusts the state).
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub refresh: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub opts: PlanOpts,
    /// Plan a destroy.
    #[arg(long)]
    pub destroy: bool,
    /// Save the plan for `fedstack apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `fedstack plan --out`.
    pub plan_file: Option<PathBuf>,
    #[command(flatten)]
    pub opts: PlanOpts,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Read resources back first (`--refresh=false` trusts the state).
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub refresh: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// At most this many cloud calls at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub parallelism: u32,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The address in the stack to import into.
    pub address: String,
    /// Its name in the cloud (default: the one fedstack would give it).
    pub cloud_name: Option<String>,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve the promotion webhook (POST /webhook).
    #[arg(long)]
    pub webhook: bool,
    /// Where to listen (`127.0.0.1:0`: any free port, printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    pub listen: String,
    /// The environment variable holding the shared secret (at least 16 characters).
    #[arg(long, value_name = "NAME", default_value = "FEDSTACK_WEBHOOK_SECRET")]
    pub secret_env: String,
    /// How old (or early) a signed request may be.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub max_age: std::time::Duration,
    /// At most this many cloud calls at once, per apply.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub parallelism: u32,
    /// Wait this long for the state lock (another apply may hold it).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this workload.
    pub workload: Option<String>,
    /// Read again every 2 seconds and redraw in place (Ctrl-C stops).
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Only this output.
    pub name: Option<String>,
    /// With `kubeconfig` (and no output of that name): only this cluster.
    pub cluster: Option<String>,
    /// Print a string output without quotes.
    #[arg(long)]
    pub raw: bool,
    /// With `kubeconfig`: write it to FILE (mode 0600) instead of stdout.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  fedstack join kind-b --host-kubeconfig host.yaml --member-kubeconfig b.yaml
  fedstack unjoin kind-b --host-kubeconfig host.yaml --member-kubeconfig b.yaml")]
pub struct JoinArgs {
    /// The member's name in the federation (its KubeFedCluster; ServiceAccount NAME-HOST).
    pub name: String,
    /// Kubeconfig of the host cluster.
    #[arg(long, value_name = "FILE")]
    pub host_kubeconfig: PathBuf,
    /// Context of the host kubeconfig (default: its current context).
    #[arg(long, value_name = "CONTEXT")]
    pub host_context: Option<String>,
    /// The host's name in object names (default: the host context's name, as kubefedctl).
    #[arg(long, value_name = "NAME")]
    pub host_name: Option<String>,
    /// Kubeconfig of the member cluster.
    #[arg(long, value_name = "FILE")]
    pub member_kubeconfig: PathBuf,
    /// Context of the member kubeconfig (default: its current context).
    #[arg(long, value_name = "CONTEXT")]
    pub member_context: Option<String>,
    /// The federation namespace.
    #[arg(
        long,
        value_name = "NAMESPACE",
        default_value = "kube-federation-system"
    )]
    pub namespace: String,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  fedstack shift shop --to green --dry-run
  fedstack shift shop.fedstack.example.com --to aks-toronto --step 10 --interval 30s

Weights go from what the record has now to all traffic on the target, `--step`
percentage points at a time; between steps fedstack waits `--interval` and checks
the target's health check, and rolls back to the starting weights when it fails.
The shifted weights are recorded in the state: plan shows no drift until the
stack's weights change.")]
pub struct ShiftArgs {
    /// The weighted record: its name in the stack (`shop`), its FQDN, or its address.
    pub record: String,
    /// The target that gets all the traffic: a set id of the record or a cluster name.
    #[arg(long, value_name = "CLUSTER_OR_SETID")]
    pub to: String,
    /// Percentage points of traffic moved per step (1-100).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub step: u32,
    /// Wait between steps (and before checking the target's health again).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub interval: std::time::Duration,
    /// Print the steps; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List recorded addresses (optionally matching a pattern).
    List { pattern: Option<String> },
    /// Show one recorded resource.
    Show { address: String },
    /// Forget resources without deleting them in the cloud.
    Rm {
        #[arg(required = true)]
        addresses: Vec<String>,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Remove a lock left by a process that is gone.
    Unlock { id: String },
    /// Print the recorded state (the snapshot with the journal replayed) as JSON.
    Pull,
    /// Copy the state, lineage and serial included, to another backend (the current
    /// one is left as it is). Then point the stack's `state:` section at it.
    Migrate(MigrateArgs),
}

/// Where `state migrate` copies to.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The backend to copy to.
    #[arg(long, value_enum)]
    pub to_backend: BackendKind,
    /// local: the state directory to copy to (default: --state-dir).
    #[arg(long, value_name = "DIR")]
    pub to_state_dir: Option<std::path::PathBuf>,
    /// s3: the bucket (it must exist, with versioning enabled).
    #[arg(long)]
    pub bucket: Option<String>,
    /// s3: objects go under <KEY_PREFIX><stack>/.
    #[arg(long, default_value = "")]
    pub key_prefix: String,
    /// s3: the bucket's region (default: the usual AWS chain).
    #[arg(long)]
    pub region: Option<String>,
    /// s3: an S3-compatible endpoint.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// s3: the AWS shared-config profile.
    #[arg(long)]
    pub profile: Option<String>,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    Local,
    S3,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// List every object in the simulated clouds.
    List,
    /// Delete an object at once, behind fedstack's back.
    Delete { address: String },
    /// Change an attribute behind fedstack's back (`status=failed`, `healthy=false`, ...).
    Set {
        address: String,
        #[arg(value_name = "KEY=VALUE")]
        assignment: String,
    },
}

pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(n));
    }
    humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration like 30s or 2m: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn refresh_flag_takes_an_optional_value() {
        let cli = Cli::try_parse_from(["fedstack", "plan", "--refresh=false"]).expect("parses");
        let Command::Plan(p) = cli.command else {
            panic!("plan")
        };
        assert!(!p.opts.refresh);
        let cli = Cli::try_parse_from(["fedstack", "plan"]).expect("parses");
        let Command::Plan(p) = cli.command else {
            panic!("plan")
        };
        assert!(p.opts.refresh);
    }
}

/// `fedstack promote SRC DST`. Credentials are named by env var (or a docker config),
/// never given on the command line, where `ps` and shell history would show them.
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The image to copy: `[http://]HOST/REPOSITORY:TAG` or `...@sha256:<hex>`
    /// (`http://`: plain http, as `--src-insecure`).
    pub source: String,
    /// Where to copy it: `[http://]HOST/REPOSITORY:TAG` (or `@sha256:` to push by digest).
    pub destination: String,
    /// Every platform of a multi-platform index (the default): digests stay identical.
    #[arg(long, conflicts_with = "platforms")]
    pub all: bool,
    /// Only this platform of an index; repeatable (a new index of those is pushed).
    #[arg(long = "platform", value_name = "OS/ARCH[/VARIANT]")]
    pub platforms: Vec<String>,
    #[command(flatten)]
    pub src: PromoteSourceCreds,
    #[command(flatten)]
    pub dest: PromoteDestCreds,
}

#[derive(Debug, Args, Default)]
pub struct PromoteSourceCreds {
    /// Basic credentials of the source from two env vars.
    #[arg(long, value_name = "USER_ENV:PASS_ENV")]
    pub src_creds_env: Option<String>,
    /// The source's user name from this env var (with --src-password-env).
    #[arg(long, value_name = "ENV", requires = "src_password_env")]
    pub src_username_env: Option<String>,
    /// The source's password from this env var (with --src-username-env).
    #[arg(long, value_name = "ENV", requires = "src_username_env")]
    pub src_password_env: Option<String>,
    /// A bearer token for the source from this env var.
    #[arg(long, value_name = "ENV")]
    pub src_token_env: Option<String>,
    /// The source's `auths` entry of this docker config.
    #[arg(long, value_name = "PATH")]
    pub src_docker_config: Option<String>,
    /// Plain http to the source.
    #[arg(long)]
    pub src_insecure: bool,
    /// PEM certificates to trust for the source, besides the system roots.
    #[arg(long, value_name = "PATH")]
    pub src_ca_file: Option<String>,
}

#[derive(Debug, Args, Default)]
pub struct PromoteDestCreds {
    /// Basic credentials of the destination from two env vars.
    #[arg(long, value_name = "USER_ENV:PASS_ENV")]
    pub dest_creds_env: Option<String>,
    /// The destination's user name from this env var (with --dest-password-env).
    #[arg(long, value_name = "ENV", requires = "dest_password_env")]
    pub dest_username_env: Option<String>,
    /// The destination's password from this env var (with --dest-username-env).
    #[arg(long, value_name = "ENV", requires = "dest_username_env")]
    pub dest_password_env: Option<String>,
    /// A bearer token for the destination from this env var.
    #[arg(long, value_name = "ENV")]
    pub dest_token_env: Option<String>,
    /// The destination's `auths` entry of this docker config.
    #[arg(long, value_name = "PATH")]
    pub dest_docker_config: Option<String>,
    /// Plain http to the destination.
    #[arg(long)]
    pub dest_insecure: bool,
    /// PEM certificates to trust for the destination, besides the system roots.
    #[arg(long, value_name = "PATH")]
    pub dest_ca_file: Option<String>,
}
