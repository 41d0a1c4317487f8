//! Permanent deletion for `ferroflow gc` on PostgreSQL.

use async_trait::async_trait;
use ferroflow_core::{Error, ErrorCode, Result};
use ferroflow_store::gc::{GcRequest, GcTarget};
use ferroflow_store::GcStore;

use crate::PgStore;

#[async_trait]
impl GcStore for PgStore {
    async fn gc_targets(&self, _request: GcRequest) -> Result<Vec<GcTarget>> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn purge(&self, _target: &GcTarget) -> Result<()> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }
}
