//! MLflow 3 logged-model RPCs (`/logged-models/...`).

use crate::auth::{Locate, Routes, Rule};
use axum::extract::{Path, State};
use axum::Json;
use ferroflow_core::auth::Action;
use ferroflow_core::types::{KeyValue, LoggedModelStatus};
use ferroflow_store::logged_models::{CreateLoggedModel, LoggedModelOrder, SearchLoggedModels};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::handlers::tracking::{key_values, required, required_text, TagMessage};
use crate::wire::{lenient, Rpc};
use crate::AppState;

type JsonResult = ApiResult<Json<Value>>;

/// MLflow's default page size for logged-model searches.
const DEFAULT_MAX_RESULTS: i64 = 100;

/// Logged models are checked through their experiment.
pub fn routes() -> Routes {
    let on_model = |action| Rule::Experiment(action, Locate::LoggedModelInPath);
    Routes::new()
        .post("/logged-models", Rule::Experiment(Action::Update, Locate::ExperimentId), create)
        .post("/logged-models/search", Rule::Authenticated, search)
        .get("/logged-models/{model_id}", on_model(Action::Read), get_model)
        .patch("/logged-models/{model_id}", on_model(Action::Update), finalize)
        .delete("/logged-models/{model_id}", on_model(Action::Delete), delete_model)
        .patch("/logged-models/{model_id}/tags", on_model(Action::Update), set_tags)
        .delete("/logged-models/{model_id}/tags/{tag_key}", on_model(Action::Update), delete_tag)
        .post("/logged-models/{model_id}/params", on_model(Action::Update), log_params)
}

#[derive(Deserialize)]
pub struct CreateMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    experiment_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    model_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    source_run_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::vec")]
    params: Vec<TagMessage>,
    #[serde(default, deserialize_with = "lenient::vec")]
    tags: Vec<TagMessage>,
}

async fn create(State(app): State<AppState>, rpc: Rpc<CreateMessage>) -> JsonResult {
    let message = rpc.message;
    let model = app
        .store
        .create_logged_model(CreateLoggedModel {
            experiment_id: required_text(message.experiment_id, "experiment_id")?,
            name: message.name.unwrap_or_default(),
            model_type: message.model_type.unwrap_or_default(),
            source_run_id: message.source_run_id,
            params: key_values(message.params)?,
            tags: key_values(message.tags)?,
        })
        .await?;
    Ok(Json(json!({ "model": model })))
}

#[derive(Deserialize)]
pub struct GetMessage {
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    allow_deleted: Option<bool>,
}

async fn get_model(State(app): State<AppState>, Path(model_id): Path<String>, rpc: Rpc<GetMessage>) -> JsonResult {
    let model = app.store.get_logged_model(&model_id, rpc.message.allow_deleted.unwrap_or(false)).await?;
    Ok(Json(json!({ "model": model })))
}

fn logged_model_status<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<LoggedModelStatus>, D::Error> {
    lenient::opt_enum(d, LoggedModelStatus::parse, "LoggedModelStatus")
}

#[derive(Deserialize)]
pub struct FinalizeMessage {
    #[serde(default, deserialize_with = "logged_model_status")]
    status: Option<LoggedModelStatus>,
}

async fn finalize(State(app): State<AppState>, Path(model_id): Path<String>, rpc: Rpc<FinalizeMessage>) -> JsonResult {
    let status = required(rpc.message.status, "status")?;
    let model = app.store.finalize_logged_model(&model_id, status).await?;
    Ok(Json(json!({ "model": model })))
}

async fn delete_model(State(app): State<AppState>, Path(model_id): Path<String>) -> JsonResult {
    app.store.delete_logged_model(&model_id).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct TagsMessage {
    #[serde(default, deserialize_with = "lenient::vec")]
    tags: Vec<TagMessage>,
}

async fn set_tags(State(app): State<AppState>, Path(model_id): Path<String>, rpc: Rpc<TagsMessage>) -> JsonResult {
    app.store.set_logged_model_tags(&model_id, key_values(rpc.message.tags)?).await?;
    Ok(Json(json!({})))
}

async fn delete_tag(State(app): State<AppState>, Path((model_id, tag_key)): Path<(String, String)>) -> JsonResult {
    app.store.delete_logged_model_tag(&model_id, &tag_key).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct ParamsMessage {
    #[serde(default, deserialize_with = "lenient::vec")]
    params: Vec<TagMessage>,
}

async fn log_params(State(app): State<AppState>, Path(model_id): Path<String>, rpc: Rpc<ParamsMessage>) -> JsonResult {
    let params: Vec<KeyValue> = key_values(rpc.message.params)?;
    app.store.log_logged_model_params(&model_id, params).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct DatasetFilterMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    dataset_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    dataset_digest: Option<String>,
}

#[derive(Deserialize)]
pub struct OrderByMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    field_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    ascending: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    dataset_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    dataset_digest: Option<String>,
}

#[derive(Deserialize)]
pub struct SearchMessage {
    #[serde(default, deserialize_with = "lenient::vec_string")]
    experiment_ids: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::vec")]
    datasets: Vec<DatasetFilterMessage>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "lenient::vec")]
    order_by: Vec<OrderByMessage>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    page_token: Option<String>,
}

/// With auth on, only the experiments the caller may read are searched (as `runs/search`).
async fn search(
    State(app): State<AppState>,
    caller: Option<axum::extract::Extension<crate::auth::Caller>>,
    rpc: Rpc<SearchMessage>,
) -> JsonResult {
    let mut message = rpc.message;
    if let Some(visible) = crate::auth::visible_to(&app, caller.as_deref(), crate::auth::experiment_key).await? {
        message.experiment_ids.retain(|id| visible.allows(id));
        if message.experiment_ids.is_empty() {
            return Ok(Json(json!({})));
        }
    }
    let max_results = match message.max_results.filter(|n| *n != 0).unwrap_or(DEFAULT_MAX_RESULTS) {
        n if n > 0 => n as usize,
        n => {
            return Err(ApiError::invalid(format!(
                "Invalid value {n} for parameter 'max_results' supplied. It must be a positive integer"
            )))
        }
    };
    let datasets = message
        .datasets
        .into_iter()
        .map(|d| match d.dataset_name.filter(|name| !name.is_empty()) {
            Some(name) => Ok((name, d.dataset_digest.filter(|x| !x.is_empty()))),
            None => Err(ApiError::invalid("`dataset_name` in the `datasets` clause must be specified.")),
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let order_by = message
        .order_by
        .into_iter()
        .map(|o| {
            Ok(LoggedModelOrder {
                field_name: required_text(o.field_name, "field_name")?,
                ascending: o.ascending.unwrap_or(true),
                dataset_name: o.dataset_name.filter(|x| !x.is_empty()),
                dataset_digest: o.dataset_digest.filter(|x| !x.is_empty()),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let page = app
        .store
        .search_logged_models(SearchLoggedModels {
            experiment_ids: message.experiment_ids,
            filter: message.filter,
            datasets,
            max_results,
            order_by,
            page_token: message.page_token,
        })
        .await?;
    let mut body = json!({});
    if !page.items.is_empty() {
        body["models"] = json!(page.items);
    }
    if let Some(token) = page.next_page_token {
        body["next_page_token"] = json!(token);
    }
    Ok(Json(body))
}
