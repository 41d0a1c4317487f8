//! Registry searches: an SQL prefilter, then the shared in-memory filter, order and paging
//! (`ferroflow_store::registry_rules::search`).

use std::collections::{HashMap, HashSet};

use ferroflow_core::registry::{ModelVersion, RegisteredModel};
use ferroflow_core::types::{KeyValue, Page};
use ferroflow_core::Result;
use ferroflow_store::registry::RegistrySearch;
use ferroflow_store::registry_rules::search::{ModelSearch, VersionSearch};
use ferroflow_store::registry_rules::{
    group_tags, qualified, version_from_columns, StoredModel, DELETED_STAGE, MODEL_COLUMNS, VERSION_COLUMNS,
};
use rusqlite::Connection;

use super::{all_version_tags, assemble_model, model_from_row, SqliteColumns};
use crate::db::{db_error, Budget};

pub(super) fn search_registered_models(
    conn: &Connection,
    request: RegistrySearch,
    budget: &Budget,
) -> Result<Page<RegisteredModel>> {
    let search = ModelSearch::parse(&request)?;

    let mut sql = format!("SELECT {MODEL_COLUMNS} FROM registered_models");
    if search.name_equals().is_some() {
        sql.push_str(" WHERE name = ?1");
    }
    let mut statement = conn.prepare_cached(&sql).map_err(db_error)?;
    let rows = match search.name_equals() {
        Some(name) => statement.query_map([name], model_from_row),
        None => statement.query_map([], model_from_row),
    }
    .map_err(db_error)?;
    let models: Vec<StoredModel> = rows.collect::<rusqlite::Result<_>>().map_err(db_error)?;

    let mut tags_by_model: HashMap<i64, Vec<KeyValue>> = HashMap::new();
    if !models.is_empty() {
        let mut statement = conn
            .prepare_cached("SELECT model_pk, key, value FROM registered_model_tags ORDER BY rowid")
            .map_err(db_error)?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, i64>(0)?, KeyValue::new(row.get::<_, String>(1)?, row.get::<_, String>(2)?)))
            })
            .map_err(db_error)?;
        tags_by_model = group_tags(rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)?);
    }

    let page = search.page(models, &tags_by_model, || budget.check())?;
    let items = page.items.iter().map(|model| assemble_model(conn, model)).collect::<Result<Vec<_>>>()?;
    Ok(Page { items, next_page_token: page.next_page_token })
}

pub(super) fn search_model_versions(
    conn: &Connection,
    request: RegistrySearch,
    budget: &Budget,
) -> Result<Page<ModelVersion>> {
    let search = VersionSearch::parse(&request)?;

    let mut sql = format!(
        "SELECT m.model_pk, m.name, {} FROM model_versions v JOIN registered_models m ON m.model_pk = v.model_pk \
         WHERE v.current_stage != '{DELETED_STAGE}'",
        qualified(VERSION_COLUMNS, "v")
    );
    let mut values: Vec<&str> = Vec::new();
    if let Some(name) = search.name_equals() {
        values.push(name);
        sql.push_str(&format!(" AND m.name = ?{}", values.len()));
    }
    if let Some(run_id) = search.run_id_equals() {
        values.push(run_id);
        sql.push_str(&format!(" AND v.run_id = ?{}", values.len()));
    }
    let mut statement = conn.prepare_cached(&sql).map_err(db_error)?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(values.iter()), |row| {
            let name: String = row.get(1)?;
            // The version columns start at index 2.
            Ok((row.get::<_, i64>(0)?, version_from_columns(&name, &SqliteColumns(row), 2)?))
        })
        .map_err(db_error)?;
    let versions: Vec<(i64, ModelVersion)> = rows.collect::<rusqlite::Result<_>>().map_err(db_error)?;

    // Every version tag of the candidates' models: the search needs them to tell prompts.
    let model_pks: HashSet<i64> = versions.iter().map(|(pk, _)| *pk).collect();
    let mut tags: HashMap<(i64, i64), Vec<KeyValue>> = HashMap::new();
    for pk in model_pks {
        for (version, version_tags) in all_version_tags(conn, pk)? {
            tags.insert((pk, version), version_tags);
        }
    }
    search.page(versions, tags, || budget.check())
}
