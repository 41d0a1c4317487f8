//! `/graphql`: MLflow's GraphQL endpoint, which its web UI reads runs, charts and
//! experiments through. The schema is MLflow's ([`schema`], [`types`]); the engine is
//! async-graphql; the HTTP dialect is MLflow's:
//!
//! * `GET` or `POST /graphql` (only there, not under `/ajax-api`), a JSON body
//!   `{"query", "variables", "operationName"}`; a POST must say `application/json`;
//!   a GET without a body may put the three in its query string;
//! * the answer is always `{"data": …, "errors": null | ["message", …]}`, with the
//!   errors as plain strings, as MLflow sends them; 200 once the query parsed, even
//!   when validation or a resolver failed;
//! * MLflow's query limits ([`limits`]) are checked before anything runs.
//!
//! Where MLflow answers 500 (a body that is not JSON, not an object, a JSON list of
//! queries, no `query`, a syntax error), ferroflow answers 400 in the same
//! `{"data": null, "errors": [...]}` shape.

mod limits;
mod schema;
mod types;

use crate::auth::{Routes, Rule};
use std::sync::LazyLock;

use async_graphql::{EmptySubscription, Schema, Variables};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

pub use limits::GraphqlLimits;
use schema::{ComponentDirective, Mutation, Query, RequestCache};

use crate::AppState;

/// The largest `/graphql` body accepted. The web UI's largest operation is under 2 KiB
/// and its variables hold at most 100 run ids; MLflow's limits allow no query that
/// needs more.
pub const MAX_GRAPHQL_BODY_BYTES: usize = 1024 * 1024;

type MlflowSchema = Schema<Query, Mutation, EmptySubscription>;

static SCHEMA: LazyLock<MlflowSchema> =
    LazyLock::new(|| Schema::build(Query, Mutation, EmptySubscription).directive(ComponentDirective).finish());

/// `/graphql`, mounted at the root as MLflow mounts it.
/// Admins only when auth is on: its resolvers reach every entity, and checking each
/// field's experiment is not built (ferroflow's own UI does not use it).
pub fn routes() -> Routes {
    Routes::new()
        .get("/graphql", Rule::Admin, graphql)
        .post("/graphql", Rule::Admin, graphql)
        .with_router(|router| router.layer(DefaultBodyLimit::max(MAX_GRAPHQL_BODY_BYTES)))
}

/// A request MLflow's engine never gets to run: answered as GraphQL answers, with a 4xx.
fn refused(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "data": null, "errors": [message.into()] }))).into_response()
}

/// The three parts of a GraphQL-over-HTTP request.
struct Operation {
    query: String,
    variables: Variables,
    operation_name: Option<String>,
}

/// Reads `{"query", "variables", "operationName"}` from a JSON object.
fn operation_of(object: Map<String, Value>) -> Result<Operation, String> {
    let query = match object.get("query") {
        Some(Value::String(query)) => query.clone(),
        Some(Value::Null) | None => return Err("No GraphQL query given: the body needs a \"query\" string.".into()),
        Some(_) => return Err("The \"query\" of a GraphQL request must be a string.".into()),
    };
    let variables = match object.get("variables") {
        Some(Value::Object(variables)) => Variables::from_json(Value::Object(variables.clone())),
        Some(Value::Null) | None => Variables::default(),
        Some(_) => return Err("The \"variables\" of a GraphQL request must be a JSON object.".into()),
    };
    let operation_name = match object.get("operationName") {
        Some(Value::String(name)) => Some(name.clone()),
        Some(Value::Null) | None => None,
        Some(_) => return Err("The \"operationName\" of a GraphQL request must be a string.".into()),
    };
    Ok(Operation { query, variables, operation_name })
}

/// The request from a JSON body, or from a GET's query string (`query`, `variables` as
/// JSON text, `operationName`) when it has no body.
fn decode(method: &Method, query_string: Option<&str>, body: &[u8]) -> Result<Operation, String> {
    if method == Method::GET && body.iter().all(u8::is_ascii_whitespace) {
        let mut object = Map::new();
        for (key, value) in form_pairs(query_string.unwrap_or("")) {
            let value = match key.as_str() {
                "variables" => serde_json::from_str(&value)
                    .map_err(|e| format!("The \"variables\" of a GraphQL request are not JSON: {e}"))?,
                _ => Value::String(value),
            };
            object.insert(key, value);
        }
        return operation_of(object);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => operation_of(object),
        Ok(Value::Array(_)) => Err("Batched GraphQL requests (a JSON list) are not supported: send one \
                                    operation per request, with at most 10 root fields."
            .into()),
        Ok(_) => Err("The body of a GraphQL request must be a JSON object.".into()),
        Err(e) => Err(format!("Malformed JSON in the request body: {e}")),
    }
}

/// `key=value` pairs of a query string, form-decoded; the last of a repeated key wins.
fn form_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |text: &str| crate::wire::percent_decode(&text.replace('+', " "));
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

async fn graphql(State(app): State<AppState>, request: Request) -> Response {
    let method = request.method().clone();
    if method == Method::POST {
        if let Err(error) = crate::wire::require_json_content_type(request.headers()) {
            return error.into_response();
        }
    }
    // Refused before the body is read, so a client waiting for `100 Continue` never sends it.
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    let too_large = || {
        refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The request body is larger than this endpoint accepts ({MAX_GRAPHQL_BODY_BYTES} bytes)."),
        )
    };
    if declared.is_some_and(|length| length > MAX_GRAPHQL_BODY_BYTES as u64) {
        return too_large();
    }
    let query_string = request.uri().query().map(str::to_owned);
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
        Err(rejection) => {
            return refused(StatusCode::BAD_REQUEST, format!("Could not read the request body: {rejection}"))
        }
    };
    let operation = match decode(&method, query_string.as_deref(), &body) {
        Ok(operation) => operation,
        Err(message) => return refused(StatusCode::BAD_REQUEST, message),
    };
    let document = match async_graphql::parser::parse_query(&operation.query) {
        Ok(document) => document,
        Err(error) => return refused(StatusCode::BAD_REQUEST, syntax_error(&error)),
    };
    // Over a limit is a GraphQL error answered with 200, as MLflow answers it.
    if let Err(message) = limits::check(&document, &app.config.graphql) {
        return answer(Value::Null, vec![message]);
    }
    let mut request = async_graphql::Request::new(operation.query).variables(operation.variables);
    if let Some(name) = operation.operation_name {
        request = request.operation_name(name);
    }
    request.set_parsed_query(document);
    let response = SCHEMA.execute(request.data(app).data(RequestCache::default())).await;
    let data = serde_json::to_value(&response.data).unwrap_or(Value::Null);
    answer(data, response.errors.into_iter().map(|error| error.message).collect())
}

/// A parse error in one line, without the parser's echo of the query line (which may be
/// the whole of a large query).
fn syntax_error(error: &async_graphql::parser::Error) -> String {
    let text = error.to_string();
    let reason = text.lines().rev().map(str::trim).find(|line| !line.is_empty()).unwrap_or("invalid query");
    let reason = reason.trim_start_matches("= ");
    match error.positions().next() {
        Some(at) => format!("Syntax Error: {reason} at line {}, column {}.", at.line, at.column),
        None => format!("Syntax Error: {reason}."),
    }
}

/// MLflow's answer: `data`, and `errors` as a list of messages or `null`.
fn answer(data: Value, errors: Vec<String>) -> Response {
    let errors = if errors.is_empty() { Value::Null } else { json!(errors) };
    Json(json!({ "data": data, "errors": errors })).into_response()
}
