//! What the two SQL stores share: the columns they read, the history query,
//! and turning a row into a domain type.

use super::{Appended, Cursor, Page, StoreError};
use crate::model::{Change, Edit, File, Message, Room, User, message_id};

/// The columns a message is read from, in the order [`message_row!`] expects.
pub const MESSAGE_COLUMNS: &str =
    "seq, room, user_id, user_name, text, ts, client_id, edited, deleted, files";
/// The columns a file's record is read from, in the order [`file_row!`] expects.
pub const FILE_COLUMNS: &str = "id, room, name, type, size, width, height";
/// The columns a room is read from, in the order [`room_row!`] expects.
pub const ROOM_COLUMNS: &str = "id, private, key_hash, name, creator";
/// Where a room listing ([`rooms_query`]) puts `last_active`: after [`ROOM_COLUMNS`].
pub const LAST_ACTIVE: usize = 5;

/// Builds a [`Message`] from a row of [`MESSAGE_COLUMNS`]; `$get` is the
/// driver's fallible column getter (`get` for rusqlite, `try_get` for tokio-postgres).
macro_rules! message_row {
    ($row:ident . $get:ident) => {
        $crate::store::sql::message(
            $row.$get(0)?,
            $row.$get(1)?,
            $crate::model::User { id: $row.$get(2)?, name: $row.$get(3)? },
            $row.$get(4)?,
            $row.$get(5)?,
            $row.$get(6)?,
            $row.$get(7)?,
            $row.$get(8)?,
            $row.$get(9)?,
        )
    };
}

/// Builds a [`crate::model::File`] from a row of [`FILE_COLUMNS`], like [`message_row!`].
macro_rules! file_row {
    ($row:ident . $get:ident) => {
        $crate::store::sql::file(
            $row.$get(0)?,
            $row.$get(1)?,
            $row.$get(2)?,
            $row.$get(3)?,
            $row.$get(4)?,
            $row.$get(5)?,
            $row.$get(6)?,
        )
    };
}

/// Builds a [`Room`] from a row of [`ROOM_COLUMNS`], like [`message_row!`].
macro_rules! room_row {
    ($row:ident . $get:ident) => {
        $crate::store::sql::room($row.$get(0)?, $row.$get(1)?, $row.$get(2)?, $row.$get(3)?, $row.$get(4)?)
    };
}

pub(crate) use {file_row, message_row, room_row};

/// A message from its columns (one argument per column).
#[allow(clippy::too_many_arguments)]
pub fn message(
    seq: i64,
    room: String,
    user: User,
    text: String,
    ts: i64,
    client_id: Option<String>,
    edited: Option<i64>,
    deleted: bool,
    files: Option<String>,
) -> Message {
    // Written by `files_column` only; unreadable JSON would be a corrupt row, shown without files.
    let files = files.and_then(|json| serde_json::from_str::<Vec<File>>(&json).ok()).unwrap_or_default();
    let files = files.into_iter().map(|f| File { room: room.clone(), ..f }).collect();
    Message { id: message_id(seq as u64), room, user, text, ts, client_id, edited, deleted, files }
}

/// A message's `files` column: the records of its files as JSON, or NULL.
pub fn files_column(files: &[File]) -> Option<String> {
    (!files.is_empty()).then(|| serde_json::to_string(files).expect("file records always serialize"))
}

/// A file record from its columns.
pub fn file(
    id: String,
    room: String,
    name: String,
    media_type: String,
    size: i64,
    width: Option<i64>,
    height: Option<i64>,
) -> File {
    let pixels = |n: Option<i64>| n.and_then(|n| u32::try_from(n).ok());
    File {
        id,
        room,
        name,
        media_type,
        size: size.max(0) as u64,
        width: pixels(width),
        height: pixels(height),
    }
}

/// A room from its columns; a stored key hash of the wrong length opens nothing.
pub fn room(
    id: String,
    private: bool,
    key_hash: Option<Vec<u8>>,
    name: Option<String>,
    creator: Option<String>,
) -> Room {
    let key_hash = key_hash.and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok());
    Room { id, private, name, key_hash, creator }
}

/// The message `change` leaves, from the stored one (`None`: there is no
/// such message in the room), or why the change is refused. Every change
/// moves `edited` forward, even two within one millisecond, so clients can
/// tell the newer of two updates.
pub fn changed(stored: Option<Message>, change: Change) -> Result<Message, StoreError> {
    let missing = || StoreError::NotFound("there is no such message in this room".into());
    let mut message = stored.ok_or_else(missing)?;
    if message.user.id != change.by {
        return Err(StoreError::NotYours("only its author can change a message".into()));
    }
    match change.edit {
        Edit::Text(_) if message.deleted => return Err(missing()),
        Edit::Text(text) => message.text = text,
        Edit::Delete => {
            message.text.clear();
            message.deleted = true;
            message.files.clear();
        }
    }
    message.edited = Some(change.at.max(message.edited.map_or(i64::MIN, |e| e.saturating_add(1))));
    Ok(message)
}

/// A new random secret for [`super::Store::identity_secret`], stored unless
/// one is already.
pub fn fresh_secret() -> [u8; 32] {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).expect("the operating system's random source is available");
    secret
}

/// The stored secret, checked.
pub fn secret(stored: Vec<u8>) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(stored.as_slice())
        .map_err(|_| StoreError::Backend("the stored identity secret is not 32 bytes".into()))
}

/// Whether `by` may delete a room created by `creator`.
pub fn may_delete_room(creator: Option<&str>, by: &str) -> Result<(), StoreError> {
    match creator {
        Some(creator) if creator == by => Ok(()),
        _ => Err(StoreError::NotYours("only the room's creator can delete it".into())),
    }
}

/// The room listing over `rooms`: parameters are the private ids to include
/// (`private`, written by the caller for its driver), the cursor's activity and
/// id, and the limit, written with `param(1..=4)`.
pub fn rooms_query(rooms: &str, private: &str, param: impl Fn(u8) -> String) -> String {
    format!(
        "SELECT {ROOM_COLUMNS}, last_active FROM {rooms} \
         WHERE (NOT private OR id IN ({private})) AND (last_active < {} OR (last_active = {} AND id > {})) \
         ORDER BY last_active DESC, id ASC LIMIT {}",
        param(2),
        param(2),
        param(3),
        param(4)
    )
}

/// The rooms a stored batch made active, with their newest message's time.
pub fn activity(batch: &[Appended]) -> Vec<(&str, i64)> {
    let mut rooms: Vec<(&str, i64)> = Vec::new();
    for m in batch.iter().filter(|a| !a.duplicate).map(|a| &a.message) {
        match rooms.iter_mut().find(|(room, _)| *room == m.room) {
            Some((_, ts)) => *ts = (*ts).max(m.ts),
            None => rooms.push((&m.room, m.ts)),
        }
    }
    rooms
}

/// The cursor a listing starts from: before every room.
pub fn first_cursor() -> Cursor {
    Cursor { last_active: i64::MAX, id: String::new() }
}

/// Deletes a public room, the parameter `param`, that has never held a message.
pub fn delete_unused_room(rooms: &str, messages: &str, param: &str) -> String {
    format!(
        "DELETE FROM {rooms} WHERE id = {param} AND NOT private \
         AND NOT EXISTS (SELECT 1 FROM {messages} WHERE room = {param})"
    )
}

/// Sequence numbers are u64 in ids and i64 in SQL; ids past i64 cannot exist.
pub fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// A page of history as SQL: the messages with `after < seq < before`.
#[derive(Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Exclusive lower bound.
    pub after: i64,
    /// Exclusive upper bound.
    pub before: i64,
    /// Whether the page ends at its newest message, so it is read newest
    /// first (then reversed) to take the `limit` nearest `before`.
    pub newest_first: bool,
}

impl Page {
    /// The page's bounds in SQL terms.
    pub fn bounds(self) -> Bounds {
        let (after, before, newest_first) = match self {
            Page::Latest => (0, i64::MAX, true),
            Page::Before(before) => (0, seq_param(before), true),
            Page::After(after) => (seq_param(after), i64::MAX, false),
            Page::Between { after, before } => (seq_param(after), seq_param(before), false),
        };
        Bounds { after, before, newest_first }
    }
}

/// The history query over `table`: parameters are the room, the limit and
/// the two bounds, written with `param(1..=4)` in the driver's placeholder style.
pub fn history_query(table: &str, newest_first: bool, param: impl Fn(u8) -> String) -> String {
    let order = if newest_first { "DESC" } else { "ASC" };
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM {table} WHERE room = {} AND seq > {} AND seq < {} ORDER BY seq {order} LIMIT {}",
        param(1),
        param(3),
        param(4),
        param(2)
    )
}

/// Puts a page read newest first back in order, oldest first.
pub fn oldest_first(mut messages: Vec<Message>, bounds: &Bounds) -> Vec<Message> {
    if bounds.newest_first {
        messages.reverse();
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(by: &str) -> Message {
        let user = User { id: by.into(), name: "ann".into() };
        message(7, "lobby".into(), user, "hi".into(), 1, None, None, false, None)
    }

    fn change(by: &str, edit: Edit, at: i64) -> Change {
        Change { room: "lobby".into(), seq: 7, by: by.into(), edit, at }
    }

    #[test]
    fn only_the_author_changes_a_message_and_edits_move_forward() {
        let edited = changed(Some(stored("a")), change("a", Edit::Text("hey".into()), 100)).unwrap();
        assert_eq!((edited.text.as_str(), edited.edited, edited.deleted), ("hey", Some(100), false));
        // A second edit in the same millisecond (or with a clock gone back) is still later.
        let again = changed(Some(edited), change("a", Edit::Text("hey!".into()), 90)).unwrap();
        assert_eq!(again.edited, Some(101));
        let gone = changed(Some(again), change("a", Edit::Delete, 200)).unwrap();
        assert_eq!((gone.text.as_str(), gone.deleted, gone.edited), ("", true, Some(200)));
        assert!(changed(Some(gone.clone()), change("a", Edit::Delete, 300)).is_ok(), "a delete repeats");
        assert!(matches!(
            changed(Some(gone), change("a", Edit::Text("back".into()), 300)),
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            changed(Some(stored("a")), change("b", Edit::Delete, 1)),
            Err(StoreError::NotYours(_))
        ));
        assert!(matches!(changed(None, change("a", Edit::Delete, 1)), Err(StoreError::NotFound(_))));
    }

    #[test]
    fn pages_become_bounds() {
        let cases = [
            (Page::Latest, (0, i64::MAX, true)),
            (Page::Before(9), (0, 9, true)),
            (Page::After(9), (9, i64::MAX, false)),
            (Page::Between { after: 2, before: 9 }, (2, 9, false)),
            (Page::After(u64::MAX), (i64::MAX, i64::MAX, false)),
        ];
        for (page, (after, before, newest_first)) in cases {
            assert_eq!(page.bounds(), Bounds { after, before, newest_first }, "{page:?}");
        }
        assert_eq!(
            history_query("t", true, |i| format!("${i}")),
            format!(
                "SELECT {MESSAGE_COLUMNS} FROM t WHERE room = $1 AND seq > $3 AND seq < $4 ORDER BY seq DESC LIMIT $2"
            )
        );
    }
}
