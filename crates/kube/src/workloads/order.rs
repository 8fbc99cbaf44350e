//! The order objects are applied in, and deleted in (the reverse):
//!
//! 1. CustomResourceDefinitions
//! 2. Namespaces
//! 3. cluster-scoped RBAC (ClusterRole, ClusterRoleBinding)
//! 4. other cluster-scoped built-in objects (PriorityClass, StorageClass, ...)
//! 5. ServiceAccounts
//! 6. Roles and RoleBindings
//! 7. ConfigMaps and Secrets
//! 8. Services
//! 9. workloads (Deployment, StatefulSet, DaemonSet, Job, CronJob) and every other
//!    built-in kind
//! 10. custom resources (kinds outside Kubernetes' own API groups), after their CRD is
//!     established
//!
//! Within a step, objects keep the manifests' order (deletion: the reverse of it).

use super::kinds::{builtin_namespaced, is_builtin_group, is_crd, RBAC_GROUP};
use super::manifests::{Manifest, ObjectScope};
use super::object::{InventoryEntry, ObjectRef};

/// The step of an object (lower first). `cluster_scoped`: what is known of its scope.
pub fn rank(object: &ObjectRef, cluster_scoped: Option<bool>) -> u8 {
    let (g, k) = (object.group.as_str(), object.kind.as_str());
    if is_crd(g, k) {
        return 0;
    }
    if !is_builtin_group(g) {
        return 9;
    }
    match (g, k) {
        ("", "Namespace") => 1,
        (RBAC_GROUP, "ClusterRole" | "ClusterRoleBinding") => 2,
        ("", "ServiceAccount") => 4,
        (RBAC_GROUP, "Role" | "RoleBinding") => 5,
        ("", "ConfigMap" | "Secret") => 6,
        ("", "Service") => 7,
        _ => {
            let cluster = cluster_scoped.or(builtin_namespaced(g, k).map(|n| !n));
            if cluster == Some(true) {
                3
            } else {
                8
            }
        }
    }
}

fn manifest_rank(m: &Manifest) -> u8 {
    let cluster = match m.scope {
        ObjectScope::Cluster => Some(true),
        ObjectScope::Namespaced => Some(false),
        ObjectScope::Unknown => None,
    };
    rank(&m.object, cluster)
}

/// The manifests in apply order.
pub fn apply_order(objects: &[Manifest]) -> Vec<&Manifest> {
    let mut sorted: Vec<&Manifest> = objects.iter().collect();
    sorted.sort_by_key(|m| manifest_rank(m));
    sorted
}

/// Inventory entries in delete order: the reverse of apply order (custom resources
/// first, CRDs last), later-applied entries of a step first.
pub fn delete_order(entries: &[InventoryEntry]) -> Vec<&InventoryEntry> {
    let mut sorted: Vec<(usize, &InventoryEntry)> = entries.iter().enumerate().collect();
    sorted.sort_by_key(|(i, e)| {
        (
            std::cmp::Reverse(rank(&e.object, Some(e.object.namespace.is_none()))),
            std::cmp::Reverse(*i),
        )
    });
    sorted.into_iter().map(|(_, e)| e).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::manifests::manifests_from_str;

    const ALL: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: v1
kind: Service
metadata: {name: web}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cr}
---
apiVersion: v1
kind: Namespace
metadata: {name: guestbook}
---
apiVersion: batch/v1
kind: Job
metadata: {name: j}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec: {group: example.com, scope: Namespaced, names: {kind: Widget, plural: widgets}}
";

    fn kinds(ms: &[&Manifest]) -> Vec<String> {
        ms.iter()
            .map(|m| format!("{}/{}", m.object.kind, m.object.name))
            .collect()
    }

    #[test]
    fn apply_order_is_by_step_then_manifest_order() {
        let set = manifests_from_str("a.yaml", ALL, "guestbook").expect("valid");
        let order = apply_order(&set.objects);
        assert_eq!(
            kinds(&order),
            [
                "CustomResourceDefinition/widgets.example.com",
                "Namespace/guestbook",
                "ClusterRoleBinding/crb",
                "ClusterRole/cr",
                "PriorityClass/high",
                "ServiceAccount/sa",
                "RoleBinding/rb",
                "Role/r",
                "Secret/s",
                "ConfigMap/c",
                "Service/web",
                "Deployment/web",
                "Job/j",
                "Widget/w",
            ]
        );
    }

    #[test]
    fn delete_order_is_the_reverse() {
        let set = manifests_from_str("a.yaml", ALL, "guestbook").expect("valid");
        let inventory: Vec<InventoryEntry> = apply_order(&set.objects)
            .into_iter()
            .map(|m| InventoryEntry {
                object: m.object.clone(),
                uid: String::new(),
            })
            .collect();
        let mut want: Vec<String> = inventory
            .iter()
            .map(|e| format!("{}/{}", e.object.kind, e.object.name))
            .collect();
        want.reverse();
        let got: Vec<String> = delete_order(&inventory)
            .iter()
            .map(|e| format!("{}/{}", e.object.kind, e.object.name))
            .collect();
        assert_eq!(got, want);
        // Entries recorded in any order still come out right: custom resources first.
        let mut shuffled = inventory.clone();
        shuffled.reverse();
        let got = delete_order(&shuffled);
        assert_eq!(got[0].object.kind, "Widget");
        assert_eq!(got[got.len() - 1].object.kind, "CustomResourceDefinition");
    }
}
