//! Deny by default, walked over the whole router: every route has a rule, the anonymous
//! are refused everywhere but the public routes, and a route added without a rule is
//! refused to everyone. Plus the UI's session: cookie attributes, CSRF, logout.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{spawn_app_with, TestAppOptions, ADMIN};
use ferroflow_server::auth::{Auth, AuthSettings, Rule};
use ferroflow_server::{routes, AppState, ServerConfig};
use serde_json::{json, Value};
use tower::ServiceExt;

fn with_auth() -> TestAppOptions {
    TestAppOptions { auth: Some(AuthSettings::default()), ..Default::default() }
}

/// A state with auth on over a fresh store, for walking the route table in process.
async fn auth_state() -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = ferroflow_sqlite::SqliteStore::open(ferroflow_sqlite::SqliteOptions {
        path: dir.path().join("db.sqlite"),
        default_artifact_root: "mlflow-artifacts:/".into(),
        sync: ferroflow_sqlite::SyncMode::Normal,
        query_timeout: ferroflow_sqlite::DEFAULT_QUERY_TIMEOUT,
    })
    .unwrap();
    let artifacts = ferroflow_artifacts::ArtifactRepository::open_local(&dir.path().join("artifacts")).unwrap();
    let mut state = AppState::new(Arc::new(store), Some(artifacts), ServerConfig::default());
    ferroflow_server::auth::bootstrap_admin(state.store.as_ref(), Some(ADMIN.0), Some(ADMIN.1)).await.unwrap();
    state.auth = Some(Arc::new(Auth::new(AuthSettings::default())));
    (state, dir)
}

/// A concrete path for a route pattern: `{x}` and `{*x}` become sample segments.
fn concrete(pattern: &str) -> String {
    pattern.split('/').map(|segment| if segment.starts_with('{') { "1" } else { segment }).collect::<Vec<_>>().join("/")
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

async fn send(router: &axum::Router, method: Method, path: &str, authorization: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path).header("content-type", "application/json");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = router.clone().oneshot(request.body(Body::from("{}")).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_route_has_a_rule_and_only_public_ones_serve_the_anonymous() {
    let (state, _dir) = auth_state().await;
    let table = routes(&state);
    let rules: Vec<(Method, String, Rule)> = table.rules().to_vec();
    assert!(rules.len() > 150, "the whole router, under every prefix: {}", rules.len());
    let public: Vec<&str> =
        rules.iter().filter(|(_, _, rule)| *rule == Rule::Public).map(|(_, p, _)| p.as_str()).collect();
    for expected in ["/health", "/version", "/api/3.0/mlflow/server-info", "/ajax-api/ferroflow/v1/login"] {
        assert!(public.contains(&expected), "{expected} is public");
    }
    assert!(public.len() <= 6, "nothing else is public: {public:?}");
    // Each path and method appears once: no route is declared twice with two rules.
    let mut keys: Vec<(String, String)> = rules.iter().map(|(m, p, _)| (m.to_string(), p.clone())).collect();
    keys.sort();
    let before = keys.len();
    keys.dedup();
    assert_eq!(before, keys.len(), "a (method, path) declared twice");

    let router = ferroflow_server::router(state);
    for (method, pattern, rule) in &rules {
        let path = concrete(pattern);
        let (status, body) = send(&router, method.clone(), &path, None).await;
        if *rule == Rule::Public {
            // The login form answers a login without credentials with 401 itself.
            if pattern.ends_with("/login") {
                continue;
            }
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {pattern} is public");
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {pattern} must refuse the anonymous: {body}");
            assert_eq!(body["error_code"], "UNAUTHENTICATED", "{method} {pattern}");
        }
        // An admin is never met by the "no rule" refusal on a declared route.
        let (status, body) = send(&router, method.clone(), &path, Some(&basic(ADMIN.0, ADMIN.1))).await;
        assert!(
            !(status == StatusCode::FORBIDDEN && body["message"].as_str().unwrap_or("").contains("no permission rule")),
            "{method} {pattern}"
        );
    }
}

#[tokio::test]
async fn a_route_added_without_a_rule_is_refused_to_everyone() {
    let (state, _dir) = auth_state().await;
    let routes = routes(&state)
        .with_router(|router| router.route("/api/2.0/mlflow/sneaky", axum::routing::get(|| async { "wide open" })));
    let router = ferroflow_server::router_with(state, routes);
    let (status, body) = send(&router, Method::GET, "/api/2.0/mlflow/sneaky", Some(&basic(ADMIN.0, ADMIN.1))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error_code"], "PERMISSION_DENIED");
    let (status, _) = send(&router, Method::GET, "/api/2.0/mlflow/sneaky", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn with_auth_off_the_users_api_does_not_exist() {
    let app = common::spawn_app().await;
    let response = app.client.get(format!("{}/api/2.0/mlflow/users/get?username=admin", app.address)).send().await;
    assert_eq!(response.unwrap().status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ui_sessions_are_httponly_samesite_cookies_and_writes_need_the_csrf_token() {
    let app = spawn_app_with(with_auth()).await;
    let login = |password: &str| {
        app.client
            .post(format!("{}/ajax-api/ferroflow/v1/login", app.address))
            .header("x-forwarded-proto", "https")
            .json(&json!({"username": ADMIN.0, "password": password}))
            .send()
    };
    assert_eq!(login("wrong").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let response = login(ADMIN.1).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_string();
    let body: Value = response.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_string();
    assert!(!body.to_string().contains(session.split('=').nth(1).unwrap()), "the secret stays in the cookie");
    assert_eq!(body["user"]["username"], ADMIN.0);

    let search = format!("{}/ajax-api/2.0/mlflow/experiments/search?max_results=5", app.address);
    let read = app.client.get(&search).header("cookie", &session).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    // A write without the token (a cross-site form would send the cookie, not the header).
    let create = format!("{}/ajax-api/2.0/mlflow/experiments/create", app.address);
    let forged = app.client.post(&create).header("cookie", &session).json(&json!({"name": "x"})).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let wrong = app
        .client
        .post(&create)
        .header("cookie", &session)
        .header("x-csrf-token", "0".repeat(csrf.len()))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let made = app
        .client
        .post(&create)
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::OK, "{}", made.text().await.unwrap());

    let logout = app
        .client
        .post(format!("{}/ajax-api/ferroflow/v1/logout", app.address))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::OK);
    assert!(logout.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let after = app.client.get(&search).header("cookie", &session).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "the session is gone from the store");
    // The UI's calls get no Basic challenge, so browsers show no login dialog of their own.
    assert!(after.headers().get("www-authenticate").is_none());
}
