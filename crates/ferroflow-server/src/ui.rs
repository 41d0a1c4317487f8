//! The web UI: the Vite bundle in `ui/dist` (committed, built by `ui/`'s `npm run build`),
//! embedded in the binary and served at `/` as the router's fallback.
//!
//! - `GET`/`HEAD` of a path outside the API prefixes: the file under `ui/dist` if there
//!   is one, else `index.html` (client-side routes such as `/experiments/1`, the SPA
//!   fallback). Anything else (other methods, `/api/...`, `/ajax-api/...`) keeps the JSON
//!   `ENDPOINT_NOT_FOUND` 404 of [`crate::error::endpoint_not_found`], as do paths with
//!   `.`/`..` segments.
//! - Files under `assets/` carry a content hash in their names: `Cache-Control: public,
//!   max-age=31536000, immutable`. Everything else (`index.html`): `no-cache`.
//! - The build writes `<file>.br` and `<file>.gz` beside each compressible file; the one the
//!   client accepts is sent as is (`Content-Encoding`, `Vary: Accept-Encoding`), so nothing
//!   is compressed at run time.
//! - Every answer carries a Content-Security-Policy without inline scripts.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use include_dir::{include_dir, Dir};

static DIST: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../ui/dist");

/// No inline scripts or styles in markup; images also from `data:`/`blob:` (uPlot and
/// artifact previews). Styles set through the CSSOM (Preact, uPlot) are not covered by
/// `style-src`, so no `'unsafe-inline'` is needed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
     form-action 'self'; frame-ancestors 'none'";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The router's fallback: the UI for `GET`/`HEAD` of non-API paths, the JSON 404 otherwise.
pub async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let is_api = ["/api/", "/ajax-api/"].iter().any(|p| path.starts_with(p)) || path == "/api" || path == "/ajax-api";
    // Dot segments (raw or percent-encoded) are never a UI route; they get the API's 404
    // rather than the SPA page, so traversal probes see a refusal.
    let dot_segment = path.split('/').any(|segment| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    });
    if is_api || dot_segment || (method != Method::GET && method != Method::HEAD) {
        return crate::error::endpoint_not_found(uri).await.into_response();
    }
    serve(path, &headers, method == Method::HEAD)
}

fn serve(path: &str, headers: &HeaderMap, head: bool) -> Response {
    let relative = path.trim_start_matches('/');
    let file = (!relative.is_empty() && !relative.ends_with(".br") && !relative.ends_with(".gz"))
        .then(|| DIST.get_file(relative))
        .flatten();
    let (name, file) = match file {
        Some(file) => (relative, file),
        // A hashed asset that is not there is a real 404 (a stale page asking for an old
        // build), not the SPA page: a script tag must not receive HTML.
        None if relative.starts_with("assets/") => return not_found(),
        None => match DIST.get_file("index.html") {
            Some(file) => ("index.html", file),
            None => return not_found(),
        },
    };
    let accepts = |coding: &str| {
        headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
            |part| {
                let mut bits = part.split(';');
                let token = bits.next().unwrap_or("").trim();
                let refused = bits.any(|q| matches!(q.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
                token.eq_ignore_ascii_case(coding) && !refused
            },
        )
    };
    let mut body = file.contents();
    let mut encoding = None;
    for (coding, ext) in [("br", "br"), ("gzip", "gz")] {
        if accepts(coding) {
            if let Some(compressed) = DIST.get_file(format!("{name}.{ext}")) {
                body = compressed.contents();
                encoding = Some(coding);
                break;
            }
        }
    }
    let content_type = mime_guess::from_path(name).first_raw().unwrap_or("application/octet-stream");
    let content_type = match content_type {
        t if t.starts_with("text/") || t == "application/javascript" || t == "application/json" => {
            format!("{t}; charset=utf-8")
        }
        t => t.to_owned(),
    };
    let cache = if name.starts_with("assets/") { IMMUTABLE } else { "no-cache" };
    let mut response = Response::new(if head { Body::empty() } else { Body::from(body) });
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_str(&content_type).expect("mime types are ASCII"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if let Some(coding) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    response
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "Not found\n").into_response()
}
