//! MLflow's server-side input rules (`mlflow/utils/validation.py`), as pure functions.
//! Long param and tag values are truncated, as MLflow's server does by default; every
//! other limit is an `INVALID_PARAMETER_VALUE` error.

use crate::error::{Error, Result};
use crate::types::{DatasetInput, KeyValue, Metric};

pub const MAX_ENTITY_KEY_LENGTH: usize = 250;
pub const MAX_PARAM_VAL_LENGTH: usize = 6000;
pub const MAX_TAG_VAL_LENGTH: usize = 8000;
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
pub const MAX_EXPERIMENT_TAG_KEY_LENGTH: usize = 250;
pub const MAX_EXPERIMENT_TAG_VAL_LENGTH: usize = 20000;
pub const MAX_METRICS_PER_BATCH: usize = 1000;
pub const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
pub const MAX_BATCH_LOG_REQUEST_SIZE: usize = 1_000_000;
pub const MAX_DATASET_NAME_SIZE: usize = 500;
pub const MAX_DATASET_DIGEST_SIZE: usize = 36;
pub const MAX_DATASET_SOURCE_SIZE: usize = 65535;
pub const MAX_DATASET_SCHEMA_SIZE: usize = 1_048_575;
pub const MAX_DATASET_PROFILE_SIZE: usize = 16_777_215;
pub const MAX_INPUT_TAG_KEY_SIZE: usize = 255;
pub const MAX_INPUT_TAG_VALUE_SIZE: usize = 500;
pub const MAX_RESULTS_SEARCH_RUNS: i64 = 50000;
pub const MAX_RESULTS_SEARCH_EXPERIMENTS: i64 = 50000;
pub const MAX_RESULTS_GET_METRIC_HISTORY: i64 = 25000;
pub const MAX_RUNS_GET_METRIC_HISTORY_BULK: usize = 100;
pub const MAX_RESULTS_BULK_INTERVAL: i64 = 2500;

const BAD_CHARACTERS_MESSAGE: &str = "Names may only contain alphanumerics, underscores (_), \
    dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).";

/// Which entity a key names; only the wording of errors differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Metric,
    Param,
    Tag,
}

/// MLflow's `invalid_value`: the value is shown JSON-encoded.
fn invalid_value(parameter: &str, value: &str, reason: &str) -> Error {
    let shown = serde_json::to_string(value).unwrap_or_default();
    Error::invalid_parameter(format!("Invalid value {shown} for parameter '{parameter}' supplied: {reason}"))
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | ':' | '/')
}

/// `posixpath.normpath`, which MLflow uses to reject keys that alias other keys as files.
pub fn posix_normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let leading_slashes = match path.bytes().take_while(|b| *b == b'/').count() {
        // POSIX keeps exactly two leading slashes, collapses three or more to one.
        2 => 2,
        0 => 0,
        _ => 1,
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if leading_slashes == 0 && (parts.is_empty() || parts.last() == Some(&"..")) {
                    parts.push("..");
                } else if !parts.is_empty() {
                    parts.pop();
                }
            }
            other => parts.push(other),
        }
    }
    let joined = format!("{}{}", "/".repeat(leading_slashes), parts.join("/"));
    if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

/// Validates a metric, param or tag key. `parameter` names the request field in errors.
pub fn validate_key(kind: KeyKind, key: &str, parameter: &str) -> Result<()> {
    if !key.chars().all(is_key_char) {
        return Err(invalid_value(parameter, key, BAD_CHARACTERS_MESSAGE));
    }
    let normalized = posix_normpath(key);
    if normalized != key || normalized == "." || normalized.starts_with("..") || normalized.starts_with('/') {
        return Err(invalid_value(
            parameter,
            key,
            &format!(
                "Names may be treated as files in certain cases, and must not resolve to other \
                 names when treated as such. This name would resolve to '{normalized}'"
            ),
        ));
    }
    let entity = match kind {
        KeyKind::Metric => "Metric name",
        KeyKind::Param => "Param key",
        KeyKind::Tag => parameter,
    };
    check_length(entity, MAX_ENTITY_KEY_LENGTH, key)
}

/// Errors when `value` has more than `limit` characters (Python `len` counts code points).
pub fn check_length(entity: &str, limit: usize, value: &str) -> Result<()> {
    if value.chars().count() <= limit {
        return Ok(());
    }
    Err(Error::invalid_parameter(format!("'{entity}' exceeds the maximum length of {limit} characters")))
}

/// Cuts `value` to `limit` characters, as MLflow does with long param and tag values.
pub fn truncate_chars(value: &mut String, limit: usize) {
    if let Some((byte_index, _)) = value.char_indices().nth(limit) {
        value.truncate(byte_index);
    }
}

/// Python's float repr, used in MLflow's metric messages.
fn python_float(value: f64) -> String {
    if value.is_nan() {
        "nan".into()
    } else if value.is_infinite() {
        if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else if value.fract() == 0.0 && value.abs() < 1e16 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

/// Validates a metric; `prefix` is `""` for a single metric or `"metrics[i]."` in a batch.
pub fn validate_metric(metric: &Metric, prefix: &str) -> Result<()> {
    validate_key(KeyKind::Metric, &metric.key, &format!("{prefix}name"))?;
    if metric.timestamp < 0 {
        return Err(Error::invalid_parameter(format!(
            "Invalid value {} for parameter '{prefix}timestamp' supplied: metric '{}' (value={}). \
             Timestamp must be a nonnegative long (64-bit integer) ",
            metric.timestamp,
            metric.key,
            python_float(metric.value)
        )));
    }
    Ok(())
}

/// Validates a param and truncates its value in place; `path` names its key in errors.
pub fn validate_param(param: &mut KeyValue, path: &str) -> Result<()> {
    validate_key(KeyKind::Param, &param.key, path)?;
    truncate_chars(&mut param.value, MAX_PARAM_VAL_LENGTH);
    Ok(())
}

/// Validates a run tag and truncates its value in place; `path` names its key in errors.
pub fn validate_run_tag(tag: &mut KeyValue, path: &str) -> Result<()> {
    validate_key(KeyKind::Tag, &tag.key, path)?;
    truncate_chars(&mut tag.value, MAX_TAG_VAL_LENGTH);
    Ok(())
}

pub fn validate_experiment_tag(tag: &KeyValue) -> Result<()> {
    validate_key(KeyKind::Tag, &tag.key, "key")?;
    check_length("key", MAX_EXPERIMENT_TAG_KEY_LENGTH, &tag.key)?;
    check_length("value", MAX_EXPERIMENT_TAG_VAL_LENGTH, &tag.value)
}

pub fn validate_experiment_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid_parameter(format!("Invalid experiment name: '{name}'")));
    }
    check_length("name", MAX_EXPERIMENT_NAME_LENGTH, name)
}

pub fn validate_run_id(run_id: &str) -> Result<()> {
    let mut chars = run_id.chars();
    let valid = match chars.next() {
        Some(first) if first.is_ascii_alphanumeric() => {
            run_id.chars().count() <= 256 && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        }
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_parameter(format!("Invalid value \"{run_id}\" for parameter 'run_id' supplied.")))
    }
}

/// Experiment ids are integers in MLflow's SQL store.
pub fn parse_experiment_id(id: &str) -> Result<i64> {
    id.trim().parse::<i64>().map_err(|_| {
        Error::invalid_parameter(format!("Invalid experiment ID '{id}'. Experiment ID must be a valid integer."))
    })
}

/// A list of strings as Python prints it, which MLflow's messages show.
fn python_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("'{item}'")).collect();
    format!("[{}]", quoted.join(", "))
}

fn check_batch_limit(entity: &str, limit: usize, length: usize) -> Result<()> {
    if length > limit {
        return Err(Error::invalid_parameter(format!(
            "A batch logging request can contain at most {limit} {entity}. Got {length} {entity}. \
             Please split up {entity} across multiple requests and try again."
        )));
    }
    Ok(())
}

/// Validates a whole log-batch before anything is written: counts, keys, duplicates.
pub fn validate_batch(metrics: &[Metric], params: &mut [KeyValue], tags: &mut [KeyValue]) -> Result<()> {
    check_batch_limit("metrics", MAX_METRICS_PER_BATCH, metrics.len())?;
    check_batch_limit("params", MAX_PARAMS_TAGS_PER_BATCH, params.len())?;
    check_batch_limit("tags", MAX_PARAMS_TAGS_PER_BATCH, tags.len())?;
    check_batch_limit("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, metrics.len() + params.len() + tags.len())?;
    for (i, metric) in metrics.iter().enumerate() {
        validate_metric(metric, &format!("metrics[{i}]."))?;
    }
    for (i, param) in params.iter_mut().enumerate() {
        validate_param(param, &format!("params[{i}].key"))?;
    }
    let mut seen = std::collections::HashSet::new();
    let duplicates: Vec<&str> =
        params.iter().filter(|p| !seen.insert(p.key.as_str())).map(|p| p.key.as_str()).collect();
    if !duplicates.is_empty() {
        return Err(Error::invalid_parameter(format!(
            "Duplicate parameter keys have been submitted: {}. Please ensure the \
             request contains only one param value per param key.",
            python_list(&duplicates)
        )));
    }
    for (i, tag) in tags.iter_mut().enumerate() {
        validate_run_tag(tag, &format!("tags[{i}].key"))?;
    }
    Ok(())
}

pub fn validate_dataset_input(input: &DatasetInput) -> Result<()> {
    let dataset = &input.dataset;
    check_length("name", MAX_DATASET_NAME_SIZE, &dataset.name)?;
    check_length("digest", MAX_DATASET_DIGEST_SIZE, &dataset.digest)?;
    check_length("source", MAX_DATASET_SOURCE_SIZE, &dataset.source)?;
    if let Some(schema) = &dataset.schema {
        check_length("schema", MAX_DATASET_SCHEMA_SIZE, schema)?;
    }
    if let Some(profile) = &dataset.profile {
        check_length("profile", MAX_DATASET_PROFILE_SIZE, profile)?;
    }
    for tag in &input.tags {
        check_length("key", MAX_INPUT_TAG_KEY_SIZE, &tag.key)?;
        check_length("value", MAX_INPUT_TAG_VALUE_SIZE, &tag.value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normpath_matches_python() {
        for (input, expected) in [
            ("", "."),
            ("a/b", "a/b"),
            ("a//b", "a/b"),
            ("a/./b", "a/b"),
            ("a/../b", "b"),
            ("../a", "../a"),
            ("/a/..", "/"),
            ("//a", "//a"),
            ("///a", "/a"),
            ("a/", "a"),
            ("..", ".."),
        ] {
            assert_eq!(posix_normpath(input), expected, "normpath({input:?})");
        }
    }

    #[test]
    fn keys_follow_mlflow_rules() {
        assert!(validate_key(KeyKind::Metric, "train/loss:1 a-b_c.d", "name").is_ok());
        assert!(validate_key(KeyKind::Metric, "ünïcode", "name").is_ok());
        for bad in ["bad*name", "", "a/../b", "/abs", "a/", "..", "./a", "a//b"] {
            assert!(validate_key(KeyKind::Metric, bad, "name").is_err(), "{bad:?} accepted");
        }
        let long = "k".repeat(251);
        assert!(validate_key(KeyKind::Param, &long, "key").is_err());
    }

    #[test]
    fn long_values_are_truncated_by_characters() {
        let mut param = KeyValue::new("p", "é".repeat(7000));
        validate_param(&mut param, "key").unwrap();
        assert_eq!(param.value.chars().count(), MAX_PARAM_VAL_LENGTH);
        let mut tag = KeyValue::new("t", "x".repeat(9000));
        validate_run_tag(&mut tag, "key").unwrap();
        assert_eq!(tag.value.len(), MAX_TAG_VAL_LENGTH);
    }

    #[test]
    fn batch_rejects_duplicate_params_and_oversize() {
        let mut params = vec![KeyValue::new("a", "1"), KeyValue::new("a", "2")];
        let err = validate_batch(&[], &mut params, &mut []).unwrap_err();
        assert!(err.message.contains("Duplicate parameter keys"), "{}", err.message);
        let metrics: Vec<Metric> = (0..1001).map(|i| Metric::new("m", 1.0, 1, i)).collect();
        assert!(validate_batch(&metrics, &mut [], &mut []).is_err());
    }

    #[test]
    fn run_ids() {
        assert!(validate_run_id("0123456789abcdef0123456789abcdef").is_ok());
        assert!(validate_run_id("../etc").is_err());
        assert!(validate_run_id("").is_err());
    }
}
