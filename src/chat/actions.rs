//! The steps events share: joining and leaving rooms, sending, editing and
//! deleting messages, renaming, reading history, counting members, and
//! announcing presence and typing.
//!
//! Presence is per person: a person with a stable id may be in a room on
//! several connections, on several processes, and is announced when the
//! first of them enters and the last leaves ([`rooms::elsewhere`]).

use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use super::access::{self, Pass};
use super::error::{ChatError, ErrorCode};
use super::protocol::{
    HistoryRequest, JoinAck, PresenceEvent, RoomDeleted, RoomInfo, RoomSummary, RoomsRequest, SendRequest,
    TypingEvent, UserUpdate, Wire, event,
};
use super::rooms::{self, Joined, person_room, rich_room, seed_room, user_tag};
use super::session::{Session, Turn};
use super::{ChatState, validate};
use crate::model::{Change, Edit, File, Message, NewMessage, Room, User, now_ms, parse_message_id};
use crate::store::{Cursor, Page, RoomQuery};

/// Most chat rooms one connection may be in at once.
pub const MAX_JOINED: usize = 100;

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
    let room = room_or_new(chat, id).await?;
    // Where else this person is: a private room they are in elsewhere admits
    // them, and entering it again is not news to the others.
    let elsewhere = if me.stable { person_elsewhere(s, me).await? } else { Vec::new() };
    let theirs = elsewhere.iter().any(|r| r == id);
    access::admit(&room, Pass::Key(key)).or_else(|e| if theirs { Ok(()) } else { Err(e) })?;
    let already = rooms::is_member(s, id);
    if !already && rooms::joined(s).len() >= MAX_JOINED {
        return Err(ChatError::forbidden(format!(
            "a connection can be in at most {MAX_JOINED} rooms at once; leave one first"
        )));
    }
    let previous = me.set_current(Some(id));
    if me.rich {
        s.join(rich_room(id));
    } else {
        // A seed-style client is in one room at a time: its current one.
        if let Some(previous) = previous.filter(|p| p != id) {
            leave(s, me, chat, &previous).await;
        }
        s.join(seed_room(id));
    }
    if !already && !theirs {
        announce(s, event::PRESENCE_JOIN, id, &me.current(s)).await;
    }
    Ok(room)
}

/// The chat rooms this person is in on their other connections.
pub(super) async fn person_elsewhere<A: Adapter>(
    s: &SocketRef<A>,
    me: &Session,
) -> Result<Vec<String>, ChatError> {
    rooms::elsewhere(s, &me.user.id)
        .await
        .map_err(|_| ChatError::unavailable("could not read where you are connected; try again"))
}

/// Leaves a chat room, telling the others; leaving a room one is not in is a no-op.
pub(super) async fn leave<A: Adapter>(s: &SocketRef<A>, me: &Session, chat: &ChatState, room: &str) {
    if !rooms::is_member(s, room) {
        return;
    }
    let user = me.current(s);
    s.leave([rich_room(room), seed_room(room)]);
    if me.current_room().as_deref() == Some(room) {
        me.set_current(None);
    }
    if me.stop_typing(room) {
        announce_typing(s, me, room, false).await;
    }
    if !still_in(s, me).await.iter().any(|r| r == room) {
        announce(s, event::PRESENCE_LEAVE, room, &user).await;
    }
    forget_if_unused(s, chat, room).await;
}

/// The rooms this person is still in on other connections. When that cannot
/// be read they are taken to have left everywhere: a stray `presence:leave`
/// is corrected by the next `members`, a missing one is not.
pub(super) async fn still_in<A: Adapter>(s: &SocketRef<A>, me: &Session) -> Vec<String> {
    if !me.stable {
        return Vec::new();
    }
    rooms::elsewhere(s, &me.user.id).await.unwrap_or_default()
}

/// Deletes a public room that never held a message once nobody is in it
/// (the connection `s` is leaving it), so joining rooms at random leaves
/// nothing behind. The lobby stays.
pub(super) async fn forget_if_unused<A: Adapter>(s: &SocketRef<A>, chat: &ChatState, room: &str) {
    if room == validate::DEFAULT_ROOM || validate::is_private_id(room) {
        return;
    }
    if let Ok(true) = rooms::only(s, room).await
        && let Err(e) = chat.store.delete_room_if_unused(room).await
    {
        tracing::warn!(error = %e, room, "could not delete an unused room");
    }
}

/// Refuses a new room when the server holds `--max-rooms` already.
pub(super) async fn room_to_spare(chat: &ChatState) -> Result<(), ChatError> {
    let max = chat.settings.max_rooms;
    if chat.store.room_count().await? >= max {
        return Err(ChatError::forbidden(format!(
            "this server holds its most rooms ({max}, set with --max-rooms); join an existing room"
        )));
    }
    Ok(())
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
    SendRequest { room, text, client_id, files }: SendRequest,
) -> Result<NewMessage, ChatError> {
    validate::room_id(&room)?;
    let files = validate::file_ids(files)?;
    validate::message_body(&text, chat.settings.max_message_len, !files.is_empty())?;
    validate::client_id(client_id.as_deref())?;
    chat.health.check()?;
    spend_message(me, chat)?;
    let joined = Joined::of(s);
    if !joined.has(&room) {
        return Err(ChatError::forbidden("join the room before sending to it"));
    }
    if me.stop_typing(&room) {
        announce_typing(s, me, &room, false).await;
    }
    let files = attached(chat, &room, files).await?;
    let user = joined.user().unwrap_or_else(|| me.user.clone());
    Ok(NewMessage { room, user, text, ts: now_ms(), client_id, stable: me.stable, files })
}

/// The records of the files a message attaches, in the order given; each
/// must have been uploaded to `room`.
async fn attached(chat: &ChatState, room: &str, ids: Vec<String>) -> Result<Vec<File>, ChatError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = chat.store.room_files(room, ids.clone()).await?;
    ids.iter()
        .map(|id| {
            let at = found
                .iter()
                .position(|f| f.id == *id)
                .ok_or_else(|| ChatError::bad_request(format!("file {id} was not uploaded to this room")))?;
            Ok(found.swap_remove(at))
        })
        .collect()
}

/// A message from the REST API (`POST /api/rooms/{room}/messages`), checked,
/// stored and delivered exactly as a Socket.IO send: the room must admit the
/// request (a private room's key), a public room is made on first use, and
/// the sender's address pays from its message budget. `name` is who it is
/// from (default `api`); such a sender's id is `api:<name>`. Returns the
/// stored message and whether it was a resend.
pub async fn post(
    chat: &ChatState,
    (room, key): (&str, Option<&str>),
    (name, text, client_id, files): (Option<&str>, String, Option<String>, Option<Vec<String>>),
    addr: Option<std::net::IpAddr>,
) -> Result<crate::store::Appended, ChatError> {
    let id = validate::room_id(room)?;
    let files = validate::file_ids(files)?;
    validate::message_body(&text, chat.settings.max_message_len, !files.is_empty())?;
    validate::client_id(client_id.as_deref())?;
    let name = validate::display_name(name.unwrap_or("api"))?;
    chat.health.check()?;
    spend_address(chat, addr)?;
    let room = room_or_new(chat, id).await?;
    access::admit(&room, Pass::Key(key))?;
    let files = attached(chat, &room.id, files).await?;
    let user = User { id: format!("api:{name}"), name };
    let message = NewMessage { room: room.id, user, text, ts: now_ms(), client_id, stable: false, files };
    let (done, stored) = tokio::sync::oneshot::channel();
    chat.pipeline.enqueue(message, Box::new(move |outcome| drop(done.send(outcome)))).await;
    let stored = stored.await.unwrap_or_else(|_| Err(ChatError::unavailable("the server is shutting down")));
    chat.metrics.record_send(&stored);
    stored
}

/// The room `id`. A public room is made on first use, as joining makes it;
/// a private room never is: its id was the server's.
async fn room_or_new(chat: &ChatState, id: &str) -> Result<Room, ChatError> {
    match chat.store.room(id).await? {
        Some(room) => Ok(room),
        None if validate::is_private_id(id) => Err(access::no_such_room(id)),
        None => {
            room_to_spare(chat).await?;
            Ok(chat.store.ensure_room(id).await?)
        }
    }
}

/// Takes one message from the connection's and its address's rate limits.
fn spend_message(me: &Session, chat: &ChatState) -> Result<(), ChatError> {
    if !me.try_send() {
        return Err(ChatError::new(
            ErrorCode::RateLimited,
            "you are sending too fast; wait a moment and try again",
        ));
    }
    spend_address(chat, me.addr)
}

/// Takes one message (or upload) from the budget of the client's address.
pub fn spend_address(chat: &ChatState, addr: Option<std::net::IpAddr>) -> Result<(), ChatError> {
    if addr.is_some_and(|addr| !chat.per_address.try_take(addr)) {
        return Err(ChatError::new(
            ErrorCode::RateLimited,
            "too many messages and uploads from your network address; wait a moment and try again",
        ));
    }
    Ok(())
}

/// The refusal for a change only a stable identity may make.
fn needs_stable_identity(what: &str) -> ChatError {
    ChatError::forbidden(format!(
        "{what} needs a lasting identity: connect with auth.userKey (the web UI does)"
    ))
}

/// Edits (`Edit::Text`) or deletes one of this person's messages, stores the
/// change and tells the room's rich members, then returns the message as it is now.
pub(super) async fn change<A: Adapter>(
    s: &SocketRef<A>,
    me: &Session,
    io: &SocketIo<A>,
    chat: &ChatState,
    (room, id, edit): (String, String, Edit),
) -> Result<Message, ChatError> {
    validate::room_id(&room)?;
    let seq = parse_message_id(&id).ok_or_else(|| ChatError::bad_request("id must be a message id"))?;
    if let Edit::Text(text) = &edit {
        validate::message_text(text, chat.settings.max_message_len)?;
    }
    if !me.stable {
        return Err(needs_stable_identity("changing a message"));
    }
    chat.health.check()?;
    spend_message(me, chat)?;
    if !rooms::is_member(s, &room) {
        return Err(ChatError::forbidden("join the room before changing its messages"));
    }
    let change = Change { room, seq, by: me.user.id.clone(), edit, at: now_ms() };
    let message = chat.store.change(change).await?;
    let _ = io.to(rich_room(&message.room)).emit(event::MESSAGE_UPDATE, &Wire(&message)).await;
    Ok(message)
}

/// Deletes a room this person created, with its history, and empties it.
pub(super) async fn delete_room<A: Adapter>(
    s: &SocketRef<A>,
    me: &Session,
    io: &SocketIo<A>,
    chat: &ChatState,
    room: &str,
) -> Result<(), ChatError> {
    let id = validate::room_id(room)?;
    if id == validate::DEFAULT_ROOM {
        return Err(ChatError::forbidden("the lobby is everyone's and cannot be deleted"));
    }
    let room = access::existing_room(chat.store.as_ref(), id).await?;
    access::admit(&room, Pass::Member(rooms::is_member(s, id)))?;
    if !me.stable {
        return Err(needs_stable_identity("deleting a room"));
    }
    chat.health.check()?;
    chat.store.delete_room(id, &me.user.id).await?;
    tracing::info!(room = %id, "room deleted");
    let (rich, seed) = rooms::delivery_rooms(id);
    let _ = io.to(rich.clone()).emit(event::ROOM_DELETED, &RoomDeleted { room: id }).await;
    let _ = io.within([rich.clone(), seed.clone()]).leave([rich, seed]).await;
    Ok(())
}

/// Renames this person: every connection of theirs, on every process, takes
/// the new name, and the rooms they are in hear of it.
pub(super) async fn rename<A: Adapter>(
    s: &SocketRef<A>,
    me: &Session,
    io: &SocketIo<A>,
    chat: &ChatState,
    name: &str,
) -> Result<User, ChatError> {
    let name = validate::display_name(name)?;
    let old = me.current(s);
    if old.name == name {
        return Ok(old);
    }
    let new = User { id: old.id.clone(), name };
    let moved = |_| ChatError::unavailable("could not rename you on every connection; try again");
    let mut rooms = rooms::joined(s);
    if me.stable {
        chat.store.set_user_name(&new.id, &new.name).await?;
        // Joined to the new name before leaving the old, so no member list misses them.
        let everywhere = person_room(&new.id);
        io.within(everywhere.clone()).join(user_tag(&new)).await.map_err(moved)?;
        io.within(everywhere.clone()).leave(user_tag(&old)).await.map_err(moved)?;
        rooms.extend(person_elsewhere(s, me).await?);
    } else {
        s.join(user_tag(&new));
        s.leave(user_tag(&old));
    }
    let mut to: Vec<String> = rooms.iter().map(|r| rich_room(r)).collect();
    if me.stable {
        to.push(person_room(&new.id));
    }
    // `within` includes this connection (and only it, when `to` is empty).
    let update = UserUpdate { user: Wire(&new) };
    let _ = s.within(to).emit(event::USER_UPDATE, &update).await;
    Ok(new)
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
    let limit = validate::page_limit(req.limit)?;
    Ok(chat.store.history(&req.room, page, limit).await?)
}

/// A page of rooms, most recently active first, with live member counts: the
/// public rooms and the private ones in `private` (the asker's). Returns the
/// cursor of the next page when there is one.
pub async fn list_rooms<A: Adapter>(
    chat: &ChatState,
    io: &SocketIo<A>,
    private: Vec<String>,
    req: &RoomsRequest,
) -> Result<(Vec<RoomSummary>, Option<String>), ChatError> {
    let limit = validate::page_limit(req.limit)?;
    let after = match req.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) => Some(Cursor::decode(cursor).ok_or_else(|| {
            ChatError::bad_request("cursor must be the next of a page the server returned")
        })?),
    };
    // One more than asked tells whether another page follows.
    let mut page = chat.store.rooms(RoomQuery { private, after, limit: limit + 1 }).await?;
    let next = (page.len() > limit).then(|| page[limit - 1].cursor().encode());
    page.truncate(limit);
    Ok((summaries(io, page.into_iter().map(|listed| listed.room)).await?, next))
}

/// Adds live member counts to rooms.
async fn summaries<A: Adapter>(
    io: &SocketIo<A>,
    rooms: impl IntoIterator<Item = Room>,
) -> Result<Vec<RoomSummary>, ChatError> {
    let mut out = Vec::new();
    for r in rooms {
        let members = rooms::member_count(io, &r.id)
            .await
            .map_err(|_| ChatError::unavailable("could not count the room's members; try again"))?;
        out.push(RoomSummary { id: r.id, private: r.private, name: r.name, creator: r.creator, members });
    }
    Ok(out)
}

/// Tells a room's other rich members that `user` entered or left it.
pub(super) async fn announce<A: Adapter>(s: &SocketRef<A>, event: &str, room: &str, user: &User) {
    let _ = s.to(rich_room(room)).emit(event, &PresenceEvent { room, user: Wire(user) }).await;
}

/// Tells a room's other rich members that `me` started or stopped typing.
pub(super) async fn announce_typing<A: Adapter>(s: &SocketRef<A>, me: &Session, room: &str, typing: bool) {
    let user = me.current(s);
    let event = TypingEvent { room, user: Wire(&user), typing };
    let _ = s.to(rich_room(room)).emit(event::TYPING, &event).await;
}
