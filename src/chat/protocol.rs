//! The wire types of the chat protocol: what clients send, what they get back.
//!
//! These names and shapes are public API; `docs/protocol.md` is their reference.

use serde::{Deserialize, Serialize};

/// A connected person as other clients see them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct User {
    /// The connection's id; unique while it is connected.
    pub id: String,
    /// Display name, 1..=32 characters.
    pub name: String,
}

/// A stored chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Fixed-width id; sorting ids as strings gives the room's delivery order.
    pub id: String,
    pub room: String,
    pub user: User,
    pub text: String,
    /// Milliseconds since the Unix epoch, when the server accepted it.
    pub ts: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// A room as listed to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomInfo {
    pub id: String,
    pub private: bool,
}

/// A room with its current member count, for `rooms:list` and `GET /api/rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomSummary {
    pub id: String,
    pub private: bool,
    pub members: usize,
}

/// Every way a request can fail, as the protocol names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    TooLarge,
    RateLimited,
    Unavailable,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::TooLarge => "too_large",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
        }
    }

    /// The HTTP status the REST API answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::TooLarge => 413,
            Self::RateLimited => 429,
            Self::Unavailable => 503,
        }
    }
}

/// A refused request: a code clients match on and a sentence people read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ChatError {
    pub code: ErrorCode,
    pub message: String,
}

impl ChatError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }
}

/// The `{ ok: false, error }` body of a failed ack.
#[derive(Serialize)]
pub struct ErrorAck<'a> {
    pub ok: bool,
    pub error: &'a ChatError,
}

/// The `chat:error` event, sent when a request that failed carried no ack.
#[derive(Serialize)]
pub struct ErrorEvent<'a> {
    pub event: &'a str,
    pub code: ErrorCode,
    pub message: &'a str,
}

// ---- client requests ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    pub room: String,
    #[serde(default)]
    pub key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaveRequest {
    pub room: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    #[serde(default)]
    pub room: Option<String>,
    #[serde(default)]
    pub private: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SendRequest {
    pub room: String,
    pub text: String,
    #[serde(default)]
    pub client_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypingRequest {
    pub room: String,
    pub typing: bool,
}

/// `history` over Socket.IO and the query of `GET /api/rooms/{room}/messages`.
#[derive(Debug, Default, Deserialize)]
pub struct HistoryRequest {
    #[serde(default)]
    pub room: String,
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub limit: Option<i64>,
}

// ---- server replies and events ----

#[derive(Serialize)]
pub struct JoinAck {
    pub ok: bool,
    pub room: RoomInfo,
    pub members: Vec<User>,
    pub history: Vec<Message>,
}

#[derive(Serialize)]
pub struct CreateAck {
    pub ok: bool,
    pub room: RoomInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Serialize)]
pub struct SendAck {
    pub ok: bool,
    pub message: Message,
}

#[derive(Serialize)]
pub struct MessagesAck {
    pub ok: bool,
    pub messages: Vec<Message>,
}

#[derive(Serialize)]
pub struct RoomsAck {
    pub ok: bool,
    pub rooms: Vec<RoomSummary>,
}

#[derive(Serialize)]
pub struct OkAck {
    pub ok: bool,
}

#[derive(Serialize)]
pub struct PresenceEvent<'a> {
    pub room: &'a str,
    pub user: &'a User,
}

#[derive(Serialize)]
pub struct TypingEvent<'a> {
    pub room: &'a str,
    pub user: &'a User,
    pub typing: bool,
}
