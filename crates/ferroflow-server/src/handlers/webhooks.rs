//! MLflow 3's webhook RPCs: `POST/GET /webhooks`, `GET/PATCH/DELETE /webhooks/{id}` and
//! `POST /webhooks/{id}/test`. Secrets go in, never out. Delivery lives in [`delivery`].

use crate::auth::{Routes, Rule};
use axum::extract::{Path, State};
use axum::Json;
use ferroflow_core::registry::{
    validate_webhook_events, validate_webhook_name, Webhook, WebhookAction, WebhookEntity, WebhookEvent, WebhookStatus,
};
use ferroflow_core::Error;
use ferroflow_store::registry::{CreateWebhook, UpdateWebhook};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::handlers::tracking::{required, required_text};
use crate::wire::{lenient, Keyed, Paged, Rpc};
use crate::AppState;

// The delivery code is its own module tree (`src/webhooks/`); it is mounted here so the
// crate root stays untouched.
#[path = "../webhooks/delivery.rs"]
pub mod delivery;
#[path = "../webhooks/secrets.rs"]
pub mod secrets;

/// MLflow's default page size for `GET /webhooks`.
const DEFAULT_MAX_RESULTS: i64 = 100;
const MAX_RESULTS: i64 = 1000;

/// Webhooks see every registry event, so only admins manage them.
pub fn routes() -> Routes {
    let admin = Rule::Admin;
    Routes::new()
        .post("/webhooks", admin, create_webhook)
        .get("/webhooks", admin, list_webhooks)
        .get("/webhooks/{webhook_id}", admin, get_webhook)
        .patch("/webhooks/{webhook_id}", admin, update_webhook)
        .delete("/webhooks/{webhook_id}", admin, delete_webhook)
        .post("/webhooks/{webhook_id}/test", admin, test_webhook)
}

/// `mlflow.WebhookEvent` as sent: enums by name or number.
#[derive(Deserialize)]
pub struct EventMessage {
    #[serde(default)]
    entity: Option<Value>,
    #[serde(default)]
    action: Option<Value>,
}

fn enum_text(value: &Option<Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

impl EventMessage {
    fn parse(&self) -> Result<WebhookEvent, ApiError> {
        let (entity, action) = (enum_text(&self.entity), enum_text(&self.action));
        let entity = WebhookEntity::parse(&entity)
            .ok_or_else(|| ApiError::invalid(format!("Invalid webhook event entity: '{entity}'")))?;
        let action = WebhookAction::parse(&action).ok_or_else(|| {
            let valid: Vec<String> = entity.valid_actions().iter().map(|a| format!("'{}'", a.as_str())).collect();
            ApiError::invalid(format!(
                "Invalid action '{}' for entity '{}'. Valid actions are: [{}]",
                action.to_ascii_lowercase(),
                entity.as_str(),
                valid.join(", ")
            ))
        })?;
        Ok(WebhookEvent::new(entity, action)?)
    }
}

fn parse_events(events: &[EventMessage]) -> Result<Vec<WebhookEvent>, ApiError> {
    events.iter().map(EventMessage::parse).collect()
}

fn webhook_status<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<WebhookStatus>, D::Error> {
    lenient::opt_enum(d, WebhookStatus::parse, "WebhookStatus")
}

#[derive(Deserialize)]
pub struct CreateWebhookMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    url: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_vec")]
    events: Option<Vec<EventMessage>>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    description: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    secret: Option<String>,
    #[serde(default, deserialize_with = "webhook_status")]
    status: Option<WebhookStatus>,
}

async fn create_webhook(
    State(app): State<AppState>,
    rpc: Rpc<CreateWebhookMessage>,
) -> ApiResult<Json<Keyed<Webhook>>> {
    let message = rpc.message;
    let name = required_text(message.name, "name")?;
    let url = required_text(message.url, "url")?;
    let events = parse_events(&required(message.events, "events")?)?;
    validate_webhook_name(&name)?;
    delivery::validate_url(&url).await?;
    validate_webhook_events(&events)?;
    let webhook = app
        .store
        .create_webhook(CreateWebhook {
            name,
            url,
            events,
            description: message.description.filter(|d| !d.is_empty()),
            secret: message
                .secret
                .filter(|s| !s.is_empty())
                .map(|s| app.config.webhook_secrets.seal(&s))
                .transpose()?,
            status: message.status.unwrap_or(WebhookStatus::Active),
        })
        .await?;
    Ok(Json(Keyed { key: "webhook", value: webhook }))
}

#[derive(Deserialize)]
pub struct ListWebhooksMessage {
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    page_token: Option<String>,
}

async fn list_webhooks(State(app): State<AppState>, rpc: Rpc<ListWebhooksMessage>) -> ApiResult<Json<Paged<Webhook>>> {
    let message = rpc.message;
    let max_results = message.max_results.filter(|n| *n != 0).unwrap_or(DEFAULT_MAX_RESULTS);
    if !(1..=MAX_RESULTS).contains(&max_results) {
        return Err(ApiError::invalid("max_results must be between 1 and 1000."));
    }
    let page = app.store.list_webhooks(max_results as usize, message.page_token.filter(|t| !t.is_empty())).await?;
    Ok(Json(Paged { key: "webhooks", page }))
}

async fn get_webhook(State(app): State<AppState>, Path(webhook_id): Path<String>) -> ApiResult<Json<Keyed<Webhook>>> {
    let webhook = app.store.get_webhook(&webhook_id).await?;
    Ok(Json(Keyed { key: "webhook", value: webhook }))
}

#[derive(Deserialize)]
pub struct UpdateWebhookMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    description: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    url: Option<String>,
    #[serde(default, deserialize_with = "lenient::vec")]
    events: Vec<EventMessage>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    secret: Option<String>,
    #[serde(default, deserialize_with = "webhook_status")]
    status: Option<WebhookStatus>,
}

async fn update_webhook(
    State(app): State<AppState>,
    Path(webhook_id): Path<String>,
    rpc: Rpc<UpdateWebhookMessage>,
) -> ApiResult<Json<Keyed<Webhook>>> {
    let message = rpc.message;
    let events = parse_events(&message.events)?;
    // The webhook must exist before its new values are checked, as in MLflow's store.
    app.store.get_webhook(&webhook_id).await?;
    let name = message.name.filter(|n| !n.is_empty());
    if let Some(name) = &name {
        validate_webhook_name(name)?;
    }
    let url = message.url.filter(|u| !u.is_empty());
    if let Some(url) = &url {
        delivery::validate_url(url).await?;
    }
    let webhook = app
        .store
        .update_webhook(UpdateWebhook {
            webhook_id,
            name,
            description: message.description,
            url,
            events: (!events.is_empty()).then_some(events),
            // An empty secret clears it; any other is stored sealed.
            secret: message
                .secret
                .map(|s| if s.is_empty() { Ok(s) } else { app.config.webhook_secrets.seal(&s) })
                .transpose()?,
            status: message.status,
        })
        .await?;
    Ok(Json(Keyed { key: "webhook", value: webhook }))
}

async fn delete_webhook(State(app): State<AppState>, Path(webhook_id): Path<String>) -> ApiResult<Json<Value>> {
    app.store.delete_webhook(&webhook_id).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct TestWebhookMessage {
    #[serde(default)]
    event: Option<EventMessage>,
}

async fn test_webhook(
    State(app): State<AppState>,
    Path(webhook_id): Path<String>,
    rpc: Rpc<TestWebhookMessage>,
) -> ApiResult<Json<Keyed<delivery::TestResult>>> {
    let event = rpc.message.event.as_ref().map(EventMessage::parse).transpose()?;
    let webhook = app.store.get_webhook(&webhook_id).await?;
    if webhook.events.is_empty() && event.is_none() {
        return Err(ApiError(Error::invalid_parameter("Webhook events cannot be empty")));
    }
    let result = delivery::test(&webhook, event, &app.config.webhook_secrets).await;
    Ok(Json(Keyed { key: "result", value: result }))
}
