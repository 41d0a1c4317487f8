//! Registry searches: an SQL prefilter, then MLflow's filter language and order_by in memory.

use std::collections::{HashMap, HashSet};

use ferroflow_core::paging::{decode_offset, page_from};
use ferroflow_core::registry::{ModelVersion, RegisteredModel, Stage, MODEL_VERSION_STATUS_READY, PROMPT_TAG_KEY};
use ferroflow_core::search::{self, eval, Comparison, Entity, Expr, Filter, KeyKind, Op, Record, Value as SearchValue};
use ferroflow_core::types::{KeyValue, Page};
use ferroflow_core::Result;
use ferroflow_store::registry::RegistrySearch;
use rusqlite::Connection;

use super::{
    all_version_tags, assemble_model, model_from_row, ModelRow, DELETED_STAGE, MODEL_COLUMNS, VERSION_COLUMNS,
};
use crate::db::{db_error, Budget};

/// The value of a top-level `<attribute> = '…'` comparison, usable as an SQL prefilter
/// (the evaluator still checks every candidate).
fn equality_on<'f>(filter: Option<&'f Filter>, attribute: &str) -> Option<&'f str> {
    let is_equality = |expr: &'f Expr| match expr {
        Expr::Compare(Comparison { key, op: Op::Eq, value: SearchValue::String(value) })
            if key.kind == KeyKind::Attribute && key.name == attribute =>
        {
            Some(value.as_str())
        }
        _ => None,
    };
    match &filter?.expr {
        Expr::And(items) => items.iter().find_map(is_equality),
        single => is_equality(single),
    }
}

pub(super) fn search_registered_models(
    conn: &Connection,
    request: RegistrySearch,
    budget: &Budget,
) -> Result<Page<RegisteredModel>> {
    let filter = search::parse_registered_model_filter(request.filter.as_deref().unwrap_or(""))?;
    let order = order::parse_registered_model_order_by(&request.order_by)?;
    let offset = decode_offset(request.page_token.as_deref())?;

    let mut sql = format!("SELECT {MODEL_COLUMNS} FROM registered_models");
    let prefilter = equality_on(filter.as_ref(), "name").map(str::to_string);
    if prefilter.is_some() {
        sql.push_str(" WHERE name = ?1");
    }
    let mut statement = conn.prepare_cached(&sql).map_err(db_error)?;
    let rows = match &prefilter {
        Some(name) => statement.query_map([name], model_from_row),
        None => statement.query_map([], model_from_row),
    }
    .map_err(db_error)?;
    let models: Vec<ModelRow> = rows.collect::<rusqlite::Result<_>>().map_err(db_error)?;

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
        for row in rows {
            let (pk, tag) = row.map_err(db_error)?;
            tags_by_model.entry(pk).or_default().push(tag);
        }
    }

    let empty = Vec::new();
    let mut matching: Vec<&ModelRow> = budget.filter(&models, |model| {
        let tags = tags_by_model.get(&model.pk).unwrap_or(&empty);
        let mut record = Record::default().with_attr("name", model.name.as_str());
        for tag in tags {
            record = record.with_tag(&tag.key, &tag.value);
        }
        eval::matches(Entity::RegisteredModel, filter.as_ref(), &record)
    })?;
    matching.sort_by(|a, b| {
        for (key, ascending) in &order {
            let ordering = match key {
                order::ModelOrderKey::Name => a.name.cmp(&b.name),
                order::ModelOrderKey::LastUpdated => a.last_updated_time.cmp(&b.last_updated_time),
            };
            let ordering = if *ascending { ordering } else { ordering.reverse() };
            if ordering.is_ne() {
                return ordering;
            }
        }
        std::cmp::Ordering::Equal
    });
    let window: Vec<&ModelRow> = matching.into_iter().skip(offset as usize).take(request.max_results + 1).collect();
    let page = page_from(window, offset, request.max_results);
    let items = page.items.iter().map(|model| assemble_model(conn, model)).collect::<Result<Vec<_>>>()?;
    Ok(Page { items, next_page_token: page.next_page_token })
}

pub(super) fn search_model_versions(
    conn: &Connection,
    request: RegistrySearch,
    budget: &Budget,
) -> Result<Page<ModelVersion>> {
    let filter = search::parse_model_version_filter(request.filter.as_deref().unwrap_or(""))?;
    let order = order::parse_model_version_order_by(&request.order_by)?;
    let offset = decode_offset(request.page_token.as_deref())?;

    let mut sql = format!(
        "SELECT m.model_pk, m.name, {} FROM model_versions v JOIN registered_models m ON m.model_pk = v.model_pk \
         WHERE v.current_stage != '{DELETED_STAGE}'",
        VERSION_COLUMNS.split(", ").map(|c| format!("v.{c}")).collect::<Vec<_>>().join(", ")
    );
    let mut values: Vec<String> = Vec::new();
    if let Some(name) = equality_on(filter.as_ref(), "name") {
        values.push(name.to_string());
        sql.push_str(&format!(" AND m.name = ?{}", values.len()));
    }
    if let Some(run_id) = equality_on(filter.as_ref(), "run_id") {
        values.push(run_id.to_string());
        sql.push_str(&format!(" AND v.run_id = ?{}", values.len()));
    }
    let mut statement = conn.prepare_cached(&sql).map_err(db_error)?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(values.iter()), |row| {
            let pk: i64 = row.get(0)?;
            let name: String = row.get(1)?;
            // The version columns start at index 2.
            let stage: String = row.get(6)?;
            Ok((
                pk,
                ModelVersion {
                    name,
                    version: row.get(2)?,
                    creation_timestamp: row.get(3)?,
                    last_updated_timestamp: row.get(4)?,
                    user_id: row.get(5)?,
                    current_stage: Stage::parse(&stage).unwrap_or(Stage::None),
                    description: row.get(7)?,
                    source: row.get(8)?,
                    run_id: row.get(9)?,
                    status: MODEL_VERSION_STATUS_READY,
                    status_message: row.get(11)?,
                    tags: Vec::new(),
                    run_link: row.get(10)?,
                    aliases: Vec::new(),
                },
            ))
        })
        .map_err(db_error)?;
    let mut versions: Vec<(i64, ModelVersion)> = rows.collect::<rusqlite::Result<_>>().map_err(db_error)?;

    // Tags of the candidates, and the models that are prompts (a version tagged as one).
    let model_pks: HashSet<i64> = versions.iter().map(|(pk, _)| *pk).collect();
    let mut tags: HashMap<(i64, i64), Vec<KeyValue>> = HashMap::new();
    let mut prompts: HashSet<i64> = HashSet::new();
    for pk in &model_pks {
        for (version, version_tags) in all_version_tags(conn, *pk)? {
            if version_tags.iter().any(|t| t.key == PROMPT_TAG_KEY && t.value == "true") {
                prompts.insert(*pk);
            }
            tags.insert((*pk, version), version_tags);
        }
    }
    for (pk, version) in &mut versions {
        version.tags = tags.remove(&(*pk, version.version)).unwrap_or_default();
    }

    let matching: Vec<(i64, ModelVersion)> = budget.filter(versions, |(pk, version)| {
        let mut record =
            Record::default().with_attr("name", version.name.as_str()).with_attr("version_number", version.version);
        if let Some(run_id) = &version.run_id {
            record = record.with_attr("run_id", run_id.as_str());
        }
        if let Some(source) = &version.source {
            record = record.with_attr("source_path", source.as_str());
        }
        for tag in &version.tags {
            record = record.with_tag(&tag.key, &tag.value);
        }
        // A version of a prompt is hidden like the prompt itself.
        if prompts.contains(pk) && !record.tags.contains_key(PROMPT_TAG_KEY) {
            record = record.with_tag(PROMPT_TAG_KEY, "true");
        }
        eval::matches(Entity::ModelVersion, filter.as_ref(), &record)
    })?;
    let mut matching: Vec<ModelVersion> = matching.into_iter().map(|(_, version)| version).collect();
    matching.sort_by(|a, b| {
        for (key, ascending) in &order {
            let ordering = match key {
                order::VersionOrderKey::Name => a.name.cmp(&b.name),
                order::VersionOrderKey::Version => a.version.cmp(&b.version),
                order::VersionOrderKey::CreationTimestamp => a.creation_timestamp.cmp(&b.creation_timestamp),
                order::VersionOrderKey::LastUpdatedTimestamp => a.last_updated_timestamp.cmp(&b.last_updated_timestamp),
            };
            let ordering = if *ascending { ordering } else { ordering.reverse() };
            if ordering.is_ne() {
                return ordering;
            }
        }
        std::cmp::Ordering::Equal
    });
    let window: Vec<ModelVersion> = matching.into_iter().skip(offset as usize).take(request.max_results + 1).collect();
    Ok(page_from(window, offset, request.max_results))
}

// ---------------------------------------------------------------- search language

/// order_by for registry searches: MLflow's keys, defaults and tie-breakers.
mod order {
    use ferroflow_core::{Error, Result};

    fn invalid(message: impl Into<String>) -> Error {
        Error::invalid_parameter(message)
    }

    fn strip_quotes(text: &str) -> &str {
        for quote in ['\'', '"', '`'] {
            if text.len() >= 2 && text.starts_with(quote) && text.ends_with(quote) {
                return &text[1..text.len() - 1];
            }
        }
        text
    }

    // ------------------------------------------------------------ order_by

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum ModelOrderKey {
        Name,
        LastUpdated,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum VersionOrderKey {
        Name,
        Version,
        CreationTimestamp,
        LastUpdatedTimestamp,
    }

    /// Python's repr of a list of strings.
    fn python_list(items: &[String]) -> String {
        let quoted: Vec<String> = items.iter().map(|item| format!("'{item}'")).collect();
        format!("[{}]", quoted.join(", "))
    }

    /// `_parse_order_by_string`: a key, optionally quoted, and an optional ASC/DESC.
    fn split_order_by(clause: &str) -> Result<(String, bool)> {
        let text = clause.replace('`', "\"");
        let mut tokens: Vec<String> = Vec::new();
        let mut current = String::new();
        let mut in_quotes = false;
        let mut has_token = false;
        for c in text.chars() {
            match c {
                '"' => {
                    in_quotes = !in_quotes;
                    has_token = true;
                }
                c if c.is_whitespace() && !in_quotes => {
                    if has_token {
                        tokens.push(std::mem::take(&mut current));
                        has_token = false;
                    }
                }
                c => {
                    current.push(c);
                    has_token = true;
                }
            }
        }
        if in_quotes {
            return Err(invalid(format!("Invalid order_by clause '{clause}'. Could not be parsed.")));
        }
        if has_token {
            tokens.push(current);
        }
        match tokens.as_slice() {
            [key] => Ok((key.clone(), true)),
            [key, direction] => match direction.to_ascii_lowercase().as_str() {
                "asc" => Ok((key.clone(), true)),
                "desc" => Ok((key.clone(), false)),
                _ => Err(invalid(format!("Invalid ordering key in order_by clause '{clause}'."))),
            },
            _ => Err(invalid(format!("Invalid order_by clause '{clause}'. Could not be parsed."))),
        }
    }

    /// MLflow's SQL store: `name`, or `timestamp` / `last_updated_timestamp` (both the
    /// update time); `name ASC` breaks ties.
    pub(crate) fn parse_registered_model_order_by(order_by: &[String]) -> Result<Vec<(ModelOrderKey, bool)>> {
        let mut clauses: Vec<(ModelOrderKey, bool)> = Vec::new();
        for clause in order_by {
            let (key, ascending) = split_order_by(clause)?;
            let field = match key.trim() {
                "name" => ModelOrderKey::Name,
                "timestamp" | "last_updated_timestamp" => ModelOrderKey::LastUpdated,
                other => {
                    return Err(invalid(format!(
                        "Invalid order by key '{other}' specified. Valid keys are '{{'name', 'timestamp'}}'"
                    )))
                }
            };
            if clauses.iter().any(|(seen, _)| *seen == field) {
                return Err(invalid(format!("`order_by` contains duplicate fields: {}", python_list(order_by))));
            }
            clauses.push((field, ascending));
        }
        if !clauses.iter().any(|(key, _)| *key == ModelOrderKey::Name) {
            clauses.push((ModelOrderKey::Name, true));
        }
        Ok(clauses)
    }

    const VERSION_ORDER_SET: &str = "{'name', 'version_number', 'creation_timestamp', 'last_updated_timestamp'}";

    /// MLflow's SQL store: default `last_updated_timestamp DESC, name ASC, version_number
    /// DESC`; `name ASC` and `version_number DESC` break ties.
    pub(crate) fn parse_model_version_order_by(order_by: &[String]) -> Result<Vec<(VersionOrderKey, bool)>> {
        let default = ["last_updated_timestamp DESC".to_string(), "name ASC".into(), "version_number DESC".into()];
        let order_by = if order_by.is_empty() { &default[..] } else { order_by };
        let mut clauses: Vec<(VersionOrderKey, bool)> = Vec::new();
        for clause in order_by {
            let (identifier, ascending) = split_order_by(clause)?;
            let identifier = identifier.trim();
            let (entity_type, key) = match identifier.split_once('.') {
                Some((entity_type, key)) => (Some(entity_type), key),
                None => (None, identifier),
            };
            let key = strip_quotes(key);
            let is_tag = match entity_type {
                None | Some("attribute" | "attributes") => false,
                Some("tag" | "tags") => true,
                Some(other) => {
                    return Err(invalid(format!(
                    "Invalid entity type '{other}'. Valid entity types are ('attribute', 'attributes', 'tag', 'tags')"
                )))
                }
            };
            let field = match (is_tag, key) {
                (false, "name") => VersionOrderKey::Name,
                (false, "version_number") => VersionOrderKey::Version,
                (false, "creation_timestamp") => VersionOrderKey::CreationTimestamp,
                (false, "last_updated_timestamp") => VersionOrderKey::LastUpdatedTimestamp,
                (false, other) => {
                    return Err(invalid(format!(
                        "Invalid attribute key '{other}' specified. Valid keys are '{VERSION_ORDER_SET}'"
                    )))
                }
                (true, other) => {
                    return Err(invalid(format!(
                        "Invalid order by key '{other}' specified. Valid keys are {VERSION_ORDER_SET}"
                    )))
                }
            };
            if clauses.iter().any(|(seen, _)| *seen == field) {
                return Err(invalid(format!("`order_by` contains duplicate fields: {}", python_list(order_by))));
            }
            clauses.push((field, ascending));
        }
        if !clauses.iter().any(|(key, _)| *key == VersionOrderKey::Name) {
            clauses.push((VersionOrderKey::Name, true));
        }
        if !clauses.iter().any(|(key, _)| *key == VersionOrderKey::Version) {
            clauses.push((VersionOrderKey::Version, false));
        }
        Ok(clauses)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn order_by() {
            assert_eq!(
                parse_registered_model_order_by(&["timestamp DESC".into()]).unwrap(),
                vec![(ModelOrderKey::LastUpdated, false), (ModelOrderKey::Name, true)]
            );
            assert!(parse_registered_model_order_by(&["creation_timestamp".into()]).is_err());
            assert!(parse_registered_model_order_by(&["timestamp".into(), "last_updated_timestamp".into()])
                .unwrap_err()
                .message
                .starts_with("`order_by` contains duplicate fields"));
            assert!(parse_registered_model_order_by(&["name sideways".into()]).is_err());
            assert_eq!(
                parse_model_version_order_by(&[]).unwrap(),
                vec![
                    (VersionOrderKey::LastUpdatedTimestamp, false),
                    (VersionOrderKey::Name, true),
                    (VersionOrderKey::Version, false)
                ]
            );
            assert_eq!(
                parse_model_version_order_by(&["version_number ASC".into()]).unwrap(),
                vec![(VersionOrderKey::Version, true), (VersionOrderKey::Name, true)]
            );
            assert!(parse_model_version_order_by(&["tags.x".into()]).is_err());
        }
    }
}
