//! The model registry's backend-independent half, shared by the SQLite and PostgreSQL
//! stores so that they cannot drift apart: the registry tables' column lists and how a
//! row becomes an entity, MLflow's rules (tag dedup, the latest version per stage, the
//! `latest` alias, download URIs, what a deleted version keeps), its messages, and the
//! in-memory searches ([`search`]). Each backend keeps only its SQL.

use std::collections::HashMap;

use ferroflow_core::registry::{
    registered_model_exists, ModelVersion, RegisteredModel, RegisteredModelAlias, Stage, Webhook, WebhookEvent,
    WebhookStatus, MODEL_VERSION_STATUS_READY, PROMPT_TAG_KEY,
};
use ferroflow_core::types::KeyValue;
use ferroflow_core::Error;

mod order;
pub mod search;

/// The stage that marks a deleted version: hidden from every answer, its number kept.
pub const DELETED_STAGE: &str = "Deleted_Internal";

/// What a deleted version's row keeps instead of its source, run and link, as MLflow's
/// SQL store redacts them.
pub const REDACTED_SOURCE: &str = "REDACTED-SOURCE-PATH";
pub const REDACTED_RUN_ID: &str = "REDACTED-RUN-ID";
pub const REDACTED_RUN_LINK: &str = "REDACTED-RUN-LINK";

// ---------------------------------------------------------------- rows

/// A database row read by column index. Each backend wraps its driver's row in one, so
/// that the registry's rows become entities here, once.
pub trait Columns {
    type Error;
    fn int(&self, index: usize) -> Result<i64, Self::Error>;
    fn text(&self, index: usize) -> Result<String, Self::Error>;
    fn optional_text(&self, index: usize) -> Result<Option<String>, Self::Error>;
}

/// `columns` with each name qualified by a table alias: `v.version, v.creation_time, …`.
pub fn qualified(columns: &str, alias: &str) -> String {
    columns.split(", ").map(|column| format!("{alias}.{column}")).collect::<Vec<_>>().join(", ")
}

/// A registered model's own row (without its tags, aliases and versions).
#[derive(Debug, Clone)]
pub struct StoredModel {
    pub pk: i64,
    pub name: String,
    pub creation_time: i64,
    pub last_updated_time: i64,
    pub description: Option<String>,
}

/// The `registered_models` columns [`StoredModel::from_columns`] reads, in order.
pub const MODEL_COLUMNS: &str = "model_pk, name, creation_time, last_updated_time, description";

impl StoredModel {
    pub fn from_columns<C: Columns>(row: &C) -> Result<Self, C::Error> {
        Ok(StoredModel {
            pk: row.int(0)?,
            name: row.text(1)?,
            creation_time: row.int(2)?,
            last_updated_time: row.int(3)?,
            description: row.optional_text(4)?,
        })
    }

    /// The model as MLflow answers it, from its row and the parts stored beside it.
    pub fn assemble(
        &self,
        latest_versions: Vec<ModelVersion>,
        tags: Vec<KeyValue>,
        aliases: Vec<RegisteredModelAlias>,
    ) -> RegisteredModel {
        RegisteredModel {
            name: self.name.clone(),
            creation_timestamp: self.creation_time,
            last_updated_timestamp: self.last_updated_time,
            description: self.description.clone(),
            latest_versions,
            tags,
            aliases,
        }
    }
}

/// The `model_versions` columns [`version_from_columns`] reads, in order.
pub const VERSION_COLUMNS: &str = "version, creation_time, last_updated_time, user_id, current_stage, description, \
     source, run_id, run_link, status_message";

/// A version of model `name` from [`VERSION_COLUMNS`] starting at column `first`; without
/// its tags and aliases.
pub fn version_from_columns<C: Columns>(name: &str, row: &C, first: usize) -> Result<ModelVersion, C::Error> {
    let stage = row.text(first + 4)?;
    Ok(ModelVersion {
        name: name.to_string(),
        version: row.int(first)?,
        creation_timestamp: row.int(first + 1)?,
        last_updated_timestamp: row.int(first + 2)?,
        user_id: row.optional_text(first + 3)?,
        current_stage: Stage::parse(&stage).unwrap_or(Stage::None),
        description: row.optional_text(first + 5)?,
        source: row.optional_text(first + 6)?,
        run_id: row.optional_text(first + 7)?,
        // The only status ferroflow has: the client polls for minutes on any other.
        status: MODEL_VERSION_STATUS_READY,
        status_message: row.optional_text(first + 9)?,
        tags: Vec::new(),
        run_link: row.optional_text(first + 8)?,
        aliases: Vec::new(),
    })
}

/// The `webhooks` columns [`webhook_from_columns`] reads, in order.
pub const WEBHOOK_COLUMNS: &str = "webhook_pk, webhook_id, name, description, url, status, secret, \
     creation_timestamp, last_updated_timestamp";

/// A webhook's key and the webhook, without its events.
pub fn webhook_from_columns<C: Columns>(row: &C) -> Result<(i64, Webhook), C::Error> {
    let status = row.text(5)?;
    Ok((
        row.int(0)?,
        Webhook {
            webhook_id: row.text(1)?,
            name: row.text(2)?,
            description: row.optional_text(3)?,
            url: row.text(4)?,
            events: Vec::new(),
            status: WebhookStatus::parse(&status).unwrap_or(WebhookStatus::Disabled),
            creation_timestamp: row.int(7)?,
            last_updated_timestamp: row.int(8)?,
            secret: row.optional_text(6)?,
        },
    ))
}

// ---------------------------------------------------------------- rules

/// Tags as a dict: the last value of a repeated key wins, at the key's first place.
pub fn dedupe_tags(tags: Vec<KeyValue>) -> Vec<KeyValue> {
    let mut out: Vec<KeyValue> = Vec::with_capacity(tags.len());
    for tag in tags {
        match out.iter_mut().find(|existing| existing.key == tag.key) {
            Some(existing) => existing.value = tag.value,
            None => out.push(tag),
        }
    }
    out
}

/// The aliases among `aliases` that point at `version`.
pub fn aliases_of(aliases: &[RegisteredModelAlias], version: i64) -> Vec<String> {
    aliases.iter().filter(|a| a.version == version).map(|a| a.alias.clone()).collect()
}

/// The highest live version in each stage, from a model's live versions in ascending
/// order, listed as MLflow's SQL store builds the list: stages in the order they first
/// appear when walking the versions upwards.
pub fn latest_per_stage(versions: impl IntoIterator<Item = ModelVersion>) -> Vec<ModelVersion> {
    let mut latest: Vec<ModelVersion> = Vec::new();
    for version in versions {
        match latest.iter_mut().find(|v| v.current_stage == version.current_stage) {
            Some(slot) => *slot = version,
            None => latest.push(version),
        }
    }
    latest
}

/// Gives each version its tags out of `tags` (by version number).
pub fn attach_tags(versions: &mut [ModelVersion], tags: &mut HashMap<i64, Vec<KeyValue>>) {
    for version in versions {
        version.tags = tags.remove(&version.version).unwrap_or_default();
    }
}

/// `get-latest-versions`: the latest versions in `stages` (every stage when empty), each
/// with its aliases.
pub fn latest_in_stages(
    latest: Vec<ModelVersion>,
    stages: &[Stage],
    aliases: &[RegisteredModelAlias],
) -> Vec<ModelVersion> {
    latest
        .into_iter()
        .filter(|version| stages.is_empty() || stages.contains(&version.current_stage))
        .map(|mut version| {
            version.aliases = aliases_of(aliases, version.version);
            version
        })
        .collect()
}

/// Whether `alias` is the reserved `latest` (any case), which names the highest version.
pub fn is_latest_alias(alias: &str) -> bool {
    alias.eq_ignore_ascii_case("latest")
}

/// The `latest` alias's version: the highest of the model's latest versions.
pub fn highest_version(latest: Vec<ModelVersion>, name: &str) -> Result<ModelVersion, Error> {
    latest
        .into_iter()
        .max_by_key(|version| version.version)
        .ok_or_else(|| Error::not_found(format!("Latest version not found for model {name}.")))
}

/// Where a version's artifacts are downloaded from: its storage location, or its source.
pub fn download_uri(storage_location: Option<String>, source: Option<String>) -> String {
    storage_location.filter(|location| !location.is_empty()).or(source).unwrap_or_default()
}

/// A webhook's events from its stored `(entity, action)` rows: each once, in the order of
/// their stored spellings (whatever order the rows came in, and whatever the database's
/// collation).
pub fn events_from_stored(rows: impl IntoIterator<Item = (String, String)>) -> Vec<WebhookEvent> {
    let mut rows: Vec<(String, String)> = rows.into_iter().collect();
    rows.sort();
    rows.dedup();
    rows.iter().filter_map(|(entity, action)| WebhookEvent::from_stored(entity, action)).collect()
}

/// Groups `(key, (tag key, tag value))` rows, each group in row order.
pub fn group_tags<K: std::hash::Hash + Eq>(rows: impl IntoIterator<Item = (K, KeyValue)>) -> HashMap<K, Vec<KeyValue>> {
    let mut grouped: HashMap<K, Vec<KeyValue>> = HashMap::new();
    for (key, tag) in rows {
        grouped.entry(key).or_default().push(tag);
    }
    grouped
}

// ---------------------------------------------------------------- messages

/// Creating a model whose name is taken: MLflow's message says whether a model or a
/// prompt holds it.
pub fn model_name_taken(name: &str, existing_tags: &[KeyValue], requested_tags: &[KeyValue]) -> Error {
    let has_prompt_key = |tags: &[KeyValue]| tags.iter().any(|tag| tag.key == PROMPT_TAG_KEY);
    registered_model_exists(name, has_prompt_key(existing_tags), has_prompt_key(requested_tags))
}

/// Renaming a model onto a taken name.
pub fn rename_target_taken(new_name: &str) -> Error {
    Error::already_exists(format!("Registered Model (name={new_name}) already exists."))
}

/// MLflow's message when `archive_existing_versions` is used with a non-active stage;
/// `stage` is shown as the client spelled it.
pub fn archive_needs_active_stage(stage: &str) -> Error {
    Error::invalid_parameter(format!(
        "Model version transition cannot archive existing model versions because '{stage}' is not an Active \
         stage. Valid stages are ['Staging', 'Production']"
    ))
}

/// A transition may archive the other versions only when it moves to an active stage.
pub fn check_transition(stage: Stage, archive_existing_versions: bool) -> Result<(), Error> {
    if archive_existing_versions && !stage.is_active() {
        return Err(archive_needs_active_stage(stage.as_str()));
    }
    Ok(())
}

/// An unknown alias is an invalid parameter, not a missing resource, as in MLflow.
pub fn alias_not_found(alias: &str) -> Error {
    Error::invalid_parameter(format!("Registered model alias {alias} not found."))
}

pub fn webhook_not_found(webhook_id: &str) -> Error {
    Error::not_found(format!("Webhook with ID {webhook_id} not found."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(number: i64, stage: Stage) -> ModelVersion {
        ModelVersion {
            name: "m".into(),
            version: number,
            creation_timestamp: 0,
            last_updated_timestamp: 0,
            user_id: None,
            current_stage: stage,
            description: None,
            source: None,
            run_id: None,
            status: MODEL_VERSION_STATUS_READY,
            status_message: None,
            tags: Vec::new(),
            run_link: None,
            aliases: Vec::new(),
        }
    }

    #[test]
    fn latest_per_stage_keeps_first_appearance_order() {
        let versions = vec![
            version(1, Stage::Staging),
            version(2, Stage::None),
            version(3, Stage::Staging),
            version(4, Stage::None),
        ];
        let latest: Vec<(i64, Stage)> =
            latest_per_stage(versions).into_iter().map(|v| (v.version, v.current_stage)).collect();
        assert_eq!(latest, vec![(3, Stage::Staging), (4, Stage::None)]);
    }

    #[test]
    fn events_are_unique_and_ordered_by_spelling() {
        let rows = [("model_version_tag", "set"), ("model_version", "created"), ("model_version", "created")]
            .map(|(e, a)| (e.to_string(), a.to_string()));
        let events: Vec<String> = events_from_stored(rows).iter().map(|e| e.to_string()).collect();
        assert_eq!(events, vec!["model_version.created", "model_version_tag.set"]);
    }

    #[test]
    fn tags_dedupe_to_the_last_value() {
        let tags = vec![KeyValue::new("a", "1"), KeyValue::new("b", "2"), KeyValue::new("a", "3")];
        assert_eq!(dedupe_tags(tags), vec![KeyValue::new("a", "3"), KeyValue::new("b", "2")]);
    }

    #[test]
    fn download_uri_prefers_a_storage_location() {
        assert_eq!(download_uri(Some("s3://x".into()), Some("models:/m".into())), "s3://x");
        assert_eq!(download_uri(Some(String::new()), Some("s3://y".into())), "s3://y");
        assert_eq!(download_uri(None, None), "");
    }
}
