//! `FEDSTACK_SIM_HOLD`: calls held in flight until a test lets them go.
//!
//! A matching call, once the simulated cloud has accepted it (the object is in the
//! world, as after a real API's `CreateCluster` returned), creates the marker file
//! `<state_dir>/.sim/held/<op>-<address>` (`/` written `_`) and does not return until that file is
//! removed. A test waits for the marker (the call is in flight), does what it wants to
//! check -- Ctrl-C, a second apply, kill -9 -- and deletes the marker to release the
//! call. Events instead of sleeps: nothing depends on how fast the machine is.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fedstack_core::address::Address;
use fedstack_provider::ProviderError;

use crate::config::SimOperation;
use crate::errors::SimError;

/// How often a held call looks for its marker (a test's release is seen this fast).
const POLL: Duration = Duration::from_millis(5);

/// The marker file of a held call, under `held_dir`.
pub fn marker(held_dir: &Path, address: &Address, op: SimOperation) -> PathBuf {
    // Record addresses hold `/` (`dns_record.app.example.com/blue`).
    held_dir.join(format!("{op}-{}", address.to_string().replace('/', "_")))
}

/// Announces the call and waits until the test removes its marker.
pub(crate) async fn hold(
    held_dir: &Path,
    address: &Address,
    op: SimOperation,
) -> Result<(), ProviderError> {
    std::fs::create_dir_all(held_dir).map_err(|e| SimError::io("create", held_dir, &e))?;
    let path = marker(held_dir, address, op);
    // Written whole under a hidden name first, so a marker never appears half-written.
    let tmp = held_dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, format!("{}\n", std::process::id()))
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| SimError::io("write", &path, &e))?;
    while path.exists() {
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}
