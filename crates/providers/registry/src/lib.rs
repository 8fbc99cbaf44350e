//! The built-in `registry` provider: `image.<image>.<registry>` resources, each one
//! image promoted from its source registry to one destination registry with
//! [`fedstack_registry::Copier`].
//!
//! The stack puts every image on the reserved cloud
//! [`REGISTRY_CLOUD`](fedstack_core::stack::REGISTRY_CLOUD); its attributes carry the
//! two registries' settings, with credentials as *where to find them* (env var names,
//! a docker config path). They are resolved here at every call ([`config`]) and go
//! only into the registry client: never into outputs, errors or progress lines.
//!
//! A read compares the destination with the source: `in_sync` is `true` when the
//! destination tag points at what a copy would push now (the source's digest, or the
//! filtered index's), so a tag moved at either end plans an update, and the update
//! copies again.
//!
//! # Errors
//! | class | when |
//! |---|---|
//! | `Invalid` | not an image resource; attributes the core would not have lowered; a bad reference |
//! | `Denied` | an env var or docker config entry missing; the registry refused the credentials |
//! | `NotFound` | the source image is not there (create, update) |
//! | `Throttled`, `Transient`, `Unreachable` | the registry's answers after the client's own retries (marked given up) |

pub mod config;
mod errors;
mod provider;

pub use provider::RegistryProvider;
