//! Durable history: rooms, private-room keys and messages behind one [`Store`] trait.
//!
//! SQLite ([`sqlite::SqliteStore`]) is the zero-setup default. Writes arrive in
//! batches from the chat's send pipeline, so one commit covers many messages.
//! [`open`] puts a [`cache::RoomCache`] in front of either database.

pub mod cache;
pub mod postgres;
pub mod sqlite;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::chat::protocol::{Message, User};

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

/// Opens the store a target names.
pub async fn open(target: &DbTarget) -> Result<Arc<dyn Store>, StoreError> {
    let store: Arc<dyn Store> = match target {
        DbTarget::Postgres(url) => Arc::new(postgres::PostgresStore::open(url).await?),
        other => Arc::new(sqlite::SqliteStore::open(other.clone()).await?),
    };
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
    #[error("room {0:?} already exists")]
    RoomExists(String),
    #[error("database error: {0}")]
    Backend(String),
    #[error("the database is closed")]
    Closed,
}

/// A message accepted by the chat, not yet stored.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub room: String,
    pub user: User,
    pub text: String,
    pub ts: i64,
    pub client_id: Option<String>,
}

impl NewMessage {
    /// The message as stored under sequence number `seq`.
    pub fn stored(self, seq: u64) -> Message {
        Message {
            id: message_id(seq),
            room: self.room,
            user: self.user,
            text: self.text,
            ts: self.ts,
            client_id: self.client_id,
        }
    }
}

/// The outcome of storing one message.
#[derive(Debug, Clone)]
pub struct Appended {
    pub message: Message,
    /// True when the same `clientId` from the same name was already stored in this
    /// room: `message` is then the earlier copy and nothing new was written.
    pub duplicate: bool,
}

/// A room's stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRecord {
    pub id: String,
    pub private: bool,
    /// SHA-256 of the private room's key; `None` for public rooms.
    pub key_hash: Option<[u8; 32]>,
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
    Between { after: u64, before: u64 },
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
    async fn room(&self, id: &str) -> Result<Option<RoomRecord>, StoreError>;

    /// Creates a room; fails with [`StoreError::RoomExists`] when the id is taken.
    async fn create_room(&self, room: RoomRecord) -> Result<(), StoreError>;

    /// Returns the room, creating it as a public room when it does not exist.
    async fn ensure_room(&self, id: &str) -> Result<RoomRecord, StoreError>;

    /// Every room, public and private, sorted by id.
    async fn rooms(&self) -> Result<Vec<RoomRecord>, StoreError>;

    /// Answers when the database is reachable and working.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Finishes pending work and closes the database; later calls fail with
    /// [`StoreError::Closed`].
    async fn close(&self) -> Result<(), StoreError>;
}

/// Formats a sequence number as a message id: 16 hex digits, so string order is numeric order.
pub fn message_id(seq: u64) -> String {
    format!("{seq:016x}")
}

/// Parses a message id back into its sequence number.
pub fn parse_message_id(id: &str) -> Option<u64> {
    if id.len() != 16 {
        return None;
    }
    u64::from_str_radix(id, 16).ok()
}

/// Hashes a private room's key for storage.
pub fn hash_key(key: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_as_numbers_and_round_trip() {
        let ids: Vec<String> = [1u64, 9, 10, 255, 256, 1 << 40].iter().map(|&s| message_id(s)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert_eq!(parse_message_id(&message_id(12345)), Some(12345));
        for bad in ["", "12", "zzzzzzzzzzzzzzzz", "00000000000000001"] {
            assert_eq!(parse_message_id(bad), None, "{bad:?}");
        }
    }
}
