//! Small durable-file helpers. Files are created 0600, directories 0700.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{IoContext, StateError};

pub(crate) const FILE_MODE: u32 = 0o600;
pub(crate) const DIR_MODE: u32 = 0o700;

/// Creates `dir` (mode 0700) if it does not exist; its parent is created with default
/// permissions. The new entry is made durable by syncing the parent.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), StateError> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent {
        fs::create_dir_all(parent).ctx("create directory", parent)?;
    }
    match DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => {}
        // Another process created it in the meantime.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(StateError::io("create directory", dir, e)),
    }
    if let Some(parent) = parent {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Makes renames, links and new files in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StateError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .ctx("sync directory", dir)
}

/// Creates (or truncates) `path` with mode 0600, writes `bytes` and fsyncs the file.
/// The directory entry is *not* synced: callers rename or link it and sync the directory.
pub(crate) fn write_private_file(
    path: &Path,
    bytes: &[u8],
    exclusive: bool,
) -> Result<(), StateError> {
    let mut options = OpenOptions::new();
    options.write(true).mode(FILE_MODE);
    if exclusive {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    let mut file = options.open(path).ctx("create", path)?;
    file.write_all(bytes).ctx("write", path)?;
    file.sync_all().ctx("sync", path)?;
    Ok(())
}

/// Atomically replaces `target` with `bytes`: write `tmp` (same directory), fsync it,
/// rename it over `target`, fsync the directory.
pub(crate) fn replace_atomically(
    dir: &Path,
    tmp: &Path,
    target: &Path,
    bytes: &[u8],
) -> Result<(), StateError> {
    remove_if_exists(tmp)?;
    write_private_file(tmp, bytes, true)?;
    fs::rename(tmp, target).ctx("rename into place", target)?;
    sync_dir(dir)
}

/// Removes a file, treating "already gone" as success.
pub(crate) fn remove_if_exists(path: &Path) -> Result<(), StateError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StateError::io("remove", path, e)),
    }
}

/// Reads a whole file; `None` if it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StateError::io("read", path, e)),
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
