//! MLflow's REST entities as they travel in JSON (protobuf's JSON mapping as MLflow's
//! server writes it). Every field an answer may leave out is defaulted, int64s are read
//! from numbers or strings, and metric values from numbers or `"NaN"`/`"Infinity"`.

use serde::{Deserialize, Deserializer, Serialize};

/// A key and its value: a param, or a run, experiment, model or version tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub experiment_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub artifact_location: String,
    #[serde(default)]
    pub lifecycle_stage: String,
    #[serde(default, deserialize_with = "opt_i64")]
    pub creation_time: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub last_update_time: Option<i64>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub key: String,
    #[serde(deserialize_with = "float")]
    pub value: f64,
    #[serde(default, deserialize_with = "i64_or_zero")]
    pub timestamp: i64,
    #[serde(default, deserialize_with = "i64_or_zero")]
    pub step: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    #[serde(default)]
    pub run_name: String,
    #[serde(default)]
    pub experiment_id: String,
    #[serde(default)]
    pub user_id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, deserialize_with = "opt_i64")]
    pub start_time: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub end_time: Option<i64>,
    #[serde(default)]
    pub artifact_uri: String,
    #[serde(default)]
    pub lifecycle_stage: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunData {
    /// The latest value of each metric.
    #[serde(default)]
    pub metrics: Vec<Metric>,
    #[serde(default)]
    pub params: Vec<KeyValue>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub source_type: String,
    #[serde(default)]
    pub source: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetInput {
    #[serde(default)]
    pub tags: Vec<KeyValue>,
    #[serde(default)]
    pub dataset: Dataset,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelInput {
    #[serde(default)]
    pub model_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInputs {
    #[serde(default)]
    pub dataset_inputs: Vec<DatasetInput>,
    #[serde(default)]
    pub model_inputs: Vec<ModelInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelOutput {
    #[serde(default)]
    pub model_id: String,
    #[serde(default, deserialize_with = "i64_or_zero")]
    pub step: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunOutputs {
    #[serde(default)]
    pub model_outputs: Vec<ModelOutput>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub info: RunInfo,
    #[serde(default)]
    pub data: RunData,
    #[serde(default)]
    pub inputs: RunInputs,
    #[serde(default)]
    pub outputs: RunOutputs,
}

impl Run {
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.data.metrics.iter().find(|m| m.key == key).map(|m| m.value)
    }

    pub fn param(&self, key: &str) -> Option<&str> {
        find(&self.data.params, key)
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        find(&self.data.tags, key)
    }
}

/// The value of `key` in a list of key-value pairs.
pub fn find<'a>(pairs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    pairs.iter().find(|p| p.key == key).map(|p| p.value.as_str())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelAlias {
    pub alias: String,
    pub version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub name: String,
    pub version: String,
    #[serde(default, deserialize_with = "opt_i64")]
    pub creation_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub last_updated_timestamp: Option<i64>,
    #[serde(default)]
    pub current_stage: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub run_id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub model_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegisteredModel {
    pub name: String,
    #[serde(default, deserialize_with = "opt_i64")]
    pub creation_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub last_updated_timestamp: Option<i64>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub latest_versions: Vec<ModelVersion>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
    #[serde(default)]
    pub aliases: Vec<ModelAlias>,
}

/// An MLflow 3 logged model (its `info`; metrics and params are left out).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoggedModelInfo {
    pub model_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub experiment_id: String,
    #[serde(default)]
    pub artifact_uri: String,
    #[serde(default)]
    pub source_run_id: String,
    #[serde(default, deserialize_with = "opt_i64")]
    pub creation_timestamp_ms: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoggedModel {
    pub info: LoggedModelInfo,
}

/// One entry of an artifact listing; `path` is relative to the listed root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub path: String,
    #[serde(default)]
    pub is_dir: bool,
    #[serde(default, deserialize_with = "opt_i64")]
    pub file_size: Option<i64>,
}

/// Which runs a search returns, by lifecycle stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ViewType {
    #[default]
    ActiveOnly,
    DeletedOnly,
    All,
}

/// A page of results and the token of the next page (`None` on the last one).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

/// A registered model version named by a `models:/` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelUri {
    /// `models:/NAME/VERSION`
    Version { name: String, version: String },
    /// `models:/NAME@ALIAS`
    Alias { name: String, alias: String },
    /// `models:/NAME/STAGE` (a stage name such as `Production`, or `latest`)
    Stage { name: String, stage: String },
}

impl std::str::FromStr for ModelUri {
    type Err = String;

    fn from_str(uri: &str) -> Result<Self, String> {
        let bad = || format!("'{uri}' is not a model URI: expected models:/NAME/VERSION or models:/NAME@ALIAS");
        let rest = uri.strip_prefix("models:/").ok_or_else(bad)?;
        if let Some((name, alias)) = rest.rsplit_once('@') {
            if name.is_empty() || alias.is_empty() || alias.contains('/') {
                return Err(bad());
            }
            return Ok(ModelUri::Alias { name: name.into(), alias: alias.into() });
        }
        let (name, suffix) = rest.rsplit_once('/').ok_or_else(bad)?;
        if name.is_empty() || suffix.is_empty() {
            return Err(bad());
        }
        if suffix.bytes().all(|b| b.is_ascii_digit()) {
            Ok(ModelUri::Version { name: name.into(), version: suffix.into() })
        } else {
            Ok(ModelUri::Stage { name: name.into(), stage: suffix.into() })
        }
    }
}

impl std::fmt::Display for ModelUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelUri::Version { name, version } => write!(f, "models:/{name}/{version}"),
            ModelUri::Alias { name, alias } => write!(f, "models:/{name}@{alias}"),
            ModelUri::Stage { name, stage } => write!(f, "models:/{name}/{stage}"),
        }
    }
}

/// An int64 as protobuf's JSON writes it: a number or a decimal string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Int64 {
    Number(i64),
    Text(String),
}

fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Int64>::deserialize(d)? {
        None => Ok(None),
        Some(Int64::Number(n)) => Ok(Some(n)),
        Some(Int64::Text(t)) => t.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

fn i64_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    opt_i64(d).map(Option::unwrap_or_default)
}

/// A double as MLflow writes it: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
fn float<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Double {
        Number(f64),
        Text(String),
    }
    match Double::deserialize(d)? {
        Double::Number(n) => Ok(n),
        Double::Text(t) => match t.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other.parse().map_err(serde::de::Error::custom),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_uris_parse_both_forms() {
        assert_eq!(
            "models:/churn@champion".parse::<ModelUri>(),
            Ok(ModelUri::Alias { name: "churn".into(), alias: "champion".into() })
        );
        assert_eq!(
            "models:/churn/3".parse::<ModelUri>(),
            Ok(ModelUri::Version { name: "churn".into(), version: "3".into() })
        );
        assert_eq!(
            "models:/churn/Production".parse::<ModelUri>(),
            Ok(ModelUri::Stage { name: "churn".into(), stage: "Production".into() })
        );
        assert!("runs:/abc/model".parse::<ModelUri>().is_err());
        assert!("models:/churn".parse::<ModelUri>().is_err());
        assert!("models:/@x".parse::<ModelUri>().is_err());
    }

    #[test]
    fn metrics_read_special_values_and_string_int64s() {
        let m: Metric = serde_json::from_str(r#"{"key":"a","value":"NaN","timestamp":"17","step":"2"}"#).unwrap();
        assert!(m.value.is_nan());
        assert_eq!((m.timestamp, m.step), (17, 2));
        let m: Metric = serde_json::from_str(r#"{"key":"a","value":"-Infinity"}"#).unwrap();
        assert_eq!(m.value, f64::NEG_INFINITY);
    }
}
