//! Black-box tests of the model registry and webhook RPCs: the real router on a loopback
//! port over a fresh SQLite store, driven the way the MLflow client drives it, with the
//! answers MLflow gives (shapes recorded from MLflow 3.18 and MLflow's messages).

mod common;

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::webhook_receiver::Receiver;
use common::{query_string, spawn_app_with, Artifacts, TestApp, TestAppOptions};
use ferroflow_server::handlers::webhooks::delivery::{set_policy, WebhookPolicy};
use reqwest::Method;
use serde_json::{json, Value};

// ---------------------------------------------------------------- harness

/// The shared [`TestApp`] with the registry suite's own call helpers.
struct App(TestApp);

impl Deref for App {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.0
    }
}

struct Answer {
    status: u16,
    body: Value,
    text: String,
}

impl Answer {
    #[track_caller]
    fn ok(self) -> Value {
        assert_eq!(self.status, 200, "expected 200, got {}: {}", self.status, self.text);
        self.body
    }

    /// Asserts an MLflow error and returns its message.
    #[track_caller]
    fn error(self, status: u16, code: &str) -> String {
        assert_eq!(
            (self.status, self.body["error_code"].as_str()),
            (status, Some(code)),
            "expected {status} {code}, got {}: {}",
            self.status,
            self.text
        );
        self.body["message"].as_str().unwrap_or_default().to_string()
    }

    #[track_caller]
    fn invalid(self) -> String {
        self.error(400, "INVALID_PARAMETER_VALUE")
    }

    #[track_caller]
    fn not_found(self) -> String {
        self.error(404, "RESOURCE_DOES_NOT_EXIST")
    }
}

/// Webhook receivers in these tests listen on 127.0.0.1 over plain HTTP.
fn loopback_policy() -> WebhookPolicy {
    WebhookPolicy {
        allowed_schemes: vec!["http".into(), "https".into()],
        allow_private_ips: true,
        request_timeout: Duration::from_secs(2),
        max_retries: 3,
        backoff_factor: Duration::from_millis(20),
        max_workers: 10,
    }
}

async fn spawn_app() -> App {
    set_policy(loopback_policy());
    App(spawn_app_with(TestAppOptions { artifacts: Artifacts::NotServed, ..TestAppOptions::default() }).await)
}

impl App {
    async fn call(&self, method: Method, rpc: &str, body: Option<Value>) -> Answer {
        let mut request = self.client.request(method, self.api(rpc));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, body, text }
    }

    async fn post(&self, rpc: &str, body: Value) -> Answer {
        self.call(Method::POST, rpc, Some(body)).await
    }

    async fn patch(&self, rpc: &str, body: Value) -> Answer {
        self.call(Method::PATCH, rpc, Some(body)).await
    }

    async fn delete(&self, rpc: &str, body: Value) -> Answer {
        self.call(Method::DELETE, rpc, Some(body)).await
    }

    /// A GET with a query string, as the Python client encodes it.
    async fn get(&self, rpc: &str, query: &[(&str, &str)]) -> Answer {
        let url = format!("{}?{}", self.api(rpc), query_string(query));
        let response = self.client.get(url).send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, body, text }
    }

    async fn model(&self, name: &str) -> Value {
        self.post("registered-models/create", json!({ "name": name })).await.ok()["registered_model"].clone()
    }

    async fn version(&self, name: &str, source: &str) -> Value {
        let body = json!({ "name": name, "source": source });
        self.post("model-versions/create", body).await.ok()["model_version"].clone()
    }
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    keys.sort();
    keys
}

// ---------------------------------------------------------------- registry flow

#[tokio::test]
async fn registry_flow_answers_like_mlflow() {
    let app = spawn_app().await;
    let created = app.model("churn-predictor").await;
    assert_eq!(keys(&created), ["creation_timestamp", "last_updated_timestamp", "name"]);
    let duplicate = app.post("registered-models/create", json!({ "name": "churn-predictor" })).await;
    assert_eq!(
        duplicate.error(400, "RESOURCE_ALREADY_EXISTS"),
        "Registered Model (name=churn-predictor) already exists."
    );

    // The recorded MLflow 3.18 answer has exactly these fields for a fresh version.
    let version = app.version("churn-predictor", "s3://bucket/churn").await;
    assert_eq!(
        keys(&version),
        [
            "creation_timestamp",
            "current_stage",
            "description",
            "last_updated_timestamp",
            "name",
            "run_id",
            "run_link",
            "source",
            "status",
            "version"
        ]
    );
    assert_eq!((version["version"].as_str(), version["status"].as_str()), (Some("1"), Some("READY")));
    assert_eq!((version["current_stage"].as_str(), version["description"].as_str()), (Some("None"), Some("")));

    let model = app.get("registered-models/get", &[("name", "churn-predictor")]).await.ok();
    let model = &model["registered_model"];
    assert_eq!(model["latest_versions"][0]["version"], "1");
    assert!(model["last_updated_timestamp"].as_i64() >= created["last_updated_timestamp"].as_i64());

    // Stages: case-insensitive in, canonical out.
    for (stage, expected) in [("staging", "Staging"), ("PRODUCTION", "Production")] {
        let body =
            json!({ "name": "churn-predictor", "version": "1", "stage": stage, "archive_existing_versions": false });
        let moved = app.post("model-versions/transition-stage", body).await.ok();
        assert_eq!(moved["model_version"]["current_stage"], expected);
    }
    let bogus =
        json!({ "name": "churn-predictor", "version": "1", "stage": "Bogus", "archive_existing_versions": false });
    assert_eq!(
        app.post("model-versions/transition-stage", bogus).await.invalid(),
        "Invalid Model Version stage: Bogus. Value must be one of None, Staging, Production, Archived."
    );
    let archive_archived =
        json!({ "name": "churn-predictor", "version": "1", "stage": "archived", "archive_existing_versions": true });
    assert!(app
        .post("model-versions/transition-stage", archive_archived)
        .await
        .invalid()
        .contains("'archived' is not an Active stage"));

    // Aliases.
    let alias = json!({ "name": "churn-predictor", "alias": "champion", "version": "1" });
    assert_eq!(app.post("registered-models/alias", alias).await.ok(), json!({}));
    let by_alias = app.get("registered-models/alias", &[("name", "churn-predictor"), ("alias", "champion")]).await.ok();
    assert_eq!(by_alias["model_version"]["aliases"], json!(["champion"]));
    let model = app.get("registered-models/get", &[("name", "churn-predictor")]).await.ok();
    assert_eq!(model["registered_model"]["aliases"], json!([{ "alias": "champion", "version": "1" }]));
    assert!(model["registered_model"]["latest_versions"][0].get("aliases").is_none(), "MLflow lists no aliases there");
    let latest = json!({ "name": "churn-predictor", "alias": "latest", "version": "1" });
    assert_eq!(
        app.post("registered-models/alias", latest).await.invalid(),
        "'latest' alias name (case insensitive) is reserved."
    );
    let unknown = app.get("registered-models/alias", &[("name", "churn-predictor"), ("alias", "nope")]).await;
    assert_eq!(unknown.invalid(), "Registered model alias nope not found.");

    // get-latest-versions, by POST (what the client uses) and by GET.
    let body = json!({ "name": "churn-predictor", "stages": ["Production"] });
    let latest = app.post("registered-models/get-latest-versions", body).await.ok();
    assert_eq!(latest["model_versions"][0]["aliases"], json!(["champion"]));
    let none =
        app.get("registered-models/get-latest-versions", &[("name", "churn-predictor"), ("stages", "None")]).await.ok();
    assert_eq!(none, json!({}));

    let uri = app.get("model-versions/get-download-uri", &[("name", "churn-predictor"), ("version", "1")]).await.ok();
    assert_eq!(uri, json!({ "artifact_uri": "s3://bucket/churn" }));

    // The client's own search filter: prompts excluded, a missing tag satisfies `!=`.
    let prompt = json!({ "name": "a-prompt", "tags": [{ "key": "mlflow.prompt.is_prompt", "value": "true" }] });
    app.post("registered-models/create", prompt).await.ok();
    let filter = "name LIKE '%' AND tag.`mlflow.prompt.is_prompt` != 'true'";
    let found = app
        .get("registered-models/search", &[("filter", filter), ("max_results", "5"), ("order_by", "name ASC")])
        .await
        .ok();
    let names: Vec<&str> =
        found["registered_models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["churn-predictor"]);
    let too_many = app.get("registered-models/search", &[("max_results", "1001")]).await.invalid();
    assert_eq!(
        too_many,
        "Invalid value \"1001\" for parameter 'max_results' supplied:  Hint: Value was of type 'str'. See the API \
         docs for more information about request parameters."
    );

    // Deleting the version drops its alias.
    app.delete("model-versions/delete", json!({ "name": "churn-predictor", "version": "1" })).await.ok();
    let gone = app.get("model-versions/get", &[("name", "churn-predictor"), ("version", "1")]).await.not_found();
    assert_eq!(gone, "Model Version (name=churn-predictor, version=1) not found");
    let model = app.get("registered-models/get", &[("name", "churn-predictor")]).await.ok();
    assert!(model["registered_model"].get("aliases").is_none());
    assert_eq!(app.version("churn-predictor", "s3://bucket/churn").await["version"], "2");

    app.post("registered-models/rename", json!({ "name": "churn-predictor", "new_name": "churn-2" })).await.ok();
    app.get("registered-models/get", &[("name", "churn-predictor")]).await.not_found();
    app.delete("registered-models/delete", json!({ "name": "churn-2" })).await.ok();
    app.get("registered-models/get", &[("name", "churn-2")]).await.not_found();
}

#[tokio::test]
async fn version_sources_follow_mlflow_rules() {
    let app = spawn_app().await;
    app.model("m").await;
    let create = |source: &str, extra: Value| {
        let mut body = json!({ "name": "m", "source": source });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for (source, extra) in [
        ("/tmp/model", json!({})),
        ("runs:/abc/model", json!({})),
        ("runs:/abc/model", json!({ "run_id": "other" })),
        ("models:/m-0123", json!({})),
        ("s3://bucket/../etc", json!({})),
        ("s3://bucket", json!({})),
        ("http://example.com/x", json!({})),
        ("mlflow-artifacts:/0/abc/artifacts/x", json!({})),
        ("models:/m@nowhere", json!({})),
    ] {
        let answer = app.post("model-versions/create", create(source, extra.clone())).await;
        answer.invalid();
    }
    // A run source needs its run id; the run itself is not looked up (as in MLflow).
    let ok = app.post("model-versions/create", create("runs:/abc/model", json!({ "run_id": "abc" }))).await.ok();
    assert_eq!(ok["model_version"]["run_id"], "abc");

    // A run's own artifact location is fine with its run id.
    let run = app.post("runs/create", json!({ "experiment_id": "0" })).await.ok();
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let artifact_uri = run["run"]["info"]["artifact_uri"].as_str().unwrap().to_string();
    let inside = format!("{artifact_uri}/model");
    let ok = app.post("model-versions/create", create(&inside, json!({ "run_id": run_id }))).await.ok();
    assert_eq!(ok["model_version"]["source"], inside);

    // A registered version as source: normalised, and it inherits the run.
    app.post("registered-models/alias", json!({ "name": "m", "alias": "best", "version": "1" })).await.ok();
    let copy = app.post("model-versions/create", create("models:/m@best", json!({}))).await.ok();
    assert_eq!(
        (copy["model_version"]["source"].as_str(), copy["model_version"]["run_id"].as_str()),
        (Some("models:/m/1"), Some("abc"))
    );
    let uri = app.get("model-versions/get-download-uri", &[("name", "m"), ("version", "3")]).await.ok();
    assert_eq!(uri["artifact_uri"], "runs:/abc/model");
    let mismatch = app.post("model-versions/create", create("models:/m/1", json!({ "run_id": "zzz" }))).await.invalid();
    assert!(mismatch.contains("must match the referenced model version"), "{mismatch}");
    let no_stage = app.post("model-versions/create", create("models:/m/Production", json!({}))).await;
    assert_eq!(no_stage.not_found(), "No versions of model with name 'm' and stage 'Production' found");
}

#[tokio::test]
async fn parallel_version_creates_get_unique_gap_free_numbers() {
    let app = Arc::new(spawn_app().await);
    app.model("race").await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let app = Arc::clone(&app);
            tokio::spawn(async move {
                app.version("race", "s3://bucket/race").await["version"].as_str().unwrap().parse::<i64>().unwrap()
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=64).collect::<Vec<i64>>());
    eprintln!("64 concurrent model-versions/create calls took {elapsed:?}");
    let found = app.get("model-versions/search", &[("filter", "name = 'race'"), ("max_results", "1000")]).await.ok();
    assert_eq!(found["model_versions"].as_array().unwrap().len(), 64);
}

#[tokio::test]
async fn user_mistakes_are_4xx_never_5xx() {
    let app = spawn_app().await;
    app.model("m").await;
    let missing = app.post("registered-models/create", json!({})).await.invalid();
    assert_eq!(
        missing,
        "Missing value for required parameter 'name'. See the API docs for more information about request parameters."
    );
    assert_eq!(
        app.get("model-versions/get", &[("name", "m"), ("version", "x")]).await.invalid(),
        "Parameter 'version' must be an integer, got 'x'."
    );
    assert_eq!(
        app.post("registered-models/create", json!({ "name": "a/b" })).await.invalid(),
        "Invalid model name 'a/b'. Names cannot contain '/' or ':'."
    );
    let bodies =
        [json!({}), json!({ "name": 5 }), json!({ "name": "m", "version": [] }), json!({ "name": "m", "stages": "x" })];
    let rpcs = [
        (Method::POST, "registered-models/create"),
        (Method::POST, "registered-models/rename"),
        (Method::PATCH, "registered-models/update"),
        (Method::DELETE, "registered-models/delete"),
        (Method::POST, "registered-models/get-latest-versions"),
        (Method::POST, "registered-models/set-tag"),
        (Method::DELETE, "registered-models/delete-tag"),
        (Method::POST, "registered-models/alias"),
        (Method::DELETE, "registered-models/alias"),
        (Method::POST, "model-versions/create"),
        (Method::PATCH, "model-versions/update"),
        (Method::DELETE, "model-versions/delete"),
        (Method::POST, "model-versions/transition-stage"),
        (Method::POST, "model-versions/set-tag"),
        (Method::DELETE, "model-versions/delete-tag"),
        (Method::POST, "webhooks"),
        (Method::PATCH, "webhooks/nope"),
        (Method::POST, "webhooks/nope/test"),
    ];
    for (method, rpc) in rpcs {
        for body in &bodies {
            let answer = app.call(method.clone(), rpc, Some(body.clone())).await;
            assert!(
                (400..500).contains(&answer.status) || answer.status == 200,
                "{method} {rpc} {body}: {} {}",
                answer.status,
                answer.text
            );
        }
    }
    for query in [
        vec![("filter", "name > 'x'")],
        vec![("order_by", "bogus")],
        vec![("page_token", "!!")],
        vec![("max_results", "-3")],
    ] {
        let answer = app.get("model-versions/search", &query).await;
        assert_eq!(answer.status, 400, "{query:?}: {}", answer.text);
    }
}

// ---------------------------------------------------------------- webhooks

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("missing header {name}"))
}

/// Checks the signature as a receiver would, independently of the server's code.
fn verify_signature(secret: &str, headers: &HeaderMap, body: &str) {
    let delivery_id = header(headers, "x-mlflow-delivery-id");
    let timestamp = header(headers, "x-mlflow-timestamp");
    let signature = header(headers, "x-mlflow-signature");
    let (version, encoded) = signature.split_once(',').expect("v1,<signature>");
    assert_eq!(version, "v1");
    let tag = STANDARD.decode(encoded).expect("base64");
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let signed = format!("{delivery_id}.{timestamp}.{body}");
    aws_lc_rs::hmac::verify(&key, signed.as_bytes(), &tag).expect("the signature verifies");
    let sent_at: u64 = timestamp.parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(now.abs_diff(sent_at) < 300);
}

fn is_event(entity: &'static str, action: &'static str) -> impl Fn(&Value) -> bool {
    move |p: &Value| p["entity"] == entity && p["action"] == action
}

#[tokio::test]
async fn webhooks_get_signed_events_for_each_registry_action() {
    let app = spawn_app().await;
    let (receiver, url) = Receiver::start(vec![]).await;
    let secret = "whsec-test-secret";
    let events = json!([
        { "entity": "REGISTERED_MODEL", "action": "CREATED" },
        { "entity": "MODEL_VERSION", "action": "CREATED" },
        { "entity": "MODEL_VERSION_TAG", "action": "SET" },
        { "entity": "MODEL_VERSION_TAG", "action": "DELETED" },
        { "entity": "MODEL_VERSION_ALIAS", "action": "CREATED" },
        { "entity": "MODEL_VERSION_ALIAS", "action": "DELETED" },
    ]);
    let created = app
        .post(
            "webhooks",
            json!({ "name": "ci", "url": url, "events": events, "secret": secret, "description": "deploys" }),
        )
        .await
        .ok();
    let webhook = &created["webhook"];
    assert_eq!(
        keys(webhook),
        [
            "creation_timestamp",
            "description",
            "events",
            "last_updated_timestamp",
            "name",
            "status",
            "url",
            "webhook_id"
        ]
    );
    assert_eq!(webhook["status"], "ACTIVE");
    let id = webhook["webhook_id"].as_str().unwrap().to_string();
    // The secret is never echoed back.
    for answer in
        [app.get(&format!("webhooks/{id}"), &[]).await.ok(), app.get("webhooks", &[]).await.ok(), created.clone()]
    {
        assert!(!answer.to_string().contains(secret), "{answer}");
    }
    // Nor is it stored as it was sent: the database holds it encrypted.
    for file in [common::DB_FILE.to_string(), format!("{}-wal", common::DB_FILE)] {
        let bytes = std::fs::read(app.data_dir().join(&file)).unwrap_or_default();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{file} holds the secret in clear");
    }

    // Every registry action, each announced once.
    app.post("registered-models/create", json!({ "name": "m", "tags": [{ "key": "team", "value": "ml" }] })).await.ok();
    app.post("model-versions/create", json!({ "name": "m", "source": "s3://b/m", "description": "v1" })).await.ok();
    app.post("model-versions/set-tag", json!({ "name": "m", "version": "1", "key": "k", "value": "v" })).await.ok();
    app.delete("model-versions/delete-tag", json!({ "name": "m", "version": "1", "key": "k" })).await.ok();
    app.post("registered-models/alias", json!({ "name": "m", "alias": "prod", "version": "1" })).await.ok();
    app.delete("registered-models/alias", json!({ "name": "m", "alias": "prod" })).await.ok();
    // Not subscribed (and not an MLflow event for models): nothing is sent.
    app.post("registered-models/set-tag", json!({ "name": "m", "key": "x", "value": "y" })).await.ok();

    let expected: [(&str, &str, Value); 6] = [
        ("registered_model", "created", json!({ "name": "m", "tags": { "team": "ml" }, "description": "" })),
        (
            "model_version",
            "created",
            json!({ "name": "m", "version": "1", "source": "s3://b/m", "run_id": null, "tags": {}, "description": "v1" }),
        ),
        ("model_version_tag", "set", json!({ "name": "m", "version": "1", "key": "k", "value": "v" })),
        ("model_version_tag", "deleted", json!({ "name": "m", "version": "1", "key": "k" })),
        ("model_version_alias", "created", json!({ "name": "m", "alias": "prod", "version": "1" })),
        ("model_version_alias", "deleted", json!({ "name": "m", "alias": "prod" })),
    ];
    for (entity, action, data) in expected {
        let found = receiver.wait_for(1, |p| p["entity"] == entity && p["action"] == action).await;
        assert_eq!(found.len(), 1, "{entity}.{action} delivered once");
        let (headers, payload, raw) = &found[0];
        verify_signature(secret, headers, raw);
        assert_eq!(header(headers, "content-type"), "application/json");
        assert_eq!(payload["data"], data, "{entity}.{action}");
        assert!(payload["timestamp"].as_str().unwrap().ends_with("+00:00"));
        // Python's json.dumps spacing, which the signature covers.
        assert!(
            raw.starts_with(&format!("{{\"entity\": \"{entity}\", \"action\": \"{action}\", \"timestamp\": ")),
            "{raw}"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.payloads().len(), 6, "nothing else was sent");

    // The test endpoint sends an example payload, synchronously, and reports the answer.
    let body = json!({ "event": { "entity": "MODEL_VERSION_ALIAS", "action": "CREATED" } });
    let result = app.post(&format!("webhooks/{id}/test"), body).await.ok();
    assert_eq!(result["result"], json!({ "success": true, "response_status": 200, "response_body": "received" }));
    let examples = receiver.wait_for(1, |p| p["data"]["name"] == "example_model").await;
    verify_signature(secret, &examples[0].0, &examples[0].2);
    assert_eq!(examples[0].1["data"], json!({ "name": "example_model", "alias": "example_alias", "version": "1" }));

    // Disabled and deleted webhooks receive nothing.
    let disabled = app.patch(&format!("webhooks/{id}"), json!({ "status": "DISABLED" })).await.ok();
    assert_eq!(disabled["webhook"]["status"], "DISABLED");
    app.post("registered-models/create", json!({ "name": "quiet" })).await.ok();
    app.delete(&format!("webhooks/{id}"), json!({})).await.ok();
    app.get(&format!("webhooks/{id}"), &[]).await.not_found();
    app.post("registered-models/create", json!({ "name": "quieter" })).await.ok();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.payloads().len(), 7);
}

#[tokio::test]
async fn failing_receivers_are_retried_boundedly_without_slowing_the_registry() {
    let app = spawn_app().await;
    // Two 503s then success: three attempts of the same signed delivery.
    let (flaky, flaky_url) = Receiver::start(vec![503, 503]).await;
    // Always failing: 1 + max_retries attempts, then given up.
    let (broken, broken_url) = Receiver::start(vec![500; 100]).await;
    let events = json!([{ "entity": "REGISTERED_MODEL", "action": "CREATED" }]);
    for (name, url) in [("flaky", &flaky_url), ("broken", &broken_url)] {
        app.post("webhooks", json!({ "name": name, "url": url, "events": events, "secret": "k" })).await.ok();
    }
    // A receiver that never answers and one that does not exist.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}/hook", silent.local_addr().unwrap());
    app.post("webhooks", json!({ "name": "silent", "url": silent_url, "events": events })).await.ok();
    app.post("webhooks", json!({ "name": "gone", "url": "http://127.0.0.1:9/hook", "events": events })).await.ok();

    let started = Instant::now();
    app.post("registered-models/create", json!({ "name": "m" })).await.ok();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(500), "the registry call waited for delivery: {elapsed:?}");

    let attempts = flaky.wait_for(3, is_event("registered_model", "created")).await;
    let ids: Vec<&str> = attempts.iter().map(|(h, _, _)| header(h, "x-mlflow-delivery-id")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "retries resend the same delivery: {ids:?}");
    for (headers, _, raw) in &attempts {
        verify_signature("k", headers, raw);
    }
    broken.wait_for(4, is_event("registered_model", "created")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(broken.payloads().len(), 4, "1 attempt + 3 retries, then it gives up");
    assert_eq!(flaky.payloads().len(), 3);
    drop(silent);
}

#[tokio::test]
async fn webhook_requests_are_validated_like_mlflow() {
    let app = spawn_app().await;
    let event = json!([{ "entity": "MODEL_VERSION", "action": "CREATED" }]);
    let cases = [
        (json!({ "name": "ok", "url": "http://127.0.0.1:9/x" }), "Missing value for required parameter 'events'. See the API docs for more information about request parameters."),
        (json!({ "name": "ok", "url": "http://127.0.0.1:9/x", "events": [] }), "Webhook events must be a non-empty list of WebhookEvent objects: []."),
        (json!({ "name": "-bad", "url": "http://127.0.0.1:9/x", "events": event }), "Webhook name '-bad' is invalid. It must start and end with a letter or digit, be less than 63 characters long, and contain only letters, digits, dots (.), underscores (_), and hyphens (-)."),
        (json!({ "name": "ok", "url": "ftp://127.0.0.1:9/x", "events": event }), "Invalid webhook URL scheme: 'ftp'. Allowed schemes are: http, https."),
        (json!({ "name": "ok", "url": "http:///x", "events": event }), "Webhook URL must include a hostname: 'http:///x'"),
        (
            json!({ "name": "ok", "url": "http://127.0.0.1:9/x", "events": [{ "entity": "REGISTERED_MODEL", "action": "DELETED" }] }),
            "Invalid action 'deleted' for entity 'registered_model'. Valid actions are: ['created']",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(app.post("webhooks", body).await.invalid(), message);
    }
    assert_eq!(
        app.get("webhooks", &[("max_results", "1001")]).await.invalid(),
        "max_results must be between 1 and 1000."
    );
    assert_eq!(app.get("webhooks/nope", &[]).await.not_found(), "Webhook with ID nope not found.");
    app.delete("webhooks/nope", json!({})).await.not_found();

    // Paging, newest first.
    let mut ids = Vec::new();
    for name in ["w1", "w2", "w3"] {
        let created =
            app.post("webhooks", json!({ "name": name, "url": "https://example.com/h", "events": event })).await.ok();
        ids.push(created["webhook"]["webhook_id"].as_str().unwrap().to_string());
    }
    let first = app.get("webhooks", &[("max_results", "2")]).await.ok();
    let token = first["next_page_token"].as_str().unwrap().to_string();
    let second = app.get("webhooks", &[("max_results", "2"), ("page_token", &token)]).await.ok();
    assert!(second.get("next_page_token").is_none());
    let listed: Vec<String> = first["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["webhooks"].as_array().unwrap())
        .map(|w| w["webhook_id"].as_str().unwrap().to_string())
        .collect();
    let mut expected = ids.clone();
    expected.reverse();
    let by_id: HashMap<&str, usize> = listed.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    assert_eq!(by_id.len(), 3);
    assert_eq!(listed, expected);

    // Updates validate the same way, and keep what they do not name.
    let id = &ids[0];
    app.patch(&format!("webhooks/{id}"), json!({ "url": "ftp://x/y" })).await.invalid();
    let updated = app
        .patch(
            &format!("webhooks/{id}"),
            json!({ "name": "renamed", "events": [{ "entity": "MODEL_VERSION_TAG", "action": "SET" }] }),
        )
        .await
        .ok();
    assert_eq!(updated["webhook"]["name"], "renamed");
    assert_eq!(updated["webhook"]["url"], "https://example.com/h");
    assert_eq!(updated["webhook"]["events"], json!([{ "entity": "MODEL_VERSION_TAG", "action": "SET" }]));
}

// ---------------------------------------------------------------- recorded traffic

const RECORDING: &str = include_str!("data/mlflow-3.18-recorded-calls.jsonl");

/// Drops server-clock fields; everything else must match byte for byte (as JSON).
fn without_timestamps(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(key, _)| !key.ends_with("timestamp"))
                .map(|(key, inner)| (key, without_timestamps(inner)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_timestamps).collect()),
        other => other,
    }
}

/// Replays every model-registry call of the recorded MLflow 3.18 session (52 calls: the
/// `register_model` flow from a logged model, stages, aliases, tags, searches, a copy,
/// rename and deletes), in order, against a server holding the same experiment, run and
/// logged model, and compares every answer with MLflow's.
#[tokio::test]
async fn replay_the_recorded_mlflow_registry_traffic() {
    let app = spawn_app().await;
    let calls: Vec<Value> = RECORDING.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let registry: Vec<&Value> = calls
        .iter()
        .filter(|c| {
            let path = c["path"].as_str().unwrap();
            path.contains("/registered-models") || path.contains("/model-versions")
        })
        .collect();
    assert_eq!(registry.len(), 52);

    // The objects the recording's registry calls name: its run and its logged model.
    let register = registry.iter().find(|c| c["path"] == "/api/2.0/mlflow/model-versions/create").unwrap();
    let request: Value = serde_json::from_str(register["req"].as_str().unwrap()).unwrap();
    let (recorded_run, recorded_model) =
        (request["run_id"].as_str().unwrap().to_string(), request["model_id"].as_str().unwrap().to_string());
    let experiment = app.post("experiments/create", json!({ "name": "churn-prediction" })).await.ok();
    assert_eq!(experiment["experiment_id"], "1", "the recording's experiment id");
    let run = app.post("runs/create", json!({ "experiment_id": "1" })).await.ok();
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let model =
        app.post("logged-models", json!({ "experiment_id": "1", "name": "model", "source_run_id": run_id })).await.ok();
    let model_id = model["model"]["info"]["model_id"].as_str().unwrap().to_string();
    let rewrite = |text: &str| text.replace(&recorded_run, &run_id).replace(&recorded_model, &model_id);

    let mut mismatches = Vec::new();
    for call in registry {
        let (method, path) = (call["method"].as_str().unwrap(), call["path"].as_str().unwrap());
        let url = format!("{}{}", app.address, rewrite(path));
        let mut request = app.client.request(Method::from_bytes(method.as_bytes()).unwrap(), url);
        let body = call["req"].as_str().unwrap();
        if !body.is_empty() {
            request = request.header("Content-Type", "application/json").body(rewrite(body));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let actual: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null);
        let expected: Value = serde_json::from_str(&rewrite(call["resp"].as_str().unwrap())).unwrap();
        let (actual, expected) = if status >= 400 {
            (
                json!([status, actual["error_code"], actual["message"]]),
                json!([call["status"], expected["error_code"], expected["message"]]),
            )
        } else {
            (json!([status, without_timestamps(actual)]), json!([call["status"], without_timestamps(expected)]))
        };
        if actual != expected {
            mismatches.push(format!("{method} {path}\n  MLflow:    {expected}\n  ferroflow: {actual}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} registry answers differ from MLflow 3.18:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[tokio::test]
async fn prompts_announce_prompt_events_not_model_events() {
    let app = spawn_app().await;
    let (receiver, url) = Receiver::start(vec![]).await;
    let events = json!([
        { "entity": "PROMPT", "action": "CREATED" },
        { "entity": "PROMPT_VERSION", "action": "CREATED" },
        { "entity": "PROMPT_TAG", "action": "SET" },
        { "entity": "PROMPT_ALIAS", "action": "CREATED" },
        { "entity": "REGISTERED_MODEL", "action": "CREATED" },
        { "entity": "MODEL_VERSION_ALIAS", "action": "CREATED" },
    ]);
    app.post("webhooks", json!({ "name": "prompts", "url": url, "events": events })).await.ok();

    let prompt_tags = json!([
        { "key": "mlflow.prompt.is_prompt", "value": "true" },
        { "key": "_mlflow_prompt_type", "value": "text" },
        { "key": "owner", "value": "me" },
    ]);
    app.post("registered-models/create", json!({ "name": "greeting", "tags": prompt_tags, "description": "d" }))
        .await
        .ok();
    let version_tags = json!([
        { "key": "mlflow.prompt.is_prompt", "value": "true" },
        { "key": "mlflow.prompt.text", "value": "Hello {{name}}!" },
        { "key": "lang", "value": "en" },
    ]);
    let body = json!({ "name": "greeting", "source": "prompt-template", "tags": version_tags });
    app.post("model-versions/create", body).await.ok();
    app.post("registered-models/set-tag", json!({ "name": "greeting", "key": "team", "value": "nlp" })).await.ok();
    app.post("registered-models/alias", json!({ "name": "greeting", "alias": "prod", "version": "1" })).await.ok();

    let expected = [
        ("prompt", "created", json!({ "name": "greeting", "tags": { "owner": "me" }, "description": "d" })),
        (
            "prompt_version",
            "created",
            json!({ "name": "greeting", "version": "1", "template": "Hello {{name}}!", "tags": { "lang": "en" }, "description": null }),
        ),
        ("prompt_tag", "set", json!({ "name": "greeting", "key": "team", "value": "nlp" })),
        ("prompt_alias", "created", json!({ "name": "greeting", "alias": "prod", "version": "1" })),
    ];
    for (entity, action, data) in expected {
        let found = receiver.wait_for(1, |p| p["entity"] == entity && p["action"] == action).await;
        assert_eq!(found[0].1["data"], data, "{entity}.{action}");
        assert!(found[0].0.get("x-mlflow-signature").is_none(), "no secret, no signature");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.payloads().len(), 4, "no model events for a prompt");

    // A prompt version needs a placeholder source; prompts are hidden from model searches.
    let bad = json!({ "name": "greeting", "source": "s3://b/p", "tags": [{ "key": "mlflow.prompt.is_prompt", "value": "true" }] });
    app.post("model-versions/create", bad).await.invalid();
    let found = app.get("model-versions/search", &[]).await.ok();
    assert_eq!(found, json!({}));
}
