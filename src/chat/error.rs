//! How a request fails: a code clients match on and a sentence people read,
//! the same over Socket.IO (acks and `chat:error`) and the REST API.

use serde::Serialize;

use crate::store::StoreError;

/// Every way a request can fail, as the protocol names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed payload, unknown field, bad id, empty text, bad limit.
    BadRequest,
    /// Missing or wrong access token.
    Unauthorized,
    /// Not allowed: a room one has not joined, someone else's message or room.
    Forbidden,
    /// No such room, message or endpoint.
    NotFound,
    /// Over a size limit.
    TooLarge,
    /// Over the connection's message rate.
    RateLimited,
    /// A dependency (the database, Redis) cannot serve it right now.
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
    /// What kind of refusal.
    pub code: ErrorCode,
    /// One sentence saying what was wrong and how to fix it.
    pub message: String,
}

impl ChatError {
    /// A refusal with this code and sentence.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
    /// A `bad_request` refusal.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    /// A `forbidden` refusal.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    /// A `not_found` refusal.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    /// An `unavailable` refusal.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }
}

impl From<StoreError> for ChatError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::RoomExists(room) => {
                ChatError::bad_request(format!("room {room:?} already exists; choose another name"))
            }
            StoreError::NotFound(why) => ChatError::not_found(why),
            StoreError::NotYours(why) => ChatError::forbidden(why),
            StoreError::Unavailable(why) => {
                tracing::warn!(reason = %why, "store request refused");
                ChatError::unavailable(why)
            }
            StoreError::Backend(_) | StoreError::Closed => {
                tracing::error!(error = %e, "store request failed");
                ChatError::unavailable("the chat history is unavailable right now; try again shortly")
            }
        }
    }
}

/// The `{ ok: false, error }` body of a failed ack.
#[derive(Serialize)]
pub struct ErrorAck<'a> {
    /// Always `false`.
    pub ok: bool,
    /// Why the request failed.
    pub error: &'a ChatError,
}

/// The `chat:error` event, sent when a request that failed carried no ack.
#[derive(Serialize)]
pub struct ErrorEvent<'a> {
    /// The event that failed (`connect` for the handshake's first room).
    pub event: &'a str,
    /// What kind of refusal.
    pub code: ErrorCode,
    /// The sentence for people.
    pub message: &'a str,
}
