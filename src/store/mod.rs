//! Durable history: rooms, private-room keys and messages behind one [`Store`] trait.
//!
//! SQLite ([`sqlite::SqliteStore`]) is the zero-setup default. Writes arrive in
//! batches from the chat's send pipeline, so one commit covers many messages.
//! [`open`] puts a [`cache::RoomCache`] in front of either database, and
//! [`deadline::Deadlines`] between the two, so a stalled database is answered
//! promptly. The store speaks the domain types of [`crate::model`].

pub mod cache;
pub mod deadline;
pub mod postgres;
mod sql;
pub mod sqlite;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::model::{Change, File, Message, NewMessage, Room};

/// Where history lives, as chosen with `--db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbTarget {
    /// A SQLite file, created when missing.
    Sqlite(PathBuf),
    /// A SQLite database in memory: gone when the process stops.
    Memory,
    /// A PostgreSQL database shared by several processes (`postgres://…`).
    Postgres(String),
}

impl fmt::Display for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Memory => f.write_str("memory (history is lost on exit)"),
            Self::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// Opens the store a target names, giving up after [`deadline::OPEN`].
pub async fn open(target: &DbTarget) -> Result<Arc<dyn Store>, StoreError> {
    let opening = async {
        let store: Arc<dyn Store> = match target {
            DbTarget::Postgres(url) => Arc::new(postgres::PostgresStore::open(url).await?),
            other => Arc::new(sqlite::SqliteStore::open(other.clone()).await?),
        };
        Ok(store)
    };
    let limit = deadline::OPEN;
    let store = tokio::time::timeout(limit, opening)
        .await
        .map_err(|_| StoreError::Unavailable(format!("the database did not answer within {limit:?}")))??;
    let store = Arc::new(deadline::Deadlines::new(store, deadline::Limits::default()));
    Ok(Arc::new(cache::RoomCache::new(store)))
}

/// A database URL with its password hidden, for printing.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Why the store could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A room with that id exists already.
    #[error("room {0:?} already exists")]
    RoomExists(String),
    /// The database failed; the text says how.
    #[error("database error: {0}")]
    Backend(String),
    /// No such message or room; the text says which, for people.
    #[error("{0}")]
    NotFound(String),
    /// The message or room is someone else's; the text says so, for people.
    #[error("{0}")]
    NotYours(String),
    /// The store was closed (the server is stopping).
    #[error("the database is closed")]
    Closed,
    /// The database cannot serve requests right now (it did not answer in
    /// time, or its file is gone); the text is one sentence for people that
    /// says what to do.
    #[error("{0}")]
    Unavailable(String),
}

/// The outcome of storing one message.
#[derive(Debug, Clone)]
pub struct Appended {
    /// The message as stored.
    pub message: Message,
    /// True when the same `clientId` from the same author (see
    /// [`NewMessage::author`]) was already stored in this
    /// room: `message` is then the earlier copy and nothing new was written.
    pub duplicate: bool,
}

/// Which rooms to list: public rooms and these private ones, from a place
/// in the list on, at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct RoomQuery {
    /// Private rooms to list too (the ones the asker is in).
    pub private: Vec<String>,
    /// Where the previous page ended.
    pub after: Option<Cursor>,
    /// Most rooms to return.
    pub limit: usize,
}

/// A place in the list of rooms, ordered by last activity (newest first), then id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The last activity of the last room listed.
    pub last_active: i64,
    /// Its id.
    pub id: String,
}

impl Cursor {
    /// The cursor as clients hold it: `<last_active>.<id>`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.last_active, self.id)
    }

    /// Reads a cursor a client sent back; `None` if it is not one.
    pub fn decode(text: &str) -> Option<Self> {
        let (last_active, id) = text.split_once('.')?;
        Some(Self { last_active: last_active.parse().ok()?, id: id.to_owned() })
    }
}

/// A room as listed, with when it was last active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The room.
    pub room: Room,
    /// When it was created or last got a message, in milliseconds since the epoch.
    pub last_active: i64,
}

impl Listed {
    /// The cursor that lists what comes after this room.
    pub fn cursor(&self) -> Cursor {
        Cursor { last_active: self.last_active, id: self.room.id.clone() }
    }
}

/// Which page of a room's history to read, oldest first in the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The newest `limit` messages.
    Latest,
    /// The newest `limit` messages with a smaller sequence number.
    Before(u64),
    /// The oldest `limit` messages with a larger sequence number.
    After(u64),
    /// The oldest `limit` messages strictly between the two.
    Between {
        /// The page starts after this sequence number.
        after: u64,
        /// The page ends before this sequence number.
        before: u64,
    },
}

/// Durable storage for the chat; every implementation keeps the same promises.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a batch in one transaction, in order, and returns one outcome per
    /// message. Returns only after the batch is durable.
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Appended>, StoreError>;

    /// Reads a page of a room's messages, oldest first.
    async fn history(&self, room: &str, page: Page, limit: usize) -> Result<Vec<Message>, StoreError>;

    /// Looks a room up.
    async fn room(&self, id: &str) -> Result<Option<Room>, StoreError>;

    /// Creates a room; fails with [`StoreError::RoomExists`] when the id is taken.
    async fn create_room(&self, room: Room) -> Result<(), StoreError>;

    /// Returns the room, creating it as a public room when it does not exist.
    async fn ensure_room(&self, id: &str) -> Result<Room, StoreError>;

    /// A page of rooms, most recently active first: the public ones and the
    /// private ones `query` names.
    async fn rooms(&self, query: RoomQuery) -> Result<Vec<Listed>, StoreError>;

    /// How many rooms there are.
    async fn room_count(&self) -> Result<usize, StoreError>;

    /// Deletes the public room `id` if it has never held a message; returns
    /// whether it did. Private rooms and rooms with history are kept.
    async fn delete_room_if_unused(&self, id: &str) -> Result<bool, StoreError>;

    /// Edits or deletes a stored message on behalf of its author, durably,
    /// and returns it as changed (a deleted message's files are deleted too). Fails with [`StoreError::NotFound`] when the
    /// room has no such message (or, for an edit, it was deleted) and
    /// [`StoreError::NotYours`] when `change.by` is not its author. Deleting a
    /// deleted message returns it again.
    async fn change(&self, change: Change) -> Result<Message, StoreError>;

    /// Deletes a room and all its messages and files, if `by` created it: fails with
    /// [`StoreError::NotFound`] or [`StoreError::NotYours`] otherwise.
    async fn delete_room(&self, id: &str, by: &str) -> Result<(), StoreError>;

    /// Stores an uploaded file's record and bytes.
    async fn put_file(&self, file: File, data: Vec<u8>) -> Result<(), StoreError>;

    /// A file's record and bytes.
    async fn file(&self, id: &str) -> Result<Option<(File, Vec<u8>)>, StoreError>;

    /// The records of those of `ids` that were uploaded to `room`.
    async fn room_files(&self, room: &str, ids: Vec<String>) -> Result<Vec<File>, StoreError>;

    /// The bytes all files take together.
    async fn files_size(&self) -> Result<u64, StoreError>;

    /// The stored display name of the stable user `id`, if they have one.
    async fn user_name(&self, id: &str) -> Result<Option<String>, StoreError>;

    /// Stores the display name of the stable user `id`.
    async fn set_user_name(&self, id: &str, name: &str) -> Result<(), StoreError>;

    /// The secret user ids are derived under: made once, at random, and kept
    /// in the database, so every process sharing it derives the same ids.
    async fn identity_secret(&self) -> Result<[u8; 32], StoreError>;

    /// Answers when the database is reachable and working.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Finishes pending work and closes the database; later calls fail with
    /// [`StoreError::Closed`].
    async fn close(&self) -> Result<(), StoreError>;
}

#[cfg(test)]
mod properties {
    use super::Cursor;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cursors_round_trip_and_junk_is_refused(last_active in any::<i64>(), id in "[A-Za-z0-9_.-]{1,64}", junk in "\\PC{0,20}") {
            let cursor = Cursor { last_active, id };
            prop_assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
            if let Some(read) = Cursor::decode(&junk) {
                prop_assert!(junk.starts_with(&read.last_active.to_string()) || junk.starts_with('+'));
            }
        }
    }
}
