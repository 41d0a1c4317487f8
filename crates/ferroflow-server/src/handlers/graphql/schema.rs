//! MLflow's GraphQL root types and their resolvers. Each resolver turns its input into
//! the REST message of the same RPC (as MLflow parses the input into the RPC's proto)
//! and calls the REST handler's own function, so validation, messages and store calls
//! are the REST endpoint's.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;

use async_graphql::registry::{__DirectiveLocation, MetaDirective, MetaInputValue, Registry};
use async_graphql::{
    Context, ContextDirective, CustomDirective, CustomDirectiveFactory, Enum, InputObject, Object, ServerResult,
};
use ferroflow_core::registry::ModelVersion;
use ferroflow_core::types::Experiment;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use super::types::*;
use crate::error::ApiError;
use crate::handlers::{artifacts, registry, tracking};
use crate::AppState;

/// A REST handler's error as a GraphQL error: its message alone, as MLflow sends it.
fn field_error(ApiError(error): ApiError) -> async_graphql::Error {
    if error.code.http_status() >= 500 {
        tracing::error!(error_code = %error.code, message = %error.message, "GraphQL resolver failed");
    }
    async_graphql::Error::new(error.message)
}

/// The REST message `T` read from a GraphQL input (serialised with the proto's field
/// names), through the REST endpoint's own lenient decoding.
fn message<T: DeserializeOwned>(input: &impl Serialize) -> async_graphql::Result<T> {
    let value = serde_json::to_value(input).map_err(|e| async_graphql::Error::new(e.to_string()))?;
    T::deserialize(value).map_err(|e| field_error(ApiError::invalid(format!("Invalid request: {e}"))))
}

fn app<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a AppState> {
    ctx.data::<AppState>()
}

/// Per-request memo: a search's runs mostly share their experiment, read once.
#[derive(Default)]
pub(super) struct RequestCache {
    experiments: Mutex<HashMap<String, Experiment>>,
}

pub(super) async fn experiment_of_run(ctx: &Context<'_>, experiment_id: &str) -> async_graphql::Result<Experiment> {
    let cache = ctx.data::<RequestCache>()?;
    let cached = cache.experiments.lock().unwrap_or_else(|e| e.into_inner()).get(experiment_id).cloned();
    if let Some(experiment) = cached {
        return Ok(experiment);
    }
    let request = message(&json!({ "experiment_id": experiment_id }))?;
    let experiment = tracking::experiment(app(ctx)?, request).await.map_err(field_error)?;
    cache.experiments.lock().unwrap_or_else(|e| e.into_inner()).insert(experiment_id.to_string(), experiment.clone());
    Ok(experiment)
}

/// The versions registered from a run, as MLflow finds them: a model-version search
/// for `run_id='<id>'` (its first page, of up to 200000).
pub(super) async fn model_versions_of_run(ctx: &Context<'_>, run_id: &str) -> async_graphql::Result<Vec<ModelVersion>> {
    let request = message(&json!({ "filter": format!("run_id='{run_id}'") }))?;
    let page = registry::model_version_page(app(ctx)?, request, None).await.map_err(field_error)?;
    Ok(page.items)
}

// ---------------------------------------------------------------- inputs

#[derive(Enum, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MlflowViewType {
    ActiveOnly,
    DeletedOnly,
    All,
}

#[derive(InputObject, Serialize, Default)]
pub struct MlflowGetExperimentInput {
    experiment_id: Option<String>,
}

#[derive(InputObject, Serialize, Default)]
pub struct MlflowGetRunInput {
    run_id: Option<String>,
    run_uuid: Option<String>,
}

#[derive(InputObject, Serialize, Default)]
pub struct MlflowSearchRunsInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    experiment_ids: Option<Vec<Option<String>>>,
    filter: Option<String>,
    run_view_type: Option<MlflowViewType>,
    max_results: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    order_by: Option<Vec<Option<String>>>,
    page_token: Option<String>,
}

#[derive(InputObject, Serialize, Default)]
pub struct MlflowListArtifactsInput {
    run_id: Option<String>,
    run_uuid: Option<String>,
    path: Option<String>,
    page_token: Option<String>,
}

#[derive(InputObject, Serialize, Default)]
pub struct MlflowGetMetricHistoryBulkIntervalInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    run_ids: Option<Vec<Option<String>>>,
    metric_key: Option<String>,
    start_step: Option<i32>,
    end_step: Option<i32>,
    max_results: Option<i32>,
}

#[derive(InputObject, Serialize, Default)]
pub struct MlflowSearchDatasetsInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    experiment_ids: Option<Vec<Option<String>>>,
}

#[derive(InputObject, Serialize, Default)]
pub struct MlflowSearchModelVersionsInput {
    filter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_results: Option<LongString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    order_by: Option<Vec<Option<String>>>,
    page_token: Option<String>,
}

// ---------------------------------------------------------------- resolvers

/// A field's value, or `null` with its error reported, as MLflow (graphene) answers a
/// failing resolver: the field is there, `null`, and the message is in `errors`.
pub(super) fn settle<T>(ctx: &Context<'_>, result: async_graphql::Result<T>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            ctx.add_error(error.into_server_error(ctx.item.pos));
            None
        }
    }
}

async fn search_runs(ctx: &Context<'_>, input: Option<MlflowSearchRunsInput>) -> Option<MlflowSearchRunsResponse> {
    let result = async {
        let request = message(&input.unwrap_or_default())?;
        let page = tracking::run_page(app(ctx)?, request).await.map_err(field_error)?;
        Ok(MlflowSearchRunsResponse {
            runs: Some(page.items.iter().map(MlflowRunExtension::from).collect()),
            next_page_token: Some(page.next_page_token.unwrap_or_default()),
            api_error: None,
        })
    };
    settle(ctx, result.await)
}

/// The root query type (`Query` in MLflow's schema).
pub struct Query;

#[Object]
impl Query {
    async fn mlflow_get_experiment(
        &self,
        ctx: &Context<'_>,
        input: Option<MlflowGetExperimentInput>,
    ) -> Option<MlflowGetExperimentResponse> {
        let result = async {
            let request = message(&input.unwrap_or_default())?;
            let experiment = tracking::experiment(app(ctx)?, request).await.map_err(field_error)?;
            Ok(MlflowGetExperimentResponse { experiment: Some((&experiment).into()), api_error: None })
        };
        settle(ctx, result.await)
    }

    async fn mlflow_get_metric_history_bulk_interval(
        &self,
        ctx: &Context<'_>,
        input: Option<MlflowGetMetricHistoryBulkIntervalInput>,
    ) -> Option<MlflowGetMetricHistoryBulkIntervalResponse> {
        let result = async {
            let request = message(&input.unwrap_or_default())?;
            let metrics = tracking::bulk_interval(app(ctx)?, request).await.map_err(field_error)?;
            Ok(MlflowGetMetricHistoryBulkIntervalResponse {
                metrics: Some(metrics.iter().map(MlflowMetricWithRunId::from).collect()),
                api_error: None,
            })
        };
        settle(ctx, result.await)
    }

    async fn mlflow_get_run(
        &self,
        ctx: &Context<'_>,
        input: Option<MlflowGetRunInput>,
    ) -> Option<MlflowGetRunResponse> {
        let result = async {
            let request = message(&input.unwrap_or_default())?;
            let run = tracking::run(app(ctx)?, request).await.map_err(field_error)?;
            Ok(MlflowGetRunResponse { run: Some((&run).into()), api_error: None })
        };
        settle(ctx, result.await)
    }

    async fn mlflow_list_artifacts(
        &self,
        ctx: &Context<'_>,
        input: Option<MlflowListArtifactsInput>,
    ) -> Option<MlflowListArtifactsResponse> {
        let result = async {
            let request = message(&input.unwrap_or_default())?;
            let listing = artifacts::run_artifact_listing(app(ctx)?, request).await.map_err(field_error)?;
            Ok(MlflowListArtifactsResponse::from_listing(&listing))
        };
        settle(ctx, result.await)
    }

    async fn mlflow_search_model_versions(
        &self,
        ctx: &Context<'_>,
        input: Option<MlflowSearchModelVersionsInput>,
    ) -> Option<MlflowSearchModelVersionsResponse> {
        let result = async {
            let request = message(&input.unwrap_or_default())?;
            let page = registry::model_version_page(app(ctx)?, request, None).await.map_err(field_error)?;
            Ok(MlflowSearchModelVersionsResponse {
                model_versions: Some(page.items.iter().map(MlflowModelVersion::from).collect()),
                next_page_token: Some(page.next_page_token.unwrap_or_default()),
                api_error: None,
            })
        };
        settle(ctx, result.await)
    }

    /// Simple echoing field
    async fn test(&self, input_string: Option<String>) -> Option<Test> {
        Some(Test { output: input_string })
    }

    async fn mlflow_search_runs(
        &self,
        ctx: &Context<'_>,
        input: Option<MlflowSearchRunsInput>,
    ) -> Option<MlflowSearchRunsResponse> {
        search_runs(ctx, input).await
    }
}

/// The root mutation type (`Mutation`): MLflow puts its two searches here too.
pub struct Mutation;

#[Object]
impl Mutation {
    async fn mlflow_search_datasets(
        &self,
        ctx: &Context<'_>,
        input: Option<MlflowSearchDatasetsInput>,
    ) -> Option<MlflowSearchDatasetsResponse> {
        let result = async {
            let request = message(&input.unwrap_or_default())?;
            let summaries = tracking::dataset_summaries(app(ctx)?, request).await.map_err(field_error)?;
            Ok(MlflowSearchDatasetsResponse {
                dataset_summaries: Some(summaries.iter().map(MlflowDatasetSummary::from).collect()),
                api_error: None,
            })
        };
        settle(ctx, result.await)
    }

    async fn mlflow_search_runs(
        &self,
        ctx: &Context<'_>,
        input: Option<MlflowSearchRunsInput>,
    ) -> Option<MlflowSearchRunsResponse> {
        search_runs(ctx, input).await
    }

    /// Simple echoing field
    async fn test_mutation(&self, input_string: Option<String>) -> Option<TestMutation> {
        Some(TestMutation { output: input_string })
    }
}

/// `@component(name: String!)` on queries and mutations: MLflow's (and Databricks') tag
/// naming the UI component that sends an operation. Declared so that the web UI's
/// operations validate; it changes nothing.
pub(super) struct ComponentDirective;

struct NoEffect;

impl CustomDirective for NoEffect {}

impl CustomDirectiveFactory for ComponentDirective {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("component")
    }

    fn register(&self, registry: &mut Registry) {
        let name = MetaInputValue {
            name: "name".to_string(),
            description: None,
            ty: "String!".to_string(),
            deprecation: Default::default(),
            default_value: None,
            visible: None,
            inaccessible: false,
            tags: Vec::new(),
            is_secret: false,
            directive_invocations: Vec::new(),
        };
        registry.add_directive(MetaDirective {
            name: "component".to_string(),
            description: None,
            locations: vec![__DirectiveLocation::QUERY, __DirectiveLocation::MUTATION],
            args: [("name".to_string(), name)].into_iter().collect(),
            is_repeatable: false,
            visible: None,
            composable: None,
        });
    }

    fn create(
        &self,
        _ctx: &ContextDirective<'_>,
        _directive: &async_graphql::parser::types::Directive,
    ) -> ServerResult<Box<dyn CustomDirective>> {
        Ok(Box::new(NoEffect))
    }
}
