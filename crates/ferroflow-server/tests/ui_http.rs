//! The web UI's serving (`src/ui.rs`): the embedded `ui/dist` bundle at `/`, content types,
//! precompressed variants, cache headers, the Content-Security-Policy, and the SPA
//! fallback versus the API's JSON 404.

mod common;

use common::{spawn_app, TestApp};
use reqwest::header::{self, HeaderMap};
use reqwest::StatusCode;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers.get(&name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

async fn get(app: &TestApp, path: &str, accept_encoding: Option<&str>) -> Answer {
    let mut request = app.client.get(app.url(path));
    if let Some(coding) = accept_encoding {
        request = request.header(header::ACCEPT_ENCODING, coding);
    }
    let response = request.send().await.unwrap();
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

/// The hashed asset paths `index.html` refers to (`/assets/index-<hash>.js` and `.css`).
fn assets(index: &str) -> Vec<String> {
    index.split('"').filter(|part| part.starts_with("/assets/")).map(str::to_owned).collect()
}

fn assert_csp(answer: &Answer) {
    let csp = answer.header(header::CONTENT_SECURITY_POLICY);
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

#[tokio::test]
async fn index_is_html_not_cached_with_a_csp_and_no_inline_script() {
    let app = spawn_app().await;
    let answer = get(&app, "/", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header(header::CONTENT_TYPE), "text/html; charset=utf-8");
    assert_eq!(answer.header(header::CACHE_CONTROL), "no-cache");
    assert_eq!(answer.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_csp(&answer);
    let html = answer.text();
    assert!(html.contains("<div id=\"app\"></div>"), "{html}");
    // Every script is an external module from the same origin: nothing inline for the CSP to block.
    for script in html.split("<script").skip(1) {
        let tag = &script[..script.find('>').unwrap()];
        assert!(tag.contains("src=\"/assets/"), "inline or foreign script: {tag}");
    }
    let assets = assets(&html);
    assert!(assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")), "{assets:?}");
}

#[tokio::test]
async fn hashed_assets_are_immutable_typed_and_precompressed() {
    let app = spawn_app().await;
    let index = get(&app, "/", None).await.text();
    for asset in assets(&index) {
        let expected_type =
            if asset.ends_with(".js") { "text/javascript; charset=utf-8" } else { "text/css; charset=utf-8" };
        let plain = get(&app, &asset, None).await;
        assert_eq!(plain.status, StatusCode::OK, "{asset}");
        assert_eq!(plain.header(header::CONTENT_TYPE), expected_type, "{asset}");
        assert_eq!(plain.header(header::CACHE_CONTROL), "public, max-age=31536000, immutable");
        assert_eq!(plain.header(header::CONTENT_ENCODING), "");
        assert_eq!(plain.header(header::VARY), "Accept-Encoding");
        assert_csp(&plain);

        let gzip = get(&app, &asset, Some("gzip, deflate")).await;
        assert_eq!(gzip.header(header::CONTENT_ENCODING), "gzip", "{asset}");
        assert_eq!(gzip.header(header::CONTENT_TYPE), expected_type);
        assert!(gzip.body.starts_with(&[0x1f, 0x8b]) && gzip.body.len() < plain.body.len());

        let br = get(&app, &asset, Some("gzip, deflate, br")).await;
        assert_eq!(br.header(header::CONTENT_ENCODING), "br", "{asset}");
        assert!(br.body.len() < plain.body.len());

        // An encoding refused with q=0 is not sent.
        let refused = get(&app, &asset, Some("br;q=0, gzip")).await;
        assert_eq!(refused.header(header::CONTENT_ENCODING), "gzip");
    }
}

#[tokio::test]
async fn client_side_routes_get_the_spa_page() {
    let app = spawn_app().await;
    let index = get(&app, "/", None).await.text();
    for path in ["/experiments/1", "/runs/abc?x=1", "/models/my%20model", "/no/such/page"] {
        let answer = get(&app, path, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.header(header::CONTENT_TYPE), "text/html; charset=utf-8", "{path}");
        assert_eq!(answer.header(header::CACHE_CONTROL), "no-cache", "{path}");
        assert_csp(&answer);
        assert_eq!(answer.text(), index, "{path}");
    }
}

#[tokio::test]
async fn api_paths_keep_their_json_404() {
    let app = spawn_app().await;
    for path in
        ["/api/2.0/mlflow/no-such-rpc", "/ajax-api/2.0/mlflow/no-such-rpc", "/api/9.9/anything", "/ajax-api/", "/api"]
    {
        let answer = get(&app, path, None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert!(answer.header(header::CONTENT_TYPE).starts_with("application/json"), "{path}");
        assert!(answer.text().contains("ENDPOINT_NOT_FOUND"), "{path}: {}", answer.text());
    }
    // Other methods than GET/HEAD on non-API paths are not the UI's either.
    let post = app.request(reqwest::Method::POST, "/experiments/1", Some("{}")).await;
    assert_eq!(post.status, StatusCode::NOT_FOUND);
    assert_eq!(post.body["error_code"], "ENDPOINT_NOT_FOUND");
    // The real API still answers.
    assert_eq!(get(&app, "/health", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn missing_hashed_assets_are_404_not_html() {
    let app = spawn_app().await;
    let answer = get(&app, "/assets/index-00000000.js", None).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(answer.header(header::CONTENT_TYPE).starts_with("text/plain"));
    // Compressed variants are not addressable by name.
    let index = get(&app, "/", None).await.text();
    let js = assets(&index).into_iter().find(|a| a.ends_with(".js")).unwrap();
    assert_eq!(get(&app, &format!("{js}.gz"), None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn head_requests_have_headers_and_no_body() {
    let app = spawn_app().await;
    let response = app.client.head(app.url("/experiments/2")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(response.bytes().await.unwrap().is_empty());
}
