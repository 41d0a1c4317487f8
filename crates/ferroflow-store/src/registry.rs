//! The model registry's storage interface.

use async_trait::async_trait;

#[async_trait]
pub trait RegistryStore: Send + Sync + 'static {}
