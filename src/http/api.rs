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
use crate::chat::actions::{read_history, summaries};
use crate::chat::protocol::{ChatError, ErrorCode, HistoryRequest};
use crate::chat::{secrets_match, validate};
use crate::store;

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
    if let Some(expected) = &state.chat.settings.token {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let given = bearer.or(query.token.as_deref());
        if !given.is_some_and(|t| secrets_match(t, expected)) {
            let e = ChatError::new(
                ErrorCode::Unauthorized,
                "this server needs its access token: send Authorization: Bearer <token> or ?token=<token>",
            );
            return ApiError(e).into_response();
        }
    }
    next.run(request).await
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
    let room = validate::room_id(&room)?.to_owned();
    let record = state
        .chat
        .store
        .room(&room)
        .await
        .map_err(ChatError::from)?
        .ok_or_else(|| ChatError::not_found(format!("there is no room {room:?}")))?;
    if record.private {
        let key = q
            .key
            .as_deref()
            .ok_or_else(|| ChatError::forbidden("this room is private; pass its key as ?key="))?;
        if !record.key_hash.is_some_and(|h| secrets_match(store::hash_key(key), h)) {
            return Err(ChatError::forbidden("that key does not open this room").into());
        }
    }
    let limit = match q.limit.as_deref().filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => Some(
            l.parse()
                .map_err(|_| ChatError::bad_request("limit must be a positive integer (at most 100)"))?,
        ),
    };
    let req = HistoryRequest {
        room,
        before: q.before.filter(|s| !s.is_empty()),
        after: q.after.filter(|s| !s.is_empty()),
        limit,
    };
    let messages = read_history(&state.chat, &req).await?;
    Ok(Json(json!({ "messages": messages })).into_response())
}
