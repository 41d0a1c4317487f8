//! Rules and messages every backend applies the same way, written once so that the
//! SQLite and PostgreSQL stores cannot drift apart.

use ferroflow_core::types::{LifecycleStage, ViewType};
use ferroflow_core::Error;

/// Milliseconds since the Unix epoch, MLflow's timestamps.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// MLflow's `append_to_uri_path`: joins without doubling the slash.
pub fn join_uri(root: &str, child: &str) -> String {
    format!("{}/{}", root.trim_end_matches('/'), child)
}

/// MLflow's SQL store keeps NaN but clamps infinities to the largest finite doubles.
pub fn clamp_infinity(value: f64) -> f64 {
    if value == f64::INFINITY {
        f64::MAX
    } else if value == f64::NEG_INFINITY {
        f64::MIN
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
