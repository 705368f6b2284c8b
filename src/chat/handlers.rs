//! What each client event does. Every request is validated before anything
//! changes; a refusal goes back in the ack, or as `chat:error` when the client
//! asked for no ack.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::handler::{ConnectHandler, FromMessageParts, Value};
use socketioxide::socket::Socket;
use socketioxide_core::adapter::DefinedAdapter;

use super::metrics::Metrics;
use super::protocol::*;
use super::rooms::{self, rich_room, seed_room};
use super::session::{Session, Ticket, Turn};
use super::{ChatState, random_hex, secrets_match, validate};
use crate::store::{self, NewMessage, Page, RoomRecord};

/// Installs the chat on the default namespace.
/// Installs the chat on the default namespace; adapters that connect to a
/// remote service return a future that must be awaited.
pub fn register<A: Adapter + DefinedAdapter>(io: &SocketIo<A>) -> A::InitRes {
    io.ns("/", on_connect::<A>.with(admit::<A>))
}

/// The handshake's `auth` object. Unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
struct Auth {
    name: Option<serde_json::Value>,
    token: Option<serde_json::Value>,
    v: Option<serde_json::Value>,
}

/// Why a handshake was refused; its text is the `connect_error` message.
#[derive(Debug)]
struct Refused(ErrorCode);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

fn query_params<A: Adapter>(s: &Socket<A>) -> HashMap<String, String> {
    s.req_parts().uri.query().and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default()
}

/// The handshake: checks the access token and the display name, attaches the
/// [`Session`], installs the event handlers and joins the first room. It runs
/// before the client is told it is connected, so no early event is missed.
async fn admit<A: Adapter>(
    s: SocketRef<A>,
    io: SocketIo<A>,
    State(chat): State<ChatState>,
    TryData(auth): TryData<Auth>,
) -> Result<(), Refused> {
    // A client that sends no auth object is a seed-style client with defaults.
    let auth = auth.unwrap_or_default();
    if let Some(expected) = &chat.settings.token {
        let given = match &auth.token {
            Some(serde_json::Value::String(t)) => Some(t.clone()),
            _ => query_params(&s).remove("token"),
        };
        if !given.is_some_and(|t| secrets_match(&t, expected)) {
            tracing::debug!(sid = %s.id, "handshake refused: missing or wrong token");
            return Err(Refused(ErrorCode::Unauthorized));
        }
    }
    let name = match &auth.name {
        None | Some(serde_json::Value::Null) => guest_name(),
        Some(serde_json::Value::String(n)) => {
            validate::display_name(n).map_err(|_| Refused(ErrorCode::BadRequest))?
        }
        Some(_) => return Err(Refused(ErrorCode::BadRequest)),
    };
    let rich = match &auth.v {
        None | Some(serde_json::Value::Null) => false,
        Some(v) if v == 1 || v == "1" => true,
        Some(_) => return Err(Refused(ErrorCode::BadRequest)),
    };
    let user = User { id: s.id.to_string(), name };
    let me = Arc::new(Session::new(user, rich, chat.settings.rate_limit));
    s.extensions.insert(me.clone());
    Metrics::add(&chat.metrics.connections);
    Metrics::add(&chat.metrics.connections_total);

    s.on("joinRoom", on_join_room::<A>);
    s.on("message", on_plain_message::<A>);
    s.on("room:join", on_room_join::<A>);
    s.on("room:leave", on_room_leave::<A>);
    s.on("room:create", on_room_create::<A>);
    s.on("message:send", on_message_send::<A>);
    s.on("typing", on_typing::<A>);
    s.on("history", on_history::<A>);
    s.on("rooms:list", on_rooms_list::<A>);
    s.on_disconnect(on_disconnect::<A>);
    s.join(rooms::user_tag(&me.user));

    // Seed compatibility: `query.projectId` joins that room; seed-style clients
    // without one start in the lobby, as the lesson's server broadcast to all.
    let first = query_params(&s)
        .remove("projectId")
        .or_else(|| (!me.rich).then(|| validate::DEFAULT_ROOM.to_owned()));
    if let Some(room) = first
        && let Err(e) = join(&s, &io, &chat, &room, None).await
    {
        *me.connect_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }
    Ok(())
}

fn guest_name() -> String {
    let mut b = [0u8; 2];
    getrandom::fill(&mut b).expect("the operating system's random source is available");
    format!("guest-{:04}", u16::from_le_bytes(b) % 10_000)
}

fn session<A: Adapter>(s: &Socket<A>) -> Arc<Session> {
    s.extensions.get::<Arc<Session>>().expect("the connect middleware attaches a session to every socket")
}

async fn on_connect<A: Adapter>(s: SocketRef<A>) {
    let me = session(&s);
    tracing::debug!(sid = %s.id, name = %me.user.name, rich = me.rich, "connected");
    let refused = me.connect_error.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(e) = refused {
        let _ = s.emit("chat:error", &ErrorEvent { event: "connect", code: e.code, message: &e.message });
    }
}

/// Answers a request: through its ack when it has one, else failures as `chat:error`.
struct Reply<A: Adapter> {
    socket: SocketRef<A>,
    ack: AckSender<A>,
    has_ack: bool,
    event: &'static str,
}

impl<A: Adapter> Reply<A> {
    fn send<T: Serialize>(self, result: Result<T, ChatError>) {
        match result {
            Ok(body) if self.has_ack => {
                let _ = self.ack.send(&body);
            }
            Ok(_) => {}
            Err(e) if self.has_ack => {
                let _ = self.ack.send(&ErrorAck { ok: false, error: &e });
            }
            Err(e) => {
                let event = ErrorEvent { event: self.event, code: e.code, message: &e.message };
                let _ = self.socket.emit("chat:error", &event);
            }
        }
    }
}

/// Whether the client asked for an ack: decides where an error goes.
struct HasAck(bool);

impl<A: Adapter> FromMessageParts<A> for HasAck {
    type Error = Infallible;
    fn from_message_parts(
        _: &Arc<Socket<A>>,
        _: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        Ok(HasAck(ack_id.is_some()))
    }
}

impl<A: Adapter> FromMessageParts<A> for Ticket {
    type Error = Infallible;
    fn from_message_parts(s: &Arc<Socket<A>>, _: &mut Value, _: &Option<i64>) -> Result<Self, Infallible> {
        Ok(session(s).ticket())
    }
}

fn payload<T>(data: Result<T, impl std::fmt::Display>, event: &str) -> Result<T, ChatError> {
    data.map_err(|e| ChatError::bad_request(format!("malformed {event} payload: {e}")))
}

// ---- seed-compatible events ----

async fn on_join_room<A: Adapter>(
    s: SocketRef<A>,
    io: SocketIo<A>,
    State(chat): State<ChatState>,
    ack: AckSender<A>,
    HasAck(has_ack): HasAck,
    ticket: Ticket,
    TryData(room): TryData<String>,
) {
    let _turn = ticket.wait().await;
    let reply = Reply { socket: s.clone(), ack, has_ack, event: "joinRoom" };
    let result = match payload(room, "joinRoom") {
        Ok(room) => join(&s, &io, &chat, &room, None).await.map(|_| OkAck { ok: true }),
        Err(e) => Err(e),
    };
    reply.send(result);
}

async fn on_plain_message<A: Adapter>(
    s: SocketRef<A>,
    State(chat): State<ChatState>,
    ack: AckSender<A>,
    HasAck(has_ack): HasAck,
    ticket: Ticket,
    TryData(text): TryData<String>,
) {
    let turn = ticket.wait().await;
    let reply = Reply { socket: s.clone(), ack, has_ack, event: "message" };
    let result = async {
        let text = payload(text, "message")?;
        let room = session(&s)
            .current_room()
            .ok_or_else(|| ChatError::forbidden("join a room before sending messages"))?;
        send_counted(&s, &chat, turn, room, text, None).await
    };
    reply.send(result.await.map(|message| SendAck { ok: true, message }));
}

// ---- rich events ----

async fn on_room_join<A: Adapter>(
    s: SocketRef<A>,
    io: SocketIo<A>,
    State(chat): State<ChatState>,
    ack: AckSender<A>,
    HasAck(has_ack): HasAck,
    ticket: Ticket,
    TryData(req): TryData<JoinRequest>,
) {
    let _turn = ticket.wait().await;
    let reply = Reply { socket: s.clone(), ack, has_ack, event: "room:join" };
    let result = match payload(req, "room:join") {
        Ok(req) => join(&s, &io, &chat, &req.room, req.key.as_deref()).await,
        Err(e) => Err(e),
    };
    reply.send(result);
}

async fn on_room_leave<A: Adapter>(
    s: SocketRef<A>,
    ack: AckSender<A>,
    HasAck(has_ack): HasAck,
    ticket: Ticket,
    TryData(req): TryData<LeaveRequest>,
) {
    let _turn = ticket.wait().await;
    let reply = Reply { socket: s.clone(), ack, has_ack, event: "room:leave" };
    let result = async {
        let req = payload(req, "room:leave")?;
        let room = validate::room_id(&req.room)?;
        leave(&s, room).await;
        Ok(OkAck { ok: true })
    };
    reply.send(result.await);
}

async fn on_room_create<A: Adapter>(
    s: SocketRef<A>,
    State(chat): State<ChatState>,
    ack: AckSender<A>,
    HasAck(has_ack): HasAck,
    ticket: Ticket,
    TryData(req): TryData<CreateRequest>,
) {
    let _turn = ticket.wait().await;
    let reply = Reply { socket: s.clone(), ack, has_ack, event: "room:create" };
    let result = async {
        let req = payload(req, "room:create")?;
        let id = match req.room {
            Some(room) => validate::room_id(&room)?.to_owned(),
            None => format!("room-{}", random_hex(4)),
        };
        let key = req.private.then(|| random_hex(16));
        let record = RoomRecord {
            id: id.clone(),
            private: req.private,
            key_hash: key.as_deref().map(store::hash_key),
        };
        chat.store.create_room(record).await?;
        tracing::info!(room = %id, private = req.private, by = %session(&s).user.name, "room created");
        Ok(CreateAck { ok: true, room: RoomInfo { id, private: req.private }, key })
    };
    reply.send(result.await);
}

async fn on_message_send<A: Adapter>(
    s: SocketRef<A>,
    State(chat): State<ChatState>,
    ack: AckSender<A>,
    HasAck(has_ack): HasAck,
    ticket: Ticket,
    TryData(req): TryData<SendRequest>,
) {
    let turn = ticket.wait().await;
    let reply = Reply { socket: s.clone(), ack, has_ack, event: "message:send" };
    let result = async {
        let req = payload(req, "message:send")?;
        send_counted(&s, &chat, turn, req.room, req.text, req.client_id).await
    };
    reply.send(result.await.map(|message| SendAck { ok: true, message }));
}

async fn on_typing<A: Adapter>(
    s: SocketRef<A>,
    ack: AckSender<A>,
    HasAck(has_ack): HasAck,
    ticket: Ticket,
    TryData(req): TryData<TypingRequest>,
) {
    let _turn = ticket.wait().await;
    let reply = Reply { socket: s.clone(), ack, has_ack, event: "typing" };
    let result = async {
        let req = payload(req, "typing")?;
        let room = validate::room_id(&req.room)?.to_owned();
        if !rooms::is_member(&s, &room) {
            return Err(ChatError::forbidden("join the room first"));
        }
        let me = session(&s);
        if req.typing {
            if me.start_typing(&room) {
                tokio::spawn(expire_typing(s.clone(), me.clone(), room.clone()));
            }
            announce_typing(&s, &me, &room, true).await;
        } else if me.stop_typing(&room) {
            announce_typing(&s, &me, &room, false).await;
        }
        Ok(OkAck { ok: true })
    };
    reply.send(result.await);
}

async fn on_history<A: Adapter>(
    s: SocketRef<A>,
    State(chat): State<ChatState>,
    ack: AckSender<A>,
    HasAck(has_ack): HasAck,
    ticket: Ticket,
    TryData(req): TryData<HistoryRequest>,
) {
    let _turn = ticket.wait().await;
    let reply = Reply { socket: s.clone(), ack, has_ack, event: "history" };
    let result = async {
        let req = payload(req, "history")?;
        let room = validate::room_id(&req.room)?;
        let record = chat
            .store
            .room(room)
            .await?
            .ok_or_else(|| ChatError::not_found(format!("there is no room {room:?}")))?;
        if record.private && !rooms::is_member(&s, room) {
            return Err(ChatError::forbidden("this room is private; join it with its key first"));
        }
        let messages = read_history(&chat, &req).await?;
        Ok(MessagesAck { ok: true, messages })
    };
    reply.send(result.await);
}

async fn on_rooms_list<A: Adapter>(
    s: SocketRef<A>,
    io: SocketIo<A>,
    State(chat): State<ChatState>,
    ack: AckSender<A>,
    HasAck(has_ack): HasAck,
    ticket: Ticket,
) {
    let _turn = ticket.wait().await;
    let reply = Reply { socket: s.clone(), ack, has_ack, event: "rooms:list" };
    let result = async {
        let joined = rooms::joined(&s);
        let visible = chat.store.rooms().await?.into_iter().filter(|r| !r.private || joined.contains(&r.id));
        let rooms = summaries(&io, visible).await?;
        Ok(RoomsAck { ok: true, rooms })
    };
    reply.send(result.await);
}

async fn on_disconnect<A: Adapter>(s: SocketRef<A>, State(chat): State<ChatState>) {
    chat.metrics.connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    let me = session(&s);
    for room in rooms::joined(&s) {
        if me.stop_typing(&room) {
            announce_typing(&s, &me, &room, false).await;
        }
        announce(&s, "presence:leave", &room, &me.user).await;
    }
    tracing::debug!(sid = %s.id, name = %me.user.name, "disconnected");
}

// ---- the shared steps ----

/// Joins a chat room: checks it and its key, makes it current, announces the
/// newcomer, and returns who is there with the latest history.
async fn join<A: Adapter>(
    s: &SocketRef<A>,
    io: &SocketIo<A>,
    chat: &ChatState,
    room: &str,
    key: Option<&str>,
) -> Result<JoinAck, ChatError> {
    let room = validate::room_id(room)?;
    let record = match chat.store.room(room).await? {
        Some(record) => record,
        None => chat.store.ensure_room(room).await?,
    };
    if record.private {
        let key = key.ok_or_else(|| ChatError::forbidden("this room is private; you need its invite key"))?;
        let matches = record.key_hash.is_some_and(|h| secrets_match(store::hash_key(key), h));
        if !matches {
            return Err(ChatError::forbidden("that key does not open this room"));
        }
    }
    let me = session(s);
    let already = rooms::is_member(s, room);
    let previous = me.set_current(Some(room));
    if me.rich {
        s.join(rich_room(room));
    } else {
        // A seed-style client is in one room at a time: its current one.
        if let Some(previous) = previous.filter(|p| p != room) {
            leave(s, &previous).await;
        }
        s.join(seed_room(room));
    }
    if !already {
        announce(s, "presence:join", room, &me.user).await;
    }
    let members = rooms::members(io, room)
        .await
        .map_err(|_| ChatError::unavailable("could not read the room's members; try again"))?;
    let history = chat.store.history(room, Page::Latest, validate::DEFAULT_HISTORY_LIMIT).await?;
    Ok(JoinAck {
        ok: true,
        room: RoomInfo { id: room.to_owned(), private: record.private },
        members,
        history,
    })
}

/// Leaves a chat room, telling the others; leaving a room one is not in is a no-op.
async fn leave<A: Adapter>(s: &SocketRef<A>, room: &str) {
    if !rooms::is_member(s, room) {
        return;
    }
    let me = session(s);
    s.leave([rich_room(room), seed_room(room)]);
    if me.current_room().as_deref() == Some(room) {
        me.set_current(None);
    }
    if me.stop_typing(room) {
        announce_typing(s, &me, room, false).await;
    }
    announce(s, "presence:leave", room, &me.user).await;
}

/// Validates, rate-limits and queues a message while holding the connection's
/// turn, then waits for it to be stored and delivered.
async fn send<A: Adapter>(
    s: &SocketRef<A>,
    chat: &ChatState,
    turn: Turn,
    room: String,
    text: String,
    client_id: Option<String>,
) -> Result<Message, ChatError> {
    validate::room_id(&room)?;
    validate::message_text(&text, chat.settings.max_message_len)?;
    validate::client_id(client_id.as_deref())?;
    chat.health.check()?;
    let me = session(s);
    if !me.try_send() {
        return Err(ChatError::new(
            ErrorCode::RateLimited,
            "you are sending too fast; wait a moment and try again",
        ));
    }
    if !rooms::is_member(s, &room) {
        return Err(ChatError::forbidden("join the room before sending to it"));
    }
    if me.stop_typing(&room) {
        announce_typing(s, &me, &room, false).await;
    }
    let message = NewMessage { room, user: me.user.clone(), text, ts: now_ms(), client_id };
    let pending = chat.pipeline.enqueue(message).await?;
    // Order matters only up to the queue; the commit is waited for outside the turn.
    drop(turn);
    Ok(pending.stored().await?.message)
}

/// [`send`], counted.
async fn send_counted<A: Adapter>(
    s: &SocketRef<A>,
    chat: &ChatState,
    turn: Turn,
    room: String,
    text: String,
    client_id: Option<String>,
) -> Result<Message, ChatError> {
    let result = send(s, chat, turn, room, text, client_id).await;
    Metrics::add(if result.is_ok() { &chat.metrics.messages_stored } else { &chat.metrics.messages_refused });
    result
}

/// Reads the page of history a request names.
pub async fn read_history(chat: &ChatState, req: &HistoryRequest) -> Result<Vec<Message>, ChatError> {
    let id = |raw: &Option<String>, field: &str| -> Result<Option<u64>, ChatError> {
        raw.as_deref()
            .map(|id| {
                store::parse_message_id(id)
                    .ok_or_else(|| ChatError::bad_request(format!("{field} must be a message id")))
            })
            .transpose()
    };
    let page = match (id(&req.after, "after")?, id(&req.before, "before")?) {
        (None, None) => Page::Latest,
        (None, Some(before)) => Page::Before(before),
        (Some(after), None) => Page::After(after),
        (Some(after), Some(before)) => Page::Between { after, before },
    };
    let limit = validate::history_limit(req.limit)?;
    Ok(chat.store.history(&req.room, page, limit).await?)
}

/// Adds live member counts to rooms.
pub async fn summaries<A: Adapter>(
    io: &SocketIo<A>,
    rooms: impl IntoIterator<Item = RoomRecord>,
) -> Result<Vec<RoomSummary>, ChatError> {
    let mut out = Vec::new();
    for r in rooms {
        let members = rooms::member_count(io, &r.id)
            .await
            .map_err(|_| ChatError::unavailable("could not count the room's members; try again"))?;
        out.push(RoomSummary { id: r.id, private: r.private, members });
    }
    Ok(out)
}

async fn announce<A: Adapter>(s: &SocketRef<A>, event: &str, room: &str, user: &User) {
    let _ = s.to(rich_room(room)).emit(event, &PresenceEvent { room, user }).await;
}

async fn announce_typing<A: Adapter>(s: &SocketRef<A>, me: &Session, room: &str, typing: bool) {
    let event = TypingEvent { room, user: &me.user, typing };
    let _ = s.to(rich_room(room)).emit("typing", &event).await;
}

/// Ends a typing state that was not renewed within its time to live.
async fn expire_typing<A: Adapter>(s: SocketRef<A>, me: Arc<Session>, room: String) {
    let mut deadline = tokio::time::Instant::now() + super::session::TYPING_TTL;
    loop {
        tokio::time::sleep_until(deadline).await;
        match me.expire_typing(&room) {
            Ok(()) => {
                if s.connected() {
                    announce_typing(&s, &me, &room, false).await;
                }
                return;
            }
            Err(Some(renewed)) => deadline = renewed,
            Err(None) => return,
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
