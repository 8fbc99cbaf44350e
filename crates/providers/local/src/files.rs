//! Files of the local clusters: private directories and atomic, private writes.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` (and its parents) with mode 0700, and makes an existing one 0700.
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Writes `contents` to `path` atomically (a temporary file, fsynced, then renamed) with
/// `mode` from the first byte on.
pub(crate) fn write_file(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let _ = std::fs::remove_file(&tmp);
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Reads a file that may be absent.
pub(crate) fn read_opt(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_and_privately() {
        let dir = tempfile::tempdir().expect("dir");
        let sub = dir.path().join("a/b");
        private_dir(&sub).expect("dir");
        let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode(&sub), 0o700);
        let f = sub.join("x.json");
        write_file(&f, b"one", 0o600).expect("write");
        write_file(&f, b"two", 0o600).expect("overwrite");
        assert_eq!(read_opt(&f).expect("read").as_deref(), Some("two"));
        assert_eq!(mode(&f), 0o600);
        assert_eq!(read_opt(&sub.join("none")).expect("read"), None);
        let names: Vec<_> = std::fs::read_dir(&sub).expect("list").collect();
        assert_eq!(names.len(), 1, "no temporary file left");
    }
}
