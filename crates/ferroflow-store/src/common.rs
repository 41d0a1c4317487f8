//! Rules and messages every backend applies the same way, written once so that the
//! SQLite and PostgreSQL stores cannot drift apart.

use ferroflow_core::names::generate_run_name;
use ferroflow_core::types::{Experiment, LifecycleStage, Param, RunTag, ViewType};
use ferroflow_core::{Error, Result};

use crate::{CreateRun, LogBatch};

pub const RUN_NAME_TAG: &str = ferroflow_core::search::RUN_NAME_TAG_KEY;

/// Milliseconds since the Unix epoch, MLflow's timestamps.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// MLflow's `append_to_uri_path`: joins without doubling the slash.
pub fn join_uri(root: &str, child: &str) -> String {
    format!("{}/{}", root.trim_end_matches('/'), child)
}

/// A metric value as MLflow's SQL store keeps it: NaN as itself, infinities clamped to
/// the largest finite doubles, and -0.0 as 0.0 (SQLite's REAL drops the sign; done here
/// so that PostgreSQL's `double precision`, which would keep it, reads back the same).
pub fn stored_metric_value(value: f64) -> f64 {
    if value == f64::INFINITY {
        f64::MAX
    } else if value == f64::NEG_INFINITY {
        f64::MIN
    } else if value == 0.0 {
        0.0 // both zeros compare equal: this folds -0.0
    } else {
        value
    }
}

/// The lifecycle stages a search with `view_type` covers.
pub fn stages(view_type: ViewType) -> Vec<LifecycleStage> {
    [LifecycleStage::Active, LifecycleStage::Deleted].into_iter().filter(|s| view_type.includes(*s)).collect()
}

pub fn experiment_not_found(experiment_id: &str) -> Error {
    Error::not_found(format!("No Experiment with id={experiment_id} exists"))
}

pub fn experiment_name_not_found(name: &str) -> Error {
    Error::not_found(format!("Could not find experiment with name '{name}'"))
}

pub fn experiment_name_taken(name: &str) -> Error {
    Error::already_exists(format!("Experiment(name={name}) already exists."))
}

pub fn experiment_not_active(experiment_id: &str, stage: LifecycleStage) -> Error {
    Error::invalid_parameter(format!(
        "The experiment {experiment_id} must be in the 'active' state. Current state is {}.",
        stage.as_str()
    ))
}

/// MLflow surfaces a rename onto a taken name as a raw integrity error: BAD_REQUEST, not
/// ALREADY_EXISTS.
pub fn experiment_rename_taken(new_name: &str) -> Error {
    Error::bad_request(format!(
        "UNIQUE constraint failed: experiments.name (an experiment named '{new_name}' already exists)"
    ))
}

pub fn experiment_rename_not_active() -> Error {
    Error::invalid_state("Cannot rename a non-active experiment.")
}

pub fn experiment_tag_not_found(experiment_id: &str, key: &str) -> Error {
    Error::not_found(format!("No tag with name: {key} in experiment with id {experiment_id}"))
}

pub fn run_not_found(run_id: &str) -> Error {
    Error::not_found(format!("Run with id={run_id} not found"))
}

pub fn run_not_active(run_id: &str, stage: LifecycleStage) -> Error {
    Error::invalid_parameter(format!(
        "The run {run_id} must be in the 'active' state. Current state is {}.",
        stage.as_str()
    ))
}

pub fn run_tag_not_found(run_id: &str, key: &str) -> Error {
    Error::not_found(format!("No tag with name: {key} in run with id {run_id}"))
}

pub fn logged_model_not_found(model_id: &str) -> Error {
    Error::not_found(format!("Logged model with ID '{model_id}' not found."))
}

/// Everything a new run's row needs, decided before either store writes it.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub run_id: String,
    pub run_name: String,
    pub artifact_uri: String,
    pub start_time: i64,
    pub user_id: String,
    /// The request's tags, with `mlflow.runName` set to the run's name.
    pub tags: Vec<RunTag>,
}

impl NewRun {
    /// MLflow's rules: the name comes from `run_name` or the `mlflow.runName` tag (which
    /// must agree), else is generated; the artifacts live under the experiment's location.
    pub fn plan(request: CreateRun, experiment: &Experiment) -> Result<NewRun> {
        let tag_name =
            request.tags.iter().find(|t| t.key == RUN_NAME_TAG).map(|t| t.value.clone()).filter(|v| !v.is_empty());
        let requested_name = request.run_name.filter(|n| !n.is_empty());
        let run_name = match (requested_name, tag_name) {
            (Some(name), Some(tag)) if name != tag => {
                return Err(Error::invalid_parameter(format!(
                    "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different \
                     values (run_name='{name}', mlflow.runName='{tag}')."
                )));
            }
            (Some(name), _) | (None, Some(name)) if !name.is_empty() => name,
            _ => generate_run_name(&mut rand::rng()),
        };
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        let artifact_uri = join_uri(&experiment.artifact_location, &format!("{run_id}/artifacts"));
        let mut tags = request.tags;
        if !tags.iter().any(|t| t.key == RUN_NAME_TAG && t.value == run_name) {
            tags.retain(|t| t.key != RUN_NAME_TAG);
            tags.push(RunTag::new(RUN_NAME_TAG, run_name.clone()));
        }
        Ok(NewRun {
            run_id,
            run_name,
            artifact_uri,
            // Like MLflow, an absent start time is stored as 0, not as "now".
            start_time: request.start_time.unwrap_or(0),
            user_id: request.user_id.unwrap_or_default(),
            tags,
        })
    }
}

/// Python's `repr` of a string, as MLflow's messages print them.
fn python_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// MLflow's refusal of a batch that changes logged params (`conflicts`: each param with
/// the value already logged); `None` when there is no conflict.
pub fn param_conflict_error(batch: &LogBatch, conflicts: &[(&Param, String)]) -> Option<Error> {
    match conflicts {
        [] => None,
        // A lone param is how log-parameter arrives; MLflow words that case differently.
        [(param, old)] if batch.params.len() == 1 && batch.metrics.is_empty() && batch.tags.is_empty() => {
            Some(Error::invalid_parameter(format!(
                "Changing param values is not allowed. Param with key='{}' was already logged with \
                 value='{}' for run ID='{}'. Attempted logging new value '{}'.",
                param.key, old, batch.run_id, param.value
            )))
        }
        conflicts => {
            let listed = conflicts
                .iter()
                .map(|(param, old)| {
                    format!(
                        "{{'key': {}, 'old_value': {}, 'new_value': {}}}",
                        python_repr(&param.key),
                        python_repr(old),
                        python_repr(&param.value)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            Some(Error::invalid_parameter(format!(
                "Changing param values is not allowed. Params were already logged='[{listed}]' for run ID='{}'.",
                batch.run_id
            )))
        }
    }
}
