//! The clouds this build knows. Adding one is a folder under `crates/providers/`
//! (its description and its provider) and one line here.

use std::sync::Arc;

use fedstack_core::stack::{CloudDescription, Clouds};
use fedstack_core::value::Values;
use fedstack_provider::{ProviderContext, ProviderError, SharedProvider};

/// Makes the provider of one cloud from its checked settings.
type Make = fn(&str, &Values, &ProviderContext) -> Result<SharedProvider, ProviderError>;

/// Each cloud: what the stack file says about it, and its provider (`None`: the
/// stack loads and validates, but this build cannot plan or apply it yet).
const REGISTERED: [(&dyn CloudDescription, Option<Make>); 5] = [
    (
        &fedstack_describe_gcp::GCP,
        Some(|n, s, c| Ok(Arc::new(fedstack_provider_gcp::GcpProvider::new(n, s, c)?))),
    ),
    (
        &fedstack_describe_aws::AWS,
        Some(|n, s, c| Ok(Arc::new(fedstack_provider_aws::AwsProvider::new(n, s, c)?))),
    ),
    (
        &fedstack_describe_azure::AZURE,
        Some(|n, s, c| {
            Ok(Arc::new(fedstack_provider_azure::AzureProvider::new(
                n, s, c,
            )?))
        }),
    ),
    (
        &fedstack_describe_sim::SIM,
        Some(|n, s, c| Ok(Arc::new(fedstack_provider_sim::SimProvider::new(n, s, c)?))),
    ),
    (
        &fedstack_describe_local::LOCAL,
        Some(|n, s, c| {
            Ok(Arc::new(fedstack_provider_local::LocalProvider::new(
                n, s, c,
            )?))
        }),
    ),
];

static DESCRIPTIONS: [&dyn CloudDescription; 5] = {
    let mut out: [&dyn CloudDescription; 5] = [&fedstack_describe_sim::SIM; 5];
    let mut i = 0;
    while i < REGISTERED.len() {
        out[i] = REGISTERED[i].0;
        i += 1;
    }
    out
};

/// The descriptions, for the stack loader.
pub static CLOUDS: Clouds = Clouds::new(&DESCRIPTIONS);

/// The constructor of `provider`'s provider, when this build has one.
pub fn maker(provider: &str) -> Option<Make> {
    REGISTERED
        .iter()
        .find(|(d, _)| d.provider() == provider)
        .and_then(|(_, make)| *make)
}
