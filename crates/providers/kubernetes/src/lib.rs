//! The built-in `kubernetes` provider: `federation_host` and `federation_member`
//! resources on clusters of any cloud.
//!
//! The stack puts a federation here (its resources' cloud is the reserved
//! [`KUBERNETES_CLOUD`](fedstack_core::stack::KUBERNETES_CLOUD)) unless the host's cloud
//! runs federations itself and every member is in it (sim; local). It holds no
//! credentials of its own: each cluster is reached through its cloud's
//! [`Provider::cluster_access`](fedstack_provider::Provider::cluster_access) at the
//! moment it is needed (GKE: a fresh Google token; EKS: a presigned STS token; local: the
//! admin certificate), so a host on GKE joins members on EKS and AKS with nothing but the
//! clouds' own credentials. The objects and the drift a read notices are those of
//! [`fedstack_kube::resources`], the same as on local clusters.
//!
//! # Errors
//! | class | when |
//! |---|---|
//! | `Invalid` | a resource that is not a federation host or member |
//! | `NotFound` | a join whose host or member cluster does not exist (or gives no access) |
//! | from the clouds | getting a cluster's access (token, endpoint) |
//! | from [`fedstack_kube`] | the Kubernetes API calls |

mod clusters;
mod provider;

pub use clusters::{ClusterDirectory, ClusterEntry};
pub use provider::KubernetesProvider;
