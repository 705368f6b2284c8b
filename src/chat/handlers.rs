//! What each client event does. Every request is validated before anything
//! changes; a refusal goes back in the ack, or as `chat:error` when the client
//! asked for no ack. Handlers take a [`Request`] (see [`super::request`]).

use std::sync::Arc;

use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, SocketRef, State};
use tracing::Instrument;

use super::access::{self, Pass};
use super::actions::{
    announce, announce_typing, change, delete_room, enter, forget_if_unused, join, leave, list_rooms,
    person_elsewhere, read_history, rename, room_to_spare, still_in,
};
use super::error::{ChatError, ErrorAck, ErrorEvent};
use super::protocol::{event, *};
use super::request::{AsksAck, Conn, Ctx, Request};
use super::rooms;
use super::session::Session;
use super::{ChatState, random_hex, validate};
use crate::model::{Edit, Room};

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
    s.on(event::USER_RENAME, on_user_rename::<A>);
    s.on(event::MESSAGE_EDIT, on_message_edit::<A>);
    s.on(event::MESSAGE_DELETE, on_message_delete::<A>);
    s.on(event::ROOM_DELETE, on_room_delete::<A>);
    s.on_fallback(on_unknown_event::<A>);
    s.on_disconnect(on_disconnect::<A>);
}

/// The handler once the handshake has admitted the connection.
pub(super) async fn on_connect<A: Adapter>(conn: Conn<A>) {
    let Conn { socket, me } = conn;
    tracing::debug!(parent: &me.span, rich = me.rich, stable = me.stable, "connected");
    if me.rich {
        // Where else this person is, so a second device can open the same rooms.
        let rooms =
            if me.stable { person_elsewhere(&socket, &me).await.unwrap_or_default() } else { Vec::new() };
        let user = me.current(&socket);
        let _ = socket.emit(event::SESSION, &SessionEvent { user: Wire(&user), rooms });
    }
    let refused = me.connect_error.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(e) = refused {
        let refusal = ErrorEvent { event: event::CONNECT, code: e.code, message: &e.message };
        let _ = socket.emit(event::CHAT_ERROR, &refusal);
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
        Ok(SendRequest { room, text, client_id: None, files: None })
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

async fn on_room_leave<A: Adapter>(req: Request<A, LeaveRequest>, State(chat): State<ChatState>) {
    req.answer(move |cx, data| async move {
        leave(&cx.socket, &cx.me, &chat, validate::room_id(&data.room)?).await;
        Ok(OkAck { ok: true })
    })
    .await
}

async fn on_room_create<A: Adapter>(req: Request<A, CreateRequest>, State(chat): State<ChatState>) {
    req.answer(move |cx, data| async move {
        let (room, key) = new_room(data)?;
        let room = room.created_by(cx.me.stable.then(|| cx.me.user.id.clone()));
        room_to_spare(&chat).await?;
        chat.store.create_room(room.clone()).await?;
        tracing::info!(room = %room.id, private = room.private, "room created");
        Ok(CreateAck { ok: true, room: RoomInfo::from(&room), key })
    })
    .await
}

/// The room a `room:create` asks for, and a private room's key. A private
/// room's id is the server's: random, so nobody can take a name others use
/// (the lesson's `lobby`, a project id) and lock them out.
fn new_room(data: CreateRequest) -> Result<(Room, Option<String>), ChatError> {
    if data.private {
        if data.room.is_some() {
            return Err(ChatError::bad_request(
                "a private room's id is chosen by the server; give it a name instead",
            ));
        }
        let name = data.name.as_deref().map(validate::room_name).transpose()?;
        let key = random_hex(16);
        let room =
            Room::private(validate::private_room_id(), name.as_deref().unwrap_or("Private room"), &key);
        return Ok((room, Some(key)));
    }
    if data.name.is_some() {
        return Err(ChatError::bad_request("only private rooms have a name; a public room goes by its id"));
    }
    let id = match data.room {
        Some(room) if validate::is_private_id(&room) => {
            return Err(ChatError::bad_request(
                "that id has the shape of a private room's (p- and 16 letters or digits); choose another",
            ));
        }
        Some(room) => validate::room_id(&room)?.to_owned(),
        None => format!("room-{}", random_hex(4)),
    };
    Ok((Room::public(id), None))
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
        // Only changes are announced: a renewal extends the time to live quietly.
        if data.typing {
            if me.start_typing(&room) {
                let expiry = expire_typing(socket.clone(), me.clone(), room.clone());
                tokio::spawn(expiry.instrument(me.span.clone()));
                announce_typing(&socket, &me, &room, true).await;
            }
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
    req: Request<A, RoomsRequest>,
    io: SocketIo<A>,
    State(chat): State<ChatState>,
) {
    req.answer(move |cx, data| async move {
        let (rooms, next) = list_rooms(&chat, &io, rooms::joined(&cx.socket), &data).await?;
        Ok(RoomsAck { ok: true, rooms, next })
    })
    .await
}

async fn on_user_rename<A: Adapter>(
    req: Request<A, RenameRequest>,
    io: SocketIo<A>,
    State(chat): State<ChatState>,
) {
    req.answer(move |cx, data| async move {
        let user = rename(&cx.socket, &cx.me, &io, &chat, &data.name).await?;
        Ok(RenameAck { ok: true, user })
    })
    .await
}

async fn on_message_edit<A: Adapter>(
    req: Request<A, EditRequest>,
    io: SocketIo<A>,
    State(chat): State<ChatState>,
) {
    req.answer(move |cx, EditRequest { room, id, text }| async move {
        let message = change(&cx.socket, &cx.me, &io, &chat, (room, id, Edit::Text(text))).await?;
        Ok(SendAck { ok: true, message })
    })
    .await
}

async fn on_message_delete<A: Adapter>(
    req: Request<A, DeleteRequest>,
    io: SocketIo<A>,
    State(chat): State<ChatState>,
) {
    req.answer(move |cx, DeleteRequest { room, id }| async move {
        let message = change(&cx.socket, &cx.me, &io, &chat, (room, id, Edit::Delete)).await?;
        Ok(SendAck { ok: true, message })
    })
    .await
}

async fn on_room_delete<A: Adapter>(
    req: Request<A, RoomDeleteRequest>,
    io: SocketIo<A>,
    State(chat): State<ChatState>,
) {
    req.answer(move |cx, data| async move {
        delete_room(&cx.socket, &cx.me, &io, &chat, &data.room).await?;
        Ok(OkAck { ok: true })
    })
    .await
}

/// An event the protocol does not have: refused through its ack, if it asked
/// for one; ignored otherwise, as the lesson's server ignored it.
async fn on_unknown_event<A: Adapter>(Event(name): Event, ack: AckSender<A>, AsksAck(asks): AsksAck) {
    if asks {
        let refusal = ChatError::bad_request(format!("there is no event {name:?} (see docs/protocol.md)"));
        let _ = ack.send(&ErrorAck { ok: false, error: &refusal });
    }
}

async fn on_disconnect<A: Adapter>(conn: Conn<A>, State(chat): State<ChatState>) {
    let Conn { socket, me } = conn;
    chat.metrics.connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    async {
        let user = me.current(&socket);
        let elsewhere = still_in(&socket, &me).await;
        for room in rooms::joined(&socket) {
            if me.stop_typing(&room) {
                announce_typing(&socket, &me, &room, false).await;
            }
            if !elsewhere.contains(&room) {
                announce(&socket, event::PRESENCE_LEAVE, &room, &user).await;
            }
            // Not awaited here: the socket leaves its rooms once this handler returns.
            let (socket, chat) = (socket.clone(), chat.clone());
            tokio::spawn(async move { forget_if_unused(&socket, &chat, &room).await });
        }
        tracing::debug!("disconnected");
    }
    .instrument(me.span.clone())
    .await
}
