//! The HTTP side: one [`app`] router, served on both ports, carrying Socket.IO
//! at `/socket.io/`, the REST API under `/api/`, `/healthz`, `/metrics`, and the web UI,
//! all behind the [`guard`] that refuses hostile web pages. With `--app`, the
//! [`proxy`] serves the developer's dev server at every other path, and the
//! web UI moves to `/rtchat/`.

mod api;
mod assets;
pub mod cors;
mod files;
pub mod guard;
pub mod hosts;
pub mod proxy;
pub mod sessions;

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::middleware::{from_fn_with_state, map_request, map_request_with_state};
use axum::routing::get;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::layer::SocketIoLayer;
use tower::Layer;

use crate::chat::ChatState;
use crate::info::ServerInfo;
use cors::CorsPolicy;
use guard::Guard;
use hosts::HostPolicy;
use sessions::Sessions;

/// What the HTTP handlers share; a cheap clone.
pub struct AppState<A: Adapter> {
    /// The chat: store, pipeline, settings.
    pub chat: ChatState,
    /// The Socket.IO server, for member counts.
    pub io: SocketIo<A>,
    /// The layer that serves `/socket.io/`.
    pub socket_layer: SocketIoLayer<A>,
    /// What `/api/info` reports; the tunnel updates it.
    pub info: Arc<RwLock<ServerInfo>>,
    /// The allowed browser origins; the tunnel adds to it.
    pub cors: CorsPolicy,
    /// The names the server is reachable as; the tunnel adds to it.
    pub hosts: HostPolicy,
    /// Open Engine.IO sessions per client address.
    pub sessions: Sessions,
    /// The developer's app, with `--app`.
    pub app: Option<proxy::AppProxy>,
}

impl<A: Adapter> Clone for AppState<A> {
    fn clone(&self) -> Self {
        Self {
            chat: self.chat.clone(),
            io: self.io.clone(),
            socket_layer: self.socket_layer.clone(),
            info: self.info.clone(),
            cors: self.cors.clone(),
            hosts: self.hosts.clone(),
            sessions: self.sessions.clone(),
            app: self.app.clone(),
        }
    }
}

/// The whole HTTP app; testable with `tower::ServiceExt::oneshot`.
///
/// The guard is the outermost layer, so a refused request never reaches the
/// Socket.IO layer: no Engine.IO session is created for it.
pub fn app<A: Adapter>(state: AppState<A>) -> Router {
    let cors = state.cors.layer();
    let guard = Guard { cors: state.cors.clone(), hosts: state.hosts.clone() };
    let (socket_layer, per_client, app_proxy) =
        (state.socket_layer.clone(), state.sessions.clone(), state.app.clone());
    let routes = Router::new()
        .route("/healthz", get(api::healthz::<A>))
        .route("/metrics", get(api::metrics::<A>))
        .nest("/api", api::routes(state.clone()))
        .route("/files/{id}/{name}", get(files::download::<A>))
        .route("/rtchat", get(|| async { axum::response::Redirect::permanent(proxy::CHAT_PATH) }))
        .route_service("/rtchat/", assets::chat_service())
        .route_service("/rtchat/{*path}", assets::chat_service())
        .fallback_service(assets::service())
        .with_state(state);
    // One Socket.IO service (one Engine.IO session table), also used to end
    // long-polling sessions the chat drops.
    let socketio = socket_layer.layer(routes);
    per_client.end_polling_through(socketio.clone());
    let router = Router::new()
        .fallback_service(socketio)
        .layer(from_fn_with_state(per_client, sessions::guard))
        .layer(map_request(own_socket_request_head))
        .layer(cors);
    // The app's requests skip rtchat's CORS: answering them is the app's business.
    let router = match app_proxy {
        Some(app_proxy) => router.layer(from_fn_with_state(app_proxy, proxy::route)),
        None => router,
    };
    router.layer(map_request_with_state(guard, guard::check))
}

/// Copies a Socket.IO request's URI and header values out of the connection's
/// read buffer.
///
/// hyper parses them as slices of that buffer (16 KiB), and socketioxide keeps
/// the request head for as long as the socket lives, so every connection would
/// keep the whole buffer alive; copied, they cost a few hundred bytes. This was
/// the largest part of an idle connection's memory (see docs/performance.md).
async fn own_socket_request_head(req: Request) -> Request {
    if !req.uri().path().starts_with("/socket.io") {
        return req;
    }
    let (mut head, body) = req.into_parts();
    if let Ok(uri) = head.uri.to_string().parse::<Uri>() {
        head.uri = uri;
    }
    let mut headers = HeaderMap::with_capacity(head.headers.len());
    for (name, value) in &head.headers {
        let owned = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        headers.append(name, owned);
    }
    head.headers = headers;
    Request::from_parts(head, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_socket_request_keeps_its_uri_and_every_header_value_when_copied() {
        let req = Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket&projectId=a%20b")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("x-forwarded-for", "10.0.0.1")
            .header("x-forwarded-for", "10.0.0.2")
            .body(axum::body::Body::empty())
            .unwrap();
        let expected = (req.uri().clone(), req.headers().clone());
        let req = own_socket_request_head(req).await;
        assert_eq!((req.uri().clone(), req.headers().clone()), expected);
        assert_eq!(req.headers().get_all("x-forwarded-for").iter().count(), 2);
    }
}
