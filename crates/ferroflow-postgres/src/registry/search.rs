//! Registry searches: an SQL prefilter, then the shared in-memory filter, order and paging
//! (`ferroflow_store::registry_rules::search`). The database's `statement_timeout` bounds
//! the SQL; the in-memory part runs over rows already read.

use std::collections::HashSet;

use deadpool_postgres::GenericClient;
use ferroflow_core::registry::{ModelVersion, RegisteredModel};
use ferroflow_core::types::Page;
use ferroflow_core::Result;
use ferroflow_store::registry::RegistrySearch;
use ferroflow_store::registry_rules::search::{ModelSearch, VersionSearch};
use ferroflow_store::registry_rules::{
    qualified, version_from_columns, Columns, StoredModel, DELETED_STAGE, MODEL_COLUMNS, VERSION_COLUMNS,
};
use tokio_postgres::types::ToSql;

use super::{assemble_models, model_from_row, tags_of_models, version_tags_of_models, PgColumns};
use crate::db::query;

pub(super) async fn registered_models(
    client: &impl GenericClient,
    request: &RegistrySearch,
) -> Result<Page<RegisteredModel>> {
    let search = ModelSearch::parse(request)?;

    let rows = match search.name_equals() {
        Some(name) => {
            let sql = format!("SELECT {MODEL_COLUMNS} FROM registered_models WHERE name = $1");
            query(client, &sql, &[&name]).await?
        }
        None => query(client, &format!("SELECT {MODEL_COLUMNS} FROM registered_models"), &[]).await?,
    };
    let models: Vec<StoredModel> = rows.iter().map(model_from_row).collect::<Result<_>>()?;

    let model_pks: Vec<i64> = models.iter().map(|model| model.pk).collect();
    let tags = tags_of_models(client, &model_pks).await?;

    let page = search.page(models, &tags, || Ok(()))?;
    Ok(Page { items: assemble_models(client, &page.items).await?, next_page_token: page.next_page_token })
}

pub(super) async fn model_versions(
    client: &impl GenericClient,
    request: &RegistrySearch,
) -> Result<Page<ModelVersion>> {
    let search = VersionSearch::parse(request)?;

    let mut sql = format!(
        "SELECT m.model_pk, m.name, {} FROM model_versions v JOIN registered_models m ON m.model_pk = v.model_pk \
         WHERE v.current_stage != '{DELETED_STAGE}'",
        qualified(VERSION_COLUMNS, "v")
    );
    let mut values: Vec<&(dyn ToSql + Sync)> = Vec::new();
    let name = search.name_equals();
    if let Some(name) = &name {
        values.push(name);
        sql.push_str(&format!(" AND m.name = ${}", values.len()));
    }
    let run_id = search.run_id_equals();
    if let Some(run_id) = &run_id {
        values.push(run_id);
        sql.push_str(&format!(" AND v.run_id = ${}", values.len()));
    }
    let versions = query(client, &sql, &values)
        .await?
        .iter()
        .map(|row| {
            let columns = PgColumns(row);
            // The version columns start at index 2.
            Ok((columns.int(0)?, version_from_columns(&columns.text(1)?, &columns, 2)?))
        })
        .collect::<Result<Vec<(i64, ModelVersion)>>>()?;

    // Every version tag of the candidates' models: the search needs them to tell prompts.
    let model_pks: Vec<i64> = versions.iter().map(|(pk, _)| *pk).collect::<HashSet<_>>().into_iter().collect();
    let tags = version_tags_of_models(client, &model_pks).await?;
    search.page(versions, tags, || Ok(()))
}
