//! The steps events share: joining and leaving rooms, sending a message,
//! reading history, counting members, and announcing presence and typing.

use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use super::access::{self, Pass};
use super::error::{ChatError, ErrorCode};
use super::protocol::{
    HistoryRequest, JoinAck, PresenceEvent, RoomInfo, RoomSummary, SendRequest, TypingEvent, Wire, event,
};
use super::rooms::{self, rich_room, seed_room};
use super::session::{Session, Turn};
use super::{ChatState, validate};
use crate::model::{Message, NewMessage, Room, User, now_ms, parse_message_id};
use crate::store::Page;

/// Joins a chat room and returns who is there with the latest history.
pub(super) async fn join<A: Adapter>(
    s: &SocketRef<A>,
    me: &Session,
    io: &SocketIo<A>,
    chat: &ChatState,
    room: &str,
    key: Option<&str>,
) -> Result<JoinAck, ChatError> {
    let room = enter(s, me, chat, room, key).await?;
    let members = rooms::members(io, &room.id)
        .await
        .map_err(|_| ChatError::unavailable("could not read the room's members; try again"))?;
    let history = chat.store.history(&room.id, Page::Latest, validate::DEFAULT_HISTORY_LIMIT).await?;
    Ok(JoinAck { ok: true, room: RoomInfo::from(&room), members, history })
}

/// Enters a chat room: checks it and its key, makes it current and announces
/// the newcomer. Unlike [`join`] it reads back nothing, for callers that send
/// no answer (a handshake's first room, a `joinRoom` without an ack); reading
/// the member list on every connection made a crowded room quadratic to fill.
pub(super) async fn enter<A: Adapter>(
    s: &SocketRef<A>,
    me: &Session,
    chat: &ChatState,
    room: &str,
    key: Option<&str>,
) -> Result<Room, ChatError> {
    let id = validate::room_id(room)?;
    let room = match chat.store.room(id).await? {
        Some(room) => room,
        None => chat.store.ensure_room(id).await?,
    };
    access::admit(&room, Pass::Key(key))?;
    let already = rooms::is_member(s, id);
    let previous = me.set_current(Some(id));
    if me.rich {
        s.join(rich_room(id));
    } else {
        // A seed-style client is in one room at a time: its current one.
        if let Some(previous) = previous.filter(|p| p != id) {
            leave(s, me, &previous).await;
        }
        s.join(seed_room(id));
    }
    if !already {
        announce(s, event::PRESENCE_JOIN, id, &me.user).await;
    }
    Ok(room)
}

/// Leaves a chat room, telling the others; leaving a room one is not in is a no-op.
pub(super) async fn leave<A: Adapter>(s: &SocketRef<A>, me: &Session, room: &str) {
    if !rooms::is_member(s, room) {
        return;
    }
    s.leave([rich_room(room), seed_room(room)]);
    if me.current_room().as_deref() == Some(room) {
        me.set_current(None);
    }
    if me.stop_typing(room) {
        announce_typing(s, me, room, false).await;
    }
    announce(s, event::PRESENCE_LEAVE, room, &me.user).await;
}

/// Validates, rate-limits and queues a message while holding the connection's
/// turn; `answer` is called exactly once: with the refusal, or with the stored
/// message once it is durable and delivered.
pub(super) async fn send<A: Adapter>(
    s: &SocketRef<A>,
    me: &Session,
    chat: &ChatState,
    turn: Turn,
    request: SendRequest,
    answer: impl FnOnce(Result<Message, ChatError>) + Send + 'static,
) {
    match accept(s, me, chat, request).await {
        Ok(message) => {
            chat.pipeline.enqueue(message, Box::new(move |stored| answer(stored.map(|a| a.message)))).await
        }
        Err(refusal) => answer(Err(refusal)),
    }
    // Order matters only up to the queue; the commit is waited for outside the turn.
    drop(turn);
}

/// Checks a message from this connection and builds what the pipeline stores.
async fn accept<A: Adapter>(
    s: &SocketRef<A>,
    me: &Session,
    chat: &ChatState,
    SendRequest { room, text, client_id }: SendRequest,
) -> Result<NewMessage, ChatError> {
    validate::room_id(&room)?;
    validate::message_text(&text, chat.settings.max_message_len)?;
    validate::client_id(client_id.as_deref())?;
    chat.health.check()?;
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
        announce_typing(s, me, &room, false).await;
    }
    Ok(NewMessage { room, user: me.user.clone(), text, ts: now_ms(), client_id })
}

/// Reads the page of history a request names.
pub async fn read_history(chat: &ChatState, req: &HistoryRequest) -> Result<Vec<Message>, ChatError> {
    let id = |raw: &Option<String>, field: &str| -> Result<Option<u64>, ChatError> {
        raw.as_deref()
            .map(|id| {
                parse_message_id(id)
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
    rooms: impl IntoIterator<Item = Room>,
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

/// Tells a room's other rich members that `user` entered or left it.
pub(super) async fn announce<A: Adapter>(s: &SocketRef<A>, event: &str, room: &str, user: &User) {
    let _ = s.to(rich_room(room)).emit(event, &PresenceEvent { room, user: Wire(user) }).await;
}

/// Tells a room's other rich members that `me` started or stopped typing.
pub(super) async fn announce_typing<A: Adapter>(s: &SocketRef<A>, me: &Session, room: &str, typing: bool) {
    let event = TypingEvent { room, user: Wire(&me.user), typing };
    let _ = s.to(rich_room(room)).emit(event::TYPING, &event).await;
}
