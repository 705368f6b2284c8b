//! The REST API: health, server info, rooms and their history.

use axum::Extension;
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use socketioxide::adapter::Adapter;
use std::net::SocketAddr;

use super::AppState;
use crate::chat::access::{self, Pass};
use crate::chat::actions::{list_rooms, post, read_history};
use crate::chat::error::{ChatError, ErrorCode};
use crate::chat::protocol::{HistoryRequest, RoomsRequest, Wire};
use crate::chat::validate;

/// A refusal as the REST API sends it: the protocol's code and an HTTP status.
pub(super) struct ApiError(ChatError);

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        Self(e)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        Self(e.into())
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

/// A query string read like axum's `Query`, refused as an [`ApiError`].
pub(super) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(query)) => Ok(Self(query)),
            Err(e) => Err(ApiError(ChatError::bad_request(format!("bad query string: {}", e.body_text())))),
        }
    }
}

/// A path parameter read like axum's `Path`, refused as an [`ApiError`].
pub(super) struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(e) => Err(ApiError(ChatError::bad_request(format!("bad path: {}", e.body_text())))),
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is
/// case-insensitive, as HTTP says.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The routes under `/api`, behind the access token when there is one.
pub fn routes<A: Adapter>(state: AppState<A>) -> Router<AppState<A>> {
    Router::new()
        .route("/info", get(info::<A>))
        .route("/rooms", get(rooms::<A>))
        .route(
            "/rooms/{room}/messages",
            // A post's body is one message: the limit of a Socket.IO packet.
            get(messages::<A>)
                .post(post_message::<A>)
                .layer(DefaultBodyLimit::max(crate::server::MAX_PAYLOAD as usize)),
        )
        .route(
            "/rooms/{room}/files",
            axum::routing::post(super::files::upload::<A>).layer(DefaultBodyLimit::max(
                super::files::upload_body_limit(state.chat.settings.max_upload),
            )),
        )
        .fallback(|| async { ApiError(ChatError::not_found("no such API endpoint")) })
        .route_layer(middleware::from_fn_with_state(state, require_token::<A>))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn require_token<A: Adapter>(
    State(state): State<AppState<A>>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let cookie = super::proxy::cookie_token(&headers);
    match access::check_token(
        state.chat.settings.token.as_deref(),
        bearer(&headers).or(query.token.as_deref()).or(cookie.as_deref()),
    ) {
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

#[derive(Deserialize)]
struct RoomsQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

/// `GET /api/rooms?limit=&cursor=`: a page of public rooms, most recently
/// active first, with their member counts and the next page's cursor.
async fn rooms<A: Adapter>(
    State(state): State<AppState<A>>,
    ApiQuery(q): ApiQuery<RoomsQuery>,
) -> Result<Response, ApiError> {
    let req = RoomsRequest { limit: validate::limit_param(q.limit.as_deref())?, cursor: q.cursor };
    let (rooms, next) = list_rooms(&state.chat, &state.io, Vec::new(), &req).await?;
    let mut body = json!({ "rooms": rooms });
    if let Some(next) = next {
        body["next"] = json!(next);
    }
    Ok(Json(body).into_response())
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
    ApiPath(room): ApiPath<String>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> Result<Response, ApiError> {
    let room = access::existing_room(state.chat.store.as_ref(), validate::room_id(&room)?).await?;
    access::admit(&room, Pass::Key(q.key.as_deref()))?;
    let req = HistoryRequest {
        room: room.id,
        before: q.before.filter(|s| !s.is_empty()),
        after: q.after.filter(|s| !s.is_empty()),
        limit: validate::limit_param(q.limit.as_deref())?,
    };
    let messages = read_history(&state.chat, &req).await?;
    Ok(Json(json!({ "messages": Wire(&messages) })).into_response())
}

/// The body of `POST /api/rooms/{room}/messages`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PostBody {
    text: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    files: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct KeyQuery {
    key: Option<String>,
}

/// `POST /api/rooms/{room}/messages?key=` with JSON `{ text, name?, clientId? }`:
/// stored and delivered as a Socket.IO send; 201 with the message, or 200
/// with the stored copy for a resend of a known `clientId`.
async fn post_message<A: Adapter>(
    State(state): State<AppState<A>>,
    ApiPath(room): ApiPath<String>,
    ApiQuery(q): ApiQuery<KeyQuery>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Result<Json<PostBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| {
        let status = e.status();
        let why = format!("the body must be JSON {{ text, name?, clientId?, files? }}: {}", e.body_text());
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => ChatError::new(ErrorCode::TooLarge, why),
            _ => ChatError::bad_request(why),
        }
    })?;
    let from = (body.name.as_deref(), body.text, body.client_id, body.files);
    let stored = post(
        &state.chat,
        (&room, q.key.as_deref()),
        from,
        peer.map(|Extension(ConnectInfo(addr))| addr.ip()),
    )
    .await?;
    let status = if stored.duplicate { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(json!({ "ok": true, "message": Wire(&stored.message) }))).into_response())
}
