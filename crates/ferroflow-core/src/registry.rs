//! The model registry's entities and input rules: registered models, model versions,
//! stages, aliases, tags and webhooks, as MLflow's SQL store and server define them
//! (`mlflow/store/model_registry/`, `mlflow/utils/validation.py`, `mlflow/entities/webhook.py`).
//!
//! Entities serialize to MLflow's output form: snake_case, string versions, unset fields
//! omitted. A webhook's secret is never serialized and never shown by `Debug`.

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::error::{Error, Result};
use crate::types::KeyValue;
use crate::validation::{check_length, posix_normpath, validate_key, KeyKind};

/// The tag that marks a registered model (and its versions) as a prompt.
pub const PROMPT_TAG_KEY: &str = "mlflow.prompt.is_prompt";
/// Prompt-internal tags that webhook payloads for prompts leave out.
pub const PROMPT_TYPE_TAG_KEY: &str = "_mlflow_prompt_type";
pub const PROMPT_TEXT_TAG_KEY: &str = "mlflow.prompt.text";
/// Sources a prompt version may have (`_PROMPT_SOURCE_PLACEHOLDERS`).
pub const PROMPT_SOURCE_PLACEHOLDERS: &[&str] = &["dummy-source", "prompt-template"];

pub const MAX_MODEL_REGISTRY_TAG_KEY_LENGTH: usize = 250;
pub const MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH: usize = 100_000;
pub const MAX_REGISTERED_MODEL_ALIAS_LENGTH: usize = 255;
/// `registered-models/search` accepts at most this many results per page.
pub const MAX_RESULTS_SEARCH_REGISTERED_MODELS: i64 = 1000;
pub const DEFAULT_MAX_RESULTS_SEARCH_REGISTERED_MODELS: i64 = 100;
/// `model-versions/search` accepts at most this many results per page.
pub const MAX_RESULTS_SEARCH_MODEL_VERSIONS: i64 = 200_000;
/// The status every version is created in: the SQL store has no asynchronous registration.
pub const MODEL_VERSION_STATUS_READY: &str = "READY";

// ---------------------------------------------------------------- stages

/// A model version's stage. Input is case-insensitive; the stored form is canonical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    None,
    Staging,
    Production,
    Archived,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::None, Stage::Staging, Stage::Production, Stage::Archived];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Archived => "Archived",
        }
    }

    /// MLflow's `get_canonical_stage`: any capitalisation of the four stage names.
    pub fn parse(text: &str) -> Result<Stage> {
        Stage::ALL.into_iter().find(|stage| stage.as_str().eq_ignore_ascii_case(text)).ok_or_else(|| {
            Error::invalid_parameter(format!(
                "Invalid Model Version stage: {text}. Value must be one of None, Staging, Production, Archived."
            ))
        })
    }

    /// Staging and Production, the stages `archive_existing_versions` may be used with.
    pub fn is_active(self) -> bool {
        matches!(self, Stage::Staging | Stage::Production)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------- entities

/// `mlflow.ModelVersion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelVersion {
    pub name: String,
    /// The version number; always a positive integer, sent as a string.
    #[serde(serialize_with = "serialize_version")]
    pub version: i64,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub current_stage: Stage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Always `READY`: the client polls for minutes on anything else.
    pub status: &'static str,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub status_message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_link: Option<String>,
    /// Aliases pointing at this version; MLflow fills them on single-version answers only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

impl ModelVersion {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|tag| tag.key == key).map(|tag| tag.value.as_str())
    }
}

impl Serialize for Stage {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

fn serialize_version<S: Serializer>(version: &i64, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_str(version)
}

fn is_none_or_empty(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(str::is_empty)
}

/// `mlflow.RegisteredModelAlias`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisteredModelAlias {
    pub alias: String,
    #[serde(serialize_with = "serialize_version")]
    pub version: i64,
}

/// `mlflow.RegisteredModel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisteredModel {
    pub name: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    /// MLflow omits an empty description.
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub description: Option<String>,
    /// The highest version in each stage.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub latest_versions: Vec<ModelVersion>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<RegisteredModelAlias>,
}

impl RegisteredModel {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|tag| tag.key == key).map(|tag| tag.value.as_str())
    }

    /// Prompts are registered models carrying `mlflow.prompt.is_prompt = true`.
    pub fn is_prompt(&self) -> bool {
        self.tag(PROMPT_TAG_KEY).is_some_and(|value| value.eq_ignore_ascii_case("true"))
    }
}

/// Whether a tag list marks a prompt (`_is_prompt_request`: the last value of the key wins).
pub fn tags_mark_prompt(tags: &[KeyValue]) -> bool {
    tags.iter().rev().find(|tag| tag.key == PROMPT_TAG_KEY).is_some_and(|tag| tag.value.eq_ignore_ascii_case("true"))
}

// ---------------------------------------------------------------- input rules

/// MLflow's `invalid_value`: the value JSON-encoded.
fn invalid_value(parameter: &str, value: &str, reason: &str) -> Error {
    let shown = serde_json::to_string(value).unwrap_or_default();
    Error::invalid_parameter(format!("Invalid value {shown} for parameter '{parameter}' supplied: {reason}"))
}

/// `_validate_model_name`: non-blank, no `/` or `:`, and not a path that resolves elsewhere.
pub fn validate_model_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid_parameter("Missing value for required parameter 'name'."));
    }
    if name.contains('/') || name.contains(':') {
        return Err(Error::invalid_parameter(format!("Invalid model name '{name}'. Names cannot contain '/' or ':'.")));
    }
    let normalized = posix_normpath(name);
    if normalized != name || normalized == "." || normalized.starts_with("..") || normalized.starts_with('/') {
        return Err(invalid_value(
            "name",
            name,
            &format!(
                "Names may be treated as files in certain cases, and must not resolve to other names \
                 when treated as such. This name would resolve to '{normalized}'"
            ),
        ));
    }
    Ok(())
}

/// `_validate_model_renaming`.
pub fn validate_new_model_name(new_name: &str) -> Result<()> {
    if new_name.trim().is_empty() {
        return Err(Error::invalid_parameter("Missing value for required parameter 'new_name'."));
    }
    validate_model_name(new_name)
}

/// `_validate_model_version`: Python's `int()` of the text.
pub fn parse_version(text: &str) -> Result<i64> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let cleaned: String = digits.chars().filter(|c| *c != '_').collect();
    let valid_underscores = !digits.starts_with('_') && !digits.ends_with('_') && !digits.contains("__");
    match cleaned.parse::<i64>() {
        Ok(version) if valid_underscores && !cleaned.is_empty() => Ok(version),
        _ => Err(Error::invalid_parameter(format!("Parameter 'version' must be an integer, got '{text}'."))),
    }
}

/// `_validate_alias_name`: word characters and dashes, at most 255 characters.
pub fn validate_alias_name(alias: &str) -> Result<()> {
    if alias.is_empty() {
        return Err(Error::invalid_parameter("Registered model alias name cannot be empty."));
    }
    if !alias.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
        return Err(Error::invalid_parameter(format!(
            "Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-)."
        )));
    }
    check_length("Registered model alias name", MAX_REGISTERED_MODEL_ALIAS_LENGTH, alias)
}

/// `_validate_alias_name_reserved`: `latest` (any case) and `v<digits>` are taken.
pub fn validate_alias_not_reserved(alias: &str) -> Result<()> {
    if alias.eq_ignore_ascii_case("latest") {
        return Err(Error::invalid_parameter("'latest' alias name (case insensitive) is reserved."));
    }
    let mut chars = alias.chars();
    let versionlike = matches!(chars.next(), Some('v' | 'V'))
        && alias.len() > 1
        && chars.all(|c| c.is_ascii_digit() || c.is_numeric());
    if versionlike {
        return Err(Error::invalid_parameter(format!("Version alias name '{alias}' is reserved.")));
    }
    Ok(())
}

/// A registry tag key, with the tracking key rules (`_validate_tag_name`).
pub fn validate_tag_key(key: &str) -> Result<()> {
    validate_key(KeyKind::Tag, key, "key")
}

/// `_validate_registered_model_tag`.
pub fn validate_registered_model_tag(tag: &KeyValue) -> Result<()> {
    validate_tag_key(&tag.key)?;
    check_length("key", MAX_MODEL_REGISTRY_TAG_KEY_LENGTH, &tag.key)?;
    check_length("value", MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH, &tag.value)
}

/// `_validate_model_version_tag`.
pub fn validate_model_version_tag(tag: &KeyValue) -> Result<()> {
    validate_tag_key(&tag.key)?;
    check_length("key", MAX_MODEL_REGISTRY_TAG_KEY_LENGTH, &tag.key)?;
    if tag.key == PROMPT_TEXT_TAG_KEY && tag.value.chars().count() > MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH {
        return Err(Error::invalid_parameter(format!(
            "Prompt text exceeds max length of {MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH} characters."
        )));
    }
    check_length("value", MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH, &tag.value)
}

/// The message MLflow gives for a missing registered model.
pub fn registered_model_not_found(name: &str) -> Error {
    Error::not_found(format!("Registered Model with name={name} not found"))
}

/// The message MLflow gives for a missing (or deleted) model version.
pub fn model_version_not_found(name: &str, version: impl fmt::Display) -> Error {
    Error::not_found(format!("Model Version (name={name}, version={version}) not found"))
}

/// The message MLflow gives when a name is taken, telling models and prompts apart.
pub fn registered_model_exists(name: &str, existing_is_prompt: bool, new_is_prompt: bool) -> Error {
    let entity = |prompt: bool| if prompt { "Prompt" } else { "Registered Model" };
    let (old, new) = (entity(existing_is_prompt), entity(new_is_prompt));
    if old != new {
        return Error::already_exists(format!(
            "Tried to create a {} with name '{name}', but the name is already taken by a {}. MLflow does \
             not allow creating a model and a prompt with the same name.",
            new.to_lowercase(),
            old.to_lowercase()
        ));
    }
    Error::already_exists(format!("{new} (name={name}) already exists."))
}

// ---------------------------------------------------------------- models:/ URIs

/// A parsed `models:/` URI (`_parse_model_uri`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelUri {
    /// `models:/<model_id>`: an MLflow 3 logged model.
    LoggedModel(String),
    /// `models:/<name>/<version>`.
    Version { name: String, version: String },
    /// `models:/<name>/<stage>`: the latest version in that stage.
    Stage { name: String, stage: String },
    /// `models:/<name>/latest`: the latest version of all.
    Latest { name: String },
    /// `models:/<name>@<alias>`.
    Alias { name: String, alias: String },
}

impl ModelUri {
    /// Parses the path of a `models:` URI (everything after the scheme), or `None` when it is
    /// not a proper `models:/` URI.
    pub fn parse_path(path: &str) -> Option<ModelUri> {
        let path = path.strip_prefix('/')?;
        if path.is_empty() {
            return None;
        }
        let parts: Vec<&str> = path.split('/').collect();
        if parts.len() > 2 || parts[0].trim().is_empty() {
            return None;
        }
        if let [name, suffix] = parts[..] {
            if suffix.trim().is_empty() {
                return None;
            }
            let (name, suffix) = (name.to_string(), suffix.to_string());
            return Some(if suffix.chars().all(|c| c.is_ascii_digit()) {
                ModelUri::Version { name, version: suffix }
            } else if suffix.eq_ignore_ascii_case("latest") {
                ModelUri::Latest { name }
            } else {
                ModelUri::Stage { name, stage: suffix }
            });
        }
        if path.contains('@') {
            let (name, alias) = parts[0].rsplit_once('@')?;
            if alias.trim().is_empty() {
                return None;
            }
            return Some(ModelUri::Alias { name: name.to_string(), alias: alias.to_string() });
        }
        Some(ModelUri::LoggedModel(parts[0].to_string()))
    }
}

// ---------------------------------------------------------------- webhooks

/// Declares a webhook enum: its proto name, its number, and its lower-case event spelling.
macro_rules! webhook_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $proto:literal, $number:literal, $lower:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The protobuf enum name, e.g. `REGISTERED_MODEL`.
            pub fn proto_name(self) -> &'static str {
                match self { $($name::$variant => $proto),+ }
            }

            /// The event-string spelling, e.g. `registered_model`.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $lower),+ }
            }

            pub fn number(self) -> i32 {
                match self { $($name::$variant => $number),+ }
            }

            /// By proto name, by number, or by the lower-case spelling.
            pub fn parse(text: &str) -> Option<Self> {
                $name::ALL.iter().copied().find(|v| {
                    v.proto_name() == text || v.as_str() == text || text.parse::<i32>().ok() == Some(v.number())
                })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.proto_name())
            }
        }
    };
}

webhook_enum!(
    /// `mlflow.WebhookEntity` (without `ENTITY_UNSPECIFIED`).
    WebhookEntity {
        RegisteredModel = "REGISTERED_MODEL", 1, "registered_model";
        ModelVersion = "MODEL_VERSION", 2, "model_version";
        ModelVersionTag = "MODEL_VERSION_TAG", 3, "model_version_tag";
        ModelVersionAlias = "MODEL_VERSION_ALIAS", 4, "model_version_alias";
        Prompt = "PROMPT", 5, "prompt";
        PromptVersion = "PROMPT_VERSION", 6, "prompt_version";
        PromptTag = "PROMPT_TAG", 7, "prompt_tag";
        PromptVersionTag = "PROMPT_VERSION_TAG", 8, "prompt_version_tag";
        PromptAlias = "PROMPT_ALIAS", 9, "prompt_alias";
        BudgetPolicy = "BUDGET_POLICY", 10, "budget_policy";
    }
);

webhook_enum!(
    /// `mlflow.WebhookAction` (without `ACTION_UNSPECIFIED`).
    WebhookAction {
        Created = "CREATED", 1, "created";
        Updated = "UPDATED", 2, "updated";
        Deleted = "DELETED", 3, "deleted";
        Set = "SET", 4, "set";
        Exceeded = "EXCEEDED", 5, "exceeded";
    }
);

webhook_enum!(
    /// `mlflow.WebhookStatus`.
    WebhookStatus {
        Active = "ACTIVE", 1, "active";
        Disabled = "DISABLED", 2, "disabled";
    }
);

impl WebhookEntity {
    /// `VALID_ENTITY_ACTIONS`.
    pub fn valid_actions(self) -> &'static [WebhookAction] {
        use WebhookAction::*;
        match self {
            WebhookEntity::RegisteredModel
            | WebhookEntity::ModelVersion
            | WebhookEntity::Prompt
            | WebhookEntity::PromptVersion => &[Created],
            WebhookEntity::ModelVersionTag | WebhookEntity::PromptTag | WebhookEntity::PromptVersionTag => {
                &[Deleted, Set]
            }
            WebhookEntity::ModelVersionAlias | WebhookEntity::PromptAlias => &[Created, Deleted],
            WebhookEntity::BudgetPolicy => &[Exceeded],
        }
    }
}

/// An event a webhook subscribes to: an entity and an action, e.g. `model_version.created`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WebhookEvent {
    pub entity: WebhookEntity,
    pub action: WebhookAction,
}

impl WebhookEvent {
    /// A valid entity/action combination, or MLflow's error for an invalid one.
    pub fn new(entity: WebhookEntity, action: WebhookAction) -> Result<Self> {
        if entity.valid_actions().contains(&action) {
            return Ok(Self { entity, action });
        }
        let valid: Vec<String> = entity.valid_actions().iter().map(|a| format!("'{}'", a.as_str())).collect();
        Err(Error::invalid_parameter(format!(
            "Invalid action '{}' for entity '{}'. Valid actions are: [{}]",
            action.as_str(),
            entity.as_str(),
            valid.join(", ")
        )))
    }

    /// Builds an event from the stored lower-case spellings.
    pub fn from_stored(entity: &str, action: &str) -> Option<Self> {
        Some(Self { entity: WebhookEntity::parse(entity)?, action: WebhookAction::parse(action)? })
    }
}

impl fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.entity.as_str(), self.action.as_str())
    }
}

impl Serialize for WebhookEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("WebhookEvent", 2)?;
        s.serialize_field("entity", &self.entity)?;
        s.serialize_field("action", &self.action)?;
        s.end()
    }
}

/// `mlflow.Webhook`. The secret is kept for signing deliveries and is never serialized
/// or printed.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    pub webhook_id: String,
    pub name: String,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub description: Option<String>,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub status: WebhookStatus,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    #[serde(skip)]
    pub secret: Option<String>,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("webhook_id", &self.webhook_id)
            .field("name", &self.name)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("status", &self.status)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Webhook {
    pub fn is_active(&self) -> bool {
        self.status == WebhookStatus::Active
    }
}

/// `_validate_webhook_name`: 1–63 characters, letters, digits, `.`, `_`, `-`, starting and
/// ending with a letter or digit.
pub fn validate_webhook_name(name: &str) -> Result<()> {
    let chars: Vec<char> = name.chars().collect();
    let edge_ok = |c: Option<&char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let valid = (1..=63).contains(&chars.len())
        && edge_ok(chars.first())
        && edge_ok(chars.last())
        && chars.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        return Ok(());
    }
    Err(Error::invalid_parameter(format!(
        "Webhook name '{name}' is invalid. It must start and end with a letter or digit, be less than 63 \
         characters long, and contain only letters, digits, dots (.), underscores (_), and hyphens (-)."
    )))
}

/// `_validate_webhook_events`: at least one.
pub fn validate_webhook_events(events: &[WebhookEvent]) -> Result<()> {
    if events.is_empty() {
        return Err(Error::invalid_parameter("Webhook events must be a non-empty list of WebhookEvent objects: []."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_case_insensitive_and_canonical() {
        assert_eq!(Stage::parse("staging").unwrap(), Stage::Staging);
        assert_eq!(Stage::parse("PRODUCTION").unwrap().as_str(), "Production");
        assert_eq!(Stage::parse("none").unwrap(), Stage::None);
        let err = Stage::parse("Bogus").unwrap_err();
        assert_eq!(
            err.message,
            "Invalid Model Version stage: Bogus. Value must be one of None, Staging, Production, Archived."
        );
        assert!(Stage::Staging.is_active() && !Stage::Archived.is_active());
    }

    #[test]
    fn model_names() {
        assert!(validate_model_name("churn-predictor").is_ok());
        assert!(validate_model_name("with space.v2").is_ok());
        assert_eq!(
            validate_model_name("a/b").unwrap_err().message,
            "Invalid model name 'a/b'. Names cannot contain '/' or ':'."
        );
        assert!(validate_model_name("a:b").is_err());
        assert!(validate_model_name("..").unwrap_err().message.contains("would resolve to '..'"));
        assert!(validate_model_name(".").is_err());
        assert_eq!(validate_model_name("  ").unwrap_err().message, "Missing value for required parameter 'name'.");
    }

    #[test]
    fn versions_parse_like_python_int() {
        assert_eq!(parse_version("3").unwrap(), 3);
        assert_eq!(parse_version(" 12 ").unwrap(), 12);
        assert_eq!(parse_version("+4").unwrap(), 4);
        assert_eq!(parse_version("1_0").unwrap(), 10);
        assert_eq!(parse_version("x").unwrap_err().message, "Parameter 'version' must be an integer, got 'x'.");
        assert!(parse_version("").is_err());
        assert!(parse_version("1.5").is_err());
        assert!(parse_version("_1").is_err());
    }

    #[test]
    fn aliases() {
        assert!(validate_alias_name("champion").is_ok());
        assert!(validate_alias_name("a-b_c1").is_ok());
        assert!(validate_alias_name("a b").is_err());
        assert!(validate_alias_name("").is_err());
        assert!(validate_alias_name(&"a".repeat(256)).is_err());
        assert!(validate_alias_not_reserved("LaTeSt").is_err());
        assert_eq!(validate_alias_not_reserved("v3").unwrap_err().message, "Version alias name 'v3' is reserved.");
        assert!(validate_alias_not_reserved("V12").is_err());
        assert!(validate_alias_not_reserved("v").is_ok());
        assert!(validate_alias_not_reserved("v1a").is_ok());
        assert!(validate_alias_not_reserved("champion").is_ok());
    }

    #[test]
    fn model_uris() {
        let parse = |p: &str| ModelUri::parse_path(p);
        assert_eq!(parse("/m/3"), Some(ModelUri::Version { name: "m".into(), version: "3".into() }));
        assert_eq!(parse("/m/Production"), Some(ModelUri::Stage { name: "m".into(), stage: "Production".into() }));
        assert_eq!(parse("/m/LATEST"), Some(ModelUri::Latest { name: "m".into() }));
        assert_eq!(parse("/m@champ"), Some(ModelUri::Alias { name: "m".into(), alias: "champ".into() }));
        assert_eq!(parse("/m-abc"), Some(ModelUri::LoggedModel("m-abc".into())));
        for bad in ["", "/", "m/1", "/a/b/c", "/m/", "/m@", "/ /1"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn webhook_events_and_names() {
        let event = WebhookEvent::new(WebhookEntity::ModelVersionTag, WebhookAction::Set).unwrap();
        assert_eq!(event.to_string(), "model_version_tag.set");
        assert_eq!(serde_json::to_string(&event).unwrap(), r#"{"entity":"MODEL_VERSION_TAG","action":"SET"}"#);
        let err = WebhookEvent::new(WebhookEntity::RegisteredModel, WebhookAction::Deleted).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid action 'deleted' for entity 'registered_model'. Valid actions are: ['created']"
        );
        assert_eq!(WebhookEntity::parse("2"), Some(WebhookEntity::ModelVersion));
        assert_eq!(WebhookEntity::parse("model_version_alias"), Some(WebhookEntity::ModelVersionAlias));
        assert!(validate_webhook_name("ci-hook.v1").is_ok());
        assert!(validate_webhook_name("-bad").is_err());
        assert!(validate_webhook_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn webhook_secrets_are_never_serialized_or_printed() {
        let webhook = Webhook {
            webhook_id: "id".into(),
            name: "n".into(),
            description: None,
            url: "https://example.com".into(),
            events: vec![WebhookEvent::new(WebhookEntity::ModelVersion, WebhookAction::Created).unwrap()],
            status: WebhookStatus::Active,
            creation_timestamp: 1,
            last_updated_timestamp: 1,
            secret: Some("hunter2".into()),
        };
        assert!(!serde_json::to_string(&webhook).unwrap().contains("hunter2"));
        assert!(!format!("{webhook:?}").contains("hunter2"));
    }

    #[test]
    fn versions_serialize_as_strings_and_omit_unset_fields() {
        let version = ModelVersion {
            name: "m".into(),
            version: 2,
            creation_timestamp: 1,
            last_updated_timestamp: 2,
            user_id: None,
            current_stage: Stage::None,
            description: Some(String::new()),
            source: Some("s3://b/m".into()),
            run_id: Some(String::new()),
            status: MODEL_VERSION_STATUS_READY,
            status_message: None,
            tags: vec![],
            run_link: Some(String::new()),
            aliases: vec![],
        };
        let json = serde_json::to_value(&version).unwrap();
        assert_eq!(json["version"], "2");
        assert_eq!(json["current_stage"], "None");
        assert_eq!(json["status"], "READY");
        assert_eq!(json["description"], "");
        assert!(json.get("user_id").is_none() && json.get("aliases").is_none() && json.get("tags").is_none());
    }
}
