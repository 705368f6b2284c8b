//! The request every event handler takes: the arriving event's name and
//! payload, its connection's [`Session`], how to answer it, and its place in
//! the connection's queue. [`Request::answer`] runs a handler's body in order
//! and in the connection's tracing span, and answers exactly once.

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, SocketRef, TryData};
use socketioxide::handler::{FromConnectParts, FromDisconnectParts, FromMessageParts, Value};
use socketioxide::socket::{DisconnectReason, Socket};
use socketioxide_core::parser::ParserError;
use tracing::Instrument;

use super::ChatState;
use super::actions::send;
use super::error::{ChatError, ErrorAck, ErrorCode, ErrorEvent};
use super::protocol::{event, *};
use super::session::{Session, Ticket, Turn};
use crate::model::Message;

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
    /// The connection.
    pub socket: SocketRef<A>,
    /// Its session.
    pub me: Arc<Session>,
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

/// An arriving event: its name, its payload of type `T` (or why it could
/// not be read), its connection, how to answer it, and its place in the
/// connection's queue, taken synchronously when the event arrives (see [`Ticket`]).
pub(super) struct Request<A: Adapter, T> {
    event: &'static str,
    data: Result<T, ParserError>,
    socket: SocketRef<A>,
    me: Arc<Session>,
    ack: AckSender<A>,
    has_ack: bool,
    ticket: Ticket,
}

/// What an event carries: read by [`Request`] before its handler runs.
pub(super) trait Payload: Sized {
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
payloads!(
    String,
    JoinRequest,
    LeaveRequest,
    CreateRequest,
    SendRequest,
    TypingRequest,
    HistoryRequest,
    RenameRequest,
    EditRequest,
    DeleteRequest
);

/// `rooms:list` may come without a payload: that is the first page.
impl Payload for RoomsRequest {
    fn decode<A: Adapter>(s: &Arc<Socket<A>>, v: &mut Value, ack: &Option<i64>) -> Result<Self, ParserError> {
        let args = v.as_str().and_then(|s| serde_json::from_str::<Vec<serde::de::IgnoredAny>>(s).ok());
        if args.is_some_and(|args| args.len() < 2) {
            return Ok(Self::default());
        }
        let Ok(TryData(data)) = TryData::from_message_parts(s, v, ack);
        data
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
pub(super) struct Ctx<A: Adapter> {
    /// The connection.
    pub socket: SocketRef<A>,
    /// Its session.
    pub me: Arc<Session>,
}

/// How to answer a request: its ack, else failures as `chat:error`.
pub(super) struct Reply<A: Adapter> {
    event: &'static str,
    socket: SocketRef<A>,
    ack: AckSender<A>,
    has_ack: bool,
}

impl<A: Adapter> Reply<A> {
    pub(super) fn send<T: Serialize>(self, result: Result<T, ChatError>) {
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
    pub(super) async fn answer<R, F, Fut>(self, body: F)
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
                _ if !cx.me.try_request() => Err(ChatError::new(
                    ErrorCode::RateLimited,
                    "you are making requests too fast; wait a moment and try again",
                )),
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
    pub(super) async fn send_message(
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

/// Whether an arriving event asked for an ack.
pub(super) struct AsksAck(pub bool);

impl<A: Adapter> FromMessageParts<A> for AsksAck {
    type Error = std::convert::Infallible;
    fn from_message_parts(
        _: &Arc<Socket<A>>,
        _: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Self::Error> {
        Ok(AsksAck(ack_id.is_some()))
    }
}
