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

use super::actions::{
    announce, announce_typing, enter, expire_typing, join, leave, read_history, send, summaries,
};
use super::metrics::Metrics;
use super::protocol::*;
use super::rooms;
use super::session::{Session, Ticket, Turn};
use super::{ChatState, random_hex, secrets_match, validate};
use crate::store::{self, RoomRecord};

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
        && let Err(e) = enter(&s, &chat, &room, None).await
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

pub(super) fn session<A: Adapter>(s: &Socket<A>) -> Arc<Session> {
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

/// An arriving event: how to answer it and its place in the connection's
/// queue, taken synchronously when the event arrives (see [`Ticket`]).
struct Request<A: Adapter> {
    socket: SocketRef<A>,
    ack: AckSender<A>,
    has_ack: bool,
    ticket: Ticket,
}

impl<A: Adapter> FromMessageParts<A> for Request<A> {
    type Error = Infallible;
    fn from_message_parts(
        s: &Arc<Socket<A>>,
        v: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        Ok(Request {
            socket: SocketRef::from_message_parts(s, v, ack_id)?,
            ack: AckSender::from_message_parts(s, v, ack_id)?,
            has_ack: ack_id.is_some(),
            ticket: session(s).ticket(),
        })
    }
}

impl<A: Adapter> Request<A> {
    /// Waits until the connection's earlier events are done with their ordered
    /// part; returns the socket, how to answer, and the turn to hold.
    async fn begin(self, event: &'static str) -> (SocketRef<A>, Reply<A>, Turn) {
        let turn = self.ticket.wait().await;
        let reply = Reply { socket: self.socket.clone(), ack: self.ack, has_ack: self.has_ack, event };
        (self.socket, reply, turn)
    }
}

fn payload<T>(data: Result<T, impl std::fmt::Display>, event: &str) -> Result<T, ChatError> {
    data.map_err(|e| ChatError::bad_request(format!("malformed {event} payload: {e}")))
}

// ---- seed-compatible events ----

async fn on_join_room<A: Adapter>(
    event: Request<A>,
    State(chat): State<ChatState>,
    TryData(room): TryData<String>,
) {
    let (s, reply, _turn) = event.begin("joinRoom").await;
    let result = match payload(room, "joinRoom") {
        Ok(room) => enter(&s, &chat, &room, None).await.map(|_| OkAck { ok: true }),
        Err(e) => Err(e),
    };
    reply.send(result);
}

async fn on_plain_message<A: Adapter>(
    event: Request<A>,
    State(chat): State<ChatState>,
    TryData(text): TryData<String>,
) {
    let (s, reply, turn) = event.begin("message").await;
    let request = payload(text, "message").and_then(|text| {
        let room = session(&s)
            .current_room()
            .ok_or_else(|| ChatError::forbidden("join a room before sending messages"))?;
        Ok(SendRequest { room, text, client_id: None })
    });
    match request {
        Ok(request) => send(&s, &chat, turn, request, answer_send(&chat, reply)).await,
        Err(e) => reply.send::<SendAck>(Err(e)),
    }
}

/// Answers a send once the pipeline is done with it, and counts it.
fn answer_send<A: Adapter>(
    chat: &ChatState,
    reply: Reply<A>,
) -> impl FnOnce(Result<Message, ChatError>) + Send + 'static {
    let chat = chat.clone();
    move |sent| {
        chat.metrics.record_send(&sent);
        reply.send(sent.map(|message| SendAck { ok: true, message }));
    }
}

// ---- rich events ----

async fn on_room_join<A: Adapter>(
    event: Request<A>,
    io: SocketIo<A>,
    State(chat): State<ChatState>,
    TryData(req): TryData<JoinRequest>,
) {
    let (s, reply, _turn) = event.begin("room:join").await;
    let result = match payload(req, "room:join") {
        Ok(req) => join(&s, &io, &chat, &req.room, req.key.as_deref()).await,
        Err(e) => Err(e),
    };
    reply.send(result);
}

async fn on_room_leave<A: Adapter>(event: Request<A>, TryData(req): TryData<LeaveRequest>) {
    let (s, reply, _turn) = event.begin("room:leave").await;
    let result = async {
        let req = payload(req, "room:leave")?;
        let room = validate::room_id(&req.room)?;
        leave(&s, room).await;
        Ok(OkAck { ok: true })
    };
    reply.send(result.await);
}

async fn on_room_create<A: Adapter>(
    event: Request<A>,
    State(chat): State<ChatState>,
    TryData(req): TryData<CreateRequest>,
) {
    let (s, reply, _turn) = event.begin("room:create").await;
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
    event: Request<A>,
    State(chat): State<ChatState>,
    TryData(req): TryData<SendRequest>,
) {
    let (s, reply, turn) = event.begin("message:send").await;
    match payload(req, "message:send") {
        Ok(req) => send(&s, &chat, turn, req, answer_send(&chat, reply)).await,
        Err(e) => reply.send::<SendAck>(Err(e)),
    }
}

async fn on_typing<A: Adapter>(event: Request<A>, TryData(req): TryData<TypingRequest>) {
    let (s, reply, _turn) = event.begin("typing").await;
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
    event: Request<A>,
    State(chat): State<ChatState>,
    TryData(req): TryData<HistoryRequest>,
) {
    let (s, reply, _turn) = event.begin("history").await;
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

async fn on_rooms_list<A: Adapter>(event: Request<A>, io: SocketIo<A>, State(chat): State<ChatState>) {
    let (s, reply, _turn) = event.begin("rooms:list").await;
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
