//! The built-in provider for resources without a cloud (`data` without `cloud:`):
//! like Terraform's terraform_data, it only records its values.

use async_trait::async_trait;
use fedstack_provider::{
    Observed, Progress, Provider, ProviderError, ResourceSpec, ResourceStatus,
};
use serde_json::Value;

pub struct BuiltinProvider;

fn observed(spec: &ResourceSpec) -> Observed {
    let mut outputs = fedstack_core::value::Values::new();
    outputs.insert("id".into(), Value::String(spec.cloud_name.clone()));
    Observed {
        attrs: spec.attrs.clone(),
        outputs,
        secrets: Default::default(),
        status: ResourceStatus::Ready,
    }
}

#[async_trait]
impl Provider for BuiltinProvider {
    fn provider_type(&self) -> &'static str {
        "builtin"
    }

    /// Built-in resources have no reality apart from the state: never read back.
    async fn read(&self, spec: &ResourceSpec) -> Result<Option<Observed>, ProviderError> {
        Ok(Some(observed(spec)))
    }

    async fn create(
        &self,
        spec: &ResourceSpec,
        _: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        Ok(observed(spec))
    }

    async fn update(
        &self,
        spec: &ResourceSpec,
        _: &[String],
        _: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        Ok(observed(spec))
    }

    async fn delete(&self, _: &ResourceSpec, _: &dyn Progress) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn wait_ready(
        &self,
        spec: &ResourceSpec,
        _: &dyn Progress,
    ) -> Result<Observed, ProviderError> {
        Ok(observed(spec))
    }
}
