//! The legacy `runs/log-model` record: MLflow 2.x clients post each logged model's MLmodel
//! description, and the server appends a summary of it to the run's
//! `mlflow.log-model.history` tag, a JSON list written as Python's `json.dumps` writes it.

use serde_json::Value;

use crate::{Error, Result};

/// The tag that holds the list.
pub const HISTORY_TAG: &str = "mlflow.log-model.history";

/// Fields an MLmodel description must have, as MLflow's handler checks.
const MANDATORY_FIELDS: [&str; 4] = ["artifact_path", "flavors", "run_id", "utc_time_created"];

/// Parses `model_json` and returns the history entry MLflow records for it (its
/// `Model.get_tags_dict()`): run_id, artifact_path, utc_time_created, model_uuid, and the
/// flavors without their `config`, in Python's JSON formatting. `now` stands in for a
/// missing creation time, as Python's `str(datetime.utcnow())`.
pub fn history_entry(model_json: &str, now: impl FnOnce() -> String) -> Result<String> {
    let model: Value = serde_json::from_str(model_json).map_err(|_| {
        Error::invalid_parameter(format!("Malformed model info. \n {model_json} \n is not a valid JSON."))
    })?;
    let Value::Object(fields) = model else {
        return Err(Error::invalid_parameter(format!(
            "Malformed model info. \n {model_json} \n is not a JSON object."
        )));
    };
    let missing: Vec<String> =
        MANDATORY_FIELDS.iter().filter(|f| !fields.contains_key(**f)).map(|f| format!("'{f}'")).collect();
    if !missing.is_empty() {
        return Err(Error::invalid_parameter(format!(
            "Model json is missing mandatory fields: {{{}}}",
            missing.join(", ")
        )));
    }
    let mut entry = Vec::new();
    for key in ["run_id", "artifact_path"] {
        // MLflow drops these when they are null.
        if let Some(value) = fields.get(key).filter(|v| !v.is_null()) {
            entry.push((key, dumps(value)));
        }
    }
    let created = match fields.get("utc_time_created") {
        Some(Value::String(text)) if !text.is_empty() => text.clone(),
        Some(value) if truthy(value) => python_str(value),
        _ => now(),
    };
    entry.push(("utc_time_created", dumps(&Value::String(created))));
    entry.push(("model_uuid", dumps(fields.get("model_uuid").unwrap_or(&Value::Null))));
    let flavors = match fields.get("flavors") {
        Some(Value::Object(flavors)) => {
            let listed: Vec<String> = flavors
                .iter()
                .map(|(name, config)| {
                    let config = match config {
                        Value::Object(settings) => {
                            let kept = settings.iter().filter(|(k, _)| k.as_str() != "config");
                            object(kept.map(|(k, v)| (k.as_str(), dumps(v))))
                        }
                        other => dumps(other),
                    };
                    (name.as_str(), config)
                })
                .map(|(name, config)| format!("{}: {config}", dumps(&Value::String(name.to_string()))))
                .collect();
            format!("{{{}}}", listed.join(", "))
        }
        _ => "{}".to_string(),
    };
    entry.push(("flavors", flavors));
    Ok(object(entry.into_iter()))
}

/// `history` (the tag's current value, if any) with `entry` appended. The earlier entries
/// are kept byte for byte.
pub fn append_entry(history: Option<&str>, entry: &str) -> Result<String> {
    let Some(history) = history.map(str::trim) else { return Ok(format!("[{entry}]")) };
    let is_list = matches!(serde_json::from_str::<Value>(history), Ok(Value::Array(_)));
    if !is_list {
        return Err(Error::invalid_parameter(format!(
            "The run's '{HISTORY_TAG}' tag is not a JSON list, so no model can be appended to it."
        )));
    }
    let inner = history[1..history.len() - 1].trim();
    Ok(if inner.is_empty() { format!("[{entry}]") } else { format!("[{inner}, {entry}]") })
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(fields) => !fields.is_empty(),
    }
}

/// Python's `str()` of a scalar decoded from JSON.
fn python_str(value: &Value) -> String {
    match value {
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(text) => text.clone(),
        other => dumps(other),
    }
}

fn object<'a>(fields: impl Iterator<Item = (&'a str, String)>) -> String {
    let fields: Vec<String> = fields.map(|(k, v)| format!("{}: {v}", dumps(&Value::String(k.to_string())))).collect();
    format!("{{{}}}", fields.join(", "))
}

/// `json.dumps(value)` with Python's defaults: `", "` and `": "` separators, non-ASCII
/// escaped as `\uXXXX`. (Object keys come out in serde_json's order, sorted.)
pub fn dumps(value: &Value) -> String {
    match value {
        Value::String(text) => {
            let mut out = String::with_capacity(text.len() + 2);
            crate::pyjson::push_string(&mut out, text);
            out
        }
        Value::Array(items) => format!("[{}]", items.iter().map(dumps).collect::<Vec<_>>().join(", ")),
        Value::Object(fields) => object(fields.iter().map(|(k, v)| (k.as_str(), dumps(v)))),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = r#"{"run_id": "abc", "artifact_path": "model", "utc_time_created": "2026-11-26 10:00:00.000001",
        "flavors": {"python_function": {"loader_module": "mlflow.sklearn", "config": {"x": 1}, "env": "conda.yaml"},
                    "sklearn": {"sklearn_version": "1.5.0"}},
        "model_uuid": "u1", "signature": {"inputs": "[]"}}"#;

    #[test]
    fn the_entry_is_mlflows_tags_dict_in_python_json() {
        let entry = history_entry(MODEL, || unreachable!()).unwrap();
        assert_eq!(
            entry,
            r#"{"run_id": "abc", "artifact_path": "model", "utc_time_created": "2026-11-26 10:00:00.000001", "model_uuid": "u1", "flavors": {"python_function": {"env": "conda.yaml", "loader_module": "mlflow.sklearn"}, "sklearn": {"sklearn_version": "1.5.0"}}}"#
        );
    }

    #[test]
    fn missing_creation_time_and_uuid_are_filled_like_mlflow() {
        let entry =
            history_entry(r#"{"run_id": null, "artifact_path": "m", "utc_time_created": null, "flavors": {}}"#, || {
                "2026-11-26 12:00:00.5".into()
            })
            .unwrap();
        assert_eq!(
            entry,
            r#"{"artifact_path": "m", "utc_time_created": "2026-11-26 12:00:00.5", "model_uuid": null, "flavors": {}}"#
        );
    }

    #[test]
    fn bad_model_json_is_refused_with_mlflows_messages() {
        let error = history_entry("{not json", String::new).unwrap_err();
        assert_eq!(error.message, "Malformed model info. \n {not json \n is not a valid JSON.");
        let error = history_entry(r#"{"run_id": "a", "artifact_path": "m"}"#, String::new).unwrap_err();
        assert_eq!(error.message, "Model json is missing mandatory fields: {'flavors', 'utc_time_created'}");
        assert!(history_entry("[1]", String::new).is_err());
    }

    #[test]
    fn entries_append_to_the_list_keeping_earlier_ones() {
        assert_eq!(append_entry(None, "{\"a\": 1}").unwrap(), "[{\"a\": 1}]");
        assert_eq!(append_entry(Some("[]"), "{\"a\": 1}").unwrap(), "[{\"a\": 1}]");
        assert_eq!(
            append_entry(Some("[{\"z\": 0, \"b\": 2}]"), "{\"a\": 1}").unwrap(),
            "[{\"z\": 0, \"b\": 2}, {\"a\": 1}]"
        );
        assert!(append_entry(Some("not a list"), "{}").is_err());
        assert!(append_entry(Some("{\"a\": 1}"), "{}").is_err());
    }

    #[test]
    fn dumps_escapes_like_python() {
        assert_eq!(dumps(&Value::String("é\"\n\u{1F600}".into())), r#""\u00e9\"\n\ud83d\ude00""#);
        assert_eq!(dumps(&serde_json::json!([1, 2.5, true, null])), "[1, 2.5, true, null]");
    }
}
