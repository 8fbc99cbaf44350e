//! The Kubernetes binaries a local cloud runs, and their version.

use std::path::PathBuf;

use fedstack_provider::ProviderError;

use crate::config::{bin_dir, parse_version, Settings};
use crate::errors::{invalid, permanent};

/// Located binaries and the Kubernetes version they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Binaries {
    pub dir: PathBuf,
    /// `1.36.3`, from `kube-apiserver --version`.
    pub version: String,
}

impl Binaries {
    /// Finds the binaries (see [`bin_dir`]) and asks kube-apiserver its version; checks it
    /// against the cloud's `kubernetes_version` setting.
    pub async fn locate(cloud: &str, settings: &Settings) -> Result<Binaries, ProviderError> {
        let dir = bin_dir(settings)?;
        let apiserver = dir.join("kube-apiserver");
        let shown = apiserver.display().to_string();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(&apiserver)
                .arg("--version")
                .stdin(std::process::Stdio::null())
                .output()
        })
        .await
        .map_err(|e| permanent(format!("cannot run {shown} --version: {e}")))?
        .map_err(|e| permanent(format!("cannot run {shown} --version: {e}")))?;
        let text = String::from_utf8_lossy(&out.stdout);
        // `Kubernetes v1.36.3`
        let version = text
            .split_whitespace()
            .find_map(|w| w.strip_prefix('v').filter(|v| parse_version(v).is_some()))
            .ok_or_else(|| {
                permanent(format!(
                    "cannot tell the version of {shown}: `--version` printed `{}`",
                    text.trim()
                ))
            })?
            .to_string();
        let b = Binaries { dir, version };
        if let Some(want) = &settings.kubernetes_version {
            b.check(want, &format!("cloud `{cloud}`"))?;
        }
        Ok(b)
    }

    /// Fails unless `want` (`1.36`, `1.36.3`) is what the binaries are: the same minor
    /// version, and the same patch when `want` names one.
    pub fn check(&self, want: &str, who: &str) -> Result<(), ProviderError> {
        check_version(want, &self.version).map_err(|()| {
            invalid(format!(
                "{who} asks for Kubernetes {want}, but the local binaries in {} are v{} (hint: set kubernetes_version to \"{}\", or point bin_dir at {want} binaries)",
                self.dir.display(),
                self.version,
                minor_of(&self.version)
            ))
        })
    }
}

fn minor_of(version: &str) -> String {
    match parse_version(version) {
        Some((major, minor, _)) => format!("{major}.{minor}"),
        None => version.to_string(),
    }
}

/// Whether the binaries' `have` satisfies the wanted `want`.
pub(crate) fn check_version(want: &str, have: &str) -> Result<(), ()> {
    let (Some(w), Some(h)) = (parse_version(want), parse_version(have)) else {
        return Err(());
    };
    let patch_ok = match w.2 {
        None => true,
        Some(p) => h.2 == Some(p),
    };
    if w.0 == h.0 && w.1 == h.1 && patch_ok {
        Ok(())
    } else {
        Err(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_by_minor_and_optional_patch() {
        assert!(check_version("1.36", "1.36.3").is_ok());
        assert!(check_version("1.36.3", "1.36.3").is_ok());
        assert!(check_version("1.36.2", "1.36.3").is_err());
        assert!(check_version("1.35", "1.36.3").is_err());
        assert!(check_version("2.36", "1.36.3").is_err());
        let b = Binaries {
            dir: PathBuf::from("/bin"),
            version: "1.36.3".into(),
        };
        let e = b.check("1.31", "cluster `a`").expect_err("mismatch");
        assert_eq!(
            e.message,
            "cluster `a` asks for Kubernetes 1.31, but the local binaries in /bin are v1.36.3 (hint: set kubernetes_version to \"1.36\", or point bin_dir at 1.31 binaries)"
        );
    }
}
