//! MLflow 3 logged models' storage interface.

use async_trait::async_trait;

#[async_trait]
pub trait LoggedModelStore: Send + Sync + 'static {}
