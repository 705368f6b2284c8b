//! What the two SQL stores share: the columns they read, the history query,
//! and turning a row into a domain type.

use super::Page;
use crate::model::{Message, Room, User, message_id};

/// The columns a message is read from, in the order [`message_row!`] expects.
pub const MESSAGE_COLUMNS: &str = "seq, room, user_id, user_name, text, ts, client_id";
/// The columns a room is read from, in the order [`room_row!`] expects.
pub const ROOM_COLUMNS: &str = "id, private, key_hash";

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
        )
    };
}

/// Builds a [`Room`] from a row of [`ROOM_COLUMNS`], like [`message_row!`].
macro_rules! room_row {
    ($row:ident . $get:ident) => {
        $crate::store::sql::room($row.$get(0)?, $row.$get(1)?, $row.$get(2)?)
    };
}

pub(crate) use {message_row, room_row};

/// A message from its columns.
pub fn message(
    seq: i64,
    room: String,
    user: User,
    text: String,
    ts: i64,
    client_id: Option<String>,
) -> Message {
    Message { id: message_id(seq as u64), room, user, text, ts, client_id }
}

/// A room from its columns; a stored key hash of the wrong length opens nothing.
pub fn room(id: String, private: bool, key_hash: Option<Vec<u8>>) -> Room {
    Room { id, private, key_hash: key_hash.and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok()) }
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
