//! The REST API: health, server info, rooms and their history.

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use socketioxide::adapter::Adapter;

use super::AppState;
use crate::chat::access::{self, Pass};
use crate::chat::actions::{read_history, summaries};
use crate::chat::error::{ChatError, ErrorCode};
use crate::chat::protocol::{HistoryRequest, Wire};
use crate::chat::validate;

/// A refusal as the REST API sends it: the protocol's code and an HTTP status.
struct ApiError(ChatError);

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(json!({ "error": self.0 }))).into_response();
        if self.0.code == ErrorCode::Unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The routes under `/api`, behind the access token when there is one.
pub fn routes<A: Adapter>(state: AppState<A>) -> Router<AppState<A>> {
    Router::new()
        .route("/info", get(info::<A>))
        .route("/rooms", get(rooms::<A>))
        .route("/rooms/{room}/messages", get(messages::<A>))
        .fallback(|| async { ApiError(ChatError::not_found("no such API endpoint")) })
        .route_layer(middleware::from_fn_with_state(state, require_token::<A>))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn require_token<A: Adapter>(
    State(state): State<AppState<A>>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match access::check_token(state.chat.settings.token.as_deref(), bearer.or(query.token.as_deref())) {
        Ok(()) => next.run(request).await,
        Err(e) => ApiError(e).into_response(),
    }
}

/// `GET /healthz`: open to everyone; 503 when the database or Redis does not answer.
pub async fn healthz<A: Adapter>(State(state): State<AppState<A>>) -> Response {
    let db = state.chat.store.ping().await;
    let redis = state.chat.health.redis_up();
    let healthy = db.is_ok() && redis != Some(false);
    let mut body = json!({
        "status": if healthy { "ok" } else { "unavailable" },
        "db": match &db { Ok(()) => "ok".to_owned(), Err(e) => e.to_string() },
    });
    if let Some(up) = redis {
        body["redis"] = json!(if up { "ok" } else { "unreachable" });
    }
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

/// `GET /metrics`: this process's counters, in Prometheus text format.
pub async fn metrics<A: Adapter>(State(state): State<AppState<A>>) -> Response {
    let db_up = state.chat.store.ping().await.is_ok();
    let text = state.chat.metrics.render(state.chat.health.redis_up(), db_up);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn info<A: Adapter>(State(state): State<AppState<A>>) -> Response {
    let info = state.info.read().unwrap_or_else(|p| p.into_inner()).clone();
    Json(info).into_response()
}

/// `GET /api/rooms`: public rooms with their member counts.
async fn rooms<A: Adapter>(State(state): State<AppState<A>>) -> Result<Response, ApiError> {
    let public = state.chat.store.rooms().await.map_err(ChatError::from)?.into_iter().filter(|r| !r.private);
    let rooms = summaries(&state.io, public).await?;
    Ok(Json(json!({ "rooms": rooms })).into_response())
}

#[derive(Deserialize)]
struct MessagesQuery {
    before: Option<String>,
    after: Option<String>,
    limit: Option<String>,
    key: Option<String>,
}

/// `GET /api/rooms/{room}/messages?before=&after=&limit=&key=`.
async fn messages<A: Adapter>(
    State(state): State<AppState<A>>,
    Path(room): Path<String>,
    Query(q): Query<MessagesQuery>,
) -> Result<Response, ApiError> {
    let room = access::existing_room(state.chat.store.as_ref(), validate::room_id(&room)?).await?;
    access::admit(&room, Pass::Key(q.key.as_deref()))?;
    let req = HistoryRequest {
        room: room.id,
        before: q.before.filter(|s| !s.is_empty()),
        after: q.after.filter(|s| !s.is_empty()),
        limit: validate::history_limit_param(q.limit.as_deref())?,
    };
    let messages = read_history(&state.chat, &req).await?;
    Ok(Json(json!({ "messages": Wire(&messages) })).into_response())
}
