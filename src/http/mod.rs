//! The HTTP side: one [`app`] router, served on both ports, carrying Socket.IO
//! at `/socket.io/`, the REST API under `/api/`, `/healthz`, `/metrics`, and the web UI.

mod api;
mod assets;

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::routing::get;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::layer::SocketIoLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::chat::ChatState;
use crate::config::CorsPolicy;
use crate::info::ServerInfo;

/// What the HTTP handlers share; a cheap clone.
pub struct AppState<A: Adapter> {
    pub chat: ChatState,
    pub io: SocketIo<A>,
    pub socket_layer: SocketIoLayer<A>,
    pub info: Arc<RwLock<ServerInfo>>,
    pub cors: Arc<CorsPolicy>,
}

impl<A: Adapter> Clone for AppState<A> {
    fn clone(&self) -> Self {
        Self {
            chat: self.chat.clone(),
            io: self.io.clone(),
            socket_layer: self.socket_layer.clone(),
            info: self.info.clone(),
            cors: self.cors.clone(),
        }
    }
}

/// The whole HTTP app; testable with `tower::ServiceExt::oneshot`.
pub fn app<A: Adapter>(state: AppState<A>) -> Router {
    let cors = cors_layer(state.cors.clone());
    let socket_layer = state.socket_layer.clone();
    Router::new()
        .route("/healthz", get(api::healthz::<A>))
        .route("/metrics", get(api::metrics::<A>))
        .nest("/api", api::routes(state.clone()))
        .fallback_service(assets::service())
        .with_state(state)
        .layer(socket_layer)
        .layer(cors)
}

fn cors_layer(policy: Arc<CorsPolicy>) -> CorsLayer {
    let origin = AllowOrigin::predicate(move |origin: &HeaderValue, _| {
        origin.to_str().is_ok_and(|o| policy.allows(o))
    });
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
}
