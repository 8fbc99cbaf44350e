//! What the stack file says about `provider: local` clouds: real control planes on
//! this machine.

use fedstack_core::stack::describe::{
    CloudDescription, ClusterInput, ClusterLowering, Cx, Setting, SettingKind,
};
use fedstack_core::value::{Attrs, Expr};

/// The description of local clouds, registered with the loader.
pub static LOCAL: Local = Local;

/// `provider: local`: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
/// kwok processes; node pools are kwok nodes.
pub struct Local;

const SETTINGS: &[Setting] = &[
    Setting::optional("bin_dir", SettingKind::Str),
    Setting::optional("kubernetes_version", SettingKind::Version),
    Setting::optional("max_parallel", SettingKind::MaxParallel),
];

impl CloudDescription for Local {
    fn provider(&self) -> &'static str {
        "local"
    }

    fn runs_federation(&self) -> bool {
        true
    }

    fn flavor(&self) -> Option<&'static str> {
        Some("local")
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn lower_cluster(&self, _cx: &mut Cx, _cluster: &ClusterInput) -> ClusterLowering {
        let mut lowering = ClusterLowering::default();
        // A local control plane can be down: its provider then reads `running: false`.
        lowering
            .cluster_attrs
            .insert("running".into(), Expr::lit(true));
        lowering
    }

    fn member_attrs(&self) -> Attrs {
        let mut attrs = Attrs::new();
        // The local provider reads what is wrong with a join here (`in sync` when nothing).
        attrs.insert("credentials".into(), Expr::lit("in sync"));
        attrs
    }
}
