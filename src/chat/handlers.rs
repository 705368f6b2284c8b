//! What each client event does. Every request is validated before anything
//! changes; a refusal goes back in the ack, or as `chat:error` when the client
//! asked for no ack.
//!
//! Handlers take a [`Request`]: the arriving event's name, its connection's
//! [`Session`], how to answer, and its place in the connection's queue. Its
//! [`Request::answer`] runs the handler's body in order and in the
//! connection's tracing span, and answers exactly once.

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, SocketRef, State, TryData};
use socketioxide::handler::{FromConnectParts, FromDisconnectParts, FromMessageParts, Value};
use socketioxide::socket::{DisconnectReason, Socket};
use socketioxide_core::parser::ParserError;
use tracing::Instrument;

use super::access::{self, Pass};
use super::actions::{announce, announce_typing, enter, join, leave, read_history, send, summaries};
use super::error::{ChatError, ErrorAck, ErrorEvent};
use super::protocol::{event, *};
use super::rooms;
use super::session::{Session, Ticket, Turn};
use super::{ChatState, random_hex, validate};
use crate::model::{Message, Room};

/// Installs the event handlers on a connection that passed the handshake.
pub(super) fn install<A: Adapter>(s: &SocketRef<A>) {
    s.on(event::JOIN_ROOM, on_join_room::<A>);
    s.on(event::MESSAGE, on_plain_message::<A>);
    s.on(event::ROOM_JOIN, on_room_join::<A>);
    s.on(event::ROOM_LEAVE, on_room_leave::<A>);
    s.on(event::ROOM_CREATE, on_room_create::<A>);
    s.on(event::MESSAGE_SEND, on_message_send::<A>);
    s.on(event::TYPING, on_typing::<A>);
    s.on(event::HISTORY, on_history::<A>);
    s.on(event::ROOMS_LIST, on_rooms_list::<A>);
    s.on_disconnect(on_disconnect::<A>);
}

/// A socket without a [`Session`]: its handshake did not finish. Handlers are
/// installed only after the session is attached, so this cannot happen.
#[derive(Debug, thiserror::Error)]
#[error("the connection has no session")]
pub struct NoSession;

fn session_of<A: Adapter>(s: &Socket<A>) -> Result<Arc<Session>, NoSession> {
    s.extensions.get::<Arc<Session>>().ok_or(NoSession)
}

/// A connection and its session, for the connect and disconnect handlers.
pub(super) struct Conn<A: Adapter> {
    socket: SocketRef<A>,
    me: Arc<Session>,
}

impl<A: Adapter> FromConnectParts<A> for Conn<A> {
    type Error = NoSession;
    fn from_connect_parts(s: &Arc<Socket<A>>, _: &Option<Value>) -> Result<Self, NoSession> {
        Ok(Conn { socket: SocketRef::from(s.clone()), me: session_of(s)? })
    }
}

impl<A: Adapter> FromDisconnectParts<A> for Conn<A> {
    type Error = NoSession;
    fn from_disconnect_parts(s: &Arc<Socket<A>>, _: DisconnectReason) -> Result<Self, NoSession> {
        Ok(Conn { socket: SocketRef::from(s.clone()), me: session_of(s)? })
    }
}

/// The handler once the handshake has admitted the connection.
pub(super) async fn on_connect<A: Adapter>(conn: Conn<A>) {
    let Conn { socket, me } = conn;
    tracing::debug!(parent: &me.span, name = %me.user.name, rich = me.rich, "connected");
    let refused = me.connect_error.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(e) = refused {
        let refusal = ErrorEvent { event: event::CONNECT, code: e.code, message: &e.message };
        let _ = socket.emit(event::CHAT_ERROR, &refusal);
    }
}

/// An arriving event: its name, its payload of type `T` (or why it could
/// not be read), its connection, how to answer it, and its place in the
/// connection's queue, taken synchronously when the event arrives (see [`Ticket`]).
struct Request<A: Adapter, T> {
    event: &'static str,
    data: Result<T, ParserError>,
    socket: SocketRef<A>,
    me: Arc<Session>,
    ack: AckSender<A>,
    has_ack: bool,
    ticket: Ticket,
}

/// What an event carries: read by [`Request`] before its handler runs.
trait Payload: Sized {
    fn decode<A: Adapter>(
        s: &Arc<Socket<A>>,
        v: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, ParserError>;
}

macro_rules! payloads {
    ($($t:ty),*) => {$(
        impl Payload for $t {
            fn decode<A: Adapter>(s: &Arc<Socket<A>>, v: &mut Value, ack: &Option<i64>) -> Result<Self, ParserError> {
                let Ok(TryData(data)) = TryData::from_message_parts(s, v, ack);
                data
            }
        }
    )*};
}
payloads!(String, JoinRequest, LeaveRequest, CreateRequest, SendRequest, TypingRequest, HistoryRequest);

/// The payload of an event that takes none: whatever is sent is ignored.
struct NoPayload;

impl Payload for NoPayload {
    fn decode<A: Adapter>(_: &Arc<Socket<A>>, _: &mut Value, _: &Option<i64>) -> Result<Self, ParserError> {
        Ok(NoPayload)
    }
}

impl<A: Adapter, T: Payload> FromMessageParts<A> for Request<A, T> {
    type Error = NoSession;
    fn from_message_parts(
        s: &Arc<Socket<A>>,
        v: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, NoSession> {
        let me = session_of(s)?;
        let name = Event::from_message_parts(s, v, ack_id).map(|e| e.0).unwrap_or_default();
        let Ok(ack) = AckSender::from_message_parts(s, v, ack_id);
        Ok(Request {
            // Handlers are installed for these names only.
            event: event::FROM_CLIENT.into_iter().find(|e| *e == name).unwrap_or("unknown"),
            data: T::decode(s, v, ack_id),
            socket: SocketRef::from(s.clone()),
            ack,
            has_ack: ack_id.is_some(),
            ticket: me.ticket(),
            me,
        })
    }
}

/// What a handler's body works with.
struct Ctx<A: Adapter> {
    socket: SocketRef<A>,
    me: Arc<Session>,
}

/// How to answer a request: its ack, else failures as `chat:error`.
struct Reply<A: Adapter> {
    event: &'static str,
    socket: SocketRef<A>,
    ack: AckSender<A>,
    has_ack: bool,
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
                let _ = self.socket.emit(event::CHAT_ERROR, &event);
            }
        }
    }
}

impl<A: Adapter, T> Request<A, T> {
    fn split(self) -> (Ctx<A>, Result<T, ChatError>, Reply<A>, Ticket) {
        let Request { event, data, socket, me, ack, has_ack, ticket } = self;
        let data = data.map_err(|e| ChatError::bad_request(format!("malformed {event} payload: {e}")));
        let reply = Reply { event, socket: socket.clone(), ack, has_ack };
        (Ctx { socket, me }, data, reply, ticket)
    }

    /// Runs `body` with the payload once the connection's earlier events are
    /// done, in the connection's span, and answers with its result (a payload
    /// that could not be read is answered `bad_request`).
    async fn answer<R, F, Fut>(self, body: F)
    where
        R: Serialize,
        F: FnOnce(Ctx<A>, T) -> Fut,
        Fut: Future<Output = Result<R, ChatError>>,
    {
        let span = self.me.span.clone();
        let (cx, data, reply, ticket) = self.split();
        async move {
            let turn = ticket.wait().await;
            let result = match data {
                Ok(data) => body(cx, data).await,
                Err(e) => Err(e),
            };
            reply.send(result);
            drop(turn);
        }
        .instrument(span)
        .await
    }

    /// Sends a message: validation and queueing hold the connection's turn;
    /// the answer comes from the pipeline once the message is stored.
    async fn send_message(
        self,
        chat: &ChatState,
        request: impl FnOnce(&Ctx<A>, T) -> Result<SendRequest, ChatError>,
    ) {
        let span = self.me.span.clone();
        let (cx, data, reply, ticket) = self.split();
        async move {
            let turn: Turn = ticket.wait().await;
            match data.and_then(|data| request(&cx, data)) {
                Ok(request) => send(&cx.socket, &cx.me, chat, turn, request, answer_send(chat, reply)).await,
                Err(e) => reply.send::<SendAck>(Err(e)),
            }
        }
        .instrument(span)
        .await
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

// ---- seed-compatible events ----

async fn on_join_room<A: Adapter>(req: Request<A, String>, State(chat): State<ChatState>) {
    req.answer(move |cx, room| async move {
        enter(&cx.socket, &cx.me, &chat, &room, None).await?;
        Ok(OkAck { ok: true })
    })
    .await
}

async fn on_plain_message<A: Adapter>(req: Request<A, String>, State(chat): State<ChatState>) {
    req.send_message(&chat, |cx, text| {
        let room = cx.me.current_room();
        let room = room.ok_or_else(|| ChatError::forbidden("join a room before sending messages"))?;
        Ok(SendRequest { room, text, client_id: None })
    })
    .await
}

// ---- rich events ----

async fn on_room_join<A: Adapter>(
    req: Request<A, JoinRequest>,
    io: SocketIo<A>,
    State(chat): State<ChatState>,
) {
    req.answer(move |cx, data| async move {
        join(&cx.socket, &cx.me, &io, &chat, &data.room, data.key.as_deref()).await
    })
    .await
}

async fn on_room_leave<A: Adapter>(req: Request<A, LeaveRequest>) {
    req.answer(move |cx, data| async move {
        leave(&cx.socket, &cx.me, validate::room_id(&data.room)?).await;
        Ok(OkAck { ok: true })
    })
    .await
}

async fn on_room_create<A: Adapter>(req: Request<A, CreateRequest>, State(chat): State<ChatState>) {
    req.answer(move |cx, data| async move {
        let id = match data.room {
            Some(room) => validate::room_id(&room)?.to_owned(),
            None => format!("room-{}", random_hex(4)),
        };
        let key = data.private.then(|| random_hex(16));
        let room = match &key {
            Some(key) => Room::private(id, key),
            None => Room::public(id),
        };
        chat.store.create_room(room.clone()).await?;
        tracing::info!(room = %room.id, private = room.private, by = %cx.me.user.name, "room created");
        Ok(CreateAck { ok: true, room: RoomInfo::from(&room), key })
    })
    .await
}

async fn on_message_send<A: Adapter>(req: Request<A, SendRequest>, State(chat): State<ChatState>) {
    req.send_message(&chat, |_, data| Ok(data)).await
}

async fn on_typing<A: Adapter>(req: Request<A, TypingRequest>) {
    req.answer(move |cx, data| async move {
        let room = validate::room_id(&data.room)?.to_owned();
        if !rooms::is_member(&cx.socket, &room) {
            return Err(ChatError::forbidden("join the room first"));
        }
        let Ctx { socket, me } = cx;
        if data.typing {
            if me.start_typing(&room) {
                let expiry = expire_typing(socket.clone(), me.clone(), room.clone());
                tokio::spawn(expiry.instrument(me.span.clone()));
            }
            announce_typing(&socket, &me, &room, true).await;
        } else if me.stop_typing(&room) {
            announce_typing(&socket, &me, &room, false).await;
        }
        Ok(OkAck { ok: true })
    })
    .await
}

/// Tells the room when a typing state lapses unrenewed.
async fn expire_typing<A: Adapter>(socket: SocketRef<A>, me: Arc<Session>, room: String) {
    if me.typing_lapsed(&room).await && socket.connected() {
        announce_typing(&socket, &me, &room, false).await;
    }
}

async fn on_history<A: Adapter>(req: Request<A, HistoryRequest>, State(chat): State<ChatState>) {
    req.answer(move |cx, data| async move {
        let room = access::existing_room(chat.store.as_ref(), validate::room_id(&data.room)?).await?;
        access::admit(&room, Pass::Member(rooms::is_member(&cx.socket, &room.id)))?;
        let messages = read_history(&chat, &data).await?;
        Ok(MessagesAck { ok: true, messages })
    })
    .await
}

async fn on_rooms_list<A: Adapter>(
    req: Request<A, NoPayload>,
    io: SocketIo<A>,
    State(chat): State<ChatState>,
) {
    req.answer(move |cx, NoPayload| async move {
        let joined = rooms::joined(&cx.socket);
        let visible = chat.store.rooms().await?.into_iter().filter(|r| !r.private || joined.contains(&r.id));
        let rooms = summaries(&io, visible).await?;
        Ok(RoomsAck { ok: true, rooms })
    })
    .await
}

async fn on_disconnect<A: Adapter>(conn: Conn<A>, State(chat): State<ChatState>) {
    let Conn { socket, me } = conn;
    chat.metrics.connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    async {
        for room in rooms::joined(&socket) {
            if me.stop_typing(&room) {
                announce_typing(&socket, &me, &room, false).await;
            }
            announce(&socket, event::PRESENCE_LEAVE, &room, &me.user).await;
        }
        tracing::debug!(name = %me.user.name, "disconnected");
    }
    .instrument(me.span.clone())
    .await
}
