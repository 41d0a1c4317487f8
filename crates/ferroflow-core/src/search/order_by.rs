//! `order_by` clauses: `"<key> [ASC|DESC]"`, validated per entity like MLflow's SQL stores.
//!
//! MLflow strips the key's quotes with `shlex` before splitting off the prefix, so
//! ``metrics.`a b` `` and `metrics."a b"` both order by metric `a b`. Per entity:
//!
//! * runs: metrics, params, tags and the attributes `artifact_uri, end_time, run_id,
//!   run_name, start_time, status, user_id` (+ `created`/`Created` → `start_time`);
//! * experiments: `name, experiment_id, creation_time, last_update_time` (no tags);
//! * registered models: `name`, `timestamp`, `last_updated_timestamp` — MLflow sorts both
//!   timestamp keys by the last-update time, so `timestamp` is normalized to
//!   `last_updated_timestamp`;
//! * model versions: `name, version_number, creation_timestamp, last_updated_timestamp`;
//! * logged models (structured `order_by` objects): `metrics.<name>` or an attribute.

use winnow::stream::{LocatingSlice, Location};

use super::ast::{Entity, Key, KeyKind, OrderBy};
use super::syntax::{self, RawKey};
use super::validate::{clean_name, logged_model_attribute_alias, run_attribute_alias, run_prefix};
use crate::error::{Error, Result};

const RUN_ORDER_ATTRIBUTES: &[&str] =
    &["Created", "artifact_uri", "created", "end_time", "run_id", "run_name", "start_time", "status", "user_id"];
const EXPERIMENT_ORDER_ATTRIBUTES: &[&str] = &["creation_time", "experiment_id", "last_update_time", "name"];
const MODEL_VERSION_ORDER_ATTRIBUTES: &[&str] =
    &["creation_timestamp", "last_updated_timestamp", "name", "version_number"];
const LOGGED_MODEL_ORDER_ATTRIBUTES: &[&str] = &[
    "creation_time",
    "creation_timestamp",
    "last_updated_time",
    "last_updated_timestamp",
    "model_id",
    "model_type",
    "name",
    "source_run_id",
    "status",
];

fn set_repr(items: &[&str]) -> String {
    let parts: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// Parses one order_by clause for `entity`.
pub fn parse_order_by(entity: Entity, clause: &str) -> Result<OrderBy> {
    let (key, direction) = split_clause(clause)?;
    // MLflow only runs shlex (which drops the quotes) when a direction follows the key;
    // otherwise the raw key goes on, and only `_get_identifier` strips quotes from the
    // name part (registered models do not even do that).
    let text = if direction.is_some() { unquoted_text(&key) } else { key.text.clone() };
    let ascending = direction.unwrap_or(true);
    let key = match entity {
        Entity::Run => run_key(&text)?,
        Entity::Experiment => experiment_key(&text)?,
        Entity::RegisteredModel => registered_model_key(&text)?,
        Entity::ModelVersion => model_version_key(&text)?,
        Entity::LoggedModel => logged_model_key(&text)?,
    };
    Ok(OrderBy { key, ascending })
}

/// Parses a list of clauses, rejecting the duplicates MLflow rejects (runs, registered
/// models and model versions: the same field twice, aliases included).
pub fn parse_order_by_list<S: AsRef<str>>(entity: Entity, clauses: &[S]) -> Result<Vec<OrderBy>> {
    let mut parsed: Vec<OrderBy> = Vec::with_capacity(clauses.len());
    for clause in clauses {
        let order = parse_order_by(entity, clause.as_ref())?;
        let checks_duplicates = matches!(entity, Entity::Run | Entity::RegisteredModel | Entity::ModelVersion);
        if checks_duplicates && parsed.iter().any(|o| o.key == order.key) {
            let all: Vec<String> = clauses.iter().map(|c| format!("'{}'", c.as_ref())).collect();
            return Err(Error::invalid_parameter(format!(
                "`order_by` contains duplicate fields: [{}]",
                all.join(", ")
            )));
        }
        parsed.push(order);
    }
    Ok(parsed)
}

/// A logged-model `order_by` object: `field_name` is `metrics.<name>` (the name taken
/// verbatim) or an attribute.
pub fn parse_logged_model_order_by(field_name: &str, ascending: bool) -> Result<OrderBy> {
    let key = match field_name.split_once('.') {
        Some(("metrics", name)) => Key::new(KeyKind::Metric, name),
        Some(_) => {
            return Err(Error::invalid_parameter(format!(
                "Invalid order by field name: {field_name}. Only metrics are supported."
            )))
        }
        None => logged_model_attribute(field_name.trim())?,
    };
    Ok(OrderBy { key, ascending })
}

/// `<key> [ASC|DESC]` → (key, Some(ascending) if a direction was given).
fn split_clause(clause: &str) -> Result<(RawKey, Option<bool>)> {
    let unparsable = |pos: usize, what: &str| {
        let char_pos = clause[..pos].chars().count();
        let near: String = clause[pos..].chars().take(20).collect();
        Error::invalid_parameter(format!(
            "Invalid order_by clause '{clause}'. Could not be parsed: expected {what} at position \
             {char_pos} near '{near}'"
        ))
    };
    let mut input = LocatingSlice::new(clause);
    syntax::skip_ws(&mut input);
    let key = syntax::key(&mut input, false).map_err(|_| unparsable(input.current_token_start(), "a key"))?;
    syntax::skip_ws(&mut input);
    let rest: &str = &input;
    let word_len: usize = rest.chars().take_while(|c| syntax::is_word_char(*c)).map(char::len_utf8).sum();
    let direction = &rest[..word_len];
    let after = &rest[word_len..];
    if !after.trim().is_empty() {
        let pos = clause.len() - after.trim_start().len();
        return Err(unparsable(pos, "ASC, DESC or the end of the clause"));
    }
    let ascending = match direction.to_ascii_lowercase().as_str() {
        "" => None,
        "asc" => Some(true),
        "desc" => Some(false),
        _ => return Err(Error::invalid_parameter(format!("Invalid ordering key in order_by clause '{clause}'."))),
    };
    Ok((key, ascending))
}

/// The key text after shlex-style unquoting of each segment.
fn unquoted_text(key: &RawKey) -> String {
    let parts: Vec<&str> = key.segments.iter().map(|s| s.inner.as_str()).collect();
    parts.join(".")
}

fn invalid_attribute(name: &str, valid: &[&str]) -> Error {
    Error::invalid_parameter(format!("Invalid attribute key '{name}' specified. Valid keys are '{}'", set_repr(valid)))
}

fn run_key(text: &str) -> Result<Key> {
    let (kind, name) = match text.split_once('.') {
        None => (KeyKind::Attribute, clean_name(text)),
        Some((prefix, rest)) => match run_prefix(prefix) {
            Some(kind) => (kind, clean_name(rest)),
            None => {
                return Err(Error::invalid_parameter(format!(
                    "Invalid entity type '{prefix}'. Valid values are ['metric', 'parameter', 'tag', \
                     'attribute', 'dataset']"
                )))
            }
        },
    };
    let name = name.as_str();
    match kind {
        KeyKind::Attribute if !RUN_ORDER_ATTRIBUTES.contains(&name) => {
            Err(invalid_attribute(name, RUN_ORDER_ATTRIBUTES))
        }
        KeyKind::Attribute => Ok(Key::new(kind, run_attribute_alias(name))),
        KeyKind::Dataset => {
            Err(Error::invalid_parameter("Invalid identifier type 'dataset': runs cannot be ordered by datasets"))
        }
        _ => Ok(Key::new(kind, name)),
    }
}

/// `SearchExperimentsUtils._get_identifier`: prefix `attribute`, `tag` or `tags`.
fn registry_style_split(text: &str) -> Result<(KeyKind, String)> {
    match text.split_once('.') {
        None => Ok((KeyKind::Attribute, clean_name(text))),
        Some((prefix, rest)) => match prefix {
            "attribute" => Ok((KeyKind::Attribute, clean_name(rest))),
            "tag" | "tags" => Ok((KeyKind::Tag, clean_name(rest))),
            _ => Err(Error::invalid_parameter(format!(
                "Invalid entity type '{prefix}'. Valid entity types are ('attribute', 'tag', 'tags')"
            ))),
        },
    }
}

fn experiment_key(text: &str) -> Result<Key> {
    let (kind, name) = registry_style_split(text)?;
    let name = name.as_str();
    if kind == KeyKind::Tag {
        return Err(Error::invalid_parameter("Invalid order_by entity: tag"));
    }
    if !EXPERIMENT_ORDER_ATTRIBUTES.contains(&name) {
        return Err(invalid_attribute(name, EXPERIMENT_ORDER_ATTRIBUTES));
    }
    Ok(Key::new(KeyKind::Attribute, name))
}

fn registered_model_key(text: &str) -> Result<Key> {
    let name = match text {
        "name" => "name",
        "timestamp" | "last_updated_timestamp" => "last_updated_timestamp",
        _ => {
            return Err(Error::invalid_parameter(format!(
                "Invalid order by key '{text}' specified. Valid keys are '{{'name', 'timestamp'}}'"
            )))
        }
    };
    Ok(Key::new(KeyKind::Attribute, name))
}

fn model_version_key(text: &str) -> Result<Key> {
    // MLflow only checks the key part, so `tags.name` orders by the name attribute too.
    let (kind, name) = registry_style_split(text)?;
    let name = name.as_str();
    if !MODEL_VERSION_ORDER_ATTRIBUTES.contains(&name) {
        return Err(match kind {
            KeyKind::Attribute => invalid_attribute(name, MODEL_VERSION_ORDER_ATTRIBUTES),
            _ => Error::invalid_parameter(format!(
                "Invalid order by key '{name}' specified. Valid keys are {}",
                set_repr(MODEL_VERSION_ORDER_ATTRIBUTES)
            )),
        });
    }
    Ok(Key::new(KeyKind::Attribute, name))
}

fn logged_model_key(text: &str) -> Result<Key> {
    match text.split_once('.') {
        Some(("metrics", name)) => Ok(Key::new(KeyKind::Metric, name)),
        Some(_) => {
            Err(Error::invalid_parameter(format!("Invalid order by field name: {text}. Only metrics are supported.")))
        }
        None => logged_model_attribute(text),
    }
}

fn logged_model_attribute(name: &str) -> Result<Key> {
    if !LOGGED_MODEL_ORDER_ATTRIBUTES.contains(&name) {
        return Err(Error::invalid_parameter(format!("Invalid order by field name: {name}.")));
    }
    Ok(Key::new(KeyKind::Attribute, logged_model_attribute_alias(name)))
}
