//! The chat protocol in one place: event names, what clients send, what they
//! get back, and how the domain types look on the wire.
//!
//! These names and shapes are public API; `docs/protocol.md` is their reference.
//! Refusals are in [`super::error`]; the wire shape of the domain types is
//! in [`super::wire`].

use serde::{Deserialize, Serialize};

use super::wire::wire;
pub use super::wire::{Wire, file_url};
use crate::model::{Message, Room, User};

/// Event names. Each is spelled here only; handlers and emits use these.
pub mod event {
    /// Seed-compatible: join a room and make it current (client).
    pub const JOIN_ROOM: &str = "joinRoom";
    /// Seed-compatible: a plain text message (client to its current room; server to seed clients).
    pub const MESSAGE: &str = "message";
    /// Join a room and get its members and latest history.
    pub const ROOM_JOIN: &str = "room:join";
    /// Leave a room.
    pub const ROOM_LEAVE: &str = "room:leave";
    /// Create a room, public or private.
    pub const ROOM_CREATE: &str = "room:create";
    /// Send a message to a room (acked once stored).
    pub const MESSAGE_SEND: &str = "message:send";
    /// Start or stop typing (client); someone started or stopped (server).
    pub const TYPING: &str = "typing";
    /// Read a page of a room's history.
    pub const HISTORY: &str = "history";
    /// List the rooms a client can see.
    pub const ROOMS_LIST: &str = "rooms:list";
    /// Change one's display name.
    pub const USER_RENAME: &str = "user:rename";
    /// Edit one's own message.
    pub const MESSAGE_EDIT: &str = "message:edit";
    /// Delete one's own message.
    pub const MESSAGE_DELETE: &str = "message:delete";
    /// Delete a room one created.
    pub const ROOM_DELETE: &str = "room:delete";
    /// Server: who the client is, right after it connects.
    pub const SESSION: &str = "session";
    /// Server: a message was edited or deleted.
    pub const MESSAGE_UPDATE: &str = "message:update";
    /// Server: someone changed their name.
    pub const USER_UPDATE: &str = "user:update";
    /// Server: a room was deleted.
    pub const ROOM_DELETED: &str = "room:deleted";
    /// Server: a stored message, to rich members.
    pub const MESSAGE_NEW: &str = "message:new";
    /// Server: someone entered a room.
    pub const PRESENCE_JOIN: &str = "presence:join";
    /// Server: someone left a room.
    pub const PRESENCE_LEAVE: &str = "presence:leave";
    /// Server: a request without an ack failed.
    pub const CHAT_ERROR: &str = "chat:error";
    /// The `event` a `chat:error` names when the handshake's first room failed.
    pub const CONNECT: &str = "connect";

    /// Every event a client may send.
    pub const FROM_CLIENT: [&str; 13] = [
        JOIN_ROOM,
        MESSAGE,
        ROOM_JOIN,
        ROOM_LEAVE,
        ROOM_CREATE,
        MESSAGE_SEND,
        TYPING,
        HISTORY,
        ROOMS_LIST,
        USER_RENAME,
        MESSAGE_EDIT,
        MESSAGE_DELETE,
        ROOM_DELETE,
    ];
}

// ---- the handshake ----

/// The handshake's `auth` object. Unknown fields are ignored; each field is
/// checked by the handshake, so any JSON value is accepted here.
#[derive(Default, Deserialize)]
pub struct Auth {
    /// Display name; the server picks `guest-NNNN` when absent.
    pub name: Option<serde_json::Value>,
    /// The access token, when the server has one.
    pub token: Option<serde_json::Value>,
    /// `1` (number or string) for a rich client; absent for a seed-style one.
    pub v: Option<serde_json::Value>,
    /// The client's secret for a stable identity (see [`super::identity`]).
    #[serde(rename = "userKey")]
    pub user_key: Option<serde_json::Value>,
}

impl std::fmt::Debug for Auth {
    /// Never prints the token or the user key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("name", &self.name).field("v", &self.v).finish_non_exhaustive()
    }
}

// ---- client requests ----

/// `room:join`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// The room to join; a public room is created on first join.
    pub room: String,
    /// A private room's invite key.
    #[serde(default)]
    pub key: Option<String>,
}

/// `room:leave`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaveRequest {
    /// The room to leave.
    pub room: String,
}

/// `room:create`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// A public room's id; the server picks `room-xxxxxxxx` when absent. A
    /// private room's id is always the server's (unguessable), so it is
    /// `bad_request` with `private: true`.
    #[serde(default)]
    pub room: Option<String>,
    /// Whether the room needs an invite key (returned once, in the ack).
    #[serde(default)]
    pub private: bool,
    /// A private room's display name, 1 to 64 visible characters.
    #[serde(default)]
    pub name: Option<String>,
}

/// `message:send` (and a seed client's `message`, addressed to its current room).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SendRequest {
    /// The room to send to; the sender must be in it.
    pub room: String,
    /// The text, not blank, at most `--max-message-len` characters.
    pub text: String,
    /// The sender's id for this message; a resend with the same id is stored once.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Files uploaded to the room to attach, at most 10; `text` may then be empty.
    #[serde(default)]
    pub files: Option<Vec<String>>,
}

/// `user:rename`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameRequest {
    /// The new display name (the `auth.name` rules).
    pub name: String,
}

/// `message:edit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditRequest {
    /// The message's room.
    pub room: String,
    /// The message's id.
    pub id: String,
    /// The new text, with the rules of a new message's.
    pub text: String,
}

/// `message:delete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    /// The message's room.
    pub room: String,
    /// The message's id.
    pub id: String,
}

/// `room:delete`: a [`LeaveRequest`]'s shape.
pub type RoomDeleteRequest = LeaveRequest;

/// `typing`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypingRequest {
    /// The room the sender is typing in; the sender must be in it.
    pub room: String,
    /// Started (`true`, lasting 5 s unless renewed) or stopped.
    pub typing: bool,
}

/// `rooms:list` (its payload may be left out) and the query of `GET /api/rooms`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomsRequest {
    /// Page size: 50 by default, at most 100.
    #[serde(default)]
    pub limit: Option<i64>,
    /// Where to go on from: the `next` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// `history` over Socket.IO and the query of `GET /api/rooms/{room}/messages`.
#[derive(Debug, Default, Deserialize)]
pub struct HistoryRequest {
    /// The room to read.
    #[serde(default)]
    pub room: String,
    /// Only messages older than this id.
    #[serde(default)]
    pub before: Option<String>,
    /// Only messages newer than this id.
    #[serde(default)]
    pub after: Option<String>,
    /// Page size: 50 by default, at most 100.
    #[serde(default)]
    pub limit: Option<i64>,
}

// ---- server replies and events ----

/// A room as listed to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomInfo {
    /// The room's id.
    pub id: String,
    /// Whether it needs an invite key.
    pub private: bool,
    /// A private room's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The user id of whoever created it, who may delete it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
}

impl From<&Room> for RoomInfo {
    fn from(room: &Room) -> Self {
        Self {
            id: room.id.clone(),
            private: room.private,
            name: room.name.clone(),
            creator: room.creator.clone(),
        }
    }
}

/// A room with its current member count, for `rooms:list` and `GET /api/rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomSummary {
    /// The room's id.
    pub id: String,
    /// Whether it needs an invite key.
    pub private: bool,
    /// A private room's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The user id of whoever created it, who may delete it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    /// People in the room now, on every process (each counted once).
    pub members: usize,
}

/// The ack of `room:join`.
#[derive(Serialize)]
pub struct JoinAck {
    /// Always `true`.
    pub ok: bool,
    /// The room joined.
    pub room: RoomInfo,
    /// Everyone in the room, each person once, the joiner included, sorted by name.
    #[serde(serialize_with = "wire")]
    pub members: Vec<User>,
    /// The latest messages, oldest first.
    #[serde(serialize_with = "wire")]
    pub history: Vec<Message>,
}

/// The ack of `room:create`.
#[derive(Serialize)]
pub struct CreateAck {
    /// Always `true`.
    pub ok: bool,
    /// The room created.
    pub room: RoomInfo,
    /// A private room's invite key; the server keeps only its hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The ack of `user:rename`.
#[derive(Serialize)]
pub struct RenameAck {
    /// Always `true`.
    pub ok: bool,
    /// The user as renamed.
    #[serde(serialize_with = "wire")]
    pub user: User,
}

/// `user:update`: someone's new name.
#[derive(Serialize)]
pub struct UserUpdate<'a> {
    /// The user as renamed.
    pub user: Wire<'a, User>,
}

/// `session`: who the client is.
#[derive(Serialize)]
pub struct SessionEvent<'a> {
    /// The client's user.
    pub user: Wire<'a, User>,
    /// The rooms the same person is in on other connections now.
    pub rooms: Vec<String>,
}

/// `room:deleted`.
#[derive(Serialize)]
pub struct RoomDeleted<'a> {
    /// The room that is gone.
    pub room: &'a str,
}

/// The ack of `message:send`, `message:edit`, `message:delete` and of a seed client's `message`.
#[derive(Serialize)]
pub struct SendAck {
    /// Always `true`.
    pub ok: bool,
    /// The message as stored (the earlier copy for a resend).
    #[serde(serialize_with = "wire")]
    pub message: Message,
}

/// The ack of `history`.
#[derive(Serialize)]
pub struct MessagesAck {
    /// Always `true`.
    pub ok: bool,
    /// The page, oldest first.
    #[serde(serialize_with = "wire")]
    pub messages: Vec<Message>,
}

/// The ack of `rooms:list`.
#[derive(Serialize)]
pub struct RoomsAck {
    /// Always `true`.
    pub ok: bool,
    /// Public rooms and the private rooms the client is in, most recently active first.
    pub rooms: Vec<RoomSummary>,
    /// The cursor of the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The ack of requests that return nothing else.
#[derive(Serialize)]
pub struct OkAck {
    /// Always `true`.
    pub ok: bool,
}

/// `presence:join` and `presence:leave`.
#[derive(Serialize)]
pub struct PresenceEvent<'a> {
    /// The room entered or left.
    pub room: &'a str,
    /// Who.
    pub user: Wire<'a, User>,
}

/// Server `typing`.
#[derive(Serialize)]
pub struct TypingEvent<'a> {
    /// The room.
    pub room: &'a str,
    /// Who.
    pub user: Wire<'a, User>,
    /// Started or stopped.
    pub typing: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_keep_their_wire_shape() {
        let user = User { id: "u1".into(), name: "ann".into() };
        let message = Message {
            id: "000000000000002a".into(),
            room: "lobby".into(),
            user: user.clone(),
            text: "hi".into(),
            ts: 7,
            client_id: Some("c1".into()),
            edited: None,
            deleted: false,
            files: Vec::new(),
        };
        let ack = serde_json::to_value(SendAck { ok: true, message: message.clone() }).unwrap();
        let expected = json!({
            "id": "000000000000002a", "room": "lobby", "user": { "id": "u1", "name": "ann" },
            "text": "hi", "ts": 7, "clientId": "c1"
        });
        assert_eq!(ack, json!({ "ok": true, "message": expected }));
        let plain = Message { client_id: None, ..message };
        assert!(serde_json::to_value(Wire(&plain)).unwrap().get("clientId").is_none());
        let history = serde_json::to_value(MessagesAck { ok: true, messages: vec![plain.clone()] }).unwrap();
        assert_eq!(history["messages"][0]["user"], json!({ "id": "u1", "name": "ann" }));
        assert!(
            history["messages"][0].get("edited").is_none() && history["messages"][0].get("deleted").is_none()
        );
        let gone = Message { text: String::new(), edited: Some(9), deleted: true, ..plain };
        let gone = serde_json::to_value(Wire(&gone)).unwrap();
        assert_eq!((&gone["text"], &gone["edited"], &gone["deleted"]), (&json!(""), &json!(9), &json!(true)));
    }
}
