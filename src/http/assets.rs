//! The web UI, embedded in the binary from `assets/web/dist` at build time.
//!
//! Hashed files under `assets/` are cached for a year; everything else is
//! revalidated by ETag. Unknown paths without a file extension get `index.html`
//! so the single-page app can route them. Responses are compressed when the
//! browser accepts it.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use rust_embed::{Embed, EmbeddedFile};
use tower_http::compression::CompressionLayer;

#[derive(Embed)]
#[folder = "assets/web/dist"]
struct Dist;

const INDEX: &str = "index.html";

/// The handler for every path no other route took.
pub fn service<S: Clone + Send + Sync + 'static>() -> MethodRouter<S, Infallible> {
    get(serve).head(serve).layer(CompressionLayer::new())
}

/// The same UI under `/rtchat/`, where it moves when `--app` has the root
/// (it refers to its files relatively, so it works under either).
pub fn chat_service<S: Clone + Send + Sync + 'static>() -> MethodRouter<S, Infallible> {
    get(serve_chat).head(serve_chat).layer(CompressionLayer::new())
}

async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    serve_path(uri.path(), &method, &headers)
}

async fn serve_chat(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().strip_prefix(super::proxy::CHAT_PATH.trim_end_matches('/')).unwrap_or("/");
    serve_path(path, &method, &headers)
}

fn serve_path(path: &str, method: &Method, headers: &HeaderMap) -> Response {
    let path = path.trim_start_matches('/');
    let path = if path.is_empty() { INDEX } else { path };
    if let Some(file) = Dist::get(path) {
        return respond(path, file, headers, method);
    }
    // A missing file is a 404; a missing page is the app's to route.
    let last = path.rsplit('/').next().unwrap_or_default();
    if last.contains('.') || path.starts_with("socket.io") {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match Dist::get(INDEX) {
        Some(index) => respond(INDEX, index, headers, method),
        None => (StatusCode::NOT_FOUND, "the web UI is not built into this binary").into_response(),
    }
}

fn respond(path: &str, file: EmbeddedFile, headers: &HeaderMap, method: &Method) -> Response {
    let hash = file.metadata.sha256_hash();
    let etag = format!("\"{}\"", hash[..16].iter().map(|b| format!("{b:02x}")).collect::<String>());
    let cache = if path.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(file.data.into_owned()))
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex is a valid header value"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(mime) = HeaderValue::from_str(file.metadata.mimetype()) {
        h.insert(header::CONTENT_TYPE, mime);
    }
    response
}
