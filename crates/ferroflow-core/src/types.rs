//! MLflow's tracking entities. They serialize to exactly MLflow's JSON output form:
//! snake_case keys, enum names, string ids, unset fields omitted, NaN as `"NaN"`.

use serde::{Serialize, Serializer};

/// A `{key, value}` pair: params, run tags, experiment tags and input tags share this shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self { key: key.into(), value: value.into() }
    }
}

pub type Param = KeyValue;
pub type RunTag = KeyValue;
pub type ExperimentTag = KeyValue;
pub type InputTag = KeyValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleStage {
    Active,
    Deleted,
}

impl LifecycleStage {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Active => "active",
            LifecycleStage::Deleted => "deleted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(LifecycleStage::Active),
            "deleted" => Some(LifecycleStage::Deleted),
            _ => None,
        }
    }
}

impl Serialize for LifecycleStage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Declares a protobuf enum: wire names, proto numbers, and name-or-number parsing.
macro_rules! proto_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $wire:literal => $number:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            pub fn number(self) -> i32 {
                match self { $($name::$variant => $number),+ }
            }

            pub fn from_number(number: i64) -> Option<Self> {
                match number { $($number => Some($name::$variant),)+ _ => None }
            }

            /// Accepts the proto name or, as protobuf JSON allows, the number as text.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($wire => Some($name::$variant),)+
                    other => other.parse::<i64>().ok().and_then(Self::from_number),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

proto_enum!(
    /// `mlflow.RunStatus`.
    RunStatus {
        Running = "RUNNING" => 1,
        Scheduled = "SCHEDULED" => 2,
        Finished = "FINISHED" => 3,
        Failed = "FAILED" => 4,
        Killed = "KILLED" => 5,
    }
);

proto_enum!(
    /// `mlflow.ViewType`: which lifecycle stages a search returns.
    ViewType {
        ActiveOnly = "ACTIVE_ONLY" => 1,
        DeletedOnly = "DELETED_ONLY" => 2,
        All = "ALL" => 3,
    }
);

impl ViewType {
    pub fn includes(self, stage: LifecycleStage) -> bool {
        match self {
            ViewType::ActiveOnly => stage == LifecycleStage::Active,
            ViewType::DeletedOnly => stage == LifecycleStage::Deleted,
            ViewType::All => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: LifecycleStage,
    pub last_update_time: i64,
    pub creation_time: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<ExperimentTag>,
}

/// A metric value as MLflow writes it: NaN and infinities become strings.
pub fn serialize_double<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_nan() {
        serializer.serialize_str("NaN")
    } else if *value == f64::INFINITY {
        serializer.serialize_str("Infinity")
    } else if *value == f64::NEG_INFINITY {
        serializer.serialize_str("-Infinity")
    } else {
        serializer.serialize_f64(*value)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    pub key: String,
    #[serde(serialize_with = "serialize_double")]
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

impl Metric {
    pub fn new(key: impl Into<String>, value: f64, timestamp: i64, step: i64) -> Self {
        Self {
            key: key.into(),
            value,
            timestamp,
            step,
            dataset_name: None,
            dataset_digest: None,
            model_id: None,
            run_id: None,
        }
    }

    /// MLflow's "latest" order: the strictly larger (step, timestamp, value) wins, with
    /// NaN counting as 0 (MLflow compares the stored value, and stores NaN as 0).
    pub fn is_newer_than(&self, other: &Metric) -> bool {
        let stored = |v: f64| if v.is_nan() { 0.0 } else { v };
        match (self.step, self.timestamp).cmp(&(other.step, other.timestamp)) {
            std::cmp::Ordering::Equal => stored(self.value) > stored(other.value),
            ordering => ordering == std::cmp::Ordering::Greater,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunInfo {
    pub run_uuid: String,
    pub experiment_id: String,
    pub run_name: String,
    pub user_id: String,
    pub status: RunStatus,
    pub start_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: LifecycleStage,
    pub run_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunData {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<RunTag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dataset {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// One (dataset, context) pair used by an experiment's runs, as `search-datasets` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetSummary {
    pub experiment_id: String,
    pub name: String,
    pub digest: String,
    /// The input's `mlflow.data.context` tag; omitted when absent or empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetInput {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<InputTag>,
    pub dataset: Dataset,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInput {
    pub model_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelOutput {
    pub model_id: String,
    pub step: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunInputs {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dataset_inputs: Vec<DatasetInput>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model_inputs: Vec<ModelInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunOutputs {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model_outputs: Vec<ModelOutput>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub info: RunInfo,
    pub data: RunData,
    pub inputs: RunInputs,
    pub outputs: RunOutputs,
}

/// One page of a paged listing; `next_page_token` is absent on the last page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_parse_names_and_numbers() {
        assert_eq!(RunStatus::parse("FINISHED"), Some(RunStatus::Finished));
        assert_eq!(RunStatus::parse("3"), Some(RunStatus::Finished));
        assert_eq!(RunStatus::parse("finished"), None);
        assert_eq!(ViewType::from_number(3), Some(ViewType::All));
    }

    #[test]
    fn nan_and_infinity_serialize_as_strings() {
        let json = serde_json::to_string(&Metric::new("m", f64::NAN, 1, 0)).unwrap();
        assert!(json.contains(r#""value":"NaN""#), "{json}");
        let json = serde_json::to_string(&Metric::new("m", f64::NEG_INFINITY, 1, 0)).unwrap();
        assert!(json.contains(r#""value":"-Infinity""#), "{json}");
    }

    #[test]
    fn latest_metric_orders_by_step_then_timestamp_then_value() {
        let a = Metric::new("m", 1.0, 10, 2);
        let b = Metric::new("m", 5.0, 99, 1);
        assert!(a.is_newer_than(&b));
        let c = Metric::new("m", 2.0, 10, 2);
        assert!(c.is_newer_than(&a));
        let nan = Metric::new("m", f64::NAN, 10, 2);
        assert!(a.is_newer_than(&nan));
    }
}

proto_enum!(
    /// `mlflow.LoggedModelStatus`.
    LoggedModelStatus {
        Unspecified = "LOGGED_MODEL_STATUS_UNSPECIFIED" => 0,
        Pending = "LOGGED_MODEL_PENDING" => 1,
        Ready = "LOGGED_MODEL_READY" => 2,
        UploadFailed = "LOGGED_MODEL_UPLOAD_FAILED" => 3,
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelRegistration {
    pub name: String,
    pub version: String,
}

/// An MLflow 3 logged model's metadata.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedModelInfo {
    pub model_id: String,
    pub experiment_id: String,
    pub name: String,
    pub creation_timestamp_ms: i64,
    pub last_updated_timestamp_ms: i64,
    pub artifact_uri: String,
    pub status: LoggedModelStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator_id: Option<i64>,
    pub model_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub registrations: Vec<ModelRegistration>,
    #[serde(skip)]
    pub lifecycle_stage: LifecycleStage,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoggedModelData {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedModel {
    pub info: LoggedModelInfo,
    pub data: LoggedModelData,
}
