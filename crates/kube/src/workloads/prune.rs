//! Pruning: objects of the previous inventory that the new one no longer has are
//! deleted (reverse apply order, foreground propagation, waiting until each is gone),
//! exactly as [`delete_inventory`](super::delete::delete_inventory) does.

use std::time::Duration;

use fedstack_provider::Progress;

use super::delete::delete_one;
use super::discovery::Resolver;
use super::errors::Result;
use super::object::{Inventory, InventoryEntry};
use super::order::delete_order;
use crate::federation::Cluster;

/// The entries of `previous` that `current` does not have (the same object read through
/// another version counts as kept).
pub fn stale(previous: &[InventoryEntry], current: &[InventoryEntry]) -> Inventory {
    previous
        .iter()
        .filter(|p| !current.iter().any(|c| c.object.same_object(&p.object)))
        .cloned()
        .collect()
}

/// Deletes the [`stale`] objects from `cluster`; returns them (in the order deleted).
pub async fn prune(
    cluster: &Cluster,
    previous: &[InventoryEntry],
    current: &[InventoryEntry],
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<Inventory> {
    let gone = stale(previous, current);
    let mut resolver = Resolver::new(cluster);
    let mut deleted = Vec::with_capacity(gone.len());
    for entry in delete_order(&gone) {
        delete_one(&mut resolver, entry, timeout, progress).await?;
        deleted.push(entry.clone());
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::object::ObjectRef;

    fn e(kind: &str, version: &str, name: &str) -> InventoryEntry {
        InventoryEntry {
            object: ObjectRef {
                group: String::new(),
                version: version.into(),
                kind: kind.into(),
                namespace: Some("a".into()),
                name: name.into(),
            },
            uid: format!("uid-{name}"),
        }
    }

    #[test]
    fn stale_entries_are_the_dropped_ones() {
        let previous = [e("ConfigMap", "v1", "a"), e("ConfigMap", "v1", "b")];
        let current = [e("ConfigMap", "v2", "a")];
        let s = stale(&previous, &current);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].object.name, "b");
    }
}
