//! `federation_host` and `federation_member` on local clusters: the shared resources of
//! [`fedstack_kube::resources`], with the clusters found by name in the state directory
//! and reached with their admin credentials. A change (create, update, adopt, delete)
//! first starts any involved control plane that is down. A read never starts anything:
//! when a control plane is down, what is on it cannot be seen, and the read says so
//! (members: `credentials` is `unknown: ...`, so apply re-checks the join once the
//! cluster runs again; hosts: the recorded attributes stand).

use async_trait::async_trait;
use fedstack_kube::federation::Cluster;
use fedstack_kube::resources::{ClusterSource, View};
use fedstack_provider::{Progress, ProviderError};

use crate::provider::LocalProvider;

#[async_trait]
impl ClusterSource for LocalProvider {
    fn describe(&self, name: &str) -> String {
        format!("local cluster {name}")
    }

    fn stack(&self) -> &str {
        &self.stack
    }

    fn looked_in(&self) -> String {
        format!(" in {}", self.root().display())
    }

    fn writable(&self, what: &str) -> Result<(), ProviderError> {
        LocalProvider::writable(self, what)
    }

    async fn view(&self, name: &str) -> Result<View, ProviderError> {
        let cd = self.cluster_dir(name);
        let Some(meta) = cd.load_meta()? else {
            return Ok(View::Missing);
        };
        if !cd.is_running(&meta).await {
            return Ok(View::Unreachable);
        }
        let client = fedstack_kube::client_for(name, &cd.access(&meta)?).await?;
        Ok(View::Running(Cluster {
            name: name.to_string(),
            client,
        }))
    }

    async fn running(
        &self,
        name: &str,
        progress: &dyn Progress,
    ) -> Result<Option<Cluster>, ProviderError> {
        let cd = self.cluster_dir(name);
        let Some(mut meta) = cd.load_meta()? else {
            return Ok(None);
        };
        if !cd.is_running(&meta).await {
            progress.status(&format!("starting local cluster {name}"));
            self.ensure_running(&cd, &mut meta, progress).await?;
        }
        let client = fedstack_kube::client_for(name, &cd.access(&meta)?).await?;
        Ok(Some(Cluster {
            name: name.to_string(),
            client,
        }))
    }

    async fn endpoint_and_ca(
        &self,
        name: &str,
    ) -> Result<(Option<String>, Option<String>), ProviderError> {
        let cd = self.cluster_dir(name);
        match cd.load_meta()? {
            None => Ok((None, None)),
            Some(meta) => Ok((Some(meta.endpoint()), Some(cd.ca_certificate()?))),
        }
    }
}
